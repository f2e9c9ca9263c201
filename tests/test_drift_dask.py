"""DriftReference.check on Dask collections, on a real ``distributed``
LocalCluster (two worker processes, started here and closed after).

Every report must be bit-identical (``to_json``) to the in-memory check of the
same rows; the reference must travel once per check, not once per partition;
only states and candidate values may come back from the tasks; a worker killed
mid-check must not change the report.
"""

from __future__ import annotations

import copyreg
import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster, WorkerPlugin

import fastmlops
from tests.test_drift_stream import _frames  # numbers with NaN, ints, float32,
# strings and integer categories; the current data has a new city and a new code

N_WORKERS = 2


# ------------------------------------------------------------------ data
def _partition(i: int, rows: int = 2000, delay: float = 0.0) -> pd.DataFrame:
    """Partition ``i`` of a collection made on the workers (dd.from_map):
    deterministic, so a recomputed partition is the same data."""
    if delay:
        time.sleep(delay)
    part = _frames(seed=1000 + i, n_ref=1, n_cur=rows)[1]
    part.index = pd.RangeIndex(i * rows, (i + 1) * rows)
    return part


def _concat(k: int, rows: int = 2000) -> pd.DataFrame:
    return pd.concat([_partition(i, rows) for i in range(k)], ignore_index=True)


@pytest.fixture(scope="module")
def ref_and_cur():
    ref_df, cur = _frames(seed=0, n_ref=20_000, n_cur=9_000)
    ref = fastmlops.DriftReference(ref_df, categorical=["code"])
    cur.loc[3000:3999, "x"] = np.nan  # a partition of missing values only
    return ref, cur


@pytest.fixture(scope="module")
def numeric_ref_and_cur():
    rng = np.random.default_rng(5)
    ref = rng.normal(size=(20_000, 5))
    cur = rng.normal(0.05, 1, size=(7_000, 5))
    cur[rng.random(cur.shape) < 0.03] = np.nan
    cur[:, 3] = np.round(cur[:, 3], 1)  # ties
    return fastmlops.DriftReference(ref, columns=list("abcde")), cur


def _same(a, b) -> None:
    assert a.to_json() == b.to_json()


# ------------------------------------------------------------------ without a cluster
# (these run first: once the cluster fixture exists, its client is the default one)
def test_local_schedulers_without_distributed(ref_and_cur, numeric_ref_and_cur):
    ref, cur = ref_and_cur
    expected = ref.check(cur)
    ddf = dd.from_pandas(cur, npartitions=7)
    for scheduler in ("sync", "threads"):
        with dask.config.set(scheduler=scheduler):
            _same(ref.check(ddf), expected)
    nref, ncur = numeric_ref_and_cur
    with dask.config.set(scheduler="threads"):
        _same(nref.check(da.from_array(ncur, chunks=(1500, 2))), nref.check(ncur))


def test_bad_dask_collections_are_named(ref_and_cur, numeric_ref_and_cur):
    ref, cur = ref_and_cur
    # a reference column the frame lacks is listed and drifts (#24), as in memory
    with dask.config.set(scheduler="threads"):
        lacking = ref.check(dd.from_pandas(cur.drop(columns="city"), npartitions=2))
    assert lacking.to_json() == ref.check(cur.drop(columns="city")).to_json()
    assert lacking.missing_columns == ["city"]
    nref, ncur = numeric_ref_and_cur
    with pytest.raises(ValueError, match="must be 2-D"):
        nref.check(da.zeros((4, 5, 2), chunks=2))
    with pytest.raises(ValueError, match="has 4 column"):
        nref.check(da.from_array(ncur[:, :4], chunks=1000))
    with pytest.raises(ValueError, match="no rows"):
        nref.check(da.from_array(ncur[:0], chunks=1000))


# ------------------------------------------------------------------ the cluster
@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=N_WORKERS, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as c:
        c.wait_for_workers(N_WORKERS, timeout=60)
        yield c


def test_dataframe_on_the_cluster_is_exact(client, ref_and_cur):
    ref, cur = ref_and_cur
    expected = ref.check(cur)
    for npartitions in (1, 9):
        _same(ref.check(dd.from_pandas(cur, npartitions=npartitions)), expected)
    # a partition with no rows, and partitions made on the workers
    empty = dd.from_pandas(cur.iloc[:0], npartitions=1)
    _same(ref.check(dd.concat([dd.from_pandas(cur, npartitions=3), empty])), expected)
    made = dd.from_map(_partition, range(6))
    _same(ref.check(made), ref.check(_concat(6)))


def test_dataframe_unseen_categories_on_the_cluster(client, ref_and_cur):
    ref, cur = ref_and_cur
    cur = cur.copy()
    cur.loc[:4499, "city"] = "a"  # the unseen city "e" only in the later partitions
    cur.loc[7000:, "code"] = 99  # an unseen code in one partition only
    report = ref.check(dd.from_pandas(cur, npartitions=6))
    _same(report, ref.check(cur))
    cols = {c["name"]: c for c in json.loads(report.to_json())["columns"]}
    assert cols["city"]["unseen"]["examples"] == ["e"]
    assert cols["code"]["unseen"]["distinct"] == 2  # 5 and 99, each counted once
    assert cols["code"]["unseen"]["count"] == int((cur["code"] >= 5).sum())


def test_array_chunked_on_both_axes_is_exact(client, numeric_ref_and_cur):
    nref, ncur = numeric_ref_and_cur
    expected = nref.check(ncur)
    for chunks in ((1000, 2), (2500, 5), (7000, 1), (333, 3)):
        _same(nref.check(da.from_array(ncur, chunks=chunks)), expected)
    # a one-column reference and a 1-D array
    ref1 = fastmlops.DriftReference(np.random.default_rng(8).normal(size=5000))
    _same(ref1.check(da.from_array(ncur[:, 0], chunks=900)), ref1.check(ncur[:, 0]))


# ------------------------------------------------------------------ what travels
_PICKLES = [0]  # how many times this process pickled a DriftReference
_UNPICKLES = [0]  # how many times this process unpickled one
_VALUES = [0]  # bytes of sorted reference values in the ones it unpickled


def _rebuild(cls, state):
    _UNPICKLES[0] += 1
    _VALUES[0] += sum(c.sorted_values.nbytes for c in state["column_models"] if c.kind == "numeric")
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj


def _reduce_counted(ref):
    if sys._getframe(1).f_globals.get("__name__") != "copy":  # copy.copy asks too
        _PICKLES[0] += 1
    return _rebuild, (type(ref), dict(ref.__dict__))


def _unpickles() -> int:
    return _UNPICKLES[0]


def _values() -> int:
    return _VALUES[0]


def test_the_reference_travels_once_per_check(client, ref_and_cur):
    """However many partitions, the client pickles the reference once per
    check and each worker unpickles it at most once per check (with one
    copy per task it would be once per partition and pass), without its
    sorted values."""
    ref, cur = ref_and_cur
    expected = ref.check(cur)
    ddf = dd.from_pandas(cur, npartitions=12)
    client.run(lambda: __import__("tests.test_drift_dask"))  # workers can rebuild
    before = sum(client.run(_unpickles).values())
    copyreg.pickle(type(ref), _reduce_counted)
    try:
        _PICKLES[0] = 0
        for _ in range(2):
            _same(ref.check(ddf), expected)
        pickled = _PICKLES[0]
    finally:
        del copyreg.dispatch_table[type(ref)]
    unpickled = sum(client.run(_unpickles).values()) - before
    assert pickled == 2, f"the client pickled the reference {pickled} times in 2 checks"
    assert 1 <= unpickled <= 2 * N_WORKERS, (
        f"workers unpickled the reference {unpickled} times in 2 checks of 12 partitions")
    # only the client's finish reads the sorted reference values: workers get none
    assert sum(client.run(_values).values()) == 0


class _ResultSizes(WorkerPlugin):
    """Records the pickled size and type of every task result on a worker."""

    name = "fastmlops-result-sizes"

    def setup(self, worker):
        self.worker = worker
        self.records = []

    def transition(self, key, start, finish, **kwargs):
        if start == "executing" and finish == "memory":
            try:
                value = self.worker.data[key]
            except KeyError:  # pragma: no cover - released at once
                return
            size = len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            self.records.append((type(value).__name__, size))


def _records(dask_worker):
    plugin = dask_worker.plugins[_ResultSizes.name]
    out, plugin.records = plugin.records, []
    return out


def test_only_states_and_candidates_travel(client):
    """Partitions are made on the workers; what the fastmlops tasks return
    (states and gathered values: anything that is not a partition) is small
    next to the data."""
    rng = np.random.default_rng(3)
    ref = fastmlops.DriftReference(rng.normal(size=(100_000, 4)), columns=list("abcd"))
    k, rows = 8, 200_000
    parts = [da.from_delayed(dask.delayed(_numeric_partition)(i, rows), (rows, 4), np.float64)
             for i in range(k)]
    data = da.concatenate(parts)
    expected = ref.check(np.concatenate([_numeric_partition(i, rows) for i in range(k)]))
    client.register_plugin(_ResultSizes())
    try:
        client.run(_records)
        _same(ref.check(data), expected)
        records = [r for rs in client.run(_records).values() for r in rs]
    finally:
        client.unregister_worker_plugin(_ResultSizes.name)
    data_bytes = sum(size for kind, size in records if kind == "ndarray")
    state_bytes = sum(size for kind, size in records if kind != "ndarray")
    kinds = {kind for kind, _ in records}
    assert data_bytes >= k * rows * 4 * 8, records
    assert "DriftState" in kinds, kinds
    assert 0 < state_bytes < data_bytes / 20, (state_bytes, data_bytes, kinds)


def _numeric_partition(i: int, rows: int) -> np.ndarray:
    return np.random.default_rng(100 + i).normal(0.01, 1, size=(rows, 4))


# ------------------------------------------------------------------ failures
def _slow_partition(i: int, marker_dir: str) -> pd.DataFrame:
    open(os.path.join(marker_dir, f"{i}-{os.getpid()}-{time.monotonic_ns()}"), "w").close()
    return _partition(i, rows=3000, delay=0.4)


def test_a_worker_killed_mid_check_does_not_change_the_report(client, ref_and_cur, tmp_path):
    ref, _ = ref_and_cur
    k = 8
    expected = ref.check(_concat(k, rows=3000))
    ddf = dd.from_map(_slow_partition, range(k), marker_dir=str(tmp_path))
    pids = client.run(os.getpid)
    result: dict = {}

    def run():
        try:
            result["report"] = ref.check(ddf)
        except BaseException as exc:  # noqa: BLE001 - reported below
            result["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 30
    while len(os.listdir(tmp_path)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    started = os.listdir(tmp_path)
    assert len(started) >= 3, "the check did not start"
    victim = int(started[0].split("-")[1])  # a worker that has been computing
    assert victim in pids.values()
    os.kill(victim, signal.SIGKILL)
    t.join(120)
    assert not t.is_alive(), "the check hung after a worker was killed"
    client.wait_for_workers(N_WORKERS, timeout=60)  # the nanny restarts it
    assert victim not in client.run(os.getpid).values()
    if "error" in result:  # allowed: a clear error, never a wrong report
        msg = str(result["error"])
        assert "KilledWorker" in type(result["error"]).__name__ or "worker" in msg.lower(), msg
        pytest.fail(f"the check failed instead of retrying: {result['error']!r}")
    _same(result["report"], expected)


# ------------------------------------------------------------------ imports
def test_importing_fastmlops_does_not_import_dask():
    code = ("import sys, fastmlops, fastmlops.drift, numpy as np\n"
            "r = fastmlops.DriftReference(np.arange(100.0))\n"
            "r.check(np.arange(50.0)); r.check(iter([np.arange(20.0)] * 2))\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('dask', 'distributed'))\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
