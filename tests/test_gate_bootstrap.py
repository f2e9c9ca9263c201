"""The paired bootstrap (fastmlops.gate.paired_bootstrap).

* every replicate equals the metric of :mod:`fastmlops.quality` on the rows
  the replicate drew (regenerated with the kernel's own generator), for every
  metric, with and without weights: the replicates are exact;
* the jackknife equals leave-one-out by brute force (exact for the grouped
  one up to JACKKNIFE_GROUPS rows);
* the intervals equal a reference written here from scipy's formulas, on
  our replicates (exact), and ``scipy.stats.bootstrap(paired=True)`` within
  Monte Carlo error;
* the result depends on the seed, not on the thread count.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr, ndtri
from scipy.stats import bootstrap

from fastmlops import quality
from fastmlops.gate import METRICS, paired_bootstrap
from fastmlops.gate._engine import BLOCK, Engine, block_state
from fastmlops.gate._inputs import paired_input
from fastmlops.gate._metrics import Options


def _data(n: int = 300, seed: int = 0, regression: bool = False):
    rng = np.random.default_rng(seed)
    if regression:
        y = rng.normal(size=n)
        return y, y + rng.normal(0, 0.8, n), y + rng.normal(0.1, 0.7, n)
    y = (rng.random(n) < 0.4).astype(np.int64)
    a = 1 / (1 + np.exp(-(np.round(rng.normal(size=n) + y, 1))))
    b = 1 / (1 + np.exp(-(0.5 * rng.normal(size=n) + 1.2 * y - 0.1)))
    return y, a, b


_OPTIONS = Options()


def _quality(name: str, y, a, b, w, opt=_OPTIONS):
    scores = np.column_stack([a, b])
    if name in ("precision", "recall", "f1"):
        res = getattr(quality.precision_recall_f1(y, scores, threshold=opt.threshold,
                                                  sample_weight=w), name)
    elif name == "accuracy":
        res = quality.accuracy(y, scores, threshold=opt.threshold, sample_weight=w)
    elif name == "ece":
        res = quality.calibration(y, scores, bins=opt.bins, sample_weight=w).ece
    else:
        res = getattr(quality, name)(y, scores, sample_weight=w)
    return res.values[0]


def _drawn_rows(seed: int, n: int, n_resamples: int, stream: int = 0) -> np.ndarray:
    from fastmlops._kernels.paired import draw_rows

    blocks = []
    for k, start in enumerate(range(0, n_resamples, BLOCK)):
        out = np.empty((min(BLOCK, n_resamples - start), n), dtype=np.int64)
        draw_rows(block_state(seed, stream, k), out)
        blocks.append(out)
    return np.concatenate(blocks)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("metric", sorted(METRICS))
def test_every_replicate_is_the_quality_metric_on_its_rows(metric, weighted):
    spec = METRICS[metric]
    y, a, b = _data(150, 1, spec.regression)
    w = np.random.default_rng(2).uniform(0.2, 2, y.size) if weighted else None
    res = paired_bootstrap(y, a, b, metric, n_resamples=70, seed=9, sample_weight=w,
                           method="percentile")
    rows = _drawn_rows(9, y.size, 70)
    for r in (0, 1, 63, 64, 69):  # both blocks
        i = rows[r]
        want = _quality(metric, y[i], a[i], b[i], None if w is None else w[i])
        np.testing.assert_allclose(res.distribution[r], want, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose([res.baseline, res.candidate], _quality(metric, y, a, b, w),
                               rtol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("metric", ["roc_auc", "average_precision", "log_loss", "f1", "ece",
                                    "r2"])
def test_jackknife_is_leave_one_out(metric, weighted):
    spec = METRICS[metric]
    y, a, b = _data(80, 4, spec.regression)
    w = np.random.default_rng(3).uniform(0.2, 2, y.size) if weighted else None
    data = paired_input(y, a, b, sample_weight=w, regression=spec.regression)
    got = Engine.build(spec, data, Options()).jackknife()
    keep = np.ones(y.size, bool)
    for i in range(y.size):
        keep[i] = False
        want = _quality(metric, y[keep], a[keep], b[keep], None if w is None else w[keep])
        keep[i] = True
        np.testing.assert_allclose(got[i], want, rtol=1e-9, atol=1e-12)


def _bca_reference(theta, reps, jack, alpha):
    """scipy.stats._resampling._bca_interval, on given replicates and jackknife."""
    z0 = ndtri(((reps < theta).sum() + (reps <= theta).sum()) / (2 * reps.size))
    u = jack.mean() - jack
    a = (u ** 3).sum() / (6 * ((u ** 2).sum()) ** 1.5)
    levels = [ndtr(z0 + (z0 + z) / (1 - a * (z0 + z))) for z in (ndtri(alpha), -ndtri(alpha))]
    return np.quantile(reps, levels)


@pytest.mark.parametrize("metric", ["roc_auc", "brier_score", "accuracy"])
def test_intervals_follow_scipys_formulas_exactly(metric):
    y, a, b = _data(200, 5)
    res = paired_bootstrap(y, a, b, metric, n_resamples=400, seed=3, confidence=0.9)
    per = paired_bootstrap(y, a, b, metric, n_resamples=400, seed=3, confidence=0.9,
                           method="percentile")
    data = paired_input(y, a, b)
    engine = Engine.build(METRICS[metric], data, Options())
    theta, jack, reps = engine.estimate(), engine.jackknife(), res.distribution
    np.testing.assert_array_equal(per.distribution, reps)
    for k, got in ((0, res.baseline_interval), (1, res.candidate_interval)):
        np.testing.assert_allclose(got, _bca_reference(theta[k], reps[:, k], jack[:, k], 0.05),
                                   rtol=1e-12)
        np.testing.assert_allclose(per.baseline_interval if k == 0 else per.candidate_interval,
                                   np.quantile(reps[:, k], [0.05, 0.95]), rtol=1e-12)
    d = reps[:, 1] - reps[:, 0]
    np.testing.assert_allclose(res.difference_interval,
                               _bca_reference(theta[1] - theta[0], d, jack[:, 1] - jack[:, 0],
                                              0.05), rtol=1e-12)
    assert res.se == pytest.approx(d.std(ddof=1))


def _scipy_stat(metric):
    def stat(y, a, b):
        return _quality(metric, y, a, b, None)[1] - _quality(metric, y, a, b, None)[0]
    return stat


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["roc_auc", "log_loss", "accuracy"])
@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_agrees_with_scipy_within_monte_carlo_error(metric, method):
    y, a, b = _data(250, 6)
    ours = paired_bootstrap(y, a, b, metric, n_resamples=4000, method=method, seed=1)
    ref = bootstrap((y, a, b), _scipy_stat(metric), paired=True, vectorized=False,
                    n_resamples=4000, method=method, random_state=np.random.default_rng(2))
    se = ref.standard_error
    assert ours.se == pytest.approx(se, rel=0.08)
    # each bound's Monte Carlo sd is ~0.05 se at 4,000 resamples
    np.testing.assert_allclose(ours.difference_interval, ref.confidence_interval,
                               atol=0.25 * se)


def test_seed_not_threads_decides(monkeypatch):
    y, a, b = _data(500, 7)
    first = paired_bootstrap(y, a, b, "roc_auc", n_resamples=300, seed=5).distribution
    again = paired_bootstrap(y, a, b, "roc_auc", n_resamples=300, seed=5).distribution
    monkeypatch.setenv("FASTMLOPS_NUM_THREADS", "1")
    serial = paired_bootstrap(y, a, b, "roc_auc", n_resamples=300, seed=5).distribution
    monkeypatch.setenv("FASTMLOPS_NUM_THREADS", "3")
    three = paired_bootstrap(y, a, b, "roc_auc", n_resamples=300, seed=5).distribution
    for other in (again, serial, three):
        np.testing.assert_array_equal(first, other)
    other_seed = paired_bootstrap(y, a, b, "roc_auc", n_resamples=300, seed=6).distribution
    assert not np.array_equal(first, other_seed)
    # the first replicates do not depend on how many follow
    short = paired_bootstrap(y, a, b, "roc_auc", n_resamples=100, seed=5).distribution
    np.testing.assert_array_equal(short, first[:100])
    fresh = paired_bootstrap(y, a, b, "roc_auc", n_resamples=50, seed=None).distribution
    assert fresh.shape == (50, 2)


def test_grouped_jackknife_for_average_precision_on_many_rows():
    from fastmlops.gate._engine import JACKKNIFE_GROUPS

    y, a, b = _data(2500, 8)
    data = paired_input(y, a, b)
    jack = Engine.build(METRICS["average_precision"], data, Options()).jackknife()
    assert jack.shape == (JACKKNIFE_GROUPS, 2)
    keep = np.arange(y.size) % JACKKNIFE_GROUPS != 17
    want = _quality("average_precision", y[keep], a[keep], b[keep], None)
    np.testing.assert_allclose(jack[17], want, rtol=1e-12)


def test_pvalue_by_inversion():
    y, a, b = _data(300, 9)
    per = paired_bootstrap(y, a, b, "roc_auc", n_resamples=999, seed=2, method="percentile")
    d = per.distribution[:, 1] - per.distribution[:, 0]
    for null in (-0.05, 0.0, 0.03):
        assert per.pvalue(null, "greater") == pytest.approx(
            (np.sum(d <= null) + 1) / 1000)
        assert per.pvalue(null, "less") == pytest.approx((np.sum(d >= null) + 1) / 1000)
    # BCa: the p-value is the level at which the one-sided bound reaches the null
    res = paired_bootstrap(y, a, b, "roc_auc", n_resamples=2000, seed=2, confidence=0.9)
    low = res.difference_interval.low  # the 95% one-sided lower bound
    assert res.pvalue(low, "greater") == pytest.approx(0.05, abs=0.01)


def test_slices_are_bootstrapped_on_their_own_rows():
    y, a, b = _data(600, 10)
    groups = np.where(np.arange(600) % 3 == 0, "de", "fr")
    res = paired_bootstrap(y, a, b, "log_loss", n_resamples=100, groups=groups)
    assert set(res.slices) == {"de", "fr"}
    de = groups == "de"
    want = _quality("log_loss", y[de], a[de], b[de], None)
    assert [res.slices["de"].baseline, res.slices["de"].candidate] == pytest.approx(want)
    assert res.to_dict()["slices"]["fr"]["metric"] == "log_loss"


def test_undefined_replicates_are_counted_and_left_out():
    y = np.array([0] * 18 + [1, 1])
    rng = np.random.default_rng(0)
    res = paired_bootstrap(y, rng.random(20), rng.random(20), "roc_auc", n_resamples=200)
    assert 0 < res.n_invalid < 200
    assert np.isfinite(res.difference_interval.low)


def test_bad_input():
    y, a, b = _data(100)
    with pytest.raises(ValueError, match="metric must be one of"):
        paired_bootstrap(y, a, b, "auc")
    with pytest.raises(ValueError, match="log_loss needs probabilities"):
        paired_bootstrap(y, a * 3, b, "log_loss")
    with pytest.raises(ValueError, match="n_resamples must be at least 2"):
        paired_bootstrap(y, a, b, n_resamples=1)
    with pytest.raises(ValueError, match="method must be"):
        paired_bootstrap(y, a, b, method="basic")
    with pytest.raises(ValueError, match="sample_weight must be finite"):
        paired_bootstrap(y, a, b, sample_weight=-np.ones(100))
    with pytest.raises(ValueError, match="groups has missing"):
        paired_bootstrap(y, a, b, groups=[None] * 100)
