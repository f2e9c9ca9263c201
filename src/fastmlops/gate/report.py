"""The model-quality gate's report: :class:`GateReport`, built by :func:`gate_report`.

One report compares a candidate model with a baseline on one or more metrics
(each with :func:`fastmlops.gate.compare`) and says whether the candidate may
replace the baseline.  Its stable JSON layout is documented in
``docs/gate-report-json.md``; the command line (``fastmlops gate``), the HTML
report and the MLflow integration read that layout.

The decision across metrics
---------------------------
**The gate fails when any metric fails.**  A metric passes when its test of
the hypothesis passes at level ``alpha`` and none of its slices is flagged.

* Evidence for the candidate (the one-sided tests of non-inferiority and
  superiority) is needed on *every* metric, each at ``alpha``: no
  correction is needed for that (an intersection-union test), since a
  candidate worse by the margin on some metric passes that metric at most
  ``alpha`` of the time, hence the gate too.
* Evidence against the candidate (the overall tests of ``hypothesis="harm"``
  and the harm test of every slice of every metric) is one family, adjusted
  by Holm's method across metrics and slices: two equally good models fail
  on it at most ``alpha`` of the time, whatever the number of metrics and
  slices.  With one metric and non-inferiority or superiority this is
  exactly :func:`~fastmlops.gate.compare`'s decision; with ``"harm"`` and
  groups the overall test joins the slices' family (``compare`` tests them
  at ``alpha`` each), so the report is never more eager to fail.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fastmlops._core.markdown import md_text
from fastmlops.gate._compare import Comparison, compare
from fastmlops.gate._stats import holm

if TYPE_CHECKING:
    import os

    from numpy.typing import ArrayLike

__all__ = ["REPORT_VERSION", "GateMetric", "GateReport", "gate_report"]

#: Version of the layout of :meth:`GateReport.to_dict` (docs/gate-report-json.md).
REPORT_VERSION = 1
FORMAT = "fastmlops.gate_report"


# ------------------------------------------------------------------ text helpers
#: As the drift report's Markdown: :func:`fastmlops._core.markdown.md_text`.
md = md_text


def _one_line(text: object) -> str:
    """``text`` for the plain-text table: control characters as escapes."""
    return "".join(ch if ch.isprintable() or ch == " " else
                   ch.encode("unicode_escape").decode("ascii") for ch in str(text))


def _finite(x: Any) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None


def _g(x: float, spec: str = ".4g") -> str:
    return "n/a" if not math.isfinite(x) else format(x, spec)


def _p(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.3g}"


def _plain(value: Any) -> Any:
    """A slice value as plain JSON (numpy scalars as Python)."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


# ------------------------------------------------------------------ results
@dataclass(frozen=True, eq=False)
class GateMetric:
    """One metric of a :class:`GateReport`: the :class:`Comparison` of
    :func:`~fastmlops.gate.compare`, and the report's decision for it.

    ``decision`` ("pass"/"fail") and ``why`` (a sentence) follow the report's
    rule (module docstring); ``pvalue_adjusted`` is the overall harm test's
    p-value adjusted by Holm across the report's family (``hypothesis="harm"``
    only, NaN otherwise); ``slice_pvalues_adjusted`` and ``slice_flagged``
    hold, per slice of ``comparison.slices``, the harm test's p-value adjusted
    across the family and whether it fails the gate.
    """

    comparison: Comparison
    decision: str
    why: str
    pvalue_adjusted: float
    slice_pvalues_adjusted: list[float]
    slice_flagged: list[bool]

    @property
    def name(self) -> str:
        return self.comparison.metric

    @property
    def failed_slices(self) -> list[Any]:
        return [s.group for s, f in zip(self.comparison.slices, self.slice_flagged) if f]


@dataclass(frozen=True, eq=False)
class GateReport:
    """Result of :func:`gate_report`: may the candidate replace the baseline?

    ``decision`` is "pass" when every metric passes (see the module docstring
    for the rule); ``metrics`` holds one :class:`GateMetric` per metric (each
    with the metrics of both models, their intervals, the test used and why,
    and the per-slice rows); ``names`` the two models' names; ``slice_name``
    what the slices are (a column name), None without slices.

    ``str(report)`` is a table; :meth:`format` with ``markdown=True`` is
    GitHub-flavoured Markdown, every name escaped; :meth:`to_dict` /
    :meth:`to_json` follow ``docs/gate-report-json.md``; :meth:`to_html` is
    one self-contained page.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops.gate.report import gate_report
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 4000)
    >>> old = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(0, 1.5, 4000))))
    >>> new = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(0, 1.2, 4000))))
    >>> report = gate_report(y, old, new, metrics=("roc_auc", "log_loss"), margin=0.01,
    ...                      names=("v1", "v2"))
    >>> report.decision, [m.decision for m in report.metrics]
    ('pass', ['pass', 'pass'])
    >>> report.headline()[:58]
    "PASS: candidate 'v2' may replace baseline 'v1' on 4,000 ro"
    >>> report.to_dict()["metrics"][0]["test"]
    'delong'
    """

    decision: str
    metrics: list[GateMetric]
    names: tuple[str, str]
    hypothesis: str
    alpha: float
    n_rows: int
    slice_name: str | None = None

    @property
    def passed(self) -> bool:
        return self.decision == "pass"

    @property
    def failed_metrics(self) -> list[str]:
        return [m.name for m in self.metrics if m.decision == "fail"]

    @property
    def slice_groups(self) -> list[Any]:
        """The slices, in sorted order (empty without slices)."""
        return [s.group for s in self.metrics[0].comparison.slices] if self.metrics else []

    @property
    def failed_slices(self) -> list[Any]:
        """The slices flagged on any metric, in slice order."""
        flagged = [any(m.slice_flagged[j] for m in self.metrics)
                   for j in range(len(self.slice_groups))]
        return [g for g, f in zip(self.slice_groups, flagged) if f]

    def headline(self) -> str:
        """The first line of every format: the decision and what caused it."""
        base, cand = self.names
        k = len(self.metrics)
        listed = ", ".join(m.name for m in self.metrics)
        where = f"on {self.n_rows:,} rows, {k} metric{'s' if k != 1 else ''} ({listed})"
        if self.passed:
            return (f"PASS: candidate {cand!r} may replace baseline {base!r} {where}: "
                    f"every metric passes its {self.hypothesis} test at alpha {self.alpha:g}")
        causes = [f"{m.name} fails" + (f" (worse on slices {m.failed_slices!r})"
                                       if m.failed_slices else "")
                  for m in self.metrics if m.decision == "fail"]
        return (f"FAIL: candidate {cand!r} may not replace baseline {base!r} {where}: "
                + "; ".join(causes) + " (the gate fails when any metric fails)")

    def rule_text(self) -> str:
        hyp = {"non-inferiority": "shows the candidate at most the margin worse (non-"
                                  "inferiority)",
               "superiority": "shows the candidate better by more than the margin "
                              "(superiority)",
               "harm": "does not show the candidate worse (harm)"}[self.hypothesis]
        parts = (["the overall harm tests of the metrics"] if self.hypothesis == "harm"
                 else [])
        if self.slice_name is not None:
            parts.append(f"the harm tests of every slice ({self.slice_name}) of every "
                         f"metric")
        family = " and ".join(parts)
        family = family[:1].upper() + family[1:]
        text = (f"The gate passes when every metric passes, and fails when any metric "
                f"fails. A metric passes when its one-sided test at alpha = {self.alpha:g} "
                f"{hyp} and none of its slices is flagged; every metric is tested at "
                f"alpha, as a candidate must pass all of them.")
        if family:
            text += (f" {family} form one family, adjusted by Holm's method across "
                     f"metrics and slices: two equally good models fail on it at most "
                     f"alpha of the time.")
        return text

    # ------------------------------------------------------------ layouts
    def _metric_dict(self, m: GateMetric) -> dict[str, Any]:
        c = m.comparison
        return {
            "metric": c.metric, "higher_is_better": c.higher_is_better,
            "decision": m.decision, "why": m.why, "test": c.test, "test_reason": c.reason,
            "margin": c.margin,
            "baseline": _finite(c.baseline), "candidate": _finite(c.candidate),
            "difference": _finite(c.difference),
            "baseline_interval": [_finite(v) for v in c.baseline_interval],
            "candidate_interval": [_finite(v) for v in c.candidate_interval],
            "difference_interval": [_finite(v) for v in c.difference_interval],
            "interval_level": 1 - 2 * c.alpha,
            "se": _finite(c.se), "statistic": _finite(c.statistic),
            "pvalue": _finite(c.pvalue), "pvalue_adjusted": _finite(m.pvalue_adjusted),
            "power": _finite(c.power), "power_at": _finite(c.power_at),
            "failed_slices": [_plain(g) for g in m.failed_slices],
        }

    def _slice_dicts(self) -> list[dict[str, Any]]:
        out = []
        for j, group in enumerate(self.slice_groups):
            per: dict[str, Any] = {}
            n = 0
            for m in self.metrics:
                s = m.comparison.slices[j]
                n = s.n
                per[m.name] = {"baseline": _finite(s.baseline),
                               "candidate": _finite(s.candidate),
                               "difference": _finite(s.difference),
                               "pvalue": _finite(s.pvalue),
                               "pvalue_adjusted": _finite(m.slice_pvalues_adjusted[j]),
                               "flagged": bool(m.slice_flagged[j])}
            out.append({"group": _plain(group), "n": int(n),
                        "flagged": any(v["flagged"] for v in per.values()), "metrics": per})
        return out

    def to_dict(self) -> dict[str, Any]:
        """The report in the stable layout of ``docs/gate-report-json.md``
        (version :data:`REPORT_VERSION`); non-finite floats are None."""
        return {
            "format": FORMAT,
            "version": REPORT_VERSION,
            "decision": self.decision,
            "summary": {
                "headline": self.headline(),
                "failed_metrics": self.failed_metrics,
                "failed_slices": [_plain(g) for g in self.failed_slices],
                "n_metrics": len(self.metrics),
                "n_slices": len(self.slice_groups),
            },
            "names": {"baseline": self.names[0], "candidate": self.names[1]},
            "sizes": {"n_rows": int(self.n_rows)},
            "rule": {
                "hypothesis": self.hypothesis, "alpha": self.alpha,
                "margins": {m.name: m.comparison.margin for m in self.metrics},
                "correction": "holm", "slice_column": self.slice_name,
                "text": self.rule_text(),
            },
            "metrics": [self._metric_dict(m) for m in self.metrics],
            "slices": self._slice_dicts(),
        }

    def to_json(self, indent: int | None = None) -> str:
        """:meth:`to_dict` as strict JSON (no NaN or Infinity)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """A self-contained HTML page of the report (nothing is fetched when
        it opens); written to ``path`` when given.  Returns the HTML text."""
        from fastmlops.gate._report_html import render

        page = render(self.to_dict())
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(page)
        return page

    def format(self, markdown: bool = False, max_rows: int = 50) -> str:
        """A readable report: the headline, one row per metric, one row per
        slice (flagged slices first, at most ``max_rows``), why each metric
        passed or failed, the tests used and the rule.  ``markdown=True``
        gives GitHub-flavoured Markdown tables with every name escaped."""
        text = md if markdown else _one_line
        level = f"{100 * (1 - 2 * self.alpha):g}%"
        head = ["metric", "better", "baseline", f"{level} CI", "candidate", f"{level} CI",
                "difference", f"{level} CI", "p-value", "test", "decision"]
        rows = []
        for m in self.metrics:
            c = m.comparison
            ci = [f"[{_g(i.low)}, {_g(i.high)}]" for i in (c.baseline_interval,
                                                          c.candidate_interval)]
            rows.append([text(c.metric), "higher" if c.higher_is_better else "lower",
                         _g(c.baseline), ci[0], _g(c.candidate), ci[1],
                         _g(c.difference, "+.4g"),
                         (f"[{_g(c.difference_interval.low, '+.4g')}, "
                         f"{_g(c.difference_interval.high, '+.4g')}]"),
                         _p(c.pvalue), c.test, m.decision.upper()])
        lines = [text(self.headline()), ""] + _table(head, rows, markdown)
        groups = self.slice_groups
        if groups:
            flagged = {_key(g) for g in self.failed_slices}
            order = sorted(range(len(groups)), key=lambda j: (_key(groups[j]) not in flagged,
                                                              j))
            shead = [text(self.slice_name or "slice"), "rows"]
            for m in self.metrics:
                shead += [text(f"{m.name} difference"), text(f"{m.name} p (Holm)")]
            shead.append("verdict")
            srows = []
            for j in order[:max_rows]:
                row = [text(groups[j]), f"{self.metrics[0].comparison.slices[j].n:,}"]
                for m in self.metrics:
                    s = m.comparison.slices[j]
                    row += [_g(s.difference, "+.4g"), _p(m.slice_pvalues_adjusted[j])]
                row.append("WORSE" if _key(groups[j]) in flagged else "ok")
                srows.append(row)
            lines += ["", f"Slices by {text(self.slice_name or 'slice')}: harm tests, Holm "
                          f"across {len(self.metrics)} metric(s) and {len(groups)} slices"
                          + (":" if not markdown else ""), *([""] if markdown else [])]
            lines += _table(shead, srows, markdown)
            if len(order) > max_rows:
                lines.append(f"... {len(order) - max_rows} more slices")
        bullet = "- " if markdown else "  "
        lines += ["", "why:"]
        lines += [f"{bullet}{text(m.name)}: {text(m.why)}" for m in self.metrics]
        lines += ["", "tests:"] if markdown else ["tests:"]
        lines += [f"{bullet}{text(m.name)}: {text(m.comparison.reason)}" for m in self.metrics]
        lines += ["", "rule: " + text(self.rule_text())] if markdown else \
            ["rule: " + self.rule_text()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def _key(group: Any) -> str:
    return repr(_plain(group))


def _table(head: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        return (["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(head)]

    def fmt(r: list[str]) -> str:
        return "  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip()

    return [fmt(head), "-" * len(fmt(head))] + [fmt(r) for r in rows]


# ------------------------------------------------------------------ builder
def _check_metrics(metrics: object) -> tuple[str, ...]:
    if isinstance(metrics, str):
        metrics = (metrics,)
    if not isinstance(metrics, Sequence) or not metrics:
        raise TypeError(f"metrics must be a metric name or a non-empty sequence of them, "
                        f"got {metrics!r}")
    names = tuple(metrics)
    for m in names:
        if not isinstance(m, str):
            raise TypeError(f"metrics must be names (str), got {m!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"metrics has duplicates: {list(names)}; name each metric once")
    return names


def _check_margins(margin: object, metrics: tuple[str, ...]) -> dict[str, Any]:
    if isinstance(margin, Mapping):
        unknown = [k for k in margin if k not in metrics]
        if unknown:
            raise ValueError(f"margin names metrics not compared: {unknown}; the metrics "
                             f"are {list(metrics)}")
        return {m: margin.get(m, 0.0) for m in metrics}
    return {m: margin for m in metrics}


def _check_names(names: object) -> tuple[str, str]:
    if (not isinstance(names, (tuple, list)) or len(names) != 2
            or not all(isinstance(n, str) and n for n in names)):
        raise TypeError(f"names must be two non-empty strings (baseline, candidate), "
                        f"got {names!r}")
    return str(names[0]), str(names[1])


def _why(c: Comparison, passed_test: bool, p_adj: float, failed: list[Any],
         alpha: float) -> str:
    worse = "higher" if not c.higher_is_better else "lower"
    if c.hypothesis == "harm":
        if math.isnan(p_adj):
            text = "the harm test could not be computed (n/a), so no evidence of harm"
        elif passed_test:
            text = (f"no evidence that the candidate is worse (harm test, Holm-adjusted "
                    f"p = {p_adj:.3g} >= alpha {alpha:g})")
        else:
            text = (f"the candidate is worse: {c.metric} {c.difference:+.4g} ({worse} is "
                    f"worse), Holm-adjusted p = {p_adj:.3g} < alpha {alpha:g}")
    elif math.isnan(c.pvalue):
        text = f"the {c.hypothesis} test could not be computed (n/a), so it is not shown"
    elif c.hypothesis == "non-inferiority":
        loss = (f"a loss of {c.margin:g} or more" if c.margin > 0 else
                "a loss (margin 0)")
        text = (f"non-inferior: the candidate is at most {c.margin:g} worse "
                f"(p = {c.pvalue:.3g} < alpha {alpha:g})" if passed_test else
                f"not shown non-inferior: {loss} is not ruled out (difference "
                f"{c.difference:+.4g}, p = {c.pvalue:.3g} >= alpha {alpha:g})")
    else:
        text = (f"superior: the candidate is better by more than {c.margin:g} "
                f"(p = {c.pvalue:.3g} < alpha {alpha:g})" if passed_test else
                f"not shown superior by {c.margin:g} (difference {c.difference:+.4g}, "
                f"p = {c.pvalue:.3g} >= alpha {alpha:g})")
    if failed:
        text += f"; worse on slices {[_plain(g) for g in failed]!r} (Holm-adjusted harm tests)"
    return text


def gate_report(y_true: ArrayLike, baseline: ArrayLike, candidate: ArrayLike, *,
                metrics: str | Sequence[str] = ("roc_auc",),
                margin: float | Mapping[str, float] = 0.0, alpha: float = 0.05,
                hypothesis: str = "non-inferiority", groups: ArrayLike | None = None,
                names: tuple[str, str] = ("baseline", "candidate"),
                slice_name: str | None = None, test: str = "auto",
                sample_weight: ArrayLike | None = None, n_resamples: int = 1000,
                seed: int | None = 0, threshold: float = 0.5) -> GateReport:
    """Compare a candidate model with a baseline on one or more metrics and
    decide whether it may replace it (the rule across metrics is in the
    docstring of :mod:`fastmlops.gate.report`).

    Parameters
    ----------
    y_true, baseline, candidate : array-like of shape (n,)
        Labels (bool or 0/1; the target for rmse, mae, r2) and each model's
        scores on the same rows.
    metrics : str or sequence of str
        Metrics of :func:`fastmlops.gate.compare` (``gate.METRICS``).
    margin : float or dict
        The margin of every metric, or ``{metric: margin}`` (metrics not named
        get 0), in each metric's units.
    alpha : float
        Level of every metric's test, and the family-wise level of the harm
        tests (Holm across metrics and slices).
    hypothesis : {'non-inferiority', 'superiority', 'harm'}
    groups : array-like of shape (n,), optional
        A slice label per row; every slice of every metric is tested for harm.
    names : (str, str)
        The baseline's and the candidate's names, for the text.
    slice_name : str, optional
        What the slices are (e.g. the column "country"), for the text.
    test, sample_weight, n_resamples, seed, threshold
        As in :func:`fastmlops.gate.compare`.

    Returns
    -------
    GateReport

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops.gate.report import gate_report
    >>> rng = np.random.default_rng(1)
    >>> y = rng.integers(0, 2, 3000)
    >>> base = y + rng.normal(0, 1.0, 3000)
    >>> cand = y + rng.normal(0, 1.0, 3000)
    >>> country = rng.choice(["de", "fr", "us"], 3000)
    >>> cand[(country == "fr") & (y == 1)] -= 1.5
    >>> rep = gate_report(y, base, cand, metrics=["roc_auc", "accuracy"], groups=country,
    ...                   hypothesis="harm", slice_name="country")
    >>> rep.decision, rep.failed_slices
    ('fail', ['fr'])
    """
    names_ = _check_names(names)
    metric_names = _check_metrics(metrics)
    margins = _check_margins(margin, metric_names)
    if slice_name is not None and not isinstance(slice_name, str):
        raise TypeError(f"slice_name must be a str or None, got {slice_name!r}")
    comps = [compare(y_true, baseline, candidate, metric=m, margin=margins[m],
                     alpha=alpha, hypothesis=hypothesis, test=test, groups=groups,
                     sample_weight=sample_weight, n_resamples=n_resamples, seed=seed,
                     threshold=threshold)
             for m in metric_names]
    level = comps[0].alpha
    hyp = comps[0].hypothesis
    # the family of harm tests: overall (harm only), then every slice of every metric
    family: list[float] = []
    for c in comps:
        if hyp == "harm":
            family.append(c.pvalue)
        family.extend(s.pvalue for s in c.slices)
    adjusted = holm(np.array(family, dtype=np.float64)).tolist() if family else []
    out: list[GateMetric] = []
    at = 0
    for c in comps:
        p_adj = math.nan
        if hyp == "harm":
            p_adj = adjusted[at]
            at += 1
        slice_adj = adjusted[at:at + len(c.slices)]
        at += len(c.slices)
        flagged = [bool(p < level) for p in slice_adj]  # NaN: not flagged
        if hyp == "harm":
            test_ok = not (p_adj < level)
        else:
            test_ok = bool(c.pvalue < level)
        failed = [s.group for s, f in zip(c.slices, flagged) if f]
        ok = test_ok and not failed
        out.append(GateMetric(comparison=c, decision="pass" if ok else "fail",
                              why=_why(c, test_ok, p_adj, failed, level),
                              pvalue_adjusted=p_adj, slice_pvalues_adjusted=slice_adj,
                              slice_flagged=flagged))
    decision = "pass" if all(m.decision == "pass" for m in out) else "fail"
    n_rows = int(np.asarray(y_true).shape[0]) if np.ndim(y_true) else 0
    return GateReport(decision=decision, metrics=out, names=names_, hypothesis=hyp,
                      alpha=level, n_rows=n_rows,
                      slice_name=(slice_name if slice_name is not None
                                  else ("slice" if groups is not None else None)))
