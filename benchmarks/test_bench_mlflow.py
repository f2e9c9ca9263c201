"""MLflow logging benchmarks against a real ``mlflow server`` (SQLite backend).

Run with ``python -m pytest benchmarks/test_bench_mlflow.py --benchmark-enable``.

* ``mlflow-report``: logging one drift report of ``COLUMNS`` columns (1,000 by
  default; set ``FASTMLOPS_BENCH_MLFLOW_COLUMNS`` for a shorter run) with
  :func:`fastmlops.mlflow.log_report` (every value: metrics, tags, params, the
  JSON and HTML artifacts) against the naive loop of one ``log_metric`` call
  per metric value of the same report (metrics only: the naive side does
  less).  Each round logs to a fresh run.  At about 0.1 s per ``log_metric``
  call on a small machine the naive side of a 1,000-column report takes
  tens of minutes: it runs one round.
* ``mlflow-request``: what MLflow's SQL store costs per request (1 metric,
  1,000 metrics, 100 tags, 100 params in one ``log_batch``; one
  ``log_metric``; a 1 MB text artifact), the figures behind the packing of
  :func:`~fastmlops.mlflow.log_report`.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import fastmlops

mlflow = pytest.importorskip("mlflow")
fm = pytest.importorskip("fastmlops.mlflow")
from fastmlops.mlflow import _values  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402

from tests._mlflow_server import MlflowServer  # noqa: E402

COLUMNS = int(os.environ.get("FASTMLOPS_BENCH_MLFLOW_COLUMNS", "1000"))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with MlflowServer(tmp_path_factory.mktemp("mlflow-bench")) as server:
        yield MlflowClient(server.url)


@pytest.fixture(scope="module")
def experiment(client):
    return client.create_experiment(f"bench-{time.time_ns()}")


@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(1000, COLUMNS))
    cur = rng.normal(size=(500, COLUMNS))
    cur[:, : COLUMNS // 10] += 0.5
    return fastmlops.DriftReference(ref, columns=[f"feature_{j}" for j in range(COLUMNS)]
                                    ).check(cur)


def _new_run(client, experiment):
    def setup():
        return (client.create_run(experiment).info.run_id,), {}
    return setup


# --------------------------------------------------------------------------- report
@pytest.mark.benchmark(group="mlflow-report")
def test_fastmlops_log_report(benchmark, client, experiment, report):
    results = []

    def run(run_id):
        results.append(fm.log_report(report, run_id=run_id, client=client))

    benchmark.pedantic(run, setup=_new_run(client, experiment), rounds=3, iterations=1)
    logged = results[-1]
    benchmark.extra_info.update(columns=COLUMNS, metrics=len(logged.metrics),
                                tags=len(logged.tags), params=len(logged.params),
                                requests=logged.requests)
    got = client.get_run(logged.run_id).data.metrics
    assert all(got[k] == v or (np.isnan(v) and np.isnan(got[k]))
               for k, v in logged.metrics.items())


@pytest.mark.benchmark(group="mlflow-report")
def test_naive_log_metric_per_value(benchmark, client, experiment, report):
    # The same metric names and values log_report sends, one call each.
    values = _values.drift_entities(_values.drift_layout(report), "drift", "x.json")[0].metrics
    ts = int(time.time() * 1000)

    def run(run_id):
        for key, value in values.items():
            client.log_metric(run_id, key, value, timestamp=ts, step=0, synchronous=True)

    benchmark.pedantic(run, setup=_new_run(client, experiment), rounds=1, iterations=1)
    benchmark.extra_info.update(columns=COLUMNS, calls=len(values))


# --------------------------------------------------------------------------- per request
def _batch(client, experiment, benchmark, **kinds):
    counter = iter(range(10**9))

    def setup():
        r = next(counter)
        ts = 1_700_000_000_000 + r
        m = [Metric(f"m{i}", float(i), ts, 0) for i in range(kinds.get("metrics", 0))]
        p = [Param(f"p{r}_{i}", "v" * 10) for i in range(kinds.get("params", 0))]
        t = [RunTag(f"t{i}", f"v{r}") for i in range(kinds.get("tags", 0))]
        return (client.create_run(experiment).info.run_id, m, p, t), {}

    def run(run_id, m, p, t):
        client.log_batch(run_id, metrics=m, params=p, tags=t, synchronous=True)

    benchmark.pedantic(run, setup=setup, rounds=10, iterations=1)


@pytest.mark.benchmark(group="mlflow-request")
def test_request_1_metric(benchmark, client, experiment):
    _batch(client, experiment, benchmark, metrics=1)


@pytest.mark.benchmark(group="mlflow-request")
def test_request_1000_metrics(benchmark, client, experiment):
    _batch(client, experiment, benchmark, metrics=1000)


@pytest.mark.benchmark(group="mlflow-request")
def test_request_100_tags(benchmark, client, experiment):
    _batch(client, experiment, benchmark, tags=100)


@pytest.mark.benchmark(group="mlflow-request")
def test_request_100_params(benchmark, client, experiment):
    _batch(client, experiment, benchmark, params=100)


def _numbered(benchmark, call, rounds):
    """Time ``call(i)`` with a fresh ``i`` per round (new metric / artifact names)."""
    counter = iter(range(10**9))
    benchmark.pedantic(lambda: call(next(counter)), rounds=rounds, iterations=1)


@pytest.mark.benchmark(group="mlflow-request")
def test_request_log_metric(benchmark, client, experiment):
    run_id = client.create_run(experiment).info.run_id
    _numbered(benchmark, lambda i: client.log_metric(run_id, f"m{i}", 1.0, synchronous=True),
              rounds=20)


@pytest.mark.benchmark(group="mlflow-request")
def test_request_1mb_artifact(benchmark, client, experiment):
    run_id = client.create_run(experiment).info.run_id
    text = "x" * 1_000_000
    _numbered(benchmark, lambda i: client.log_text(run_id, text, f"blob{i}.txt"), rounds=5)
