"""Regression metrics: RMSE, MAE and R², per model and group in one pass each.

NaN or infinite targets or predictions raise ``ValueError``; a group whose
total weight is 0 gets NaN, and so does R² of a group whose target is
constant (scikit-learn's ``force_finite=True`` default returns 1.0 or 0.0
there, ``force_finite=False`` NaN or -inf).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fastmlops.quality._inputs import Prepared, regression_input
from fastmlops.quality._probability import ABSOLUTE, SQUARED, mean_loss
from fastmlops.quality._results import QualityResult, finish

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def rmse(y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None,
         groups: ArrayLike | None = None) -> float | QualityResult:
    """Root mean squared error: ``sklearn.metrics.root_mean_squared_error``.

    ``y_pred`` is 1-D, 2-D (rows x models) or a DataFrame; groups and the
    result as in :func:`fastmlops.quality.roc_auc`.

    Examples
    --------
    >>> from fastmlops.quality import rmse
    >>> rmse([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
    0.6123724356957945
    """
    data = regression_input(y_true, y_pred, sample_weight, groups)
    return finish("rmse", np.sqrt(mean_loss(data, SQUARED)), data)


def mae(y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None,
        groups: ArrayLike | None = None) -> float | QualityResult:
    """Mean absolute error: ``sklearn.metrics.mean_absolute_error``.

    Examples
    --------
    >>> from fastmlops.quality import mae
    >>> mae([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
    0.5
    """
    data = regression_input(y_true, y_pred, sample_weight, groups)
    return finish("mae", mean_loss(data, ABSOLUTE), data)


def _total_squares(data: Prepared) -> np.ndarray:
    """Weighted sum of squares of the target around its group's weighted mean."""
    from fastmlops._kernels.quality import loss_sums

    w = data.weights if data.weights.size else None
    total = np.bincount(data.groups, weights=w, minlength=data.n_groups)
    sums = np.bincount(data.groups, weights=data.target if w is None else data.target * w,
                       minlength=data.n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(total > 0, sums / np.where(total > 0, total, 1.0), 0.0)
    out = np.zeros((data.n_groups, 2))
    loss_sums(np.ascontiguousarray(means[data.groups]), data.target, data.groups, data.weights,
              SQUARED, out)
    return out[:, 1]


def r2(y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None,
       groups: ArrayLike | None = None) -> float | QualityResult:
    """Coefficient of determination ``1 - SS_res / SS_tot``:
    ``sklearn.metrics.r2_score``, except NaN where the target is constant
    (``SS_tot == 0``; see the module docstring).

    Examples
    --------
    >>> from fastmlops.quality import r2
    >>> round(r2([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0]), 6)
    0.948608
    >>> r2([1.0, 1.0], [1.0, 2.0])
    nan
    """
    data = regression_input(y_true, y_pred, sample_weight, groups)
    residual = mean_loss(data, SQUARED)  # SS_res / W
    w = data.weights if data.weights.size else None
    total_w = np.bincount(data.groups, weights=w, minlength=data.n_groups)[:, None]
    tss = _total_squares(data)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(tss > 0, 1.0 - residual * total_w / np.where(tss > 0, tss, 1.0),
                          np.nan)
    return finish("r2", values, data)
