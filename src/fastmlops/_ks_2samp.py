"""The two-sample Kolmogorov-Smirnov test, a drop-in for :func:`scipy.stats.ks_2samp`.

Public as :func:`fastmlops.ks_2samp` and :func:`fastmlops.drift.ks_2samp`; this
private module holds it apart from the drift reference and report so that
each can grow on its own.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from fastmlops._validation import as_numeric_array, kernel_dtype, reject_long_double

__all__ = ["KstestResult", "ks_2samp"]

_ALTERNATIVES = {"t": "two-sided", "g": "greater", "l": "less"}
_METHODS = ("auto", "exact", "asymp")
_NAN_POLICIES = ("propagate", "omit", "raise")
_BLOCK = 16  # columns per task: one transposing copy per block for 2-D arrays


class KstestResult(tuple):
    """Result of :func:`ks_2samp`, shaped like scipy's.

    It unpacks like a tuple of two, ``statistic, pvalue = ks_2samp(a, b)``, and
    also has the attributes ``statistic``, ``pvalue``, ``statistic_location``
    (the value at which the ECDF difference is largest) and ``statistic_sign``
    (+1 when the ECDF of ``data1`` is above that of ``data2`` there, -1 when
    below).
    """

    _fields = ("statistic", "pvalue", "statistic_location", "statistic_sign")

    statistic_location: Any
    statistic_sign: Any

    def __new__(cls, statistic: Any, pvalue: Any, statistic_location: Any,
                statistic_sign: Any) -> "KstestResult":
        self = super().__new__(cls, (statistic, pvalue))
        self.statistic_location = statistic_location
        self.statistic_sign = statistic_sign
        return self

    statistic = property(lambda self: self[0], doc="The KS statistic D.")
    pvalue = property(lambda self: self[1], doc="The p-value.")

    def _asdict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._fields}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._asdict().items())
        return f"KstestResult({inner})"

    def __reduce__(self) -> tuple:
        return (KstestResult, tuple(self._asdict().values()))




def _check_options(alternative: Any, method: Any, nan_policy: Any) -> tuple[str, str, str]:
    if not isinstance(alternative, str) or not alternative:
        raise ValueError(
            f"alternative must be 'two-sided', 'less' or 'greater', got {alternative!r}")
    alt = _ALTERNATIVES.get(alternative.lower()[0], alternative)
    if alt not in _ALTERNATIVES.values():
        raise ValueError(
            f"alternative must be 'two-sided', 'less' or 'greater', got {alternative!r}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if nan_policy not in _NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {_NAN_POLICIES}, got {nan_policy!r}")
    return alt, method, nan_policy


def _as_sample(x: Any, name: str) -> tuple[np.ndarray, np.dtype]:
    """(kernel-ready numeric array, the input's own dtype in native byte order).

    The second is what scipy's ``statistic_location`` has (bool stays bool,
    float16 stays float16), before the widening done for the kernels."""
    if isinstance(x, np.ma.MaskedArray):
        x = x.compressed() if np.ma.is_masked(x) else x.data
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
    return arr, own


def _str_keyed(data: dict, what: str) -> dict:
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


def _columns(arr: np.ndarray, axis: int | None, name: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """Move ``axis`` last; return (array of shape (..., n), batch shape)."""
    if axis is None:
        arr = arr.reshape(-1)
        return arr, ()
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"axis must be an int or None, got {axis!r}")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"axis {axis} is out of bounds for {name} with {arr.ndim} dimension(s)")
    arr = np.moveaxis(arr, axis, -1)
    return arr, arr.shape[:-1]


def _resolve(st: np.ndarray, locs: np.ndarray, alternative: str) -> tuple[float, Any, int]:
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


def _row(res: Any, nan_a: int, nan_b: int, n_a: int, n_b: int, alternative: str,
         nan_policy: str) -> tuple[float, Any, float, int, int]:
    """(d, location, sign, n1, n2) of one test; d is NaN when NaNs propagate or
    nothing is left after omitting them."""
    n1, n2 = n_a - nan_a, n_b - nan_b
    if res is None or (nan_policy == "propagate" and (nan_a or nan_b)):
        return np.nan, np.nan, np.nan, n1, n2
    d, loc, sign = _resolve(res[0], res[1], alternative)
    return d, loc, sign, n1, n2


def _sample_dtype(a: np.ndarray, b: np.ndarray, nan_policy: str) -> np.dtype:
    """The kernels' common dtype of two samples (sample axis last), after the
    checks every path shares: no empty sample, no NaN under 'raise'."""
    if a.shape[-1] == 0 or b.shape[-1] == 0:
        raise ValueError("Data passed to ks_2samp must not be empty: "
                         f"got samples of length {a.shape[-1]} and {b.shape[-1]}.")
    dtype = kernel_dtype(a, b)
    if nan_policy == "raise" and dtype.kind == "f":
        if np.isnan(a).any() or np.isnan(b).any():
            raise ValueError("The input contains NaN values; pass nan_policy='omit' to "
                             "drop them or 'propagate' to get NaN results.")
    return dtype


def _ks_1d(a: np.ndarray, b: np.ndarray, alternative: str, method: str,
           nan_policy: str, loc_dtype: np.dtype) -> KstestResult:
    """:func:`ks_2samp` for two 1-D samples, without the batch machinery
    (which costs about a third of a 2,000-value test).  Same results."""
    dtype = _sample_dtype(a, b, nan_policy)
    from fastmlops import _ks_engine as engine
    from fastmlops._ks_pvalue import _ks_pvalue

    sa = engine.Sample(np.ascontiguousarray(a, dtype=dtype))
    sb = engine.Sample(np.ascontiguousarray(b, dtype=dtype))
    res = engine.ks_statistic(sa, sb)
    d, loc, sign, n1, n2 = _row(res, int(sa.nan or 0), int(sb.nan or 0), a.size, b.size,
                                alternative, nan_policy)
    if np.isnan(d):
        if nan_policy == "omit" and (n1 == 0 or n2 == 0):
            warnings.warn("After omitting NaNs, one or more samples is empty; "
                          "their results are NaN.", RuntimeWarning, stacklevel=3)
        nan = np.float64(np.nan)
        return KstestResult(nan, nan, nan, nan)
    # warnings point at the caller of ks_2samp: _ks_pvalue, _ks_1d, ks_2samp, caller
    d_ok, p_ok = _ks_pvalue(d, n1, n2, alternative, method, stacklevel=4)
    # the location is one of the input values: exact in their promoted dtype
    return KstestResult(np.float64(d_ok), np.float64(p_ok),
                        np.array([loc], dtype=dtype).astype(loc_dtype)[0], np.int8(sign))


def ks_2samp(data1: Any, data2: Any, alternative: str = "two-sided", method: str = "auto",
             *, axis: int | None = 0, nan_policy: str = "propagate") -> KstestResult:
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

    Parameters
    ----------
    data1, data2 : array_like
        Samples of numbers (bool, int, float up to float64; any byte order or
        stride).  Long double (``np.longdouble``, float96/float128) raises
        TypeError rather than being rounded to float64: convert it with
        ``.astype(np.float64)`` if that rounding is acceptable.  With
        ``axis``, N-D arrays are many samples: every slice along ``axis`` of
        ``data1`` is tested against the matching slice of ``data2``, in parallel.
        The shapes must agree except along ``axis``.
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
    axis : int or None, default 0
        The axis along which samples run.  None flattens both inputs.
    nan_policy : {'propagate', 'omit', 'raise'}
        'propagate': a sample containing NaN gives NaN in every field;
        'omit': NaNs are dropped (a sample left empty gives NaN and a
        RuntimeWarning); 'raise': NaN raises ValueError.

    Returns
    -------
    KstestResult
        ``statistic``, ``pvalue``, ``statistic_location``, ``statistic_sign``;
        unpacks as ``(statistic, pvalue)``.  Scalars for 1-D input, arrays of
        the batch shape otherwise.  Types as in scipy: a scalar
        ``statistic_location`` has the promoted dtype of the two inputs (bool
        for bool samples) and ``statistic_sign`` is int8; batch arrays are
        float64, except ``statistic_location`` for int64/uint64 samples, which
        keeps that dtype so that large integers stay exact.

    Raises
    ------
    ValueError
        Empty samples, mismatched shapes, unknown options, NaN with
        ``nan_policy='raise'``.
    TypeError
        Non-numeric input, long double input.

    Examples
    --------
    >>> import numpy as np, fastmlops
    >>> res = fastmlops.ks_2samp([1.0, 2.0], [0.5, 1.5, 2.5, 3.5], alternative="greater")
    >>> float(res.statistic), round(float(res.pvalue), 6)
    (0.5, 0.533333)
    >>> d, p = fastmlops.ks_2samp(np.arange(10.0), np.arange(10.0) + 0.5)
    >>> float(d)
    0.1
    """
    alternative, method, nan_policy = _check_options(alternative, method, nan_policy)
    a, own_a = _as_sample(data1, "data1")
    b, own_b = _as_sample(data2, "data2")
    loc_dtype = np.result_type(own_a, own_b)  # scipy's statistic_location dtype
    if a.ndim == 1 and b.ndim == 1 and (axis is None or (
            type(axis) is int and -1 <= axis <= 0)):
        return _ks_1d(a, b, alternative, method, nan_policy, loc_dtype)
    a, batch_a = _columns(a, axis, "data1")
    b, batch_b = _columns(b, axis, "data2")
    if batch_a != batch_b:
        raise ValueError(
            "data1 and data2 must have the same shape apart from the sample axis; got "
            f"{batch_a} and {batch_b} as the shapes of the other axes. "
            "Pass matching columns, or the right axis=.")
    dtype = _sample_dtype(a, b, nan_policy)
    from fastmlops import _ks_engine as engine
    from fastmlops._parallel import parallel_map
    from fastmlops._tables import columns_block

    # (tests, n) views: the sample axis last.  Columns of a row-major table
    # are copied a block at a time (one cache-friendly pass per block).
    a2 = a.reshape(-1, a.shape[-1])
    b2 = b.reshape(-1, b.shape[-1])
    m = a2.shape[0]
    n_a, n_b = a2.shape[1], b2.shape[1]

    def block(bounds: tuple[int, int]) -> list[tuple[float, Any, float, int, int]]:
        j0, j1 = bounds
        rows = []
        for x, y in zip(columns_block(a2.T, j0, j1, dtype), columns_block(b2.T, j0, j1, dtype)):
            sa, sb = engine.Sample(x), engine.Sample(y)
            res = engine.ks_statistic(sa, sb)
            rows.append(_row(res, int(sa.nan or 0), int(sb.nan or 0), n_a, n_b,
                             alternative, nan_policy))
        return rows

    blocks = [(j, min(j + _BLOCK, m)) for j in range(0, m, _BLOCK)]
    rows = [r for part in parallel_map(block, blocks) for r in part]
    d = np.array([r[0] for r in rows], dtype=np.float64)
    n1 = np.array([r[3] for r in rows], dtype=np.int64)
    n2 = np.array([r[4] for r in rows], dtype=np.int64)
    ok = ~np.isnan(d)
    if nan_policy == "omit" and not ok.all() and ((n1 == 0) | (n2 == 0)).any():
        warnings.warn("After omitting NaNs, one or more samples is empty; "
                      "their results are NaN.", RuntimeWarning, stacklevel=2)
    p = np.full(m, np.nan)
    if ok.any():
        from fastmlops._ks_pvalue import ks_pvalues

        d_ok, p_ok = ks_pvalues(d[ok], n1[ok], n2[ok], alternative, method)
        d[ok] = d_ok
        p[ok] = p_ok
    sign = np.array([r[2] for r in rows], dtype=np.float64)
    if not batch_a:
        if not ok[0]:
            return KstestResult(np.float64(np.nan), np.float64(np.nan),
                                np.float64(np.nan), np.float64(np.nan))
        loc0 = np.array([rows[0][1]], dtype=dtype).astype(loc_dtype)[0]
        return KstestResult(np.float64(d[0]), np.float64(p[0]), loc0, np.int8(sign[0]))
    # float64 as in scipy, except int64/uint64 samples (never NaN), whose
    # values float64 could round
    wide_int = loc_dtype.kind in "iu" and loc_dtype.itemsize == 8
    loc = np.array([r[1] for r in rows], dtype=dtype if wide_int else np.float64)
    return KstestResult(d.reshape(batch_a), p.reshape(batch_a), loc.reshape(batch_a),
                        sign.reshape(batch_a))


