"""Input checks and conversions shared by the public modules.

Kernels never check anything; every public function passes its input through
these helpers first, so bad input fails here with a message that says how to
fix it.

Scalar arguments
----------------
One function per shape, each naming the argument in its message:
:func:`as_real` (a real number, bools refused, huge ints as inf),
:func:`check_number` (inside an interval), :func:`check_probability`
(strictly between 0 and 1), :func:`check_positive` (positive and finite),
:func:`check_int` (an integer within bounds), :func:`check_seed` (None or a
non-negative integer), :func:`check_choice` (one of some string options) and
:func:`check_bool`.  A value of the wrong kind is a ``TypeError``, one out of
range a ``ValueError``.

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

import math
import numbers
from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Literal, TypeGuard, Union, overload

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

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


def as_numeric_array(x: ArrayLike, name: str) -> np.ndarray:
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


def as_float64_1d(x: ArrayLike, name: str) -> np.ndarray:
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


# ------------------------------------------------------------------- scalars
# The scalar checks of every public module.  TypeError when the value is not of
# the right kind (bools are never numbers here: ``True`` would pass for 1),
# ValueError when it is out of range; every message names the argument and
# shows the value it got.


#: The real numbers :func:`as_real` takes (for the type checker, which does not
#: know :class:`numbers.Real`; at run time any ``numbers.Real`` but a bool).
RealNumber = Union[int, float, np.integer, np.floating, Fraction]


def float_or_inf(value: RealNumber) -> float:
    """``float(value)``, with a number beyond the float64 range (a huge Python
    int or Fraction) as ``inf`` or ``-inf`` instead of an OverflowError."""
    try:
        return float(value)
    except OverflowError:  # math.copysign(inf, value) would convert value too
        return math.inf if value > 0 else -math.inf


def _is_real(value: object) -> TypeGuard[RealNumber]:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def as_real(value: object, name: str, what: str = "a number") -> float:
    """``value`` as a float: a real number (int, float, Fraction or a numpy
    integer or float; not a bool), else TypeError ``"{name} must be {what},
    got ..."``.  A number beyond the float64 range becomes ``inf`` or ``-inf``
    (for the caller's range check to refuse); NaN is returned as it is.

    Examples
    --------
    >>> from fastmlops._core.validation import as_real
    >>> as_real(3, "x"), as_real(2 ** 2000, "x")
    (3.0, inf)
    >>> as_real("3", "x", "a number of seconds")
    Traceback (most recent call last):
    ...
    TypeError: x must be a number of seconds, got '3'
    """
    if not _is_real(value):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    return float_or_inf(value)


def check_number(value: object, name: str, low: float, high: float, low_open: bool = True,
                 high_open: bool = True) -> float:
    """``value`` as a float inside the interval from ``low`` to ``high`` (open or
    closed at either end); TypeError for a non-number (bools included),
    ValueError, naming the interval, outside it or for NaN.

    Examples
    --------
    >>> from fastmlops._core.validation import check_number
    >>> check_number(1, "share", 0, 1, high_open=False)
    1.0
    >>> check_number(0.0, "eps", 0, 1)
    Traceback (most recent call last):
    ...
    ValueError: eps must be in (0, 1), got 0.0
    """
    v = as_real(value, name)
    if not ((low < v if low_open else low <= v) and (v < high if high_open else v <= high)):
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise ValueError(f"{name} must be in {lo}{low:g}, {high:g}{hi}, got {value!r}")
    return v


def check_probability(value: object, name: str) -> float:
    """``value`` as a float strictly between 0 and 1 (a significance level, a
    power, a proportion); TypeError for a non-number, ValueError otherwise.

    Examples
    --------
    >>> from fastmlops._core.validation import check_probability
    >>> check_probability(0.05, "alpha")
    0.05
    >>> check_probability(1, "alpha")
    Traceback (most recent call last):
    ...
    ValueError: alpha must be strictly between 0 and 1, got 1
    """
    v = as_real(value, name, "a number strictly between 0 and 1")
    if not 0.0 < v < 1.0:  # also refuses NaN
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return v


def check_positive(value: object, name: str) -> float:
    """``value`` as a positive finite float; TypeError for a non-number,
    ValueError for zero, a negative number, an infinity or NaN.

    Examples
    --------
    >>> from fastmlops._core.validation import check_positive
    >>> check_positive(2, "ratio")
    2.0
    >>> check_positive(float("inf"), "tau")
    Traceback (most recent call last):
    ...
    ValueError: tau must be a positive finite number, got inf
    """
    v = as_real(value, name, "a positive number")
    if not (v > 0.0 and math.isfinite(v)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def check_int(value: object, name: str, minimum: int | None = 1, maximum: int | None = None,
              *, what: str = "an integer", why: str = "") -> int:
    """``value`` as an int from ``minimum`` to ``maximum`` (either bound may be
    None).  TypeError ``"{name} must be {what}"`` unless it is an integer (a
    Python or numpy int; not a bool, not a float, even a whole one);
    ValueError below ``minimum`` ("must not be negative" when it is 0) or
    above ``maximum`` (the message adds ``why``).

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops._core.validation import check_int
    >>> check_int(np.int64(5), "n_sims")
    5
    >>> check_int(-1, "canary_requests", minimum=0, what="an integer count")
    Traceback (most recent call last):
    ...
    ValueError: canary_requests must not be negative, got -1
    >>> check_int(2 ** 40, "looks", maximum=1_000_000)
    Traceback (most recent call last):
    ...
    ValueError: looks must be at most 1,000,000, got 1099511627776
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    v = int(value)
    if minimum is not None and v < minimum:
        if minimum == 0:
            raise ValueError(f"{name} must not be negative, got {value!r}")
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name} must be at most {maximum:,}{why}, got {value!r}")
    return v


@overload
def check_seed(seed: object, name: str = ..., *,
               allow_sequence: Literal[False] = ...) -> int | None: ...


@overload
def check_seed(seed: object, name: str = ..., *,
               allow_sequence: Literal[True]) -> int | np.random.SeedSequence | None: ...


def check_seed(seed: object, name: str = "seed", *,
               allow_sequence: bool = False) -> int | np.random.SeedSequence | None:
    """A seed for :class:`numpy.random.SeedSequence`: None (fresh entropy from
    the operating system) or a non-negative integer of any size; with
    ``allow_sequence``, a ``SeedSequence`` too (returned as it is).  Anything
    else raises, with one message: TypeError (naming the type it got) for a
    non-integer, ValueError for a negative integer.

    Examples
    --------
    >>> from fastmlops._core.validation import check_seed
    >>> check_seed(None), check_seed(2 ** 70)
    (None, 1180591620717411303424)
    >>> check_seed(-1)
    Traceback (most recent call last):
    ...
    ValueError: seed must be a non-negative integer or None (fresh entropy), got -1
    """
    if seed is None or (allow_sequence and isinstance(seed, np.random.SeedSequence)):
        return seed
    kinds = "a non-negative integer, a numpy SeedSequence" if allow_sequence \
        else "a non-negative integer"
    message = f"{name} must be {kinds} or None (fresh entropy), got {seed!r}"
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{message} ({type(seed).__name__})")
    if seed < 0:
        raise ValueError(message)
    return int(seed)


def check_choice(value: object, name: str, choices: tuple[str, ...], *,
                 aliases: Mapping[str, str] | None = None, hint: str = "") -> str:
    """``value`` if it is one of the string options ``choices`` (an alias in
    ``aliases`` gives the option it stands for); ValueError otherwise, listing
    the options (and ``hint``, e.g. what an option means).

    Examples
    --------
    >>> from fastmlops._core.validation import check_choice
    >>> check_choice("seed", "method", ("arcsine", "simple"), aliases={"seed": "simple"})
    'simple'
    >>> check_choice("score", "method", ("newcombe", "wald"))
    Traceback (most recent call last):
    ...
    ValueError: method must be 'newcombe' or 'wald', got 'score'
    """
    if isinstance(value, str):
        option = aliases.get(value, value) if aliases else value
        if option in choices:
            return option
    if len(choices) == 2:
        options = f"{choices[0]!r} or {choices[1]!r}"
    else:
        options = f"one of {choices!r}"
    raise ValueError(f"{name} must be {options}{hint}, got {value!r}")


def check_bool(value: object, name: str) -> bool:
    """``value`` as a bool: ``True`` or ``False`` (or a numpy bool); TypeError
    for anything else, 0 and 1 included.

    Examples
    --------
    >>> from fastmlops._core.validation import check_bool
    >>> check_bool(1, "grad")
    Traceback (most recent call last):
    ...
    TypeError: grad must be True or False, got 1
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)
