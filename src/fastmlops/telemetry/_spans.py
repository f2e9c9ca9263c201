"""Spans: :func:`span` and :class:`Span`, start / stop / exception events
around a block or a call, each also an OpenTelemetry span when tracing is on
(see :mod:`fastmlops.telemetry` and :mod:`fastmlops.otel`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

from fastmlops.telemetry._blocks import ContextDecorator, Starts, otel_parts
from fastmlops.telemetry._events import check_event, execute
from fastmlops.telemetry.tracing import recording

if TYPE_CHECKING:
    from fastmlops.telemetry._blocks import Token


class Span(ContextDecorator):
    """See :func:`span`."""

    def __init__(self, event_prefix: tuple[str, ...], metadata: Mapping[str, Any] | None,
                 clock: Callable[[], float], system_time: Callable[[], float]) -> None:
        self.prefix = check_event(event_prefix, "event_prefix")
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
        self._starts = Starts()

    def _enter(self) -> Token:
        ot = recording()
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

    def _exit(self, token: Token, exc: BaseException | None) -> None:
        start, active = otel_parts(token)
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


def _ns(seconds: float) -> int:
    """Epoch seconds (``system_time``) as OpenTelemetry's integer nanoseconds."""
    try:
        return int(seconds * 1e9)
    except (TypeError, ValueError, OverflowError):  # an odd system_time: now
        return time.time_ns()
