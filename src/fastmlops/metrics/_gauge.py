"""The Gauge of :mod:`fastmlops.metrics` and its children (one label set each)."""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import numpy as np

from fastmlops.metrics._base import Child, InprogressTracker, Metric, Timer, full_name
from fastmlops.metrics._files import alive as process_alive
from fastmlops.metrics._mapfile import skip_refused
from fastmlops.metrics.exposition import DEFAULT_REGISTRY, prometheus_parts

if TYPE_CHECKING:  # annotations only: prometheus_client is imported on first use
    import os

    from prometheus_client.metrics_core import GaugeMetricFamily, Metric as MetricFamily
    from prometheus_client.registry import CollectorRegistry

_log = logging.getLogger("fastmlops.metrics")


class GaugeChild(Child):
    __slots__ = ("_value", "_lock", "_row", "_state", "_dirty", "_metric", "_key",
                 "_detached", "_function", "__weakref__")
    _metric: Gauge

    def __init__(self, metric: Gauge, key: tuple[str, ...], row: int) -> None:
        self._value = 0.0
        # True while this process's value is not in shared memory yet.  A series
        # made in this process counts as this process's (value 0) from the start,
        # as in prometheus_client; one inherited through fork only once the
        # child changes it (see _reset).
        self._dirty = True
        self._lock = threading.Lock()
        self._metric = metric
        self._key = key
        self._row = row
        self._state = 0
        self._detached = False
        self._function: Callable[[], float] | None = None

    def value(self) -> float:
        """This label set's value combined over processes (see ``multiprocess_mode``)."""
        return float(sum(v for k, _, v in self._metric._samples() if k == self._key))

    def _number(self, x: float, what: str) -> float:
        try:
            v = float(x)
        except (TypeError, ValueError):
            raise TypeError(f"Gauge.{what}() needs a real number, got {type(x).__name__}") from None
        if math.isnan(v):
            raise ValueError(f"Gauge.{what}() got NaN")
        return v

    def inc(self, amount: float = 1) -> None:
        v = self._number(amount, "inc")
        with self._lock:
            self._value += v
            self._dirty = True

    def dec(self, amount: float = 1) -> None:
        v = self._number(amount, "dec")
        with self._lock:
            self._value -= v
            self._dirty = True

    def set(self, value: float) -> None:
        v = self._number(value, "set")
        with self._lock:
            self._value = v
            self._dirty = True

    def set_to_current_time(self) -> None:
        self.set(time.time())

    def track_inprogress(self) -> InprogressTracker:
        """Context manager and decorator: +1 while the block runs."""
        return InprogressTracker(self)

    def time(self) -> Timer:
        """Context manager and decorator: set the gauge to the block's seconds."""
        return Timer(self, "set")

    def set_function(self, f: Callable[[], float]) -> None:
        """Take the gauge's value from ``f()`` (a float) from now on; ``inc``,
        ``dec`` and ``set`` no longer change what is exposed.

        ``f`` runs in this process, in its flusher thread (every
        ``FLUSH_INTERVAL``) and before each of its scrapes, so other
        processes see its value as of this process's last flush; processes
        forked later call their copy of ``f``.  A value is combined with the
        other processes' by ``multiprocess_mode`` like any other.  When ``f``
        raises or returns NaN the previous value stays and the error is
        logged (``fastmlops.metrics`` logger)."""
        if not callable(f):
            raise TypeError(f"set_function() needs a callable, got {type(f).__name__}")
        with self._lock:
            self._function = f
            self._dirty = True

    def _flush(self) -> None:
        # flushes of one metric are serialised (Metric._flush_lock), so the
        # value taken here is never overwritten by an older one
        f = self._function
        if f is not None:
            try:
                v = float(f())
            except Exception:
                _log.exception("fastmlops.metrics: %s: the set_function callable failed",
                               self._metric._name)
                return
            if math.isnan(v):
                _log.error("fastmlops.metrics: %s: the set_function callable returned NaN",
                           self._metric._name)
                return
            self._write(np.array([v, 1.0]), setter=True)
            return
        with self._lock:
            if not self._dirty:
                return
            value = self._value
            self._dirty = False
        self._write(np.array([value, 1.0]), setter=True)  # (value, 1): ours

    def _reset(self) -> None:
        """After a fork: the child starts at 0 and has no value for this series
        until it sets one (the parent's stays the parent's)."""
        self._lock = threading.Lock()
        self._value = 0.0
        self._dirty = False


_GAUGE_MODES = ("all", "liveall", "sum", "livesum", "max", "livemax", "min", "livemin")


class Gauge(Metric["GaugeChild", float]):
    """A value that goes up and down (prometheus_client's ``Gauge`` API).

    Each process has its own value (``inc``/``dec``/``set`` take a short
    per-series lock; gauges are not a hot path), written to its slot by the
    flusher.  A scrape combines the processes by ``multiprocess_mode``, with
    prometheus_client's names: ``all`` (one sample per process, with a
    ``pid`` label), ``sum``, ``max``, ``min``, and their ``live...`` variants,
    which leave out processes that have exited.  Default: ``livesum`` (in a
    single process, simply the value).
    """

    _kind = "gauge"

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = (),
                 namespace: str = "", subsystem: str = "", unit: str = "",
                 registry: CollectorRegistry | None = DEFAULT_REGISTRY,
                 multiprocess_mode: str = "livesum", *, max_series: int = 512,
                 max_processes: int = 256, directory: str | os.PathLike[str] | None = None,
                 _read_only: bool = False) -> None:
        if multiprocess_mode not in _GAUGE_MODES:
            raise ValueError(f"multiprocess_mode must be one of {_GAUGE_MODES}, "
                             f"got {multiprocess_mode!r}")
        self._mode = multiprocess_mode
        full = full_name(name, namespace, subsystem, unit)
        reserved = ("pid",) if multiprocess_mode in ("all", "liveall") else ()
        self._reserved = reserved
        super().__init__(full, documentation, labelnames, namespace, subsystem, unit,
                         registry, 2, (multiprocess_mode,), max_series, max_processes,
                         directory, {"multiprocess_mode": multiprocess_mode},
                         read_only=_read_only)

    def _make_child(self, key: tuple[str, ...], row: int) -> GaugeChild:
        return GaugeChild(self, key, row)

    def _bind(self, child: GaugeChild) -> None:
        for method in ("inc", "dec", "set", "set_to_current_time", "track_inprogress", "time",
                       "set_function"):
            setattr(self, method, getattr(child, method))

    def inc(self, amount: float = 1) -> None:
        self._no_labels()

    def dec(self, amount: float = 1) -> None:
        self._no_labels()

    def set(self, value: float) -> None:
        self._no_labels()

    def set_to_current_time(self) -> None:
        self._no_labels()

    def track_inprogress(self) -> InprogressTracker:
        """+1 while a block or function runs; on a labelled gauge, call
        ``.labels(...)`` on what it returns, inside the block."""
        return InprogressTracker(self)

    def time(self) -> Timer:
        """Set the gauge to a block's seconds; on a labelled gauge, call
        ``.labels(...)`` on what it returns, inside the block."""
        return Timer(self, "set")

    def set_function(self, f: Callable[[], float]) -> None:
        """Take the value from ``f()`` (see the child's ``set_function``)."""
        self._no_labels()

    def _samples(self) -> Iterator[tuple[tuple[str, ...], str | None, float]]:
        self._flush()
        seg = self._segment
        got, records = seg.live(seg.read_slots)
        if got is None or not records:  # got is None only when records is empty
            return
        data, owners = got
        claimed = np.flatnonzero(owners)
        live_only = self._mode.startswith("live")
        alive = {int(s): (process_alive(int(owners[s])) if live_only else True)
                 for s in claimed}
        mode = self._mode[4:] if live_only else self._mode
        seen: dict[tuple[str, ...], list[int]] = {}
        for i, key, _ in records:
            seen.setdefault(key, []).append(i)
        for key, rows in seen.items():
            # only the processes that have this series (wrote it at least once),
            # as prometheus_client combines only the files holding the series
            per_slot = {int(s): float(sum(data[s, r, 0] for r in rows if data[s, r, 1]))
                        for s in claimed
                        if (not live_only or alive[int(s)]) and any(data[s, r, 1] for r in rows)}
            if mode == "all":
                for s, v in per_slot.items():
                    yield key, str(int(owners[s]) & 0xFFFFFFFF), v
            elif per_slot:
                vals = list(per_slot.values())
                yield key, None, (sum(vals) if mode == "sum" else
                                  max(vals) if mode == "max" else min(vals))

    def value(self) -> float:
        """The combined value (no labels; for ``all`` modes, the sum)."""
        if self._labelnames:
            self._no_labels()
        return self._children[()].value()

    def _family(self) -> GaugeMetricFamily:
        GaugeMetricFamily = prometheus_parts().GaugeMetricFamily
        names = list(self._labelnames) + (["pid"] if self._mode in ("all", "liveall") else [])
        return GaugeMetricFamily(self._name, self._documentation, labels=names, unit=self._unit)

    @skip_refused  # a file truncated under the mapping: left out, never a crash
    def collect(self) -> list[MetricFamily]:
        family = self._family()
        for key, pid, value in self._samples():
            family.add_metric(list(key) + ([pid] if pid is not None else []), value)
        return [family]
