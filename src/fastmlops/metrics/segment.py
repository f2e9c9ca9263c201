"""Shared-memory segments of :mod:`fastmlops.metrics`: layout, process slots,
label-set records (with removal and reuse), exemplars, and metric files.

One metric family is one fixed-size segment (anonymous shared memory, or a
file in a metrics directory)::

    header (16 KiB: fields, then the definition as JSON)
    records: max_series x 512 bytes (state word, created, length, exemplar
             flag, label values as JSON)
    exemplars: max_series x ex_width x 512 bytes (counters: 1 per series,
             histograms: one per bucket, gauges: none); pages never written
             take no memory
    slots: max_processes x (owner, seq, padding, max_series x width floats)

A record's state word is ``generation << 2 | code`` (code 0: never used,
1: being written, 2: ready, 3: removed, free for another label set); a
writer checks, inside its slot's seqlock, that the word is still the one it
saw ready, so a removed row is never written again by a process that held it.
The header, and creating, opening and checking a file, are in ``_mapfile``;
records read back are validated by ``_decode``.  Every pass over a file's
mapping starts with :meth:`Segment.usable` (a truncated file raises SIGBUS).

Other shared-memory writers (:class:`~fastmlops.DriftMonitor`) use the same
segments through :func:`segment_for` (with :func:`resolve_directory`,
:func:`layout_hash`, :func:`encode_definition`) and :class:`Segment`'s
methods, never its word offsets: :meth:`Segment.add_tagged` and
:meth:`Segment.sum_tagged` keep time-bucketed rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import weakref
from types import ModuleType
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

from fastmlops.metrics._decode import decode_exemplar, decode_key
from fastmlops.metrics._files import alive, owner_word, segment_path
from fastmlops.metrics._mapfile import H_NSERIES as _H_NSERIES
from fastmlops.metrics._mapfile import (
    HEADER_WORDS,
    MAX_META,
    METRIC_DEFINITION,
    SegmentRefused,
    file_problem,
    open_segment,
)

__all__ = ["DEFAULT_BUCKETS", "Segment", "encode_definition", "layout_hash",
           "resolve_directory", "segment_for"]

_log = logging.getLogger("fastmlops.metrics")
_T = TypeVar("_T")

INF = float("inf")
DEFAULT_BUCKETS: tuple[float, ...] = (.005, .01, .025, .05, .075, .1, .25, .5, .75, 1.0,
                                      2.5, 5.0, 7.5, 10.0, INF)
ENV_DIR = "FASTMLOPS_METRICS_DIR"

# ---------------------------------------------------------------- layout ----
# (the header, HEADER_WORDS long: see _mapfile)
_RECORD_WORDS = 64          # 512 bytes per label set
_R_STATE, _R_CREATED, _R_NBYTES, _R_EXEMPLARS, _R_PAYLOAD = 0, 1, 2, 3, 4
_MAX_KEY_BYTES = (_RECORD_WORDS - _R_PAYLOAD) * 8
_BUSY, _READY, _DEAD = 1, 2, 3   # low 2 bits of a record's state word
_EX_WORDS = 64              # an exemplar: seq, value, timestamp, length, payload
EX_PAYLOAD = (_EX_WORDS - 4) * 8
_SLOT_HEADER = 8            # owner, seq, then padding to a cache line
_S_OWNER, _S_SEQ = 0, 1
PARALLEL_MIN = 1 << 17  # observe_many splits arrays this long over threads


def _words_per_slot(width: int, max_series: int) -> int:
    n = _SLOT_HEADER + width * max_series
    return (n + 7) // 8 * 8


def _ex_width(kind: str, width: int) -> int:
    """Exemplars per series: a counter's one, a histogram's one per bucket."""
    return {"counter": 1, "histogram": width - 1}.get(kind, 0)


class _Layout:
    __slots__ = ("width", "slots", "series", "records_at", "ex_at", "ex_width", "slots_at",
                 "slot_words", "words")

    def __init__(self, width: int, slots: int, series: int, ex_width: int = 0) -> None:
        self.width, self.slots, self.series = width, slots, series
        self.records_at = HEADER_WORDS
        self.ex_at = HEADER_WORDS + series * _RECORD_WORDS
        self.ex_width = ex_width
        self.slots_at = self.ex_at + series * ex_width * _EX_WORDS
        self.slot_words = _words_per_slot(width, series)
        self.words = self.slots_at + slots * self.slot_words


# --------------------------------------------------------------- segments ----

def layout_hash(name: str, kind: str, extra: Sequence[object]) -> int:
    """A 63-bit digest of a segment's definition (``extra``: whatever shapes its
    rows, by ``repr``), stored in its header: a process that opens a metric
    file with another definition is refused."""
    text = json.dumps([name, kind, [repr(x) for x in extra]])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1


def encode_definition(name: str, kind: str, documentation: str, labelnames: tuple[str, ...],
                      unit: str, extra: dict[str, Any]) -> bytes:
    """The metric's definition as stored in its segment, so that a process that
    does not define it (``DirectoryCollector``) can expose it.  A help text too
    long for the header is shortened."""
    doc = documentation
    while True:
        meta = json.dumps({"name": name, "type": kind, "help": doc, "labelnames": labelnames,
                           "unit": unit, **extra}, ensure_ascii=False).encode()
        if len(meta) <= MAX_META:
            return meta
        if not doc:
            raise ValueError(f"metric {name!r}: its definition does not fit in "
                             f"{MAX_META} bytes (too many buckets or label names)")
        doc = doc[:len(doc) // 2]


class Segment:
    """One metric family's shared memory and this process's slot in it."""

    def __init__(self, name: str, kind: str, width: int, max_processes: int, max_series: int,
                 digest: int, directory: str | None, meta: bytes, read_only: bool = False,
                 defined_by: tuple[str, str] = METRIC_DEFINITION) -> None:
        self.name = name
        self.kind = kind
        self.digest = digest
        self.read_only = read_only  # a DirectoryCollector's view: never writes
        lay = self.layout = _Layout(width, max_processes, max_series, _ex_width(kind, width))
        self.mm = open_segment(name, kind, (width, max_processes, max_series), lay.words * 8,
                               digest, directory, meta, read_only, defined_by)
        # a metric file (None: anonymous memory) and why it was refused (see usable())
        self.path = None if directory is None else segment_path(name, directory)
        self.refused: str | None = None
        self.what = defined_by[0]
        self.key_len: int | None = None  # label values per record, when known
        self.words = np.frombuffer(self.mm, dtype=np.uint64)
        self.vals = self.words.view(np.float64)
        self.bytes = self.words.view(np.uint8)
        self.slot_pid = 0
        self.seq_at = -1
        self.data_at = -1
        self.lock = threading.Lock()       # one writer per slot within this process
        self.series_lock = threading.Lock()
        # label values -> (record index, its ready state word); a cache,
        # checked against the shared state word before it is trusted
        self.keys: dict[tuple[str, ...], tuple[int, int]] = {}
        # record index -> (state word, label values (None: corrupted), created)
        self.decoded: dict[int, tuple[int, tuple[str, ...] | None, float]] = {}

    def usable(self) -> bool:
        """Whether the mapping may be touched: always for anonymous memory; for
        a file, while it is as long as the mapping and keeps its header (see
        :mod:`fastmlops.metrics._mapfile`: a truncated file raises SIGBUS).
        Called before every pass over the mapping; a file found unusable is
        refused from then on, with one logged error: writes are dropped and
        reads raise :class:`SegmentRefused`."""
        if self.path is None:
            return True
        if self.refused is None:
            problem = file_problem(self.mm, self.layout.words * 8)
            if problem is None:
                return True
            with _SEGMENTS_LOCK:
                if self.refused is None:
                    self.refused = (f"{self.what} {self.name!r}: {self.path} {problem}; "
                                    "refused: writes to it are dropped and it is left out of "
                                    "scrapes (delete the file, then restart the processes "
                                    "that use it)")
                    _log.error("fastmlops.metrics: %s", self.refused)
        return False

    def after_fork(self) -> None:
        """In a forked child: new locks (the parent's may have been held by
        another thread at the fork) and no slot yet (the parent's is its own)."""
        self.lock = threading.Lock()
        self.series_lock = threading.Lock()
        self.slot_pid = 0

    # -- slots
    def ensure_slot(self) -> None:
        """Claim (or adopt) this process's slot; call with ``self.lock`` held."""
        pid = os.getpid()
        if self.slot_pid == pid:
            return
        km = _km()
        atomic_cas, atomic_load = km.atomic_cas, km.atomic_load
        lay = self.layout
        me = np.uint64(owner_word(pid))
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
                if owner != me and not alive(int(owner)) and \
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
        _km().slot_fill(self.words, self.vals, base + _S_SEQ, base + _SLOT_HEADER,
                        np.zeros(lay.series * lay.width))

    def add(self, row: int, state: int, delta: np.ndarray) -> bool:
        """Add ``delta`` to ``row`` of this process's slot; False (nothing
        written) if the series is no longer the one in state ``state``."""
        return self._write(_km().slot_add, row, state, delta)

    def set(self, row: int, state: int, value: np.ndarray) -> bool:
        return self._write(_km().slot_set, row, state, value)

    def _write(self, slot_kernel: Callable[..., object], row: int, state: int,
               values: np.ndarray) -> bool:
        """``slot_kernel`` (slot_add or slot_set) on ``row`` of this process's slot."""
        with self.lock:
            if not self.usable():
                return True  # refused: dropped, never retried
            self.ensure_slot()
            return bool(slot_kernel(self.words, self.vals, self.seq_at,
                                    self.data_at + row * self.layout.width, values,
                                    self.layout.records_at + row * _RECORD_WORDS + _R_STATE,
                                    np.uint64(state)))

    # -- label sets
    def n_series(self) -> int:
        atomic_load = _km().atomic_load
        return min(int(atomic_load(self.words, _H_NSERIES)), self.layout.series)

    def states(self, n: int) -> np.ndarray:
        """The state words of the first ``n`` records (acquire loads)."""
        out = np.empty(n, dtype=np.uint64)
        _km().load_strided(self.words, self.layout.records_at + _R_STATE, _RECORD_WORDS, out)
        return out

    def record(self, index: int, state: int | None = None
               ) -> tuple[tuple[str, ...], float] | None:
        """The label values and creation time of series ``index`` if it is
        ready (in state ``state`` when given), else None."""
        at = self.layout.records_at + index * _RECORD_WORDS
        if state is None:
            state = int(_km().atomic_load(self.words, at + _R_STATE))
        if state & 3 != _READY:
            return None
        got = self.decoded.get(index)
        if got is not None and got[0] == state:
            return None if got[1] is None else (got[1], got[2])
        nbytes = int(self.words[at + _R_NBYTES])
        start = (at + _R_PAYLOAD) * 8
        try:  # never trusted: another process may have written anything
            if nbytes > _MAX_KEY_BYTES:
                raise ValueError(f"a length of {nbytes} bytes, beyond the record's end")
            key: tuple[str, ...] | None = decode_key(
                bytes(self.bytes[start:start + nbytes]), self.key_len)
        except ValueError as exc:
            key, why = None, exc
        created = float(self.vals[at + _R_CREATED])
        if int(_km().atomic_load(self.words, at + _R_STATE)) != state:
            return None  # removed while it was read
        if key is None:  # skipped, with one warning per record
            _log.warning("fastmlops.metrics: %s: skipping corrupted label set record %d of "
                         "%s: %s", self.name, index, self.path or "shared memory", why)
        self.decoded[index] = (state, key, created)
        return None if key is None else (key, created)

    def _encode_key(self, key: tuple[str, ...]) -> bytes:
        payload = json.dumps(list(key), ensure_ascii=False, separators=(",", ":")).encode()
        if len(payload) > _MAX_KEY_BYTES:
            raise ValueError(f"metric {self.name!r}: label values {key!r} take {len(payload)} "
                             f"bytes encoded; at most {_MAX_KEY_BYTES} fit")
        return payload

    def series_index(self, key: tuple[str, ...]) -> tuple[int, int]:
        """(record index, ready state word) of ``key``, registering it (in a
        removed record's place when there is one) if no process has.  For a
        refused file, (0, 0): writes there are dropped."""
        if not self.usable():
            return 0, 0
        got = self.keys.get(key)
        if got is not None and int(_km().atomic_load(
                self.words, self.layout.records_at + got[0] * _RECORD_WORDS)) == got[1]:
            return got
        payload = self._encode_key(key)
        with self.series_lock:
            km = _km()
            n = self.n_series()
            states = self.states(n)
            self.keys = {}
            for i in np.flatnonzero((states & np.uint64(3)) == _READY).tolist():
                rec = self.record(i, int(states[i]))
                if rec is not None:
                    self.keys.setdefault(rec[0], (i, int(states[i])))
            got = self.keys.get(key)
            if got is not None:
                return got
            index = -1
            for i in np.flatnonzero((states & np.uint64(3)) == _DEAD).tolist():
                old = states[i]
                busy = (old & ~np.uint64(3)) + np.uint64(4 + _BUSY)  # next generation
                if km.atomic_cas(self.words, self.layout.records_at + i * _RECORD_WORDS,
                                 old, busy) == old:
                    index, state = i, int(busy) - _BUSY + _READY
                    break
            if index < 0:
                index = int(km.atomic_add(self.words, _H_NSERIES, np.uint64(1)))
                state = _READY
                if index >= self.layout.series:
                    raise ValueError(
                        f"metric {self.name!r} has reached its max_series="
                        f"{self.layout.series} label sets; create it with a larger "
                        "max_series, or remove() label sets no longer used (label values "
                        "such as user ids or raw paths make unbounded series)")
            at = self.layout.records_at + index * _RECORD_WORDS
            self.vals[at + _R_CREATED] = time.time()
            self.words[at + _R_NBYTES] = len(payload)
            self.words[at + _R_EXEMPLARS] = 0
            start = (at + _R_PAYLOAD) * 8
            self.bytes[start:start + len(payload)] = np.frombuffer(payload, dtype=np.uint8)
            km.atomic_store(self.words, at + _R_STATE, np.uint64(state))
            self.keys[key] = (index, state)
            return index, state

    def remove(self, match: Callable[[tuple[str, ...]], bool]) -> int:
        """Remove every label set for which ``match(label values)`` is true,
        for every process; returns how many records were freed."""
        km = _km()
        lay = self.layout
        freed = 0
        if not self.usable():
            return 0
        with self.series_lock:
            n = self.n_series()
            states = self.states(n)
            for i in np.flatnonzero((states & np.uint64(3)) == _READY).tolist():
                state = int(states[i])
                rec = self.record(i, state)
                if rec is None or not match(rec[0]):
                    continue
                gen = state & ~3
                at = lay.records_at + i * _RECORD_WORDS
                if km.remove_series(self.words, self.vals, at + _R_STATE, np.uint64(state),
                                    np.uint64(gen + 4 + _BUSY), np.uint64(gen + 4 + _DEAD),
                                    lay.slots_at, lay.slot_words, lay.slots, _S_SEQ,
                                    _SLOT_HEADER, _S_OWNER, i * lay.width, lay.width,
                                    lay.ex_at + i * lay.ex_width * _EX_WORDS, lay.ex_width):
                    freed += 1
            self.keys = {k: v for k, v in self.keys.items() if not match(k)}
        return freed

    # -- exemplars
    def write_exemplar(self, row: int, state: int, bucket: int, payload: bytes,
                       value: float, ts: float) -> None:
        lay = self.layout
        if not self.usable():
            return
        words = np.zeros((len(payload) + 7) // 8, dtype=np.uint64)
        words.view(np.uint8)[:len(payload)] = np.frombuffer(payload, dtype=np.uint8)
        rec_at = lay.records_at + row * _RECORD_WORDS
        km = _km()
        if km.exemplar_write(self.words, self.vals,
                             lay.ex_at + (row * lay.ex_width + bucket) * _EX_WORDS,
                             float(value), float(ts), len(payload), words,
                             rec_at + _R_STATE, np.uint64(state)):
            if not self.words[rec_at + _R_EXEMPLARS]:
                km.atomic_store(self.words, rec_at + _R_EXEMPLARS, np.uint64(1))

    def exemplars(self, row: int) -> list[tuple[dict[str, str], float, float] | None] | None:
        """The latest exemplar of each bucket of ``row`` (None where there is
        none), or None when the series never had one."""
        lay = self.layout
        if not lay.ex_width or not self.usable() or \
                not self.words[lay.records_at + row * _RECORD_WORDS + _R_EXEMPLARS]:
            return None
        copy = _km().copy_consistent
        out: list[tuple[dict[str, str], float, float] | None] = []
        buf = np.empty(_EX_WORDS - 1)
        for b in range(lay.ex_width):
            at = lay.ex_at + (row * lay.ex_width + b) * _EX_WORDS
            copy(self.words, self.vals, at, at + 1, buf)
            raw = buf.view(np.uint64)
            nbytes = int(raw[2])
            if not nbytes or nbytes > EX_PAYLOAD:
                out.append(None)
                continue
            try:  # never trusted (see record()); also torn by a writer taken over
                labels = decode_exemplar(raw[3:].view(np.uint8)[:nbytes].tobytes())
            except ValueError:
                out.append(None)
                continue
            out.append((labels, float(buf[0]), float(buf[1])))
        return out

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
            if not alive(int(owner)):
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

    def live(self, read: Callable[[int], _T]
             ) -> tuple[_T | None, list[tuple[int, tuple[str, ...], float]]]:
        """``read(n)`` (read_sum or read_slots) and the label sets it may show:
        those ready before and after the copy, in the same generation (a
        series removed meanwhile, possibly half zeroed, is left out).
        :class:`SegmentRefused` for a refused file."""
        if not self.usable():
            raise SegmentRefused(self.refused)
        n = self.n_series()
        if n == 0:
            return None, []
        before = self.states(n)
        data = read(n)
        after = self.states(n)
        rows = []
        for i in np.flatnonzero((before == after) & ((before & np.uint64(3)) == _READY)).tolist():
            rec = self.record(i, int(before[i]))
            if rec is not None:
                rows.append((i, rec[0], rec[1]))
        return data, rows

    # -- tagged rows: a row's first value (its tag) says which time bucket it holds
    def add_tagged(self, row: int, state: int, tag: float, values: np.ndarray) -> bool:
        """Add ``values`` (float64, at most ``width - 1``) to ``row`` of this
        process's slot, after the row's tag, if that tag is ``tag``; otherwise
        (a stale time bucket of a ring, or a row this slot never wrote) start
        the row again: ``tag``, ``values``, zeros.  False (nothing written) if
        the series is no longer in state ``state`` (see :meth:`series_index`).
        Only this process writes its slot: the tag is read before the seqlock."""
        width = self.layout.width
        with self.lock:
            if not self.usable():
                return False
            self.ensure_slot()
            at = self.data_at + row * width
            if self.vals[at] == tag:
                full = np.concatenate([[0.0], values])
                kernel = _km().slot_add
            else:
                full = np.zeros(width)
                full[0] = tag
                full[1:values.size + 1] = values
                kernel = _km().slot_set
            return bool(kernel(self.words, self.vals, self.seq_at, at, full,
                               self.layout.records_at + row * _RECORD_WORDS + _R_STATE,
                               np.uint64(state)))

    def sum_tagged(self, lo: float, hi: float) -> np.ndarray:
        """Sum, over every process's slot, of the rows whose tag lies in
        ``[lo, hi]``, without the tag (``width - 1`` values); each slot is
        copied consistently, as in :meth:`read_sum`."""
        from fastmlops._kernels.monitor import window_sum

        lay = self.layout
        out = np.zeros(lay.width - 1)
        if not self.usable():
            return out  # a refused file: nothing
        rows = self.n_series()
        scratch = np.empty(rows * lay.width)
        stuck = np.zeros(lay.slots, dtype=np.int8)
        window_sum(self.words, self.vals, lay.slots_at, lay.slot_words, lay.slots, _S_SEQ,
                   _SLOT_HEADER, _S_OWNER, rows, lay.width, lo, hi, scratch, out, stuck)
        if stuck.any():
            self._repair(stuck)
        return out

    def slot_rows(self, row: int, n: int) -> np.ndarray:
        """The first ``n`` values of ``row`` in every process's slot,
        ``(max_processes, n)``, each copied consistently; NaN for a slot no
        process ever claimed.  Reads ``n`` values per slot, whatever the rows'
        width: a scrape's cost does not grow with the other rows."""
        from fastmlops._kernels.monitor import slot_rows

        lay = self.layout
        if not 0 <= row < lay.series or not 0 < n <= lay.width:
            raise ValueError(f"row {row} / {n} values outside the segment's "
                             f"{lay.series} x {lay.width}")
        out = np.full((lay.slots, n), np.nan)
        if not self.usable():
            return out  # a refused file: no slot
        stuck = np.zeros(lay.slots, dtype=np.int8)
        slot_rows(self.words, self.vals, lay.slots_at, lay.slot_words, lay.slots, _S_SEQ,
                  _SLOT_HEADER, _S_OWNER, row * lay.width, out, stuck)
        if stuck.any():
            self._repair(stuck)
        return out


_SEGMENTS: "weakref.WeakValueDictionary[str, Segment]" = weakref.WeakValueDictionary()
_SEGMENTS_LOCK = threading.Lock()


def segment_for(name: str, kind: str, width: int, max_processes: int, max_series: int,
                digest: int, directory: str | None, meta: bytes, read_only: bool = False,
                defined_by: tuple[str, str] = METRIC_DEFINITION) -> Segment:
    """The segment of a metric (``digest``: :func:`layout_hash`; ``meta``:
    :func:`encode_definition`; ``directory``: :func:`resolve_directory`'s;
    ``defined_by``: what the writer is called and what its definition is made
    of, for the error when a name is taken by another definition).

    In a metrics directory, every metric object of one name in this process
    shares one segment, so one slot: a metric made again (after
    ``unregister``, by an app factory, with ``registry=None``) carries on from
    the first one's values, and a gauge has one value per process, the last
    one set, as in prometheus_client's multiprocess mode.  A segment whose file
    was refused (see :meth:`Segment.usable`) is not shared: the file is opened
    again, and refused with its reason if it is still unusable."""
    if directory is None or read_only:
        return Segment(name, kind, width, max_processes, max_series, digest, directory,
                       meta, read_only, defined_by)
    key = os.path.realpath(segment_path(name, directory))
    with _SEGMENTS_LOCK:
        seg = _SEGMENTS.get(key)
        if seg is not None and seg.refused is None:
            lay = seg.layout
            if (seg.kind, seg.digest, lay.width, lay.slots, lay.series) != \
                    (kind, digest, width, max_processes, max_series):
                what, fields = defined_by
                raise ValueError(
                    f"{what} {name!r}: this process already has a {what} of that name in "
                    f"{directory} with another definition ({fields} differ); give every "
                    f"{what} of one name the same definition")
            return seg
        seg = Segment(name, kind, width, max_processes, max_series, digest, directory, meta,
                      defined_by=defined_by)
        _SEGMENTS[key] = seg
        return seg


def resolve_directory(directory: str | os.PathLike[str] | None) -> str | None:
    """The metrics directory: ``directory``, else ``FASTMLOPS_METRICS_DIR``
    if set, else None (anonymous shared memory)."""
    if directory is None:
        directory = os.environ.get(ENV_DIR) or None
    if directory is None:
        return None
    return os.fspath(directory)


_KM: ModuleType | None = None


def _km() -> ModuleType:
    """:mod:`fastmlops._kernels.metrics`, imported on first use (that loads
    the compiled kernels) and then kept: an import statement in a function
    costs a microsecond or more on every call, and a scrape makes dozens."""
    global _KM
    if _KM is None:
        import fastmlops._kernels.metrics as km
        _KM = km
    return _KM
