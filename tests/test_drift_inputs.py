"""Inputs of drift checks (issue #24, item 7): all-empty CSV columns, CSV text
that is not UTF-8, duplicate column names, columns the reference lacks, and
the exact KS p-value's fallback as a per-column note."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import fastmlops
from fastmlops import cli

pa = pytest.importorskip("pyarrow")
pacsv = pytest.importorskip("pyarrow.csv")
pd = pytest.importorskip("pandas")


def _write(path, header, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(header) + "\n")
        f.writelines(",".join(str(v) for v in r) + "\n" for r in rows)
    return str(path)


@pytest.fixture
def csv_pair(tmp_path):
    """ref.csv (a, b, c) with values; cur.csv with b and c entirely empty and an
    extra column d."""
    rng = np.random.default_rng(0)
    ref = _write(tmp_path / "ref.csv", ["a", "b", "c"],
                 [(rng.normal(), rng.normal(), f"x{i % 3}") for i in range(300)])
    cur = _write(tmp_path / "cur.csv", ["a", "b", "c", "d"],
                 [(rng.normal(), "", "", 1) for _ in range(200)])
    return ref, cur


# ------------------------------------------------------- (a) all-empty CSV columns
def test_cli_empty_csv_column_is_all_missing(csv_pair, capsys):
    ref, cur = csv_pair
    status = cli.main(["drift", ref, cur, "--format", "json"])
    out, err = capsys.readouterr()
    assert status == 1, err
    cols = {c["name"]: c for c in json.loads(out)["columns"]}
    for name in ("b", "c"):
        assert cols[name]["nan_share"] == 1.0
        assert "empty" in cols[name]["reasons"]
    assert cols["c"]["kind"] == "categorical"


def test_reference_and_check_of_csv_table_with_empty_column(csv_pair):
    ref, cur = csv_pair
    reference = fastmlops.DriftReference(pacsv.read_csv(ref))
    table = pacsv.read_csv(cur)
    assert pa.types.is_null(table.schema.field("b").type)
    for current in (table, cur):  # in memory, and streamed from the file
        report = reference.check(current)
        j = report.columns.index("b")
        assert report.nan_share[j] == 1.0 and "empty" in report.reasons[j]


def test_empty_csv_column_in_reference_says_no_values(tmp_path, capsys):
    ref = _write(tmp_path / "r.csv", ["a", "b"], [(i, "") for i in range(20)])
    with pytest.raises(ValueError, match="'b' has no values"):
        fastmlops.DriftReference(pacsv.read_csv(ref))
    assert cli.main(["drift", ref, ref]) == 2
    assert "'b' has no values" in capsys.readouterr().err


# ------------------------------------------------------------- (b) not UTF-8
def test_latin1_csv_says_not_utf8(tmp_path, capsys):
    path = tmp_path / "latin.csv"
    with open(path, "wb") as f:
        f.write(b"a,name\n")
        f.writelines(f"{i},caf\u00e9{i % 3}\n".encode("latin-1") for i in range(50))
    status = cli.main(["drift", str(path), str(path)])
    err = capsys.readouterr().err
    assert status == 2
    assert "not UTF-8" in err and "latin.csv" in err and "re-encode" in err
    assert "binary" not in err
    with pytest.raises(fastmlops.drift.files.DataFileError, match="not UTF-8.*'name'"):
        fastmlops.drift.files.open_data(path)


def test_late_invalid_utf8_in_csv_says_not_utf8(tmp_path):
    path = tmp_path / "late.csv"
    with open(path, "wb") as f:
        f.write(b"a,name\n" + b"".join(f"{i},abc{i % 5}\n".encode() for i in range(200_000)))
        f.write("1,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(fastmlops.drift.files.DataFileError, match="not UTF-8"):
        fastmlops.drift.files.read_table(path)


def test_cli_current_csv_with_late_invalid_utf8_says_not_utf8(tmp_path, capsys):
    good = _write(tmp_path / "good.csv", ["a", "name"], [(i, f"abc{i % 5}") for i in range(500)])
    late = tmp_path / "late.csv"
    with open(late, "wb") as f:
        f.write(b"a,name\n" + b"".join(f"{i},abc{i % 5}\n".encode() for i in range(200_000)))
        f.write("1,caf\u00e9\n".encode("latin-1"))
    assert cli.main(["drift", good, str(late)]) == 2
    err = capsys.readouterr().err
    assert "late.csv" in err and "not UTF-8" in err and "re-encode" in err


# ------------------------------------------------------ (c) duplicate column names
def _dup_frame(rng):
    return pd.DataFrame(rng.normal(size=(50, 3)), columns=["a", "b", "a"])


def test_duplicate_names_in_current_are_refused():
    rng = np.random.default_rng(1)
    ref = fastmlops.DriftReference(pd.DataFrame({"a": rng.normal(size=100),
                                                 "b": rng.normal(size=100)}))
    frame = _dup_frame(rng)
    table = pa.Table.from_arrays([pa.array(frame.iloc[:, i]) for i in range(3)],
                                 names=["a", "b", "a"])
    for current in (frame, table, [table]):
        with pytest.raises(ValueError, match="duplicate column name.*'a'"):
            ref.check(current)


def test_duplicate_names_in_reference_are_refused():
    frame = _dup_frame(np.random.default_rng(2))
    for kwargs in ({}, {"columns": ["a", "b"]}):
        with pytest.raises(ValueError, match="'a'"):
            fastmlops.DriftReference(frame, **kwargs)


def test_duplicate_names_in_csv_are_refused(tmp_path, capsys):
    ref = _write(tmp_path / "r.csv", ["a", "b"], [(i, i) for i in range(10)])
    dup = _write(tmp_path / "d.csv", ["a", "b", "a"], [(i, i, i) for i in range(10)])
    assert cli.main(["drift", ref, dup]) == 2
    assert "multiple columns named a" in capsys.readouterr().err


# ------------------------------------------------------------- (d) extra columns
def test_extra_columns_are_listed(csv_pair, capsys):
    rng = np.random.default_rng(3)
    ref = fastmlops.DriftReference(pd.DataFrame({"a": rng.normal(size=100)}))
    cur = pd.DataFrame({"a": rng.normal(size=80), "new|col": 1.0, "z": 2.0})
    report = ref.check(cur)
    assert report.extra_columns == ["new|col", "z"]
    assert report.to_dict()["summary"]["extra_columns"] == ["new|col", "z"]
    assert "not in the reference, not checked: new|col, z" in report.format()
    assert "new\\|col, z" in report.format(markdown=True)
    assert ref.check(pa.Table.from_pandas(cur)).extra_columns == ["new|col", "z"]
    assert ref.check(cur[["a"]]).extra_columns == []
    assert ref.check(cur[["a"]]).to_dict()["summary"]["extra_columns"] == []
    assert ref.check(cur[["a"]]).to_dict()["summary"]["notes"] == {}

    path, cur_csv = csv_pair
    assert cli.main(["drift", path, cur_csv, "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["summary"]["extra_columns"] == ["d"]
    assert cli.main(["drift", path, cur_csv]) == 1
    assert "not checked: d" in capsys.readouterr().out


# ---------------------------------------------------- (e) exact KS fallback as a note
def test_exact_ks_fallback_is_a_column_note(tmp_path, capsys):
    # n = 15, D = 1/15: scipy's exact two-sided calculation fails and it warns
    ref = {"x": np.arange(15.0) * 2, "y": np.arange(15.0)}
    cur = {"x": np.arange(15.0) * 2 + 1, "y": np.arange(15.0)}
    reference = fastmlops.DriftReference(ref)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = reference.check(cur)
    assert report.notes[0] and "exact KS p-value" in report.notes[0][0]
    assert report.notes[1] == []
    assert report.to_dict()["summary"]["notes"] == {"x": report.notes[0]}
    assert "x: the exact KS p-value" in report.format()

    r = _write(tmp_path / "r.csv", ["x", "y"], zip(ref["x"], ref["y"]))
    c = _write(tmp_path / "c.csv", ["x", "y"], zip(cur["x"], cur["y"]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cli.main(["drift", r, c]) == 0
    out, err = capsys.readouterr()
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert "RuntimeWarning" not in err and "unsuccessful" not in err
    assert "x: the exact KS p-value" in out


def test_partition_keys_are_not_extra_columns(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    rng = np.random.default_rng(4)
    ref = fastmlops.DriftReference({"a": rng.normal(size=100)})
    table = pa.table({"a": rng.normal(size=60), "b": rng.normal(size=60),
                      "day": np.arange(60) % 3})
    pq.write_to_dataset(table, tmp_path / "hive", partition_cols=["day"])
    assert ref.check(tmp_path / "hive").extra_columns == ["b"]
