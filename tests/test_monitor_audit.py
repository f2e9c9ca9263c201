"""Issue #23's DriftMonitor defects, each with the input that broke it: one
bad row dropped every buffered row; rows and batches of the same values were
treated differently; a set, a generator or None as a row said "got shape ()";
a forked child that ends with ``os._exit`` lost rows."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time

import numpy as np
import pytest

import fastmlops
from fastmlops._core import flush as core_flush
from fastmlops.monitor import DriftMonitor

_N = [0]


def _name() -> str:
    _N[0] += 1
    return f"test_monitor_audit_{os.getpid()}_{_N[0]}"


@pytest.fixture(scope="module")
def ref3() -> fastmlops.DriftReference:
    rng = np.random.default_rng(0)
    return fastmlops.DriftReference(rng.normal(size=(1000, 3)), columns=list("abc"))


@pytest.fixture(scope="module")
def mixed() -> fastmlops.DriftReference:
    rng = np.random.default_rng(1)
    return fastmlops.DriftReference({"x": rng.normal(size=500),
                                     "plan": rng.choice(["free", "pro"], 500)})


@pytest.mark.parametrize("bad", [
    [np.timedelta64(3, "s"), 1.0, 2.0],          # timedelta64 is an np.integer: float() refuses it
    [np.datetime64("2020-01-01"), 1.0, 2.0],
    [1.0, object(), 2.0],
    {"a": 1.0, "b": 2.0, "z": 3.0},              # a missing column
])
def test_one_bad_row_is_dropped_alone(ref3, bad, caplog):
    m = DriftMonitor(ref3, registry=None, name=_name())
    rows = np.random.default_rng(2).normal(size=(1000, 3)).tolist()
    for r in rows[:500]:
        m.observe(r)
    m.observe(bad)
    for r in rows[500:]:
        m.observe(r)
    with caplog.at_level(logging.WARNING, logger="fastmlops.monitor"):
        m.flush()
    assert m.totals() == (1000, 1)
    assert m.rejected_rows == 1
    assert any("dropped 1 row" in r.getMessage() for r in caplog.records)


def test_a_row_that_breaks_the_counting_is_dropped_alone(ref3, monkeypatch):
    """Whatever the checks miss: counting falls back to one row at a time."""
    m = DriftMonitor(ref3, registry=None, name=_name())
    layout = m._layout
    real = layout.count_rows

    def fragile(rows, out):
        if any(isinstance(r, list) and r and r[0] == 123.0 for r in rows):
            raise RuntimeError("a row nobody foresaw")
        return real(rows, out)

    monkeypatch.setattr(layout, "count_rows", fragile)
    for r in np.random.default_rng(3).normal(size=(200, 3)).tolist():
        m.observe(r)
    m.observe([123.0, 0.0, 0.0])
    m.flush()
    assert m.totals() == (200, 1)


def test_a_numpy_row_follows_the_batch_rules(ref3):
    """A 1-D array is counted like a batch of one row of the same values:
    long double refused in both, dates and times converted in both."""
    m = DriftMonitor(ref3, registry=None, name=_name())
    for dtype in (np.longdouble,):
        with pytest.raises(TypeError, match="long double"):
            m.observe(np.array([[1, 2, 3]], dtype=dtype))
        with pytest.raises(TypeError, match="long double"):
            m.observe(np.array([1, 2, 3], dtype=dtype))
    for dtype in ("datetime64[s]", "timedelta64[s]"):
        batch_ok = row_ok = True
        try:
            m.observe(np.array([[1, 2, 3]], dtype=dtype))
        except (TypeError, ValueError):
            batch_ok = False
        try:
            m.observe(np.array([1, 2, 3], dtype=dtype))
        except (TypeError, ValueError):
            row_ok = False
        assert row_ok == batch_ok, dtype
    m.flush()
    counted, rejected = m.totals()
    assert rejected == 0
    assert counted in (0, 4)  # both dtypes accepted twice each, or neither


@pytest.mark.parametrize("row,word", [({1.0, 2.0, 3.0}, "set"), (iter([1.0, 2.0, 3.0]),
                                                                  "list_iterator"),
                                      (None, "NoneType"), (7.0, "float"), ("abc", "str")])
def test_a_row_that_is_no_row_says_what_is_expected(ref3, row, word):
    m = DriftMonitor(ref3, registry=None, name=_name())
    with pytest.raises(TypeError, match=f"got {word}") as info:
        m.observe(row)
    assert "shape ()" not in str(info.value)
    assert "a list" in str(info.value)


def test_mixed_layouts_take_numeric_arrays_as_rows(mixed):
    m = DriftMonitor(mixed, registry=None, name=_name())
    m.observe(np.array([1.5, "pro"], dtype=object))
    m.observe(np.array([1.5, 2.0]))  # numbers in a string column: rejected at the flush
    m.flush()
    assert m.totals() == (1, 1)


# ------------------------------------------------------- os._exit in a child

def _burst_then_exit(mon: DriftMonitor, rows: list, wait: float) -> None:
    for r in rows:
        mon.observe(r)
    time.sleep(wait)
    os._exit(0)  # no exit hook runs: only what the background flusher moved counts


def test_a_child_that_exits_with_os_exit_after_a_flush_interval_loses_nothing(ref3):
    """The documented bound for an end without exit hooks (``os._exit``,
    SIGKILL): rows observed more than one flush interval plus the flush's own
    time before the end are in shared memory.  The flush of 40,000 list rows
    takes 30-100 ms here (1-2.5 us a row), so 0.35 s leaves room on a busy
    machine."""
    mon = DriftMonitor(ref3, registry=None, name=_name())
    rows = np.random.default_rng(4).normal(size=(40_000, 3)).tolist()
    ctx = mp.get_context("fork")
    p = ctx.Process(target=_burst_then_exit, args=(mon, rows, 3 * core_flush.FLUSH_INTERVAL
                                                   + 0.05))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    assert mon.totals() == (40_000, 0)
