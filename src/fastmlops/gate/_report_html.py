"""The gate report as one self-contained HTML file, in the drift report's style.

:func:`render` turns the report's stable JSON layout (``GateReport.to_dict()``,
``docs/gate-report-json.md``) into a page that needs nothing but a browser:
the CSS and the script are inline, nothing is fetched (no CDN, no web fonts).
Everything is written here as HTML, escaped with :func:`html.escape` (the
summary, one row per metric with a picture of its difference, one row per
slice), so the page reads without JavaScript; the small script
(``_report_assets/report.js``) only sorts and filters the slices.

Only the standard library is used.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from importlib import resources
from string import Template
from typing import Any

from fastmlops._core.documents import base_css, check_document, finite

__all__ = ["render"]

_FORMAT = "fastmlops.gate_report"
_VERSIONS = (1,)
_ICON = {"pass": "✓", "fail": "✗"}
#: Surrogates have no UTF-8: shown as U+FFFD so the page can always be written.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _asset(name: str) -> str:
    return resources.files("fastmlops.gate").joinpath("_report_assets", name) \
        .read_text(encoding="utf-8")


_finite = finite


def _num(value: Any, spec: str = ".4g") -> str:
    x = _finite(value)
    return "–" if x is None else format(x, spec)


def _e(value: Any) -> str:
    return html.escape(str(value))


def _check(report: object) -> None:
    check_document(report, fmt=_FORMAT, versions=_VERSIONS,
                   keys=("decision", "summary", "names", "sizes", "rule", "metrics", "slices"),
                   what="gate report", source="GateReport.to_dict()")


# ------------------------------------------------------------------ picture
def _picture(m: Mapping[str, Any]) -> str:
    """An inline SVG: the difference (candidate - baseline) with its
    interval, the line of no difference and the margin on the worse side."""
    w, h, pad = 220, 50, 12
    d = _finite(m.get("difference"))
    lo, hi = (_finite(v) for v in (m.get("difference_interval") or [None, None]))
    margin = _finite(m.get("margin")) or 0.0
    worse = -margin if m.get("higher_is_better", True) else margin
    points = [v for v in (d, lo, hi, 0.0, worse) if v is not None]
    a, b = min(points), max(points)
    if b - a <= 0:
        a, b = a - 1.0, b + 1.0
    span = b - a
    a, b = a - 0.08 * span, b + 0.08 * span

    def x(v: float) -> float:
        return round(pad + (v - a) / (b - a) * (w - 2 * pad), 2)

    parts = [(f'<svg class="diff" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
             f'role="img" aria-label="difference {_e(_num(d))}, interval '
             f'[{_e(_num(lo))}, {_e(_num(hi))}]">'),
             (f'<line x1="{x(0.0)}" y1="12" x2="{x(0.0)}" y2="{h - 12}" stroke="#5f6368" '
             f'stroke-dasharray="3 2"/>'),
             f'<text x="{x(0.0)}" y="{h - 2}" text-anchor="middle">0</text>']
    if margin > 0:
        parts += [(f'<line x1="{x(worse)}" y1="12" x2="{x(worse)}" y2="{h - 12}" '
                  f'stroke="#E69F00" stroke-width="2"/>'),
                  f'<text x="{x(worse)}" y="9" text-anchor="middle">margin</text>']
    if lo is not None and hi is not None:
        parts.append(f'<line x1="{x(lo)}" y1="24" x2="{x(hi)}" y2="24" stroke="#1a1a1a" '
                     f'stroke-width="2"/>')
    if d is not None:
        colour = "#D55E00" if m.get("decision") == "fail" else "#009E73"
        parts.append(f'<circle cx="{x(d)}" cy="24" r="4" fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------ parts
def _summary(report: Mapping[str, Any]) -> str:
    decision = str(report["decision"])
    s, names, sizes = report["summary"], report["names"], report["sizes"]
    why = "".join(f"<li><b>{_e(m.get('metric'))}</b> {_e(str(m.get('decision')).upper())}: "
                  f"{_e(m.get('why', ''))}</li>" for m in report["metrics"])
    failed = s.get("failed_slices") or []
    slices = (f"<div><span class=\"k\">Slices worse</span> "
              f"{', '.join(f'<code>{_e(g)}</code>' for g in failed[:20])}"
              f"{' and more' if len(failed) > 20 else ''}</div>" if failed else "")
    rule = report["rule"]
    return f"""
<section class="summary" aria-label="Summary">
  <div class="verdict-line">
    <span class="badge {_e(decision)}" id="decision">{_ICON.get(decision, '')} {_e(decision.upper())}</span>
    <p class="headline">{_e(s.get('headline', ''))}</p>
  </div>
  <div class="facts">
    <div><span class="k">Baseline</span> <code>{_e(names.get('baseline'))}</code></div>
    <div><span class="k">Candidate</span> <code>{_e(names.get('candidate'))}</code></div>
    <div><span class="k">Rows</span> {_e(f"{int(sizes.get('n_rows', 0)):,}")}</div>
    <div><span class="k">Hypothesis</span> {_e(rule.get('hypothesis'))},
      α = {_e(_num(rule.get('alpha'), 'g'))}</div>
    {slices}
  </div>
  <ul class="why">{why}</ul>
</section>"""


_METRIC_HEAD = ["Metric", "Decision", "Baseline", "Candidate", "Difference", "p-value",
                "Test", "Picture"]


def _interval(values: Any, spec: str = ".4g") -> str:
    lo, hi = (values or [None, None])[:2]
    return f"<div class=\"ci\">[{_e(_num(lo, spec))}, {_e(_num(hi, spec))}]</div>"


def _metric_rows(report: Mapping[str, Any]) -> str:
    rows = []
    for m in report["metrics"]:
        decision = str(m.get("decision"))
        better = "higher" if m.get("higher_is_better", True) else "lower"
        rows.append(
            f"<tr><th scope=\"row\">{_e(m.get('metric'))}<div class=\"ci\">{better} is "
            f"better, margin {_e(_num(m.get('margin'), 'g'))}</div></th>"
            f"<td><span class=\"badge {_e(decision)}\">{_ICON.get(decision, '')} "
            f"{_e(decision.upper())}</span></td>"
            f"<td class=\"n\">{_e(_num(m.get('baseline')))}"
            f"{_interval(m.get('baseline_interval'))}</td>"
            f"<td class=\"n\">{_e(_num(m.get('candidate')))}"
            f"{_interval(m.get('candidate_interval'))}</td>"
            f"<td class=\"n\">{_e(_num(m.get('difference'), '+.4g'))}"
            f"{_interval(m.get('difference_interval'), '+.4g')}</td>"
            f"<td class=\"n\">{_e(_num(m.get('pvalue'), '.3g'))}</td>"
            f"<td title=\"{_e(m.get('test_reason', ''))}\">{_e(m.get('test'))}"
            f"<div class=\"ci\">{_e(m.get('test_reason', ''))}</div></td>"
            f"<td>{_picture(m)}</td></tr>")
    return "\n".join(rows)


def _slices(report: Mapping[str, Any]) -> str:
    slices = report["slices"]
    if not slices:
        return ""
    metrics = [str(m.get("metric")) for m in report["metrics"]]
    column = report["rule"].get("slice_column") or "slice"
    head = [(column, False), ("Rows", True)]
    for name in metrics:
        head += [(f"{name} difference", True), (f"{name} p (Holm)", True)]
    head.append(("Verdict", False))
    th = "".join(f"<th scope=\"col\" aria-sort=\"none\"><button type=\"button\">{_e(t)}"
                 f"<span class=\"arrow\" aria-hidden=\"true\"></span></button></th>"
                 for t, _ in head)
    rows = []
    for s in slices:
        flagged = bool(s.get("flagged"))
        cells = [f"<th scope=\"row\">{_e(s.get('group'))}</th>",
                 (f"<td class=\"n\" data-v=\"{int(s.get('n', 0))}\">"
                 f"{int(s.get('n', 0)):,}</td>")]
        per = s.get("metrics") or {}
        for name in metrics:
            v = per.get(name) or {}
            for key, spec in (("difference", "+.4g"), ("pvalue_adjusted", ".3g")):
                x = _finite(v.get(key))
                cells.append(f"<td class=\"n\" data-v=\"{'' if x is None else repr(x)}\">"
                             f"{_e(_num(x, spec))}</td>")
        verdict = "fail" if flagged else "pass"
        cells.append(f"<td><span class=\"badge {verdict}\">"
                     f"{'✗ worse' if flagged else '✓ ok'}</span></td>")
        rows.append(f"<tr data-flagged=\"{int(flagged)}\">" + "".join(cells) + "</tr>")
    n = len(slices)
    return f"""
<section class="slices" aria-label="Slices">
  <h2>Slices by {_e(column)} (harm tests, Holm across metrics and slices)</h2>
  <div class="controls">
    <label><input type="checkbox" id="only-worse"> only slices that are worse</label>
    <span id="shown" aria-live="polite">{n:,} of {n:,} slices</span>
  </div>
  <p class="hint">Click a heading to sort.</p>
  <table id="slices"><thead><tr>{th}</tr></thead><tbody>
{chr(10).join(rows)}
  </tbody></table>
</section>"""


def render(report: Mapping[str, Any], *, title: str | None = None) -> str:
    """The HTML page of a gate report (``GateReport.to_dict()``).

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops.gate.report import gate_report
    >>> from fastmlops.gate._report_html import render
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 500)
    >>> page = render(gate_report(y, y + rng.normal(0, 1, 500),
    ...                           y + rng.normal(0, 1, 500), margin=0.02).to_dict())
    >>> page.startswith("<!DOCTYPE html>") and " src=" not in page and " href=" not in page
    True
    """
    _check(report)
    metrics = report["metrics"]
    level = _finite(metrics[0].get("interval_level")) if metrics else None
    page = Template(_asset("report.html")).substitute(
        title=_e(title or "Model-quality gate"),
        css=base_css() + _asset("report.css"),
        js=_asset("report.js"),
        summary=_summary(report),
        level=_e(f"{100 * level:g} %" if level is not None else "–"),
        metric_head="".join(f"<th scope=\"col\">{_e(h)}</th>" for h in _METRIC_HEAD),
        metric_rows=_metric_rows(report),
        slices=_slices(report),
        rule=_e(report["rule"].get("text", "")),
        version=_e(report.get("version")),
    )
    return _SURROGATE.sub("\ufffd", page)
