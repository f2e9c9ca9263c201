"""Masked arrays (issue #17, item 1): a masked value is a missing value, exactly as NaN.

The rule lives in ``fastmlops._core.validation`` (module docstring) and is applied
once, in ``as_numeric_array``; every public function that takes arrays is
checked here against the same call on the data with the masked entries set to
NaN or removed.
"""

from __future__ import annotations

import numpy as np
import numpy.ma as ma
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastmlops import DriftReference, js_divergence, kl_divergence, ks_2samp, psi
from fastmlops._core.validation import as_numeric_array
from fastmlops.divergence import bin_counts, edges_from_sorted
from fastmlops.losses import bradley_terry_loss, dpo_loss
from fastmlops.quantiles import Reservoir, SlidingWindow, histogram_quantile


def _as_nan(x: ma.MaskedArray) -> np.ndarray:
    """The reference reading of the rule: float data with NaN where masked."""
    return np.where(ma.getmaskarray(x), np.nan, np.asarray(x.data, dtype=np.float64))


def _masked(seed: int, n: int = 2000, share: float = 0.1, outlier: float = 1e6,
            dtype: type = np.float64) -> ma.MaskedArray:
    """A normal sample whose masked entries hold wild outliers (never to be read)."""
    rng = np.random.default_rng(seed)
    data = rng.normal(size=n).astype(dtype)
    mask = rng.random(n) < share
    data[mask] = outlier
    return ma.masked_array(data, mask=mask)


# ----------------------------------------------------------------- the conversion
def test_as_numeric_array_masked_float_is_a_nan_copy():
    x = ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    out = as_numeric_array(x, "x")
    assert type(out) is np.ndarray
    np.testing.assert_array_equal(out, [1.0, np.nan, 3.0])
    assert x.data[1] == 2.0  # the caller's data is not touched
    f32 = as_numeric_array(ma.masked_array(np.float32([1, 2]), mask=[1, 0]), "x")
    assert f32.dtype == np.float32 and np.isnan(f32[0])
    f16 = as_numeric_array(ma.masked_array(np.float16([1, 2]), mask=[1, 0]), "x")
    assert f16.dtype == np.float32 and np.isnan(f16[0])  # float16 widens, as unmasked


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint16, np.uint64, np.bool_])
def test_as_numeric_array_masked_integers_become_float64_with_nan(dtype):
    x = ma.masked_array(np.array([1, 0, 1], dtype=dtype), mask=[0, 1, 0])
    out = as_numeric_array(x, "x")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [1.0, np.nan, 1.0])


def test_as_numeric_array_nothing_masked_keeps_dtype_without_copy():
    data = np.arange(5, dtype=np.int32)
    out = as_numeric_array(ma.masked_array(data), "x")
    assert out.dtype == np.int32 and np.shares_memory(out, data)
    out = as_numeric_array(ma.masked_array(data, mask=np.zeros(5, bool)), "x")
    assert out.dtype == np.int32


def test_as_numeric_array_refuses_integers_float64_would_round():
    exact = ma.masked_array(np.array([2 ** 60, -2 ** 62, 5]), mask=[0, 0, 1])
    np.testing.assert_array_equal(as_numeric_array(exact, "x")[:2], [2.0 ** 60, -2.0 ** 62])
    for data in (np.array([2 ** 53 + 1, 0]), np.array([2 ** 63 - 1, 0]),
                 np.array([2 ** 64 - 1, 0], dtype=np.uint64)):
        with pytest.raises(ValueError, match="2\\*\\*53"):
            as_numeric_array(ma.masked_array(data, mask=[0, 1]), "x")
    # a big value under the mask is never read, so it does not matter
    hidden = as_numeric_array(ma.masked_array(np.array([2 ** 63 - 1, 3]), mask=[1, 0]), "x")
    np.testing.assert_array_equal(hidden, [np.nan, 3.0])


def test_as_numeric_array_masked_non_numbers_are_refused_as_before():
    with pytest.raises(TypeError, match="numbers"):
        as_numeric_array(ma.masked_array(["a", "b"], mask=[0, 1]), "x")


# ----------------------------------------------------------------- divergence
def test_psi_one_masked_outlier_is_ignored():
    # the report of issue #17: one masked outlier in the reference made PSI "major"
    rng = np.random.default_rng(17)
    ref = rng.normal(size=500)
    cur = rng.normal(size=500)
    data = np.append(ref, 1e9)
    masked = ma.masked_array(data, mask=np.append(np.zeros(500, bool), True))
    res = psi(masked, cur)
    plain = psi(ref, cur)
    assert res.value == plain.value and res.verdict == plain.verdict == "none"
    np.testing.assert_array_equal(res.edges, plain.edges)
    assert res.reference_nan_share == 1 / 501


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("bins", [1, 4, 10])
def test_divergences_equal_the_nan_and_the_compressed_data(dtype, bins):
    ref = _masked(1, dtype=dtype) if dtype != np.int64 else ma.masked_array(
        np.random.default_rng(1).integers(-50, 50, 3000), mask=np.arange(3000) % 7 == 0)
    cur = _masked(2, n=1500, share=0.3, dtype=dtype if dtype != np.int64 else np.float64)
    for fn in (kl_divergence, js_divergence):
        got = fn(ref, cur, bins=bins)
        assert got == fn(_as_nan(ref), _as_nan(cur), bins=bins)
        assert got == fn(ref.compressed(), cur.compressed(), bins=bins)
    res = psi(ref, cur, bins=bins)
    assert res.value == psi(_as_nan(ref), _as_nan(cur), bins=bins).value
    assert res.value == psi(ref.compressed(), cur.compressed(), bins=bins).value
    assert res.reference_nan_share == ma.count_masked(ref) / ref.size
    assert res.current_nan_share == ma.count_masked(cur) / cur.size


@settings(deadline=None, max_examples=40)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60), st.data())
def test_bin_counts_masked_equals_nan(values, data):
    mask = data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    dtype = data.draw(st.sampled_from([np.float64, np.float32, np.int32]))
    arr = ma.masked_array(np.array(values).astype(dtype), mask=mask)
    edges = np.unique(np.array(data.draw(st.lists(st.floats(-1e6, 1e6), max_size=5))))
    counts, n_nan = bin_counts(arr, edges)
    want_counts, want_nan = bin_counts(_as_nan(arr) if dtype != np.float32
                                       else np.where(mask, np.float32(np.nan), arr.data), edges)
    np.testing.assert_array_equal(counts, want_counts)
    assert n_nan == want_nan == sum(mask)
    np.testing.assert_array_equal(counts, np.bincount(
        np.searchsorted(edges, arr.compressed().astype(np.float64), side="right"),
        minlength=edges.size + 1))


def test_bin_counts_masked_float32_reaches_no_kernel_type_error():
    # issue #17 item 2: a contiguous masked float array went to the kernel as is
    for dtype in (np.float32, np.float64):
        arr = ma.masked_array(np.arange(5, dtype=dtype), mask=[0, 1, 0, 0, 0])
        counts, n_nan = bin_counts(arr, np.array([1.5]))
        assert counts.tolist() == [1, 3] and n_nan == 1
    counts, n_nan = bin_counts(np.arange(3.0), ma.masked_array([0.5, 1.5], mask=[0, 1]))
    want, _ = bin_counts(np.arange(3.0), np.array([0.5, np.nan]))  # a masked edge is a NaN edge
    assert counts.tolist() == want.tolist() == [1, 2, 0] and n_nan == 0


def test_edges_from_sorted_refuses_masked_values_as_nan():
    arr = ma.masked_array(np.arange(10.0), mask=np.arange(10) == 9)
    with pytest.raises(ValueError, match="NaN"):
        edges_from_sorted(arr, 4)
    np.testing.assert_array_equal(edges_from_sorted(ma.masked_array(np.arange(10.0)), 4),
                                  edges_from_sorted(np.arange(10.0), 4))


# ----------------------------------------------------------------- KS and drift
def test_ks_2samp_masked_equals_compressed():
    a, b = _masked(3), _masked(4, n=700, share=0.4)
    got = ks_2samp(a, b)
    want = ks_2samp(a.compressed(), b.compressed())
    assert (got.statistic, got.pvalue) == (want.statistic, want.pvalue)
    omit = ks_2samp(_as_nan(a), _as_nan(b), nan_policy="omit")
    assert (got.statistic, got.pvalue) == (omit.statistic, omit.pvalue)


def test_drift_reference_masked_cells_are_missing_values():
    rng = np.random.default_rng(5)
    data = rng.normal(size=(3000, 3))
    mask = rng.random((3000, 3)) < np.array([0.0, 0.05, 0.5])
    data[mask] = 1e12  # never read
    masked = ma.masked_array(data, mask=mask)
    ref = DriftReference(masked, columns=["a", "b", "c"])
    assert ref.n_rows == 3000  # the table keeps its rows
    nan_ref = DriftReference(np.where(mask, np.nan, data), columns=["a", "b", "c"])
    assert ref.digest == nan_ref.digest
    cur = rng.normal(size=(1000, 3))
    cur_mask = rng.random((1000, 3)) < 0.2
    cur_masked = ma.masked_array(np.where(cur_mask, -1e12, cur), mask=cur_mask)
    got = ref.check(cur_masked)
    want = nan_ref.check(np.where(cur_mask, np.nan, cur))
    np.testing.assert_array_equal(got.reference_nan_share, mask.mean(axis=0))
    np.testing.assert_array_equal(got.nan_share, cur_mask.mean(axis=0))
    for field in ("psi", "kl", "jsd", "ks_statistic", "ks_pvalue"):
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field))
    assert got.column_verdict == want.column_verdict
    # a dict of masked columns reads the same way
    by_name = DriftReference({"a": masked[:, 0], "b": masked[:, 1], "c": masked[:, 2]})
    assert by_name.digest == ref.digest


# ----------------------------------------------------------------- quantiles
def test_quantile_sketches_refuse_masked_values_as_they_refuse_nan():
    masked = ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    for sketch in (SlidingWindow(10), Reservoir(10, seed=0)):
        with pytest.raises(ValueError, match="NaN") as got:
            sketch.extend(masked)
        with pytest.raises(ValueError, match="NaN") as want:
            sketch.extend(_as_nan(masked))
        assert str(got.value) == str(want.value)
        sketch.extend(ma.masked_array([1.0, 2.0, 3.0]))  # nothing masked: accepted
        assert sketch.quantile(0.5) == 2.0


def test_histogram_quantile_masked_inputs_read_as_nan():
    le = np.array([1.0, 2.0, np.inf])
    counts = ma.masked_array([1.0, 3.0, 4.0], mask=[0, 1, 0])
    q = ma.masked_array([0.5, 0.9], mask=[0, 1])
    for args in ((0.5, le, counts), (q, le, [1, 3, 4])):
        try:
            want = histogram_quantile(*[_as_nan(a) if isinstance(a, ma.MaskedArray) else a
                                        for a in args])
        except (TypeError, ValueError) as exc:
            with pytest.raises(type(exc)):
                histogram_quantile(*args)
        else:
            np.testing.assert_array_equal(histogram_quantile(*args), want)


# ----------------------------------------------------------------- losses
def test_losses_masked_pair_is_nan_as_a_nan_input():
    rng = np.random.default_rng(6)
    x = [rng.normal(-50, 5, 100) for _ in range(4)]
    mask = np.zeros(100, bool)
    mask[[3, 40]] = True
    masked = ma.masked_array(x[0], mask=mask)
    got = dpo_loss(masked, *x[1:], beta=0.2)
    want = dpo_loss(_as_nan(masked), *x[1:], beta=0.2)
    np.testing.assert_array_equal(got.losses, want.losses)
    assert np.isnan(got.losses[mask]).all() and not np.isnan(got.losses[~mask]).any()
    assert np.isnan(got.loss)  # never a silent number over the other pairs
    bt = bradley_terry_loss(ma.masked_array(x[0], mask=mask), x[1])
    np.testing.assert_array_equal(bt.losses, bradley_terry_loss(_as_nan(masked), x[1]).losses)
    assert np.isnan(bt.loss)


# ----------------------------------------------------------------- metrics
def test_observe_many_refuses_masked_values_as_it_refuses_nan():
    from fastmlops.metrics import Histogram

    h = Histogram("masked_seconds", "help", buckets=[0.1, 1.0], registry=None)
    with pytest.raises(ValueError, match="NaN") as got:
        h.observe_many(ma.masked_array([0.05, 0.5, 2.0], mask=[0, 1, 0]))
    with pytest.raises(ValueError, match="NaN") as want:
        h.observe_many(np.array([0.05, np.nan, 2.0]))
    assert str(got.value) == str(want.value)
    h.observe_many(ma.masked_array([0.05, 0.5, 2.0]))  # nothing masked
