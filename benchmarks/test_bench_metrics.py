"""Multi-process metrics benchmarks: fastmlops.metrics vs prometheus_client.

Run with::

    python -m pytest benchmarks/test_bench_metrics.py --benchmark-enable \
        --benchmark-json=m.json -p no:randomly
    python benchmarks/ratios.py m.json              # speed-ups (per round)
    python benchmarks/test_bench_metrics.py m.json  # ns per call / per value

In each group ``test_fastmlops_*`` is ours and the others are references, run
in the same process; every result is checked outside the timed part.  The
per-call benchmarks time a whole round of ``N`` calls (pytest-benchmark
reports per round); ``extra_info`` holds ``calls_per_round`` and, after the
run, ``ns_per_call_median`` / ``ns_per_call_min`` (round time / ``N``).
Goals (the issue's figures):

* ``Histogram.observe`` from Python, one thread and two threads on the same
  histogram: at most 100 ns per call, at least 14x faster than
  ``prometheus_client.Histogram`` (``registry=None``, the same buckets);
* ``observe_many`` of 1e6 float64 values: at most 4 ns per value (references:
  ``np.searchsorted`` + ``np.bincount`` + ``np.sum``, and prometheus_client's
  ``observe`` in a loop when a round of it takes under 3 s);
* a scrape of 64 worker processes x 10 histograms x 12 buckets (one label set
  each): at most 1 ms, with memory fixed; reference: prometheus_client's own
  multiprocess mode (``MultiProcessCollector`` over 64 ``.db`` files).

The loops ``for v in values: observe(v)`` include the Python loop and call
themselves (here an empty ``for`` loop costs about 20 ns per iteration and a
call of an empty Python function about 50 ns), for ours and the reference
alike.  The scrape ``generate_latest`` includes prometheus_client's text
formatting of the 150 samples, which is the same code for any collector.
Our buffers are drained (``fastmlops.metrics.flush()``) in the untimed setup
of every round, so memory stays bounded; the background flusher still runs
while a round is timed, as it would in a server.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np
import pytest

# Imports of the benchmark dependencies stay below the ``__main__`` helper's
# needs: ``python benchmarks/test_bench_metrics.py m.json`` needs only json.
if __name__ != "__main__":
    import prometheus_client as pc
    from prometheus_client import values as pc_values
    from prometheus_client.multiprocess import MultiProcessCollector

    import fastmlops
    from fastmlops import metrics as fm

    fastmlops.warmup()

N_CALLS = 100_000          # observe() calls per round
N_MANY = 1_000_000         # values per observe_many() round
BUCKETS = (.005, .01, .025, .05, .075, .1, .25, .5, .75, 1.0, 2.5, 5.0, 7.5, 10.0)  # DEFAULT
SCRAPE_PROCS = 64
SCRAPE_METRICS = 10
SCRAPE_BOUNDS = (.005, .01, .025, .05, .1, .25, .5, 1.0, 2.5, 5.0, 10.0)  # 11 + +Inf = 12
_serial = iter(range(1_000_000))


def _name(prefix: str) -> str:
    return f"{prefix}_{next(_serial)}"


def _latencies(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(-3.0, 1.0, size=n)  # median ~50 ms


def _expected_buckets(values: np.ndarray, bounds: tuple[float, ...]) -> np.ndarray:
    """Per-bucket (non-cumulative) counts, last one +Inf, Prometheus rule v <= le."""
    return np.bincount(np.searchsorted(np.asarray(bounds), values, side="left"),
                       minlength=len(bounds) + 1)


def _per_call(benchmark, n: int) -> None:
    """Store ns per call (round time / n) in extra_info, after the run."""
    benchmark.extra_info["calls_per_round"] = n
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        s = stats.stats
        benchmark.extra_info["ns_per_call_median"] = round(s.median / n * 1e9, 2)
        benchmark.extra_info["ns_per_call_min"] = round(s.min / n * 1e9, 2)


def _ours_cumulative(h) -> tuple[list[float], float, float]:
    v = h.value()
    return list(v["buckets"].values()), v["count"], v["sum"]


def _prom_histogram_samples(metric) -> dict[str, float]:
    """{'count': .., 'sum': .., 'le=..': ..} of an unlabelled prometheus_client histogram."""
    out = {}
    for fam in metric.collect():
        for s in fam.samples:
            if s.name.endswith("_count"):
                out["count"] = s.value
            elif s.name.endswith("_sum"):
                out["sum"] = s.value
            elif s.name.endswith("_bucket"):
                out["le=" + s.labels["le"]] = s.value
    return out


# --------------------------------------------------------------- observe(), one thread
@pytest.fixture(scope="module")
def calls():
    arr = _latencies(N_CALLS, 11)
    return arr.tolist(), arr


def _loop(observe, values):
    for v in values:
        observe(v)


class _Counted:
    """``fn`` that counts its calls: the checks need the number of rounds run
    (a single one under ``--benchmark-disable``)."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args):
        self.calls += 1
        return self.fn(*args)


def _check_ours(h, arr, rounds):
    fm.flush()
    cum, count, total = _ours_cumulative(h)
    assert count == rounds * arr.size
    np.testing.assert_array_equal(cum, np.cumsum(_expected_buckets(arr, BUCKETS)) * rounds)
    assert total == pytest.approx(rounds * float(np.sum(arr)), rel=1e-9)


def _check_prom(p, arr, rounds):
    got = _prom_histogram_samples(p)
    assert got["count"] == rounds * arr.size
    assert got["le=+Inf"] == rounds * arr.size
    assert got["le=0.1"] == rounds * int(np.sum(arr <= 0.1))
    assert got["sum"] == pytest.approx(rounds * float(np.sum(arr)), rel=1e-9)


GROUP_1T = f"Histogram.observe, 1 thread, {N_CALLS:,} calls/round"


def test_fastmlops_observe_1_thread(benchmark, calls):
    benchmark.group = GROUP_1T
    values, arr = calls
    h = fm.Histogram(_name("bench_obs1"), "latency", registry=None, buckets=BUCKETS)
    run = _Counted(_loop)
    benchmark.pedantic(run, (h.observe, values), setup=fm.flush, rounds=20, iterations=1,
                       warmup_rounds=0)
    _per_call(benchmark, N_CALLS)
    _check_ours(h, arr, run.calls)


def test_prometheus_client_observe_1_thread(benchmark, calls):
    benchmark.group = GROUP_1T
    values, arr = calls
    p = pc.Histogram(_name("bench_obs1"), "latency", registry=None, buckets=BUCKETS)
    run = _Counted(_loop)
    benchmark.pedantic(run, (p.observe, values), rounds=7, iterations=1, warmup_rounds=0)
    _per_call(benchmark, N_CALLS)
    _check_prom(p, arr, run.calls)


# --------------------------------------------------------------- observe(), two threads
class _TwoThreads:
    """Two persistent threads; each round, both observe their half of the
    values concurrently (released together by a barrier); the round ends when
    both are done, so the round time is the wall time of both."""

    def __init__(self, observe, values):
        half = len(values) // 2
        self.halves = (values[:half], values[half:])
        self.observe = observe
        self.go = threading.Barrier(3)
        self.done = threading.Barrier(3)
        self.stop = False
        self.threads = [threading.Thread(target=self._work, args=(part,), daemon=True)
                        for part in self.halves]
        for t in self.threads:
            t.start()

    def _work(self, part):
        observe = self.observe
        while True:
            self.go.wait()
            if self.stop:
                return
            for v in part:
                observe(v)
            self.done.wait()

    def round(self):
        self.go.wait()
        self.done.wait()

    def close(self):
        self.stop = True
        self.go.wait()
        for t in self.threads:
            t.join()


GROUP_2T = f"Histogram.observe, 2 threads x {N_CALLS // 2:,} calls/round, same histogram"


def test_fastmlops_observe_2_threads(benchmark, calls):
    benchmark.group = GROUP_2T
    values, arr = calls
    h = fm.Histogram(_name("bench_obs2"), "latency", registry=None, buckets=BUCKETS)
    pair = _TwoThreads(h.observe, values)
    run = _Counted(pair.round)
    try:
        benchmark.pedantic(run, setup=fm.flush, rounds=20, iterations=1, warmup_rounds=0)
    finally:
        pair.close()
    _per_call(benchmark, N_CALLS)
    _check_ours(h, arr, run.calls)


def test_prometheus_client_observe_2_threads(benchmark, calls):
    benchmark.group = GROUP_2T
    values, arr = calls
    p = pc.Histogram(_name("bench_obs2"), "latency", registry=None, buckets=BUCKETS)
    pair = _TwoThreads(p.observe, values)
    run = _Counted(pair.round)
    try:
        benchmark.pedantic(run, rounds=7, iterations=1, warmup_rounds=0)
    finally:
        pair.close()
    _per_call(benchmark, N_CALLS)
    _check_prom(p, arr, run.calls)


# --------------------------------------------------------------- observe_many(1e6)
GROUP_MANY = f"Histogram.observe_many, {N_MANY:,} float64 values"


@pytest.fixture(scope="module")
def many():
    return _latencies(N_MANY, 12)


def _numpy_observe_many(x, bounds):
    """What a user would write: bucket index, counts, sum."""
    idx = np.searchsorted(bounds, x, side="left")
    return np.bincount(idx, minlength=bounds.size + 1), float(np.sum(x))


def test_fastmlops_observe_many_1e6(benchmark, many):
    benchmark.group = GROUP_MANY
    h = fm.Histogram(_name("bench_many"), "latency", registry=None, buckets=BUCKETS)
    run = _Counted(h.observe_many)
    benchmark.pedantic(run, (many,), rounds=30, iterations=1, warmup_rounds=0)
    _per_call(benchmark, N_MANY)
    _check_ours(h, many, run.calls)


def test_numpy_searchsorted_bincount_1e6(benchmark, many):
    benchmark.group = GROUP_MANY
    bounds = np.asarray(BUCKETS)
    counts, total = benchmark.pedantic(_numpy_observe_many, (many, bounds), rounds=10,
                                       iterations=1, warmup_rounds=0)
    _per_call(benchmark, N_MANY)
    assert counts.sum() == N_MANY
    np.testing.assert_array_equal(counts, _expected_buckets(many, BUCKETS))
    assert total == pytest.approx(float(np.sum(many)), rel=1e-12)


def test_prometheus_client_observe_loop_1e6(benchmark, many):
    """prometheus_client has no batch call: observe() over a prepared list of
    Python floats (the list conversion is not timed, which favours it)."""
    benchmark.group = GROUP_MANY
    values = many.tolist()
    probe = pc.Histogram(_name("bench_probe"), "probe", registry=None, buckets=BUCKETS)
    t0 = time.perf_counter()
    _loop(probe.observe, values[:50_000])
    projected = (time.perf_counter() - t0) * N_MANY / 50_000
    if projected >= 3.0:
        pytest.skip(f"a round would take ~{projected:.1f} s (>= 3 s); numpy is the reference")
    p = pc.Histogram(_name("bench_many"), "latency", registry=None, buckets=BUCKETS)
    run = _Counted(_loop)
    benchmark.pedantic(run, (p.observe, values), rounds=2, iterations=1, warmup_rounds=0)
    _per_call(benchmark, N_MANY)
    _check_prom(p, many, run.calls)


# --------------------------------------------------------------- scrape, 64 processes
def _child_values(child: int) -> np.ndarray:
    return _latencies(50 + child, 1000 + child)  # 50..113 values, different per child


def _expected_scrape() -> tuple[np.ndarray, int, float]:
    """Cumulative buckets, count and sum of one histogram over all children."""
    allv = np.concatenate([_child_values(c) for c in range(SCRAPE_PROCS)])
    return np.cumsum(_expected_buckets(allv, SCRAPE_BOUNDS)), allv.size, float(np.sum(allv))


def _fork_children(work) -> None:
    """Fork SCRAPE_PROCS children running ``work(i)``; wait for all, check exit codes."""
    pids = []
    for i in range(SCRAPE_PROCS):
        pid = os.fork()
        if pid == 0:  # child: never return into pytest
            code = 1
            try:
                work(i)
                code = 0
            except BaseException:  # noqa: BLE001 - report it, then exit 1
                import traceback
                traceback.print_exc()
            finally:
                os._exit(code)
        pids.append(pid)
    codes = [os.waitpid(pid, 0)[1] for pid in pids]
    assert all(os.waitstatus_to_exitcode(c) == 0 for c in codes), codes


def _check_scrape(families, expected) -> int:
    """Every one of the SCRAPE_METRICS histograms has exactly the expected buckets,
    _count and _sum; returns the total _count over the scraped histograms."""
    cum, count, total = expected
    seen = 0
    grand = 0
    for fam in families:
        if fam.type != "histogram" or not fam.name.startswith("scrape_h"):
            continue
        buckets = [s.value for s in fam.samples if s.name.endswith("_bucket")]
        counts = [s.value for s in fam.samples if s.name.endswith("_count")]
        sums = [s.value for s in fam.samples if s.name.endswith("_sum")]
        assert len(buckets) == len(SCRAPE_BOUNDS) + 1 and len(counts) == 1, fam
        np.testing.assert_array_equal(buckets, cum)
        assert counts[0] == count
        assert sums[0] == pytest.approx(total, rel=1e-9)
        grand += int(counts[0])
        seen += 1
    assert seen == SCRAPE_METRICS
    return grand


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(scope="module")
def scrape_ours():
    """10 labelled fastmlops histograms in a fresh registry; 64 forked children
    observe into all of them, flush and exit (their slots keep the counts)."""
    reg = pc.CollectorRegistry()
    hs = [fm.Histogram(f"scrape_h{j}", "latency", ["route"], registry=reg,
                       buckets=SCRAPE_BOUNDS) for j in range(SCRAPE_METRICS)]
    children = [h.labels(route="/predict") for h in hs]  # one label set each

    def work(i):
        vals = _child_values(i).tolist()
        for child in children:
            for v in vals:
                child.observe(v)
        fm.flush()

    _fork_children(work)
    expected = _expected_scrape()
    grand = _check_scrape(reg.collect(), expected)
    assert grand == SCRAPE_METRICS * expected[1]
    return reg, hs, expected


@pytest.fixture(scope="module")
def scrape_reference(tmp_path_factory):
    """prometheus_client's multiprocess mode, same shape: 64 forked children
    write their .db files in PROMETHEUS_MULTIPROC_DIR; the scrape reads them
    with MultiProcessCollector."""
    path = str(tmp_path_factory.mktemp("prom_multiproc"))

    def work(i):
        # Multiprocess mode is chosen when a metric is created: switch this
        # (forked) child to it, as the env var would at import.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
        pc_values.ValueClass = pc_values.MultiProcessValue()
        vals = _child_values(i).tolist()
        for j in range(SCRAPE_METRICS):
            child = pc.Histogram(f"scrape_h{j}", "latency", ["route"], registry=None,
                                 buckets=SCRAPE_BOUNDS).labels(route="/predict")
            for v in vals:
                child.observe(v)

    _fork_children(work)
    assert len([f for f in os.listdir(path) if f.endswith(".db")]) == SCRAPE_PROCS
    reg = pc.CollectorRegistry()
    MultiProcessCollector(reg, path=path)
    expected = _expected_scrape()
    grand = _check_scrape(reg.collect(), expected)
    assert grand == SCRAPE_METRICS * expected[1]
    return reg, expected


def _collect_all(reg):
    return [m for m in reg.collect()]


GROUP_COLLECT = (f"scrape: registry.collect(), {SCRAPE_PROCS} processes x "
                 f"{SCRAPE_METRICS} histograms x 12 buckets")
GROUP_EXPO = (f"scrape: generate_latest(), {SCRAPE_PROCS} processes x "
              f"{SCRAPE_METRICS} histograms x 12 buckets")


def test_fastmlops_scrape_collect(benchmark, scrape_ours):
    benchmark.group = GROUP_COLLECT
    reg, _, expected = scrape_ours
    families = benchmark(_collect_all, reg)
    assert _check_scrape(families, expected) == SCRAPE_METRICS * expected[1]


def test_prometheus_multiprocess_scrape_collect(benchmark, scrape_reference):
    benchmark.group = GROUP_COLLECT
    reg, expected = scrape_reference
    families = benchmark(_collect_all, reg)
    assert _check_scrape(families, expected) == SCRAPE_METRICS * expected[1]


def test_fastmlops_scrape_generate_latest(benchmark, scrape_ours):
    benchmark.group = GROUP_EXPO
    reg, hs, expected = scrape_ours
    text = benchmark(pc.generate_latest, reg)
    count = expected[1]
    for j in range(SCRAPE_METRICS):
        assert f'scrape_h{j}_count{{route="/predict"}} {float(count)!r}'.encode() in text
    # Memory is fixed: each family is one segment sized at creation, and
    # scraping again does not grow the process (checked outside the timing).
    seg_bytes = sum(h._segment.layout.words * 8 for h in hs)
    rss0 = _rss_bytes()
    for _ in range(300):
        pc.generate_latest(reg)
    grew = _rss_bytes() - rss0
    benchmark.extra_info["segment_bytes_total"] = seg_bytes
    benchmark.extra_info["rss_growth_bytes_over_300_scrapes"] = grew
    assert grew < 4 << 20, grew


class _Static:
    """A collector returning families collected beforehand: generate_latest
    over it is prometheus_client's text formatting alone, the floor of any
    exposition through prometheus_client."""

    def __init__(self, families):
        self._families = families

    def collect(self):
        return self._families


def test_prometheus_client_format_only_floor(benchmark, scrape_ours):
    benchmark.group = GROUP_EXPO
    reg, _, expected = scrape_ours
    static = pc.CollectorRegistry()
    static.register(_Static(list(reg.collect())))
    text = benchmark(pc.generate_latest, static)
    assert text == pc.generate_latest(reg)


def test_prometheus_multiprocess_scrape_generate_latest(benchmark, scrape_reference):
    benchmark.group = GROUP_EXPO
    reg, expected = scrape_reference
    text = benchmark(pc.generate_latest, reg)
    count = expected[1]
    for j in range(SCRAPE_METRICS):
        assert f'scrape_h{j}_count{{route="/predict"}} {float(count)!r}'.encode() in text


# --------------------------------------------------------------- per-call table
def _per_call_table(path: str) -> None:
    """Print ns per call (per value) of the per-call benchmarks of a JSON run."""
    import json
    with open(path) as f:
        data = json.load(f)
    print("| benchmark | test | calls/round | median/round | ns/call (median) | ns/call (min) |")
    print("|---|---|---|---|---|---|")
    for b in data["benchmarks"]:
        info = b.get("extra_info", {})
        n = info.get("calls_per_round")
        if not n:
            continue
        med = b["stats"]["median"]
        print(f"| {b['group']} | {b['name']} | {n:,} | {med * 1e3:.3g} ms | "
              f"{med / n * 1e9:.1f} | {b['stats']['min'] / n * 1e9:.1f} |")


if __name__ == "__main__":
    _per_call_table(sys.argv[1])
