"""A bounded load generator: :class:`LoadGenerator` sends POST requests from
a few threads at a fixed rate until stopped (or a request budget is spent),
one connection per request, each with a timeout, and counts what came back."""

from __future__ import annotations

import collections
import http.client
import itertools
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastmlops._core.validation import as_real, check_int

if TYPE_CHECKING:
    from typing import Self  # Python 3.11

__all__ = ["LoadGenerator"]


class LoadGenerator:
    """POST ``body(i)`` to ``http://127.0.0.1:port/path`` at ``rate`` requests
    per second (all threads together) from a background thread pool.

    ``answered`` counts every HTTP response (any status), ``by_status`` and
    ``by_version`` (the ``X-Version`` header) split it; ``failed`` counts
    requests without a response (connection refused, timeout); ``errors``
    keeps the first few of those.  Stop with :meth:`stop` (or use it as a
    context manager); ``max_requests`` bounds the total.

    Examples
    --------
    >>> from fastmlops.rollout import LoadGenerator
    >>> from fastmlops.rollout._server import free_port
    >>> gen = LoadGenerator(free_port(), lambda i: b"{}", rate=50, max_requests=3)
    >>> with gen:
    ...     gen.wait(5.0)
    True
    >>> gen.answered, gen.failed           # nobody listens on that port
    (0, 3)
    """

    def __init__(self, port: int, body: Callable[[int], bytes], *, rate: float = 150.0,
                 threads: int = 8, path: str = "/predict", timeout: float = 10.0,
                 max_requests: int | None = None) -> None:
        self.port = check_int(port, "port", minimum=1, maximum=65535)
        if not callable(body):
            raise TypeError("body must be callable as body(i) -> bytes")
        self.body = body
        self.rate = as_real(rate, "rate", "requests per second")
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError(f"rate must be a positive number of requests per second, got "
                             f"{rate!r}")
        self.threads = check_int(threads, "threads", minimum=1, maximum=256)
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        self.path = path
        self.timeout = as_real(timeout, "timeout")
        self.max_requests = (None if max_requests is None
                             else check_int(max_requests, "max_requests", minimum=0))
        self.answered = 0
        self.failed = 0
        self.by_status: collections.Counter[int] = collections.Counter()
        self.by_version: collections.Counter[str] = collections.Counter()
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._counter = itertools.count()
        self._workers: list[threading.Thread] = []
        self._t0 = 0.0

    def start(self) -> Self:
        if self._workers:
            raise RuntimeError("the load generator is already started")
        self._t0 = time.monotonic()
        self._workers = [threading.Thread(target=self._client, daemon=True,
                                          name=f"fastmlops-load-{k}")
                         for k in range(self.threads)]
        for w in self._workers:
            w.start()
        return self

    def _client(self) -> None:
        while not self._stop.is_set():
            i = next(self._counter)
            if self.max_requests is not None and i >= self.max_requests:
                return
            delay = self._t0 + i / self.rate - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            self._send(self.body(i))

    def _send(self, body: bytes) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request("POST", self.path, body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            status, version = resp.status, resp.getheader("X-Version", "")
        except (OSError, http.client.HTTPException) as exc:
            with self._lock:
                self.failed += 1
                if len(self.errors) < 5:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
            return
        finally:
            conn.close()
        with self._lock:
            self.answered += 1
            self.by_status[status] += 1
            if version:
                self.by_version[version] += 1

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the clients to end (a ``max_requests`` budget spent);
        True when they all did within ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for w in self._workers:
            w.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(w.is_alive() for w in self._workers)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop sending; wait for the requests in flight (up to ``timeout`` s)."""
        self._stop.set()
        self.wait(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
