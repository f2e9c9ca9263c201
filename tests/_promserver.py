"""Run a real Prometheus server against in-process exporters, for tests.

Standard library plus ``prometheus_client`` only.

* :func:`prometheus_binary` -- path of ``prometheus`` / ``promtool``, or
  ``pytest.skip`` when the Debian package is not installed.
* :func:`serve_registry` -- context manager: an HTTP exporter for one
  ``CollectorRegistry`` on ``127.0.0.1`` and a free port (yields the port).
* :class:`PrometheusServer` -- context manager: writes ``prometheus.yml``
  (one scrape job per target, short scrape interval), starts
  ``prometheus``, waits for ``/-/ready`` and for a first scrape of every
  target, answers PromQL instant queries through ``/api/v1/query``, and
  always terminates the process on exit (SIGTERM, then SIGKILL).  Where
  ``setpriv --pdeathsig`` exists (util-linux >= 2.33) the server also dies
  with the test process, so even a killed pytest leaves no orphan.

Example::

    with serve_registry(reg) as port, \\
            PrometheusServer(tmp_path, {"app": port}) as prom:
        prom.wait_for_targets()
        prom.query('histogram_quantile(0.99, latency_seconds_bucket)')
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import socketserver
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from prometheus_client import make_wsgi_app

__all__ = ["PrometheusServer", "free_port", "prometheus_binary", "serve_registry"]

#: Seconds allowed for Prometheus to become ready and scrape every target.
STARTUP_TIMEOUT = 30.0

# Never send loopback requests through an http_proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def prometheus_binary(name: str = "prometheus") -> str:
    """Path of ``prometheus`` or ``promtool``; skip the test when missing."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists()
                                  else None)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install prometheus)")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- exporter
class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve_registry(registry: Any) -> Iterator[int]:
    """Export ``registry`` over HTTP on 127.0.0.1; yields the port.

    Content negotiation is prometheus_client's (OpenMetrics when the scraper
    asks for it, as Prometheus does).  Shut down on exit.
    """
    httpd = make_server("127.0.0.1", 0, make_wsgi_app(registry), _ThreadingServer,
                        handler_class=_QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              name="metrics-exporter", daemon=True)
    thread.start()
    try:
        yield httpd.server_port
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------- prometheus
def _pdeathsig_prefix() -> list[str]:
    """``setpriv --pdeathsig KILL`` when available: the child dies with us."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return []
    try:
        ok = subprocess.run([setpriv, "--pdeathsig", "KILL", "true"], check=False,
                            capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return [setpriv, "--pdeathsig", "KILL"] if ok else []


class PrometheusError(AssertionError):
    """Prometheus did not start, scrape or answer; the message has its log tail."""


class PrometheusServer:
    """A throwaway Prometheus scraping ``targets`` (job name -> port on 127.0.0.1).

    Parameters
    ----------
    workdir : Path
        Empty directory for ``prometheus.yml``, the TSDB and ``prometheus.log``.
    targets : mapping of str to int
        One scrape job per entry, ``job -> exporter port``.
    scrape_interval : str
        Prometheus duration; ``200ms`` gets a first scrape almost at once.
    """

    def __init__(self, workdir: Path, targets: Mapping[str, int], *,
                 scrape_interval: str = "200ms", binary: str | None = None) -> None:
        self.workdir = Path(workdir)
        self.targets = dict(targets)
        self.scrape_interval = scrape_interval
        self.binary = binary or prometheus_binary("prometheus")
        self.config = self.workdir / "prometheus.yml"
        self.log_path = self.workdir / "prometheus.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> PrometheusServer:  # noqa: PYI034 (no typing.Self on 3.10)
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write_config(self) -> None:
        jobs = "".join(
            f"  - job_name: {json.dumps(job)}\n"
            f"    static_configs:\n"
            f"      - targets: [\"127.0.0.1:{port}\"]\n"
            for job, port in self.targets.items())
        self.config.write_text(
            "global:\n"
            f"  scrape_interval: {self.scrape_interval}\n"
            f"  scrape_timeout: {self.scrape_interval}\n"
            f"  evaluation_interval: 1m\n"
            "scrape_configs:\n" + (jobs or "  []\n"))

    def start(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Start the server and wait for ``/-/ready`` (retrying on a port clash)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        prefix = _pdeathsig_prefix()
        # Hidden flag (Prometheus >= ~2.30): apply discovered targets after
        # 100 ms instead of 5 s.  Dropped again if this version rejects it.
        fast = ["--scrape.discovery-reload-interval=100ms"]
        deadline = time.monotonic() + timeout
        for attempt in range(4):
            self.port = free_port()
            data = self.workdir / f"data{attempt}"
            cmd = prefix + [
                self.binary,
                f"--config.file={self.config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=info",
                *fast,
            ]
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, cwd=self.workdir)
            if self._wait_ready(deadline):
                return
            tail = self.log_tail()
            if attempt < 3 and fast and "discovery-reload-interval" in tail:
                self.stop()
                fast = []
                continue
            if attempt < 3 and "address already in use" in tail:
                self.stop()
                continue
            break
        exited = self.proc is not None and self.proc.poll() is not None
        message = (self._failure("Prometheus exited before it was ready") if exited else
                   self._failure("Prometheus did not become ready", timeout))
        self.stop()
        raise PrometheusError(message)

    def _wait_ready(self, deadline: float) -> bool:
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with _OPENER.open(self.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Terminate (then kill) the server; idempotent."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    # ------------------------------------------------------------------ diagnostics
    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _failure(self, what: str, timeout: float | None = None) -> str:
        state = "not started"
        if self.proc is not None:
            rc = self.proc.poll()
            state = "running" if rc is None else f"exited with status {rc}"
        within = f" within {timeout:g} s" if timeout is not None else ""
        return (f"{what}{within} (prometheus {state}, {self.url}, config {self.config})\n"
                f"--- tail of {self.log_path} ---\n{self.log_tail()}")

    # ------------------------------------------------------------------ API
    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query at the current time; the ``result`` list of the vector."""
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with _OPENER.open(url, timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            raise PrometheusError(self._failure(f"query {expr!r} failed: {e}: {detail}")) \
                from None
        except (urllib.error.URLError, OSError) as e:
            raise PrometheusError(self._failure(f"query {expr!r} failed: {e}")) from None
        if body.get("status") != "success":
            raise PrometheusError(self._failure(f"query {expr!r} failed: {body}"))
        return body["data"]["result"]

    def scrape_errors(self) -> dict[str, str]:
        """``job -> lastError`` of every active target, from ``/api/v1/targets``."""
        with _OPENER.open(self.url + "/api/v1/targets?state=active", timeout=10) as r:
            body = json.load(r)
        return {t["labels"].get("job", ""): t.get("lastError", "")
                for t in body["data"]["activeTargets"]}

    def wait_for_targets(self, timeout: float = STARTUP_TIMEOUT) -> dict[str, float]:
        """Wait until every job has been scraped once; returns ``job -> up`` (1 or 0).

        A target whose scrape failed still has ``up == 0``; that is reported,
        not waited out, so one broken exporter cannot stall the others.
        """
        deadline = time.monotonic() + timeout
        jobs = set(self.targets)
        up: dict[str, float] = {}
        while True:
            if self.proc is None or self.proc.poll() is not None:
                raise PrometheusError(self._failure("Prometheus exited"))
            up = {s["metric"].get("job", ""): float(s["value"][1]) for s in self.query("up")}
            if jobs <= set(up):
                return {job: up[job] for job in self.targets}
            if time.monotonic() >= deadline:
                missing = sorted(jobs - set(up))
                raise PrometheusError(self._failure(
                    f"targets {missing} were not scraped (up: {up})", timeout))
            time.sleep(0.05)
