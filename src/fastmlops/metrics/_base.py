"""Shared parts of :mod:`fastmlops.metrics`' Counter, Gauge and Histogram:
argument checks, label handling (with prometheus_client's errors), removal
of label sets, buffers, and the context managers / decorators behind
``time()``, ``count_exceptions()`` and ``track_inprogress()``."""

from __future__ import annotations

import functools
import inspect
import json
import keyword
import logging
import math
import re
import threading
import time
import weakref
from typing import (TYPE_CHECKING, Any, Callable, Generic, Iterable, Iterator, Literal, NoReturn,
                    Sequence, TypeVar, cast)

import numpy as np

from fastmlops._core import flush as core_flush
from fastmlops._core.validation import as_numeric_array
from fastmlops.metrics.exposition import prometheus_parts, resolve_registry, warm_metrics
from fastmlops.metrics.segment import (
    EX_PAYLOAD,
    encode_definition,
    layout_hash,
    resolve_directory,
    segment_for,
)

if TYPE_CHECKING:  # annotations only: prometheus_client is imported on first use
    import os
    from contextlib import AbstractContextManager
    from types import TracebackType

    from numpy.typing import ArrayLike
    from prometheus_client.metrics_core import Metric as MetricFamily
    from prometheus_client.registry import CollectorRegistry
    from prometheus_client.samples import Exemplar

    from fastmlops.metrics._gauge import Gauge, GaugeChild
    from fastmlops.metrics._types import Counter, CounterChild, Histogram, HistogramChild

_log = logging.getLogger("fastmlops.metrics")
ChildT = TypeVar("ChildT", bound="Child")
ValueT = TypeVar("ValueT")
F = TypeVar("F", bound=Callable[..., Any])
ExceptionTypes = type[BaseException] | tuple[type[BaseException], ...]  # count_exceptions()

# ---------------------------------------------------------------- helpers ----

_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def full_name(name: str, namespace: str, subsystem: str, unit: str,
              counter: bool = False) -> str:
    if not isinstance(name, str):
        raise TypeError(f"metric name must be a str, got {type(name).__name__}")
    full = "_".join(part for part in (namespace, subsystem, name) if part)
    if counter and full.endswith("_total"):  # before the unit, as prometheus_client
        full = full[:-6]
    if unit and not full.endswith("_" + unit):
        full += "_" + unit
    if not _NAME_RE.match(full):
        raise ValueError(f"invalid metric name {full!r}: use letters, digits, '_' and ':', "
                         "not starting with a digit")
    return full


def _label_names(labelnames: Iterable[str], reserved: Iterable[str] = ()) -> tuple[str, ...]:
    if isinstance(labelnames, str):
        raise TypeError("labelnames must be a sequence of str, e.g. ('route',), not a str")
    names = tuple(labelnames)
    for label in names:
        if not isinstance(label, str) or not _LABEL_RE.match(label):
            raise ValueError(f"invalid label name {label!r}: use letters, digits and '_', "
                             "not starting with a digit")
        if label.startswith("__"):
            raise ValueError(f"label name {label!r} is reserved (starts with '__')")
        if label in reserved:
            raise ValueError(f"label name {label!r} is reserved for this metric type")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate label names in {names!r}")
    return names


def _positive_int(value: int, name: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or \
            not 1 <= value <= high:
        raise ValueError(f"{name} must be an integer in [1, {high}], got {value!r}")
    return int(value)


def float_text(x: float) -> str:
    from prometheus_client.utils import floatToGoString
    return floatToGoString(x)


def use_created() -> bool:
    try:
        pc = prometheus_parts()
    except ImportError:  # pragma: no cover
        return True
    return bool(getattr(pc.metrics, "_use_created", True))


# ---------------------------------------------------------------- metrics ----

class Metric(Generic[ChildT, ValueT]):
    """Shared parts of Counter, Gauge and Histogram (a prometheus_client Collector):
    ``ChildT`` is the class of their children, ``ValueT`` what ``value()`` returns."""

    _kind = ""
    _reserved: tuple[str, ...] = ()

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str], namespace: str,
                 subsystem: str, unit: str, registry: CollectorRegistry | None, width: int,
                 extra: Sequence[object], max_series: int, max_processes: int,
                 directory: str | os.PathLike[str] | None,
                 definition: dict[str, Any] | None = None, read_only: bool = False) -> None:
        if not isinstance(documentation, str):
            raise TypeError(f"documentation must be a str, got {type(documentation).__name__}")
        self._name = name
        self._documentation = documentation
        self._unit = unit
        self._labelnames = _label_names(labelnames, self._reserved)
        self._max_series = _positive_int(max_series, "max_series", 1 << 20)
        self._max_processes = _positive_int(max_processes, "max_processes", 1 << 16)
        digest = layout_hash(name, self._kind, [self._labelnames, *extra])
        meta = encode_definition(name, self._kind, documentation, self._labelnames, unit,
                                 definition or {})
        self._segment = segment_for(name, self._kind, width, self._max_processes,
                                    self._max_series, digest, resolve_directory(directory),
                                    meta, read_only)
        self._segment.key_len = len(self._labelnames)  # records are checked against it
        self._children: dict[tuple[str, ...], ChildT] = {}
        self._children_lock = threading.Lock()
        # children removed while the application may still hold them: their
        # values are dropped at each flush (prometheus_client's detached children)
        self._detached: weakref.WeakSet[ChildT] = weakref.WeakSet()
        # held while a batch is between its buffer and shared memory, so that a
        # flush (e.g. before value() or a scrape) waits for one in flight
        self._flush_lock = threading.Lock()
        if read_only:  # a DirectoryCollector's view: never writes, owns no slot
            return
        if not self._labelnames:
            child = self._child(())
            self._bind(child)
        core_flush.register(self)
        registry = resolve_registry(registry)
        if registry is not None:
            registry.register(self)

    # -- labels
    def labels(self, *labelvalues: object, **labelkwargs: object) -> ChildT:
        """The child for one set of label values (positional or by name),
        created on first use, as in prometheus_client."""
        if not self._labelnames:
            raise ValueError(f"No label names were set when constructing {self!r}: it has "
                             "no labels, call its methods directly")
        if labelvalues and labelkwargs:
            raise ValueError(f"Can't pass both *args and **kwargs: give the label values of "
                             f"{self._name!r} either by position or by name")
        if labelkwargs:
            if sorted(labelkwargs) != sorted(self._labelnames):
                missing = [n for n in self._labelnames if n not in labelkwargs]
                unknown = [n for n in labelkwargs if n not in self._labelnames]
                raise ValueError(f"Incorrect label names for {self._name!r}: it takes "
                                 f"{self._labelnames}; missing {missing}, unknown {unknown}")
            key = tuple(str(labelkwargs[k]) for k in self._labelnames)
        else:
            if len(labelvalues) != len(self._labelnames):
                raise ValueError(f"Incorrect label count for {self._name!r}: it takes "
                                 f"{len(self._labelnames)} label values {self._labelnames}, "
                                 f"got {len(labelvalues)}")
            key = tuple(str(v) for v in labelvalues)
        child = self._children.get(key)
        if child is None:
            child = self._child(key)
        return child

    def _child(self, key: tuple[str, ...]) -> ChildT:
        with self._children_lock:
            child = self._children.get(key)
            if child is None:
                row, state = self._segment.series_index(key)
                child = self._make_child(key, row)
                child._state = state
                self._children[key] = child
            return child

    def _reattach(self, child: ChildT) -> None:
        """``child``'s series was removed by another process while this one
        still uses it: register the label set again and write there."""
        with self._children_lock:
            child._row, child._state = self._segment.series_index(child._key)

    def _bind(self, child: ChildT) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _make_child(self, key: tuple[str, ...], row: int) -> ChildT:  # pragma: no cover
        raise NotImplementedError

    def _no_labels(self, *args: object, **kwargs: object) -> NoReturn:
        example = ", ".join(f"{n}=..." for n in self._labelnames)
        raise ValueError(f"{self._kind} metric is missing label values: {self._name!r} has "
                         f"labels {self._labelnames} and none were given; call "
                         f".labels({example}) first")

    # -- removal
    def remove(self, *labelvalues: object) -> None:
        """Remove the series of these label values, in every process: it leaves
        every scrape and its memory is reused (prometheus_client's ``remove``)."""
        if not self._labelnames:
            raise ValueError(f"No label names were set when constructing {self!r}")
        if len(labelvalues) != len(self._labelnames):
            raise ValueError(f"Incorrect label count (expected {len(self._labelnames)}, got "
                             f"{labelvalues}): {self._name!r} takes {self._labelnames}")
        key = tuple(str(v) for v in labelvalues)
        self._remove(lambda k: k == key)

    def remove_by_labels(self, labels: dict[str, str]) -> None:
        """Remove every series whose label values include ``labels`` (a dict of
        some label names to values), in every process."""
        if not self._labelnames:
            raise ValueError(f"No label names were set when constructing {self!r}")
        if not isinstance(labels, dict):
            raise TypeError("labels must be a dict of {label_name: label_value}")
        if not labels:
            return
        invalid = [k for k in labels if k not in self._labelnames]
        if invalid:
            raise ValueError(f"Unknown label names: {invalid}; expected {self._labelnames}")
        want = [(self._labelnames.index(k), str(v)) for k, v in labels.items()]
        self._remove(lambda k: all(k[i] == v for i, v in want))

    def clear(self) -> None:
        """Remove every series of this metric, in every process."""
        if not self._labelnames:
            return
        self._remove(lambda k: True)

    def _remove(self, match: Callable[[tuple[str, ...]], bool]) -> None:
        with self._flush_lock, self._children_lock:
            for key, child in list(self._children.items()):
                if match(key):
                    del self._children[key]
                    child._detached = True  # before the shared removal (see _write)
                    self._detached.add(child)
                    child._reset()
            self._segment.remove(match)
            self._forget(match)

    def _forget(self, match: Callable[[tuple[str, ...]], bool]) -> None:
        """Drop caches of removed label sets (overridden)."""

    # -- flushing
    def _flush(self) -> None:
        with self._flush_lock:
            for child in list(self._children.values()):
                child._flush()
            if self._detached:
                for child in list(self._detached):
                    child._reset()

    def _warm_up(self) -> None:
        warm_metrics()  # kernels and exposition, before a fork (see _core.flush)

    def _refresh(self) -> None:
        """Nothing to compute off the request path: a scrape sums the slots."""

    def _after_fork_in_child(self) -> None:
        """In a forked child: new locks, a slot of its own, and empty buffers
        (the parent flushes what it buffered)."""
        self._segment.after_fork()
        self._children_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        for child in list(self._children.values()):
            child._reset()

    # -- collector
    def describe(self) -> list[MetricFamily]:
        return [self._family()]

    if TYPE_CHECKING:  # defined by every subclass
        def collect(self) -> list[MetricFamily]: ...

    def _family(self) -> MetricFamily:  # pragma: no cover - overridden
        raise NotImplementedError

    def _present(self, row: np.ndarray) -> ValueT:  # pragma: no cover - overridden
        """A series' summed row as its ``value()``."""
        raise NotImplementedError

    def _rows(self) -> Iterator[tuple[tuple[str, ...], float, np.ndarray, int]]:
        """(label values, created, summed values, record index) per label set,
        all processes."""
        self._flush()
        seg = self._segment
        data, rows = seg.live(seg.read_sum)
        if data is None:  # no label set yet (then rows is empty too)
            return
        merged: dict[tuple[str, ...], list[Any]] = {}
        for i, key, created in rows:
            got = merged.get(key)
            if got is None:
                merged[key] = [created, data[i].copy(), i]
            else:  # the same label set registered twice by two processes at once
                got[0] = min(got[0], created)
                got[1] += data[i]
        for key, (created, row, index) in merged.items():
            yield key, created, row, index

    def __repr__(self) -> str:
        return f"{type(self).__module__}.{type(self).__name__}({self._name})"  # as theirs


class Child:
    """Shared parts of the children (one label set each)."""

    __slots__ = ()
    # slots of every child class
    _metric: Metric[Any, Any]
    _key: tuple[str, ...]
    _row: int
    _state: int
    _detached: bool

    if TYPE_CHECKING:  # defined by every child class
        def _flush(self) -> None: ...

        def _reset(self) -> None: ...

    def labels(self, *labelvalues: object, **labelkwargs: object) -> NoReturn:
        labels = dict(zip(self._metric._labelnames, self._key))
        raise ValueError(f"{self!r} already has labels set ({labels}); can not chain calls "
                         "to .labels(): call .labels() once, on the metric")

    def __repr__(self) -> str:
        m = self._metric
        return f"{type(m).__module__}.{type(m).__name__}({m._name}, {self._key})"

    def _write(self, values: np.ndarray, setter: bool = False) -> None:
        """Write ``values`` to this series' row of this process's slot.  A child
        removed in this process drops them (as prometheus_client's detached
        child); one removed by another process registers its label set again."""
        metric = self._metric
        seg = metric._segment
        write = seg.set if setter else seg.add
        while not self._detached:
            if write(self._row, self._state, values):
                return
            metric._reattach(self)


def exemplar_payload(exemplar: dict[str, str]) -> bytes:
    """An exemplar's labels checked as prometheus_client checks them, encoded."""
    if not isinstance(exemplar, dict):
        raise TypeError(f"exemplar must be a dict of label names to values, got "
                        f"{type(exemplar).__name__}")
    runes = 0
    for k, v in exemplar.items():
        if not isinstance(k, str) or not _LABEL_RE.match(k):
            raise ValueError(f"Invalid label metric name: {k!r} (exemplar label names are "
                             "letters, digits and '_', not starting with a digit)")
        if k.startswith("__"):
            raise ValueError(f"Reserved label metric name: {k} (names starting with '__' "
                             "are Prometheus's own)")
        if not isinstance(v, str):
            raise TypeError(f"exemplar label {k!r}: values must be str, got "
                            f"{type(v).__name__}")
        runes += len(k) + len(v)
    if runes > 128:
        raise ValueError(f"Exemplar labels have {runes} UTF-8 characters, exceeding the "
                         "limit of 128")
    payload = json.dumps(exemplar, ensure_ascii=False, separators=(",", ":")).encode()
    if len(payload) > EX_PAYLOAD:
        raise ValueError(f"exemplar labels take {len(payload)} bytes encoded; at most "
                         f"{EX_PAYLOAD} fit (fewer characters outside ASCII)")
    return payload


def exemplar_sample(got: tuple[dict[str, str], float, float] | None) -> Exemplar | None:
    """A prometheus_client Exemplar from a stored one (or None)."""
    if got is None:
        return None
    from prometheus_client.samples import Exemplar
    return Exemplar(got[0], got[1], got[2])


def _to_float(v: Any) -> float | None:
    """``float(v)``, or None.  Beyond float64's range (an int such as
    ``10**400``, a large Fraction) it is +-inf, where the comparison of the
    hot path placed it; a one-element array is its element."""
    try:
        return float(v)
    except OverflowError:
        try:
            return math.inf if v > 0 else -math.inf
        except Exception:  # noqa: BLE001 - an exotic type: dropped
            return None
    except (TypeError, ValueError):
        if isinstance(v, np.ndarray) and v.size == 1:
            return _to_float(v.reshape(-1)[0])
        return None


def _floats(chunk: list[float], name: str) -> np.ndarray:
    """``chunk`` as float64, one value at a time; a value that ``inc``/``observe``
    accepted but that does not convert (an object comparable with numbers but
    without ``__float__``) is dropped and logged, never the others."""
    out = []
    bad = 0
    for v in chunk:
        x = _to_float(v)
        if x is None:
            bad += 1
        else:
            out.append(x)
    if bad:
        _log.error("fastmlops.metrics: %s: dropped %d value(s) that do not convert to float",
                   name, bad)
    return np.array(out, dtype=np.float64)


def drain(buf: list[float], name: str) -> np.ndarray | None:
    """Take the values buffered so far, as float64 (None if there were none);
    values appended meanwhile stay.

    ``buf[:n]`` and ``del buf[:n]`` are each atomic (GIL, or the list's own
    lock in free-threaded Python) and appends only go to the end, so each
    value is taken exactly once."""
    n = len(buf)
    if not n:
        return None
    chunk = buf[:n]
    del buf[:n]
    try:
        return np.fromiter(chunk, np.float64, n)
    except (TypeError, ValueError, OverflowError):  # exotic or huge numbers: one by one
        return _floats(chunk, name)


# -- counter

def child_value(metric: Metric[ChildT, ValueT], key: tuple[str, ...]) -> ValueT:
    for k, _, row, _i in metric._rows():
        if k == key:
            return metric._present(row)
    return metric._present(np.zeros(metric._segment.layout.width))


def as_values(values: ArrayLike) -> np.ndarray:

    arr = as_numeric_array(values, "observe_many() values")
    if arr.ndim != 1:
        if arr.ndim == 0:
            raise ValueError("observe_many() needs a 1-D array; use observe() for one value")
        arr = arr.reshape(-1)
    return np.ascontiguousarray(arr, dtype=np.float64)


# ---------------------------------------------- context managers, decorators ----

class Timer:
    """``time()``: a context manager and decorator that passes the seconds a
    block took to ``metric.<callback>`` (prometheus_client's ``Timer``; call
    ``.labels(...)`` on it inside the block of a labelled metric)."""

    __slots__ = ("_metric", "_callback", "_starts", "duration")

    def __init__(self, metric: Histogram | HistogramChild | Gauge | GaugeChild,
                 callback: str) -> None:
        self._metric = metric
        self._callback = callback
        self._starts: list[float] = []  # a stack: the same block may nest
        self.duration: float | None = None

    def _new(self) -> Timer:
        return type(self)(self._metric, self._callback)

    def labels(self, *args: object, **kwargs: object) -> None:
        self._metric = self._metric.labels(*args, **kwargs)

    def __enter__(self) -> Timer:
        self._starts.append(time.perf_counter())
        return self

    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        # the clock can go backwards
        self.duration = max(time.perf_counter() - self._starts.pop(), 0.0)
        getattr(self._metric, self._callback)(self.duration)

    def __call__(self, fn: F) -> F:
        return _decorate(fn, self._new)


class ExceptionCounter:
    """``count_exceptions()``: counts the exceptions of type ``exception``
    raised in the block (they still propagate); ``.labels(...)`` inside the
    block picks the series of a labelled counter."""

    __slots__ = ("_counter", "_exception")

    def __init__(self, counter: Counter | CounterChild, exception: ExceptionTypes) -> None:
        self._counter = counter
        self._exception = exception

    def labels(self, *args: object, **kwargs: object) -> None:
        self._counter = self._counter.labels(*args, **kwargs)

    def __enter__(self) -> ExceptionCounter:
        return self

    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        if typ is not None and issubclass(typ, self._exception):
            self._counter.inc()
        return False

    def __call__(self, fn: F) -> F:
        return _decorate(fn, lambda: ExceptionCounter(self._counter, self._exception))


class InprogressTracker:
    """``track_inprogress()``: +1 on the gauge while the block runs.  On a
    labelled gauge the +1 waits for ``.labels(...)`` inside the block."""

    __slots__ = ("_gauge", "_entered")

    def __init__(self, gauge: Gauge | GaugeChild) -> None:
        self._gauge = gauge
        self._entered = 0

    def labels(self, *args: object, **kwargs: object) -> None:
        self._gauge = self._gauge.labels(*args, **kwargs)
        for _ in range(self._entered):
            self._gauge.inc()
        self._entered = 0

    def __enter__(self) -> InprogressTracker:
        if isinstance(self._gauge, Metric) and self._gauge._labelnames:
            self._entered += 1  # a labelled gauge: +1 once labels() names the series
        else:
            self._gauge.inc()
        return self

    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._entered:  # only a labelled Gauge counts entries
            self._entered -= 1
            cast("Gauge", self._gauge)._no_labels()  # never labelled: prometheus_client's error
        self._gauge.dec()

    def __call__(self, fn: F) -> F:
        return _decorate(fn, lambda: InprogressTracker(self._gauge))


_CALL = "_fastmlops_call_"


def _decorate(fn: F, make: Callable[[], AbstractContextManager[object]]) -> F:
    """``fn`` run inside a new context manager ``make()`` at each call (a
    coroutine function: around its whole run), with ``fn``'s signature kept
    for ``inspect.signature`` *and* ``inspect.getfullargspec``, as
    prometheus_client's decorators do."""
    if not callable(fn):
        raise TypeError(f"can only decorate a callable, got {type(fn).__name__}")
    call: Callable[..., Any]
    if inspect.iscoroutinefunction(fn):
        async def call_async(*args: Any, **kwargs: Any) -> Any:
            with make():
                return await fn(*args, **kwargs)
        call = call_async
    else:
        def call_sync(*args: Any, **kwargs: Any) -> Any:
            with make():
                return fn(*args, **kwargs)
        call = call_sync
    return cast("F", _with_signature(fn, call))


def _with_signature(fn: Callable[..., object], call: Callable[..., object]
                    ) -> Callable[..., object]:
    """A function with ``fn``'s parameters (names, kinds, defaults) that passes
    them on to ``call``; ``functools.wraps`` where ``fn`` has no signature."""
    try:
        sig = inspect.signature(fn, follow_wrapped=False)
    except (TypeError, ValueError):
        return functools.wraps(fn)(call)
    params, args = [], []
    defaults: list[object] = []
    kwdefaults: dict[str, object] = {}
    star = False
    P = inspect.Parameter
    names = list(sig.parameters)
    if _CALL in names or any(not n.isidentifier() or keyword.iskeyword(n) for n in names):
        return functools.wraps(fn)(call)
    last_positional_only = max((i for i, p in enumerate(sig.parameters.values())
                                if p.kind is P.POSITIONAL_ONLY), default=-1)
    for i, p in enumerate(sig.parameters.values()):
        has_default = p.default is not P.empty
        if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD):
            params.append(p.name + ("=None" if has_default else ""))
            args.append(p.name)
            if has_default:
                defaults.append(p.default)
        elif p.kind is P.VAR_POSITIONAL:
            params.append("*" + p.name)
            args.append("*" + p.name)
            star = True
        elif p.kind is P.KEYWORD_ONLY:
            if not star:
                params.append("*")
                star = True
            params.append(p.name + ("=None" if has_default else ""))
            args.append(f"{p.name}={p.name}")
            if has_default:
                kwdefaults[p.name] = p.default
        else:
            params.append("**" + p.name)
            args.append("**" + p.name)
        if i == last_positional_only:
            params.append("/")
    name = getattr(fn, "__name__", "wrapped")
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        name = "wrapped"
    prefix = "async " if inspect.iscoroutinefunction(call) else ""
    body = f"return await {_CALL}({', '.join(args)})" if prefix else \
        f"return {_CALL}({', '.join(args)})"
    source = f"{prefix}def {name}({', '.join(params)}):\n    {body}\n"
    namespace: dict[str, Any] = {_CALL: call}
    exec(compile(source, f"<fastmlops.metrics decorator of {name}>", "exec"), namespace)
    made = namespace[name]
    made.__defaults__ = tuple(defaults) or None
    made.__kwdefaults__ = kwdefaults or None
    functools.update_wrapper(made, fn)
    signature = getattr(fn, "__signature__", None)
    if signature is not None:
        made.__signature__ = signature
    return made
