"""The judging step: column counts -> tests -> verdicts -> :class:`DriftReport`.

One function, :func:`judge`, shared by every producer of
:mod:`fastmlops.drift.counts` (a check in memory, the partial state, the
monitor).  It runs the KS p-values, the binned chi-square test, PSI, KL and
JSD, adjusts the columns' p-values across the table and applies the verdict
rule of :mod:`fastmlops.drift._rule`; every decision compares p-values with
``alpha`` and never goes through a quantity that can underflow to a wrong side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from fastmlops import divergence
from fastmlops.drift import _rule as rule
from fastmlops.drift._effects import categorical_effect, numeric_effect
from fastmlops.drift._plots import categorical_plot, numeric_plot
from fastmlops.drift._power import ks_shift_power
from fastmlops.drift.columns import ColumnModel, NumericColumn
from fastmlops.drift.counts import CategoricalCounts, ColumnCounts, NumericCounts
from fastmlops.drift.report import DriftReport

__all__ = ["Settings", "judge", "ks_pvalues"]

@dataclass(frozen=True)
class Settings:
    """What a judgement needs of the reference besides its column models."""

    columns: Sequence[str]
    kinds: Sequence[str]
    n_rows: int  # reference rows
    bins: int
    eps: float
    alpha: float
    drift_share: float | None  # None: the table rule is "any column after Holm"
    nan_increase: float
    correction: str
    max_categories: int
    digest: str | None


def ks_pvalues(models: Sequence[ColumnModel], counts: Sequence[ColumnCounts],
               alternative: str, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(KS statistics, p-values) per column: NaN where a column has none."""
    from fastmlops.drift._ks_pvalue import ks_pvalues as pvalues

    m = len(counts)
    d = np.array([q.ks.d if q.ks is not None else np.nan for q in counts], dtype=np.float64)
    p = np.full(m, np.nan)
    ok = ~np.isnan(d)
    if ok.any():
        n_ref = np.array([c.n for c in models], dtype=np.int64)
        n_cur = np.array([q.n for q in counts], dtype=np.int64)
        d_ok, p_ok = pvalues(d[ok], n_ref[ok], n_cur[ok], alternative, method)
        d[ok] = d_ok
        p[ok] = p_ok
    return d, p


#: The sentence of a reference column that the current data lack.
ABSENT = ("This column is missing from the current data (every row counted as a missing "
          "value): a change of schema, not of chance.")


def judge(models: Sequence[ColumnModel], counts: Sequence[ColumnCounts], n_rows: int,
          settings: Settings, absent: Sequence[str] = ()) -> DriftReport:
    """Figures, tests and verdicts of the current data's ``counts`` (one per
    reference column, in the reference's order) against the reference.

    ``absent`` names reference columns the current data lack (counted as all
    missing): each is "drift" with reason "absent", whatever its tests say,
    and makes the table drift."""
    if len(counts) != len(models):
        raise ValueError(f"{len(counts)} column counts for {len(models)} reference columns")
    m = len(models)
    d, p_ks = ks_pvalues(models, counts, "two-sided", "auto")
    f = {k: np.full(m, np.nan) for k in ("psi", "kl", "jsd", "chi2", "p_bin", "loc", "sign")}
    dof = np.zeros(m, dtype=np.int64)
    nan_share = np.zeros(m)
    ref_nan = np.zeros(m)
    n_cur = np.zeros(m, dtype=np.int64)
    n_ref = np.zeros(m, dtype=np.int64)
    unseen: list[dict[str, Any] | None] = [None] * m
    other = [False] * m
    plots: list[dict[str, Any]] = [{}] * m
    for j, (ref, q) in enumerate(zip(models, counts)):
        nan_share[j] = q.n_missing / max(1, q.n_rows)
        ref_nan[j] = ref.n_missing / settings.n_rows
        n_cur[j], n_ref[j] = q.n, ref.n
        if q.ks is not None:
            f["loc"][j], f["sign"][j] = q.ks.location, q.ks.sign
        ties: np.ndarray | None = None
        if isinstance(ref, NumericColumn):
            if not isinstance(q, NumericCounts) or q.bins is None or q.grid is None:
                raise TypeError(f"column {settings.columns[j]!r}: numeric reference column "
                                "needs binned numeric counts")
            rc, cc = ref.counts, q.bins
            plots[j] = numeric_plot(ref, q.bins, q.grid, q.n,
                                    low=q.summary.low if q.summary else None,
                                    high=q.summary.high if q.summary else None)
            t1, t2 = rc, cc
        else:
            if not isinstance(q, CategoricalCounts) or q.categories is None:
                raise TypeError(f"column {settings.columns[j]!r}: categorical reference "
                                "column needs category counts")
            c = q.categories
            cm = ref.categories
            rc, cc = cm.bins, c.bins  # kept categories, then "other" (unseen values)
            unseen[j] = {"count": int(c.unseen), "share": c.unseen / max(1, q.n),
                         "distinct": int(c.unseen_distinct),
                         "examples": [str(x) for x in c.unseen_examples]}
            other[j] = bool(cm.truncated)
            plots[j] = categorical_plot(cm, c)
            t1, t2 = rc, cc
            if not cm.truncated:
                # each unseen value a bin of its own, as in the 2 x k table of all
                # categories (one pooled "unseen" bin that the reference cannot
                # balance flagged 17-24 % of no-drift batches)
                u = q.unseen_counts
                t1 = np.concatenate([cm.counts, np.zeros(u.size, np.int64)])
                t2 = np.concatenate([c.counts, u])
                ties = np.concatenate([ref.label_hashes(), q.unseen_keys, [-1]])
            else:
                ties = np.concatenate([ref.label_hashes(), [-2, -1]])
        if q.n > 0:
            f["psi"][j], f["kl"][j], f["jsd"][j] = divergence.measures_from_counts(
                rc, ref.n, cc, q.n, settings.eps)
        test = rule.pooled_chi2(np.append(t1, ref.n_missing), np.append(t2, q.n_missing),
                                by="order" if isinstance(ref, NumericColumn) else "total",
                                tiebreak=ties)
        f["chi2"][j], f["p_bin"][j], dof[j] = test.statistic, test.pvalue, test.dof
    kinds = list(settings.kinds)
    numeric = np.array([k == "numeric" for k in kinds])
    p_col = np.where(numeric, np.minimum(1.0, 2 * np.fmin(np.nan_to_num(p_ks, nan=1.0),
                                                          f["p_bin"])), f["p_bin"])
    p_adj = rule.adjust(p_col, settings.correction)
    log_p_adj = rule.log_adjust(p_col, settings.correction)  # exact where p_adj is subnormal
    verdicts = []
    for j in range(m):
        new = unseen[j]
        verdicts.append(rule.judge(
            kinds[j], p_ks=p_ks[j], p_bin=f["p_bin"][j], p_col=p_col[j], p_adj=p_adj[j],
            alpha=settings.alpha, psi=f["psi"][j], nan_up=nan_share[j] - ref_nan[j],
            nan_increase=settings.nan_increase, n_current=int(n_cur[j]),
            unseen=new["count"] if new else 0, unseen_share=new["share"] if new else 0.0,
            log_p_adj=log_p_adj[j]))
    gone = set(absent)
    for j, name in enumerate(settings.columns):
        if name in gone:
            verdicts[j] = rule.ColumnVerdict("drift", ["absent"], ABSENT)
    effects: list[dict[str, Any] | None] = [None] * m
    for j, (ref, q) in enumerate(zip(models, counts)):
        if isinstance(ref, NumericColumn) and isinstance(q, NumericCounts):
            effects[j] = numeric_effect(ref, q)
        elif isinstance(q, CategoricalCounts) and q.categories is not None and \
                not isinstance(ref, NumericColumn):
            effects[j] = categorical_effect(ref.categories, q.categories)
    power = np.full(m, np.nan)
    for k in np.flatnonzero(numeric).tolist():  # the KS test runs at alpha / 2 (see _rule)
        power[k] = ks_shift_power(int(n_ref[k]), int(n_cur[k]), settings.alpha / 2)
    table_columns = _table_columns(settings, kinds, verdicts, p_ks, f, p_col, nan_share,
                                   ref_nan, n_cur, unseen, gone)
    tiers = [divergence.psi_verdict(v) if np.isfinite(v) else "n/a" for v in f["psi"]]
    return DriftReport(
        columns=list(settings.columns), n_rows=int(n_rows), ks_statistic=d, ks_pvalue=p_ks,
        psi=f["psi"], kl=f["kl"], jsd=f["jsd"], psi_verdict=tiers, nan_share=nan_share,
        reference_nan_share=ref_nan, column_verdict=[v.verdict for v in verdicts],
        alpha=settings.alpha, drift_share=settings.drift_share,
        nan_increase=settings.nan_increase, kinds=kinds, reference_rows=settings.n_rows,
        n_reference=n_ref, n_current=n_cur, ks_location=f["loc"], ks_sign=f["sign"],
        chi2_statistic=f["chi2"], chi2_pvalue=f["p_bin"], chi2_dof=dof, pvalue=p_adj,
        reasons=[v.reasons for v in verdicts], explanations=[v.explanation for v in verdicts],
        unseen=unseen, other=other, plots=plots, correction=settings.correction,
        bins=settings.bins, eps=settings.eps, max_categories=settings.max_categories,
        reference_digest=settings.digest, table_columns=table_columns, power=power,
        effects=effects, missing_columns=[c for c in settings.columns if c in gone])


def _table_columns(settings: Settings, kinds: list[str], verdicts: list[rule.ColumnVerdict],
                   p_ks: np.ndarray, f: dict[str, np.ndarray], p_col: np.ndarray,
                   nan_share: np.ndarray, ref_nan: np.ndarray, n_cur: np.ndarray,
                   unseen: list[dict[str, Any] | None], gone: set[str]) -> list[str]:
    """The columns that make the table drift: with the share rule, the "drift"
    columns; with the default rule, the columns that are "drift" when judged
    with Holm's correction across the table (family-wise error: under no
    drift the table drifts at most ``alpha`` of the time)."""
    names = list(settings.columns)
    if settings.drift_share is not None or settings.correction == "holm":
        return [c for c, v in zip(names, verdicts) if v.verdict == "drift"]
    p_holm = rule.adjust(p_col, "holm")
    log_holm = rule.log_adjust(p_col, "holm")
    out = []
    for j, v in enumerate(verdicts):
        if v.verdict != "drift":  # Holm never adjusts a p-value down
            continue
        if names[j] in gone:  # absent: drift whatever the tests say
            out.append(names[j])
            continue
        new = unseen[j]
        held = rule.judge(
            kinds[j], p_ks=p_ks[j], p_bin=f["p_bin"][j], p_col=p_col[j], p_adj=p_holm[j],
            alpha=settings.alpha, psi=f["psi"][j], nan_up=nan_share[j] - ref_nan[j],
            nan_increase=settings.nan_increase, n_current=int(n_cur[j]),
            unseen=new["count"] if new else 0, unseen_share=new["share"] if new else 0.0,
            log_p_adj=log_holm[j])
        if held.verdict == "drift":
            out.append(names[j])
    return out
