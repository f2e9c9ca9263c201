"""Worker processes for tests/test_metrics.py (importable by spawned children)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


def values(n: int, offset: int = 0) -> list[float]:
    """Deterministic values spread over every bucket (and above the last)."""
    return [((i + offset) % 4001) * 0.001 for i in range(n)]


def histogram(directory: str | None, name: str = "stress_latency_seconds") -> Any:
    from fastmlops.metrics import Histogram
    return Histogram(name, "stress test", ["worker"], registry=None, buckets=BUCKETS,
                     directory=directory)


def observe_threads(child: Any, n_threads: int, per_thread: int) -> None:
    """``n_threads`` threads, each observing ``per_thread`` values into ``child``."""
    data = values(per_thread)
    start = threading.Barrier(n_threads)

    def run() -> None:
        observe = child.observe
        start.wait()
        for v in data:
            observe(v)

    threads = [threading.Thread(target=run) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def spawn_worker(directory: str, label: str, n_threads: int, per_thread: int) -> None:
    """A spawned process: defines the histogram itself (same directory), observes,
    and exits normally; no explicit flush (the exit path must do it)."""
    h = histogram(directory)
    observe_threads(h.labels(label), n_threads, per_thread)


def victim(directory: str, progress: Any, stop_after: float) -> None:
    """Observes forever, publishing how many it has observed; gets SIGKILLed."""
    h = histogram(directory, "victim_seconds")
    child = h.labels("victim")
    observe = child.observe
    done = 0
    deadline = time.monotonic() + stop_after
    while time.monotonic() < deadline:
        for _ in range(1000):
            observe(0.003)
        done += 1000
        progress.value = done
    os._exit(3)  # not reached when killed in time


# -- graceful ends (tests/test_metrics_lifecycle.py); the metrics are made in
# the parent before the fork, and handed over as module globals
SHARED: dict[str, Any] = {}


def pool_work(args: tuple[str, int]) -> int:
    """A Pool task: ``n`` observations on label ``label``; no flush."""
    label, n = args
    observe = SHARED["hist"].labels(label).observe
    for _ in range(n):
        observe(0.003)
    return n


def observe_then(how: str, label: str, n: int) -> None:
    """Observe ``n`` values, then end the process as ``how`` says; no flush."""
    import sys
    observe = SHARED["hist"].labels(label).observe
    for _ in range(n):
        observe(0.003)
    if how == "exit":
        sys.exit(3)
    if how == "raise":
        raise RuntimeError("unhandled, on purpose")
    if how == "os_exit":
        os._exit(4)


_SPIN: Any = None


def spin_nogil(n: int) -> float:
    """``n`` iterations of compiled code that releases the GIL and never
    returns to Python meanwhile (as a BLAS call or a Numba kernel would):
    no Python signal handler runs in the main thread until it ends."""
    global _SPIN
    if _SPIN is None:
        import numba
        import numpy as np

        @numba.njit(nogil=True, cache=False)
        def spin(n: int) -> float:
            x = 0.0
            for _ in range(n):
                x += np.random.random()
            return x

        _SPIN = spin
    return _SPIN(n)


def busy(label: str, progress: Any, then_block: bool) -> None:
    """Observe for ever, publishing after each observation how many are
    done; with ``then_block``, after 20,000 observations, sit in compiled
    code that never returns to Python (see spin_nogil)."""
    observe = SHARED["hist"].labels(label).observe
    done = 0
    while True:
        observe(0.003)
        done += 1
        progress.value = done
        if then_block and done == 20_000:
            spin_nogil(10 ** 11)  # minutes

