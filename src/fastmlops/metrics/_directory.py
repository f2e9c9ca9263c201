"""``DirectoryCollector``: every metric of a metrics directory, for an
exporter process that defines none of them."""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from fastmlops.metrics._decode import decode_definition
from fastmlops.metrics._files import check_directory, open_file
from fastmlops.metrics._gauge import Gauge
from fastmlops.metrics._mapfile import (
    H_MAGIC,
    H_META_LEN,
    H_SERIES,
    H_SLOTS,
    H_VERSION,
    HEADER_WORDS,
    MAGIC,
    MAX_META,
    META_AT,
    VERSION,
)
from fastmlops.metrics._types import Counter, Histogram
from fastmlops.metrics.exposition import DEFAULT_REGISTRY, resolve_registry
from fastmlops.metrics.segment import ENV_DIR, resolve_directory

if TYPE_CHECKING:  # annotations only: prometheus_client is imported on first use
    from prometheus_client.metrics_core import Metric as MetricFamily
    from prometheus_client.registry import CollectorRegistry

_log = logging.getLogger("fastmlops.metrics")


def _reader_for(path: str, directory: str) -> Counter | Gauge | Histogram:
    """A read-only view of the metric stored in ``path``, from its own definition
    (validated: see :func:`~fastmlops.metrics._decode.decode_definition`)."""
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
    if int(words[H_META_LEN]) > MAX_META:
        raise ValueError("its definition's length is corrupted")
    stem = os.path.basename(path)[:-len(".fastmlops")]
    meta = decode_definition(head[META_AT:META_AT + int(words[H_META_LEN])], stem)
    common: dict[str, Any] = {"registry": None, "max_series": int(words[H_SERIES]),
                              "max_processes": int(words[H_SLOTS]), "directory": directory,
                              "_read_only": True}
    args = (meta["name"], meta["help"], meta["labelnames"])
    kind = meta["type"]
    reader: Counter | Gauge | Histogram
    if kind == "counter":  # "_total" is removed again: a name that ends with it stays whole
        reader = Counter(meta["name"] + "_total", *args[1:], unit=meta["unit"], **common)
    elif kind == "histogram":
        reader = Histogram(*args, unit=meta["unit"],
                           buckets=[float(b) for b in meta["buckets"]], **common)
    else:
        reader = Gauge(*args, unit=meta["unit"], multiprocess_mode=meta["multiprocess_mode"],
                       **common)
    if reader._name != stem:  # pragma: no cover - decode_definition checked the name
        raise ValueError(f"its definition makes metric {reader._name!r}, not {stem!r}")
    return reader


class DirectoryCollector:
    """Every metric in a metrics directory, for a process that does not define them.

    What prometheus_client's ``MultiProcessCollector`` is for its
    multiprocess mode: an exporter (a sidecar, a gunicorn master, or
    ``fastmlops metrics DIR --serve PORT``) registers one and exposes
    everything the worker processes record in ``directory`` (default
    ``FASTMLOPS_METRICS_DIR``).  Each metric file carries its own definition
    (name, help, labels, buckets, gauge mode), so nothing needs declaring
    here; the view is read-only and takes no process slot.  A file that cannot
    be read (not a metric file, corrupted, of another user, a link) is skipped
    with a warning on the ``fastmlops.metrics`` logger, a corrupted label set
    of a file likewise, and a file truncated under the view is refused with an
    error: every other file is still exposed.

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
        self._readers: dict[str, tuple[tuple[int, int, int], Counter | Gauge | Histogram]] = {}
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
                    # a file chown'd since is opened (and refused) again
                    ident = (st.st_dev, st.st_ino, st.st_uid)
                    got = self._readers.get(path)
                    if got is None or got[0] != ident:
                        self._readers.pop(path, None)
                        got = (ident, _reader_for(path, self._directory))
                        self._readers[path] = got
                    families.extend(got[1].collect())
                    if got[1]._segment.refused is not None:  # truncated (logged): opened again
                        del self._readers[path]              # at the next scrape, or skipped
                except Exception as exc:  # noqa: BLE001 - one bad file never breaks a scrape
                    _log.warning("fastmlops.metrics: skipping %s: %s", path,
                                 exc if isinstance(exc, (OSError, ValueError)) else
                                 f"{type(exc).__name__}: {exc}")
            for gone in set(self._readers) - seen:
                del self._readers[gone]
        return families