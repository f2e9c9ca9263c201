"""``fastmlops.quality`` against scikit-learn, metric by metric.

One table, ``REFERENCES``, maps every metric to its scikit-learn reference; the
hypothesis tests draw labels, scores (ties, constants, probabilities 0 and 1),
weights (zeros included) and groups, and compare:

* one column: the value, to a relative 1e-12 (float rounding: sums in another
  order), or NaN exactly where scikit-learn raises or divides by zero;
* 2-D scores: each column equals the 1-D call;
* groups: each group equals scikit-learn on that group's rows alone.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from fastmlops import quality

pd = pytest.importorskip("pandas")

RTOL = 1e-12


def _sk_or_nan(fn, *args, **kwargs) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(fn(*args, **kwargs))
        except ValueError:
            return float("nan")


def _classes(y, w):
    w = np.ones(len(y)) if w is None else w
    return (w[y == 1].sum() > 0), (w[y == 0].sum() > 0)


def ref_auc(y, s, w):
    pos, neg = _classes(y, w)
    if not (pos and neg):
        return float("nan")  # scikit-learn raises: one class only
    return _sk_or_nan(skm.roc_auc_score, y, s, sample_weight=w)


def ref_ap(y, s, w):
    pos, _ = _classes(y, w)
    if not pos:
        return float("nan")  # scikit-learn warns and returns 0 (or raises)
    return _sk_or_nan(skm.average_precision_score, y, s, sample_weight=w)


def _total(w, n):
    return n if w is None else w.sum()


def ref_log_loss(y, p, w):
    if _total(w, len(y)) == 0:
        return float("nan")
    return _sk_or_nan(skm.log_loss, y, p, sample_weight=w, labels=[0, 1])


def ref_brier(y, p, w):
    if _total(w, len(y)) == 0:
        return float("nan")
    return _sk_or_nan(skm.brier_score_loss, y, p, sample_weight=w, pos_label=1)


def ref_accuracy(y, s, w, threshold=0.5):
    if _total(w, len(y)) == 0:
        return float("nan")
    return _sk_or_nan(skm.accuracy_score, y, s >= threshold, sample_weight=w)


def _prf(fn):
    def ref(y, s, w, threshold=0.5):
        return _sk_or_nan(fn, y, (s >= threshold).astype(int), sample_weight=w,
                          zero_division=np.nan, labels=[0, 1], pos_label=1)
    return ref


def _ours(name):
    def ours(y, s, w, **kw):
        return getattr(quality, name)(y, s, sample_weight=w, **kw)
    return ours


def _field(i):
    def ours(y, s, w, **kw):
        return quality.precision_recall_f1(y, s, sample_weight=w, **kw)[i]
    return ours


#: metric -> (ours, scikit-learn reference, needs probabilities)
REFERENCES = {
    "roc_auc": (_ours("roc_auc"), ref_auc, False),
    "average_precision": (_ours("average_precision"), ref_ap, False),
    "log_loss": (_ours("log_loss"), ref_log_loss, True),
    "brier_score": (_ours("brier_score"), ref_brier, True),
    "accuracy": (_ours("accuracy"), ref_accuracy, False),
    "precision": (_field(0), _prf(skm.precision_score), False),
    "recall": (_field(1), _prf(skm.recall_score), False),
    "f1": (_field(2), _prf(skm.f1_score), False),
}

PROBS = st.one_of(st.floats(0, 1, width=64), st.sampled_from([0.0, 1.0, 0.5, 0.25, 0.75]))
SCORES = st.one_of(st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64),
                   st.integers(-2, 2).map(float), st.sampled_from([0.0, -0.0, 0.5]))
WEIGHTS = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.7])


def _same(got, expected, what=""):
    if np.isnan(expected):
        assert np.isnan(got), f"{what}: expected NaN, got {got}"
    else:
        assert got == pytest.approx(expected, rel=RTOL, abs=1e-13), what


@st.composite
def cases(draw, probabilities: bool, max_n: int = 60):
    n = draw(st.integers(1, max_n))
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 1)))
    elements = PROBS if probabilities else SCORES
    if draw(st.booleans()):  # heavy ties: a few distinct scores
        pool = draw(st.lists(elements, min_size=1, max_size=3))
        s = np.array([pool[i] for i in draw(hnp.arrays(np.int64, n,
                                                        elements=st.integers(0, len(pool) - 1)))])
    else:
        s = draw(hnp.arrays(np.float64, n, elements=elements))
    w = draw(st.one_of(st.none(), hnp.arrays(np.float64, n, elements=WEIGHTS)))
    return y, s.astype(np.float64), w


@pytest.mark.parametrize("metric", sorted(REFERENCES))
@settings(max_examples=120)
@given(data=st.data())
def test_one_column_equals_sklearn(metric, data):
    ours, ref, probabilities = REFERENCES[metric]
    y, s, w = data.draw(cases(probabilities))
    _same(ours(y, s, w), ref(y, s, w), metric)


@pytest.mark.parametrize("metric", sorted(REFERENCES))
@settings(max_examples=40)
@given(data=st.data(), n_models=st.integers(1, 3), n_groups=st.integers(1, 4))
def test_groups_and_models_equal_each_slice_alone(metric, data, n_models, n_groups):
    ours, ref, probabilities = REFERENCES[metric]
    y, s, w = data.draw(cases(probabilities, max_n=80))
    n = y.size
    cols = [s] + [data.draw(hnp.arrays(np.float64, n, elements=PROBS if probabilities else SCORES))
                  for _ in range(n_models - 1)]
    scores = np.column_stack(cols)
    groups = np.array([f"g{i}" for i in
                       data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, n_groups - 1)))])
    got = ours(y, scores, w, groups=groups)
    assert got.models == list(range(n_models))
    assert got.groups == sorted(set(groups.tolist()))
    assert got.values.shape == (len(got.groups), n_models)
    for i, g in enumerate(got.groups):
        rows = groups == g
        for j in range(n_models):
            _same(got.values[i, j], ref(y[rows], scores[rows, j], None if w is None else w[rows]),
                  f"{metric} group {g} model {j}")


def test_large_column_equals_sklearn_with_many_buckets():
    # long enough for several first-level buckets and both threads of the sort
    rng = np.random.default_rng(7)
    n = 400_000
    y = (rng.random(n) < 0.2).astype(int)
    s = np.round(rng.normal(size=n) + y, 3)  # ties
    w = rng.random(n)
    assert quality.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), rel=RTOL)
    assert quality.roc_auc(y, s, sample_weight=w) == pytest.approx(
        skm.roc_auc_score(y, s, sample_weight=w), rel=RTOL)
    assert quality.average_precision(y, s, sample_weight=w) == pytest.approx(
        skm.average_precision_score(y, s, sample_weight=w), rel=1e-10)
    g = rng.integers(0, 5, n)
    got = quality.roc_auc(y, s, groups=g)
    for i, v in enumerate(got.groups):
        assert got.values[i, 0] == pytest.approx(skm.roc_auc_score(y[g == v], s[g == v]),
                                                 rel=RTOL)


# ----------------------------------------------------------------- calibration

def _ref_ece(y, p, bins, strategy):
    prob_true, prob_pred = calibration_curve(y, p, n_bins=bins, strategy=strategy)
    if strategy == "uniform":
        edges = np.linspace(0, 1, bins + 1)
    else:
        edges = np.percentile(p, np.linspace(0, 1, bins + 1) * 100)
    counts = np.bincount(np.searchsorted(edges[1:-1], p), minlength=bins)
    counts = counts[counts > 0]
    return float((counts / counts.sum() * np.abs(prob_true - prob_pred)).sum()), prob_true, \
        prob_pred


@settings(max_examples=150)
@given(data=st.data(), bins=st.integers(1, 12), strategy=st.sampled_from(["uniform", "quantile"]))
def test_calibration_equals_calibration_curve(data, bins, strategy):
    y, p, _ = data.draw(cases(True))
    ece, table = quality.calibration(y, p, bins=bins, strategy=strategy)
    expected, prob_true, prob_pred = _ref_ece(y, p, bins, strategy)
    assert ece == pytest.approx(expected, rel=1e-12, abs=1e-14)
    full = table.weight > 0
    np.testing.assert_allclose(table.fraction_positive[full], prob_true, rtol=1e-12)
    np.testing.assert_allclose(table.mean_predicted[full], prob_pred, rtol=1e-12, atol=1e-15)
    assert table.count.sum() == len(y) and table.edges.size == bins + 1


def test_calibration_weights_and_groups():
    rng = np.random.default_rng(3)
    n = 2000
    p = rng.random(n)
    y = (rng.random(n) < p).astype(int)
    w = rng.integers(1, 4, n).astype(float)
    # integer weights equal repeated rows
    ece_w, table_w = quality.calibration(y, p, sample_weight=w)
    rep = np.repeat(np.arange(n), w.astype(int))
    ece_r, table_r = quality.calibration(y[rep], p[rep])
    assert ece_w == pytest.approx(ece_r, rel=1e-12)
    np.testing.assert_allclose(table_w.weight, table_r.count)
    g = np.where(rng.random(n) < 0.5, "mobile", "desktop")
    got, tables = quality.calibration(y, p, groups=g, strategy="quantile", bins=5)
    for i, name in enumerate(got.groups):
        ece, table = quality.calibration(y[g == name], p[g == name], strategy="quantile", bins=5)
        assert got.values[i, 0] == pytest.approx(ece, rel=1e-12)
        np.testing.assert_array_equal(tables[(name, "prob")].edges, table.edges)


# ------------------------------------------------------------------ regression

REGRESSION = {
    "rmse": lambda y, p, w: skm.root_mean_squared_error(y, p, sample_weight=w),
    "mae": lambda y, p, w: skm.mean_absolute_error(y, p, sample_weight=w),
    "r2": lambda y, p, w: skm.r2_score(y, p, sample_weight=w, force_finite=False),
}


@pytest.mark.parametrize("metric", sorted(REGRESSION))
@settings(max_examples=120)
@given(data=st.data(), n_groups=st.integers(1, 3))
def test_regression_equals_sklearn(metric, data, n_groups):
    n = data.draw(st.integers(1, 50))
    values = st.one_of(st.floats(-1e4, 1e4, width=64), st.integers(-2, 2).map(float))
    y = data.draw(hnp.arrays(np.float64, n, elements=values))
    p = data.draw(hnp.arrays(np.float64, n, elements=values))
    w = data.draw(st.one_of(st.none(), hnp.arrays(np.float64, n, elements=WEIGHTS)))
    g = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, n_groups - 1)))
    got = getattr(quality, metric)(y, np.column_stack([p, p[::-1]]), sample_weight=w, groups=g)
    for i, v in enumerate(got.groups):
        rows = g == v
        for j, col in enumerate((p, p[::-1])):
            wr = None if w is None else w[rows]
            if (wr is not None and wr.sum() == 0):
                expected = float("nan")
            else:
                expected = _sk_or_nan(REGRESSION[metric], y[rows], col[rows], wr)
                if metric == "r2" and not np.isfinite(expected):
                    expected = float("nan")  # constant target: NaN (sklearn: NaN or -inf)
            if metric == "r2" and np.isfinite(expected):
                assert got.values[i, j] == pytest.approx(expected, rel=1e-9, abs=1e-9)
            else:
                _same(got.values[i, j], expected, f"{metric} {v} {j}")


# ---------------------------------------------------------------- input forms

def test_input_forms_give_the_same_values():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = rng.random((300, 2))
    frame = pd.DataFrame(s, columns=["old", "new"])
    got = quality.roc_auc(pd.Series(y.astype(bool)), frame)
    assert got.models == ["old", "new"]
    assert got.to_dict() == {"old": quality.roc_auc(y, s[:, 0]),
                             "new": quality.roc_auc(y.tolist(), s[:, 1].tolist())}
    assert quality.roc_auc(y, pd.Series(s[:, 0], name="m")) == quality.roc_auc(y, s[:, 0])
    halves = np.arange(300) % 2
    assert quality.roc_auc(y, pd.Series(s[:, 0], name="m"), groups=halves).to_dict() == {
        h: {"m": quality.roc_auc(y[halves == h], s[halves == h, 0])} for h in (0, 1)}
    yes_no = np.where(y == 1, "yes", "no")
    assert quality.roc_auc(yes_no, s[:, 0], pos_label="yes") == quality.roc_auc(y, s[:, 0])
    assert quality.roc_auc(y, s[:, 0].astype(np.float32)) == pytest.approx(
        skm.roc_auc_score(y, s[:, 0].astype(np.float32)), rel=RTOL)
    by_pandas = quality.roc_auc(y, s, groups=pd.Series(np.where(y == 1, "b", "a")))
    assert by_pandas.groups == ["a", "b"]
    table = got.to_pandas()
    assert list(table.columns) == ["old", "new"]


def test_known_answers():
    # pairs (positive weight x negative weight): tie 2*1/2 + 0 + 4*1 + tie 4*3/2 = 11 of 6*4
    assert quality.roc_auc([0, 1, 0, 1], [1, 1, 2, 2], sample_weight=[1, 2, 3, 4]) == 11 / 24
    # thresholds 0.8 (P=1, R=1/2), 0.4 (P=2/3, R=1): AP = 1/2 * 1 + 1/2 * 2/3
    assert quality.average_precision([1, 0, 1, 0], [0.8, 0.6, 0.4, 0.1]) == 0.5 + 1 / 3
    # bins [0, .5], (.5, 1]: |0.35 - 0| + |0.75 - 1| each over half the rows
    ece, table = quality.calibration([0, 0, 1, 1], [0.3, 0.4, 0.6, 0.9], bins=2)
    assert ece == pytest.approx((0.35 + 0.25) / 2, rel=1e-15)
    assert table.count.tolist() == [2, 2]


def test_one_class_is_nan_and_documented_values():
    assert np.isnan(quality.roc_auc([1, 1, 1], [0.1, 0.5, 0.9]))
    assert np.isnan(quality.roc_auc([0, 0], [0.1, 0.5]))
    assert np.isnan(quality.average_precision([0, 0], [0.1, 0.5]))
    assert quality.average_precision([1, 1], [0.1, 0.5]) == 1.0
    assert quality.roc_auc([0, 1, 0, 1], [3.0, 3.0, 3.0, 3.0]) == 0.5  # constant scores
    # zero weight on every positive: one class left
    assert np.isnan(quality.roc_auc([0, 1, 0, 1], [1, 2, 3, 4], sample_weight=[1, 0, 1, 0]))
    assert quality.log_loss([1, 1], [0.9, 0.8]) == pytest.approx(
        skm.log_loss([1, 1], [0.9, 0.8], labels=[0, 1]), rel=RTOL)
    p, r, f1 = quality.precision_recall_f1([0, 0, 1], [0.1, 0.2, 0.3], threshold=0.9)
    assert np.isnan(p) and r == 0.0 and f1 == 0.0


def test_evaluate_equals_the_single_metrics():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 500)
    p = rng.random((500, 2))
    g = rng.integers(0, 3, 500)
    w = rng.random(500)
    got = quality.evaluate(y, p, quality.METRICS, groups=g, sample_weight=w, threshold=0.4,
                           bins=7)
    assert list(got) == list(quality.METRICS)
    for name in ("roc_auc", "average_precision", "log_loss", "brier_score"):
        single = getattr(quality, name)(y, p, groups=g, sample_weight=w)
        np.testing.assert_array_equal(got[name].values, single.values)
    prf = quality.precision_recall_f1(y, p, groups=g, sample_weight=w, threshold=0.4)
    for name, value in zip(("precision", "recall", "f1"), prf):
        np.testing.assert_array_equal(got[name].values, value.values)
    np.testing.assert_array_equal(
        got["accuracy"].values,
        quality.accuracy(y, p, groups=g, sample_weight=w, threshold=0.4).values)
    np.testing.assert_array_equal(
        got["ece"].values, quality.calibration(y, p, groups=g, sample_weight=w, bins=7).ece.values)
    assert quality.evaluate(y, p[:, 0], ["roc_auc"]) == {"roc_auc": quality.roc_auc(y, p[:, 0])}


# --------------------------------------------------------------------- errors

@pytest.mark.parametrize("call,error,match", [
    (lambda: quality.roc_auc([0, 1, 2], [0.1, 0.2, 0.3]), ValueError,
     r"y_true is not binary: values \[0, 1, 2\]"),
    (lambda: quality.roc_auc([0, 1, np.nan], [0.1, 0.2, 0.3]), ValueError,
     "y_true has 1 NaN rows"),
    (lambda: quality.roc_auc([0, 1, 1], [0.1, np.nan, 0.3]), ValueError,
     "scores has 1 NaN rows of 3"),
    (lambda: quality.roc_auc([0, 1], pd.DataFrame({"a": [0.1, 0.2], "b": [np.nan, 0.1]})),
     ValueError, "scores column 'b' has 1 NaN rows"),
    (lambda: quality.roc_auc([0, 1], [0.1, 0.2, 0.3]), ValueError, "y_true has 2 rows"),
    (lambda: quality.roc_auc([0, 1], [0.1, 0.2], sample_weight=[1, -1]), ValueError,
     "finite and non-negative"),
    (lambda: quality.roc_auc([0, 1], [0.1, 0.2], groups=[1.0, np.nan]), ValueError,
     "groups has 1 NaN"),
    (lambda: quality.roc_auc([], []), ValueError, "no rows"),
    (lambda: quality.roc_auc(["a", "b", "c"], [1, 2, 3], pos_label="a"), ValueError,
     "not binary"),
    (lambda: quality.roc_auc(["a", "b"], [1, 2], pos_label="z"), ValueError,
     "pos_label='z' is not one of"),
    (lambda: quality.roc_auc([0, 1], ["x", "y"]), TypeError, "numbers"),
    (lambda: quality.roc_auc(np.array(["a", None, "b"], dtype=object), [1, 2, 3],
                             pos_label="a"), TypeError, "cannot be compared"),
    (lambda: quality.log_loss([0, 1], [0.1, 1.2]), ValueError, r"probabilities in \[0, 1\]"),
    (lambda: quality.accuracy([0, 1], [0.1, 0.2], threshold=np.nan), ValueError, "threshold"),
    (lambda: quality.calibration([0, 1], [0.1, 0.2], bins=0), ValueError, "bins"),
    (lambda: quality.calibration([0, 1], [0.1, 0.2], strategy="kmeans"), ValueError,
     "strategy"),
    (lambda: quality.rmse([1.0, np.inf], [1.0, 2.0]), ValueError, "y_true has 1 NaN or inf"),
    (lambda: quality.evaluate([0, 1], [0.1, 0.2], ["auc"]), ValueError, "metrics must be"),
    (lambda: quality.roc_auc([0, 1], np.zeros((2, 2, 2))), ValueError, "1-D .* or 2-D"),
])
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()
