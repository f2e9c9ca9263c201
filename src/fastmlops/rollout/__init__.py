"""The seed's loop, as library pieces: turn gate results, SLO alerts, canary
decisions and drift reports into rollout decisions, carry them to a server's
workers, and keep a timeline of everything that happened.

* :class:`RolloutPolicy` -- the rules (rollback on a paging SLO alert or the
  canary controller's rollback, promote only what a gate passed, retrain
  after confirmed drift, cool-downs), time passed in; returns
  :class:`PolicyDecision` objects.
* :class:`Timeline` -- events and sampled numbers over time, printed as they
  happen, rendered as markdown, a dict (JSON) or an offline HTML page with
  inline SVG charts.
* :class:`RolloutState` / :class:`StateReader` -- the canary split and the
  models of each version as a JSON file replaced atomically, re-read by each
  worker when it changes; :meth:`RolloutState.route` assigns a request by
  :func:`fastmlops.canary.in_canary`.
* :class:`ServingMetrics` / :func:`read_counts` / :class:`VersionCounts` --
  requests, errors and latency by version in :mod:`fastmlops.metrics`, read
  back from the metrics directory by the controller.
* :class:`Watcher` -- one tick of a controller loop: the workers' counts and
  drift window in, the candidate's SLO monitor and canary controller fed, the
  policy's decision out, the timeline sampled.
* :class:`ServerConfig`, :func:`drift_monitor`, :class:`GunicornServer`,
  :class:`PrometheusServer`, :class:`LoadGenerator` -- running a server (and
  a Prometheus, when installed) on loopback and sending it traffic
  (``fastmlops demo loop`` uses them; docs/loop.md).

The demo's own server app is :mod:`fastmlops.rollout.loop_app`.

Examples
--------
>>> from types import SimpleNamespace as NS
>>> from fastmlops.rollout import RolloutPolicy, Timeline
>>> tl, policy = Timeline(), RolloutPolicy()
>>> d = policy.gate(0.0, NS(decision="pass", summary="PASS"))
>>> _ = tl.add(d.time, "gate", d.action, d.reason)
>>> print(tl.format())
    0.0 s  gate      ship             gate passed: PASS
"""

from fastmlops.rollout._load import LoadGenerator
from fastmlops.rollout._policy import ACTIONS, PolicyDecision, RolloutPolicy
from fastmlops.rollout._prometheus import PrometheusServer, prometheus_binary
from fastmlops.rollout._server import GunicornServer, ServerConfig, drift_monitor
from fastmlops.rollout._serving import ServingMetrics, VersionCounts, read_counts
from fastmlops.rollout._state import RolloutState, StateReader
from fastmlops.rollout._timeline import Event, Timeline
from fastmlops.rollout._watch import Watcher

__all__ = [
    "ACTIONS",
    "Event",
    "GunicornServer",
    "LoadGenerator",
    "PolicyDecision",
    "PrometheusServer",
    "RolloutPolicy",
    "RolloutState",
    "ServerConfig",
    "ServingMetrics",
    "StateReader",
    "Timeline",
    "VersionCounts",
    "Watcher",
    "drift_monitor",
    "prometheus_binary",
    "read_counts",
]

for _cls in (Event, GunicornServer, LoadGenerator, PolicyDecision, PrometheusServer,
             RolloutPolicy, RolloutState, ServerConfig, ServingMetrics, StateReader, Timeline,
             VersionCounts, Watcher):
    _cls.__module__ = __name__
del _cls
