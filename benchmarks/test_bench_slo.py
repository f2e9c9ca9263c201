"""SLO burn-rate benchmarks: fastmlops vs a straightforward numpy reference.

Run with ``python -m pytest benchmarks/test_bench_slo.py --benchmark-enable``.
In each group ``test_fastmlops_*`` is ours and ``test_numpy_*`` the
reference (rolling sums by ``np.convolve``, the obvious numpy code); results
are checked against each other before timing.  Goal: all seven windows of the
default rules (5m .. 3d) over 30 days of per-minute counts (43,200 points) in
at most 1 ms.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastmlops
from fastmlops.slo import SLOMonitor, burn_rates, latest_burn_rates

fastmlops.warmup()

N = 43_200  # 30 days of minutes
WINDOWS = (5, 30, 60, 120, 360, 1440, 4320)
OBJECTIVE = 0.999


@pytest.fixture(scope="module")
def month():
    rng = np.random.default_rng(7)
    total = rng.poisson(1000, size=N)
    total[rng.random(N) < 0.01] = 0
    good = total - rng.binomial(total, np.where(rng.random(N) < 0.02, 0.05, 0.0005))
    return good, total


def _numpy_reference(good, total):
    """Rolling window sums with np.convolve, then bad / total / budget."""
    bad = total - good
    budget = 1 - OBJECTIVE
    out = np.empty((len(WINDOWS), good.size))
    for k, w in enumerate(WINDOWS):
        kernel = np.ones(w, dtype=np.int64)
        t = np.convolve(total, kernel)[:good.size]
        b = np.convolve(bad, kernel)[:good.size]
        out[k] = np.divide(b, t, out=np.zeros(good.size), where=t > 0) / budget
    return out


def _cumsum_reference(good, total):
    """The same with numpy prefix sums (the better plain-numpy version)."""
    n = good.size
    cb = np.concatenate(([0], np.cumsum(total - good)))
    ct = np.concatenate(([0], np.cumsum(total)))
    idx = np.arange(1, n + 1)
    out = np.empty((len(WINDOWS), n))
    for k, w in enumerate(WINDOWS):
        start = np.maximum(idx - w, 0)
        t = ct[idx] - ct[start]
        out[k] = (cb[idx] - cb[start]) / np.maximum(t, 1) / (1 - OBJECTIVE)
    return out


# --------------------------------------------------------------- every minute, 30 days
def test_fastmlops_burn_rates_30_days(benchmark, month):
    benchmark.group = "burn rates, 7 windows x 43,200 minutes"
    good, total = month
    res = benchmark(burn_rates, good, total, OBJECTIVE)
    np.testing.assert_allclose(res.rates, _numpy_reference(good, total), rtol=1e-12, atol=0)


def test_numpy_convolve_burn_rates_30_days(benchmark, month):
    benchmark.group = "burn rates, 7 windows x 43,200 minutes"
    good, total = month
    benchmark.pedantic(_numpy_reference, (good, total), rounds=3, iterations=1)


def test_numpy_cumsum_burn_rates_30_days(benchmark, month):
    benchmark.group = "burn rates, 7 windows x 43,200 minutes"
    good, total = month
    res = benchmark(_cumsum_reference, good, total)
    np.testing.assert_allclose(res, _numpy_reference(good, total), rtol=1e-12, atol=0)


# --------------------------------------------------------------- latest minute only
def _numpy_latest(good, total):
    return {w: (int(total[-w:].sum()) - int(good[-w:].sum())) / max(int(total[-w:].sum()), 1)
            / (1 - OBJECTIVE) for w in WINDOWS}


def test_fastmlops_latest_burn_rates(benchmark, month):
    benchmark.group = "burn rates at the latest minute, 7 windows"
    good, total = month
    res = benchmark(latest_burn_rates, good, total, OBJECTIVE)
    ref = _numpy_latest(good, total)
    for w in WINDOWS:
        assert res[__import__("datetime").timedelta(minutes=w)] == pytest.approx(ref[w], rel=1e-12)


def test_numpy_latest_burn_rates(benchmark, month):
    benchmark.group = "burn rates at the latest minute, 7 windows"
    good, total = month
    benchmark(_numpy_latest, good, total)


# --------------------------------------------------------------- monitor
def test_fastmlops_monitor_record(benchmark):
    benchmark.group = "SLOMonitor.record, one request"
    mon = SLOMonitor(clock=lambda: 1_700_000_000.0)
    benchmark(mon.record, 42.0, True)


def test_fastmlops_monitor_evaluate(benchmark):
    benchmark.group = "SLOMonitor.evaluate, 1000 latencies, 7 windows"
    mon = SLOMonitor(clock=lambda: 1_700_000_000.0)
    for i in range(1000):
        mon.record(float(i % 200), i % 100 != 0)
    status = benchmark(mon.evaluate)
    assert status.total == 1000
