"""The KS engine's row-major path, scratch buffers and column blocks.

References: ``bucket_counts`` (the per-column kernel) for the row kernel, the
plain sort-merge (``merge_sorted`` on fully sorted samples) and scipy for the
statistics of tables read in place.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastmlops
from fastmlops.drift import _ks_engine as engine
from fastmlops._kernels import ks as kks
from fastmlops.drift._ks import resolve
from fastmlops._core.parallel import balanced_blocks
from tests.references import ks_2samp_reference

SETTINGS = settings(deadline=None, max_examples=60)


def _sort_merge(x, y):
    """The reference statistic: both samples sorted in full, then merged."""
    x, y = np.sort(x[~np.isnan(x)]), np.sort(y[~np.isnan(y)])
    if x.size == 0 or y.size == 0:
        return None
    st_ = np.array([-np.inf, -np.inf, np.inf, np.inf])
    locs = np.zeros(4, x.dtype)
    kks.merge_sorted(x, y, st_, locs)
    return st_, locs


def _assert_same_statistic(res, want):
    """The refinement only merges the buckets that can hold an extreme, so the
    four raw extremes may differ from the full merge's; what scipy reports
    from them (statistic, location, sign) for each alternative may not."""
    for alternative in ("two-sided", "less", "greater"):
        got = resolve(res[0], res[1], alternative)
        exp = resolve(want[0], want[1], alternative)
        assert got == exp, (alternative, got, exp)


def _table(draw, n, w, dtype):
    kind = draw(st.sampled_from(["normal", "ties", "nan", "inf", "spike"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    t = rng.normal(draw(st.floats(-0.3, 0.3)), 1, size=(n, w))
    if kind == "ties":
        t = np.round(t, 1)
    elif kind == "nan":
        t[rng.random((n, w)) < 0.1] = np.nan
    elif kind == "inf":
        t[rng.random((n, w)) < 0.02] = np.inf
        t[rng.random((n, w)) < 0.02] = -np.inf
    elif kind == "spike":
        t[rng.random((n, w)) < 0.5] = 0.0
    return t.astype(dtype)


@SETTINGS
@given(st.data(), st.integers(1, 3000), st.integers(1, 20),
       st.sampled_from([np.float64, np.float32]))
def test_rows_kernel_equals_the_column_kernel(data, n, w, dtype):
    table = _table(data.draw, n, w + 3, dtype)
    j0 = data.draw(st.integers(0, 3))
    los = np.array([data.draw(st.floats(-3, 0)) for _ in range(w)])
    scales = np.array([data.draw(st.floats(1, 5000)) for _ in range(w)])
    tops = np.array([float(data.draw(st.integers(0, 40000))) for _ in range(w)])
    nb = int(tops.max()) + 1
    ids = np.empty((w, n), np.uint16)
    counts = np.zeros((w, nb), np.int64)
    nans = np.zeros(w, np.int64)
    # split-bucket counting on random edges for every other column (see ks_bins)
    edges_k = np.sort(np.array([data.draw(st.floats(-5, 5)) for _ in range(3)]))
    use = (np.arange(w) % 2 == 0).astype(np.uint8)
    split = (np.random.default_rng(n).random((w, nb)) < 0.3).astype(np.uint8)
    edges = np.tile(edges_k, int(use.sum()))
    edge_at = np.concatenate([[0], np.cumsum(use * 3)]).astype(np.int64)
    scounts = np.zeros((w, 4), np.int64)
    # two chunks of rows, counted apart (as two threads do), then added
    cut = data.draw(st.integers(0, n))
    counts2, nans2, scounts2 = np.zeros_like(counts), np.zeros_like(nans), np.zeros_like(scounts)
    assert kks.rows_bucket_counts(table, 0, cut, j0, los, scales, tops, ids, counts, nans,
                                  use, split, edges, edge_at, scounts) == 0
    assert kks.rows_bucket_counts(table, cut, n, j0, los, scales, tops, ids, counts2, nans2,
                                  use, split, edges, edge_at, scounts2) == 0
    counts += counts2
    nans += nans2
    scounts += scounts2
    for k in range(w):
        col = np.ascontiguousarray(table[:, j0 + k])
        if use[k]:
            x = col.astype(np.float64)
            keep = (split[k][ids[k]] == 1) & ~np.isnan(x)
            want = np.bincount(np.searchsorted(edges_k, x[keep], side="right"), minlength=4)
            np.testing.assert_array_equal(scounts[k], want)
        else:
            assert not scounts[k].any()
    for k in range(w):
        col = np.ascontiguousarray(table[:, j0 + k])
        want_counts = np.zeros(int(tops[k]) + 1, np.int64)
        want_ids = np.empty(n, np.uint16)
        want_nan = kks.bucket_counts(col, los[k], scales[k], tops[k], want_counts, want_ids)
        assert nans[k] == want_nan
        np.testing.assert_array_equal(ids[k], want_ids)
        np.testing.assert_array_equal(counts[k, :want_counts.size], want_counts)
        assert not counts[k, want_counts.size:].any()


def test_rows_kernel_refuses_shapes_that_do_not_fit():
    table = np.zeros((10, 4))
    ok = (np.zeros(2), np.ones(2), np.full(2, 5.0))
    ids, counts, nans = np.empty((2, 10), np.uint16), np.zeros((2, 6), np.int64), np.zeros(2, np.int64)
    no_split = (np.zeros(2, np.uint8), np.zeros((1, 1), np.uint8), np.zeros(0),
                np.zeros(3, np.int64), np.zeros((1, 1), np.int64))
    _rows = kks.rows_bucket_counts

    def rows(table, j0, *args):
        return _rows(table, 0, table.shape[0], j0, *args, *no_split)

    # a split table too short for the map, or edges past their array: refused
    use = np.ones(2, np.uint8)
    assert _rows(table, 0, 10, 2, *ok, ids, counts, nans, use, np.zeros((2, 5), np.uint8),
                 np.zeros(2), np.array([0, 1, 2]), np.zeros((2, 2), np.int64)) == -1
    assert _rows(table, 0, 10, 2, *ok, ids, counts, nans, use, np.zeros((2, 6), np.uint8),
                 np.zeros(2), np.array([0, 1, 3]), np.zeros((2, 2), np.int64)) == -1
    assert _rows(table, 0, 10, 2, *ok, ids, counts, nans, use, np.zeros((2, 6), np.uint8),
                 np.zeros(2), np.array([0, 1, 2]), np.zeros((2, 2), np.int64)) == 0
    # rows out of range
    for r0, r1 in ((-1, 5), (6, 5), (0, 11)):
        assert _rows(table, r0, r1, 2, *ok, ids, counts, nans, *no_split) == -1
    assert rows(table, 2, *ok, ids, counts, nans) == 0
    assert rows(table, 3, *ok, ids, counts, nans) == -1  # columns 3, 4
    assert rows(table, 0, *ok, ids[:, :9].copy(), counts, nans) == -1
    assert rows(table, 0, *ok, ids, counts[:, :5].copy(), nans) == -1
    big = (np.zeros(2), np.ones(2), np.full(2, 70000.0))
    assert rows(table, 0, *big, ids, np.zeros((2, 70001), np.int64), nans) == -1


@SETTINGS
@given(st.data(), st.integers(1, 4000), st.integers(1, 4000), st.integers(1, 6),
       st.sampled_from([np.float64, np.float32]))
def test_table_block_equals_the_sort_merge(data, n_a, n_b, w, dtype):
    a = _table(data.draw, n_a, w, dtype)
    b = _table(data.draw, n_b, w, dtype)
    if data.draw(st.booleans()):  # big enough for the bucket path
        a = np.concatenate([a] * (5000 // n_a + 1))
    for k, (res, nan_a, nan_b) in enumerate(engine.ks_table_block(a, b, 0, w)):
        want = _sort_merge(a[:, k], b[:, k])
        assert nan_a == np.isnan(a[:, k]).sum() and nan_b == np.isnan(b[:, k]).sum()
        if want is None:
            assert res is None
            continue
        _assert_same_statistic(res, want)


def test_table_block_against_stored_references():
    """A sorted reference with its buckets against a row-major batch: the same
    numbers as the sort-merge, including batches far outside its range."""
    rng = np.random.default_rng(3)
    refs, cols = [], []
    for k in range(5):
        x = np.sort(np.round(rng.normal(size=30_000), 2))
        refs.append(engine.Sample(x, is_sorted=True, nan=0,
                                  buckets=engine.reference_buckets(x)))
        cols.append(x)
    batch = rng.normal(size=(20_000, 5))
    batch[:, 1] += 50.0  # beyond the reference's range: falls back
    batch[::7, 2] = np.nan
    batch[:, 3] = 0.0  # one value: too concentrated, falls back
    for k, (res, nan_a, nan_b) in enumerate(engine.ks_table_block(refs, batch, 0, 5)):
        want = _sort_merge(cols[k], batch[:, k])
        _assert_same_statistic(res, want)
        assert nan_a == 0 and nan_b == np.isnan(batch[:, k]).sum()


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_row_major_tables_equal_columns_and_scipy(dtype):
    rng = np.random.default_rng(4)
    a = (rng.normal(size=(40_000, 7)) * 100).astype(dtype)
    b = (rng.normal(0.01, 1, size=(30_000, 7)) * 100).astype(dtype)
    if dtype != np.int64:
        a[::11, 3] = np.nan
    for policy in ("propagate", "omit"):
        rows = fastmlops.ks_2samp(a, b, nan_policy=policy)
        cols = fastmlops.ks_2samp(np.asfortranarray(a), np.asfortranarray(b), nan_policy=policy)
        for f in rows._fields:
            np.testing.assert_array_equal(getattr(rows, f), getattr(cols, f))
        for j in (0, 3, 6):
            ref = ks_2samp_reference(a[:, j], b[:, j], nan_policy=policy)
            assert rows.statistic[j] == ref.statistic or (
                np.isnan(ref.statistic) and np.isnan(rows.statistic[j]))
            np.testing.assert_allclose(rows.pvalue[j], ref.pvalue, rtol=1e-10)


def test_concurrent_row_major_calls_do_not_share_scratch():
    """Scratch buffers are per thread: calls on several threads at once (each
    also using the pool) get exactly the serial results."""
    rng = np.random.default_rng(6)
    pairs = [(rng.normal(size=(30_000, 5)), rng.normal(0.01 * k, 1, size=(20_000 + k, 5)))
             for k in range(6)]
    serial = [fastmlops.ks_2samp(a, b) for a, b in pairs]
    barrier = threading.Barrier(3)

    def run(ab):
        barrier.wait()
        return fastmlops.ks_2samp(*ab)

    with ThreadPoolExecutor(max_workers=3) as ex:
        for _ in range(2):
            for got, want in zip(ex.map(run, pairs), serial):
                np.testing.assert_array_equal(got.statistic, want.statistic)
                np.testing.assert_array_equal(got.statistic_location, want.statistic_location)
                np.testing.assert_array_equal(got.pvalue, want.pvalue)


def test_results_do_not_alias_scratch():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(9000, 3)), rng.normal(size=(8000, 3))
    first = fastmlops.ks_2samp(a, b)
    kept = [np.array(getattr(first, f), copy=True) for f in first._fields]
    fastmlops.ks_2samp(a + 1, b * 2)  # reuses every scratch buffer
    for f, k in zip(first._fields, kept):
        np.testing.assert_array_equal(getattr(first, f), k)


def test_arena_buffers_are_per_thread_and_reused():
    x = engine.arena("test", 100, np.float64)
    assert engine.arena("test", 50, np.float64).base is x.base
    other = []
    t = threading.Thread(target=lambda: other.append(engine.arena("test", 100, np.float64)))
    t.start()
    t.join()
    assert not np.shares_memory(other[0], x)


@pytest.mark.parametrize("n,workers", [(0, 2), (1, 2), (5, 2), (20, 2), (32, 2), (33, 2),
                                       (100, 2), (100, 3), (7, 8), (1000, 4)])
def test_balanced_blocks(n, workers):
    blocks = balanced_blocks(n, workers, max_block=16)
    if n == 0:
        assert blocks == []
        return
    assert blocks[0][0] == 0 and blocks[-1][1] == n
    assert all(x[1] == y[0] for x, y in zip(blocks, blocks[1:]))
    sizes = [b - a for a, b in blocks]
    assert max(sizes) <= 16 and max(sizes) - min(sizes) <= 1
    if n >= workers:
        assert len(blocks) % workers == 0
    assert balanced_blocks(20, 2) in ([(0, 10), (10, 20)], [(0, 7), (7, 14), (14, 20)],
                                     balanced_blocks(20, None))


def test_balanced_blocks_refuses_bad_sizes():
    with pytest.raises(ValueError):
        balanced_blocks(-1, 2)
    with pytest.raises(ValueError):
        balanced_blocks(5, 2, max_block=0)
