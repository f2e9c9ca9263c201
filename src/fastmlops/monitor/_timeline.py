"""A :class:`~fastmlops.DriftMonitor`'s window as a drift timeline: one report
per group of its time buckets, in the view of
:meth:`DriftReference.check_over_time` (:class:`~fastmlops.drift.DriftTimeline`)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from typing import TYPE_CHECKING, Any

from fastmlops.drift.judge import judge
from fastmlops.drift.timeline import DriftTimeline, TimeChunk, parse_every

if TYPE_CHECKING:
    from fastmlops.monitor._monitor import DriftMonitor

__all__ = ["monitor_timeline"]


def _every_seconds(every: Any, bucket: float) -> tuple[float, str]:
    if every is None:
        return bucket, f"{bucket:g}s"
    if isinstance(every, (int, float)) and not isinstance(every, bool):
        seconds, text = float(every), f"{float(every):g}s"
    else:
        axis = parse_every(every)
        if axis.kind != "time":
            raise ValueError(f"every must be a duration ('5m', '1h') or seconds, got {every!r}")
        seconds, text = axis.width / 1e9, axis.text
    steps = seconds / bucket
    if not (math.isfinite(steps) and steps >= 1 and abs(steps - round(steps)) < 1e-9):
        raise ValueError(f"every ({text}) must be a whole number of the monitor's buckets "
                         f"({bucket:g} s)")
    return seconds, text


def monitor_timeline(monitor: DriftMonitor, every: Any = None) -> DriftTimeline:
    """The report of every ``every`` seconds of ``monitor``'s window (whole
    time buckets, aligned on the Unix epoch as the buckets are), oldest first;
    groups without rows are left out.  KS statistics are the monitor's
    bucketed ones (``ks_method="bucketed"``), every other figure exact on the
    group's rows."""
    seconds, text = _every_seconds(every, monitor.bucket)
    per = int(round(seconds / monitor.bucket))
    monitor.flush()
    newest = math.floor(monitor._clock() / monitor.bucket) + 1  # the current bucket's tag
    oldest = newest - monitor._steps + 1
    first = oldest - ((oldest - 1) % per)  # chunks aligned on the epoch
    ref = monitor.reference
    chunks = []
    for lo in range(first, newest + 1, per):
        hi = min(lo + per - 1, newest)
        counts = monitor._sum(float(max(lo, oldest)), float(hi), 0)
        parts, n_rows, _ = monitor._layout.parts(counts)
        if n_rows == 0:
            continue
        report = dataclasses.replace(
            judge(ref.column_models, parts, n_rows, ref.settings()), ks_method="bucketed")
        start = _dt.datetime.fromtimestamp((lo - 1) * monitor.bucket, _dt.timezone.utc)
        end = _dt.datetime.fromtimestamp((lo - 1 + per) * monitor.bucket, _dt.timezone.utc)
        chunks.append(TimeChunk(start.isoformat().replace("+00:00", "Z"), start, end,
                                int(n_rows), report))
    return DriftTimeline(axis="time", by=None, every=text, chunks=chunks,
                         columns=list(ref.columns), kinds=list(ref.kinds))
