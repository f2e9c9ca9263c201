"""A process-wide thread pool for running nogil kernels on several columns.

numpy's sort and our Numba kernels release the GIL, so plain threads give real
parallelism.  Each task writes only its own slice of the output; results are
combined serially by the caller.  The pool is rebuilt in a forked child (the
parent's worker threads do not exist there).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterable, TypeVar

S = TypeVar("S")
T = TypeVar("T")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_cpus: int | None = None


def n_workers() -> int:
    """Number of worker threads: ``FASTMLOPS_NUM_THREADS`` or the usable CPUs."""
    env = os.environ.get("FASTMLOPS_NUM_THREADS")
    if env:
        try:
            value = int(env)
        except ValueError:
            raise ValueError(
                f"FASTMLOPS_NUM_THREADS must be a positive integer, got {env!r}"
            ) from None
        if value < 1:
            raise ValueError(f"FASTMLOPS_NUM_THREADS must be >= 1, got {value}")
        return value
    global _cpus
    if _cpus is None:  # a system call: asked once per process (and again after fork)
        try:
            _cpus = max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - non-Linux
            _cpus = max(1, os.cpu_count() or 1)
    return _cpus


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=n_workers(), thread_name_prefix="fastmlops"
            )
        return _pool


def _reset_after_fork() -> None:
    global _pool, _lock, _cpus
    _pool = None
    _cpus = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


_local = threading.local()


def in_pool_thread() -> bool:
    """True inside a parallel_map task: pool threads, and the calling thread
    while it runs its own share (nested calls then run serially)."""
    return getattr(_local, "busy", False) or threading.current_thread().name.startswith("fastmlops")


def parallel_map(fn: Callable[[S], T], items: Iterable[S]) -> list[T]:
    """``[fn(x) for x in items]``, spread over the pool when there is more than one item.

    The calling thread works too: it runs the first share of the items itself
    while the pool runs the rest, which saves a thread hand-off on the common
    two-item case.  Falls back to a plain loop for a single item, a single
    worker, or when called from one of the pool's own threads (no nested
    submission, so no deadlock).  Exceptions propagate to the caller.
    """
    items = list(items)
    workers = n_workers()
    if len(items) <= 1 or workers == 1 or in_pool_thread():
        return [fn(x) for x in items]
    # Items are handed out round-robin: item i goes to lane i % workers, lane 0
    # being the calling thread.
    lanes = min(workers, len(items))

    def run_lane(lane: int) -> list[T]:
        return [fn(items[i]) for i in range(lane, len(items), lanes)]

    pool = _get_pool()
    futures: dict[int, Future[list[T]]] = {}
    for lane in range(1, lanes):
        try:
            futures[lane] = pool.submit(run_lane, lane)
        except RuntimeError:  # interpreter shutdown (e.g. a flush at exit): no new
            break             # work for the pool; this thread runs the rest
    done: dict[int, list[T]] = {}
    _local.busy = True  # work nested under lane 0 stays on this thread too
    try:
        done[0] = run_lane(0)
        for lane in range(1, lanes):
            if lane not in futures:
                done[lane] = run_lane(lane)
    finally:
        _local.busy = False
        done.update((lane, f.result()) for lane, f in futures.items())
    results: list[Any] = [None] * len(items)  # every slot is filled below
    for lane in range(lanes):
        results[lane::lanes] = done[lane]
    return results


def chunk_bounds(n: int, parts: int, minimum: int = 1) -> list[tuple[int, int]]:
    """Split ``range(n)`` into at most ``parts`` contiguous ``(start, stop)`` pieces
    of at least ``minimum`` elements each (one piece if ``n`` is small)."""
    parts = max(1, min(parts, n // max(1, minimum)))
    step, extra = divmod(n, parts)
    bounds = []
    start = 0
    for i in range(parts):
        stop = start + step + (1 if i < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


#: Columns per block by default: a block's per-column scratch (count tables,
#: bucket ids) stays in cache, and blocks are small enough to share out.
BLOCK = 16


def balanced_blocks(n_items: int, workers: int | None = None,
                    max_block: int = BLOCK) -> list[tuple[int, int]]:
    """Split ``range(n_items)`` into contiguous ``(start, stop)`` blocks of at most
    ``max_block`` items, as equal as possible, their number a multiple of
    ``workers`` (default :func:`n_workers`) whenever there are enough items.

    :func:`parallel_map` hands blocks out round-robin, so equal blocks in a
    multiple of the worker count give every thread the same work: 20 columns
    on 2 threads are 10 + 10, not 16 + 4.
    """
    if n_items < 0 or max_block < 1:
        raise ValueError(f"need n_items >= 0 and max_block >= 1, got {n_items}, {max_block}")
    if n_items == 0:
        return []
    workers = n_workers() if workers is None else max(1, int(workers))
    n_blocks = -(-n_items // max_block)
    n_blocks = min(n_items, -(-n_blocks // workers) * workers)
    return chunk_bounds(n_items, n_blocks)
