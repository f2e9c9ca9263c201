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

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from fastmlops._ks_2samp import (_BLOCK, KstestResult, _check_options, _resolve, _str_keyed,
                                 ks_2samp)
from fastmlops._validation import kernel_dtype, reject_long_double

__all__ = ["KstestResult", "ks_2samp", "DriftReference", "DriftReport"]

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
