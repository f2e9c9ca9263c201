"""RED metrics: :func:`instrument` / :class:`Instrument` (requests, errors,
latency on duck-typed metric objects) and :func:`record_request` on the
default metrics (see :mod:`fastmlops.telemetry`)."""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import TYPE_CHECKING, Callable, Mapping, ParamSpec, Protocol, TypeVar

from fastmlops.telemetry._blocks import (
    ContextDecorator,
    Starts,
    is_async,
    is_asyncgen,
    is_gen,
    otel_parts,
    wrap,
)
from fastmlops.telemetry.tracing import recording

if TYPE_CHECKING:
    from fastmlops.telemetry._blocks import F, Token

_log = logging.getLogger("fastmlops.telemetry")
P = ParamSpec("P")
R = TypeVar("R")


class SupportsInc(Protocol):
    """A requests or errors metric: ``inc()`` (e.g. a prometheus_client Counter)."""

    def inc(self) -> object: ...


class SupportsObserve(Protocol):
    """A latency metric: ``observe(seconds)`` (e.g. a prometheus_client Histogram)."""

    def observe(self, value: float, /) -> object: ...


M = TypeVar("M", SupportsInc, SupportsObserve)


def _metric(obj: M | None, method: str, role: str, labels: Mapping[str, str] | None
            ) -> M | None:
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


class Instrument(ContextDecorator):
    """See :func:`instrument`."""

    def __init__(self, requests: SupportsInc | None = None, errors: SupportsInc | None = None,
                 latency: SupportsObserve | None = None, labels: Mapping[str, str] | None = None,
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
        self.attributes: dict[str, str] = dict(labels or {})
        self._starts = Starts()

    def __call__(self, fn: F) -> F:
        if not callable(fn):
            raise TypeError(f"decorate a function, got {fn!r}")
        return wrap(fn, functools.partial(self._enter, self._name_for(fn)), self._exit)

    def _name_for(self, fn: object) -> str:
        if self.name is not None:
            return self.name
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
        if not isinstance(name, str):  # a partial or a callable object
            name = getattr(type(fn), "__qualname__", None) or "fastmlops.instrument"
        return name

    def _enter(self, name: str | None = None) -> Token:
        if self.requests is not None:
            try:
                self.requests.inc()
            except Exception:
                _log.exception("telemetry: requests metric %r failed in inc()", self.requests)
        ot = recording()
        if ot is None:
            return self._clock()
        active = ot.start(name or self.name or "fastmlops.instrument", self.attributes,
                          time.time_ns())
        start = self._clock()
        return start if active is None else (start, active)

    def _exit(self, token: Token, exc: BaseException | None) -> None:
        start, active = otel_parts(token)
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

    def record(self, f: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Call ``f(*args, **kwargs)`` once, recorded; return its result.

        For a coroutine function the result is a coroutine, recorded while it
        is awaited; for a (async) generator function a generator, recorded
        while it is iterated (as with the decorator).
        """
        if not callable(f):
            raise TypeError(f"f must be callable, got {f!r}")
        if is_async(f) or is_asyncgen(f) or is_gen(f):
            return self(f)(*args, **kwargs)
        token = self._enter(self._name_for(f))
        try:
            result = f(*args, **kwargs)
        except BaseException as exc:
            self._exit(token, exc)
            raise
        self._exit(token, None)
        return result


def instrument(requests: SupportsInc | None = None, errors: SupportsInc | None = None,
               latency: SupportsObserve | None = None, *, labels: Mapping[str, str] | None = None,
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


def set_default_metrics(requests: SupportsInc | None = None, errors: SupportsInc | None = None,
                        latency: SupportsObserve | None = None, *,
                        labels: Mapping[str, str] | None = None,
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


def record_request(f: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call ``f(*args, **kwargs)``: count the request, time it, observe the
    latency, count an error if ``f`` raised (and re-raise); return its result.

    Records on the metrics given to :func:`set_default_metrics`; without that
    call, on :mod:`fastmlops.metrics` metrics (shared by all worker
    processes) created in prometheus_client's default registry on first use:
    the lecture's ``model_requests_total``, ``model_errors_total`` and
    ``model_latency_seconds`` (buckets :data:`DEFAULT_BUCKETS`: 0.01, 0.05,
    0.1, 0.5, 1.0 and +Inf).

    For a coroutine function, returns a coroutine that records when awaited
    (``await record_request(predict_async, x)``).
    """
    return _default_instrument().record(f, *args, **kwargs)
