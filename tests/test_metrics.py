"""Multi-process counters, gauges and histograms (fastmlops.metrics)."""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import signal
import threading
import time

import numpy as np
import prometheus_client
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import fastmlops._core.flush as core_flush
import fastmlops.metrics as metrics_module
import fastmlops.metrics._directory as metrics_directory
import fastmlops.metrics.segment as metrics_segment
from fastmlops.metrics import DEFAULT_BUCKETS, Counter, Gauge, Histogram, flush
from tests import _metrics_workers as workers

INF = float("inf")


def _samples(registry, skip_created=True):
    """{(name, sorted labels): value} parsed back from the text exposition."""
    out = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            if skip_created and s.name.endswith("_created"):
                continue
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _hist_reference(values, bounds):
    """Cumulative bucket counts (le semantics), count and sum, with numpy."""
    finite = np.asarray(bounds[:-1], dtype=float)
    idx = np.searchsorted(finite, values, side="left")
    counts = np.bincount(idx, minlength=len(bounds)).astype(float)
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(np.sum(values))
    return np.cumsum(counts), float(len(values)), total


# ------------------------------------------------------------------ definitions

def test_default_buckets_equal_prometheus_client():
    assert DEFAULT_BUCKETS == prometheus_client.Histogram.DEFAULT_BUCKETS
    h = Histogram("defb", "d", registry=None)
    assert list(h.value()["buckets"]) == list(prometheus_client.Histogram.DEFAULT_BUCKETS)


@pytest.mark.parametrize("buckets, error", [
    ([], ValueError),
    ([INF], ValueError),
    ([2, 1], ValueError),
    ([1, 1, 2], ValueError),
    ([1, float("nan")], ValueError),
    (["a", 1], TypeError),
    ("123", TypeError),
])
def test_bad_buckets(buckets, error):
    with pytest.raises(error):
        Histogram("badb", "d", registry=None, buckets=buckets)


def test_buckets_get_inf_appended_like_prometheus_client():
    ours = Histogram("bk", "d", registry=None, buckets=(1, 2))
    assert list(ours.value()["buckets"]) == [1.0, 2.0, INF]
    theirs = prometheus_client.Histogram("bk", "d", registry=None, buckets=(1, 2))
    assert theirs._upper_bounds == [1.0, 2.0, INF]


@pytest.mark.parametrize("name", ["", "1abc", "a-b", "a b"])
def test_bad_names(name):
    with pytest.raises(ValueError, match="invalid metric name"):
        Counter(name, "d", registry=None)


@pytest.mark.parametrize("labels, error", [
    (("a-b",), ValueError), (("__x",), ValueError), (("a", "a"), ValueError),
    ("route", TypeError), ((1,), ValueError)])
def test_bad_label_names(labels, error):
    with pytest.raises(error):
        Counter("badl", "d", labels, registry=None)


def test_reserved_labels():
    with pytest.raises(ValueError, match="reserved"):
        Histogram("le_label", "d", ["le"], registry=None)
    with pytest.raises(ValueError, match="reserved"):
        Gauge("pid_label", "d", ["pid"], registry=None, multiprocess_mode="all")


def test_bad_arguments():
    with pytest.raises(TypeError):
        Counter("x", 3, registry=None)
    with pytest.raises(ValueError, match="max_series"):
        Counter("x", "d", registry=None, max_series=0)
    with pytest.raises(ValueError, match="max_processes"):
        Counter("x", "d", registry=None, max_processes=True)
    with pytest.raises(ValueError, match="multiprocess_mode"):
        Gauge("x", "d", registry=None, multiprocess_mode="avg")


def test_labels_like_prometheus_client():
    c = Counter("lab", "d", ["a", "b"], registry=None)
    assert c.labels("1", "2") is c.labels(a=1, b=2)  # values become str
    with pytest.raises(ValueError, match="takes 2 label values"):
        c.labels("1")
    with pytest.raises(ValueError, match=r"Incorrect label names.*missing \['b'\]"):
        c.labels(a=1, c=2)
    with pytest.raises(ValueError, match="Can't pass both"):
        c.labels("1", b=2)
    with pytest.raises(ValueError, match=r"call \.labels"):
        c.inc()
    with pytest.raises(ValueError, match=r"call \.labels"):
        c.value()
    u = Counter("nolab", "d", registry=None)
    with pytest.raises(ValueError, match="no labels"):
        u.labels("x")
    h = Histogram("hlab", "d", ["a"], registry=None)
    for call in (lambda: h.observe(1), lambda: h.observe_many([1.0])):
        with pytest.raises(ValueError, match=r"call \.labels"):
            call()
    with pytest.raises(ValueError, match=r"missing label values.*\('a',\)"):
        with h.time():  # as prometheus_client: the error comes when the time is observed
            pass


def test_max_series_is_enforced():
    c = Counter("few", "d", ["k"], registry=None, max_series=3)
    for k in range(3):
        c.labels(k).inc()
    with pytest.raises(ValueError, match="max_series=3"):
        c.labels(99)
    long = Counter("longlabel", "d", ["k"], registry=None)
    with pytest.raises(ValueError, match="bytes encoded"):
        long.labels("x" * 1000)


# ------------------------------------------------------------------- bad values

@pytest.mark.parametrize("value, error", [
    (float("nan"), ValueError), ("1", TypeError), (None, TypeError), (1j, TypeError),
    ([1.0], TypeError)])
def test_observe_rejects_bad_values(value, error):
    h = Histogram("badv", "d", registry=None)
    with pytest.raises(error):
        h.observe(value)
    assert h.value()["count"] == 0


@pytest.mark.parametrize("value, error", [
    (-1, ValueError), (-1e-300, ValueError), (float("nan"), ValueError), ("1", TypeError),
    (None, TypeError)])
def test_counter_rejects_bad_amounts(value, error):
    c = Counter("badc", "d", registry=None)
    with pytest.raises(error):
        c.inc(value)
    assert c.value() == 0


@pytest.mark.parametrize("values, error", [
    ([1.0, float("nan")], ValueError), (["a", "b"], TypeError), ("abc", TypeError),
    (3.0, ValueError), ([object()], TypeError), ([1 + 2j], TypeError)])
def test_observe_many_rejects_bad_values(values, error):
    h = Histogram("badm", "d", registry=None)
    with pytest.raises(error):
        h.observe_many(values)
    assert h.value()["count"] == 0


def test_gauge_rejects_bad_values():
    g = Gauge("badg", "d", registry=None)
    for call, error in ((lambda: g.set(float("nan")), ValueError),
                        (lambda: g.inc("x"), TypeError), (lambda: g.dec(None), TypeError)):
        with pytest.raises(error):
            call()
    assert g.value() == 0


# ------------------------------------------------------- values against numpy

@given(st.lists(st.floats(allow_nan=False, width=64), max_size=300),
       st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
                min_size=1, max_size=90, unique=True))
def test_histogram_equals_numpy(values, bounds):
    bounds = sorted(bounds) + [INF]
    h = Histogram("hyp", "d", registry=None, buckets=bounds)
    half = len(values) // 2
    for v in values[:half]:
        h.observe(v)
    h.observe_many(np.array(values[half:], dtype=float))
    got = h.value()
    cumulative, count, total = _hist_reference(np.array(values, dtype=float), bounds)
    assert list(got["buckets"].values()) == cumulative.tolist()
    assert got["count"] == count
    if math.isfinite(total):
        assert got["sum"] == pytest.approx(total, rel=1e-9, abs=1e-9 * max(
            1.0, float(np.sum(np.abs(values)))))
    else:  # overflowing sums depend on grouping: the two parts are summed apart
        with np.errstate(over="ignore", invalid="ignore"):
            total = float(np.sum(np.array(values[:half], dtype=float))) + \
                float(np.sum(np.array(values[half:], dtype=float)))
        assert got["sum"] == total or (math.isnan(got["sum"]) and math.isnan(total))


@pytest.mark.parametrize("n_bounds", [1, 15, 16, 17, 64, 65, 200])
def test_bucket_kernels_on_bounds_and_specials(n_bounds):
    rng = np.random.default_rng(n_bounds)
    bounds = np.unique(rng.normal(size=n_bounds))
    while len(bounds) < n_bounds:
        bounds = np.unique(np.concatenate([bounds, rng.normal(size=n_bounds)]))[:n_bounds]
    values = np.concatenate([bounds, np.nextafter(bounds, INF), np.nextafter(bounds, -INF),
                             rng.normal(size=5000) * 2, [INF, -INF, 0.0, -0.0]])
    h = Histogram("kern", "d", registry=None, buckets=list(bounds))
    h.observe_many(values)
    cumulative, count, _ = _hist_reference(values, list(bounds) + [INF])
    got = h.value()
    assert list(got["buckets"].values()) == cumulative.tolist()
    assert got["count"] == count


def test_observe_many_accepts_ints_float32_and_2d():
    h = Histogram("many", "d", registry=None, buckets=(1, 10))
    h.observe_many(np.array([0, 5, 50], dtype=np.int64))
    h.observe_many(np.array([[0.5, 5.0]], dtype=np.float32))
    h.observe_many([])
    got = h.value()
    assert list(got["buckets"].values()) == [2.0, 4.0, 5.0]
    assert got["sum"] == 60.5


def test_counter_sums_exactly():
    c = Counter("sums", "d", registry=None)
    for _ in range(1000):
        c.inc()
    c.inc(0.5)
    c.inc(0)
    c.inc(True)
    flush()
    assert c.value() == 1001.5


def test_time_context_manager_and_decorator():
    h = Histogram("timed", "d", registry=None)
    with h.time():
        pass

    @h.time()
    def f(x):
        return x * 2

    assert f(2) == 4
    got = h.value()
    assert got["count"] == 2
    assert 0 <= got["sum"] < 1


# ------------------------------------------------------------------ exposition

def _feed(metrics_ns, registry, rng):
    c = metrics_ns.Counter("api_requests_total", "Requests", ["route", "code"], registry=registry)
    h = metrics_ns.Histogram("api_latency_seconds", "Latency", ["route"], registry=registry,
                             buckets=(0.01, 0.05, 0.1, 0.5, 1, 5))
    g = metrics_ns.Gauge("api_inflight", "In flight", registry=registry)
    lat = rng.lognormal(-3, 1.5, size=2000)
    for i, v in enumerate(lat):
        route = "/a" if i % 3 else "/b"
        c.labels(route, "200" if i % 7 else "500").inc()
        h.labels(route).observe(float(v))
    c.labels("/a", "200").inc(2.5)
    g.set(7)
    g.inc(3)
    g.dec(1)
    return lat


def test_exposition_equals_prometheus_client():
    """Same calls on ours and on prometheus_client give the same samples."""
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    _feed(metrics_module, ours, np.random.default_rng(1))
    _feed(prometheus_client, theirs, np.random.default_rng(1))
    a, b = _samples(ours), _samples(theirs)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == pytest.approx(b[key], rel=1e-12), key


@pytest.mark.parametrize("buckets", [(-1.0, 0.0, 1.0), (0.0, 2.0)])
def test_histogram_samples_equal_prometheus_client(buckets):
    """Including prometheus_client's rule: no _sum when a bucket bound is negative."""
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    mine = Histogram("neg", "d", ["k"], registry=ours, buckets=buckets)
    ref = prometheus_client.Histogram("neg", "d", ["k"], registry=theirs, buckets=buckets)
    for v in (-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 7.0):
        mine.labels("x").observe(v)
        ref.labels("x").observe(v)
    got = [(s.name, s.labels, s.value) for s in mine.collect()[0].samples
           if not s.name.endswith("_created")]
    want = [(s.name, s.labels, s.value) for s in ref.collect()[0].samples
            if not s.name.endswith("_created")]
    assert got == want


def test_observe_many_large_arrays_split_over_threads():
    values = np.random.default_rng(5).lognormal(-3, 1, size=(1 << 18) + 12345)
    for buckets in (DEFAULT_BUCKETS, tuple(np.linspace(0, 1, 40))):
        h = Histogram("big", "d", registry=None, buckets=buckets)
        h.observe_many(values)
        cumulative, count, total = _hist_reference(values, list(h.value()["buckets"]))
        got = h.value()
        assert list(got["buckets"].values()) == cumulative.tolist()
        assert got["sum"] == pytest.approx(total, rel=1e-12)


def test_created_series_follow_prometheus_client():
    reg = CollectorRegistry()
    before = time.time()
    c = Counter("crt_total", "d", registry=reg)
    c.inc()
    Histogram("crt_h", "d", registry=reg).observe(1)
    names = {s.name: s.value for f in text_string_to_metric_families(generate_latest(reg).decode())
             for s in f.samples}
    assert before - 1 <= names["crt_created"] <= time.time() + 1
    assert before - 1 <= names["crt_h_created"] <= time.time() + 1


def test_registered_in_default_registry_and_duplicates_rejected():
    c = Counter("fastmlops_test_default_total", "d")
    try:
        c.inc(3)
        assert prometheus_client.REGISTRY.get_sample_value("fastmlops_test_default_total") == 3
        with pytest.raises(ValueError):
            Counter("fastmlops_test_default_total", "d")
    finally:
        prometheus_client.REGISTRY.unregister(c)


def test_collector_protocol():
    h = Histogram("proto", "d", registry=None)
    reg = CollectorRegistry()
    reg.register(h)  # what prometheus_client asks of a Collector: collect() and describe()
    h.observe(2)
    assert reg.get_sample_value("proto_count") == 1
    assert [f.name for f in h.describe()] == ["proto"]
    assert h.describe()[0].samples == []


def test_openmetrics_roundtrip():
    from prometheus_client.openmetrics.exposition import generate_latest as om_latest
    from prometheus_client.openmetrics.parser import (
        text_string_to_metric_families as om_parse,
    )
    reg = CollectorRegistry()
    _feed(metrics_module, reg, np.random.default_rng(2))
    families = {f.name: f for f in om_parse(om_latest(reg).decode())}
    assert families["api_requests"].type == "counter"
    assert families["api_latency_seconds"].type == "histogram"
    assert families["api_inflight"].type == "gauge"


def test_telemetry_instrument_records_on_our_metrics():
    from fastmlops import telemetry
    reg = CollectorRegistry()
    req = Counter("tel_requests_total", "d", registry=reg)
    err = Counter("tel_errors_total", "d", registry=reg)
    lat = Histogram("tel_latency_seconds", "d", registry=reg)

    @telemetry.instrument(req, err, lat)
    def predict(x):
        if x < 0:
            raise ValueError("negative")
        return x

    predict(1)
    with pytest.raises(ValueError):
        predict(-1)
    assert req.value() == 2 and err.value() == 1 and lat.value()["count"] == 2


# ------------------------------------------------------------------- gauges

def test_gauge_single_process():
    g = Gauge("g1", "d", ["k"], registry=None)
    g.labels("a").set(5)
    g.labels("a").inc(2)
    g.labels("a").dec(0.5)
    g.labels("b").set_to_current_time()
    assert g.labels("a").value() == 6.5
    assert abs(g.labels("b").value() - time.time()) < 5


def _fork_and_wait(fn):
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 0
        try:
            fn()
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize("mode, expected", [
    ("livesum", 1.0), ("sum", 3.0), ("livemax", 1.0), ("max", 2.0), ("min", 1.0),
    ("livemin", 1.0)])
def test_gauge_modes_across_processes(mode, expected):
    g = Gauge(f"gm_{mode}", "d", registry=None, multiprocess_mode=mode)
    g.set(1)

    def child():
        g.set(2)
        flush()

    _fork_and_wait(child)  # the child has exited: "live" modes leave it out
    assert g.value() == expected


def test_gauge_all_mode_has_pid_label():
    reg = CollectorRegistry()
    g = Gauge("gall", "d", registry=reg, multiprocess_mode="all")
    g.set(4)

    def child():
        g.set(5)
        flush()

    _fork_and_wait(child)
    samples = _samples(reg)
    values = sorted(v for (name, labels), v in samples.items() if name == "gall")
    assert values == [4.0, 5.0]
    assert (("gall", (("pid", str(os.getpid())),))) in samples


def test_gauge_child_starts_at_zero_after_fork():
    g = Gauge("gfork", "d", registry=None, multiprocess_mode="sum")
    g.inc(10)

    def child():
        g.inc(1)  # its own value: 1, not 11
        flush()

    _fork_and_wait(child)
    assert g.value() == 11


# ---------------------------------------------------------- threads, processes

def test_threads_count_exactly():
    h = workers.histogram(None, "threads_seconds")
    child = h.labels("t")
    workers.observe_threads(child, 4, 100_000)
    cumulative, count, total = _hist_reference(np.array(workers.values(100_000) * 4),
                                               workers.BUCKETS + (INF,))
    got = child.value()
    assert got["count"] == 400_000
    assert list(got["buckets"].values()) == cumulative.tolist()
    assert got["sum"] == pytest.approx(total, rel=1e-9)


def test_background_flush_makes_values_visible_within_a_second():
    h = Histogram("visible", "d", registry=None)
    seen = mp.get_context("fork").Event()

    def child():
        h.observe(0.5)  # no flush: the background thread must do it
        time.sleep(3)

    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            child()
        finally:
            os._exit(0)
    start = time.monotonic()
    try:
        while time.monotonic() - start < 2.5:
            # read shared memory only (no flush of this process matters)
            if h.value()["count"] == 1:
                seen.set()
                break
            time.sleep(0.01)
        elapsed = time.monotonic() - start
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert seen.is_set() and elapsed <= 1.0, elapsed


def test_fork_does_not_double_count_buffers():
    c = Counter("forkbuf", "d", registry=None)
    for _ in range(1000):
        c.inc()  # still buffered in the parent at fork time

    def child():
        for _ in range(10):
            c.inc()
        # leaves through os._exit after its own flush of 10

        flush()

    _fork_and_wait(child)
    assert c.value() == 1010


def _consistent(fam_samples, previous):
    """Check one histogram scrape; returns its bucket values by label set."""
    by_series = {}
    for s in fam_samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        by_series.setdefault(key, {"b": [], "count": None})
        if s.name.endswith("_bucket"):
            by_series[key]["b"].append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_count"):
            by_series[key]["count"] = s.value
    now = {}
    for key, d in by_series.items():
        b = [v for _, v in sorted(d["b"])]
        assert b == sorted(b), "buckets must be cumulative"
        assert d["count"] == b[-1], "_count must equal the +Inf bucket"
        if key in previous:
            assert all(x >= y for x, y in zip(b, previous[key])), "a bucket decreased"
        now[key] = b
    return now


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_stress_processes_threads_and_scrapes(method, tmp_path):
    """4 processes x 4 threads x 1e6 observations, counted exactly, while the
    parent scrapes continuously; every scrape consistent and monotonic."""
    n_proc, n_threads, per_thread = 4, 4, 1_000_000
    directory = str(tmp_path) if method == "spawn" else None
    reg = CollectorRegistry()
    h = workers.histogram(directory)
    reg.register(h)
    ctx = mp.get_context(method)
    if method == "fork":
        procs = [ctx.Process(target=workers.observe_threads,
                             args=(h.labels(f"w{i}"), n_threads, per_thread))
                 for i in range(n_proc)]
    else:
        procs = [ctx.Process(target=workers.spawn_worker,
                             args=(directory, f"w{i}", n_threads, per_thread))
                 for i in range(n_proc)]
    for p in procs:
        p.start()
    scrapes = 0
    previous = {}
    while any(p.is_alive() for p in procs) or scrapes < 10_000:
        for fam in h.collect():
            previous = _consistent(fam.samples, previous)
        scrapes += 1
        if scrapes >= 10_000 and not any(p.is_alive() for p in procs):
            break
        if scrapes > 200_000:  # pragma: no cover - safety net
            break
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert scrapes >= 10_000
    cumulative, count, total = _hist_reference(
        np.array(workers.values(per_thread) * n_threads), workers.BUCKETS + (INF,))
    for i in range(n_proc):
        got = h.labels(f"w{i}").value()
        assert got["count"] == n_threads * per_thread
        assert list(got["buckets"].values()) == cumulative.tolist()
        assert got["sum"] == pytest.approx(total, rel=1e-9)


def test_sigkill_loses_at_most_the_last_second(tmp_path):
    directory = str(tmp_path)
    ctx = mp.get_context("fork")
    progress = ctx.Value("q", 0, lock=False)
    h = workers.histogram(directory, "victim_seconds")
    bystander = h.labels("bystander")
    bystander.observe_many(np.full(12345, 0.003))
    # The victim is forked: flushing here first means it inherits compiled
    # flush kernels.  Otherwise, right after the kernel cache is invalidated,
    # its first flush compiles for seconds while it keeps counting progress,
    # and the test would measure the compiler, not the loss bound.
    bystander.observe(0.003)
    flush()
    victim = ctx.Process(target=workers.victim, args=(directory, progress, 30.0))
    victim.start()
    history = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.0:
        history.append((time.monotonic(), progress.value))
        time.sleep(0.01)
    os.kill(victim.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    final = progress.value
    victim.join(10)
    assert victim.exitcode == -signal.SIGKILL
    got = h.labels("victim").value()["count"]
    before = max(v for t, v in history if t <= killed_at - 1.0)
    assert before <= got <= final, (before, got, final)
    assert got > 0
    assert bystander.value()["count"] == 12346
    # a new process can still write and read the family
    h.labels("after").observe(1.0)
    assert h.labels("after").value()["count"] == 1


def test_dead_slots_are_adopted_when_full():
    c = Counter("adopt", "d", registry=None, max_processes=2)
    c.inc()  # the parent holds one slot

    def child():
        c.inc()
        flush()

    for _ in range(5):  # one free slot: each child adopts its dead predecessor's
        _fork_and_wait(child)
    assert c.value() == 6


def test_all_slots_live_gives_a_clear_error():
    c = Counter("fullslots", "d", registry=None, max_processes=1)
    c.inc()
    flush()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(r)
        msg = b"no error"
        try:
            c.inc()
            flush()
        except RuntimeError as exc:
            msg = str(exc).encode()
        os.write(w, msg)
        os._exit(0)
    os.close(w)
    msg = os.read(r, 4096).decode()
    os.close(r)
    os.waitpid(pid, 0)
    assert "max_processes" in msg


def test_directory_files_are_fixed_and_definitions_checked(tmp_path):
    directory = str(tmp_path)
    c = Counter("dirc", "d", ["k"], registry=None, directory=directory)
    c.labels("x").inc()
    for _ in range(3):
        _fork_and_wait(lambda: (c.labels("x").inc(), flush()))
    assert [p.name for p in tmp_path.iterdir()] == ["dirc.fastmlops"]
    size = (tmp_path / "dirc.fastmlops").stat().st_size
    # a second definition in the same directory shares the data...
    again = Counter("dirc", "d", ["k"], registry=None, directory=directory)
    assert again.labels("x").value() == 4
    assert (tmp_path / "dirc.fastmlops").stat().st_size == size
    # ...and a different definition is refused with a clear message
    with pytest.raises(ValueError, match="another definition"):
        Counter("dirc", "d", ["other"], registry=None, directory=directory)
    with pytest.raises(ValueError, match="another definition"):
        Histogram("dirc", "d", ["k"], registry=None, directory=directory)
    (tmp_path / "junk.fastmlops").write_bytes(b"x" * 10)
    with pytest.raises(ValueError, match="not a fastmlops metrics file"):
        Counter("junk", "d", registry=None, directory=directory)


def test_directory_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTMLOPS_METRICS_DIR", str(tmp_path))
    Counter("envdir", "d", registry=None).inc()
    assert (tmp_path / "envdir.fastmlops").exists()


def test_set_flush_interval_validates():
    old = metrics_module.FLUSH_INTERVAL
    try:
        metrics_module.set_flush_interval(0.5)
        assert metrics_module.FLUSH_INTERVAL == 0.5
        for bad in (0, 2, "1", True, float("nan")):
            with pytest.raises(ValueError):
                metrics_module.set_flush_interval(bad)
    finally:
        metrics_module.set_flush_interval(old)


def test_atomics_kernels():
    from fastmlops._kernels import metrics as k
    w = np.zeros(8, dtype=np.uint64)
    assert k.atomic_cas(w, 1, np.uint64(0), np.uint64(5)) == 0 and w[1] == 5
    assert k.atomic_cas(w, 1, np.uint64(0), np.uint64(6)) == 5 and w[1] == 5
    assert k.atomic_add(w, 2, np.uint64(3)) == 0 and k.atomic_add(w, 2, np.uint64(3)) == 3
    k.atomic_store(w, 3, np.uint64(9))
    assert k.atomic_load(w, 3) == 9
    vals = w.view(np.float64)
    w[6] = 2  # word 6: the series' state (ready, generation 0)
    assert k.slot_add(w, vals, 0, 4, np.array([1.5, 2.5]), 6, np.uint64(2))
    assert w[0] == 2 and vals[4] == 1.5 and vals[5] == 2.5
    w[0] = 7  # left odd by a killed writer: the next write makes it even again
    assert k.slot_add(w, vals, 0, 4, np.array([1.0, 1.0]), 6, np.uint64(2))
    assert w[0] == 10 and vals[4] == 2.5
    w[6] = 6  # removed (a later generation): nothing written, the seqlock closed again
    assert not k.slot_add(w, vals, 0, 4, np.array([1.0, 1.0]), 6, np.uint64(2))
    assert w[0] == 12 and vals[4] == 2.5
    assert not k.slot_set(w, vals, 0, 4, np.array([0.0, 0.0]), 6, np.uint64(2))
    assert vals[4] == 2.5 and w[0] == 14


def test_prometheus_client_helpers():
    c = Counter("helpers_errors", "d", registry=None)
    with pytest.raises(KeyError):
        with c.count_exceptions(KeyError):
            raise KeyError("x")
    with pytest.raises(ValueError):
        with c.count_exceptions(KeyError):  # another type: not counted
            raise ValueError("x")

    @c.count_exceptions()
    def boom():
        raise RuntimeError("x")

    with pytest.raises(RuntimeError):
        boom()
    assert c.value() == 2

    g = Gauge("helpers_inprogress", "d", registry=None)
    with g.track_inprogress():
        assert g.value() == 1
    assert g.value() == 0
    with g.time():
        pass
    assert 0 <= g.value() < 1


def test_time_decorates_async_functions():
    import asyncio
    h = Histogram("async_timed", "d", registry=None)

    @h.time()
    async def work(x):
        await asyncio.sleep(0)
        return x + 1

    assert asyncio.run(work(1)) == 2
    assert h.value()["count"] == 1


# ---------------------------------------------------------- directory exporter

def _define_all(directory):
    h = Histogram("dc_latency_seconds", "Latency", ["route"], registry=None,
                  directory=directory, buckets=(0.1, 0.5, 1))
    c = Counter("dc_requests_total", "Requests", ["route"], registry=None, directory=directory)
    g = Gauge("dc_inflight", "In flight", registry=None, directory=directory,
              multiprocess_mode="sum")
    return h, c, g


def test_directory_collector_exposes_what_workers_record(tmp_path):
    directory = str(tmp_path)
    h, c, g = _define_all(directory)
    defined = CollectorRegistry()
    for m in (h, c, g):
        defined.register(m)

    def worker(k):
        def run():
            h2, c2, g2 = _define_all(directory)  # each process defines its metrics
            for i in range(100):
                h2.labels(f"/r{k}").observe(i / 100)
                c2.labels(f"/r{k}").inc()
            g2.set(k)
            flush()
        return run

    for k in range(3):
        _fork_and_wait(worker(k))
    exporter = CollectorRegistry()
    collector = metrics_module.DirectoryCollector(directory, registry=exporter)
    assert _samples(exporter, skip_created=False) == _samples(defined, skip_created=False)
    assert exporter.get_sample_value("dc_requests_total", {"route": "/r2"}) == 100
    assert exporter.get_sample_value("dc_inflight") == 3
    # read-only: collecting claimed no process slot (sum mode would count it)
    assert collector.describe() == []
    seg = h._segment
    owners = seg.words[seg.layout.slots_at::seg.layout.slot_words][:seg.layout.slots]
    assert np.count_nonzero(owners) == 3  # the three workers; this process never wrote h


def test_directory_collector_skips_bad_files_and_validates(tmp_path, caplog):
    directory = str(tmp_path)
    Counter("dc_ok_total", "ok", registry=None, directory=directory).inc()
    flush()
    (tmp_path / "broken.fastmlops").write_bytes(b"\0" * 100)
    exporter = CollectorRegistry()
    metrics_module.DirectoryCollector(directory, registry=exporter)
    with caplog.at_level("WARNING", logger="fastmlops.metrics"):
        assert exporter.get_sample_value("dc_ok_total") == 1
    assert "broken.fastmlops" in caplog.text
    with pytest.raises(ValueError, match="does not exist"):
        metrics_module.DirectoryCollector(str(tmp_path / "missing"), registry=None)


def test_directory_collector_needs_a_directory(monkeypatch):
    monkeypatch.delenv("FASTMLOPS_METRICS_DIR", raising=False)
    with pytest.raises(ValueError, match="FASTMLOPS_METRICS_DIR"):
        metrics_module.DirectoryCollector(registry=None)


def test_cli_metrics_prints_the_directory(tmp_path, capsys):
    from fastmlops.cli import main
    directory = str(tmp_path)
    Histogram("cli_latency_seconds", "Latency", registry=None, directory=directory).observe(0.3)
    flush()
    assert main(["metrics", directory]) == 0
    out = capsys.readouterr().out
    assert "cli_latency_seconds_count 1.0" in out
    assert main(["metrics", directory, "--openmetrics"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("# EOF")
    assert main(["metrics", str(tmp_path / "nope")]) == 2


def test_long_help_is_shortened_to_fit_and_too_many_buckets_are_refused(tmp_path):
    c = Counter("longhelp", "x" * 100_000, registry=None, directory=str(tmp_path))
    c.inc()
    flush()
    exporter = CollectorRegistry()
    metrics_module.DirectoryCollector(str(tmp_path), registry=exporter)
    assert exporter.get_sample_value("longhelp_total") == 1
    with pytest.raises(ValueError, match="does not fit"):
        Histogram("manyb", "d", registry=None, buckets=list(np.arange(1.0, 3000.0)))


def test_exotic_numbers_convert_and_odd_objects_never_lose_good_values(caplog):
    from decimal import Decimal
    from fractions import Fraction

    class Odd:  # compares like a number but does not convert to float
        def __le__(self, other):
            return True

        def __ge__(self, other):
            return True

    h = Histogram("exotic", "d", registry=None, buckets=(1, 2))
    c = Counter("exotic_c", "d", registry=None)
    for v in (Decimal("0.5"), Fraction(3, 2), np.float32(2.5), 1):
        h.observe(v)
        c.inc(v)
    h.observe(Odd())
    c.inc(Odd())
    with caplog.at_level("ERROR", logger="fastmlops.metrics"):
        got = h.value()
        total = c.value()
    assert list(got["buckets"].values()) == [2.0, 3.0, 4.0]
    assert got["sum"] == 5.5 and total == 5.5
    assert caplog.text.count("do not convert") == 2


def test_forks_while_other_threads_observe_lose_nothing_and_never_hang():
    """Repeated fork() while a thread keeps observing and the flusher runs:
    the at-fork hooks must not deadlock, and counts stay exact on both sides."""
    c = Counter("fork_storm", "d", registry=None)
    stop = threading.Event()
    done = [0]

    def busy():
        inc = c.inc
        while not stop.is_set():
            for _ in range(100):
                inc()
            done[0] += 100

    t = threading.Thread(target=busy)
    t.start()
    try:
        for _ in range(20):
            _fork_and_wait(lambda: (c.inc(1000), flush()))
    finally:
        stop.set()
        t.join()
    assert c.value() == done[0] + 20 * 1000


def test_a_slot_left_mid_update_by_a_dead_writer_is_read_and_repaired():
    """A writer killed inside its seqlock leaves seq odd: readers give up
    waiting after a bounded spin, read the slot as it is (each value only
    grows), and make seq even again once its owner is known to be dead."""
    h = Histogram("stuck_seq", "d", registry=None, buckets=(1,))

    def child():
        h.observe_many(np.array([0.5, 2.0]))

    _fork_and_wait(child)  # the child's slot now belongs to a dead process
    seg = h._segment
    lay = seg.layout
    owners = seg.words[lay.slots_at::lay.slot_words][:lay.slots]
    slot = int(np.flatnonzero(owners)[0])
    seq_at = lay.slots_at + slot * lay.slot_words + metrics_segment._S_SEQ
    seg.words[seq_at] += np.uint64(1)  # as if killed between its two seq stores
    assert int(seg.words[seq_at]) % 2 == 1
    assert h.value()["count"] == 2  # read anyway: nothing lost, nothing doubled
    assert int(seg.words[seq_at]) % 2 == 0  # repaired: the owner is dead
    start = time.perf_counter()
    assert h.value()["count"] == 2
    assert time.perf_counter() - start < 0.5  # no more spinning


# ------------------------------------------------------- audit regressions

def test_values_beyond_float64_count_as_infinite_and_lose_nothing(caplog):
    """10**400 passes the hot path's comparison; at flush it is +inf (where the
    comparison placed it), and the values buffered with it are all kept."""
    from fractions import Fraction
    reg = CollectorRegistry()
    c = Counter("huge_c", "d", registry=reg)
    h = Histogram("huge_h", "d", registry=reg, buckets=(1.0,))
    for _ in range(100):
        c.inc()
        h.observe(0.5)
    c.inc(10**400)
    h.observe(10**400)
    h.observe(-10**400)
    h.observe(Fraction(10**400, 3))
    flush()
    assert c.value() == INF
    got = h.value()
    assert got["count"] == 103.0
    assert got["buckets"][1.0] == 101.0  # 100 x 0.5 and -10**400 (-inf)
    assert math.isnan(got["sum"])  # inf + -inf, as float arithmetic says
    text = generate_latest(reg).decode()  # the scrape still works
    assert "huge_h_count 103.0" in text
    assert "dropped" not in caplog.text


def test_one_value_arrays_count_and_longer_arrays_are_refused():
    c = Counter("arr_c", "d", registry=None)
    h = Histogram("arr_h", "d", registry=None, buckets=(1.0,))
    c.inc(np.array([2.0]))
    h.observe(np.array([0.5]))
    assert c.value() == 2.0
    assert h.value()["count"] == 1.0
    with pytest.raises(TypeError, match="observe_many"):
        h.observe(np.array([0.5, 0.7]))
    with pytest.raises(TypeError, match="real number"):
        c.inc(np.array([1.0, 2.0]))


def test_set_flush_interval_does_not_spin(monkeypatch):
    calls = []
    real_flush = metrics_module.flush

    def counting_flush():
        calls.append(time.monotonic())
        real_flush()

    Counter("spin_c", "d", registry=None).inc()  # a family: the flusher runs
    monkeypatch.setattr(core_flush, "flush", counting_flush)
    try:
        metrics_module.set_flush_interval(0.2)
        time.sleep(0.05)
        calls.clear()
        time.sleep(0.7)
        assert len(calls) <= 6, len(calls)  # about 3-4 at 0.2 s; thousands if spinning
    finally:
        metrics_module.set_flush_interval(0.1)


@pytest.mark.parametrize("mode, expected", [
    ("max", {"a": -5.0, "b": -3.0}), ("min", {"a": 7.0, "b": 9.0}),
    ("sum", {"a": -5.0, "b": -3.0})])
def test_gauge_modes_combine_only_processes_that_have_the_series(mode, expected):
    """Worker A sets series a, worker B series b: a process that never touched
    a series does not add a 0 to it (prometheus_client's semantics)."""
    reg = CollectorRegistry()
    g = Gauge(f"phantom_{mode}", "d", ["s"], registry=reg, multiprocess_mode=mode)
    values = {"a": -5.0, "b": -3.0} if mode != "min" else {"a": 7.0, "b": 9.0}
    for key, value in values.items():
        def child(key=key, value=value):
            g.labels(key).set(value)
            flush()
        _fork_and_wait(child)
    got = {labels[0][1]: v for (name, labels), v in _samples(reg).items()
           if name == f"phantom_{mode}"}
    assert got == expected


def test_gauge_all_mode_has_one_sample_per_process_that_set_the_series():
    reg = CollectorRegistry()
    g = Gauge("phantom_all", "d", ["model"], registry=reg, multiprocess_mode="all")
    for model in ("m1", "m2"):
        _fork_and_wait(lambda model=model: (g.labels(model).set(1), flush()))
    got = sorted(dict(labels)["model"] for (name, labels), v in _samples(reg).items()
                 if name == "phantom_all")
    assert got == ["m1", "m2"]


def test_forked_child_does_not_report_an_inherited_gauge_it_never_set():
    g = Gauge("inherited_g", "d", registry=None, multiprocess_mode="min")
    g.set(7)
    flush()
    _fork_and_wait(lambda: flush())  # the child has the object, never sets it
    assert g.value() == 7.0  # not min(7, 0)


def test_adopted_slot_does_not_bring_back_a_dead_process_gauge(tmp_path):
    """With every slot used, a new process adopts a dead one's slot: for a
    gauge, the dead process's values must not reappear as live ones."""
    d = str(tmp_path)

    def make():
        return Gauge("adopt_g", "d", ["model"], registry=None, directory=d, max_processes=2)

    for model in ("old_a", "old_b"):
        _fork_and_wait(lambda model=model: (make().labels(model).set(1), flush()))
    reader = make()  # this process: its first write adopts a dead slot

    def live_values():
        return {k[0]: v for k, _, v in reader._samples()}

    assert live_values() == {}
    reader.labels("new").set(1)
    flush()
    assert live_values() == {"new": 1.0}


def test_a_gauge_made_again_in_a_directory_carries_on_in_one_slot(tmp_path):
    d = str(tmp_path)
    reg = CollectorRegistry()
    g = Gauge("again_g", "d", registry=reg, directory=d, multiprocess_mode="all")
    g.set(5)
    flush()
    reg.unregister(g)
    del g
    import gc
    gc.collect()
    g = Gauge("again_g", "d", registry=reg, directory=d, multiprocess_mode="all")
    g.set(7)
    flush()
    text = generate_latest(reg).decode()
    assert text.count("again_g{") == 1 and f'again_g{{pid="{os.getpid()}"}} 7.0' in text
    # two live objects of one name share the slot: the last value set wins
    g2 = Gauge("again_g", "d", registry=None, directory=d, multiprocess_mode="all")
    g2.set(9)
    flush()
    assert g.value() == 9.0
    with pytest.raises(ValueError, match="another definition"):
        Gauge("again_g", "d", ["x"], registry=None, directory=d, multiprocess_mode="all")


def test_directory_collector_maps_files_read_only(tmp_path):
    d = str(tmp_path)
    c = Counter("ro_c", "d", registry=None, directory=d)
    c.inc(3)
    flush()
    path = os.path.join(d, "ro_c.fastmlops")
    os.chmod(path, 0o444)
    try:
        reg = CollectorRegistry()
        metrics_module.DirectoryCollector(d, registry=reg)
        assert reg.get_sample_value("ro_c_total") == 3.0
        view = metrics_directory._reader_for(path, d)
        assert not view._segment.words.flags.writeable  # PROT_READ: cannot write
    finally:
        os.chmod(path, 0o644)


@pytest.mark.parametrize("name, unit", [("requests_total", "bytes"),
                                        ("sent_bytes_total", "bytes"),
                                        ("plain", "seconds")])
def test_counter_name_with_total_and_unit_equals_prometheus_client(name, unit):
    ours = CollectorRegistry()
    theirs = CollectorRegistry()
    Counter(name, "d", unit=unit, registry=ours).inc()
    prometheus_client.Counter(name, "d", unit=unit, registry=theirs).inc()
    assert _samples(ours) == _samples(theirs)


def test_long_names_in_a_directory(tmp_path):
    d = str(tmp_path)
    ok = "a" * 240
    c = Counter(ok, "d", registry=None, directory=d)
    c.inc()
    assert c.value() == 1.0
    with pytest.raises(ValueError, match="too long for a metrics directory"):
        Counter("b" * 250, "d", registry=None, directory=d)


@pytest.mark.parametrize("delay", [0.0, 0.0, 0.001, 0.01])
def test_fork_while_another_thread_first_uses_the_kernels_does_not_hang(delay):
    """A fork while another thread loads kernels (Numba's compiler lock) or
    imports a module must not leave the child holding a dead lock."""
    import subprocess
    import sys
    code = f"""
import os, sys, threading, time, faulthandler
import numpy as np
from fastmlops.metrics import Histogram, flush
h = Histogram("fk", "d", buckets=[1, 2, 3], registry=None)
t = threading.Thread(target=lambda: h.observe_many(np.ones(10)))
t.start()
time.sleep({delay})
pid = os.fork()
if pid == 0:
    faulthandler.dump_traceback_later(20, exit=True)
    h.observe_many(np.ones(5)); flush()
    os._exit(0)
t.join()
_, st = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(st))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


def test_a_large_batch_buffered_at_exit_is_flushed(tmp_path):
    """At interpreter exit the thread pool takes no new work: the last flush of
    a batch large enough for the parallel path must still land."""
    import subprocess
    import sys
    code = f"""
import fastmlops._core.flush as core_flush
import fastmlops.metrics as fm
h = fm.Histogram("exit_h", "d", registry=None, directory={str(tmp_path)!r})
core_flush._STATE.halt()  # nothing flushes before exit
for _ in range(400_000):
    h.observe(0.5)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "Error" not in r.stderr, r.stderr[-2000:]
    h = Histogram("exit_h", "d", registry=None, directory=str(tmp_path))
    assert h.value()["count"] == 400_000
