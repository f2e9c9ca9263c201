"""Drift check of a file larger than memory, on one machine and on Dask (issue #12).

    python benchmarks/scale.py [--rows 10000000] [--cols 20] [--ref-rows 1000000]
                               [--rounds 3] [--compression none] [--dir DIR]
                               [--no-dask] [--no-profile] [--keep]

The goals (issue #12): checking a Parquet file of 1e7 rows x 20 float64
columns (1.6 GB on disk) against a 1e6-row reference keeps peak RSS under
1 GB beyond the reference itself, and takes at most 2x the time pyarrow needs
just to read the same file in batches (``ParquetFile.iter_batches``) in the
same run; the same check on Dask with 1 and 2 workers, and what travels.

Not a pytest-benchmark test: peak RSS must be measured in fresh processes.

* The file is written once into a temporary directory (uncompressed by
  default, ``--compression snappy`` otherwise; one row group per 1e6 rows;
  normal data, a shift on every fifth column, 1 % NaN in column c1).
* **Memory**: two subprocesses build the same reference (and call
  ``fastmlops.warmup()``); one stops there ("reference alone"), the other
  resets its high-water mark (``/proc/self/clear_refs``), checks the file and
  reports its peak RSS (VmHWM) against its RSS before the check.
* **Time**: after one untimed read (page cache warm), ``rounds`` rounds of
  read-only then check, back to back, wall and CPU time each (CPU / wall
  says how many cores were busy).  The reports are checked to be equal.
* **Profile**: where the check's time goes: reading (pass 1, pass 2), the
  state's update, the gather, and per piece on batches in memory (Arrow to
  NumPy, KS bucket counting, PSI bins + picture grid).
* **Dask**: ``dd.read_parquet`` of the file on a LocalCluster of 1 then 2
  worker processes (one thread each), two checks each (the first pays the
  workers' kernel loading and the reference's transfer); the pickled size of
  every task result by type, the reference and the pass-2 plan.

The machine is shared: the load average is printed next to every figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.test_drift_dask in the Dask part

MB = 1 << 20


def _load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def _status(field: str) -> int:
    """A VmRSS/VmHWM line of /proc/self/status, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reference(ref_rows: int, cols: int) -> Any:
    import fastmlops

    data = np.random.default_rng(0).normal(size=(ref_rows, cols))
    ref = fastmlops.DriftReference(data, columns=[f"c{j}" for j in range(cols)])
    del data
    gc.collect()
    return ref


# ------------------------------------------------------------------ the file
def write_file(path: str, rows: int, cols: int, compression: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [f"c{j}" for j in range(cols)]
    schema = pa.schema([(n, pa.float64()) for n in names])
    rng = np.random.default_rng(1)
    step = 1_000_000
    with pq.ParquetWriter(path, schema, compression=compression, use_dictionary=False) as w:
        for start in range(0, rows, step):
            n = min(step, rows - start)
            block = rng.normal(size=(cols, n))
            block[::5] += 0.01
            if cols > 1:
                block[1, rng.random(n) < 0.01] = np.nan
            w.write_table(pa.table(list(block), schema=schema), row_group_size=n)


def read_only(path: str) -> int:
    """What pyarrow needs just to read the file in batches."""
    import pyarrow.parquet as pq

    from fastmlops.drift._stream import BATCH_ROWS

    n = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, use_threads=True):
        n += batch.num_rows
    return n


def _timed(fn: Any) -> tuple[Any, float, float]:
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


# ------------------------------------------------------------------ memory (subprocesses)
def child(mode: str, path: str, ref_rows: int, cols: int) -> None:
    import fastmlops

    fastmlops.warmup()
    ref = _reference(ref_rows, cols)
    out: dict[str, Any] = {"rss_reference": _status("VmRSS"), "hwm_build": _status("VmHWM"),
                           "reference_values": sum(c.sorted_values.nbytes for c in ref.column_models)}
    if mode == "check":
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        before = _status("VmRSS")
        t0 = time.perf_counter()
        report = ref.check(path)
        out.update(seconds=time.perf_counter() - t0, rss_before=before,
                   hwm_check=_status("VmHWM"), verdict=report.verdict)
    out["ru_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(out))


def memory(path: str, ref_rows: int, cols: int) -> dict[str, Any]:
    res = {}
    for mode in ("reference", "check"):
        cmd = [sys.executable, __file__, "--child", mode, path, str(ref_rows), str(cols)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
        res[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        res[mode]["load"] = _load()
    return res


# ------------------------------------------------------------------ profile
def _pass(batches: Any, work: Any) -> tuple[float, float]:
    """Seconds spent waiting for batches and working on them."""
    t_read = t_work = 0.0
    it = iter(batches)
    while True:
        t0 = time.perf_counter()
        batch = next(it, None)
        t1 = time.perf_counter()
        t_read += t1 - t0
        if batch is None:
            return t_read, t_work
        work(batch)
        t_work += time.perf_counter() - t1


def profile(ref: Any, path: str) -> dict[str, float]:
    """Seconds per piece of one check of ``path`` (single runs: a shared host)."""
    from fastmlops.drift import _stream as _drift_stream
    from fastmlops.drift.state import _bucket_spec
    from fastmlops._kernels import ks as _k
    from fastmlops._kernels.ks_bins import bucket_split_counts, gather_mapped

    out: dict[str, float] = {}
    src = _drift_stream._source(ref, path)
    state = ref.new_state()
    out["pass 1: reading batches"], out["pass 1: state.update"] = _pass(
        src.batches(1), lambda batch: state.update(ref, batch))
    t0 = time.perf_counter()
    state.candidates(ref)
    out["candidates"] = time.perf_counter() - t0
    out["pass 2: reading batches"], out["pass 2: state.gather"] = _pass(
        src.batches(2), lambda batch: state.gather(ref, batch))
    t0 = time.perf_counter()
    state.finish(ref)
    out["finish"] = time.perf_counter() - t0
    gathered = sum(sum(g.size for g in p.gathered) for p in state._parts)
    out["gathered values (share of all)"] = gathered / max(1, state.n_rows * len(ref.columns))

    # pieces of update on batches held in memory, one thread, scaled to the file
    batches = []
    for b in src.batches(1):
        batches.append(b)
        if len(batches) == 8:
            break
    rows = sum(b.num_rows for b in batches)
    scale = state.n_rows / rows
    pieces = {"arrow -> numpy columns": 0.0, "KS bucket counting": 0.0,
              "PSI bins + picture grid from the split buckets": 0.0,
              "PSI bins + picture grid by count_bins (not used; for comparison)": 0.0,
              "pass 2 gather of the selected buckets": 0.0}
    for b in batches:
        t0 = time.perf_counter()
        cols = ref.current_columns(b, allow_empty=True)
        arrays = [np.ascontiguousarray(v) for v in cols.block(0, len(ref.columns))]
        t1 = time.perf_counter()
        pieces["arrow -> numpy columns"] += t1 - t0
        for j, (col, v) in enumerate(zip(ref.column_models, arrays)):
            spec, _ = _bucket_spec(col)
            if j == 0 and b is batches[0]:  # load the kernels before timing them
                warm, ids0, u0 = v[:100], np.empty(100, np.uint16), col.union_bins()[0]
                _k.bucket_counts(warm, *spec, np.zeros(int(spec[2]) + 1, np.int64), ids0)
                bucket_split_counts(warm, *spec, np.zeros(int(spec[2]) + 1, np.int64), ids0,
                                    col.split_table(spec)[0], u0, np.zeros(u0.size + 1, np.int64))
            ids = np.empty(v.size, np.uint16)
            union = col.union_bins()[0]
            split = col.split_table(spec)[0]
            sel = state._selected[j]
            dest = np.empty(v.size, v.dtype)
            t1 = time.perf_counter()
            _k.bucket_counts(v, *spec, np.zeros(int(spec[2]) + 1, dtype=np.int64), ids)
            t2 = time.perf_counter()
            bucket_split_counts(v, *spec, np.zeros(int(spec[2]) + 1, dtype=np.int64), ids,
                                split, union, np.zeros(union.size + 1, np.int64))
            t3 = time.perf_counter()
            col.count_bins(v)
            t4 = time.perf_counter()
            gather_mapped(v, *spec, sel, dest)
            t5 = time.perf_counter()
            pieces["KS bucket counting"] += t2 - t1
            # what counting the split buckets adds to the bucket counting
            pieces["PSI bins + picture grid from the split buckets"] += (t3 - t2) - (t2 - t1)
            pieces["PSI bins + picture grid by count_bins (not used; for comparison)"] += t4 - t3
            pieces["pass 2 gather of the selected buckets"] += t5 - t4
    for k, v in pieces.items():
        out[f"one thread, whole file: {k}"] = v * scale
    src.close()
    return out


# ------------------------------------------------------------------ Dask
def dask_runs(ref: Any, path: str, expected: str, workers: tuple[int, ...]) -> list[dict]:
    import logging

    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from tests.test_drift_dask import _records, _ResultSizes

    out = []
    for n in workers:
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:
            ddf = dd.read_parquet(path)
            client.register_plugin(_ResultSizes())
            row: dict[str, Any] = {"workers": n, "partitions": ddf.npartitions}
            for i in range(2):
                client.run(_records)
                load = _load()
                report, wall, _ = _timed(lambda: ref.check(ddf))
                assert report.to_json() == expected, "Dask report differs"
                recs = [r for rs in client.run(_records).values() for r in rs]
                row[f"check {i + 1} s"] = wall
                row[f"check {i + 1} load"] = load
            by_type: dict[str, list[int]] = {}
            for kind, size in recs:
                by_type.setdefault(kind, []).append(size)
            row["results"] = {k: (len(v), sum(v), max(v)) for k, v in by_type.items()}
            # VmHWM, not ru_maxrss: a spawned worker inherits its parent's ru_maxrss
            row["worker peak RSS"] = sorted(client.run(_status, "VmHWM").values())
            out.append(row)
    return out


def _plan_bytes(ref: Any, path: str) -> int:
    """Pickled size of the pass-2 plan (it goes with every pass-2 task)."""
    state = ref.new_state()
    import pyarrow.parquet as pq

    state.update(ref, pq.ParquetFile(path).read_row_group(0))
    return len(pickle.dumps(state.candidates(ref).plan(), protocol=pickle.HIGHEST_PROTOCOL))


# ------------------------------------------------------------------ main
def _fmt_bytes(n: float) -> str:
    return f"{n / MB:,.1f} MiB" if n >= MB else f"{n / 1024:,.1f} KiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=1e7)
    parser.add_argument("--cols", type=int, default=20)
    parser.add_argument("--ref-rows", type=float, default=1e6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compression", default="none", choices=["none", "snappy", "zstd"])
    parser.add_argument("--dir", default=None, help="where to write the file (a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the file")
    parser.add_argument("--file", default=None,
                        help="use this Parquet file (written by an earlier --keep run)")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, path, ref_rows, cols = args.child
        child(mode, path, int(ref_rows), int(cols))
        return
    import pyarrow as pa
    import pyarrow.parquet  # noqa: F401 - pa.parquet

    import fastmlops
    import fastmlops._core.parallel

    rows, ref_rows = int(args.rows), int(args.ref_rows)
    fastmlops.warmup()
    print(f"# scale benchmark: {platform.node()} {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, numpy {np.__version__}, pyarrow {pa.__version__}, "
          f"fastmlops threads {fastmlops._core.parallel.n_workers()}")
    tmp = tempfile.TemporaryDirectory(prefix="fastmlops-scale-", dir=args.dir)
    try:
        path = args.file or os.path.join(tmp.name, "current.parquet")
        wall = 0.0
        if args.file is None:
            _, wall, _ = _timed(lambda: write_file(path, rows, args.cols, args.compression))
        meta = pa.parquet.ParquetFile(path).metadata
        rows, size = meta.num_rows, os.path.getsize(path)
        print(f"file: {rows:,} rows x {meta.num_columns} float64 in {meta.num_row_groups} row "
              f"groups, compression={meta.row_group(0).column(0).compression}, "
              f"{size / 1e9:.2f} GB on disk, written in {wall:.1f} s ({_load()})")

        if not args.no_memory:
            mem = memory(path, ref_rows, args.cols)
            r, c = mem["reference"], mem["check"]
            print(f"memory, reference alone: RSS {_fmt_bytes(r['rss_reference'])} "
                  f"(sorted values {_fmt_bytes(r['reference_values'])}), peak while building "
                  f"{_fmt_bytes(r['ru_maxrss'])} ({r['load']})")
            print(f"memory, reference + check: RSS before the check "
                  f"{_fmt_bytes(c['rss_before'])}, peak during it {_fmt_bytes(c['hwm_check'])}"
                  f", so {_fmt_bytes(c['hwm_check'] - c['rss_before'])} beyond the reference"
                  f" (goal < 1 GiB); process peak {_fmt_bytes(c['ru_maxrss'])}; check "
                  f"{c['seconds']:.2f} s ({c['load']})")

        ref = _reference(ref_rows, args.cols)
        read_only(path)  # warm the page cache
        expected = None
        ratios = []
        for i in range(args.rounds):
            load = _load()
            n, rw, rc = _timed(lambda: read_only(path))
            assert n == rows
            report, cw, cc = _timed(lambda: ref.check(path))
            if expected is None:
                expected = report.to_json()
            assert report.to_json() == expected
            ratios.append(cw / rw)
            print(f"round {i + 1}: read {rw:.2f} s (CPU {rc:.2f} s, {rc / rw:.2f} cores), "
                  f"check {cw:.2f} s (CPU {cc:.2f} s, {cc / cw:.2f} cores): check/read "
                  f"{cw / rw:.2f}x (goal <= 2x) ({load})")
        print(f"check/read: median {statistics.median(ratios):.2f}x, range "
              f"{min(ratios):.2f}-{max(ratios):.2f}x over {len(ratios)} rounds")

        if not args.no_profile:
            load = _load()
            prof = profile(ref, path)
            print(f"profile ({load}):")
            for k, v in prof.items():
                print(f"  {k}: {v:.4f}" + ("" if "share" in k else " s"))

        if not args.no_dask:
            from fastmlops.drift._stream import _worker_view

            full = len(pickle.dumps(ref, protocol=pickle.HIGHEST_PROTOCOL))
            view = len(pickle.dumps(_worker_view(ref), protocol=pickle.HIGHEST_PROTOCOL))
            print(f"dask: the reference as sent to each worker once per check "
                  f"{_fmt_bytes(view)} (all of it pickled: {_fmt_bytes(full)}); the pass-2 "
                  f"plan {_fmt_bytes(_plan_bytes(ref, path))}, also once per worker")
            for row in dask_runs(ref, path, expected, (1, 2)):
                res = ", ".join(f"{k}: {n} results, {_fmt_bytes(s)} in all (largest "
                                f"{_fmt_bytes(m)})" for k, (n, s, m) in row["results"].items())
                print(f"dask {row['workers']} worker(s), {row['partitions']} partitions: check "
                      f"{row['check 1 s']:.2f} s (first, {row['check 1 load']}), "
                      f"{row['check 2 s']:.2f} s (second, {row['check 2 load']}); task results "
                      f"of the second check: {res}; worker peak RSS "
                      f"{[_fmt_bytes(x) for x in row['worker peak RSS']]}")
    finally:
        if args.keep:
            print(f"kept {tmp.name}")
        else:
            tmp.cleanup()


if __name__ == "__main__":
    main()
