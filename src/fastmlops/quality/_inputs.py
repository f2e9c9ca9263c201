"""Input checks and conversions of the quality metrics.

Every public function of :mod:`fastmlops.quality` reads its input through
:func:`binary_input` (classification) or :func:`regression_input`, which
return a :class:`Prepared`: the arrays in the dtypes the kernels take, the
model names and the group values.  Bad input raises here, naming the argument
and saying how to fix it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fastmlops._core.parallel import parallel_map
from fastmlops._core.rows import (
    as_groups,
    as_weights,
    check_length,
    is_pandas,
    values_of,
)
from fastmlops._core.validation import as_numeric_array, reject_long_double

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

#: Values shown in an error message about a column's values.
_SHOWN = 10


@dataclass(frozen=True)
class Prepared:
    """Checked input of one call.

    ``scores`` is (rows, models) float64 in Fortran order, so each model's
    column is contiguous; ``target`` the labels (0.0/1.0) or the regression
    target; ``codes`` ``2 * group + label`` (int32; classification only,
    else the group codes); ``groups`` the group code of each row (int32);
    ``weights`` float64, empty for unit weights.  ``group_values`` is None
    without ``groups``; ``one_d`` tells that one 1-D score column was given
    (a float result, unless there are groups).
    """

    scores: np.ndarray
    target: np.ndarray
    codes: np.ndarray
    groups: np.ndarray
    weights: np.ndarray
    models: list[Any]
    group_values: list[Any] | None
    one_d: bool

    @property
    def n_groups(self) -> int:
        return 1 if self.group_values is None else len(self.group_values)

    def column(self, j: int) -> np.ndarray:
        """Model ``j``'s scores, contiguous float64."""
        return np.ascontiguousarray(self.scores[:, j])


def _nan_rows(arr: np.ndarray) -> int:
    return int(np.count_nonzero(np.isnan(arr))) if arr.dtype.kind == "f" else 0


def as_scores(scores: ArrayLike, name: str) -> tuple[np.ndarray, list[Any], bool]:
    """(scores as a (rows, models) Fortran-ordered float64 array, the model
    names, whether one 1-D column was given).

    A DataFrame's columns are the models (names kept), a 1-D array, list or
    Series one model (named by the Series, else ``name``), a 2-D array one
    model per column (named 0, 1, ...).  NaN raises, naming the column."""
    names: list[Any] | None = None
    one_d = False
    if is_pandas(scores) and hasattr(scores, "columns"):
        names = list(scores.columns)
        cols = [values_of(scores[c]) for c in names]  # type: ignore[index]
        arr = np.column_stack([as_numeric_array(col, f"{name}[{c!r}]")
                               for col, c in zip(cols, names)]) if cols else np.empty((0, 0))
    else:
        if is_pandas(scores) and getattr(scores, "name", None) is not None:
            names = [scores.name]  # type: ignore[union-attr]
        arr = as_numeric_array(values_of(scores), name)
        if arr.ndim == 1:
            one_d = True
            names = names or [name]
            arr = arr[:, None]
    reject_long_double(arr, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D (one model) or 2-D (rows x models), "
                         f"got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no columns: pass at least one model's scores")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no rows: a metric needs at least one")
    models = names if names is not None else list(range(arr.shape[1]))
    arr = np.asfortranarray(arr, dtype=np.float64)
    if not np.isfinite(arr.sum()) and np.isnan(arr).any():  # a NaN makes the sum NaN
        for j, model in enumerate(models):
            bad = _nan_rows(arr[:, j])
            if bad:
                where = name if one_d else f"{name} column {model!r}"
                raise ValueError(f"{where} has {bad:,} NaN rows of {arr.shape[0]:,}: "
                                 "drop those rows (or fill them) before scoring")
    return arr, models, one_d


def _not_binary(values: np.ndarray, name: str, hint: str) -> ValueError:
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in values[:_SHOWN])
    more = f", ... ({values.size} values)" if values.size > _SHOWN else ""
    return ValueError(f"{name} is not binary: values [{shown}{more}]; {hint}")


def as_labels(y_true: ArrayLike, n: int, pos_label: object = None,
              name: str = "y_true") -> np.ndarray:
    """Binary labels as uint8 0/1.

    Without ``pos_label``: bool, or numbers that are all 0 or 1.  With
    ``pos_label``: rows equal to it are positive, and the column holds at most
    one other value (any dtype, strings included)."""
    raw = values_of(y_true)
    if pos_label is not None:
        arr = np.asarray(raw)
        if arr.dtype.kind == "f" and _nan_rows(arr):
            raise ValueError(f"{name} has {_nan_rows(arr):,} NaN rows: drop them first")
        check_length(arr, n, name)
        try:
            distinct = np.unique(arr)
        except TypeError:  # e.g. strings mixed with None or NaN
            raise TypeError(f"{name} holds values that cannot be compared with each other "
                            "(missing values among strings?): drop or fill them first"
                            ) from None
        if distinct.size > 2:
            raise _not_binary(distinct, name, "labels must take two values")
        if not (distinct == pos_label).any() and distinct.size == 2:
            raise ValueError(f"pos_label={pos_label!r} is not one of the values of {name}: "
                             f"{distinct.tolist()}")
        return np.ascontiguousarray(arr == pos_label, dtype=np.uint8)
    arr = as_numeric_array(raw, name)
    check_length(arr, n, name)
    if arr.dtype.kind == "f" and _nan_rows(arr):
        raise ValueError(f"{name} has {_nan_rows(arr):,} NaN rows of {arr.size:,}: "
                         "drop those rows before scoring")
    if arr.dtype.kind in "iu":  # no temporary arrays: two reductions
        ok = arr.size == 0 or (arr.min() >= 0 and arr.max() <= 1)
    else:
        ok = bool(((arr == 0) | (arr == 1)).all())
    if not ok:
        raise _not_binary(np.unique(arr), name,
                          "pass 0/1 or bool labels, or name the positive value with pos_label=")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def binary_input(y_true: ArrayLike, scores: ArrayLike, sample_weight: ArrayLike | None,
                 groups: ArrayLike | None, pos_label: object = None,
                 name: str = "scores") -> Prepared:
    """Check and convert the input of a binary classification metric."""
    arr, models, one_d = as_scores(scores, name)
    n = arr.shape[0]
    labels = as_labels(y_true, n, pos_label)
    weights = as_weights(sample_weight, n)
    group_codes, group_values = as_groups(groups, n)
    codes = labels.astype(np.int32)
    if group_values is not None:
        codes += group_codes * 2
    return Prepared(arr, labels, codes, group_codes, weights, models, group_values, one_d)


def regression_input(y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None,
                     groups: ArrayLike | None) -> Prepared:
    """Check and convert the input of a regression metric (no NaN, no inf)."""
    arr, models, one_d = as_scores(y_pred, "y_pred")
    n = arr.shape[0]
    target = as_numeric_array(values_of(y_true), "y_true")
    reject_long_double(target, "y_true")
    check_length(target, n, "y_true")
    target = np.ascontiguousarray(target, dtype=np.float64)
    for what, values in (("y_true", target), ("y_pred", arr)):
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(f"{what} has {int(bad.sum()):,} NaN or infinite values: "
                             "drop those rows before scoring")
    weights = as_weights(sample_weight, n)
    group_codes, group_values = as_groups(groups, n)
    return Prepared(arr, target, group_codes, group_codes, weights, models, group_values, one_d)


def check_probabilities(data: Prepared, name: str) -> None:
    """Refuse scores outside [0, 1] (a probability metric)."""
    bad = (data.scores < 0) | (data.scores > 1)
    if bad.any():
        count = int(bad.sum())
        first = data.scores[bad][0]
        raise ValueError(f"{name} must be probabilities in [0, 1]; {count:,} values are not "
                         f"(first: {first!r})")


def map_models(data: Prepared, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``fn`` (one model's contiguous scores -> per-group array) over every
    model, on the thread pool; the results stacked on a new axis 1."""
    got = parallel_map(lambda j: fn(data.column(j)), range(data.scores.shape[1]))
    return np.stack(got, axis=1)
