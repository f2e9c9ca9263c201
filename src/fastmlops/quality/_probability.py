"""Metrics of predicted probabilities: log loss and Brier score.

One pass per model sums ``weight`` and ``weight x loss`` per group; the
metric is their ratio (NaN where the weight is 0).  Probabilities outside
[0, 1] raise ``ValueError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fastmlops.quality._inputs import (
    Prepared,
    binary_input,
    check_probabilities,
    map_models,
)
from fastmlops.quality._results import QualityResult, finish

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

LOG_LOSS, SQUARED, ABSOLUTE = 0, 1, 2


def mean_loss(data: Prepared, kind: int) -> np.ndarray:
    """Weighted mean loss of each (group, model): ``kind`` as in
    :func:`fastmlops._kernels.quality.loss_sums`."""
    from fastmlops._kernels.quality import loss_sums

    target = np.ascontiguousarray(data.target, dtype=np.float64)

    def one(col: np.ndarray) -> np.ndarray:
        out = np.zeros((data.n_groups, 2))
        loss_sums(col, target, data.groups, data.weights, kind, out)
        return out

    sums = map_models(data, one)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sums[..., 0] > 0, sums[..., 1] / sums[..., 0], np.nan)


def log_loss(y_true: ArrayLike, prob: ArrayLike, *, sample_weight: ArrayLike | None = None,
             groups: ArrayLike | None = None, pos_label: object = None
             ) -> float | QualityResult:
    """Mean negative log-likelihood of the labels under the probabilities
    ``prob`` of the positive class: ``sklearn.metrics.log_loss``.

    Each of ``p`` and ``1 - p`` is clipped to ``[eps, 1 - eps]`` (eps of
    float64) before its log, as scikit-learn does, so a confident mistake
    costs ``-log(eps) ~ 36`` instead of infinity.  Unlike scikit-learn,
    labels of one class are fine (scikit-learn then needs ``labels=[0,
    1]``).  Arguments and result as :func:`fastmlops.quality.roc_auc`.

    Examples
    --------
    >>> from fastmlops.quality import log_loss
    >>> round(log_loss([0, 1, 1], [0.2, 0.7, 0.9]), 6)
    0.228393
    """
    data = binary_input(y_true, prob, sample_weight, groups, pos_label, name="prob")
    check_probabilities(data, "prob")
    return finish("log_loss", mean_loss(data, LOG_LOSS), data)


def brier_score(y_true: ArrayLike, prob: ArrayLike, *, sample_weight: ArrayLike | None = None,
                groups: ArrayLike | None = None, pos_label: object = None
                ) -> float | QualityResult:
    """Mean squared difference between the label (0/1) and the probability of
    the positive class: ``sklearn.metrics.brier_score_loss``.

    Examples
    --------
    >>> from fastmlops.quality import brier_score
    >>> round(brier_score([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3]), 6)
    0.0375
    """
    data = binary_input(y_true, prob, sample_weight, groups, pos_label, name="prob")
    check_probabilities(data, "prob")
    return finish("brier_score", mean_loss(data, SQUARED), data)
