"""Kernels of the quality metrics (:mod:`fastmlops.quality`).

Rows carry a group code ``g`` in ``[0, n_groups)``; classification kernels
take the code ``2 * g + label`` (label 0 or 1) so that one int32 array carries
both through a sort.  ``weights`` may be empty, meaning a weight of 1 per row.
Every kernel writes weighted sums per group into ``out`` (zeroed by the
caller), one row per group; the public functions turn sums into metrics.
Nothing is checked here: labels are 0/1, codes in range, no NaN.

* :func:`auc_sums` and :func:`ap_sums` sweep scores sorted ascending (by
  :mod:`fastmlops._kernels.ranks`) one block of equal scores at a time, with a
  counter per group, so every group's AUC and average precision come from one
  sort of the whole column.
* :func:`confusion_sums`, :func:`loss_sums` and :func:`calibration_sums` are
  single passes over the rows in input order.
"""

from __future__ import annotations

import math

import numpy as np

from fastmlops._kernels._jit import kernel

_SWEEP_SIG = "void(f8[::1], i4[::1], f8[::1], f8[:, ::1])"


@kernel(_SWEEP_SIG)
def auc_sums(keys, codes, weights, out):
    """Per group ``g``: ``out[g, 0]`` = sum over positives of weight x (weight
    of negatives scored below + half the weight tied), ``out[g, 1]`` the
    positive weight, ``out[g, 2]`` the negative weight.  The AUC is
    ``out[g, 0] / (out[g, 1] * out[g, 2])``.  ``keys`` ascending."""
    n = keys.size
    n_groups = out.shape[0]
    has_w = weights.size > 0
    if n_groups == 1:  # one group: scalar counters, no bookkeeping of groups
        total = 0.0
        pos = 0.0
        neg = 0.0
        i = 0
        while i < n:
            x = keys[i]
            tp = 0.0
            tn = 0.0
            j = i
            while j < n and keys[j] == x:
                w = weights[j] if has_w else 1.0
                label = codes[j] & 1
                tp += label * w
                tn += (1 - label) * w
                j += 1
            total += tp * (neg + 0.5 * tn)
            pos += tp
            neg += tn
            i = j
        out[0, 0] += total
        out[0, 1] += pos
        out[0, 2] += neg
        return
    tie_pos = np.zeros(n_groups)
    tie_neg = np.zeros(n_groups)
    seen = np.zeros(n_groups, dtype=np.bool_)
    touched = np.empty(n_groups, dtype=np.int64)
    i = 0
    while i < n:
        x = keys[i]
        n_touched = 0
        j = i
        while j < n and keys[j] == x:
            c = codes[j]
            g = c >> 1
            w = weights[j] if has_w else 1.0
            if not seen[g]:
                seen[g] = True
                touched[n_touched] = g
                n_touched += 1
            if c & 1:
                tie_pos[g] += w
            else:
                tie_neg[g] += w
            j += 1
        for t in range(n_touched):
            g = touched[t]
            out[g, 0] += tie_pos[g] * (out[g, 2] + 0.5 * tie_neg[g])
            out[g, 1] += tie_pos[g]
            out[g, 2] += tie_neg[g]
            tie_pos[g] = 0.0
            tie_neg[g] = 0.0
            seen[g] = False
        i = j


@kernel(_SWEEP_SIG)
def ap_sums(keys, codes, weights, out):
    """Per group ``g``: ``out[g, 0]`` = sum over thresholds (distinct scores,
    from the highest) of the positive weight at the threshold x the precision
    there, ``out[g, 1]`` the positive weight, ``out[g, 2]`` the negative
    weight.  The average precision is ``out[g, 0] / out[g, 1]``.  ``keys``
    ascending (swept from the end)."""
    n = keys.size
    n_groups = out.shape[0]
    has_w = weights.size > 0
    if n_groups == 1:
        total = out[0, 0]
        tps = out[0, 1]
        fps = out[0, 2]
        i = n - 1
        while i >= 0:
            x = keys[i]
            tp = 0.0
            fp = 0.0
            j = i
            while j >= 0 and keys[j] == x:
                w = weights[j] if has_w else 1.0
                label = codes[j] & 1
                tp += label * w
                fp += (1 - label) * w
                j -= 1
            tps += tp
            fps += fp
            den = tps + fps
            den = den if den > 0.0 else 1.0  # no row of weight yet: tp is 0 too
            total += tp * (tps / den)  # branch-free: adds 0 without positives
            i = j
        out[0, 0] = total
        out[0, 1] = tps
        out[0, 2] = fps
        return
    tie_pos = np.zeros(n_groups)
    tie_neg = np.zeros(n_groups)
    seen = np.zeros(n_groups, dtype=np.bool_)
    touched = np.empty(n_groups, dtype=np.int64)
    i = n - 1
    while i >= 0:
        x = keys[i]
        n_touched = 0
        j = i
        while j >= 0 and keys[j] == x:
            c = codes[j]
            g = c >> 1
            w = weights[j] if has_w else 1.0
            if not seen[g]:
                seen[g] = True
                touched[n_touched] = g
                n_touched += 1
            if c & 1:
                tie_pos[g] += w
            else:
                tie_neg[g] += w
            j -= 1
        for t in range(n_touched):
            g = touched[t]
            tp = out[g, 1] + tie_pos[g]
            fp = out[g, 2] + tie_neg[g]
            if tie_pos[g] > 0.0:
                out[g, 0] += tie_pos[g] * (tp / (tp + fp))
            out[g, 1] = tp
            out[g, 2] = fp
            tie_pos[g] = 0.0
            tie_neg[g] = 0.0
            seen[g] = False
        i = j


@kernel("void(f8[::1], i4[::1], f8[::1], f8, f8[:, ::1])")
def confusion_sums(scores, codes, weights, threshold, out):
    """Per group: ``out[g]`` = weights of (true negatives, false positives,
    false negatives, true positives), a row predicted positive when its score
    is ``>= threshold``."""
    has_w = weights.size > 0
    for t in range(scores.size):
        c = codes[t]
        w = weights[t] if has_w else 1.0
        out[c >> 1, 2 * (c & 1) + (1 if scores[t] >= threshold else 0)] += w


@kernel("void(f8[::1], f8[::1], i4[::1], f8[::1], i8, f8[:, ::1])")
def loss_sums(pred, target, groups, weights, kind, out):
    """Per group: ``out[g, 0]`` += weight, ``out[g, 1]`` += weight x loss of
    the row, the loss by ``kind``: 0 the log loss of a probability ``pred``
    for a 0/1 ``target`` (each of ``pred`` and ``1 - pred`` clipped to
    ``[eps, 1 - eps]``, eps of float64, as scikit-learn does), 1 the squared
    error, 2 the absolute error."""
    has_w = weights.size > 0
    eps = np.finfo(np.float64).eps
    for t in range(pred.size):
        p = pred[t]
        y = target[t]
        if kind == 0:
            q = p if y != 0.0 else 1.0 - p
            q = min(max(q, eps), 1.0 - eps)
            loss = -math.log(q)
        elif kind == 1:
            loss = (y - p) * (y - p)
        else:
            loss = abs(y - p)
        w = weights[t] if has_w else 1.0
        g = groups[t]
        out[g, 0] += w
        out[g, 1] += w * loss


@kernel("void(f8[::1], i4[::1], f8[::1], f8[:, ::1], f8[:, :, ::1])")
def calibration_sums(prob, codes, weights, inner, out):
    """Reliability sums per group and bin: ``out[g, b]`` += (1, weight,
    weight x prob, weight x label).  ``inner[g]`` are group g's interior bin
    edges, non-decreasing; a probability goes to the bin
    ``searchsorted(inner[g], p, side="left")`` (edges belong to the bin below,
    as in ``sklearn.calibration.calibration_curve``)."""
    has_w = weights.size > 0
    m = inner.shape[1]
    for t in range(prob.size):
        c = codes[t]
        g = c >> 1
        p = prob[t]
        lo = 0
        hi = m
        while lo < hi:  # first edge >= p
            mid = (lo + hi) >> 1
            if inner[g, mid] < p:
                lo = mid + 1
            else:
                hi = mid
        w = weights[t] if has_w else 1.0
        out[g, lo, 0] += 1.0
        out[g, lo, 1] += w
        out[g, lo, 2] += w * p
        out[g, lo, 3] += w * (c & 1)
