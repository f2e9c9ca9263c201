"""Drift over time: :class:`DriftTimeline`, one exact :class:`DriftReport` per
chunk of the current data (time buckets of a column, or consecutive rows).

Made by :meth:`DriftReference.check_over_time` (see its docstring for the
chunking, the order of rows and the memory it takes); the stable JSON layout
of :meth:`DriftTimeline.to_dict` is documented in ``docs/drift-over-time.md``.

Examples
--------
>>> import numpy as np, pandas as pd, fastmlops
>>> rng = np.random.default_rng(0)
>>> ref = fastmlops.DriftReference({"x": rng.normal(size=2000)})
>>> x = rng.normal(size=3000)
>>> x[2000:] += 1.0  # the third day drifts
>>> day = pd.to_timedelta(np.arange(3000) // 1000, unit="D")  # 1,000 rows a day
>>> cur = pd.DataFrame({"x": x, "ts": pd.Timestamp("2026-01-01") + day})
>>> timeline = ref.check_over_time(cur, by="ts", every="1d")
>>> [c.label for c in timeline.chunks], [c.report.verdict for c in timeline.chunks]
(['2026-01-01', '2026-01-02', '2026-01-03'], ['ok', 'ok', 'drift'])
>>> timeline.verdict, timeline.worst().label
('drift', '2026-01-03')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fastmlops.drift._timeline_axis import iso, parse_every
from fastmlops.drift.report import DriftReport

if TYPE_CHECKING:
    import os

    import pandas as pd

__all__ = ["TIMELINE_VERSION", "DriftTimeline", "TimeChunk", "parse_every"]

#: Version of the layout of :meth:`DriftTimeline.to_dict`.
TIMELINE_VERSION = 1
_RANK = {"ok": 0, "watch": 1, "drift": 2}


def _num(x: Any) -> float | None:
    v = float(x)
    return v if np.isfinite(v) else None


@dataclass(frozen=True)
class TimeChunk:
    """One chunk of a timeline: its ``label`` ("2026-01-05", "rows 0-9999"),
    ``start`` and ``end`` (exclusive; UTC ``datetime`` for time buckets,
    numbers for numeric buckets, row numbers for row chunks), the ``rows`` it
    holds and its :class:`DriftReport`, exactly ``ref.check(chunk_rows)``."""

    label: str
    start: Any
    end: Any
    rows: int
    report: DriftReport

    def to_dict(self, *, report: bool = False) -> dict[str, Any]:
        """The chunk in the layout of ``docs/drift-over-time.md``; with
        ``report=True`` also its full report (``DriftReport.to_dict()``)."""
        r = self.report
        cols = []
        for j in range(len(r.columns)):
            numeric = r.kinds[j] == "numeric"
            cols.append({
                "verdict": r.column_verdict[j], "reasons": list(r.reasons[j]),
                "pvalue": _num(r.pvalue[j]),
                "ks_statistic": _num(r.ks_statistic[j]) if numeric else None,
                "ks_pvalue": _num(r.ks_pvalue[j]) if numeric else None,
                "chi2_pvalue": _num(r.chi2_pvalue[j]), "psi": _num(r.psi[j]),
                "nan_share": float(r.nan_share[j]), "n_current": int(r.n_current[j])})
        out: dict[str, Any] = {
            "label": self.label, "start": iso(self.start), "end": iso(self.end),
            "rows": int(self.rows), "verdict": r.verdict, "n_drift": r.n_drifted,
            "n_watch": sum(v == "watch" for v in r.column_verdict),
            "share_drifted": r.share_drifted, "columns": cols}
        if report:
            out["report"] = r.to_dict()
        return out


@dataclass(frozen=True)
class DriftTimeline:
    """Drift per chunk of the current data, chunks in time (or row) order.

    ``axis`` is "time" (buckets of ``every`` of the ``by`` column), "number"
    (numeric buckets of ``by``) or "rows" (``every`` consecutive rows);
    ``chunks`` the :class:`TimeChunk` of every bucket that holds rows (buckets
    without rows are not listed); ``columns`` and ``kinds`` the columns
    checked (the reference's, less ``by``).  ``verdict`` is the worst chunk's:
    what ``fastmlops drift --fail-on`` compares.
    """

    axis: str
    by: str | None
    every: str
    chunks: list[TimeChunk]
    columns: list[str]
    kinds: list[str]
    extra_columns: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return sum(c.rows for c in self.chunks)

    @property
    def verdict(self) -> str:
        """The worst verdict of any chunk ("drift" > "watch" > "ok")."""
        return max((c.report.verdict for c in self.chunks), key=_RANK.__getitem__,
                   default="ok")

    def worst(self) -> TimeChunk:
        """The worst chunk: by verdict, then share of drifted columns, then
        smallest column p-value; the earliest among equals."""
        if not self.chunks:
            raise ValueError("the timeline has no chunks")

        def key(i: int) -> tuple:
            r = self.chunks[i].report
            p = np.nanmin(r.pvalue) if np.isfinite(r.pvalue).any() else 2.0
            return (-_RANK[r.verdict], -r.share_drifted, float(p), i)
        return self.chunks[min(range(len(self.chunks)), key=key)]

    def __len__(self) -> int:
        return len(self.chunks)

    # ------------------------------------------------------------ layouts
    def to_dict(self, *, reports: bool = False) -> dict[str, Any]:
        """The timeline in the stable layout of ``docs/drift-over-time.md``
        (version :data:`TIMELINE_VERSION`): a table over time, per chunk its
        verdict and per column the figures the charts draw.  ``reports=True``
        adds each chunk's full report (``DriftReport.to_dict()``, large)."""
        first = self.chunks[0].report.to_dict() if self.chunks else None
        counts = {v: sum(c.report.verdict == v for c in self.chunks)
                  for v in ("drift", "watch", "ok")}
        col_drift = [sum(c.report.column_verdict[j] == "drift" for c in self.chunks)
                     for j in range(len(self.columns))]
        col_watch = [sum(c.report.column_verdict[j] == "watch" for c in self.chunks)
                     for j in range(len(self.columns))]
        worst = self.worst().label if self.chunks else None
        return {
            "format": "fastmlops.drift_timeline",
            "version": TIMELINE_VERSION,
            "verdict": self.verdict,
            "axis": {"kind": self.axis, "by": self.by, "every": self.every,
                     "origin": "1970-01-01T00:00:00Z" if self.axis == "time" else None},
            "summary": {"n_chunks": len(self.chunks), "n_drift": counts["drift"],
                        "n_watch": counts["watch"], "n_ok": counts["ok"], "worst": worst,
                        "current_rows": self.n_rows,
                        "extra_columns": list(self.extra_columns)},
            "reference": first["reference"] if first else None,
            "rule": first["rule"] if first else None,
            "columns": [{"name": n, "kind": k, "n_drift": d, "n_watch": w}
                        for n, k, d, w in zip(self.columns, self.kinds, col_drift, col_watch)],
            "chunks": [c.to_dict(report=reports) for c in self.chunks],
        }

    def to_json(self, indent: int | None = None, *, reports: bool = False) -> str:
        """:meth:`to_dict` as strict JSON (no NaN or Infinity)."""
        return json.dumps(self.to_dict(reports=reports), indent=indent, allow_nan=False)

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per chunk and column (a long table): the chunk's label,
        start, end and rows, then the column's figures and verdict."""
        out = []
        for c in self.chunks:
            for rec in c.report.to_records():
                out.append({"chunk": c.label, "start": c.start, "end": c.end,
                            "rows": c.rows, **rec})
        return out

    def to_pandas(self) -> pd.DataFrame:
        """:meth:`to_records` as a pandas DataFrame indexed by (chunk, column)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.to_records()).set_index(["chunk", "column"])

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """A self-contained HTML page: the table over time and one chart per
        column of its p-value per chunk (-log10), the threshold and the
        verdicts marked; written to ``path`` when given.  Returns the HTML."""
        from fastmlops.drift._html_timeline import render

        page = render(self.to_dict())
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(page)
        return page

    def format(self, max_rows: int = 50, markdown: bool = False) -> str:
        """A table over time (one row per chunk: rows, verdict, columns that
        drifted), a table of the columns that drifted in any chunk, and the
        timeline's verdict.  ``markdown=True`` gives GitHub-flavoured Markdown,
        the column names escaped as :meth:`DriftReport.format` escapes them."""
        from fastmlops.drift._timeline_text import format_timeline

        return format_timeline(self, max_rows=max_rows, markdown=markdown)

    def __str__(self) -> str:
        return self.format()
