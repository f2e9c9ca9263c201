"""Drift inside the inference server: :class:`DriftMonitor`.

A monitor counts the features a server sees, per column, on the bins of a
:class:`~fastmlops.DriftReference`, in shared memory summed over every worker
process, over a sliding time window; a Prometheus scrape of any worker (or
:meth:`DriftMonitor.report`) turns the window's counts into the figures and
verdicts of :meth:`DriftReference.check`.

>>> import numpy as np, fastmlops
>>> rng = np.random.default_rng(0)
>>> ref = fastmlops.DriftReference(rng.normal(size=(5000, 3)), columns=["a", "b", "c"])
>>> monitor = fastmlops.DriftMonitor(ref, registry=None, name="doc_drift")
>>> for row in rng.normal(size=(300, 3)).tolist():
...     monitor.observe(row)                      # one request: one row
>>> batch = rng.normal(size=(2000, 3))
>>> batch[:, 2] += 1.0
>>> monitor.observe(batch)                        # a batch: binned at once
>>> report = monitor.report()                     # the last 10 minutes, every worker
>>> report.n_rows, report.column_verdict
(2300, ['ok', 'ok', 'drift'])

How it works
------------
* **Hot path.** ``observe(row)`` of a list, tuple or dict checks the row's
  length and appends it to a Python list (no lock: an append is atomic); the
  metrics' background thread drains the list every
  :data:`fastmlops.metrics.FLUSH_INTERVAL` (0.1 s), before a scrape, a fork
  and at exit, converts the rows to one float64 table, bins it with a Numba
  kernel and adds the counts to this process's row of shared memory.  A 1-D
  numpy array is copied first (the caller may reuse it): a float64 one, when
  every column is numeric, as its bytes, which the flush joins into a table
  without converting a value (the cheapest row to pass).  A batch (2-D
  array, DataFrame, Arrow table) is checked as :meth:`DriftReference.check`
  checks it and binned at once.
* **Bins.**  Numeric column: the union of ``ks_buckets`` reference-quantile
  edges (default 512), the reference's PSI edges and its 24 picture points,
  plus a missing bin: PSI, KL and JSD are then *exact* on the reference's PSI
  bins.  Categorical column: the kept categories, 64 buckets for values the
  reference never had (by a stable hash of the value; the binned test treats
  each bucket as one unseen value), plus missing.
* **KS from buckets.**  The window's KS statistic is the largest difference of
  the two ECDFs at the bin edges, where both are exact: it is never above the
  exact statistic, and the exact one is at most ``D + max share of either
  sample in one bin`` (the bound is returned by :meth:`DriftMonitor.ks_bounds`):
  with 512 reference-quantile buckets, about ``1/512 = 0.002`` when the
  current values look like the reference.  Being a lower bound, the bucketed
  statistic never adds false positives to the verdict rule's ``alpha``
  promise; it may miss a drift whose exact KS p-value is just below the line
  (``tests/test_monitor.py`` measures how often the verdicts agree with the
  exact check of the same rows).
* **Window.**  Counts are kept per time bucket (``bucket`` seconds, default
  60) in a ring of ``window / bucket + 1`` buckets; the window is the current
  bucket and the ``window / bucket - 1`` before it, so a row counts for
  between ``window - bucket`` and ``window`` seconds, then stops counting.
  Buffered rows take the time bucket of the flush that moves them (at most
  0.1 s later).  The clock is ``time.time`` (shared by every process of a
  host).
* **Processes**, exactly as :mod:`fastmlops.metrics`: anonymous shared memory
  inherited through ``fork`` (create the monitor before the workers fork), or
  a file in ``<metrics directory>/drift-monitors/`` (``directory=`` or
  ``FASTMLOPS_METRICS_DIR``) for processes started apart; each process writes
  only its own slot, a reader sums the slots.
* **Bad rows.**  A list, tuple or dict of the wrong length raises ValueError
  in ``observe``.  Anything else wrong with a row (a string in a numeric
  column, a number in a string column, a dict without a column) is found at
  the flush: the whole row is dropped, never half counted, and counted in
  ``<name>_rejected_rows_total`` and :attr:`DriftMonitor.rejected_rows`, with
  a warning naming the first reason on the ``fastmlops.monitor`` logger.
  ``None`` and NaN are missing values, as in the batch check.  A bad *batch*
  raises at once (the errors of :meth:`DriftReference.check`).
"""

from __future__ import annotations

import logging
import math
import re
import dataclasses
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, NoReturn, Sized

import numpy as np

from fastmlops._core import flush as core_flush
from fastmlops._core.rules import AlertingRule, RuleGroup, render_rule_file
from fastmlops.metrics.exposition import (DEFAULT_REGISTRY, PrometheusParts, prometheus_parts,
                                          resolve_registry)
from fastmlops.metrics.segment import (Segment, encode_definition, layout_hash,
                                       resolve_directory, segment_for)
from fastmlops.drift.judge import judge
from fastmlops.drift.report import DriftReport
from fastmlops.monitor import _published as published
from fastmlops.monitor._layout import TOTALS_TAG, Layout
from fastmlops.monitor._published import VERDICT_CODES

if TYPE_CHECKING:  # annotations only: prometheus_client is imported on first use
    import datetime
    import os

    from prometheus_client.metrics_core import Metric as MetricFamily
    from prometheus_client.registry import CollectorRegistry

    from fastmlops.drift import DriftReference, DriftTimeline

__all__ = ["DriftMonitor", "VERDICT_CODES"]

_log = logging.getLogger("fastmlops.monitor")
_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_SUBDIR = "drift-monitors"
_F8 = np.dtype(np.float64)
_NDARRAY = np.ndarray


def _seconds(value: float | datetime.timedelta, name: str) -> float:
    if hasattr(value, "total_seconds"):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds or a timedelta, "
                         f"got {value!r}")
    return float(value)


class DriftMonitor:
    """Per-column drift of the features a server sees, over a sliding window,
    shared by every worker process and exported to Prometheus.

    Parameters
    ----------
    reference : DriftReference or path
        The reference (or a file saved with :meth:`DriftReference.save`); its
        bins, ``alpha``, ``eps``, correction and verdict rule are used.
    window : float or timedelta, default 600
        Seconds of the sliding window (a multiple of ``bucket``).
    bucket : float or timedelta, default 60
        Seconds per time bucket: rows leave the window one bucket at a time.
    name : str, default "fastmlops_drift"
        Prefix of the exported metrics; also names the shared-memory file in a
        metrics directory.  Two monitors in one registry need two names.
    ks_buckets : int, default 512
        Reference-quantile buckets per numeric column for the KS statistic
        (16 to 4096): the bucketed statistic is within about ``1/ks_buckets``
        of the exact one.  Memory per numeric column and time bucket is about
        ``8 * (ks_buckets + 40)`` bytes per process.
    registry : prometheus_client registry or None
        Where the monitor registers as a collector (default: prometheus_client's
        ``REGISTRY``; None: not registered).
    directory : str or path, optional
        Metrics directory for processes not related by ``fork`` (default:
        ``FASTMLOPS_METRICS_DIR`` if set, else anonymous shared memory).
    max_processes : int, default 64
        Processes writing at once (each has a slot of shared memory).
    clock : callable, optional
        Seconds since the epoch (default ``time.time``); for tests.

    Examples
    --------
    >>> import numpy as np, fastmlops
    >>> ref = fastmlops.DriftReference({"age": np.arange(18.0, 80.0)})
    >>> m = fastmlops.DriftMonitor(ref, registry=None, name="doc_age", window=300)
    >>> m.observe({"age": 35.0})
    >>> m.observe([None])                 # missing
    >>> m.flush()
    >>> report = m.report()
    >>> report.n_rows, float(report.nan_share[0])
    (2, 0.5)
    """

    def __init__(self, reference: DriftReference | str | os.PathLike[str], *,
                 window: float | datetime.timedelta = 600.0,
                 bucket: float | datetime.timedelta = 60.0, name: str = "fastmlops_drift",
                 ks_buckets: int = 512, registry: CollectorRegistry | None = DEFAULT_REGISTRY,
                 directory: str | os.PathLike[str] | None = None, max_processes: int = 64,
                 clock: Callable[[], float] | None = None) -> None:
        from fastmlops.drift import DriftReference

        if not isinstance(reference, DriftReference):
            if isinstance(reference, (str, bytes)) or hasattr(reference, "__fspath__"):
                reference = DriftReference.load(reference)
            else:
                raise TypeError("reference must be a fastmlops.DriftReference (or the path of "
                                f"a saved one), got {type(reference).__name__}")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ValueError(f"name must be a Prometheus metric name (letters, digits, '_', "
                             f"':'), got {name!r}")
        self.window = _seconds(window, "window")
        self.bucket = _seconds(bucket, "bucket")
        steps = self.window / self.bucket
        if abs(steps - round(steps)) > 1e-9 or round(steps) < 1 or round(steps) > 10_000:
            raise ValueError(f"window ({window!r}) must be 1 to 10,000 times bucket "
                             f"({bucket!r})")
        self._steps = int(round(steps))
        if isinstance(ks_buckets, bool) or not isinstance(ks_buckets, (int, np.integer)) or \
                not 16 <= ks_buckets <= 4096:
            raise ValueError(f"ks_buckets must be an integer in [16, 4096], got {ks_buckets!r}")
        if isinstance(max_processes, bool) or not isinstance(max_processes, (int, np.integer)) \
                or not 1 <= max_processes <= 4096:
            raise ValueError(f"max_processes must be an integer in [1, 4096], got "
                             f"{max_processes!r}")
        if clock is not None and not callable(clock):
            raise TypeError("clock must be a callable returning seconds, like time.time")
        self.reference = reference
        self.name = name
        self.ks_buckets = int(ks_buckets)
        self._clock = clock or time.time
        self._layout = Layout(reference, self.ks_buckets)
        self._m = self._layout.m
        # a row: its tag, then the counts vector (or the published figures)
        self._width = max(1 + self._layout.size, published.size(self._m))
        n_rows = self._steps + 3  # the ring, the totals row, the published figures
        self._max_rows = 2 * n_rows  # room for a row registered twice by two processes
        directory = resolve_directory(directory)
        if directory is not None:
            import os
            directory = os.path.join(directory, _SUBDIR)
        digest = layout_hash(name, "counter", ["drift-monitor", self._layout.digest(),
                                               self.bucket, self._steps, "published-1"])
        meta = encode_definition(name, "counter", "fastmlops drift monitor", (), "",
                                 {"monitor": True})
        self._segment: Segment = segment_for(name, "counter", self._width, int(max_processes),
                                             self._max_rows, digest, directory, meta,
                                             defined_by=("drift monitor", "reference, "
                                                         "ks_buckets, window, bucket or "
                                                         "max_processes"))
        self._rows = [self._segment.series_index((str(r),)) for r in range(n_rows)]
        self._buf: list[object] = []
        # a float64 numpy row is buffered as its bytes when every column is numeric
        # (None, which no array's shape equals, when a column is categorical)
        self._row_bytes = 8 * self._m if self._layout.numeric_only else -1
        self._append = self._buf.append
        self._lock = threading.Lock()  # one flush at a time: rows out of the buffer
        #                                are in shared memory when it is released
        self.rejected_rows = 0  # rows this process dropped (all processes: the metric)
        self._bounds: np.ndarray = np.full(self._m, np.nan)
        core_flush.register(self)
        registry = resolve_registry(registry)
        if registry is not None:
            registry.register(self)

    # ------------------------------------------------------------ hot path
    def observe(self, features: Any) -> None:
        """Count one row or a batch.

        One row: a list or tuple (values in the reference's column order), a
        dict by column name, a 1-D numpy array or a pandas Series.  A batch:
        a 2-D array (rows x columns), a DataFrame or an Arrow table (see
        :meth:`observe_batch`, which also takes a dict of column arrays).  A
        list, tuple or dict is always one row.  ``None`` and NaN are missing values.  A row is read at the next
        flush: do not change a list after passing it (arrays are copied)."""
        t = type(features)
        if t is _NDARRAY:
            if features.dtype is _F8 and features.ndim == 1:
                data = features.tobytes()  # a copy, 8 bytes a value, already checked
                if len(data) == self._row_bytes:
                    self._append(data)
                    return
            self._observe_other(features)
        elif t is list or t is tuple or t is dict:
            if len(features) != self._m:
                self._wrong_length(features)
            self._append(features)
        else:
            self._observe_other(features)

    def _wrong_length(self, row: Sized) -> NoReturn:
        raise ValueError(f"a row has {len(row)} value(s) but the reference has {self._m} "
                         f"column(s) {self.reference.columns[:10]!r}; pass one value per "
                         "column, in the reference's order (or a dict by column name)")

    def _observe_other(self, features: Any) -> None:
        if isinstance(features, np.ndarray):
            if features.ndim == 1:
                if features.shape[0] != self._m:
                    self._wrong_length(features)
                kind = features.dtype.kind
                if kind in "fiub" and features.dtype.itemsize <= 8:  # plain numbers
                    self._buf.append(features.astype(np.float64).tobytes() if self._row_bytes > 0
                                     else features.copy())
                elif kind in "OUS":
                    self._buf.append(features.tolist())
                else:  # long double, complex, dates, times, bytes: a batch's rules
                    self.observe_batch(features.reshape(1, -1))
                return
            self.observe_batch(features)
            return
        if hasattr(features, "iloc") and hasattr(features, "dtype"):  # pandas Series: a row
            row = {str(k): v for k, v in features.items()}
            if len(row) != self._m:
                self._wrong_length(row)
            self._buf.append(row)
            return
        if features is None or isinstance(features, (set, frozenset, str, bytes, int, float)) \
                or not hasattr(features, "__len__"):
            raise TypeError(
                f"observe takes one row (a list or tuple in the reference's column order, a "
                f"dict by column name, a 1-D array, a pandas Series) or a batch (a 2-D array, "
                f"a DataFrame, an Arrow table), got {type(features).__name__}"
                + (": a set has no order, pass a list" if isinstance(features, (set, frozenset))
                   else ""))
        self.observe_batch(features)

    def observe_batch(self, batch: Any) -> None:
        """Count a batch at once (the forms :meth:`DriftReference.check` takes
        in memory); errors are those of the check, and nothing is counted then."""
        lay = self._layout
        out = np.zeros(lay.size, dtype=np.int64)
        arr = batch if isinstance(batch, np.ndarray) else None
        if arr is not None and arr.ndim == 2 and lay.numeric_only and \
                arr.shape[1] == self._m and arr.dtype.kind in "fiu" and arr.dtype.itemsize <= 8:
            lay.count_table(np.asarray(arr, dtype=np.float64), out)
            n = arr.shape[0]
        else:
            cols = self.reference.current_columns(batch, allow_empty=True)
            n = cols.n_rows
            i = 0
            for j, values in zip(range(self._m), cols.block(0, self._m)):
                if lay.kinds[j] == "numeric":
                    from fastmlops._core.validation import reject_long_double
                    reject_long_double(values, f"column {self.reference.columns[j]!r}")
                    v = np.asarray(values, dtype=np.float64).reshape(-1, 1)
                    lay.count_table(v, out, np.zeros(1, np.int64), slice(i, i + 1))
                    i += 1
                else:
                    lay.count_categorical(j, values, out)
        if n:
            out[0] = n
            self._write(out.astype(np.float64), 0)

    # ------------------------------------------------------------ flushing
    def flush(self) -> None:
        """Move this process's buffered rows into shared memory now (the
        metrics' background thread does it every 0.1 s)."""
        self._flush()

    def _flush(self) -> None:
        # an empty buffer may mean another thread took the rows and is still
        # writing them (the flusher's _refresh reads through here): wait for it,
        # or an exit flush would return before the rows reach shared memory
        if not self._buf and not self._lock.locked():
            return
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        buf = self._buf
        n = len(buf)
        if not n:
            return
        chunk = buf[:n]
        del buf[:n]
        out = np.zeros(self._layout.size, dtype=np.int64)
        try:
            bad, why = self._layout.count_rows(chunk, out)
        except Exception:  # a row the checks missed: count the others one by one
            bad, why = self._count_one_by_one(chunk, out)
        if bad:
            self.rejected_rows += bad
            _log.warning("fastmlops.monitor %s: dropped %d row(s) (not counted): %s",
                         self.name, bad, why)
        if out[0] or bad:
            self._write(out.astype(np.float64), bad)

    def _count_one_by_one(self, rows: list[object], out: np.ndarray) -> tuple[int, str | None]:
        """Count ``rows`` one at a time: a row that makes the counting raise
        is dropped alone (logged with its error), never the rows around it."""
        out[:] = 0
        bad, why = 0, None
        one = np.zeros_like(out)
        for row in rows:
            one[:] = 0
            try:
                b, w = self._layout.count_rows([row], one)
            except Exception as exc:  # a bug; logged, the row dropped
                _log.exception("fastmlops.monitor %s: a row could not be counted", self.name)
                b, w = 1, f"{type(exc).__name__}: {exc}"
            if b:
                bad, why = bad + b, why or w
            else:
                out += one
        return bad, why

    def _write(self, counts: np.ndarray, rejected: int) -> None:
        """Add ``counts`` to this process's row of the current time bucket (a
        stale bucket of the ring starts again), and the row and rejected
        totals to its totals row."""
        add = self._segment.add_tagged
        tag = float(math.floor(self._clock() / self.bucket) + 1)
        if counts[0]:
            row, state = self._rows[int(tag) % (self._steps + 1)]
            add(row, state, tag, counts)
        if counts[0] or rejected:
            row, state = self._rows[self._steps + 1]
            add(row, state, TOTALS_TAG, np.array([counts[0], float(rejected)]))

    def _after_fork_in_child(self) -> None:
        """In a forked child: new locks, a slot of its own, an empty buffer
        (the parent flushed before the fork)."""
        self._segment.after_fork()
        self._lock = threading.Lock()
        self._buf = []
        self._append = self._buf.append
        self.rejected_rows = 0

    def _warm_up(self) -> None:
        """Load what a flush, the figures and a scrape need (kernels, the
        p-value functions, prometheus_client's parts) by running them on one
        row of missing values, writing nothing (see
        :mod:`fastmlops._core.flush`)."""
        from fastmlops._core.warmup import load_kernels

        load_kernels("metrics", "monitor")
        out = np.zeros(self._layout.size, dtype=np.int64)
        self._layout.count_rows([[None] * self._m], out)
        out[0] = 1
        parts, n_rows, _ = self._layout.parts(out)
        judge(self.reference.column_models, parts, n_rows, self.reference.settings())
        self._segment.slot_rows(self._rows[self._steps + 2][0], 1)
        try:
            prometheus_parts()
        except ImportError:  # exposition is optional
            pass

    def _refresh(self) -> None:
        """In the flusher thread: compute and publish the window's figures
        when the newest publication is stale (see
        :mod:`fastmlops.monitor._published`)."""
        now = self._clock()
        tag = float(math.floor(now / self.bucket) + 1)
        if published.stale(self._newest(), tag, self.totals()[0], now, self.bucket / 10):
            self._publish()

    # ------------------------------------------------------------ reading
    def _sum(self, lo: float, hi: float, n: int) -> np.ndarray:
        """The rows of every process tagged ``lo`` to ``hi``, summed (the first
        ``n`` values; all when ``n`` is 0)."""
        out = self._segment.sum_tagged(lo, hi)
        return out[:n] if n else out

    def window_counts(self) -> np.ndarray:
        """The window's counts vector summed over every process (see
        :mod:`fastmlops.monitor._layout` for its layout); flushes this process
        first."""
        self._flush()
        tag = math.floor(self._clock() / self.bucket) + 1
        return self._sum(float(tag - self._steps + 1), float(tag), 0)

    def totals(self) -> tuple[int, int]:
        """(rows counted, rows rejected) since the start, every process."""
        self._flush()
        rows = self._segment.slot_rows(self._rows[self._steps + 1][0], 3)
        rows = rows[rows[:, 0] == TOTALS_TAG]
        return int(rows[:, 1].sum()), int(rows[:, 2].sum())

    def _newest(self) -> published.Published | None:
        """The newest figures any process published."""
        return published.newest(
            self._segment.slot_rows(self._rows[self._steps + 2][0], published.size(self._m)),
            self._m)

    def _publish(self) -> DriftReport | None:
        """Compute the window's report (None: no rows) and publish it."""
        rows_total = self.totals()[0]
        tag = float(math.floor(self._clock() / self.bucket) + 1)
        try:
            report = self._compute()
        except ValueError:
            report = None
        row, state = self._rows[self._steps + 2]
        self._segment.set(row, state, published.encode(tag, self._clock(), report, rows_total,
                                                       self._m))
        return report

    def _compute(self) -> DriftReport:
        parts, n_rows, uppers = self._layout.parts(self.window_counts())
        if n_rows == 0:
            raise ValueError(f"drift monitor {self.name!r}: no rows in the last "
                             f"{self.window:g} s; observe() some first")
        self._bounds = np.array(uppers, dtype=np.float64)
        report = judge(self.reference.column_models, parts, n_rows, self.reference.settings())
        return dataclasses.replace(report, ks_method="bucketed")

    def report(self) -> DriftReport:
        """The :class:`~fastmlops.DriftReport` of the window, every process:
        the figures and verdicts of :meth:`DriftReference.check` (PSI, KL, JSD,
        the binned test and missing shares exact on the window's rows; the KS
        statistic from the buckets, see the module docstring and
        :meth:`ks_bounds`).  Raises ValueError while the window has no rows.

        Always computed now, from every row flushed so far; it is also
        published, so the next scrape shows it (a scrape shows the figures the
        background flusher computes at most once per ``bucket``: see
        :mod:`fastmlops.monitor._published`)."""
        report = self._publish()
        if report is None:
            return self._compute()  # raises the "no rows" error
        return report

    def timeline(self, every: float | str | datetime.timedelta | None = None) -> DriftTimeline:
        """The window as a :class:`~fastmlops.drift.DriftTimeline` (the view of
        :meth:`DriftReference.check_over_time`): one report per ``every`` (whole
        buckets, default one; ``"5m"``, seconds or a timedelta), oldest first,
        every process; KS bucketed as in :meth:`report`."""
        from fastmlops.monitor._timeline import monitor_timeline

        return monitor_timeline(self, every)

    def ks_bounds(self) -> np.ndarray:
        """Per column, the upper bound of the exact KS statistic for the window
        of the last :meth:`report` (the report's ``ks_statistic`` is the lower
        bound; NaN for categorical or empty columns)."""
        return self._bounds.copy()

    # ------------------------------------------------------------ Prometheus
    _GAUGES = (("psi", "Population stability index over the window"),
               ("kl", "KL divergence (current || reference) over the window"),
               ("jsd", "Jensen-Shannon divergence over the window"),
               ("ks_statistic", "KS statistic over the window, from reference-quantile "
                                "buckets (a lower bound of the exact one)"),
               ("ks_pvalue", "KS p-value of the bucketed statistic"),
               ("pvalue", "The column's p-value of the verdict rule"),
               ("nan_share", "Share of missing values over the window"),
               ("verdict", "Column verdict: 0 ok, 1 watch, 2 drift"))

    def describe(self) -> list[MetricFamily]:
        return list(self._families(None, prometheus_parts(), (0, 0)))

    def collect(self) -> list[MetricFamily]:
        """The newest published figures (see :mod:`fastmlops.monitor._published`)
        and the row totals: a scrape reads, it never computes."""
        return list(self._families(self._newest(), prometheus_parts(), self.totals()))

    def _families(self, figures: published.Published | None, pc: PrometheusParts,
                  totals: tuple[int, int]) -> Iterator[MetricFamily]:
        n = self.name
        gauges = {key: pc.GaugeMetricFamily(f"{n}_{key}", doc, labels=["column"])
                  for key, doc in self._GAUGES}
        rows_total, rejected = totals
        window_rows = pc.GaugeMetricFamily(f"{n}_window_rows", "Rows in the window")
        window_seconds = pc.GaugeMetricFamily(f"{n}_window_seconds", "Length of the window")
        table = pc.GaugeMetricFamily(f"{n}_table_verdict", "Table verdict: 0 ok, 1 watch, "
                                     "2 drift")
        rows = pc.CounterMetricFamily(f"{n}_rows", "Rows observed (every process)")
        bad = pc.CounterMetricFamily(f"{n}_rejected_rows", "Rows dropped as invalid")
        window_seconds.add_metric([], self.window)
        rows.add_metric([], rows_total)
        bad.add_metric([], rejected)
        if figures is not None and figures.table_verdict is not None:
            window_rows.add_metric([], figures.n_rows)
            table.add_metric([], figures.table_verdict)
            for key, values in figures.figures.items():
                for col, v in zip(self.reference.columns, values.tolist()):
                    if not math.isnan(v):
                        gauges[key].add_metric([col], v)
        else:
            window_rows.add_metric([], 0)
        yield from gauges.values()
        yield from (window_rows, window_seconds, table, rows, bad)

    def prometheus_rules(self, *, pending: str = "5m", severity: str = "ticket",
                         min_rows: int = 0, table: bool = True) -> str:
        """Prometheus alerting rules for this monitor, as YAML text.

        ``<Camel>FeatureDrift`` fires per column whose verdict is "drift" in
        every evaluation for ``pending`` (a Prometheus duration), once the
        window holds at least ``min_rows`` rows; ``<Camel>TableDrift`` when the
        table's verdict is "drift".  Every worker answers for all, so the rules
        take the ``max`` over the scraped instances.  ``promtool check rules``
        accepts the text.

        Examples
        --------
        >>> import numpy as np, fastmlops
        >>> ref = fastmlops.DriftReference({"age": np.arange(100.0)})
        >>> m = fastmlops.DriftMonitor(ref, registry=None, name="doc_rules")
        >>> print(m.prometheus_rules(pending="10m").splitlines()[4])
              - alert: "DocRulesFeatureDrift"
        """
        if not isinstance(pending, str) or not re.fullmatch(r"([0-9]+(ms|s|m|h|d|w|y))+",
                                                            pending):
            raise ValueError(f"pending must be a Prometheus duration such as '5m', got "
                             f"{pending!r}")
        if not isinstance(severity, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", severity):
            raise ValueError(f"severity must be a word such as 'ticket', got {severity!r}")
        if isinstance(min_rows, bool) or not isinstance(min_rows, (int, np.integer)) or \
                min_rows < 0:
            raise ValueError(f"min_rows must be a non-negative integer, got {min_rows!r}")
        n = self.name
        camel = "".join(p[:1].upper() + p[1:] for p in re.split(r"[_:]+", n) if p)
        guard = f" and on() max({n}_window_rows) >= {int(min_rows)}" if min_rows else ""
        labels = {"severity": severity, "monitor": n}
        rules = [AlertingRule(
            f"{camel}FeatureDrift", f"max by (column) ({n}_verdict) >= 2{guard}", for_=pending,
            labels=labels,
            annotations={"summary": "Feature {{ $labels.column }} drifted (monitor " + n + ")",
                         "description": "The drift verdict of column {{ $labels.column }} "
                                        f"has been drift for {pending}; see {n}_psi and "
                                        f"{n}_ks_pvalue."})]
        if table:
            rules.append(AlertingRule(
                f"{camel}TableDrift", f"max({n}_table_verdict) >= 2{guard}", for_=pending,
                labels=labels,
                annotations={"summary": f"The features of {n} drifted as a whole"}))
        return render_rule_file(
            [RuleGroup(f"drift-{n}", rules)], quote_names=True,
            header=["Generated by fastmlops.monitor.DriftMonitor.prometheus_rules"])

    def __repr__(self) -> str:
        return (f"DriftMonitor({self.name!r}, {self._m} columns, window={self.window:g}s, "
                f"bucket={self.bucket:g}s)")
