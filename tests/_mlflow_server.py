"""Run a real MLflow tracking server for tests, and proxies that break it.

Standard library only (plus the ``mlflow`` command of the dev extra).

* :class:`MlflowServer` -- context manager: ``mlflow server`` with a SQLite
  backend store and served artifacts in a work directory, on 127.0.0.1 and a
  free port; waits for ``/health`` and always terminates the process (group)
  on exit (SIGTERM, then SIGKILL).  Where ``setpriv --pdeathsig`` exists the
  server also dies with the test process.
* :class:`FaultyProxy` -- context manager: an HTTP reverse proxy in front of
  a server that forwards requests until told to fail, then answers
  ``log-batch`` requests with HTTP 503, or holds them for ``delay`` seconds
  (a slow server).  It counts the ``log-batch`` requests it forwarded.
* :func:`dead_url` -- the URL of a port nobody listens on.

Example::

    with MlflowServer(tmp_path) as server:
        client = MlflowClient(server.url)
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socketserver
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests._promserver import _pdeathsig_prefix, free_port

__all__ = ["FaultyProxy", "MlflowServer", "dead_url", "mlflow_binary"]

#: Seconds allowed for the server to create its database and answer /health.
STARTUP_TIMEOUT = 120.0

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def mlflow_binary() -> str:
    """Path of the ``mlflow`` command next to this Python; skip when missing."""
    import sys

    here = Path(sys.executable).with_name("mlflow")
    path = str(here) if here.exists() else shutil.which("mlflow")
    if path is None:
        pytest.skip("the mlflow server is not installed (pip install 'fastmlops[dev]')")
    return path


def dead_url() -> str:
    """``http://127.0.0.1:<port>`` where nothing listens (a port free a moment ago)."""
    return f"http://127.0.0.1:{free_port()}"


class MlflowServerError(AssertionError):
    """The server did not start; the message has its log tail."""


class MlflowServer:
    """A throwaway ``mlflow server`` (SQLite backend, served artifacts).

    Parameters
    ----------
    workdir : Path
        Directory for ``mlflow.db``, ``artifacts/`` and ``server.log``.
    """

    def __init__(self, workdir: Path, *, binary: str | None = None) -> None:
        self.workdir = Path(workdir)
        self.binary = binary or mlflow_binary()
        self.log_path = self.workdir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.url = ""  #: ``http://127.0.0.1:<port>`` once started

    def __enter__(self) -> MlflowServer:  # noqa: PYI034
        with contextlib.ExitStack() as stack:
            stack.callback(self.stop)  # also when start() fails or is interrupted
            self.start()
            stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Start the server and wait for ``/health`` (retrying on a port clash)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        env = dict(os.environ)
        env.pop("MLFLOW_TRACKING_URI", None)
        for _attempt in range(3):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            cmd = _pdeathsig_prefix() + [
                self.binary, "server",
                "--backend-store-uri", f"sqlite:///{self.workdir / 'mlflow.db'}",
                "--artifacts-destination", str(self.workdir / "artifacts"),
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
            ]
            with open(self.log_path, "ab") as log:
                # Own process group: the server's workers are stopped with it.
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, cwd=self.workdir,
                                             env=env, start_new_session=True)
            if self._wait_ready(deadline):
                return
            tail = self.log_tail()
            self.stop()
            if "address already in use" in tail.lower() and time.monotonic() < deadline:
                continue
            raise MlflowServerError(f"mlflow server did not answer /health within "
                                    f"{timeout:g} s ({self.url})\n--- tail of "
                                    f"{self.log_path} ---\n{tail}")
        raise MlflowServerError(f"no free port for mlflow server\n{self.log_tail()}")

    def _wait_ready(self, deadline: float) -> bool:
        """Poll ``/health`` until it answers 200, the process exits or time is up."""
        assert self.proc is not None
        while self.proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(urllib.error.URLError, OSError,
                                     http.client.HTTPException):
                with _OPENER.open(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        """Terminate (then kill) the server's process group; idempotent."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's log."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"


# --------------------------------------------------------------------------- faults
class _ThreadingHTTPServer(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FaultyProxy:
    """A reverse proxy to ``upstream`` that can fail or stall ``log-batch`` requests.

    ``fail_after``: forward that many ``runs/log-batch`` requests, then answer
    the rest with HTTP 503 (``None``: never fail); ``fail_count``: refuse only
    that many, then forward again (a server that recovers).  ``delay``: seconds to hold
    every ``log-batch`` request past ``fail_after`` before answering 503
    (a slow server; the client's timeout should fire first).  Every other
    request (runs, artifacts) is forwarded unchanged.
    """

    def __init__(self, upstream: str, *, fail_after: int | None = None,
                 fail_count: int | None = None, delay: float = 0.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.fail_after = fail_after
        self.fail_count = fail_count
        self.delay = delay
        self.forwarded_batches = 0
        self.refused_batches = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: _ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def __enter__(self) -> FaultyProxy:  # noqa: PYI034
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if "/runs/log-batch" in self.path:
                    with proxy._lock:
                        refuse = (proxy.fail_after is not None
                                  and proxy.forwarded_batches >= proxy.fail_after
                                  and (proxy.fail_count is None
                                       or proxy.refused_batches < proxy.fail_count))
                        if refuse:
                            proxy.refused_batches += 1
                        else:
                            proxy.forwarded_batches += 1
                    if refuse:
                        if proxy.delay:
                            proxy._stop.wait(proxy.delay)
                        self._reply(503, b'{"error_code": "TEMPORARILY_UNAVAILABLE"}',
                                    "application/json")
                        return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                req = urllib.request.Request(proxy.upstream + self.path, data=body,
                                             headers=headers, method=self.command)
                try:
                    with _OPENER.open(req, timeout=60) as r:
                        status, data, ctype = r.status, r.read(), r.headers.get(
                            "Content-Type", "application/octet-stream")
                except urllib.error.HTTPError as e:
                    status, data, ctype = e.code, e.read(), e.headers.get(
                        "Content-Type", "application/json")
                self._reply(status, data, ctype)

            def _reply(self, status: int, data: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._httpd = _ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="mlflow-faulty-proxy", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
