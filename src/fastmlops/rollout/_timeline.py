"""The record of a rollout: :class:`Event` and :class:`Timeline`.

A timeline holds what happened (events: a time, a stage, an event name, a
sentence and the numbers it was based on) and how the service looked
meanwhile (samples: a time and a few named numbers, e.g. the canary weight
and the error rates).  Times are passed in, never read from a clock; they
are stored relative to the timeline's ``start``.  It renders as text lines
(printed as events happen), markdown, a dictionary (JSON-ready) and an
offline HTML page (:mod:`fastmlops.rollout._html`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastmlops._core.validation import as_real

__all__ = ["Event", "Timeline"]


def _finite(value: object, name: str) -> float:
    v = as_real(value, name, "a finite number of seconds")
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    return v


def _label(value: object, name: str) -> str:
    if not isinstance(value, str) or not value or any(c in value for c in "\n\r|"):
        raise ValueError(f"{name} must be a non-empty one-line string without '|', "
                         f"got {value!r}")
    return value


def _numbers(values: Mapping[str, object]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in values.items():
        if not isinstance(k, str) or not k.isidentifier():
            raise ValueError(f"a number's name must be an identifier, got {k!r}")
        out[k] = as_real(v, k, "a number")
    return out


def _num(v: float) -> str:
    """A number in a short, readable form (integers without a fraction)."""
    if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}"


@dataclass(frozen=True)
class Event:
    """One thing that happened: ``time`` (seconds since the timeline's start),
    ``stage`` (``"gate"``, ``"canary"``, ``"slo"``...), ``event`` (``"promote"``,
    ``"rollback"``, ``"alert"``...), a ``message`` and the ``numbers`` behind it."""

    time: float
    stage: str
    event: str
    message: str = ""
    numbers: dict[str, float] = field(default_factory=dict)

    def format(self) -> str:
        """One line: ``  12.3 s  canary    promote   message [name=value ...]``."""
        nums = " ".join(f"{k}={_num(v)}" for k, v in self.numbers.items())
        text = f"{self.time:7.1f} s  {self.stage:<9} {self.event:<16} {self.message}"
        return (text + (f" [{nums}]" if nums else "")).rstrip()

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"time": self.time, "stage": self.stage, "event": self.event,
                "message": self.message, "numbers": dict(self.numbers)}


class Timeline:
    """Events and samples of a rollout, in the order they were added.

    Parameters
    ----------
    start : float
        The time that becomes 0 (seconds, the caller's clock).
    on_event : callable, optional
        Called as ``on_event(event)`` by :meth:`add` (e.g. to print each
        event as it happens: ``on_event=lambda e: print(e.format())``).
    title : str
        The heading of the markdown and HTML renderings.

    Examples
    --------
    >>> from fastmlops.rollout import Timeline
    >>> tl = Timeline(start=100.0, title="demo")
    >>> tl.sample(100.5, canary_percent=1, error_rate=0.0)
    >>> _ = tl.add(101.0, "canary", "promote", "1% -> 5%", canary_requests=12)
    >>> tl.sample(101.5, canary_percent=5, error_rate=0.02)
    >>> _ = tl.add(102.0, "slo", "alert", "burn rate 20 > 14.4", burn_rate=20)
    >>> print(tl.events[0].format())
        1.0 s  canary    promote          1% -> 5% [canary_requests=12]
    >>> tl.first("alert").time, tl.series("canary_percent")
    (2.0, ([0.5, 1.5], [1.0, 5.0]))
    >>> print(tl.to_markdown().splitlines()[4])
    | 1.0 | canary | promote | 1% -> 5% | canary_requests=12 |
    """

    def __init__(self, start: float = 0.0, *,
                 on_event: Callable[[Event], object] | None = None,
                 title: str = "fastmlops rollout timeline") -> None:
        self.start = _finite(start, "start")
        if on_event is not None and not callable(on_event):
            raise TypeError(f"on_event must be callable as on_event(event), got {on_event!r}")
        if not isinstance(title, str):
            raise TypeError(f"title must be a str, got {type(title).__name__}")
        self.title = title
        self.on_event = on_event
        self.events: list[Event] = []
        self.samples: list[tuple[float, dict[str, float]]] = []

    def add(self, time: float, stage: str, event: str, message: str = "",
            **numbers: float) -> Event:
        """Record an event at ``time`` (the caller's clock) and return it."""
        if not isinstance(message, str):
            raise TypeError(f"message must be a str, got {type(message).__name__}")
        e = Event(time=_finite(time, "time") - self.start, stage=_label(stage, "stage"),
                  event=_label(event, "event"), message=message.replace("\n", " "),
                  numbers=_numbers(numbers))
        self.events.append(e)
        if self.on_event is not None:
            self.on_event(e)
        return e

    def sample(self, time: float, **values: float) -> None:
        """Record named numbers at ``time`` (one point of each series)."""
        if not values:
            raise ValueError("sample() needs at least one named value, e.g. error_rate=0.01")
        self.samples.append((_finite(time, "time") - self.start, _numbers(values)))

    # ------------------------------------------------------------------ reading
    def find(self, event: str | None = None, stage: str | None = None) -> list[Event]:
        """The events with this name and/or stage, in order."""
        return [e for e in self.events
                if (event is None or e.event == event) and (stage is None or e.stage == stage)]

    def first(self, event: str | None = None, stage: str | None = None) -> Event | None:
        """The first event with this name and/or stage (None when there is none)."""
        found = self.find(event, stage)
        return found[0] if found else None

    def series(self, name: str) -> tuple[list[float], list[float]]:
        """(times, values) of one sampled number, where it was sampled."""
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        pts = [(t, v[name]) for t, v in self.samples if name in v]
        return [t for t, _ in pts], [v for _, v in pts]

    def series_names(self) -> list[str]:
        """Names of every sampled number, in the order they first appear."""
        names: dict[str, None] = {}
        for _, values in self.samples:
            names.update(dict.fromkeys(values))
        return list(names)

    # ------------------------------------------------------------------ rendering
    def format(self) -> str:
        """Every event, one line each (:meth:`Event.format`)."""
        return "\n".join(e.format() for e in self.events)

    def to_markdown(self) -> str:
        """A heading and a table of the events."""
        lines = [f"# {self.title}", "", "| time (s) | stage | event | what | numbers |",
                 "|---:|---|---|---|---|"]
        for e in self.events:
            nums = ", ".join(f"{k}={_num(v)}" for k, v in e.numbers.items())
            msg = e.message.replace("|", "/")
            lines.append(f"| {e.time:.1f} | {e.stage} | {e.event} | {msg} | {nums} |")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready: title, start, events and samples."""
        return {"title": self.title, "start": self.start,
                "events": [e.to_dict() for e in self.events],
                "samples": [{"time": t, **v} for t, v in self.samples]}

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """An offline HTML page (inline SVG, no scripts from the network):
        a summary line, each sampled series over time with the events marked,
        and the table of events.  Written to ``path`` when given; returned."""
        from fastmlops.rollout._html import render

        page = render(self)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(page)
        return page

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        return f"Timeline({len(self.events)} events, {len(self.samples)} samples)"
