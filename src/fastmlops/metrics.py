"""Counters, gauges and histograms shared by threads and processes.

Drop-in for the prometheus_client metrics most servers use, built for many
threads *and* many worker processes:

>>> from fastmlops.metrics import Counter, Histogram
>>> requests = Counter("doc_requests", "Requests served", ["route"], registry=None)
>>> latency = Histogram("doc_latency_seconds", "Request latency", registry=None)
>>> requests.labels(route="/predict").inc()
>>> latency.observe(0.042)
>>> latency.observe_many([0.010, 0.020, 0.300])
>>> flush()                        # normally done for you, at least every 0.1 s
>>> requests.labels("/predict").value()
1.0
>>> latency.value()["count"], round(latency.value()["sum"], 3)
(4.0, 0.372)

How it works
------------
* **Hot path without a lock.** ``inc`` and ``observe`` append the value to a
  per-series Python list (an atomic operation under the GIL, and a
  thread-safe one in free-threaded Python).  A background thread of each
  process drains the lists every :data:`FLUSH_INTERVAL` seconds (and at
  exit, before a fork and before every scrape), bins the batch with a Numba
  kernel and adds it to shared memory.  Draining takes ``n = len(buf)``
  values, then ``del buf[:n]``: values appended meanwhile stay for the next
  round, so no count is ever lost or doubled.  ``observe_many`` bins a
  numpy array directly (about 3 ns per value).
* **Shared memory of fixed size.** Each metric family is one segment:
  a header, a table of label sets (``max_series`` records) and
  ``max_processes`` *slots* of ``max_series`` rows.  A process writes only
  its own slot, claimed with an atomic compare-and-swap on first write, so
  every slot has one writer; it guards each update with a sequence lock, and
  a scrape copies each slot between two equal, even sequence numbers.
  Values in a slot only grow, and ``_count`` is the sum of the buckets, so
  every scrape is consistent (``_count`` equals the ``+Inf`` bucket) and
  never decreases.  The slot of a process that exited keeps its counts; once
  every slot is taken, a new process adopts the slot of a dead one and adds
  to what it holds (a gauge's slot is cleared instead: a gauge is a value of
  a live process).  Nothing grows with the number of processes that ever ran.
  In a metrics directory, all metric objects of one name in one process
  share that process's slot (a metric made again carries on).
* **Processes.** Without configuration a segment is anonymous shared memory,
  inherited by children forked after the metric was created (gunicorn
  ``--preload``, ``multiprocessing`` with ``fork``).  Processes started
  independently (``spawn``, separate commands) share metrics through files in
  one directory: pass ``directory=`` or set ``FASTMLOPS_METRICS_DIR`` (one
  file per metric family, whatever the number of processes; delete the files
  when the server restarts if counters should restart at zero; the processes
  must share a PID namespace, i.e. run on one host or in one container).
  Each file also holds its metric's definition, so :class:`DirectoryCollector`
  (or ``fastmlops metrics DIR``) exposes a directory without defining anything.
* **Exits.** Buffers are flushed at interpreter exit, by the finaliser that
  ``multiprocessing`` runs before its workers leave through ``os._exit``, and
  before a fork.  A process killed with SIGKILL loses at most what it
  observed in its last :data:`FLUSH_INTERVAL`; a kill in the middle of an
  update leaves the other slots untouched.
* **Exposition** goes through prometheus_client: every metric is a
  ``Collector`` registered in ``registry`` (default: prometheus_client's
  ``REGISTRY``; ``None``: not registered), so ``generate_latest``,
  ``start_http_server``, ``make_asgi_app`` and OpenMetrics work unchanged.
  A scrape from any process reports the sum over all processes.

Differences from prometheus_client: values are checked (NaN and non-numbers
raise; a number beyond float64's range counts as +-inf instead of raising
``OverflowError``), ``remove``/``clear`` of label sets, ``Counter.reset``,
``Gauge.set_function`` and exemplars are not supported, and there is a
bounded number of label sets per family (``max_series``, default 512), of
concurrently live processes (``max_processes``, default 256) and of bytes
per label set (the label values, JSON-encoded together, at most 488 bytes).
Gauges are kept per process and combined by ``multiprocess_mode`` (not
``mostrecent``); a process has a gauge series once it creates it or, for a
series inherited through ``fork``, once it changes it.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import json
import logging
import math
import mmap
import os
import re
import sys
import threading
import time
import weakref
from itertools import accumulate, repeat
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

import fastmlops._parallel  # noqa: F401 - imported here, not in a hot path (see _before_fork)
from fastmlops._validation import as_numeric_array

__all__ = ["Counter", "Gauge", "Histogram", "DirectoryCollector", "DEFAULT_BUCKETS",
           "FLUSH_INTERVAL", "flush", "set_flush_interval"]

_INF = math.inf
DEFAULT_BUCKETS: tuple[float, ...] = (.005, .01, .025, .05, .075, .1, .25, .5, .75, 1.0,
                                      2.5, 5.0, 7.5, 10.0, _INF)
#: Seconds between two background flushes of a process's buffers.
FLUSH_INTERVAL = 0.1
_ENV_DIR = "FASTMLOPS_METRICS_DIR"
_log = logging.getLogger("fastmlops.metrics")

# ---------------------------------------------------------------- layout ----
_MAGIC = 0x31434952_54454D46  # "FMETRIC1"
_VERSION = 3  # 3: a gauge row holds (value, written)
_H_MAGIC, _H_VERSION, _H_KIND, _H_WIDTH, _H_SLOTS, _H_SERIES, _H_NSERIES, _H_HASH, \
    _H_META_LEN = range(9)
_HEADER_WORDS = 2048        # 16 KiB: the fields above, then the definition as JSON
_META_AT = 128              # byte offset of that JSON (name, help, labels, buckets, ...)
_MAX_META = _HEADER_WORDS * 8 - _META_AT
_RECORD_WORDS = 64          # 512 bytes per label set
_R_STATE, _R_CREATED, _R_NBYTES, _R_PAYLOAD = 0, 1, 2, 3
_MAX_KEY_BYTES = (_RECORD_WORDS - _R_PAYLOAD) * 8
_READY = 2
_SLOT_HEADER = 8            # owner, seq, then padding to a cache line
_S_OWNER, _S_SEQ = 0, 1
_KINDS = {"counter": 1, "gauge": 2, "histogram": 3}
_PARALLEL_MIN = 1 << 17  # observe_many splits arrays this long over threads


def _words_per_slot(width: int, max_series: int) -> int:
    n = _SLOT_HEADER + width * max_series
    return (n + 7) // 8 * 8


class _Layout:
    __slots__ = ("width", "slots", "series", "records_at", "slots_at", "slot_words", "words")

    def __init__(self, width: int, slots: int, series: int) -> None:
        self.width, self.slots, self.series = width, slots, series
        self.records_at = _HEADER_WORDS
        self.slots_at = _HEADER_WORDS + series * _RECORD_WORDS
        self.slot_words = _words_per_slot(width, series)
        self.words = self.slots_at + slots * self.slot_words


# ------------------------------------------------------- process identity ----

def _start_time(pid: int) -> int:
    """Start time of ``pid`` in clock ticks (Linux), 0 elsewhere, -1 if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return -1
    except OSError:
        return 0
    return int(stat[stat.rindex(b")") + 2:].split()[19])


def _owner_word(pid: int) -> int:
    """A slot's owner: the PID in the low 32 bits, the low 32 bits of the
    process start time above, so that a reused PID is not mistaken for the
    process that held the slot."""
    return ((max(_start_time(pid), 0) & 0xFFFFFFFF) << 32) | pid


def _alive(owner: int) -> bool:
    pid = owner & 0xFFFFFFFF
    if pid == os.getpid():
        return owner == _owner_word(pid)
    start = _start_time(pid)
    if start == -1:
        return False
    if start == 0 and not os.path.exists("/proc/self/stat"):  # no procfs: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return (start & 0xFFFFFFFF) == owner >> 32


# --------------------------------------------------------------- segments ----

def _layout_hash(name: str, kind: str, extra: Sequence[Any]) -> int:
    text = json.dumps([name, kind, [repr(x) for x in extra]])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1


def _segment_path(name: str, directory: str) -> str:
    path = os.path.join(directory, f"{name}.fastmlops")
    limit = _name_max(directory)
    if len(os.fsencode(f"{name}.fastmlops")) > limit:
        raise ValueError(
            f"metric name {name[:40]!r}... is too long for a metrics directory: its file "
            f"name would exceed the file system's {limit} bytes; use a name of at most "
            f"{limit - len('.fastmlops')} bytes (or no directory)")
    return path


def _name_max(directory: str) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _open_segment(name: str, kind: str, layout: _Layout, digest: int,
                  directory: str | None, meta: bytes, read_only: bool = False) -> mmap.mmap:
    size = layout.words * 8
    if directory is None:
        mm = mmap.mmap(-1, size, flags=mmap.MAP_SHARED)
        _write_header(mm, kind, layout, digest, meta)
        return mm
    if not read_only:
        os.makedirs(directory, exist_ok=True)
    path = _segment_path(name, directory)
    for _ in range(100):
        try:
            fd = os.open(path, os.O_RDONLY if read_only else os.O_RDWR)
        except FileNotFoundError:
            if read_only:
                raise
            # a short temporary name in the same directory (os.link needs that)
            tmp = os.path.join(directory, f".{os.getpid()}.{threading.get_ident():x}.tmp")
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.ftruncate(fd, size)
                mm = mmap.mmap(fd, size, flags=mmap.MAP_SHARED)
                _write_header(mm, kind, layout, digest, meta)
                try:
                    os.link(tmp, path)  # publish a fully initialised file, atomically
                except FileExistsError:
                    mm.close()
                    continue
                return mm
            finally:
                os.close(fd)
                os.unlink(tmp)
        try:
            actual = os.fstat(fd).st_size
            if actual < _HEADER_WORDS * 8:
                raise ValueError(f"{path} is not a fastmlops metrics file (only {actual} "
                                 "bytes); delete it or use another metrics directory")
            mm = mmap.mmap(fd, actual, flags=mmap.MAP_SHARED,
                           prot=mmap.PROT_READ if read_only else
                           mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        header = np.frombuffer(mm, dtype=np.uint64, count=_HEADER_WORDS)
        expected = (_MAGIC, _VERSION, _KINDS[kind], layout.width, layout.slots, layout.series)
        found = tuple(int(header[i]) for i in (_H_MAGIC, _H_VERSION, _H_KIND, _H_WIDTH,
                                               _H_SLOTS, _H_SERIES))
        if found != expected or int(header[_H_HASH]) != digest or actual != size:
            del header
            mm.close()
            raise ValueError(
                f"metric {name!r}: {path} holds a metric of that name with another "
                "definition (type, labels, buckets, max_series or max_processes differ); "
                "give every process the same definition, or delete the file (when no "
                "process uses it) or use another metrics directory")
        return mm
    raise RuntimeError(f"could not create or open {path}")  # pragma: no cover


def _write_header(mm: mmap.mmap, kind: str, layout: _Layout, digest: int, meta: bytes) -> None:
    mm[_META_AT:_META_AT + len(meta)] = meta
    header = np.frombuffer(mm, dtype=np.uint64, count=_HEADER_WORDS)
    header[_H_META_LEN] = len(meta)
    header[_H_VERSION] = _VERSION
    header[_H_KIND] = _KINDS[kind]
    header[_H_WIDTH] = layout.width
    header[_H_SLOTS] = layout.slots
    header[_H_SERIES] = layout.series
    header[_H_HASH] = digest
    header[_H_MAGIC] = _MAGIC
    del header


def _definition(name: str, kind: str, documentation: str, labelnames: tuple[str, ...],
                unit: str, extra: dict[str, Any]) -> bytes:
    """The metric's definition as stored in its segment, so that a process that
    does not define it (``DirectoryCollector``) can expose it.  A help text too
    long for the header is shortened."""
    doc = documentation
    while True:
        meta = json.dumps({"name": name, "type": kind, "help": doc, "labelnames": labelnames,
                           "unit": unit, **extra}, ensure_ascii=False).encode()
        if len(meta) <= _MAX_META:
            return meta
        if not doc:
            raise ValueError(f"metric {name!r}: its definition does not fit in "
                             f"{_MAX_META} bytes (too many buckets or label names)")
        doc = doc[:len(doc) // 2]


class _Segment:
    """One metric family's shared memory and this process's slot in it."""

    def __init__(self, name: str, kind: str, width: int, max_processes: int, max_series: int,
                 digest: int, directory: str | None, meta: bytes,
                 read_only: bool = False) -> None:
        self.name = name
        self.kind = kind
        self.digest = digest
        self.read_only = read_only  # a DirectoryCollector's view: never writes
        self.layout = _Layout(width, max_processes, max_series)
        self.mm = _open_segment(name, kind, self.layout, digest, directory, meta, read_only)
        self.words = np.frombuffer(self.mm, dtype=np.uint64)
        self.vals = self.words.view(np.float64)
        self.bytes = self.words.view(np.uint8)
        self.slot_pid = 0
        self.seq_at = -1
        self.data_at = -1
        self.lock = threading.Lock()       # one writer per slot within this process
        self.series_lock = threading.Lock()
        self.keys: dict[tuple[str, ...], int] = {}
        self.decoded: dict[int, tuple[tuple[str, ...], float]] = {}

    # -- slots
    def ensure_slot(self) -> None:
        """Claim (or adopt) this process's slot; call with ``self.lock`` held."""
        pid = os.getpid()
        if self.slot_pid == pid:
            return
        km = _km()
        atomic_cas, atomic_load = km.atomic_cas, km.atomic_load
        lay = self.layout
        me = np.uint64(_owner_word(pid))
        zero = np.uint64(0)
        chosen = -1
        # A snapshot of the owner words, scanned with numpy: one kernel call per
        # slot would release and retake the GIL hundreds of times.  Every
        # candidate is then checked (or claimed) atomically.
        owners = self.words[lay.slots_at + _S_OWNER::lay.slot_words][:lay.slots].copy()
        for slot in np.flatnonzero(owners == me).tolist():  # a slot this process holds
            at = lay.slots_at + slot * lay.slot_words + _S_OWNER  # already (an earlier
            if atomic_load(self.words, at) == me:  # metric object of this file): carry on
                chosen = slot
                break
        for slot in (np.flatnonzero(owners == 0).tolist() if chosen < 0 else ()):
            at = lay.slots_at + slot * lay.slot_words + _S_OWNER
            if atomic_cas(self.words, at, zero, me) == 0:
                chosen = slot
                break
        if chosen < 0:  # every slot was used: adopt one whose process is gone
            for slot in np.flatnonzero(owners != me).tolist():
                at = lay.slots_at + slot * lay.slot_words + _S_OWNER
                owner = atomic_load(self.words, at)
                if owner != me and not _alive(int(owner)) and \
                        atomic_cas(self.words, at, owner, me) == owner:
                    chosen = slot
                    if self.kind == "gauge":  # a gauge is a value of the live process:
                        self._clear_slot(slot)  # the dead one's values must not reappear
                    break
        if chosen < 0:
            raise RuntimeError(
                f"metric {self.name!r}: all {lay.slots} process slots are held by live "
                "processes; create the metric with a larger max_processes")
        base = lay.slots_at + chosen * lay.slot_words
        self.seq_at = base + _S_SEQ
        self.data_at = base + _SLOT_HEADER
        self.slot_pid = pid

    def _clear_slot(self, slot: int) -> None:
        """Zero an adopted slot's rows (inside its seqlock)."""
        lay = self.layout
        base = lay.slots_at + slot * lay.slot_words
        _km().slot_set(self.words, self.vals, base + _S_SEQ, base + _SLOT_HEADER,
                       np.zeros(lay.series * lay.width))

    def add(self, row: int, delta: np.ndarray) -> None:
        self._write(_km().slot_add, row, delta)

    def set(self, row: int, value: np.ndarray) -> None:
        self._write(_km().slot_set, row, value)

    def _write(self, slot_kernel: Any, row: int, values: np.ndarray) -> None:
        """``slot_kernel`` (slot_add or slot_set) on ``row`` of this process's slot."""
        with self.lock:
            self.ensure_slot()
            slot_kernel(self.words, self.vals, self.seq_at,
                        self.data_at + row * self.layout.width, values)

    # -- label sets
    def n_series(self) -> int:
        atomic_load = _km().atomic_load
        return min(int(atomic_load(self.words, _H_NSERIES)), self.layout.series)

    def record(self, index: int) -> tuple[tuple[str, ...], float] | None:
        """The label values and creation time of series ``index``, once ready."""
        got = self.decoded.get(index)
        if got is not None:
            return got
        atomic_load = _km().atomic_load
        at = self.layout.records_at + index * _RECORD_WORDS
        if atomic_load(self.words, at + _R_STATE) != _READY:
            return None
        nbytes = int(self.words[at + _R_NBYTES])
        start = (at + _R_PAYLOAD) * 8
        key = tuple(json.loads(bytes(self.bytes[start:start + nbytes]).decode("utf-8")))
        got = (key, float(self.vals[at + _R_CREATED]))
        self.decoded[index] = got
        return got

    def series_index(self, key: tuple[str, ...]) -> int:
        index = self.keys.get(key)
        if index is not None:
            return index
        payload = json.dumps(list(key), ensure_ascii=False, separators=(",", ":")).encode()
        if len(payload) > _MAX_KEY_BYTES:
            raise ValueError(f"metric {self.name!r}: label values {key!r} take {len(payload)} "
                             f"bytes encoded; at most {_MAX_KEY_BYTES} fit")
        with self.series_lock:
            for i in range(self.n_series()):
                rec = self.record(i)
                if rec is not None:
                    self.keys.setdefault(rec[0], i)
            index = self.keys.get(key)
            if index is not None:
                return index
            km = _km()
            atomic_add, atomic_store = km.atomic_add, km.atomic_store
            index = int(atomic_add(self.words, _H_NSERIES, np.uint64(1)))
            if index >= self.layout.series:
                raise ValueError(
                    f"metric {self.name!r} has reached its max_series={self.layout.series} "
                    "label sets; create it with a larger max_series (label values such as "
                    "user ids or raw paths make unbounded series)")
            at = self.layout.records_at + index * _RECORD_WORDS
            self.vals[at + _R_CREATED] = time.time()
            self.words[at + _R_NBYTES] = len(payload)
            start = (at + _R_PAYLOAD) * 8
            self.bytes[start:start + len(payload)] = np.frombuffer(payload, dtype=np.uint8)
            atomic_store(self.words, at + _R_STATE, np.uint64(_READY))
            self.keys[key] = index
            return index

    # -- reading
    def _repair(self, stuck: np.ndarray) -> None:
        """A slot whose seq stays odd belongs to a writer killed mid-update:
        make it even again (only if that process is gone)."""
        km = _km()
        atomic_cas, atomic_load = km.atomic_cas, km.atomic_load
        if self.read_only:  # only a writer repairs; a view reads the slot as it is
            return
        lay = self.layout
        for slot in np.flatnonzero(stuck):
            base = lay.slots_at + int(slot) * lay.slot_words
            owner = atomic_load(self.words, base + _S_OWNER)
            if not _alive(int(owner)):
                seq = atomic_load(self.words, base + _S_SEQ)
                if seq & np.uint64(1):
                    atomic_cas(self.words, base + _S_SEQ, seq, seq + np.uint64(1))

    def read_sum(self, n: int) -> np.ndarray:
        sum_slots = _km().sum_slots
        lay = self.layout
        out = np.zeros((n, lay.width))
        stuck = np.zeros(lay.slots, dtype=np.int8)
        sum_slots(self.words, self.vals, lay.slots_at, lay.slot_words, lay.slots,
                  _S_SEQ, _SLOT_HEADER, _S_OWNER, out, stuck)
        if stuck.any():
            self._repair(stuck)
        return out

    def read_slots(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-slot values ``(slots, n, width)`` and the owner word of each slot."""
        read_slots = _km().read_slots
        lay = self.layout
        out = np.zeros((lay.slots, n, lay.width))
        stuck = np.zeros(lay.slots, dtype=np.int8)
        read_slots(self.words, self.vals, lay.slots_at, lay.slot_words, lay.slots,
                   _S_SEQ, _SLOT_HEADER, _S_OWNER, out, stuck)
        if stuck.any():
            self._repair(stuck)
        owners = self.words[lay.slots_at + _S_OWNER::lay.slot_words][:lay.slots].copy()
        return out, owners


_SEGMENTS: "weakref.WeakValueDictionary[str, _Segment]" = weakref.WeakValueDictionary()
_SEGMENTS_LOCK = threading.Lock()


def _segment_for(name: str, kind: str, width: int, max_processes: int, max_series: int,
                 digest: int, directory: str | None, meta: bytes,
                 read_only: bool) -> _Segment:
    """The segment of a metric.  In a metrics directory, every metric object of
    one name in this process shares one segment, so one slot: a metric made
    again (after ``unregister``, by an app factory, with ``registry=None``)
    carries on from the first one's values, and a gauge has one value per
    process, the last one set, as in prometheus_client's multiprocess mode."""
    if directory is None or read_only:
        return _Segment(name, kind, width, max_processes, max_series, digest, directory,
                        meta, read_only)
    key = os.path.realpath(_segment_path(name, directory))
    with _SEGMENTS_LOCK:
        seg = _SEGMENTS.get(key)
        if seg is not None:
            lay = seg.layout
            if (seg.kind, seg.digest, lay.width, lay.slots, lay.series) != \
                    (kind, digest, width, max_processes, max_series):
                raise ValueError(
                    f"metric {name!r}: this process already has a metric of that name in "
                    f"{directory} with another definition (type, labels, buckets, "
                    "max_series or max_processes differ); give every metric of one name "
                    "the same definition")
            return seg
        seg = _Segment(name, kind, width, max_processes, max_series, digest, directory, meta)
        _SEGMENTS[key] = seg
        return seg


# ------------------------------------------------ process-wide machinery ----

class _State:
    """Every family of this process, the flusher thread and the fork hooks."""

    def __init__(self) -> None:
        self.families: weakref.WeakSet[_Metric] = weakref.WeakSet()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.wake = threading.Event()
        self.stop = False

    def add(self, metric: _Metric) -> None:
        with self.lock:
            self.families.add(metric)
            self.start()

    def start(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            self.stop = False
            self.wake = threading.Event()
            self.thread = threading.Thread(target=self.run, name="fastmlops-metrics-flush",
                                           daemon=True)
            self.thread.start()

    def run(self) -> None:
        wake = self.wake
        while not self.stop:
            wake.wait(FLUSH_INTERVAL)
            wake.clear()  # set_flush_interval() wakes us once, not for ever
            if self.stop:
                break
            try:
                flush()
            except Exception:  # pragma: no cover - a bug; keep serving
                _log.exception("fastmlops.metrics: background flush failed")

    def halt(self) -> None:
        thread = self.thread
        if thread is not None and thread.is_alive():
            self.stop = True
            self.wake.set()
            if thread is not threading.current_thread():
                thread.join()
        self.thread = None


_STATE = _State()


def flush() -> None:
    """Move this process's buffered observations into shared memory now.

    Runs by itself every :data:`FLUSH_INTERVAL` seconds, before every scrape,
    before a fork and at exit; call it to make values visible to other
    processes at once (tests, a worker about to be killed)."""
    with _STATE.lock:  # a WeakSet must not grow while it is iterated
        metrics = list(_STATE.families)
    error: BaseException | None = None
    for metric in metrics:  # one metric's failure does not hold back the others
        try:
            metric._flush()
        except Exception as exc:  # pragma: no cover - a bug; reported below
            error = error or exc
    if error is not None:  # pragma: no cover
        raise error


def set_flush_interval(seconds: float) -> None:
    """Set :data:`FLUSH_INTERVAL` (0.01 to 1 s: at most 1 s keeps every
    observation visible to a scrape within a second)."""
    global FLUSH_INTERVAL
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or \
            not 0.01 <= seconds <= 1.0:
        raise ValueError(f"flush interval must be a number of seconds in [0.01, 1], "
                         f"got {seconds!r}")
    FLUSH_INTERVAL = float(seconds)
    _STATE.wake.set()


def _before_fork() -> None:
    _STATE.halt()
    # A fork while another thread is importing a module leaves that module's
    # import lock held for ever in the child, whose first use of it hangs.
    # The cheap modules of the hot paths are imported with this one; for the
    # two imported on first use, wait here for an import in progress (never
    # start one: a module first imported inside a fork hook would register
    # fork hooks of its own half-way through this fork).
    for name in ("fastmlops._kernels.metrics", "prometheus_client"):
        if name in sys.modules:
            importlib.import_module(name)
    try:
        flush()
    except Exception:  # pragma: no cover - never block a fork
        _log.exception("fastmlops.metrics: flush before fork failed")


def _after_fork_parent() -> None:
    if _STATE.families:
        _STATE.start()


def _after_fork_child() -> None:
    _STATE.lock = threading.Lock()
    _STATE.thread = None
    for metric in list(_STATE.families):
        metric._forget_parent()
    if _STATE.families:
        _STATE.start()


def _mp_child(_: Any) -> None:
    # multiprocessing clears its finalizers in a new worker, then runs these
    # after-fork hooks: register the flush it runs before ``os._exit``.
    import multiprocessing.util as mp_util
    mp_util.Finalize(None, flush, exitpriority=-100)


def _at_exit() -> None:
    _STATE.halt()  # no background flush racing interpreter shutdown
    flush()


def _install_hooks() -> None:
    atexit.register(_at_exit)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_parent,
                            after_in_child=_after_fork_child)
    import multiprocessing.util as mp_util
    mp_util.register_after_fork(_STATE, _mp_child)
    # In a process that multiprocessing started, register for this process too
    # (metrics first imported inside a worker).
    import multiprocessing
    if multiprocessing.parent_process() is not None:
        _mp_child(None)


_install_hooks()


# ---------------------------------------------------------------- helpers ----

_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_DEFAULT_REGISTRY: Any = object()


def _full_name(name: Any, namespace: str, subsystem: str, unit: str,
               counter: bool = False) -> str:
    if not isinstance(name, str):
        raise TypeError(f"metric name must be a str, got {type(name).__name__}")
    full = "_".join(part for part in (namespace, subsystem, name) if part)
    if counter and full.endswith("_total"):  # before the unit, as prometheus_client
        full = full[:-6]
    if unit and not full.endswith("_" + unit):
        full += "_" + unit
    if not _NAME_RE.match(full):
        raise ValueError(f"invalid metric name {full!r}: use letters, digits, '_' and ':', "
                         "not starting with a digit")
    return full


def _label_names(labelnames: Any, reserved: Iterable[str] = ()) -> tuple[str, ...]:
    if isinstance(labelnames, str):
        raise TypeError("labelnames must be a sequence of str, e.g. ('route',), not a str")
    names = tuple(labelnames)
    for label in names:
        if not isinstance(label, str) or not _LABEL_RE.match(label):
            raise ValueError(f"invalid label name {label!r}: use letters, digits and '_', "
                             "not starting with a digit")
        if label.startswith("__"):
            raise ValueError(f"label name {label!r} is reserved (starts with '__')")
        if label in reserved:
            raise ValueError(f"label name {label!r} is reserved for this metric type")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate label names in {names!r}")
    return names


def _positive_int(value: Any, name: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or \
            not 1 <= value <= high:
        raise ValueError(f"{name} must be an integer in [1, {high}], got {value!r}")
    return int(value)


def _directory(directory: Any) -> str | None:
    if directory is None:
        directory = os.environ.get(_ENV_DIR) or None
    if directory is None:
        return None
    return os.fspath(directory)


def _registry(registry: Any) -> Any:
    if registry is _DEFAULT_REGISTRY:
        try:
            from prometheus_client import REGISTRY
        except ImportError:
            raise ImportError("fastmlops.metrics registers in prometheus_client's default "
                              "registry: pip install prometheus_client (or "
                              "fastmlops[prometheus]), or pass registry=None") from None
        return REGISTRY
    return registry


def _float_text(x: float) -> str:
    from prometheus_client.utils import floatToGoString
    return floatToGoString(x)


def _use_created() -> bool:
    pc = _pc()
    return True if pc is None else bool(getattr(pc.metrics, "_use_created", True))


_KM: Any = None
_PC: Any = None


def _km() -> Any:
    """:mod:`fastmlops._kernels.metrics`, imported on first use (that loads
    the compiled kernels) and then kept: an import statement in a function
    costs a microsecond or more on every call, and a scrape makes dozens."""
    global _KM
    if _KM is None:
        import fastmlops._kernels.metrics as km
        _KM = km
    return _KM


class _PrometheusParts:
    """The prometheus_client names a scrape uses, looked up once."""

    def __init__(self) -> None:
        from prometheus_client import metrics
        from prometheus_client.metrics_core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )
        from prometheus_client.samples import Sample
        self.metrics = metrics
        self.Sample = Sample
        # Samples are built with tuple.__new__ from C (map/zip), 2-3x cheaper
        # than the namedtuple's Python-level __new__; only while Sample is
        # still (name, labels, value, <fields defaulting to None>...).
        fields = Sample._fields
        rest = fields[3:]
        self.sample_rest = len(rest) if (
            fields[:3] == ("name", "labels", "value")
            and Sample._field_defaults == dict.fromkeys(rest)) else -1
        self.CounterMetricFamily = CounterMetricFamily
        self.GaugeMetricFamily = GaugeMetricFamily
        self.HistogramMetricFamily = HistogramMetricFamily


def _pc() -> Any:
    """prometheus_client's parts (:class:`_PrometheusParts`), or None when it
    is not installed."""
    global _PC
    if _PC is None:
        try:
            _PC = _PrometheusParts()
        except ImportError:  # pragma: no cover
            return None
    return _PC


# ---------------------------------------------------------------- metrics ----

class _Metric:
    """Shared parts of Counter, Gauge and Histogram (a prometheus_client Collector)."""

    _kind = ""
    _reserved: tuple[str, ...] = ()

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str], namespace: str,
                 subsystem: str, unit: str, registry: Any, width: int, extra: Sequence[Any],
                 max_series: int, max_processes: int, directory: Any,
                 definition: dict[str, Any] | None = None, read_only: bool = False) -> None:
        if not isinstance(documentation, str):
            raise TypeError(f"documentation must be a str, got {type(documentation).__name__}")
        self._name = name
        self._documentation = documentation
        self._unit = unit
        self._labelnames = _label_names(labelnames, self._reserved)
        self._max_series = _positive_int(max_series, "max_series", 1 << 20)
        self._max_processes = _positive_int(max_processes, "max_processes", 1 << 16)
        digest = _layout_hash(name, self._kind, [self._labelnames, *extra])
        meta = _definition(name, self._kind, documentation, self._labelnames, unit,
                           definition or {})
        self._segment = _segment_for(name, self._kind, width, self._max_processes,
                                     self._max_series, digest, _directory(directory), meta,
                                     read_only)
        self._children: dict[tuple[str, ...], Any] = {}
        self._children_lock = threading.Lock()
        # held while a batch is between its buffer and shared memory, so that a
        # flush (e.g. before value() or a scrape) waits for one in flight
        self._flush_lock = threading.Lock()
        if read_only:  # a DirectoryCollector's view: never writes, owns no slot
            return
        if not self._labelnames:
            child = self._child(())
            self._bind(child)
        _STATE.add(self)
        registry = _registry(registry)
        if registry is not None:
            registry.register(self)

    # -- labels
    def labels(self, *labelvalues: Any, **labelkwargs: Any) -> Any:
        """The child for one set of label values (positional or by name),
        created on first use, as in prometheus_client."""
        if not self._labelnames:
            raise ValueError(f"metric {self._name!r} has no labels; call its methods directly")
        if labelvalues and labelkwargs:
            raise ValueError("give label values either by position or by name, not both")
        if labelkwargs:
            if sorted(labelkwargs) != sorted(self._labelnames):
                raise ValueError(f"metric {self._name!r} takes labels {self._labelnames}, "
                                 f"got {tuple(labelkwargs)}")
            key = tuple(str(labelkwargs[k]) for k in self._labelnames)
        else:
            if len(labelvalues) != len(self._labelnames):
                raise ValueError(f"metric {self._name!r} takes {len(self._labelnames)} label "
                                 f"values {self._labelnames}, got {len(labelvalues)}")
            key = tuple(str(v) for v in labelvalues)
        child = self._children.get(key)
        if child is None:
            child = self._child(key)
        return child

    def _child(self, key: tuple[str, ...]) -> Any:
        with self._children_lock:
            child = self._children.get(key)
            if child is None:
                child = self._make_child(key, self._segment.series_index(key))
                self._children[key] = child
            return child

    def _bind(self, child: Any) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _make_child(self, key: tuple[str, ...], row: int) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _no_labels(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"metric {self._name!r} has labels {self._labelnames}: call "
                         ".labels(...) first, e.g. metric.labels(...).observe(x)")

    # -- flushing
    def _flush(self) -> None:
        with self._flush_lock:
            for child in list(self._children.values()):
                child._flush()

    def _forget_parent(self) -> None:
        """In a forked child: new locks, a slot of its own, and empty buffers
        (the parent flushes what it buffered)."""
        seg = self._segment
        seg.lock = threading.Lock()
        seg.series_lock = threading.Lock()
        seg.slot_pid = 0
        self._children_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        for child in list(self._children.values()):
            child._reset()

    # -- collector
    def describe(self) -> list[Any]:
        return [self._family()]

    def _family(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _rows(self) -> Iterator[tuple[tuple[str, ...], float, np.ndarray]]:
        """(label values, created, summed values) per label set, all processes."""
        self._flush()
        seg = self._segment
        n = seg.n_series()
        if n == 0:
            return
        data = seg.read_sum(n)
        merged: dict[tuple[str, ...], list[Any]] = {}
        for i in range(n):
            rec = seg.record(i)
            if rec is None:
                continue
            key, created = rec
            got = merged.get(key)
            if got is None:
                merged[key] = [created, data[i].copy()]
            else:  # the same label set registered twice by two processes at once
                got[0] = min(got[0], created)
                got[1] += data[i]
        for key, (created, row) in merged.items():
            yield key, created, row

    def __repr__(self) -> str:
        return f"{type(self).__module__}.{type(self).__name__}({self._name!r})"


def _to_float(v: Any) -> float | None:
    """``float(v)``, or None.  Beyond float64's range (an int such as
    ``10**400``, a large Fraction) it is +-inf, where the comparison of the
    hot path placed it; a one-element array is its element."""
    try:
        return float(v)
    except OverflowError:
        try:
            return math.inf if v > 0 else -math.inf
        except Exception:  # noqa: BLE001 - an exotic type: dropped
            return None
    except (TypeError, ValueError):
        if isinstance(v, np.ndarray) and v.size == 1:
            return _to_float(v.reshape(-1)[0])
        return None


def _floats(chunk: list[Any], name: str) -> np.ndarray:
    """``chunk`` as float64, one value at a time; a value that ``inc``/``observe``
    accepted but that does not convert (an object comparable with numbers but
    without ``__float__``) is dropped and logged, never the others."""
    out = []
    bad = 0
    for v in chunk:
        x = _to_float(v)
        if x is None:
            bad += 1
        else:
            out.append(x)
    if bad:
        _log.error("fastmlops.metrics: %s: dropped %d value(s) that do not convert to float",
                   name, bad)
    return np.array(out, dtype=np.float64)


def _drain(buf: list[Any], name: str) -> np.ndarray | None:
    """Take the values buffered so far, as float64 (None if there were none);
    values appended meanwhile stay.

    ``buf[:n]`` and ``del buf[:n]`` are each atomic (GIL, or the list's own
    lock in free-threaded Python) and appends only go to the end, so each
    value is taken exactly once."""
    n = len(buf)
    if not n:
        return None
    chunk = buf[:n]
    del buf[:n]
    try:
        return np.fromiter(chunk, np.float64, n)
    except (TypeError, ValueError, OverflowError):  # exotic or huge numbers: one by one
        return _floats(chunk, name)


# -- counter

class _CounterChild:
    __slots__ = ("_buf", "_segment", "_row", "_metric", "_key", "__weakref__")

    def __init__(self, metric: Counter, key: tuple[str, ...], row: int) -> None:
        self._buf: list[Any] = []
        self._segment = metric._segment
        self._metric = metric
        self._key = key
        self._row = row

    def value(self) -> float:
        """This label set's total over all processes."""
        return _child_value(self._metric, self._key)

    def inc(self, amount: Any = 1) -> None:
        """Add ``amount`` (default 1; must be >= 0)."""
        # the hot path: one comparison (False for NaN and negatives, TypeError
        # for non-numbers) and one append, inlined on purpose
        try:
            if amount >= 0:
                self._buf.append(amount)
                return
        except (TypeError, ValueError):  # ValueError: an array of several values
            raise TypeError(f"Counter.inc() needs a real number, got "
                            f"{type(amount).__name__}") from None
        raise ValueError(f"counters only go up: inc() needs an amount >= 0, got {amount!r}")

    def count_exceptions(self, exception: Any = Exception) -> Any:
        """Context manager and decorator: count the exceptions of type
        ``exception`` raised in the block (they still propagate)."""
        def leave(seconds: float, typ: Any) -> None:
            if typ is not None and issubclass(typ, exception):
                self.inc()
        return _Block(None, leave)

    def _flush(self) -> None:
        values = _drain(self._buf, self._metric._name)
        if values is not None:
            self._segment.add(self._row, np.array([np.sum(values)]))

    def _reset(self) -> None:
        del self._buf[:]


class Counter(_Metric):
    """A monotonic counter (prometheus_client's ``Counter`` API).

    ``inc(amount=1)`` costs one list append; see the module documentation
    for how values reach other processes.  A trailing ``_total`` is removed
    from ``name`` and added back in the exposition, as prometheus_client does.
    ``value()`` returns the total over all processes (flushing this one first).
    """

    _kind = "counter"

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = (),
                 namespace: str = "", subsystem: str = "", unit: str = "",
                 registry: Any = _DEFAULT_REGISTRY, *, max_series: int = 512,
                 max_processes: int = 256, directory: Any = None,
                 _read_only: bool = False) -> None:
        full = _full_name(name, namespace, subsystem, unit, counter=True)
        super().__init__(full, documentation, labelnames, namespace, subsystem, unit,
                         registry, 1, (), max_series, max_processes, directory,
                         read_only=_read_only)

    def _make_child(self, key: tuple[str, ...], row: int) -> Any:
        return _CounterChild(self, key, row)

    def _present(self, row: np.ndarray) -> float:
        return float(row[0])

    def _bind(self, child: Any) -> None:
        self.inc = child.inc
        self.count_exceptions = child.count_exceptions

    def inc(self, amount: Any = 1) -> None:
        """Add ``amount`` (>= 0); needs ``.labels(...)`` first if the counter has labels."""
        self._no_labels()

    def count_exceptions(self, exception: Any = Exception) -> Any:
        """Count exceptions raised in a block; needs ``.labels(...)`` first if labelled."""
        self._no_labels()


    def value(self) -> float:
        """Total over all processes (no labels); use ``.labels(...).value()`` otherwise."""
        if self._labelnames:
            self._no_labels()
        return _child_value(self, ())

    def _family(self) -> Any:
        CounterMetricFamily = _pc().CounterMetricFamily
        return CounterMetricFamily(self._name, self._documentation, labels=self._labelnames,
                                   unit=self._unit)

    def collect(self) -> list[Any]:
        family = self._family()
        created = _use_created()
        for key, ts, row in self._rows():
            family.add_metric(list(key), float(row[0]), created=ts if created else None)
        return [family]


def _child_value(metric: _Metric, key: tuple[str, ...]) -> Any:
    for k, _, row in metric._rows():
        if k == key:
            return metric._present(row)
    return metric._present(np.zeros(metric._segment.layout.width))


# -- histogram

class _HistogramChild:
    __slots__ = ("_buf", "_metric", "_key", "_row", "__weakref__")

    def __init__(self, metric: Histogram, key: tuple[str, ...], row: int) -> None:
        self._buf: list[Any] = []
        self._metric = metric
        self._key = key
        self._row = row

    def value(self) -> dict[str, Any]:
        """This label set's cumulative buckets, count and sum over all processes."""
        return _child_value(self._metric, self._key)

    def observe(self, value: Any) -> None:
        """Record one value (any real number but NaN)."""
        # the hot path, inlined on purpose (see _CounterChild.inc); 1e999 is
        # +inf as a constant, which saves a global lookup per call
        try:
            if value <= 1e999:
                self._buf.append(value)
                return
        except (TypeError, ValueError):  # ValueError: an array of several values
            raise TypeError(f"Histogram.observe() needs a real number, got "
                            f"{type(value).__name__}; for an array use observe_many()") from None
        raise ValueError(f"cannot observe {value!r}: a histogram takes real numbers, not NaN")

    def observe_many(self, values: Any) -> None:
        """Record every value of an array-like at once (about 3 ns per value; an
        N-D array counts all its values, a scalar is refused: use observe())."""
        self._metric._add_array(self._row, _as_values(values))

    def time(self) -> Any:
        """Context manager and decorator observing the elapsed seconds."""
        observe = self.observe
        return _Block(None, lambda seconds, _: observe(seconds))

    def _flush(self) -> None:
        values = _drain(self._buf, self._metric._name)
        if values is not None:
            self._metric._add_array(self._row, values, checked=True)

    def _reset(self) -> None:
        del self._buf[:]


def _as_values(values: Any) -> np.ndarray:

    arr = as_numeric_array(values, "observe_many() values")
    if arr.ndim != 1:
        if arr.ndim == 0:
            raise ValueError("observe_many() needs a 1-D array; use observe() for one value")
        arr = arr.reshape(-1)
    return np.ascontiguousarray(arr, dtype=np.float64)


class _Block:
    """A context manager and decorator (sync or async functions) that calls
    ``enter()`` on entry and ``leave(seconds, exception_type)`` on exit; the
    body's exceptions propagate.  Behind ``time()``, ``track_inprogress()``
    and ``count_exceptions()``."""

    __slots__ = ("_enter", "_leave", "_starts")

    def __init__(self, enter: Any, leave: Any) -> None:
        self._enter = enter
        self._leave = leave
        self._starts: list[float] = []  # a stack: the same block may nest

    def __enter__(self) -> _Block:
        if self._enter is not None:
            self._enter()
        self._starts.append(time.perf_counter())
        return self

    def __exit__(self, typ: Any, value: Any, tb: Any) -> None:
        elapsed = max(time.perf_counter() - self._starts.pop(), 0.0)
        self._leave(elapsed, typ)

    def __call__(self, fn: Any) -> Any:
        import functools
        import inspect

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapped(*args: Any, **kwargs: Any) -> Any:
                with _Block(self._enter, self._leave):
                    return await fn(*args, **kwargs)
            return async_wrapped

        @functools.wraps(fn)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with _Block(self._enter, self._leave):
                return fn(*args, **kwargs)

        return wrapped


def _check_buckets(buckets: Any) -> tuple[float, ...]:
    if isinstance(buckets, (str, bytes)):
        raise TypeError("buckets must be a sequence of numbers")
    try:
        bounds = [float(b) for b in buckets]
    except (TypeError, ValueError):
        raise TypeError(f"buckets must be numbers, got {buckets!r}") from None
    if any(math.isnan(b) for b in bounds):
        raise ValueError("buckets must not contain NaN")
    if bounds and bounds[-1] != _INF:
        bounds.append(_INF)
    if bounds != sorted(bounds):
        raise ValueError(f"buckets must be in increasing order, got {buckets!r}")
    if len(bounds) != len(set(bounds)):
        raise ValueError(f"buckets must not repeat a bound, got {buckets!r}")
    if len(bounds) < 2:
        raise ValueError("a histogram needs at least one finite bucket besides +Inf")
    return tuple(bounds)


class Histogram(_Metric):
    """A histogram of observations (prometheus_client's ``Histogram`` API).

    Buckets are validated as prometheus_client does (numbers in increasing
    order; ``+Inf`` is appended when missing; at least one finite bound) and
    default to its ``DEFAULT_BUCKETS``.  ``observe(value)`` costs one
    comparison and one list append; ``observe_many(values)`` bins a numpy
    array in a kernel.  ``value()`` returns ``{"buckets": cumulative counts,
    "count", "sum"}`` over all processes.
    """

    _kind = "histogram"
    _reserved = ("le",)
    DEFAULT_BUCKETS = DEFAULT_BUCKETS

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = (),
                 namespace: str = "", subsystem: str = "", unit: str = "",
                 registry: Any = _DEFAULT_REGISTRY, buckets: Sequence[float] = DEFAULT_BUCKETS,
                 *, max_series: int = 512, max_processes: int = 256,
                 directory: Any = None, _read_only: bool = False) -> None:
        full = _full_name(name, namespace, subsystem, unit)
        self._upper = _check_buckets(buckets)
        finite = np.array(self._upper[:-1], dtype=np.float64)
        self._nb = len(finite)
        if self._nb <= 16:
            self._bounds = np.full(16, _INF)
        else:
            self._bounds = finite.copy()
        self._bounds[:self._nb] = finite
        self._le = [_float_text(b) for b in self._upper] if _has_prometheus() else \
            [repr(b) for b in self._upper]
        self._labels: dict[tuple[str, ...], tuple[dict[str, str], list[dict[str, str]]]] = {}
        super().__init__(full, documentation, labelnames, namespace, subsystem, unit,
                         registry, self._nb + 2, self._upper, max_series, max_processes,
                         directory, {"buckets": [_bound_json(b) for b in self._upper]},
                         read_only=_read_only)

    def _make_child(self, key: tuple[str, ...], row: int) -> Any:
        return _HistogramChild(self, key, row)

    def _bind(self, child: Any) -> None:
        self.observe = child.observe
        self.observe_many = child.observe_many
        self.time = child.time

    def observe(self, value: Any) -> None:
        """Record one value; needs ``.labels(...)`` first if the histogram has labels."""
        self._no_labels()

    def observe_many(self, values: Any) -> None:
        """Record an array of values; needs ``.labels(...)`` first if labelled."""
        self._no_labels()

    def time(self) -> Any:
        """Time a block or function; needs ``.labels(...)`` first if labelled."""
        self._no_labels()

    def _add_array(self, row: int, values: np.ndarray, checked: bool = False) -> None:
        from fastmlops._kernels import metrics as k
        delta = np.zeros(self._nb + 2)
        if values.size == 0:
            return
        with np.errstate(over="ignore", invalid="ignore"):  # inf sums are legitimate
            total = float(np.sum(values))
        if math.isnan(total):
            bad = np.flatnonzero(np.isnan(values))
            if bad.size:
                if checked:  # pragma: no cover - observe() rejects NaN
                    values = values[~np.isnan(values)]
                else:
                    raise ValueError(f"observe_many(): values[{bad[0]}] is NaN; a histogram "
                                     "takes real numbers (drop or impute NaN first)")
        count = k.bucket_counts16 if self._nb <= 16 else k.bucket_counts_search
        if values.size < _PARALLEL_MIN:
            count(values, self._bounds, delta)
        else:  # large arrays: the kernel releases the GIL, so chunks run on all cores
            from fastmlops._parallel import chunk_bounds, n_workers, parallel_map

            def part(bounds: tuple[int, int]) -> np.ndarray:
                out = np.zeros(self._nb + 2)
                count(values[bounds[0]:bounds[1]], self._bounds, out)
                return out

            for out in parallel_map(part, chunk_bounds(values.size, n_workers(),
                                                       _PARALLEL_MIN // 2)):
                delta += out
        delta[self._nb + 1] = total
        self._segment.add(row, delta)


    def _present(self, row: np.ndarray) -> dict[str, Any]:
        cumulative = np.cumsum(row[:self._nb + 1])
        return {"buckets": dict(zip(self._upper, cumulative.tolist())),
                "count": float(cumulative[-1]), "sum": float(row[self._nb + 1])}

    def value(self) -> dict[str, Any]:
        """Buckets (cumulative), count and sum over all processes (no labels)."""
        if self._labelnames:
            self._no_labels()
        return _child_value(self, ())

    def _family(self) -> Any:
        HistogramMetricFamily = _pc().HistogramMetricFamily
        return HistogramMetricFamily(self._name, self._documentation,
                                     labels=self._labelnames, unit=self._unit)

    def collect(self) -> list[Any]:
        # The samples prometheus_client's own Histogram yields, in its order
        # (_bucket..., _count, _sum unless a bucket bound is negative,
        # _created), built directly: HistogramMetricFamily.add_metric would
        # cost several times our whole read of shared memory.
        pc = _pc()
        Sample = pc.Sample
        rest = pc.sample_rest
        family = self._family()
        samples = family.samples
        created = _use_created()
        bucket, count, total, born = (self._name + s for s in ("_bucket", "_count", "_sum",
                                                                "_created"))
        with_sum = self._upper[0] >= 0
        nb = self._nb
        for key, ts, row in self._rows():
            labels = self._labels.get(key)
            if labels is None:
                base = list(zip(self._labelnames, key))
                labels = (dict(base), [dict(base + [("le", le)]) for le in self._le])
                self._labels[key] = labels
            cumulative = list(accumulate(row[:nb + 1].tolist()))  # np.cumsum's order
            if rest >= 0:
                samples.extend(map(tuple.__new__, repeat(Sample),
                                   zip(repeat(bucket), labels[1], cumulative,
                                       *([repeat(None)] * rest))))
            else:  # pragma: no cover - a prometheus_client with other Sample fields
                for le_labels, value in zip(labels[1], cumulative):
                    samples.append(Sample(bucket, le_labels, value))
            samples.append(Sample(count, labels[0], cumulative[-1]))
            if with_sum:
                samples.append(Sample(total, labels[0], float(row[nb + 1])))
            if created:
                samples.append(Sample(born, labels[0], ts))
        return [family]


def _bound_json(b: float) -> Any:
    return "+Inf" if b == _INF else b


def _has_prometheus() -> bool:
    try:
        import prometheus_client  # noqa: F401
    except ImportError:  # pragma: no cover
        return False
    return True


# -- gauge

class _GaugeChild:
    __slots__ = ("_value", "_lock", "_segment", "_row", "_dirty", "_metric", "_key",
                 "__weakref__")

    def __init__(self, metric: Gauge, key: tuple[str, ...], row: int) -> None:
        self._value = 0.0
        # True while this process's value is not in shared memory yet.  A series
        # made in this process counts as this process's (value 0) from the start,
        # as in prometheus_client; one inherited through fork only once the
        # child changes it (see _reset).
        self._dirty = True
        self._lock = threading.Lock()
        self._segment = metric._segment
        self._metric = metric
        self._key = key
        self._row = row

    def value(self) -> float:
        """This label set's value combined over processes (see ``multiprocess_mode``)."""
        return float(sum(v for k, _, v in self._metric._samples() if k == self._key))

    def _number(self, x: Any, what: str) -> float:
        try:
            v = float(x)
        except (TypeError, ValueError):
            raise TypeError(f"Gauge.{what}() needs a real number, got {type(x).__name__}") from None
        if math.isnan(v):
            raise ValueError(f"Gauge.{what}() got NaN")
        return v

    def inc(self, amount: Any = 1) -> None:
        v = self._number(amount, "inc")
        with self._lock:
            self._value += v
            self._dirty = True

    def dec(self, amount: Any = 1) -> None:
        v = self._number(amount, "dec")
        with self._lock:
            self._value -= v
            self._dirty = True

    def set(self, value: Any) -> None:
        v = self._number(value, "set")
        with self._lock:
            self._value = v
            self._dirty = True

    def set_to_current_time(self) -> None:
        self.set(time.time())

    def track_inprogress(self) -> Any:
        """Context manager and decorator: +1 while the block runs."""
        return _Block(self.inc, lambda seconds, _: self.dec())

    def time(self) -> Any:
        """Context manager and decorator: set the gauge to the block's seconds."""
        return _Block(None, lambda seconds, _: self.set(seconds))

    def _flush(self) -> None:
        # flushes of one metric are serialised (_Metric._flush_lock), so the
        # value taken here is never overwritten by an older one
        with self._lock:
            if not self._dirty:
                return
            value = self._value
            self._dirty = False
        self._segment.set(self._row, np.array([value, 1.0]))  # (value, 1): ours

    def _reset(self) -> None:
        """After a fork: the child starts at 0 and has no value for this series
        until it sets one (the parent's stays the parent's)."""
        self._lock = threading.Lock()
        self._value = 0.0
        self._dirty = False


_GAUGE_MODES = ("all", "liveall", "sum", "livesum", "max", "livemax", "min", "livemin")


class Gauge(_Metric):
    """A value that goes up and down (prometheus_client's ``Gauge`` API).

    Each process has its own value (``inc``/``dec``/``set`` take a short
    per-series lock; gauges are not a hot path), written to its slot by the
    flusher.  A scrape combines the processes by ``multiprocess_mode``, with
    prometheus_client's names: ``all`` (one sample per process, with a
    ``pid`` label), ``sum``, ``max``, ``min``, and their ``live...`` variants,
    which leave out processes that have exited.  Default: ``livesum`` (in a
    single process, simply the value).
    """

    _kind = "gauge"

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = (),
                 namespace: str = "", subsystem: str = "", unit: str = "",
                 registry: Any = _DEFAULT_REGISTRY, multiprocess_mode: str = "livesum", *,
                 max_series: int = 512, max_processes: int = 256,
                 directory: Any = None, _read_only: bool = False) -> None:
        if multiprocess_mode not in _GAUGE_MODES:
            raise ValueError(f"multiprocess_mode must be one of {_GAUGE_MODES}, "
                             f"got {multiprocess_mode!r}")
        self._mode = multiprocess_mode
        full = _full_name(name, namespace, subsystem, unit)
        reserved = ("pid",) if multiprocess_mode in ("all", "liveall") else ()
        self._reserved = reserved
        super().__init__(full, documentation, labelnames, namespace, subsystem, unit,
                         registry, 2, (multiprocess_mode,), max_series, max_processes,
                         directory, {"multiprocess_mode": multiprocess_mode},
                         read_only=_read_only)

    def _make_child(self, key: tuple[str, ...], row: int) -> Any:
        return _GaugeChild(self, key, row)

    def _bind(self, child: Any) -> None:
        for method in ("inc", "dec", "set", "set_to_current_time", "track_inprogress", "time"):
            setattr(self, method, getattr(child, method))

    def inc(self, amount: Any = 1) -> None:
        self._no_labels()

    def dec(self, amount: Any = 1) -> None:
        self._no_labels()

    def set(self, value: Any) -> None:
        self._no_labels()

    def set_to_current_time(self) -> None:
        self._no_labels()

    def track_inprogress(self) -> Any:
        self._no_labels()

    def time(self) -> Any:
        self._no_labels()


    def _samples(self) -> Iterator[tuple[tuple[str, ...], str | None, float]]:
        self._flush()
        seg = self._segment
        n = seg.n_series()
        if n == 0:
            return
        data, owners = seg.read_slots(n)
        claimed = np.flatnonzero(owners)
        live_only = self._mode.startswith("live")
        alive = {int(s): (_alive(int(owners[s])) if live_only else True) for s in claimed}
        mode = self._mode[4:] if live_only else self._mode
        seen: dict[tuple[str, ...], list[int]] = {}
        for i in range(n):
            rec = seg.record(i)
            if rec is not None:
                seen.setdefault(rec[0], []).append(i)
        for key, rows in seen.items():
            # only the processes that have this series (wrote it at least once),
            # as prometheus_client combines only the files holding the series
            per_slot = {int(s): float(sum(data[s, r, 0] for r in rows if data[s, r, 1]))
                        for s in claimed
                        if (not live_only or alive[int(s)]) and any(data[s, r, 1] for r in rows)}
            if mode == "all":
                for s, v in per_slot.items():
                    yield key, str(int(owners[s]) & 0xFFFFFFFF), v
            elif per_slot:
                vals = list(per_slot.values())
                yield key, None, {"sum": sum, "max": max, "min": min}[mode](vals)

    def value(self) -> float:
        """The combined value (no labels; for ``all`` modes, the sum)."""
        if self._labelnames:
            self._no_labels()
        return self._children[()].value()

    def _family(self) -> Any:
        GaugeMetricFamily = _pc().GaugeMetricFamily
        names = list(self._labelnames) + (["pid"] if self._mode in ("all", "liveall") else [])
        return GaugeMetricFamily(self._name, self._documentation, labels=names, unit=self._unit)

    def collect(self) -> list[Any]:
        family = self._family()
        for key, pid, value in self._samples():
            family.add_metric(list(key) + ([pid] if pid is not None else []), value)
        return [family]


# ------------------------------------------------------- directory exporter ----

def _reader_for(path: str, directory: str) -> _Metric:
    """A read-only view of the metric stored in ``path``, from its own definition."""
    size = _HEADER_WORDS * 8
    with open(path, "rb") as f:
        head = f.read(size)
    if len(head) < size:
        raise ValueError("not a fastmlops metrics file (too short)")
    words = np.frombuffer(head, dtype=np.uint64)
    if int(words[_H_MAGIC]) != _MAGIC:
        raise ValueError("not a fastmlops metrics file")
    if int(words[_H_VERSION]) != _VERSION:
        raise ValueError(f"written by another fastmlops version (layout "
                         f"{int(words[_H_VERSION])}, this one reads {_VERSION})")
    meta = json.loads(head[_META_AT:_META_AT + int(words[_H_META_LEN])].decode("utf-8"))
    common = {"registry": None, "max_series": int(words[_H_SERIES]),
              "max_processes": int(words[_H_SLOTS]), "directory": directory,
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

    def __init__(self, directory: Any = None, registry: Any = _DEFAULT_REGISTRY) -> None:
        path = _directory(directory)
        if path is None:
            raise ValueError(f"DirectoryCollector needs a directory: pass directory= or set "
                             f"{_ENV_DIR}")
        if not os.path.isdir(path):
            raise ValueError(f"metrics directory {path!r} does not exist or is not a directory")
        self._directory = path
        self._readers: dict[str, tuple[tuple[int, int], _Metric]] = {}
        self._lock = threading.Lock()
        registry = _registry(registry)
        if registry is not None:
            registry.register(self)

    def describe(self) -> list[Any]:
        return []  # the set of metrics changes as workers create them

    def collect(self) -> list[Any]:
        families: list[Any] = []
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
