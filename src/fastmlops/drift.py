"""Drift detection: the two-sample Kolmogorov-Smirnov test and a reusable
reference for checking many production batches against one training sample.

* :func:`ks_2samp` is a drop-in for :func:`scipy.stats.ks_2samp`: the same
  statistic (bit for bit, ties included), the same p-values (``exact`` and
  ``asymp``, agreeing to 1e-10 relative), the same result fields, plus
  ``axis`` / ``nan_policy`` for testing many columns in one parallel call.
* :class:`DriftReference` sorts and bins a reference table once, then checks
  any number of current batches: KS, PSI, KL, JSD and NaN share per column,
  with a verdict per column and for the whole table.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from fastmlops._validation import as_numeric_array, kernel_dtype

__all__ = ["KstestResult", "ks_2samp", "DriftReference", "DriftReport"]

_ALTERNATIVES = {"t": "two-sided", "g": "greater", "l": "less"}
_METHODS = ("auto", "exact", "asymp")
_NAN_POLICIES = ("propagate", "omit", "raise")


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


def _as_sample(x: Any, name: str) -> np.ndarray:
    if isinstance(x, np.ma.MaskedArray):
        x = x.compressed() if np.ma.is_masked(x) else x.data
    arr = as_numeric_array(x, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be at least 1-D; got a scalar. Wrap it in a list.")
    return arr


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


def _ks_one(a: np.ndarray, b: np.ndarray, alternative: str,
            nan_policy: str) -> tuple[float, Any, float, int, int]:
    """(d, location, sign, n1, n2) of one pair of contiguous 1-D samples.

    d is NaN when NaNs propagate or nothing is left after omitting them.
    """
    from fastmlops import _ks_engine as engine

    sa, sb = engine.Sample(a), engine.Sample(b)
    res = engine.ks_statistic(sa, sb)
    if res is None or (nan_policy == "propagate" and (sa.nan or sb.nan)):
        return np.nan, np.nan, np.nan, sa.n, sb.n
    st, locs = res
    max_s = max(st[0], st[1])
    loc_max = locs[0] if st[0] == max_s else locs[1]
    min_d = min(st[2], st[3])
    loc_min = locs[2] if st[2] == min_d else locs[3]
    min_s = float(np.clip(-min_d, 0, 1))
    if alternative == "less" or (alternative == "two-sided" and min_s > max_s):
        return min_s, loc_min, -1, sa.n, sb.n
    return float(max_s), loc_max, 1, sa.n, sb.n


def ks_2samp(data1: Any, data2: Any, alternative: str = "two-sided", method: str = "auto",
             *, axis: int | None = 0, nan_policy: str = "propagate") -> KstestResult:
    """Two-sample Kolmogorov-Smirnov test; a drop-in for :func:`scipy.stats.ks_2samp`.

    Tests the null hypothesis that ``data1`` and ``data2`` come from the same
    continuous distribution.  The statistic is computed exactly as scipy does
    (ECDF differences ``i/n1 - j/n2`` at every observed value, ties included)
    and is identical to scipy's, as are the p-values to 1e-10 relative.

    Parameters
    ----------
    data1, data2 : array_like
        Samples of numbers (bool, int, float; any byte order or stride).  With
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
        the batch shape otherwise.

    Raises
    ------
    ValueError
        Empty samples, mismatched shapes, unknown options, NaN with
        ``nan_policy='raise'``.
    TypeError
        Non-numeric input.

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
    a = _as_sample(data1, "data1")
    b = _as_sample(data2, "data2")
    a, batch_a = _columns(a, axis, "data1")
    b, batch_b = _columns(b, axis, "data2")
    if batch_a != batch_b:
        raise ValueError(
            "data1 and data2 must have the same shape apart from the sample axis; got "
            f"{batch_a} and {batch_b} as the shapes of the other axes. "
            "Pass matching columns, or the right axis=.")
    if a.shape[-1] == 0 or b.shape[-1] == 0:
        raise ValueError("Data passed to ks_2samp must not be empty: "
                         f"got samples of length {a.shape[-1]} and {b.shape[-1]}.")
    dtype = kernel_dtype(a, b)
    if nan_policy == "raise" and dtype.kind == "f":
        if np.isnan(a).any() or np.isnan(b).any():
            raise ValueError("The input contains NaN values; pass nan_policy='omit' to "
                             "drop them or 'propagate' to get NaN results.")
    a2 = a.reshape(-1, a.shape[-1])
    b2 = b.reshape(-1, b.shape[-1])
    m = a2.shape[0]

    def column(j: int) -> tuple[float, Any, float, int, int]:
        x = np.ascontiguousarray(a2[j], dtype=dtype)
        y = np.ascontiguousarray(b2[j], dtype=dtype)
        return _ks_one(x, y, alternative, nan_policy)

    from fastmlops._parallel import parallel_map

    rows = parallel_map(column, range(m)) if m > 1 else [column(0)]
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
    if ok.all():
        loc = np.array([r[1] for r in rows], dtype=dtype)
    else:
        loc = np.array([r[1] for r in rows], dtype=np.float64)
    if not batch_a:
        if not ok[0]:
            return KstestResult(np.float64(np.nan), np.float64(np.nan),
                                np.float64(np.nan), np.float64(np.nan))
        return KstestResult(np.float64(d[0]), np.float64(p[0]), loc[0], np.int8(sign[0]))
    return KstestResult(d.reshape(batch_a), p.reshape(batch_a), loc.reshape(batch_a),
                        sign.reshape(batch_a))
