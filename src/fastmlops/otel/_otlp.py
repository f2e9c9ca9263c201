"""OTLP/HTTP metrics export of what a Prometheus scrape sees (see :mod:`fastmlops.otel`).

The exporter reads metrics through the collector protocol a scrape uses
(``registry.collect()``), so a :mod:`fastmlops.metrics` family arrives as
the sum over every worker process, exactly as ``/metrics`` shows it.  It
encodes an ``ExportMetricsServiceRequest`` with ``opentelemetry-proto`` (no
SDK) and POSTs it with :mod:`http.client`.
"""

from __future__ import annotations

import atexit
import gzip
import http.client
import logging
import math
import os
import socket
import threading
import time
import urllib.parse
import weakref
from types import ModuleType
from typing import TYPE_CHECKING, Any, Mapping, TypedDict

from fastmlops import __version__
from fastmlops.otel._deps import require
from fastmlops.telemetry.attributes import to_attributes

if TYPE_CHECKING:  # annotations only: the libraries are imported on first use
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.metrics.v1.metrics_pb2 import NumberDataPoint
    from prometheus_client.metrics_core import Metric as MetricFamily
    from prometheus_client.registry import Collector

    from fastmlops.telemetry.attributes import AttributeValue

__all__ = ["OTLPMetricExporter", "start_metrics_exporter"]

_log = logging.getLogger("fastmlops.otel")
_DEFAULT_REGISTRY: Any = object()
_DEFAULT_ENDPOINT = "http://localhost:4318/v1/metrics"
_CUMULATIVE = 2  # AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
_LOG_EVERY = 60.0  # seconds between two logged failures after the first


def _pb() -> tuple[ModuleType, ModuleType, ModuleType, ModuleType]:
    """The protobuf modules (ImportError naming the extra when missing)."""
    require("opentelemetry.proto.collector.metrics.v1.metrics_service_pb2",
            "OTLP metrics export")
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as service
    from opentelemetry.proto.common.v1 import common_pb2 as common
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as metrics
    from opentelemetry.proto.resource.v1 import resource_pb2 as resource
    return service, common, metrics, resource


def _env_headers() -> dict[str, str]:
    raw = (os.environ.get("OTEL_EXPORTER_OTLP_METRICS_HEADERS")
           or os.environ.get("OTEL_EXPORTER_OTLP_HEADERS") or "")
    out = {}
    for part in raw.split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            out[urllib.parse.unquote(k.strip())] = urllib.parse.unquote(v.strip())
    return out


def _env_endpoint() -> str:
    got = os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
    if got:
        return got
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if base:
        return base.rstrip("/") + "/v1/metrics"
    return _DEFAULT_ENDPOINT


def _env_resource() -> dict[str, str]:
    out: dict[str, str] = {}
    for part in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            if k.strip():
                out[urllib.parse.unquote(k.strip())] = urllib.parse.unquote(v.strip())
    name = os.environ.get("OTEL_SERVICE_NAME")
    if name:
        out["service.name"] = name
    return out


def _any_value(common: ModuleType, value: AttributeValue) -> AnyValue:
    if isinstance(value, bool):
        return common.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common.AnyValue(int_value=value)
    if isinstance(value, float):
        return common.AnyValue(double_value=value)
    if isinstance(value, tuple):
        return common.AnyValue(array_value=common.ArrayValue(
            values=[common.AnyValue() if v is None else _any_value(common, v) for v in value]))
    return common.AnyValue(string_value=str(value))


def _key_values(common: ModuleType, attrs: Mapping[str, AttributeValue]) -> list[KeyValue]:
    return [common.KeyValue(key=k, value=_any_value(common, v)) for k, v in attrs.items()]


def _labels_key(labels: Mapping[str, str], drop: str = "") -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k != drop))


class _Series:
    """Start times of cumulative series: the ``_created`` sample when the
    collector gives one, else when this exporter first saw the series
    (restarted when its value goes down: the counter was reset)."""

    def __init__(self) -> None:
        self._first: dict[tuple[str | tuple[str, str], ...], tuple[int, float]] = {}

    def start(self, key: tuple[str | tuple[str, str], ...], created: float | None, value: float,
              now_ns: int) -> int:
        if created is not None and math.isfinite(created) and created > 0:
            return int(created * 1e9)
        got = self._first.get(key)
        if got is None or value < got[1]:
            got = (now_ns, value)
        else:
            got = (got[0], value)
        self._first[key] = got
        return got[0]


def _families(source: Collector) -> list[MetricFamily]:
    return list(source.collect())


def encode(source: Collector, resource: Mapping[str, AttributeValue], series: _Series,
           now_ns: int | None = None) -> tuple[bytes, int]:
    """``(ExportMetricsServiceRequest bytes, number of data points)`` for
    everything ``source.collect()`` yields now."""
    service, common, pbm, pbr = _pb()
    now_ns = time.time_ns() if now_ns is None else now_ns
    metrics = []
    points = 0
    for fam in _families(source):
        kind = getattr(fam, "type", "unknown")
        name = fam.name
        desc = getattr(fam, "documentation", "") or ""
        unit = getattr(fam, "unit", "") or ""
        samples = list(fam.samples)
        if kind == "counter":
            created = {_labels_key(s.labels): s.value for s in samples
                       if s.name == name + "_created"}
            dps = []
            for s in samples:
                if s.name != name + "_total":
                    continue
                key = _labels_key(s.labels)
                start = series.start(("c", name) + key, created.get(key), s.value, now_ns)
                dps.append(pbm.NumberDataPoint(
                    attributes=_key_values(common, to_attributes(s.labels)),
                    start_time_unix_nano=start, time_unix_nano=now_ns, as_double=s.value))
            if dps:
                metrics.append(pbm.Metric(name=name, description=desc, unit=unit, sum=pbm.Sum(
                    data_points=dps, aggregation_temporality=_CUMULATIVE, is_monotonic=True)))
                points += len(dps)
        elif kind in ("histogram", "summary"):
            groups: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
            for s in samples:
                suffix = s.name[len(name):]
                drop = "le" if suffix == "_bucket" else "quantile" if suffix == "" else ""
                g = groups.setdefault(_labels_key(s.labels, drop),
                                      {"buckets": [], "quantiles": [], "labels": s.labels})
                if suffix == "_bucket":
                    g["buckets"].append((float(s.labels["le"]), s.value))
                elif suffix == "" and "quantile" in s.labels:
                    g["quantiles"].append((float(s.labels["quantile"]), s.value))
                elif suffix in ("_count", "_sum", "_created"):
                    g[suffix] = s.value
                    g["labels"] = s.labels
            dps = []
            for key, g in groups.items():
                attrs = _key_values(common, to_attributes(
                    {k: v for k, v in g["labels"].items() if k not in ("le", "quantile")}))
                count = g.get("_count")
                if kind == "histogram":
                    buckets = sorted(g["buckets"])
                    cum = [c for _, c in buckets]
                    if count is None:
                        count = cum[-1] if cum else 0.0
                    start = series.start(("h", name) + key, g.get("_created"), count, now_ns)
                    bounds = [b for b, _ in buckets if b != math.inf]
                    counts = [int(round(c - p)) for c, p in zip(cum, [0.0] + cum[:-1])]
                    if not buckets or buckets[-1][0] != math.inf:
                        counts.append(int(round(count - (cum[-1] if cum else 0.0))))
                    dp = pbm.HistogramDataPoint(
                        attributes=attrs, start_time_unix_nano=start, time_unix_nano=now_ns,
                        count=int(round(count)), bucket_counts=counts, explicit_bounds=bounds)
                    if "_sum" in g:
                        dp.sum = g["_sum"]
                else:
                    count = 0.0 if count is None else count
                    start = series.start(("s", name) + key, g.get("_created"), count, now_ns)
                    dp = pbm.SummaryDataPoint(
                        attributes=attrs, start_time_unix_nano=start, time_unix_nano=now_ns,
                        count=int(round(count)), sum=g.get("_sum", 0.0),
                        quantile_values=[pbm.SummaryDataPoint.ValueAtQuantile(
                            quantile=q, value=v) for q, v in sorted(g["quantiles"])])
                dps.append(dp)
            if dps:
                if kind == "histogram":
                    metrics.append(pbm.Metric(name=name, description=desc, unit=unit,
                                              histogram=pbm.Histogram(
                                                  data_points=dps,
                                                  aggregation_temporality=_CUMULATIVE)))
                else:
                    metrics.append(pbm.Metric(name=name, description=desc, unit=unit,
                                              summary=pbm.Summary(data_points=dps)))
                points += len(dps)
        else:  # gauge, info, stateset, unknown, gaugehistogram: each sample a gauge point
            by_name: dict[str, list[NumberDataPoint]] = {}
            for s in samples:
                by_name.setdefault(s.name, []).append(pbm.NumberDataPoint(
                    attributes=_key_values(common, to_attributes(s.labels)),
                    time_unix_nano=now_ns, as_double=s.value))
            for sample_name, dps in by_name.items():
                metrics.append(pbm.Metric(name=sample_name, description=desc,
                                          unit=unit if sample_name == name else "",
                                          gauge=pbm.Gauge(data_points=dps)))
                points += len(dps)
    request = service.ExportMetricsServiceRequest(resource_metrics=[pbm.ResourceMetrics(
        resource=pbr.Resource(attributes=_key_values(common, resource)),
        scope_metrics=[pbm.ScopeMetrics(
            scope=common.InstrumentationScope(name="fastmlops", version=__version__),
            metrics=metrics)])])
    return request.SerializeToString(), points


class ExportStats(TypedDict):
    """``OTLPMetricExporter.stats``: counts since the start, the last error and success."""

    exports: int
    failures: int
    dropped_points: int
    rejected_points: int
    skipped_not_leader: int
    skipped_busy: int
    last_error: str | None
    last_success: float | None


_LIVE: "weakref.WeakSet[OTLPMetricExporter]" = weakref.WeakSet()


def _after_fork_child() -> None:
    for exp in list(_LIVE):
        exp._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_child)


class OTLPMetricExporter:
    """Send every metric a scrape would show to an OTLP/HTTP endpoint, on an interval.

    Run it in **one** process: a gunicorn master (``when_ready``), a sidecar
    reading a metrics directory through :class:`fastmlops.metrics.DirectoryCollector`,
    or every worker with ``lock_file=`` (only the holder of the lock exports;
    when it dies another takes over).  Values are read as a scrape reads
    them, so a :mod:`fastmlops.metrics` family is the sum over every worker
    process, once.  (OpenTelemetry's SDK, run in each worker, would send one
    stream per worker with the same attributes, which backends overwrite
    instead of adding.)

    What is sent: counters as monotonic cumulative sums, histograms as
    cumulative explicit-bucket histograms (bounds without ``+Inf``), summaries
    as summaries, gauges and every other family (info, stateset, unknown,
    gauge histogram) as gauges, one metric per sample name.  Metric names are
    the family names (``requests`` for ``requests_total``), labels become
    attributes.  Start times are the series' ``_created`` samples (for
    :mod:`fastmlops.metrics`: when the series was first written by any
    process), else when this exporter first saw the series (restarted if
    its value went down).  Resource: ``service.name`` (``OTEL_SERVICE_NAME``,
    else ``unknown_service:python``), ``telemetry.sdk.*`` naming fastmlops,
    then ``OTEL_RESOURCE_ATTRIBUTES``, then ``resource=``.

    Faults never reach the application: the exporter runs on its own daemon
    thread, each request has a ``timeout``, and nothing is queued: every
    export carries the whole cumulative state, so an export that fails
    (collector down, slow, or answering an error) is dropped, counted in
    :attr:`stats` and logged (the first failure, then at most once a minute
    while failures go on), and the next one makes up for it.

    Parameters
    ----------
    endpoint : str, optional
        The full URL (``http://host:4318/v1/metrics``); default
        ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``, else
        ``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/metrics``, else localhost:4318.
    registry : object with ``collect()``, optional
        What to export: prometheus_client's default ``REGISTRY`` by default;
        any ``CollectorRegistry``, a ``DirectoryCollector`` or one metric.
    interval : float
        Seconds between exports (default 60).
    timeout : float
        Seconds one request may take (default 10, at most ``interval``).
    headers : dict, optional
        HTTP headers (e.g. authentication); default ``OTEL_EXPORTER_OTLP_HEADERS``.
    resource : dict, optional
        Resource attributes, converted by :func:`fastmlops.otel.to_attributes`.
    compression : {None, "gzip"}
        Request body compression.
    lock_file : str or path, optional
        Export only while holding an exclusive ``flock`` on this file.

    Examples
    --------
    >>> from fastmlops.otel import OTLPMetricExporter
    >>> from prometheus_client import CollectorRegistry
    >>> exporter = OTLPMetricExporter("http://127.0.0.1:9/v1/metrics",
    ...                               registry=CollectorRegistry(), interval=15)
    >>> exporter.interval, exporter.stats["exports"]
    (15.0, 0)
    """

    def __init__(self, endpoint: str | None = None, *, registry: Collector = _DEFAULT_REGISTRY,
                 interval: float = 60.0, timeout: float = 10.0,
                 headers: Mapping[str, str] | None = None,
                 resource: Mapping[str, Any] | None = None, compression: str | None = None,
                 lock_file: str | os.PathLike[str] | None = None) -> None:
        _pb()  # the ImportError naming the extra, now rather than on the thread
        endpoint = _env_endpoint() if endpoint is None else endpoint
        if not isinstance(endpoint, str):
            raise TypeError(f"endpoint must be a URL string, got {endpoint!r}")
        url = urllib.parse.urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"endpoint must be an http(s) URL such as "
                             f"'http://localhost:4318/v1/metrics', got {endpoint!r}")
        self.endpoint = endpoint
        self._url = url
        self._host: str = url.hostname
        if registry is _DEFAULT_REGISTRY:
            try:
                from prometheus_client import REGISTRY as registry
            except ImportError:
                raise ImportError("OTLPMetricExporter reads prometheus_client's default "
                                  "registry: pip install prometheus_client, or pass "
                                  "registry=") from None
        if not callable(getattr(registry, "collect", None)):
            raise TypeError(f"registry must have collect() (a CollectorRegistry, a "
                            f"DirectoryCollector or a metric), got {registry!r}")
        self.registry = registry
        self.interval = self._seconds(interval, "interval")
        self.timeout = min(self._seconds(timeout, "timeout"), self.interval)
        if compression not in (None, "gzip"):
            raise ValueError(f"compression must be None or 'gzip', got {compression!r}")
        self.compression = compression
        hdrs = _env_headers() if headers is None else dict(headers)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in hdrs.items()):
            raise TypeError("headers must map str to str")
        self.headers = hdrs
        attrs: dict[str, Any] = {"service.name": "unknown_service:python",
                                 "telemetry.sdk.name": "fastmlops",
                                 "telemetry.sdk.language": "python",
                                 "telemetry.sdk.version": __version__}
        attrs.update(_env_resource())
        if resource is not None:
            if not isinstance(resource, Mapping):
                raise TypeError(f"resource must be a dict of attributes, got {resource!r}")
            attrs.update(resource)
        self.resource = to_attributes(attrs)
        self.lock_file = None if lock_file is None else os.fspath(lock_file)
        self._lock_fd: int | None = None
        self._series = _Series()
        self._export_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._last_log = -math.inf
        self._failing = False
        self.stats: ExportStats = {"exports": 0, "failures": 0, "dropped_points": 0,
                                   "rejected_points": 0, "skipped_not_leader": 0,
                                   "skipped_busy": 0, "last_error": None, "last_success": None}
        _LIVE.add(self)

    @staticmethod
    def _seconds(value: float, name: str) -> float:
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a number of seconds, got {value!r}") from None
        if not (x > 0 and math.isfinite(x)):
            raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        return x

    # -- lifecycle
    def start(self) -> "OTLPMetricExporter":
        """Export every ``interval`` seconds on a daemon thread (and once more
        at interpreter exit); returns self.  Starting twice does nothing."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._pid = os.getpid()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="fastmlops-otlp-metrics",
                                        daemon=True)
        self._thread.start()
        atexit.register(self._at_exit)
        return self

    def shutdown(self, final_export: bool = True, timeout: float | None = None) -> None:
        """Stop the thread, then export once more if ``final_export``;
        release the lock.  Returns within ``timeout`` seconds (default: the
        request timeout) plus a few milliseconds, whatever the collector
        does: an export in flight ends by its own deadline, and the final
        export is skipped (counted in ``stats["skipped_busy"]``) if the one in
        flight has not ended by then."""
        limit = self.timeout if timeout is None else self._seconds(timeout, "timeout")
        deadline = time.monotonic() + limit
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(limit)
        self._thread = None
        atexit.unregister(self._at_exit)
        if final_export and os.getpid() == self._pid:
            self.export_once(_deadline=deadline)
        self._release()

    def _at_exit(self) -> None:
        if os.getpid() == self._pid:
            self.shutdown(final_export=True)

    def _forked(self) -> None:
        """In a forked child: the parent's exporter is not this process's."""
        self._thread = None
        self._stop.set()
        self._export_lock = threading.Lock()
        if self._lock_fd is not None:  # the parent's lock must die with the parent
            try:
                os.close(self._lock_fd)
            except OSError:  # pragma: no cover
                pass
            self._lock_fd = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.export_once()
            except Exception:  # noqa: BLE001 - the thread must live on
                _log.exception("fastmlops.otel: metrics export failed")

    # -- leader lock
    def _leader(self) -> bool:
        if self.lock_file is None:
            return True
        if self._lock_fd is not None:
            return True
        import fcntl
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def _release(self) -> None:
        if self._lock_fd is not None:
            try:
                os.close(self._lock_fd)  # closing releases the flock
            except OSError:  # pragma: no cover
                pass
            self._lock_fd = None

    # -- one export
    def export_once(self, *, _deadline: float | None = None) -> bool:
        """Collect and send now; True if the endpoint accepted the request.

        False (never an exception) when the export failed or was skipped: in
        a forked child of the process that made this exporter, or without the
        ``lock_file`` lock.  Failures are counted in :attr:`stats` and logged.
        """
        if os.getpid() != self._pid:
            return False
        wait = -1.0 if _deadline is None else max(_deadline - time.monotonic(), 0.0)
        if not self._export_lock.acquire(timeout=wait):
            self.stats["skipped_busy"] += 1
            return False
        try:
            return self._export_locked(_deadline)
        finally:
            self._export_lock.release()

    def _export_locked(self, deadline: float | None) -> bool:
        try:
            if not self._leader():
                self.stats["skipped_not_leader"] += 1
                return False
        except OSError as exc:
            return self._failed(f"lock file {self.lock_file!r}: {exc}", 0)
        try:
            body, points = encode(self.registry, self.resource, self._series)
        except Exception as exc:  # noqa: BLE001 - a broken collector
            _log.exception("fastmlops.otel: collecting metrics for OTLP failed")
            return self._failed(f"collect: {exc!r}", 0, logged=True)
        return self._send(body, points, deadline)

    def _send(self, body: bytes, points: int, deadline: float | None = None) -> bool:
        """POST ``body``; the whole request (connect, send, the answer) ends
        by ``min(deadline, now + timeout)``: a socket timeout alone bounds one
        read, and a collector that sends a byte now and then would hold the
        export (and the exit, which waits for it) for ever."""
        headers = {"Content-Type": "application/x-protobuf",
                   "User-Agent": f"fastmlops/{__version__}", **self.headers}
        if self.compression == "gzip":
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        url = self._url
        conn_cls = (http.client.HTTPSConnection if url.scheme == "https"
                    else http.client.HTTPConnection)
        path = url.path or "/v1/metrics"
        if url.query:
            path += "?" + url.query
        now = time.monotonic()
        deadline = min(deadline if deadline is not None else math.inf, now + self.timeout)
        remaining = max(deadline - now, 0.001)
        expired = threading.Event()
        conn = conn_cls(self._host, url.port, timeout=remaining)

        def abort() -> None:  # at the deadline: end the reads, whatever arrives
            expired.set()
            sock = conn.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(remaining, abort)
        timer.daemon = True
        timer.start()
        try:
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
            finally:
                timer.cancel()
                conn.close()
            if expired.is_set():
                raise TimeoutError(f"no complete answer within {self.timeout:g} s")
        except (OSError, http.client.HTTPException) as exc:
            if expired.is_set() and not isinstance(exc, TimeoutError):
                exc = TimeoutError(f"no complete answer within {self.timeout:g} s")
            return self._failed(f"{type(exc).__name__}: {exc}", points)
        if not 200 <= resp.status < 300:
            text = payload[:200].decode("utf-8", "replace")
            return self._failed(f"HTTP {resp.status} {resp.reason}: {text}", points)
        self._partial(payload)
        self.stats["exports"] += 1
        self.stats["last_success"] = time.time()
        if self._failing:
            _log.warning("fastmlops.otel: metrics export to %s works again", self.endpoint)
            self._failing = False
        return True

    def _partial(self, payload: bytes) -> None:
        if not payload:
            return
        service = _pb()[0]
        try:
            resp = service.ExportMetricsServiceResponse.FromString(payload)
        except Exception:  # noqa: BLE001 - a body that is not the protobuf answer
            return
        rejected = resp.partial_success.rejected_data_points
        if rejected:
            self.stats["rejected_points"] += rejected
            _log.warning("fastmlops.otel: %s rejected %d data points: %s", self.endpoint,
                         rejected, resp.partial_success.error_message)

    def _failed(self, error: str, points: int, logged: bool = False) -> bool:
        self.stats["failures"] += 1
        self.stats["dropped_points"] += points
        self.stats["last_error"] = error
        now = time.monotonic()
        if not logged and (not self._failing or now - self._last_log >= _LOG_EVERY):
            _log.warning("fastmlops.otel: metrics export to %s failed (%s); dropped, the "
                         "next export carries the totals (%d failures so far)",
                         self.endpoint, error, self.stats["failures"])
            self._last_log = now
        self._failing = True
        return False

    def __repr__(self) -> str:
        return (f"OTLPMetricExporter({self.endpoint!r}, interval={self.interval}, "
                f"running={self._thread is not None and self._thread.is_alive()})")


def start_metrics_exporter(endpoint: str | None = None, **kwargs: Any) -> OTLPMetricExporter:
    """:class:`OTLPMetricExporter` ``(endpoint, **kwargs)``, started.

    Examples
    --------
    >>> from fastmlops.otel import start_metrics_exporter
    >>> from prometheus_client import CollectorRegistry
    >>> exporter = start_metrics_exporter("http://127.0.0.1:9/v1/metrics",
    ...                                   registry=CollectorRegistry(), interval=60)
    >>> exporter.shutdown(final_export=False)
    """
    return OTLPMetricExporter(endpoint, **kwargs).start()

