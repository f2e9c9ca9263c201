"""p-value half of the two-sample KS test: fastmlops vs scipy.

Run with ``python -m pytest benchmarks/test_bench_ks_pvalue.py --benchmark-enable``.
scipy's side is ``scipy.stats._stats_py._attempt_exact_2kssamp`` (what
``ks_2samp`` calls once the statistic is known); ours is
``fastmlops.drift._ks_pvalue.ks_pvalue``, which includes the dispatch.  Statistics
are realistic values for samples with a small location shift.
"""

from __future__ import annotations

import math
import warnings

import pytest

from fastmlops.drift._ks_pvalue import ks_pvalue

CASES = [
    # id, n1, n2, d, alternative
    ("two-sided-equal-1e4", 10000, 10000, 0.0213, "two-sided"),  # outside square
    ("two-sided-1e4-vs-9000", 10000, 9000, 0.0213, "two-sided"),  # inside method
    ("two-sided-1e4-vs-9999", 10000, 9999, 0.0213, "two-sided"),  # coprime
    ("one-sided-equal-1e4", 10000, 10000, 0.0213, "greater"),  # product
    ("one-sided-400-vs-300", 400, 300, 0.08, "greater"),  # count paths
]
IDS = [c[0] for c in CASES]


def _scipy_pvalue(n1, n2, d, alternative):
    from scipy.stats._stats_py import _attempt_exact_2kssamp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _attempt_exact_2kssamp(n1, n2, math.gcd(n1, n2), d, alternative)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fastmlops(benchmark, case):
    _, n1, n2, d, alternative = case
    benchmark.group = case[0]
    expected = _scipy_pvalue(n1, n2, d, alternative)
    ks_pvalue(d, n1, n2, alternative, "exact")  # compile / load from cache
    stat, p = benchmark(ks_pvalue, d, n1, n2, alternative, "exact")
    assert expected[0]
    assert stat == expected[1]
    assert math.isclose(p, expected[2], rel_tol=1e-10, abs_tol=0.0)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_scipy(benchmark, case):
    _, n1, n2, d, alternative = case
    benchmark.group = case[0]
    ok, _, _ = benchmark(_scipy_pvalue, n1, n2, d, alternative)
    assert ok
