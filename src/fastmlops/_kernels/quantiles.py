"""Kernels for :mod:`fastmlops.quantiles`: selection, reservoir skips, buckets.

* :func:`select_quantiles` -- numpy's default (``method="linear"``) quantiles
  of ``values[:n]``: for each virtual index ``(n - 1) * q`` the two
  neighbouring order statistics (a heap pass for tail quantiles such as p99,
  introselect on a scratch copy otherwise), combined with numpy's ``_lerp``
  arithmetic.
* :func:`reservoir_feed` -- Li's Algorithm L over a chunk of a stream; only the
  values that enter the sample are touched.
* :func:`bucket_quantiles` -- PromQL's ``histogram_quantile`` on rows of
  cumulative bucket counts.

Kernels never validate; the public module does.
"""

from __future__ import annotations

import math

import numpy as np

from fastmlops._kernels._jit import kernel

_U11 = np.uint64(11)
_U17 = np.uint64(17)
_U45 = np.uint64(45)
_U7 = np.uint64(7)
_U57 = np.uint64(57)
_U5 = np.uint64(5)
_U9 = np.uint64(9)
_TWO53 = 1.0 / 9007199254740992.0


# --------------------------------------------------------------------------- selection
@kernel()
def _insertion_sort(a, lo, hi):
    for i in range(lo + 1, hi):
        x = a[i]
        j = i - 1
        while j >= lo and a[j] > x:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = x


@kernel()
def _select(a, lo, hi, k):
    """Rearrange ``a[lo:hi]`` so that ``a[k]`` is its order statistic, smaller
    or equal values before it and larger or equal after (introselect: median of
    three quickselect, falling back to a full sort of the remaining range after
    too many unbalanced rounds, so the worst case is O(n log n))."""
    budget = 2 * (int(math.log2(hi - lo + 1)) + 4)
    while hi - lo > 16:
        if budget == 0:
            a[lo:hi].sort()
            return
        budget -= 1
        mid = lo + (hi - lo) // 2
        # median of three into a[mid]
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi - 1] < a[lo]:
            a[hi - 1], a[lo] = a[lo], a[hi - 1]
        if a[hi - 1] < a[mid]:
            a[hi - 1], a[mid] = a[mid], a[hi - 1]
        pivot = a[mid]
        i = lo
        j = hi - 1
        while i <= j:  # Hoare partition
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        # now a[lo:j+1] <= pivot <= a[i:hi], and a[j+1:i] == pivot
        if k <= j:
            hi = j + 1
        elif k >= i:
            lo = i
        else:
            return
    _insertion_sort(a, lo, hi)


@kernel()
def _sift_down(h, i, m):
    """Restore the min-heap ``h[:m]`` below position ``i``."""
    x = h[i]
    while True:
        c = 2 * i + 1
        if c >= m:
            break
        if c + 1 < m and h[c + 1] < h[c]:
            c += 1
        if h[c] < x:
            h[i] = h[c]
            i = c
        else:
            break
    h[i] = x


@kernel()
def _top_two(values, n, m, sign, heap):
    """The m-th and (m-1)-th largest of ``sign * values[:n]`` (``2 <= m <= n``)
    by one pass with a min-heap of size ``m``: few, well-predicted branches,
    and the window itself is never copied or reordered."""
    for i in range(m):
        heap[i] = sign * values[i]
    for i in range(m // 2 - 1, -1, -1):
        _sift_down(heap, i, m)
    # random order replaces about m * ln(n / m) times; increasing input
    # replaces every time, so give up (and let the caller select) past n / 4
    budget = n // 4
    for i in range(m, n):
        x = sign * values[i]
        if x > heap[0]:
            heap[0] = x
            _sift_down(heap, 0, m)
            budget -= 1
            if budget < 0:
                return 0.0, 0.0, False
    second = heap[1]
    if m > 2 and heap[2] < second:
        second = heap[2]
    return heap[0], second, True


@kernel()
def _lerp(a, b, gamma):
    """numpy's ``_lerp``: exact at both ends (``b - diff * (1 - gamma)`` above 0.5)."""
    diff = b - a
    if gamma >= 0.5:
        return b - diff * (1.0 - gamma)
    return a + diff * gamma


@kernel()
def _maximum(values, n):
    top = values[0]
    for j in range(1, n):
        if values[j] > top:
            top = values[j]
    return top


@kernel()
def _pair_after_select(scratch, n, k):
    """``scratch[k]`` and the next order statistic, ``min(scratch[k+1:n])``."""
    b = scratch[k + 1]
    for j in range(k + 2, n):
        if scratch[j] < b:
            b = scratch[j]
    return scratch[k], b


@kernel("f8(f8[::1], i8, f8, f8[::1])")
def select_quantile(values, n, q, scratch):
    """One quantile: ``np.quantile(values[:n], q)`` (the allocation-free fast
    path behind ``p99``; same rules as :func:`select_quantiles`)."""
    virtual = (n - 1) * q
    if virtual >= n - 1:
        # numpy: both neighbours are the maximum, gamma = virtual - (-1)
        top = _maximum(values, n)
        return _lerp(top, top, virtual + 1.0)
    prev = math.floor(virtual)
    k = int(prev)
    gamma = virtual - prev
    limit = n // 8
    if n - k <= limit:
        a, b, done = _top_two(values, n, n - k, 1.0, scratch)
        if done:
            return _lerp(a, b, gamma)
    elif k + 2 <= limit:
        nb, na, done = _top_two(values, n, k + 2, -1.0, scratch)
        if done:
            return _lerp(-na, -nb, gamma)
    for i in range(n):
        scratch[i] = values[i]
    _select(scratch, 0, n, k)
    a, b = _pair_after_select(scratch, n, k)
    return _lerp(a, b, gamma)


@kernel("void(f8[::1], i8, f8[::1], f8[::1], f8[::1])")
def select_quantiles(values, n, qs, scratch, out):
    """``out[i]`` = ``np.quantile(values[:n], qs[i])``; ``qs`` in [0, 1] (fastest
    sorted ascending); ``scratch`` at least ``n`` long; ``n >= 1``.

    Tail quantiles (the two order statistics within ``n // 8`` of either end)
    use a heap pass over ``values`` (the heap lives in ``scratch``), done
    first; the others an introselect on a copy in ``scratch``, each narrowing
    the range of the next.
    """
    limit = n // 8
    # pass 0: maxima and tail quantiles (no copy); pass 1: the rest, by
    # introselect on one copy, each selection narrowing the next one's range
    copied = False
    lo = 0
    for rnd in range(2):
        for t in range(qs.size):
            virtual = (n - 1) * qs[t]
            top_case = virtual >= n - 1
            k = n - 1
            gamma = 0.0
            if not top_case:
                prev = math.floor(virtual)
                k = int(prev)
                gamma = virtual - prev
            tail = top_case or n - k <= limit or k + 2 <= limit
            if tail != (rnd == 0):
                continue
            if top_case:
                # numpy takes the maximum (index -1) for both neighbours, with
                # gamma = virtual - (-1); the lerp below then gives the maximum
                # (or NaN when it is +inf, as numpy does)
                top = values[0]
                for j in range(1, n):
                    if values[j] > top:
                        top = values[j]
                a = top
                b = top
                gamma = virtual + 1.0
            else:
                done = False
                a = 0.0
                b = 0.0
                if not copied:  # the heap lives in scratch: not once it holds the copy
                    if n - k <= limit:
                        a, b, done = _top_two(values, n, n - k, 1.0, scratch)
                    elif k + 2 <= limit:
                        nb, na, done = _top_two(values, n, k + 2, -1.0, scratch)
                        a = -na
                        b = -nb
                if not done:
                    # pass 1, or a tail of (nearly) monotonic input in pass 0
                    if not copied:
                        for i in range(n):
                            scratch[i] = values[i]
                        copied = True
                    # a selection at k leaves [0, k) <= scratch[k] <= (k, n), so
                    # the next (larger) k of pass 1 needs to look at [k, n) only
                    start = lo if rnd == 1 and k >= lo else 0
                    _select(scratch, start, n, k)
                    a = scratch[k]
                    b = scratch[k + 1]
                    for j in range(k + 2, n):
                        if scratch[j] < b:
                            b = scratch[j]
                    if rnd == 1:
                        lo = k
            # numpy's _lerp

            diff = b - a
            if gamma >= 0.5:
                out[t] = b - diff * (1.0 - gamma)
            else:
                out[t] = a + diff * gamma


# --------------------------------------------------------------------------- random numbers
@kernel()
def _rotl(x, k):
    return (x << k) | (x >> (np.uint64(64) - k))


@kernel()
def _next_u64(s):
    """xoshiro256** (Blackman & Vigna) on the 4-word state ``s``."""
    result = _rotl(s[1] * _U5, _U7) * _U9
    t = s[1] << _U17
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], _U45)
    return result


@kernel()
def _uniform_open0(s):
    """A double in (0, 1] with 53 random bits (never 0, so ``log`` is finite)."""
    return float((_next_u64(s) >> _U11) + np.uint64(1)) * _TWO53


# --------------------------------------------------------------------------- reservoir
_MAX_INDEX = 2 ** 62


@kernel()
def _skip(s, w):
    """Stream positions to advance to the next value that enters the sample."""
    denom = math.log1p(-w)
    if denom == 0.0:
        return _MAX_INDEX
    # compared as a float: math.floor converts to int64, and a quotient of
    # 2**63 or more (W below about 4e-18) would wrap to a negative skip
    gap = math.log(_uniform_open0(s)) / denom
    if gap >= _MAX_INDEX:
        return _MAX_INDEX
    return math.floor(gap) + 1


@kernel("void(f8[::1], i8[::1], f8[::1], u8[::1])")
def reservoir_init(sample, counters, w, rng):
    """Draw Algorithm L's first weight and first post-fill position.

    ``counters`` = [values seen, stream position of the next value to take];
    ``w`` = [W].  Data-independent, so it runs once at construction.
    """
    k = sample.size
    w[0] = math.exp(math.log(_uniform_open0(rng)) / k)
    counters[0] = 0
    counters[1] = k - 1 + _skip(rng, w[0])


@kernel("void(f8[::1], f8[::1], i8[::1], f8[::1], u8[::1])")
def reservoir_feed(sample, chunk, counters, w, rng):
    """Feed ``chunk`` (the next values of the stream) to the reservoir."""
    k = sample.size
    base = counters[0]
    m = chunk.size
    i = 0
    count = base
    while count < k and i < m:  # fill phase
        sample[count] = chunk[i]
        count += 1
        i += 1
    nxt = counters[1]
    end = base + m
    while nxt < end:
        slot = int(_uniform_open0(rng) * k)
        if slot >= k:  # u == 1.0
            slot = k - 1
        sample[slot] = chunk[nxt - base]
        w[0] *= math.exp(math.log(_uniform_open0(rng)) / k)
        step = _skip(rng, w[0])
        if step >= _MAX_INDEX - nxt:
            nxt = _MAX_INDEX
        else:
            nxt += step
    counters[0] = end
    counters[1] = nxt


# --------------------------------------------------------------------------- buckets
@kernel()
def _almost_equal(a, b):
    """Prometheus' ``almost.Equal(a, b, 1e-12)``."""
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    min_normal = 2.2250738585072014e-308
    if a == 0.0 or b == 0.0 or abs_sum < min_normal:
        return diff < 1e-12 * min_normal
    return diff / min(abs_sum, 1.7976931348623157e308) < 1e-12


@kernel("void(f8[::1], f8[::1], f8[:, ::1], f8[:, ::1])")
def bucket_quantiles(qs, le, cum, out):
    """``out[i, r]`` = PromQL ``histogram_quantile(qs[i], row r)``.

    ``le`` strictly increasing, ending in +Inf, at least one bucket;
    ``cum`` (rows x buckets) cumulative counts, finite and >= 0.
    """
    nb = le.size
    fixed = np.empty(nb)
    for r in range(cum.shape[0]):
        # ensureMonotonicAndIgnoreSmallDeltas
        prev = cum[r, 0]
        fixed[0] = prev
        for j in range(1, nb):
            cur = cum[r, j]
            if cur == prev:
                fixed[j] = cur
            elif _almost_equal(prev, cur) or cur < prev:
                fixed[j] = prev
            else:
                fixed[j] = cur
                prev = cur
        observations = fixed[nb - 1]
        for t in range(qs.size):
            q = qs[t]
            if math.isnan(q):
                out[t, r] = np.nan
                continue
            if q < 0.0:
                out[t, r] = -np.inf
                continue
            if q > 1.0:
                out[t, r] = np.inf
                continue
            if nb < 2 or observations == 0.0:
                out[t, r] = np.nan
                continue
            rank = q * observations
            b = 0  # first bucket (of all but the last) with count >= rank
            while b < nb - 1 and not fixed[b] >= rank:
                b += 1
            if b == nb - 1:
                out[t, r] = le[nb - 2]
                continue
            if b == 0 and le[0] <= 0.0:
                out[t, r] = le[0]
                continue
            start = 0.0
            end = le[b]
            count = fixed[b]
            if b > 0:
                start = le[b - 1]
                count -= fixed[b - 1]
                rank -= fixed[b - 1]
            out[t, r] = start + (end - start) * (rank / count)
