"""Drift detection: the two-sample Kolmogorov-Smirnov test and a reusable
reference for checking many production batches against one training sample.

* :func:`ks_2samp` is a drop-in for :func:`scipy.stats.ks_2samp`: the same
  statistic (bit for bit, ties included), the same p-values (``exact`` and
  ``asymp``, agreeing to 1e-10 relative for p-values of at least 1e-307),
  the same result fields, plus
  ``axis`` / ``nan_policy`` for testing many columns in one parallel call.
* :class:`DriftReference` sorts and bins a reference table once, then checks
  any number of current batches: KS, PSI, KL, JSD and NaN share per column,
  with a verdict per column and for the whole table.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from fastmlops._validation import as_numeric_array, kernel_dtype, reject_long_double

__all__ = ["KstestResult", "ks_2samp", "DriftReference", "DriftReport"]

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


# --------------------------------------------------------------------------
# Reference computed once, many checks
# --------------------------------------------------------------------------



@dataclass(frozen=True)
class DriftReport:
    """Per-column and whole-table drift of one batch against a :class:`DriftReference`.

    Per column (arrays in column order): ``ks_statistic``, ``ks_pvalue``
    (:func:`ks_2samp`, NaNs omitted), ``psi``, ``kl``, ``jsd`` (see
    :mod:`fastmlops.divergence`), ``psi_verdict`` ("none" < 0.1 <= "minor" <=
    0.25 < "major"), ``nan_share`` and ``reference_nan_share``, and
    ``verdict``:

    * ``"drift"``: the KS p-value is below ``alpha``, or PSI is "major", or the
      share of NaN rose by more than ``nan_increase`` over the reference's, or
      the column has no values left (all NaN);
    * ``"watch"``: PSI is "minor";
    * ``"ok"``: otherwise.

    For the table: ``n_drifted`` columns with verdict "drift",
    ``share_drifted``, ``drifted`` (``share_drifted >= drift_share``) and
    ``verdict``: "drift" when ``drifted``, "watch" when any column is "drift"
    or "watch", else "ok".  Drift is a lead, not a verdict: check performance,
    cause and retraining cost before acting on it.
    """

    columns: list[str]
    n_rows: int
    ks_statistic: np.ndarray
    ks_pvalue: np.ndarray
    psi: np.ndarray
    kl: np.ndarray
    jsd: np.ndarray
    psi_verdict: list[str]
    nan_share: np.ndarray
    reference_nan_share: np.ndarray
    column_verdict: list[str]
    alpha: float
    drift_share: float
    nan_increase: float

    @property
    def n_drifted(self) -> int:
        return sum(v == "drift" for v in self.column_verdict)

    @property
    def share_drifted(self) -> float:
        return self.n_drifted / max(1, len(self.columns))

    @property
    def drifted(self) -> bool:
        return self.share_drifted >= self.drift_share

    @property
    def verdict(self) -> str:
        if self.drifted:
            return "drift"
        if any(v != "ok" for v in self.column_verdict):
            return "watch"
        return "ok"

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per column."""
        return [
            {
                "column": c,
                "ks_statistic": float(self.ks_statistic[j]),
                "ks_pvalue": float(self.ks_pvalue[j]),
                "psi": float(self.psi[j]),
                "kl": float(self.kl[j]),
                "jsd": float(self.jsd[j]),
                "psi_verdict": self.psi_verdict[j],
                "nan_share": float(self.nan_share[j]),
                "reference_nan_share": float(self.reference_nan_share[j]),
                "verdict": self.column_verdict[j],
            }
            for j, c in enumerate(self.columns)
        ]

    def to_pandas(self) -> Any:
        """The per-column table as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.to_records()).set_index("column")

    def format(self, max_rows: int = 50) -> str:
        """A readable fixed-width table, worst columns first, and the table verdict."""
        order = sorted(range(len(self.columns)),
                       key=lambda j: ({"drift": 0, "watch": 1, "ok": 2}[self.column_verdict[j]],
                                      -np.nan_to_num(self.psi[j], nan=np.inf)))
        width = max([6] + [len(c) for c in self.columns])
        head = (f"{'column':<{width}}  {'KS D':>7}  {'KS p':>9}  {'PSI':>7}  {'PSI verdict':<11}"
                f"  {'KL':>7}  {'JSD':>7}  {'NaN %':>6}  verdict")
        lines = [head, "-" * len(head)]
        for j in order[:max_rows]:
            lines.append(
                f"{self.columns[j]:<{width}}  {self.ks_statistic[j]:>7.4f}  "
                f"{self.ks_pvalue[j]:>9.2e}  {self.psi[j]:>7.4f}  {self.psi_verdict[j]:<11}"
                f"  {self.kl[j]:>7.4f}  {self.jsd[j]:>7.4f}  {100 * self.nan_share[j]:>6.2f}"
                f"  {self.column_verdict[j]}")
        if len(order) > max_rows:
            lines.append(f"... {len(order) - max_rows} more columns")
        lines.append("")
        lines.append(
            f"{self.n_drifted} of {len(self.columns)} columns drifted (KS p < {self.alpha:g}, "
            f"PSI > 0.25 or NaN share up by > {100 * self.nan_increase:g} points); "
            f"table verdict: {self.verdict.upper()}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


@dataclass
class _RefColumn:
    sorted_values: np.ndarray  # non-NaN values, sorted, kernel dtype
    nan_share: float
    edges: np.ndarray
    counts: np.ndarray  # reference counts per PSI bin
    buckets: Any  # _ks_engine.BucketMap or None: KS buckets, counted once


class DriftReference:
    """A reference sample, sorted and binned once, to check batches against.

    Parameters
    ----------
    reference : array_like, DataFrame, pyarrow Table or dict
        A 1-D array (one column), a 2-D array (rows x columns), a pandas
        DataFrame, a pyarrow Table/RecordBatch, or a dict of name -> 1-D array.
        Numeric columns only (up to float64: long double raises TypeError);
        NaN (and null) values are left out and their share is recorded.
        Column names are strings: a dict's keys and a DataFrame's column
        labels are converted with ``str`` (``{0: x}`` is column "0").
    columns : sequence, optional
        Names for the columns of an array, or the subset/order of table columns
        to use (given as str or as the table's own keys).  Arrays default to
        "0", "1", ...
    bins : int, default 10
        PSI/KL/JSD bins: quantiles of each reference column (see
        :func:`fastmlops.psi`).
    eps : float, default 1e-4
        Floor for bin proportions in PSI and KL.
    alpha : float, default 0.01
        A column drifts when its KS p-value is below ``alpha``.
    drift_share : float, default 0.5
        The table drifts when at least this share of its columns drift.
    nan_increase : float, default 0.02
        A column drifts when its share of NaN exceeds the reference's by more
        than this (absolute: 0.02 is two percentage points).

    Examples
    --------
    >>> import numpy as np, fastmlops
    >>> rng = np.random.default_rng(0)
    >>> ref = fastmlops.DriftReference(rng.normal(size=(5000, 3)), columns=["a", "b", "c"])
    >>> cur = rng.normal(size=(2000, 3))
    >>> cur[:, 2] += 1.0
    >>> report = ref.check(cur)
    >>> report.column_verdict
    ['ok', 'ok', 'drift']
    >>> report.verdict
    'watch'
    """

    def __init__(self, reference: Any, *, columns: Sequence[Any] | None = None,
                 bins: int = 10, eps: float = 1e-4, alpha: float = 0.01,
                 drift_share: float = 0.5, nan_increase: float = 0.02) -> None:
        from fastmlops import divergence
        from fastmlops._ks_engine import reference_buckets
        from fastmlops._parallel import parallel_map
        from fastmlops._tables import as_columns

        bins = divergence._check_bins(bins)
        eps = divergence._check_eps(eps)
        if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        if not (isinstance(drift_share, (int, float)) and 0 < drift_share <= 1):
            raise ValueError(f"drift_share must be in (0, 1], got {drift_share!r}")
        if not (isinstance(nan_increase, (int, float)) and 0 <= nan_increase <= 1):
            raise ValueError(f"nan_increase must be in [0, 1], got {nan_increase!r}")
        if isinstance(reference, dict):
            reference = _str_keyed(reference, "reference")
            if columns is not None:
                columns = [str(c) for c in columns]
        cols = as_columns(reference, columns, "reference")
        if len(cols) == 0:
            raise ValueError("reference has no columns")
        if cols.n_rows == 0:
            raise ValueError("reference has no rows")
        self.columns: list[str] = cols.names
        self.n_rows: int = cols.n_rows
        self.bins = int(bins)
        self.eps = float(eps)
        self.alpha = float(alpha)
        self.drift_share = float(drift_share)
        self.nan_increase = float(nan_increase)

        def build(block: tuple[int, int]) -> list[_RefColumn]:
            out = []
            for j, values in zip(range(*block), cols.block(*block)):
                reject_long_double(values, f"reference column {self.columns[j]!r}")
                dtype = kernel_dtype(values)
                values = np.sort(values.astype(dtype, copy=False))  # NaNs last
                n_nan = values.size - int(np.searchsorted(values, np.nan)) \
                    if dtype.kind == "f" else 0
                finite = values[: values.size - n_nan]
                if finite.size == 0:
                    raise ValueError(f"reference column {self.columns[j]!r} has no "
                                     "values (all NaN); drop it or fill it")
                edges = divergence.edges_from_sorted(finite, self.bins)
                counts, _ = divergence.bin_counts(finite, edges)
                finite = np.ascontiguousarray(finite)
                out.append(_RefColumn(finite, n_nan / values.size, edges, counts,
                                      reference_buckets(finite)))
            return out

        blocks = [(j, min(j + _BLOCK, len(cols))) for j in range(0, len(cols), _BLOCK)]
        self._cols: list[_RefColumn] = [c for part in parallel_map(build, blocks) for c in part]

    def __repr__(self) -> str:
        return (f"DriftReference({len(self.columns)} columns x {self.n_rows} rows, "
                f"bins={self.bins}, alpha={self.alpha:g})")

    def ks(self, current: Any, *, alternative: str = "two-sided",
           method: str = "auto") -> KstestResult:
        """KS test of every column of ``current`` against the reference (NaNs
        omitted); the same numbers as ``ks_2samp(reference_col, current_col,
        nan_policy='omit')``, with the reference's sort done once."""
        return self._run(current, alternative, method, with_binned=False)

    def check(self, current: Any) -> DriftReport:
        """Compare a batch with the reference: KS, PSI, KL, JSD and NaN share per
        column, and the verdicts (see :class:`DriftReport`).

        ``current`` takes the same forms as the reference; tables (and dicts,
        by ``str`` of their keys, as for the reference) are matched by column
        name, arrays by position (same number of columns required).
        """
        return self._run(current, "two-sided", "auto", with_binned=True)

    def _run(self, current: Any, alternative: str, method: str, with_binned: bool) -> Any:
        from fastmlops import divergence
        from fastmlops._ks_engine import Sample, ks_statistic
        from fastmlops._ks_pvalue import ks_pvalues
        from fastmlops._parallel import parallel_map
        from fastmlops._tables import as_columns

        alternative, method, _ = _check_options(alternative, method, "omit")
        is_table = isinstance(current, dict) or hasattr(current, "column_names") or (
            hasattr(current, "columns") and hasattr(current, "iloc"))
        if is_table:  # match by name
            if isinstance(current, dict):
                current = _str_keyed(current, "current")
            cols = as_columns(current, self.columns, "current")
        else:  # match by position
            cols = as_columns(current, None, "current")
            if len(cols) != len(self.columns):
                raise ValueError(
                    f"current has {len(cols)} column(s), the reference {len(self.columns)}; "
                    "pass the same columns in the same order")
            cols.names = list(self.columns)
        if cols.n_rows == 0:
            raise ValueError("current has no rows")
        m = len(self.columns)
        d = np.full(m, np.nan)
        loc = np.full(m, np.nan)
        sign = np.full(m, np.nan)
        n_cur = np.zeros(m, dtype=np.int64)
        nan_share = np.zeros(m)
        psi = np.full(m, np.nan)
        kl = np.full(m, np.nan)
        jsd = np.full(m, np.nan)

        def work(block: tuple[int, int]) -> None:
            for j, values in zip(range(*block), cols.block(*block)):
                reject_long_double(values, f"current column {self.columns[j]!r}")
                ref = self._cols[j]
                dtype = kernel_dtype(ref.sorted_values, values)
                sa = Sample(ref.sorted_values.astype(dtype, copy=False), is_sorted=True, nan=0,
                            buckets=ref.buckets)
                sb = Sample(np.ascontiguousarray(values, dtype=dtype))
                res = ks_statistic(sa, sb)
                n_cur[j] = sb.n
                nan_share[j] = sb.nan / values.size
                if res is None:
                    continue
                d[j], loc[j], sign[j] = _resolve(res[0], res[1], alternative)
                if with_binned:
                    counts, _ = divergence.bin_counts(sb.values, ref.edges)
                    n_ref = ref.sorted_values.size
                    psi[j] = divergence.psi_from_counts(ref.counts, n_ref, counts, sb.n, self.eps)
                    kl[j] = divergence.kl_from_counts(ref.counts, n_ref, counts, sb.n, self.eps)
                    jsd[j] = divergence.js_from_counts(ref.counts, n_ref, counts, sb.n)

        blocks = [(j, min(j + _BLOCK, m)) for j in range(0, m, _BLOCK)]
        parallel_map(work, blocks)
        ok = ~np.isnan(d)
        p = np.full(m, np.nan)
        if ok.any():
            n_ref = np.array([c.sorted_values.size for c in self._cols], dtype=np.int64)
            d_ok, p_ok = ks_pvalues(d[ok], n_ref[ok], n_cur[ok], alternative, method)
            d[ok] = d_ok
            p[ok] = p_ok
        if not with_binned:
            return KstestResult(d, p, loc, sign)
        psi_verdict = [divergence.psi_verdict(v) if np.isfinite(v) else "n/a" for v in psi]
        ref_nan = np.array([c.nan_share for c in self._cols])
        nan_up = nan_share - ref_nan > self.nan_increase
        verdict = []
        for j in range(m):
            if not ok[j] or p[j] < self.alpha or psi_verdict[j] == "major" or nan_up[j]:
                verdict.append("drift")
            elif psi_verdict[j] == "minor":
                verdict.append("watch")
            else:
                verdict.append("ok")
        return DriftReport(
            columns=list(self.columns), n_rows=cols.n_rows, ks_statistic=d, ks_pvalue=p,
            psi=psi, kl=kl, jsd=jsd, psi_verdict=psi_verdict, nan_share=nan_share,
            reference_nan_share=ref_nan, column_verdict=verdict, alpha=self.alpha,
            drift_share=self.drift_share, nan_increase=self.nan_increase)
