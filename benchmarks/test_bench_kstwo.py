"""Finite-n two-sided Kolmogorov SF: fastmlops kstwo_sf vs scipy.stats.kstwo.sf.

Run with ``python -m pytest benchmarks/test_bench_kstwo.py --benchmark-enable``.
One group per (n, d); ``test_fastmlops`` is ours, ``test_scipy`` the reference.
Points where scipy sums O(n) Smirnov terms (or loops n times in Python for
Durbin's matrix) take up to ~2 s per call, so they run a few rounds only.
"""

from __future__ import annotations

import functools
import math
import warnings

import pytest

from fastmlops._kernels.kstwo import kstwo_sf

CASES = [
    # id, n, d, scipy is slow (seconds per call)
    ("n1e6-d0.003-smirnov", 1000000, 0.003, True),
    ("n3e5-d0.0028-smirnov", 300000, 0.0028, True),
    ("n1e5-d0.005-smirnov", 100000, 0.005, True),
    ("n1e5-d0.02-smirnov", 100000, 0.02, True),
    ("n1e5-d0.0005-durbin", 100000, 0.0005, True),
    ("n1e5-d0.003-pelzgood", 100000, 0.003, False),
    ("n2e4-d0.0105-smirnov", 20000, 0.0105, True),
    ("n1e4-d0.002-durbin", 10000, 0.002, False),
    ("n1e7-d0.001-approx", 10000000, 0.001, False),
    ("n500-d0.6-smirnov", 500, 0.6, False),
    ("n140-d0.16-pomeranz", 140, 0.16, False),
    ("n100-d0.08-durbin", 100, 0.08, False),
]
IDS = [c[0] for c in CASES]


def _scipy_sf(d, n):
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.kstwo.sf(d, n))


@functools.lru_cache(maxsize=None)
def _expected(d, n):
    return _scipy_sf(d, n)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fastmlops(benchmark, case):
    name, n, d, _ = case
    benchmark.group = name
    kstwo_sf(d, n)  # compile / load from cache
    p = benchmark(kstwo_sf, d, n)
    assert math.isclose(p, _expected(d, n), rel_tol=1e-10, abs_tol=0.0)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_scipy(benchmark, case):
    name, n, d, slow = case
    benchmark.group = name
    if slow:
        p = benchmark.pedantic(_scipy_sf, args=(d, n), rounds=2, iterations=1, warmup_rounds=0)
    else:
        p = benchmark(_scipy_sf, d, n)
    assert 0.0 <= p <= 1.0
