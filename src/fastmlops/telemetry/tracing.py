"""The switch of the OpenTelemetry tracing of :func:`~fastmlops.telemetry.span`
and :func:`~fastmlops.telemetry.instrument` blocks.

An internal API: the public one is :mod:`fastmlops.otel`
(``enable_tracing`` / ``disable_tracing`` / ``tracing_enabled``), which names
the extra to install and documents the behaviour.  Importing this module
imports no OpenTelemetry package; the tracing bridge (which does) is imported
by :func:`enable`, or by the first span when tracing is left at its default.

* :func:`enable` -- trace every span, to a given tracer provider or the global one;
* :func:`disable` -- spans are telemetry events only;
* :func:`is_enabled` -- whether spans are traced (deciding the default first:
  on when ``opentelemetry-api`` imports and ``FASTMLOPS_OTEL_TRACING`` is not
  ``0``/``false``/``off``/``no``);
* :func:`save` / :func:`restore` -- the whole switch, for tests.

Examples
--------
>>> from fastmlops.telemetry import tracing
>>> saved = tracing.save()
>>> tracing.disable()
>>> tracing.is_enabled()
False
>>> tracing.restore(saved)
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: importing them here would load OpenTelemetry
    from opentelemetry.trace import Tracer, TracerProvider

__all__ = ["enable", "disable", "is_enabled", "save", "restore", "TracingState",
           "Bridge", "ActiveSpan"]

_log = logging.getLogger("fastmlops.telemetry")
_OFF = ("0", "false", "off", "no")


class ActiveSpan(Protocol):
    """One open OpenTelemetry span of a block (``_otel_bridge.Active``)."""

    def suspend(self) -> None:
        """A decorated generator yields: back to the consumer's context."""

    def resume(self) -> None:
        """The generator runs again: the span's context again."""

    def close(self, duration: float, exc: BaseException | None,
              metadata: Mapping[str, Any]) -> None:
        """End the span ``duration`` seconds after its start; never raises."""


class Bridge(Protocol):
    """What spans need of the tracing bridge (the module ``_otel_bridge``)."""

    def recording(self) -> bool:
        """Whether a span would reach an SDK."""

    def start(self, name: str, metadata: Mapping[str, Any],
              start_ns: int) -> ActiveSpan | None:
        """Start a span and make it current (None if the tracer failed)."""

    def use_provider(self, provider: TracerProvider | None) -> None:
        """Trace to ``provider`` (None: the global provider)."""

    def explicit_tracer(self) -> Tracer | None:
        """The tracer of the provider given to :func:`use_provider`, if any."""

    def use_tracer(self, tracer: Tracer | None) -> None:
        """Trace with ``tracer`` (None: the global provider's)."""


#: The bridge when tracing is on, else None; read without a lock on every span.
_bridge: Bridge | None = None
#: False until the first span (or :func:`is_enabled`) decides the default.
_decided = False
#: The bridge module once imported (whether tracing is on or not).
_loaded: Bridge | None = None
_lock = threading.Lock()


class TracingState:
    """The whole switch, as :func:`save` took it (pass it to :func:`restore`)."""

    __slots__ = ("bridge", "decided", "tracer")

    def __init__(self, bridge: Bridge | None, decided: bool, tracer: Tracer | None) -> None:
        self.bridge = bridge
        self.decided = decided
        self.tracer = tracer

    def __repr__(self) -> str:
        state = "undecided" if not self.decided else "off" if self.bridge is None else "on"
        return f"TracingState({state}, tracer={self.tracer!r})"


def _import_bridge() -> Bridge:
    """The bridge module (ImportError without ``opentelemetry-api``)."""
    global _loaded
    from fastmlops.telemetry import _otel_bridge

    _loaded = _otel_bridge
    return _otel_bridge


def _decide() -> Bridge | None:
    """Decide the default once: on when ``opentelemetry-api`` imports and
    ``FASTMLOPS_OTEL_TRACING`` does not say off."""
    global _bridge, _decided
    with _lock:
        if not _decided:
            bridge = None
            if os.environ.get("FASTMLOPS_OTEL_TRACING", "").strip().lower() not in _OFF:
                try:
                    bridge = _import_bridge()
                except ImportError:
                    bridge = None
                except Exception:  # noqa: BLE001 - a broken install must not break spans
                    _log.exception("fastmlops: importing OpenTelemetry failed; tracing is off")
                    bridge = None
            _bridge = bridge
            _decided = True  # after _bridge: a reader seeing it decided sees the bridge
        return _bridge


def recording() -> Bridge | None:
    """The bridge if the span starting now should be traced, else None (the
    hot path of every span: two global reads when tracing is off, one read
    and one call when it is on)."""
    bridge = _bridge
    if bridge is None:
        if _decided:
            return None
        bridge = _decide()
        if bridge is None:
            return None
    return bridge if bridge.recording() else None


def enable(tracer_provider: TracerProvider | None = None) -> None:
    """Trace every span to ``tracer_provider`` (None: the global provider,
    looked up at each span).

    Raises
    ------
    TypeError
        ``tracer_provider`` has no ``get_tracer``.
    ImportError
        ``opentelemetry-api`` is not installed (:func:`fastmlops.otel.enable_tracing`
        raises one naming the extra first).
    """
    global _bridge, _decided
    if tracer_provider is not None and not callable(getattr(tracer_provider, "get_tracer", None)):
        raise TypeError(f"tracer_provider must be an OpenTelemetry TracerProvider (with "
                        f"get_tracer), got {tracer_provider!r}")
    bridge = _import_bridge()
    bridge.use_provider(tracer_provider)
    with _lock:
        _bridge = bridge
        _decided = True


def disable() -> None:
    """Spans are telemetry events only (blocks already open still end their
    OpenTelemetry span)."""
    global _bridge, _decided
    with _lock:
        _bridge = None
        _decided = True


def is_enabled() -> bool:
    """Whether spans are traced (decides the default now if nothing has yet)."""
    if not _decided:
        return _decide() is not None
    return _bridge is not None


def save() -> TracingState:
    """The switch and the bridge's tracer, to :func:`restore` later."""
    loaded = _loaded
    with _lock:
        return TracingState(_bridge, _decided,
                            None if loaded is None else loaded.explicit_tracer())


def restore(state: TracingState) -> None:
    """Put back what :func:`save` returned (also "not decided yet")."""
    global _bridge, _decided
    loaded = _loaded
    if loaded is not None:
        loaded.use_tracer(state.tracer)
    with _lock:
        _bridge = state.bridge
        _decided = state.decided
