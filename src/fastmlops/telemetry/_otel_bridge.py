"""The bridge from :mod:`fastmlops.telemetry` spans to OpenTelemetry spans.

Imported by :mod:`fastmlops.telemetry.tracing` when tracing is switched on,
or on the first span when it is on by default (see :mod:`fastmlops.otel`); it
imports ``opentelemetry.trace`` and ``opentelemetry.context`` (the API only,
never the SDK).  Everything here
runs inside ``try`` blocks of its callers' making or its own: a failing
tracer, processor or exporter is logged and never reaches the application.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any, Mapping

from opentelemetry import context as _context
from opentelemetry import trace as _trace

from fastmlops import __version__
from fastmlops.telemetry.attributes import to_attributes

_log = logging.getLogger("fastmlops.otel")
_ERROR = _trace.Status(_trace.StatusCode.ERROR)  # template; descriptions are per span

#: Set by :func:`fastmlops.telemetry.tracing.enable`: a tracer of an explicit
#: provider, or None for the global one (``trace.get_tracer``'s proxy, which
#: follows a provider set later).
_explicit: _trace.Tracer | None = None
_global_tracer = _trace.get_tracer("fastmlops", __version__)
# The global provider is the proxy until an SDK sets one; with no SDK a span
# would be a non-recording no-op, so none is made at all (the < 1 us goal).
# ``_TRACER_PROVIDER`` is the API's module global; if a future API drops it,
# every span goes through the tracer (correct, only slower).
_HAS_GLOBAL_SLOT = hasattr(_trace, "_TRACER_PROVIDER")
_trace.get_tracer_provider()  # loads OTEL_PYTHON_TRACER_PROVIDER if set


def use_provider(provider: _trace.TracerProvider | None) -> None:
    """Trace to ``provider`` (None: the global provider)."""
    global _explicit
    _explicit = None if provider is None else provider.get_tracer("fastmlops", __version__)


def explicit_tracer() -> _trace.Tracer | None:
    """The tracer of the provider given to :func:`use_provider` (None: the global one)."""
    return _explicit


def use_tracer(tracer: _trace.Tracer | None) -> None:
    """Trace with ``tracer`` (None: the global provider's), as :func:`explicit_tracer` gave it."""
    global _explicit
    _explicit = tracer


def recording() -> bool:
    """Whether a span would reach an SDK (cheap: one or two attribute reads)."""
    if _explicit is not None:
        return True
    return not _HAS_GLOBAL_SLOT or _trace._TRACER_PROVIDER is not None


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - values whose == raises or is ambiguous (arrays)
        return False


class Active:
    """One open OpenTelemetry span: started and made current on entry,
    ended with the telemetry event's times on exit."""

    __slots__ = ("span", "ctx", "token", "start_ns", "metadata", "inner", "stepped")

    def __init__(self, name: str, metadata: Mapping[str, Any], start_ns: int) -> None:
        tracer = _explicit if _explicit is not None else _global_tracer
        self.metadata = dict(metadata)
        self.start_ns = start_ns
        self.stepped = False
        self.span = tracer.start_span(name, attributes=to_attributes(metadata),
                                      start_time=start_ns)
        self.ctx = self.inner = _trace.set_span_in_context(self.span)
        self.token: contextvars.Token[_context.Context] | None = _context.attach(self.ctx)

    # A decorated generator runs in steps (first ``next()`` to a ``yield``,
    # ``send()`` to the next ``yield``...), each in its consumer's context.
    # Its span's context is entered at the start of a step and left at the
    # end, in the same call, so the reset is always valid; what the generator
    # made current inside (a ``with span`` open across a yield) is kept for
    # its next step, never shown to the consumer.
    def suspend(self) -> None:
        """End a step: back to the consumer's context."""
        self.stepped = True
        token, self.token = self.token, None
        if token is not None:
            self.inner = _context.get_current()
            _context.detach(token)

    def resume(self) -> None:
        """Start a step: the generator's context again."""
        if self.token is None:
            self.token = _context.attach(self.inner)

    def _leave(self) -> None:
        """Leave the span's context at its end: within a generator's step,
        always; for a ``with`` block only while its context is the current
        one (the block may exit in another context, a generator resumed by
        another thread, where a reset would fail and be logged by
        OpenTelemetry; or with a block it did not close still current, which
        is left as it is)."""
        token, self.token = self.token, None
        if token is not None and (self.stepped or _context.get_current() is self.ctx):
            _context.detach(token)

    def close(self, duration: float, exc: BaseException | None,
              metadata: Mapping[str, Any]) -> None:
        """End the span ``duration`` seconds after its start; never raises."""
        try:
            self._end(duration, exc, metadata)
        except Exception:  # noqa: BLE001 - the application must not see it
            _log.exception("fastmlops.otel: ending span %r failed",
                           getattr(self.span, "name", "?"))

    def _end(self, duration: float, exc: BaseException | None,
             metadata: Mapping[str, Any]) -> None:
        span = self.span
        end_ns = self.start_ns + max(int(round(duration * 1e9)), 0)
        try:
            if not _same(metadata, self.metadata):  # s.metadata changed inside the block
                span.set_attributes(to_attributes(metadata))
            if exc is not None:
                kind = type(exc)
                module = kind.__module__
                qual = kind.__qualname__
                span.set_attribute("error.type", qual if module in ("builtins", None)
                                   else f"{module}.{qual}")
                span.record_exception(exc, timestamp=end_ns, escaped=True)
                span.set_status(_trace.Status(_ERROR.status_code, f"{qual}: {exc}"))
        finally:
            # a span whose end raised would otherwise stay current forever
            self._leave()
            span.end(end_time=end_ns)


def start(name: str, metadata: Mapping[str, Any], start_ns: int) -> Active | None:
    """An :class:`Active` span, or None (logged) if the tracer failed."""
    try:
        return Active(name, metadata, start_ns)
    except Exception:  # noqa: BLE001 - the application must not see it
        _log.exception("fastmlops.otel: starting span %r failed; the block runs untraced", name)
        return None

