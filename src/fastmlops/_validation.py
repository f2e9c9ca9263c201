"""Input checks and conversions shared by the public modules.

Kernels never check anything; every public function passes its input through
these helpers first, so bad input fails here with a message that says how to
fix it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_NUMERIC_KINDS = "biuf"


def as_numeric_array(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a native-byte-order numeric ndarray (bool, int, uint or float).

    Lists and other array-likes are converted with :func:`numpy.asarray`.
    Object, string, complex, datetime and other dtypes raise ``TypeError``;
    byte-swapped (big-endian) arrays are converted to native order; float16 is
    widened to float32.  No copy is made when none is needed.
    """
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got a {type(x).__name__}")
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} could not be converted to a numeric array: {exc}") from None
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"{name} must hold numbers (bool, int or float); got dtype {arr.dtype}. "
            "Convert it first, e.g. np.asarray(x, dtype=float)."
        )
    if arr.dtype.kind == "b":
        arr = arr.astype(np.uint8)
    elif arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def reject_long_double(arr: np.ndarray, name: str) -> None:
    """Refuse floats wider than float64: the kernels would round them to float64,
    turning values that differ only in the extra bits into ties."""
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:
        raise TypeError(
            f"{name} has dtype {arr.dtype} (long double), which is not supported: "
            "rounding it to float64 can turn distinct values into ties and change the "
            "result. Convert it with .astype(np.float64) if that rounding is acceptable.")


def as_float64_1d(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a contiguous 1-D float64 array (raises on other shapes)."""
    arr = as_numeric_array(x, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}; pass a single column")
    return np.ascontiguousarray(arr, dtype=np.float64)


def kernel_dtype(*arrays: np.ndarray) -> np.dtype:
    """The dtype two or more samples are compared in (numpy's promotion rules),
    restricted to the dtypes the kernels are compiled for: float64, float32, int64
    and uint64 (smaller integers widen to int64)."""
    dt = np.result_type(*arrays)
    if dt.kind == "f":
        return np.dtype(np.float32) if dt == np.float32 else np.dtype(np.float64)
    if dt.kind == "u" and dt.itemsize == 8:
        return np.dtype(np.uint64)
    if dt.kind in "iub":
        return np.dtype(np.int64)
    return np.dtype(np.float64)
