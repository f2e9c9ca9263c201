"""The gate's paired tests: fastmlops.gate against the references, same run.

Run with ``python -m pytest benchmarks/test_bench_gate.py --benchmark-enable``.

Promises measured:

* DeLong's test of two AUCs on 1e6 rows in under 0.5 s (one radix sort per
  model, on two threads); reference: ``fastmlops._kernels.ranks.placements``
  for both models (DeLong's components from Numba's argsort), and
  ``np.argsort`` of both columns (the floor of any argsort-based method).
* 1,000 paired bootstrap resamples of ROC AUC on 1e5 rows in under 2 s;
  reference: ``scipy.stats.bootstrap(paired=True, method="percentile")`` with
  scikit-learn's ``roc_auc_score`` on 100 resamples (scaled: it is linear in
  the resamples), and BCa of ours (adds an O(n) jackknife).

Data: 30 % positives, the baseline's scores normal shifted by the label, the
candidate's correlated with them.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import bootstrap
from sklearn.metrics import roc_auc_score

from fastmlops.gate import delong, paired_bootstrap


def _data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    a = rng.normal(size=n) + y
    b = 0.6 * a + 0.8 * rng.normal(size=n) + 0.3 * y
    return y, a, b


@pytest.fixture(scope="module")
def million():
    return _data(10**6)


@pytest.fixture(scope="module")
def hundred_k():
    return _data(10**5, 1)


def test_delong_1e6(benchmark, million):
    benchmark.group = "delong-1e6"
    y, a, b = million
    expected = delong(y, a, b)  # compile / load from cache
    got = benchmark.pedantic(delong, (y, a, b), rounds=5, iterations=1, warmup_rounds=1)
    assert got.statistic == expected.statistic


def test_quality_placements_both_models_1e6(benchmark, million):
    from fastmlops._kernels.ranks import placements

    benchmark.group = "delong-1e6"
    y, a, b = million
    y8 = y.astype(np.uint8)
    placements(a, y8)

    def both():
        return placements(a, y8), placements(b, y8)

    benchmark.pedantic(both, rounds=3, iterations=1)


def test_np_argsort_both_models_1e6(benchmark, million):
    benchmark.group = "delong-1e6"
    _, a, b = million
    benchmark.pedantic(lambda: (np.argsort(a), np.argsort(b)), rounds=3, iterations=1)


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_paired_bootstrap_auc_1000x1e5(benchmark, hundred_k, method):
    benchmark.group = "bootstrap-auc-1e5"
    y, a, b = hundred_k
    paired_bootstrap(y, a, b, n_resamples=64, method=method)  # compile / load from cache
    got = benchmark.pedantic(paired_bootstrap, (y, a, b),
                             {"n_resamples": 1000, "method": method}, rounds=3, iterations=1)
    assert got.distribution.shape == (1000, 2)


def test_scipy_bootstrap_auc_100x1e5(benchmark, hundred_k):
    benchmark.group = "bootstrap-auc-1e5"
    y, a, b = hundred_k

    def stat(y, a, b):
        return roc_auc_score(y, b) - roc_auc_score(y, a)

    def run():
        return bootstrap((y, a, b), stat, paired=True, vectorized=False, n_resamples=100,
                         method="percentile", random_state=np.random.default_rng(0))

    benchmark.pedantic(run, rounds=1, iterations=1)


def test_paired_bootstrap_log_loss_1000x1e5(benchmark, hundred_k):
    benchmark.group = "bootstrap-log-loss-1e5"
    y, a, b = hundred_k
    pa, pb = 1 / (1 + np.exp(-a)), 1 / (1 + np.exp(-b))
    paired_bootstrap(y, pa, pb, "log_loss", n_resamples=64)
    benchmark.pedantic(paired_bootstrap, (y, pa, pb, "log_loss"), {"n_resamples": 1000},
                       rounds=3, iterations=1)
