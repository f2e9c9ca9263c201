"""Real gunicorn / uvicorn servers on loopback, a bounded load generator and a
scraper, for tests/test_servers.py and benchmarks/serving.py.

Standard library plus ``prometheus_client`` (``psutil`` if installed).

* :func:`gunicorn` / :func:`uvicorn` -- a :class:`Server` (not started) running
  tests/_serving_app.py on ``127.0.0.1`` and a free port, with the app's mode,
  a gunicorn config whose ``worker_exit`` / ``child_exit`` hooks append
  ``time.time()`` stamps to ``<workdir>/exits.log``, and the environment
  given.
* :class:`Server` -- context manager: starts the command in a new process
  group, waits until ``/metrics`` answers, and always stops it on exit:
  SIGTERM to the master, then SIGKILL to the whole group after a timeout (and
  to any worker left behind).  Where ``setpriv --pdeathsig`` exists the master
  also gets SIGTERM if the test process dies.
* :func:`load` -- ``n`` requests from ``threads`` client threads (optionally
  paced to ``rate`` requests per second), each on its own connection, with
  a per-request timeout: a :class:`Load` with the 200s answered, per worker
  pid and with their completion times.
* :func:`scrape` / :func:`sample` / :func:`poll` -- ``/metrics`` parsed with
  ``text_string_to_metric_families``; poll until a value is reached.
* :func:`write_reference` / :func:`bodies` -- the fixture ``DriftReference``
  (columns age, plan, country, visits) and request bodies that match it.

Example::

    with gunicorn(tmp_path, mode="fastmlops", workers=2, preload=True) as srv:
        got = load(srv.port, 200, threads=4)
        assert poll(lambda: sample(scrape(srv.port), "model_requests_total"),
                    got.answered) == got.answered
"""

from __future__ import annotations

import collections
import dataclasses
import http.client
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests._promserver import free_port

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Load", "Server", "bodies", "children", "counts", "exit_delays", "gunicorn",
           "http_request", "load", "poll", "sample", "scrape", "uvicorn", "write_reference"]

TESTS_DIR = Path(__file__).resolve().parent
#: Seconds allowed for a server to answer its first ``/metrics``.
STARTUP_TIMEOUT = 30.0

_GUNICORN_CONF = '''\
"""gunicorn hooks: exit stamps for tests/test_servers.py."""
import os
import time


def _stamp(event, pid):
    path = os.environ.get("FMLOPS_EXIT_LOG")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{event} {pid} {time.time():.6f}\\n".encode())
        finally:
            os.close(fd)


def worker_exit(server, worker):   # in the worker, before it exits
    _stamp("worker_exit", worker.pid)
    if os.environ.get("FMLOPS_FAST_EXIT") == "1":  # fastmlops' opt-in hook
        from fastmlops.serving import worker_exit as fast_exit
        fast_exit(server, worker)


def child_exit(server, worker):    # in the master, once it reaped the worker
    _stamp("child_exit", worker.pid)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
'''


# ----------------------------------------------------------------------------- fixtures
def write_reference(path: Path, n: int = 5000, seed: int = 0) -> Path:
    """Save the fixture reference (age, plan, country, visits) to ``path``."""
    import numpy as np

    import fastmlops

    rng = np.random.default_rng(seed)
    fastmlops.DriftReference({
        "age": np.round(rng.normal(40, 10, n), 1),
        "plan": rng.choice(["free", "pro", "team"], n, p=[0.6, 0.3, 0.1]).tolist(),
        "country": rng.choice(["fr", "es", "de", "it"], n).tolist(),
        "visits": rng.poisson(3, n).astype(float),
    }).save(path)
    return Path(path)


def bodies(n: int = 64, seed: int = 1) -> list[bytes]:
    """``n`` JSON request bodies with the reference's features."""
    import random

    rng = random.Random(seed)
    return [json.dumps({"age": round(rng.gauss(41, 10), 1),
                        "plan": rng.choice(["free", "pro", "team"]),
                        "country": rng.choice(["fr", "es", "de", "it"]),
                        "visits": rng.randint(0, 9)}).encode() for _ in range(n)]


# ----------------------------------------------------------------------------- servers
def _pdeathsig_prefix() -> list[str]:
    """``setpriv --pdeathsig TERM`` where it works: the master stops with us."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return []
    try:
        ok = subprocess.run([setpriv, "--pdeathsig", "TERM", "true"], check=False,
                            capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return [setpriv, "--pdeathsig", "TERM"] if ok else []


def children(pid: int) -> list[int]:
    """Pids of the direct children of ``pid`` (a gunicorn master's workers)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            return [c.pid for c in psutil.Process(pid).children()]
        except psutil.NoSuchProcess:
            return []
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in task.read_text().split()]
        except OSError:
            pass
    return found


class ServerError(AssertionError):
    """The server did not start or stop; the message has its log tail."""


class Server:
    """A server command run in its own process group; a context manager.

    ``port`` is where it listens, ``workdir`` holds ``server.log`` (its
    output) and ``exits.log`` (gunicorn's exit stamps).
    """

    def __init__(self, argv: Sequence[str], *, port: int, workdir: Path,
                 env: Mapping[str, str]) -> None:
        self.argv, self.port, self.workdir = list(argv), port, Path(workdir)
        self.env = dict(env)
        self.log_path = self.workdir / "server.log"
        self.exit_log = Path(self.env["FMLOPS_EXIT_LOG"])
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def start(self, timeout: float = STARTUP_TIMEOUT) -> Server:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(_pdeathsig_prefix() + self.argv, env=self.env,
                                         cwd=self.workdir, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if self.proc.poll() is not None:
                    raise ServerError(f"{self.argv[:4]} exited with {self.proc.returncode}:"
                                      f"\n{self.log_tail()}")
                try:
                    status, _, _ = http_request(self.port, "/metrics", timeout=5)
                    if status == 200:
                        return self
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    # PYTHONFAULTHANDLER=1: SIGABRT writes every thread's stack to the log.
                    os.killpg(self.pid, signal.SIGABRT)
                    time.sleep(1.0)
                    raise ServerError(f"no answer on port {self.port} after {timeout} s:"
                                      f"\n{self.log_tail(12000)}")
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the master."""
        os.kill(self.pid, sig)

    def workers(self, n: int | None = None, timeout: float = 15.0) -> list[int]:
        """Pids of the master's children; with ``n``, wait until there are ``n``."""
        deadline = time.monotonic() + timeout
        while True:
            found = children(self.pid)
            if n is None or len(found) == n or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM the master, wait up to ``timeout`` s, then SIGKILL the group;
        returns the master's exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        status = None
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        finally:
            for _ in range(2):                      # the master, then stragglers
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    break
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    pass
                time.sleep(0.05)
        return status

    def __enter__(self) -> Self:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _env(workdir: Path, mode: str, env: Mapping[str, str] | None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("FMLOPS_", "PROMETHEUS_MULTIPROC", "FASTMLOPS_METRICS"))}
    base.update(FMLOPS_APP_MODE=mode, FMLOPS_EXIT_LOG=str(workdir / "exits.log"),
                PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
    if mode == "prometheus":
        prom = workdir / "prometheus-multiproc"
        shutil.rmtree(prom, ignore_errors=True)
        prom.mkdir(parents=True)
        base["PROMETHEUS_MULTIPROC_DIR"] = str(prom)
    if mode == "monitor" and "FMLOPS_REFERENCE" not in (env or {}):
        base["FMLOPS_REFERENCE"] = str(write_reference(workdir / "reference.fmlref"))
    base.update(env or {})
    return base


def gunicorn(workdir: Path, *, mode: str = "fastmlops", workers: int = 2,
             preload: bool = True, max_requests: int = 0, env: Mapping[str, str] | None = None,
             extra: Sequence[str] = ()) -> Server:
    """``gunicorn -k sync -w workers [--preload] [--max-requests N
    --max-requests-jitter 0] _serving_app:app`` (not started yet)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "gunicorn_conf.py"
    conf.write_text(_GUNICORN_CONF)
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "_serving_app:app", "-k", "sync",
            "-w", str(workers), "-b", f"127.0.0.1:{port}", "-c", str(conf),
            "--pythonpath", str(TESTS_DIR), "--no-control-socket", "--log-level", "warning",
            "--graceful-timeout", "10", "--timeout", "60", "--backlog", "256"]
    if preload:
        argv.append("--preload")
    if max_requests:
        argv += ["--max-requests", str(max_requests), "--max-requests-jitter", "0"]
    return Server(argv + list(extra), port=port, workdir=workdir,
                  env=_env(workdir, mode, env))


def uvicorn(workdir: Path, *, mode: str = "fastmlops", workers: int = 2,
            env: Mapping[str, str] | None = None, extra: Sequence[str] = ()) -> Server:
    """``uvicorn --workers N _serving_app:asgi_app`` (spawned workers; not started)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "_serving_app:asgi_app",
            "--app-dir", str(TESTS_DIR), "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    return Server(argv + list(extra), port=port, workdir=workdir,
                  env=_env(workdir, mode, env))


# ----------------------------------------------------------------------------- clients
def http_request(port: int, path: str, body: bytes | None = None,
         timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if body is None:
            conn.request("GET", path)
        else:
            conn.request("POST", path, body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


@dataclasses.dataclass
class Load:
    """What the clients saw: ``answered`` 200s, ``failed`` requests (errors
    and other statuses, first few in ``errors``), answers per worker pid,
    and ``done``: (time.monotonic() at the answer, pid) of every 200."""

    answered: int = 0
    failed: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)
    by_pid: collections.Counter[int] = dataclasses.field(default_factory=collections.Counter)
    done: list[tuple[float, int]] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


def load(port: int, n: int, threads: int = 4, *, rate: float | None = None,
         payloads: Sequence[bytes] | None = None, timeout: float = 15.0,
         on_progress: Callable[[int], None] | None = None) -> Load:
    """``n`` POST requests from ``threads`` threads; ``rate`` (requests per
    second, all threads together) paces them.  ``on_progress(i)`` is called
    with the index of each request before it is sent (to act half-way)."""
    payloads = list(payloads or bodies())
    result, lock, counter = Load(), threading.Lock(), itertools.count()
    t0 = time.monotonic()

    def client() -> None:
        while True:
            i = next(counter)        # atomic under the GIL
            if i >= n:
                return
            if rate:
                delay = t0 + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if on_progress is not None:
                on_progress(i)
            try:
                status, headers, _ = http_request(port, "/predict", payloads[i % len(payloads)],
                                          timeout)
                error = None if status == 200 else f"HTTP {status}"
            except (OSError, http.client.HTTPException) as exc:
                error, headers = f"{type(exc).__name__}: {exc}", {}
            now = time.monotonic()
            with lock:
                if error is None:
                    pid = int(headers.get("x-pid", 0))
                    result.answered += 1
                    result.by_pid[pid] += 1
                    result.done.append((now, pid))
                else:
                    result.failed += 1
                    if len(result.errors) < 5:
                        result.errors.append(error)

    workers = [threading.Thread(target=client, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    result.seconds = time.monotonic() - t0
    return result


def scrape(port: int, timeout: float = 15.0) -> dict[tuple[str, frozenset[tuple[str, str]]],
                                                     float]:
    """``/metrics`` as {(sample name, frozenset of label items): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    status, _, data = http_request(port, "/metrics", timeout=timeout)
    if status != 200:
        raise ServerError(f"/metrics answered {status}")
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(data.decode())
            for s in fam.samples}


def sample(samples: Mapping[tuple[str, frozenset[tuple[str, str]]], float], name: str,
           **labels: str) -> float:
    """The value of sample ``name`` with exactly ``labels`` (0.0 when absent)."""
    return float(samples.get((name, frozenset(labels.items())), 0.0))


def poll(read: Callable[[], Any], want: Any, timeout: float = 3.0,
         every: float = 0.05) -> Any:
    """Call ``read()`` until it returns ``want`` or ``timeout`` s passed; the last value."""
    deadline = time.monotonic() + timeout
    while True:
        got = read()
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(every)


def counts(samples: Mapping[tuple[str, frozenset[tuple[str, str]]], float],
           monitor: bool = False) -> tuple[float, ...]:
    """(requests counter, histogram _count[, monitor rows_total]) of the app."""
    got = (sample(samples, "model_requests_total", model="v3"),
           sample(samples, "model_latency_seconds_count", model="v3"))
    return got + (sample(samples, "model_drift_rows_total"),) if monitor else got


def exit_delays(path: Path) -> list[float]:
    """Seconds from ``worker_exit`` (in the worker) to ``child_exit`` (in the
    master, after it reaped the worker), per worker that logged both."""
    stamps: dict[str, dict[int, float]] = {"worker_exit": {}, "child_exit": {}}
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    for line in text.splitlines():
        event, pid, t = line.split()
        stamps[event][int(pid)] = float(t)
    return [stamps["child_exit"][p] - t for p, t in stamps["worker_exit"].items()
            if p in stamps["child_exit"]]
