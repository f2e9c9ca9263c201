"""OpenTelemetry: spans from :func:`fastmlops.span` / :func:`fastmlops.instrument`,
and our metrics over OTLP from all worker processes at once.

Install with ``pip install fastmlops[otel]`` (``opentelemetry-api`` and
``opentelemetry-proto``; never the SDK: the application picks the SDK and its
exporters).  ``import fastmlops`` and ``import fastmlops.otel`` import no
OpenTelemetry package; each part loads what it needs when first used and,
when it is missing, raises an ``ImportError`` naming the extra.

Tracing
-------
On by default when ``opentelemetry-api`` is importable: the first span
imports it (a few milliseconds, once; call :func:`enable_tracing` at start-up
to pay it there).  Off with :func:`disable_tracing` or the environment
variable ``FASTMLOPS_OTEL_TRACING=0`` (read at the first span).  With the API
but no SDK configured (no ``set_tracer_provider``) a span costs one extra
check and creates nothing; a provider set later is picked up by the next
span.

* **Name.** ``span(("model", "predict"))`` makes a span named
  ``"model.predict"``: the event prefix joined with ``"."`` (the
  ``"start"``/``"stop"``/``"exception"`` suffixes are events, not names).
  ``instrument(...)`` spans are named by its ``name=``, else the decorated
  (or recorded) function's ``__qualname__``, else ``"fastmlops.instrument"``.
* **Attributes.** A span's ``metadata`` (an instrument's ``labels``),
  converted by :func:`to_attributes`; keys added to ``s.metadata`` inside the
  block are set before the span ends.
* **Times.** Start = the start event's ``system_time``; end = start + the
  stop / exception event's ``duration`` (for ``instrument``: + the observed
  latency), so the trace and the telemetry events agree to the nanosecond.
* **Nesting.** The span is the current OpenTelemetry span from just before
  the start event to just after the stop event (handlers see it), so spans
  nest along the call stack: in functions, coroutines and asyncio tasks
  (which copy the context), and in threads as far as the context is
  propagated to them, as OpenTelemetry does (``contextvars.copy_context()``,
  ``opentelemetry.context.attach``, or the contrib threading
  instrumentation); a thread started without it begins a new trace.  A
  decorated generator's span is current only while the generator runs: the
  consumer's code between two items is outside it.  A ``with`` block inside
  a generator behaves as OpenTelemetry's own ``start_as_current_span``.
* **Errors.** The exception event also sets status ``ERROR`` (description
  ``"ValueError: message"``), the ``error.type`` attribute, and records the
  exception as a span event (``exception.type``, ``exception.message``,
  ``exception.stacktrace``) at the span's end time.  ``GeneratorExit`` (a
  generator closed early) is a normal end, as for the events.
* **Faults.** An error in the tracer, a span processor or an exporter is
  logged (logger ``fastmlops.otel``) and never reaches the application; the
  block still runs and its events are still emitted.  Exporting is the SDK's
  (use its ``BatchSpanProcessor``: a bounded queue that drops and counts
  spans when the collector is down or slow, and never blocks a span).

Metrics
-------
:class:`OTLPMetricExporter` sends every metric a scrape would show --
:mod:`fastmlops.metrics` counters, gauges and histograms summed over all
worker processes, and anything else in a prometheus_client registry -- to an
OTLP/HTTP endpoint on an interval, from one process, with cumulative
temporality, start times and resource attributes.  See its documentation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastmlops.otel._deps import require
from fastmlops.telemetry import tracing as _tracing
from fastmlops.telemetry.attributes import to_attributes

if TYPE_CHECKING:  # loaded on first use by ``__getattr__`` below
    from opentelemetry.trace import TracerProvider

    from fastmlops.otel._otlp import OTLPMetricExporter, start_metrics_exporter

__all__ = ["enable_tracing", "disable_tracing", "tracing_enabled", "to_attributes",
           "OTLPMetricExporter", "start_metrics_exporter"]


# --------------------------------------------------------------------------- tracing
def enable_tracing(tracer_provider: TracerProvider | None = None) -> None:
    """Make :func:`fastmlops.span` and :func:`fastmlops.instrument` blocks
    OpenTelemetry spans (the default when ``opentelemetry-api`` is installed).

    Parameters
    ----------
    tracer_provider : opentelemetry.trace.TracerProvider, optional
        Trace to this provider; default the global one
        (``opentelemetry.trace.set_tracer_provider``), looked up at each span.

    Raises
    ------
    ImportError
        ``opentelemetry-api`` is not installed (``pip install fastmlops[otel]``).
    TypeError
        ``tracer_provider`` has no ``get_tracer``.

    Examples
    --------
    >>> from fastmlops import otel
    >>> otel.enable_tracing()
    >>> otel.tracing_enabled()
    True
    """
    require("opentelemetry.trace", "tracing")
    _tracing.enable(tracer_provider)


def disable_tracing() -> None:
    """Spans are fastmlops events only, as without OpenTelemetry (also for
    blocks already open: those still end their OpenTelemetry span).

    Examples
    --------
    >>> from fastmlops import otel
    >>> otel.disable_tracing()
    >>> otel.tracing_enabled()
    False
    >>> otel.enable_tracing()
    """
    _tracing.disable()


def tracing_enabled() -> bool:
    """Whether spans are traced (decides the default now if no span has yet:
    True when ``opentelemetry-api`` imports and ``FASTMLOPS_OTEL_TRACING`` is
    not ``0``/``false``/``off``/``no``).  Spans reach an exporter only once an
    SDK tracer provider is set."""
    return _tracing.is_enabled()


# --------------------------------------------------------------------------- metrics
def __getattr__(name: str) -> object:
    if name in ("OTLPMetricExporter", "start_metrics_exporter"):
        from fastmlops.otel import _otlp
        return getattr(_otlp, name)
    raise AttributeError(f"module 'fastmlops.otel' has no attribute {name!r}")
