"""Kernels of the paired comparison of two models (:mod:`fastmlops.gate`).

Resampling
----------
A replicate of the paired bootstrap draws ``n`` row indices uniformly with
replacement, **once**, and both models are scored on those rows.  The draws
come from xoshiro256** (Blackman and Vigna), whose 256-bit state the caller
seeds per block of replicates (from ``numpy.random.SeedSequence((seed,
block))``), so a block gives the same replicates whichever thread runs it and
however many threads there are.  Row ``floor(u * n)`` with ``u`` the top 53
bits of a draw as a float in [0, 1): biased by at most ``n / 2**53``.

Every kernel that resamples draws the rows in the same order from the same
state, so :func:`draw_rows` reproduces the rows of any replicate (the tests
score them with :mod:`fastmlops.quality`).

Rank metrics
------------
ROC AUC and average precision of a replicate reuse one sort of each model's
scores: the replicate's weight of row ``i`` is ``count_i x weight_i``
(``count_i`` the times it was drawn), and one sweep over the pre-sorted rows,
block of tied scores by block, gives the weighted metric in O(n), exactly as
:mod:`fastmlops._kernels.quality` does for one sort.  ``rows[m]`` is model
``m``'s row order (ascending scores), ``first[m, k]`` is 1 where a block of
equal scores starts at sorted position ``k``, ``labels[m, k]`` the label of
the row there.

Sums metrics
------------
Every other metric is a function of a few weighted sums over rows: row ``i``
adds ``vals[i, t]`` to sum ``cols[i, t]`` for each of its terms ``t``.

Nothing is checked here: indices in range, labels 0/1, no NaN.
"""

from __future__ import annotations

import numpy as np

from fastmlops._kernels._jit import kernel

_STATE = "u8[::1]"
_INV53 = 1.0 / 9007199254740992.0  # 2**-53
_RANK_SIG = (f"void({_STATE}, i4[:, ::1], u1[:, ::1], u1[:, ::1], f8[::1], i8, "
             "f8[:, ::1])")


@kernel()
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@kernel()
def _next(s):
    """The next 64-bit draw of xoshiro256** (state ``s`` advanced)."""
    result = _rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@kernel()
def _row(s, n):
    """A row in ``[0, n)``, uniform (to within ``n / 2**53``)."""
    return min(np.int64(np.float64(_next(s) >> np.uint64(11)) * _INV53 * n), n - 1)


@kernel(f"void({_STATE}, i8[:, ::1])")
def draw_rows(state, out):
    """``out[r]`` = the rows of replicate ``r`` of a block seeded with
    ``state`` (advanced), ``out.shape[1]`` rows each."""
    n = out.shape[1]
    for r in range(out.shape[0]):
        for k in range(n):
            out[r, k] = _row(state, n)


@kernel(f"void({_STATE}, i4[:, ::1], f8[:, ::1], i4[::1], f8[:, ::1])")
def sums_bootstrap(state, cols, vals, fixed, out):
    """``out[r, c]`` = the sum over the rows drawn for replicate ``r`` of the
    terms ``vals[t, i]`` with ``cols[t, i] == c`` (terms x rows; ``out``
    zeroed by the caller, one row per replicate of the block).  A term whose
    column is the same for every row has it in ``fixed[t]`` (else -1): its
    sum is a dot product with the counts, kept in a register."""
    terms = cols.shape[0]
    n = cols.shape[1]
    counts = np.zeros(n, dtype=np.int32)
    for r in range(out.shape[0]):
        counts[:] = 0
        for _ in range(n):  # random increments of a small array,
            counts[_row(state, n)] += 1
        for t in range(terms):  # then sequential passes over the terms
            c = fixed[t]
            if c >= 0:
                acc = 0.0
                for i in range(n):
                    acc += counts[i] * vals[t, i]
                out[r, c] += acc
            else:
                for i in range(n):
                    if counts[i]:
                        out[r, cols[t, i]] += counts[i] * vals[t, i]


@kernel()
def _auc_sweep(rows, first, labels, counts, weights, has_w):
    """Weighted ROC AUC of one model, row ``i`` weighing ``counts[i]``
    (x ``weights[i]``); NaN without positive or negative weight."""
    n = rows.size
    total = 0.0
    pos = 0.0
    neg = 0.0
    tp = 0.0
    tn = 0.0
    for k in range(n):
        if first[k]:
            total += tp * (neg + 0.5 * tn)
            pos += tp
            neg += tn
            tp = 0.0
            tn = 0.0
        i = rows[k]
        w = counts[i] * weights[i] if has_w else counts[i]
        if labels[k]:
            tp += w
        else:
            tn += w
    total += tp * (neg + 0.5 * tn)
    pos += tp
    neg += tn
    if pos > 0.0 and neg > 0.0:
        return total / (pos * neg)
    return np.nan


@kernel()
def _ap_sweep(rows, first, labels, counts, weights, has_w):
    """Weighted average precision of one model (thresholds from the highest
    score, ties one threshold); NaN without positive weight."""
    total = 0.0
    tps = 0.0
    fps = 0.0
    tp = 0.0
    fp = 0.0
    for k in range(rows.size - 1, -1, -1):
        i = rows[k]
        w = counts[i] * weights[i] if has_w else counts[i]
        if labels[k]:
            tp += w
        else:
            fp += w
        if first[k]:
            tps += tp
            fps += fp
            if tp > 0.0:
                total += tp * (tps / (tps + fps))
            tp = 0.0
            fp = 0.0
    if tps > 0.0:
        return total / tps
    return np.nan


@kernel()
def _sweep(kind, rows, first, labels, counts, weights, has_w):
    if kind == 0:
        return _auc_sweep(rows, first, labels, counts, weights, has_w)
    return _ap_sweep(rows, first, labels, counts, weights, has_w)


@kernel(_RANK_SIG)
def rank_bootstrap(state, rows, first, labels, weights, kind, out):
    """``out[r, m]`` = the metric of model ``m`` on replicate ``r``: ROC AUC
    (``kind`` 0) or average precision (1), from the pre-sorted rows."""
    n = rows.shape[1]
    has_w = weights.size > 0
    counts = np.zeros(n, dtype=np.int32)
    for r in range(out.shape[0]):
        counts[:] = 0
        for _ in range(n):
            counts[_row(state, n)] += 1
        for m in range(rows.shape[0]):
            out[r, m] = _sweep(kind, rows[m], first[m], labels[m], counts, weights, has_w)


@kernel("f8[::1](i4[:, ::1], u1[:, ::1], u1[:, ::1], f8[::1], i8)")
def rank_values(rows, first, labels, weights, kind):
    """The metric of each model on all rows (every count 1)."""
    counts = np.ones(rows.shape[1], dtype=np.int32)
    out = np.empty(rows.shape[0], dtype=np.float64)
    for m in range(rows.shape[0]):
        out[m] = _sweep(kind, rows[m], first[m], labels[m], counts, weights,
                        weights.size > 0)
    return out


@kernel("void(i4[:, ::1], u1[:, ::1], u1[:, ::1], f8[::1], i8, i8, i8, f8[:, ::1])")
def rank_delete_groups(rows, first, labels, weights, kind, n_groups, g_from, out):
    """Grouped jackknife: ``out[g - g_from, m]`` = the metric of model ``m``
    without the rows ``i`` with ``i % n_groups == g``, for ``out.shape[0]``
    groups from ``g_from``."""
    n = rows.shape[1]
    has_w = weights.size > 0
    counts = np.ones(n, dtype=np.int32)
    for k in range(out.shape[0]):
        g = g_from + k
        for i in range(g, n, n_groups):
            counts[i] = 0
        for m in range(rows.shape[0]):
            out[k, m] = _sweep(kind, rows[m], first[m], labels[m], counts, weights, has_w)
        for i in range(g, n, n_groups):
            counts[i] = 1


@kernel("f8[:, ::1](i4[:, ::1], u1[:, ::1], u1[:, ::1], f8[::1])")
def placements(rows, first, labels, weights):
    """Weighted DeLong placements, in input row order: ``out[m, i]`` is, for a
    positive row, the share of the negative weight scored below it plus half
    the share tied with it; for a negative row, the share of the positive
    weight scored above it plus half the share tied.  Without weights
    (``weights`` empty) these are DeLong's V10 and V01
    (:func:`fastmlops._kernels.ranks.placements`), from a sort done before."""
    models = rows.shape[0]
    n = rows.shape[1]
    has_w = weights.size > 0
    out = np.empty((models, n), dtype=np.float64)
    for m in range(models):
        w_pos = 0.0
        w_neg = 0.0
        for k in range(n):
            w = weights[rows[m, k]] if has_w else 1.0
            if labels[m, k]:
                w_pos += w
            else:
                w_neg += w
        neg_below = 0.0
        pos_below = 0.0
        k = 0
        while k < n:
            j = k + 1
            while j < n and not first[m, j]:
                j += 1
            tie_pos = 0.0
            tie_neg = 0.0
            for t in range(k, j):
                w = weights[rows[m, t]] if has_w else 1.0
                if labels[m, t]:
                    tie_pos += w
                else:
                    tie_neg += w
            to_pos = (neg_below + 0.5 * tie_neg) / w_neg
            to_neg = (w_pos - pos_below - 0.5 * tie_pos) / w_pos
            for t in range(k, j):
                out[m, rows[m, t]] = to_pos if labels[m, t] else to_neg
            neg_below += tie_neg
            pos_below += tie_pos
            k = j
    return out


_DIGIT = 11
_RADIX = 1 << _DIGIT
_PASSES = 6  # 6 x 11 bits cover the 64 bits of a key
_SIGN = np.uint64(0x8000000000000000)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@kernel("void(f8[::1], u1[::1], i4[::1], u1[::1], u1[::1])")
def sort_scores(values, labels, rows, first, labels_out):
    """Sort ``values`` ascending (no NaN) by an LSD radix sort of their bits
    as order-preserving unsigned keys, 11 bits a pass, passes in which every
    key has the same digit skipped: ``rows`` the row order, ``first[k]`` 1
    where a block of equal values starts (-0.0 equals +0.0), ``labels_out``
    the labels in that order.  Stable, O(n)."""
    n = values.size
    bits = values.view(np.uint64)
    keys = np.empty(n, dtype=np.uint64)
    for i in range(n):
        b = bits[i]
        keys[i] = b ^ (_ALL if b >> np.uint64(63) else _SIGN)
    counts = np.zeros((_PASSES, _RADIX), dtype=np.int64)
    mask = np.uint64(_RADIX - 1)
    for i in range(n):
        k = keys[i]
        for p in range(_PASSES):
            counts[p, (k >> np.uint64(p * _DIGIT)) & mask] += 1
    idx = np.arange(n).astype(np.int32)
    keys2 = np.empty(n, dtype=np.uint64)
    idx2 = np.empty(n, dtype=np.int32)
    for p in range(_PASSES):
        c = counts[p]
        skip = False
        for d in range(_RADIX):
            if c[d] == n:
                skip = True
            if c[d] != 0:
                break
        if skip:
            continue
        total = 0
        for d in range(_RADIX):
            t = c[d]
            c[d] = total
            total += t
        shift = np.uint64(p * _DIGIT)
        for i in range(n):
            k = keys[i]
            d = (k >> shift) & mask
            s = c[d]
            keys2[s] = k
            idx2[s] = idx[i]
            c[d] = s + 1
        keys, keys2 = keys2, keys
        idx, idx2 = idx2, idx
    prev = 0.0
    for k in range(n):
        r = idx[k]
        rows[k] = r
        v = values[r]
        first[k] = 1 if k == 0 or v != prev else 0
        labels_out[k] = labels[r]
        prev = v


@kernel("f8[:, ::1](f8[:, ::1], u1[::1])")
def class_covariances(v, labels):
    """Per class, the means and the 2 x 2 sample covariance (divisor count
    - 1) of two models' placements ``v`` (2 x rows): rows 0-1 of the output
    are ``[mean_0, mean_1, s00, s01, s11]`` of the negatives (class 0) and
    the positives (class 1).  Two passes (means first) for accuracy."""
    n = v.shape[1]
    out = np.zeros((2, 5), dtype=np.float64)
    count = np.zeros(2, dtype=np.float64)
    for i in range(n):
        c = labels[i]
        count[c] += 1.0
        out[c, 0] += v[0, i]
        out[c, 1] += v[1, i]
    for c in range(2):
        out[c, 0] /= count[c]
        out[c, 1] /= count[c]
    for i in range(n):
        c = labels[i]
        d0 = v[0, i] - out[c, 0]
        d1 = v[1, i] - out[c, 1]
        out[c, 2] += d0 * d0
        out[c, 3] += d0 * d1
        out[c, 4] += d1 * d1
    for c in range(2):
        for k in range(2, 5):
            out[c, k] /= count[c] - 1.0
    return out
