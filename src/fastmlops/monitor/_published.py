"""A monitor's published figures: the window's report, computed off the
request path and kept in shared memory, so that a scrape only reads.

Every process of a monitor has one *published row* in its slot of the
monitor's segment.  A process's background flusher computes the window's
:class:`~fastmlops.DriftReport` when the newest row published by any process
is stale, and writes it into its own row (inside its slot's sequence lock,
so a reader never sees half of it); a scrape copies the published row of
every slot (a few hundred bytes each) and shows the newest.  Its cost is
then flat in the number of columns' bins and in the number of workers that
ever ran.

A publication is stale when

* it belongs to an earlier time bucket (rows have left the window since), or
* the rows counted since it was computed outnumber the rows it covered (the
  window has at least doubled: only while a window fills up, never in a
  steady state), and it is at least ``bucket / 10`` seconds old (so at most
  ten times in a bucket, and about ``log2(rows)`` times in all after a
  start), or it had no rows.

So the figures are recomputed at most once per time bucket in a steady
state (and the scrape's gauges are at most ``bucket`` seconds old, for a
window of ``window`` seconds); :meth:`DriftMonitor.report` is always
computed fresh (and published).  A computation takes a few milliseconds
(tens when the exact KS p-value is used, up to 10,000 rows a side), on the
flusher thread of whichever process finds the publication stale first.

Row layout (float64 values)::

    -2 (the row's tag: no time bucket's, so a window's sum never counts it;
    0 or NaN: never published), the time bucket + 1 it was computed in,
    computed at (clock seconds), window rows, rows counted since the start
    when computed, table verdict code (NaN: no rows), then for each of the
    FIELDS one value per column (NaN where the report has none)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from fastmlops.drift.report import DriftReport

__all__ = ["FIELDS", "HEAD", "PUBLISHED_TAG", "Published", "VERDICT_CODES", "decode", "encode", "newest",
           "size", "stale"]

#: Values of the ``<name>_verdict`` gauges.
VERDICT_CODES = {"ok": 0, "watch": 1, "drift": 2}
#: The per-column figures a scrape exports, in the row's order.
FIELDS = ("psi", "kl", "jsd", "ks_statistic", "ks_pvalue", "pvalue", "nan_share", "verdict")
#: The first value of a published row (time buckets are positive, the totals' -1).
PUBLISHED_TAG = -2.0
HEAD = 6  # -2, bucket, computed at, window rows, rows total when computed, table verdict


def size(m: int) -> int:
    """Values of a published row for ``m`` columns."""
    return HEAD + len(FIELDS) * m


@dataclasses.dataclass(frozen=True)
class Published:
    """One publication: the time bucket it was computed in, when, the
    window's rows, the all-time rows counted then, the table verdict code
    (None with no rows) and ``figures[field]``, one value per column (NaN
    where the report has none)."""

    tag: float
    computed_at: float
    n_rows: int
    rows_total: int
    table_verdict: int | None
    figures: dict[str, np.ndarray]


def encode(tag: float, computed_at: float, report: DriftReport | None, rows_total: int,
           m: int) -> np.ndarray:
    """The published row of ``report`` (None: the window has no rows)."""
    v = np.full(size(m), np.nan)
    v[0], v[1], v[2], v[4] = PUBLISHED_TAG, tag, computed_at, float(rows_total)
    v[3] = 0.0 if report is None else float(report.n_rows)
    if report is not None:
        v[5] = VERDICT_CODES[report.verdict]
        values = {"psi": report.psi, "kl": report.kl, "jsd": report.jsd,
                  "ks_statistic": report.ks_statistic, "ks_pvalue": report.ks_pvalue,
                  "pvalue": report.pvalue, "nan_share": report.nan_share,
                  "verdict": np.array([VERDICT_CODES[x] for x in report.column_verdict],
                                      dtype=np.float64)}
        for k, field in enumerate(FIELDS):
            v[HEAD + k * m:HEAD + (k + 1) * m] = np.asarray(values[field], dtype=np.float64)
    return v


def decode(row: np.ndarray, m: int) -> Published | None:
    """A published row back (None: never published)."""
    if float(row[0]) != PUBLISHED_TAG:  # 0: never written; NaN: a slot nobody claimed
        return None
    table = float(row[5])
    return Published(tag=float(row[1]), computed_at=float(row[2]), n_rows=int(row[3]),
                     rows_total=int(row[4]),
                     table_verdict=None if math.isnan(table) else int(table),
                     figures={field: row[HEAD + k * m:HEAD + (k + 1) * m].copy()
                              for k, field in enumerate(FIELDS)})


def newest(rows: np.ndarray, m: int) -> Published | None:
    """The newest publication of ``rows`` (one published row per process
    slot): the latest time bucket, then the latest computation."""
    if rows.size == 0:
        return None
    ok = rows[:, 0] == PUBLISHED_TAG
    if not ok.any():
        return None
    tags = np.where(ok, rows[:, 1], -np.inf)
    times = np.where(ok, rows[:, 2], -np.inf)
    best = int(np.lexsort((times, tags))[-1])
    return decode(rows[best], m)


def stale(published: Published | None, tag: float, rows_total: int, now: float = math.inf,
          min_age: float = 0.0) -> bool:
    """Whether the figures must be computed again in time bucket ``tag`` at
    clock time ``now``, with ``rows_total`` rows counted since the start;
    a window that doubled waits until the figures are ``min_age`` seconds
    old (see the module docstring)."""
    if published is None:
        return True
    if published.tag < tag:
        return True
    new_rows = rows_total - published.rows_total
    if new_rows <= 0 or new_rows < published.n_rows:
        return False
    return published.n_rows == 0 or now - published.computed_at >= min_age
