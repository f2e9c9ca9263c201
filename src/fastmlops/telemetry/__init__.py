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

The parts live in private modules (events, spans, RED metrics); the switch of
the OpenTelemetry tracing is :mod:`fastmlops.telemetry.tracing` and the
attribute conversion :mod:`fastmlops.telemetry.attributes`.
"""

from __future__ import annotations

from fastmlops.telemetry._events import (
    attach,
    attach_many,
    detach,
    execute,
    list_handlers,
)
from fastmlops.telemetry._instrument import (
    Instrument,
    instrument,
    record_request,
    set_default_metrics,
)
from fastmlops.telemetry._spans import Span, span

# importable from here as before, not in ``__all__``
from fastmlops.telemetry._events import Handler  # noqa: F401
from fastmlops.telemetry._instrument import DEFAULT_BUCKETS  # noqa: F401

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
