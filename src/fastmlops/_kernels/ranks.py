"""Ranking kernels: sort scores carrying their rows, and DeLong's placements.

ROC AUC and average precision need the rows in score order with ties
grouped, nothing more.  ``np.argsort`` of 1e7 float64 takes ~1 s on the
benchmark machine and ``np.sort`` alone ~0.66 s (no SIMD sort), so the scores
are sorted by a two-level bucket sort instead, which carries each row's
payload (the code ``2 * group + label`` and, if given, the weight):

1. :func:`bucket_ids` maps every score to one of ~n/4096 buckets through a
   monotone map in *key space* (the float64 bits as an order-preserving
   integer, see :func:`order_key`, in which a log-normal or a sigmoid column
   is spread almost evenly): a linear map onto ``table.size - 1`` cells, then
   linear interpolation inside the cell of a table of integer bucket
   boundaries placed on a sample of the column (the caller builds it), so a
   skewed column still fills the buckets evenly;
2. :func:`scatter_rows` moves score and payload to their bucket (the caller
   gives each thread its own rows and its own offsets);
3. :func:`sort_buckets` sorts a range of buckets in place, each with the same
   two steps inside the cache (sub-buckets linear in key space between the
   bucket's own minimum and maximum), then an insertion sort of each small
   sub-bucket (an argsort for a large one; a block of equal values is left as
   it is).

The output is the scores in ascending order with their payloads, every block
of equal scores contiguous (-0.0 before +0.0, which compare equal); the order
of rows inside a block is unspecified, which no sum over tie blocks depends on.
Kernels never check their input: the scores hold no NaN, the table is
non-decreasing integers from 0 to the bucket count, the offsets are right.

:func:`placements` gives DeLong's structural components from one argsort,
:func:`placements_sorted` from rows already sorted (by the bucket sort).
"""

from __future__ import annotations

import numpy as np

from fastmlops._kernels._jit import kernel

_MASK = np.int64(0x7FFFFFFFFFFFFFFF)
_INSERTION = 16


@kernel()
def order_key(bits):
    """The bits of a float64 as an order-preserving integer (negative floats
    have their magnitude bits flipped), returned as a float64: rounding keeps
    the order non-decreasing, which is all a bucket map needs."""
    return np.float64(bits ^ ((bits >> 63) & _MASK))


@kernel("void(f8[::1], f8, f8, f8[::1], i2[::1], i8[::1], i8, i8)")
def bucket_ids(values, lo, scale, table, ids, counts, start, stop):
    """``ids[t]`` = the bucket of ``values[t]`` for ``t`` in ``[start, stop)``,
    and ``counts`` (one per bucket, at most 2**15) how many of them fell in
    each.  int16 ids: half the memory traffic of int32.

    The key ``k`` of a value is placed at ``u = clamp((k - lo) * scale, 0,
    table.size - 1)``, in cell ``c = min(floor(u), table.size - 2)``; its
    bucket is ``floor(table[c] + (u - c) * (table[c + 1] - table[c]))``, at
    most the last bucket: monotone in the value, as the table holds
    non-decreasing integers."""
    top = np.float64(table.size - 1)
    last_cell = table.size - 2
    for b in range(counts.size):
        counts[b] = 0
    bits = values.view(np.int64)
    last = counts.size - 1
    for t in range(start, stop):
        u = (order_key(bits[t]) - lo) * scale
        u = max(0.0, u)
        u = min(top, u)
        c = min(np.int64(u), last_cell)
        a = table[c]
        b = np.int64(a + (u - c) * (table[c + 1] - a))
        ids[t] = np.int16(min(last, b))
    for t in range(start, stop):
        counts[ids[t]] += 1


@kernel("void(f8[::1], i4[::1], f8[::1], i2[::1], i8[::1], i8, i8, f8[::1], i4[::1], f8[::1])")
def scatter_rows(values, codes, weights, ids, offsets, start, stop, keys_out, codes_out,
                 weights_out):
    """Move rows ``[start, stop)`` to their buckets: ``offsets[b]`` is the next
    free slot of bucket ``b`` for these rows (advanced here).  ``weights`` may
    be empty (no weights): ``weights_out`` is then not written."""
    has_w = weights.size > 0
    for t in range(start, stop):
        b = ids[t]
        s = offsets[b]
        keys_out[s] = values[t]
        codes_out[s] = codes[t]
        if has_w:
            weights_out[s] = weights[t]
        offsets[b] = s + 1


@kernel("void(f8[::1], i4[::1], f8[::1], i8[::1], i8, i8)")
def sort_buckets(keys, codes, weights, starts, b_from, b_to):
    """Sort each bucket ``b`` in ``[b_from, b_to)``, rows ``starts[b]`` to
    ``starts[b + 1]`` of ``keys``, carrying ``codes`` and (if not empty)
    ``weights``."""
    has_w = weights.size > 0
    big = 0
    for b in range(b_from, b_to):
        big = max(big, starts[b + 1] - starts[b])
    k2 = np.empty(big, dtype=np.float64)
    c2 = np.empty(big, dtype=np.int32)
    w2 = np.empty(big if has_w else 0, dtype=np.float64)
    sub = np.empty(big + 1, dtype=np.int64)
    sid = np.empty(big, dtype=np.int32)
    bits = keys.view(np.int64)
    for b in range(b_from, b_to):
        begin = starts[b]
        end = starts[b + 1]
        m = end - begin
        if m <= _INSERTION:
            _insertion(keys, codes, weights, has_w, begin, end)
            continue
        lo = np.inf
        hi = -np.inf
        for i in range(begin, end):
            f = order_key(bits[i])
            lo = min(lo, f)
            hi = max(hi, f)
        scale = m / (hi - lo)
        if not scale < np.inf:  # keys equal as float64: the values may still differ
            _argsorted(keys, codes, weights, has_w, begin, end)
            continue
        top = np.float64(m - 1)
        for i in range(m + 1):
            sub[i] = 0
        for i in range(m):
            u = (order_key(bits[begin + i]) - lo) * scale
            s = np.int32(min(top, u))
            sid[i] = s
            sub[s + 1] += 1
        for i in range(m):
            sub[i + 1] += sub[i]
        widest = 0
        for i in range(m):
            widest = max(widest, sub[i + 1] - sub[i])
        for i in range(m):
            s = sid[i]
            d = sub[s]
            k2[d] = keys[begin + i]
            c2[d] = codes[begin + i]
            if has_w:
                w2[d] = weights[begin + i]
            sub[s] = d + 1
        if widest <= _INSERTION:
            # every row is at most _INSERTION - 1 places from its own: one
            # insertion sort while copying back
            for i in range(m):
                v = k2[i]
                c = c2[i]
                j = begin + i - 1
                while j >= begin and keys[j] > v:
                    keys[j + 1] = keys[j]
                    codes[j + 1] = codes[j]
                    if has_w:
                        weights[j + 1] = weights[j]
                    j -= 1
                keys[j + 1] = v
                codes[j + 1] = c
                if has_w:
                    weights[j + 1] = w2[i]
            continue
        for i in range(m):
            keys[begin + i] = k2[i]
            codes[begin + i] = c2[i]
        if has_w:
            for i in range(m):
                weights[begin + i] = w2[i]
        s0 = 0
        for s in range(m):
            s1 = sub[s]
            if s1 - s0 > _INSERTION:
                _argsorted(keys, codes, weights, has_w, begin + s0, begin + s1)
            elif s1 - s0 > 1:
                _insertion(keys, codes, weights, has_w, begin + s0, begin + s1)
            s0 = s1


@kernel()
def _insertion(keys, codes, weights, has_w, begin, end):
    for i in range(begin + 1, end):
        v = keys[i]
        if keys[i - 1] <= v:
            continue
        c = codes[i]
        wv = weights[i] if has_w else 0.0
        j = i - 1
        while j >= begin and keys[j] > v:
            keys[j + 1] = keys[j]
            codes[j + 1] = codes[j]
            if has_w:
                weights[j + 1] = weights[j]
            j -= 1
        keys[j + 1] = v
        codes[j + 1] = c
        if has_w:
            weights[j + 1] = wv


@kernel()
def _argsorted(keys, codes, weights, has_w, begin, end):
    lo = keys[begin]
    hi = lo
    for i in range(begin + 1, end):
        lo = min(lo, keys[i])
        hi = max(hi, keys[i])
    if lo == hi:  # one block of ties (-0.0 and +0.0 included): any order will do
        return
    order = np.argsort(keys[begin:end])
    k2 = keys[begin:end].copy()
    c2 = codes[begin:end].copy()
    for i in range(end - begin):
        keys[begin + i] = k2[order[i]]
        codes[begin + i] = c2[order[i]]
    if has_w:
        w2 = weights[begin:end].copy()
        for i in range(end - begin):
            weights[begin + i] = w2[order[i]]


@kernel("UniTuple(f8[::1], 2)(f8[::1], u1[::1])")
def placements(scores, labels):
    """DeLong's structural components of the ROC AUC, in O(n log n).

    ``labels`` are 0/1 (1 positive); ``scores`` hold no NaN; both classes are
    present.  Returns ``(v10, v01)``: ``v10[i]`` for the i-th positive (in
    input order) is the share of negatives scored below it plus half the share
    tied with it; ``v01[j]`` for the j-th negative is the share of positives
    scored above it plus half the share tied with it.  Both have the AUC as
    their mean.  One argsort, then :func:`placements_sorted`.
    """
    order = np.argsort(scores, kind="mergesort")
    return placements_sorted(scores[order], order, labels)


@kernel("UniTuple(f8[::1], 2)(f8[::1], i8[::1], u1[::1])",
        "UniTuple(f8[::1], 2)(f8[::1], i4[::1], u1[::1])")
def placements_sorted(keys, rows, labels):
    """:func:`placements` from the scores already sorted: ``keys`` ascending,
    ``rows[t]`` the input row of ``keys[t]`` (``labels`` in input order).
    The bucket sort of :mod:`fastmlops.quality` gives both in O(n): sort the
    scores carrying ``np.arange(n, dtype=np.int32)`` as their codes."""
    n = keys.size
    n_pos = 0
    for i in range(n):
        n_pos += labels[i] != 0
    n_neg = n - n_pos
    slot = np.empty(n, dtype=np.int64)  # the row's index within its class
    p = 0
    q = 0
    for i in range(n):
        if labels[i]:
            slot[i] = p
            p += 1
        else:
            slot[i] = q
            q += 1
    v10 = np.empty(n_pos, dtype=np.float64)
    v01 = np.empty(n_neg, dtype=np.float64)
    neg_below = 0
    pos_below = 0
    i = 0
    while i < n:
        x = keys[i]
        j = i
        tie_pos = 0
        while j < n and keys[j] == x:
            tie_pos += labels[rows[j]] != 0
            j += 1
        tie_neg = (j - i) - tie_pos
        to_pos = (neg_below + 0.5 * tie_neg) / n_neg
        to_neg = ((n_pos - pos_below - tie_pos) + 0.5 * tie_pos) / n_pos
        for t in range(i, j):
            r = rows[t]
            if labels[r]:
                v10[slot[r]] = to_pos
            else:
                v01[slot[r]] = to_neg
        neg_below += tie_neg
        pos_below += tie_pos
        i = j
    return v10, v01
