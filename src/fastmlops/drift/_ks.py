"""The two-sample Kolmogorov-Smirnov test, a drop-in for :func:`scipy.stats.ks_2samp`.

Public as :func:`fastmlops.ks_2samp` and :func:`fastmlops.drift.ks_2samp`; this
private module holds it apart from the drift reference and report so that
each can grow on its own.
"""

from __future__ import annotations

import math
import warnings
from typing import Union

import numpy as np
from numpy.typing import ArrayLike

from fastmlops._core.validation import as_numeric_array, kernel_dtype, reject_long_double

__all__ = ["KstestResult", "ks_2samp", "SmallSampleWarning"]

_ALTERNATIVES = {"t": "two-sided", "g": "greater", "l": "less"}
_METHODS = ("auto", "exact", "asymp")
_NAN_POLICIES = ("propagate", "omit", "raise")
_BLOCK = 16  # most columns per task (see _parallel.balanced_blocks)

#: A field of a :class:`KstestResult`: a numpy scalar for one test, an array for many.
ResultValue = Union[np.generic, np.ndarray]
#: Where the ECDF difference is largest: one of the samples' values (NaN when
#: there is no result).
Location = Union[float, np.generic]

# scipy's own wording (scipy.stats._axis_nan_policy), which code matches on;
# ours adds what happened after it.
_TOO_SMALL_1D_OMIT = ("After omitting NaNs, one or more sample arguments is too small; all "
                      "returned values will be NaN. See documentation for sample size "
                      "requirements.")
_TOO_SMALL_1D_NOT_OMIT = ("One or more sample arguments is too small; all returned values "
                          "will be NaN. See documentation for sample size requirements.")
_TOO_SMALL_ND_OMIT = ("After omitting NaNs, one or more axis-slices of one or more sample "
                      "arguments is too small; corresponding elements of returned arrays "
                      "will be NaN. See documentation for sample size requirements.")
_EMPTY_OMITTED = " (Here a sample is empty once its NaNs are omitted.)"
_EMPTY_MASKED = " (Here a sample is empty once its masked values are removed.)"
_AXIS_TYPE = "`axis` must be an integer, a tuple of integers, or `None`."


class _FallbackSmallSampleWarning(RuntimeWarning):
    """Warns that a sample is too small (empty) for the test; its results are NaN.

    scipy's ``SmallSampleWarning`` (scipy >= 1.14) is used instead when scipy
    has it."""


_SMALL_SAMPLE_WARNING: type | None = None


def _small_sample_warning() -> type:
    """scipy's SmallSampleWarning class, else our RuntimeWarning subclass.
    Looked up on first use: importing scipy.stats takes a few hundred ms."""
    global _SMALL_SAMPLE_WARNING
    if _SMALL_SAMPLE_WARNING is None:
        try:
            from scipy.stats._axis_nan_policy import SmallSampleWarning as cls
        except ImportError:  # scipy < 1.14
            cls = _FallbackSmallSampleWarning
        if not (isinstance(cls, type) and issubclass(cls, RuntimeWarning)):
            cls = _FallbackSmallSampleWarning  # pragma: no cover - another scipy layout
        _SMALL_SAMPLE_WARNING = cls
    return _SMALL_SAMPLE_WARNING


def __getattr__(name: str) -> type:
    if name == "SmallSampleWarning":
        return _small_sample_warning()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _AxisTypeError(np.exceptions.AxisError, TypeError):
    """A non-integer ``axis``: scipy raises AxisError (a ValueError); earlier
    fastmlops raised TypeError.  This is both."""

    def __init__(self, message: str) -> None:
        # AxisError(msg) with one argument keeps the message as given
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class KstestResult(tuple):
    """Result of :func:`ks_2samp`, shaped like scipy's.

    It unpacks like a tuple of two, ``statistic, pvalue = ks_2samp(a, b)``, and
    also has the attributes ``statistic``, ``pvalue``, ``statistic_location``
    (the value at which the ECDF difference is largest) and ``statistic_sign``
    (+1 when the ECDF of ``data1`` is above that of ``data2`` there, -1 when
    below).
    """

    _fields = ("statistic", "pvalue", "statistic_location", "statistic_sign")

    statistic_location: ResultValue
    statistic_sign: ResultValue

    def __new__(cls, statistic: ResultValue, pvalue: ResultValue,
                statistic_location: ResultValue, statistic_sign: ResultValue) -> "KstestResult":
        self = super().__new__(cls, (statistic, pvalue))
        self.statistic_location = statistic_location
        self.statistic_sign = statistic_sign
        return self

    statistic = property(lambda self: self[0], doc="The KS statistic D.")
    pvalue = property(lambda self: self[1], doc="The p-value.")

    def _asdict(self) -> dict[str, ResultValue]:
        return {name: getattr(self, name) for name in self._fields}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._asdict().items())
        return f"KstestResult({inner})"

    def __reduce__(self) -> tuple:
        return (KstestResult, tuple(self._asdict().values()))


def check_options(alternative: str, method: str, nan_policy: str) -> tuple[str, str, str]:
    if not isinstance(alternative, str) or not alternative:
        raise ValueError(f"Invalid value for alternative: {alternative}. Use 'two-sided', "
                         "'less' or 'greater'.")
    alt = _ALTERNATIVES.get(alternative.lower()[0], alternative)
    if alt not in _ALTERNATIVES.values():
        raise ValueError(f"Invalid value for alternative: {alternative}. Use 'two-sided', "
                         "'less' or 'greater'.")
    if method not in _METHODS:
        raise ValueError(f"Invalid value for mode: {method}. The method must be one of "
                         f"{_METHODS}.")
    if nan_policy not in _NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {_NAN_POLICIES}, got {nan_policy!r}")
    return alt, method, nan_policy


def _axis_error(message: str) -> Exception:
    return np.exceptions.AxisError(message)


def _as_sample(x: ArrayLike, name: str) -> tuple[np.ndarray, np.dtype, np.ndarray | None]:
    """(kernel-ready numeric array, the input's own dtype in native byte order,
    mask or None).

    The second is what scipy's ``statistic_location`` has (bool stays bool,
    float16 stays float16), before the widening done for the kernels.  The
    mask (True: left out) comes from a masked array with masked values."""
    mask = None
    if isinstance(x, np.ma.MaskedArray):
        if np.ma.is_masked(x):
            mask = np.ma.getmaskarray(x)
        x = x.data
    raw = x
    if not isinstance(x, (str, bytes)):
        try:
            raw = np.asarray(x)
        except Exception:  # ragged lists and the like: as_numeric_array says why
            pass
    arr = as_numeric_array(raw, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be at least 1-D; got a scalar. Wrap it in a list.")
    reject_long_double(arr, name)
    own = raw.dtype.newbyteorder("=") if isinstance(raw, np.ndarray) else arr.dtype
    return arr, own, mask


def str_keyed(data: dict, what: str) -> dict:
    """A dict of columns with its keys as str, the form column names take
    everywhere (``{0: x}`` is column "0"); raises when two keys collide."""
    out: dict = {}
    for key, values in data.items():
        name = str(key)
        if name in out:
            raise ValueError(f"{what}: column names must be unique as strings; keys "
                             f"{[k for k in data if str(k) == name]!r} are all column "
                             f"{name!r}. Rename one of them.")
        out[name] = values
    return out


def _check_axis(axis: int | tuple[int, ...], ndim: int) -> tuple[int, ...]:
    """``axis`` (an int or a tuple of ints) as sorted non-negative axes of an
    ``ndim``-D array, with scipy's errors (AxisError)."""
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    for x in axes:
        if not isinstance(x, (int, np.integer)) or isinstance(x, (bool, np.bool_)):
            raise _AxisTypeError(_AXIS_TYPE + f" Got {axis!r}.")
    if not axes:
        raise _axis_error("`axis` must name at least one axis; pass None to use all of them.")
    out = []
    for x in axes:
        x = int(x)
        if not -ndim <= x < ndim:
            raise _axis_error(f"`axis` is out of bounds for array of dimension {ndim}")
        out.append(x % ndim)
    if len(set(out)) != len(out):
        raise _axis_error("`axis` must contain only distinct elements")
    return tuple(sorted(out))


def _broadcast(arrays: list[np.ndarray | None], shapes_of: list[np.ndarray],
               axes: tuple[int, ...], ndim: int) -> tuple[list, tuple[int, ...]]:
    """scipy's broadcasting of the non-sample axes: every array (and mask) as
    ``batch_shape + (sample length,)``; the sample axes moved last and raveled."""
    full = [(1,) * (ndim - x.ndim) + x.shape for x in shapes_of]
    other = [d for d in range(ndim) if d not in axes]
    try:
        batch = np.broadcast_shapes(*(tuple(f[d] for d in other) for f in full))
    except ValueError:
        raise ValueError(
            "Array shapes are incompatible for broadcasting. data1 and data2 must have the "
            "same shape apart from the sample axis, or shapes that broadcast together "
            f"(numpy's rules) once it is removed; got {shapes_of[0].shape} and "
            f"{shapes_of[1].shape} with axis={axes if len(axes) > 1 else axes[0]}. "
            "Pass matching columns, or the right axis=.") from None
    out: list[np.ndarray | None] = []
    for x, base in zip(arrays, full * (len(arrays) // len(full))):
        if x is None:
            out.append(None)
            continue
        x = x.reshape(base)
        want = list(base)
        for pos, d in enumerate(other):
            want[d] = batch[pos]
        if tuple(want) != x.shape:
            x = np.broadcast_to(x, want)
        x = np.moveaxis(x, axes, tuple(range(ndim - len(axes), ndim)))
        n = math.prod(x.shape[len(batch):])
        out.append(x.reshape(batch + (n,)))
    return out, batch


def resolve(st: np.ndarray, locs: np.ndarray, alternative: str) -> tuple[float, np.generic, int]:
    """scipy's statistic, location and sign from the four extremes of
    ``i/n1 - j/n2`` (max/min over values of data1/data2)."""
    max_s = max(st[0], st[1])
    loc_max = locs[0] if st[0] == max_s else locs[1]
    min_d = min(st[2], st[3])
    loc_min = locs[2] if st[2] == min_d else locs[3]
    min_s = float(np.clip(-min_d, 0, 1))
    if alternative == "less" or (alternative == "two-sided" and min_s > max_s):
        return min_s, loc_min, -1
    return float(max_s), loc_max, 1


def _zero_is_negative(a: np.ndarray, b: np.ndarray, dt: np.dtype) -> bool:
    """The sign of scipy's ``statistic_location`` when it is a zero of ``a``
    or ``b`` (NaNs and masked values left out): scipy takes the first zero
    of ``np.sort(data1)`` if data1 has one, else of ``np.sort(data2)``, both
    promoted to their common dtype ``dt``.  Where -0.0 and 0.0 both occur,
    their order is the sort's: the same sort is run on the same values."""
    for x in (a, b):
        zero = x == 0
        if not zero.any():
            continue
        neg = np.signbit(x[zero])
        if neg.all() or not neg.any():
            return bool(neg[0])
        s = np.sort(x[~np.isnan(x)].astype(dt))
        return bool(np.signbit(s[np.searchsorted(s, 0)]))
    return False


def _row(res: tuple[np.ndarray, np.ndarray] | None, nan_a: int, nan_b: int, n_a: int, n_b: int,
         alternative: str, nan_policy: str) -> tuple[float, Location, float, int, int]:
    """(d, location, sign, n1, n2) of one test; d is NaN when NaNs propagate or
    nothing is left after omitting them."""
    n1, n2 = n_a - nan_a, n_b - nan_b
    if res is None or (nan_policy == "propagate" and (nan_a or nan_b)):
        return np.nan, np.nan, np.nan, n1, n2
    d, loc, sign = resolve(res[0], res[1], alternative)
    return d, loc, sign, n1, n2


def _sample_dtype(a: np.ndarray, b: np.ndarray, nan_policy: str) -> np.dtype:
    """The kernels' common dtype of two samples (sample axis last), after the
    checks every path shares: no empty sample, no NaN under 'raise'."""
    if a.shape[-1] == 0 or b.shape[-1] == 0:
        raise ValueError("Data passed to ks_2samp must not be empty: "
                         f"got samples of length {a.shape[-1]} and {b.shape[-1]}. "
                         "(scipy returns NaN with a SmallSampleWarning here; fastmlops "
                         "refuses: an empty sample is a bug upstream.)")
    dtype = kernel_dtype(a, b)
    if nan_policy == "raise" and dtype.kind == "f":
        if np.isnan(a).any() or np.isnan(b).any():
            raise ValueError("The input contains nan values. Pass nan_policy='omit' to "
                             "drop NaN values or 'propagate' to get NaN results.")
    return dtype


def _nan_result(nan_dtype: np.dtype) -> KstestResult:
    nan = nan_dtype.type(np.nan)
    return KstestResult(nan, nan, nan, nan)


def _ks_1d(a: np.ndarray, b: np.ndarray, alternative: str, method: str,
           nan_policy: str, loc_dtype: np.dtype, nan_dtype: np.dtype,
           masked: bool = False) -> KstestResult:
    """:func:`ks_2samp` for two 1-D samples, without the batch machinery
    (which costs about a third of a 2,000-value test).  Same results.
    ``masked``: the samples had masked values removed (an empty one is then
    NaN with scipy's warning, not an error)."""
    if masked and (a.size == 0 or b.size == 0):
        kernel_dtype(a, b)
        warnings.warn(_TOO_SMALL_1D_NOT_OMIT + _EMPTY_MASKED, _small_sample_warning(),
                      stacklevel=3)
        return _nan_result(nan_dtype)
    dtype = _sample_dtype(a, b, nan_policy)
    from fastmlops.drift import _ks_engine as engine
    from fastmlops.drift._ks_pvalue import ks_pvalue_at

    sa = engine.Sample(np.ascontiguousarray(a, dtype=dtype))
    sb = engine.Sample(np.ascontiguousarray(b, dtype=dtype))
    res = engine.ks_statistic(sa, sb)
    d, loc, sign, n1, n2 = _row(res, int(sa.nan or 0), int(sb.nan or 0), a.size, b.size,
                                alternative, nan_policy)
    if np.isnan(d):
        if nan_policy == "omit" and (n1 == 0 or n2 == 0):
            warnings.warn(_TOO_SMALL_1D_OMIT + _EMPTY_OMITTED, _small_sample_warning(),
                          stacklevel=3)
        return _nan_result(nan_dtype)
    # warnings point at the caller of ks_2samp: ks_pvalue_at, _ks_1d, ks_2samp, caller
    d_ok, p_ok = ks_pvalue_at(d, n1, n2, alternative, method, stacklevel=4)
    # the location is one of the input values: exact in their promoted dtype
    location = np.array([loc], dtype=dtype).astype(loc_dtype)
    if loc_dtype.kind == "f" and location[0] == 0:
        location[0] = -0.0 if _zero_is_negative(a, b, loc_dtype) else 0.0
    return KstestResult(np.float64(d_ok), np.float64(p_ok), location[0], np.int8(sign))


def _batch_rows(a2: np.ndarray, b2: np.ndarray, ma2: np.ndarray | None,
                mb2: np.ndarray | None, dtype: np.dtype, alternative: str,
                nan_policy: str) -> list[tuple[float, Location, float, int, int]]:
    """(d, location, sign, n1, n2) of every test: row j of ``a2`` against row j
    of ``b2`` (the sample axis last), in balanced blocks over the thread pool.

    Tables whose tests lie along rows (a row-major rows x columns table, seen
    through ``axis=0``) are read in place by ``ks_table_block``; rows that are
    contiguous are used as they are; anything else is copied a block at a time
    into per-thread scratch."""
    from fastmlops.drift import _ks_engine as engine
    from fastmlops._core.parallel import balanced_blocks, parallel_map

    m, n_a, n_b = a2.shape[0], a2.shape[1], b2.shape[1]
    ta, tb = a2.T, b2.T  # (n, m): the tables as the user holds them
    itemsize = dtype.itemsize
    in_place = (ma2 is None and mb2 is None and a2.dtype == dtype and b2.dtype == dtype
                and ta.strides[1] == itemsize and tb.strides[1] == itemsize
                and n_a + n_b >= engine.SORT_MERGE_BELOW and m > 1)

    if in_place:  # row chunks, then columns, on the threads (called from this thread)
        return [_row(res, nan_a, nan_b, n_a, n_b, alternative, nan_policy)
                for res, nan_a, nan_b in engine.ks_table_block(ta, tb, 0, m)]

    def block(bounds: tuple[int, int]) -> list[tuple[float, Location, float, int, int]]:
        j0, j1 = bounds
        rows = []
        if ma2 is not None or mb2 is not None:
            xs = [np.ascontiguousarray(a2[j] if ma2 is None else a2[j][~ma2[j]], dtype=dtype)
                  for j in range(j0, j1)]
            ys = [np.ascontiguousarray(b2[j] if mb2 is None else b2[j][~mb2[j]], dtype=dtype)
                  for j in range(j0, j1)]
        else:
            xs = engine.columns(ta, j0, j1, dtype, "columns_a")
            ys = engine.columns(tb, j0, j1, dtype, "columns_b")
        for x, y in zip(xs, ys):
            sa, sb = engine.Sample(x), engine.Sample(y)
            res = engine.ks_statistic(sa, sb)
            rows.append(_row(res, int(sa.nan or 0), int(sb.nan or 0), x.size, y.size,
                             alternative, nan_policy))
        return rows

    return [r for part in parallel_map(block, balanced_blocks(m, max_block=_BLOCK))
            for r in part]


def _keep(res: KstestResult, axes: tuple[int, ...], keepdims: bool) -> KstestResult:
    """scipy's ``keepdims``: the reduced axes put back with length 1."""
    if not keepdims:
        return res
    fields = [np.expand_dims(np.asarray(getattr(res, f)), axes) for f in res._fields]
    return KstestResult(*fields)


def ks_2samp(data1: ArrayLike, data2: ArrayLike, alternative: str = "two-sided",
             method: str = "auto", *, axis: int | tuple[int, ...] | None = 0,
             nan_policy: str = "propagate", keepdims: bool = False) -> KstestResult:
    """Two-sample Kolmogorov-Smirnov test; a drop-in for :func:`scipy.stats.ks_2samp`.

    Tests the null hypothesis that ``data1`` and ``data2`` come from the same
    continuous distribution.  The statistic is computed exactly as scipy does
    (ECDF differences ``i/n1 - j/n2`` at every observed value, ties included)
    and is identical to scipy's, as are the p-values to 1e-10 relative when
    they are at least 1e-307.  Smaller p-values (strongly separated large
    samples) are only promised to be below 1e-307 in both: near and under the
    float64 underflow threshold (2.2e-308) the two libraries round
    differently, and either may give 0 where the other gives a tiny positive
    number (e.g. 0 against scipy's 4.3e-308 or 2.7e-311).

    The handling of ``axis``, ``nan_policy`` and ``keepdims`` follows scipy's
    (broadcasting, warnings, error types and wording); the differences that
    remain, each on purpose, are listed under Notes.

    Parameters
    ----------
    data1, data2 : array_like
        Samples of numbers (bool, int, float up to float64; any byte order or
        stride; masked arrays have their masked values left out).  Long
        double (``np.longdouble``, float96/float128) raises TypeError rather
        than being rounded to float64: convert it with ``.astype(np.float64)``
        if that rounding is acceptable.  With ``axis``, N-D arrays are many
        samples: every slice along ``axis`` of ``data1`` is tested against
        the matching slice of ``data2``, in parallel.  The other axes
        broadcast against each other as in scipy (shapes ``(3, 6, 1)`` and
        ``(3, 1, 6)`` with ``axis=-1`` give ``(3, 6)`` tests), a missing
        leading axis counting as length 1.
    alternative : {'two-sided', 'less', 'greater'}
        The alternative hypothesis, as in scipy ('less': the CDF of ``data1`` is
        below that of ``data2``; the statistic is then the largest amount by
        which the ECDF of ``data2`` exceeds that of ``data1``).
    method : {'auto', 'exact', 'asymp'}
        How the p-value is computed.  'auto' is 'exact' when both samples have
        at most 10,000 values, else 'asymp'.  'exact' counts lattice paths; when
        that is impossible or overflows, it falls back to 'asymp' with a
        RuntimeWarning, like scipy.  'asymp' uses the finite-n Kolmogorov
        distribution ``kstwo.sf(D, round(n1*n2/(n1+n2)))`` (two-sided) or
        Hodges' approximation (one-sided).
    axis : int, tuple of int or None, default 0
        The axis (or axes, raveled together) along which samples run.  None
        flattens both inputs.  Bad values raise numpy's ``AxisError`` with
        scipy's messages (a non-integer also counts as a TypeError).
    nan_policy : {'propagate', 'omit', 'raise'}
        'propagate': a sample containing NaN gives NaN in every field;
        'omit': NaNs are dropped (a sample left empty gives NaN and scipy's
        ``SmallSampleWarning``, a RuntimeWarning); 'raise': NaN raises
        ValueError ("The input contains nan values", scipy's wording).
    keepdims : bool, default False
        Keep the reduced axes in the results, with length 1.

    Returns
    -------
    KstestResult
        ``statistic``, ``pvalue``, ``statistic_location``, ``statistic_sign``;
        unpacks as ``(statistic, pvalue)``.  Scalars when one test is done,
        arrays of the broadcast batch shape otherwise.  Types as in scipy: a
        scalar ``statistic_location`` has the promoted dtype of the two
        inputs (bool for bool samples) and ``statistic_sign`` is int8, and a
        NaN scalar result has the inputs' floating dtype (float32 NaN for
        float32 samples); batch arrays are float64, except
        ``statistic_location`` for int64/uint64 samples, which keeps that
        dtype so that large integers stay exact.  A location of zero has
        scipy's sign: -0.0 or 0.0 as ``np.sort`` leaves the sample's zeros.

    Raises
    ------
    ValueError
        Empty samples, shapes that do not broadcast, unknown options, NaN
        with ``nan_policy='raise'``; ``numpy.exceptions.AxisError`` (a
        ValueError) for a bad ``axis``.
    TypeError
        Non-numeric input, long double input.

    Warns
    -----
    SmallSampleWarning
        scipy's class (``scipy.stats._axis_nan_policy.SmallSampleWarning``;
        on scipy < 1.14 a RuntimeWarning subclass of ours), when omitting
        NaNs (or masked values) leaves a sample empty.

    Notes
    -----
    Remaining differences from scipy 1.17, each on purpose:

    * An empty sample (length 0 along ``axis``) raises ValueError; scipy
      returns NaN with a SmallSampleWarning.  An empty input is almost always
      an upstream bug (an empty batch), and this library raises on bad input
      rather than return numbers that look like results.  Empty *batches*
      (no tests at all) give empty results, as in scipy.
    * A scalar sample raises ValueError (scipy treats it as one value):
      a scalar where an array was meant is usually a mistake.
    * Non-numeric samples (strings, complex, object) raise TypeError; scipy
      orders strings and complex numbers lexicographically, a KS test of
      which is not meaningful.
    * ``axis=True``/``False`` and ``axis=()`` raise AxisError; scipy reads
      the first two as 1 and 0.
    * scipy's deprecated alias ``mode=`` for ``method=`` is not accepted.
    * Batch results are float64 arrays (int64/uint64 locations keep their
      dtype, see Returns).  scipy builds them with ``np.apply_along_axis``,
      whose dtype is that of the first slice's result, so when the first
      slice is all-NaN in float32 data all of scipy's results are float32.
    * With ``nan_policy='omit'`` one SmallSampleWarning is given per call;
      scipy gives one per empty slice (shown once per call site by Python's
      default filter).
    * Messages keep scipy's words first and add how to fix the input.

    Examples
    --------
    >>> import numpy as np, fastmlops
    >>> res = fastmlops.ks_2samp([1.0, 2.0], [0.5, 1.5, 2.5, 3.5], alternative="greater")
    >>> float(res.statistic), round(float(res.pvalue), 6)
    (0.5, 0.533333)
    >>> d, p = fastmlops.ks_2samp(np.arange(10.0), np.arange(10.0) + 0.5)
    >>> float(d)
    0.1
    >>> rng = np.random.default_rng(0)
    >>> fastmlops.ks_2samp(rng.normal(size=(3, 6, 1)), rng.normal(size=(3, 1, 6)),
    ...                    axis=-1).statistic.shape
    (3, 6)
    """
    alternative, method, nan_policy = check_options(alternative, method, nan_policy)
    a, own_a, mask_a = _as_sample(data1, "data1")
    b, own_b, mask_b = _as_sample(data2, "data2")
    loc_dtype = np.result_type(own_a, own_b)  # scipy's statistic_location dtype
    nan_dtype = loc_dtype if loc_dtype.kind == "f" else np.dtype(np.float64)
    masked = mask_a is not None or mask_b is not None
    if (a.ndim == 1 and b.ndim == 1 and not keepdims and not masked
            and (axis is None or (type(axis) is int and -1 <= axis <= 0))):
        return _ks_1d(a, b, alternative, method, nan_policy, loc_dtype, nan_dtype)
    ndim = max(a.ndim, b.ndim)
    if axis is None:
        reduced = tuple(range(ndim))
        a, b = a.reshape(-1), b.reshape(-1)
        if masked:
            a = a if mask_a is None else a[~mask_a.reshape(-1)]
            b = b if mask_b is None else b[~mask_b.reshape(-1)]
        return _keep(_ks_1d(a, b, alternative, method, nan_policy, loc_dtype, nan_dtype,
                            masked), reduced, keepdims)
    axes = _check_axis(axis, ndim)
    (a, b, mask_a, mask_b), batch = _broadcast([a, b, mask_a, mask_b], [a, b], axes, ndim)
    if not batch:  # every axis reduced: one test
        if masked:
            a = a if mask_a is None else a[~mask_a]
            b = b if mask_b is None else b[~mask_b]
        return _keep(_ks_1d(a, b, alternative, method, nan_policy, loc_dtype, nan_dtype,
                            masked), axes, keepdims)
    m = math.prod(batch)
    if m == 0:  # no tests: empty results, as scipy's
        empty = np.full(batch, np.nan, dtype=nan_dtype)
        return _keep(KstestResult(empty, empty.copy(), empty.copy(), empty.copy()), axes,
                     keepdims)
    a2 = a.reshape(m, a.shape[-1])
    b2 = b.reshape(m, b.shape[-1])
    ma2 = None if mask_a is None else mask_a.reshape(m, -1)
    mb2 = None if mask_b is None else mask_b.reshape(m, -1)
    if masked:
        dtype = kernel_dtype(a2, b2)
        if a2.shape[-1] == 0 or b2.shape[-1] == 0 or nan_policy == "raise":
            _sample_dtype(a2, b2, nan_policy)
    else:
        dtype = _sample_dtype(a2, b2, nan_policy)
    rows = _batch_rows(a2, b2, ma2, mb2, dtype, alternative, nan_policy)
    d = np.array([r[0] for r in rows], dtype=np.float64)
    n1 = np.array([r[3] for r in rows], dtype=np.int64)
    n2 = np.array([r[4] for r in rows], dtype=np.int64)
    ok = ~np.isnan(d)
    # (a slice emptied by its mask is NaN without a warning, as in scipy)
    if nan_policy == "omit" and not ok.all() and ((n1 == 0) | (n2 == 0)).any():
        warnings.warn(_TOO_SMALL_ND_OMIT + _EMPTY_OMITTED, _small_sample_warning(),
                      stacklevel=2)
    p = np.full(m, np.nan)
    if ok.any():
        from fastmlops.drift._ks_pvalue import ks_pvalues

        d_ok, p_ok = ks_pvalues(d[ok], n1[ok], n2[ok], alternative, method)
        d[ok] = d_ok
        p[ok] = p_ok
    sign = np.array([r[2] for r in rows], dtype=np.float64)
    # float64 as in scipy, except int64/uint64 samples (never NaN), whose
    # values float64 could round
    wide_int = loc_dtype.kind in "iu" and loc_dtype.itemsize == 8
    loc = np.array([r[1] for r in rows], dtype=dtype if wide_int else np.float64)
    if loc.dtype.kind == "f" and loc_dtype.kind == "f":
        for j in np.flatnonzero(loc == 0):  # its sign: scipy's, from its sort
            x = a2[j] if ma2 is None else a2[j][~ma2[j]]
            y = b2[j] if mb2 is None else b2[j][~mb2[j]]
            loc[j] = -0.0 if _zero_is_negative(x, y, loc_dtype) else 0.0
    return _keep(KstestResult(d.reshape(batch), p.reshape(batch), loc.reshape(batch),
                              sign.reshape(batch)), axes, keepdims)
