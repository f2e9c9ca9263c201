"""The rules that turn what the monitors say into what the rollout does:
:class:`RolloutPolicy` and its :class:`PolicyDecision`.

Inputs, each of another fastmlops piece (duck-typed, so a test can pass
plain objects):

* a gate result (:func:`fastmlops.gate.compare`'s ``Comparison``: its
  ``decision`` is ``"pass"`` or ``"fail"``) -- may the candidate ship?
* SLO alerts (:class:`fastmlops.slo.Alert`: ``name``, ``severity``,
  ``message``) -- is the service burning its error budget?
* canary decisions (:class:`fastmlops.canary.Decision`: ``action``
  ``promote``/``hold``/``rollback``, ``percent``, ``reason``);
* drift reports (:class:`fastmlops.DriftReport`: ``drifted``, ``n_rows``).

Outputs: ``ship`` / ``block`` (from :meth:`RolloutPolicy.gate`), ``rollback``,
``promote``, ``complete``, ``retrain`` or ``hold`` (from
:meth:`RolloutPolicy.decide`).  Time is passed in, never read from a clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastmlops._core.validation import as_real, check_choice, check_int

__all__ = ["ACTIONS", "PolicyDecision", "RolloutPolicy"]

#: Every action a :class:`RolloutPolicy` can return.
ACTIONS = ("ship", "block", "hold", "promote", "complete", "rollback", "retrain")
_SEVERITIES = ("page", "ticket")


@dataclass(frozen=True)
class PolicyDecision:
    """What to do now: ``action`` (one of :data:`ACTIONS`), a ``reason`` for
    the logs, the ``time`` it was decided and the ``numbers`` behind it."""

    action: str
    reason: str
    time: float
    numbers: dict[str, float] = field(default_factory=dict)


def _seconds(value: object, name: str) -> float:
    v = as_real(value, name, "a number of seconds")
    if not (v >= 0 and math.isfinite(v)):
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return v


class RolloutPolicy:
    """Decisions of a rollout from gate results, SLO alerts, canary decisions
    and drift reports, with thresholds and cool-downs.

    Rules, in order (the first that applies decides):

    1. :meth:`gate`: a failing gate result blocks the candidate; a passing
       one ships it (the canary may start), unless a rollback happened less
       than ``rollback_cooldown`` seconds ago.
    2. :meth:`decide` while a candidate is out: an SLO alert whose severity
       is in ``rollback_severities`` rolls back (by default only burn-rate
       alerts, those with ``burn_rates``: the multiwindow alerts made for
       paging; ``rollback_alerts="any"`` counts the SLO threshold check
       too); so does the canary controller's own rollback; and a canary
       promotion without a passing gate (never ship what the gate did not
       see).
    3. A canary promotion is passed on (``complete`` when it reaches 100 %).
    4. Drift: a report with ``drifted`` true over at least
       ``drift_min_rows`` rows counts towards ``drift_confirmations``
       consecutive ones (any other report resets the count); then
       ``retrain``, at most once per ``retrain_cooldown`` seconds.
    5. Otherwise ``hold``.

    Parameters
    ----------
    rollback_severities : sequence of {'page', 'ticket'}, default ('page',)
    rollback_alerts : {'burn-rate', 'any'}, default 'burn-rate'
    drift_confirmations : int, default 2
    drift_min_rows : int, default 200
    retrain_cooldown : float, default 600
    rollback_cooldown : float, default 0

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> from fastmlops.rollout import RolloutPolicy
    >>> policy = RolloutPolicy(drift_confirmations=2, retrain_cooldown=60)
    >>> policy.gate(0.0, NS(decision="pass", summary="PASS: roc_auc ...")).action
    'ship'
    >>> policy.decide(5.0, canary=NS(action="promote", percent=5, reason="1% passed")).action
    'promote'
    >>> page = NS(name="availability:Page", severity="page", message="burn rate 30 > 14.4",
    ...           burn_rates={"1h": 30.0, "5m": 31.0})
    >>> d = policy.decide(6.0, alerts=[page])
    >>> d.action, d.reason
    ('rollback', 'SLO alert availability:Page: burn rate 30 > 14.4')
    >>> drifted = NS(drifted=True, n_rows=900)
    >>> [policy.decide(t, drift=drifted).action for t in (10.0, 11.0, 12.0, 13.0)]
    ['hold', 'retrain', 'hold', 'hold']
    """

    def __init__(self, *, rollback_severities: Iterable[str] = ("page",),
                 rollback_alerts: str = "burn-rate",
                 drift_confirmations: int = 2, drift_min_rows: int = 200,
                 retrain_cooldown: float = 600.0, rollback_cooldown: float = 0.0) -> None:
        if isinstance(rollback_severities, str):
            raise TypeError("rollback_severities must be a sequence of severities, e.g. "
                            "('page',), not a str")
        sev = tuple(rollback_severities)
        bad = [s for s in sev if s not in _SEVERITIES]
        if bad:
            raise ValueError(f"rollback_severities must hold 'page' and/or 'ticket', got {bad}")
        self.rollback_severities = sev
        self.rollback_alerts = check_choice(rollback_alerts, "rollback_alerts",
                                            ("burn-rate", "any"))
        self.drift_confirmations = check_int(drift_confirmations, "drift_confirmations",
                                             minimum=1)
        self.drift_min_rows = check_int(drift_min_rows, "drift_min_rows", minimum=0)
        self.retrain_cooldown = _seconds(retrain_cooldown, "retrain_cooldown")
        self.rollback_cooldown = _seconds(rollback_cooldown, "rollback_cooldown")
        self.history: list[PolicyDecision] = []
        #: 'idle' (nothing out), 'canary' (a gated candidate is out)
        self.state = "idle"
        self._now = -math.inf
        self._gate_passed = False
        self._drift_streak = 0
        self._last_retrain: float | None = None
        self._last_rollback: float | None = None

    # ------------------------------------------------------------------ helpers
    def _time(self, now: object) -> float:
        t = as_real(now, "now", "a finite number of seconds")
        if not math.isfinite(t):
            raise ValueError(f"now must be a finite number of seconds, got {now!r}")
        if t < self._now:
            raise ValueError(f"time went backwards: now={t} is before the previous call at "
                             f"{self._now}")
        self._now = t
        return t

    def _decide(self, action: str, reason: str, now: float,
                **numbers: float) -> PolicyDecision:
        d = PolicyDecision(action, reason, now, {k: float(v) for k, v in numbers.items()})
        self.history.append(d)
        return d

    # ------------------------------------------------------------------ the gate
    def gate(self, now: float, result: Any) -> PolicyDecision:
        """``ship`` when ``result.decision == "pass"`` (and no rollback cool-down
        runs), else ``block``.  ``result`` is a :func:`fastmlops.gate.compare`
        result (or anything with ``decision``; ``summary`` and ``pvalue`` are
        used when present)."""
        t = self._time(now)
        decision = getattr(result, "decision", None)
        if decision not in ("pass", "fail"):
            raise TypeError(f"result must be a gate result with decision 'pass' or 'fail' "
                            f"(fastmlops.gate.compare), got {result!r}")
        text = str(getattr(result, "summary", decision))
        nums = {}
        p = getattr(result, "pvalue", None)
        if isinstance(p, (int, float)) and math.isfinite(p):
            nums["pvalue"] = float(p)
        if decision == "fail":
            self._gate_passed = False
            return self._decide("block", f"gate failed: {text}", t, **nums)
        if self._last_rollback is not None and t - self._last_rollback < self.rollback_cooldown:
            left = self.rollback_cooldown - (t - self._last_rollback)
            return self._decide("block", f"gate passed but the rollback cool-down has "
                                f"{left:g} s left", t, **nums)
        self._gate_passed = True
        self.state = "canary"
        return self._decide("ship", f"gate passed: {text}", t, **nums)

    # ------------------------------------------------------------------ watching
    def decide(self, now: float, *, canary: Any = None, alerts: Iterable[Any] = (),
               drift: Any = None) -> PolicyDecision:
        """The action for this moment (see the class docstring for the rules).

        Parameters
        ----------
        now : float
            Not earlier than the previous call.
        canary : fastmlops.canary.Decision, optional
            The controller's decision of this moment.
        alerts : iterable of fastmlops.slo.Alert
            Alerts firing for the candidate now.
        drift : fastmlops.DriftReport, optional
            The newest drift report of the serving inputs.
        """
        t = self._time(now)
        alerts = list(alerts)
        for a in alerts:
            if getattr(a, "severity", None) not in _SEVERITIES:
                raise TypeError(f"alerts must be fastmlops.slo.Alert objects (with a "
                                f"severity 'page' or 'ticket'), got {a!r}")
        action = getattr(canary, "action", None) if canary is not None else None
        if canary is not None and action not in ("promote", "hold", "rollback"):
            raise TypeError(f"canary must be a fastmlops.canary.Decision, got {canary!r}")
        due = self._count_drift(drift)
        if self.state == "canary":
            firing = [a for a in alerts if a.severity in self.rollback_severities
                      and (self.rollback_alerts == "any" or getattr(a, "burn_rates", None))]
            if firing:  # a burn-rate alert (it has burn rates) names the reason first
                a = min(firing, key=lambda x: not getattr(x, "burn_rates", None))
                return self._rollback(t, f"SLO alert {a.name}: {a.message}")
            if action == "rollback":
                return self._rollback(t, f"canary controller: {canary.reason}")
        if action == "promote":
            if not (self.state == "canary" and self._gate_passed):
                return self._rollback(t, "a canary promotion without a passing gate result: "
                                         "roll back (gate the candidate first)")
            percent = float(getattr(canary, "percent", math.nan))
            if percent >= 100:
                self.state = "idle"
                self._gate_passed = False
                return self._decide("complete", f"canary at 100%: {canary.reason}", t,
                                    percent=percent)
            return self._decide("promote", str(canary.reason), t, percent=percent)
        if due is not None:
            return self._retrain(t, due)
        reason = str(canary.reason) if action == "hold" else "nothing to act on"
        return self._decide("hold", reason, t)

    def _rollback(self, t: float, reason: str) -> PolicyDecision:
        self.state = "idle"
        self._gate_passed = False
        self._last_rollback = t
        return self._decide("rollback", reason, t)

    def _count_drift(self, drift: Any) -> int | None:
        """Count a drift report; its rows when a retrain is due (else None).
        The count and the cool-down are spent only by :meth:`_retrain`, so a
        retrain outranked by a rollback or a promotion is still due next time."""
        if drift is None:
            return None
        drifted, n_rows = getattr(drift, "drifted", None), getattr(drift, "n_rows", None)
        if not isinstance(drifted, (bool, np.bool_)) or isinstance(n_rows, bool) \
                or not isinstance(n_rows, (int, np.integer)):
            raise TypeError(f"drift must be a fastmlops.DriftReport (with drifted and "
                            f"n_rows), got {drift!r}")
        if not (drifted and int(n_rows) >= self.drift_min_rows):
            self._drift_streak = 0
            return None
        self._drift_streak += 1
        if self._drift_streak < self.drift_confirmations:
            return None
        if self._last_retrain is not None and \
                self._now - self._last_retrain < self.retrain_cooldown:
            return None
        return int(n_rows)

    def _retrain(self, t: float, n_rows: int) -> PolicyDecision:
        self._last_retrain = t
        streak, self._drift_streak = self._drift_streak, 0
        return self._decide("retrain", f"inputs drifted in {streak} consecutive reports "
                            f"(last over {n_rows} rows): retrain on recent data", t,
                            n_rows=n_rows, confirmations=streak)
