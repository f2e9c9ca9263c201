"""A real Prometheus on loopback for a rollout's server, when the binary is
installed: :class:`PrometheusServer` scrapes the server's ``/metrics`` every
second, evaluates a rules file (e.g. :func:`fastmlops.slo.prometheus_rules`'s)
and answers instant queries; it is always stopped with the ``with`` block."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from fastmlops.rollout._server import free_port

if TYPE_CHECKING:
    from typing import Self  # Python 3.11

__all__ = ["PrometheusServer", "prometheus_binary"]

#: Never through a proxy: everything here is on 127.0.0.1.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def prometheus_binary() -> str | None:
    """The ``prometheus`` executable (``$PROMETHEUS`` or on PATH), or None."""
    named = os.environ.get("PROMETHEUS")
    return named if named else shutil.which("prometheus")


class PrometheusServer:
    """``prometheus`` scraping ``127.0.0.1:target_port`` (job ``model``).

    Parameters
    ----------
    workdir : path
        Holds ``prometheus.yml``, the TSDB and ``prometheus.log``.
    target_port : int
    rules : path, optional
        A rules file to evaluate (every second).
    binary : str, optional
        Default :func:`prometheus_binary`; ``FileNotFoundError`` without one.
    """

    def __init__(self, workdir: str | os.PathLike[str], target_port: int, *,
                 rules: str | os.PathLike[str] | None = None, binary: str | None = None,
                 scrape_interval: str = "1s") -> None:
        found = binary or prometheus_binary()
        if not found:
            raise FileNotFoundError("no prometheus binary: install Prometheus or set "
                                    "PROMETHEUS to its path")
        self.binary = found
        self.workdir = os.fspath(workdir)
        self.target_port = int(target_port)
        self.rules = None if rules is None else os.path.abspath(rules)
        self.scrape_interval = scrape_interval
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = os.path.join(self.workdir, "prometheus.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> str:
        rules = f"rule_files:\n  - {json.dumps(self.rules)}\n" if self.rules else ""
        return ("global:\n"
                f"  scrape_interval: {self.scrape_interval}\n"
                f"  scrape_timeout: {self.scrape_interval}\n"
                f"  evaluation_interval: {self.scrape_interval}\n"
                + rules +
                "scrape_configs:\n"
                "  - job_name: \"model\"\n"
                "    static_configs:\n"
                f"      - targets: [\"127.0.0.1:{self.target_port}\"]\n")

    def start(self, timeout: float = 30.0) -> Self:
        os.makedirs(self.workdir, exist_ok=True)
        config = os.path.join(self.workdir, "prometheus.yml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(self._config())
        argv = [self.binary, f"--config.file={config}",
                f"--storage.tsdb.path={os.path.join(self.workdir, 'data')}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h", "--log.level=warn"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.workdir,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"prometheus exited with {self.proc.returncode}: "
                                       f"{self._log_tail()}")
                try:
                    with _OPENER.open(self.url + "/-/ready", timeout=2) as r:
                        if r.status == 200:
                            return self
                except (urllib.error.URLError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"prometheus was not ready within {timeout:g} s: "
                                       f"{self._log_tail()}")
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def _log_tail(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return "(no log)"

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query now; the result vector (a list of samples)."""
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with _OPENER.open(url, timeout=10) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus query {expr!r} failed: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, expr: str) -> float | None:
        """The value of a query that gives one sample (None when it gives none)."""
        got = self.query(expr)
        return float(got[0]["value"][1]) if got else None

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

    def __enter__(self) -> Self:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
