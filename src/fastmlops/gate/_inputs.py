"""Input checks of the paired comparisons: one row per example, two models.

Every public function of :mod:`fastmlops.gate` reads its arrays through
:func:`paired_input`, which returns a :class:`Paired`: the labels (or the
regression target), both models' scores as contiguous float64, the weights
and the slice codes.  Bad input raises here, naming the argument and saying
how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fastmlops._core.parallel import parallel_map
from fastmlops._core.rows import as_groups, as_weights, values_of
from fastmlops._core.validation import as_numeric_array, reject_long_double

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


#: Rows are indexed by int32 in the kernels.
_MAX_ROWS = 2**31 - 1


@dataclass(frozen=True)
class Paired:
    """Checked input of one comparison.

    ``y`` is uint8 0/1 (classification) or float64 (regression); ``baseline``
    and ``candidate`` contiguous float64; ``weights`` float64, empty for unit
    weights; ``codes`` the slice code of each row (int32, zeros without
    groups) and ``group_values`` the slices in sorted order (None without
    groups).
    """

    y: np.ndarray
    baseline: np.ndarray
    candidate: np.ndarray
    weights: np.ndarray
    codes: np.ndarray
    group_values: list[Any] | None

    @property
    def n(self) -> int:
        return int(self.y.size)

    def subset(self, rows: np.ndarray) -> Paired:
        """The rows ``rows`` only, without groups."""
        w = self.weights[rows] if self.weights.size else self.weights
        return Paired(self.y[rows], self.baseline[rows], self.candidate[rows], w,
                      np.zeros(rows.size, dtype=np.int32), None)

    def slices(self) -> list[tuple[Any, np.ndarray]]:
        """``(group value, its rows)`` for every slice, in sorted order."""
        if self.group_values is None:
            return []
        order = np.argsort(self.codes, kind="stable")
        cuts = np.searchsorted(self.codes[order], np.arange(1, len(self.group_values)))
        return list(zip(self.group_values, np.split(order, cuts)))


def _one_d(x: object, name: str) -> np.ndarray:
    arr = as_numeric_array(values_of(x), name)
    reject_long_double(arr, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per row), got shape {arr.shape}")
    return arr


def as_scores(x: ArrayLike, name: str, n: int | None = None) -> np.ndarray:
    """One model's scores as contiguous float64 without NaN (or infinities)."""
    arr = np.ascontiguousarray(_one_d(x, name), dtype=np.float64)
    if n is not None and arr.size != n:
        raise ValueError(f"{name} has {arr.size:,} rows but y_true has {n:,}: "
                         "pass one score per row of the same rows")
    if not np.isfinite(arr.sum()):  # one pass when everything is finite
        nan = int(np.count_nonzero(np.isnan(arr)))
        if nan:
            raise ValueError(f"{name} has {nan:,} NaN rows of {arr.size:,}: drop those rows "
                             "(from y_true and both models) or fill them before comparing")
        inf = int(np.count_nonzero(np.isinf(arr)))
        if inf:
            raise ValueError(f"{name} has {inf:,} infinite values of {arr.size:,}: "
                             "scores must be finite")
    return arr


def as_labels(y_true: ArrayLike) -> np.ndarray:
    """Binary labels (bool or 0/1) as contiguous uint8."""
    arr = _one_d(y_true, "y_true")
    if arr.size == 0:
        raise ValueError("y_true has no rows: a comparison needs at least one")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise ValueError(f"y_true has {int(np.isnan(arr).sum()):,} NaN rows of {arr.size:,}: "
                         "drop those rows before comparing")
    if not bool(((arr == 0) | (arr == 1)).all()):
        shown = np.unique(arr)[:10].tolist()
        raise ValueError(f"y_true must be binary (bool or 0/1), got values {shown}: map the "
                         "positive class to 1 first, e.g. (y == 'churn').astype(int)")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def paired_input(y_true: ArrayLike, baseline: ArrayLike, candidate: ArrayLike, *,
                 sample_weight: ArrayLike | None = None, groups: ArrayLike | None = None,
                 regression: bool = False) -> Paired:
    """Check and convert the input of a paired comparison."""
    if regression:
        y = as_scores(y_true, "y_true")
        if y.size == 0:
            raise ValueError("y_true has no rows: a comparison needs at least one")
    else:
        y = as_labels(y_true)
    n = y.size
    if n >= _MAX_ROWS:
        raise ValueError(f"y_true has {n:,} rows; at most {_MAX_ROWS - 1:,} are supported: "
                         "compare a random sample of the rows")
    a, b = parallel_map(lambda item: as_scores(item[0], item[1], n),
                        [(baseline, "baseline"), (candidate, "candidate")])
    weights = as_weights(sample_weight, n)
    codes, values = as_groups(groups, n)
    return Paired(y, a, b, weights, codes, values)


def check_predictions(data: Paired, threshold: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Both models' hard predictions (bool): ``score >= threshold``, or, with
    ``threshold`` None, the scores themselves, which must then be 0/1."""
    if threshold is not None:
        return data.baseline >= threshold, data.candidate >= threshold
    out = []
    for name, s in (("baseline_pred", data.baseline), ("candidate_pred", data.candidate)):
        if not bool(((s == 0) | (s == 1)).all()):
            raise ValueError(f"{name} must be predicted labels (0/1 or bool); for scores or "
                             "probabilities pass threshold= (e.g. threshold=0.5)")
        out.append(s == 1)
    return out[0], out[1]
