"""The PSI / picture-grid counts derived from the KS bucket counts
(``_kernels.ks_bins``), the fused gather of a streamed check's second pass,
and the row-major path of ``DriftReference.check`` that uses both, against
their references: ``divergence.bin_counts`` (numpy.searchsorted), a numpy
mask, and the check of the same data as contiguous columns."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastmlops
from fastmlops._kernels import ks as _k
from fastmlops._kernels.ks_bins import bucket_split_counts, fold_buckets, gather_mapped
from fastmlops.drift._count import _row_major


def _ref_column(values: np.ndarray):
    ref = fastmlops.DriftReference({"x": values})
    return ref, ref.column_models[0]


def _derived(col, values: np.ndarray, spec=None):
    """PSI and grid counts of ``values`` from bucket counts + split buckets."""
    if spec is None:
        bm = col.buckets()
        spec = (bm.lo, bm.scale, bm.top)
    nb = int(spec[2]) + 1
    counts = np.zeros(nb, np.int64)
    ids = np.empty(values.size, np.uint16)
    split, _ = col.split_table(spec)
    sc = np.zeros(col.union_bins()[0].size + 1, np.int64)
    nan = bucket_split_counts(values, *spec, counts, ids, split, col.union_bins()[0], sc)
    # the bucket counts and ids are bucket_counts' own
    counts2, ids2 = np.zeros(nb, np.int64), np.empty(values.size, np.uint16)
    assert _k.bucket_counts(values, *spec, counts2, ids2) == nan
    assert np.array_equal(counts, counts2) and np.array_equal(ids, ids2)
    return col.bins_from_buckets(spec, counts, sc)


values_1d = st.lists(st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 2.0])), min_size=1, max_size=300)


@settings(max_examples=150, deadline=None)
@given(ref_values=st.lists(st.floats(-1e6, 1e6), min_size=20, max_size=400),
       cur=values_1d, edge_copies=st.integers(0, 20))
def test_bins_from_buckets_equal_searchsorted(ref_values, cur, edge_copies):
    ref_arr = np.array(ref_values)
    _, col = _ref_column(ref_arr)
    union = col.union_bins()[0]
    # current values sitting exactly on the edges, and a ulp either side
    extra = np.concatenate([union, np.nextafter(union, -np.inf), np.nextafter(union, np.inf)])
    cur_arr = np.concatenate([np.array(cur, dtype=np.float64), np.tile(extra, edge_copies)])
    psi, grid, _ = col.count_bins(cur_arr)
    if col.buckets() is None:  # too few distinct values: the streamed check's one bucket
        got = _derived(col, cur_arr, (0.0, 0.0, 0.0))
    else:
        got = _derived(col, cur_arr)
    assert np.array_equal(got[0], psi)
    assert np.array_equal(got[1], grid)
    # and numpy's searchsorted itself on the PSI edges
    finite = cur_arr[~np.isnan(cur_arr)]
    want = np.bincount(np.searchsorted(col.edges, finite, side="right"),
                       minlength=col.edges.size + 1)
    assert np.array_equal(psi, want)


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint64])
def test_bins_from_buckets_other_dtypes(dtype):
    rng = np.random.default_rng(3)
    ref_vals = (rng.normal(size=5000) * 100).astype(dtype) if dtype != np.uint64 else \
        rng.integers(0, 1000, size=5000).astype(dtype)
    cur = (rng.normal(size=20000) * 100).astype(dtype) if dtype != np.uint64 else \
        rng.integers(0, 1100, size=20000).astype(dtype)
    _, col = _ref_column(ref_vals)
    if col.buckets() is None:
        pytest.skip("no bucket map for this reference")
    psi, grid, _ = col.count_bins(cur)
    got = _derived(col, cur)
    assert np.array_equal(got[0], psi) and np.array_equal(got[1], grid)


def test_split_table_marks_every_edge_bucket():
    rng = np.random.default_rng(0)
    _, col = _ref_column(rng.normal(size=100_000))
    bm = col.buckets()
    spec = (bm.lo, bm.scale, bm.top)
    split, bin_of = col.split_table(spec)
    union = col.union_bins()[0]
    ids = np.empty(union.size, np.uint16)
    _k.bucket_counts(union, *spec, np.zeros(split.size, np.int64), ids)
    assert split[ids].all()
    assert (bin_of[split == 1] == -1).all() and (bin_of[split == 0] >= 0).all()
    # a small share of buckets is split: the point of the design
    assert split.mean() < 0.01
    assert col.split_table(spec) is col.split_table(spec)  # cached


def test_fold_buckets():
    counts = np.array([3, 0, 5, 7, 1], np.int64)
    bin_of = np.array([0, -1, 1, 1, 2], np.int64)
    out = np.array([10, 0, 0], np.int64)
    fold_buckets(counts, bin_of, out)
    assert out.tolist() == [13, 12, 1]


@settings(max_examples=100, deadline=None)
@given(cur=values_1d, seed=st.integers(0, 2**32 - 1), room_short=st.booleans())
def test_gather_mapped_equals_numpy(cur, seed, room_short):
    rng = np.random.default_rng(seed)
    lo, scale, top = -2.0, 10.0, 41.0
    values = np.array(cur, dtype=np.float64)
    selected = (rng.random(int(top) + 1) < 0.3).astype(np.uint8)
    with np.errstate(invalid="ignore", over="ignore"):
        u = (values - lo) * scale + 1.0
        u = np.where(u > 0.0, u, 0.0)
        u = np.where(u < top, u, top)
    want = values[(selected[u.astype(np.int64)] == 1) & ~np.isnan(values)]
    room = max(0, want.size - 1) if room_short and want.size else values.size
    out = np.empty(room, np.float64)
    got = gather_mapped(values, lo, scale, top, selected, out)
    if room < want.size:
        assert got == -1
    else:
        assert got == want.size
        assert np.array_equal(out[:got], want)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), decimals=st.sampled_from([0, 1, 3, None]),
       shift=st.sampled_from([0.0, 0.05, 1.0]), dtype=st.sampled_from([np.float64, np.float32]))
def test_row_major_check_equals_columns(seed, decimals, shift, dtype):
    """The row-major path (rows read in place) gives the report of the same
    data as contiguous columns, bit for bit."""
    rng = np.random.default_rng(seed)
    ref_data = rng.normal(size=(3000, 5))
    cur = rng.normal(shift, 1.0, size=(5000, 5))
    if decimals is not None:
        ref_data, cur = np.round(ref_data, decimals), np.round(cur, decimals)
    cur[rng.random(5000) < 0.05, 1] = np.nan
    cur[:7, 3] = np.inf
    ref = fastmlops.DriftReference(ref_data.astype(dtype))
    cur = cur.astype(dtype)
    assert _row_major(ref.column_models, ref.current_columns(cur)) is not None
    assert ref.check(cur).to_json() == ref.check(np.asfortranarray(cur)).to_json()


def test_row_major_falls_back_for_other_dtypes():
    rng = np.random.default_rng(1)
    ref = fastmlops.DriftReference(rng.normal(size=(3000, 3)))
    cur = rng.normal(size=(5000, 3)).astype(np.float32)  # compared in float64
    assert _row_major(ref.column_models, ref.current_columns(cur)) is None
    assert ref.check(cur).to_json() == ref.check(np.asfortranarray(cur)).to_json()
