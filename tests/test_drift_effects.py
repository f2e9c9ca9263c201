"""Effect sizes in the data's units (#24): mean and median shift, ratio of
spreads, the percentile that moved most; the category whose share changed
most; exact sums, whatever the batching."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastmlops.drift import DriftReference
from fastmlops.drift._effects import summarize, summarize_rows

_floats = st.floats(allow_nan=True, allow_infinity=False, width=64)


@settings(max_examples=200, deadline=None)
@given(st.lists(_floats, max_size=60))
def test_exact_sum_equals_fsum(values):
    x = np.array(values, dtype=np.float64)
    s = summarize(x)
    finite = x[~np.isnan(x)]
    # the exact sum, rounded once, is math.fsum (exact, correctly rounded)
    n = max(1, finite.size)
    if finite.size:
        from fractions import Fraction

        assert Fraction(s.scaled_sum, 1 << 1075) == sum(Fraction(v) for v in finite.tolist())
        assert s.low == finite.min() and s.high == finite.max()
        mean = s.mean(n)
        exact = sum(Fraction(v) for v in finite.tolist()) / n
        assert mean == float(exact)
    else:
        assert s.scaled_sum == 0 and s.low == math.inf and s.high == -math.inf


@settings(max_examples=60, deadline=None)
@given(st.lists(_floats, min_size=1, max_size=80), st.integers(1, 79))
def test_sum_does_not_depend_on_the_split(values, cut):
    x = np.array(values, dtype=np.float64)
    a, b = summarize(x[:cut]), summarize(x[cut:])
    assert a.merge(b) == b.merge(a) == summarize(x) == summarize(x[::-1].copy())


def test_summary_of_special_values_and_dtypes():
    x = np.array([1.0, np.inf, -2.0, np.nan, 5e-324, -np.inf, np.inf])
    s = summarize(x)
    assert (s.n_pos_inf, s.n_neg_inf, s.low, s.high) == (2, 1, -np.inf, np.inf)
    assert math.isnan(s.mean(6))
    assert summarize(np.array([1.0, np.inf])).mean(2) == np.inf
    assert summarize(np.array([2, 3, 7], dtype=np.int64)).mean(3) == 4.0
    assert summarize(np.array([0.5, 0.25], dtype=np.float32)).mean(2) == 0.375
    assert summarize(np.array([2**63 + 2048], dtype=np.uint64)).mean(1) == float(2**63 + 2048)


def test_rows_of_a_table_equal_its_columns():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(200_001, 3)) * np.array([1, 1e300, 1e-300])
    t[::7, 1] = np.nan
    got = summarize_rows(np.ascontiguousarray(t))
    for j in range(3):
        assert got[j] == summarize(np.ascontiguousarray(t[:, j]))


def test_numeric_effects_against_numpy():
    rng = np.random.default_rng(1)
    ref_x, cur_x = rng.normal(40, 10, 20_000), rng.normal(43, 12, 8_000)
    report = DriftReference({"x": ref_x}).check({"x": cur_x})
    e = report.effects[0]
    assert e is not None
    assert e["mean_shift"] == pytest.approx(cur_x.mean() - ref_x.mean(), rel=1e-12)
    # quantiles are interpolated on the reference's 24-point grid: within a
    # small share of the spread of the exact ones
    true_median = np.median(cur_x) - np.median(ref_x)
    assert abs(e["median_shift"] - true_median) < 0.05 * 10
    def iqr(v: np.ndarray) -> float:
        return float(np.subtract(*np.percentile(v, [75, 25])))

    assert e["spread_ratio"] == pytest.approx(iqr(cur_x) / iqr(ref_x), abs=0.05)
    p = e["quantile"]
    true = np.quantile(cur_x, p) - np.quantile(ref_x, p)
    assert abs(e["quantile_shift"] - true) < 0.1 * 10
    # the shift grows with the percentile (larger spread): the top one moves most
    assert p >= 0.8
    assert e["text"].startswith("Mean +") and "percentile moved most" in e["text"]


def test_effects_equal_in_memory_and_streamed():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(2)
    ref = DriftReference(pd.DataFrame({"x": rng.normal(size=5000),
                                       "c": rng.choice(["a", "b", "c"], 5000)}))
    cur = pd.DataFrame({"x": rng.normal(0.3, 1, 3000) * 1e-3 + 1e6,
                        "c": rng.choice(["a", "b", "d"], 3000)})
    whole = ref.check(cur)
    parts = ref.check([cur.iloc[:1111], cur.iloc[1111:2000], cur.iloc[2000:]])
    assert parts.to_json() == whole.to_json()
    assert whole.effects[0]["mean_shift"] == pytest.approx(
        cur["x"].mean() - ref.column_models[0].sorted_values.mean(), rel=1e-15)


def test_categorical_effect():
    rng = np.random.default_rng(3)
    ref = DriftReference({"plan": rng.choice(["free", "pro"], 4000, p=[0.7, 0.3])})
    cur = np.array(["free"] * 500 + ["pro"] * 400 + ["team"] * 100, dtype=object)
    report = ref.check({"plan": cur})
    e = report.effects[0]
    ref_pro = float(np.mean(ref.column_models[0].categories.counts[
        list(ref.column_models[0].categories.categories).index("pro")] / 4000))
    assert e["category"] == "free"  # 0.70 -> 0.50: the largest change
    assert e["current_share"] == 0.5 and e["change"] == pytest.approx(0.5 - (1 - ref_pro))
    assert e["text"].startswith("'free' changed most: ")
    cur2 = np.array(["free"] * 700 + ["pro"] * 100 + ["team"] * 200, dtype=object)
    e2 = ref.check({"plan": cur2}).effects[0]
    assert e2["category"] in ("pro", "(new values)")


def test_effects_in_every_format():
    rng = np.random.default_rng(4)
    ref = DriftReference({"x": rng.normal(size=3000)})
    report = ref.check({"x": rng.normal(2, 1, size=1000)})
    text = report.effects[0]["text"]
    assert text in report.format()
    assert text.replace(">", "&gt;").split(";")[0] in report.format(markdown=True)
    d = json.loads(report.to_json())
    assert d["columns"][0]["effect"]["text"] == text
    assert d["columns"][0]["effect"]["mean_shift"] == pytest.approx(2, abs=0.1)


def test_current_outside_the_reference_leaves_quantiles_out():
    rng = np.random.default_rng(5)
    ref = DriftReference({"x": rng.normal(size=3000)})
    report = ref.check({"x": rng.normal(size=500) + 50})
    e = report.effects[0]
    assert e["mean_shift"] == pytest.approx(50, abs=0.2)
    assert e["median_shift"] is None and e["quantile"] is None and e["spread_ratio"] is None
    assert e["text"].startswith("Mean +49.9") and e["text"].endswith(")."), e["text"]
