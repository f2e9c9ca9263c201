"""Issue #23 item 4: the OTLP exporter's ``timeout`` bounds the whole request,
not each read, and an exit never blocks on the exporter (a collector that
sends one byte every 0.3 s held ``export_once(timeout=1)`` for over 30 s, and
``sys.exit`` for over 40 s)."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

pytest.importorskip("opentelemetry.proto")

from prometheus_client import CollectorRegistry  # noqa: E402

from fastmlops.otel import OTLPMetricExporter  # noqa: E402


class Dripper:
    """A TCP server that reads a request and answers one byte every
    ``every`` seconds, for ever (a collector stuck behind a slow proxy)."""

    def __init__(self, every: float = 0.3) -> None:
        self.every = every
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1/metrics"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000
        try:
            conn.recv(65536)
            for b in answer:
                if self.stop.is_set():
                    break
                conn.sendall(bytes([b]))
                time.sleep(self.every)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture()
def dripper():
    d = Dripper()
    yield d
    d.close()


def test_a_request_ends_by_its_timeout(dripper):
    exporter = OTLPMetricExporter(dripper.url, registry=CollectorRegistry(), interval=60,
                                  timeout=1.0)
    start = time.monotonic()
    assert exporter.export_once() is False
    elapsed = time.monotonic() - start
    assert elapsed < 3.0, elapsed  # 30 s and more before
    assert "TimeoutError" in exporter.stats["last_error"]
    assert exporter.stats["failures"] == 1


def test_exit_does_not_wait_for_a_stuck_export(dripper):
    """The background export is stuck on the collector when the interpreter
    exits: the exit's final export waits at most the timeout, then gives up."""
    code = textwrap.dedent(f"""
        import sys, time
        from prometheus_client import CollectorRegistry
        from fastmlops.otel import start_metrics_exporter
        exporter = start_metrics_exporter({dripper.url!r}, registry=CollectorRegistry(),
                                          interval=0.2, timeout=1.0)
        time.sleep(0.5)           # the first export is now in flight, stuck
        sys.exit(0)
    """)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert elapsed < 8.0, elapsed  # over 40 s before (import and start take 1-3 s)


def test_shutdown_is_bounded_by_its_timeout(dripper):
    exporter = OTLPMetricExporter(dripper.url, registry=CollectorRegistry(), interval=0.2,
                                  timeout=1.0).start()
    time.sleep(0.5)
    start = time.monotonic()
    exporter.shutdown(timeout=0.5)
    assert time.monotonic() - start < 1.5
    assert exporter.stats["skipped_busy"] + exporter.stats["failures"] >= 1
