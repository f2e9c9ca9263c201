"""Metrics of hard predictions at a threshold: accuracy, precision, recall, F1.

A row is predicted positive when its score is ``>= threshold``.  One pass
per model sums the weights of true/false positives/negatives per group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fastmlops._core.validation import check_number
from fastmlops.quality._inputs import Prepared, binary_input, map_models
from fastmlops.quality._results import PrecisionRecallF1, QualityResult, finish

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def confusion(data: Prepared, threshold: object) -> np.ndarray:
    """Weighted (tn, fp, fn, tp) as a (groups, models, 4) array."""
    from fastmlops._kernels.quality import confusion_sums

    t = check_number(threshold, "threshold", -np.inf, np.inf)

    def one(col: np.ndarray) -> np.ndarray:
        out = np.zeros((data.n_groups, 4))
        confusion_sums(col, data.codes, data.weights, t, out)
        return out

    return map_models(data, one)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def accuracy_values(counts: np.ndarray) -> np.ndarray:
    tn, fp, fn, tp = np.moveaxis(counts, -1, 0)
    return _ratio(tn + tp, tn + fp + fn + tp)


def prf_values(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    _, fp, fn, tp = np.moveaxis(counts, -1, 0)
    return _ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(2 * tp, 2 * tp + fp + fn)


def accuracy(y_true: ArrayLike, scores: ArrayLike, *, threshold: float = 0.5,
             sample_weight: ArrayLike | None = None, groups: ArrayLike | None = None,
             pos_label: object = None) -> float | QualityResult:
    """Share of rows (by weight) whose prediction ``score >= threshold`` is
    right: ``sklearn.metrics.accuracy_score(y_true, scores >= threshold)``.

    Arguments and result as :func:`fastmlops.quality.roc_auc`; NaN where the
    total weight is 0.

    Examples
    --------
    >>> from fastmlops.quality import accuracy
    >>> accuracy([0, 0, 1, 1], [0.1, 0.6, 0.5, 0.8])
    0.75
    >>> accuracy([0, 0, 1, 1], [0.1, 0.6, 0.5, 0.8], threshold=0.7)
    0.75
    """
    data = binary_input(y_true, scores, sample_weight, groups, pos_label)
    return finish("accuracy", accuracy_values(confusion(data, threshold)), data)


def precision_recall_f1(y_true: ArrayLike, scores: ArrayLike, *, threshold: float = 0.5,
                        sample_weight: ArrayLike | None = None,
                        groups: ArrayLike | None = None,
                        pos_label: object = None) -> PrecisionRecallF1:
    """Precision, recall and F1 of predicting positive when ``score >= threshold``.

    Equal to scikit-learn's ``precision_score``, ``recall_score`` and
    ``f1_score`` of ``scores >= threshold`` with ``zero_division=np.nan``:
    precision is NaN when nothing is predicted positive, recall when there
    are no positives, F1 (``2 tp / (2 tp + fp + fn)``) when both are absent.

    Returns a :class:`PrecisionRecallF1` ``(precision, recall, f1)``, each a
    float or a :class:`QualityResult` as in :func:`fastmlops.quality.roc_auc`.

    Examples
    --------
    >>> from fastmlops.quality import precision_recall_f1
    >>> p, r, f1 = precision_recall_f1([0, 0, 1, 1], [0.1, 0.6, 0.5, 0.8])
    >>> round(p, 4), r, round(f1, 4)
    (0.6667, 1.0, 0.8)
    """
    data = binary_input(y_true, scores, sample_weight, groups, pos_label)
    p, r, f = prf_values(confusion(data, threshold))
    return PrecisionRecallF1(precision=finish("precision", p, data),
                             recall=finish("recall", r, data), f1=finish("f1", f, data))
