"""Drift of the features a server sees, over a sliding window, shared by every
worker process and exported to Prometheus: :class:`DriftMonitor`.

Modules: ``_layout`` (the counts vector: per-column bins built from a
:class:`~fastmlops.DriftReference`, rows and batches counted into it) and
``_monitor`` (the shared-memory ring of per-time-bucket counts, the window's
report through :func:`fastmlops.drift.judge.judge`, Prometheus families and
rules).
"""

from fastmlops.monitor._monitor import VERDICT_CODES, DriftMonitor

__all__ = ["DriftMonitor", "VERDICT_CODES"]
