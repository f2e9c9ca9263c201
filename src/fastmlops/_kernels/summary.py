"""The exact sum, smallest and largest value of a column, NaNs left out: what
a drift report's effect sizes need of the current data besides its bin counts
(see :mod:`fastmlops.drift._effects`).

The sum is exact, so it does not depend on how the data were split into
batches or in which order they came (a streamed check equals a check in
memory bit for bit): every finite float64 is ``m * 2**(e - 1075)`` with an
integer ``m < 2**53`` and a biased exponent ``e`` from 1 to 2046; ``m`` shifted
by ``e % 32`` bits is added, in three 32-bit pieces, to the int64 limbs
``e // 32``, ``+1`` and ``+2`` (each limb gains at most ``2**33`` per value,
so a call takes at most :data:`MAX_VALUES` values).  The sum of the limbs,
``sum(limbs[k] * 2**(32 k)) * 2**-1075``, is the exact sum, rounded once by
the caller.  Infinities are counted apart.
"""

from __future__ import annotations

import numpy as np

from fastmlops._kernels._jit import kernel
from fastmlops._kernels.bitcast import f64_as_i64

#: Limbs of the accumulator (biased exponents up to 2046, plus two).
LIMBS = 66
#: Values one call may add before a limb could overflow.
MAX_VALUES = 1 << 29
_TYPES = ("f8", "f4", "i8", "u8")
_M32 = (1 << 32) - 1
_M52 = (1 << 52) - 1


@kernel()
def _add(v, limbs, out):
    """Add one non-NaN float64 ``v``: to ``limbs`` (finite), to the infinity
    counts ``out[2]``/``out[3]``, and to the range ``out[0]``/``out[1]``."""
    if v < out[0]:
        out[0] = v
    if v > out[1]:
        out[1] = v
    if v == np.inf:
        out[2] += 1
        return
    if v == -np.inf:
        out[3] += 1
        return
    bits = f64_as_i64(v)
    e = (bits >> 52) & 0x7FF
    m = bits & _M52
    if e == 0:
        if m == 0:
            return
        e = 1
    else:
        m |= 1 << 52
    k = e >> 5
    off = e & 31
    t0 = (m & _M32) << off
    t1 = (m >> 32) << off
    if bits < 0:
        limbs[k] -= t0 & _M32
        limbs[k + 1] -= (t0 >> 32) + (t1 & _M32)
        limbs[k + 2] -= t1 >> 32
    else:
        limbs[k] += t0 & _M32
        limbs[k + 1] += (t0 >> 32) + (t1 & _M32)
        limbs[k + 2] += t1 >> 32


@kernel(*(f"void({t}[::1], i8[::1], f8[::1])" for t in _TYPES))
def column_summary(x, limbs, out):
    """Add the non-NaN values of ``x`` to ``limbs`` (see the module
    docstring) and to ``out = (min, max, +inf count, -inf count)``, which
    starts as ``(inf, -inf, 0, 0)``."""
    for i in range(x.size):
        v = np.float64(x[i])
        if v == v:
            _add(v, limbs, out)


@kernel(*(f"void({t}[:, ::1], i8, i8, i8[:, ::1], f8[:, ::1])" for t in _TYPES))
def table_summary(table, r0, r1, limbs, out):
    """:func:`column_summary` of rows ``r0..r1-1`` of every column ``j`` of a
    row-major table, into ``limbs[j]`` and ``out[j]``."""
    k = table.shape[1]
    for i in range(r0, r1):
        for j in range(k):
            v = np.float64(table[i, j])
            if v == v:
                _add(v, limbs[j], out[j])
