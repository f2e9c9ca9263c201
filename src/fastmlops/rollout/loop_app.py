"""The WSGI app of ``fastmlops demo loop``, for gunicorn:
``gunicorn --preload -w 2 fastmlops.rollout.loop_app:app`` with
``FASTMLOPS_LOOP_CONFIG`` naming a :class:`~fastmlops.rollout.ServerConfig`
file (read at import, before the workers fork).

* ``POST /predict`` takes ``{"user": "u-17", "features": {"f0": 0.1, ...}}``,
  routes the user by the :class:`~fastmlops.rollout.RolloutState` file (the
  canary split, re-read when it changes), scores the row with that version's
  model (a pickled scikit-learn classifier, loaded once per worker and
  version) and answers ``{"version": "v2", "score": 0.73}`` with the version
  in the ``X-Version`` header.  The request is counted in
  :class:`~fastmlops.rollout.ServingMetrics` (requests, errors, latency by
  version) and its features in the :class:`~fastmlops.DriftMonitor`.
* The state's ``params["fault_rate"]`` is the share of the candidate's
  requests that fail on purpose (HTTP 500): the demo's injected fault.
* ``GET /metrics`` serves every worker's metrics (Prometheus text).

Nothing here is needed to use :mod:`fastmlops.rollout` in your own server;
it is the demo's, kept inside the package so that gunicorn imports it from
the installed library.
"""

from __future__ import annotations

import json
import os
import pickle
import random
from collections.abc import Callable, Iterable
from typing import Any

from fastmlops.rollout._server import CONFIG_ENV, ServerConfig, drift_monitor
from fastmlops.rollout._serving import ServingMetrics
from fastmlops.rollout._state import StateReader
from fastmlops.rollout.scenario import FEATURES

__all__ = ["app", "setup"]


class _Server:
    """What a worker holds: the configuration, metrics, monitor, state reader."""

    def __init__(self, config: ServerConfig) -> None:
        from prometheus_client import CollectorRegistry, make_wsgi_app

        self.config = config
        self.registry = CollectorRegistry()
        self.metrics = ServingMetrics(config.prefix, directory=config.metrics_dir,
                                      registry=self.registry)
        self.monitor = drift_monitor(config, self.registry)
        self.state = StateReader(config.state)
        self.models: dict[str, tuple[str, Any]] = {}
        self.exposition = make_wsgi_app(self.registry)


_server: _Server | None = None


def setup(path: str | os.PathLike[str] | None = None) -> None:
    """Read the configuration (``path``, default ``$FASTMLOPS_LOOP_CONFIG``)
    and create the metrics and the monitor.  Runs at import when the variable
    is set (with ``--preload``: once, in gunicorn's master, before the fork).

    >>> import os
    >>> from fastmlops.rollout import loop_app
    >>> os.environ.get("FASTMLOPS_LOOP_CONFIG") is None and loop_app._server is None
    True
    """
    global _server
    if path is None:
        path = os.environ.get(CONFIG_ENV)
    if not path:
        raise RuntimeError(f"{CONFIG_ENV} must name the server's configuration file "
                           "(fastmlops.rollout.ServerConfig.save); `fastmlops demo loop` "
                           "sets it")
    _server = _Server(ServerConfig.load(path))


if os.environ.get(CONFIG_ENV):
    setup()


class InjectedFault(RuntimeError):
    """The failure the demo injects into the candidate."""


def _model(srv: _Server, version: str, path: str) -> Any:
    got = srv.models.get(version)
    if got is None or got[0] != path:
        with open(path, "rb") as f:
            got = (path, pickle.load(f))  # the demo's own files, written by the demo
        srv.models[version] = got
    return got[1]


def _predict(srv: _Server, body: bytes) -> tuple[str, bytes]:
    request = json.loads(body)
    features = request["features"]
    row = [float(features[c]) for c in FEATURES]
    now = srv.state.get()
    version = now.route(str(request["user"]))

    def score() -> bytes:
        srv.monitor.observe(row)
        if version == now.candidate and random.random() < now.params.get("fault_rate", 0.0):
            raise InjectedFault(f"injected fault in {version}")
        model = _model(srv, version, now.models[version])
        p = float(model.predict_proba([row])[0, 1])
        return json.dumps({"version": version, "score": round(p, 6)}).encode()

    try:
        return version, srv.metrics.call(version, score)
    except InjectedFault as exc:
        raise _Failed(version, str(exc)) from None


class _Failed(Exception):
    def __init__(self, version: str, message: str) -> None:
        super().__init__(message)
        self.version = version


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The WSGI app."""
    if _server is None:
        setup()
    srv = _server
    assert srv is not None
    if environ.get("PATH_INFO") == "/metrics":
        return srv.exposition(environ, start_response)
    try:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        version, out = _predict(srv, environ["wsgi.input"].read(size))
    except _Failed as exc:
        start_response("500 Internal Server Error",
                       [("Content-Type", "application/json"), ("X-Version", exc.version)])
        return [json.dumps({"error": str(exc)}).encode()]
    except (ValueError, KeyError, TypeError) as exc:
        start_response("400 Bad Request", [("Content-Type", "application/json")])
        return [json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode()]
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Version", version)])
    return [out]
