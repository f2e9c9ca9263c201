"""OpenTelemetry: spans from span()/instrument(), and metrics over OTLP.

Spans are checked with the SDK's in-memory exporter and, end to end, with the
SDK's OTLP/HTTP exporter against a receiver started here (tests/_otlp_receiver.py);
metrics with our exporter against the same receiver, from 4 forked workers.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk.trace")
pytest.importorskip("opentelemetry.proto")

from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode  # noqa: E402

import fastmlops  # noqa: E402
from fastmlops import otel, telemetry  # noqa: E402
from fastmlops.telemetry import tracing  # noqa: E402

from ._otlp_receiver import Receiver, attrs, metrics, spans  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- fixtures
@pytest.fixture
def exported():
    """Trace to an in-memory exporter through an explicit provider; restore after."""
    before = tracing.save()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    otel.enable_tracing(provider)
    try:
        yield exporter
    finally:
        tracing.restore(before)
        provider.shutdown()


def by_name(exporter):
    out = {}
    for s in exporter.get_finished_spans():
        out.setdefault(s.name, []).append(s)
    return out


def parent_of(s):
    return None if s.parent is None else s.parent.span_id


def run_python(code: str, env: dict | None = None) -> str:
    full = dict(os.environ, **(env or {}))
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, env=full, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


# --------------------------------------------------------------------------- names, attributes
def test_span_name_attributes_and_times_equal_the_events(exported):
    seen = []
    telemetry.attach_many("t-times", [("model", "predict", "start"),
                                      ("model", "predict", "stop")],
                          lambda ev, meas, meta: seen.append((ev[-1], dict(meas))))
    try:
        with fastmlops.span(("model", "predict"), {"model.version": "v3", "rows": 2}) as s:
            time.sleep(0.002)
            s.metadata["predicted"] = "cat"
    finally:
        telemetry.detach("t-times")
    (sp,) = exported.get_finished_spans()
    assert sp.name == "model.predict"
    assert dict(sp.attributes) == {"model.version": "v3", "rows": 2, "predicted": "cat"}
    start, stop = seen[0][1], seen[1][1]
    assert sp.start_time == int(start["system_time"] * 1e9)
    assert sp.end_time - sp.start_time == round(stop["duration"] * 1e9)
    assert sp.status.status_code is StatusCode.UNSET
    assert sp.kind is trace.SpanKind.INTERNAL
    assert sp.instrumentation_scope.name == "fastmlops"


def test_span_with_a_fake_clock_lasts_the_event_duration(exported):
    ticks = iter([10.0, 10.25])
    with fastmlops.span(("a", "b", "c"), clock=lambda: next(ticks), system_time=lambda: 1000.5):
        pass
    (sp,) = exported.get_finished_spans()
    assert sp.name == "a.b.c"
    assert sp.start_time == 1_000_500_000_000
    assert sp.end_time == 1_000_750_000_000


def test_handlers_run_inside_the_span():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    before = tracing.save()
    otel.enable_tracing(provider)
    ids = []
    telemetry.attach_many("t-ctx", [("h", "start"), ("h", "stop")],
                          lambda ev, meas, meta: ids.append(
                              trace.get_current_span().get_span_context().span_id))
    try:
        with fastmlops.span(("h",)):
            pass
    finally:
        telemetry.detach("t-ctx")
        tracing.restore(before)
    (sp,) = exporter.get_finished_spans()
    assert ids == [sp.context.span_id] * 2


def test_attribute_conversion_never_raises():
    class Bad:
        def __str__(self):
            raise RuntimeError("no")

    import numpy as np
    got = otel.to_attributes({
        "none": None, "s": "x", "b": True, "i": 3, "f": 1.5, "big": -(2 ** 64),
        "np": np.float32(0.5), "npi": np.int64(7), "bytes": b"ab\xff",
        "nested": {"a": {"b": None, "c": [1, 2]}, 3: "three"},
        "mixed": [1, "a", None, True], "nums": (1, 2.5), "arr": np.array([1, 2]),
        "obj": Path("/m/model.pkl"), "bad": Bad(), "": "empty key", 7: "int key",
        "set": frozenset(["z"]), "deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {
            "i": 1}}}}}}}}},
    })
    assert got["s"] == "x" and got["b"] is True and got["i"] == 3 and got["f"] == 1.5
    assert "none" not in got and "bad" not in got and "" not in got
    assert got["big"] == str(-(2 ** 64))
    assert got["np"] == 0.5 and type(got["np"]) is float
    assert got["npi"] == 7 and type(got["npi"]) is int
    assert got["bytes"] == "ab\\xff"
    assert got["nested.a.c"] == (1, 2) and got["nested.3"] == "three"
    assert "nested.a.b" not in got
    assert got["mixed"] == ("1", "a", None, "true")
    assert got["nums"] == (1.0, 2.5)
    assert got["arr"] == (1, 2)
    assert got["obj"] == "/m/model.pkl"
    assert got["7"] == "int key"
    assert got["set"] == ("z",)
    assert got["deep.a.b.c.d.e.f.g.h"] == "{'i': 1}"
    assert otel.to_attributes(None) == {}
    assert otel.to_attributes({}) == {}


def test_bad_metadata_reaches_the_span_converted(exported, caplog):
    with caplog.at_level(logging.WARNING):
        with fastmlops.span(("m",), {"cfg": {"lr": 0.1, "layers": [64, 32]}, "owner": None,
                                     "weird": object}):
            pass
    (sp,) = exported.get_finished_spans()
    assert dict(sp.attributes) == {"cfg.lr": 0.1, "cfg.layers": (64, 32),
                                   "weird": str(object)}
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry")]


# --------------------------------------------------------------------------- errors
def test_exception_sets_error_status_and_records_the_exception(exported):
    with pytest.raises(ValueError, match="bad row"):
        with fastmlops.span(("model", "predict")):
            raise ValueError("bad row")
    (sp,) = exported.get_finished_spans()
    assert sp.status.status_code is StatusCode.ERROR
    assert sp.status.description == "ValueError: bad row"
    assert sp.attributes["error.type"] == "ValueError"
    (ev,) = sp.events
    assert ev.name == "exception"
    assert ev.attributes["exception.type"] == "ValueError"
    assert ev.attributes["exception.message"] == "bad row"
    assert "raise ValueError" in ev.attributes["exception.stacktrace"]
    assert ev.timestamp == sp.end_time


def test_generator_closed_early_is_a_normal_end(exported):
    @fastmlops.span(("stream",))
    def items():
        yield from range(10)

    for x in items():
        if x == 2:
            break
    (sp,) = exported.get_finished_spans()
    assert sp.status.status_code is StatusCode.UNSET and not sp.events


def test_a_failing_span_processor_never_reaches_the_application(caplog):
    class Broken(SimpleSpanProcessor):
        def on_start(self, span, parent_context=None):
            raise RuntimeError("processor down")

        def on_end(self, span):
            raise RuntimeError("processor down")

    provider = TracerProvider()
    provider.add_span_processor(Broken(InMemorySpanExporter()))
    before = tracing.save()
    otel.enable_tracing(provider)
    events = []
    telemetry.attach("t-broken", ("b", "stop"), lambda ev, meas, meta: events.append(ev))
    try:
        with caplog.at_level(logging.ERROR):
            with fastmlops.span(("b",)) as s:
                inner = trace.get_current_span()
            assert s is not None
        assert events == [("b", "stop")]
        assert "processor down" in caplog.text
        # the context is clean afterwards
        assert trace.get_current_span() is not inner or not inner.is_recording()
    finally:
        telemetry.detach("t-broken")
        tracing.restore(before)


def test_a_tracer_that_raises_leaves_the_block_untraced(caplog, monkeypatch):
    class Boom:
        def start_span(self, *a, **k):
            raise RuntimeError("tracer down")

    class Provider:
        def get_tracer(self, *a, **k):
            return Boom()

    before = tracing.save()
    otel.enable_tracing(Provider())
    try:
        with caplog.at_level(logging.ERROR, logger="fastmlops.otel"):
            with fastmlops.span(("x",)):
                result = 42
            assert fastmlops.instrument()(lambda: 7)() == 7
        assert result == 42
        assert "tracer down" in caplog.text
    finally:
        tracing.restore(before)


# --------------------------------------------------------------------------- nesting
def test_seed_example_predict_with_preprocess_and_inference_children(exported):
    @fastmlops.span(("model", "predict"), {"model.version": "2024-06-01"})
    def predict(rows):
        with fastmlops.span(("model", "preprocess")):
            rows = [r * 2 for r in rows]
        with fastmlops.span(("model", "inference")):
            return sum(rows)

    assert predict([1, 2]) == 6
    got = by_name(exported)
    (root,) = got["model.predict"]
    assert root.parent is None
    assert root.attributes["model.version"] == "2024-06-01"
    for child in ("model.preprocess", "model.inference"):
        (c,) = got[child]
        assert parent_of(c) == root.context.span_id
        assert c.context.trace_id == root.context.trace_id
        assert root.start_time <= c.start_time <= c.end_time <= root.end_time


def test_async_nesting_follows_tasks(exported):
    @fastmlops.span(("job",))
    async def job(i):
        await asyncio.sleep(0.001 * (3 - i))
        with fastmlops.span(("step",), {"i": i}):
            await asyncio.sleep(0)

    async def main():
        async with fastmlops.span(("batch",)):
            await asyncio.gather(*(job(i) for i in range(3)))

    asyncio.run(main())
    got = by_name(exported)
    (batch,) = got["batch"]
    jobs = {s.context.span_id: s for s in got["job"]}
    assert len(jobs) == 3 and all(parent_of(j) == batch.context.span_id for j in jobs.values())
    assert sorted(s.attributes["i"] for s in got["step"]) == [0, 1, 2]
    assert {parent_of(s) for s in got["step"]} == set(jobs)


def test_generator_span_is_current_only_while_it_runs(exported):
    @fastmlops.span(("gen",))
    def gen():
        with fastmlops.span(("produce",)):
            yield 1
        yield 2

    with fastmlops.span(("outer",)):
        for _ in gen():
            with fastmlops.span(("consume",)):
                pass
    got = by_name(exported)
    (outer,), (g,), (prod,) = got["outer"], got["gen"], got["produce"]
    assert parent_of(g) == outer.context.span_id
    assert parent_of(prod) == g.context.span_id
    assert [parent_of(c) for c in got["consume"]] == [outer.context.span_id] * 2
    assert not trace.get_current_span().get_span_context().is_valid


def test_async_generator_span_is_current_only_while_it_runs(exported):
    @fastmlops.span(("agen",))
    async def agen():
        for i in range(2):
            with fastmlops.span(("produce",)):
                await asyncio.sleep(0)
            yield i

    async def main():
        async with fastmlops.span(("outer",)):
            async for _ in agen():
                with fastmlops.span(("consume",)):
                    pass

    asyncio.run(main())
    got = by_name(exported)
    (outer,), (g,) = got["outer"], got["agen"]
    assert parent_of(g) == outer.context.span_id
    assert [parent_of(p) for p in got["produce"]] == [g.context.span_id] * 2
    assert [parent_of(c) for c in got["consume"]] == [outer.context.span_id] * 2


def test_threads_follow_the_propagated_context(exported):
    results = {}

    def work(tag):
        with fastmlops.span(("thread",), {"tag": tag}):
            pass

    with fastmlops.span(("request",)):
        ctx = contextvars.copy_context()
        t1 = threading.Thread(target=ctx.run, args=(work, "propagated"))
        t2 = threading.Thread(target=work, args=("plain",))
        for t in (t1, t2):
            t.start()
        for t in (t1, t2):
            t.join()
    got = by_name(exported)
    (req,) = got["request"]
    for s in got["thread"]:
        results[s.attributes["tag"]] = s
    assert parent_of(results["propagated"]) == req.context.span_id
    assert results["plain"].parent is None
    assert results["plain"].context.trace_id != req.context.trace_id


def test_one_shared_span_object_from_many_threads(exported):
    shared = fastmlops.span(("shared",))
    barrier = threading.Barrier(4)

    def work():
        barrier.wait()
        for _ in range(25):
            with shared:
                with fastmlops.span(("leaf",)):
                    pass

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = by_name(exported)
    assert len(got["shared"]) == len(got["leaf"]) == 100
    ids = {s.context.span_id for s in got["shared"]}
    assert {parent_of(s) for s in got["leaf"]} == ids
    assert all(s.parent is None for s in got["shared"])


# --------------------------------------------------------------------------- instrument
def test_instrument_spans_named_by_function_with_labels(exported):
    from prometheus_client import CollectorRegistry, Counter, Histogram
    reg = CollectorRegistry()
    reqs = Counter("r", "r", ["model"], registry=reg)
    errs = Counter("e", "e", ["model"], registry=reg)
    lat = Histogram("l", "l", ["model"], registry=reg)

    @fastmlops.instrument(reqs, errs, lat, labels={"model": "v2"})
    def score(x):
        return 1 / x

    assert score(2) == 0.5
    with pytest.raises(ZeroDivisionError):
        score(0)
    with fastmlops.instrument(name="batch.score"):
        pass
    with fastmlops.instrument():
        pass
    fastmlops.instrument(labels={"k": 1}).record(score, 4)
    got = by_name(exported)
    name = score.__wrapped__.__qualname__
    ok, bad, inner, rec = got[name]  # record(score) wraps score's own span
    assert dict(ok.attributes) == {"model": "v2"}
    assert ok.status.status_code is StatusCode.UNSET
    assert bad.status.status_code is StatusCode.ERROR
    assert bad.attributes["error.type"] == "ZeroDivisionError"
    assert rec.attributes["k"] == 1 and parent_of(inner) == rec.context.span_id
    assert "batch.score" in got and "fastmlops.instrument" in got
    assert reg.get_sample_value("r_total", {"model": "v2"}) == 3.0
    assert reg.get_sample_value("e_total", {"model": "v2"}) == 1.0
    with pytest.raises(TypeError, match="name"):
        fastmlops.instrument(name="")


def test_instrument_span_lasts_the_observed_latency(exported):
    class Lat:
        def observe(self, s):
            self.seen = s

    lat = Lat()
    ticks = iter([5.0, 5.125])
    with fastmlops.instrument(latency=lat, clock=lambda: next(ticks)):
        pass
    (sp,) = exported.get_finished_spans()
    assert lat.seen == 0.125
    assert sp.end_time - sp.start_time == 125_000_000


# --------------------------------------------------------------------------- switches and imports
def test_disable_and_enable(exported):
    otel.disable_tracing()
    assert not otel.tracing_enabled()
    with fastmlops.span(("off",)):
        pass
    assert exported.get_finished_spans() == ()
    otel.enable_tracing(None)  # back to the global provider
    assert otel.tracing_enabled()
    with pytest.raises(TypeError, match="TracerProvider"):
        otel.enable_tracing(object())


def test_import_fastmlops_never_imports_opentelemetry():
    out = run_python("""
        import sys
        import fastmlops, fastmlops.otel, fastmlops.telemetry
        assert not [m for m in sys.modules if m.startswith("opentelemetry")], "import"
        with fastmlops.span(("a",)):
            pass
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry"))[:1])
    """, env={"FASTMLOPS_OTEL_TRACING": "0"})
    assert out.strip() == "[]"  # switched off: the span imports nothing either


def test_on_by_default_global_provider_set_later():
    out = run_python("""
        import sys
        import fastmlops
        from fastmlops import otel
        with fastmlops.span(("before",)):
            pass
        assert "opentelemetry.trace" in sys.modules and "opentelemetry.sdk" not in sys.modules
        assert otel.tracing_enabled()
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exp = InMemorySpanExporter()
        tp = TracerProvider()
        tp.add_span_processor(SimpleSpanProcessor(exp))
        trace.set_tracer_provider(tp)
        with fastmlops.span(("after",), {"v": 1}):
            pass
        print([s.name for s in exp.get_finished_spans()])
    """)
    assert out.strip() == "['after']"


BLOCKER = """
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, Block())
"""


def test_without_opentelemetry_api_nothing_changes():
    code = BLOCKER + """
    import fastmlops
    from fastmlops import telemetry, otel
    events = []
    telemetry.attach_many("h", [("m", "p", e) for e in ("start", "stop", "exception")],
                          lambda ev, meas, meta: events.append(
                              (ev[-1], sorted(meas), meta.get("v"))))
    ticks = iter([1.0, 1.5, 2.0, 2.25])
    s = fastmlops.span(("m", "p"), {"v": 1}, clock=lambda: next(ticks), system_time=lambda: 9.0)
    with s:
        pass
    try:
        with s:
            raise KeyError("k")
    except KeyError:
        pass
    assert fastmlops.instrument()(lambda: 3)() == 3
    print(events)
    print(otel.tracing_enabled(), otel.to_attributes({"a": None, "b": {"c": 1}}))
    try:
        otel.enable_tracing()
    except ImportError as exc:
        print("ImportError:", exc)
    try:
        otel.OTLPMetricExporter("http://127.0.0.1:9/v1/metrics", registry=None)
    except ImportError as exc:
        print("ImportError:", exc)
    print([m for m in sys.modules if m.startswith("opentelemetry")])
    """
    lines = run_python(code).strip().splitlines()
    assert lines[0] == ("[('start', ['monotonic_time', 'system_time'], 1), "
                        "('stop', ['duration', 'monotonic_time'], 1), "
                        "('start', ['monotonic_time', 'system_time'], 1), "
                        "('exception', ['duration', 'monotonic_time'], 1)]")
    assert lines[1] == "False {'b.c': 1}"
    assert "pip install fastmlops[otel]" in lines[2] and "opentelemetry-api" in lines[2]
    assert "pip install fastmlops[otel]" in lines[3] and "opentelemetry-proto" in lines[3]
    assert lines[4] == "[]"


# --------------------------------------------------------------------------- spans over OTLP/HTTP
def test_spans_exported_over_otlp_http_to_a_local_receiver():
    otlp_http = pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    with Receiver() as r:
        provider = TracerProvider(resource=Resource.create({"service.name": "scorer"}))
        provider.add_span_processor(BatchSpanProcessor(
            otlp_http.OTLPSpanExporter(endpoint=r.url + "/v1/traces", timeout=5)))
        before = tracing.save()
        otel.enable_tracing(provider)
        try:
            @fastmlops.span(("model", "predict"), {"model.version": "v7", "extra": {"k": 1}})
            def predict():
                with fastmlops.span(("model", "preprocess")):
                    pass
                with fastmlops.span(("model", "inference")):
                    raise RuntimeError("gpu fell off")

            with pytest.raises(RuntimeError):
                predict()
            provider.force_flush(10_000)
        finally:
            tracing.restore(before)
            provider.shutdown()
        r.wait_for(lambda rr: len(spans(rr.of("/v1/traces"))) >= 3)
        got = {s.name: s for s in spans(r.of("/v1/traces"))}
        req = r.of("/v1/traces")[0]
    assert attrs(req.resource_spans[0].resource.attributes)["service.name"] == "scorer"
    root, pre, inf = got["model.predict"], got["model.preprocess"], got["model.inference"]
    assert attrs(root.attributes) == {"model.version": "v7", "extra.k": 1,
                                      "error.type": "RuntimeError"}
    assert pre.parent_span_id == root.span_id == inf.parent_span_id
    assert pre.trace_id == root.trace_id == inf.trace_id
    assert inf.status.code == 2 and root.status.code == 2  # STATUS_CODE_ERROR
    assert inf.events[0].name == "exception"
    assert attrs(inf.events[0].attributes)["exception.message"] == "gpu fell off"


def test_collector_down_never_blocks_spans():
    otlp_http = pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    with Receiver(delay=2.0) as slow:  # a collector that takes 2 s per request
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(
            otlp_http.OTLPSpanExporter(endpoint=slow.url + "/v1/traces", timeout=0.5),
            max_queue_size=64, max_export_batch_size=32, schedule_delay_millis=10))
        before = tracing.save()
        otel.enable_tracing(provider)
        try:
            t0 = time.perf_counter()
            for i in range(2000):  # far more than the queue holds: the rest is dropped
                with fastmlops.span(("hot",), {"i": i}):
                    pass
            elapsed = time.perf_counter() - t0
        finally:
            tracing.restore(before)
            provider.shutdown()
    # 2000 spans while the exporter is stuck for seconds: never waited for it
    assert elapsed < 1.9, elapsed


# --------------------------------------------------------------------------- metrics over OTLP
def _points(metric):
    kind = metric.WhichOneof("data")
    return getattr(metric, kind).data_points


def test_metrics_of_four_forked_workers_arrive_summed():
    from prometheus_client import CollectorRegistry

    from fastmlops.metrics import Counter, Gauge, Histogram, flush

    reg = CollectorRegistry()
    reqs = Counter("otel_t_requests", "Requests", ["route"], registry=reg)
    lat = Histogram("otel_t_latency_seconds", "Latency", buckets=(0.01, 0.1, 1.0),
                    registry=reg)
    busy = Gauge("otel_t_busy", "Busy workers", multiprocess_mode="sum", registry=reg)
    values = [0.005, 0.05, 0.5, 5.0]
    with Receiver() as r:
        exporter = otel.start_metrics_exporter(
            r.url + "/v1/metrics", registry=reg, interval=0.2,
            resource={"service.name": "scorer", "deployment": {"env": "test"}})
        try:
            pids = []
            for w in range(4):
                pid = os.fork()
                if pid == 0:  # a worker: observe, flush, leave without atexit
                    code = 0
                    try:
                        for i in range(100 * (w + 1)):
                            reqs.labels(route="/predict").inc()
                            lat.observe(values[i % 4])
                        reqs.labels(route=f"/w{w}").inc(w + 0.5)
                        busy.set(1)
                        flush()
                        assert exporter.export_once() is False  # the parent's, not ours
                    except BaseException:
                        code = 1
                    os._exit(code)
                pids.append(pid)
            for pid in pids:
                assert os.waitpid(pid, 0)[1] == 0
            n = 100 + 200 + 300 + 400
            done = len(r.of("/v1/metrics"))  # exports collected after every worker left
            req = r.wait_for(lambda rr: rr.of("/v1/metrics")[done + 1:])[0]
        finally:
            exporter.shutdown()
        received = r.of("/v1/metrics")
    m = metrics(req)
    res = attrs(req.resource_metrics[0].resource.attributes)
    assert res["service.name"] == "scorer" and res["deployment.env"] == "test"
    assert res["telemetry.sdk.name"] == "fastmlops"
    assert req.resource_metrics[0].scope_metrics[0].scope.name == "fastmlops"
    counter = m["otel_t_requests"]
    assert counter.sum.is_monotonic
    assert counter.sum.aggregation_temporality == 2  # CUMULATIVE
    pts = {attrs(p.attributes)["route"]: p for p in counter.sum.data_points}
    assert {k: p.as_double for k, p in pts.items()} == {
        "/predict": n, "/w0": 0.5, "/w1": 1.5, "/w2": 2.5, "/w3": 3.5}
    for p in pts.values():
        assert 0 < p.start_time_unix_nano <= p.time_unix_nano
    (h,) = m["otel_t_latency_seconds"].histogram.data_points
    assert m["otel_t_latency_seconds"].histogram.aggregation_temporality == 2
    assert list(h.explicit_bounds) == [0.01, 0.1, 1.0]
    assert list(h.bucket_counts) == [n // 4] * 4
    assert h.count == n
    assert math.isclose(h.sum, sum(values) * n / 4, rel_tol=1e-12)
    assert 0 < h.start_time_unix_nano <= h.time_unix_nano
    (g,) = m["otel_t_busy"].gauge.data_points
    assert g.as_double == 4.0
    # every export of a series carries the same start time (one cumulative stream)
    starts = {p.start_time_unix_nano for rq in received for mm in [metrics(rq)]
              if "otel_t_latency_seconds" in mm for p in _points(mm["otel_t_latency_seconds"])}
    assert len(starts) == 1
    assert exporter.stats["failures"] == 0 and exporter.stats["exports"] >= 1


def test_prometheus_client_families_are_encoded():
    from prometheus_client import CollectorRegistry, Counter, Enum, Info, Summary

    reg = CollectorRegistry()
    Counter("pc_hits", "Hits", registry=reg).inc(2)
    Summary("pc_size", "Sizes", registry=reg).observe(3.0)
    Info("pc_build", "Build", registry=reg).info({"version": "1.2"})
    Enum("pc_state", "State", states=["up", "down"], registry=reg).state("down")
    with Receiver() as r:
        exporter = otel.OTLPMetricExporter(r.url + "/v1/metrics", registry=reg,
                                           compression="gzip", headers={"x-token": "t"})
        assert exporter.export_once()
        (path, req, headers), = r.requests
    m = metrics(req)
    assert headers["x-token"] == "t" and headers["Content-Encoding"] == "gzip"
    assert m["pc_hits"].sum.data_points[0].as_double == 2.0
    s = m["pc_size"].summary.data_points[0]
    assert (s.count, s.sum) == (1, 3.0)
    assert attrs(m["pc_build_info"].gauge.data_points[0].attributes) == {"version": "1.2"}
    states = {attrs(p.attributes)["pc_state"]: p.as_double
              for p in m["pc_state"].gauge.data_points}
    assert states == {"up": 0.0, "down": 1.0}


def test_start_time_without_created_samples_is_first_seen_and_restarts_on_reset():
    from fastmlops.otel._otlp import _Series
    series = _Series()
    assert series.start(("c", "x"), None, 5.0, 100) == 100
    assert series.start(("c", "x"), None, 7.0, 200) == 100
    assert series.start(("c", "x"), None, 1.0, 300) == 300  # went down: a reset
    assert series.start(("c", "x"), 12.5, 1.0, 400) == 12_500_000_000


@pytest.mark.parametrize("fault", ["down", "slow", "503", "400"])
def test_collector_faults_are_counted_logged_and_never_block(fault, caplog):
    from fastmlops.metrics import Counter
    from prometheus_client import CollectorRegistry

    reg = CollectorRegistry()
    c = Counter("fault_t", "x", registry=reg)
    c.inc()
    if fault == "down":
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1/metrics"
        s.close()  # nothing listens there
        receiver = None
    else:
        receiver = Receiver(delay=3.0 if fault == "slow" else 0.0,
                            status=200 if fault == "slow" else int(fault)).__enter__()
        url = receiver.url + "/v1/metrics"
    try:
        exporter = otel.OTLPMetricExporter(url, registry=reg, timeout=0.3, interval=60)
        with caplog.at_level(logging.WARNING, logger="fastmlops.otel"):
            t0 = time.monotonic()
            assert exporter.export_once() is False
            assert exporter.export_once() is False
            took = time.monotonic() - t0
        # two exports with a 0.3 s timeout against a collector that takes 3 s:
        # far below the 6 s of waiting for it, with room for a loaded CI host
        assert took < 4.5, took
        assert exporter.stats["failures"] == 2 and exporter.stats["exports"] == 0
        assert exporter.stats["dropped_points"] == 2
        # the exporter's own records (other modules' errors may land in caplog too)
        logged = [r for r in caplog.records
                  if r.name.startswith("fastmlops.otel") and "failed" in r.getMessage()]
        assert len(logged) == 1  # the first failure; then at most once a minute
        if fault in ("503", "400"):
            assert f"HTTP {fault}" in exporter.stats["last_error"]
        c.inc()  # the application carries on
        assert c.value() == 2.0
    finally:
        if receiver is not None:
            receiver.__exit__()


def test_partial_success_is_counted():
    from prometheus_client import CollectorRegistry, Counter
    reg = CollectorRegistry()
    Counter("ps_t", "x", registry=reg).inc()
    with Receiver(rejected=3) as r:
        exporter = otel.OTLPMetricExporter(r.url + "/v1/metrics", registry=reg)
        assert exporter.export_once()
    assert exporter.stats["rejected_points"] == 3


def test_lock_file_elects_one_exporter(tmp_path):
    from prometheus_client import CollectorRegistry, Counter
    reg = CollectorRegistry()
    Counter("lock_t", "x", registry=reg).inc()
    lock = tmp_path / "otlp.lock"
    with Receiver() as r:
        a = otel.OTLPMetricExporter(r.url + "/v1/metrics", registry=reg, lock_file=lock)
        b = otel.OTLPMetricExporter(r.url + "/v1/metrics", registry=reg, lock_file=lock)
        assert a.export_once() is True
        assert b.export_once() is False and b.stats["skipped_not_leader"] == 1
        a.shutdown(final_export=False)  # releases the lock: b takes over
        assert b.export_once() is True
        b.shutdown(final_export=False)
        assert len(r.requests) == 2


def test_exporter_thread_exports_on_its_interval_and_at_shutdown():
    from prometheus_client import CollectorRegistry, Counter
    reg = CollectorRegistry()
    c = Counter("thr_t", "x", registry=reg)
    with Receiver() as r:
        exporter = otel.start_metrics_exporter(r.url + "/v1/metrics", registry=reg,
                                               interval=0.1)
        assert exporter.start() is exporter  # twice: one thread
        r.wait_for(lambda rr: len(rr.requests) >= 2)
        c.inc(5)
        exporter.shutdown()
        last = metrics(r.of("/v1/metrics")[-1])
    assert last["thr_t"].sum.data_points[0].as_double == 5.0
    assert "running=False" in repr(exporter)


def test_exporter_checks_its_arguments(monkeypatch):
    from prometheus_client import CollectorRegistry
    reg = CollectorRegistry()
    with pytest.raises(ValueError, match="http"):
        otel.OTLPMetricExporter("localhost:4318", registry=reg)
    with pytest.raises(TypeError, match="URL"):
        otel.OTLPMetricExporter(4318, registry=reg)
    with pytest.raises(ValueError, match="interval"):
        otel.OTLPMetricExporter("http://h/v1/metrics", registry=reg, interval=0)
    with pytest.raises(ValueError, match="timeout"):
        otel.OTLPMetricExporter("http://h/v1/metrics", registry=reg, timeout=math.nan)
    with pytest.raises(TypeError, match="seconds"):
        otel.OTLPMetricExporter("http://h/v1/metrics", registry=reg, interval="soon")
    with pytest.raises(TypeError, match="collect"):
        otel.OTLPMetricExporter("http://h/v1/metrics", registry=object())
    with pytest.raises(ValueError, match="compression"):
        otel.OTLPMetricExporter("http://h/v1/metrics", registry=reg, compression="zstd")
    with pytest.raises(TypeError, match="resource"):
        otel.OTLPMetricExporter("http://h/v1/metrics", registry=reg, resource=["a"])
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s%20ecret,x=1")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "svc")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=ml,service.name=ignored")
    e = otel.OTLPMetricExporter(registry=reg, resource={"region": "eu", "none": None})
    assert e.endpoint == "http://collector:4318/v1/metrics"
    assert e.headers == {"api-key": "s ecret", "x": "1"}
    assert e.resource["service.name"] == "svc" and e.resource["team"] == "ml"
    assert e.resource["region"] == "eu" and "none" not in e.resource
    assert e.timeout == 10.0


# --------------------------------------------------------------------------- docs
def test_docs_example_runs(exported):
    text = (ROOT / "docs" / "otel.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    example = next(b for b in blocks if '("model", "predict")' in b)
    exec(compile(example, "docs/otel.md", "exec"), {"__name__": "docs_example"})
    got = by_name(exported)
    (root,) = got["model.predict"]
    assert root.attributes["model.version"]
    assert {parent_of(c) for c in got["model.preprocess"] + got["model.inference"]} == {
        root.context.span_id}
