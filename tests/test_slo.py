"""SLOs: error budgets, SLIs, burn rates, the monitor and the Prometheus rules."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import threading
import time
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

import fastmlops.slo as slo
from fastmlops.slo import (DEFAULT_RULES, BurnRateRule, EventCounters, LatencyHistogram,
                           SLOMonitor, availability, burn_rates, error_budget,
                           latency_sli, latency_sli_from_histogram, latest_burn_rates,
                           nearest_rank_quantile, prometheus_rules, window_counts)

MONTH = timedelta(days=30)
YEAR = timedelta(days=365)


# --------------------------------------------------------------------------- error budget
# The seed's table: (objective, per 30 days, per 365 days), exact values.
BUDGET_TABLE = [
    (0.99, timedelta(hours=7, minutes=12), timedelta(days=3, hours=15, minutes=36)),
    (0.999, timedelta(minutes=43, seconds=12), timedelta(hours=8, minutes=45, seconds=36)),
    (0.9999, timedelta(minutes=4, seconds=19, milliseconds=200),
     timedelta(minutes=52, seconds=33, milliseconds=600)),
    (0.99999, timedelta(seconds=25, milliseconds=920),
     timedelta(minutes=5, seconds=15, milliseconds=360)),
]


@pytest.mark.parametrize("objective, month, year", BUDGET_TABLE)
def test_error_budget_table(objective, month, year):
    assert error_budget(objective) == month
    assert error_budget(objective, MONTH) == month
    assert error_budget(objective, period=YEAR) == year
    assert type(error_budget(objective)) is timedelta


def test_error_budget_table_as_the_seed_writes_it():
    assert error_budget(0.99) / timedelta(hours=1) == 7.2
    assert error_budget(0.99, YEAR) / timedelta(days=1) == 3.65
    assert error_budget(0.999) / timedelta(minutes=1) == 43.2
    assert error_budget(0.999, YEAR) / timedelta(hours=1) == 8.76
    assert error_budget(0.9999) / timedelta(minutes=1) == 4.32
    assert round(error_budget(0.9999, YEAR) / timedelta(minutes=1), 1) == 52.6
    assert error_budget(0.99999).total_seconds() == 25.92
    assert round(error_budget(0.99999).total_seconds()) == 26
    assert round(error_budget(0.99999, YEAR) / timedelta(minutes=1), 2) == 5.26


def test_error_budget_exact_for_many_objectives_and_periods():
    rng = np.random.default_rng(11)
    for _ in range(300):
        thousandths = int(rng.integers(1, 100_000))
        objective = thousandths / 100_000
        period = timedelta(seconds=int(rng.integers(1, 10**8)),
                           microseconds=int(rng.integers(0, 10**6)))
        micros = period // timedelta(microseconds=1)
        expected = Fraction(100_000 - thousandths, 100_000) * micros
        assert error_budget(objective, period) == timedelta(microseconds=round(expected))


def test_error_budget_other_number_types():
    assert error_budget(Fraction(999, 1000)) == timedelta(minutes=43, seconds=12)
    assert error_budget(Decimal("0.999")) == timedelta(minutes=43, seconds=12)
    assert error_budget(np.float64(0.999)) == timedelta(minutes=43, seconds=12)
    assert error_budget(np.float32(0.999)) == timedelta(minutes=43, seconds=12)
    assert error_budget(Fraction(2, 3), timedelta(seconds=1)) == timedelta(microseconds=333333)


@pytest.mark.parametrize("bad", [0, 1, 0.0, 1.0, -0.1, 1.5, float("nan"), float("inf")])
def test_error_budget_objective_out_of_range(bad):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        error_budget(bad)


def test_error_budget_percent_hint():
    with pytest.raises(ValueError, match="write 99.9 % as 0.999"):
        error_budget(99.9)


@pytest.mark.parametrize("bad", ["0.999", None, True, [0.999]])
def test_error_budget_objective_type(bad):
    with pytest.raises(TypeError, match="objective must be a number"):
        error_budget(bad)


@pytest.mark.parametrize("bad", [30, 30.0, "30d", None, np.timedelta64(30, "D")])
def test_error_budget_period_type(bad):
    with pytest.raises(TypeError, match="period must be a datetime.timedelta"):
        error_budget(0.999, bad)


@pytest.mark.parametrize("bad", [timedelta(0), timedelta(days=-1)])
def test_error_budget_period_positive(bad):
    with pytest.raises(ValueError, match="period must be positive"):
        error_budget(0.999, bad)


# --------------------------------------------------------------------------- SLIs
def test_availability():
    assert availability(982, 1000) == 0.982
    assert availability(5, 5) == 1.0
    assert availability(0, 0) == 0.0  # the seed's successful / max(total, 1)
    with pytest.raises(ValueError, match="must not exceed total"):
        availability(6, 5)
    with pytest.raises(ValueError, match=">= 0"):
        availability(-1, 5)
    with pytest.raises(ValueError, match="whole number"):
        availability(1.5, 5)
    with pytest.raises(TypeError, match="whole number"):
        availability("1", 5)


def test_latency_sli():
    assert latency_sli([20, 50, 100, 180], 100) == 0.75  # <= threshold is fast
    assert latency_sli([], 100) == 0.0
    with pytest.raises(ValueError, match="NaN"):
        latency_sli([1.0, float("nan")], 100)
    with pytest.raises(ValueError, match="finite"):
        latency_sli([1.0], float("inf"))


LE = [0.05, 0.1, 0.25, 0.5, float("inf")]
COUNTS = [600, 900, 980, 990, 1000]


def test_latency_sli_from_histogram_at_bounds():
    for bound, count in zip(LE[:-1], COUNTS[:-1]):
        assert latency_sli_from_histogram(LE, COUNTS, bound) == count / 1000
        assert latency_sli_from_histogram(LE, COUNTS, bound, interpolate=True) == count / 1000


def test_latency_sli_from_histogram_needs_a_bound():
    with pytest.raises(ValueError, match=r"0.2 is not a bucket bound .*0.05, 0.1, 0.25, 0.5.*"
                                         r"interpolate=True"):
        latency_sli_from_histogram(LE, COUNTS, 0.2)


def test_latency_sli_from_histogram_interpolation():
    # linear within (0.1, 0.25]: 900 + 0.5 * 80
    assert latency_sli_from_histogram(LE, COUNTS, 0.175, interpolate=True) == pytest.approx(0.94)
    # first bucket from 0: 0.025 is half of (0, 0.05]
    assert latency_sli_from_histogram(LE, COUNTS, 0.025, interpolate=True) == pytest.approx(0.3)
    assert latency_sli_from_histogram(LE, COUNTS, -1.0, interpolate=True) == 0.0
    # beyond the last finite bound: that bound's count
    assert latency_sli_from_histogram(LE, COUNTS, 7.0, interpolate=True) == 0.99
    # monotone in the threshold
    grid = np.linspace(0, 0.6, 61)
    values = [latency_sli_from_histogram(LE, COUNTS, t, interpolate=True) for t in grid]
    assert np.all(np.diff(values) >= 0)


def test_latency_sli_from_histogram_bad_input():
    assert latency_sli_from_histogram(LE, [0] * 5, 0.1) == 0.0
    with pytest.raises(ValueError, match="same length"):
        latency_sli_from_histogram(LE, COUNTS[:-1], 0.1)
    with pytest.raises(ValueError, match="strictly increasing"):
        latency_sli_from_histogram([0.1, 0.05, float("inf")], [1, 2, 3], 0.1)
    with pytest.raises(ValueError, match="non-decreasing"):
        latency_sli_from_histogram(LE, [600, 500, 980, 990, 1000], 0.1)
    with pytest.raises(TypeError):
        latency_sli_from_histogram(["a"], [1], 0.1)


def test_nearest_rank_quantile_seed_rule():
    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 10, 50, 51, 150, 999, 1000):
        values = rng.exponential(50, size=n).round(1)
        ordered = sorted(values)
        for q in (0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0):
            assert nearest_rank_quantile(values, q) == ordered[min(round(q * n), n - 1)]


def test_nearest_rank_quantile_is_not_numpy_interpolation():
    window = [50] * 990 + [148] + [200] * 9
    assert nearest_rank_quantile(window, 0.99) == 148.0
    assert np.quantile(window, 0.99) != 148.0
    assert nearest_rank_quantile([1, 2, 3], 0.99) == 3.0  # index 3 clamped to 2


def test_nearest_rank_quantile_bad_input():
    with pytest.raises(ValueError, match="empty"):
        nearest_rank_quantile([], 0.99)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nearest_rank_quantile([1.0], 99)
    with pytest.raises(ValueError, match="NaN"):
        nearest_rank_quantile([1.0, float("nan")], 0.5)


# --------------------------------------------------------------------------- burn rates
WINDOWS = (5, 30, 60, 120, 360, 1440, 4320)


def _series(n, seed, zero_share=0.1):
    """Per-minute counts with bursts of errors and some minutes without traffic."""
    rng = np.random.default_rng(seed)
    total = rng.poisson(rng.choice([0.5, 5, 200]), size=n)
    total[rng.random(n) < zero_share] = 0
    total[n // 3: n // 3 + 400] = 0  # a long outage of traffic
    err = np.where(rng.random(n) < 0.05, 0.3, 0.0005)
    good = total - rng.binomial(total, err)
    return good.astype(np.int64), total.astype(np.int64)


def _reference_sums(x, w):
    """Obvious rolling sum: window of w minutes ending at i, truncated at 0."""
    return np.array([int(np.sum(x[max(0, i - w + 1): i + 1])) for i in range(len(x))])


def _reference_rates(good, total, objective, w):
    budget = float(1 - Fraction(str(objective)))
    t = _reference_sums(total, w)
    b = _reference_sums(total - good, w)
    return np.array([(bb / tt) / budget if tt else 0.0 for bb, tt in zip(b, t)])


def test_window_counts_exact_vs_loop():
    good, total = _series(3000, 1)
    got = window_counts(total, WINDOWS)
    assert got.dtype == np.int64
    for k, w in enumerate(WINDOWS):
        np.testing.assert_array_equal(got[k], _reference_sums(total, w))


def test_window_counts_vs_convolve_30_days():
    rng = np.random.default_rng(2)
    x = rng.poisson(1000, size=43_200)
    got = window_counts(x)
    for k, w in enumerate(WINDOWS):
        np.testing.assert_array_equal(got[k], np.convolve(x, np.ones(w, dtype=np.int64))[:x.size])


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("objective", [0.9, 0.999, 0.99999])
def test_burn_rates_vs_reference(seed, objective):
    good, total = _series(2500, seed)
    res = burn_rates(good, total, objective)
    assert res.windows == WINDOWS
    assert res.rates.shape == (7, 2500)
    assert not np.isnan(res.rates).any()
    for k, w in enumerate(WINDOWS):
        np.testing.assert_allclose(res.rates[k], _reference_rates(good, total, objective, w),
                                   rtol=1e-12, atol=0)


def test_burn_rates_30_days_vs_convolve():
    rng = np.random.default_rng(5)
    total = rng.poisson(1000, size=43_200)
    good = total - rng.binomial(total, 0.002)
    res = burn_rates(good, total, 0.999)
    ones = np.ones(4320, dtype=np.int64)
    for k, w in enumerate(WINDOWS):
        t = np.convolve(total, ones[:w])[:total.size]
        b = np.convolve(total - good, ones[:w])[:total.size]
        np.testing.assert_allclose(res.rates[k], b / t / 0.001, rtol=1e-12, atol=0)


def test_latest_burn_rates_matches_full_series():
    good, total = _series(5000, 7)
    full = burn_rates(good, total, 0.995).latest()
    latest = latest_burn_rates(good, total, 0.995)
    assert list(latest) == [timedelta(minutes=w) for w in WINDOWS]
    for w, rate in latest.items():
        assert rate == pytest.approx(full[w], rel=1e-12, abs=0)


def test_burn_rates_windows_argument():
    good, total = _series(300, 4)
    res = burn_rates(good, total, 0.99, windows=[timedelta(hours=1), 7])
    assert res.windows == (60, 7)
    np.testing.assert_array_equal(res.rate(timedelta(minutes=7)), res.rates[1])
    with pytest.raises(KeyError, match="was not evaluated"):
        res.rate(5)


def test_zero_traffic_is_burn_rate_zero():
    res = burn_rates(np.zeros(100, int), np.zeros(100, int), 0.999)
    assert np.all(res.rates == 0)
    good = np.r_[np.full(50, 90), np.zeros(50, int)]
    total = np.r_[np.full(50, 100), np.zeros(50, int)]
    res = burn_rates(good, total, 0.99, windows=[5, 60])
    assert not np.isnan(res.rates).any()
    assert np.all(res.rate(5)[54:] == 0)          # only quiet minutes in the window
    assert res.rate(60)[-1] == pytest.approx(10)  # the errors are still in the hour
    assert latest_burn_rates(good, total, 0.99, windows=[5]) == {timedelta(minutes=5): 0.0}


def test_empty_series():
    res = burn_rates([], [], 0.999)
    assert res.rates.shape == (7, 0)
    with pytest.raises(ValueError, match="empty"):
        res.latest()
    with pytest.raises(ValueError, match="empty"):
        latest_burn_rates([], [], 0.999)


def test_burn_rates_accepts_integral_floats_and_small_ints():
    res = burn_rates(np.array([9.0, 10.0]), np.array([10, 10], dtype=np.uint8), 0.9, windows=[1])
    np.testing.assert_allclose(res.rates[0], [1.0, 0.0], rtol=1e-12)


@pytest.mark.parametrize("good, total, exc, match", [
    ([1, 2], [1, 2, 3], ValueError, "same length"),
    ([1, -1], [1, 2], ValueError, "good must be >= 0; minute 1"),
    ([1, 3], [1, 2], ValueError, "minute 1 has good=3 > total=2"),
    ([0, 0], [1, -2], ValueError, "minute 1 has good=0 > total=-2"),
    ([[1]], [[1]], ValueError, "1-D"),
    ([0.5], [1], ValueError, "whole numbers"),
    ([np.nan], [1], ValueError, "whole numbers"),
    (["a"], [1], TypeError, "numbers"),
])
def test_burn_rates_bad_counts(good, total, exc, match):
    with pytest.raises(exc, match=match):
        burn_rates(good, total, 0.999)


def test_burn_rates_bad_objective_and_windows():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        burn_rates([1], [1], 1.0)
    with pytest.raises(ValueError, match="whole number of minutes"):
        burn_rates([1], [1], 0.99, windows=[timedelta(seconds=30)])
    with pytest.raises(ValueError, match="at least 1 minute"):
        burn_rates([1], [1], 0.99, windows=[0])
    with pytest.raises(TypeError, match="timedelta"):
        burn_rates([1], [1], 0.99, windows=["5m"])
    with pytest.raises(ValueError, match="windows is empty"):
        burn_rates([1], [1], 0.99, windows=[])


# --------------------------------------------------------------------------- alert logic
PAGE_1H = DEFAULT_RULES[0]


def _hour_pattern(errors_in):
    """120 minutes of 1000 requests; 2 % errors (burn 20 at 99.9 %) in the given minutes."""
    total = np.full(120, 1000)
    good = total.copy()
    good[errors_in] -= 20
    return good, total


@pytest.mark.parametrize("errors_in, fires", [
    (slice(60, 110), False),  # long window 16.7 > 14.4, last 5 minutes clean
    (slice(115, 120), False),  # short window 20, long window only 1.7
    (slice(60, 120), True),   # both 20
    (slice(0, 60), False),    # an hour ago
])
def test_alert_needs_both_windows(errors_in, fires):
    good, total = _hour_pattern(errors_in)
    res = burn_rates(good, total, 0.999)
    assert bool(res.firing([PAGE_1H])["Page1h"][-1]) is fires


def test_default_rules_are_the_workbook_ones():
    table = [(r.severity, r.burn_rate, r.long_window, r.short_window) for r in DEFAULT_RULES]
    assert table == [
        ("page", 14.4, timedelta(hours=1), timedelta(minutes=5)),
        ("page", 6.0, timedelta(hours=6), timedelta(minutes=30)),
        ("ticket", 3.0, timedelta(days=1), timedelta(hours=2)),
        ("ticket", 1.0, timedelta(days=3), timedelta(hours=6)),
    ]


def test_threshold_is_strict():
    rule = BurnRateRule("Eq", "ticket", 1.0, 2, 1)
    res = burn_rates([5, 5], [10, 10], 0.5, windows=[1, 2])  # burn rate exactly 1
    assert np.all(res.rates == 1.0)
    assert not res.firing([rule])["Eq"].any()


def test_firing_vs_reference():
    good, total = _series(6000, 9)
    res = burn_rates(good, total, 0.99)
    fired = res.firing()
    for r in DEFAULT_RULES:
        long_w, short_w = r.windows
        ref = ((_reference_rates(good, total, 0.99, long_w) > r.burn_rate)
               & (_reference_rates(good, total, 0.99, short_w) > r.burn_rate))
        np.testing.assert_array_equal(fired[r.name], ref)
    assert any(f.any() for f in fired.values()) and not all(f.all() for f in fired.values())


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="1bad"), "rule name"),
    (dict(severity="sms"), "severity must be 'page' or 'ticket'"),
    (dict(burn_rate=0), "burn_rate must be positive"),
    (dict(long_window=timedelta(seconds=90)), "whole number of minutes"),
])
def test_rule_validation(kwargs, match):
    args = dict(name="R", severity="page", burn_rate=2.0, long_window=timedelta(hours=1),
                short_window=timedelta(minutes=5))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        BurnRateRule(**args)


def test_rules_list_validation():
    good, total = _hour_pattern(slice(0, 1))
    res = burn_rates(good, total, 0.999)
    with pytest.raises(ValueError, match="unique"):
        res.firing([PAGE_1H, PAGE_1H])
    with pytest.raises(TypeError, match="BurnRateRule"):
        res.firing(["Page1h"])
    with pytest.raises(ValueError, match="empty"):
        res.firing([])


# --------------------------------------------------------------------------- monitor
class FakeClock:
    def __init__(self, t=1_700_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


def _seed_stream(mon):
    """1000 requests: 18 failures, sorted latencies have 148 ms at index 990."""
    for i in range(1000):
        latency = 40 if i < 990 else (148 if i == 990 else 200)
        mon.record(latency_ms=latency, success=i >= 18)


def test_seed_check_is_reproduced():
    alerts = []
    mon = SLOMonitor(availability_objective=0.999, latency_threshold_ms=100,
                     handlers=[alerts.append], clock=FakeClock())
    _seed_stream(mon)
    status = mon.evaluate()
    assert status.check_line == "availability=0.9820, p99_latency=148ms"
    assert status.availability == 0.982 and status.latency == 148.0
    assert (status.good, status.total) == (982, 1000)
    assert not status.ok
    check = [a for a in alerts if a.name == "slo_check"]
    assert len(check) == 1
    assert check[0].severity == "page"
    assert "availability=0.9820, p99_latency=148ms" in check[0].message
    assert "availability < 0.999" in check[0].message and "p99_latency > 100ms" in check[0].message
    # 1.8 % errors is burn rate 18: every burn-rate rule fires too
    assert {a.name for a in alerts} == {"slo_check"} | {f"availability:{r.name}"
                                                          for r in DEFAULT_RULES}
    page = next(a for a in alerts if a.name == "availability:Page1h")
    assert page.severity == "page" and page.sli == "availability"
    assert page.burn_rates == {timedelta(hours=1): pytest.approx(18),
                               timedelta(minutes=5): pytest.approx(18)}
    assert status.budget_remaining["availability"] == pytest.approx(1 - 18)


def test_seed_check_each_condition_alone():
    mon = SLOMonitor(clock=FakeClock())
    for _ in range(1000):
        mon.record(150, True)
    status = mon.evaluate()
    assert status.check_line == "availability=1.0000, p99_latency=150ms"
    assert [a.name for a in status.alerts] == ["slo_check"]
    assert "p99_latency > 100ms" in status.alerts[0].message
    assert "availability <" not in status.alerts[0].message

    mon = SLOMonitor(clock=FakeClock())
    for i in range(10_000):
        mon.record(100, i != 0)  # 99.99 %, latency exactly at the threshold
    status = mon.evaluate()
    assert status.ok
    assert status.check_line == "availability=0.9999, p99_latency=100ms"


def test_latency_window_keeps_last_1000():
    mon = SLOMonitor(clock=FakeClock())
    for _ in range(500):
        mon.record(500, True)
    for _ in range(1000):
        mon.record(10, True)
    assert mon.evaluate().latency == 10.0
    small = SLOMonitor(latency_window=3, latency_quantile=0.5, clock=FakeClock())
    for x in (1, 2, 3, 4):
        small.record(x)
    status = small.evaluate()
    # window [2, 3, 4]: index round(0.5 * 3) = round(1.5) = 2 (ties to even)
    assert status.latency == 4.0 and status.check_line.endswith("p50_latency=4ms")


def test_no_traffic():
    calls = []
    mon = SLOMonitor(handlers=[calls.append], clock=FakeClock())
    status = mon.evaluate()
    assert status.ok and not calls
    assert status.check_line == "availability=0.0000, p99_latency=n/a"
    assert status.budget_remaining == {"availability": 1.0}
    assert all(r == 0.0 for r in status.burn_rates["availability"].values())


def test_monitor_burn_rates_match_the_series_evaluator():
    clock = FakeClock(60.0 * 10_000_000)
    mon = SLOMonitor(0.99, latency_objective=0.9, clock=clock)
    rng = np.random.default_rng(21)
    n = 3000
    total = rng.poisson(3, size=n)
    total[1000:1300] = 0
    errors = rng.binomial(total, np.where(rng.random(n) < 0.1, 0.5, 0.01))
    slow = rng.binomial(total, 0.08)
    start = clock.t
    for m in range(n):
        for j in range(total[m]):
            clock.t = start + 60 * m + 59 * j / max(total[m], 1)
            latency = 150.0 if j < slow[m] else 20.0
            mon.record(latency, success=j >= errors[m])
    clock.t = start + 60 * (n - 1) + 59.5
    status = mon.evaluate()
    # the monitor's windows end at its current minute: the last minute of the series
    good_avail = total - errors
    expected = burn_rates(good_avail, total, 0.99).latest()
    for w, rate in expected.items():
        assert status.burn_rates["availability"][w] == pytest.approx(rate, rel=1e-12, abs=0)
    expected_lat = burn_rates(total - slow, total, 0.9).latest()
    for w, rate in expected_lat.items():
        assert status.burn_rates["latency"][w] == pytest.approx(rate, rel=1e-12, abs=0)
    assert status.total == total.sum()
    assert status.budget_remaining["availability"] == pytest.approx(
        1 - errors.sum() / total.sum() / 0.01, rel=1e-12)


def test_monitor_windows_follow_the_clock():
    clock = FakeClock(0.0)
    mon = SLOMonitor(0.999, clock=clock)
    for i in range(1000):
        mon.record(10, i >= 100)  # 10 % errors in minute 0
    assert mon.evaluate().burn_rates["availability"][timedelta(minutes=5)] == pytest.approx(100)
    clock.t = 60 * 5 - 1  # minute 4: minute 0 is still in the 5-minute window
    assert mon.evaluate().burn_rates["availability"][timedelta(minutes=5)] == pytest.approx(100)
    clock.t = 60 * 5  # minute 5: it has left
    rates = mon.evaluate().burn_rates["availability"]
    assert rates[timedelta(minutes=5)] == 0.0
    assert rates[timedelta(hours=1)] == pytest.approx(100)
    clock.t = 60 * 60 * 24 * 40  # 40 days later: everything has left, even the period
    status = mon.evaluate()
    assert all(r == 0.0 for r in status.burn_rates["availability"].values())
    assert status.total == 0 and status.budget_remaining["availability"] == 1.0
    clock.t -= 3600  # the clock going back counts in the latest minute seen
    mon.record(10, False)
    assert mon.evaluate().burn_rates["availability"][timedelta(minutes=5)] == pytest.approx(1000)


def test_handlers_once_per_episode_unless_repeat():
    clock = FakeClock()
    once, every = [], []
    mon = SLOMonitor(clock=clock, handlers=[once.append])
    mon_r = SLOMonitor(clock=clock, handlers=[every.append], repeat=True)
    for m in (mon, mon_r):
        for _ in range(100):
            m.record(500, True)  # p99 500 ms: the check fires
    for _ in range(3):
        mon.evaluate()
        mon_r.evaluate()
    assert [a.name for a in once] == ["slo_check"]
    assert [a.name for a in every] == ["slo_check"] * 3
    for _ in range(1000):
        mon.record(5, True)  # p99 back to 5 ms: resolved
    assert mon.evaluate().ok
    for _ in range(1000):
        mon.record(500, True)
    mon.evaluate()
    assert [a.name for a in once] == ["slo_check", "slo_check"]


def test_broken_handler_is_logged_and_others_still_run(caplog):
    got = []

    def broken(alert):
        raise RuntimeError("pager down")

    mon = SLOMonitor(clock=FakeClock(), handlers=[broken, got.append])
    mon.record(500, False)
    with caplog.at_level(logging.ERROR, logger="fastmlops.slo"):
        mon.evaluate()
    assert got and "pager down" in caplog.text


def test_background_thread_start_stop():
    fired = threading.Event()
    mon = SLOMonitor(clock=FakeClock(), handlers=[lambda a: fired.set()])
    mon.record(500, False)
    assert not mon.running
    mon.start(interval=0.01)
    try:
        assert mon.running
        with pytest.raises(RuntimeError, match="already running"):
            mon.start(0.01)
        assert fired.wait(10), "the background thread never evaluated"
    finally:
        mon.stop()
    assert not mon.running
    assert mon.last_status is not None and not mon.last_status.ok
    mon.stop()  # stopping twice is fine
    with SLOMonitor(clock=FakeClock()) as m2:
        m2.start(timedelta(milliseconds=10))
    assert not m2.running


def _run_until_first_alert(mon):
    """Run ``mon.run(0.01)`` on asyncio until a handler fires; the task must
    still be running then; cancel it."""
    async def main():
        fired = asyncio.Event()
        mon.add_handler(lambda alert: fired.set())
        task = asyncio.create_task(mon.run(0.01))
        await asyncio.wait_for(fired.wait(), 10)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_asyncio_run():
    mon = SLOMonitor(clock=FakeClock())
    mon.record(10, False)
    _run_until_first_alert(mon)
    assert mon.last_status.alerts[0].name == "slo_check"


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(availability_objective=99.9), ValueError, "availability_objective must be"),
    (dict(latency_objective=1), ValueError, "latency_objective must be"),
    (dict(latency_threshold_ms="100"), TypeError, "latency_threshold_ms must be a number"),
    (dict(latency_quantile=99), ValueError, r"latency_quantile must be in \[0, 1\]"),
    (dict(latency_window=0), ValueError, "latency_window must be a positive int"),
    (dict(period=30), TypeError, "period must be a datetime.timedelta"),
    (dict(period=timedelta(seconds=90)), ValueError, "whole number of minutes"),
    (dict(clock=5), TypeError, "clock must be a callable"),
    (dict(handlers=[5]), TypeError, "handler must be callable"),
    (dict(rules=[]), ValueError, "rules is empty"),
])
def test_monitor_bad_config(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        SLOMonitor(**kwargs)


def test_monitor_bad_record_and_interval():
    mon = SLOMonitor(clock=FakeClock())
    with pytest.raises(ValueError, match="latency_ms must be >= 0"):
        mon.record(-1)
    with pytest.raises(ValueError, match="finite"):
        mon.record(float("nan"))
    with pytest.raises(TypeError, match="latency_ms must be a number"):
        mon.record("12ms")
    with pytest.raises(ValueError, match="interval must be positive"):
        mon.start(0)
    assert not mon.running


# --------------------------------------------------------------------------- Prometheus
COUNTERS = EventCounters(total="http_requests_total", errors="http_requests_errors_total",
                         selector='job="api"')
GOOD = EventCounters(total="http_requests_total", good="http_requests_ok_total")
HIST = LatencyHistogram("http_request_duration_seconds", 0.1, selector='{job="api"}')
RULE_WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]


def _render(sli, **kw):
    return prometheus_rules("api-availability", 0.999, sli, **kw)


def test_prometheus_rules_structure():
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load(_render(COUNTERS, group_by=("job",)))
    assert list(doc) == ["groups"] and len(doc["groups"]) == 1
    group = doc["groups"][0]
    assert group["name"] == "slo-api-availability"
    records = [r for r in group["rules"] if "record" in r]
    alerts = [r for r in group["rules"] if "alert" in r]
    assert len(group["rules"]) == 11
    assert [r["record"] for r in records] == [f"slo:error_ratio:rate{w}" for w in RULE_WINDOWS]
    for r, w in zip(records, RULE_WINDOWS):
        assert r["labels"] == {"slo": "api-availability"}
        assert f'rate(http_requests_errors_total{{job="api"}}[{w}])' in r["expr"]
        assert f'rate(http_requests_total{{job="api"}}[{w}])' in r["expr"]
        assert "sum by (job) (" in r["expr"]
    assert [a["alert"] for a in alerts] == [
        "ApiAvailabilityBurnRatePage1h", "ApiAvailabilityBurnRatePage6h",
        "ApiAvailabilityBurnRateTicket1d", "ApiAvailabilityBurnRateTicket3d"]
    assert [a["labels"]["severity"] for a in alerts] == ["page", "page", "ticket", "ticket"]
    for a, (long_w, short_w, factor) in zip(alerts, [("1h", "5m", "14.4"), ("6h", "30m", "6"),
                                                     ("1d", "2h", "3"), ("3d", "6h", "1")]):
        assert a["expr"] == (
            f'slo:error_ratio:rate{long_w}{{slo="api-availability"}} > ({factor} * 0.001)\n'
            f'and\nslo:error_ratio:rate{short_w}{{slo="api-availability"}} > ({factor} * 0.001)')
        assert a["labels"]["slo"] == "api-availability"
        assert set(a["annotations"]) == {"summary", "description"}


def test_prometheus_rules_good_counter_and_histogram():
    yaml = pytest.importorskip("yaml")
    good = yaml.safe_load(_render(GOOD))["groups"][0]["rules"][0]["expr"]
    assert good.startswith("1 - (") and "sum(rate(http_requests_ok_total[5m]))" in good
    hist = yaml.safe_load(prometheus_rules("lat", 0.99, HIST))["groups"][0]["rules"]
    assert 'http_request_duration_seconds_bucket{job="api", le="0.1"}[5m]' in hist[0]["expr"]
    assert 'http_request_duration_seconds_count{job="api"}[5m]' in hist[0]["expr"]
    assert "(14.4 * 0.01)" in hist[7]["expr"]
    assert LatencyHistogram("h", 1).le == "1.0" and LatencyHistogram("h", "1").le == "1"


def test_prometheus_rules_custom_rules():
    rules = [BurnRateRule("Fast", "page", 10, timedelta(minutes=90), timedelta(minutes=7))]
    text = prometheus_rules("x", 0.95, COUNTERS, rules=rules, record_prefix="job:err:ratio")
    assert "record: job:err:ratio7m" in text and "record: job:err:ratio90m" in text
    assert "alert: XBurnRateFast" in text and "> (10 * 0.05)" in text


def _promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return path


@pytest.mark.parametrize("sli, kw", [(COUNTERS, {}), (COUNTERS, {"group_by": ("job", "route")}),
                                     (GOOD, {}), (HIST, {})])
def test_promtool_accepts_the_rules(tmp_path, sli, kw):
    promtool = _promtool()
    path = tmp_path / "slo.yml"
    path.write_text(prometheus_rules("api availability", 0.9995,
                                     sli, **kw))
    out = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 11 rules found" in out.stdout


def test_promtool_fires_the_page_alert(tmp_path):
    """Evaluate the rules in promtool on synthetic counters: 2 % errors at
    99.9 % is burn rate 20 (the 14.4 page fires); 1 % is burn rate 10 (only
    the burn-rate-6 page fires)."""
    promtool = _promtool()
    (tmp_path / "slo.yml").write_text(_render(EventCounters(
        total="http_requests_total", errors="http_requests_errors_total")))
    test = """rule_files: [slo.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'http_requests_total{job="api"}'
        values: '0+1000x200'
      - series: 'http_requests_errors_total{job="api"}'
        values: '0+20x200'
    alert_rule_test:
      - eval_time: 70m
        alertname: ApiAvailabilityBurnRatePage1h
        exp_alerts:
          - exp_labels: {severity: page, slo: api-availability}
            exp_annotations:
              summary: "%s"
              description: "%s"
  - interval: 1m
    input_series:
      - series: 'http_requests_total{job="api"}'
        values: '0+1000x200'
      - series: 'http_requests_errors_total{job="api"}'
        values: '0+10x200'
    alert_rule_test:
      - eval_time: 70m
        alertname: ApiAvailabilityBurnRatePage1h
        exp_alerts: []
      - eval_time: 70m
        alertname: ApiAvailabilityBurnRatePage6h
        exp_alerts:
          - exp_labels: {severity: page, slo: api-availability}
            exp_annotations:
              summary: "%s"
              description: "%s"
"""
    doc = pytest.importorskip("yaml").safe_load(_render(COUNTERS))
    page1h, page6h = doc["groups"][0]["rules"][7:9]
    value = "{{ $value | humanizePercentage }}"
    (tmp_path / "test.yml").write_text(test % (
        page1h["annotations"]["summary"], page1h["annotations"]["description"].replace(value, "2%"),
        page6h["annotations"]["summary"], page6h["annotations"]["description"].replace(value, "1%")))
    out = subprocess.run([promtool, "test", "rules", "test.yml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("call, exc, match", [
    (lambda: EventCounters(total="http_requests_total"), ValueError, "exactly one of errors="),
    (lambda: EventCounters(total="bad name", errors="e"), ValueError, "Prometheus metric name"),
    (lambda: EventCounters(total="t", errors="e", selector="{a}}"), ValueError, "label matchers"),
    (lambda: LatencyHistogram("h", float("inf")), ValueError, "finite"),
    (lambda: prometheus_rules("x", 1.5, COUNTERS), ValueError, "strictly between 0 and 1"),
    (lambda: prometheus_rules("x", 0.99, "http_requests_total"), TypeError, "EventCounters"),
    (lambda: prometheus_rules('a"b', 0.99, COUNTERS), ValueError, "without quotes"),
    (lambda: prometheus_rules("x", 0.99, COUNTERS, group_by=["a-b"]), ValueError, "label names"),
])
def test_prometheus_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_latest_burn_rates_checks_what_it_reads():
    good, total = _series(5000, 8)
    good[-10] = total[-10] + 1
    with pytest.raises(ValueError, match=f"minute {5000 - 10} has good="):
        latest_burn_rates(good, total, 0.99)
    good, total = _series(5000, 8)
    with pytest.raises(ValueError, match="same length"):
        latest_burn_rates(good, total[1:], 0.99)


def test_monitor_ring_buffer_wraps():
    """A 1-hour period and short rules: the per-minute ring (61 slots) wraps
    many times over 500 minutes and still matches the series evaluator."""
    rules = [BurnRateRule("A", "page", 2.0, 60, 5), BurnRateRule("B", "ticket", 1.0, 30, 7)]
    clock = FakeClock(0.0)
    mon = SLOMonitor(0.9, rules=rules, period=timedelta(hours=1), clock=clock)
    rng = np.random.default_rng(5)
    n = 500
    total = rng.poisson(4, size=n)
    total[200:290] = 0  # longer than the ring
    errors = rng.binomial(total, 0.1)
    for m in range(n):
        clock.t = 60.0 * m + 30
        for j in range(total[m]):
            mon.record(10.0, success=j >= errors[m])
        if m % 97 == 0 or m == n - 1:
            status = mon.evaluate()
            expected = burn_rates(total[:m + 1] - errors[:m + 1], total[:m + 1], 0.9,
                                  windows=[5, 7, 30, 60]).latest()
            assert status.burn_rates["availability"] == pytest.approx(expected, rel=1e-12)
            last_hour = slice(max(0, m - 59), m + 1)
            assert status.total == total[last_hour].sum()
            assert status.good == (total - errors)[last_hour].sum()


# ------------------------------------------------------------ SLIs from metrics
def test_availability_from_our_counters_across_processes():
    import os

    from fastmlops.metrics import Counter, flush
    requests = Counter("slo_requests", "d", ["route"], registry=None)
    good = Counter("slo_good", "d", ["route"], registry=None)
    for i in range(1000):
        requests.labels("/p").inc()
        if i % 50:
            good.labels("/p").inc()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            for _ in range(1000):
                requests.labels("/p").inc()
                good.labels("/p").inc()
            flush()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert availability(good.labels("/p"), requests.labels("/p")) == 1980 / 2000


def test_availability_from_prometheus_client_counters():
    import prometheus_client
    good = prometheus_client.Counter("pc_good", "d", registry=None)
    total = prometheus_client.Counter("pc_total_events", "d", registry=None)
    good.inc(90)
    total.inc(100)
    assert availability(good, total) == 0.9
    with pytest.raises(TypeError):
        availability(prometheus_client.Gauge("pc_g", "d", registry=None), total)


def test_latency_sli_from_metric_ours_and_prometheus_client():
    import prometheus_client

    from fastmlops.metrics import Histogram
    from fastmlops.slo import latency_sli_from_metric
    rng = np.random.default_rng(0)
    values = rng.lognormal(-3, 1, 5000)
    buckets = (0.01, 0.05, 0.1, 0.5)
    ours = Histogram("slo_lat", "d", ["m"], registry=None, buckets=buckets)
    theirs = prometheus_client.Histogram("slo_lat", "d", ["m"], registry=None, buckets=buckets)
    for i, v in enumerate(values):
        ours.labels(str(i % 2)).observe(v)
        theirs.labels(str(i % 2)).observe(v)
    expected = np.count_nonzero(values[1::2] <= 0.1) / values[1::2].size
    assert latency_sli_from_metric(ours.labels("1"), 0.1) == pytest.approx(expected, rel=1e-12)
    # prometheus_client: all label sets together
    assert latency_sli_from_metric(theirs, 0.1) == pytest.approx(
        np.count_nonzero(values <= 0.1) / values.size, rel=1e-12)
    with pytest.raises(ValueError, match="not a bucket bound"):
        latency_sli_from_metric(ours.labels("1"), 0.2)
    assert 0 < latency_sli_from_metric(ours.labels("1"), 0.2, interpolate=True) < 1
    with pytest.raises(TypeError):
        latency_sli_from_metric(object(), 0.1)


# --------------------------------------------------------------------------- audit regressions
def test_asyncio_run_survives_a_failing_evaluation(caplog):
    calls = [0]

    def flaky_clock():
        calls[0] += 1
        if calls[0] == 2:
            raise RuntimeError("clock hiccup")
        return 0.0

    mon = SLOMonitor(clock=flaky_clock)
    mon.record(10, False)

    with caplog.at_level(logging.ERROR, logger="fastmlops.slo"):
        _run_until_first_alert(mon)
    assert "clock hiccup" in caplog.text


def test_background_thread_survives_handler_raising_system_exit(caplog):
    calls = []

    def handler(alert):
        calls.append(alert)
        raise SystemExit(1)

    mon = SLOMonitor(clock=lambda: 0.0, handlers=[handler], repeat=True)
    mon.record(10, False)
    with caplog.at_level(logging.ERROR, logger="fastmlops.slo"):
        mon.start(0.01)
        try:
            deadline = time.monotonic() + 10
            while len(calls) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(calls) >= 3 and mon.running
        finally:
            mon.stop()
    assert not mon.running


def test_restart_after_a_stop_that_timed_out_leaves_one_thread():
    entered, release = threading.Event(), threading.Event()
    seen_threads = set()

    def slow_handler(alert):
        seen_threads.add(threading.get_ident())
        entered.set()
        release.wait(10)

    mon = SLOMonitor(clock=lambda: 0.0, handlers=[slow_handler], repeat=True)
    mon.record(10, False)
    mon.start(0.01)
    assert entered.wait(10)
    old = mon._thread
    mon.stop(timeout=0.01)              # the handler is still blocked
    mon.start(0.01)
    release.set()
    old.join(10)
    assert not old.is_alive(), "the old thread kept evaluating after stop() + start()"
    mon.stop()
    assert not mon.running


def test_handler_may_stop_its_own_monitor_and_remove_handler():
    got = []
    mon = SLOMonitor(clock=lambda: 0.0, repeat=True)

    def stopper(alert):
        got.append(alert.name)
        mon.stop()

    mon.add_handler(stopper)
    mon.record(10, False)
    mon.start(0.01)
    deadline = time.monotonic() + 10
    while mon.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not mon.running and got
    assert mon.remove_handler(stopper) is True
    assert mon.remove_handler(stopper) is False
    got.clear()
    mon.evaluate()
    assert got == []


def test_monitor_thread_while_recording_from_other_threads():
    mon = SLOMonitor(clock=lambda: 0.0)
    mon.start(0.001)
    try:
        def worker():
            for i in range(2000):
                mon.record(10, i % 100 != 0)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        mon.stop()
    status = mon.evaluate()
    assert (status.total, status.good) == (8000, 7920)


def test_latency_sli_from_labelled_prometheus_histogram_without_children():
    from prometheus_client import CollectorRegistry
    from prometheus_client import Histogram as PromHistogram

    h = PromHistogram("audit_empty_seconds", "x", ["model"], buckets=(0.1, 0.5),
                      registry=CollectorRegistry())
    assert slo.latency_sli_from_metric(h, 0.1) == 0.0      # no observations yet
    h.labels(model="a").observe(0.05)
    h.labels(model="b").observe(0.3)
    assert slo.latency_sli_from_metric(h, 0.1) == 0.5


# ------------------------------------------------------- issue #17 (fuzzing)
@pytest.mark.parametrize("interval", [1e308, 2 ** 63, 2 ** 1100, timedelta.max,
                                      threading.TIMEOUT_MAX * 2])
def test_start_refuses_intervals_the_thread_cannot_wait(interval):
    # item 5: start() returned, then the thread died of OverflowError
    mon = slo.SLOMonitor(clock=lambda: 0.0)
    with pytest.raises(ValueError, match="interval"):
        mon.start(interval=interval)
    assert not mon.running
    with pytest.raises(ValueError, match="interval"):
        asyncio.run(mon.run(interval))


def test_start_accepts_the_longest_interval():
    mon = slo.SLOMonitor(clock=lambda: 0.0)
    mon.start(interval=threading.TIMEOUT_MAX)
    try:
        time.sleep(0.05)
        assert mon.running
    finally:
        mon.stop()
    assert not mon.running


@pytest.mark.parametrize("window", [2 ** 63, 2 ** 64, timedelta.max // timedelta(minutes=1) + 1])
def test_windows_beyond_a_timedelta_are_value_errors(window):
    # item 6: numpy's OverflowError for windows=[2**63]
    for call in (lambda: slo.burn_rates([1], [1], 0.9, windows=[window]),
                 lambda: slo.window_counts([1], windows=[window]),
                 lambda: slo.latest_burn_rates([1], [1], 0.9, windows=[window])):
        with pytest.raises(ValueError, match="at most"):
            call()


def test_the_longest_window_covers_the_whole_series():
    w = slo.MAX_WINDOW_MINUTES
    br = slo.burn_rates([1, 1, 1], [1, 2, 3], 0.9, windows=[w, 1])
    assert br.latest() == {timedelta(minutes=w): pytest.approx(5.0),
                           timedelta(minutes=1): pytest.approx(20 / 3)}
    assert slo.window_counts([1, 2], windows=[w]).tolist() == [[1, 3]]


def test_monitor_refuses_windows_it_cannot_keep():
    with pytest.raises(ValueError, match="one bucket per minute"):
        slo.SLOMonitor(period=timedelta(days=10 ** 6))
    rule = BurnRateRule("Huge", "page", 2.0, timedelta(days=10 ** 8), timedelta(minutes=5))
    with pytest.raises(ValueError, match="one bucket per minute"):
        slo.SLOMonitor(rules=[rule])
    slo.SLOMonitor(period=timedelta(days=4 * 366))  # the limit itself is fine


@pytest.mark.parametrize("success", ["false", "0", "", float("nan"), [0], 0.5, 1.0, 2, -1,
                                     None, np.float64(0.0), np.array([True])])
def test_record_refuses_outcomes_that_are_not_bools(success):
    # item 8: any truthy value counted as a success
    mon = slo.SLOMonitor(clock=lambda: 0.0)
    with pytest.raises(TypeError, match="success must be True or False"):
        mon.record(10.0, success=success)
    assert mon.evaluate().total == 0


def test_record_accepts_bools_and_zero_one():
    mon = slo.SLOMonitor(clock=lambda: 0.0)
    for ok in (True, False, 1, 0, np.True_, np.False_, np.int8(1), np.uint64(0)):
        mon.record(10.0, success=ok)
    status = mon.evaluate()
    assert (status.good, status.total) == (4, 8)


def test_monitor_clock_far_in_the_future_and_bad_clocks():
    now = [2.0 ** 70]  # minutes beyond int64
    mon = slo.SLOMonitor(clock=lambda: now[0])
    mon.record(1.0)
    now[0] = 2.0 ** 70 + 2.0 ** 18  # the next float, three days later
    mon.record(1.0, success=False)
    status = mon.evaluate()
    assert (status.good, status.total) == (1, 2)
    for bad, error in ((float("nan"), ValueError), (float("inf"), ValueError),
                       ("12", TypeError), (None, TypeError)):
        mon = slo.SLOMonitor(clock=lambda bad=bad: bad)
        with pytest.raises(error, match="clock"):
            mon.record(1.0)
        with pytest.raises(error, match="clock"):
            mon.evaluate()


@pytest.mark.parametrize("call", [
    lambda: slo.SLOMonitor(clock=lambda: 0.0).record(2 ** 1100),
    lambda: slo.latency_sli([1, 2], 2 ** 1100),
    lambda: slo.nearest_rank_quantile([1, 2], 2 ** 1100),
    lambda: slo.SLOMonitor(latency_threshold_ms=-2 ** 1100),
])
def test_huge_python_ints_are_value_errors(call):
    with pytest.raises(ValueError, match="finite"):
        call()
