"""A small OTLP/HTTP receiver for tests: a real HTTP server on localhost that
decodes the protobuf requests with opentelemetry-proto.

``/v1/metrics`` and ``/v1/traces`` are accepted; ``delay``, ``status`` and
``rejected`` make it slow, failing, or answer a partial success.
"""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

_KINDS = {
    "/v1/metrics": (metrics_service_pb2.ExportMetricsServiceRequest,
                    metrics_service_pb2.ExportMetricsServiceResponse),
    "/v1/traces": (trace_service_pb2.ExportTraceServiceRequest,
                   trace_service_pb2.ExportTraceServiceResponse),
}


class Receiver:
    """``with Receiver() as r:`` serves on ``r.url`` and keeps what arrives
    in ``r.requests`` (``(path, decoded request, headers)``)."""

    def __init__(self, delay: float = 0.0, status: int = 200, rejected: int = 0) -> None:
        self.delay = delay
        self.status = status
        self.rejected = rejected
        self.requests: list[tuple[str, Any, dict[str, str]]] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                kinds = _KINDS.get(self.path)
                if kinds is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                request = kinds[0].FromString(body)
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver._cond:
                    receiver.requests.append((self.path, request, dict(self.headers)))
                    receiver._cond.notify_all()
                if receiver.status != 200:
                    self.send_response(receiver.status)
                    self.send_header("Content-Length", "5")
                    self.end_headers()
                    self.wfile.write(b"nope\n")
                    return
                response = kinds[1]()
                if receiver.rejected:
                    response.partial_success.rejected_data_points = receiver.rejected
                    response.partial_success.error_message = "too many"
                out = response.SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def of(self, path: str) -> list[Any]:
        with self._cond:
            return [req for p, req, _ in self.requests if p == path]

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> Any:
        """Wait until ``predicate(self)`` is truthy; return it (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = predicate(self)
                if got:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the receiver did not get what was expected in "
                                         f"{timeout} s ({len(self.requests)} requests)")
                self._cond.wait(min(left, 0.1))


def spans(requests: list[Any]) -> list[Any]:
    """Every span of decoded ExportTraceServiceRequests."""
    return [s for req in requests for rs in req.resource_spans for ss in rs.scope_spans
            for s in ss.spans]


def metrics(request: Any) -> dict[str, Any]:
    """name -> Metric of one decoded ExportMetricsServiceRequest."""
    return {m.name: m for rm in request.resource_metrics for sm in rm.scope_metrics
            for m in sm.metrics}


def attrs(key_values: Any) -> dict[str, Any]:
    """A protobuf KeyValue list as a dict of plain values."""
    out = {}
    for kv in key_values:
        v = kv.value
        kind = v.WhichOneof("value")
        if kind == "array_value":
            out[kv.key] = tuple(getattr(x, x.WhichOneof("value")) if x.WhichOneof("value")
                                else None for x in v.array_value.values)
        else:
            out[kv.key] = getattr(v, kind) if kind else None
    return out
