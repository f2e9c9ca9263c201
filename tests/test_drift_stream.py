"""DriftReference.check on data streamed in batches: files, datasets, iterators.
Every report must be bit-identical to the in-memory check of the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastmlops
from fastmlops.drift.state import DriftState


def _frames(seed=0, n_ref=3000, n_cur=2500):
    rng = np.random.default_rng(seed)

    def frame(n, shift):
        x = rng.normal(shift, 1, n)
        x[rng.random(n) < 0.05] = np.nan
        return pd.DataFrame({
            "x": x,
            "n": rng.integers(-5, 50, n),
            "f32": rng.exponential(size=n).astype(np.float32),
            "city": rng.choice(["a", "b", "c", "d", "e"][: 4 + (shift > 0)], n),
            "code": rng.integers(0, 6 if shift > 0 else 5, n),
        })

    return frame(n_ref, 0.0), frame(n_cur, 0.1)


@pytest.fixture(scope="module")
def ref_and_cur():
    ref_df, cur = _frames()
    return fastmlops.DriftReference(ref_df, categorical=["code"]), cur


def _same(a, b):
    assert a.to_json() == b.to_json()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, 2500), max_size=8), st.booleans(), st.booleans())
def test_random_splits_are_exact(ref_and_cur, cuts, shuffle_pieces, nan_only_batch):
    ref, cur = ref_and_cur
    expected = ref.check(cur)
    bounds = sorted(set([0, len(cur)] + cuts))
    pieces = [cur.iloc[a:b] for a, b in zip(bounds, bounds[1:])]
    pieces.insert(len(pieces) // 2, cur.iloc[:0])  # an empty batch
    pieces.append(cur.iloc[:1].copy().iloc[:0])
    if nan_only_batch:  # rows whose numeric values are all missing
        extra = cur.iloc[:3].copy()
        extra[["x", "f32"]] = np.nan
        pieces.append(extra)
        expected = ref.check(pd.concat([cur, extra], ignore_index=True))
    if shuffle_pieces:
        pieces = pieces[::-1]
        if not nan_only_batch:
            expected = ref.check(pd.concat(pieces, ignore_index=True))
        else:
            expected = ref.check(pd.concat(pieces, ignore_index=True))
    _same(ref.check(pieces), expected)


def test_one_row_batches_and_kinds_of_batches(ref_and_cur):
    ref, cur = ref_and_cur
    small = cur.iloc[:40].reset_index(drop=True)
    expected = ref.check(small)
    _same(ref.check([small.iloc[i:i + 1] for i in range(40)]), expected)
    table = pa.Table.from_pandas(small, preserve_index=False)
    _same(ref.check(iter(table.to_batches(max_chunksize=7))), expected)  # one-shot: spooled
    _same(ref.check([table.slice(0, 13), table.slice(13)]), expected)
    _same(ref.check((dict(b.items()) for b in [small.iloc[:20], small.iloc[20:]])), expected)


def test_files_and_datasets(tmp_path, ref_and_cur):
    ref, cur = ref_and_cur
    expected = ref.check(cur)
    table = pa.Table.from_pandas(cur, preserve_index=False)
    pq.write_table(table, tmp_path / "cur.parquet", row_group_size=700)
    _same(ref.check(tmp_path / "cur.parquet"), expected)
    _same(ref.check(str(tmp_path / "cur.parquet")), expected)
    feather.write_feather(table, tmp_path / "cur.feather")
    _same(ref.check(tmp_path / "cur.feather"), expected)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    from_csv = ref.check(tmp_path / "cur.csv")
    # CSV text has no float32: compare with the same text read whole
    import pyarrow.csv as pacsv

    _same(from_csv, ref.check(pacsv.read_csv(tmp_path / "cur.csv")))
    # a hive-partitioned directory: rows come back grouped by partition
    part = tmp_path / "hive"
    pq.write_to_dataset(table.append_column("day", pa.array(np.arange(len(cur)) % 3)),
                        part, partition_cols=["day"])
    dataset = pads.dataset(part, partitioning="hive")
    _same(ref.check(part), ref.check(dataset))
    _same(ref.check(part), expected)  # order does not matter
    _same(ref.check(dataset), expected)


def test_local_parquet_is_read_one_row_group_per_memory_map(tmp_path, ref_and_cur):
    import pyarrow.fs as pafs

    from fastmlops.drift import _stream as _drift_stream
    from fastmlops.drift.files import open_data

    ref, cur = ref_and_cur
    table = pa.Table.from_pandas(cur, preserve_index=False)
    pq.write_table(table, tmp_path / "cur.parquet", row_group_size=700)
    mapped = _drift_stream._mapped_row_groups(open_data(tmp_path / "cur.parquet"))
    frags = list(mapped.get_fragments())
    assert len(frags) == -(-len(cur) // 700) == pq.ParquetFile(tmp_path / "cur.parquet").num_row_groups
    assert isinstance(mapped.filesystem, pafs.LocalFileSystem)
    assert mapped.to_table().equals(table)
    # hive partitions keep their column
    part = tmp_path / "hive"
    pq.write_to_dataset(table.append_column("day", pa.array(np.arange(len(cur)) % 3)),
                        part, partition_cols=["day"])
    hive = _drift_stream._mapped_row_groups(open_data(part))
    assert sorted(hive.to_table().column("day").to_pylist()) == sorted(np.arange(len(cur)) % 3)
    # other formats, and directories of many files, are read the ordinary way
    feather.write_feather(table, tmp_path / "cur.feather")
    ds = open_data(tmp_path / "cur.feather")
    assert _drift_stream._mapped_row_groups(ds) is ds
    many = tmp_path / "many"
    many.mkdir()
    for i in range(_drift_stream._MAPPED_FILES_MAX + 1):
        pq.write_table(table.slice(i, 1), many / f"p{i:03d}.parquet")
    ds = open_data(many)
    assert _drift_stream._mapped_row_groups(ds) is ds


def test_npy_file(tmp_path):
    rng = np.random.default_rng(4)
    ref = fastmlops.DriftReference(rng.normal(size=(5000, 3)))
    cur = rng.normal(0.02, 1, size=(300_000, 3))
    np.save(tmp_path / "cur.npy", cur)
    calls = []
    rep = ref.check(tmp_path / "cur.npy", progress=lambda done, total: calls.append((done, total)))
    _same(rep, ref.check(cur))
    assert calls[-1] == (300_000, 300_000) and len(calls) >= 2


def test_state_protocol_by_hand(ref_and_cur):
    """count -> merge (any order, any grouping) -> candidates -> gather -> finish."""
    import pickle

    ref, cur = ref_and_cur
    parts = [cur.iloc[i:i + 600] for i in range(0, len(cur), 600)]
    states = [pickle.loads(pickle.dumps(ref.new_state().update(ref, p))) for p in parts]
    merged = states[3].merge(states[0]).merge(states[1].merge(states[2])).merge(states[4])
    assert merged.n_rows == len(cur) and merged.needs_second_pass
    with pytest.raises(RuntimeError, match="second pass"):
        merged.finish(ref)
    merged.candidates(ref)
    plan = pickle.loads(pickle.dumps(merged.plan()))
    for p in parts:
        merged.add_gathered(DriftState.from_plan(ref, plan).gather(ref, p).gathered_values())
    _same(merged.finish(ref), ref.check(cur))
    # the state is small: bucket counts and bins, no rows
    assert len(pickle.dumps(states[0])) < 2_000_000


def test_bad_batches_name_the_batch_and_column(ref_and_cur, tmp_path):
    ref, cur = ref_and_cur
    good = [cur.iloc[i:i + 500] for i in range(0, 2500, 500)]
    bad = good[:3] + [good[3].assign(x=good[3]["x"].astype(str))] + good[4:]
    with pytest.raises(TypeError, match=r"batch 3 .*'x' is numeric in the reference"):
        ref.check(bad)
    # a batch without a reference column: its rows count as missing, listed (#24)
    lacking = ref.check(iter([good[0], good[1].drop(columns="city")]))
    assert lacking.missing_columns == ["city"]
    with pytest.raises(ValueError, match="no rows"):
        ref.check(iter([cur.iloc[:0]]))
    with pytest.raises(ValueError, match="no rows"):
        ref.check(iter([]))
    # a file with some of the reference's columns: the rest are listed (#24)
    pq.write_table(pa.table({"x": [1.0]}), tmp_path / "few.parquet")
    few = ref.check(tmp_path / "few.parquet")
    assert few.missing_columns == [c for c in ref.columns if c != "x"]
    pq.write_table(pa.table({"zz": [1.0]}), tmp_path / "none.parquet")
    with pytest.raises(ValueError, match="none of the reference's columns"):
        ref.check(tmp_path / "none.parquet")


def test_file_errors(tmp_path, ref_and_cur):
    ref, _ = ref_and_cur
    from fastmlops.drift.files import DataFileError

    with pytest.raises(DataFileError):
        ref.check(tmp_path / "missing.parquet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFileError, match="no data files"):
        ref.check(tmp_path / "empty")
    (tmp_path / "bad.csv").write_text("x,n,f32,city,code\n1,2,3,a,1\n1,2\n")
    with pytest.raises(ValueError, match="bad.csv|Expected|columns"):
        ref.check(tmp_path / "bad.csv")


def test_numeric_only_stream_of_arrays():
    rng = np.random.default_rng(9)
    ref = fastmlops.DriftReference(rng.normal(size=(20_000, 4)))
    cur = rng.normal(size=(50_000, 4))
    cur[:, 1] += 0.05
    cur[::11, 2] = np.nan
    expected = ref.check(cur)
    _same(ref.check(iter(np.array_split(cur, 7))), expected)
    # a reference too small for a bucket map, and a constant one
    tiny = fastmlops.DriftReference(rng.normal(size=(8, 2)))
    _same(tiny.check(iter(np.array_split(cur[:, :2], 3))), tiny.check(cur[:, :2]))
    const = fastmlops.DriftReference(np.ones((100, 1)))
    _same(const.check(iter(np.array_split(cur[:, :1], 3))), const.check(cur[:, :1]))
