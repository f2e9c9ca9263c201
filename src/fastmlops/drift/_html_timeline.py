"""A drift timeline as one self-contained HTML page.

:func:`render` turns the timeline's stable JSON layout
(``DriftTimeline.to_dict()``, ``docs/drift-over-time.md``) into a page that
needs nothing but a browser: the summary, the table over time, and one chart
per column of its p-value per chunk (as -log10 p, the higher the stronger the
evidence of drift), with the threshold ``alpha`` drawn and every point
coloured and shaped by the column's verdict in that chunk.  The charts are
inline SVG written here; the page has no script and loads nothing (no CDN, no
web fonts).  The colours and the look are the drift report's
(``_report_assets/report.css``, read, not copied).

Only the standard library is used.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from importlib import resources
from typing import Any

from fastmlops._core.documents import base_css, check_document, finite

__all__ = ["MAX_CHARTS", "OPEN_TABLE", "TOP", "render"]

_FORMAT = "fastmlops.drift_timeline"
_VERSIONS = (1,)
_RANK = {"drift": 0, "watch": 1, "ok": 2}
_ICON = {"drift": "▲", "watch": "●", "ok": "✓"}
#: The charts' top, in -log10 p: smaller p-values are drawn at the top edge
#: (with an upward mark); 10 reads p down to 1e-10.
TOP = 10.0
#: Charts drawn at most (most drifted columns first): a page of 1,000 columns x
#: 365 chunks would hold 365,000 points.
MAX_CHARTS = 300
#: Chunks up to which the table of chunks opens with the page (else one click).
OPEN_TABLE = 24
_W_MIN, _W_MAX, _H = 360, 1100, 170
_L, _R, _T, _B = 44, 12, 14, 34  # margins

_EXTRA_CSS = """
.chunks td, .chunks th { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; }
.chunks td.n { text-align: right; }
.charts { display: flex; flex-wrap: wrap; gap: 14px 24px; }
figure.chart-box { margin: 0; }
.chart-box h3 { font-size: 14px; margin: 4px 0; }
.chart-box .meta { color: var(--muted); font-weight: normal; font-size: 12px; }
svg.chart { background: #fff; border: 1px solid var(--line); border-radius: 4px; }
svg.chart text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: var(--ink); }
svg.chart .axis { stroke: #9aa0a6; stroke-width: 1; }
svg.chart .threshold { stroke: var(--drift); stroke-width: 1.2; stroke-dasharray: 5 4; }
svg.chart .trend { fill: none; stroke: var(--ref); stroke-width: 1.3; }
svg.chart .pt.drift { fill: var(--drift); } svg.chart .pt.watch { fill: var(--watch); }
svg.chart .pt.ok { fill: var(--ok); } svg.chart .pt.na { fill: #fff; stroke: var(--muted); }
.legend span { margin-right: 14px; }
details.chunk-list summary { cursor: pointer; } details.chunk-list summary h2 { display: inline; }
"""


def _css() -> str:
    base = resources.files("fastmlops.drift").joinpath("_report_assets", "report.css") \
        .read_text(encoding="utf-8")
    return base_css() + base + _EXTRA_CSS


_finite = finite


def _p_text(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.3g}"


def _check(tl: object) -> Mapping[str, Any]:
    return check_document(tl, fmt=_FORMAT, versions=_VERSIONS,
                          keys=("verdict", "axis", "summary", "columns", "chunks"),
                          what="drift timeline", source="DriftTimeline.to_dict()")


# ------------------------------------------------------------------ parts
def _summary(tl: Mapping[str, Any]) -> str:
    s, axis = tl["summary"], tl["axis"]
    verdict = str(tl["verdict"])
    n, n_drift, n_watch = int(s["n_chunks"]), int(s["n_drift"]), int(s["n_watch"])
    what = (f"chunks ({axis.get('every')} buckets of "
            f"{axis.get('by') if axis.get('by') is not None else 'a monitor window'})"
            if axis.get("kind") != "rows" else f"chunks ({axis.get('every')} rows each)")
    worst = s.get("worst")
    if verdict == "ok":
        head = f"None of the {n:,} {what} changed beyond the rule's thresholds."
    else:
        head = (f"{n_drift:,} of {n:,} {what} drifted, {n_watch:,} worth watching; "
                f"the worst is {worst}.")
    ref = tl.get("reference") or {}
    rule = tl.get("rule") or {}
    digest = ref.get("digest")
    alpha = _finite(rule.get("alpha"))
    return f"""
<section class="summary" aria-label="Summary">
  <div class="verdict-line">
    <span class="badge {html.escape(verdict)}">{_ICON.get(verdict, '')} {html.escape(verdict.upper())}</span>
    <p class="headline">{html.escape(head)}</p>
  </div>
  <div class="facts">
    <div><span class="k">Chunks</span> <span class="pill drift">{n_drift:,} drift</span>
      <span class="pill watch">{n_watch:,} watch</span>
      <span class="pill ok">{int(s['n_ok']):,} ok</span></div>
    <div><span class="k">Current</span> {int(s.get('current_rows') or 0):,} rows</div>
    <div><span class="k">Reference</span> {int(ref.get('n_rows') or 0):,} rows{
        f', digest <code>{html.escape(str(digest)[:23])}…</code>' if digest else ''}</div>
    <div><span class="k">Rule</span> α = {'' if alpha is None else f'{alpha:g}'},
      correction {html.escape(str(rule.get('correction', 'none')))}</div>
  </div>
  <p class="muted">Each chunk is checked on its own, exactly as a drift report of its
    rows; the timeline's verdict is its worst chunk's.</p>
</section>"""


def _chunk_table(tl: Mapping[str, Any]) -> str:
    names = [str(c.get("name")) for c in tl["columns"]]
    rows = []
    for ch in tl["chunks"]:
        cols = ch.get("columns") or []
        drifted = [names[j] for j, c in enumerate(cols) if c.get("verdict") == "drift"]
        shown = ", ".join(drifted[:8]) + (f" +{len(drifted) - 8}" if len(drifted) > 8 else "")
        v = str(ch.get("verdict"))
        rows.append(
            f"<tr><th scope=\"row\">{html.escape(str(ch.get('label')))}</th>"
            f"<td class=\"n\">{int(ch.get('rows') or 0):,}</td>"
            f"<td><span class=\"badge {html.escape(v)}\">{_ICON.get(v, '')} "
            f"{html.escape(v)}</span></td>"
            f"<td class=\"n\">{int(ch.get('n_drift') or 0):,}</td>"
            f"<td class=\"n\">{int(ch.get('n_watch') or 0):,}</td>"
            f"<td>{html.escape(shown) or '–'}</td></tr>")
    return ("<table class=\"chunks\"><thead><tr><th>Chunk</th><th>Rows</th><th>Verdict</th>"
            "<th>Drift</th><th>Watch</th><th>Drifted columns</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _chart(j: int, tl: Mapping[str, Any], alpha: float) -> str:
    """One column's chart: -log10 p per chunk, the threshold, the verdicts."""
    chunks = tl["chunks"]
    n = len(chunks)
    width = max(_W_MIN, min(_W_MAX, _L + _R + 16 * n))
    pw, ph = width - _L - _R, _H - _T - _B
    thr = -math.log10(alpha)
    top = max(TOP, 1.5 * thr)

    def x(i: int) -> float:
        return _L + (pw * (i + 0.5) / n if n else 0)

    def y(v: float) -> float:
        return _T + ph * (1 - min(v, top) / top)

    parts = [(f"<line class=\"axis\" x1=\"{_L}\" y1=\"{_T + ph}\" x2=\"{_L + pw}\" "
              f"y2=\"{_T + ph}\"/>"),
             f"<line class=\"axis\" x1=\"{_L}\" y1=\"{_T}\" x2=\"{_L}\" y2=\"{_T + ph}\"/>"]
    for tick in range(0, int(top) + 1, 2 if top <= 12 else max(2, int(top) // 5)):
        parts.append(f"<text x=\"{_L - 6}\" y=\"{y(tick) + 4:.1f}\" "
                     f"text-anchor=\"end\">{tick}</text>")
    parts.append(f"<text x=\"12\" y=\"{_T + ph / 2:.1f}\" text-anchor=\"middle\" "
                 f"transform=\"rotate(-90 12 {_T + ph / 2:.1f})\">−log10 p</text>")
    parts.append(f"<line class=\"threshold\" x1=\"{_L}\" y1=\"{y(thr):.1f}\" x2=\"{_L + pw}\" "
                 f"y2=\"{y(thr):.1f}\"><title>threshold: p = α = {alpha:g}</title></line>")
    parts.append(f"<text x=\"{_L + pw - 2}\" y=\"{y(thr) - 4:.1f}\" text-anchor=\"end\">"
                 f"α = {alpha:g}</text>")
    # as many chunk labels as fit side by side (about 6.5 px a character), kept
    # inside the chart: spaced 1.5 labels apart, the ends may shift half a label
    lw = 6.5 * max((len(str(ch.get("label"))) for ch in chunks), default=1)
    step = max(1, math.ceil(n * (1.5 * lw + 8) / pw))
    for i in range(0, n, step):
        lx = min(max(x(i), lw / 2 + 2), width - lw / 2 - 2)
        parts.append(f"<text x=\"{lx:.1f}\" y=\"{_H - 12}\" text-anchor=\"middle\">"
                     f"{html.escape(str(chunks[i].get('label')))}</text>")
    trend, points = [], []
    for i, ch in enumerate(chunks):
        c = (ch.get("columns") or [{}] * (j + 1))[j]
        p = _finite(c.get("pvalue"))
        verdict = str(c.get("verdict"))
        tip = (f"{ch.get('label')}: {verdict}, p = {_p_text(p)}, KS D = "
               f"{_p_text(_finite(c.get('ks_statistic')))}, PSI = "
               f"{_p_text(_finite(c.get('psi')))}, {int(c.get('n_current') or 0):,} values")
        if p is None:
            points.append(f"<circle class=\"pt na\" cx=\"{x(i):.1f}\" cy=\"{y(0):.1f}\" r=\"3.5\">"
                          f"<title>{html.escape(tip)}</title></circle>")
            continue
        v = math.inf if p <= 0 else -math.log10(p)
        cx, cy = x(i), y(v)
        trend.append(f"{cx:.1f},{cy:.1f}")
        cls = verdict if verdict in _RANK else "na"
        if cls == "drift":  # a triangle: the verdict is told by shape too, not colour only
            shape = (f"<path class=\"pt drift\" d=\"M{cx:.1f},{cy - 5:.1f} l5,8.5 h-10 z\">")
            points.append(shape + f"<title>{html.escape(tip)}</title></path>")
        else:
            r = 4 if cls == "watch" else 3
            points.append(f"<circle class=\"pt {cls}\" cx=\"{cx:.1f}\" cy=\"{cy:.1f}\" "
                          f"r=\"{r}\"><title>{html.escape(tip)}</title></circle>")
    if len(trend) > 1:
        parts.append(f"<polyline class=\"trend\" points=\"{' '.join(trend)}\"/>")
    parts.extend(points)
    return (f"<svg class=\"chart\" role=\"img\" width=\"{width}\" height=\"{_H}\" "
            f"viewBox=\"0 0 {width} {_H}\" data-column=\"{j}\">" + "".join(parts) + "</svg>")


def _charts(tl: Mapping[str, Any]) -> str:
    cols = tl["columns"]
    alpha = _finite((tl.get("rule") or {}).get("alpha")) or 0.01

    def key(j: int) -> tuple:
        c = cols[j]
        return (-int(c.get("n_drift") or 0), -int(c.get("n_watch") or 0), j)
    boxes = []
    order = sorted(range(len(cols)), key=key)
    for j in order[:MAX_CHARTS]:
        c = cols[j]
        meta = (f"{html.escape(str(c.get('kind')))}; drift in {int(c.get('n_drift') or 0):,}, "
                f"watch in {int(c.get('n_watch') or 0):,} of {len(tl['chunks']):,} chunks")
        boxes.append(f"<figure class=\"chart-box\"><h3>{html.escape(str(c.get('name')))} "
                     f"<span class=\"meta\">{meta}</span></h3>{_chart(j, tl, alpha)}</figure>")
    rest = order[MAX_CHARTS:]
    if rest:
        names = ", ".join(html.escape(str(cols[j].get("name"))) for j in rest[:50])
        more = f" and {len(rest) - 50:,} more" if len(rest) > 50 else ""
        boxes.append(f"<p class=\"muted\">{len(rest):,} more columns, the least drifted, "
                     f"are not drawn (their figures are in the JSON layout): {names}{more}.</p>")
    return "".join(boxes)


# ------------------------------------------------------------------- entry
def render(timeline: Mapping[str, Any], *, title: str | None = None) -> str:
    """The HTML page of a drift timeline (``DriftTimeline.to_dict()``).

    Examples
    --------
    >>> page = render({"format": "fastmlops.drift_timeline", "version": 1, "verdict": "ok",
    ...     "axis": {"kind": "rows", "by": None, "every": "10"},
    ...     "summary": {"n_chunks": 1, "n_drift": 0, "n_watch": 0, "n_ok": 1,
    ...                 "worst": "rows 0-9", "current_rows": 10},
    ...     "rule": {"alpha": 0.01}, "columns": [{"name": "x", "kind": "numeric"}],
    ...     "chunks": [{"label": "rows 0-9", "rows": 10, "verdict": "ok",
    ...                 "columns": [{"verdict": "ok", "pvalue": 0.5}]}]})
    >>> page.count("<svg class=\\"chart\\""), " src=" in page or " href=" in page
    (1, False)
    """
    tl = _check(timeline)
    title = title or "Drift over time"
    open_attr = " open" if len(tl["chunks"]) <= OPEN_TABLE else ""
    legend = ("<p class=\"legend muted\"><span>▲ drift</span><span>● watch</span>"
              "<span>• ok</span><span>- - - threshold α</span>Higher points: stronger "
              f"evidence of change (−log10 of the column's p-value; above {TOP:g}, "
              "i.e. p below 1e-10, drawn at the top).</p>")
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="fastmlops drift timeline, layout version {html.escape(str(tl.get('version')))}">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{html.escape(title)}</title>
<style>
{_css()}
</style>
</head>
<body>
<header><h1>{html.escape(title)}</h1></header>
<main>
{_summary(tl)}
<section aria-label="Columns"><h2>Columns over time, most drifted first</h2>{legend}
<div class="charts">{_charts(tl)}</div></section>
<section aria-label="Chunks"><details class="chunk-list"{open_attr}>
<summary><h2>Chunks over time ({len(tl['chunks']):,})</h2></summary>{_chunk_table(tl)}
</details></section>
</main>
<footer>Made by fastmlops. This file is self-contained: it loads nothing from the network.</footer>
</body>
</html>
"""
    return page.encode("utf-8", "replace").decode("utf-8")
