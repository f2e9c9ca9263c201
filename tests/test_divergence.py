"""PSI, KL and JS divergence against the reference definitions in references.py."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastmlops import divergence as dv
from fastmlops.divergence import (
    PsiResult,
    bin_counts,
    edges_from_sorted,
    js_divergence,
    js_from_counts,
    kl_divergence,
    kl_from_counts,
    psi,
    psi_from_counts,
    psi_verdict,
)
from tests.references import (
    binned_proportions_reference,
    histogram_counts_reference,
    js_reference,
    kl_reference,
    psi_bins_reference,
    psi_edges_reference,
    psi_reference,
)

LN2 = math.log(2.0)


def close(a: float, b: float) -> bool:
    """1e-12 relative, or 1e-15 absolute near zero."""
    return abs(a - b) <= max(1e-12 * abs(b), 1e-15)


def numpy_counts(values, edges):
    x = np.asarray(values, dtype=np.float64)
    nan = np.isnan(x)
    idx = np.searchsorted(edges, x[~nan], side="right")
    return np.bincount(idx, minlength=len(edges) + 1), int(nan.sum())


def quiet(fn, *args, **kwargs):
    """Call a reference that may warn (inf - inf in np.quantile)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


# ------------------------------------------------------------------ strategies
SPECIALS = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0])
FINITE = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=64)
TIED = st.integers(-3, 3).map(float)


@st.composite
def samples(draw, min_size=1, max_size=300):
    """1-D arrays mixing continuous values, ties, NaN and +/-inf, in several dtypes."""
    n = draw(st.integers(min_size, max_size))
    kind = draw(st.sampled_from(["float", "tied", "mixed", "int", "float32"]))
    if kind == "int":
        return draw(hnp.arrays(np.int64, n, elements=st.integers(-50, 50)))
    elements = {
        "float": FINITE,
        "tied": TIED,
        "mixed": st.one_of(FINITE, TIED, SPECIALS),
        "float32": st.one_of(FINITE, TIED, SPECIALS),
    }[kind]
    arr = draw(hnp.arrays(np.float64, n, elements=elements))
    if kind == "float32":
        arr = arr.astype(np.float32)
    return arr


def has_value(arr) -> bool:
    return bool(np.any(~np.isnan(np.asarray(arr, dtype=np.float64))))


# ------------------------------------------------------------------ bin_counts
@given(values=samples(), reference=samples(), bins=st.integers(1, 50))
def test_bin_counts_match_searchsorted(values, reference, bins):
    assume(has_value(reference))
    edges = quiet(psi_edges_reference, reference, bins)
    counts, n_nan = bin_counts(np.ascontiguousarray(values, dtype=np.float64), edges)
    expected, expected_nan = numpy_counts(values, edges)
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(counts, expected)
    assert n_nan == expected_nan
    if values.dtype == np.float32:
        counts32, nan32 = bin_counts(values, edges)
        np.testing.assert_array_equal(counts32, expected)
        assert nan32 == expected_nan


@pytest.mark.parametrize("n_edges", [0, 1, 3, 4, 5, 9, 63, 64, 65, 100, 1000])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bin_counts_both_kernels(n_edges, dtype):
    """Linear (<= 64 edges) and binary-search kernels, block remainders, outer bins."""
    rng = np.random.default_rng(n_edges)
    values = rng.normal(size=2048 * 3 + 7).astype(dtype)
    values[::97] = np.nan
    values[1::101] = np.inf
    values[2::103] = -np.inf
    edges = np.sort(rng.normal(size=n_edges) * 1.2)
    if n_edges:
        values[3::107] = edges[rng.integers(0, n_edges, values[3::107].size)]  # exact hits
    counts, n_nan = bin_counts(values, edges)
    expected, expected_nan = numpy_counts(values, edges)
    np.testing.assert_array_equal(counts, expected)
    assert n_nan == expected_nan
    if n_edges:
        np.testing.assert_array_equal(counts, histogram_counts_reference(values[~np.isnan(values)], edges))


def test_bin_counts_float32_compared_in_float64():
    # 0.1 is not a float32: float32(0.1) > 0.1 in float64, so it lands above the edge
    edges = np.array([0.1])
    values = np.array([0.1, np.float32(0.1)], dtype=np.float32)
    counts, _ = bin_counts(values, edges)
    np.testing.assert_array_equal(counts, numpy_counts(values, edges)[0])
    np.testing.assert_array_equal(counts, [0, 2])
    counts, _ = bin_counts(np.array([0.1], dtype=np.float32), np.array([np.float64(np.float32(0.1))]))
    np.testing.assert_array_equal(counts, [0, 1])


def test_bin_counts_nan_edges_sorted_last():
    # np.quantile of [-inf, inf] is NaN; np.unique keeps it last, searchsorted never passes it
    edges = quiet(psi_edges_reference, np.array([-np.inf, np.inf, np.inf]), 4)
    assert np.isnan(edges[-1])
    values = np.array([-np.inf, -1.0, 0.0, 5.0, np.inf, np.nan])
    counts, n_nan = bin_counts(values, edges)
    expected, expected_nan = numpy_counts(values, edges)
    np.testing.assert_array_equal(counts, expected)
    assert n_nan == expected_nan == 1
    edges100 = np.concatenate([np.linspace(-1, 1, 99), [np.nan]])  # binary-search kernel
    counts, _ = bin_counts(values, edges100)
    np.testing.assert_array_equal(counts, numpy_counts(values, edges100)[0])


@pytest.mark.parametrize("n_edges", [9, 200])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bin_counts_chunked_parallel_matches_serial(n_edges, dtype, monkeypatch):
    monkeypatch.setenv("FASTMLOPS_NUM_THREADS", "3")
    rng = np.random.default_rng(7)
    values = rng.standard_t(3, size=100_003).astype(dtype)
    values[::13] = np.nan
    edges = np.sort(rng.normal(size=n_edges))
    serial = bin_counts(values, edges, parallel_threshold=10**9)
    chunked = bin_counts(values, edges, parallel_threshold=1000)
    np.testing.assert_array_equal(serial[0], chunked[0])
    assert serial[1] == chunked[1]
    np.testing.assert_array_equal(serial[0], numpy_counts(values, edges)[0])


def test_bin_counts_from_pool_thread_runs_serially(monkeypatch):
    monkeypatch.setenv("FASTMLOPS_NUM_THREADS", "2")
    from fastmlops._core.parallel import parallel_map

    rng = np.random.default_rng(8)
    columns = [rng.normal(size=50_000) for _ in range(4)]
    edges = np.linspace(-2, 2, 9)
    results = parallel_map(lambda col: bin_counts(col, edges, parallel_threshold=1000), columns)
    for col, (counts, n_nan) in zip(columns, results):
        np.testing.assert_array_equal(counts, numpy_counts(col, edges)[0])
        assert n_nan == 0


def test_bin_counts_converts_other_inputs():
    edges = np.array([1.5, 2.5])
    big_endian = np.array([1, 2, 3, 4], dtype=">f8")
    np.testing.assert_array_equal(bin_counts(big_endian, edges)[0], [1, 1, 2])
    strided = np.arange(10.0)[::3]  # 0, 3, 6, 9
    np.testing.assert_array_equal(bin_counts(strided, edges)[0], [1, 0, 3])
    np.testing.assert_array_equal(bin_counts([1, 2, 3], [2])[0], [1, 2])
    counts, n_nan = bin_counts(np.array([], dtype=np.float64), edges)
    np.testing.assert_array_equal(counts, [0, 0, 0])
    assert n_nan == 0
    with pytest.raises(ValueError, match="1-D"):
        bin_counts(np.zeros((2, 2)), edges)
    with pytest.raises(TypeError, match="numbers"):
        bin_counts(np.array(["a"]), edges)


# ----------------------------------------------------------------------- edges
@given(reference=samples(), bins=st.integers(1, 50))
def test_edges_from_sorted_equals_quantile(reference, bins):
    values = np.sort(reference)
    values = values[~np.isnan(values.astype(np.float64))]
    assume(values.size > 0)
    expected = quiet(psi_edges_reference, reference, bins)
    got = edges_from_sorted(values, bins)
    assert got.dtype == np.float64
    # equal values (a NaN edge equals a NaN edge); only the sign of a zero edge
    # may differ, as it does between np.quantile calls on reorderings of ±0
    np.testing.assert_array_equal(got, expected)
    if not np.any(expected == 0):
        assert got.tobytes() == expected.tobytes()


def test_edges_from_sorted_bit_identical_on_sorted_input():
    rng = np.random.default_rng(3)
    for n in [1, 2, 3, 10, 11, 1000, 12_345]:
        for dtype in (np.float64, np.float32):
            values = np.sort(rng.lognormal(size=n).astype(dtype))
            for bins in (1, 2, 3, 7, 10, 20, 50, 100):
                # np.quantile in the array's own dtype: float32 differences in float32
                expected = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
                assert edges_from_sorted(values, bins).tobytes() == expected.tobytes()


def test_edges_constant_and_tiny_references():
    assert edges_from_sorted(np.array([5.0]), 10).tolist() == [5.0]
    assert edges_from_sorted(np.full(100, 2.0), 10).tolist() == [2.0]
    assert edges_from_sorted(np.arange(5.0), 1).size == 0
    assert edges_from_sorted(np.arange(101.0), 4).tolist() == [25.0, 50.0, 75.0]
    with pytest.raises(ValueError, match="empty"):
        edges_from_sorted(np.array([]), 10)
    with pytest.raises(ValueError, match="bins"):
        edges_from_sorted(np.arange(3.0), 0)


# ---------------------------------------------------------- psi / kl / js API
@given(reference=samples(), current=samples(), bins=st.integers(1, 50))
def test_measures_match_references(reference, current, bins):
    assume(has_value(reference) and has_value(current))
    expected_psi = quiet(psi_reference, reference, current, bins)
    result = psi(reference, current, bins=bins)
    assert close(result.value, expected_psi), (result.value, expected_psi)
    assert close(kl_divergence(reference, current, bins=bins), quiet(kl_reference, reference, current, bins))
    js = js_divergence(reference, current, bins=bins)
    assert close(js, quiet(js_reference, reference, current, bins))
    assert -1e-15 <= js <= LN2 + 1e-15


@given(
    reference=samples(min_size=1, max_size=100),
    current=samples(min_size=1, max_size=100),
    bins=st.integers(1, 20),
    eps=st.sampled_from([1e-12, 1e-6, 1e-4, 0.01, 0.3]),
)
def test_result_fields_and_eps(reference, current, bins, eps):
    assume(has_value(reference) and has_value(current))
    result = psi(reference, current, bins=bins, eps=eps)
    assert close(result.value, quiet(psi_reference, reference, current, bins, eps))
    assert close(kl_divergence(reference, current, bins, eps), quiet(kl_reference, reference, current, bins, eps))
    # issue #24: PSI's bins have an outer bin below and above the reference's range
    edges = quiet(psi_bins_reference, reference, bins)
    np.testing.assert_array_equal(result.edges, edges)
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    p = np.maximum(np.bincount(np.searchsorted(edges, ref[~np.isnan(ref)], "right"), minlength=edges.size + 1) / np.sum(~np.isnan(ref)), eps)
    q = np.maximum(np.bincount(np.searchsorted(edges, cur[~np.isnan(cur)], "right"), minlength=edges.size + 1) / np.sum(~np.isnan(cur)), eps)
    np.testing.assert_array_equal(result.reference_proportions, p)
    np.testing.assert_array_equal(result.current_proportions, q)
    assert result.reference_nan_share == np.isnan(ref).mean()
    assert result.current_nan_share == np.isnan(cur).mean()
    assert result.verdict == psi_verdict(result.value)
    assert float(result) == result.value


def test_known_answer_shifted_uniform():
    reference = np.arange(100.0)
    result = psi(reference, reference + 10)
    # issue #24: the edges include the reference's smallest value and the float
    # above its largest, so values above 99 count in a bin of their own
    np.testing.assert_allclose(result.edges, [0.0, 9.9, 19.8, 29.7, 39.6, 49.5, 59.4, 69.3, 79.2,
                                              89.1, np.nextafter(99.0, np.inf)], rtol=1e-14)
    # reference: nothing below 0, 10 values per bin, nothing above 99; current
    # 10..109: 0 below, 0 in [0, 9.9), 10 in each of the next 9, 10 above 99
    p = np.array([1e-4] + [0.1] * 10 + [1e-4])
    q = np.array([1e-4, 1e-4] + [0.1] * 9 + [0.1])
    expected = float(np.sum((q - p) * np.log(q / p)))
    assert close(result.value, expected)
    np.testing.assert_array_equal(result.current_proportions, q)
    assert result.verdict == "major"
    assert psi(reference, reference).value == 0.0
    assert psi(reference, reference).verdict == "none"
    kl = float(np.sum(p * np.log(p / q)))
    assert close(kl_divergence(reference, reference + 10), kl)
    pp = np.array([0] + [0.1] * 10 + [0])  # raw proportions (JSD is not floored)
    qq = np.array([0, 0] + [0.1] * 10)
    m = (pp + qq) / 2
    js = 0.5 * (np.sum(pp[1:-1] * np.log(pp[1:-1] / m[1:-1])) + np.sum(qq[2:] * np.log(qq[2:] / m[2:])))
    assert close(js_divergence(reference, reference + 10), js)


def test_out_of_range_and_infinite_values_land_in_outer_bins():
    reference = np.arange(100.0)
    current = np.array([-1e300, -np.inf, 1e300, np.inf, np.nan, 50.0])
    result = psi(reference, current)
    q = result.current_proportions
    assert q[0] == pytest.approx(0.4) and q[-1] == pytest.approx(0.4)
    assert result.current_nan_share == pytest.approx(1 / 6)
    assert close(result.value, psi_reference(reference, current))


def test_constant_reference_gives_single_bin_or_edge():
    # issue #24: a constant reference has three bins (below, equal, above), so
    # a current sample off the constant has PSI > 0 (it was 0 with two bins)
    result = psi(np.full(50, 3.0), np.array([1.0, 3.0, 5.0]))
    assert result.edges.tolist() == [3.0, np.nextafter(3.0, np.inf)]
    np.testing.assert_allclose(result.reference_proportions, [1e-4, 1.0, 1e-4])
    np.testing.assert_allclose(result.current_proportions, [1 / 3, 1 / 3, 1 / 3])
    assert close(result.value, psi_reference(np.full(50, 3.0), [1.0, 3.0, 5.0]))
    assert result.value > 0.25
    one_bin = psi(np.arange(10.0), np.arange(5.0), bins=1)
    # bins=1: no interior edge, the two outer ones (below 0, above 9)
    assert one_bin.edges.tolist() == [0.0, np.nextafter(9.0, np.inf)] and one_bin.value == 0.0
    assert js_divergence(np.arange(10.0), np.arange(5.0), bins=1) == 0.0


def test_js_extremes():
    assert close(js_from_counts([100, 0], 100, [0, 100], 100), LN2)
    assert js_from_counts([3, 7], 10, [3, 7], 10) == 0.0
    assert close(js_from_counts([1, 3], 4, [3, 1], 4), js_from_counts([3, 1], 4, [1, 3], 4))


def test_from_counts_match_direct_formulas():
    rc, cc = np.array([10, 0, 30, 60]), np.array([5, 5, 0, 90])
    p = np.maximum(rc / 100, 1e-4)
    q = np.maximum(cc / 100, 1e-4)
    assert psi_from_counts(rc, 100, cc, 100) == float(np.sum((q - p) * np.log(q / p)))
    assert kl_from_counts(rc, 100, cc, 100) == float(np.sum(p * np.log(p / q)))
    # KL direction: reference first
    assert kl_from_counts(rc, 100, cc, 100) != kl_from_counts(cc, 100, rc, 100)
    with pytest.raises(ValueError, match="ref_n"):
        psi_from_counts(rc, 0, cc, 100)
    with pytest.raises(ValueError, match="cur_n"):
        js_from_counts(rc, 100, cc, 0)
    with pytest.raises(ValueError, match="differ in length"):
        kl_from_counts(rc, 100, cc[:3], 100)
    with pytest.raises(ValueError, match="eps"):
        psi_from_counts(rc, 100, cc, 100, eps=0)


def test_building_blocks_compose_to_psi():
    rng = np.random.default_rng(11)
    reference = rng.normal(size=20_000)
    reference[::50] = np.nan
    current = rng.normal(0.2, 1.1, size=30_000).astype(np.float32)
    values = np.sort(reference)[: int(np.sum(~np.isnan(reference)))]
    edges = dv.reference_edges(values, 10)  # issue #24: PSI's edges include the outer ones
    ref_counts, ref_nan = bin_counts(reference, edges)
    cur_counts, cur_nan = bin_counts(current, edges)
    value = psi_from_counts(ref_counts, reference.size - ref_nan, cur_counts, current.size - cur_nan, 1e-4)
    assert close(value, psi_reference(reference, current))
    assert close(psi(reference, current).value, value)
    assert close(
        kl_from_counts(ref_counts, values.size, cur_counts, current.size - cur_nan, 1e-4),
        kl_reference(reference, current),
    )
    assert close(js_from_counts(ref_counts, values.size, cur_counts, current.size), js_reference(reference, current))


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a.astype(np.float32),
        lambda a: a.astype(">f8"),
        lambda a: np.repeat(a, 2)[::2],
        lambda a: np.round(a * 10).astype(np.int32),
        lambda a: np.round(a * 10).astype(np.int64),
        lambda a: list(a),
    ],
    ids=["float32", "big-endian", "strided", "int32", "int64", "list"],
)
def test_input_types(make):
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(size=500), rng.normal(0.3, size=400)
    r, c = make(ref), make(cur)
    assert close(psi(r, c).value, psi_reference(r, c))
    assert close(kl_divergence(r, c), kl_reference(r, c))
    assert close(js_divergence(r, c), js_reference(r, c))


def test_bool_input_is_numeric():
    r = np.array([True, False, True, True])
    c = np.array([False, False, True, False])
    assert close(psi(r, c).value, psi_reference(r, c))


# -------------------------------------------------------------------- verdict
@pytest.mark.parametrize(
    "value, verdict",
    [
        (0.0, "none"),
        (np.nextafter(0.1, 0), "none"),
        (0.1, "minor"),
        (0.2, "minor"),
        (0.25, "minor"),
        (np.nextafter(0.25, 1), "major"),
        (3.0, "major"),
        (math.inf, "major"),
    ],
)
def test_verdict_thresholds(value, verdict):
    assert psi_verdict(value) == verdict


def test_verdict_rejects_nan_and_non_numbers():
    with pytest.raises(ValueError, match="NaN"):
        psi_verdict(float("nan"))
    with pytest.raises(TypeError):
        psi_verdict("high")


def test_psi_result_is_frozen_and_printable():
    result = psi(np.arange(10.0), np.arange(10.0))
    assert isinstance(result, PsiResult)
    with pytest.raises(AttributeError):
        result.value = 1.0  # type: ignore[misc]
    assert "verdict='none'" in repr(result)


# ----------------------------------------------------------------- bad input
GOOD = np.arange(10.0)


@pytest.mark.parametrize("fn", [psi, kl_divergence, js_divergence])
@pytest.mark.parametrize(
    "reference, current, exc, match",
    [
        (np.zeros((3, 2)), GOOD, ValueError, "reference must be 1-D"),
        (GOOD, np.zeros((3, 2)), ValueError, "current must be 1-D"),
        (np.float64(1.0), GOOD, ValueError, "1-D"),
        (np.array([], dtype=float), GOOD, ValueError, "reference is empty"),
        (GOOD, [], ValueError, "current is empty"),
        (np.full(4, np.nan), GOOD, ValueError, "reference has no non-NaN"),
        (GOOD, np.full(4, np.nan), ValueError, "current has no non-NaN"),
        (np.array([1, "a"], dtype=object), GOOD, TypeError, "numbers"),
        (GOOD, np.array(["a", "b"]), TypeError, "numbers"),
        ("abc", GOOD, TypeError, "array of numbers"),
        (GOOD, np.array([1 + 2j]), TypeError, "numbers"),
        ([[1, 2], [3]], GOOD, TypeError, "numeric array"),
    ],
)
def test_bad_samples(fn, reference, current, exc, match):
    with pytest.raises(exc, match=match):
        fn(reference, current)


@pytest.mark.parametrize("fn", [psi, kl_divergence, js_divergence])
@pytest.mark.parametrize(
    "bins, exc, match",
    [(0, ValueError, ">= 1"), (-3, ValueError, ">= 1"), (2.5, TypeError, "integer"), ("10", TypeError, "integer"), (True, TypeError, "integer"), (None, TypeError, "integer")],
)
def test_bad_bins(fn, bins, exc, match):
    with pytest.raises(exc, match=match):
        fn(GOOD, GOOD, bins=bins)


def test_numpy_integer_bins_accepted():
    assert psi(GOOD, GOOD, bins=np.int64(4)).edges.size == 3 + 2  # + the 2 outer edges (#24)


@pytest.mark.parametrize("fn", [psi, kl_divergence])
@pytest.mark.parametrize(
    "eps, exc, match",
    [(0.0, ValueError, r"\(0, 1\)"), (1.0, ValueError, r"\(0, 1\)"), (-1e-4, ValueError, r"\(0, 1\)"), (float("nan"), ValueError, r"\(0, 1\)"), ("0.1", TypeError, "number"), (None, TypeError, "number")],
)
def test_bad_eps(fn, eps, exc, match):
    with pytest.raises(exc, match=match):
        fn(GOOD, GOOD, eps=eps)


def test_top_level_exports():
    import fastmlops

    assert fastmlops.psi is psi
    assert fastmlops.kl_divergence is kl_divergence
    assert fastmlops.js_divergence is js_divergence
    assert fastmlops.psi_verdict is psi_verdict
    assert dv.PSI_MINOR == 0.1 and dv.PSI_MAJOR == 0.25


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8,
                    reason="long double is float64 on this platform")
def test_long_double_is_rejected_not_rounded():
    ref = np.arange(100, dtype=np.longdouble)
    cur = ref + np.longdouble(1e-18)  # distinct in long double, equal in float64
    import fastmlops
    for fn in (fastmlops.psi, fastmlops.kl_divergence, fastmlops.js_divergence):
        with pytest.raises(TypeError, match="long double"):
            fn(ref, cur)


# ------------------------------------------------------- audit regressions
def test_float32_reference_edges_follow_numpy_float32_quantile():
    # np.quantile of float32 interpolates from the float32 difference b - a;
    # converting to float64 first moves the 0.5-quantile edge by ~1e-8
    reference = np.array([0.1, 0.2, 0.7, 1.3], dtype=np.float32)
    q = np.linspace(0, 1, 11)[1:-1]
    numpy_edges = np.unique(np.quantile(reference, q))
    float64_edges = np.unique(np.quantile(reference.astype(np.float64), q))
    assert not np.array_equal(numpy_edges, float64_edges)  # the case is adversarial
    np.testing.assert_array_equal(edges_from_sorted(np.sort(reference), 10), numpy_edges)
    k = int(np.flatnonzero(numpy_edges != float64_edges)[0])
    current = np.array([min(numpy_edges[k], float64_edges[k])])  # between the two edges
    result = psi(reference, current)
    # issue #24: the outer edges (smallest value, float above the largest) around them
    full = np.concatenate([[np.float64(reference.min())], numpy_edges,
                           [np.nextafter(np.float64(reference.max()), np.inf)]])
    np.testing.assert_array_equal(result.edges, full)
    expected_bin = int(np.searchsorted(full, current[0], side="right"))
    assert result.current_proportions[expected_bin] == 1.0
    assert result.value == psi_reference(reference, current)
    assert kl_divergence(reference, current) == kl_reference(reference, current)


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_integer_reference_beyond_2_53_edges_follow_numpy(dtype):
    # np.quantile of int64 interpolates from the exact integer difference;
    # rounding the values to float64 first gives other edges
    base = 2**53
    reference = np.array([base + 1, base + 3, base + 5, base + 7], dtype=dtype)
    q = np.linspace(0, 1, 11)[1:-1]
    numpy_edges = np.unique(np.quantile(reference, q))
    assert not np.array_equal(numpy_edges, np.unique(np.quantile(reference.astype(np.float64), q)))
    np.testing.assert_array_equal(edges_from_sorted(reference, 10), numpy_edges)
    result = psi(reference, reference[:2])
    # issue #24: the outer edges join them, as float64 (every value is compared
    # in float64; here the smallest value equals the first interior edge)
    assert np.isin(numpy_edges, result.edges).all()
    np.testing.assert_array_equal(result.edges, psi_bins_reference(reference, 10))
    assert result.edges[0] == float(reference.min())
    assert result.edges[-1] == np.nextafter(float(reference.max()), np.inf)
    assert result.value == psi_reference(reference, reference[:2])


def test_integer_edges_do_not_wrap_around():
    # numpy's int64 b - a wraps for ranges wider than 2**63; ours is exact
    reference = np.array([-(2**63), 2**63 - 1], dtype=np.int64)
    edges = edges_from_sorted(reference, 2)
    assert edges.tolist() == [0.0]  # float(2**63 - 1) - float(2**64 - 1) / 2
    assert quiet(np.quantile, reference, 0.5) > 9e18  # numpy's wrapped difference
    ub = np.array([2**63 + 1, 2**63 + 4097, 2**64 - 1], dtype=np.uint64)
    np.testing.assert_array_equal(edges_from_sorted(ub, 4), np.unique(np.quantile(ub, [0.25, 0.5, 0.75])))
    assert edges_from_sorted(np.array([-128, 127], dtype=np.int8), 2).tolist() == [-0.5]


@pytest.mark.parametrize("bins", [10**6 + 1, 10**12, 2**63 - 1, np.uint64(2**64 - 1)])
def test_huge_bins_rejected_not_crashing(bins):
    # used to raise MemoryError (10**12) or IndexError (2**63 - 1)
    assert dv.MAX_BINS == 10**6
    for fn in (psi, kl_divergence, js_divergence):
        with pytest.raises(ValueError, match="bins must be <="):
            fn(GOOD, GOOD, bins=bins)
    with pytest.raises(ValueError, match="bins must be <="):
        edges_from_sorted(GOOD, bins)


@pytest.mark.parametrize(
    "edges",
    [[2.0, 1.0], [np.nan, 1.0], [1.0, np.nan, 2.0], np.arange(100.0)[::-1]],
    ids=["descending", "nan-first", "nan-middle", "descending-bsearch"],
)
def test_bin_counts_rejects_unsorted_edges(edges):
    # the linear kernel returned negative counts for these
    with pytest.raises(ValueError, match="sorted ascending"):
        bin_counts(np.array([0.0, 1.5, 3.0]), np.asarray(edges))


def test_bin_counts_rejects_non_numeric_edges_and_threshold():
    with pytest.raises(TypeError, match="edges must hold numbers"):
        bin_counts(GOOD, np.array([1 + 1j, 2]))  # imaginary part was dropped silently
    with pytest.raises(TypeError, match="edges must hold numbers"):
        bin_counts(GOOD, ["a"])
    with pytest.raises(TypeError, match="parallel_threshold"):
        bin_counts(GOOD, [1.0], parallel_threshold=None)
    with pytest.raises(TypeError, match="parallel_threshold"):
        bin_counts(GOOD, [1.0], parallel_threshold=True)
    # ties and a NaN edge last are fine
    counts, _ = bin_counts(GOOD, np.array([1.0, 1.0, np.nan]))
    np.testing.assert_array_equal(counts, numpy_counts(GOOD, np.array([1.0, 1.0, np.nan]))[0])


@pytest.mark.parametrize(
    "values, match",
    [
        (np.array([3.0, 1.0, 2.0]), "not sorted"),
        (np.array([1.0, np.nan]), "NaN"),
        (np.array([np.nan, 1.0]), "NaN"),
        (np.array(["a", "b"]), "numbers"),
    ],
)
def test_edges_from_sorted_rejects_unsorted_or_nan(values, match):
    # used to return edges silently ([1.] for [3, 1, 2], [nan] for [1, nan])
    with pytest.raises((ValueError, TypeError), match=match):
        edges_from_sorted(values, 2)


@pytest.mark.parametrize("fn", [psi_from_counts, kl_from_counts, js_from_counts])
@pytest.mark.parametrize(
    "ref_counts, ref_n, exc, match",
    [
        ([0, 0], 5, ValueError, "sum to 0"),          # js gave NaN, psi 8.5
        ([3, 3], 2, ValueError, "sum to 6"),          # proportions above 1
        ([5, -3], 2, ValueError, "negative"),
        ([1, np.nan], 2, ValueError, "NaN"),          # NaN result
        ([[1, 1]], 2, ValueError, "1-D"),
        ([1, 1], 2.7, ValueError, "whole number"),    # truncated to 2 silently
        ([1, 1], float("nan"), ValueError, "whole number"),
        ([1, 1], True, TypeError, "integer"),         # taken as 1
        ([1, 1], "2", TypeError, "integer"),
        (["a", "b"], 2, TypeError, "numbers"),
    ],
)
def test_from_counts_reject_inconsistent_counts(fn, ref_counts, ref_n, exc, match):
    with pytest.raises(exc, match=match):
        fn(ref_counts, ref_n, [1, 1], 2)
    with pytest.raises(exc, match=match):  # same checks on the current side
        fn([1, 1], 2, ref_counts, ref_n)


def test_from_counts_accept_whole_float_counts_and_n():
    assert psi_from_counts([1.0, 1.0], 2.0, [1, 1], np.int64(2)) == 0.0
    small = np.array([200, 200], dtype=np.uint8)  # the sum check must not wrap at 256
    assert js_from_counts(small, 400, [100, 300], 400) == js_from_counts([200, 200], 400, [100, 300], 400)
    with pytest.raises(ValueError, match="at least|non-empty"):
        psi_from_counts([], 1, [], 1)  # returned 0.0


@pytest.mark.parametrize("value", ["0.3", b"0.3", True, np.bool_(False)])
def test_verdict_rejects_strings_and_bools(value):
    # "0.3" gave "major" and True gave "major"
    with pytest.raises(TypeError, match="real number"):
        psi_verdict(value)


def test_verdict_exact_boundaries_and_numpy_scalars():
    assert psi_verdict(np.float64(0.1)) == "minor"
    assert psi_verdict(np.float32(0.25)) == "minor"
    assert psi_verdict(np.nextafter(0.25, 1)) == "major"
    assert psi_verdict(np.int64(0)) == "none"


def test_psi_does_not_keep_reference_views():
    reference = np.arange(100.0)
    result = psi(reference, reference + 5)
    before = (result.value, result.edges.copy())
    reference[:] = 0.0  # mutating the input after the call changes nothing
    assert result.value == before[0]
    np.testing.assert_array_equal(result.edges, before[1])


# ------------------------------------------------------- issue #17 (fuzzing)
@pytest.mark.parametrize("values", [[np.nan], [np.nan, np.nan], [1.0, np.nan],
                                    np.array([np.nan], dtype=np.float32)])
@pytest.mark.parametrize("bins", [1, 2, 10])
def test_edges_from_sorted_nan_raises_even_for_one_value(values, bins):
    # item 7: a single NaN returned [nan] instead of the documented ValueError
    with pytest.raises(ValueError, match="NaN"):
        edges_from_sorted(np.asarray(values), bins)


def test_bin_counts_ndarray_subclass_takes_the_checked_path():
    # item 2's neighbour: a subclass of ndarray is converted, not handed to the kernel
    class Tagged(np.ndarray):
        pass

    values = np.array([0.5, 1.5, 2.5], dtype=np.float32).view(Tagged)
    counts, n_nan = bin_counts(values, np.array([1.0, 2.0]).view(Tagged))
    assert counts.tolist() == [1, 1, 1] and n_nan == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=30), st.data(),
       st.floats(1e-9, 0.5))
def test_measures_from_counts_equals_the_three_calls(ref, data, eps):
    from fastmlops.divergence import (js_from_counts, kl_from_counts, measures_from_counts,
                                      psi_from_counts)

    cur = data.draw(st.lists(st.integers(0, 50), min_size=len(ref), max_size=len(ref)))
    if sum(ref) == 0 or sum(cur) == 0:
        return
    got = measures_from_counts(ref, sum(ref), cur, sum(cur), eps)
    want = (psi_from_counts(ref, sum(ref), cur, sum(cur), eps),
            kl_from_counts(ref, sum(ref), cur, sum(cur), eps),
            js_from_counts(ref, sum(ref), cur, sum(cur)))
    assert got == want  # bit for bit
