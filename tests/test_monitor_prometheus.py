"""DriftMonitor and Prometheus: the exposition, promtool on the generated rules,
and a real Prometheus server scraping a 4-worker app whose alert fires when a
feature shifts (and not before)."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import time

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import fastmlops
from fastmlops.monitor import DriftMonitor
from tests._promserver import PrometheusServer, prometheus_binary, serve_registry


def _samples(reg: CollectorRegistry) -> dict:
    out = {}
    for fam in text_string_to_metric_families(generate_latest(reg).decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_exposition_answers_for_the_window():
    rng = np.random.default_rng(0)
    ref = fastmlops.DriftReference(rng.normal(size=(5000, 2)), columns=["age", "bmi"])
    reg = CollectorRegistry()
    m = DriftMonitor(ref, registry=reg, name="expo_drift", window=120, bucket=60)
    s = _samples(reg)
    assert s[("expo_drift_window_rows", ())] == 0
    assert s[("expo_drift_window_seconds", ())] == 120
    assert not any(k[0] == "expo_drift_psi" for k in s)
    cur = rng.normal(size=(3000, 2))
    cur[:, 1] += 1
    m.observe(cur)
    m.observe([0.0, "bad"])
    # a scrape reads the figures published last (the flusher's, at most once
    # per bucket, or report()'s), never computes: publish them first
    rep = m.report()
    s = _samples(reg)
    assert s[("expo_drift_window_rows", ())] == 3000
    assert s[("expo_drift_rows_total", ())] == 3000
    assert s[("expo_drift_rejected_rows_total", ())] == 1
    for j, col in enumerate(["age", "bmi"]):
        assert s[("expo_drift_psi", (("column", col),))] == rep.psi[j]
        assert s[("expo_drift_ks_pvalue", (("column", col),))] == rep.ks_pvalue[j]
    assert s[("expo_drift_verdict", (("column", "age"),))] == 0
    assert s[("expo_drift_verdict", (("column", "bmi"),))] == 2


def test_promtool_accepts_the_rules(tmp_path):
    promtool = prometheus_binary("promtool")
    ref = fastmlops.DriftReference(np.arange(100.0))
    m = DriftMonitor(ref, registry=None, name="rules_drift")
    for kwargs in ({}, {"pending": "10m", "min_rows": 500, "severity": "page"},
                   {"table": False}):
        path = tmp_path / "rules.yml"
        path.write_text(m.prometheus_rules(**kwargs))
        res = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr
    with pytest.raises(ValueError, match="duration"):
        m.prometheus_rules(pending="5 minutes")


class _RulesServer(PrometheusServer):
    """The test server, plus a rule file evaluated every second."""

    def __init__(self, *args, rules: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rules = rules

    def _write_config(self) -> None:
        super()._write_config()
        path = self.workdir / "rules.yml"
        path.write_text(self.rules)
        text = self.config.read_text().replace("evaluation_interval: 1m",
                                               "evaluation_interval: 1s")
        self.config.write_text(text + f"rule_files:\n  - {path}\n")


def _app(m: DriftMonitor, reg: CollectorRegistry, ports, shift, stop, seed: int) -> None:
    """One worker: serves the registry, observes one row per 'request'."""
    rng = np.random.default_rng(seed)
    with serve_registry(reg) as port:
        ports.put(port)
        while not stop.is_set():
            rows = rng.normal(size=(50, 3))
            if shift.is_set():
                rows[:, 1] += 3.0
            for row in rows.tolist():
                m.observe(row)
            time.sleep(0.02)
    m.flush()


def test_alert_fires_when_a_feature_shifts(tmp_path):
    prometheus_binary("prometheus")
    rng = np.random.default_rng(1)
    ref = fastmlops.DriftReference(rng.normal(size=(20_000, 3)), columns=["a", "b", "c"])
    reg = CollectorRegistry()
    m = DriftMonitor(ref, registry=reg, name="app_drift", window=60, bucket=60)
    ctx = mp.get_context("fork")
    ports, shift, stop = ctx.Queue(), ctx.Event(), ctx.Event()
    workers = [ctx.Process(target=_app, args=(m, reg, ports, shift, stop, i))
               for i in range(4)]
    for w in workers:
        w.start()
    try:
        targets = {f"w{i}": ports.get(timeout=60) for i in range(4)}
        rules = m.prometheus_rules(pending="2s", min_rows=200)
        with _RulesServer(tmp_path, targets, rules=rules) as prom:
            prom.wait_for_targets()
            alert = 'ALERTS{alertname="AppDriftFeatureDrift", alertstate="firing"}'
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:  # no shift: no alert
                assert prom.query(alert) == []
                time.sleep(0.5)
            rows = prom.query("max(app_drift_window_rows)")
            assert rows and float(rows[0]["value"][1]) >= 200
            # every worker answers for all: the four scrapes agree
            per = prom.query("app_drift_window_rows")
            assert len(per) == 4
            shift.set()
            deadline = time.monotonic() + 40
            fired = []
            while time.monotonic() < deadline and not fired:
                fired = prom.query(alert)
                time.sleep(0.5)
            assert fired, prom.log_tail()
            assert {r["metric"]["column"] for r in fired} == {"b"}
    finally:
        stop.set()
        for w in workers:
            w.join(30)
            if w.is_alive():  # pragma: no cover
                os.kill(w.pid, 9)
