"""Exact null distribution of the two-sample Kolmogorov-Smirnov statistic.

The p-values are those of ``scipy.stats.ks_2samp(..., method="exact")``; each
kernel performs the same floating-point operations in the same order as the
scipy routine it stands for, so results agree to the last bit or nearly so.

Notation: the two sample sizes are ``m >= n`` (the kernels swap when needed),
``g = gcd(m, n)``, ``mg = m // g``, ``ng = n // g`` and ``lcm = mg * n``.  The
statistic enters as the integer ``h = round(D * lcm)``; ``D >= h / lcm`` is the
event whose probability is returned.  Lattice paths go from ``(0, 0)`` to
``(m, n)`` in unit steps; a path is a random merge of the two sorted samples.

* :func:`outside_square_sf` -- two-sided, ``m == n``: the reflection-principle
  alternating sum (Gnedenko-Korolyuk), each term a ratio of binomial
  coefficients folded in a Horner scheme.
* :func:`one_sided_equal_sf` -- one-sided, ``m == n``:
  ``binom(2n, n - h) / binom(2n, n)`` as a product of ``h`` ratios.
* :func:`inside_outer_sf` -- two-sided, ``m != n``: Hodges' "inside" column
  recursion over a sliding window of the band ``|x/m - y/n| < h/lcm``,
  carried as the complement of a ratio to ``binom(x + y, y)`` (Viehmann,
  arXiv:2102.08037), which never overflows; several columns are advanced as
  a wavefront (:func:`inside_outer_sf_serial` is the one-column version).
* :func:`count_paths_outside` -- one-sided, ``m != n``: the number of paths
  that touch the line ``n*x - m*y >= h*g`` (Hodges' treatment of
  Drion/Gnedenko/Korolyuk), in floating point, using scipy's ``binom``.  It
  overflows for sizes of a few hundred; :func:`exact_sf` then reports failure.
* :func:`exact_sf` -- the dispatcher; NaN means "exact calculation
  unsuccessful" (scipy's overflow / out-of-range checks), after which the
  caller falls back to the asymptotic formula, as scipy does.

``scipy.special.binom`` is a float function with its own rounding (a product
for small ``k``, a Beta function otherwise); to reproduce scipy's counts it is
called here, not re-implemented.  Its compiled address is taken from
``scipy.special.cython_special`` and registered with LLVM under a fixed symbol
name when this module is first imported, so the kernels that call it contain
no process-specific pointer and remain cacheable on disk.
"""

from __future__ import annotations

import numpy as np
from llvmlite import binding as _llvm
from llvmlite import ir as _ir
from numba import types as _types
from numba.core import cgutils as _cgutils
from numba.extending import get_cython_function_address, intrinsic

from fastmlops._kernels._jit import kernel

# --------------------------------------------------------------- scipy's binom
_BINOM_SYMBOL = "fastmlops_scipy_special_binom"


def _register_binom() -> None:
    # The capsule ``binom`` in cython_special is the cpdef function
    # ``double binom(double, double, int skip_dispatch)``.
    address = get_cython_function_address("scipy.special.cython_special", "binom")
    _llvm.add_symbol(_BINOM_SYMBOL, address)


_register_binom()


@intrinsic
def _binom(typingctx, n, k):
    """``scipy.special.binom(n, k)`` for float64 ``n`` and ``k``."""
    if n != _types.float64 or k != _types.float64:
        return None

    def codegen(context, builder, signature, args):
        double = _ir.DoubleType()
        int32 = _ir.IntType(32)
        fnty = _ir.FunctionType(double, [double, double, int32])
        fn = _cgutils.get_or_insert_function(builder.module, fnty, _BINOM_SYMBOL)
        return builder.call(fn, [args[0], args[1], _ir.Constant(int32, 0)])

    return _types.float64(_types.float64, _types.float64), codegen


@kernel("f8(f8, f8)")
def binom(n, k):
    """scipy.special.binom (exposed for tests)."""
    return _binom(n, k)


# ---------------------------------------------------------------- helpers
@kernel("i8(i8, i8)")
def _ceil_div(a, b):
    """ceil(a / b) for b > 0 (Numba's // floors, as Python's does)."""
    return -((-a) // b)


# ------------------------------------------------------------- two-sided, m == n
@kernel("f8(i8, i8, i8, f8)")
def _square_ratio(n, h, k, stop):
    """The k-th ratio of :func:`outside_square_sf`, a product of h simple
    fractions in scipy's order; the loop stops (returning the partial
    product) once its magnitude is at most ``stop``: the remaining fractions
    are below 1 in magnitude, so the product cannot grow back above it, and a
    zero stays zero."""
    kh = k * h
    ratio = 1.0
    for j in range(h):
        ratio = (n - kh - j) * ratio / (n + kh + j + 1)
        if abs(ratio) <= stop:
            break
    return ratio


#: 2**-54: 1.0 - x rounds to 1.0 for 0 <= x <= this (ties to even)
_HALF_ULP_ONE = 2.0**-54
#: smallest normal float64
_MIN_NORMAL = 2.0**-1022


@kernel("f8(i8, i8)")
def outside_square_sf(n, h):
    """P(D >= h/n) for two samples of size n, 1 <= h <= n.

    2 * sum_{k>=1} (-1)^(k+1) binom(2n, n - k h) / binom(2n, n), evaluated from
    the innermost (largest k) term outwards: S <- a_k * (1 - S) where a_k is the
    ratio of consecutive terms, itself a product of h simple fractions.

    scipy starts at k = n // h, an O(n) loop.  The ratios a_k decrease with k
    (in floating point too: each fraction does, and rounding is monotone), and
    0 <= S <= a_k, so once a_{k+1} <= 2**-54 the factor 1 - S is exactly 1.0
    and S = a_k whatever the terms beyond.  Starting there (found by
    bisection) gives the same floating-point result.  A ratio's product also
    stops once it is at most the smallest normal float (it cannot grow back),
    and counts as 0: that term then changes no later 1 - S, and if it is a_0
    the p-value is below 4.5e-308 either way, where only that magnitude is
    promised (scipy's subnormal product creeps down one fraction at a time,
    to 0 or a few ulps).  O(sqrt(n)) fractions instead of O(n).
    """
    # smallest k0 in [1, n // h + 1] with |a_k0| <= 2**-54 (a_{n//h+1} := 0)
    lo = 1
    hi = n // h + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if abs(_square_ratio(n, h, mid, _HALF_ULP_ONE)) <= _HALF_ULP_ONE:
            hi = mid
        else:
            lo = mid + 1
    acc = 0.0
    k = lo - 1
    while k >= 0:
        ratio = _square_ratio(n, h, k, _MIN_NORMAL)
        if abs(ratio) <= _MIN_NORMAL:
            ratio = 0.0  # underflowed (or stopped on the way there)
        acc = ratio * (1.0 - acc)
        k -= 1
    return 2.0 * acc


# ------------------------------------------------------------- one-sided, m == n
@kernel("f8(i8, i8)")
def one_sided_equal_sf(n, h):
    """P(D+ >= h/n) = binom(2n, n-h) / binom(2n, n), as a left-to-right product."""
    p = 1.0
    for j in range(h):
        p *= (n - j) / (n + j + 1.0)
        if p < _MIN_NORMAL:
            # every further factor is in (0, 1): the p-value underflows, 0
            # here (only the magnitude below 2.2e-308 is promised; the
            # subnormal product would creep down one factor at a time, O(n))
            return 0.0
    return p


# ------------------------------------------------------------ two-sided, m != n
@kernel("i8(i8, i8, i8, i8, i8)")
def _band_low(x, ng, mg, h, n):
    """Lowest row y of column x with |ng*x - mg*y| < h, clamped to [0, n]."""
    return min(max((ng * x - h) // mg + 1, 0), n)


@kernel("i8(i8, i8, i8, i8, i8)")
def _band_high(x, ng, mg, h, n):
    """One past the highest row y of column x in the band, clamped to n + 1."""
    return min(_ceil_div(ng * x + h, mg), n + 1)


@kernel("f8(i8, i8, i8, i8)")
def inside_outer_sf_serial(m, n, g, h):
    """P(D >= h/lcm) for sizes m, n (any order), g = gcd(m, n), 1 <= h <= lcm.

    Column x of the lattice holds, for each y in the band of the column, one
    minus the fraction of the binom(x + y, y) monotone paths to (x, y) that
    stay strictly inside the band.  The recursion
        c(x, y) = (x * c(x-1, y) + y * c(x, y-1)) / (x + y)
    keeps every value in [0, 1]; cells outside the band are 1.  Only the band
    of the current column is stored, in ``col[0:width]`` (``col[k]`` is row
    ``lo + k``), and ``col[k] == 1`` for ``k >= width``.

    One column at a time: the reference for :func:`inside_outer_sf`, which
    gives bit-identical results faster.
    """
    if m < n:
        m, n = n, m
    mg = m // g
    ng = n // g
    lo = 0
    hi = min(_ceil_div(h, mg), n + 1)
    width = hi - lo
    col = np.ones(min(2 * hi + 2, n + 1))
    for k in range(hi):
        col[k] = 0.0  # column x = 0: every inside cell is reached inside
    for x in range(1, m + 1):
        prev_lo = lo
        prev_width = width
        lo = _band_low(x, ng, mg, h, n)
        hi = _band_high(x, ng, mg, h, n)
        if hi <= lo:
            return 1.0  # no path can cross this column inside the band
        shift = lo - prev_lo
        below = 0.0 if lo == 0 else 1.0
        for k in range(hi - lo):
            y = lo + k
            below = (col[k + shift] * x + below * y) / (x + y)
            col[k] = below
        width = hi - lo
        for k in range(width, prev_width):
            col[k] = 1.0
    return col[width - 1]


#: columns advanced together by :func:`inside_outer_sf`
_LANES = 4


@kernel()
def _cell(cols, slot, x0, c, k, lo, shift, below):
    """Cell k of column x0 + c (lane c), from lane c - 1's column."""
    x = x0 + c
    y = lo[c] + k
    v = (cols[slot[c], k + shift[c]] * x + below[c] * y) / (x + y)
    below[c] = v
    cols[slot[c + 1], k] = v


@kernel("f8(i8, i8, i8, i8)")
def inside_outer_sf(m, n, g, h):
    """Same value as :func:`inside_outer_sf_serial`, several columns at a time.

    Each cell costs a multiply, an add and a divide, and within a column every
    cell waits for the one below it, so one column at a time runs at the
    latency of that chain.  Here ``_LANES`` consecutive columns advance as a
    wavefront: lane c (column x0 + c) computes cell ``t - c*lag`` at step t,
    which only needs cells of column x0 + c - 1 already computed (bands move
    up by at most ``lag`` rows per column).  The lanes' chains are independent,
    so the CPU overlaps them.  Every cell is computed from the same operands in
    the same order as in the serial version, so the result is bit-identical.

    Columns live in a ring of ``_LANES + 1`` buffers (each column reads its
    predecessor's buffer and writes its own); cells past a column's band read
    as 1, which ``dirty`` (how far each buffer may hold values other than 1)
    lets us restore cheaply.
    """
    if m < n:
        m, n = n, m
    mg = m // g
    ng = n // g
    hi0 = min(_ceil_div(h, mg), n + 1)
    ring = _LANES + 1
    cols = np.ones((ring, min(2 * hi0 + 2, n + 1)))
    dirty = np.zeros(ring, dtype=np.int64)
    for k in range(hi0):
        cols[0, k] = 0.0
    dirty[0] = hi0
    lo = np.empty(_LANES, dtype=np.int64)
    width = np.empty(_LANES, dtype=np.int64)
    shift = np.empty(_LANES, dtype=np.int64)
    below = np.empty(_LANES)
    slot = np.empty(_LANES + 1, dtype=np.int64)  # slot[c] is lane c's input
    prev_lo = 0
    last = 0  # buffer holding the latest finished column
    x0 = 1
    while x0 <= m:
        lanes = min(_LANES, m - x0 + 1)
        slot[0] = last
        lag = 1
        for c in range(lanes):
            x = x0 + c
            a = _band_low(x, ng, mg, h, n)
            b = _band_high(x, ng, mg, h, n)
            if b <= a:
                return 1.0  # no path can cross this column inside the band
            lo[c] = a
            width[c] = b - a
            shift[c] = a - prev_lo
            lag = max(lag, shift[c])
            below[c] = 0.0 if a == 0 else 1.0
            prev_lo = a
            s = (last + 1 + c) % ring
            slot[c + 1] = s
            for k in range(b - a, dirty[s]):
                cols[s, k] = 1.0
            dirty[s] = b - a
        # steps [0, steps); all lanes active in [full_lo, full_hi)
        steps = 0
        full_hi = width[0]
        for c in range(lanes):
            steps = max(steps, width[c] + c * lag)
            full_hi = min(full_hi, width[c] + c * lag)
        full_lo = (lanes - 1) * lag
        if lanes < _LANES or full_hi <= full_lo:
            full_lo = steps
            full_hi = steps
        for t in range(full_lo):
            for c in range(lanes):
                k = t - c * lag
                if 0 <= k < width[c]:
                    _cell(cols, slot, x0, c, k, lo, shift, below)
        if full_hi > full_lo:
            # _LANES == 4, unrolled so the four chains stay in registers
            c0 = cols[slot[0]]
            c1 = cols[slot[1]]
            c2 = cols[slot[2]]
            c3 = cols[slot[3]]
            c4 = cols[slot[4]]
            xa, xb, xc, xd = x0, x0 + 1, x0 + 2, x0 + 3
            sa, sb, sc, sd = shift[0], shift[1], shift[2], shift[3]
            la, lb, lc, ld = lo[0], lo[1], lo[2], lo[3]
            va, vb, vc, vd = below[0], below[1], below[2], below[3]
            for t in range(full_lo, full_hi):
                k = t
                y = la + k
                va = (c0[k + sa] * xa + va * y) / (xa + y)
                c1[k] = va
                k = t - lag
                y = lb + k
                vb = (c1[k + sb] * xb + vb * y) / (xb + y)
                c2[k] = vb
                k = t - 2 * lag
                y = lc + k
                vc = (c2[k + sc] * xc + vc * y) / (xc + y)
                c3[k] = vc
                k = t - 3 * lag
                y = ld + k
                vd = (c3[k + sd] * xd + vd * y) / (xd + y)
                c4[k] = vd
            below[0], below[1], below[2], below[3] = va, vb, vc, vd
        for t in range(full_hi, steps):
            for c in range(lanes):
                k = t - c * lag
                if 0 <= k < width[c]:
                    _cell(cols, slot, x0, c, k, lo, shift, below)
        last = slot[lanes]
        x0 += lanes
    return cols[last, width[lanes - 1] - 1]


# ------------------------------------------------------------ one-sided, m != n
@kernel("f8(i8, i8, i8, i8)")
def count_paths_outside(m, n, g, h):
    """Number (as a float) of lattice paths to (m, n) that reach n*x - m*y >= h*g.

    With m >= n, let x_j be the first x at which row j meets the boundary.
    B_j, the number of paths to (x_j, j) that meet the boundary there for the
    first time, is binom(x_j + j, j) minus, for each i < j, B_i times the paths
    from (x_i, i) to (x_j, j); the answer sums B_j times the paths from
    (x_j, j) to (m, n).  Float arithmetic, so the terms may overflow: the
    result is then non-finite (or meaningless, which the caller detects).

    x_j - x_i depends on j - i up to a carry of 0 or 1, so the path counts
    between boundary points come from two precomputed tables instead of
    O(L^2) calls to binom; the values and the order of operations are the
    same as evaluating binom for every pair.
    """
    if m < n:
        m, n = n, m
    mg = m // g
    ng = n // g
    count = n + (mg - h) // mg
    if count <= 0:
        return _binom(float(m + n), float(n))
    xs = np.empty(count, dtype=np.int64)
    for j in range(count):
        xs[j] = (h + mg * j + ng - 1) // ng
    # between[k, c] = binom(base_k + c + k, k), base_k = (mg * k) // ng
    between = np.empty((count, 2))
    for k in range(1, count):
        base = (mg * k) // ng
        between[k, 0] = _binom(float(base + k), float(k))
        between[k, 1] = _binom(float(base + 1 + k), float(k))
    first = np.zeros(count)
    first[0] = 1.0
    for j in range(1, count):
        bj = _binom(float(xs[j] + j), float(j))
        xj = xs[j]
        for i in range(j):
            k = j - i
            carry = xj - xs[i] - (mg * k) // ng
            if carry == 0 or carry == 1:
                ways = between[k, carry]
            else:  # not reached; kept for safety
                ways = _binom(float(xj - xs[i] + k), float(k))
            bj -= ways * first[i]
        first[j] = bj
    total = 0.0
    for j in range(count):
        total += first[j] * _binom(float((m - xs[j]) + (n - j)), float(n - j))
    return total


# -------------------------------------------------------------------- dispatch
@kernel("f8(i8, i8, i8, i8, b1)")
def exact_sf(n1, n2, g, h, two_sided):
    """Exact P(D >= h/lcm) as scipy computes it; NaN when scipy's exact attempt
    would be unsuccessful (overflow, a count above the number of paths, or a
    probability outside [0, 1]).  Requires h >= 1."""
    if two_sided:
        if n1 == n2:
            p = outside_square_sf(n1, h)
        else:
            p = inside_outer_sf(n1, n2, g, h)
    elif n1 == n2:
        p = one_sided_equal_sf(n1, h)
    else:
        # scipy counts the paths first and then fails on an infinite total;
        # checking the total first gives the same answer without the
        # O(n^2) count that is doomed anyway (n1 + n2 above ~1030).
        paths = _binom(float(n1 + n2), float(n1))
        if np.isinf(paths):
            return np.nan
        outside = count_paths_outside(n1, n2, g, h)
        if not np.isfinite(outside):
            return np.nan
        if outside > paths:
            return np.nan
        p = outside / paths
    if not (0.0 <= p <= 1.0):
        return np.nan
    return p
