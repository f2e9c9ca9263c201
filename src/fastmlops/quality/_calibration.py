"""Expected calibration error and the reliability table.

Bins as ``sklearn.calibration.calibration_curve``: ``"uniform"`` splits
[0, 1] into ``bins`` equal bins, ``"quantile"`` places the edges at the
percentiles of the probabilities (numpy's linear percentiles, unweighted, of
each group separately); a probability equal to an interior edge belongs to the
bin below (``searchsorted(edges[1:-1], p, side="left")``).  Then, with ``W_b``
the weight in bin ``b``, ``W`` the total, ``S_b`` the weighted sum of the
probabilities and ``Y_b`` of the labels::

    ECE = sum_b (W_b / W) |S_b / W_b - Y_b / W_b| = sum_b |S_b - Y_b| / W
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from fastmlops._core.validation import check_choice, check_int
from fastmlops.quality._inputs import (
    Prepared,
    binary_input,
    check_probabilities,
    map_models,
)
from fastmlops.quality._results import Calibration, QualityResult, ReliabilityTable

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

#: The largest number of bins.
MAX_BINS = 100_000


def _edges(data: Prepared, col: np.ndarray, bins: int, strategy: str) -> np.ndarray:
    """(groups, bins + 1) edges of one model."""
    if strategy == "uniform":
        return np.tile(np.linspace(0.0, 1.0, bins + 1), (data.n_groups, 1))
    q = np.linspace(0, 1, bins + 1) * 100  # as scikit-learn: not linspace(0, 100)
    if data.group_values is None:
        return np.percentile(col, q)[None, :]
    order = np.argsort(data.groups, kind="stable")
    cuts = np.searchsorted(data.groups[order], np.arange(1, data.n_groups))
    return np.stack([np.percentile(col[rows], q) for rows in np.split(order, cuts)])


def calibration_sums(data: Prepared, bins: int, strategy: str
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(edges (groups, models, bins + 1), sums (groups, models, bins, 4)) with
    the sums (count, weight, weight x prob, weight x label) per bin."""
    from fastmlops._kernels import quality as kernels

    def one(col: np.ndarray) -> np.ndarray:
        edges = _edges(data, col, bins, strategy)
        out = np.zeros((data.n_groups, bins, 4))
        kernels.calibration_sums(col, data.codes, data.weights,
                                 np.ascontiguousarray(edges[:, 1:-1]), out)
        return np.concatenate([out.reshape(data.n_groups, -1), edges], axis=1)

    both = map_models(data, one)
    return both[..., bins * 4:], both[..., :bins * 4].reshape(both.shape[:2] + (bins, 4))


def ece_values(sums: np.ndarray) -> np.ndarray:
    total = sums[..., 1].sum(axis=-1)
    gap = np.abs(sums[..., 2] - sums[..., 3]).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, gap / np.where(total > 0, total, 1.0), np.nan)


def _table(edges: np.ndarray, sums: np.ndarray) -> ReliabilityTable:
    weight = sums[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(weight > 0, sums[:, 2] / weight, np.nan)
        frac = np.where(weight > 0, sums[:, 3] / weight, np.nan)
    return ReliabilityTable(edges=edges, count=sums[:, 0].astype(np.int64), weight=weight,
                            mean_predicted=mean_p, fraction_positive=frac)


def check_bins(bins: object, strategy: object) -> tuple[int, str]:
    n = check_int(bins, "bins", 1, MAX_BINS)
    return n, check_choice(strategy, "strategy", ("uniform", "quantile"))


def calibration(y_true: ArrayLike, prob: ArrayLike, *, bins: int = 10,
                strategy: str = "uniform", sample_weight: ArrayLike | None = None,
                groups: ArrayLike | None = None, pos_label: object = None) -> Calibration:
    """Expected calibration error (ECE) and the reliability table.

    Bins as ``sklearn.calibration.calibration_curve(y_true, prob,
    n_bins=bins, strategy=strategy)``, whose ``prob_true`` and ``prob_pred``
    are the table's ``fraction_positive`` and ``mean_predicted`` of the
    non-empty bins; ECE is the weighted mean gap between the two,
    ``sum_b (W_b / W) |mean_predicted_b - fraction_positive_b|`` (see
    docs/quality.md).  With ``sample_weight`` the bin means and shares are
    weighted; quantile edges stay unweighted percentiles.

    Returns a :class:`Calibration` ``(ece, table)``: a float and a
    :class:`ReliabilityTable` for one 1-D column without groups; else a
    :class:`QualityResult` and a dict ``{(group, model): ReliabilityTable}``
    (group None without groups).

    Examples
    --------
    >>> from fastmlops.quality import calibration
    >>> ece, table = calibration([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9], bins=2)
    >>> round(ece, 6)
    0.225
    >>> table.mean_predicted.round(2).tolist(), table.fraction_positive.tolist()
    ([0.2, 0.75], [0.0, 1.0])
    """
    n_bins, strat = check_bins(bins, strategy)
    data = binary_input(y_true, prob, sample_weight, groups, pos_label, name="prob")
    check_probabilities(data, "prob")
    edges, sums = calibration_sums(data, n_bins, strat)
    ece = ece_values(sums)
    if data.one_d and data.group_values is None:
        return Calibration(ece=float(ece[0, 0]), table=_table(edges[0, 0], sums[0, 0]))
    groups_or_none: list[Any] = data.group_values if data.group_values is not None else [None]
    tables = {(g, m): _table(edges[i, j], sums[i, j])
              for i, g in enumerate(groups_or_none) for j, m in enumerate(data.models)}
    return Calibration(ece=QualityResult("ece", ece, list(data.models), data.group_values),
                       table=tables)
