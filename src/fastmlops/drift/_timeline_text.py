"""A drift timeline as text: a plain table or GitHub-flavoured Markdown
(:meth:`fastmlops.drift.timeline.DriftTimeline.format`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fastmlops._core.markdown import md_text

if TYPE_CHECKING:
    from fastmlops.drift.timeline import DriftTimeline

__all__ = ["format_timeline", "md"]


def md(text: str) -> str:
    """``text`` as literal one-line Markdown (a table cell), escaped as the
    drift report escapes it (:func:`fastmlops._core.markdown.md_text`).

    >>> md("a|b *c*")
    'a\\\\|b \\\\*c\\\\*'
    """
    return md_text(text)


def _table(head: list[str], rows: list[list[str]], right: set[int], markdown: bool) -> list[str]:
    if markdown:
        return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + \
            ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(head)]

    def fmt(r: list[str]) -> str:
        return "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i])
                         for i, c in enumerate(r)).rstrip()
    return [fmt(head), "-" * len(fmt(head))] + [fmt(r) for r in rows]


def format_timeline(tl: DriftTimeline, *, max_rows: int = 50, markdown: bool = False) -> str:
    """See :meth:`DriftTimeline.format`."""
    text = md if markdown else str
    names = 5  # drifted columns named per chunk
    rows = []
    for c in tl.chunks[:max_rows]:
        r = c.report
        drifted = [tl.columns[j] for j in r.order() if r.column_verdict[j] == "drift"]
        shown = ", ".join(text(n) for n in drifted[:names])
        if len(drifted) > names:
            shown += f" +{len(drifted) - names}"
        rows.append([text(c.label), f"{c.rows:,}", r.verdict, str(r.n_drifted),
                     str(sum(v == "watch" for v in r.column_verdict)), shown or "-"])
    head = ["chunk", "rows", "verdict", "drift", "watch", "drifted columns"]
    lines = _table(head, rows, {1, 3, 4}, markdown)
    if len(tl.chunks) > max_rows:
        lines.append(f"... {len(tl.chunks) - max_rows} more chunks")
    # the columns that drifted or were watched in any chunk, most often first
    per = []
    for j, name in enumerate(tl.columns):
        v = [c.report.column_verdict[j] for c in tl.chunks]
        n_d, n_w = v.count("drift"), v.count("watch")
        if n_d or n_w:
            p = [float(c.report.pvalue[j]) for c in tl.chunks]
            finite = [x for x in p if np.isfinite(x)]
            first = next(c.label for c, x in zip(tl.chunks, v) if x != "ok")
            per.append((-n_d, -n_w, min(finite) if finite else 2.0, name, n_d, n_w, first,
                        min(finite) if finite else None))
    per.sort(key=lambda t: (t[0], t[1], t[2]))
    if per:
        lines.append("")
        col_rows = [[text(name), str(n_d), str(n_w), text(first),
                     f"{p:.2e}" if p is not None else "-"]
                    for *_, name, n_d, n_w, first, p in per[:max_rows]]
        lines.extend(_table(["column", "drift chunks", "watch chunks", "first", "min p-value"],
                            col_rows, {1, 2, 4}, markdown))
        if len(per) > max_rows:
            lines.append(f"... {len(per) - max_rows} more columns")
    n = len(tl.chunks)
    n_drift = sum(c.report.verdict == "drift" for c in tl.chunks)
    n_watch = sum(c.report.verdict == "watch" for c in tl.chunks)
    what = f"{tl.every} rows each" if tl.axis == "rows" else \
        f"{tl.every} buckets of {tl.by}" if tl.by is not None else \
        f"{tl.every} buckets of a monitor's window"
    worst = f"; worst: {text(tl.worst().label)}" if n and tl.verdict != "ok" else ""
    lines.append("")
    lines.append(f"{n_drift} of {n} chunks ({text(what)}) drifted, {n_watch} to watch{worst}; "
                 f"timeline verdict: {tl.verdict.upper()}")
    if tl.extra_columns:
        shown = ", ".join(text(c) for c in tl.extra_columns[:20])
        more = f" and {len(tl.extra_columns) - 20} more" if len(tl.extra_columns) > 20 else ""
        lines.append(f"{len(tl.extra_columns)} column(s) of the current data not in the "
                     f"reference, not checked: {shown}{more}")
    return "\n".join(lines)
