"""Input checks and conversions shared by the public modules.

Kernels never check anything; every public function passes its input through
these helpers first, so bad input fails here with a message that says how to
fix it.

Masked arrays: a masked value is a missing value
------------------------------------------------
Every public function that takes arrays reads a :class:`numpy.ma.MaskedArray`
the same way: **a masked value is missing, exactly as if it were NaN**.
:func:`as_numeric_array`, which every array input goes through, returns a
masked float array as a copy with NaN where it is masked, and a masked
integer or bool array with anything masked as float64 with NaN there (an
integer beyond 2**53 that float64 would round raises ``ValueError``; an
array with nothing masked keeps its dtype and is not copied).  Each function
then treats those NaN as it treats NaN: the drift measures (``psi``,
``kl_divergence``, ``js_divergence``, ``bin_counts``) leave them out and
report them in the NaN share, ``DriftReference`` counts a masked cell as a
missing value of its column (the table keeps its rows; the cell is in the
column's NaN share), ``ks_2samp`` drops masked values (as scipy does), and
functions that refuse NaN (``edges_from_sorted``, the quantile sketches,
``observe_many``, bin counts) refuse a masked value with the same error.
The DPO-style losses propagate NaN, so a masked pair's loss is NaN, as it
would be for a NaN input.  The data under the mask is never read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_NUMERIC_KINDS = "biuf"
_EXACT = 2 ** 53


def _unmask(x: np.ma.MaskedArray, name: str) -> np.ndarray:
    """The data of ``x`` with NaN where it is masked (see the module docstring)."""
    data = np.asarray(x.data)
    mask = np.ma.getmaskarray(x)
    if data.dtype.kind not in _NUMERIC_KINDS or not mask.any():
        return data  # non-numeric dtypes are refused by the caller
    if data.dtype.kind == "f":
        out = data.astype(np.float32 if data.dtype == np.float16 else data.dtype, copy=True)
    else:
        if data.dtype.kind in "iu":
            kept = data[~mask]
            big = kept[(kept > _EXACT) | (kept < -_EXACT)] if kept.size else kept
            if big.size:
                as_float = big.astype(np.float64)
                limit = 2.0 ** 64 if data.dtype.kind == "u" else 2.0 ** 63
                fits = as_float < limit
                if not fits.all() or not (as_float[fits].astype(data.dtype) == big[fits]).all():
                    raise ValueError(
                        f"{name} is a masked {data.dtype} array; masked values become NaN, "
                        "which needs float64, and float64 would round its integers beyond "
                        "2**53. Drop the masked values instead (x.compressed()) or convert "
                        "it yourself.")
        out = data.astype(np.float64)
    out[mask] = np.nan
    return out


def as_numeric_array(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a native-byte-order numeric ndarray (bool, int, uint or float).

    Lists and other array-likes are converted with :func:`numpy.asarray`.
    Object, string, complex, datetime and other dtypes raise ``TypeError``;
    byte-swapped (big-endian) arrays are converted to native order; float16 is
    widened to float32.  No copy is made when none is needed.  A
    :class:`numpy.ma.MaskedArray` has NaN where it is masked (see the module
    docstring); its result is a plain ndarray, never a masked one.
    """
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got a {type(x).__name__}")
    if isinstance(x, np.ma.MaskedArray):
        x = _unmask(x, name)
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


def check_number(value: Any, name: str, low: float, high: float, low_open: bool = True,
                 high_open: bool = True) -> float:
    """``value`` as a float inside the interval from ``low`` to ``high`` (open or
    closed at either end); TypeError for a non-number (bools included),
    ValueError, naming the interval, outside it or for NaN."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not ((low < v if low_open else low <= v) and (v < high if high_open else v <= high)):
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise ValueError(f"{name} must be in {lo}{low:g}, {high:g}{hi}, got {value!r}")
    return v
