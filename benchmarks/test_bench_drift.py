"""KS and drift-report benchmarks: fastmlops vs scipy in the same run.

Run with ``python -m pytest benchmarks/test_bench_drift.py --benchmark-enable``
(add ``--benchmark-json=out.json`` and ``python benchmarks/ratios.py out.json``
for the ratio table).  In each group the test named ``test_fastmlops_*`` is
ours and ``test_scipy_*`` the reference; results are checked for equality
before timing.  The 1e6 x 1,000 drift report needs ~13 GB of memory and is
only run with ``--run-huge``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fastmlops
from tests.references import ks_2samp_reference

fastmlops.warmup()


def _scipy(a, b, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ks_2samp_reference(a, b, **kw)


def _check(res, ref):
    assert np.array_equal(np.asarray(res.statistic), np.asarray(ref.statistic))
    np.testing.assert_allclose(res.pvalue, ref.pvalue, rtol=1e-10, atol=0)


@pytest.fixture(scope="module")
def normal_1e6():
    rng = np.random.default_rng(1)
    return rng.normal(size=1_000_000), rng.normal(size=1_000_000)


@pytest.fixture(scope="module")
def normal_1e4():
    rng = np.random.default_rng(2)
    return rng.normal(size=10_000), rng.normal(0.02, 1, size=10_000)


@pytest.fixture(scope="module")
def columns_1e5():
    rng = np.random.default_rng(3)
    return rng.normal(size=(100_000, 100)), rng.normal(size=(100_000, 100))


# --------------------------------------------------------------- n = m = 1e6
def test_fastmlops_ks_1e6(benchmark, normal_1e6):
    benchmark.group = "ks n=m=1e6"
    a, b = normal_1e6
    res = benchmark(fastmlops.ks_2samp, a, b)
    _check(res, _scipy(a, b))


def test_scipy_ks_1e6(benchmark, normal_1e6):
    benchmark.group = "ks n=m=1e6"
    a, b = normal_1e6
    benchmark.pedantic(_scipy, (a, b), rounds=5, iterations=1)


# A small real shift (D ~ 0.005, p ~ 1e-11): scipy's p-value then goes through
# its O(n) Smirnov sum, the "about 1 s, most of it in the p-value" case.
@pytest.fixture(scope="module")
def shifted_1e6():
    rng = np.random.default_rng(5)
    return rng.normal(size=1_000_000), rng.normal(0.005, 1, size=1_000_000)


def test_fastmlops_ks_1e6_shifted(benchmark, shifted_1e6):
    benchmark.group = "ks n=m=1e6, shift 0.005 sd"
    a, b = shifted_1e6
    res = benchmark(fastmlops.ks_2samp, a, b)
    _check(res, _scipy(a, b))


def test_scipy_ks_1e6_shifted(benchmark, shifted_1e6):
    benchmark.group = "ks n=m=1e6, shift 0.005 sd"
    a, b = shifted_1e6
    benchmark.pedantic(_scipy, (a, b), rounds=3, iterations=1)


# --------------------------------------------------------------- stored reference
def test_fastmlops_ks_reference_1e6(benchmark, normal_1e6):
    benchmark.group = "ks vs stored reference n=1e6"
    a, b = normal_1e6
    ref = fastmlops.DriftReference(a)
    res = benchmark(ref.ks, b)
    expected = _scipy(a, b)
    assert res.statistic[0] == expected.statistic
    np.testing.assert_allclose(res.pvalue[0], expected.pvalue, rtol=1e-10)


def test_scipy_ks_reference_1e6(benchmark, normal_1e6):
    benchmark.group = "ks vs stored reference n=1e6"
    a, b = normal_1e6
    benchmark.pedantic(_scipy, (a, b), rounds=5, iterations=1)


# --------------------------------------------------------------- exact p-value
def test_fastmlops_ks_1e4_exact(benchmark, normal_1e4):
    benchmark.group = "ks n=m=1e4 (exact p)"
    a, b = normal_1e4
    res = benchmark(fastmlops.ks_2samp, a, b)
    _check(res, _scipy(a, b))


def test_scipy_ks_1e4_exact(benchmark, normal_1e4):
    benchmark.group = "ks n=m=1e4 (exact p)"
    a, b = normal_1e4
    benchmark.pedantic(_scipy, (a, b), rounds=10, iterations=1)


# --------------------------------------------------------------- 100 columns
def test_fastmlops_ks_100_columns_1e5(benchmark, columns_1e5):
    benchmark.group = "ks 100 columns x 1e5 rows"
    a, b = columns_1e5
    res = benchmark(fastmlops.ks_2samp, a, b)
    for j in (0, 57, 99):
        _check(fastmlops.ks_2samp(a[:, j], b[:, j]), _scipy(a[:, j], b[:, j]))
    assert res.statistic.shape == (100,)


def _scipy_loop(a, b):
    return [_scipy(a[:, j], b[:, j]) for j in range(a.shape[1])]


def test_scipy_ks_100_columns_1e5(benchmark, columns_1e5):
    benchmark.group = "ks 100 columns x 1e5 rows"
    a, b = columns_1e5
    benchmark.pedantic(_scipy_loop, (a, b), rounds=2, iterations=1)


# --------------------------------------------------------------- drift report
@pytest.fixture(scope="module")
def huge_tables(request):
    if not request.config.getoption("--run-huge"):
        pytest.skip("needs --run-huge (about 13 GB of memory)")
    rng = np.random.default_rng(4)
    ref = rng.standard_normal((1_000_000, 1000), dtype=np.float32)
    cur = rng.standard_normal((1_000_000, 1000), dtype=np.float32)
    cur[:, ::10] += np.float32(0.01)
    return ref, cur


def _report(ref, cur):
    return fastmlops.DriftReference(ref).check(cur)


def test_fastmlops_drift_report_1e6_x_1000(benchmark, huge_tables):
    benchmark.group = "drift report 1e6 rows x 1000 float32 columns (build + check)"
    ref, cur = huge_tables
    report = benchmark.pedantic(_report, (ref, cur), rounds=1, iterations=1)
    assert len(report.columns) == 1000
    for j in (0, 10, 999):
        r = _scipy(ref[:, j], cur[:, j])
        assert report.ks_statistic[j] == r.statistic


# --------------------------------------------------------------- row-major tables
# Issue #12 item 4: a row-major (rows x features) table, as most users hold
# features, against the same data as contiguous columns.  Goal: within 1.2x.
@pytest.fixture(scope="module")
def table_1e6_x_20():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(1_000_000, 20)), rng.normal(size=(1_000_000, 20))
    return a, b, np.asfortranarray(a), np.asfortranarray(b)


def test_fastmlops_ks_row_major_1e6_x_20(benchmark, table_1e6_x_20):
    benchmark.group = "ks 1e6 x 20 float64, row-major vs columns"
    a, b, af, bf = table_1e6_x_20
    res = benchmark(fastmlops.ks_2samp, a, b)
    cols = fastmlops.ks_2samp(af, bf)
    assert np.array_equal(res.statistic, cols.statistic)
    for j in (0, 19):
        _check(fastmlops.ks_2samp(a[:, j], b[:, j]), _scipy(a[:, j], b[:, j]))


def test_columns_ks_1e6_x_20(benchmark, table_1e6_x_20):
    """The reference of this group: the same call on contiguous columns."""
    benchmark.group = "ks 1e6 x 20 float64, row-major vs columns"
    _, _, af, bf = table_1e6_x_20
    benchmark(fastmlops.ks_2samp, af, bf)


def test_scipy_ks_row_major_1e6_x_20(benchmark, table_1e6_x_20):
    benchmark.group = "ks 1e6 x 20 float64, row-major vs columns"
    a, b, _, _ = table_1e6_x_20
    benchmark.pedantic(_scipy_loop, (a, b), rounds=1, iterations=1)


@pytest.fixture(scope="module")
def reference_1e6_x_20(table_1e6_x_20):
    a = table_1e6_x_20[0]
    return fastmlops.DriftReference(a)


def test_fastmlops_check_row_major_1e6_x_20(benchmark, table_1e6_x_20, reference_1e6_x_20):
    """``DriftReference.check`` of a row-major table: rows read in place."""
    benchmark.group = "check 1e6 x 20 float64, row-major vs columns"
    _, b, _, bf = table_1e6_x_20
    report = benchmark(reference_1e6_x_20.check, b)
    assert report.to_json() == reference_1e6_x_20.check(bf).to_json()


def test_columns_check_1e6_x_20(benchmark, table_1e6_x_20, reference_1e6_x_20):
    """The reference of this group: the same check of contiguous columns."""
    benchmark.group = "check 1e6 x 20 float64, row-major vs columns"
    _, _, _, bf = table_1e6_x_20
    benchmark(reference_1e6_x_20.check, bf)
