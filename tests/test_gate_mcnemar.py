"""McNemar's test of paired accuracy (fastmlops.gate.mcnemar) against
``statsmodels.stats.contingency_tables.mcnemar`` and scipy's binomial test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest, norm
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from fastmlops.gate import mcnemar


def _rows(both: int, b: int, c: int, neither: int, seed: int = 0):
    """Labels and predictions with the given table, rows shuffled."""
    rng = np.random.default_rng(seed)
    n = both + b + c + neither
    y = rng.integers(0, 2, n)
    right_a = np.r_[np.ones(both + b), np.zeros(c + neither)].astype(bool)
    right_b = np.r_[np.ones(both), np.zeros(b), np.ones(c), np.zeros(neither)].astype(bool)
    order = rng.permutation(n)
    right_a, right_b = right_a[order], right_b[order]
    return y, np.where(right_a, y, 1 - y), np.where(right_b, y, 1 - y)


TABLES = [(50, 3, 9, 20), (500, 40, 61, 100), (10, 0, 0, 5), (7, 4, 4, 1), (3, 0, 6, 0),
          (1000, 230, 180, 40), (2, 1, 0, 0)]


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize(("exact", "correction"), [(True, True), (False, True), (False, False)])
def test_equals_statsmodels(table, exact, correction):
    both, b, c, neither = table
    y, pa, pb = _rows(*table)
    res = mcnemar(y, pa, pb, exact=exact, correction=correction)
    assert (res.baseline_only, res.candidate_only, res.n) == (b, c, sum(table))
    if not exact and b + c == 0:  # statsmodels: 0/0 (NaN); no evidence either way here
        assert (res.statistic, res.pvalue) == (0.0, 1.0)
        return
    ref = sm_mcnemar(np.array([[both, b], [c, neither]]), exact=exact, correction=correction)
    assert res.statistic == pytest.approx(float(ref.statistic), rel=1e-12)
    assert res.pvalue == pytest.approx(float(ref.pvalue), rel=1e-12)
    assert res.method == ("exact" if exact else "chi2-corrected" if correction else "chi2")


@pytest.mark.parametrize("table", TABLES)
def test_one_sided_exact_is_the_binomial_test(table):
    _, b, c, _ = table
    y, pa, pb = _rows(*table)
    for alternative in ("greater", "less"):
        got = mcnemar(y, pa, pb, alternative=alternative).pvalue
        want = 1.0 if b + c == 0 else binomtest(c, b + c, 0.5, alternative=alternative).pvalue
        assert got == pytest.approx(want, rel=1e-12)


def test_one_sided_chi2_is_the_signed_root():
    y, pa, pb = _rows(500, 40, 61, 100)
    for correction, shift in ((True, 1), (False, 0)):
        z = (61 - 40 - shift) / np.sqrt(101)
        res = mcnemar(y, pa, pb, exact=False, correction=correction, alternative="greater")
        assert res.pvalue == pytest.approx(norm.sf(z), rel=1e-12)
        two = mcnemar(y, pa, pb, exact=False, correction=correction)
        assert two.pvalue == pytest.approx(2 * res.pvalue, rel=1e-9)


def test_accuracies_difference_and_se():
    y, pa, pb = _rows(500, 40, 61, 100)
    res = mcnemar(y, pa, pb)
    n = 701
    assert res.accuracy_baseline == pytest.approx(np.mean(pa == y))
    assert res.accuracy_candidate == pytest.approx(np.mean(pb == y))
    assert res.difference == pytest.approx(res.accuracy_candidate - res.accuracy_baseline)
    # the standard error of a difference of paired proportions
    d = np.where(pb == y, 1.0, 0.0) - np.where(pa == y, 1.0, 0.0)
    assert res.se == pytest.approx(d.std(ddof=0) / np.sqrt(n), rel=1e-12)


def test_scores_with_threshold_and_bools():
    y, pa, pb = _rows(50, 3, 9, 20)
    ref = mcnemar(y, pa, pb)
    rng = np.random.default_rng(1)
    sa = np.where(pa == 1, rng.uniform(0.5, 1, pa.size), rng.uniform(0, 0.5, pa.size))
    sb = np.where(pb == 1, rng.uniform(0.5, 1, pb.size), rng.uniform(0, 0.49, pb.size))
    assert mcnemar(y, sa, sb, threshold=0.5)._asdict() == ref._asdict()
    assert mcnemar(y.astype(bool), pa.astype(bool), pb.tolist())._asdict() == ref._asdict()


def test_bad_input():
    y, pa, pb = _rows(50, 3, 9, 20)
    with pytest.raises(ValueError, match="threshold="):
        mcnemar(y, pa * 0.7, pb)
    with pytest.raises(ValueError, match="NaN rows"):
        mcnemar(y, np.where(pa == 1, np.nan, 0.0), pb)
    with pytest.raises(TypeError, match="exact must be True or False"):
        mcnemar(y, pa, pb, exact=1)
    with pytest.raises(ValueError, match="has 81 rows but y_true has 82"):
        mcnemar(y, pa, pb[:-1])
