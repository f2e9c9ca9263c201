"""fastmlops.ks_2samp against scipy.stats.ks_2samp, and DriftReference."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastmlops
from fastmlops.drift import _ks_engine
from tests.references import ks_2samp_reference, psi_reference, kl_reference, js_reference

P_RTOL = 1e-10


def assert_same(res, ref, p_rtol=P_RTOL):
    """Statistic, location and sign identical to scipy's; p-value within p_rtol."""
    d, p = res  # unpacks like scipy's result
    assert np.array_equal(np.asarray(d), np.asarray(ref.statistic), equal_nan=True), (res, ref)
    assert np.array_equal(np.asarray(res.statistic_location, dtype=float),
                          np.asarray(ref.statistic_location, dtype=float), equal_nan=True), (res, ref)
    assert np.array_equal(np.asarray(res.statistic_sign, dtype=float),
                          np.asarray(ref.statistic_sign, dtype=float), equal_nan=True), (res, ref)
    np.testing.assert_allclose(np.asarray(p, dtype=float), np.asarray(ref.pvalue, dtype=float),
                               rtol=p_rtol, atol=0, equal_nan=True)


def both(a, b, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ks_2samp_reference(a, b, **kw)
        res = fastmlops.ks_2samp(a, b, **kw)
    return res, ref


ALTERNATIVES = ["two-sided", "less", "greater"]
METHODS = ["auto", "exact", "asymp"]


# ---------------------------------------------------------------- known answers
def test_known_answer_greater_two_vs_four():
    # ECDF(a) - ECDF(b) peaks at 2.0: 2/2 - 2/4 = 1/2; p = 8/15 by path counting.
    res = fastmlops.ks_2samp([1.0, 2.0], [0.5, 1.5, 2.5, 3.5], alternative="greater")
    assert res.statistic == 0.5
    assert res.statistic_location == 2.0 or res.statistic_location == 1.0
    assert math.isclose(res.pvalue, 8 / 15, rel_tol=1e-12)


def test_known_answer_two_sided_disjoint():
    # Completely separated samples of 3 and 3: D = 1, p = 2 / C(6, 3) = 0.1.
    res = fastmlops.ks_2samp([1, 2, 3], [4, 5, 6])
    assert res.statistic == 1.0
    assert res.statistic_sign == 1
    assert res.statistic_location == 3
    assert math.isclose(res.pvalue, 0.1, rel_tol=1e-12)


def test_known_answer_less():
    # a below b everywhere: ECDF(b) - ECDF(a) is never positive, D_less = 0, p = 1.
    res = fastmlops.ks_2samp([1, 2, 3], [4, 5, 6], alternative="less")
    assert res.statistic == 0.0
    assert res.pvalue == 1.0
    # and the mirror: b below a, D_less = 1, p = 1 / C(6, 3)
    res = fastmlops.ks_2samp([4, 5, 6], [1, 2, 3], alternative="less")
    assert res.statistic == 1.0
    assert math.isclose(res.pvalue, 1 / 20, rel_tol=1e-12)


def test_identical_samples():
    res = fastmlops.ks_2samp([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert res.statistic == 0.0 and res.pvalue == 1.0


def test_unpacks_like_scipy():
    d, p = fastmlops.ks_2samp([1.0, 2.0, 3.0], [1.5, 2.5])
    assert isinstance(fastmlops.ks_2samp([1.0], [2.0]), tuple)
    assert len(fastmlops.ks_2samp([1.0], [2.0])) == 2
    assert 0 <= p <= 1 and 0 <= d <= 1


def test_lecture_example():
    # The lecture: 1000 training vs 1000 production values, production x1.2 + 0.5.
    rng = np.random.default_rng(42)
    train = rng.random(1000)
    prod = rng.random(1000) * 1.2 + 0.5
    res, ref = both(train, prod)
    assert_same(res, ref)
    assert res.pvalue < 0.01


# ---------------------------------------------------------------- vs scipy, hypothesis
finite = st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e6, max_value=1e6)


@st.composite
def samples(draw, max_size=60):
    kind = draw(st.sampled_from(["float", "rounded", "int", "const", "inf"]))
    n1 = draw(st.integers(1, max_size))
    n2 = draw(st.integers(1, max_size))
    if kind == "float":
        a = draw(hnp.arrays(np.float64, n1, elements=finite))
        b = draw(hnp.arrays(np.float64, n2, elements=finite))
    elif kind == "rounded":
        a = np.round(draw(hnp.arrays(np.float64, n1, elements=st.floats(-3, 3))), 1)
        b = np.round(draw(hnp.arrays(np.float64, n2, elements=st.floats(-3, 3))), 1)
    elif kind == "int":
        a = draw(hnp.arrays(np.int64, n1, elements=st.integers(-5, 5)))
        b = draw(hnp.arrays(np.int64, n2, elements=st.integers(-5, 5)))
    elif kind == "const":
        c = draw(st.integers(-3, 3))
        a = np.full(n1, float(c))
        b = np.full(n2, float(draw(st.integers(-3, 3))))
    else:
        vals = st.sampled_from([-np.inf, np.inf, 0.0, -0.0, 1.0, -1.0])
        a = draw(hnp.arrays(np.float64, n1, elements=vals))
        b = draw(hnp.arrays(np.float64, n2, elements=vals))
    return a, b


@given(samples(), st.sampled_from(ALTERNATIVES), st.sampled_from(METHODS))
def test_matches_scipy(ab, alternative, method):
    a, b = ab
    res, ref = both(a, b, alternative=alternative, method=method)
    assert_same(res, ref)


@given(samples(max_size=30), st.sampled_from(ALTERNATIVES),
       st.sampled_from(["float32", "int32", "big-endian", "strided", "bool"]))
def test_dtypes_and_layouts(ab, alternative, layout):
    a, b = ab
    if layout == "float32":
        a, b = a.astype(np.float32), b.astype(np.float32)
    elif layout == "int32":
        a = np.clip(np.nan_to_num(a), -1e6, 1e6).astype(np.int32)
        b = np.clip(np.nan_to_num(b), -1e6, 1e6).astype(np.int32)
    elif layout == "big-endian":
        a, b = a.astype(">f8"), b.astype(">f8")
    elif layout == "bool":
        a, b = a > 0, b > 0
    else:
        a = np.repeat(a, 2)[::2]
        b = np.repeat(b, 3)[::3]
        assert not a.flags.c_contiguous or a.size <= 1
    ref_a = a.astype(a.dtype.newbyteorder("=")) if not a.dtype.isnative else a
    ref_b = b.astype(b.dtype.newbyteorder("=")) if not b.dtype.isnative else b
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ks_2samp_reference(ref_a, ref_b, alternative=alternative)
        res = fastmlops.ks_2samp(a, b, alternative=alternative)
    assert_same(res, ref)


@given(samples(max_size=40), st.sampled_from(["propagate", "omit"]),
       st.sampled_from(ALTERNATIVES), st.data())
def test_nan_policies(ab, nan_policy, alternative, data):
    a, b = (x.astype(np.float64) for x in ab)
    a[data.draw(hnp.arrays(np.bool_, a.size))] = np.nan
    if data.draw(st.booleans()):
        b[data.draw(hnp.arrays(np.bool_, b.size))] = np.nan
    res, ref = both(a, b, alternative=alternative, nan_policy=nan_policy)
    assert_same(res, ref)


def test_nan_policy_raise():
    with pytest.raises(ValueError, match="NaN"):
        fastmlops.ks_2samp([1.0, np.nan], [1.0, 2.0], nan_policy="raise")
    # no NaN: same as propagate
    assert fastmlops.ks_2samp([1.0, 3.0], [1.0, 2.0], nan_policy="raise").statistic == 0.5


def test_omit_everything_gives_nan_and_warns():
    with pytest.warns(RuntimeWarning, match="empty"):
        res = fastmlops.ks_2samp([np.nan, np.nan], [1.0, 2.0], nan_policy="omit")
    assert np.isnan(res.statistic) and np.isnan(res.pvalue)


# ------------------------------------------------------- large samples: bucket refinement
LARGE = [
    ("normal", lambda r, n: r.normal(size=n), lambda r, n: r.normal(size=n)),
    ("shift", lambda r, n: r.normal(size=n), lambda r, n: r.normal(0.05, 1, size=n)),
    ("scale", lambda r, n: r.normal(size=n), lambda r, n: r.normal(0, 1.3, size=n)),
    ("cauchy", lambda r, n: r.standard_cauchy(n), lambda r, n: r.standard_cauchy(n)),
    ("lognormal", lambda r, n: r.lognormal(0, 2, n), lambda r, n: r.lognormal(0.1, 2, n)),
    ("int-ties", lambda r, n: r.integers(0, 30, n).astype(float),
     lambda r, n: r.integers(0, 31, n).astype(float)),
    ("rounded", lambda r, n: np.round(r.normal(size=n), 2), lambda r, n: np.round(r.normal(size=n), 2)),
    ("spike", lambda r, n: np.where(r.random(n) < 0.6, 0.0, r.normal(size=n)),
     lambda r, n: np.where(r.random(n) < 0.5, 0.0, r.normal(size=n))),
    ("signed-zero", lambda r, n: np.where(r.random(n) < 0.3, -0.0, r.normal(size=n)),
     lambda r, n: np.where(r.random(n) < 0.3, 0.0, r.normal(size=n))),
    ("inf", lambda r, n: np.where(r.random(n) < 0.02, np.inf, r.normal(size=n)),
     lambda r, n: np.where(r.random(n) < 0.02, -np.inf, r.normal(size=n))),
    ("disjoint", lambda r, n: r.normal(size=n), lambda r, n: r.normal(size=n) + 100),
    ("tiny-range", lambda r, n: 1.0 + r.integers(0, 3, n) * np.finfo(float).eps,
     lambda r, n: 1.0 + r.integers(0, 4, n) * np.finfo(float).eps),
    ("huge-int", lambda r, n: r.integers(2**62, 2**62 + 100, n), lambda r, n: r.integers(2**62, 2**62 + 90, n)),
]


@pytest.mark.parametrize("name,gen_a,gen_b", LARGE, ids=[c[0] for c in LARGE])
@pytest.mark.parametrize("sizes", [(6000, 6000), (20000, 13001), (150001, 90000)])
def test_large_matches_scipy(name, gen_a, gen_b, sizes):
    rng = np.random.default_rng(zlib.crc32(f"{name}{sizes}".encode()))
    a, b = gen_a(rng, sizes[0]), gen_b(rng, sizes[1])
    for alternative in ALTERNATIVES:
        res, ref = both(a, b, alternative=alternative, method="asymp")
        assert_same(res, ref)


def test_large_float32_and_uint64():
    rng = np.random.default_rng(3)
    a = rng.normal(size=50000).astype(np.float32)
    b = (rng.normal(size=40000) * 1.01).astype(np.float32)
    assert_same(*both(a, b))
    u = rng.integers(0, 2**64 - 1, 30000, dtype=np.uint64, endpoint=True)
    v = rng.integers(0, 2**64 - 1, 20000, dtype=np.uint64, endpoint=True)
    assert_same(*both(u, v))


def test_bucket_path_is_used_and_falls_back():
    """The refinement path must run on large continuous data, and the full sort
    must take over when refinement would touch too much (all-equal data)."""
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=50000), rng.normal(size=50000)
    st_ = np.array([-np.inf, -np.inf, np.inf, np.inf])
    locs = np.zeros(4)
    assert _ks_engine._bucketed(_ks_engine.Sample(a), _ks_engine.Sample(b), st_, locs)
    c = np.zeros(50000)
    assert not _ks_engine._bucketed(_ks_engine.Sample(c), _ks_engine.Sample(c + 1), st_, locs)
    # many infinities: the range comes from the finite values, infinities go to the end buckets
    a[::20] = np.inf
    b[::25] = -np.inf
    st_[:] = (-np.inf, -np.inf, np.inf, np.inf)
    assert _ks_engine._bucketed(_ks_engine.Sample(a), _ks_engine.Sample(b), st_, locs)
    assert_same(fastmlops.ks_2samp(a, b), ks_2samp_reference(a, b))


# ---------------------------------------------------------------- many columns
def test_axis_batches_match_scipy():
    rng = np.random.default_rng(11)
    a = rng.normal(size=(300, 7))
    b = rng.normal(size=(200, 7)) + np.linspace(0, 0.5, 7)
    a[5, 2] = np.nan
    for kw in ({}, {"nan_policy": "omit"}, {"alternative": "less"}):
        assert_same(*both(a, b, axis=0, **kw))
    assert_same(*both(a.T, b.T, axis=1))
    assert_same(*both(a, b[:, :7], axis=None, nan_policy="omit"))
    x = rng.normal(size=(3, 4, 50))
    y = rng.normal(size=(3, 4, 40))
    res, ref = both(x, y, axis=-1)
    assert res.statistic.shape == (3, 4)
    assert_same(res, ref)


def test_many_large_columns_match_scipy():
    rng = np.random.default_rng(12)
    a = rng.normal(size=(20000, 6)).astype(np.float32)
    b = rng.normal(size=(15000, 6)).astype(np.float32) * np.float32(1.02)
    assert_same(*both(a, b))


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("a,b,exc,match", [
    ([], [1.0], ValueError, "empty"),
    ([1.0], np.empty(0), ValueError, "empty"),
    (np.array(["a", "b"]), [1.0], TypeError, "numbers"),
    (np.array([1, None], dtype=object), [1.0], TypeError, "numbers"),
    ([1 + 2j], [1.0], TypeError, "numbers"),
    (3.0, [1.0], ValueError, "scalar"),
    (np.ones((5, 3)), np.ones((5, 4)), ValueError, "same shape"),
    ("abc", [1.0], TypeError, "array"),
])
def test_bad_input(a, b, exc, match):
    with pytest.raises(exc, match=match):
        fastmlops.ks_2samp(a, b)


def test_bad_options():
    with pytest.raises(ValueError, match="alternative"):
        fastmlops.ks_2samp([1.0], [2.0], alternative="bigger")
    with pytest.raises(ValueError, match="method"):
        fastmlops.ks_2samp([1.0], [2.0], method="fast")
    with pytest.raises(ValueError, match="nan_policy"):
        fastmlops.ks_2samp([1.0], [2.0], nan_policy="ignore")
    with pytest.raises(ValueError, match="axis"):
        fastmlops.ks_2samp(np.ones((3, 2)), np.ones((3, 2)), axis=2)
    with pytest.raises(TypeError, match="axis"):
        fastmlops.ks_2samp(np.ones((3, 2)), np.ones((3, 2)), axis=1.5)


# ---------------------------------------------------------------- the test's size
@pytest.mark.slow
def test_false_positive_rate_under_null():
    """At alpha = 0.05, the share of rejections among 4,000 independent null tests
    lies in the 99.9 % binomial interval around 0.05.  (For these sizes the
    largest attainable exact p-value below 0.05 is 0.0498, so the test's true
    size is 0.05 to three decimals and the interval around 0.05 applies.)"""
    from scipy import stats

    rng = np.random.default_rng(2024)
    tests = 4000
    a = rng.normal(size=(200, tests))
    b = rng.normal(size=(150, tests))
    lo, hi = stats.binom.interval(0.999, tests, 0.05)
    for method in ("exact", "asymp"):
        p = fastmlops.ks_2samp(a, b, method=method).pvalue
        rejections = int(np.sum(p < 0.05))
        assert lo <= rejections <= hi, (method, rejections, (lo, hi))
    # and a real shift is detected nearly always
    p = fastmlops.ks_2samp(a, b + 0.5).pvalue
    assert np.mean(p < 0.05) > 0.95  # power at a half-sigma shift: 0.98 here


# ---------------------------------------------------------------- DriftReference
def _tables(seed=0, n_ref=3000, n_cur=2000):
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(n_ref, 4))
    cur = rng.normal(size=(n_cur, 4))
    cur[:, 1] += 0.5
    cur[:, 3] *= 1.5
    ref[::17, 2] = np.nan
    cur[::5, 0] = np.nan
    return ref, cur


def test_reference_matches_functions():
    ref, cur = _tables()
    dr = fastmlops.DriftReference(ref, columns=list("abcd"))
    report = dr.check(cur)
    assert report.columns == list("abcd")
    for j in range(4):
        r = fastmlops.ks_2samp(ref[:, j], cur[:, j], nan_policy="omit")
        assert report.ks_statistic[j] == r.statistic
        assert report.ks_pvalue[j] == pytest.approx(r.pvalue, rel=1e-12)
        assert report.psi[j] == pytest.approx(psi_reference(ref[:, j], cur[:, j]), rel=1e-12)
        assert report.kl[j] == pytest.approx(kl_reference(ref[:, j], cur[:, j]), rel=1e-12)
        assert report.jsd[j] == pytest.approx(js_reference(ref[:, j], cur[:, j]), rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(report.nan_share, [0.2, 0, 0, 0])
    assert report.reference_nan_share[2] == pytest.approx(np.mean(np.isnan(ref[:, 2])))
    # column a: 20 % NaN now, none in the reference -> drift by NaN share alone;
    # column c: 5.9 % NaN in the reference, none now -> a significant change of
    # the missing share, smaller than nan_increase: watch
    assert report.column_verdict == ["drift", "drift", "watch", "drift"]
    assert report.reasons[0] == ["missing"] and report.reasons[2] == ["missing"]
    assert report.n_drifted == 3 and report.drifted and report.verdict == "drift"
    lenient = fastmlops.DriftReference(ref, columns=list("abcd"), nan_increase=0.5).check(cur)
    assert lenient.column_verdict == ["watch", "drift", "watch", "drift"]
    text = report.format()
    assert "DRIFT" in text and "a" in text
    ks = dr.ks(cur)
    assert np.array_equal(ks.statistic, report.ks_statistic)


def test_reference_reused_for_many_batches_large():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(60000, 3)).astype(np.float32)
    dr = fastmlops.DriftReference(ref)
    for shift in (0.0, 0.02):
        cur = (rng.normal(size=(50000, 3)) + shift).astype(np.float32)
        ks = dr.ks(cur)
        for j in range(3):
            r = ks_2samp_reference(ref[:, j], cur[:, j])
            assert ks.statistic[j] == r.statistic
            assert ks.statistic_location[j] == r.statistic_location
            np.testing.assert_allclose(ks.pvalue[j], r.pvalue, rtol=P_RTOL)


def test_reference_from_pandas_and_arrow():
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    ref, cur = _tables(3)
    names = ["w", "x", "y", "z"]
    df_ref = pd.DataFrame(ref, columns=names)
    df_cur = pd.DataFrame(cur, columns=names)[["z", "y", "x", "w"]]  # other order: matched by name
    dr = fastmlops.DriftReference(df_ref)
    assert dr.columns == names
    rep_pd = dr.check(df_cur)
    rep_np = fastmlops.DriftReference(ref, columns=names).check(cur)
    np.testing.assert_array_equal(rep_pd.ks_statistic, rep_np.ks_statistic)
    np.testing.assert_array_equal(rep_pd.psi, rep_np.psi)
    table = pa.Table.from_pandas(df_cur)
    rep_pa = dr.check(table)
    np.testing.assert_array_equal(rep_pa.psi, rep_np.psi)
    assert rep_pa.to_pandas().shape[0] == 4
    # nullable / arrow nulls count as missing values
    t2 = pa.table({n: pa.array([None if i % 4 == 0 else float(i) for i in range(400)]) for n in names})
    rep = dr.check(t2)
    np.testing.assert_allclose(rep.nan_share, 0.25)


def test_reference_bad_input():
    ref, cur = _tables()
    dr = fastmlops.DriftReference(ref, columns=list("abcd"))
    with pytest.raises(ValueError, match="column"):
        dr.check(cur[:, :3])
    # reference columns the current table lacks are listed and drift (#24)
    absent = dr.check({"a": cur[:, 0]})
    assert absent.missing_columns == ["b", "c", "d"] and absent.reasons[1] == ["absent"]
    with pytest.raises(ValueError, match="none of the reference's columns"):
        dr.check({"z": cur[:, 0]})
    with pytest.raises(ValueError, match="all NaN"):
        fastmlops.DriftReference(np.full((10, 2), np.nan))
    with pytest.raises(ValueError, match="rows"):
        fastmlops.DriftReference(np.empty((0, 2)))
    # strings are categorical columns now; complex numbers are neither kind
    assert fastmlops.DriftReference(np.array([["a", "b"]])).kinds == ["categorical"] * 2
    with pytest.raises(TypeError, match="complex128"):
        fastmlops.DriftReference(np.array([[1j, 2j]]))
    with pytest.raises(ValueError, match="bins"):
        fastmlops.DriftReference(ref, bins=0)
    with pytest.raises(ValueError, match="3-D|2-D"):
        fastmlops.DriftReference(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="unique"):
        fastmlops.DriftReference(ref, columns=["a", "a", "b", "c"])
    # a current column that is entirely NaN is reported, not raised
    bad = cur.copy()
    bad[:, 0] = np.nan
    rep = dr.check(bad)
    assert rep.column_verdict[0] == "drift" and rep.nan_share[0] == 1.0


# ---------------------------------------------------------------- import cost, warmup, CLI
def test_import_is_light():
    code = ("import sys, fastmlops; "
            "bad = [m for m in ('scipy.stats', 'numba', 'scipy') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_warmup_compiles_everything():
    info = fastmlops.warmup()
    assert info["signatures"] >= 20


def test_cli_demo_and_warmup(capsys):
    from fastmlops.cli import main

    assert main(["demo", "--rows", "20000"]) == 0
    out = capsys.readouterr().out
    assert "income" in out and "verdict" in out and "D = " in out
    assert main(["version"]) == 0
    assert fastmlops.__version__ in capsys.readouterr().out


def test_concurrent_calls_from_many_threads_agree_with_serial():
    """Scratch memory is per thread and the pool is shared: callers on several
    threads at once must get exactly the serial results."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(77)
    pairs = [(rng.normal(size=120_000), rng.normal(0.01 * k, 1, size=90_000)) for k in range(6)]
    serial = [fastmlops.ks_2samp(a, b) for a, b in pairs]
    with ThreadPoolExecutor(max_workers=4) as ex:
        for _ in range(3):
            results = list(ex.map(lambda ab: fastmlops.ks_2samp(*ab), pairs))
            for got, want in zip(results, serial):
                assert got.statistic == want.statistic
                assert got.pvalue == want.pvalue
                assert got.statistic_location == want.statistic_location


@pytest.mark.parametrize("nan_policy", ["propagate", "omit"])
@pytest.mark.parametrize("n", [5, 3000, 9000])
def test_1d_fast_path_equals_the_batch_path(n, nan_policy):
    """1-D samples skip the batch machinery; a numpy-integer axis takes the
    general path: both must give the same fields, types included."""
    rng = np.random.default_rng(n)
    a = rng.normal(size=n)
    b = rng.normal(0.1, 1, size=n + 7)
    a[::97] = np.nan
    for alternative in ("two-sided", "less", "greater"):
        # the exact p-value of some of these falls back to asymp with a warning:
        # both paths must warn alike
        with warnings.catch_warnings(record=True) as w_fast:
            warnings.simplefilter("always")
            fast = fastmlops.ks_2samp(a, b, alternative, nan_policy=nan_policy)
        with warnings.catch_warnings(record=True) as w_general:
            warnings.simplefilter("always")
            general = fastmlops.ks_2samp(a, b, alternative, nan_policy=nan_policy,
                                         axis=np.int64(0))
        assert [(w.category, str(w.message)) for w in w_fast] == \
            [(w.category, str(w.message)) for w in w_general]
        for x, y in zip((*fast,) + (fast.statistic_location, fast.statistic_sign),
                        (*general,) + (general.statistic_location, general.statistic_sign)):
            assert type(x) is type(y)
            assert (np.isnan(x) and np.isnan(y)) or x == y


def test_large_samples_with_the_finer_bucket_map_equal_the_full_sort(monkeypatch):
    """Above 2**20 values in all the bucket map is finer (32,768 buckets):
    ks_2samp and a stored reference must still equal the full sort-merge."""
    rng = np.random.default_rng(11)
    ref = np.round(rng.normal(size=600_000), 4)  # ties too
    cur = np.round(rng.normal(0.004, 1, size=700_000), 4)
    cur[::5000] = np.nan
    fast = fastmlops.ks_2samp(ref, cur, nan_policy="omit")
    report = fastmlops.DriftReference(ref.reshape(-1, 1)).check(cur.reshape(-1, 1))
    monkeypatch.setattr(_ks_engine, "SORT_MERGE_BELOW", 10**12)
    full = fastmlops.ks_2samp(ref, cur, nan_policy="omit")
    assert (fast.statistic, fast.pvalue, fast.statistic_location, fast.statistic_sign) == \
        (full.statistic, full.pvalue, full.statistic_location, full.statistic_sign)
    assert report.ks_statistic[0] == full.statistic
    assert report.ks_pvalue[0] == pytest.approx(full.pvalue, rel=1e-12)


# ---------------------------------------------------------------- audit fixes
def test_reference_dict_with_non_str_keys_checks_the_same_dict():
    # Column names are str ({0: x} is column "0"); a batch given in the same
    # form as the reference used to fail with "no column(s) named ['0', '1']".
    rng = np.random.default_rng(21)
    ref = {0: rng.normal(size=500), 1: rng.normal(size=500), 2.5: rng.normal(size=500)}
    cur = {0: rng.normal(size=200), 1: rng.normal(1.0, 1, size=200),
           2.5: rng.normal(size=200)}
    dr = fastmlops.DriftReference(ref)
    assert dr.columns == ["0", "1", "2.5"]
    rep = dr.check(cur)
    by_str = dr.check({str(k): v for k, v in cur.items()})
    assert rep.column_verdict == by_str.column_verdict and rep.column_verdict[1] == "drift"
    np.testing.assert_array_equal(rep.ks_statistic, by_str.ks_statistic)
    np.testing.assert_array_equal(rep.psi, by_str.psi)
    ks = dr.ks(cur)
    np.testing.assert_array_equal(ks.statistic, rep.ks_statistic)
    # extra keys in the batch are ignored; the order is the reference's
    rep2 = dr.check({2.5: cur[2.5], "x": cur[0], 1: cur[1], 0: cur[0]})
    np.testing.assert_array_equal(rep2.ks_statistic, rep.ks_statistic)
    # columns= selects by the keys themselves or by their str
    for cols in ([1], ["1"]):
        sub = fastmlops.DriftReference(ref, columns=cols)
        assert sub.columns == ["1"]
        assert sub.check(cur).ks_statistic[0] == rep.ks_statistic[1]
    assert dr.check({0: cur[0], 1: cur[1]}).missing_columns == ["2.5"]  # listed (#24)


def test_dict_keys_colliding_as_str_are_rejected():
    x = np.arange(10.0)
    with pytest.raises(ValueError, match="unique as strings.*Rename"):
        fastmlops.DriftReference({0: x, "0": x})
    dr = fastmlops.DriftReference({0: x})
    with pytest.raises(ValueError, match="unique as strings"):
        dr.check({0: x, "0": x + 1})


LONG_DOUBLE_IS_WIDER = np.finfo(np.longdouble).eps < np.finfo(np.float64).eps


@pytest.mark.skipif(not LONG_DOUBLE_IS_WIDER, reason="long double is float64 here")
def test_long_double_is_rejected_not_rounded():
    # 1, 1+2e, 1+4e against 1+e, 1+3e, 1+5e (e the long double epsilon):
    # scipy gives D = 1/3; rounding to float64 made all six values tie (D = 0).
    one, eps = np.longdouble(1), np.finfo(np.longdouble).eps
    a = np.array([one, one + 2 * eps, one + 4 * eps])
    b = np.array([one + eps, one + 3 * eps, one + 5 * eps])
    f64 = np.array([1.0, 2.0, 3.0])
    for x, y, name in [(a, b, "data1"), (f64, b, "data2"), (a, f64, "data1"),
                       (a.reshape(3, 1), b.reshape(3, 1), "data1")]:
        for kw in ({}, {"axis": None}, {"axis": 0}):
            with pytest.raises(TypeError, match=rf"{name} has dtype .*long double.*"
                                                r"\.astype\(np\.float64\)"):
                fastmlops.ks_2samp(x, y, **kw)
    # the suggested conversion works (and rounds, as it says)
    assert fastmlops.ks_2samp(a.astype(np.float64), b.astype(np.float64)).statistic == 0.0
    with pytest.raises(TypeError, match="reference column '0' .*long double"):
        fastmlops.DriftReference(a)
    with pytest.raises(TypeError, match="reference column 'b' .*long double"):
        fastmlops.DriftReference({"a": f64, "b": b})
    dr = fastmlops.DriftReference(f64)
    for cur in (b, {"0": b}):
        with pytest.raises(TypeError, match="current column '0' .*long double"):
            dr.check(cur)
        with pytest.raises(TypeError, match="long double"):
            dr.ks(cur)


def test_exotic_number_types_are_rejected():
    for bad in (np.array([1 + 1j, 2]), np.array([1, 2], dtype=np.clongdouble),
                np.array(["2020-01-01"], dtype="datetime64[D]")):
        with pytest.raises(TypeError, match="numbers"):
            fastmlops.ks_2samp(bad, [1.0, 2.0])
        if bad.dtype.kind == "M":  # a table's datetimes are numeric time (documented)
            assert fastmlops.DriftReference(bad).kinds == ["numeric"]
            continue
        with pytest.raises(TypeError):
            fastmlops.DriftReference(bad)


_LOC_DTYPES = [np.bool_, np.int8, np.uint8, np.int32, np.int64, np.uint64, np.float16,
               np.float32, np.float64]


@pytest.mark.parametrize("dt_a", _LOC_DTYPES)
@pytest.mark.parametrize("dt_b", [np.bool_, np.int16, np.float16, np.float64])
def test_result_types_match_scipy(dt_a, dt_b):
    # statistic_location of bool samples was int64 (scipy: bool), of int32
    # int64 (scipy: int32), of float16 float32 (scipy: float16).
    rng = np.random.default_rng(3)
    a = (rng.random((12, 3)) * 3).astype(dt_a)
    b = (rng.random((9, 3)) * 2).astype(dt_b)
    for x, y, kw in [(a[:, 0], b[:, 0], {}), (a, b, {"axis": None}),
                     (a[:, :1], b[:, :1], {"axis": None}), (a, b, {"axis": 0})]:
        res, ref = both(x, y, **kw)
        assert_same(res, ref)
        for field in ("statistic", "pvalue", "statistic_location", "statistic_sign"):
            got, want = getattr(res, field), getattr(ref, field)
            if field == "statistic_location" and np.ndim(want) \
                    and np.result_type(a, b).kind in "iu" and np.result_type(a, b).itemsize == 8:
                # documented: batches of int64/uint64 samples keep their dtype
                assert got.dtype == np.result_type(a, b), (field, kw)
                continue
            assert type(got) is type(want), (field, kw, type(got), type(want))
            assert np.asarray(got).dtype == np.asarray(want).dtype, (field, kw)


# ---------------------------------------------------------------- bucket kernels
def test_bucket_counts_kernel_equals_bincount_with_buckets_over_65535():
    """The increments go through a uint16 table emptied every 65,535 values:
    a bucket holding far more than that (constant runs, NaNs, the end buckets)
    must still be counted exactly."""
    from fastmlops._kernels import ks as kks

    rng = np.random.default_rng(3)
    x = rng.normal(size=300_000)
    x[:150_000] = 0.25  # one bucket with 150,000 values
    x[200_000:270_000] = np.nan  # 70,000 NaNs in bucket 0
    x[-20_000:] = 1e300  # beyond the range: the top bucket
    lo, scale, top = -3.0, 1000.0, 6001.0
    for dtype in (np.int32, np.int64):
        counts = np.zeros(int(top) + 1, dtype)
        ids = np.empty(x.size, np.uint16)
        nan = kks.bucket_counts(x, lo, scale, top, counts, ids)
        u = np.clip((x - lo) * scale + 1.0, 0.0, top)
        want_ids = np.where(np.isnan(x), 0, np.nan_to_num(u)).astype(np.int32)
        assert nan == 70_000
        np.testing.assert_array_equal(ids, want_ids)
        want = np.bincount(want_ids[~np.isnan(x)], minlength=counts.size)
        np.testing.assert_array_equal(counts, want)


def test_gather_kernel_selects_in_order_skips_nan_and_refuses_small_scratch():
    from fastmlops._kernels import ks as kks

    rng = np.random.default_rng(4)
    x = rng.normal(size=10_000)
    x[::7] = np.nan
    ids = rng.integers(0, 50, size=x.size).astype(np.uint16)
    ids[np.isnan(x)] = 0
    selected = np.zeros(50, np.uint8)
    selected[[0, 3, 17, 49]] = 1
    mask = selected[ids].astype(bool)
    want = x[mask & ~np.isnan(x)]
    out = np.empty(want.size)
    pos = np.empty(int(mask.sum()), np.int64)
    assert kks.gather(x, ids, selected, pos, out) == want.size
    np.testing.assert_array_equal(out, want)
    # one position or one value too few: -1, nothing written out of bounds
    assert kks.gather(x, ids, selected, pos[:-1], out) == -1
    assert kks.gather(x, ids, selected, pos, out[:-1]) == -1


def test_bucketed_ks_with_many_nans_in_the_selected_first_bucket():
    """NaNs share bucket 0 with the values below the range; when that bucket is
    refined their positions need room too (the gather's scratch holds them)."""
    rng = np.random.default_rng(8)
    a = rng.normal(size=400_000)
    b = rng.normal(size=300_000)
    a[:40_000] = np.nan
    b[:1000] = -50.0  # far below the range: bucket 0 is refined
    b[1000:60_000] = np.nan
    st_ = np.array([-np.inf, -np.inf, np.inf, np.inf])
    locs = np.zeros(4)
    assert _ks_engine._bucketed(_ks_engine.Sample(a), _ks_engine.Sample(b), st_, locs)
    assert_same(fastmlops.ks_2samp(a, b, nan_policy="omit"),
                ks_2samp_reference(a, b, nan_policy="omit"))
