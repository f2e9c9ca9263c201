"""``fastmlops demo loop``, shortened, on a real gunicorn server (2 sync
workers, --preload, loopback): the timeline must tell the seed's story in
order, and the metrics must count exactly the requests the load generator
got answers for.  One run (module fixture) serves every assertion; the
server is stopped by the loop itself, and the test checks no process of it
is left."""

import os
import time
from pathlib import Path

import pytest

pytest.importorskip("gunicorn", reason="gunicorn is not installed")
pytest.importorskip("sklearn", reason="scikit-learn is not installed")
pytest.importorskip("mlflow", reason="mlflow is not installed")
pytest.importorskip("prometheus_client", reason="prometheus_client is not installed")

from fastmlops.cli._demo_loop import LoopConfig, run_loop

#: The burn-rate alert's long window in wall seconds: 10 SLO minutes at 60x.
ALERT_WINDOW = 10.0


def _processes_mentioning(text):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmd:
            found.append((int(pid), cmd))
    return found


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    base = tmp_path_factory.mktemp("loop")
    lines = []
    here = os.getcwd()
    os.chdir(base)  # a relative output directory, as `fastmlops demo loop --out run` gives
    try:
        cfg = LoopConfig(out="run", rate=120.0, threads=6, stage_seconds=2.0,
                         stage_requests=(2, 8, 30), warmup_seconds=1.0, retrain_rows=600,
                         drift_window=6.0, phase_timeout=30.0, echo=lines.append)
        t0 = time.monotonic()
        result = run_loop(cfg)
    finally:
        os.chdir(here)
    return result, lines, base / "run", time.monotonic() - t0


def test_loop_is_short_and_leaves_no_process(loop):
    result, lines, out, seconds = loop
    assert seconds < 60, seconds
    assert _processes_mentioning(str(out)) == []  # gunicorn's master and workers are gone
    assert len(lines) == len(result.timeline.events) + 3  # header lines and the summary


def test_metrics_count_exactly_the_answered_requests(loop):
    result = loop[0]
    assert result.failed == 0
    assert result.answered > 1000
    assert result.counted == result.answered
    assert set(result.by_version) == {"v1", "v2", "v3"}


def test_fault_alert_rollback_in_order(loop):
    tl = loop[0].timeline
    fault = tl.first("fault")
    rollback = tl.first("rollback")
    assert fault is not None and rollback is not None
    assert fault.time < rollback.time <= fault.time + ALERT_WINDOW
    alerts = [e for e in tl.find("alert") if e.time <= rollback.time]
    assert alerts and all(e.time >= fault.time for e in alerts)  # no alert before the fault
    assert rollback.message.startswith("v2 out") and "SLO alert" in rollback.message
    assert len(tl.find("rollback")) == 1


def test_drift_then_retrain_then_gate_then_promote(loop):
    tl = loop[0].timeline
    names = [(e.stage, e.event) for e in tl.events]
    shift = tl.first("shift")
    drift = tl.first("drift-alert")
    retrain = tl.first("retrain", stage="policy")
    assert shift.time < drift.time <= retrain.time
    v3 = [e for e in tl.find("train") if e.message.startswith("v3")]
    assert len(v3) == 1 and v3[0].time >= retrain.time
    gate_v3 = [e for e in tl.find("gate-pass") if e.message.startswith("v3")]
    assert len(gate_v3) == 1 and gate_v3[0].time >= v3[0].time
    complete = tl.first("complete")
    assert complete is not None and complete.time > gate_v3[0].time
    stop = names.index(("load", "stop"))
    assert names[stop - 1] == ("canary", "complete")
    assert names[stop + 1:] in ([], [("prometheus", "check")])


def test_every_canary_starts_after_its_gate_and_promotes_in_stages(loop):
    tl = loop[0].timeline
    starts = tl.find("start", stage="canary")
    assert len(starts) == 2
    for start in starts:
        version = start.message.split()[0]
        passed = [e for e in tl.find("gate-pass") if e.message.startswith(version + ":")]
        assert passed and passed[0].time <= start.time
    percents = [e.numbers["percent"] for e in tl.events
                if e.stage == "canary" and e.event in ("start", "promote", "complete")]
    assert percents == [1, 5, 25, 1, 5, 25, 100]
    fault = tl.first("fault")
    assert [e.numbers["percent"] for e in tl.find("promote")
            if e.time <= fault.time][-1] == 25


def test_real_prometheus_agrees_when_installed(loop):
    from fastmlops.rollout import prometheus_binary

    if prometheus_binary() is None:
        pytest.skip("no prometheus binary")
    result = loop[0]
    check = result.timeline.first("check", stage="prometheus")
    assert check is not None
    assert check.numbers["scraped"] == result.answered  # Prometheus's own count
    assert "fired for ['v2']" in check.message  # slo-rules.yml's page alert, v2 only


def test_files_are_written(loop):
    result, _, out, _ = loop
    md = Path(result.files["markdown"]).read_text()
    assert md.count("| canary | promote |") == 4
    html = Path(result.files["html"]).read_text()
    assert html.count("<svg") >= 4 and "<script" not in html
    assert (out / "mlflow.db").exists() or (out / "mlruns").exists()
    samples = result.timeline.series("canary_percent")[1]
    assert samples[0] == 0.0 and 25.0 in samples and samples[-1] == 100.0


# ----------------------------------------------------------------------------- command line
def test_command_line_registers_loop_under_demo():
    from fastmlops.cli import build_parser, cmd_demo
    from fastmlops.cli._demo_loop import cmd_demo_loop

    args = build_parser().parse_args(["demo", "loop", "--rate", "100", "--out", "x"])
    assert args.func is cmd_demo_loop and (args.rate, args.out) == (100.0, "x")
    assert build_parser().parse_args(["demo", "--rows", "10"]).func is cmd_demo


def test_missing_piece_names_the_extra(monkeypatch, tmp_path, capsys):
    import importlib.util

    from fastmlops.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sklearn" else real(name, *a))
    assert main(["demo", "loop", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "needs scikit-learn" in err and "fastmlops[loop]" in err
    assert not (tmp_path / "out").exists()  # nothing started, nothing written
