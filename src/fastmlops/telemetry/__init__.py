"""Telemetry events, spans and RED metrics (requests, errors, duration).

* :func:`attach` / :func:`attach_many` / :func:`detach` / :func:`execute` --
  events in the style of Elixir's ``:telemetry``: an event name is a tuple of
  strings such as ``("model", "predict", "stop")``; handlers attached to that
  exact name are called as ``handler(event, measurements, metadata)``.
* :func:`span` -- a context manager and decorator (sync and async) that
  emits ``(*prefix, "start")``, then ``(*prefix, "stop")`` with the duration
  in seconds, or ``(*prefix, "exception")`` and re-raises.
* :func:`instrument` -- RED metrics in one line, as a decorator or context
  manager, on any objects with ``inc()`` (requests, errors) and
  ``observe(seconds)`` (latency): prometheus_client's ``Counter`` and
  ``Histogram`` work, and so will fastmlops' own.
* :func:`record_request` -- call a function once and record it on the
  default metrics (see :func:`set_default_metrics`).

Handler failures: a handler that raises is detached and the exception is
logged (logger ``fastmlops.telemetry``, with traceback); :func:`execute`
never raises because of a handler and the other handlers of the event still
run, so telemetry cannot break the request it observes.  A handler detached
this way stays detached until attached again.

Thread safety: the handler table is copy-on-write.  :func:`execute` reads it
without a lock and may run concurrently from any number of threads and
asyncio tasks; :func:`attach` and :func:`detach` take a lock and replace the
table, so an ``execute`` already running keeps the handlers it started with.
Handlers themselves run on the caller's thread and must be thread-safe if the
events are emitted from several threads.  One span or instrument object may
be entered by several threads, asyncio tasks and generators at once (and
nested): every entry keeps its own start time, and each exit is paired with
the entry made by the same ``with`` statement (the frame running it), even
when generators interleave or one is resumed in another thread.  An exit
from a frame that entered nothing (``contextlib.ExitStack``) takes the
latest open entry of its thread / task.  Metrics objects must be
thread-safe themselves (prometheus_client's are).

Durations use a monotonic clock (``time.perf_counter`` by default; every
function takes ``clock=`` so tests can inject a fake one; a clock that goes
backwards gives a duration of 0, never a negative one); ``system_time`` in
start events is ``time.time()`` (seconds since the epoch).

Decorators (:func:`span`, :func:`instrument`) accept plain functions and
methods, coroutine functions (and callable objects with an ``async``
``__call__``), and generator and async generator functions.  A generator is
one call from its first ``next()`` to its end: an exception raised inside
it counts as an exception; closing it early (``break`` out of the loop,
``GeneratorExit``) counts as a normal end, also for a ``with`` block
inside a generator.

Metric failures: an ``inc()`` / ``observe()`` that raises inside
:func:`instrument` is logged (logger ``fastmlops.telemetry``) and ignored,
so a broken metric never replaces the function's result or exception.

OpenTelemetry: when ``opentelemetry-api`` is installed (``pip install
fastmlops[otel]``) and an SDK is configured, every :func:`span` and
:func:`instrument` block is also an OpenTelemetry span, with the same start
and end times (see :mod:`fastmlops.otel` for names, attributes, nesting and
the switch).  The API is imported on the first span, never by ``import
fastmlops``; without it, or with no SDK, nothing else changes.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from typing import Any, Callable, Iterable, Mapping

from fastmlops.telemetry._blocks import (
    _ContextDecorator,
    _is_async,
    _is_asyncgen,
    _is_gen,
    _otel_parts,
    _Starts,
    _wrap,
)

__all__ = [
    "attach",
    "attach_many",
    "detach",
    "execute",
    "list_handlers",
    "span",
    "Span",
    "instrument",
    "Instrument",
    "record_request",
    "set_default_metrics",
]

_log = logging.getLogger("fastmlops.telemetry")

Handler = Callable[[tuple, dict, dict], Any]

_lock = threading.Lock()
#: handler_id -> (event names, handler); replaced wholesale under ``_lock``.
_handlers: dict[Any, tuple[tuple[tuple[str, ...], ...], Handler]] = {}
#: event name -> ((handler_id, handler), ...); replaced wholesale under ``_lock``.
_by_event: dict[tuple[str, ...], tuple[tuple[Any, Handler], ...]] = {}


# --------------------------------------------------------------------------- events
def _check_event(event: Any, name: str = "event_name") -> tuple[str, ...]:
    if isinstance(event, list):
        event = tuple(event)
    if type(event) is not tuple or not event or not all(isinstance(p, str) for p in event):
        raise TypeError(f"{name} must be a non-empty tuple of strings such as "
                        f"('model', 'predict', 'stop'), got {event!r}")
    return event


def _rebuild() -> None:
    table: dict[tuple[str, ...], list[tuple[Any, Handler]]] = {}
    for hid, (events, fn) in _handlers.items():
        for ev in events:
            table.setdefault(ev, []).append((hid, fn))
    global _by_event
    _by_event = {ev: tuple(lst) for ev, lst in table.items()}


def attach(handler_id: Any, event_name: tuple[str, ...], handler: Handler) -> None:
    """Call ``handler(event_name, measurements, metadata)`` on every
    :func:`execute` of ``event_name``.

    Parameters
    ----------
    handler_id : hashable
        A unique name for this attachment (used by :func:`detach`).
    event_name : tuple of str
        The exact event, e.g. ``("model", "predict", "stop")``.
    handler : callable
        Called synchronously on the emitting thread.

    Raises
    ------
    ValueError
        ``handler_id`` is already attached (detach it first).
    TypeError
        ``event_name`` not a tuple of strings, or ``handler`` not callable.

    Examples
    --------
    >>> from fastmlops import telemetry
    >>> seen = []
    >>> telemetry.attach("doc-log", ("model", "predict", "stop"),
    ...                  lambda ev, meas, meta: seen.append((ev[-1], meas["duration"])))
    >>> telemetry.execute(("model", "predict", "stop"), {"duration": 0.05}, {})
    >>> telemetry.execute(("model", "load", "stop"), {"duration": 1.0}, {})   # not attached
    >>> seen
    [('stop', 0.05)]
    >>> telemetry.detach("doc-log")
    True
    """
    attach_many(handler_id, [event_name], handler)


def attach_many(handler_id: Any, event_names: Iterable[tuple[str, ...]], handler: Handler) -> None:
    """Like :func:`attach`, for several events with one ``handler_id``."""
    events = tuple(_check_event(ev) for ev in event_names)
    if not events:
        raise ValueError("event_names is empty; pass at least one event tuple")
    if not callable(handler):
        raise TypeError(f"handler must be callable as handler(event, measurements, metadata), "
                        f"got {handler!r}")
    try:
        hash(handler_id)
    except TypeError:
        raise TypeError(f"handler_id must be hashable (a string is usual), got {handler_id!r}") \
            from None
    with _lock:
        if handler_id in _handlers:
            raise ValueError(f"handler_id {handler_id!r} is already attached; detach it first or "
                             "use another id")
        _handlers[handler_id] = (events, handler)
        _rebuild()


def detach(handler_id: Any) -> bool:
    """Remove a handler; ``True`` if it was attached, ``False`` otherwise."""
    with _lock:
        if _handlers.pop(handler_id, None) is None:
            return False
        _rebuild()
        return True


def list_handlers(prefix: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The attached handlers whose event starts with ``prefix`` (all by default):
    ``[{"id": ..., "event_name": ..., "function": ...}, ...]``."""
    prefix = tuple(prefix)
    return [{"id": hid, "event_name": ev, "function": fn}
            for hid, (events, fn) in list(_handlers.items())
            for ev in events if ev[:len(prefix)] == prefix]


def execute(event_name: tuple[str, ...], measurements: Mapping[str, Any] | None = None,
            metadata: Mapping[str, Any] | None = None) -> None:
    """Emit an event to the handlers attached to exactly ``event_name``.

    Handlers run in attachment order on the calling thread.  A handler that
    raises is detached and logged; the caller never sees its exception.
    With no handlers attached this is one dict lookup.
    """
    try:
        handlers = _by_event.get(event_name)
    except TypeError:  # unhashable, e.g. a list
        handlers = None
    if handlers is None:
        if type(event_name) is not tuple:
            raise TypeError(f"event_name must be a tuple of strings such as "
                            f"('model', 'predict', 'stop'), got {event_name!r}")
        return
    meas = {} if measurements is None else measurements
    meta = {} if metadata is None else metadata
    for hid, fn in handlers:
        try:
            fn(event_name, meas, meta)
        except Exception:
            _log.exception("telemetry handler %r for event %r raised; detaching it", hid,
                           event_name)
            with _lock:
                current = _handlers.get(hid)
                if current is not None and current[1] is fn:
                    del _handlers[hid]
                    _rebuild()


# --------------------------------------------------------------------------- OpenTelemetry
_OTEL_UNSET: Any = object()
#: The tracing bridge (:mod:`fastmlops.telemetry._otel_bridge`) when tracing is on, None
#: when off; ``_OTEL_UNSET`` until the first span decides (see :mod:`fastmlops.otel`).
_otel: Any = _OTEL_UNSET
_otel_lock = threading.Lock()
_OTEL_OFF = ("0", "false", "off", "no")


def _load_otel() -> Any:
    """Decide once, on the first span: on when ``opentelemetry-api`` imports
    and ``FASTMLOPS_OTEL_TRACING`` does not say off."""
    global _otel
    with _otel_lock:
        if _otel is _OTEL_UNSET:
            bridge = None
            if os.environ.get("FASTMLOPS_OTEL_TRACING", "").strip().lower() not in _OTEL_OFF:
                try:
                    from fastmlops.telemetry import _otel_bridge as bridge
                except ImportError:
                    bridge = None
                except Exception:  # noqa: BLE001 - a broken install must not break spans
                    _log.exception("fastmlops: importing OpenTelemetry failed; tracing is off")
                    bridge = None
            _otel = bridge
        return _otel


def _set_otel(bridge: Any) -> None:
    """Switch tracing (``fastmlops.otel.enable_tracing`` / ``disable_tracing``)."""
    global _otel
    with _otel_lock:
        _otel = bridge


def _tracing() -> Any:
    """The bridge if this span should be traced, else None (the hot path:
    two global reads when tracing is off, plus one call when it is on)."""
    ot = _otel
    if ot is None:
        return None
    if ot is _OTEL_UNSET:
        ot = _load_otel()
        if ot is None:
            return None
    return ot if ot.recording() else None


# --------------------------------------------------------------------------- spans
class Span(_ContextDecorator):
    """See :func:`span`."""

    def __init__(self, event_prefix: tuple[str, ...], metadata: Mapping[str, Any] | None,
                 clock: Callable[[], float], system_time: Callable[[], float]) -> None:
        self.prefix = _check_event(event_prefix, "event_prefix")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
        self.metadata: dict[str, Any] = dict(metadata or {})
        if not callable(clock) or not callable(system_time):
            raise TypeError("clock and system_time must be callables returning seconds")
        self._clock = clock
        self._system_time = system_time
        self._start_ev = self.prefix + ("start",)
        self._stop_ev = self.prefix + ("stop",)
        self._exc_ev = self.prefix + ("exception",)
        #: the OpenTelemetry span name: the prefix joined with dots
        self.name = ".".join(self.prefix)
        self._starts = _Starts()

    def _enter(self) -> Any:
        ot = _tracing()
        start = self._clock()
        now = self._system_time()
        if ot is None:
            execute(self._start_ev, {"system_time": now, "monotonic_time": start},
                    self.metadata)
            return start
        # the OpenTelemetry span is current while the start handlers run
        active = ot.start(self.name, self.metadata, _ns(now))
        execute(self._start_ev, {"system_time": now, "monotonic_time": start}, self.metadata)
        return start if active is None else (start, active)

    def _exit(self, token: Any, exc: BaseException | None) -> None:
        start, active = _otel_parts(token)
        end = self._clock()
        duration = max(end - start, 0.0)  # a clock that went backwards: 0, never negative
        try:
            if exc is None:
                execute(self._stop_ev, {"duration": duration, "monotonic_time": end},
                        self.metadata)
            else:
                meta = dict(self.metadata)
                meta.update(kind=type(exc), reason=exc, stacktrace=exc.__traceback__)
                execute(self._exc_ev, {"duration": duration, "monotonic_time": end}, meta)
        finally:
            if active is not None:
                active.close(duration, exc, self.metadata)


def span(event_prefix: tuple[str, ...], metadata: Mapping[str, Any] | None = None, *,
         clock: Callable[[], float] = time.perf_counter,
         system_time: Callable[[], float] = time.time) -> Span:
    """Time a block or function and emit start / stop / exception events.

    * ``(*event_prefix, "start")`` with ``{"system_time": time.time(),
      "monotonic_time": clock()}``;
    * ``(*event_prefix, "stop")`` with ``{"duration": seconds,
      "monotonic_time": ...}`` when the block returns;
    * ``(*event_prefix, "exception")`` with the same measurements and
      metadata plus ``kind`` (the exception class), ``reason`` (the
      exception) and ``stacktrace`` (its traceback) when it raises; the
      exception is then re-raised unchanged.

    Every event carries ``metadata``; inside ``with span(...) as s:`` you may
    add to ``s.metadata`` before stop (e.g. the predicted class).  Works as
    ``with``, ``async with`` and as a decorator of sync and async functions
    (one start/stop pair per call).  One span object may be shared: blocks
    entered at once from several threads, tasks or interleaved generators
    each pair their stop with their own start (see the module notes).

    Examples
    --------
    >>> from fastmlops import telemetry
    >>> ticks = iter([10.0, 10.25])
    >>> events = []
    >>> telemetry.attach_many("doc-span", [("model", "predict", "start"),
    ...                                   ("model", "predict", "stop")],
    ...                       lambda ev, meas, meta: events.append((ev[-1], meta["model"])))
    >>> with telemetry.span(("model", "predict"), {"model": "v1"},
    ...                     clock=lambda: next(ticks)) as s:
    ...     pass
    >>> events
    [('start', 'v1'), ('stop', 'v1')]
    >>> telemetry.detach("doc-span")
    True
    """
    return Span(event_prefix, metadata, clock, system_time)


def _ns(seconds: Any) -> int:
    """Epoch seconds (``system_time``) as OpenTelemetry's integer nanoseconds."""
    try:
        return int(seconds * 1e9)
    except (TypeError, ValueError, OverflowError):  # an odd system_time: now
        return time.time_ns()


# --------------------------------------------------------------------------- RED metrics
def _metric(obj: Any, method: str, role: str, labels: Mapping[str, Any] | None) -> Any:
    if obj is None:
        return None
    if labels:
        if not hasattr(obj, "labels"):
            raise TypeError(f"labels were given but {role} ({obj!r}) has no .labels() method")
        obj = obj.labels(**labels)
    if not callable(getattr(obj, method, None)):
        raise TypeError(f"{role} must have a .{method}() method (e.g. a prometheus_client "
                        f"{'Counter' if method == 'inc' else 'Histogram'}), got {obj!r}")
    return obj


class Instrument(_ContextDecorator):
    """See :func:`instrument`."""

    def __init__(self, requests: Any = None, errors: Any = None, latency: Any = None,
                 labels: Mapping[str, Any] | None = None,
                 clock: Callable[[], float] = time.perf_counter, *,
                 name: str | None = None) -> None:
        if labels is not None and not isinstance(labels, Mapping):
            raise TypeError(f"labels must be a dict such as {{'model': 'v1'}}, got {labels!r}")
        if not callable(clock):
            raise TypeError("clock must be a callable returning seconds")
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"name must be a non-empty str (the OpenTelemetry span name), "
                            f"got {name!r}")
        self.requests = _metric(requests, "inc", "requests", labels)
        self.errors = _metric(errors, "inc", "errors", labels)
        self.latency = _metric(latency, "observe", "latency", labels)
        self._clock = clock
        #: the OpenTelemetry span name (None: the decorated function's
        #: ``__qualname__``, or ``"fastmlops.instrument"`` for a ``with`` block)
        self.name = name
        #: the OpenTelemetry span attributes: the labels
        self.attributes: dict[str, Any] = dict(labels or {})
        self._starts = _Starts()

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(fn):
            raise TypeError(f"decorate a function, got {fn!r}")
        return _wrap(fn, functools.partial(self._enter, self._name_for(fn)), self._exit)

    def _name_for(self, fn: Any) -> str:
        if self.name is not None:
            return self.name
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
        if not isinstance(name, str):  # a partial or a callable object
            name = getattr(type(fn), "__qualname__", None) or "fastmlops.instrument"
        return name

    def _enter(self, name: str | None = None) -> Any:
        if self.requests is not None:
            try:
                self.requests.inc()
            except Exception:
                _log.exception("telemetry: requests metric %r failed in inc()", self.requests)
        ot = _tracing()
        if ot is None:
            return self._clock()
        active = ot.start(name or self.name or "fastmlops.instrument", self.attributes,
                          time.time_ns())
        start = self._clock()
        return start if active is None else (start, active)

    def _exit(self, token: Any, exc: BaseException | None) -> None:
        start, active = _otel_parts(token)
        elapsed = max(self._clock() - start, 0.0)  # a clock that went backwards: 0
        try:
            self._record(elapsed, exc)
        finally:
            if active is not None:
                active.close(elapsed, exc, self.attributes)

    def _record(self, elapsed: float, exc: BaseException | None) -> None:
        if self.latency is not None:
            try:
                self.latency.observe(elapsed)
            except Exception:
                _log.exception("telemetry: latency metric %r failed in observe()",
                               self.latency)
        if exc is not None and self.errors is not None:
            try:
                self.errors.inc()
            except Exception:
                _log.exception("telemetry: errors metric %r failed in inc()", self.errors)

    def record(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``f(*args, **kwargs)`` once, recorded; return its result.

        For a coroutine function the result is a coroutine, recorded while it
        is awaited; for a (async) generator function a generator, recorded
        while it is iterated (as with the decorator).
        """
        if not callable(f):
            raise TypeError(f"f must be callable, got {f!r}")
        if _is_async(f) or _is_asyncgen(f) or _is_gen(f):
            return self(f)(*args, **kwargs)
        token = self._enter(self._name_for(f))
        try:
            result = f(*args, **kwargs)
        except BaseException as exc:
            self._exit(token, exc)
            raise
        self._exit(token, None)
        return result


def instrument(requests: Any = None, errors: Any = None, latency: Any = None, *,
               labels: Mapping[str, Any] | None = None,
               clock: Callable[[], float] = time.perf_counter,
               name: str | None = None) -> Instrument:
    """RED metrics in one line: count requests and errors, observe latency.

    On entry ``requests.inc()``; on exit ``latency.observe(seconds)`` and, if
    the body raised, ``errors.inc()`` (the exception is re-raised).  Any of the
    three may be ``None``.  The metrics are duck-typed: anything with
    ``inc()`` / ``observe(float)``; with ``labels``, ``metric.labels(**labels)``
    is called once, here.  Exceptions count as errors whatever their type
    (``BaseException``, so a cancelled asyncio task counts too: a request
    the client gave up on was not served), except ``GeneratorExit`` from a
    decorated generator closed early, which is a normal end.  A metric that
    raises is logged and ignored: the caller sees only its own result or
    exception.

    Usable as a decorator (sync or async functions), ``with`` or
    ``async with``; :meth:`Instrument.record` calls a function once.

    With OpenTelemetry tracing on (:mod:`fastmlops.otel`) each call is also a
    span named ``name`` (default: the decorated or recorded function's
    ``__qualname__``; ``"fastmlops.instrument"`` for a ``with`` block) with
    the ``labels`` as attributes, lasting exactly the observed latency.

    Examples
    --------
    >>> from prometheus_client import CollectorRegistry, Counter, Histogram
    >>> from fastmlops.telemetry import instrument
    >>> reg = CollectorRegistry()
    >>> reqs = Counter("requests", "Requests", registry=reg)
    >>> errs = Counter("errors", "Errors", registry=reg)
    >>> lat = Histogram("latency_seconds", "Latency", buckets=(0.05, 0.1), registry=reg)
    >>> ticks = iter([0.0, 0.05, 1.0, 1.25])
    >>> @instrument(reqs, errs, lat, clock=lambda: next(ticks))
    ... def predict(x):
    ...     return 1 / x
    >>> predict(4)
    0.25
    >>> predict(0)
    Traceback (most recent call last):
    ...
    ZeroDivisionError: division by zero
    >>> reg.get_sample_value("requests_total"), reg.get_sample_value("errors_total")
    (2.0, 1.0)
    >>> reg.get_sample_value("latency_seconds_bucket", {"le": "0.05"})
    1.0
    """
    return Instrument(requests, errors, latency, labels, clock, name=name)


_default: Instrument | None = None
_default_lock = threading.Lock()

#: Bucket upper bounds (seconds) of the default latency histogram.
DEFAULT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0)


def set_default_metrics(requests: Any = None, errors: Any = None, latency: Any = None, *,
                        labels: Mapping[str, Any] | None = None,
                        clock: Callable[[], float] = time.perf_counter) -> Instrument:
    """Set the metrics :func:`record_request` records on (as :func:`instrument`)."""
    global _default
    inst = Instrument(requests, errors, latency, labels, clock)
    with _default_lock:
        _default = inst
    return inst


def _default_instrument() -> Instrument:
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                try:
                    import prometheus_client  # noqa: F401  (the default registry)
                except ImportError:  # pragma: no cover - depends on the environment
                    raise RuntimeError(
                        "record_request needs metrics: call fastmlops.telemetry."
                        "set_default_metrics(requests=..., errors=..., latency=...) or "
                        "pip install prometheus_client for the defaults") from None
                from fastmlops.metrics import Counter, Histogram
                _default = Instrument(
                    Counter("model_requests_total", "Requests served"),
                    Counter("model_errors_total", "Requests that raised"),
                    Histogram("model_latency_seconds", "Request latency in seconds",
                              buckets=DEFAULT_BUCKETS))
    return _default


def record_request(f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``f(*args, **kwargs)``: count the request, time it, observe the
    latency, count an error if ``f`` raised (and re-raise); return its result.

    Records on the metrics given to :func:`set_default_metrics`; without that
    call, on :mod:`fastmlops.metrics` metrics (shared by all worker
    processes) created in prometheus_client's default registry on first use: the lecture's ``model_requests_total``, ``model_errors_total``
    and ``model_latency_seconds`` (buckets :data:`DEFAULT_BUCKETS`: 0.01, 0.05,
    0.1, 0.5, 1.0 and +Inf).

    For a coroutine function, returns a coroutine that records when awaited
    (``await record_request(predict_async, x)``).
    """
    return _default_instrument().record(f, *args, **kwargs)
