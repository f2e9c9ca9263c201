"""The README's serving app ("Serving: metrics for many threads and worker
processes"), for tests/test_servers.py and benchmarks/serving.py.

Run it with ``gunicorn --pythonpath tests _serving_app:app`` (WSGI) or
``uvicorn --app-dir tests _serving_app:asgi_app`` (ASGI).  ``POST /`` (any
path but ``/metrics``) takes a JSON object of features, e.g.
``{"age": 41.5, "plan": "pro", "country": "fr", "visits": 2}``, and answers
``{"score": 0.7}`` with the worker's pid in the ``X-Pid`` header (the tests
count answers per worker); ``GET /metrics`` serves the registry.

Environment, read at import:

* ``FMLOPS_APP_MODE`` -- what the app records (default ``none``):

  - ``none``: nothing; ``/metrics`` serves an empty registry.
  - ``prometheus``: prometheus_client's multiprocess mode (needs
    ``PROMETHEUS_MULTIPROC_DIR``, set before prometheus_client is imported;
    the exposition goes through ``MultiProcessCollector``; the gunicorn
    config calls ``mark_process_dead`` in ``child_exit``).
  - ``fastmlops``: ``fastmlops.metrics`` Counter / Histogram through
    ``fastmlops.instrument``, as in the README.
  - ``monitor``: ``fastmlops`` plus a ``DriftMonitor`` observing each
    request's features.
* ``FMLOPS_REFERENCE`` -- a reference saved with ``DriftReference.save``
  (``monitor`` mode only).
* ``FASTMLOPS_METRICS_DIR`` -- fastmlops's metrics directory, for workers
  not forked from the process that created the metrics (no ``--preload``,
  uvicorn's spawned workers); read by ``fastmlops.metrics`` itself.

Exported names (``fastmlops`` and ``monitor`` modes): ``model_requests_total``,
``model_errors_total``, ``model_latency_seconds`` (labels ``model="v3"``) and
``model_drift_rows_total``; ``prometheus`` mode has the first three.
"""

from __future__ import annotations

import json
import os

MODE = os.environ.get("FMLOPS_APP_MODE", "none")
MODES = ("none", "prometheus", "fastmlops", "monitor")
if MODE not in MODES:
    raise ValueError(f"FMLOPS_APP_MODE must be one of {MODES}, got {MODE!r}")
if MODE == "prometheus" and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    raise ValueError("FMLOPS_APP_MODE=prometheus needs PROMETHEUS_MULTIPROC_DIR")

from prometheus_client import CollectorRegistry, make_asgi_app, make_wsgi_app

registry = CollectorRegistry()
drift = None

if MODE == "none":
    def predict(body: bytes) -> bytes:
        json.loads(body)
        return b'{"score": 0.7}'

else:
    if MODE == "prometheus":
        import prometheus_client
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)   # exposition: every process's files
        Counter, Histogram = prometheus_client.Counter, prometheus_client.Histogram
        metric_registry = None                          # the files are the registry
    else:
        from fastmlops.metrics import Counter, Histogram  # type: ignore[assignment]
        metric_registry = registry

    from fastmlops import instrument

    requests = Counter("model_requests", "Requests served", ["model"],
                       registry=metric_registry)
    errors = Counter("model_errors", "Requests that raised", ["model"],
                     registry=metric_registry)
    latency = Histogram("model_latency_seconds", "Request latency", ["model"],
                        registry=metric_registry)
    if MODE == "monitor":
        import fastmlops

        reference = fastmlops.DriftReference.load(os.environ["FMLOPS_REFERENCE"])
        drift = fastmlops.DriftMonitor(reference, name="model_drift", window=600,
                                       registry=registry)

    @instrument(requests, errors, latency, labels={"model": "v3"})
    def predict(body: bytes) -> bytes:
        features = json.loads(body)   # {"age": 41.5, "plan": "pro", "country": "fr", ...}
        if drift is not None:
            drift.observe(features)   # a list append, no lock
        return b'{"score": 0.7}'


metrics = make_wsgi_app(registry)
_HEADERS = [("Content-Type", "application/json")]


def app(environ, start_response):
    """The WSGI app (gunicorn)."""
    if environ["PATH_INFO"] == "/metrics":
        return metrics(environ, start_response)
    result = predict(environ["wsgi.input"].read())
    start_response("200 OK", _HEADERS + [("X-Pid", str(os.getpid()))])
    return [result]


metrics_asgi = make_asgi_app(registry)


async def asgi_app(scope, receive, send):
    """The same app in plain ASGI (uvicorn)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].rsplit(".", 1)[-1]   # startup / shutdown
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    if scope["path"] == "/metrics":
        return await metrics_asgi(scope, receive, send)
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    result = predict(body)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"x-pid", str(os.getpid()).encode())]})
    await send({"type": "http.response.body", "body": result})
