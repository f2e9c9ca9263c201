"""Running a rollout's server: its configuration (:class:`ServerConfig`, a
JSON file the app reads at import), the drift monitor both sides build alike
(:func:`drift_monitor`), and a gunicorn server on loopback that is always
stopped with its workers (:class:`GunicornServer`)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Self  # Python 3.11

    from prometheus_client.registry import CollectorRegistry

    from fastmlops.monitor import DriftMonitor

__all__ = ["GunicornServer", "ServerConfig", "drift_monitor", "free_port"]

#: The environment variable that names the server's configuration file.
CONFIG_ENV = "FASTMLOPS_LOOP_CONFIG"


@dataclass(frozen=True)
class ServerConfig:
    """What the server's workers need to know at import.

    ``state`` the :class:`~fastmlops.rollout.RolloutState` file,
    ``metrics_dir`` the metrics directory, ``reference`` the saved
    :class:`~fastmlops.DriftReference` the inputs are compared with,
    ``drift_window`` / ``drift_bucket`` the monitor's seconds, ``prefix``
    the metrics' name prefix, ``drift_name`` the monitor's.
    """

    state: str
    metrics_dir: str
    reference: str
    drift_window: float = 10.0
    drift_bucket: float = 1.0
    prefix: str = "model"
    drift_name: str = "model_drift"

    def save(self, path: str | os.PathLike[str]) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(asdict(self), f, indent=1)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ServerConfig:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if not isinstance(data, dict):
            raise TypeError(f"{os.fspath(path)}: not a server configuration (a JSON object)")
        return cls(**data)


def drift_monitor(config: ServerConfig, registry: CollectorRegistry | None = None
                  ) -> DriftMonitor:
    """The drift monitor of ``config``: the workers observe with it, the
    controller reads every worker's counts through an identical one."""
    from fastmlops.monitor import DriftMonitor

    return DriftMonitor(config.reference, window=config.drift_window,
                        bucket=config.drift_bucket, name=config.drift_name,
                        directory=config.metrics_dir, registry=registry)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_GUNICORN_CONF = '''\
"""gunicorn settings of a fastmlops rollout server."""
from fastmlops.serving import worker_exit  # noqa: F401  (end recycled workers quickly)
'''


class GunicornServer:
    """``gunicorn -k sync -w N --preload APP`` on ``127.0.0.1`` and a free
    port, in its own process group; a context manager that waits until
    ``/metrics`` answers and always stops the server and its workers
    (SIGTERM, then SIGKILL to the group).

    Parameters
    ----------
    app : str
        ``module:attribute`` of the WSGI app, importable by the Python that
        runs this (e.g. ``fastmlops.rollout.loop_app:app``).
    workdir : path
        Holds ``server.log`` and the gunicorn configuration.
    workers : int, default 2
    env : mapping, optional
        Added to this process's environment.
    """

    def __init__(self, app: str, workdir: str | os.PathLike[str], *, workers: int = 2,
                 env: Mapping[str, str] | None = None, extra: Sequence[str] = ()) -> None:
        if not isinstance(app, str) or ":" not in app:
            raise ValueError(f"app must be 'module:attribute', got {app!r}")
        import importlib.util

        if importlib.util.find_spec("gunicorn") is None:
            raise ImportError("serving needs gunicorn: pip install 'fastmlops[loop]'")
        self.workdir = os.fspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.port = free_port()
        self.log_path = os.path.join(self.workdir, "server.log")
        conf = os.path.join(self.workdir, "gunicorn_conf.py")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(_GUNICORN_CONF)
        self.argv = [sys.executable, "-m", "gunicorn", app, "-k", "sync", "-w", str(workers),
                     "-b", f"127.0.0.1:{self.port}", "-c", conf, "--preload",
                     "--no-control-socket", "--log-level", "warning", "--timeout", "60",
                     "--graceful-timeout", "5", "--backlog", "256", *extra]
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-chars:]
        except OSError:
            return ""

    def start(self, timeout: float = 60.0) -> Self:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.workdir,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n"
                                       f"{self.log_tail()}")
                try:
                    if self.get("/metrics")[0] == 200:
                        return self
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not answer on port {self.port} within "
                                       f"{timeout:g} s:\n{self.log_tail()}")
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the master (SIGTERM), then SIGKILL whatever is left of its
        process group; the master's exit status (None when it was killed)."""
        proc, status = self.proc, None
        if proc is None:
            return None
        try:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            status = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # workers left behind, if any
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:  # pragma: no cover - unkillable
                pass
        return status

    def __enter__(self) -> Self:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
