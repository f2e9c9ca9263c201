"""Reading data files (``fastmlops.drift.files``): every format, directories and
hive partitions, and a clear error for each way a file can be wrong."""

from __future__ import annotations

import os

import numpy as np
import pytest

from fastmlops.drift.files import DataFileError, detect_format, open_data, read_table

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
feather = pytest.importorskip("pyarrow.feather")
pacsv = pytest.importorskip("pyarrow.csv")


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    return pa.table({"x": rng.normal(size=50), "y": np.arange(50, dtype=np.int64),
                     "city": pa.array(["a", "b"] * 25)})


def _same(got, expected):
    assert got.column_names[: len(expected.column_names)] == expected.column_names
    for name in expected.column_names:
        assert got.column(name).to_pylist() == expected.column(name).to_pylist()


@pytest.mark.parametrize("name, write", [
    ("t.parquet", lambda t, p: pq.write_table(t, p)),
    ("t.feather", lambda t, p: feather.write_feather(t, p)),
    ("t.arrow", lambda t, p: feather.write_feather(t, p, compression="uncompressed")),
    ("t.csv", lambda t, p: pacsv.write_csv(t, p)),
])
def test_each_format_reads_back(tmp_path, table, name, write):
    path = tmp_path / name
    write(table, str(path))
    _same(read_table(path), table)
    assert open_data(path).schema.names == table.column_names


def test_tsv(tmp_path, table):
    path = tmp_path / "t.tsv"
    pacsv.write_csv(table, str(path), pacsv.WriteOptions(delimiter="\t"))
    _same(read_table(path), table)


def test_format_from_magic_bytes_without_extension(tmp_path, table):
    pq.write_table(table, tmp_path / "data")
    assert detect_format(tmp_path / "data") == "parquet"
    feather.write_feather(table, tmp_path / "ipcdata")
    assert detect_format(tmp_path / "ipcdata") == "ipc"
    (tmp_path / "textdata").write_text("x,y\n1,2\n")
    assert detect_format(tmp_path / "textdata") == "csv"
    _same(read_table(tmp_path / "data"), table)


def test_directory_of_parquet_files(tmp_path, table):
    d = tmp_path / "parts"
    d.mkdir()
    pq.write_table(table.slice(0, 20), d / "part-0.parquet")
    pq.write_table(table.slice(20), d / "part-1.parquet")
    (d / "_SUCCESS").write_text("")  # markers and hidden files are left out
    (d / ".crc").write_text("junk")
    got = read_table(d).sort_by("y")
    _same(got, table)


def test_hive_partitioned_directory(tmp_path, table):
    root = tmp_path / "hive"
    pq.write_to_dataset(table, root, partition_cols=["city"])
    assert any(p.name.startswith("city=") for p in root.iterdir())
    got = read_table(root).sort_by("y")
    assert got.num_rows == 50
    assert got.column("x").to_pylist() == table.column("x").to_pylist()
    assert sorted(set(got.column("city").to_pylist())) == ["a", "b"]  # from the paths


def test_columns_are_selected_in_order(tmp_path, table):
    pq.write_table(table, tmp_path / "t.parquet")
    got = read_table(tmp_path / "t.parquet", columns=["y", "x"])
    assert got.column_names == ["y", "x"]
    with pytest.raises(DataFileError, match=r"no column 'nope'.*x, y, city"):
        read_table(tmp_path / "t.parquet", columns=["x", "nope"])


def test_npy_one_and_two_dimensional(tmp_path):
    a = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", a[:, 0])
    got = read_table(tmp_path / "a.npy")
    assert isinstance(got, np.ndarray) and np.array_equal(got, a)
    assert np.array_equal(read_table(tmp_path / "b.npy"), a[:, 0])
    np.save(tmp_path / "c.npy", np.zeros((2, 2, 2)))
    with pytest.raises(DataFileError, match="1-D or 2-D"):
        open_data(tmp_path / "c.npy")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataFileError, match="Python objects"):
        open_data(tmp_path / "o.npy")


def test_csv_with_a_bad_row_names_the_row(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n")
    with pytest.raises(DataFileError) as exc:
        read_table(path)
    message = str(exc.value)
    assert "bad.csv" in message and "Row #4" in message and "Expected 3 columns" in message
    assert "\n" not in message


def test_missing_path_empty_and_mixed_directories(tmp_path, table):
    with pytest.raises(DataFileError, match="no such file"):
        open_data(tmp_path / "nope.parquet")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.txt").write_text("not data")
    with pytest.raises(DataFileError, match="has no data files"):
        open_data(empty)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    pq.write_table(table, mixed / "a.parquet")
    pacsv.write_csv(table, str(mixed / "b.csv"))
    with pytest.raises(DataFileError, match=r"mixes formats \(1 csv, 1 parquet\)"):
        open_data(mixed)


def test_corrupt_files(tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataFileError, match=r"bad.parquet as Parquet"):
        read_table(tmp_path / "bad.parquet")
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DataFileError, match="not a valid .npy"):
        open_data(tmp_path / "bad.npy")
    (tmp_path / "blob").write_bytes(b"\0\1\2\3binary")
    with pytest.raises(DataFileError, match="not a data file"):
        open_data(tmp_path / "blob")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(tmp_path, table):
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    path.chmod(0)
    try:
        with pytest.raises(DataFileError, match="cannot read"):
            open_data(path)
    finally:
        path.chmod(0o644)


def test_errors_are_value_errors():
    assert issubclass(DataFileError, ValueError)
