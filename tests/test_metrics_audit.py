"""Metric files that others damage, and prometheus_client parity (issue #23,
items 5, 6, 10, 14e and 14g).

* 5: a metric file truncated under a live mapping (``truncate -s 0`` by
  another process) is refused with a logged error; neither the worker's own
  scrape and flush nor a ``DirectoryCollector``'s scrape die of SIGBUS.  Run
  in child processes, so that a regression kills a child, not the suite.
* 6: a corrupted label-set record, exemplar or definition is skipped with a
  warning; every other metric (and label set) is still exposed.
* 10: ``DirectoryCollector`` refuses files of other users.
* 14e: the "another definition" error of a drift monitor names a monitor's
  definition, not a metric's.
* 14g: ``repr`` and exemplar label names as in prometheus_client.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest

import fastmlops
import fastmlops.metrics._mapfile as mapfile
import fastmlops.metrics.segment as seg
from fastmlops.metrics import Counter, DirectoryCollector, Gauge, Histogram, flush

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX files and signals")

_RECORDS_AT = mapfile.HEADER_WORDS * 8
_RECORD = seg._RECORD_WORDS * 8


def _child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (a SIGBUS kills it, not the suite)."""
    prelude = ("import logging, sys\n"
               "logging.basicConfig(stream=sys.stderr, level=logging.WARNING, "
               "format='LOG %(levelname)s %(message)s')\n")
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=300, check=False)


def _died(out: subprocess.CompletedProcess[str]) -> str:
    return f"rc={out.returncode}\nstdout:\n{out.stdout[-3000:]}\nstderr:\n{out.stderr[-3000:]}"


# ------------------------------------------------ 5: truncated metric files ----

_OWN_SCRAPE = """
import os
from prometheus_client import CollectorRegistry, generate_latest
from fastmlops.metrics import Counter, Gauge, Histogram, flush
d, size = sys.argv[1], sys.argv[2]
reg = CollectorRegistry()
healthy = Counter("healthy_c", "d", registry=reg, directory=d)
victims = [Counter("victim_c", "d", ["k"], registry=reg, directory=d),
           Gauge("victim_g", "d", ["k"], registry=reg, directory=d),
           Histogram("victim_h", "d", ["k"], registry=reg, directory=d)]
healthy.inc(2)
victims[0].labels("a").inc()
victims[1].labels("a").set(3)
victims[2].labels("a").observe(0.5, exemplar={"trace": "x"})
flush()
generate_latest(reg)
for m in victims:
    path = os.path.join(d, m._name + ".fastmlops")
    os.truncate(path, 0 if size == "zero" else os.path.getsize(path) // 2)
text = generate_latest(reg).decode()            # the scrape: no SIGBUS
assert "healthy_c_total 2.0" in text, text
assert 'victim_c_total{k="a"}' not in text, text
victims[0].labels("a").inc()                    # the hot path and its flush
victims[0].labels("new").inc()                  # a new label set
victims[1].labels("a").set(4)
victims[2].labels("b").observe_many([1.0, 2.0])
victims[2].labels("a").observe(0.1, exemplar={"trace": "y"})
healthy.inc()
flush()
text = generate_latest(reg).decode()
assert "healthy_c_total 3.0" in text, text
for m in victims:
    try:
        m.labels("a").value()
    except ValueError as exc:
        assert "truncated" in str(exc), exc
    else:
        raise AssertionError("value() of a refused file must raise")
print("SURVIVED")
"""


@pytest.mark.parametrize("size", ["zero", "half"])
def test_a_truncated_file_of_the_workers_own_metric_is_refused_not_a_sigbus(tmp_path, size):
    out = _child(_OWN_SCRAPE, str(tmp_path), size)
    assert out.returncode == 0 and "SURVIVED" in out.stdout, _died(out)
    # one error per refused file, not one per flush or scrape
    for name in ("victim_c", "victim_g", "victim_h"):
        assert out.stderr.count(f"{name}.fastmlops") == 1, out.stderr
    assert "LOG ERROR" in out.stderr and "truncated" in out.stderr


_COLLECTOR_SCRAPE = """
import os
from prometheus_client import CollectorRegistry, generate_latest
from fastmlops.metrics import Counter, DirectoryCollector, flush
d = sys.argv[1]
Counter("keep_c", "d", registry=None, directory=d).inc(5)
Counter("cut_c", "d", ["k"], registry=None, directory=d).labels("a").inc(7)
flush()
reg = CollectorRegistry()
DirectoryCollector(d, registry=reg)
assert reg.get_sample_value("cut_c_total", {"k": "a"}) == 7.0
os.truncate(os.path.join(d, "cut_c.fastmlops"), 0)
for _ in range(3):
    text = generate_latest(reg).decode()        # the cached view is refused
    assert "keep_c_total 5.0" in text and "cut_c_total" not in text, text
print("SURVIVED")
"""


def test_a_truncated_file_is_refused_by_the_directory_collector_not_a_sigbus(tmp_path):
    out = _child(_COLLECTOR_SCRAPE, str(tmp_path))
    assert out.returncode == 0 and "SURVIVED" in out.stdout, _died(out)
    assert "cut_c.fastmlops" in out.stderr


_MONITOR_SCRAPE = """
import os
import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
import fastmlops
from fastmlops.metrics import Counter, flush
d = sys.argv[1]
reg = CollectorRegistry()
Counter("beside_c", "d", registry=reg, directory=d).inc()
m = fastmlops.DriftMonitor(fastmlops.DriftReference(np.arange(50.0)), registry=reg,
                           name="cut_monitor", directory=d)
m.observe([1.0])
m.flush()
generate_latest(reg)
os.truncate(os.path.join(d, "drift-monitors", "cut_monitor.fastmlops"), 0)
m.observe([2.0])
m.flush()
flush()
text = generate_latest(reg).decode()
assert "beside_c_total 1.0" in text, text
print("SURVIVED")
"""


def test_a_truncated_drift_monitor_file_is_refused_not_a_sigbus(tmp_path):
    out = _child(_MONITOR_SCRAPE, str(tmp_path))
    assert out.returncode == 0 and "SURVIVED" in out.stdout, _died(out)
    assert "cut_monitor.fastmlops" in out.stderr


def test_a_metric_made_again_on_a_truncated_file_is_refused(tmp_path):
    """A new metric object does not reuse a refused segment: it opens the file
    again and is told what is wrong with it."""
    out = _child("""
        import os
        from fastmlops.metrics import Counter, flush
        d = sys.argv[1]
        c = Counter("again_c", "d", registry=None, directory=d)
        c.inc()
        flush()
        os.truncate(os.path.join(d, "again_c.fastmlops"), 0)
        flush()
        c.inc()
        flush()
        try:
            Counter("again_c", "d", registry=None, directory=d)
        except ValueError as exc:
            print("REFUSED", exc)
        """, str(tmp_path))
    assert out.returncode == 0 and "REFUSED" in out.stdout, _died(out)
    assert "not a fastmlops metrics file" in out.stdout


# ------------------------------------------- 6: corrupted records and files ----

def _poke(path: str, at: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(data)


def _corrupt_record(path: str, index: int, payload: bytes, nbytes: int | None = None) -> None:
    at = _RECORDS_AT + index * _RECORD
    _poke(path, at + 16, int(len(payload) if nbytes is None else nbytes).to_bytes(8, "little"))
    _poke(path, at + 32, payload)


_BAD_KEYS = {
    "not-a-string": (b"[1]", None),
    "bad-utf8": (b'["\xff\xfe"]', None),
    "huge-length": (b'["a"]', 2**64 - 1),
    "beyond-the-record": (b'["a"]', 10_000),
    "not-a-list": (b'"bad"', None),
    "too-many-values": (b'["x","y"]', None),
    "nested": (b"[" * 200 + b"]" * 200, None),
    "lone-surrogate": (b'["\\ud800"]', None),
}


@pytest.mark.parametrize("case", sorted(_BAD_KEYS))
def test_a_corrupted_label_set_of_the_workers_own_metric_is_skipped(tmp_path, caplog, case):
    """The records were written by another metric object (as by another
    process), in a copy of its file: this one decodes them for the first time."""
    name = f"rec_{case.replace('-', '_')}"
    writer = Counter(name, "d", ["k"], registry=None, directory=str(tmp_path / "w"))
    writer.labels("bad").inc()
    writer.labels("good").inc(2)
    flush()
    d = str(tmp_path / "copy")
    os.mkdir(d, 0o700)
    path = os.path.join(d, name + ".fastmlops")
    shutil.copyfile(tmp_path / "w" / (name + ".fastmlops"), path)
    os.chmod(path, 0o600)
    payload, nbytes = _BAD_KEYS[case]
    _corrupt_record(path, 0, payload, nbytes)
    reg = CollectorRegistry()
    c = Counter(name, "d", ["k"], registry=reg, directory=d)
    other = Counter(f"rec_other_{case.replace('-', '_')}", "d", registry=reg)
    other.inc(3)
    with caplog.at_level("WARNING", logger="fastmlops.metrics"):
        text = generate_latest(reg).decode()
        generate_latest(reg)
    assert f'{c._name}_total{{k="good"}} 2.0' in text
    assert f"{other._name}_total 3.0" in text
    assert text.count(f"{c._name}_total{{") == 1, text  # the bad record is left out
    assert "label set" in caplog.text and c._name in caplog.text
    assert caplog.text.count("label set") == 1  # warned once, not at every scrape
    assert c.labels("good").value() == 2.0


def test_a_corrupted_label_set_is_skipped_by_the_directory_collector(tmp_path, caplog):
    d = str(tmp_path)
    c = Counter("dir_rec_c", "d", ["k"], registry=None, directory=d)
    c.labels("bad").inc()
    c.labels("good").inc(2)
    Counter("dir_rec_other", "d", registry=None, directory=d).inc(3)
    flush()
    _corrupt_record(os.path.join(d, "dir_rec_c.fastmlops"), 0, b"[1]")
    reg = CollectorRegistry()
    DirectoryCollector(d, registry=reg)
    with caplog.at_level("WARNING", logger="fastmlops.metrics"):
        text = generate_latest(reg).decode()
    assert 'dir_rec_c_total{k="good"} 2.0' in text and "dir_rec_other_total 3.0" in text
    assert text.count("dir_rec_c_total{") == 1
    assert "dir_rec_c" in caplog.text


@pytest.mark.parametrize("labels", [b"[1]", b'{"a":1}', b'{":o)":"x"}', b"[" * 100 + b"]" * 100])
def test_a_corrupted_exemplar_is_left_out(tmp_path, caplog, labels):
    d = str(tmp_path)
    reg = CollectorRegistry()
    c = Counter("ex_rec_c", "d", registry=reg, directory=d)
    c.inc(1, exemplar={"trace": "abc"})
    flush()
    at = c._segment.layout.ex_at * 8  # the exemplar of series 0: seq, value, ts, length
    _poke(os.path.join(d, "ex_rec_c.fastmlops"), at + 24,
          len(labels).to_bytes(8, "little") + labels)
    from prometheus_client.openmetrics.exposition import generate_latest as om_latest
    text = om_latest(reg).decode()
    assert "ex_rec_c_total 1.0" in text and "#" not in text.split("ex_rec_c_total 1.0")[1][:3]


def _write_definition(path: str, meta: bytes) -> None:
    _poke(path, mapfile.META_AT, meta)
    _poke(path, mapfile.H_META_LEN * 8, len(meta).to_bytes(8, "little"))


def test_a_definition_nested_deep_is_skipped_by_the_directory_collector(tmp_path, caplog):
    d = str(tmp_path)
    Counter("deep_c", "d", registry=None, directory=d).inc()
    Counter("fine_c", "d", registry=None, directory=d).inc(4)
    flush()
    _write_definition(os.path.join(d, "deep_c.fastmlops"), b"[" * 8000 + b"]" * 8000)
    reg = CollectorRegistry()
    DirectoryCollector(d, registry=reg)
    with caplog.at_level("WARNING", logger="fastmlops.metrics"):
        text = generate_latest(reg).decode()
    assert "fine_c_total 4.0" in text and "deep_c" not in text
    assert "deep_c.fastmlops" in caplog.text


def test_a_definition_naming_another_file_is_skipped(tmp_path, caplog):
    """A file's definition names its own file: one that names another metric
    would expose that metric twice (or read a file it does not describe)."""
    d = str(tmp_path)
    Counter("real_c", "d", registry=None, directory=d).inc(6)
    Counter("liar_c", "d", registry=None, directory=d).inc()
    flush()
    path = os.path.join(d, "liar_c.fastmlops")
    meta = json.dumps({"name": "real_c", "type": "counter", "help": "d", "labelnames": [],
                       "unit": ""}).encode()
    _write_definition(path, meta)
    reg = CollectorRegistry()
    DirectoryCollector(d, registry=reg)
    with caplog.at_level("WARNING", logger="fastmlops.metrics"):
        text = generate_latest(reg).decode()
    assert text.count("real_c_total 6.0") == 1, text
    assert "liar_c.fastmlops" in caplog.text


def test_a_counter_named_with_total_twice_is_read_from_its_own_file(tmp_path):
    """Its stored name ends with ``_total``: the reader must not remove it again
    (and read, or miss, the file of another metric); it exposes what the
    worker's own registry does."""
    d = str(tmp_path)
    own = CollectorRegistry()
    Counter("dbl_total_total", "d", registry=own, directory=d).inc(2)
    flush()
    reg = CollectorRegistry()
    DirectoryCollector(d, registry=reg)
    assert generate_latest(reg) == generate_latest(own)
    assert reg.get_sample_value("dbl_total") == 2.0


# ------------------------------------------------ 10: files of other users ----

@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown a file to another user")
def test_the_directory_collector_refuses_files_of_other_users(tmp_path, caplog):
    d = tmp_path / "shared"
    d.mkdir()
    os.chmod(d, 0o1777)  # sticky and world-writable, like /tmp
    Counter("mine_c", "d", registry=None, directory=str(d)).inc()
    Counter("planted_alert_c", "d", registry=None, directory=str(d)).inc(1000)
    flush()
    os.chown(d / "planted_alert_c.fastmlops", 65534, 65534)
    reg = CollectorRegistry()
    DirectoryCollector(str(d), registry=reg)
    with caplog.at_level("WARNING", logger="fastmlops.metrics"):
        text = generate_latest(reg).decode()
    assert "mine_c_total 1.0" in text and "planted_alert_c" not in text
    assert "another user" in caplog.text and "planted_alert_c.fastmlops" in caplog.text


# --------------------------------------------- 14e: the monitor's message ----

def test_the_same_name_monitor_message_speaks_of_a_monitors_definition(tmp_path):
    ref = fastmlops.DriftReference(np.arange(50.0))
    other = fastmlops.DriftReference(np.arange(60.0))
    first = fastmlops.DriftMonitor(ref, registry=None, name="same_mon", directory=tmp_path)
    with pytest.raises(ValueError, match="another definition") as got:
        fastmlops.DriftMonitor(other, registry=None, name="same_mon", directory=tmp_path)
    text = str(got.value)
    assert "reference" in text and "ks_buckets" in text and "monitor" in text
    assert "labels, buckets" not in text and "max_series" not in text
    del first
    # a file another process left with another definition: the same words
    out = _child("""
        import numpy as np, fastmlops
        fastmlops.DriftMonitor(fastmlops.DriftReference(np.arange(70.0)), registry=None,
                               name="file_mon", directory=sys.argv[1])
        """, str(tmp_path))
    assert out.returncode == 0, _died(out)
    with pytest.raises(ValueError, match="another definition") as got:
        fastmlops.DriftMonitor(other, registry=None, name="file_mon", directory=tmp_path)
    text = str(got.value)
    assert "reference" in text and "labels, buckets" not in text
    # metrics keep their own words
    Counter("same_c", "d", registry=None, directory=str(tmp_path))
    with pytest.raises(ValueError, match="labels, buckets"):
        Counter("same_c", "d", ["x"], registry=None, directory=str(tmp_path))


# -------------------------------------------- 14g: prometheus_client parity ----

def test_repr_is_prometheus_clients():
    import prometheus_client

    ours = Counter("repr_c", "d", registry=None)
    theirs = prometheus_client.Counter("repr_c", "d", registry=None)
    assert repr(ours) == "fastmlops.metrics.Counter(repr_c)"
    assert repr(ours).split(".")[-1] == repr(theirs).split(".")[-1]
    assert repr(Histogram("repr_h", "d", registry=None)) == "fastmlops.metrics.Histogram(repr_h)"
    assert repr(Gauge("repr_g", "d", registry=None)) == "fastmlops.metrics.Gauge(repr_g)"


@pytest.mark.parametrize("name", [":o)", "1abc", "a-b", "é"])
def test_an_exemplar_label_name_is_validated(name):
    c = Counter("ex_name_c", "d", registry=None)
    h = Histogram("ex_name_h", "d", registry=None)
    with pytest.raises(ValueError, match="Invalid label metric name"):
        c.inc(exemplar={name: "smile"})
    with pytest.raises(ValueError, match="Invalid label metric name"):
        h.observe(1.0, exemplar={name: "smile"})
    c.inc(exemplar={"trace_id": "smile"})  # a valid one still works
    flush()
    assert c.value() == 1.0
