"""The in-process SLO monitor: :class:`SLOMonitor` records requests in
per-minute buckets, evaluates availability, latency and burn-rate alerts on a
schedule and calls handlers with :class:`Alert` objects."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Callable, Iterable, Sequence

import numpy as np

from fastmlops.slo._budget import as_objective, check_period
from fastmlops.slo._burn_rules import (DEFAULT_RULES, BurnRateRule, check_rules,
                                       rule_windows)
from fastmlops.slo._numbers import as_finite, duration, minutes
from fastmlops.slo._sli import nearest_rank_quantile

_log = logging.getLogger("fastmlops.slo")
#: Longest window or period of an :class:`SLOMonitor`, which keeps one bucket
#: (24 bytes) per minute: 4 x 366 days (about 50 MB).
MONITOR_MAX_MINUTES = 4 * 366 * 1440


@dataclass(frozen=True)
class Alert:
    """An alert passed to handlers.

    Attributes
    ----------
    name : str
        ``"<sli>:<rule>"`` for burn-rate alerts (``"availability:Page1h"``),
        ``"slo_check"`` for the threshold check.
    severity : {'page', 'ticket'}
    sli : str
        ``"availability"``, ``"latency"`` or ``"check"``.
    burn_rates : dict
        ``{window: burn rate}`` of the two windows of the rule (empty for the
        threshold check).
    message : str
    time : float
        Clock time of the evaluation (seconds).
    """

    name: str
    severity: str
    sli: str
    burn_rates: dict[timedelta, float]
    message: str
    time: float


@dataclass(frozen=True)
class SLOStatus:
    """One evaluation of an :class:`SLOMonitor`.

    Attributes
    ----------
    time : float
        Clock time (seconds).
    good, total : int
        Successful and all requests over the SLO period (the whole stream
        while it is shorter than the period).
    availability : float
        ``good / max(total, 1)``.
    latency : float or None
        The ``latency_quantile`` of the last ``latency_window`` latencies by
        :func:`nearest_rank_quantile`; None before the first request.
    burn_rates : dict
        ``{sli: {window: burn rate}}`` at the current minute.
    budget_remaining : dict
        ``{sli: fraction of the period's error budget left}`` (1 = untouched,
        negative = overspent; 1 with no traffic).
    alerts : list of Alert
        Every alert firing at this evaluation.
    check_line : str
        ``"availability=0.9820, p99_latency=148ms"``.
    """

    time: float
    good: int
    total: int
    availability: float
    latency: float | None
    burn_rates: dict[str, dict[timedelta, float]]
    budget_remaining: dict[str, float]
    alerts: list[Alert]
    check_line: str

    @property
    def ok(self) -> bool:
        """True when no alert fires."""
        return not self.alerts


def _success(success: object) -> bool:
    """A request outcome: a bool, a numpy bool, or the int 0 or 1."""
    if isinstance(success, (bool, np.bool_)):
        return bool(success)
    if isinstance(success, (int, np.integer)) and success in (0, 1):
        return bool(success)
    raise TypeError(f"success must be True or False (or 1/0), got {type(success).__name__} "
                    f"{success!r}; convert it, e.g. success=(status < 500)")


def _quantile_label(q: float) -> str:
    return f"p{q * 100:.10g}"


class SLOMonitor:
    """Records requests in-process and checks them against SLOs.

    The default configuration is the original check: availability >= 99.9 %
    and p99 latency <= 100 ms over the last 1000 requests, plus the
    multiwindow burn-rate alerts of :data:`DEFAULT_RULES` on availability.

    Call :meth:`record` once per request (thread-safe, about 2 us).  Evaluate
    with :meth:`start` / :meth:`stop` (a daemon thread), with
    ``asyncio.create_task(monitor.run(interval))``, or by calling
    :meth:`evaluate` from your own loop; the latest result is
    :attr:`last_status`.

    Parameters
    ----------
    availability_objective : float, default 0.999
        Availability SLO (successful / all requests).
    latency_threshold_ms : float, default 100
        The latency check: alert when the ``latency_quantile`` of the last
        ``latency_window`` latencies is above it.
    latency_quantile : float, default 0.99
        Computed by :func:`nearest_rank_quantile` (element
        ``min(round(q*n), n-1)`` of the sorted window, 0-based).
    latency_window : int, default 1000
        How many recent latencies are kept.
    latency_objective : float, optional
        If given, also a latency SLO with burn-rate alerts: the fraction of
        requests (failed or not) with ``latency <= latency_threshold_ms``
        must be at least this.
    rules : sequence of BurnRateRule, default DEFAULT_RULES
    period : timedelta, default 30 days
        SLO period, whole minutes: availability and the remaining budget are
        over it.  The monitor keeps one bucket per minute of its longest
        window or period, so both are at most :data:`MONITOR_MAX_MINUTES`
        (4 x 366 days).
    handlers : sequence of callables, optional
        Called as ``handler(alert)`` for each firing :class:`Alert`; more with
        :meth:`add_handler`, fewer with :meth:`remove_handler`.  An exception
        in a handler is logged (logger ``fastmlops.slo``) and the other
        handlers still run; the background thread and :meth:`run` keep going.
    repeat : bool, default False
        False: a handler hears about an alert when it starts firing (again
        after it has stopped).  True: at every evaluation while it fires.
    clock : callable, default time.time
        Returns the current time in seconds; requests are counted in the
        minute ``floor(clock() / 60)``.  Inject a fake clock in tests.

    Notes
    -----
    Burn rates are kept in per-minute buckets: a window of ``w`` minutes is
    the current (partial) minute and the ``w - 1`` before it, each evaluated
    in O(1) from cumulative counts.  Windows longer than the monitor's
    lifetime cover the lifetime.  If the clock goes backwards, requests are
    counted in the latest minute seen.  The threshold check does not alert
    without traffic (availability is then reported as 0.0 by the seed rule).

    Examples
    --------
    >>> from fastmlops.slo import SLOMonitor
    >>> now = [0.0]
    >>> mon = SLOMonitor(clock=lambda: now[0])
    >>> for i in range(1000):
    ...     mon.record(latency_ms=148 if i >= 990 else 40, success=i >= 18)
    >>> status = mon.evaluate()
    >>> status.check_line
    'availability=0.9820, p99_latency=148ms'
    >>> [a.name for a in status.alerts]
    ['slo_check', 'availability:Page1h', 'availability:Page6h', 'availability:Ticket1d', 'availability:Ticket3d']
    """

    def __init__(self, availability_objective: float | Fraction | Decimal = 0.999,
                 latency_threshold_ms: float = 100.0, latency_quantile: float = 0.99,
                 latency_window: int = 1000, *,
                 latency_objective: float | Fraction | Decimal | None = None,
                 rules: Sequence[BurnRateRule] = DEFAULT_RULES,
                 period: timedelta = timedelta(days=30),
                 handlers: Iterable[Callable[[Alert], object]] = (), repeat: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.availability_objective = as_objective(availability_objective,
                                                   "availability_objective")
        self.latency_threshold_ms = as_finite(latency_threshold_ms, "latency_threshold_ms")
        q = as_finite(latency_quantile, "latency_quantile")
        if not 0 <= q <= 1:
            raise ValueError(f"latency_quantile must be in [0, 1] (0.99 for p99), got {q!r}")
        self.latency_quantile = q
        if isinstance(latency_window, bool) or not isinstance(latency_window, (int, np.integer)) \
                or latency_window < 1:
            raise ValueError(f"latency_window must be a positive int, got {latency_window!r}")
        self.latency_objective = (None if latency_objective is None
                                  else as_objective(latency_objective, "latency_objective"))
        self.rules = check_rules(rules)
        self.period = check_period(period)
        self._period_min = minutes(self.period, "period")
        if not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds, got {clock!r}")
        self._clock = clock
        self.repeat = bool(repeat)
        self._lock = threading.Lock()
        self._handlers: list[Callable[[Alert], object]] = []
        for h in handlers:
            self.add_handler(h)
        self._windows = rule_windows(self.rules)
        self._slis = ("availability",) + (("latency",) if self.latency_objective is not None else ())
        self._budgets = {"availability": float(1 - self.availability_objective)}
        if self.latency_objective is not None:
            self._budgets["latency"] = float(1 - self.latency_objective)
        longest = max(max(self._windows), self._period_min)
        if longest > MONITOR_MAX_MINUTES:
            raise ValueError(
                f"an SLOMonitor keeps one bucket per minute of its longest window or period, "
                f"at most {MONITOR_MAX_MINUTES:,} minutes (4 x 366 days); got "
                f"{duration(longest)}. Use burn_rates() on stored per-minute counts for "
                "longer ones.")
        self._size = longest + 1
        # rows: total, availability-bad, latency-bad; columns: cumulative counts
        # at the start of each minute (ring buffer indexed by minute % size)
        self._ring = np.zeros((3, self._size), dtype=np.int64)
        self._cum = [0, 0, 0]
        self._first: int | None = None
        self._minute: int | None = None
        self._latencies: deque[float] = deque(maxlen=int(latency_window))
        self._firing: set[str] = set()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()  # the stop event of the current thread
        self._run_lock = threading.Lock()  # start/stop
        self.last_status: SLOStatus | None = None

    # ------------------------------------------------------------- recording
    def add_handler(self, handler: Callable[[Alert], object]) -> None:
        """Add an alert handler, called as ``handler(alert)``."""
        if not callable(handler):
            raise TypeError(f"handler must be callable as handler(alert), got {handler!r}")
        with self._lock:
            self._handlers = self._handlers + [handler]  # copy-on-write

    def remove_handler(self, handler: Callable[[Alert], object]) -> bool:
        """Remove a handler added before (its first occurrence); ``True`` if it
        was there.  An evaluation already running may still call it once."""
        with self._lock:
            for i, h in enumerate(self._handlers):
                if h is handler or h == handler:
                    self._handlers = self._handlers[:i] + self._handlers[i + 1:]
                    return True
        return False

    def _advance(self, now: float) -> None:
        minute = math.floor(now / 60.0)
        if self._minute is None:
            self._first = self._minute = minute
            return
        if minute <= self._minute:
            return
        steps = min(minute - self._minute, self._size)
        # reduced first: the minute itself may be beyond int64 (a clock far in the future)
        idx = (np.arange(steps) + (minute - steps + 1) % self._size) % self._size
        self._ring[:, idx] = np.asarray(self._cum, dtype=np.int64)[:, None]
        self._minute = minute

    def record(self, latency_ms: float, success: bool | np.bool_ | int = True) -> None:
        """Record one request: its latency in ms and whether it succeeded.

        ``success`` is a bool (``True``, ``False``, a numpy bool, or the ints
        1 and 0); anything else, e.g. the string ``"false"``, NaN or a list,
        raises ``TypeError`` rather than being read as truthy.
        """
        lat = as_finite(latency_ms, "latency_ms")
        if lat < 0:
            raise ValueError(f"latency_ms must be >= 0, got {latency_ms!r}")
        ok = _success(success)
        slow = lat > self.latency_threshold_ms
        now = self._now()
        with self._lock:
            self._advance(now)
            cum = self._cum
            cum[0] += 1
            cum[1] += not ok
            cum[2] += slow
            self._latencies.append(lat)

    def _now(self) -> float:
        """``clock()``, checked: a finite number of seconds."""
        return as_finite(self._clock(), "clock()")

    # ------------------------------------------------------------- evaluation
    def _sum(self, row: int, minutes: int) -> int:
        assert self._minute is not None and self._first is not None  # set before any sum
        start = self._minute - minutes + 1
        if start <= self._first:
            return self._cum[row]
        return self._cum[row] - int(self._ring[row, start % self._size])

    def evaluate(self) -> SLOStatus:
        """Evaluate every SLO now, call the handlers, and return the status.

        Safe to call from any thread or from your own loop (it does not block
        on I/O); the background thread and :meth:`run` call it.
        """
        now = self._now()
        with self._lock:
            if self._minute is None:
                self._first = self._minute = math.floor(now / 60.0)
            else:
                self._advance(now)
            total = self._sum(0, self._period_min)
            bad = {"availability": self._sum(1, self._period_min),
                   "latency": self._sum(2, self._period_min)}
            rates: dict[str, dict[timedelta, float]] = {}
            for sli in self._slis:
                row = 1 if sli == "availability" else 2
                rates[sli] = {}
                for w in self._windows:
                    t = self._sum(0, w)
                    rates[sli][timedelta(minutes=w)] = ((self._sum(row, w) / max(t, 1))
                                                        / self._budgets[sli])
            latencies = list(self._latencies)
        good = total - bad["availability"]
        avail = good / max(total, 1)
        latency = (nearest_rank_quantile(latencies, self.latency_quantile)
                   if latencies else None)
        label = _quantile_label(self.latency_quantile)
        check_line = (f"availability={avail:.4f}, {label}_latency="
                      + (f"{latency:.0f}ms" if latency is not None else "n/a"))
        remaining = {sli: 1.0 - (bad[sli] / max(total, 1)) / self._budgets[sli]
                     for sli in self._slis}
        alerts: list[Alert] = []
        reasons: list[str] = []
        if total and avail < self.availability_objective:
            reasons.append(f"availability < {float(self.availability_objective):g}")
        if latency is not None and latency > self.latency_threshold_ms:
            reasons.append(f"{label}_latency > {self.latency_threshold_ms:g}ms")
        if reasons:
            alerts.append(Alert("slo_check", "page", "check", {},
                                f"SLO check failed: {check_line} ({'; '.join(reasons)})", now))
        for sli in self._slis:
            for r in self.rules:
                long_w, short_w = r.long_window, r.short_window
                pair = {long_w: rates[sli][long_w], short_w: rates[sli][short_w]}
                if pair[long_w] > r.burn_rate and pair[short_w] > r.burn_rate:
                    msg = (f"{sli} SLO {float(self._objective_of(sli)):g}: burn rate "
                           f"{pair[long_w]:.3g} over {duration(r.windows[0])} and "
                           f"{pair[short_w]:.3g} over {duration(r.windows[1])} "
                           f"(both > {r.burn_rate:g}); budget left "
                           f"{remaining[sli]:.1%}")
                    alerts.append(Alert(f"{sli}:{r.name}", r.severity, sli, pair, msg, now))
        status = SLOStatus(now, good, total, avail, latency, rates, remaining, alerts, check_line)
        names = {a.name for a in alerts}
        with self._lock:
            notify = [a for a in alerts if self.repeat or a.name not in self._firing]
            self._firing = names
            self.last_status = status
        handlers = self._handlers
        for alert in notify:
            for handler in handlers:
                try:
                    handler(alert)
                except Exception:  # one broken handler must not silence the others
                    _log.exception("fastmlops.slo: alert handler %r failed on %s",
                                   handler, alert.name)
        return status

    def _objective_of(self, sli: str) -> Fraction:
        objective = (self.availability_objective if sli == "availability"
                     else self.latency_objective)
        assert objective is not None  # "latency" is an SLI only with a latency objective
        return objective

    # ------------------------------------------------------------- scheduling
    def start(self, interval: float | timedelta = 10.0) -> None:
        """Evaluate every ``interval`` seconds (or timedelta) in a daemon thread.

        ``interval`` is positive and at most :data:`threading.TIMEOUT_MAX`
        (about 292 years on Linux); other values raise ``ValueError`` here,
        before the thread starts.

        An evaluation that raises (a failing clock, a handler raising even
        ``SystemExit``) is logged (logger ``fastmlops.slo``) and the thread
        keeps running until :meth:`stop`.
        """
        seconds = self._interval(interval)
        with self._run_lock:
            if self._thread is not None and self._thread.is_alive():
                raise RuntimeError("the monitor is already running; call stop() first")
            # a fresh event per thread: a thread that stop() could not join in
            # time still sees its own event set and exits, even after a restart
            stop = self._stop = threading.Event()
            self._thread = threading.Thread(target=self._loop, args=(seconds, stop),
                                            name="fastmlops-slo-monitor", daemon=True)
            self._thread.start()

    def _loop(self, seconds: float, stop: threading.Event) -> None:
        while not stop.wait(seconds):
            try:
                self.evaluate()
            except BaseException:  # SystemExit from a handler must not end the thread silently
                _log.exception("fastmlops.slo: evaluation failed")

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the background thread (no-op when not running) and wait for it
        (up to ``timeout`` seconds; not when called from a handler running on
        that thread)."""
        with self._run_lock:
            self._stop.set()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        """True while the background thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    async def run(self, interval: float | timedelta = 10.0) -> None:
        """Evaluate every ``interval`` seconds in an asyncio loop until cancelled.

        ``task = asyncio.create_task(monitor.run(10))``; ``task.cancel()`` stops it.
        ``interval`` as in :meth:`start`.
        As in the thread, an evaluation that raises is logged (logger
        ``fastmlops.slo``) and the loop goes on.
        """
        seconds = self._interval(interval)
        while True:
            await asyncio.sleep(seconds)
            try:
                self.evaluate()
            except Exception:
                _log.exception("fastmlops.slo: evaluation failed")

    @staticmethod
    def _interval(interval: float | timedelta) -> float:
        if isinstance(interval, timedelta):
            seconds = interval.total_seconds()
        else:
            seconds = as_finite(interval, "interval")
        if seconds <= 0:
            raise ValueError(f"interval must be positive (seconds or timedelta), got {interval!r}")
        if seconds > threading.TIMEOUT_MAX:
            raise ValueError(f"interval must be at most threading.TIMEOUT_MAX "
                             f"({threading.TIMEOUT_MAX:g} s), got {interval!r}")
        return seconds

    def __enter__(self) -> "SLOMonitor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
