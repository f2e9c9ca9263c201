"""fastmlops.mlflow against a real ``mlflow server`` (SQLite backend) started here.

Everything logged is read back through ``MlflowClient``: every metric value,
steps in order, params, tags, artifacts downloaded.  Faults come from a proxy
in front of the real server (refused or stalled ``log-batch`` requests) and
from a port nobody listens on.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastmlops
from fastmlops import abtest, slo
from fastmlops.fingerprint import ModelVersion, hash_tree
from tests._mlflow_server import FaultyProxy, MlflowServer, dead_url

mlflow = pytest.importorskip("mlflow")
fm = pytest.importorskip("fastmlops.mlflow")
from fastmlops.mlflow import _values  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.utils import validation as mv  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with MlflowServer(tmp_path_factory.mktemp("mlflow-server")) as s:
        yield s


@pytest.fixture(scope="module")
def client(server):
    return MlflowClient(server.url)


@pytest.fixture(scope="module")
def experiment(client):
    return client.create_experiment(f"tests-{time.time_ns()}")


@pytest.fixture
def run_id(client, experiment):
    return client.create_run(experiment).info.run_id


@pytest.fixture
def quick_failure(monkeypatch):
    """MLflow's client gives up at once (no retries, 2 s timeout)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")


def _awkward_columns(n: int) -> list[str]:
    """Mostly plain names, plus every kind that needs a key of its own."""
    special = ["a/b", "a_b", "summary", "rule", "summary.x", "", " ", "ünï çödé", "x" * 300,
               "x" * 299 + "y", "col:1", "col_1", "a_b-" + "0" * 8, "..", "drift"]
    return special + [f"f{j}" for j in range(n - len(special))]


@pytest.fixture(scope="module")
def wide_report():
    """A 1,200-column report: more metrics than one request takes, >100 tags."""
    rng = np.random.default_rng(42)
    names = _awkward_columns(1200)
    ref = rng.normal(size=(300, len(names)))
    cur = rng.normal(size=(200, len(names)))
    cur[:, :40] += 1.0  # some drift
    cur[:10, 50] = np.nan
    return fastmlops.DriftReference(ref, columns=names).check(cur)


def _records(report) -> list[dict]:
    return report.to_records()


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(b):  # MLflow's SQL store keeps +-inf as +-max float
        return a == math.copysign(sys.float_info.max, b)
    return a == b


def _history(client, run_id, key):
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


# --------------------------------------------------------------------------- import rules
def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_importing_fastmlops_never_imports_mlflow():
    r = _python("import sys, fastmlops, fastmlops.mlflow\n"
                "fastmlops.mlflow.column_keys(['a/b'])\n"
                "assert 'fastmlops.mlflow' in sys.modules\n"
                "print('mlflow' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_missing_mlflow_names_the_extra():
    r = _python("import sys\nsys.modules['mlflow'] = None\n"
                "import numpy as np, fastmlops, fastmlops.mlflow\n"
                "rep = fastmlops.DriftReference(np.arange(10.0)).check(np.arange(10.0))\n"
                "try:\n    fastmlops.mlflow.log_report(rep, run_id='x')\n"
                "except ImportError as e:\n    print(e)\n")
    assert r.returncode == 0, r.stderr
    assert "pip install 'fastmlops[mlflow]'" in r.stdout


def test_limits_are_mlflows():
    assert fm.MAX_METRICS_PER_REQUEST == mv.MAX_METRICS_PER_BATCH
    assert fm.MAX_PARAMS_PER_REQUEST == mv.MAX_PARAMS_TAGS_PER_BATCH
    assert fm.MAX_TAGS_PER_REQUEST == mv.MAX_PARAMS_TAGS_PER_BATCH
    assert fm.MAX_ENTITIES_PER_REQUEST == mv.MAX_ENTITIES_PER_BATCH
    assert fm.MAX_KEY_LENGTH == mv.MAX_ENTITY_KEY_LENGTH
    assert fm.MAX_PARAM_VALUE_LENGTH == mv.MAX_PARAM_VAL_LENGTH
    assert fm.MAX_TAG_VALUE_LENGTH == mv.MAX_TAG_VAL_LENGTH
    assert fm.MAX_REQUEST_BYTES < mv.MAX_BATCH_LOG_REQUEST_SIZE


# --------------------------------------------------------------------------- names
def _valid_metric_name(name: str) -> None:
    mv._validate_metric(name, 1.0, 0, 0)  # raises MlflowException when MLflow refuses it


_NAMES = st.one_of(
    st.text(max_size=300),
    st.builds(lambda a, b: a + b, st.sampled_from(["summary", "rule.", "sizes.", "a/b", "a_b",
                                                   "x" * 200, "-", "."]),
              st.text(alphabet="._-/:ab", max_size=12)))


@given(st.lists(_NAMES, max_size=40))
def test_column_keys_are_valid_distinct_and_stable(names):
    keys = fm.column_keys(names)
    assert list(keys) == list(dict.fromkeys(names))
    assert len(set(keys.values())) == len(keys)
    longest = "x" * (fm.FIELD_ROOM - 1)
    for name, key in keys.items():
        _valid_metric_name(f"drift.{key}.{longest}")
        assert key not in _values._RESERVED
        if (name and len(name) <= 250 - 8 - fm.FIELD_ROOM
                and _values._BAD_CHARS.search(name) is None
                and not any(name == r or name.startswith(r + ".") for r in _values._RESERVED)):
            assert key == name  # valid names are kept
    assert fm.column_keys(names) == keys


def test_column_keys_known_cases():
    keys = fm.column_keys(["a/b", "a_b", "summary", "", "col:1", "rule.alpha"])
    assert keys["a_b"] == "a_b"
    assert keys["a/b"] == "a_b-" + __import__("hashlib").sha256(b"a/b").hexdigest()[:8]
    assert keys["summary"].startswith("summary-")
    assert keys[""].startswith("-") and len(keys[""]) == 9
    assert keys["col:1"].startswith("col_1-")
    assert keys["rule.alpha"].startswith("_rule.alpha-")
    # A name that is literally another column's hashed key keeps itself; the
    # changed one moves aside with its position.
    clash = fm.column_keys(["a/b", keys["a/b"]])
    assert clash[keys["a/b"]] == keys["a/b"]
    assert clash["a/b"] == keys["a/b"] + "-0"
    with pytest.raises(ValueError, match="prefix"):
        fm.column_keys(["a"], prefix="bad/prefix")


@given(st.integers(0, 2600), st.integers(0, 250), st.integers(0, 350),
       st.sampled_from([1, 500, 7000]))
def test_plan_respects_every_limit_and_keeps_everything(n_metrics, n_params, n_tags, width):
    metrics = [Metric(f"m{i}", float(i), 0, 0) for i in range(n_metrics)]
    params = [Param(f"p{i}", "v" * min(width, 6000)) for i in range(n_params)]
    tags = [RunTag(f"t{i}", "v" * width) for i in range(n_tags)]
    plan = _values.plan(metrics, params, tags)
    for m, p, t in plan:
        mv._validate_batch_log_limits(m, p, t)
        body = json.dumps({"run_id": "0" * 32,
                           "metrics": [{"key": e.key, "value": e.value, "timestamp": 0,
                                        "step": 0} for e in m],
                           "params": [{"key": e.key, "value": e.value} for e in p],
                           "tags": [{"key": e.key, "value": e.value} for e in t]})
        mv._validate_batch_log_api_req(body)
        assert m or p or t
    assert [e for r in plan for e in r[0]] == metrics
    assert [e for r in plan for e in r[1]] == params
    assert [e for r in plan for e in r[2]] == tags


# --------------------------------------------------------------------------- drift reports
def test_drift_report_every_value_read_back(client, run_id, wide_report, tmp_path):
    logged = fm.log_report(wide_report, run_id=run_id, client=client)
    assert logged.requests >= 13  # > 1,000 metrics and > 100 tags: chunked
    run = client.get_run(run_id)
    metrics, tags, params = run.data.metrics, run.data.tags, run.data.params
    # Every value of the report, found independently from to_records().
    keys = fm.column_keys(wide_report.columns)
    assert logged.keys == keys
    fields = ("ks_statistic", "ks_pvalue", "psi", "kl", "jsd", "nan_share",
              "reference_nan_share")
    n_checked = 0
    for rec in _records(wide_report):
        key = keys[rec["column"]]
        for f in fields:
            assert _same(metrics[f"drift.{key}.{f}"], rec[f]), (rec["column"], f)
            n_checked += 1
        assert tags[f"drift.{key}.verdict"] == rec["verdict"]
        assert tags[f"drift.{key}.psi_tier"] == rec["psi_verdict"]
        if key != rec["column"]:
            assert tags[f"drift.{key}.name"] == rec["column"]
        else:
            assert f"drift.{key}.name" not in tags
    assert n_checked == 7 * 1200
    assert metrics["drift.summary.n_columns"] == 1200
    assert metrics["drift.summary.n_drift"] == wide_report.n_drifted
    assert metrics["drift.summary.share_drifted"] == wide_report.share_drifted
    assert tags["drift.verdict"] == wide_report.verdict
    assert tags["drift.status"] == "complete"
    assert params["drift.rule.alpha"] == str(wide_report.alpha)
    # Nothing more, nothing less than what log_report says it sent.
    assert {k: v for k, v in metrics.items() if k.startswith("drift.")}.keys() \
        == logged.metrics.keys()
    assert all(_same(metrics[k], v) for k, v in logged.metrics.items())
    assert {k for k in tags if k.startswith("drift.")} == set(logged.tags) | {"drift.status"}
    # One timestamp for the whole report.
    assert {client.get_metric_history(run_id, k)[0].timestamp
            for k in list(logged.metrics)[:: 400]} == {logged.timestamp}
    # The JSON artifact downloads and holds the same numbers.
    path = client.download_artifacts(run_id, "fastmlops/drift_report.json", str(tmp_path))
    data = json.loads(Path(path).read_text())
    assert data["format"] == "fastmlops.drift_report" and len(data["columns"]) == 1200
    by_name = {c["name"]: c for c in data["columns"]}
    if hasattr(wide_report, "to_html"):  # the HTML report, once it exists
        path = client.download_artifacts(run_id, "fastmlops/drift_report.html", str(tmp_path))
        assert Path(path).read_text(encoding="utf-8") == wide_report.to_html()
    for rec in _records(wide_report)[:50]:
        for f in ("ks_pvalue", "psi"):
            want = rec[f] if math.isfinite(rec[f]) else None
            assert by_name[rec["column"]][f] == want


def test_steps_in_order_and_retry_does_not_duplicate(client, run_id):
    rng = np.random.default_rng(1)
    ref = fastmlops.DriftReference(rng.normal(size=(500, 2)), columns=["a", "b"])
    reports = [ref.check(rng.normal(loc=0.3 * s, size=(300, 2))) for s in range(4)]
    for step in (0, 2, 1, 3):  # logged out of order
        fm.log_report(reports[step], run_id=run_id, client=client, step=step,
                      timestamp=1_700_000_000_000 + step)
    again = fm.log_report(reports[3], run_id=run_id, client=client, step=3,
                          timestamp=1_700_000_000_003)  # an exact retry
    hist = _history(client, run_id, "drift.a.ks_statistic")
    hist.sort()
    assert [s for s, _ in hist] == [0, 1, 2, 3]
    assert [v for _, v in hist] == [float(r.ks_statistic[0]) for r in reports]
    arts = {f.path for f in client.list_artifacts(run_id, "fastmlops")}
    assert {"fastmlops/drift_report.json", "fastmlops/drift_report_step1.json",
            "fastmlops/drift_report_step3.json"} <= arts
    html = ["fastmlops/drift_report_step3.html"] if hasattr(reports[3], "to_html") else []
    assert again.artifacts == ["fastmlops/drift_report_step3.json"] + html
    assert set(again.artifacts) <= arts


def test_active_run_is_the_default(server):
    mlflow.set_tracking_uri(server.url)
    try:
        report = fastmlops.DriftReference(np.arange(100.0), columns=["v"]).check(
            np.arange(50.0))
        with pytest.raises(ValueError, match="no active MLflow run"):
            fm.log_report(report)
        with mlflow.start_run() as run:
            logged = fm.log_report(report, prefix="drift.train")
        assert logged.run_id == run.info.run_id
        got = MlflowClient(server.url).get_run(run.info.run_id).data
        assert got.metrics["drift.train.v.ks_statistic"] == float(report.ks_statistic[0])
        assert got.tags["drift.train.status"] == "complete"
    finally:
        mlflow.set_tracking_uri(None)


def test_to_dict_layout_is_walked_generically(client, run_id):
    """A report with to_dict() (the documented layout) logs every field of it."""
    class Layout:
        column_verdict = ["drift", "ok"]

        def to_dict(self):
            col = {"name": "c/1", "kind": "categorical", "verdict": "drift",
                   "reasons": ["chi2", "unseen"], "explanation": "New values appeared.",
                   "n_reference": 10, "n_current": 8, "pvalue": 0.001, "ks_statistic": None,
                   "chi2_statistic": 12.5, "chi2_dof": 3, "psi": math.inf,
                   "psi_tier": "major", "nan_share": 0.0, "other": True,
                   "unseen": {"count": 3, "share": 0.375, "distinct": 2, "examples": ["x"]},
                   "plot": {"categories": ["a"]}}
            ok = {"name": "n", "kind": "numeric", "verdict": "ok", "reasons": [],
                  "explanation": "", "pvalue": 0.5, "unseen": None, "plot": {}}
            return {"format": "fastmlops.drift_report", "version": 1, "verdict": "watch",
                    "summary": {"n_columns": 2, "n_drift": 1, "drifted": False,
                                "reasons": {"chi2": 1, "unseen": 1}},
                    "sizes": {"reference_rows": 10, "current_rows": 8},
                    "reference": {"digest": "abc", "n_rows": 10},
                    "rule": {"alpha": 0.01, "correction": "holm", "text": "A column drifts."},
                    "columns": [col, ok]}

        def to_json(self):
            return json.dumps({"stand-in": True})

        def to_html(self):
            return "<html><body>report</body></html>"

    logged = fm.log_report(Layout(), run_id=run_id, client=client)
    key = logged.keys["c/1"]
    data = client.get_run(run_id).data
    m, t, p = data.metrics, data.tags, data.params
    assert m[f"drift.{key}.chi2_statistic"] == 12.5 and m[f"drift.{key}.chi2_dof"] == 3
    assert m[f"drift.{key}.psi"] == sys.float_info.max
    assert m[f"drift.{key}.other"] == 1.0
    assert m[f"drift.{key}.unseen_count"] == 3 and m[f"drift.{key}.unseen_share"] == 0.375
    assert f"drift.{key}.ks_statistic" not in m  # null: not applicable
    assert t[f"drift.{key}.reasons"] == "chi2,unseen"
    assert t[f"drift.{key}.explanation"] == "New values appeared."
    assert "drift.n.reasons" not in t and t["drift.n.verdict"] == "ok"
    assert m["drift.summary.reasons.chi2"] == 1 and m["drift.summary.drifted"] == 0
    assert m["drift.sizes.reference_rows"] == 10 and m["drift.reference.n_rows"] == 10
    assert t["drift.reference.digest"] == "abc"
    assert p["drift.rule.correction"] == "holm" and p["drift.rule.text"] == "A column drifts."
    assert logged.artifacts == ["fastmlops/drift_report.json", "fastmlops/drift_report.html"]
    arts = {f.path for f in client.list_artifacts(run_id, "fastmlops")}
    assert set(logged.artifacts) <= arts


# --------------------------------------------------------------------------- SLO and A/B
def test_slo_status_and_burn_rates(client, run_id):
    clock = [1_000_000.0]
    mon = slo.SLOMonitor(availability_objective=0.99, latency_threshold_ms=200,
                         clock=lambda: clock[0])
    for i in range(500):
        mon.record(50 + i % 300, success=i % 20 != 0)
    status = mon.evaluate()
    logged = fm.log_report(status, run_id=run_id, client=client)
    m = client.get_run(run_id).data.metrics
    assert m["slo.availability"] == status.availability and m["slo.total"] == 500
    assert m["slo.alerts"] == len(status.alerts)
    for sli, rates in status.burn_rates.items():
        for w, r in rates.items():
            assert m[f"slo.burn_rate.{sli}.{_values._window_label(w)}"] == r
    assert "slo.burn_rate.availability.1h" in logged.metrics
    good = np.full(120, 990)
    total = np.full(120, 1000)
    good[100:] = 900
    rates = slo.burn_rates(good, total, 0.999, windows=[timedelta(minutes=5), 60])
    fm.log_report(rates, run_id=run_id, client=client, prefix="slo.api")
    hist = _history(client, run_id, "slo.api.burn_rate.5m")
    assert [s for s, _ in hist] == list(range(120))
    assert [v for _, v in hist] == rates.rates[0].tolist()


def test_abtest_results(client, run_id):
    z = abtest.proportions_ztest(120, 1000, 150, 1000)
    ci = abtest.lift_confint(120, 1000, 150, 1000)
    seq = abtest.sequential_test(np.array([10, 25, 40]), np.array([100, 200, 300]),
                                 np.array([15, 35, 60]), np.array([100, 200, 300]))
    fm.log_report(z, run_id=run_id, client=client, prefix="ab.z")
    fm.log_report(ci, run_id=run_id, client=client, prefix="ab.ci")
    fm.log_report(seq, run_id=run_id, client=client, prefix="ab.seq")
    data = client.get_run(run_id).data
    assert data.metrics["ab.z.pvalue"] == z.pvalue
    assert data.metrics["ab.z.statistic"] == z.statistic
    assert data.metrics["ab.ci.low"] == ci.low and data.tags["ab.ci.method"] == ci.method
    assert data.metrics["ab.seq.stopped_at"] == seq.stopped_at
    assert [v for _, v in sorted(_history(client, run_id, "ab.seq.pvalues"))] \
        == seq.pvalues.tolist()
    assert data.tags["ab.seq.result"] == "SequentialResult"
    with pytest.raises(ValueError, match="step= must be 0"):
        fm.log_report(seq, run_id=run_id, client=client, step=2)


def test_bad_arguments(client, run_id, wide_report):
    with pytest.raises(TypeError, match="DriftReport"):
        fm.log_report({"a": 1}, run_id=run_id, client=client)
    for bad in (1.5, True, "3"):
        with pytest.raises(ValueError, match="step"):
            fm.log_report(wide_report, run_id=run_id, client=client, step=bad)
    with pytest.raises(ValueError, match="timestamp"):
        fm.log_report(wide_report, run_id=run_id, client=client, timestamp=-1)
    with pytest.raises(ValueError, match="artifact_path"):
        fm.log_report(wide_report, run_id=run_id, client=client, artifact_path="../x")
    with pytest.raises(TypeError, match="MlflowClient"):
        fm.log_report(wide_report, run_id=run_id, client=object())


# --------------------------------------------------------------------------- model versions
def test_model_version_read_back(client, run_id, tmp_path):
    weights = tmp_path / "weights"
    data = tmp_path / "data"
    for d, n in ((weights, 2), (data, 3)):
        d.mkdir()
        for i in range(n):
            (d / f"part{i}.bin").write_bytes(os.urandom(1000 + i))
    hyper = {"learning_rate": 0.001, "batch_size": 32, "epochs": 10, "optimizer": "Adam",
             "schedule": {"warmup": 100, "kind": "cosine"}, "layers": [64, 32],
             "bad/name": 1}
    version = ModelVersion.create(weights=weights, data=data, hyperparameters=hyper, seed=7)
    # The caller already logged the same hyper-parameters the usual way: no conflict.
    client.log_batch(run_id, params=[Param("learning_rate", "0.001"), Param("epochs", "10")])
    logged = fm.log_model_version(version, run_id=run_id, client=client,
                                  weights_manifest=hash_tree(weights),
                                  data_manifest=hash_tree(data), dataset_name="train")
    run = client.get_run(run_id)
    p, t = run.data.params, run.data.tags
    assert p["learning_rate"] == "0.001" and p["batch_size"] == "32"
    assert p["optimizer"] == "Adam" and p["schedule.warmup"] == "100"
    assert p["layers"] == "[64, 32]" and p["fastmlops.seed"] == "7"
    assert p[logged.keys["bad/name"]] == "1" and logged.keys["bad/name"] != "bad/name"
    assert t["fastmlops.weights"] == version.weights and t["fastmlops.data"] == version.data
    assert t["fastmlops.version_digest"] == version.digest
    assert t["fastmlops.environment_digest"] == version.environment_digest
    assert t["fastmlops.env.python"] == version.environment["python"]
    assert t["fastmlops.version.status"] == "complete"
    got = client.download_artifacts(run_id, "fastmlops/model_version.json", str(tmp_path))
    assert ModelVersion.load(got) == version
    got = client.download_artifacts(run_id, "fastmlops/data_manifest.json", str(tmp_path))
    assert fastmlops.Manifest.load(got) == hash_tree(data)
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1
    ds = inputs[0].dataset
    assert ds.name == "train" and ds.digest == version.data.split(":")[1][:36]
    assert json.loads(ds.source) == {"fingerprint": version.data}
    assert json.loads(ds.profile) == {"files": 3, "total_size": hash_tree(data).total_size}
    assert {(x.key, x.value) for x in inputs[0].tags} == {("mlflow.data.context", "training")}
    with pytest.raises(ValueError, match="not the manifest"):
        fm.log_model_version(version, run_id=run_id, client=client,
                             weights_manifest=hash_tree(data))
    with pytest.raises(TypeError, match="ModelVersion"):
        fm.log_model_version(version.to_dict(), run_id=run_id, client=client)


# --------------------------------------------------------------------------- faults
def test_server_down_is_a_clear_error(quick_failure, wide_report):
    down = MlflowClient(dead_url())
    t0 = time.monotonic()
    with pytest.raises(fm.MlflowLogError, match="nothing of the drift report was logged") as e:
        fm.log_report(wide_report, run_id="0" * 32, client=down)
    assert time.monotonic() - t0 < 30
    assert e.value.written == 0 and e.value.status_tag == "drift.status"
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" in str(e.value)


def test_failure_midway_is_never_silent_and_a_retry_completes(
        quick_failure, server, client, run_id, wide_report):
    with FaultyProxy(server.url, fail_after=3) as proxy:
        with pytest.raises(fm.MlflowLogError, match="3 of .* requests were written") as e:
            fm.log_report(wide_report, run_id=run_id, client=MlflowClient(proxy.url))
    assert proxy.forwarded_batches == 3 and e.value.written == 3
    run = client.get_run(run_id)
    assert run.data.tags["drift.status"] == "incomplete"
    n_before = sum(k.startswith("drift.") for k in run.data.metrics)
    assert 0 < n_before < 1200 * 7
    # Retrying with the error's timestamp completes it; no metric is doubled.
    logged = fm.log_report(wide_report, run_id=run_id, client=client,
                           timestamp=e.value.timestamp)
    run = client.get_run(run_id)
    assert run.data.tags["drift.status"] == "complete"
    assert {k for k in run.data.metrics if k.startswith("drift.")} == set(logged.metrics)
    for key in list(logged.metrics)[:: 250]:
        assert len(client.get_metric_history(run_id, key)) == 1


def test_slow_server_times_out_clearly(quick_failure, server, run_id, wide_report):
    with FaultyProxy(server.url, fail_after=0, delay=20) as proxy:
        t0 = time.monotonic()
        with pytest.raises(fm.MlflowLogError, match="nothing of the drift report") as e:
            fm.log_report(wide_report, run_id=run_id, client=MlflowClient(proxy.url))
        elapsed = time.monotonic() - t0
    assert elapsed < 15, elapsed
    assert "timed out" in str(e.value).lower() or "timeout" in str(e.value).lower()


def test_mlflow_retries_a_server_that_recovers(monkeypatch, server, client, run_id,
                                               wide_report):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")
    with FaultyProxy(server.url, fail_after=1, fail_count=2) as proxy:
        logged = fm.log_report(wide_report, run_id=run_id, client=MlflowClient(proxy.url))
    assert proxy.refused_batches == 2
    assert proxy.forwarded_batches == logged.requests
    assert client.get_run(run_id).data.tags["drift.status"] == "complete"


# --------------------------------------------------------------------------- example
def test_sweep_example_against_the_server(server, client, tmp_path):
    spec = importlib.util.spec_from_file_location("mlflow_sweep",
                                                  ROOT / "examples" / "mlflow_sweep.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    result = example.main(server.url, str(tmp_path))
    assert set(result["runs"]) == {0.001, 0.01, 0.1}
    finals = {}
    for lr, rid in result["runs"].items():
        run = client.get_run(rid)
        assert run.info.status == "FINISHED"
        assert run.data.params["learning_rate"] == str(lr)
        assert run.data.params["optimizer"] == "Adam"
        for key in ("train_loss", "val_acc"):
            hist = client.get_metric_history(rid, key)
            assert sorted(m.step for m in hist) == list(range(1, 11))
            assert all(m.timestamp > 1_600_000_000_000 for m in hist)
        finals[lr] = max(client.get_metric_history(rid, "val_acc"), key=lambda m: m.step).value
        assert run.data.tags["fastmlops.version.status"] == "complete"
        assert run.data.tags["drift.status"] == "complete"
    assert finals[result["best_lr"]] == max(finals.values())
    mv_ = client.get_model_version(result["model_name"], result["model_version"])
    assert mv_.run_id == result["best_run_id"]
    files = client.list_artifacts(result["best_run_id"], "model")
    assert [f.path for f in files] == ["model/weights.npy"]


def test_sweep_example_marks_a_failed_run(server, client, tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("mlflow_sweep2",
                                                  ROOT / "examples" / "mlflow_sweep.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)

    def broken(*args, **kwargs):
        raise RuntimeError("diverged")

    monkeypatch.setattr(example, "train", broken)
    exp = client.create_experiment(f"failing-{time.time_ns()}")
    with pytest.raises(RuntimeError, match="diverged"):
        example.run_one(client, exp, 0.1, tmp_path, example.make_data(), tmp_path / "d.npz")
    runs = client.search_runs([exp])
    assert [r.info.status for r in runs] == ["FAILED"]


# --------------------------------------------------------------------------- gate reports
def _gate_report():
    from fastmlops.gate.report import gate_report

    rng = np.random.default_rng(11)
    n = 3000
    y = rng.integers(0, 2, n)
    country = rng.choice(["de", "fr", "us/ca", "summary"], n)  # "/" and a reserved word
    noise = rng.normal(0, 1.2, n)
    noise[(country == "fr") & (y == 1)] -= 1.5
    old = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(0, 1.5, n))))
    new = 1 / (1 + np.exp(-(2 * y - 1 + noise)))
    return gate_report(y, old, new, metrics=("roc_auc", "log_loss"), margin=0.01,
                       groups=country, names=("model-v1", "model-v2"), slice_name="country")


def test_gate_report_read_back(client, run_id, tmp_path):
    report = _gate_report()
    assert report.decision == "fail" and report.failed_slices == ["fr"]
    logged = fm.log_report(report, run_id=run_id, client=client)
    run = client.get_run(run_id)
    metrics, tags, params = run.data.metrics, run.data.tags, run.data.params
    assert tags["gate.decision"] == "fail" and tags["gate.status"] == "complete"
    assert tags["gate.baseline"] == "model-v1" and tags["gate.candidate"] == "model-v2"
    assert tags["gate.failed_slices"] == "fr"
    assert tags["gate.format"] == "fastmlops.gate_report/1"
    assert metrics["gate.passed"] == 0.0 and metrics["gate.n_rows"] == 3000
    for m in report.metrics:
        c = m.comparison
        base = f"gate.{c.metric}"
        assert metrics[f"{base}.baseline"] == c.baseline
        assert metrics[f"{base}.candidate"] == c.candidate
        assert metrics[f"{base}.difference"] == c.difference
        assert metrics[f"{base}.difference_interval.low"] == c.difference_interval.low
        assert metrics[f"{base}.candidate_interval.high"] == c.candidate_interval.high
        assert metrics[f"{base}.pvalue"] == c.pvalue
        assert tags[f"{base}.decision"] == m.decision and tags[f"{base}.test"] == c.test
        assert tags[f"{base}.why"] == m.why
    assert params["gate.rule.hypothesis"] == "non-inferiority"
    assert params["gate.rule.metrics"] == "roc_auc,log_loss"
    # slices: keys valid for MLflow, the original names kept in logged.keys
    assert set(logged.keys) == {"de", "fr", "us/ca", "summary"}
    assert logged.keys["de"] == "de" and logged.keys["summary"] == "summary"
    odd = logged.keys["us/ca"]
    assert "/" not in odd and tags[f"gate.slices.{odd}.name"] == "us/ca"
    assert "gate.slices.de.name" not in tags
    fr = logged.keys["fr"]
    assert metrics[f"gate.roc_auc.slices.{fr}.flagged"] == 1.0
    j = report.slice_groups.index("fr")
    assert metrics[f"gate.roc_auc.slices.{fr}.pvalue_adjusted"] == \
        report.metrics[0].slice_pvalues_adjusted[j]
    assert {k for k in metrics if k.startswith("gate.")} == set(logged.metrics)
    assert logged.artifacts == ["fastmlops/gate_report.json", "fastmlops/gate_report.html"]
    path = client.download_artifacts(run_id, "fastmlops/gate_report.json", str(tmp_path))
    assert json.loads(Path(path).read_text()) == report.to_dict()
    path = client.download_artifacts(run_id, "fastmlops/gate_report.html", str(tmp_path))
    assert "✗ FAIL" in Path(path).read_text(encoding="utf-8")
