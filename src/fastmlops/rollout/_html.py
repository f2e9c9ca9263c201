"""A :class:`~fastmlops.rollout.Timeline` as one offline HTML page: a summary
line, one inline SVG chart per sampled series (events drawn as vertical
lines), and the table of events.  No scripts, fonts or images from the
network: the page opens from a file."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastmlops.rollout._timeline import Event, Timeline

_W, _H, _PAD_L, _PAD_R, _PAD_T, _PAD_B = 900, 130, 60, 16, 12, 22
#: Colour of an event's marker by its name; others are grey.
COLOURS = {"rollback": "#d62728", "alert": "#ff7f0e", "drift-alert": "#ff7f0e",
           "fault": "#8c564b", "promote": "#2ca02c", "complete": "#2ca02c",
           "retrain": "#1f77b4", "gate-pass": "#17becf", "gate-fail": "#d62728",
           "shift": "#9467bd"}
_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:960px}
h1{font-size:20px} .summary{font-size:16px;padding:8px 12px;background:#f3f6fa;
border-left:4px solid #1f77b4;margin-bottom:16px} svg{display:block;margin:4px 0 14px}
table{border-collapse:collapse;font-size:13px;width:100%} td,th{border-bottom:1px solid #ddd;
padding:3px 6px;text-align:left;vertical-align:top} td.n{text-align:right;white-space:nowrap}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
"""


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _chart(name: str, times: list[float], values: list[float | None], events: list[Event],
           t_max: float) -> str:
    """One series; ``None`` where a sample lacks it (the line breaks there)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    lo = min(0.0, min(finite)) if finite else 0.0
    hi = max(finite) if finite else 1.0
    if hi <= lo:
        hi = lo + 1.0
    span_t = t_max if t_max > 0 else 1.0

    def x(t: float) -> float:
        return _PAD_L + (_W - _PAD_L - _PAD_R) * t / span_t

    def y(v: float) -> float:
        v = min(max(v, lo), hi)
        return _PAD_T + (_H - _PAD_T - _PAD_B) * (1 - (v - lo) / (hi - lo))

    parts = [(f'<svg width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" '
              f'xmlns="http://www.w3.org/2000/svg" role="img" '
              f'aria-label="{html.escape(name)}">'),
             (f'<rect x="{_PAD_L}" y="{_PAD_T}" width="{_W - _PAD_L - _PAD_R}" '
              f'height="{_H - _PAD_T - _PAD_B}" fill="#fafafa" stroke="#ccc"/>')]
    for e in events:
        colour = COLOURS.get(e.event, "#bbbbbb")
        parts.append(f'<line x1="{x(e.time):.1f}" x2="{x(e.time):.1f}" y1="{_PAD_T}" '
                     f'y2="{_H - _PAD_B}" stroke="{colour}" stroke-width="1.5" '
                     f'stroke-dasharray="3,2"><title>{html.escape(e.format())}</title></line>')
    d: list[str] = []
    prev: tuple[float, float] | None = None
    for t, v in zip(times, values):  # a step line: a value holds until the next sample
        if v is None or not math.isfinite(v):
            prev = None  # not sampled here: break the line
            continue
        px, py = x(t), y(v)
        d.append(f"M{px:.1f},{py:.1f}" if prev is None
                 else f"L{px:.1f},{prev[1]:.1f}L{px:.1f},{py:.1f}")
        prev = (px, py)
    if d:
        parts.append(f'<path d="{"".join(d)}" fill="none" stroke="#1f3b73" '
                     f'stroke-width="1.6"/>')
    parts.append(f'<text x="{_PAD_L - 6}" y="{_PAD_T + 10}" text-anchor="end" '
                 f'font-size="11">{_fmt(hi)}</text>')
    parts.append(f'<text x="{_PAD_L - 6}" y="{_H - _PAD_B}" text-anchor="end" '
                 f'font-size="11">{_fmt(lo)}</text>')
    parts.append(f'<text x="{_PAD_L + 6}" y="{_PAD_T + 14}" font-size="12" '
                 f'font-weight="bold">{html.escape(name)}</text>')
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<text x="{x(frac * span_t):.1f}" y="{_H - 6}" text-anchor="middle" '
                     f'font-size="10">{frac * span_t:.0f} s</text>')
    parts.append("</svg>")
    return "".join(parts)


def summary(timeline: Timeline) -> str:
    """One line: how many events of the decisive kinds, and the last event."""
    kinds = ("rollback", "promote", "alert", "retrain")
    counts = [f"{sum(e.event == k for e in timeline.events)} {k}" for k in kinds]
    last = timeline.events[-1] if timeline.events else None
    tail = (f"; last: {last.stage} {last.event} at {last.time:.1f} s ({last.message})"
            if last is not None else "; no events")
    return ", ".join(counts) + tail


def render(timeline: Timeline) -> str:
    """The page's HTML text."""
    events = timeline.events
    t_max = max([e.time for e in events] + [t for t, _ in timeline.samples] + [0.0])
    times = [t for t, _ in timeline.samples]
    charts = [_chart(name, times, [v.get(name) for _, v in timeline.samples], events, t_max)
              for name in timeline.series_names()]
    legend = "".join(f'<span><i style="background:{c}"></i>{html.escape(k)}</span>'
                     for k, c in COLOURS.items())
    rows = []
    for e in events:
        nums = ", ".join(f"{k}={_fmt(v)}" for k, v in e.numbers.items())
        colour = COLOURS.get(e.event, "#888")
        rows.append(f'<tr><td class="n">{e.time:.1f}</td><td>{html.escape(e.stage)}</td>'
                    f'<td style="color:{colour}">{html.escape(e.event)}</td>'
                    f'<td>{html.escape(e.message)}</td><td>{html.escape(nums)}</td></tr>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(timeline.title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(timeline.title)}</h1>"
            f'<div class="summary">{html.escape(summary(timeline))}</div>'
            f'<div class="legend">{legend}</div>' + "".join(charts)
            + "<table><thead><tr><th>time (s)</th><th>stage</th><th>event</th><th>what</th>"
              "<th>numbers</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table></body></html>\n")
