"""Counter and Histogram of :mod:`fastmlops.metrics` and their children (one
label set each); the Gauge is in ``_gauge``."""

from __future__ import annotations

import logging
import math
import time
from bisect import bisect_left
from itertools import accumulate, repeat
from typing import TYPE_CHECKING, Callable, Iterable, Sequence, TypedDict

import numpy as np

from fastmlops.metrics._base import (
    Child,
    ExceptionCounter,
    ExceptionTypes,
    Metric,
    Timer,
    as_values,
    child_value,
    drain,
    exemplar_payload,
    exemplar_sample,
    float_text,
    full_name,
    use_created,
)
from fastmlops.metrics._mapfile import skip_refused
from fastmlops.metrics.exposition import DEFAULT_REGISTRY, prometheus_parts
from fastmlops.metrics.segment import DEFAULT_BUCKETS, INF, PARALLEL_MIN

if TYPE_CHECKING:  # annotations only: prometheus_client is imported on first use
    import os

    from numpy.typing import ArrayLike
    from prometheus_client.metrics_core import (CounterMetricFamily, HistogramMetricFamily,
                                                Metric as MetricFamily)
    from prometheus_client.registry import CollectorRegistry

_log = logging.getLogger("fastmlops.metrics")


class CounterChild(Child):
    __slots__ = ("_buf", "_row", "_state", "_metric", "_key", "_detached", "_exemplar",
                 "__weakref__")

    def __init__(self, metric: Counter, key: tuple[str, ...], row: int) -> None:
        self._buf: list[float] = []
        self._metric = metric
        self._key = key
        self._row = row
        self._state = 0
        self._detached = False
        self._exemplar: tuple[bytes, float, float] | None = None

    def value(self) -> float:
        """This label set's total over all processes."""
        return child_value(self._metric, self._key)

    def inc(self, amount: float = 1, exemplar: dict[str, str] | None = None) -> None:
        """Add ``amount`` (default 1; must be >= 0); ``exemplar``: labels (a
        trace id...) shown with the counter in the OpenMetrics exposition."""
        # the hot path: one comparison (False for NaN and negatives, TypeError
        # for non-numbers) and one append, inlined on purpose
        try:
            if amount >= 0 and exemplar is None:
                self._buf.append(amount)
                return
        except (TypeError, ValueError):  # ValueError: an array of several values
            raise TypeError(f"Counter.inc() needs a real number, got "
                            f"{type(amount).__name__}") from None
        if not amount >= 0:
            raise ValueError(f"counters only go up: inc() needs an amount >= 0, got "
                             f"{amount!r}")
        payload = exemplar_payload(exemplar) if exemplar else None
        self._buf.append(amount)
        if payload is not None:
            self._exemplar = (payload, float(amount), time.time())

    def count_exceptions(self, exception: ExceptionTypes = Exception) -> ExceptionCounter:
        """Context manager and decorator: count the exceptions of type
        ``exception`` raised in the block (they still propagate)."""
        return ExceptionCounter(self, exception)

    def _flush(self) -> None:
        values = drain(self._buf, self._metric._name)
        if values is not None:
            self._write(np.array([np.sum(values)]))
        ex = self._exemplar
        if ex is not None and not self._detached:
            self._exemplar = None
            self._metric._segment.write_exemplar(self._row, self._state, 0, *ex)

    def _reset(self) -> None:
        del self._buf[:]
        self._exemplar = None


class Counter(Metric["CounterChild", float]):
    """A monotonic counter (prometheus_client's ``Counter`` API).

    ``inc(amount=1)`` costs one list append; see the module documentation
    for how values reach other processes.  A trailing ``_total`` is removed
    from ``name`` and added back in the exposition, as prometheus_client does.
    ``value()`` returns the total over all processes (flushing this one first).
    """

    _kind = "counter"

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = (),
                 namespace: str = "", subsystem: str = "", unit: str = "",
                 registry: CollectorRegistry | None = DEFAULT_REGISTRY, *, max_series: int = 512,
                 max_processes: int = 256, directory: str | os.PathLike[str] | None = None,
                 _read_only: bool = False) -> None:
        full = full_name(name, namespace, subsystem, unit, counter=True)
        super().__init__(full, documentation, labelnames, namespace, subsystem, unit,
                         registry, 1, (), max_series, max_processes, directory,
                         read_only=_read_only)

    def _make_child(self, key: tuple[str, ...], row: int) -> CounterChild:
        return CounterChild(self, key, row)

    def _present(self, row: np.ndarray) -> float:
        return float(row[0])

    def _bind(self, child: CounterChild) -> None:
        # no labels: the child's bound methods, one lookup less per call
        self.inc = child.inc  # type: ignore[method-assign]
        self.count_exceptions = child.count_exceptions  # type: ignore[method-assign]

    def inc(self, amount: float = 1, exemplar: dict[str, str] | None = None) -> None:
        """Add ``amount`` (>= 0); needs ``.labels(...)`` first if the counter has labels."""
        self._no_labels()

    def count_exceptions(self, exception: ExceptionTypes = Exception) -> ExceptionCounter:
        """Count exceptions raised in a block or function; on a labelled counter,
        call ``.labels(...)`` on what it returns, inside the block."""
        return ExceptionCounter(self, exception)

    def value(self) -> float:
        """Total over all processes (no labels); use ``.labels(...).value()`` otherwise."""
        if self._labelnames:
            self._no_labels()
        return child_value(self, ())

    def _family(self) -> CounterMetricFamily:
        CounterMetricFamily = prometheus_parts().CounterMetricFamily
        return CounterMetricFamily(self._name, self._documentation, labels=self._labelnames,
                                   unit=self._unit)

    @skip_refused  # a file truncated under the mapping: left out, never a crash
    def collect(self) -> list[MetricFamily]:
        family = self._family()
        created = use_created()
        seg = self._segment
        for key, ts, row, index in self._rows():
            ex = seg.exemplars(index)
            family.add_metric(list(key), float(row[0]), created=ts if created else None,
                              exemplar=exemplar_sample(ex[0]) if ex else None)
        return [family]


class HistogramChild(Child):
    __slots__ = ("_buf", "_metric", "_key", "_row", "_state", "_detached", "_exemplars",
                 "__weakref__")
    _metric: Histogram

    def __init__(self, metric: Histogram, key: tuple[str, ...], row: int) -> None:
        self._buf: list[float] = []
        self._metric = metric
        self._key = key
        self._row = row
        self._state = 0
        self._detached = False
        self._exemplars: dict[int, tuple[bytes, float, float]] = {}

    def value(self) -> HistogramValue:
        """This label set's cumulative buckets, count and sum over all processes."""
        return child_value(self._metric, self._key)

    def observe(self, value: float, exemplar: dict[str, str] | None = None) -> None:
        """Record one value (any real number but NaN); ``exemplar``: labels (a
        trace id...) shown with the value's bucket in the OpenMetrics exposition."""
        # the hot path, inlined on purpose (see CounterChild.inc); 1e999 is
        # +inf as a constant, which saves a global lookup per call
        try:
            if value <= 1e999 and exemplar is None:
                self._buf.append(value)
                return
        except (TypeError, ValueError):  # ValueError: an array of several values
            raise TypeError(f"Histogram.observe() needs a real number, got "
                            f"{type(value).__name__}; for an array use observe_many()") from None
        if not value <= 1e999:
            raise ValueError(f"cannot observe {value!r}: a histogram takes real numbers, "
                             "not NaN")
        payload = exemplar_payload(exemplar) if exemplar else None
        self._buf.append(value)
        if payload is not None:
            v = float(value)
            self._exemplars[bisect_left(self._metric._upper, v)] = (payload, v, time.time())

    def observe_many(self, values: ArrayLike) -> None:
        """Record every value of an array-like at once (about 3 ns per value; an
        N-D array counts all its values, a scalar is refused: use observe())."""
        self._metric._add_array(self, as_values(values))

    def time(self) -> Timer:
        """Context manager and decorator observing the elapsed seconds."""
        return Timer(self, "observe")

    def _flush(self) -> None:
        values = drain(self._buf, self._metric._name)
        if values is not None:
            self._metric._add_array(self, values, checked=True)
        if self._exemplars and not self._detached:
            pending, self._exemplars = self._exemplars, {}
            seg = self._metric._segment
            for bucket, ex in pending.items():
                seg.write_exemplar(self._row, self._state, bucket, *ex)

    def _reset(self) -> None:
        del self._buf[:]
        self._exemplars = {}


class HistogramValue(TypedDict):
    """A histogram's ``value()``: cumulative count by upper bound, count and sum."""

    buckets: dict[float, float]
    count: float
    sum: float


def _check_buckets(buckets: Sequence[float]) -> tuple[float, ...]:
    if isinstance(buckets, (str, bytes)):
        raise TypeError("buckets must be a sequence of numbers")
    try:
        bounds = [float(b) for b in buckets]
    except (TypeError, ValueError):
        raise TypeError(f"buckets must be numbers, got {buckets!r}") from None
    if any(math.isnan(b) for b in bounds):
        raise ValueError("buckets must not contain NaN")
    if bounds and bounds[-1] != INF:
        bounds.append(INF)
    if bounds != sorted(bounds):
        raise ValueError(f"buckets must be in increasing order, got {buckets!r}")
    if len(bounds) != len(set(bounds)):
        raise ValueError(f"buckets must not repeat a bound, got {buckets!r}")
    if len(bounds) < 2:
        raise ValueError("a histogram needs at least one finite bucket besides +Inf")
    return tuple(bounds)


class Histogram(Metric["HistogramChild", HistogramValue]):
    """A histogram of observations (prometheus_client's ``Histogram`` API).

    Buckets are validated as prometheus_client does (numbers in increasing
    order; ``+Inf`` is appended when missing; at least one finite bound) and
    default to its ``DEFAULT_BUCKETS``.  ``observe(value)`` costs one
    comparison and one list append; ``observe_many(values)`` bins a numpy
    array in a kernel.  ``value()`` returns ``{"buckets": cumulative counts,
    "count", "sum"}`` over all processes.
    """

    _kind = "histogram"
    _reserved = ("le",)
    DEFAULT_BUCKETS = DEFAULT_BUCKETS

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = (),
                 namespace: str = "", subsystem: str = "", unit: str = "",
                 registry: CollectorRegistry | None = DEFAULT_REGISTRY,
                 buckets: Sequence[float] = DEFAULT_BUCKETS, *, max_series: int = 512,
                 max_processes: int = 256, directory: str | os.PathLike[str] | None = None,
                 _read_only: bool = False) -> None:
        full = full_name(name, namespace, subsystem, unit)
        self._upper = _check_buckets(buckets)
        finite = np.array(self._upper[:-1], dtype=np.float64)
        self._nb = len(finite)
        if self._nb <= 16:
            self._bounds = np.full(16, INF)
        else:
            self._bounds = finite.copy()
        self._bounds[:self._nb] = finite
        self._le = [float_text(b) for b in self._upper] if _has_prometheus() else \
            [repr(b) for b in self._upper]
        self._labels: dict[tuple[str, ...], tuple[dict[str, str], list[dict[str, str]]]] = {}
        super().__init__(full, documentation, labelnames, namespace, subsystem, unit,
                         registry, self._nb + 2, self._upper, max_series, max_processes,
                         directory, {"buckets": [_bound_json(b) for b in self._upper]},
                         read_only=_read_only)

    def _make_child(self, key: tuple[str, ...], row: int) -> HistogramChild:
        return HistogramChild(self, key, row)

    def _bind(self, child: HistogramChild) -> None:
        # no labels: the child's bound methods, one lookup less per call
        self.observe = child.observe  # type: ignore[method-assign]
        self.observe_many = child.observe_many  # type: ignore[method-assign]
        self.time = child.time  # type: ignore[method-assign]

    def observe(self, value: float, exemplar: dict[str, str] | None = None) -> None:
        """Record one value; needs ``.labels(...)`` first if the histogram has labels."""
        self._no_labels()

    def observe_many(self, values: ArrayLike) -> None:
        """Record an array of values; needs ``.labels(...)`` first if labelled."""
        self._no_labels()

    def time(self) -> Timer:
        """Time a block or function; on a labelled histogram, call
        ``.labels(...)`` on what it returns, inside the block."""
        return Timer(self, "observe")

    def _add_array(self, child: HistogramChild, values: np.ndarray, checked: bool = False) -> None:
        from fastmlops._kernels import metrics as k
        delta = np.zeros(self._nb + 2)
        if values.size == 0:
            return
        with np.errstate(over="ignore", invalid="ignore"):  # inf sums are legitimate
            total = float(np.sum(values))
        if math.isnan(total):
            bad = np.flatnonzero(np.isnan(values))
            if bad.size:
                if checked:  # pragma: no cover - observe() rejects NaN
                    values = values[~np.isnan(values)]
                else:
                    raise ValueError(f"observe_many(): values[{bad[0]}] is NaN; a histogram "
                                     "takes real numbers (drop or impute NaN first)")
        count = k.bucket_counts16 if self._nb <= 16 else k.bucket_counts_search
        if values.size < PARALLEL_MIN:
            count(values, self._bounds, delta)
        else:  # large arrays: the kernel releases the GIL, so chunks run on all cores
            from fastmlops._core.parallel import chunk_bounds, n_workers, parallel_map

            def part(bounds: tuple[int, int]) -> np.ndarray:
                out = np.zeros(self._nb + 2)
                count(values[bounds[0]:bounds[1]], self._bounds, out)
                return out

            for out in parallel_map(part, chunk_bounds(values.size, n_workers(),
                                                       PARALLEL_MIN // 2)):
                delta += out
        delta[self._nb + 1] = total
        child._write(delta)

    def _forget(self, match: Callable[[tuple[str, ...]], bool]) -> None:
        for key in [k for k in self._labels if match(k)]:
            del self._labels[key]

    def _present(self, row: np.ndarray) -> HistogramValue:
        cumulative = np.cumsum(row[:self._nb + 1])
        return {"buckets": dict(zip(self._upper, cumulative.tolist())),
                "count": float(cumulative[-1]), "sum": float(row[self._nb + 1])}

    def value(self) -> HistogramValue:
        """Buckets (cumulative), count and sum over all processes (no labels)."""
        if self._labelnames:
            self._no_labels()
        return child_value(self, ())

    def _family(self) -> HistogramMetricFamily:
        HistogramMetricFamily = prometheus_parts().HistogramMetricFamily
        return HistogramMetricFamily(self._name, self._documentation,
                                     labels=self._labelnames, unit=self._unit)

    @skip_refused  # a file truncated under the mapping: left out, never a crash
    def collect(self) -> list[MetricFamily]:
        # The samples prometheus_client's own Histogram yields, in its order
        # (_bucket..., _count, _sum unless a bucket bound is negative,
        # _created), built directly: HistogramMetricFamily.add_metric would
        # cost several times our whole read of shared memory.
        pc = prometheus_parts()
        Sample = pc.Sample
        rest = pc.sample_rest
        family = self._family()
        samples = family.samples
        created = use_created()
        bucket, count, total, born = (self._name + s for s in ("_bucket", "_count", "_sum",
                                                                "_created"))
        with_sum = self._upper[0] >= 0
        nb = self._nb
        seg = self._segment
        for key, ts, row, index in self._rows():
            labels = self._labels.get(key)
            if labels is None:
                base = list(zip(self._labelnames, key))
                labels = (dict(base), [dict(base + [("le", le)]) for le in self._le])
                self._labels[key] = labels
            cumulative = list(accumulate(row[:nb + 1].tolist()))  # np.cumsum's order
            ex = seg.exemplars(index)
            if ex is not None and any(e is not None for e in ex):
                for le_labels, value, e in zip(labels[1], cumulative, ex):
                    samples.append(Sample(bucket, le_labels, value, None, exemplar_sample(e)))
            elif rest >= 0:
                samples.extend(map(tuple.__new__, repeat(Sample),
                                   zip(repeat(bucket), labels[1], cumulative,
                                       *([repeat(None)] * rest))))
            else:  # pragma: no cover - a prometheus_client with other Sample fields
                for le_labels, value in zip(labels[1], cumulative):
                    samples.append(Sample(bucket, le_labels, value))
            samples.append(Sample(count, labels[0], cumulative[-1]))
            if with_sum:
                samples.append(Sample(total, labels[0], float(row[nb + 1])))
            if created:
                samples.append(Sample(born, labels[0], ts))
        return [family]


def _bound_json(b: float) -> float | str:
    return "+Inf" if b == INF else b


def _has_prometheus() -> bool:
    try:
        import prometheus_client  # noqa: F401
    except ImportError:  # pragma: no cover
        return False
    return True


# -- gauge
