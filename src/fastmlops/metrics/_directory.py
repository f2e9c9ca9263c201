"""``DirectoryCollector``: every metric of a metrics directory, for an
exporter process that defines none of them."""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from fastmlops.metrics._files import check_directory, open_file
from fastmlops.metrics._gauge import Gauge
from fastmlops.metrics._types import Counter, Histogram
from fastmlops.metrics.exposition import DEFAULT_REGISTRY, resolve_registry
from fastmlops.metrics.segment import (
    ENV_DIR,
    H_MAGIC,
    H_META_LEN,
    H_SERIES,
    H_SLOTS,
    H_VERSION,
    HEADER_WORDS,
    MAGIC,
    META_AT,
    VERSION,
    resolve_directory,
)

if TYPE_CHECKING:  # annotations only: prometheus_client is imported on first use
    from prometheus_client.metrics_core import Metric as MetricFamily
    from prometheus_client.registry import CollectorRegistry

_log = logging.getLogger("fastmlops.metrics")


def _reader_for(path: str, directory: str) -> Counter | Gauge | Histogram:
    """A read-only view of the metric stored in ``path``, from its own definition."""
    size = HEADER_WORDS * 8
    with os.fdopen(open_file(path, read_only=True), "rb") as f:  # never through a link
        head = f.read(size)
    if len(head) < size:
        raise ValueError("not a fastmlops metrics file (too short)")
    words = np.frombuffer(head, dtype=np.uint64)
    if int(words[H_MAGIC]) != MAGIC:
        raise ValueError("not a fastmlops metrics file")
    if int(words[H_VERSION]) != VERSION:
        raise ValueError(f"written by another fastmlops version (layout "
                         f"{int(words[H_VERSION])}, this one reads {VERSION})")
    meta = json.loads(head[META_AT:META_AT + int(words[H_META_LEN])].decode("utf-8"))
    common: dict[str, Any] = {"registry": None, "max_series": int(words[H_SERIES]),
                              "max_processes": int(words[H_SLOTS]), "directory": directory,
                              "_read_only": True}
    args = (meta["name"], meta["help"], meta["labelnames"])
    kind = meta["type"]
    if kind == "counter":
        return Counter(*args, unit=meta["unit"], **common)
    if kind == "histogram":
        return Histogram(*args, unit=meta["unit"], buckets=[float(b) for b in meta["buckets"]],
                         **common)
    if kind == "gauge":
        return Gauge(*args, unit=meta["unit"], multiprocess_mode=meta["multiprocess_mode"],
                     **common)
    raise ValueError(f"unknown metric type {kind!r}")


class DirectoryCollector:
    """Every metric in a metrics directory, for a process that does not define them.

    What prometheus_client's ``MultiProcessCollector`` is for its
    multiprocess mode: an exporter (a sidecar, a gunicorn master, or
    ``fastmlops metrics DIR --serve PORT``) registers one and exposes
    everything the worker processes record in ``directory`` (default
    ``FASTMLOPS_METRICS_DIR``).  Each metric file carries its own definition
    (name, help, labels, buckets, gauge mode), so nothing needs declaring
    here; the view is read-only and takes no process slot.  A file that cannot
    be read is skipped with a warning on the ``fastmlops.metrics`` logger.

    Do not register it in a registry that also holds the same metrics defined
    in this process: the samples would appear twice.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None,
                 registry: CollectorRegistry | None = DEFAULT_REGISTRY) -> None:
        path = resolve_directory(directory)
        if path is None:
            raise ValueError(f"DirectoryCollector needs a directory: pass directory= or set "
                             f"{ENV_DIR}")
        if not os.path.isdir(path):
            raise ValueError(f"metrics directory {path!r} does not exist or is not a directory")
        check_directory(path)
        self._directory = path
        self._readers: dict[str, tuple[tuple[int, int], Counter | Gauge | Histogram]] = {}
        self._lock = threading.Lock()
        registry = resolve_registry(registry)
        if registry is not None:
            registry.register(self)

    def describe(self) -> list[MetricFamily]:
        return []  # the set of metrics changes as workers create them

    def collect(self) -> list[MetricFamily]:
        families: list[MetricFamily] = []
        with self._lock:
            names = sorted(n for n in os.listdir(self._directory) if n.endswith(".fastmlops"))
            seen = set()
            for name in names:
                path = os.path.join(self._directory, name)
                seen.add(path)
                try:
                    st = os.stat(path)
                    ident = (st.st_dev, st.st_ino)
                    got = self._readers.get(path)
                    if got is None or got[0] != ident:
                        got = (ident, _reader_for(path, self._directory))
                        self._readers[path] = got
                    families.extend(got[1].collect())
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    _log.warning("fastmlops.metrics: skipping %s: %s", path, exc)
            for gone in set(self._readers) - seen:
                del self._readers[gone]
        return families