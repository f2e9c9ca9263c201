"""Reference columns missing from the current data (#24): listed in the
summary, each "drift" with reason "absent", the same on every path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastmlops.drift import DriftReference

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _frames(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                         "c": rng.choice(["x", "y"], n), "d": rng.integers(0, 5, n)})


@pytest.fixture
def ref_and_current():
    rng = np.random.default_rng(0)
    ref = DriftReference(_frames(rng, 3000))
    cur = _frames(rng, 1200).drop(columns=["b", "c"])
    return ref, cur


def test_absent_columns_are_listed_and_drift(ref_and_current):
    ref, cur = ref_and_current
    report = ref.check(cur)
    assert report.missing_columns == ["b", "c"]
    assert report.column_verdict == ["ok", "drift", "drift", "ok"]
    assert report.reasons[1] == report.reasons[2] == ["absent"]
    assert report.explanations[1].startswith("This column is missing from the current data")
    assert report.nan_share[1] == report.nan_share[2] == 1.0
    assert report.verdict == "drift" and report.table_columns == ["b", "c"]
    d = json.loads(report.to_json())
    assert d["summary"]["missing_columns"] == ["b", "c"]
    text = report.format()
    assert "2 column(s) of the reference missing from the current data (drift): b, c" in text
    # a tiny batch: the tests alone could not tell, the schema change still drifts
    small = ref.check(cur.iloc[:3])
    assert small.column_verdict[1:3] == ["drift", "drift"]


def test_absent_columns_streamed_equal_in_memory(tmp_path, ref_and_current):
    ref, cur = ref_and_current
    whole = ref.check(cur)
    path = tmp_path / "cur.parquet"
    pq.write_table(pa.Table.from_pandas(cur, preserve_index=False), path, row_group_size=300)
    assert ref.check(str(path)).to_json() == whole.to_json()
    assert ref.check([cur.iloc[:500], cur.iloc[500:]]).to_json() == whole.to_json()
    assert ref.check(iter([cur.iloc[:700], cur.iloc[700:]])).to_json() == whole.to_json()
    state = ref.new_state().update(ref, cur.iloc[:600])
    other = ref.new_state().update(ref, cur.iloc[600:])
    state.merge(other).candidates(ref)
    state.gather(ref, cur.iloc[:600]).gather(ref, cur.iloc[600:])
    assert state.finish(ref).to_json() == whole.to_json()


def test_absent_in_some_batches_only():
    rng = np.random.default_rng(1)
    ref = DriftReference(_frames(rng, 2000))
    full, part = _frames(rng, 500), _frames(rng, 500).drop(columns=["a"])
    report = ref.check([full, part])
    assert report.missing_columns == ["a"] and report.nan_share[0] == 0.5
    assert report.reasons[0] == ["absent"]


def test_none_of_the_columns_is_an_error(tmp_path):
    rng = np.random.default_rng(2)
    ref = DriftReference(_frames(rng, 500))
    other = pd.DataFrame({"z": rng.normal(size=10)})
    with pytest.raises(ValueError, match="none of the reference's columns"):
        ref.check(other)
    path = tmp_path / "z.parquet"
    pq.write_table(pa.Table.from_pandas(other, preserve_index=False), path)
    with pytest.raises(ValueError, match="none of the reference's columns"):
        ref.check(str(path))


def test_monitor_batches_still_need_every_column():
    from fastmlops import DriftMonitor

    rng = np.random.default_rng(3)
    ref = DriftReference({"a": rng.normal(size=500), "b": rng.normal(size=500)})
    mon = DriftMonitor(ref)
    with pytest.raises(ValueError, match="b"):
        mon.observe_batch({"a": rng.normal(size=5)})
