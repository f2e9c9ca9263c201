"""ROC AUC and average precision: one sort per model, then one sweep per metric.

Each model's scores are sorted once, carrying every row's ``2 * group +
label`` code and weight (:mod:`fastmlops._kernels.ranks`); a sweep over the
sorted rows keeps, per group, the weight of positives and negatives seen so
far, and finishes one block of equal scores at a time, so ties count half
(AUC) or share one threshold (average precision) exactly as in scikit-learn.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np

from fastmlops._core.parallel import chunk_bounds, n_workers, parallel_map
from fastmlops.quality._inputs import Prepared, binary_input
from fastmlops.quality._results import QualityResult, finish

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

#: Rows per first-level bucket of the sort (a bucket's rows stay in cache).
ROWS_PER_BUCKET = 4096
#: Cells of the first-level map, and the sample the map is placed on.
_CELLS = 1 << 16
_SAMPLE = 16384
#: Rows from which the sort's first passes are split between threads.
_PARALLEL_ROWS = 1 << 18
_MASK = np.int64(0x7FFFFFFFFFFFFFFF)


def _keys(values: np.ndarray) -> np.ndarray:
    """The order-preserving integer keys of float64 ``values``, as float64."""
    bits = values.view(np.int64)
    return (bits ^ ((bits >> 63) & _MASK)).astype(np.float64)


def _bucket_map(values: np.ndarray, n_buckets: int) -> tuple[float, float, np.ndarray]:
    """(lo, scale, table) of :func:`fastmlops._kernels.ranks.bucket_ids`, placed
    on a strided sample: ``table[c]`` is the bucket boundary (an integer) at
    the start of cell c, from the share of the sample below it."""
    step = max(1, values.size // _SAMPLE)
    sample = np.sort(_keys(np.ascontiguousarray(values[::step])))
    lo, hi = float(sample[0]), float(sample[-1])
    if not hi > lo or n_buckets == 1:
        return lo, 0.0, np.zeros(2)
    scale = _CELLS / (hi - lo)
    cells = lo + np.arange(_CELLS + 1) / scale
    share = np.searchsorted(sample, cells, side="left") / sample.size
    table = np.floor(share * n_buckets)
    table[-1] = n_buckets
    return lo, scale, np.ascontiguousarray(np.maximum.accumulate(table))


def sort_rows(values: np.ndarray, codes: np.ndarray, weights: np.ndarray,
              rows_per_bucket: int = ROWS_PER_BUCKET
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``values`` (contiguous float64, no NaN) sorted ascending, with the codes
    and weights (empty: none) of their rows; ties in no particular order.
    The first passes run on the thread pool for long columns."""
    from fastmlops._kernels.ranks import bucket_ids, scatter_rows, sort_buckets

    n = values.size
    n_buckets = max(1, min(1 << 14, n // max(1, rows_per_bucket)))
    lo, scale, table = _bucket_map(values, n_buckets)
    parts = chunk_bounds(n, n_workers() if n >= _PARALLEL_ROWS else 1)
    ids = np.empty(n, dtype=np.int16)  # at most 2**14 buckets
    counts = np.zeros((len(parts), n_buckets), dtype=np.int64)
    parallel_map(lambda i: bucket_ids(values, lo, scale, table, ids, counts[i], *parts[i]),
                 range(len(parts)))
    starts = np.zeros(n_buckets + 1, dtype=np.int64)
    np.cumsum(counts.sum(axis=0), out=starts[1:])
    offsets = np.ascontiguousarray(starts[:-1] + np.cumsum(counts, axis=0) - counts)
    keys = np.empty(n, dtype=np.float64)
    codes_out = np.empty(n, dtype=np.int32)
    weights_out = np.empty(weights.size, dtype=np.float64)
    parallel_map(lambda i: scatter_rows(values, codes, weights, ids, offsets[i], *parts[i],
                                        keys, codes_out, weights_out), range(len(parts)))
    # buckets split where the rows split evenly: each thread sorts its own rows
    cuts = [0] + [int(np.searchsorted(starts, stop)) for _, stop in parts[:-1]] + [n_buckets]
    ranges = [(a, b) for a, b in itertools.pairwise(cuts) if b > a]
    parallel_map(lambda r: sort_buckets(keys, codes_out, weights_out, starts, *r), ranges)
    return keys, codes_out, weights_out


def rank_sums(values: np.ndarray, codes: np.ndarray, weights: np.ndarray, n_groups: int,
              auc: bool, ap: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(AUC per group, average precision per group) of one model's scores, each
    None unless asked; NaN for a group without positives (both) or without
    negatives (AUC)."""
    from fastmlops._kernels.quality import ap_sums, auc_sums

    keys, sorted_codes, sorted_weights = sort_rows(values, codes, weights)
    auc_out = ap_out = None
    with np.errstate(invalid="ignore", divide="ignore"):
        if auc:
            sums = np.zeros((n_groups, 3))
            auc_sums(keys, sorted_codes, sorted_weights, sums)
            defined = (sums[:, 1] > 0) & (sums[:, 2] > 0)
            auc_out = np.where(defined, sums[:, 0] / (sums[:, 1] * sums[:, 2]), np.nan)
        if ap:
            sums = np.zeros((n_groups, 3))
            ap_sums(keys, sorted_codes, sorted_weights, sums)
            ap_out = np.where(sums[:, 1] > 0, sums[:, 0] / sums[:, 1], np.nan)
    return auc_out, ap_out


def ranking_values(data: Prepared, auc: bool, ap: bool
                   ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(AUC, AP) as (groups, models) arrays of a prepared input, models in parallel."""
    m = data.scores.shape[1]
    got = parallel_map(lambda j: rank_sums(data.column(j), data.codes, data.weights,
                                           data.n_groups, auc, ap), range(m))
    auc_v = np.column_stack([g[0] for g in got if g[0] is not None]) if auc else None
    ap_v = np.column_stack([g[1] for g in got if g[1] is not None]) if ap else None
    return auc_v, ap_v


def roc_auc(y_true: ArrayLike, scores: ArrayLike, *, sample_weight: ArrayLike | None = None,
            groups: ArrayLike | None = None, pos_label: object = None
            ) -> float | QualityResult:
    """Area under the ROC curve, equal to ``sklearn.metrics.roc_auc_score``.

    The probability that a random positive scores above a random negative,
    ties counting half (the Mann-Whitney statistic); with ``sample_weight``
    each pair weighs the product of its weights.  O(n log n) from one sort per
    model, without a comparison sort of the whole column.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Binary labels: bool, or 0/1; with ``pos_label``, any two values, rows
        equal to ``pos_label`` being the positives.
    scores : array-like of shape (n,) or (n, models), or a DataFrame
        Higher means more likely positive; a DataFrame's columns are models.
        NaN raises ``ValueError`` naming the column.
    sample_weight : array-like of shape (n,), optional
        Non-negative finite weights.
    groups : array-like of shape (n,), optional
        A slice label per row (ints or strings): one AUC per group.
    pos_label : optional
        The value of ``y_true`` that is positive.

    Returns
    -------
    float or QualityResult
        A float for a single 1-D score column without groups, else a
        :class:`QualityResult` of (groups, models) values.  NaN where the
        labels (with positive weight) hold one class only: scikit-learn
        raises there, one slice without positives must not stop the others.

    Examples
    --------
    >>> from fastmlops.quality import roc_auc
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> roc_auc([0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5])
    0.5
    >>> roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    nan
    """
    data = binary_input(y_true, scores, sample_weight, groups, pos_label)
    values, _ = ranking_values(data, auc=True, ap=False)
    assert values is not None
    return finish("roc_auc", values, data)


def average_precision(y_true: ArrayLike, scores: ArrayLike, *,
                      sample_weight: ArrayLike | None = None, groups: ArrayLike | None = None,
                      pos_label: object = None) -> float | QualityResult:
    """Average precision, equal to ``sklearn.metrics.average_precision_score``.

    ``sum_k (R_k - R_{k-1}) P_k`` over the distinct scores from the highest,
    ``P_k`` and ``R_k`` the (weighted) precision and recall of predicting
    positive at or above the k-th score: tied scores are one threshold (no
    interpolation).  Arguments and result as :func:`roc_auc`; NaN where a
    group has no positive weight (scikit-learn warns and returns 0 there), a
    group without negatives has AP 1.

    Examples
    --------
    >>> from fastmlops.quality import average_precision
    >>> round(average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 6)
    0.833333
    """
    data = binary_input(y_true, scores, sample_weight, groups, pos_label)
    _, values = ranking_values(data, auc=False, ap=True)
    assert values is not None
    return finish("average_precision", values, data)
