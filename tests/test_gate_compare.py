"""The gate's decision (fastmlops.gate.compare): the test picked, directions,
slices with Holm, and the error rates it promises, by simulation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import norm
from statsmodels.stats.multitest import multipletests

from fastmlops.gate import compare, delong, mcnemar, paired_bootstrap
from fastmlops.gate._stats import holm


def _binormal(n: int, mu_base: float, mu_cand: float, rho: float = 0.5, seed: int = 0,
              share: float = 0.3):
    """Scores N(mu * y, 1) for both models, noise correlation ``rho``: the
    true AUCs are Phi(mu / sqrt(2))."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < share).astype(np.int64)
    e1, e2 = rng.normal(size=(2, n))
    return y, mu_base * y + e1, mu_cand * y + rho * e1 + np.sqrt(1 - rho ** 2) * e2


def _mu(auc: float) -> float:
    return float(np.sqrt(2) * norm.ppf(auc))


def test_auto_picks_the_test_and_says_why():
    y, a, b = _binormal(1000, 1.0, 1.1)
    pa, pb = 1 / (1 + np.exp(-a)), 1 / (1 + np.exp(-b))
    res = compare(y, a, b, hypothesis="superiority")  # margin 0
    assert res.test == "delong" and res.reason.startswith("DeLong: exact paired test")
    assert res.statistic == pytest.approx(delong(y, a, b, margin=0.0,
                                                 alternative="greater").statistic)
    acc = compare(y, pa, pb, metric="accuracy", hypothesis="superiority")
    assert acc.test == "mcnemar" and acc.reason.startswith("McNemar for accuracy")
    ref = mcnemar(y, pa, pb, threshold=0.5, alternative="greater")
    assert acc.pvalue == pytest.approx(ref.pvalue)
    assert compare(y, pa, pb, metric="accuracy", margin=0.01, n_resamples=200).test == \
        "bootstrap"
    weighted = compare(y, a, b, sample_weight=np.ones(1000), n_resamples=200, margin=0.01)
    assert weighted.test == "bootstrap" and "sample weights" in weighted.reason
    ll = compare(y, pa, pb, metric="log_loss", n_resamples=200, margin=0.01)
    assert ll.test == "bootstrap" and ll.reason.startswith("paired bootstrap otherwise")
    with pytest.raises(ValueError, match="test='delong' compares ROC AUCs"):
        compare(y, pa, pb, metric="log_loss", test="delong", margin=0.01)
    with pytest.raises(ValueError, match="test='mcnemar'"):
        compare(y, pa, pb, metric="accuracy", margin=0.01, test="mcnemar")


def test_non_inferiority_needs_a_margin():
    """Non-inferiority with margin 0 is the superiority test: equal models would
    fail most of the time, so the default hypothesis asks for a margin."""
    y, a, b = _binormal(1000, 1.0, 1.0)
    with pytest.raises(ValueError, match="non-inferiority needs a margin > 0"):
        compare(y, a, b)
    assert compare(y, a, b, hypothesis="harm").decision == "pass"


def test_bootstrap_p_value_is_the_bootstraps():
    y, a, b = _binormal(800, 1.0, 1.0, seed=3)
    pa, pb = 1 / (1 + np.exp(-a)), 1 / (1 + np.exp(-b))
    res = compare(y, pa, pb, metric="brier_score", margin=0.01, n_resamples=500, seed=4)
    boot = paired_bootstrap(y, pa, pb, "brier_score", n_resamples=500, seed=4,
                            confidence=0.9)
    # lower is better: non-inferiority rejects H0 "candidate - baseline >= margin"
    assert res.pvalue == pytest.approx(boot.pvalue(0.01, "less"))
    assert res.difference_interval == boot.difference_interval
    assert not res.higher_is_better


def test_direction_of_lower_is_better_metrics():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 3000)
    good = np.clip(np.where(y == 1, 0.8, 0.2) + rng.normal(0, 0.1, 3000), 0.01, 0.99)
    bad = np.clip(np.where(y == 1, 0.6, 0.4) + rng.normal(0, 0.1, 3000), 0.01, 0.99)
    better = compare(y, bad, good, metric="log_loss", hypothesis="superiority",
                     n_resamples=300)
    assert better.decision == "pass" and better.difference < 0
    worse = compare(y, good, bad, metric="log_loss", margin=0.01, n_resamples=300)
    assert worse.decision == "fail"
    harm = compare(y, good, bad, metric="log_loss", hypothesis="harm", n_resamples=300)
    assert harm.decision == "fail" and harm.pvalue < 0.01


def test_regression_metrics():
    rng = np.random.default_rng(2)
    y = rng.normal(size=2000)
    res = compare(y, y + rng.normal(0, 1, 2000), y + rng.normal(0, 0.5, 2000), metric="rmse",
                  hypothesis="superiority", n_resamples=300)
    assert res.decision == "pass" and res.candidate < res.baseline


def test_slices_catch_a_worse_country_with_holm():
    y, a, b = _binormal(6000, 1.2, 1.2, seed=5)
    country = np.random.default_rng(6).choice(["de", "fr", "it", "us"], 6000)
    b = b.copy()
    b[(country == "it") & (y == 1)] -= 1.0
    res = compare(y, a, b, margin=0.01, groups=country)
    assert res.decision == "fail" and res.failed_slices == ["it"]
    p = [s.pvalue for s in res.slices]
    np.testing.assert_allclose([s.pvalue_holm for s in res.slices],
                               multipletests(p, method="holm")[1], rtol=1e-12)
    for s in res.slices:
        rows = country == s.group
        ref = delong(y[rows], a[rows], b[rows], margin=-0.01, alternative="less")
        assert s.pvalue == pytest.approx(ref.pvalue) and s.n == rows.sum()
    out = res.to_dict()
    json.dumps(out)
    assert out["failed_slices"] == ["it"] and out["decision"] == "fail"
    assert "worse on slices ['it']" in res.summary


def test_holm_equals_statsmodels():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.random(7) ** 3
        np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=1e-12)
    with_nan = holm(np.array([0.01, np.nan, 0.04]))
    assert np.isnan(with_nan[1])
    np.testing.assert_allclose(with_nan[[0, 2]], [0.02, 0.04])


def test_bad_arguments():
    y, a, b = _binormal(200, 1.0, 1.0)
    with pytest.raises(ValueError, match="margin must be a non-negative"):
        compare(y, a, b, margin=-0.01)
    with pytest.raises(ValueError, match="hypothesis must be one of"):
        compare(y, a, b, hypothesis="equivalence")
    with pytest.raises(ValueError, match="alpha must be"):
        compare(y, a, b, alpha=0.7)
    with pytest.raises(ValueError, match="test must be one of"):
        compare(y, a, b, test="wilcoxon")


# ------------------------------------------------ error rates by simulation

def _rate_ok(count: int, sims: int, p: float, slack: float = 0.0) -> bool:
    """count / sims within 3 binomial standard deviations (plus ``slack``) of p."""
    sd = np.sqrt(max(p * (1 - p), 0.01) / sims)
    return abs(count / sims - p) <= 3 * sd + slack


SIMS = 400


@pytest.mark.slow
def test_harm_equal_models_fail_at_most_alpha_and_a_worse_one_is_caught_with_the_power():
    mu = _mu(0.80)
    margin = 0.03
    worse = _mu(0.80 - margin)
    fails_equal = 0
    fails_worse = 0
    powers = []
    for s in range(SIMS):
        y, a, b = _binormal(1500, mu, mu, seed=s)
        fails_equal += compare(y, a, b, hypothesis="harm", margin=margin).decision == "fail"
        y, a, b = _binormal(1500, mu, worse, seed=10_000 + s)
        res = compare(y, a, b, hypothesis="harm", margin=margin)
        fails_worse += res.decision == "fail"
        powers.append(res.power)
    assert fails_equal / SIMS <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / SIMS)
    stated = float(np.mean(powers))
    assert 0.3 < stated < 0.95  # a power worth checking
    assert _rate_ok(fails_worse, SIMS, stated, slack=0.03), (fails_worse / SIMS, stated)


@pytest.mark.slow
def test_non_inferiority_worse_by_the_margin_passes_at_most_alpha_equal_pass_with_power():
    mu = _mu(0.75)
    margin = 0.03
    worse = _mu(0.75 - margin)
    pass_worse = 0
    pass_equal = 0
    powers = []
    for s in range(SIMS):
        y, a, b = _binormal(1500, mu, worse, seed=20_000 + s)
        pass_worse += compare(y, a, b, margin=margin).decision == "pass"
        y, a, b = _binormal(1500, mu, mu, seed=30_000 + s)
        res = compare(y, a, b, margin=margin)
        pass_equal += res.decision == "pass"
        powers.append(res.power)
    assert pass_worse / SIMS <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / SIMS)
    stated = float(np.mean(powers))
    assert 0.3 < stated < 0.95
    assert _rate_ok(pass_equal, SIMS, stated, slack=0.03), (pass_equal / SIMS, stated)


@pytest.mark.slow
def test_slices_of_equal_models_are_flagged_at_most_alpha():
    mu = _mu(0.8)
    flagged = 0
    for s in range(SIMS):
        y, a, b = _binormal(2000, mu, mu, seed=40_000 + s)
        groups = np.arange(2000) % 5
        res = compare(y, a, b, hypothesis="harm", groups=groups)
        flagged += bool(res.failed_slices)
    assert flagged / SIMS <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / SIMS)


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["accuracy", "log_loss"])
def test_equal_models_fail_at_most_alpha_with_mcnemar_and_bootstrap(metric):
    sims = 200
    fails = 0
    for s in range(sims):
        y, a, b = _binormal(600, 1.0, 1.0, seed=50_000 + s)
        pa, pb = 1 / (1 + np.exp(-a)), 1 / (1 + np.exp(-b))
        res = compare(y, pa, pb, metric=metric, hypothesis="harm", n_resamples=300, seed=s)
        fails += res.decision == "fail"
    assert fails / sims <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / sims)
