"""Kernels of the multi-process metrics store (:mod:`fastmlops.metrics`).

A metric family lives in one fixed-size shared segment (anonymous shared
memory or a file in a metrics directory), seen here as two views of the same
bytes: ``words`` (``uint64``) and ``vals`` (``float64``).  Each process adds
into its own *slot*, so every slot has exactly one writer; the writer guards
its updates with a sequence lock (``seq`` odd while writing), and readers
retry until they copy a slot between two equal, even ``seq`` values.
The offsets are computed by :mod:`fastmlops.metrics`; these kernels only
follow them.  Bounds are checked by the caller.
"""

from __future__ import annotations

import numpy as np
from numba.core import types as _t

from fastmlops._kernels._jit import kernel
from fastmlops._kernels.atomics import (
    compare_exchange,
    fence_acquire,
    fence_release,
    fence_seq_cst,
    fetch_add,
    load_acquire,
    load_relaxed,
    store_relaxed,
    store_release,
)

# Spins before a reader gives up waiting for an odd ``seq`` and reports the
# slot as stuck (its writer may have been killed mid-update).
_SPINS = 1 << 16


_BLOCK = 1024

# A DirectoryCollector maps metric files read-only: its arrays are read-only
# Numba types, compiled (and warmed up) as signatures of their own.
_RO_WORDS = _t.Array(_t.uint64, 1, "C", readonly=True)
_RO_VALS = _t.Array(_t.float64, 1, "C", readonly=True)
_I8 = _t.int64
_READ_SLOTS_RO = _t.int64(_RO_WORDS, _RO_VALS, _I8, _I8, _I8, _I8, _I8, _I8,
                          _t.Array(_t.float64, 3, "C"), _t.Array(_t.int8, 1, "C"))
_SUM_SLOTS_RO = _t.int64(_RO_WORDS, _RO_VALS, _I8, _I8, _I8, _I8, _I8, _I8,
                         _t.Array(_t.float64, 2, "C"), _t.Array(_t.int8, 1, "C"))


@kernel("void(f8[::1], f8[::1], f8[::1])")
def bucket_counts16(values: np.ndarray, bounds16: np.ndarray, out: np.ndarray) -> None:
    """Add Prometheus bucket counts of ``values`` into ``out``.

    ``bounds16`` holds the finite upper bounds padded with ``+inf`` to exactly
    16 entries; a value goes to bucket ``k`` = how many bounds are below it
    (so ``v <= bound`` is counted in that bound's bucket, as ``le`` means, and
    values above every finite bound land in bucket ``nb``, the ``+Inf`` one).
    ``out`` needs at least ``nb + 1`` entries.  NaN must be rejected by the
    caller (it would count in bucket 0).  The 16 comparisons have a fixed
    count so that LLVM vectorises them across values; the increments go to
    four sub-histograms so that equal consecutive buckets do not stall.
    """
    n = values.shape[0]
    sub = np.zeros((4, 17), dtype=np.int64)
    idx = np.empty(_BLOCK, dtype=np.int64)
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        block = values[start:start + m]  # loop-counter indices: vector loads, not gathers
        for i in range(m):
            v = block[i]
            k = np.int64(0)
            for j in range(16):
                k += np.int64(1) if v > bounds16[j] else np.int64(0)
            idx[i] = k
        for i in range(m):
            sub[i & 3, idx[i]] += 1
    for k in range(min(17, out.shape[0])):
        out[k] += sub[0, k] + sub[1, k] + sub[2, k] + sub[3, k]


@kernel("void(f8[::1], f8[::1], f8[::1])")
def bucket_counts_search(values: np.ndarray, bounds: np.ndarray, out: np.ndarray) -> None:
    """:func:`bucket_counts16` for more than 16 finite bounds (binary search)."""
    nb = bounds.shape[0]
    for i in range(values.shape[0]):
        v = values[i]
        lo = 0
        hi = nb
        while lo < hi:  # first bound >= v
            mid = (lo + hi) >> 1
            if bounds[mid] < v:
                lo = mid + 1
            else:
                hi = mid
        out[lo] += 1.0


@kernel()
def _enter_checked(words: np.ndarray, seq_at: int, state_at: int, expected: int) -> np.int64:
    """Open the slot's seqlock, then check that the series still has the state
    word ``expected`` (ready, same generation).  The full fence orders the odd
    ``seq`` store before the state load, as :func:`remove_series` orders its
    state change before its ``seq`` loads (Dekker): either the writer sees the
    removal, or the remover sees the odd ``seq`` and waits for this write.
    Returns the even ``seq`` the write started from, or -1 (stale: the
    seqlock is closed again and nothing was written)."""
    s = load_relaxed(words, seq_at)
    if s & 1:  # left odd by a writer that died mid-update: this slot is ours now
        s += 1
    store_relaxed(words, seq_at, s + 1)
    fence_seq_cst()
    if load_relaxed(words, state_at) != expected:
        store_release(words, seq_at, s + 2)
        return np.int64(-1)
    return np.int64(s)


@kernel("b1(u8[::1], f8[::1], i8, i8, f8[::1], i8, u8)")
def slot_add(words: np.ndarray, vals: np.ndarray, seq_at: int, row_at: int, delta: np.ndarray,
             state_at: int, expected: int) -> bool:
    """``vals[row_at:row_at + len(delta)] += delta`` inside the slot's seqlock,
    if the series' state word at ``state_at`` is still ``expected``; returns
    False (nothing written) when the series was removed meanwhile."""
    s = _enter_checked(words, seq_at, state_at, expected)
    if s < 0:
        return False
    for j in range(delta.shape[0]):
        vals[row_at + j] += delta[j]
    store_release(words, seq_at, np.uint64(s) + np.uint64(2))
    return True


@kernel("b1(u8[::1], f8[::1], i8, i8, f8[::1], i8, u8)")
def slot_set(words: np.ndarray, vals: np.ndarray, seq_at: int, row_at: int, value: np.ndarray,
             state_at: int, expected: int) -> bool:
    """``vals[row_at:row_at + len(value)] = value``, as :func:`slot_add`."""
    s = _enter_checked(words, seq_at, state_at, expected)
    if s < 0:
        return False
    dst = vals[row_at:row_at + value.shape[0]]
    for j in range(value.shape[0]):
        dst[j] = value[j]
    store_release(words, seq_at, np.uint64(s) + np.uint64(2))
    return True


@kernel("void(u8[::1], f8[::1], i8, i8, f8[::1])")
def slot_fill(words: np.ndarray, vals: np.ndarray, seq_at: int, row_at: int,
              value: np.ndarray) -> None:
    """``vals[row_at:row_at + len(value)] = value`` inside the seqlock, with no
    series check: clearing a whole adopted slot."""
    s = load_relaxed(words, seq_at)
    if s & 1:
        s += 1
    store_relaxed(words, seq_at, s + 1)
    fence_release()
    dst = vals[row_at:row_at + value.shape[0]]
    for j in range(value.shape[0]):
        dst[j] = value[j]
    store_release(words, seq_at, s + 2)


@kernel("b1(u8[::1], f8[::1], i8, u8, u8, u8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8)")
def remove_series(words: np.ndarray, vals: np.ndarray, state_at: int, expected: int, busy: int,
                  dead: int, slots_at: int, slot_words: int, n_slots: int, seq_off: int,
                  data_off: int, owner_off: int, row_off: int, width: int,
                  ex_at: int, ex_count: int) -> bool:
    """Remove one series from every process's slot: move its state word from
    ``expected`` (ready) to ``busy`` (a new generation: writers holding the old
    one now fail, see :func:`slot_add`), zero its row in every slot once that
    slot's writer is outside its seqlock, clear its ``ex_count`` exemplars of
    ``_EX_WORDS`` words at ``ex_at``, then mark the record ``dead`` (free for
    another label set).  Returns False if the state was not ``expected``
    (removed by someone else)."""
    if compare_exchange(words, state_at, expected, busy) != expected:
        return False
    fence_seq_cst()
    for slot in range(n_slots):
        base = slots_at + slot * slot_words
        if load_acquire(words, base + owner_off) == 0:
            continue
        spins = 0
        while (load_acquire(words, base + seq_off) & 1) and spins < _SPINS:
            spins += 1  # a write in flight may be to this row: let it finish
        at = base + data_off + row_off
        for j in range(width):
            vals[at + j] = 0.0
    for e in range(ex_count):
        _exemplar_clear(words, ex_at + e * _EX_WORDS)
    store_release(words, state_at, dead)
    return True


# An exemplar: seq, value, timestamp, payload length, then the payload (JSON).
_EX_WORDS = 64


# Returns float: Numba types ``s`` float64, as ``uint64 + 1`` mixes unsigned
# and signed (callers cast it back when storing; exact below 2**53).
@kernel()
def _exemplar_lock(words: np.ndarray, at: int) -> float:
    """Take an exemplar's write lock (its ``seq`` from even to odd; any process
    may write it).  A ``seq`` odd for ``_SPINS`` tries belongs to a writer that
    died: it is taken over.  Returns the even ``seq`` it started from."""
    spins = 0
    while True:
        s = load_acquire(words, at)
        if s & 1:
            if spins < _SPINS:
                spins += 1
                continue
            s += 1  # taken over from a dead writer
            if compare_exchange(words, at, s - 1, s + 1) == s - 1:
                fence_seq_cst()
                return s
            spins = 0
            continue
        if compare_exchange(words, at, s, s + 1) == s:
            fence_seq_cst()
            return s


@kernel()
def _exemplar_clear(words: np.ndarray, at: int) -> None:
    s = _exemplar_lock(words, at)
    for j in range(1, _EX_WORDS):
        words[at + j] = 0
    store_release(words, at, s + 2)


@kernel("b1(u8[::1], f8[::1], i8, f8, f8, i8, u8[::1], i8, u8)")
def exemplar_write(words: np.ndarray, vals: np.ndarray, at: int, value: float, ts: float,
                   nbytes: int, payload: np.ndarray, state_at: int, expected: int) -> bool:
    """Store an exemplar at ``at`` unless the one there is more recent (another
    process's) or the series' state is no longer ``expected``."""
    s = _exemplar_lock(words, at)
    ok = load_acquire(words, state_at) == expected and not (vals[at + 2] > ts)
    if ok:
        vals[at + 1] = value
        vals[at + 2] = ts
        words[at + 3] = nbytes
        for j in range(payload.shape[0]):
            words[at + 4 + j] = payload[j]
    store_release(words, at, s + 2)
    return ok


@kernel("b1(u8[::1], f8[::1], i8, i8, f8[::1])",
        _t.boolean(_RO_WORDS, _RO_VALS, _I8, _I8, _t.Array(_t.float64, 1, "C")))
def copy_consistent(words: np.ndarray, vals: np.ndarray, seq_at: int, src_at: int,
                    dst: np.ndarray) -> bool:
    """Copy ``vals[src_at:src_at + len(dst)]`` between two equal, even values
    of the ``seq`` word at ``seq_at``; True if it stayed odd (stuck)."""
    return copy_slot(words, vals, seq_at, src_at, dst)


@kernel("void(u8[::1], i8, i8, u8[::1])", _t.void(_RO_WORDS, _I8, _I8, _t.Array(_t.uint64, 1, "C")))
def load_strided(words: np.ndarray, at: int, stride: int, out: np.ndarray) -> None:
    """``out[i] = words[at + i * stride]`` with acquire loads (the state words
    of the label-set records, read before and after a scrape's copy)."""
    for i in range(out.shape[0]):
        out[i] = load_acquire(words, at + i * stride)


@kernel()
def copy_slot(words: np.ndarray, vals: np.ndarray, seq_at: int, src_at: int,
               dst: np.ndarray) -> bool:
    """Copy ``vals[src_at:src_at + len(dst)]`` (a slot's rows) into the 1-D
    ``dst`` between two equal, even values of the slot's ``seq``; after
    ``_SPINS`` failed tries, copy it as it is and return True (stuck: the
    writer is slow or dead).  Flat slices and a plain retry loop: this runs
    once per process slot on every scrape."""
    k = dst.shape[0]
    src = vals[src_at:src_at + k]
    spins = 0
    while True:
        s1 = load_acquire(words, seq_at)
        if (s1 & 1) and spins < _SPINS:
            spins += 1
            continue
        for i in range(k):
            dst[i] = src[i]
        fence_acquire()
        s2 = load_relaxed(words, seq_at)
        if s1 == s2 and not (s1 & 1):
            return False
        if spins >= _SPINS:
            return True
        spins += 1


@kernel("i8(u8[::1], f8[::1], i8, i8, i8, i8, i8, i8, f8[:, :, ::1], i1[::1])", _READ_SLOTS_RO)
def read_slots(words: np.ndarray, vals: np.ndarray, slots_at: int, slot_words: int, n_slots: int,
               seq_off: int, data_off: int, owner_off: int, out: np.ndarray,
               stuck: np.ndarray) -> int:
    """Copy every claimed slot's first ``out.shape[1]`` rows of
    ``out.shape[2]`` values into ``out[slot]``, each copy consistent (see
    :func:`copy_slot`; a stuck slot is flagged in ``stuck``, the caller
    decides).  Unclaimed slots are left zero.  Returns how many were claimed."""
    count = 0
    for slot in range(n_slots):
        base = slots_at + slot * slot_words
        stuck[slot] = 0
        if load_acquire(words, base + owner_off) == 0:
            continue
        count += 1
        row = out[slot]
        stuck[slot] = copy_slot(words, vals, base + seq_off, base + data_off,
                                 row.reshape(row.shape[0] * row.shape[1]))
    return count


@kernel("i8(u8[::1], f8[::1], i8, i8, i8, i8, i8, i8, f8[:, ::1], i1[::1])", _SUM_SLOTS_RO)
def sum_slots(words: np.ndarray, vals: np.ndarray, slots_at: int, slot_words: int, n_slots: int,
              seq_off: int, data_off: int, owner_off: int, out: np.ndarray,
              stuck: np.ndarray) -> int:
    """Like :func:`read_slots`, but adds the slots into ``out`` (rows x values)
    instead of keeping them apart: a scrape of counters and histograms.
    Slots are added in index order, so a sum never decreases between scrapes
    while every slot's values only grow."""
    k = out.shape[0] * out.shape[1]
    tmp = np.empty_like(out)
    flat_tmp = tmp.reshape(k)
    flat_out = out.reshape(k)  # flat loops: no array expression per slot
    count = 0
    for slot in range(n_slots):
        base = slots_at + slot * slot_words
        stuck[slot] = 0
        if load_acquire(words, base + owner_off) == 0:
            continue
        count += 1
        stuck[slot] = copy_slot(words, vals, base + seq_off, base + data_off, flat_tmp)
        for i in range(k):
            flat_out[i] += flat_tmp[i]
    return count


@kernel("u8(u8[::1], i8)", _t.uint64(_RO_WORDS, _I8))
def atomic_load(words: np.ndarray, at: int) -> int:
    """Acquire-load of one word."""
    return load_acquire(words, at)


@kernel("void(u8[::1], i8, u8)")
def atomic_store(words: np.ndarray, at: int, value: int) -> None:
    """Release-store of one word."""
    store_release(words, at, value)


@kernel("u8(u8[::1], i8, u8, u8)")
def atomic_cas(words: np.ndarray, at: int, expected: int, new: int) -> int:
    """Compare-and-swap one word; returns the value seen (== expected on success)."""
    return compare_exchange(words, at, expected, new)


@kernel("u8(u8[::1], i8, u8)")
def atomic_add(words: np.ndarray, at: int, value: int) -> int:
    """Fetch-and-add on one word; returns the value before."""
    return fetch_add(words, at, value)
