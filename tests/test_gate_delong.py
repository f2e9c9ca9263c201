"""DeLong's test of two correlated AUCs (fastmlops.gate.delong).

References: a direct O(n m) implementation of DeLong's covariance written
here (every positive-negative pair), DeLong's structural components of
``fastmlops._kernels.ranks.placements``, and R's pROC (``roc.test(method=
"delong", paired=TRUE)``, run through Rscript; skipped only where R or pROC
is missing).
"""

from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from fastmlops.gate import delong
from fastmlops.gate._sorted import sort_pair


def _delong_direct(y, a, b):
    """DeLong (1988) from every pair: psi = 1 if the positive scores above the
    negative, 1/2 on ties; V10, V01 as row and column means of psi."""
    y = np.asarray(y).astype(bool)
    out = []
    for s in (np.asarray(a, float), np.asarray(b, float)):
        pos, neg = s[y][:, None], s[~y][None, :]
        psi = (pos > neg) + 0.5 * (pos == neg)
        out.append((psi.mean(axis=1), psi.mean(axis=0)))
    v10 = np.stack([o[0] for o in out])
    v01 = np.stack([o[1] for o in out])
    m, n = v10.shape[1], v01.shape[1]
    cov = np.cov(v10) / m + np.cov(v01) / n
    aucs = v10.mean(axis=1)
    se = math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    return aucs, cov, se


def _data(kind: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    if kind == "small":
        n, share = 12, 0.5
    elif kind == "imbalanced":
        n, share = 3000, 0.02
    else:
        n, share = 800, 0.35
    y = (rng.random(n) < share).astype(np.int64)
    y[:2] = [0, 1]
    a = rng.normal(size=n) + 1.0 * y
    b = 0.5 * a + rng.normal(size=n) * 0.9 + 0.6 * y
    if kind == "ties":
        a, b = np.round(a, 0), np.round(b, 1)
    return y, a, b


KINDS = ["plain", "ties", "small", "imbalanced"]


@pytest.mark.parametrize("kind", KINDS)
def test_equals_the_direct_pairwise_implementation(kind):
    y, a, b = _data(kind)
    aucs, cov, se = _delong_direct(y, a, b)
    res = delong(y, a, b)
    assert res.auc_baseline == pytest.approx(aucs[0], rel=1e-12)
    assert res.auc_candidate == pytest.approx(aucs[1], rel=1e-12)
    assert res.auc_baseline == pytest.approx(roc_auc_score(y, a), rel=1e-12)
    np.testing.assert_allclose(res.covariance, cov, rtol=1e-9, atol=1e-15)
    assert res.se == pytest.approx(se, rel=1e-9)
    z = (aucs[1] - aucs[0]) / se
    assert res.statistic == pytest.approx(z, rel=1e-9)
    assert res.pvalue == pytest.approx(2 * norm.sf(abs(z)), rel=1e-8)
    assert res.n_positive == int(np.sum(y)) and res.n_negative == y.size - int(np.sum(y))


@pytest.mark.parametrize("kind", KINDS)
def test_placements_equal_the_quality_kernel(kind):
    from fastmlops._kernels.paired import placements
    from fastmlops._kernels.ranks import placements as reference

    y, a, b = _data(kind)
    y8 = y.astype(np.uint8)
    sp = sort_pair(y8, a, b)
    v = placements(sp.rows, sp.first, sp.labels, np.empty(0))
    for m, s in enumerate((a, b)):
        v10, v01 = reference(np.ascontiguousarray(s), y8)
        np.testing.assert_array_equal(v[m, y == 1], v10)
        np.testing.assert_array_equal(v[m, y == 0], v01)


def test_radix_sort_orders_every_float():
    from fastmlops._kernels.paired import sort_scores

    rng = np.random.default_rng(5)
    special = np.array([0.0, -0.0, np.inf, -np.inf, 5e-324, -5e-324, 1.0, -1.0, 1e308,
                        -1e308, 0.0, -0.0])
    for values in (special, rng.normal(size=5000), np.round(rng.normal(size=5000), 1),
                   np.full(100, 3.5), np.exp(rng.normal(size=3000) * 20)):
        n = values.size
        labels = (rng.random(n) < 0.5).astype(np.uint8)
        rows = np.empty(n, np.int32)
        first = np.empty(n, np.uint8)
        out = np.empty(n, np.uint8)
        sort_scores(values, labels, rows, first, out)
        ordered = values[rows]
        np.testing.assert_array_equal(np.sort(rows), np.arange(n))
        assert (np.diff(ordered) >= 0).all()
        np.testing.assert_array_equal(first.astype(bool),
                                      np.r_[True, ordered[1:] != ordered[:-1]])
        np.testing.assert_array_equal(out, labels[rows])


def test_margin_and_alternatives():
    y, a, b = _data("plain", 3)
    base = delong(y, a, b)
    for margin in (-0.05, 0.0, 0.02):
        res = delong(y, a, b, margin=margin, alternative="greater")
        z = (base.difference - margin) / base.se
        assert res.statistic == pytest.approx(z, rel=1e-12)
        assert res.pvalue == pytest.approx(norm.sf(z), rel=1e-9)
        less = delong(y, a, b, margin=margin, alternative="less")
        assert less.pvalue == pytest.approx(norm.cdf(z), rel=1e-9)
    assert delong(y, a, b, alternative="larger").alternative == "greater"
    low, high = base.confidence_interval(0.95)
    assert low == pytest.approx(base.difference - 1.959963984540054 * base.se)
    assert high == pytest.approx(base.difference + 1.959963984540054 * base.se)
    stat, p = base  # unpacks as (statistic, pvalue)
    assert (stat, p) == (base.statistic, base.pvalue)


def test_identical_models_give_no_evidence():
    y, a, _ = _data("plain")
    res = delong(y, a, a)
    assert (res.statistic, res.pvalue, res.difference, res.se) == (0.0, 1.0, 0.0, 0.0)


def test_inputs_lists_pandas_and_bool():
    pd = pytest.importorskip("pandas")
    y, a, b = _data("small")
    ref = delong(y, a, b)
    for args in ((y.tolist(), a.tolist(), b.tolist()),
                 (pd.Series(y.astype(bool)), pd.Series(a), pd.Series(b)),
                 (y.astype(bool), a.astype(np.float32).astype(np.float64), b)):
        assert delong(*args).statistic == pytest.approx(ref.statistic, rel=1e-12)


def test_bad_input_says_how_to_fix_it():
    y, a, b = _data("plain")
    bad = a.copy()
    bad[[3, 7, 9]] = np.nan
    with pytest.raises(ValueError, match="baseline has 3 NaN rows of 800"):
        delong(y, bad, b)
    with pytest.raises(ValueError, match="candidate has 799 rows but y_true has 800"):
        delong(y, a, b[:-1])
    with pytest.raises(ValueError, match="y_true must be binary"):
        delong(y * 2, a, b)
    with pytest.raises(ValueError, match="needs both classes"):
        delong(np.ones_like(y), a, b)
    with pytest.raises(ValueError, match="margin must be"):
        delong(y, a, b, margin=1.5)
    with pytest.raises(ValueError, match="alternative must be"):
        delong(y, a, b, alternative="bigger")
    with pytest.raises(TypeError, match="must hold numbers"):
        delong(y, a.astype(str), b)


# ---------------------------------------------------------------- R's pROC

def _has_proc() -> bool:
    if shutil.which("Rscript") is None:
        return False
    out = subprocess.run(["Rscript", "-e", "library(pROC)"], capture_output=True, check=False)
    return out.returncode == 0


needs_proc = pytest.mark.skipif(not _has_proc(), reason="R with pROC is not installed")

_R_TEST = """
suppressMessages(library(pROC))
d <- read.csv("{path}")
r1 <- roc(d$y, d$b, levels = c(0, 1), direction = "<", quiet = TRUE)
r0 <- roc(d$y, d$a, levels = c(0, 1), direction = "<", quiet = TRUE)
t <- roc.test(r1, r0, method = "delong", paired = TRUE)
cat(sprintf("%.17g %.17g %.17g %.17g\\n", t$statistic, t$p.value, auc(r0), auc(r1)))
"""


def _rscript(code: str) -> list[float]:
    out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    return [float(v) for v in out.stdout.split()]


@needs_proc
@pytest.mark.parametrize("kind", KINDS + ["tied-models"])
def test_equals_proc_roc_test(kind, tmp_path):
    y, a, b = _data("ties" if kind == "tied-models" else kind, seed=11)
    if kind == "tied-models":
        b = np.where(np.arange(y.size) % 3 == 0, a, b)
    path = tmp_path / "d.csv"
    np.savetxt(path, np.column_stack([y, a, b]), delimiter=",", header="y,a,b",
               comments="", fmt="%.17g")
    z, p, auc0, auc1 = _rscript(_R_TEST.format(path=path))
    res = delong(y, a, b)
    assert res.auc_baseline == pytest.approx(auc0, rel=1e-12)
    assert res.auc_candidate == pytest.approx(auc1, rel=1e-12)
    assert res.statistic == pytest.approx(z, rel=1e-9)
    assert res.pvalue == pytest.approx(p, rel=1e-7, abs=1e-300)


@needs_proc
def test_equals_proc_on_the_asah_example(tmp_path):
    """pROC's own example: s100b against wfns on the aSAH data (outcome Poor
    is the positive class; pROC picks direction "<" for both)."""
    path = tmp_path / "asah.csv"
    code = f"""
suppressMessages(library(pROC))
data(aSAH)
y <- as.integer(aSAH$outcome == "Poor")
write.csv(data.frame(y = y, s100b = aSAH$s100b, wfns = as.numeric(aSAH$wfns)),
          "{path}", row.names = FALSE)
r1 <- roc(aSAH$outcome, aSAH$s100b, quiet = TRUE)
r2 <- roc(aSAH$outcome, aSAH$wfns, quiet = TRUE)
t <- roc.test(r1, r2, method = "delong", paired = TRUE)
cat(sprintf("%.17g %.17g %.17g %.17g\\n", t$statistic, t$p.value, auc(r1), auc(r2)))
"""
    z, p, auc_s100b, auc_wfns = _rscript(code)
    d = np.genfromtxt(path, delimiter=",", names=True)
    # roc.test(r1, r2): z of r1 - r2, so s100b is the candidate here
    res = delong(d["y"], d["wfns"], d["s100b"])
    assert res.auc_candidate == pytest.approx(auc_s100b, rel=1e-12)
    assert res.auc_baseline == pytest.approx(auc_wfns, rel=1e-12)
    assert res.statistic == pytest.approx(z, rel=1e-9)
    assert res.pvalue == pytest.approx(p, rel=1e-8)
    assert 0.01 < res.pvalue < 0.1  # the published example: p-value 0.0x


# ---------------------------------------------------------------- properties

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")


@hypothesis.settings(deadline=None, max_examples=150)
@hypothesis.given(st.lists(st.tuples(st.booleans(), st.integers(-3, 3), st.integers(-3, 3)),
                           min_size=2, max_size=40),
                  st.sampled_from([0.0, -0.05, 0.1]))
def test_any_small_tied_input_equals_the_direct_implementation(rows, margin):
    y = np.array([r[0] for r in rows], dtype=np.int64)
    hypothesis.assume(2 <= y.sum() <= y.size - 2)
    a = np.array([r[1] for r in rows], dtype=float) / 2
    b = np.array([r[2] for r in rows], dtype=float) / 3
    aucs, cov, se = _delong_direct(y, a, b)
    res = delong(y, a, b, margin=margin, alternative="greater")
    np.testing.assert_allclose([res.auc_baseline, res.auc_candidate], aucs, rtol=1e-12)
    np.testing.assert_allclose(res.covariance, cov, rtol=1e-9, atol=1e-15)
    if se > 1e-12:
        z = (aucs[1] - aucs[0] - margin) / se
        assert res.statistic == pytest.approx(z, rel=1e-8)
        assert res.pvalue == pytest.approx(norm.sf(z), rel=1e-7, abs=1e-300)


def test_read_only_arrays():
    y, a, b = _data("plain")
    for arr in (y, a, b):
        arr.setflags(write=False)
    assert delong(y, a, b).statistic == pytest.approx(delong(y.copy(), a.copy(),
                                                             b.copy()).statistic)


def test_one_row_of_a_class_gives_nan():
    res = delong([0, 0, 0, 1], [0.1, 0.2, 0.3, 0.4], [0.2, 0.1, 0.5, 0.3])
    assert (res.auc_baseline, res.auc_candidate) == (1.0, 2 / 3)
    assert np.isnan(res.se) and np.isnan(res.statistic) and np.isnan(res.pvalue)
