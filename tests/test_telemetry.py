"""Telemetry events, spans and RED metrics (with prometheus_client)."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from fastmlops.telemetry import _instrument
from fastmlops.telemetry import (attach, attach_many, detach, execute, instrument,
                                 list_handlers, record_request, set_default_metrics, span)

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client import (CollectorRegistry, Counter, Histogram,  # noqa: E402
                               generate_latest)

BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0)


@pytest.fixture(autouse=True)
def clean_handlers():
    for h in list_handlers():
        detach(h["id"])
    yield
    for h in list_handlers():
        detach(h["id"])


class FakeClock:
    """Each request takes ``step`` seconds: calls alternate start, start + step."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return 0.0 if self.calls % 2 else self.step


def collect(events):
    def handler(ev, meas, meta):
        events.append((ev, dict(meas), dict(meta)))
    return handler


# --------------------------------------------------------------------------- events
def test_attach_execute_detach():
    events = []
    attach("a", ("model", "predict", "stop"), collect(events))
    execute(("model", "predict", "stop"), {"duration": 1.5}, {"model": "v1"})
    execute(("model", "predict"), {"duration": 2.0}, {})  # a prefix is another event
    execute(("model", "predict", "stop"))                  # measurements default to {}
    assert events == [(("model", "predict", "stop"), {"duration": 1.5}, {"model": "v1"}),
                      (("model", "predict", "stop"), {}, {})]
    assert [h["id"] for h in list_handlers(("model",))] == ["a"]
    assert list_handlers(("other",)) == []
    assert detach("a") is True
    assert detach("a") is False
    execute(("model", "predict", "stop"), {"duration": 3.0}, {})
    assert len(events) == 2


def test_handlers_run_in_attachment_order_and_attach_many():
    order = []
    attach("first", ("e",), lambda ev, m, md: order.append("first"))
    attach_many("second", [("e",), ("f",)], lambda ev, m, md: order.append("second" + ev[0]))
    execute(("e",), {}, {})
    execute(("f",), {}, {})
    assert order == ["first", "seconde", "secondf"]


def test_attach_errors():
    attach("dup", ("x",), lambda *a: None)
    with pytest.raises(ValueError, match="already attached"):
        attach("dup", ("y",), lambda *a: None)
    with pytest.raises(TypeError, match="tuple of strings"):
        attach("bad", "model.predict", lambda *a: None)
    with pytest.raises(TypeError, match="tuple of strings"):
        attach("bad", (), lambda *a: None)
    with pytest.raises(TypeError, match="callable"):
        attach("bad", ("x",), "not a function")
    with pytest.raises(TypeError, match="hashable"):
        attach(["unhashable"], ("x",), lambda *a: None)
    with pytest.raises(ValueError, match="empty"):
        attach_many("none", [], lambda *a: None)
    with pytest.raises(TypeError, match="tuple of strings"):
        execute("model.predict", {}, {})
    with pytest.raises(TypeError, match="tuple of strings"):
        execute(["model"], {}, {})


def test_raising_handler_is_detached_and_logged_never_breaks_the_caller(caplog):
    good = []

    def bad(ev, meas, meta):
        raise RuntimeError("handler bug")

    attach("bad", ("ev",), bad)
    attach("good", ("ev",), collect(good))
    with caplog.at_level(logging.ERROR, logger="fastmlops.telemetry"):
        execute(("ev",), {"x": 1}, {})   # must not raise
    assert len(good) == 1                 # the other handler still ran
    assert "'bad'" in caplog.text and "handler bug" in caplog.text
    assert [h["id"] for h in list_handlers()] == ["good"]
    execute(("ev",), {"x": 2}, {})
    assert len(good) == 2


def test_execute_is_safe_while_handlers_change_from_other_threads():
    hits = []
    lock = threading.Lock()

    def handler(ev, m, md):
        with lock:
            hits.append(1)

    attach("stable", ("hot",), handler)
    errors = []
    stop = threading.Event()

    def churn():
        i = 0
        while not stop.is_set():
            attach(("tmp", i), ("hot",), lambda *a: None)
            detach(("tmp", i))
            i += 1

    def emit():
        try:
            for _ in range(3000):
                execute(("hot",), {}, {})
        except Exception as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    t_churn = threading.Thread(target=churn)
    emitters = [threading.Thread(target=emit) for _ in range(3)]
    t_churn.start()
    for t in emitters:
        t.start()
    for t in emitters:
        t.join()
    stop.set()
    t_churn.join()
    assert errors == []
    assert len(hits) == 9000


# --------------------------------------------------------------------------- spans
def test_span_context_manager_stop():
    events = []
    attach_many("s", [("m", "p", "start"), ("m", "p", "stop"), ("m", "p", "exception")],
                collect(events))
    with span(("m", "p"), {"model": "v1"}, clock=FakeClock(0.25),
              system_time=lambda: 1.7e9) as s:
        s.metadata["label"] = "cat"
    (ev1, m1, md1), (ev2, m2, md2) = events
    assert ev1 == ("m", "p", "start") and m1["system_time"] == 1.7e9
    assert md1 == {"model": "v1", "label": "cat"} or md1 == {"model": "v1"}
    assert ev2 == ("m", "p", "stop") and m2["duration"] == 0.25
    assert md2 == {"model": "v1", "label": "cat"}


def test_span_exception_event_and_reraise():
    events = []
    attach_many("s", [("m", "p", "stop"), ("m", "p", "exception")], collect(events))
    with pytest.raises(KeyError, match="boom"):
        with span(("m", "p"), {"model": "v1"}, clock=FakeClock(0.5)):
            raise KeyError("boom")
    [(ev, meas, meta)] = events
    assert ev == ("m", "p", "exception")
    assert meas["duration"] == 0.5
    assert meta["kind"] is KeyError and isinstance(meta["reason"], KeyError)
    assert meta["model"] == "v1" and meta["stacktrace"] is not None


def test_span_decorator_sync_and_async_one_pair_per_call():
    events = []
    attach_many("s", [("f", "start"), ("f", "stop"), ("f", "exception")], collect(events))
    clock = FakeClock(0.125)

    @span(("f",), {"k": 1}, clock=clock)
    def double(x):
        return 2 * x

    @span(("f",), clock=clock)
    async def fail():
        await asyncio.sleep(0)
        raise ValueError("no")

    assert double(21) == 42 and double(1) == 2
    assert double.__name__ == "double"
    with pytest.raises(ValueError, match="no"):
        asyncio.run(fail())
    names = [ev[-1] for ev, _, _ in events]
    assert names == ["start", "stop", "start", "stop", "start", "exception"]
    assert all(m["duration"] == 0.125 for ev, m, _ in events if ev[-1] != "start")


def test_span_object_nests_and_is_safe_across_tasks():
    durations = []
    attach("s", ("t", "stop"), lambda ev, m, md: durations.append(m["duration"]))
    ticks = iter([0.0, 1.0, 3.0, 6.0])
    shared = span(("t",), clock=lambda: next(ticks))
    with shared:
        with shared:
            pass
    assert durations == [2.0, 6.0]  # inner 1 -> 3, outer 0 -> 6

    durations.clear()
    real = span(("t",))

    async def task(delay):
        async with real:
            await asyncio.sleep(delay)

    async def main():
        await asyncio.gather(task(0.02), task(0.0))

    asyncio.run(main())
    assert len(durations) == 2 and all(d >= 0 for d in durations)
    assert max(durations) >= min(durations)


def test_span_argument_errors():
    with pytest.raises(TypeError, match="event_prefix"):
        span("model.predict")
    with pytest.raises(TypeError, match="metadata"):
        span(("m",), ["not", "a", "dict"])
    with pytest.raises(TypeError, match="callable"):
        span(("m",), clock=1.0)


# --------------------------------------------------------------------------- RED with prometheus_client
def _metrics(labelnames=()):
    reg = CollectorRegistry()
    reqs = Counter("model_requests", "Requests", labelnames, registry=reg)
    errs = Counter("model_errors", "Errors", labelnames, registry=reg)
    lat = Histogram("model_latency_seconds", "Latency", labelnames, buckets=BUCKETS,
                    registry=reg)
    return reg, reqs, errs, lat


def _sample_lines(reg):
    text = generate_latest(reg).decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}, text


def test_instrument_100_requests_of_50_ms_in_prometheus_text():
    reg, reqs, errs, lat = _metrics()

    @instrument(requests=reqs, errors=errs, latency=lat, clock=FakeClock(0.05))
    def predict(x):
        return x + 1

    assert [predict(i) for i in range(100)] == list(range(1, 101))
    lines, text = _sample_lines(reg)
    assert 'model_latency_seconds_bucket{le="0.01"} 0.0' in text
    assert 'model_latency_seconds_bucket{le="0.05"} 100.0' in text
    for le in ("0.1", "0.5", "1.0", "+Inf"):
        assert lines[f'model_latency_seconds_bucket{{le="{le}"}}'] == 100.0
    assert "model_latency_seconds_count 100.0" in text
    # 100 float additions of 0.05 give 4.99999999999999, not exactly 5.0
    assert lines["model_latency_seconds_sum"] == pytest.approx(5.0, rel=1e-12)
    assert "model_requests_total 100.0" in text
    assert "model_errors_total 0.0" in text


def test_instrument_counts_errors_and_reraises_sync_async_and_with():
    reg, reqs, errs, lat = _metrics()
    inst = instrument(reqs, errs, lat, clock=FakeClock(0.2))

    @inst
    def bad():
        raise ZeroDivisionError("x")

    @inst
    async def good_async():
        await asyncio.sleep(0)
        return "ok"

    @inst
    async def bad_async():
        raise KeyError("y")

    with pytest.raises(ZeroDivisionError):
        bad()
    assert asyncio.run(good_async()) == "ok"
    with pytest.raises(KeyError):
        asyncio.run(bad_async())
    with pytest.raises(RuntimeError):
        with inst:
            raise RuntimeError("z")
    with inst:
        pass

    async def use_async_with():
        async with inst:
            pass

    asyncio.run(use_async_with())
    assert reg.get_sample_value("model_requests_total") == 6
    assert reg.get_sample_value("model_errors_total") == 3
    assert reg.get_sample_value("model_latency_seconds_count") == 6
    assert reg.get_sample_value("model_latency_seconds_bucket", {"le": "0.1"}) == 0
    assert reg.get_sample_value("model_latency_seconds_bucket", {"le": "0.5"}) == 6


def test_instrument_with_labels_and_record():
    reg, reqs, errs, lat = _metrics(("model",))
    inst = instrument(reqs, errs, lat, labels={"model": "v2"}, clock=FakeClock(0.01))
    assert inst.record(max, 3, 7) == 7
    with pytest.raises(ValueError):
        inst.record(int, "not a number")
    assert reg.get_sample_value("model_requests_total", {"model": "v2"}) == 2
    assert reg.get_sample_value("model_errors_total", {"model": "v2"}) == 1
    assert reg.get_sample_value("model_latency_seconds_bucket",
                                {"model": "v2", "le": "0.01"}) == 2


class _Tally:
    def __init__(self):
        self.n = 0
        self.seen = []

    def inc(self):
        self.n += 1

    def observe(self, v):
        self.seen.append(v)


def test_instrument_is_duck_typed_and_partial():
    reqs, lat = _Tally(), _Tally()

    @instrument(requests=reqs, latency=lat, clock=FakeClock(0.3))
    def f():
        raise OSError("no errors metric given; still re-raised")

    with pytest.raises(OSError):
        f()
    assert reqs.n == 1 and lat.seen == [0.3]


def test_instrument_argument_errors():
    with pytest.raises(TypeError, match=r"\.inc\(\)"):
        instrument(requests=object())
    with pytest.raises(TypeError, match=r"\.observe\(\)"):
        instrument(latency=object())
    with pytest.raises(TypeError, match="labels"):
        instrument(requests=object(), labels={"a": "b"})
    with pytest.raises(TypeError, match="dict"):
        instrument(labels=["model"])


def test_instrument_threads_count_every_request():
    reg, reqs, errs, lat = _metrics()
    inst = instrument(reqs, errs, lat)

    def work():
        for i in range(500):
            try:
                with inst:
                    if i % 10 == 0:
                        raise ValueError
            except ValueError:
                pass

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reg.get_sample_value("model_requests_total") == 2000
    assert reg.get_sample_value("model_errors_total") == 200
    assert reg.get_sample_value("model_latency_seconds_count") == 2000


def test_record_request_on_default_metrics():
    reg, reqs, errs, lat = _metrics()
    set_default_metrics(reqs, errs, lat, clock=FakeClock(0.05))
    try:
        for _ in range(100):
            assert record_request(lambda a, b=0: a + b, 1, b=2) == 3
        with pytest.raises(ZeroDivisionError):
            record_request(lambda: 1 / 0)
        lines, text = _sample_lines(reg)
        assert 'model_latency_seconds_bucket{le="0.05"} 101.0' in text
        assert "model_requests_total 101.0" in text
        assert "model_errors_total 1.0" in text
    finally:
        _instrument._default = None


def test_record_request_default_metrics_are_ours_in_the_default_registry():
    from fastmlops import metrics
    _instrument._default = None
    try:
        before = prometheus_client.REGISTRY.get_sample_value("model_requests_total") or 0.0
        assert record_request(lambda: 5) == 5
        inst = _instrument._default
        assert isinstance(inst.requests, metrics.Counter)
        assert isinstance(inst.latency, metrics.Histogram)
        assert prometheus_client.REGISTRY.get_sample_value("model_requests_total") == before + 1
        assert prometheus_client.REGISTRY.get_sample_value("model_latency_seconds_count") >= 1
    finally:
        default = _instrument._default
        _instrument._default = None
        for name in ("model_requests_total", "model_errors_total", "model_latency_seconds"):
            collector = prometheus_client.REGISTRY._names_to_collectors.get(name)
            if collector is not None:
                prometheus_client.REGISTRY.unregister(collector)
        del default


# --------------------------------------------------------------------------- audit regressions
def test_instrument_generator_counts_errors_and_times_the_iteration():
    reqs, errs, lat = _Tally(), _Tally(), _Tally()
    ticks = iter([0.0, 0.5, 1.0, 1.25, 2.0, 2.5])

    @instrument(reqs, errs, lat, clock=lambda: next(ticks))
    def stream(fail):
        got = yield 1
        yield got
        if fail:
            raise ValueError("mid-stream")
        return "done"

    gen = stream(False)
    assert next(gen) == 1 and gen.send("x") == "x"
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done"
    with pytest.raises(ValueError, match="mid-stream"):
        list(stream(True))
    gen = stream(False)
    next(gen)
    gen.close()                         # consumer stopped early: not an error
    assert (reqs.n, errs.n) == (3, 1)
    assert lat.seen == [0.5, 0.25, 0.5]


def test_instrument_async_generator_counts_errors():
    reqs, errs, lat = _Tally(), _Tally(), _Tally()

    @instrument(reqs, errs, lat)
    async def tokens(fail):
        yield "a"
        try:
            yield "b"
        except KeyError:
            yield "recovered"
        if fail:
            raise ValueError("boom")

    async def main():
        assert [t async for t in tokens(False)] == ["a", "b"]
        with pytest.raises(ValueError, match="boom"):
            async for _ in tokens(True):
                pass
        agen = tokens(False)
        assert await agen.__anext__() == "a"
        assert await agen.__anext__() == "b"
        assert await agen.athrow(KeyError()) == "recovered"
        await agen.aclose()

    asyncio.run(main())
    assert (reqs.n, errs.n, len(lat.seen)) == (3, 1, 3)


def test_span_on_generator_emits_exception_event():
    events = []
    attach_many("gen", [("g", "start"), ("g", "stop"), ("g", "exception")], collect(events))

    @span(("g",))
    def gen():
        yield 1
        raise KeyError("k")

    with pytest.raises(KeyError):
        list(gen())
    assert [ev[-1] for ev, _, _ in events] == ["start", "exception"]


def test_instrument_async_callable_object_and_record_of_coroutine_function():
    reqs, errs, lat = _Tally(), _Tally(), _Tally()

    class Model:
        async def __call__(self, x):
            await asyncio.sleep(0)
            if x is None:
                raise ValueError("no input")
            return x

    inst = instrument(reqs, errs, lat)
    wrapped = inst(Model())
    assert asyncio.run(wrapped(3)) == 3
    with pytest.raises(ValueError):
        asyncio.run(wrapped(None))
    with pytest.raises(ValueError):
        asyncio.run(inst.record(Model(), None))
    assert (reqs.n, errs.n, len(lat.seen)) == (3, 2, 3)


def test_broken_metric_never_replaces_the_result_or_the_exception(caplog):
    class Broken:
        def inc(self):
            raise RuntimeError("metric down")

        def observe(self, v):
            raise RuntimeError("metric down")

    inst = instrument(Broken(), Broken(), Broken())

    @inst
    def ok():
        return 42

    @inst
    def bad():
        raise KeyError("original")

    with caplog.at_level(logging.ERROR, logger="fastmlops.telemetry"):
        assert ok() == 42
        with pytest.raises(KeyError, match="original"):
            bad()
        with pytest.raises(KeyError, match="original"):
            with inst:
                raise KeyError("original")
    assert "metric down" in caplog.text


def test_clock_going_backwards_gives_zero_duration_not_negative():
    lat = _Tally()
    ticks = iter([10.0, 5.0])
    with instrument(latency=lat, clock=lambda: next(ticks)):
        pass
    assert lat.seen == [0.0]
    events = []
    attach("back", ("b", "stop"), collect(events))
    ticks2 = iter([10.0, 5.0])
    with span(("b",), clock=lambda: next(ticks2)):
        pass
    assert events[0][1]["duration"] == 0.0


def test_cancelled_task_counts_as_an_error_and_is_reraised():
    reqs, errs, lat = _Tally(), _Tally(), _Tally()

    @instrument(reqs, errs, lat)
    async def slow():
        await asyncio.sleep(10)

    async def main():
        task = asyncio.create_task(slow())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert (reqs.n, errs.n, len(lat.seen)) == (1, 1, 1)


# ------------------------------------------------- one object, interleaved entries
class _ManualClock:
    """A clock the test sets by hand (``clock.now = ...``); thread-safe to read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _stop_durations(prefix=("shared",)):
    events = []
    attach_many("pairing", [prefix + ("stop",), prefix + ("exception",)],
                lambda ev, meas, meta: events.append((ev[-1], meas["duration"])))
    return events


def _shared_span():
    """(clock, span, events): a span on a manual clock whose stop / exception
    durations are recorded."""
    clock = _ManualClock()
    return clock, span(("shared",), clock=clock), _stop_durations()


def _block_gen(obj, *values):
    """A generator yielding ``values`` (or one None) inside ``with obj:``."""
    with obj:
        yield from (values or (None,))


def test_one_span_shared_by_interleaved_generators_pairs_each_exit_with_its_entry():
    clock, s, events = _shared_span()
    a, b = _block_gen(s, 1, 2), _block_gen(s, 1, 2)
    clock.now = 0.0
    next(a)            # a enters at 0
    clock.now = 10.0
    next(b)            # b enters at 10
    clock.now = 11.0
    assert list(a) == [2]   # a leaves first, at 11: 11 s (not 1 s)
    clock.now = 30.0
    assert list(b) == [2]   # b leaves at 30: 20 s (not 30 s)
    assert events == [("stop", 11.0), ("stop", 20.0)]


def test_one_instrument_shared_by_interleaved_generators_and_an_exception():
    clock = _ManualClock()
    reqs, errs, lat = _Tally(), _Tally(), _Tally()
    inst = instrument(reqs, errs, lat, clock=clock)

    def gen(fail):
        with inst:
            yield 1
            if fail:
                raise KeyError("boom")
            yield 2

    a, b = gen(True), gen(False)
    clock.now = 1.0
    next(a)
    clock.now = 5.0
    next(b)
    clock.now = 6.0
    with pytest.raises(KeyError):
        next(a)          # a raises at 6: latency 5
    clock.now = 105.0
    assert list(b) == [2]  # b ends at 105: latency 100
    assert lat.seen == [5.0, 100.0]
    assert (reqs.n, errs.n) == (2, 1)


def test_one_span_entered_by_threads_and_a_generator_moving_between_threads():
    clock, s, events = _shared_span()
    g = _block_gen(s)

    def in_thread(fn):
        t = threading.Thread(target=fn)
        t.start()
        t.join(10)
        assert not t.is_alive()

    clock.now = 0.0
    in_thread(lambda: next(g))          # the generator enters in one thread at 0
    entered, leave, left = threading.Event(), threading.Event(), threading.Event()

    def worker():
        with s:                          # a plain block in another thread, at 50
            entered.set()
            leave.wait(10)
        left.set()

    t = threading.Thread(target=worker)
    clock.now = 50.0
    t.start()
    assert entered.wait(10)
    clock.now = 70.0
    in_thread(lambda: list(g))           # ... and leaves from a third thread at 70
    clock.now = 100.0
    leave.set()
    assert left.wait(10)
    t.join(10)
    assert events == [("stop", 70.0), ("stop", 50.0)]


def test_one_span_shared_by_interleaved_async_generators_and_tasks():
    clock, s, events = _shared_span()

    async def agen():
        async with s:
            yield 1
            yield 2

    async def main():
        a, b = agen(), agen()
        clock.now = 0.0
        await a.__anext__()
        clock.now = 3.0
        await b.__anext__()
        clock.now = 4.0
        assert [x async for x in a] == [2]       # 4 s
        clock.now = 13.0
        assert [x async for x in b] == [2]       # 10 s
        go = asyncio.Event()

        async def task(start, stop):
            await asyncio.sleep(start)
            clock.now = start * 100
            async with s:
                await go.wait()
                await asyncio.sleep(stop)
                clock.now = stop * 100

        tasks = [asyncio.create_task(task(0.001, 0.2)), asyncio.create_task(task(0.05, 0.0))]
        await asyncio.sleep(0.1)
        go.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert events[:2] == [("stop", 4.0), ("stop", 10.0)]
    # the second task (entered at 5, left at 0) and the first (entered at 0.1, left at 20)
    assert events[2:] == [("stop", 0.0), ("stop", pytest.approx(19.9))]


def test_exit_from_another_frame_still_pairs_last_in_first_out():
    import contextlib

    clock, s, events = _shared_span()
    clock.now = 1.0
    with s:
        clock.now = 2.0
        with contextlib.ExitStack() as stack:
            stack.enter_context(s)         # entered and left from contextlib's frames
            clock.now = 7.0
        clock.now = 10.0
    assert events == [("stop", 5.0), ("stop", 9.0)]
    with pytest.raises(RuntimeError, match="without a matching"):
        s.__exit__(None, None, None)


def test_entries_closed_in_another_thread_do_not_accumulate():
    s = span(("shared",))
    for _ in range(100):
        g = _block_gen(s)
        next(g)  # entered here ...
        t = threading.Thread(target=lambda: list(g))  # ... left in another thread
        t.start()
        t.join(10)
    assert len(s._starts._var.get()) <= 1
    assert not s._starts._by_frame


def test_generator_dropped_inside_a_shared_span_is_closed_and_forgotten():
    import gc

    clock, s, events = _shared_span()
    g = _block_gen(s)
    clock.now = 1.0
    next(g)
    clock.now = 4.0
    del g  # the collector closes it: GeneratorExit runs the block's exit
    gc.collect()
    assert events == [("stop", 3.0)]
    assert not s._starts._by_frame
