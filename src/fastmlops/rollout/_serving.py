"""Per-version serving metrics: the server's workers write them
(:class:`ServingMetrics`), the controller reads them from the metrics
directory (:func:`read_counts`) and takes differences between two reads
(:meth:`VersionCounts.minus`).

The metrics are the seed's three, labelled by ``version``:
``<prefix>_requests_total``, ``<prefix>_errors_total`` and
``<prefix>_latency_seconds`` (a histogram), all :mod:`fastmlops.metrics`
ones, so every worker process adds to the same totals.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

__all__ = ["ServingMetrics", "VersionCounts", "read_counts"]

_PREFIX = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
T = TypeVar("T")


def _prefix(prefix: object) -> str:
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ValueError(f"prefix must be a Prometheus metric name prefix like 'model', "
                         f"got {prefix!r}")
    return prefix


@dataclass(frozen=True)
class VersionCounts:
    """Requests, errors and the latency sum (seconds) of one version."""

    requests: float = 0.0
    errors: float = 0.0
    latency_sum: float = 0.0

    def minus(self, earlier: VersionCounts) -> VersionCounts:
        """What happened between ``earlier`` and this read."""
        return VersionCounts(self.requests - earlier.requests, self.errors - earlier.errors,
                             self.latency_sum - earlier.latency_sum)

    @property
    def error_rate(self) -> float:
        """errors / max(requests, 1)."""
        return self.errors / max(self.requests, 1.0)

    @property
    def mean_latency(self) -> float:
        """latency_sum / max(requests, 1), in seconds."""
        return self.latency_sum / max(self.requests, 1.0)


class ServingMetrics:
    """The serving metrics of a server whose workers share a metrics directory.

    Parameters
    ----------
    prefix : str, default "model"
    directory : str or path, optional
        The metrics directory (default ``FASTMLOPS_METRICS_DIR``; without
        either, anonymous shared memory inherited by forked workers).
    registry : prometheus_client registry or None
        Where the metrics are exposed (None: not registered).

    Examples
    --------
    >>> from fastmlops.rollout import ServingMetrics
    >>> m = ServingMetrics("doc_serving", registry=None)
    >>> m.call("v1", lambda: 42)
    42
    >>> m.requests.labels("v1").value()
    1.0
    """

    def __init__(self, prefix: str = "model", *,
                 directory: str | os.PathLike[str] | None = None,
                 registry: CollectorRegistry | None = None) -> None:
        from fastmlops.metrics import Counter, Histogram

        p = _prefix(prefix)
        common: dict[str, Any] = {"registry": registry, "directory": directory}
        self.requests = Counter(f"{p}_requests", "Requests served", ["version"], **common)
        self.errors = Counter(f"{p}_errors", "Requests that failed", ["version"], **common)
        self.latency = Histogram(f"{p}_latency_seconds", "Request latency", ["version"],
                                 **common)
        self._seen: set[str] = set()

    def call(self, version: str, fn: Callable[[], T]) -> T:
        """Run ``fn()`` as one request of ``version``: count it, time it, and
        count an error if it raises (the exception propagates).  A version's
        error series is exported (at 0) from its first request, so that a
        Prometheus ``rate()`` sees its first errors as an increase."""
        if version not in self._seen:
            self.errors.labels(version).inc(0)
            self._seen.add(version)
        t0 = time.perf_counter()
        try:
            return fn()
        except BaseException:
            self.errors.labels(version).inc()
            raise
        finally:
            self.latency.labels(version).observe(time.perf_counter() - t0)
            self.requests.labels(version).inc()


def read_counts(directory: str | os.PathLike[str], prefix: str = "model"
                ) -> dict[str, VersionCounts]:
    """Every version's totals in a metrics directory, summed over processes
    (read through :class:`fastmlops.metrics.DirectoryCollector`)."""
    from fastmlops.metrics import DirectoryCollector

    p = _prefix(prefix)
    names = {f"{p}_requests_total": 0, f"{p}_errors_total": 1,
             f"{p}_latency_seconds_sum": 2}
    found: dict[str, list[float]] = {}
    for family in DirectoryCollector(directory, registry=None).collect():
        for s in family.samples:
            i = names.get(s.name)
            if i is None or "version" not in s.labels:
                continue
            found.setdefault(s.labels["version"], [0.0, 0.0, 0.0])[i] += float(s.value)
    return {v: VersionCounts(*vals) for v, vals in found.items()}
