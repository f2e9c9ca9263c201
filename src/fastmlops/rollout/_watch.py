"""The controller loop's tick: :class:`Watcher` reads what the workers wrote
(requests and errors by version in the metrics directory, the drift monitor's
window), feeds the candidate's SLO monitor and canary controller, asks the
:class:`~fastmlops.rollout.RolloutPolicy`, and records the tick in a
:class:`~fastmlops.rollout.Timeline`."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastmlops.rollout._serving import VersionCounts, read_counts

if TYPE_CHECKING:
    from fastmlops.canary import CanaryPolicy
    from fastmlops.monitor import DriftMonitor
    from fastmlops.rollout._policy import PolicyDecision, RolloutPolicy
    from fastmlops.rollout._state import RolloutState
    from fastmlops.rollout._timeline import Timeline
    from fastmlops.slo import Alert, SLOMonitor

__all__ = ["Watcher"]


class Watcher:
    """One tick of a rollout's controller loop, every ``tick(now, state)``.

    Per tick: the requests and errors of the baseline and the candidate since
    the last tick (:func:`~fastmlops.rollout.read_counts`); the candidate's
    requests recorded in its :class:`~fastmlops.slo.SLOMonitor` (each with
    the mean latency of the tick) and evaluated; the canary controller's
    :meth:`~fastmlops.canary.CanaryController.observe`; the drift monitor's
    :meth:`~fastmlops.DriftMonitor.report`; the policy's decision, returned.
    The timeline gets a sample (``canary_percent``, ``baseline_rps``,
    ``baseline_error_rate``, ``candidate_rps``, ``candidate_error_rate``,
    ``burn_rate``, ``drift_psi_max``, ``drift_columns``) and an event for each
    SLO alert that starts firing (stage ``slo``, event ``alert``) and each
    drift report that starts drifting (``drift``, ``drift-alert``).

    Parameters
    ----------
    metrics_dir : path
        The server's metrics directory.
    policy : RolloutPolicy
    timeline : Timeline
    canary_policy : fastmlops.canary.CanaryPolicy
        Of every canary this watcher starts.
    slo_monitor : callable
        ``slo_monitor(now)`` returns a new :class:`~fastmlops.slo.SLOMonitor`
        for a candidate starting at ``now`` (its clock, objective and rules).
    monitor : DriftMonitor, optional
        An identical twin of the workers' monitor (:func:`drift_monitor`).
    prefix : str, default "model"
        Of the :class:`ServingMetrics`.
    """

    def __init__(self, metrics_dir: str | os.PathLike[str], policy: RolloutPolicy,
                 timeline: Timeline, *, canary_policy: CanaryPolicy,
                 slo_monitor: Callable[[float], SLOMonitor],
                 monitor: DriftMonitor | None = None, prefix: str = "model",
                 clock: Callable[[], float] | None = None) -> None:
        import time

        if not callable(slo_monitor):
            raise TypeError("slo_monitor must be callable as slo_monitor(now) -> SLOMonitor")
        self.metrics_dir, self.prefix = os.fspath(metrics_dir), prefix
        self.policy, self.timeline, self.monitor = policy, timeline, monitor
        self.canary_policy, self.slo_monitor = canary_policy, slo_monitor
        self.controller: Any = None
        self.slo: SLOMonitor | None = None
        self.candidate: str | None = None
        self._new_alerts: list[Alert] = []  # alerts that started firing since the last tick
        self._drifting = False
        self._last = (clock or time.monotonic)()  # the counts are read from now on
        self._prev = read_counts(self.metrics_dir, prefix)
        #: the numbers of the last tick
        self.numbers: dict[str, float] = {}

    def start_canary(self, now: float, candidate: str) -> None:
        """Watch a new candidate from ``now``: a new controller and SLO monitor."""
        from fastmlops.canary import CanaryController

        self.controller = CanaryController(self.canary_policy, start_time=now)
        self.slo = self.slo_monitor(now)
        self.candidate = candidate
        self._new_alerts.clear()
        self.slo.add_handler(self._new_alerts.append)  # called when an alert starts firing

    def stop_canary(self) -> None:
        """No candidate any more (rolled back or promoted)."""
        self.controller, self.slo, self.candidate = None, None, None

    def tick(self, now: float, state: RolloutState) -> PolicyDecision:
        """Read, feed, decide (see the class docstring); the policy's decision."""
        counts = read_counts(self.metrics_dir, self.prefix)
        delta = {v: c.minus(self._prev.get(v, VersionCounts())) for v, c in counts.items()}
        self._prev = counts
        elapsed, self._last = max(now - self._last, 1e-3), now
        zero = VersionCounts()
        base = delta.get(state.baseline, zero)
        numbers: dict[str, float] = {"canary_percent": state.percent,
                                     "baseline_rps": base.requests / elapsed,
                                     "baseline_error_rate": base.error_rate}
        canary, alerts = None, []
        if self.controller is not None and self.slo is not None and self.candidate:
            cand = delta.get(self.candidate, zero)
            lat_ms = cand.mean_latency * 1e3
            n_req, n_err = round(cand.requests), round(cand.errors)
            for k in range(n_req):
                self.slo.record(lat_ms, success=k >= n_err)
            status = self.slo.evaluate()
            alerts = status.alerts
            burn = max(status.burn_rates["availability"].values())
            canary = self.controller.observe(now, n_req, n_err, round(base.requests),
                                             round(base.errors))
            numbers.update(candidate_rps=cand.requests / elapsed,
                           candidate_error_rate=cand.error_rate, burn_rate=burn)
            for a in self._new_alerts:
                self.timeline.add(now, "slo", "alert", a.message, burn_rate=burn)
            self._new_alerts.clear()
        report = self._drift(now, numbers)
        self.timeline.sample(now, **numbers)
        self.numbers = numbers
        return self.policy.decide(now, canary=canary, alerts=alerts, drift=report)

    def _drift(self, now: float, numbers: dict[str, float]) -> Any:
        """The drift monitor's report (None without rows or a monitor)."""
        if self.monitor is None:
            return None
        try:
            report = self.monitor.report()
        except ValueError:  # no rows in the window yet
            return None
        if report.n_rows >= self.policy.drift_min_rows:  # smaller windows are noise
            psi = [float(v) for v in report.psi if not math.isnan(v)]
            numbers.update(drift_psi_max=max(psi) if psi else 0.0,
                           drift_columns=float(report.n_drifted))
            if report.drifted and not self._drifting:
                self.timeline.add(now, "drift", "drift-alert", report.headline(),
                                  n_rows=report.n_rows, columns_drifted=report.n_drifted,
                                  psi_max=numbers["drift_psi_max"])
            self._drifting = bool(report.drifted)
        return report
