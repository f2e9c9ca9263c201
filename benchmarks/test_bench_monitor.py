"""DriftMonitor benchmarks: the request path and batches, against the obvious
alternative (append rows to a list, then ``DriftReference.check`` on it).

Run with::

    python -m pytest benchmarks/test_bench_monitor.py --benchmark-enable \
        --benchmark-json=mon.json -p no:randomly
    python benchmarks/ratios.py mon.json

Goals (issue #16), 20 numeric features, reference of 100,000 rows:

* ``observe(row)`` once per request: at most 150 ns per row.  Two figures:
  ``observe`` alone (the request path: a method call, a length check, an
  append) and ``observe`` + ``flush`` (the CPU the process spends in all,
  the background flush converting and binning the rows);
  reference: ``rows.append(row)`` then ``ref.check(np.array(rows))``.
* a batch (1e6 x 20 float64): at most 5 ns per value; reference:
  ``ref.check(batch)``.

Goals (issue #22): ``observe`` of a float64 numpy row at most 200 ns; a
scrape of the 20-feature monitor at most 2 ms, flat in the number of worker
processes that ever ran (the scrape reads published figures; reference:
``report()``, what a scrape computed before).

A round of the per-row groups is ``N_ROWS`` calls (the Python ``for`` loop
included, for ours and the reference alike).
"""

from __future__ import annotations

import numpy as np
import pytest

import fastmlops
from fastmlops.monitor import DriftMonitor

fastmlops.warmup()

N_ROWS = 20_000
N_BATCH = 1_000_000
M = 20


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    ref = fastmlops.DriftReference(rng.normal(size=(100_000, M)))
    rows = rng.normal(size=(N_ROWS, M)).tolist()
    batch = rng.normal(size=(N_BATCH, M))
    mon = DriftMonitor(ref, registry=None, name="bench_monitor", window=3600, bucket=60)
    mon.observe(batch[:100])  # compile / load the kernels
    mon.flush()
    return ref, mon, rows, batch


def _per_row(benchmark, n):
    benchmark.extra_info["calls_per_round"] = n


@pytest.mark.benchmark(group="monitor-row")
def test_fastmlops_observe(benchmark, setup):
    ref, mon, rows, _ = setup
    obs = mon.observe

    def run():
        for r in rows:
            obs(r)

    benchmark.pedantic(run, setup=mon.flush, rounds=10)
    _per_row(benchmark, N_ROWS)


@pytest.mark.benchmark(group="monitor-row")
def test_fastmlops_observe_numpy_rows(benchmark, setup):
    """The request path for float64 numpy rows: checks, a copy, an append."""
    ref, mon, rows, _ = setup
    obs = mon.observe
    arrays = [np.array(r) for r in rows]

    def run():
        for r in arrays:
            obs(r)

    benchmark.pedantic(run, setup=mon.flush, rounds=10)
    _per_row(benchmark, N_ROWS)


@pytest.mark.benchmark(group="monitor-row")
def test_fastmlops_observe_and_flush(benchmark, setup):
    ref, mon, rows, _ = setup
    obs = mon.observe

    def run():
        for r in rows:
            obs(r)
        mon.flush()

    benchmark.pedantic(run, rounds=10)
    _per_row(benchmark, N_ROWS)


@pytest.mark.benchmark(group="monitor-row")
def test_fastmlops_observe_numpy_rows_and_flush(benchmark, setup):
    """Rows as float64 numpy arrays (kept as bytes: no conversion at the flush)."""
    ref, mon, rows, _ = setup
    obs = mon.observe
    arrays = [np.array(r) for r in rows]

    def run():
        for r in arrays:
            obs(r)
        mon.flush()

    benchmark.pedantic(run, rounds=10)
    _per_row(benchmark, N_ROWS)


@pytest.mark.benchmark(group="monitor-row")
def test_list_append_and_check(benchmark, setup):
    ref, _, rows, _ = setup

    def run():
        buf = []
        for r in rows:
            buf.append(r)
        return ref.check(np.array(buf))

    rep = benchmark.pedantic(run, rounds=5)
    assert rep.n_rows == N_ROWS
    _per_row(benchmark, N_ROWS)


@pytest.mark.benchmark(group="monitor-batch")
def test_fastmlops_observe_batch(benchmark, setup):
    _, mon, _, batch = setup
    benchmark.pedantic(mon.observe, args=(batch,), rounds=5)
    benchmark.extra_info["values_per_round"] = batch.size


@pytest.mark.benchmark(group="monitor-batch")
def test_check_batch(benchmark, setup):
    ref, _, _, batch = setup
    rep = benchmark.pedantic(ref.check, args=(batch,), rounds=3)
    assert rep.n_rows == N_BATCH
    benchmark.extra_info["values_per_round"] = batch.size


@pytest.mark.benchmark(group="monitor-report")
def test_fastmlops_report(benchmark, setup):
    _, mon, _, _ = setup
    rep = benchmark.pedantic(mon.report, rounds=5)
    assert rep.n_rows > 0


def _scrape_setup(setup, workers: int):
    """A registry with the monitor, after ``workers`` forked processes have
    each observed rows, published figures and exited (so ``workers`` slots
    were claimed; beyond 64, dead ones are adopted)."""
    import multiprocessing as mp

    from prometheus_client import CollectorRegistry

    ref, _, rows, _ = setup
    reg = CollectorRegistry()
    mon = DriftMonitor(ref, registry=reg, name=f"bench_scrape_{workers}", window=600,
                       bucket=60)
    ctx = mp.get_context("fork")
    for i in range(workers):
        p = ctx.Process(target=_worker, args=(mon, rows[i % 100 * 10:][:10]))
        p.start()
        p.join()
    mon.observe(np.array(rows[:1000]))
    mon.report()  # published
    return reg, mon


def _worker(mon, rows):
    for r in rows:
        mon.observe(r)
    mon.report()  # each worker publishes into its own slot too


@pytest.mark.benchmark(group="monitor-scrape")
@pytest.mark.parametrize("workers", [0, 100])
def test_fastmlops_scrape(benchmark, setup, workers):
    from prometheus_client import generate_latest

    reg, mon = _scrape_setup(setup, workers)
    text = benchmark.pedantic(generate_latest, args=(reg,), rounds=50, warmup_rounds=2)
    assert b"_psi{" in text
    benchmark.extra_info["workers_that_ran"] = workers


@pytest.mark.benchmark(group="monitor-scrape")
def test_report_per_scrape(benchmark, setup):
    """What a scrape computed before issue #22 (the window's report)."""
    _, mon = _scrape_setup(setup, 0)
    benchmark.pedantic(mon.report, rounds=20)
