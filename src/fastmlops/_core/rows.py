"""Per-row inputs shared by the quality metrics and the gate: pandas values as
numpy, sample weights and slice (group) labels, checked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from fastmlops._core.validation import as_numeric_array, reject_long_double

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["as_groups", "as_weights", "check_length", "is_pandas", "values_of"]


def is_pandas(x: object) -> bool:
    return type(x).__module__.split(".")[0] == "pandas"


def values_of(x: object) -> Any:
    """A pandas object's values as numpy (nullable dtypes with NA as NaN)."""
    if is_pandas(x) and hasattr(x, "to_numpy"):
        dtype = getattr(x, "dtype", None)
        if dtype is not None and getattr(dtype, "kind", "O") in "biuf" and \
                not isinstance(dtype, np.dtype):  # a nullable extension dtype
            return x.to_numpy(dtype=np.float64, na_value=np.nan)
        return x.to_numpy()
    return x


def check_length(arr: np.ndarray, n: int, name: str) -> None:
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size != n:
        raise ValueError(f"{name} has {arr.size:,} rows but the scores have {n:,}: "
                         "pass one value per row")


def as_weights(sample_weight: ArrayLike | None, n: int) -> np.ndarray:
    """Sample weights as float64 (empty for None): finite and non-negative."""
    if sample_weight is None:
        return np.empty(0, dtype=np.float64)
    arr = as_numeric_array(values_of(sample_weight), "sample_weight")
    reject_long_double(arr, "sample_weight")
    check_length(arr, n, "sample_weight")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    bad = ~(np.isfinite(arr) & (arr >= 0))
    if bad.any():
        raise ValueError(f"sample_weight must be finite and non-negative; {int(bad.sum()):,} "
                         f"rows are not (first: {arr[bad][0]!r})")
    return arr


def as_groups(groups: ArrayLike | None, n: int) -> tuple[np.ndarray, list[Any] | None]:
    """(int32 group code per row, the group values in sorted order); zeros and
    None without groups.  Groups may be integers or strings (any values
    numpy can sort); missing values (NaN, None) raise."""
    if groups is None:
        return np.zeros(n, dtype=np.int32), None
    raw = values_of(groups)
    if is_pandas(groups):
        import pandas as pd

        if pd.isna(raw).any():
            raise ValueError(f"groups has {int(pd.isna(raw).sum()):,} missing values: "
                             "give every row a group (e.g. fill them with 'unknown')")
        codes, uniques = pd.factorize(raw, sort=True)
        check_length(codes, n, "groups")
        values = uniques.tolist() if hasattr(uniques, "tolist") else list(uniques)
        return np.ascontiguousarray(codes, dtype=np.int32), values
    arr = np.asarray(raw)
    check_length(arr, n, "groups")
    if arr.dtype.kind == "f" and int(np.count_nonzero(np.isnan(arr))):
        raise ValueError(f"groups has {int(np.count_nonzero(np.isnan(arr))):,} NaN values: give every row a group")
    if arr.dtype.kind == "O" and any(v is None for v in arr):
        raise ValueError("groups has missing values (None): give every row a group")
    if arr.dtype.kind in "iu" and arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if hi - lo <= 4 * arr.size + 1024:  # small range: a table instead of a sort
            present = np.bincount((arr - lo).astype(np.int64), minlength=hi - lo + 1) > 0
            index = np.cumsum(present) - 1
            codes = index[(arr - lo).astype(np.int64)].astype(np.int32)
            values = (np.flatnonzero(present) + lo).astype(arr.dtype)
            return codes, values.tolist()
    try:
        values, codes = np.unique(arr, return_inverse=True)
    except TypeError as exc:
        raise TypeError(f"groups must be values that can be sorted (ints or strings): {exc}"
                        ) from None
    return np.ascontiguousarray(codes.reshape(-1), dtype=np.int32), values.tolist()
