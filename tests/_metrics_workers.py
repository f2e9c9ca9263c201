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
