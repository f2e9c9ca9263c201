"""Telemetry events: the handler table, :func:`attach` / :func:`detach` and
:func:`execute` (see :mod:`fastmlops.telemetry` for the rules on handler
failures and threads)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypedDict

_log = logging.getLogger("fastmlops.telemetry")

#: ``handler(event, measurements, metadata)``; what it returns is ignored.
Handler = Callable[[tuple[str, ...], Mapping[str, Any], Mapping[str, Any]], object]

_lock = threading.Lock()
#: handler_id -> (event names, handler); replaced wholesale under ``_lock``.
_handlers: dict[Hashable, tuple[tuple[tuple[str, ...], ...], Handler]] = {}
#: event name -> ((handler_id, handler), ...); replaced wholesale under ``_lock``.
_by_event: dict[tuple[str, ...], tuple[tuple[Hashable, Handler], ...]] = {}


class HandlerInfo(TypedDict):
    """One entry of :func:`list_handlers`."""

    id: Hashable
    event_name: tuple[str, ...]
    function: Handler


def check_event(event: object, name: str = "event_name") -> tuple[str, ...]:
    if isinstance(event, list):
        event = tuple(event)
    if type(event) is not tuple or not event or not all(isinstance(p, str) for p in event):
        raise TypeError(f"{name} must be a non-empty tuple of strings such as "
                        f"('model', 'predict', 'stop'), got {event!r}")
    return event


def _rebuild() -> None:
    table: dict[tuple[str, ...], list[tuple[Hashable, Handler]]] = {}
    for hid, (events, fn) in _handlers.items():
        for ev in events:
            table.setdefault(ev, []).append((hid, fn))
    global _by_event
    _by_event = {ev: tuple(lst) for ev, lst in table.items()}


def attach(handler_id: Hashable, event_name: tuple[str, ...], handler: Handler) -> None:
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


def attach_many(handler_id: Hashable, event_names: Iterable[tuple[str, ...]],
                handler: Handler) -> None:
    """Like :func:`attach`, for several events with one ``handler_id``."""
    events = tuple(check_event(ev) for ev in event_names)
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


def detach(handler_id: Hashable) -> bool:
    """Remove a handler; ``True`` if it was attached, ``False`` otherwise."""
    with _lock:
        if _handlers.pop(handler_id, None) is None:
            return False
        _rebuild()
        return True


def list_handlers(prefix: tuple[str, ...] = ()) -> list[HandlerInfo]:
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
