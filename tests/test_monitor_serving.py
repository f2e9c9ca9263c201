"""DriftMonitor and metrics inside servers: one exit protocol (rows survive
``with multiprocessing.Pool(...)``, whose exit terminates the workers),
forked workers start warm, scrapes read published figures and never
compute, the numpy-row fast path."""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import sys
import threading
import time

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import fastmlops
from fastmlops._core import flush as core_flush
from fastmlops.metrics import Counter
from fastmlops.monitor import DriftMonitor
from fastmlops.monitor import _monitor as monitor_module
from fastmlops.monitor import _published as published

_N = [0]


def _name() -> str:
    _N[0] += 1
    return f"test_serving_{os.getpid()}_{_N[0]}"


class Clock:
    def __init__(self, t: float = 1_000_020.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def ref4() -> fastmlops.DriftReference:
    rng = np.random.default_rng(0)
    return fastmlops.DriftReference(rng.normal(size=(5000, 4)), columns=list("abcd"))


def _samples(reg: CollectorRegistry) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in text_string_to_metric_families(generate_latest(reg).decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


# ------------------------------------------------------------------ exits ----

_POOL: dict[str, object] = {}


def _pool_rows(i: int) -> int:
    mon, counter = _POOL["monitor"], _POOL["counter"]
    rows = np.random.default_rng(i).normal(size=(1000, 4))
    for row in rows.tolist():
        mon.observe(row)  # type: ignore[attr-defined]
        counter.inc()  # type: ignore[attr-defined]
    return i


def test_rows_survive_a_pool_that_terminates_its_workers(ref4):
    """``with Pool(4) as pool: pool.map(...)`` ends with ``terminate()``
    (SIGTERM to every worker right after the last result).  The SIGTERM
    watcher flushes while the worker's main thread goes on to multiprocessing's
    exit flush; that flush must wait for the one in flight (before the
    process-wide flush lock it found the buffer empty and let the process end
    half-way: 13,000 of 40,000 rows arrived)."""
    _POOL["monitor"] = DriftMonitor(ref4, registry=None, name=_name())
    _POOL["counter"] = Counter(_name(), "rows", registry=None)
    ctx = mp.get_context("fork")
    for _ in range(3):
        before = _POOL["monitor"].totals()[0]  # type: ignore[attr-defined]
        with ctx.Pool(4) as pool:
            pool.map(_pool_rows, range(40))
        assert _POOL["monitor"].totals()[0] - before == 40_000  # type: ignore[attr-defined]
    assert _POOL["counter"].value() == 120_000  # type: ignore[attr-defined]


def test_an_exit_flush_waits_for_a_flush_in_flight():
    """The protocol itself: a flush that finds another in flight returns only
    once that one has written everything it took."""

    class Slow:
        def __init__(self) -> None:
            self.buffer = [1, 2, 3]
            self.shared: list[int] = []
            self.entered = threading.Event()

        def _flush(self) -> None:
            taken, self.buffer = self.buffer, []
            if taken:
                self.entered.set()
                time.sleep(0.3)  # rows out of the buffer, not yet written
            self.shared += taken

        def _after_fork_in_child(self) -> None:
            self.buffer = []

        def _warm_up(self) -> None:
            pass

        def _refresh(self) -> None:
            pass

    writer = Slow()
    core_flush.register(writer)
    try:
        first = threading.Thread(target=core_flush.flush)
        first.start()
        assert writer.entered.wait(5)
        core_flush.flush()  # what an exit path calls
        assert writer.shared == [1, 2, 3]  # not returned before the rows were written
        first.join()
    finally:
        core_flush._STATE.writers.discard(writer)


# ------------------------------------------------------------- warm forks ----

def _child_state(q, dispatchers) -> None:
    q.put({"scipy.special": "scipy.special" in sys.modules,
           "loaded": [len(d.overloads) for d in dispatchers],
           "frozen": gc.get_freeze_count()})


def _fork_child(dispatchers, env: dict[str, str] | None = None) -> dict:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        p = ctx.Process(target=_child_state, args=(q, dispatchers))
        p.start()
        state = q.get(timeout=60)
        p.join(30)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return state


def test_a_forked_worker_starts_warm(ref4):
    """A monitor created before the fork has its kernels and the p-value
    functions loaded in the parent, so a forked worker's first flush, figures
    and scrape load nothing; the child's inherited heap is frozen."""
    from fastmlops._kernels.metrics import slot_add, sum_slots
    from fastmlops._kernels.monitor import bin_rows, slot_rows, window_sum

    DriftMonitor(ref4, registry=None, name=_name())
    state = _fork_child([slot_add, sum_slots, bin_rows, slot_rows, window_sum])
    assert state["scipy.special"]
    assert all(n >= 1 for n in state["loaded"]), state
    assert state["frozen"] > 0
    off = _fork_child([], {"FASTMLOPS_GC_FREEZE": "0"})
    assert off["frozen"] == gc.get_freeze_count()


def test_the_parent_is_not_frozen(ref4):
    DriftMonitor(ref4, registry=None, name=_name())
    before = gc.get_freeze_count()
    _fork_child([])
    assert gc.get_freeze_count() == before


# ---------------------------------------------------------------- scrapes ----

def test_a_scrape_reads_and_never_computes(ref4, monkeypatch):
    clock = Clock()
    reg = CollectorRegistry()
    m = DriftMonitor(ref4, registry=reg, name=_name(), window=120, bucket=60, clock=clock)
    rng = np.random.default_rng(1)
    m.observe(rng.normal(size=(2000, 4)))
    expected = m.report()  # computes and publishes

    def no(*args, **kwargs):
        raise AssertionError("a scrape computed the figures")

    monkeypatch.setattr(monitor_module, "judge", no)
    s = _samples(reg)
    assert s[(f"{m.name}_window_rows", ())] == 2000
    for j, col in enumerate("abcd"):
        assert s[(f"{m.name}_psi", (("column", col),))] == expected.psi[j]
        assert s[(f"{m.name}_ks_pvalue", (("column", col),))] == expected.ks_pvalue[j]


def test_the_flusher_publishes_once_per_bucket(ref4):
    """The background flusher recomputes the figures when the time bucket
    changes, and while a window fills up (the rows since the last
    computation at least as many as it covered), not otherwise."""
    clock = Clock()
    reg = CollectorRegistry()
    m = DriftMonitor(ref4, registry=reg, name=_name(), window=120, bucket=60, clock=clock)
    rng = np.random.default_rng(2)
    computed: list[int] = []
    real = m._publish

    def counting():
        rep = real()
        computed.append(0 if rep is None else rep.n_rows)
        return rep

    m._publish = counting  # type: ignore[method-assign]

    def settle() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            n = len(computed)
            time.sleep(4 * core_flush.FLUSH_INTERVAL)
            if len(computed) == n:
                return

    settle()
    m.observe(rng.normal(size=(1000, 4)))
    settle()
    assert _samples(reg)[(f"{m.name}_window_rows", ())] == 1000
    n = len(computed)
    m.observe(rng.normal(size=(100, 4)))  # 10 % more: not stale in this bucket
    settle()
    assert len(computed) == n
    assert _samples(reg)[(f"{m.name}_window_rows", ())] == 1000
    clock.t += 60  # the next bucket: once
    settle()
    assert len(computed) == n + 1
    assert _samples(reg)[(f"{m.name}_window_rows", ())] == 1100
    clock.t += 120  # the window is empty: published as such
    settle()
    s = _samples(reg)
    assert s[(f"{m.name}_window_rows", ())] == 0
    assert not any(k[0] == f"{m.name}_psi" for k in s)
    assert s[(f"{m.name}_rows_total", ())] == 1100


def test_the_newest_publication_wins():
    rows = np.full((4, published.size(2)), np.nan)
    rows[1] = published.encode(5.0, 100.0, None, 10, 2)
    rows[2] = published.encode(6.0, 99.0, None, 20, 2)
    rows[3] = published.encode(6.0, 101.0, None, 30, 2)
    rows[0, :] = 0.0  # claimed, never published
    best = published.newest(rows, 2)
    assert best is not None and (best.tag, best.rows_total) == (6.0, 30)
    assert published.newest(np.zeros((3, published.size(2))), 2) is None


@pytest.mark.parametrize("tag,total,expected", [
    (6.0, 30, False),   # same bucket, no new rows
    (6.0, 59, False),   # fewer new rows than the 29 it covered
    (6.0, 59 + 1, True),  # as many: the window doubled
    (7.0, 30, True),    # the next bucket
    (5.0, 31, False),   # another process is ahead
])
def test_stale(tag, total, expected):
    row = published.encode(6.0, 1.0, None, 30, 1)
    row[3] = 30  # it covered 30 window rows
    pub = published.decode(row, 1)
    assert published.stale(pub, tag, total) is expected
    assert published.stale(None, tag, 0) is True


def test_a_doubled_window_waits_for_the_minimum_age():
    row = published.encode(6.0, 100.0, None, 30, 1)
    row[3] = 30
    pub = published.decode(row, 1)
    assert not published.stale(pub, 6.0, 60, now=105.9, min_age=6.0)
    assert published.stale(pub, 6.0, 60, now=106.0, min_age=6.0)
    assert published.stale(pub, 7.0, 30, now=100.0, min_age=6.0)  # a new bucket: at once
    empty = published.decode(published.encode(6.0, 100.0, None, 0, 1), 1)
    assert published.stale(empty, 6.0, 1, now=100.0, min_age=6.0)  # first rows: at once


# ---------------------------------------------------------------- observe ----

def test_numpy_rows_take_the_fast_path_and_bad_shapes_do_not(ref4):
    m = DriftMonitor(ref4, registry=None, name=_name())
    row = np.arange(4.0)
    m.observe(row)
    assert m._buf[-1] == row.tobytes()
    row[0] = 99.0  # the caller reuses its array: the row was copied
    m.flush()
    assert m.totals() == (1, 0)
    with pytest.raises(ValueError):
        m.observe(np.zeros((4, 1)))  # 4 rows of 1 column: not a row of 4
    with pytest.raises(ValueError):
        m.observe(np.zeros((2, 2)))  # 4 values, 2-D
    with pytest.raises(ValueError):
        m.observe(np.zeros(3))
    with pytest.raises((ValueError, TypeError)):
        m.observe(np.float64(1.0).reshape(()))
    m.observe(np.arange(4, dtype=np.float32))  # other dtypes: converted
    m.observe(np.arange(8.0)[::2])  # not contiguous: tobytes copies the 4 values
    m.flush()
    assert m.totals() == (3, 0)
