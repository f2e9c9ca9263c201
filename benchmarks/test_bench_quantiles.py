"""Streaming-quantile benchmarks: fastmlops vs numpy / plain-Python references.

Run with ``python -m pytest benchmarks/test_bench_quantiles.py --benchmark-enable``.
In each group ``test_fastmlops_*`` is ours and the others are references;
results are checked against each other before timing.  Goals:

* p99 of a full 1024-value :class:`~fastmlops.quantiles.SlidingWindow` in at
  most 5 us per query from Python (``np.percentile``: about 90 us);
* :meth:`Reservoir.extend <fastmlops.quantiles.Reservoir.extend>` of 1e7
  values in at most 2 ns per value (20 ms);
* :func:`~fastmlops.quantiles.histogram_quantile` against a numpy version of
  the same PromQL rules.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastmlops
from fastmlops.quantiles import Reservoir, SlidingWindow, histogram_quantile

fastmlops.warmup()


# --------------------------------------------------------------- sliding window p99
@pytest.fixture(scope="module")
def window():
    rng = np.random.default_rng(1)
    w = SlidingWindow(1024)
    w.extend(rng.lognormal(-3, 0.5, size=5000))  # latencies in seconds, ring wrapped
    return w


def test_fastmlops_window_p99(benchmark, window):
    benchmark.group = "p99 of a 1024-value window"
    res = benchmark(lambda: window.p99)
    assert res == np.percentile(window.values(), 99)


def test_fastmlops_window_p50_p95_p99(benchmark, window):
    benchmark.group = "p50, p95, p99 of a 1024-value window"
    res = benchmark(window.quantiles, [0.5, 0.95, 0.99])
    assert (res == np.percentile(window.values(), [50, 95, 99])).all()


def test_numpy_percentile_p99(benchmark, window):
    benchmark.group = "p99 of a 1024-value window"
    values = window.values()
    benchmark(np.percentile, values, 99)


def test_numpy_percentile_p50_p95_p99(benchmark, window):
    benchmark.group = "p50, p95, p99 of a 1024-value window"
    values = window.values()
    benchmark(np.percentile, values, [50, 95, 99])


def test_fastmlops_window_p99_sorted_input(benchmark):
    """Worst case of the heap pass: increasing values (every one enters the heap)."""
    benchmark.group = "p99 of a 1024-value window, increasing values"
    w = SlidingWindow(1024)
    w.extend(np.arange(1024.0))
    res = benchmark(lambda: w.p99)
    assert res == np.percentile(np.arange(1024.0), 99)


# --------------------------------------------------------------- reservoir extend
N_STREAM = 10_000_000
K = 1000


@pytest.fixture(scope="module")
def stream():
    return np.random.default_rng(2).lognormal(size=N_STREAM)


def _numpy_algorithm_r(values, k, seed):
    """Algorithm R vectorised with numpy: one random index per value, then the
    few accepted replacements applied in order in a Python loop."""
    rng = np.random.default_rng(seed)
    sample = values[:k].copy()
    idx = np.arange(k, values.size)
    j = (rng.random(idx.size) * (idx + 1)).astype(np.int64)
    for pos in np.flatnonzero(j < k):
        sample[j[pos]] = values[k + pos]
    return sample


def test_fastmlops_reservoir_extend_1e7(benchmark, stream):
    benchmark.group = "reservoir of 1000 from 1e7 values"

    def run():
        r = Reservoir(K, seed=3)
        r.extend(stream)
        return r

    r = benchmark(run)
    assert r.count == N_STREAM and len(r) == K
    ns_per_value = benchmark.stats.stats.mean / N_STREAM * 1e9
    benchmark.extra_info["ns_per_value"] = round(ns_per_value, 3)


def test_numpy_algorithm_r_1e7(benchmark, stream):
    benchmark.group = "reservoir of 1000 from 1e7 values"
    sample = benchmark.pedantic(_numpy_algorithm_r, (stream, K, 3), rounds=3, iterations=1)
    assert sample.size == K
    benchmark.extra_info["ns_per_value"] = round(
        benchmark.stats.stats.mean / N_STREAM * 1e9, 3)


def test_python_reservoir_add_1e5(benchmark, stream):
    """Reservoir.add one value at a time from Python (per-value cost of add())."""
    benchmark.group = "reservoir add(), 1e5 values one by one"
    chunk = stream[:100_000].tolist()

    def run():
        r = Reservoir(K, seed=3)
        add = r.add
        for x in chunk:
            add(x)
        return r

    r = benchmark.pedantic(run, rounds=3, iterations=1)
    assert r.count == 100_000


# --------------------------------------------------------------- histogram_quantile
LE = np.array([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, np.inf])
QS = [0.5, 0.9, 0.99]


@pytest.fixture(scope="module")
def bucket_rows():
    rng = np.random.default_rng(4)
    per_bucket = rng.poisson(50, size=(1000, LE.size)).astype(float)
    return np.cumsum(per_bucket, axis=1)


def _numpy_histogram_quantile(qs, le, cum):
    """The PromQL rules vectorised over rows with numpy (monotonic input assumed)."""
    cum = np.maximum.accumulate(cum, axis=1)
    obs = cum[:, -1]
    out = np.empty((len(qs), cum.shape[0]))
    nb = le.size
    for i, q in enumerate(qs):
        rank = q * obs
        b = (cum[:, :-1] < rank[:, None]).sum(axis=1)  # first bucket with count >= rank
        inf_bucket = b == nb - 1
        bb = np.minimum(b, nb - 2)
        prev_cum = np.where(bb > 0, cum[np.arange(cum.shape[0]), np.maximum(bb - 1, 0)], 0.0)
        start = np.where(bb > 0, le[np.maximum(bb - 1, 0)], 0.0)
        end = le[bb]
        count = cum[np.arange(cum.shape[0]), bb] - prev_cum
        with np.errstate(invalid="ignore", divide="ignore"):
            res = start + (end - start) * ((rank - prev_cum) / count)
        res = np.where(inf_bucket, le[nb - 2], res)
        res = np.where((bb == 0) & (le[0] <= 0) & ~inf_bucket, le[0], res)
        out[i] = np.where(obs == 0, np.nan, res)
    return out


def test_fastmlops_histogram_quantile_1000_series(benchmark, bucket_rows):
    benchmark.group = "histogram_quantile, 3 quantiles x 1000 series x 12 buckets"
    res = benchmark(histogram_quantile, QS, LE, bucket_rows)
    np.testing.assert_allclose(res, _numpy_histogram_quantile(QS, LE, bucket_rows), rtol=1e-15)


def test_numpy_histogram_quantile_1000_series(benchmark, bucket_rows):
    benchmark.group = "histogram_quantile, 3 quantiles x 1000 series x 12 buckets"
    benchmark(_numpy_histogram_quantile, QS, LE, bucket_rows)


def test_fastmlops_histogram_quantile_one_series(benchmark, bucket_rows):
    benchmark.group = "histogram_quantile, one q, one series"
    row = bucket_rows[0]
    res = benchmark(histogram_quantile, 0.99, LE, row)
    assert math.isclose(res, _numpy_histogram_quantile([0.99], LE, row[None, :])[0, 0],
                        rel_tol=1e-15)


def test_numpy_histogram_quantile_one_series(benchmark, bucket_rows):
    benchmark.group = "histogram_quantile, one q, one series"
    row = bucket_rows[0][None, :]
    benchmark(_numpy_histogram_quantile, [0.99], LE, row)
