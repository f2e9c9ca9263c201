"""fastmlops.drift._ks_pvalue against scipy.stats.ks_2samp (statistic and p-value).

Each case builds two samples, lets scipy compute (statistic, pvalue), computes
the raw statistic the way scipy does before any rounding, and checks that
``ks_pvalue(raw_d, n1, n2, ...)`` returns scipy's statistic exactly and its
p-value to 1e-10 relative, with the same fallback warnings.  The promise (and
so the check) holds for p-values of at least P_FLOOR = 1e-307; below it both
p-values must only be below P_FLOOR (float64 underflow: see
test_pvalues_below_floor_agree_in_magnitude_only).

The two-sided asymptotic p-value comes from ``fastmlops._kernels.kstwo``.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.references import ks_2samp_reference, kstwo_sf_reference

from fastmlops.drift._ks_pvalue import MAX_AUTO_N, ks_pvalue, ks_pvalues

RTOL = 1e-10
P_FLOOR = 1e-307  # RTOL holds for p-values >= P_FLOOR (see the ks_2samp docstring)
ALTERNATIVES = ("two-sided", "less", "greater")
METHODS = ("auto", "exact", "asymp")
MSG_UNSUCCESSFUL = "ks_2samp: Exact calculation unsuccessful. Switching to method=asymp."
MSG_IMPOSSIBLE = "Exact ks_2samp calculation not possible with samples sizes"



# ----------------------------------------------------------------- helpers
def raw_statistic(x, y, alternative):
    """D (or D+ / D-) before scipy's exact-mode rounding, computed as scipy does."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    y = np.sort(np.asarray(y, dtype=np.float64))
    both = np.concatenate([x, y])
    diff = np.searchsorted(x, both, side="right") / x.size - np.searchsorted(
        y, both, side="right"
    ) / y.size
    d_minus = float(np.clip(-diff[np.argmin(diff)], 0, 1))
    d_plus = float(diff[np.argmax(diff)])
    if alternative == "less" or (alternative == "two-sided" and d_minus > d_plus):
        return d_minus
    return d_plus


def relerr(a, b):
    if a == b or (math.isnan(a) and math.isnan(b)):  # scipy gives NaN for n = 1 vs 1, asymp
        return 0.0
    if 0.0 <= a < P_FLOOR and 0.0 <= b < P_FLOOR:  # below the documented floor
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def runtime_messages(records):
    return [str(w.message) for w in records if issubclass(w.category, RuntimeWarning)]


def fallback_messages(messages):
    return [m for m in messages if m == MSG_UNSUCCESSFUL or m.startswith(MSG_IMPOSSIBLE)]


def scipy_result(x, y, alternative, method):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = ks_2samp_reference(x, y, alternative=alternative, method=method)
    return float(res.statistic), float(res.pvalue), fallback_messages(runtime_messages(rec))


def check_against_scipy(x, y, alternative, method):
    """Assert agreement with scipy; return the relative error of the p-value."""
    n1, n2 = len(x), len(y)
    s_stat, s_p, s_msgs = scipy_result(x, y, alternative, method)
    d = raw_statistic(x, y, alternative)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        stat, p = ks_pvalue(d, n1, n2, alternative, method)
    assert fallback_messages(runtime_messages(rec)) == s_msgs
    assert stat == s_stat, (n1, n2, alternative, method, d)
    err = relerr(p, s_p)
    assert err <= RTOL, (n1, n2, alternative, method, d, p, s_p)
    assert math.isnan(s_p) or 0.0 <= p <= 1.0
    return err


@functools.lru_cache(maxsize=None)
def _all_statistics(n1, n2, alternative):
    """The statistic of every one of the C(n1+n2, n1) merges of two tie-free
    samples, as integers h with D = h / lcm, sorted."""
    lcm = n1 * n2 // math.gcd(n1, n2)
    a, b = lcm // n1, lcm // n2  # D * lcm = a*i - b*j after i x's and j y's
    out = []
    for pos in itertools.combinations(range(n1 + n2), n1):
        chosen = set(pos)
        i = j = best = 0
        for k in range(n1 + n2):
            if k in chosen:
                i += 1
            else:
                j += 1
            diff = a * i - b * j
            if alternative == "two-sided":
                diff = abs(diff)
            elif alternative == "less":
                diff = -diff
            best = max(best, diff)
        out.append(best)
    return lcm, sorted(out)


def brute_force_sf(n1, n2, d, alternative):
    """P(D >= d) (d a Fraction) by exhaustive enumeration of the merges."""
    lcm, stats = _all_statistics(n1, n2, alternative)
    hits = sum(1 for h in stats if Fraction(h, lcm) >= d)
    return Fraction(hits, len(stats))


# -------------------------------------------------------- known answers
def test_greater_two_vs_four_is_8_over_15():
    # D+ = 1 - 2/4 after the second x; P(D+ >= 1/2) = 8/15 (scipy's test value).
    x = [1.0, 2.0]
    y = [0.5, 1.5, 3.0, 4.0]
    d = raw_statistic(x, y, "greater")
    assert d == 0.5
    stat, p = ks_pvalue(d, 2, 4, "greater", "exact")
    assert stat == 0.5
    assert relerr(p, 8 / 15) <= 1e-15
    assert (stat, p) == scipy_result(x, y, "greater", "exact")[:2]


@pytest.mark.parametrize(
    "n1, n2, d, alternative, expected",
    [
        (1, 1, 1.0, "two-sided", Fraction(1)),  # D is always 1
        (1, 1, 1.0, "greater", Fraction(1, 2)),  # x first
        (2, 2, 1.0, "two-sided", Fraction(2, 6)),  # xxyy or yyxx
        (2, 2, 1.0, "less", Fraction(1, 6)),
        (2, 2, 0.5, "greater", Fraction(4, 6)),  # all but yxyx and yyxx
        (3, 3, 1.0, "two-sided", Fraction(2, 20)),
        (1, 3, 1.0, "two-sided", Fraction(2, 4)),  # x first or last
        (1, 3, 1.0, "greater", Fraction(1, 4)),
    ],
)
def test_hand_derived(n1, n2, d, alternative, expected):
    assert brute_force_sf(n1, n2, Fraction(d), alternative) == expected
    stat, p = ks_pvalue(d, n1, n2, alternative, "exact")
    assert stat == d
    assert relerr(p, float(expected)) <= 1e-14


@pytest.mark.parametrize("n1, n2", [(3, 3), (4, 4), (2, 5), (4, 6), (3, 7), (5, 5), (6, 4), (7, 5)])
@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_brute_force_enumeration(n1, n2, alternative):
    """Every attainable h for small sizes against exhaustive enumeration."""
    lcm = n1 * n2 // math.gcd(n1, n2)
    for h in range(1, lcm + 1):
        d = h / lcm
        expected = brute_force_sf(n1, n2, Fraction(h, lcm), alternative)
        if alternative == "two-sided" and n1 == n2 and float(expected) == 1.0:
            # the outside-square sum may round to just above 1, which scipy
            # (and so ks_pvalue) treats as a failed exact calculation
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no fallback here
            stat, p = ks_pvalue(d, n1, n2, alternative, "exact")
        assert stat == d
        assert relerr(p, float(expected)) <= 1e-13, (h, p, expected)


def test_h_zero_gives_one():
    for alternative in ALTERNATIVES:
        for n1, n2 in [(5, 5), (7, 3), (1, 1), (10000, 9999)]:
            assert ks_pvalue(0.0, n1, n2, alternative, "exact") == (0.0, 1.0)
            # rounds to h == 0
            assert ks_pvalue(0.4 / (n1 * n2), n1, n2, alternative, "auto") == (0.0, 1.0)
    x = np.arange(20.0)
    for alternative in ALTERNATIVES:
        check_against_scipy(x, x.copy(), alternative, "exact")


def test_statistic_rounded_only_in_exact_mode():
    x = np.array([0.1, 0.5, 0.9, 1.3, 2.0, 2.2, 3.1])
    y = np.array([0.2, 0.3, 1.1, 1.5, 1.6])
    d = raw_statistic(x, y, "two-sided")
    stat_e, _ = ks_pvalue(d, 7, 5, "two-sided", "exact")
    assert stat_e == round(d * 35) / 35
    stat_a, _ = ks_pvalue(d, 7, 5, "greater", "asymp")
    assert stat_a == d


# ------------------------------------------------------- randomised vs scipy
@st.composite
def two_samples(draw, max_n=300, equal=False, ties=None):
    n1 = draw(st.integers(1, max_n))
    n2 = n1 if equal else draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    use_ties = draw(st.booleans()) if ties is None else ties
    shift = draw(st.sampled_from([0.0, 0.1, 0.5, 2.0]))
    if use_ties:
        levels = draw(st.integers(1, 12))
        x = rng.integers(0, levels, n1).astype(np.float64)
        y = rng.integers(0, levels, n2).astype(np.float64) + round(shift)
    else:
        x = rng.normal(size=n1)
        y = rng.normal(loc=shift, size=n2)
    return x, y


@settings(max_examples=60)
@given(two_samples(equal=True, max_n=400), st.sampled_from(ALTERNATIVES), st.sampled_from(METHODS))
def test_equal_sizes(xy, alternative, method):
    check_against_scipy(*xy, alternative, method)


@settings(max_examples=60)
@given(two_samples(max_n=300), st.sampled_from(["auto", "exact"]))
def test_unequal_two_sided_inside_method(xy, method):
    check_against_scipy(*xy, "two-sided", method)


@settings(max_examples=50)
@given(two_samples(max_n=250), st.sampled_from(["less", "greater"]), st.sampled_from(METHODS))
def test_unequal_one_sided_count_paths(xy, alternative, method):
    check_against_scipy(*xy, alternative, method)


@settings(max_examples=40)
@given(
    st.integers(1, 40).flatmap(
        lambda g: st.tuples(st.just(g), st.integers(1, 12), st.integers(1, 12))
    ),
    st.sampled_from(ALTERNATIVES),
    st.integers(0, 2**32 - 1),
)
def test_non_coprime_sizes(gab, alternative, seed):
    g, a, b = gab
    rng = np.random.default_rng(seed)
    x = rng.normal(size=g * a)
    y = rng.normal(0.3, size=g * b)
    check_against_scipy(x, y, alternative, "exact")


@given(st.integers(1, 500), st.sampled_from(ALTERNATIVES), st.integers(0, 2**32 - 1))
def test_one_point_sample(n, alternative, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=1)
    y = rng.normal(size=n)
    check_against_scipy(x, y, alternative, "auto")
    check_against_scipy(y, x, alternative, "exact")


# ---------------------------------------------------------- fixed larger cases
def _normal_pair(n1, n2, shift, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=n1), rng.normal(loc=shift, size=n2)


@pytest.mark.parametrize(
    "n1, n2, shift",
    [
        (10000, 10000, 0.02),  # outside-square, auto -> exact at the limit
        (10000, 9000, 0.03),  # inside method, g = 1000
        (10000, 9999, 0.01),  # coprime, lcm ~ 1e8
        (9973, 2000, 0.05),
        (3000, 1000, 0.1),
        (10000, 50, 0.2),
    ],
)
def test_large_two_sided_exact(n1, n2, shift):
    x, y = _normal_pair(n1, n2, shift)
    check_against_scipy(x, y, "two-sided", "auto")
    check_against_scipy(y, x, "two-sided", "exact")


@pytest.mark.parametrize("alternative", ["less", "greater"])
@pytest.mark.parametrize("n, shift", [(10000, 0.02), (10000, -0.01), (5000, 0.0), (2000, 0.3)])
def test_large_one_sided_equal(n, shift, alternative):
    x, y = _normal_pair(n, n, shift, seed=n)
    check_against_scipy(x, y, alternative, "auto")


@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_one_sided_unequal_moderate(alternative):
    x, y = _normal_pair(400, 300, 0.15, seed=3)
    check_against_scipy(x, y, alternative, "exact")


@pytest.mark.parametrize("n1, n2", [(700, 600), (1000, 999)])
@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_one_sided_overflow_falls_back(n1, n2, alternative):
    # binom(n1 + n2, n1) overflows: scipy gives up on exact and warns.
    x, y = _normal_pair(n1, n2, 0.05, seed=7)
    s_stat, s_p, s_msgs = scipy_result(x, y, alternative, "exact")
    assert s_msgs == [MSG_UNSUCCESSFUL]
    d = raw_statistic(x, y, alternative)
    with pytest.warns(RuntimeWarning, match="Exact calculation unsuccessful"):
        stat, p = ks_pvalue(d, n1, n2, alternative, "exact")
    assert stat == s_stat  # the rounded statistic is kept
    assert relerr(p, s_p) <= RTOL


@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_exact_impossible_one_sided(alternative):
    n1, n2 = 50000, 49999  # lcm > int32 max
    x, y = _normal_pair(n1, n2, 0.01, seed=11)
    s_stat, s_p, s_msgs = scipy_result(x, y, alternative, "exact")
    assert s_msgs == [f"{MSG_IMPOSSIBLE} {n1} and {n2}. Switching to 'asymp'."]
    check_against_scipy(x, y, alternative, "exact")


@pytest.mark.parametrize("alternative", ["less", "greater"])
@pytest.mark.parametrize("n1, n2", [(10000, 30), (10001, 30), (30, 10001), (10001, 10001)])
def test_auto_threshold_one_sided(n1, n2, alternative):
    x, y = _normal_pair(n1, n2, 0.2, seed=5)
    check_against_scipy(x, y, alternative, "auto")
    d = raw_statistic(x, y, alternative)
    stat, _ = ks_pvalue(d, n1, n2, alternative, "auto")
    if max(n1, n2) > MAX_AUTO_N:
        assert stat == d
    else:
        lcm = n1 * n2 // math.gcd(n1, n2)
        assert stat == round(d * lcm) / lcm


@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_one_sided_asymp_matches(alternative):
    for n1, n2, shift in [(10, 25, 0.5), (25, 10, 0.5), (1000, 3, 1.0), (5000, 5000, 0.05), (123, 456, 0.2)]:
        x, y = _normal_pair(n1, n2, shift, seed=n1)
        check_against_scipy(x, y, alternative, "asymp")


# ------------------------------------------------ two-sided asymp (needs kstwo)
@pytest.mark.parametrize(
    "n1, n2, method",
    [(10001, 10001, "auto"), (20000, 15000, "auto"), (300, 200, "asymp"), (1, 50, "asymp")],
)
def test_two_sided_asymp(n1, n2, method):
    x, y = _normal_pair(n1, n2, 0.05, seed=13)
    check_against_scipy(x, y, "two-sided", method)


def test_two_sided_asymp_after_exact_impossible():
    x, y = _normal_pair(50000, 49999, 0.01, seed=17)
    check_against_scipy(x, y, "two-sided", "exact")


def test_two_sided_asymp_after_exact_unsuccessful():
    # n = 15, h = 1: the outside-square sum rounds to slightly above 1, which
    # scipy treats as a failed exact calculation.
    x = np.arange(15.0) * 2
    y = x + 1
    assert raw_statistic(x, y, "two-sided") == pytest.approx(1 / 15)
    s_msgs = scipy_result(x, y, "two-sided", "exact")[2]
    assert s_msgs == [MSG_UNSUCCESSFUL]
    check_against_scipy(x, y, "two-sided", "exact")


# ------------------------------------------------- p-values near float64 underflow
@pytest.mark.parametrize("d, n1, n2", [
    (0.04974254716034787, 1340520, 162031),  # scipy 2.7e-311, ours 0 (Smirnov cut-off)
    (0.13739054097996034, 65966, 27043),  # scipy 2.9e-316, ours 0
    (0.5989114197304777, 174939, 939),  # subnormal digits differ (1e-3 relative)
    (0.3803303772350164, 2982, 13592),  # subnormal digits differ (1e-4 relative)
    (math.sqrt(354.21 / 2_000_000), 4_000_000, 4_000_000),  # scipy 4.3e-308 (normal), ours 0
])
def test_pvalues_below_floor_agree_in_magnitude_only(d, n1, n2):
    # The documented bound: 1e-10 relative only for p-values >= 1e-307; below
    # it the two libraries underflow differently and only the magnitude agrees.
    ref = kstwo_sf_reference(d, round(n1 * n2 / (n1 + n2)))
    _, p = ks_pvalue(d, n1, n2, "two-sided", "asymp")
    assert 0.0 <= p < P_FLOOR and 0.0 <= ref < P_FLOOR, (p, ref)
    assert ref > 0.0  # these cases are below the floor, not zero, in scipy


@pytest.mark.parametrize("n", [934, 2445, 19180])
def test_pvalues_just_above_floor_agree_to_rtol(n):
    # Down to 1e-307 the relative agreement holds (the two-sided asymptotic
    # path, whose Smirnov sum is the one that underflows below it).
    checked = 0
    for q in np.linspace(300.0, 353.0, 54):
        d = math.sqrt(q / n)
        ref = kstwo_sf_reference(d, n)
        _, p = ks_pvalue(d, 2 * n, 2 * n, "two-sided", "asymp")
        if ref >= P_FLOOR:
            assert abs(p - ref) <= RTOL * ref, (n, q, p, ref)
            checked += 1
    assert checked >= 10


# ------------------------------------------------------------- vectorised form
def test_ks_pvalues_matches_scalar_loop():
    d = np.array([0.0, 0.1, 0.3, 0.5, 1.0, 0.02, 0.2])
    n1 = np.array([5, 10, 40, 7, 3, 10000, 700])
    n2 = np.array([5, 12, 40, 9, 3, 10000, 600])
    for alternative in ("less", "greater"):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            stat, p = ks_pvalues(d, n1, n2, alternative, "exact")
        # the 700/600 column overflows: exactly one fallback warning
        assert runtime_messages(rec) == [MSG_UNSUCCESSFUL]
        assert stat.dtype == np.float64 and p.shape == d.shape
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for k in range(d.size):
                assert (stat[k], p[k]) == ks_pvalue(d[k], n1[k], n2[k], alternative, "exact")


def test_ks_pvalues_broadcasts():
    d = np.array([[0.1, 0.2], [0.3, 0.4]])
    stat, p = ks_pvalues(d, 20, np.array([20, 30]), "greater", "auto")
    assert stat.shape == p.shape == (2, 2)
    assert (stat[1, 1], p[1, 1]) == ks_pvalue(0.4, 20, 30, "greater", "auto")


# ------------------------------------------------------------- kernel internals
@given(st.integers(1, 400), st.integers(1, 400), st.data())
def test_inside_wavefront_bit_identical_to_serial(n1, n2, data):
    from fastmlops._kernels.ks_exact import inside_outer_sf, inside_outer_sf_serial

    g = math.gcd(n1, n2)
    h = data.draw(st.integers(1, n1 // g * n2))
    assert inside_outer_sf(n1, n2, g, h) == inside_outer_sf_serial(n1, n2, g, h)


def test_binom_is_scipys():
    from scipy import special

    from fastmlops._kernels.ks_exact import binom

    for n, k in [(10.0, 3.0), (1000.0, 300.0), (2000.0, 1000.0), (1e4, 19.0), (1100.0, 550.0), (5.5, 2.0)]:
        assert binom(n, k) == special.binom(n, k)


def test_kernels_compile_from_registry():
    from fastmlops._kernels import _jit, ks_exact

    mine = [fn for fn, _ in _jit.REGISTRY if fn.py_func.__module__ == ks_exact.__name__]
    assert ks_exact.exact_sf in mine
    for fn, sigs in _jit.REGISTRY:
        if fn in mine:
            for sig in sigs:
                fn.compile(sig)


# ------------------------------------------------------------- run time
def _best_time(fn, repeat=3):
    import time

    fn()  # compile / warm up
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@pytest.mark.parametrize("n1, n2", [(10000, 9999), (9000, 10000), (40000, 39999)])
@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_one_sided_unequal_overflow_is_detected_before_counting(n1, n2, alternative):
    # binom(n1 + n2, n1) is inf, so scipy's exact attempt fails whatever the
    # path count is; the O(min(n1, n2)^2) count used to run first anyway
    # (0.2-0.3 s at 10000 x 9999, seconds at 40000 x 39999) before falling back.
    from fastmlops._kernels.ks_exact import exact_sf

    g = math.gcd(n1, n2)
    h = max(1, round(0.01 * (n1 // g) * n2))
    assert math.isnan(exact_sf(n1, n2, g, h, False))
    assert _best_time(lambda: exact_sf(n1, n2, g, h, False)) < 0.01

    def call():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return ks_pvalue(0.01, n1, n2, alternative, "exact")

    assert _best_time(call) < 0.01
    with pytest.warns(RuntimeWarning, match="Exact calculation unsuccessful"):
        stat, p = ks_pvalue(0.01, n1, n2, alternative, "exact")
    assert (stat, p) == (round(0.01 * (n1 // g) * n2) / ((n1 // g) * n2),
                         ks_pvalue(stat, n1, n2, alternative, "asymp")[1])


@functools.lru_cache(maxsize=None)
def _outside_square_kernel():
    # scipy's _compute_prob_outside_square, compiled: the O(n) reference
    import numba

    @numba.njit(cache=False)
    def run(n, h):
        acc = 0.0
        k = n // h
        while k >= 0:
            kh = k * h
            ratio = 1.0
            for j in range(h):
                ratio = (n - kh - j) * ratio / (n + kh + j + 1)
            acc = ratio * (1.0 - acc)
            k -= 1
        return 2.0 * acc

    return run


def _outside_square_scipy_order(n, h):
    return _outside_square_kernel()(n, h)


def test_outside_square_matches_scipys_loop_bit_for_bit():
    from scipy.stats._stats_py import _compute_prob_outside_square

    from fastmlops._kernels.ks_exact import one_sided_equal_sf, outside_square_sf

    for n in list(range(1, 120)) + [1000, 4097, 10000, 65536]:
        hs = range(1, n + 1) if n < 120 else sorted(
            {1, 2, 3, n - 1, n} | set(np.geomspace(1, n, 60).astype(int).tolist()))
        for h in hs:
            ref = _outside_square_scipy_order(n, h)
            got = outside_square_sf(n, h)
            if ref >= 4.5e-308:  # below: underflow, only the magnitude is promised
                assert got == ref, (n, h, got, ref)
            else:
                assert 0.0 <= got < 4.5e-308, (n, h, got, ref)
            if n <= 300 and h in (1, n // 3 + 1, n):
                assert got == _compute_prob_outside_square(n, h) or ref < 4.5e-308
            p = 1.0
            for j in range(h):
                p *= (n - j) / (n + j + 1.0)
            got1 = one_sided_equal_sf(n, h)
            assert got1 == p or (p < 2.3e-308 and 0.0 <= got1 < 2.3e-308), (n, h, got1, p)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("d", [0.003, 0.01, 0.5, 1.0])
def test_exact_equal_sizes_large_n_is_fast(alternative, d):
    # method="exact" with n1 == n2 = 1e7: the outside-square sum started at
    # k = n // h and the subnormal products crept down one fraction at a
    # time, ~0.5 s per p-value; both stop once nothing can change any more.
    n = 10_000_000
    stat, p = ks_pvalue(d, n, n, alternative, "exact")
    assert stat == d
    assert _best_time(lambda: ks_pvalue(d, n, n, alternative, "exact")) < 0.02
    if d == 0.003 and alternative == "two-sided":
        ref = _outside_square_scipy_order(n, round(d * n))
        assert ref > 1e-300 and p == ref
    if d >= 0.5:
        assert p == 0.0  # true value ~1e-(n/3): underflow, as scipy
