"""Drift of the features a server sees, over a sliding window, shared by every
worker process and exported to Prometheus: :class:`DriftMonitor`.

Modules: ``_layout`` (the counts vector: per-column bins built from a
:class:`~fastmlops.DriftReference`, rows and batches counted into it) and
``_monitor`` (the shared-memory ring of per-time-bucket counts, the window's
report through :func:`fastmlops.drift.judge.judge`, Prometheus families and
rules) and ``_published`` (the window's figures, computed off the request
path and kept in shared memory for scrapes to read).
"""

from fastmlops._core import flush as _core_flush
from fastmlops.monitor import _layout, _monitor, _published
from fastmlops.monitor._monitor import VERDICT_CODES, DriftMonitor

__all__ = ["DriftMonitor", "VERDICT_CODES"]

# Code in these files may hold a lock the SIGTERM flush needs (the monitor's
# flush lock): see fastmlops._core.flush.add_locking_file.
for _mod in (_layout, _monitor, _published):
    _core_flush.add_locking_file(_mod.__file__ or "")
del _mod, _core_flush
