"""The exact sum, smallest and largest value of a column, NaNs left out: what
a drift report's effect sizes need of the current data besides its bin counts
(see :mod:`fastmlops.drift._effects`).

The sum is exact, so it does not depend on how the data were split into
batches or in which order they came (a streamed check equals a check in
memory bit for bit): every finite float64 is ``m * 2**(e - 1075)`` with an
integer ``m < 2**53`` and a biased exponent ``e`` from 1 to 2046 (subnormals
``e = 1``); ``+-m`` is added to the int64 accumulator of its exponent,
``acc[e]``, and whenever that reaches ``2**62`` in size, ``2**62`` moves to
the count ``over[e]``.  One add and one compare per value, into a few cache
lines (values of a column share few exponents).  The exact sum is
``sum((acc[e] + over[e] * 2**62) * 2**e) * 2**-1075``, rounded once by the
caller.  Infinities are counted apart.
"""

from __future__ import annotations

import numpy as np

from fastmlops._kernels._jit import kernel
from fastmlops._kernels.bitcast import f64_as_i64

#: Accumulators per column: one per biased exponent.
EXPONENTS = 2048
#: An accumulator moves this much to its overflow count.
LIMIT = 1 << 62
_TYPES = ("f8", "f4", "i8", "u8")
_M52 = (1 << 52) - 1


# The body is written out in both kernels: as a called helper (even a small
# one, with its arrays passed) it cost 14 ns a value against 1.9 ns inline.
@kernel(*(f"void({t}[::1], i8[::1], i8[::1], f8[::1])" for t in _TYPES))
def column_summary(x, acc, over, out):
    """Add the non-NaN values of ``x`` to ``acc``/``over`` (see the module
    docstring) and to ``out = (min, max, +inf count, -inf count)``, which
    starts as ``(inf, -inf, 0, 0)``."""
    lo = out[0]
    hi = out[1]
    for i in range(x.size):
        v = np.float64(x[i])
        if v != v:
            continue
        lo = min(lo, v)
        hi = max(hi, v)
        bits = f64_as_i64(v)
        e = (bits >> 52) & 0x7FF
        if e == 0x7FF:  # an infinity
            if bits < 0:
                out[3] += 1
            else:
                out[2] += 1
            continue
        m = bits & _M52
        if e == 0:  # subnormal
            e = 1
        else:
            m |= 1 << 52
        sign = bits >> 63  # 0 or -1: +-m without a branch (the sign is random)
        a = acc[e] + ((m ^ sign) - sign)
        if a >= LIMIT:
            over[e] += 1
            a -= LIMIT
        elif a <= -LIMIT:
            over[e] -= 1
            a += LIMIT
        acc[e] = a
    out[0] = lo
    out[1] = hi


@kernel(*(f"void({t}[:, ::1], i8, i8, i8[:, ::1], i8[:, ::1], f8[:, ::1])" for t in _TYPES))
def table_summary(table, r0, r1, acc, over, out):
    """:func:`column_summary` of rows ``r0..r1-1`` of every column ``j`` of a
    row-major table, into ``acc[j]``, ``over[j]`` and ``out[j]``."""
    k = table.shape[1]
    for i in range(r0, r1):
        for j in range(k):
            v = np.float64(table[i, j])
            if v != v:
                continue
            if v < out[j, 0]:
                out[j, 0] = v
            if v > out[j, 1]:
                out[j, 1] = v
            bits = f64_as_i64(v)
            e = (bits >> 52) & 0x7FF
            if e == 0x7FF:
                if bits < 0:
                    out[j, 3] += 1
                else:
                    out[j, 2] += 1
                continue
            m = bits & _M52
            if e == 0:
                e = 1
            else:
                m |= 1 << 52
            sign = bits >> 63
            a = acc[j, e] + ((m ^ sign) - sign)
            if a >= LIMIT:
                over[j, e] += 1
                a -= LIMIT
            elif a <= -LIMIT:
                over[j, e] -= 1
                a += LIMIT
            acc[j, e] = a
