"""fastmlops.rollout at unit level: the policy (deterministic time, real gate,
SLO, canary and drift objects where they are cheap), the timeline and its
renderings, the state file the workers read, the serving metrics."""

import json
import math
import os
from types import SimpleNamespace as NS

import numpy as np
import pytest

import fastmlops
from fastmlops.canary import CanaryController, CanaryPolicy, Stage, in_canary
from fastmlops.rollout import (
    LoadGenerator,
    RolloutPolicy,
    RolloutState,
    ServingMetrics,
    StateReader,
    Timeline,
    VersionCounts,
    read_counts,
)

PASS = NS(decision="pass", summary="PASS: roc_auc ...", pvalue=1e-6)
FAIL = NS(decision="fail", summary="FAIL: roc_auc ...", pvalue=0.4)
PAGE = NS(name="availability:Page1h", severity="page", message="burn 30 > 14.4",
          burn_rates={60: 30.0})
CHECK = NS(name="slo_check", severity="page", message="availability < 0.99", burn_rates={})
TICKET = NS(name="availability:Ticket1d", severity="ticket", message="burn 4 > 3",
            burn_rates={1440: 4.0})
DRIFT = NS(drifted=True, n_rows=1000)
CALM = NS(drifted=False, n_rows=1000)


# ----------------------------------------------------------------------------- policy
def test_gate_ships_or_blocks():
    p = RolloutPolicy()
    assert p.gate(0.0, FAIL).action == "block"
    assert p.state == "idle"
    d = p.gate(1.0, PASS)
    assert (d.action, p.state) == ("ship", "canary")
    assert d.numbers == {"pvalue": 1e-6}
    assert "PASS" in d.reason


def test_real_gate_result_is_understood():
    from fastmlops.gate import compare

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 3000)
    base = y + rng.normal(0, 1.0, 3000)
    worse = y + rng.normal(0, 3.0, 3000)
    p = RolloutPolicy()
    assert p.gate(0.0, compare(y, base, worse, margin=0.01)).action == "block"
    assert p.gate(1.0, compare(y, base, base + rng.normal(0, 0.01, 3000),
                               margin=0.02)).action == "ship"


def test_page_alert_rolls_back_only_while_a_canary_runs():
    p = RolloutPolicy()
    assert p.decide(0.0, alerts=[PAGE]).action == "hold"  # nothing out: nothing to undo
    p.gate(1.0, PASS)
    d = p.decide(2.0, alerts=[CHECK, PAGE])
    assert d.action == "rollback"
    assert d.reason.startswith("SLO alert availability:Page1h")  # the burn-rate alert first
    assert p.state == "idle"
    assert p.decide(3.0, alerts=[PAGE]).action == "hold"


def test_threshold_check_rolls_back_only_when_asked():
    p = RolloutPolicy()
    p.gate(0.0, PASS)
    assert p.decide(1.0, alerts=[CHECK]).action == "hold"
    q = RolloutPolicy(rollback_alerts="any")
    q.gate(0.0, PASS)
    d = q.decide(1.0, alerts=[CHECK])
    assert d.action == "rollback" and "slo_check" in d.reason


def test_real_slo_monitor_alerts():
    from fastmlops.slo import SLOMonitor

    now = [0.0]
    mon = SLOMonitor(0.99, clock=lambda: now[0])
    for i in range(1000):
        mon.record(20.0, success=i % 5 != 0)  # 20 % errors: burn rate 20
    alerts = mon.evaluate().alerts
    assert {a.name for a in alerts} >= {"slo_check", "availability:Page1h"}
    p = RolloutPolicy()
    p.gate(0.0, PASS)
    d = p.decide(1.0, alerts=alerts)
    assert d.action == "rollback" and d.reason.startswith("SLO alert availability:Page1h")


def test_ticket_alerts_roll_back_only_when_asked():
    p = RolloutPolicy()
    p.gate(0.0, PASS)
    assert p.decide(1.0, alerts=[TICKET]).action == "hold"
    q = RolloutPolicy(rollback_severities=("page", "ticket"))
    q.gate(0.0, PASS)
    assert q.decide(1.0, alerts=[TICKET]).action == "rollback"


def test_canary_decisions_pass_through_and_complete():
    policy = CanaryPolicy(stages=[Stage(1, 10, 10), Stage(50, 10, 10), Stage(100)])
    c = CanaryController(policy, start_time=0.0)
    p = RolloutPolicy()
    p.gate(0.0, PASS)
    actions = []
    for t in (5.0, 11.0, 22.0):
        d = c.observe(t, 20, 0, 2000, 2)
        actions.append(p.decide(t, canary=d).action)
    assert actions == ["hold", "promote", "complete"]
    assert p.state == "idle"
    assert p.history[-1].numbers["percent"] == 100


def test_controller_rollback_is_a_rollback():
    c = CanaryController(CanaryPolicy(stages=[Stage(5, 10, 10), Stage(100)]), start_time=0.0)
    p = RolloutPolicy()
    p.gate(0.0, PASS)
    d = p.decide(1.0, canary=c.observe(1.0, 500, 100, 5000, 5))
    assert d.action == "rollback"
    assert d.reason.startswith("canary controller: canary error rate")


def test_promotion_without_a_passing_gate_rolls_back():
    p = RolloutPolicy()
    d = p.decide(0.0, canary=NS(action="promote", percent=5, reason="stage passed"))
    assert d.action == "rollback"
    assert "without a passing gate" in d.reason
    p.gate(1.0, FAIL)
    assert p.decide(2.0, canary=NS(action="promote", percent=5, reason="x")).action \
        == "rollback"


def test_rollback_cooldown_blocks_the_next_gate():
    p = RolloutPolicy(rollback_cooldown=30)
    p.gate(0.0, PASS)
    p.decide(1.0, alerts=[PAGE])
    d = p.gate(10.0, PASS)
    assert d.action == "block" and "cool-down" in d.reason
    assert p.gate(31.0, PASS).action == "ship"


def test_drift_needs_consecutive_confirmations_and_respects_cooldown():
    p = RolloutPolicy(drift_confirmations=3, drift_min_rows=500, retrain_cooldown=100)
    seq = [DRIFT, DRIFT, CALM, DRIFT, DRIFT, NS(drifted=True, n_rows=10), DRIFT, DRIFT, DRIFT]
    got = [p.decide(float(t), drift=r).action for t, r in enumerate(seq)]
    # the calm report and the 10-row one reset the count
    assert got == ["hold"] * 8 + ["retrain"]
    assert p.history[-1].numbers == {"n_rows": 1000.0, "confirmations": 3.0}
    more = [p.decide(t, drift=DRIFT).action for t in (20.0, 30.0, 40.0, 50.0, 107.9)]
    assert more == ["hold"] * 5  # cool-down: 100 s after t=8
    assert p.decide(108.0, drift=DRIFT).action == "retrain"  # drift went on meanwhile
    assert p.decide(109.0, drift=DRIFT).action == "hold"  # the count restarted


def test_real_drift_report_counts():
    rng = np.random.default_rng(0)
    ref = fastmlops.DriftReference({"a": rng.normal(size=3000)})
    shifted = ref.check({"a": rng.normal(1.0, 1.0, 800)})
    same = ref.check({"a": rng.normal(size=800)})
    p = RolloutPolicy(drift_confirmations=2)
    assert [p.decide(t, drift=r).action for t, r in
            enumerate([shifted, same, shifted, shifted])] == ["hold", "hold", "hold", "retrain"]


def test_rollback_comes_before_promote_and_promote_before_retrain():
    p = RolloutPolicy(drift_confirmations=1)
    p.gate(0.0, PASS)
    promote = NS(action="promote", percent=5, reason="ok")
    assert p.decide(1.0, canary=promote, alerts=[PAGE], drift=DRIFT).action == "rollback"
    p.gate(2.0, PASS)
    assert p.decide(3.0, canary=promote, drift=DRIFT).action == "promote"
    assert p.decide(4.0, drift=DRIFT).action == "retrain"


@pytest.mark.parametrize("bad,exc", [
    ({"rollback_severities": "page"}, TypeError),
    ({"rollback_severities": ("urgent",)}, ValueError),
    ({"rollback_alerts": "some"}, ValueError),
    ({"drift_confirmations": 0}, ValueError),
    ({"retrain_cooldown": -1}, ValueError),
    ({"rollback_cooldown": math.inf}, ValueError),
])
def test_policy_rejects_bad_settings(bad, exc):
    with pytest.raises(exc):
        RolloutPolicy(**bad)


def test_policy_rejects_bad_input_and_time_going_back():
    p = RolloutPolicy()
    p.decide(5.0)
    with pytest.raises(ValueError, match="time went backwards"):
        p.decide(4.0)
    with pytest.raises(ValueError, match="finite"):
        p.decide(math.nan)
    with pytest.raises(TypeError, match="gate result"):
        p.gate(6.0, NS(decision="maybe"))
    with pytest.raises(TypeError, match="Alert"):
        p.decide(6.0, alerts=["page!"])
    with pytest.raises(TypeError, match="Decision"):
        p.decide(6.0, canary="promote")
    with pytest.raises(TypeError, match="DriftReport"):
        p.decide(6.0, drift=NS(drifted="yes", n_rows=3))


# ----------------------------------------------------------------------------- timeline
def _timeline(seen=None):
    tl = Timeline(start=1000.0, title="t", on_event=None if seen is None else seen.append)
    tl.sample(1000.5, canary_percent=0, error_rate=0.0)
    tl.add(1001.0, "canary", "promote", "1% -> 5%", percent=5)
    tl.sample(1001.5, canary_percent=5, error_rate=0.2)
    tl.add(1002.0, "slo", "alert", "burn | 30", burn_rate=30.5)
    tl.add(1002.5, "canary", "rollback", "v2 out")
    tl.sample(1003.0, canary_percent=0)
    return tl


def test_timeline_times_are_relative_and_events_reported():
    seen = []
    tl = _timeline(seen)
    assert [e.time for e in tl.events] == [1.0, 2.0, 2.5]
    assert seen == tl.events
    assert tl.first("rollback").time == 2.5
    assert tl.first("nothing") is None
    assert [e.event for e in tl.find(stage="canary")] == ["promote", "rollback"]
    assert tl.series("canary_percent") == ([0.5, 1.5, 3.0], [0.0, 5.0, 0.0])
    assert tl.series("error_rate") == ([0.5, 1.5], [0.0, 0.2])
    assert tl.series_names() == ["canary_percent", "error_rate"]
    assert tl.events[1].format() == "    2.0 s  slo       alert            burn | 30 " \
                                    "[burn_rate=30.5]"
    assert len(tl) == 3


def test_timeline_markdown_dict_and_html(tmp_path):
    tl = _timeline()
    md = tl.to_markdown().splitlines()
    assert md[0] == "# t"
    assert md[5] == "| 2.0 | slo | alert | burn / 30 | burn_rate=30.5 |"  # '|' escaped
    assert len(md) == 4 + 3
    d = json.loads(json.dumps(tl.to_dict()))
    assert d["events"][2] == {"time": 2.5, "stage": "canary", "event": "rollback",
                              "message": "v2 out", "numbers": {}}
    assert d["samples"][1] == {"time": 1.5, "canary_percent": 5.0, "error_rate": 0.2}
    path = tmp_path / "t.html"
    page = tl.to_html(path)
    assert path.read_text() == page
    assert page.count("<svg") == 2  # one chart per series
    assert "<script" not in page and "src=" not in page and "<link" not in page
    assert "1 rollback" in page and "burn | 30" in page


def test_timeline_rejects_bad_input():
    tl = Timeline()
    with pytest.raises(ValueError, match="one-line"):
        tl.add(0.0, "can\nary", "x")
    with pytest.raises(ValueError, match="non-empty"):
        tl.add(0.0, "canary", "")
    with pytest.raises(ValueError, match="finite"):
        tl.add(math.inf, "canary", "x")
    with pytest.raises(TypeError):
        tl.add(0.0, "canary", "x", burn="high")
    with pytest.raises(ValueError, match="at least one"):
        tl.sample(0.0)
    with pytest.raises(TypeError, match="on_event"):
        Timeline(on_event=3)
    assert tl.events == [] and tl.samples == []


# ----------------------------------------------------------------------------- state
def test_route_follows_in_canary_and_is_monotone():
    models = {"v1": "a", "v2": "b"}
    users = [f"user-{i}" for i in range(3000)]
    by_percent = {}
    for pct in (1, 5, 25, 100):
        s = RolloutState("v1", models, candidate="v2", percent=pct, seed=4)
        got = {u for u in users if s.route(u) == "v2"}
        assert got == {u for u in users if in_canary(u, pct, seed=4)}
        by_percent[pct] = got
    assert by_percent[1] <= by_percent[5] <= by_percent[25] <= by_percent[100]
    assert len(by_percent[100]) == 3000
    assert abs(len(by_percent[25]) - 750) < 100
    assert RolloutState("v1", models).route("user-1") == "v1"
    assert RolloutState("v1", models, candidate="v2", percent=0).route("user-1") == "v1"


def test_state_file_is_reread_when_replaced(tmp_path):
    path = tmp_path / "state.json"
    s = RolloutState("v1", {"v1": "a", "v2": "b"})
    s.write(path)
    reader = StateReader(path)
    assert reader.get() == s
    s2 = s.replace(candidate="v2", percent=5, params={"fault_rate": 0.3})
    assert s2.generation == 1
    s2.write(path)
    assert reader.get() == s2
    assert reader.get() is reader.get()  # not parsed again while unchanged
    path.write_text("{broken")  # a bad file keeps the last good state
    assert reader.get() == s2
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary left
    with pytest.raises(ValueError, match="not a rollout state"):
        StateReader(path).get()


@pytest.mark.parametrize("kwargs,exc,match", [
    ({"baseline": "v9"}, ValueError, "not in models"),
    ({"candidate": "v9"}, ValueError, "not in models"),
    ({"percent": 150}, ValueError, "between 0 and 100"),
    ({"percent": math.nan}, ValueError, "between 0 and 100"),
    ({"models": {"v1": 3}}, TypeError, "models"),
    ({"params": {"fault_rate": math.inf}}, ValueError, "finite"),
    ({"seed": -1}, ValueError, "seed"),
])
def test_state_rejects_bad_input(kwargs, exc, match):
    args = {"baseline": "v1", "models": {"v1": "a"}, **kwargs}
    with pytest.raises(exc, match=match):
        RolloutState(**args)


# ----------------------------------------------------------------------------- metrics
def test_serving_metrics_are_read_back_from_the_directory(tmp_path):
    from fastmlops.metrics import flush

    m = ServingMetrics("rollout_test", directory=tmp_path)
    for _ in range(7):
        m.call("v1", lambda: 1)
    for _ in range(3):
        with pytest.raises(ZeroDivisionError):
            m.call("v2", lambda: 1 / 0)
    m.call("v2", lambda: 2)
    flush()
    got = read_counts(tmp_path, "rollout_test")
    assert (got["v1"].requests, got["v1"].errors) == (7.0, 0.0)
    assert (got["v2"].requests, got["v2"].errors) == (4.0, 3.0)
    assert got["v2"].error_rate == 0.75
    assert got["v1"].latency_sum > 0
    assert read_counts(tmp_path, "other_prefix") == {}


def test_version_counts_difference():
    a, b = VersionCounts(10, 2, 0.5), VersionCounts(25, 2, 1.0)
    d = b.minus(a)
    assert (d.requests, d.errors, d.latency_sum) == (15, 0, 0.5)
    assert d.mean_latency == pytest.approx(0.5 / 15)
    assert VersionCounts().error_rate == 0.0


def test_bad_prefix_and_load_settings():
    with pytest.raises(ValueError, match="prefix"):
        read_counts(os.getcwd(), "bad prefix")
    with pytest.raises(ValueError, match="rate"):
        LoadGenerator(8080, lambda i: b"", rate=0)
    with pytest.raises(TypeError, match="callable"):
        LoadGenerator(8080, b"{}")
    with pytest.raises(ValueError, match="path"):
        LoadGenerator(8080, lambda i: b"", path="predict")


# ----------------------------------------------------------------------------- watcher
def test_watcher_turns_worker_counts_into_a_rollback(tmp_path):
    from datetime import timedelta

    from fastmlops.metrics import flush
    from fastmlops.rollout import Watcher
    from fastmlops.slo import BurnRateRule, SLOMonitor

    m = ServingMetrics("watch_test", directory=tmp_path)
    now = [100.0]
    rule = BurnRateRule("Page", "page", 14.4, timedelta(minutes=10), timedelta(minutes=2))
    tl, policy = Timeline(start=100.0), RolloutPolicy()
    w = Watcher(tmp_path, policy, tl, prefix="watch_test", clock=lambda: now[0],
                canary_policy=CanaryPolicy(stages=[Stage(5, 60, 10), Stage(100)]),
                slo_monitor=lambda t: SLOMonitor(0.99, rules=[rule], clock=lambda: now[0]))
    state = RolloutState("v1", {"v1": "a", "v2": "b"}, candidate="v2", percent=5)
    policy.gate(100.0, PASS)
    w.start_canary(100.0, "v2")
    for _ in range(95):
        m.call("v1", lambda: 1)
    for i in range(5):
        m.call("v2", lambda: 1)
    flush()
    now[0] = 102.0
    assert w.tick(102.0, state).action == "hold"
    assert tl.samples[-1][1] == {"canary_percent": 5.0, "baseline_rps": 47.5,
                                 "baseline_error_rate": 0.0, "candidate_rps": 2.5,
                                 "candidate_error_rate": 0.0, "burn_rate": 0.0}
    for i in range(10):
        with pytest.raises(RuntimeError):
            m.call("v2", lambda: (_ for _ in ()).throw(RuntimeError("fault")))
    flush()
    now[0] = 103.0
    d = w.tick(103.0, state)
    assert d.action == "rollback" and d.reason.startswith("SLO alert availability:Page")
    assert tl.samples[-1][1]["candidate_error_rate"] == 1.0
    assert [e.event for e in tl.events] == ["alert", "alert"]  # the check, then Page
    assert all(e.time == 3.0 for e in tl.events)
