"""The result of a drift check: :class:`DriftReport` (public as
``fastmlops.DriftReport`` and ``fastmlops.drift.DriftReport``).

Its stable JSON layout is documented in ``docs/drift-report-json.md``; the
command line, the HTML report and the MLflow integration read that layout.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, SupportsFloat

import numpy as np

from fastmlops._core.markdown import md_text
from fastmlops.drift import _rule as rule

if TYPE_CHECKING:
    import os

    import pandas as pd

#: Version of the layout of :meth:`DriftReport.to_dict`.
REPORT_VERSION = 1
_ORDER = {"drift": 0, "watch": 1, "ok": 2}


def _num(x: SupportsFloat | None) -> float | None:
    """A float for JSON: None for NaN/inf-free layout."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


_md = md_text  # the drift report's name for it


def _finite_tree(value: Any) -> Any:
    """``value`` (dicts, lists, numbers) with every non-finite float as None."""
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_tree(v) for v in value]
    return value


@dataclass(frozen=True)
class DriftReport:
    """Per-column and whole-table drift of one batch against a :class:`DriftReference`.

    Per column (arrays and lists in column order):

    * ``kinds``: "numeric" or "categorical";
    * numeric columns: ``ks_statistic``, ``ks_pvalue`` (:func:`ks_2samp`,
      missing values omitted), ``ks_location``, ``ks_sign``; NaN for
      categorical columns;
    * ``chi2_statistic``, ``chi2_pvalue``, ``chi2_dof``: the binned test (the
      reference's bins plus a missing-value bin, sparse bins pooled; see
      :mod:`fastmlops.drift._rule`);
    * ``psi``, ``kl``, ``jsd`` (see :mod:`fastmlops.divergence`) on the
      reference's quantile bins or categories, and ``psi_verdict`` ("none" <
      0.1 <= "minor" <= 0.25 < "major"): the size of the change;
    * ``pvalue``: the column's p-value the verdict used (after the
      correction across columns);
    * ``nan_share``, ``reference_nan_share``, ``n_reference``, ``n_current``
      (values present);
    * ``unseen``: for categorical columns, the current values the reference
      never had (count, share, distinct, the first few); ``other``: whether
      the reference kept only its most frequent categories;
    * ``column_verdict`` ("drift", "watch", "ok"), ``reasons`` (codes:
      "ks", "chi2", "psi", "psi_minor", "binned", "missing", "unseen",
      "empty", "absent": a reference column the current data lack) and
      ``explanations`` (a sentence each).

    The rule behind the verdicts (see :mod:`fastmlops.drift._rule`): under no
    drift a column is "drift" at most ``alpha`` of the time at any sample
    size; real changes are "drift" when significant (KS for numbers,
    chi-square for categories) or when significant and large (PSI > 0.25, or
    missing values up by more than ``nan_increase``); "watch" when the binned
    change is significant but smaller.

    ``notes`` holds, per column, remarks on how a figure was computed (e.g.
    the exact KS p-value fell back to the asymptotic one, where scipy would
    warn); ``extra_columns`` the current data's columns that the reference
    does not have (not checked).

    For the table: ``n_drifted`` columns with verdict "drift",
    ``share_drifted``, ``drifted`` and ``verdict``: "drift" when ``drifted``,
    "watch" when any column is "drift" or "watch", else "ok".  ``drifted``
    follows ``table_rule``: by default ("holm", ``drift_share`` None) the
    table drifts when any column drifts after Holm's correction across the
    table (``table_columns``), so one strongly drifted column is enough while
    the table's false-alarm rate under no drift stays at most ``alpha``; with
    ``drift_share`` set ("share"), when ``share_drifted >= drift_share``.
    :meth:`headline` says it in one line, the first of every format.  Drift is a lead, not a verdict: check performance,
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
    drift_share: float | None
    nan_increase: float
    kinds: list[str]
    reference_rows: int
    n_reference: np.ndarray
    n_current: np.ndarray
    ks_location: np.ndarray
    ks_sign: np.ndarray
    chi2_statistic: np.ndarray
    chi2_pvalue: np.ndarray
    chi2_dof: np.ndarray
    pvalue: np.ndarray
    reasons: list[list[str]]
    explanations: list[str]
    unseen: list[dict | None]
    other: list[bool]
    plots: list[dict]
    correction: str
    bins: int
    eps: float
    max_categories: int
    reference_digest: str | None
    #: "exact" (:meth:`DriftReference.check`: scipy's statistic, bit for bit) or
    #: "bucketed" (:meth:`fastmlops.DriftMonitor.report`: the statistic at the
    #: monitor's bucket edges, a lower bound of the exact one; see
    #: :mod:`fastmlops.monitor`)
    ks_method: str = "exact"
    #: columns of the current data that the reference does not have (tables and
    #: files matched by name): not checked, listed so that a new column is seen
    extra_columns: list[str] = field(default_factory=list)
    #: reference columns the current data lack: each counted as all missing,
    #: verdict "drift" with reason "absent"
    missing_columns: list[str] = field(default_factory=list)
    #: per column, notes on how a figure was computed (e.g. the exact KS
    #: p-value fell back to the asymptotic one); empty lists when none
    notes: list[list[str]] = field(default_factory=list)

    #: the columns that make the table drift under its rule (``table_rule``):
    #: for "holm", the columns whose verdict is "drift" when their p-values are
    #: adjusted across the table by Holm's method (whatever ``correction`` the
    #: column verdicts use); for "share", the columns with verdict "drift"
    table_columns: list[str] = field(default_factory=list)
    #: per column, the approximate power of its KS test (at ``alpha / 2``, as
    #: the rule runs it) to detect a shift of 0.5 standard deviations at this
    #: batch's size (see :mod:`fastmlops.drift._power`); NaN for categories
    power: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: per column, the effect sizes in the data's units (see
    #: :mod:`fastmlops.drift._effects`): numeric mean and median shift, ratio
    #: of spreads, the percentile that moved most; categorical, the category
    #: whose share changed most; each with a sentence ("text"); None when a
    #: sample has no value
    effects: list[dict[str, Any] | None] = field(default_factory=list)

    @property
    def table_rule(self) -> str:
        """"holm" (``drift_share`` None: the table drifts when any column drifts
        after Holm's correction across its columns) or "share" (it drifts when
        at least ``drift_share`` of its columns drift)."""
        return "holm" if self.drift_share is None else "share"

    @property
    def n_drifted(self) -> int:
        return sum(v == "drift" for v in self.column_verdict)

    @property
    def share_drifted(self) -> float:
        return self.n_drifted / max(1, len(self.columns))

    @property
    def drifted(self) -> bool:
        if self.drift_share is None:
            return bool(self.table_columns)
        return self.share_drifted >= self.drift_share

    def small_batch(self) -> dict[str, Any] | None:
        """None, or when some numeric column's KS test has power below 0.5 to
        detect a 0.5 standard deviation shift at this batch's size: the
        columns, the lowest power, the values that column has and the values
        that would give power 0.5 (None: the reference is too small), and a
        sentence saying so."""
        from fastmlops.drift._power import POWER_FLOOR, SHIFT_SD, rows_for_half_power

        low = [j for j in range(min(len(self.power), len(self.columns)))
               if np.isfinite(self.power[j]) and self.power[j] < POWER_FLOOR]
        if not low:
            return None
        j = min(low, key=lambda k: (self.power[k], k))
        n, n_ref = int(self.n_current[j]), int(self.n_reference[j])
        need = rows_for_half_power(n_ref, self.alpha / 2)
        where = (f"column {self.columns[j]!r}" if len(low) == 1 else
                 f"{len(low)} numeric columns (lowest: {self.columns[j]!r})")
        text = (f"The batch is too small to see a shift of {SHIFT_SD:g} standard "
                f"deviations in {where}: with {n:,} values the KS test detects one with "
                f"probability {self.power[j]:.2f}; ")
        text += (f"about {need:,} values give 0.5." if need is not None else
                 f"no batch size gives 0.5 against a reference of {n_ref:,} values.")
        return {"text": text, "columns": [self.columns[k] for k in low],
                "power": float(self.power[j]), "n_current": n, "n_needed": need}

    def headline(self) -> str:
        """The first line of every format: "N of M columns drifted (rule: ...);
        table verdict: ..."."""
        n, m = self.n_drifted, len(self.columns)
        cols = "column" if m == 1 else "columns"
        if self.drift_share is None:
            held = len(self.table_columns)
            after = "" if self.correction == "holm" or held == n else \
                f", {held} of them after Holm's correction"
            why = (f"the table drifts when any column drifts after Holm's correction "
                   f"across its {m} {cols} at alpha {self.alpha:g}")
        else:
            after = ""
            why = (f"the table drifts when at least {100 * self.drift_share:g}% of its "
                   f"columns drift")
        return (f"{n} of {m} {cols} drifted{after} (rule: {why}); "
                f"table verdict: {self.verdict.upper()}")

    @property
    def verdict(self) -> str:
        if self.drifted:
            return "drift"
        if any(v != "ok" for v in self.column_verdict):
            return "watch"
        return "ok"

    # ------------------------------------------------------------ layouts
    def _column_dict(self, j: int) -> dict[str, Any]:
        numeric = self.kinds[j] == "numeric"
        return {
            "name": self.columns[j],
            "kind": self.kinds[j],
            "verdict": self.column_verdict[j],
            "reasons": list(self.reasons[j]),
            "explanation": self.explanations[j],
            "n_reference": int(self.n_reference[j]),
            "n_current": int(self.n_current[j]),
            "pvalue": _num(self.pvalue[j]),
            "ks_statistic": _num(self.ks_statistic[j]) if numeric else None,
            "ks_pvalue": _num(self.ks_pvalue[j]) if numeric else None,
            "ks_location": _num(self.ks_location[j]) if numeric else None,
            "ks_sign": (int(self.ks_sign[j]) if numeric and np.isfinite(self.ks_sign[j])
                        else None),
            "chi2_statistic": _num(self.chi2_statistic[j]),
            "chi2_pvalue": _num(self.chi2_pvalue[j]),
            "chi2_dof": int(self.chi2_dof[j]),
            "psi": _num(self.psi[j]),
            "psi_tier": self.psi_verdict[j],
            "kl": _num(self.kl[j]),
            "jsd": _num(self.jsd[j]),
            "nan_share": float(self.nan_share[j]),
            "reference_nan_share": float(self.reference_nan_share[j]),
            "unseen": None if (new := self.unseen[j]) is None else _finite_tree(dict(new)),
            "other": bool(self.other[j]),
            "power": _num(self.power[j]) if j < len(self.power) else None,
            "effect": _finite_tree(dict(e)) if j < len(self.effects) and
            (e := self.effects[j]) is not None else None,
            "plot": _finite_tree(self.plots[j]),  # edges and grid are +-inf at times
        }

    def to_dict(self) -> dict[str, Any]:
        """Every figure of the report in the stable layout of
        ``docs/drift-report-json.md`` (version :data:`REPORT_VERSION`).
        Every non-finite float (NaN, +-inf: in figures and in the plot
        data) is ``None``, as in :meth:`to_json`."""
        cols = [self._column_dict(j) for j in range(len(self.columns))]
        counts = {v: sum(c == v for c in self.column_verdict) for v in ("drift", "watch", "ok")}
        reasons: dict[str, int] = {}
        for rs in self.reasons:
            for r in rs:
                reasons[r] = reasons.get(r, 0) + 1
        return {
            "format": "fastmlops.drift_report",
            "version": REPORT_VERSION,
            "verdict": self.verdict,
            "summary": {
                "headline": self.headline(),
                "table_rule": self.table_rule,
                "table_columns": list(self.table_columns),
                "n_columns": len(self.columns),
                "n_drift": counts["drift"], "n_watch": counts["watch"], "n_ok": counts["ok"],
                "share_drifted": self.share_drifted,
                "drifted": self.drifted,
                "reasons": reasons,
                "extra_columns": list(self.extra_columns),
                "missing_columns": list(self.missing_columns),
                "notes": {self.columns[j]: list(n) for j, n in enumerate(self.notes) if n},
                "small_batch": self.small_batch(),
            },
            "sizes": {"reference_rows": int(self.reference_rows), "current_rows": int(self.n_rows)},
            "reference": {"digest": self.reference_digest, "n_rows": int(self.reference_rows)},
            "rule": {
                "alpha": self.alpha, "correction": self.correction,
                "drift_share": self.drift_share, "nan_increase": self.nan_increase,
                "psi_minor": rule.PSI_MINOR, "psi_major": rule.PSI_MAJOR,
                "bins": self.bins, "eps": self.eps, "max_categories": self.max_categories,
                "ks_method": self.ks_method, "text": self.rule_text(),
            },
            "columns": cols,
        }

    def to_json(self, indent: int | None = None) -> str:
        """:meth:`to_dict` as JSON text (strict JSON: no NaN or Infinity)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """A self-contained HTML page of the report (see ``docs/html-report.md``);
        written to ``path`` when given.  Returns the HTML text."""
        from fastmlops.drift._html_report import render

        html = render(self.to_dict())
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(html)
        return html

    def rule_text(self) -> str:
        if self.drift_share is None:
            table = ("The table drifts when any column drifts after Holm's correction "
                     "across its columns: under no drift, the table drifts at most alpha "
                     "of the time.")
        else:
            table = (f"The table drifts when at least {100 * self.drift_share:g}% of its "
                     "columns drift.")
        corr = {"none": "each column on its own",
                "holm": "p-values adjusted across columns (Holm)",
                "bh": "p-values adjusted across columns (Benjamini-Hochberg)"}[self.correction]
        return (f"A column drifts when its change is statistically significant at alpha = "
                f"{self.alpha:g} ({corr}): for numbers the KS test, or the binned test with a "
                f"large change (PSI > {rule.PSI_MAJOR:g} or missing values up by more than "
                f"{100 * self.nan_increase:g} points); for categories the chi-square test. "
                f"A significant smaller binned change is 'watch'. Large PSI on few rows "
                f"without significance is noise and stays 'ok'. {table}")

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per column."""
        return [
            {
                "column": c,
                "kind": self.kinds[j],
                "ks_statistic": float(self.ks_statistic[j]),
                "ks_pvalue": float(self.ks_pvalue[j]),
                "chi2_pvalue": float(self.chi2_pvalue[j]),
                "pvalue": float(self.pvalue[j]),
                "psi": float(self.psi[j]),
                "kl": float(self.kl[j]),
                "jsd": float(self.jsd[j]),
                "psi_verdict": self.psi_verdict[j],
                "nan_share": float(self.nan_share[j]),
                "reference_nan_share": float(self.reference_nan_share[j]),
                "verdict": self.column_verdict[j],
                "reasons": ",".join(self.reasons[j]),
            }
            for j, c in enumerate(self.columns)
        ]

    def to_pandas(self) -> pd.DataFrame:
        """The per-column table as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.to_records()).set_index("column")

    def order(self) -> list[int]:
        """Column indices, worst first: by verdict, then by p-value, then PSI."""
        return sorted(range(len(self.columns)),
                      key=lambda j: (_ORDER[self.column_verdict[j]],
                                     np.nan_to_num(self.pvalue[j], nan=2.0),
                                     -np.nan_to_num(self.psi[j], nan=np.inf)))

    def format(self, max_rows: int = 50, markdown: bool = False) -> str:
        """A readable table, worst columns first, the reasons, and the table verdict.
        ``markdown=True`` gives a GitHub-flavoured Markdown table, and a list of
        the reasons; the column names and every other text in it are escaped
        (see :func:`_md`): a row stays one row and no markup or HTML comes
        from the data."""
        order = self.order()
        head = ["column", "kind", "KS D", "p-value", "PSI", "PSI tier", "NaN %", "verdict",
                "why"]
        text = _md if markdown else str
        rows = []
        for j in order[:max_rows]:
            rows.append([
                text(self.columns[j]), self.kinds[j][:3] if not markdown else self.kinds[j],
                f"{self.ks_statistic[j]:.4f}" if np.isfinite(self.ks_statistic[j]) else "-",
                f"{self.pvalue[j]:.2e}" if np.isfinite(self.pvalue[j]) else "-",
                f"{self.psi[j]:.4f}" if np.isfinite(self.psi[j]) else "-",
                self.psi_verdict[j], f"{100 * self.nan_share[j]:.2f}",
                self.column_verdict[j], text(",".join(self.reasons[j])) or "-"])
        if markdown:
            lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            lines += ["| " + " | ".join(r) + " |" for r in rows]
        else:
            widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
                      for i, h in enumerate(head)]
            right = {2, 3, 4, 6}
            fmt = lambda r: "  ".join(  # noqa: E731
                (c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
                for i, c in enumerate(r)).rstrip()
            lines = [fmt(head), "-" * len(fmt(head))] + [fmt(r) for r in rows]
        if len(order) > max_rows:
            lines.append(f"... {len(order) - max_rows} more columns")
        top = [self.headline()]
        small = self.small_batch()
        if small is not None:
            top += (["", "Warning: " + text(small["text"])] if markdown
                    else ["warning: " + small["text"]])
        lines[:0] = [*top, ""]
        if self.extra_columns:
            shown = ", ".join(text(c) for c in self.extra_columns[:20])
            more = f" and {len(self.extra_columns) - 20} more" \
                if len(self.extra_columns) > 20 else ""
            lines.append(f"{len(self.extra_columns)} column(s) of the current data not in "
                         f"the reference, not checked: {shown}{more}")
        if self.missing_columns:
            shown = ", ".join(text(c) for c in self.missing_columns[:20])
            more = f" and {len(self.missing_columns) - 20} more" \
                if len(self.missing_columns) > 20 else ""
            lines.append(f"{len(self.missing_columns)} column(s) of the reference missing "
                         f"from the current data (drift): {shown}{more}")
        bullet = "- " if markdown else "  "
        why = [f"{bullet}{text(self.columns[j])}: {text(self.explanations[j])}"
               + (f" {text(e['text'])}" if j < len(self.effects) and
                  (e := self.effects[j]) is not None else "")
               for j in order[:max_rows] if self.column_verdict[j] != "ok"]
        if why:
            lines.extend(["", "why:"] if markdown else ["why:"])
            lines.extend(why)
        notes = [f"{bullet}{text(self.columns[j])}: {text(n)}" for j in order[:max_rows]
                 if j < len(self.notes) for n in self.notes[j]]
        if notes:
            lines.extend(["", "notes:"] if markdown else ["notes:"])
            lines.extend(notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()
