"""prometheus_client's API and semantics on our metrics (issue #15 item 2):
the same calls on both libraries give the same exception types, equivalent
messages and the same exposition; removal across processes; set_function;
exemplars (OpenMetrics, multi-process too)."""

from __future__ import annotations

import inspect
import os
import re

import numpy as np
import prometheus_client as pc
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as om_latest

import fastmlops.metrics as fm
from fastmlops.metrics import Counter, Gauge, Histogram, flush

_N = [0]


def _both(kind, labels=(), **kw):
    """The same metric in prometheus_client and in ours, each in its own registry."""
    _N[0] += 1
    name = f"api{_N[0]}"
    rp, rf = CollectorRegistry(), CollectorRegistry()
    theirs = getattr(pc, kind)(name, "doc", labels, registry=rp, **kw)
    ours = getattr(fm, kind)(name, "doc", labels, registry=rf, **kw)
    return theirs, ours, rp, rf


def _same_error(call_theirs, call_ours, match=None):
    with pytest.raises(Exception) as theirs:
        call_theirs()
    with pytest.raises(Exception) as ours:
        call_ours()
    assert type(ours.value) is type(theirs.value), (theirs.value, ours.value)
    # equivalent messages: ours starts with theirs' words, then says more
    words = str(theirs.value).split()
    if ":" in words[0] and len(words) > 3:  # "counter:name ..." is the metric's repr
        words = words[1:]
    head = " ".join(words[:3]).rstrip(":").lower()
    assert head in str(ours.value).lower(), (str(theirs.value), str(ours.value))
    if match:
        assert re.search(match, str(ours.value)), str(ours.value)


def _text(reg, openmetrics=False):
    lines = (om_latest if openmetrics else generate_latest)(reg).decode().splitlines()
    return [line for line in lines if "_created" not in line]


# ------------------------------------------------------------------ errors ----

def test_label_errors_match_prometheus_client():
    p, f, _, _ = _both("Counter", ["route", "code"])
    _same_error(lambda: p.labels("a"), lambda: f.labels("a"), "takes 2 label values")
    _same_error(lambda: p.labels(route="a", cod="1"), lambda: f.labels(route="a", cod="1"),
                r"missing \['code'\], unknown \['cod'\]")
    _same_error(lambda: p.labels("a", code=1), lambda: f.labels("a", code=1))
    _same_error(lambda: p.labels("a", "b").labels("c", "d"),
                lambda: f.labels("a", "b").labels("c", "d"))
    _same_error(lambda: p.inc(), lambda: f.inc(), r"\('route', 'code'\)")
    _same_error(lambda: p.remove("a"), lambda: f.remove("a"))
    _same_error(lambda: p.remove_by_labels({"nope": "1"}),
                lambda: f.remove_by_labels({"nope": "1"}))
    _same_error(lambda: p.remove_by_labels(["route"]), lambda: f.remove_by_labels(["route"]))
    u_p, u_f, _, _ = _both("Gauge")
    _same_error(lambda: u_p.labels("x"), lambda: u_f.labels("x"))
    _same_error(lambda: u_p.remove("x"), lambda: u_f.remove("x"))
    u_p.clear()
    u_f.clear()  # no labels: nothing to do, as theirs
    hp, hf, _, _ = _both("Histogram", ["m"])
    _same_error(lambda: hp.observe(1), lambda: hf.observe(1), r"missing label values")
    gp, gf, _, _ = _both("Gauge", ["m"])
    _same_error(lambda: gp.set_function(lambda: 1), lambda: gf.set_function(lambda: 1))
    _same_error(lambda: gp.inc(), lambda: gf.inc(), r"\.labels\(m=\.\.\.\)")


@pytest.mark.parametrize("exemplar", [{"__reserved": "x"}, {"a": "x" * 130}])
def test_exemplar_errors_match_prometheus_client(exemplar):
    p, f, _, _ = _both("Counter")
    _same_error(lambda: p.inc(1, exemplar), lambda: f.inc(1, exemplar))
    hp, hf, _, _ = _both("Histogram")
    _same_error(lambda: hp.observe(1, exemplar), lambda: hf.observe(1, exemplar))


# -------------------------------------------------- blocks and decorators ----

def test_time_count_exceptions_track_inprogress_with_labels_inside_the_block():
    hp, hf, rp, rf = _both("Histogram", ["m"], buckets=(10.0,))
    cp, cf, _, _ = _both("Counter", ["m"])
    gp, gf, _, _ = _both("Gauge", ["m"])
    for h in (hp, hf):
        with h.time() as t:
            t.labels("a")
        with pytest.raises(ValueError, match="missing label values"):
            with h.time():
                pass
    assert hf.labels("a").value()["count"] == 1.0
    assert hp.labels("a")._sum.get() < 10 and hf.labels("a").value()["sum"] < 10
    assert _text(rp)[2:] == _text(rf)[2:] or \
        [x.split(" ")[0] for x in _text(rp)] == [x.split(" ")[0] for x in _text(rf)]
    with pytest.raises(KeyError):
        with cf.count_exceptions(KeyError) as ce:
            ce.labels("x")
            raise KeyError
    assert cf.labels("x").value() == 1.0
    with gf.track_inprogress() as tr:
        tr.labels("y")
        assert gf.labels("y").value() == 1.0
    assert gf.labels("y").value() == 0.0
    with pytest.raises(ValueError, match="missing label values"):
        with gf.track_inprogress():
            pass
    with pytest.raises(ValueError, match="missing label values"):  # theirs: at entry
        with gp.track_inprogress():
            pass


def _sample(a, b: int = 2, *rest, c, d="x", **kw) -> tuple:
    return a, b, rest, c, d, kw


def _posonly(a, /, b=1, *, c=2):
    return a + b + c


async def _coro(x, y=1):
    return x + y


@pytest.mark.parametrize("make", [
    lambda m: m[0].time(), lambda m: m[1].count_exceptions(), lambda m: m[2].track_inprogress(),
    lambda m: m[2].time()], ids=["hist.time", "count_exceptions", "track_inprogress",
                                 "gauge.time"])
def test_decorators_keep_signatures_like_prometheus_client(make):
    ours = (Histogram("sig_h", "d", registry=None), Counter("sig_c", "d", registry=None),
            Gauge("sig_g", "d", registry=None))
    _N[0] += 1
    theirs = (pc.Histogram(f"sig_h{_N[0]}", "d", registry=None),
              pc.Counter(f"sig_c{_N[0]}", "d", registry=None),
              pc.Gauge(f"sig_g{_N[0]}", "d", registry=None))
    for fn in (_sample, _posonly):
        mine, ref = make(ours)(fn), make(theirs)(fn)
        assert inspect.getfullargspec(mine) == inspect.getfullargspec(fn) == \
            inspect.getfullargspec(ref)
        assert inspect.signature(mine) == inspect.signature(fn)
        assert mine.__name__ == fn.__name__ and mine.__doc__ == fn.__doc__
    got = make(ours)(_sample)(1, c=3)
    assert got == (1, 2, (), 3, "x", {}) == make(theirs)(_sample)(1, c=3)
    assert make(ours)(_posonly)(1) == 4
    with pytest.raises(TypeError):
        make(ours)(_posonly)(a=1)  # positional-only stays so
    wrapped = make(ours)(_coro)
    assert inspect.iscoroutinefunction(wrapped)
    assert inspect.getfullargspec(wrapped) == inspect.getfullargspec(_coro)
    import asyncio
    assert asyncio.run(wrapped(2)) == 3


# --------------------------------------------------------------- removal ----

def test_remove_remove_by_labels_clear_like_prometheus_client():
    p, f, rp, rf = _both("Counter", ["model", "v"])
    for m in (p, f):
        for model in ("a", "b"):
            for v in ("1", "2"):
                m.labels(model, v).inc(3)
        m.remove("a", "1")
        m.remove("zz", "9")  # absent: nothing happens
        m.remove_by_labels({"v": "2"})
    assert _text(rp) == _text(rf)
    assert [x for x in _text(rf) if not x.startswith("#")] == ['api%d_total{model="b",v="1"} 3.0'
                                                             % int(f._name[3:])]
    for m in (p, f):
        detached = m.labels("b", "1")
        m.clear()
        detached.inc(5)  # a removed child is detached: nothing appears
        m.labels("c", "1").inc()  # a new series starts from zero
    assert _text(rp) == _text(rf)


def test_removed_series_memory_is_reused():
    c = Counter("reuse_c", "d", ["id"], registry=None, max_series=4)
    for round_ in range(50):  # 200 label sets through 4 records
        for i in range(4):
            c.labels(f"{round_}-{i}").inc(i + 1)
        assert c.labels(f"{round_}-3").value() == 4.0
        c.clear()
    assert c._segment.n_series() == 4
    c.labels("last").inc()
    reg = CollectorRegistry()
    reg.register(c)
    samples = [s for s in reg.get_sample_value.__self__.collect()
               for s in s.samples if s.name == "reuse_c_total"]
    assert [(s.labels, s.value) for s in samples] == [({"id": "last"}, 1.0)]


def _fork(fn):
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            fn()
            flush()
        except BaseException:  # pragma: no cover - reported through the status
            import traceback
            traceback.print_exc()
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_remove_in_one_process_clears_the_series_in_every_process():
    h = Histogram("rm_mp", "d", ["v"], registry=None, buckets=(1.0,))
    g = Gauge("rm_mp_g", "d", ["v"], registry=None, multiprocess_mode="sum")
    h.labels("old").observe(0.5)
    g.labels("old").set(2)
    _fork(lambda: (h.labels("old").observe_many(np.full(10, 0.5)),
                   h.labels("keep").observe(2.0), g.labels("old").set(3)))
    assert h.labels("old").value()["count"] == 11.0 and g.labels("old").value() == 5.0
    _fork(lambda: (h.remove("old"), g.remove("old")))  # another process removes it
    reg = CollectorRegistry()
    reg.register(h)
    reg.register(g)
    text = generate_latest(reg).decode()
    assert 'v="old"' not in text and 'rm_mp_count{v="keep"} 1.0' in text
    # this process still holds its child of "old": it writes again, from zero
    h.labels("old").observe(0.25)
    assert h.labels("old").value()["count"] == 1.0
    assert h.labels("keep").value()["count"] == 1.0


# ------------------------------------------------------------ set_function ----

@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_set_function_like_prometheus_client_and_across_processes():
    p, f, rp, rf = _both("Gauge", multiprocess_mode="sum")
    box = [4.0]
    for m in (p, f):
        m.set_function(lambda: box[0])
        m.set(100)  # no effect any more
    assert _text(rp) == _text(rf)
    box[0] = 7.5
    assert _text(rp) == _text(rf) and f.value() == 7.5
    # a forked child calls its copy of the function: here 1.0 each, summed
    box[0] = 1.0
    _fork(lambda: None)  # its flush at exit wrote its value (1.0)
    assert f.value() == 2.0  # "sum" keeps an ended process's last value, as theirs
    with pytest.raises(TypeError, match="callable"):
        Gauge("sf_bad", "d", registry=None).set_function(3)


def test_set_function_errors_keep_the_previous_value(caplog):
    g = Gauge("sf_err", "d", registry=None)
    state = {"v": 2.0}

    def f():
        if state["v"] is None:
            raise RuntimeError("boom")
        return state["v"]

    g.set_function(f)
    assert g.value() == 2.0
    state["v"] = None
    assert g.value() == 2.0
    assert "set_function callable failed" in caplog.text
    state["v"] = 0.0  # stop failing: the gauge lives on in this process's shared memory


# -------------------------------------------------------------- exemplars ----

def _om(reg):
    """OpenMetrics lines without timestamps of exemplars (set by each library)."""
    lines = om_latest(reg).decode().splitlines()
    return [re.sub(r"( # \{.*\} \S+) \d+(\.\d+)?(e[-+]?\d+)?$", r"\1", x) for x in lines
            if "_created" not in x]


def test_exemplars_in_the_openmetrics_exposition_like_prometheus_client():
    cp, cf, rp, rf = _both("Counter", ["m"])
    hp, hf, rhp, rhf = _both("Histogram", ["m"], buckets=(0.1, 1.0))
    for c in (cp, cf):
        c.labels("a").inc(2, {"trace_id": "abc"})
        c.labels("a").inc(1)  # no exemplar: the last one stays
        c.labels("b").inc(1, {})  # an empty exemplar is none
    for h in (hp, hf):
        h.labels("a").observe(0.05, {"trace_id": "t1"})
        h.labels("a").observe(0.5, {"trace_id": "t2"})
        h.labels("a").observe(0.07, {"trace_id": "t3", "span": "é"})  # newer in bucket 0.1
        h.labels("a").observe(5)
    assert _om(rf) == _om(rp)
    assert _om(rhf) == _om(rhp)
    assert any('# {trace_id="abc"} 2.0' in x for x in _om(rf))
    ts = [float(x.rsplit(" ", 1)[1]) for x in om_latest(rhf).decode().splitlines() if "# {" in x]
    assert ts and all(abs(t - __import__("time").time()) < 60 for t in ts)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_exemplars_from_other_processes_most_recent_wins(tmp_path):
    h = Histogram("ex_mp", "d", registry=None, buckets=(1.0,), directory=str(tmp_path))
    c = Counter("ex_mp_c", "d", registry=None, directory=str(tmp_path))
    h.observe(0.5, {"trace_id": "parent"})
    flush()
    _fork(lambda: (h.observe(0.6, {"trace_id": "child"}), h.observe(3.0, {"trace_id": "big"}),
                   c.inc(1, {"trace_id": "c"})))
    reg = CollectorRegistry()
    fm.DirectoryCollector(str(tmp_path), registry=reg)
    text = om_latest(reg).decode()
    assert re.search(r'ex_mp_bucket\{le="1.0"\} 2.0 # \{trace_id="child"\} 0.6 ', text)
    assert re.search(r'ex_mp_bucket\{le="\+Inf"\} 3.0 # \{trace_id="big"\} 3.0 ', text)
    assert re.search(r'ex_mp_c_total 1.0 # \{trace_id="c"\} 1.0 ', text)
    h.observe(0.1, {"trace_id": "newest"})
    flush()
    assert 'trace_id="newest"' in om_latest(reg).decode()


def test_exemplars_leave_with_their_series():
    c = Counter("ex_rm", "d", ["m"], registry=None, max_series=1)
    c.labels("a").inc(1, {"t": "1"})
    flush()
    c.remove("a")
    c.labels("b").inc(1)  # reuses the record: no exemplar of "a" appears
    reg = CollectorRegistry()
    reg.register(c)
    assert "# {" not in om_latest(reg).decode()
