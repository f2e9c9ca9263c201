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

from collections.abc import Mapping
from typing import Any

__all__ = ["enable_tracing", "disable_tracing", "tracing_enabled", "to_attributes",
           "OTLPMetricExporter", "start_metrics_exporter"]

_EXTRA = "pip install fastmlops[otel]"
_MAX_DEPTH = 8
_INT64 = (-(1 << 63), (1 << 63) - 1)


def _require(module: str, what: str) -> Any:
    """Import ``module`` or raise an ImportError naming the extra."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise ImportError(f"fastmlops {what} needs {module.split('.')[0]}'s "
                          f"{'opentelemetry-proto' if 'proto' in module else 'opentelemetry-api'}"
                          f" package: {_EXTRA} (missing: {exc.name or module})") from None


# --------------------------------------------------------------------------- tracing
def enable_tracing(tracer_provider: Any = None) -> None:
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
    _require("opentelemetry.trace", "tracing")
    if tracer_provider is not None and not callable(getattr(tracer_provider, "get_tracer", None)):
        raise TypeError(f"tracer_provider must be an OpenTelemetry TracerProvider (with "
                        f"get_tracer), got {tracer_provider!r}")
    from fastmlops import telemetry
    from fastmlops.telemetry import _otel_bridge as _otel_trace
    _otel_trace.use_provider(tracer_provider)
    telemetry._set_otel(_otel_trace)


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
    from fastmlops import telemetry
    telemetry._set_otel(None)


def tracing_enabled() -> bool:
    """Whether spans are traced (decides the default now if no span has yet:
    True when ``opentelemetry-api`` imports and ``FASTMLOPS_OTEL_TRACING`` is
    not ``0``/``false``/``off``/``no``).  Spans reach an exporter only once an
    SDK tracer provider is set."""
    from fastmlops import telemetry
    ot = telemetry._otel
    if ot is telemetry._OTEL_UNSET:
        ot = telemetry._load_otel()
    return ot is not None


# --------------------------------------------------------------------------- attributes
def _scalar(value: Any) -> Any:
    """One attribute value of a primitive type, or None (dropped)."""
    cls = type(value)
    if cls is str or cls is bool or cls is float:
        return value
    if cls is int:
        return value if _INT64[0] <= value <= _INT64[1] else str(value)
    if value is None:
        return None
    if isinstance(value, (str, bool, float)):  # subclasses (an IntEnum is an int)
        return (str if isinstance(value, str) else
                bool if isinstance(value, bool) else float)(value)
    if isinstance(value, int):
        return _scalar(int(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if cls.__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return _scalar(value.item())
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a __str__ that raises: dropped
        return None


def _sequence(values: Any) -> tuple[Any, ...] | None:
    items = [_scalar(v) for v in values]
    kinds = {type(v) for v in items if v is not None}
    if len(kinds) > 1:
        if kinds <= {int, float}:
            items = [None if v is None else float(v) for v in items]
        else:  # mixed types: OpenTelemetry wants one type per array
            items = [None if v is None else (str(v).lower() if type(v) is bool else str(v))
                     for v in items]
    return tuple(items)


_PLAIN = (str, bool, float)


def _flatten(key: str, value: Any, out: dict[str, Any], depth: int) -> None:
    cls = type(value)
    if cls in _PLAIN or (cls is int and _INT64[0] <= value <= _INT64[1]):
        out[key] = value  # the usual case, first
        return
    if value is None:
        return
    if isinstance(value, Mapping):
        if depth >= _MAX_DEPTH:
            out[key] = _scalar(value)
            return
        for k, v in value.items():
            _flatten(f"{key}.{_key(k)}", v, out, depth + 1)
        return
    if isinstance(value, (list, tuple, set, frozenset)) or (
            type(value).__module__ == "numpy" and getattr(value, "ndim", 0) == 1):
        out[key] = _sequence(value)
        return
    converted = _scalar(value)
    if converted is not None:
        out[key] = converted


def _key(k: Any) -> str:
    if type(k) is str:
        return k
    k = _scalar(k)
    return "" if k is None else k if type(k) is str else str(k).lower() if type(k) is bool \
        else str(k)


def to_attributes(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """OpenTelemetry attributes from a span's metadata; never raises.

    OpenTelemetry accepts ``str``, ``bool``, ``int`` (64-bit), ``float`` and
    one-type sequences of those.  Other values are converted, or dropped:

    ========================================  ====================================
    value                                     attribute
    ========================================  ====================================
    ``None``                                  dropped (also as a dict value)
    ``str``, ``bool``, ``float``, 64-bit int  unchanged (subclasses such as enums:
                                              their base-type value)
    int beyond 64 bits                        its decimal ``str``
    numpy scalar                              its Python value (``.item()``)
    ``bytes``                                 UTF-8 text (bad bytes as ``\\xNN``)
    dict (any ``Mapping``)                    flattened: ``{"a": {"b": 1}}`` gives
                                              ``"a.b": 1``; deeper than 8: ``str``
    list, tuple, set, 1-D numpy array         a tuple; ints mixed with floats become
                                              floats, other mixes all ``str``;
                                              ``None`` items stay ``None``
    anything else (a ModelVersion, a path)    ``str(value)``; dropped if that raises
    ========================================  ====================================

    Keys are ``str(key)``; an empty key is dropped.

    Examples
    --------
    >>> from fastmlops.otel import to_attributes
    >>> to_attributes({"model": "v1", "threshold": 0.5, "owner": None,
    ...                "features": {"count": 12, "names": ["age", "income"]},
    ...                "ids": [1, 2.5], "big": 2**70})
    {'model': 'v1', 'threshold': 0.5, 'features.count': 12,
     'features.names': ('age', 'income'), 'ids': (1.0, 2.5),
     'big': '1180591620717411303424'}
    """
    out: dict[str, Any] = {}
    if not metadata:
        return out
    try:
        items = list(metadata.items())
    except Exception:  # noqa: BLE001 - not a mapping after all
        return out
    for k, v in items:
        try:
            key = _key(k)
            if key:
                _flatten(key, v, out, 0)
        except Exception:  # noqa: BLE001 - one bad value never loses the others
            continue
    return out


# --------------------------------------------------------------------------- metrics
def __getattr__(name: str) -> Any:
    if name in ("OTLPMetricExporter", "start_metrics_exporter"):
        from fastmlops.otel import _otlp
        return getattr(_otlp, name)
    raise AttributeError(f"module 'fastmlops.otel' has no attribute {name!r}")

