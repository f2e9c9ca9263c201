"""Small batches (#24): the report says when a batch is too small for its
tests to see a 0.5 SD shift, with the power at that size."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import ks_2samp

from fastmlops.drift import DriftReference
from fastmlops.drift._power import ks_shift_power, rows_for_half_power


@pytest.mark.parametrize("n_ref, n_cur, alpha", [
    (1000, 12, 0.005), (1000, 45, 0.005), (500, 30, 0.025), (4000, 80, 0.0005),
])
def test_power_matches_a_simulation_of_scipy(n_ref, n_cur, alpha):
    rng = np.random.default_rng(n_ref + n_cur)
    trials = 600
    hits = sum(ks_2samp(rng.normal(size=n_ref), rng.normal(0.5, 1, size=n_cur)).pvalue < alpha
               for _ in range(trials))
    # the approximation's error (0.042 at most in the fit) plus 3 binomial SE
    se = np.sqrt(0.25 / trials)
    assert abs(hits / trials - ks_shift_power(n_ref, n_cur, alpha)) <= 0.05 + 3 * se


def test_rows_for_half_power_gives_half_power():
    for n_ref, alpha in ((1000, 0.005), (50_000, 0.025), (300, 0.0005)):
        need = rows_for_half_power(n_ref, alpha)
        assert need is not None
        assert ks_shift_power(n_ref, need, alpha) >= 0.5 > ks_shift_power(n_ref, need - 1, alpha)
    assert rows_for_half_power(20, 0.005) is None  # a reference too small for any batch
    assert ks_shift_power(0, 10, 0.01) == ks_shift_power(10, 0, 0.01) == 0.0


def test_small_batch_is_said_in_every_format():
    rng = np.random.default_rng(0)
    ref = DriftReference({"x": rng.normal(size=2000), "y": rng.normal(size=2000),
                          "c": rng.choice(["a", "b"], size=2000)})
    cur = {"x": rng.normal(size=20), "y": rng.normal(size=20), "c": rng.choice(["a", "b"], 20)}
    cur["y"][:15] = np.nan  # five values left: the lowest power
    report = ref.check(cur)
    small = report.small_batch()
    assert small is not None
    assert small["columns"] == ["x", "y"] and small["n_current"] == 5
    assert small["power"] == pytest.approx(report.power[1]) and small["power"] < 0.1
    assert small["n_needed"] == rows_for_half_power(2000, 0.005)
    assert small["text"].startswith("The batch is too small to see a shift of 0.5 standard "
                                    "deviations in 2 numeric columns (lowest: 'y'): with 5 "
                                    "values the KS test detects one with probability")
    assert np.isnan(report.power[2])  # categorical: no power figure
    lines = report.format().splitlines()
    assert lines[0] == report.headline() and lines[1] == "warning: " + small["text"]
    md = report.format(markdown=True).splitlines()
    assert md[1] == "" and md[2].startswith("Warning: The batch is too small")
    d = json.loads(report.to_json())
    assert d["summary"]["small_batch"]["columns"] == ["x", "y"]
    assert [c["power"] for c in d["columns"]][2] is None
    assert d["columns"][0]["power"] == pytest.approx(report.power[0])


def test_no_warning_for_a_batch_that_can_see_the_shift():
    rng = np.random.default_rng(1)
    ref = DriftReference(rng.normal(size=(2000, 2)))
    report = ref.check(rng.normal(size=(300, 2)))
    assert report.small_batch() is None
    assert json.loads(report.to_json())["summary"]["small_batch"] is None
    assert "warning" not in report.format()
    assert np.all(report.power > 0.99)


def test_warning_matches_the_rule_on_real_shifts():
    """Batches the report calls too small detect a 0.5 SD shift less than half
    the time (the verdict "drift"), large enough ones at least half the time."""
    rng = np.random.default_rng(2)
    ref = DriftReference(rng.normal(size=(3000, 1)))
    need = rows_for_half_power(3000, 0.005)
    for n, small in ((need // 2, True), (2 * need, False)):
        drift = 0
        trials = 150
        for _ in range(trials):
            report = ref.check(rng.normal(0.5, 1, size=(n, 1)))
            assert (report.small_batch() is not None) == small
            drift += report.column_verdict[0] == "drift"
        assert (drift / trials < 0.5) == small, (n, drift)
