""":func:`log_report`: a drift report, an SLO status, burn rates or an A/B
test result as metrics, params, tags and artifacts of an MLflow run (the
names are documented in :mod:`fastmlops.mlflow`)."""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, cast

from fastmlops.mlflow._client import (
    LoggedValues,
    artifact_name,
    check_artifact_path,
    check_step,
    check_timestamp,
    client_and_run,
    send,
    uploads,
)
from fastmlops.mlflow._gate import gate_entities, gate_layout, is_gate_report
from fastmlops.mlflow._values import (
    Entities,
    burn_rates_series,
    check_prefix,
    drift_entities,
    drift_layout,
    is_drift_report,
    jsonable,
    result_entities,
    slo_status_dict,
    slo_status_entities,
)

if TYPE_CHECKING:  # MLflow is imported on first use
    from mlflow import MlflowClient

    from fastmlops._core.results import TupleResult
    from fastmlops.abtest import (
        ConfidenceInterval,
        PeekingResult,
        SequentialResult,
        SimulatedPower,
        ZTestResult,
    )
    from fastmlops.drift import DriftReport
    from fastmlops.gate.report import GateReport
    from fastmlops.slo import BurnRates, SLOStatus

    #: What :func:`log_report` takes (told apart by their attributes).
    Report = (DriftReport | GateReport | SLOStatus | BurnRates | ZTestResult | ConfidenceInterval
              | SimulatedPower | SequentialResult | PeekingResult)


def log_report(report: Report, *, run_id: str | None = None, prefix: str | None = None,
               step: int = 0, timestamp: int | None = None, artifact_path: str = "fastmlops",
               client: MlflowClient | None = None) -> LoggedValues:
    """Log a drift report (or an SLO / A/B test result) to an MLflow run.

    Every value of the report is logged (see the module documentation for the
    names), chunked under MLflow's per-request limits, with one timestamp;
    the report's JSON (and HTML, when it has ``to_html()``) is uploaded as
    artifacts.  Accepted reports:

    * :class:`~fastmlops.DriftReport` (prefix ``"drift"``);
    * a model-quality gate report, :class:`fastmlops.gate.report.GateReport`
      (prefix ``"gate"``): tags ``gate.decision`` ("pass"/"fail"),
      ``gate.baseline`` and ``gate.candidate`` (the models' names),
      ``gate.failed_metrics``, ``gate.failed_slices``; per metric
      ``gate.<metric>.baseline``, ``.candidate``, ``.difference`` (and each
      ``<figure>_interval.low``/``.high``), ``.pvalue``, ``.pvalue_adjusted``,
      ``.power``, ``.se``, ``.margin``, ``.passed`` as metrics and
      ``.decision``, ``.test``, ``.why`` as tags; per slice
      ``gate.<metric>.slices.<slice>.difference``, ``.pvalue_adjusted``,
      ``.flagged`` (a slice value that is not a valid name gets a key as
      drift columns do, and the tag ``gate.slices.<key>.name``); the rule
      as params ``gate.rule.*``; the JSON and HTML
      as ``fastmlops/gate_report.json`` / ``.html``;
    * :class:`~fastmlops.slo.SLOStatus` (prefix ``"slo"``): ``good``,
      ``total``, ``availability``, ``latency``, ``burn_rate.<sli>.<window>``
      (``1h``, ``5m``, ``3d``), ``budget_remaining.<sli>``, ``alerts``
      (count) as metrics; ``ok``, ``check_line``, ``alert_names`` as tags;
    * :class:`~fastmlops.slo.BurnRates` (prefix ``"slo"``): one metric
      ``burn_rate.<window>`` per window, its history by minute (``step`` =
      minute index);
    * the results of :mod:`fastmlops.abtest` (``ZTestResult``,
      ``ConfidenceInterval``, ``SimulatedPower``, ``SequentialResult``,
      ``PeekingResult``; prefix ``"abtest"``): each field a metric (a
      ``(low, high)`` interval as ``.low`` / ``.high``, text as a tag), and
      array fields as one metric series each (``step`` = position, e.g. the
      look of a sequential test).

    Parameters
    ----------
    report : DriftReport, GateReport, SLOStatus, BurnRates or an abtest result
    run_id : str, optional
        The run to log to; default the active run (``mlflow.active_run()``).
    prefix : str, optional
        First segment of every name; default by report type (above).  Use
        different prefixes to log two reports of the same kind to one run.
    step : int, default 0
        MLflow step of every metric (e.g. the batch number of a monitoring
        run that logs one report per batch); artifacts of a step other than 0
        are named ``<prefix>_report_step<step>.json``.
    timestamp : int, optional
        Milliseconds since the epoch for every metric; default now.
    artifact_path : str, default "fastmlops"
        Directory of the artifacts in the run ("" for the root).
    client : mlflow.MlflowClient, optional
        Default ``MlflowClient()`` (the current tracking URI).

    Returns
    -------
    LoggedValues

    Raises
    ------
    ImportError
        MLflow is not installed (``pip install 'fastmlops[mlflow]'``).
    ValueError
        No active run and no ``run_id``; a bad ``step``/``timestamp``/``prefix``.
    MlflowLogError
        The tracking server failed a request after MLflow's own retries; the
        message says how much was written (the run is then tagged
        ``<prefix>.status=incomplete``).

    Examples
    --------
    Inside ``with mlflow.start_run():`` it is ``log_report(report)``.  The
    example logs to a throw-away SQLite store through an explicit client, so
    that it leaves no file behind and changes no tracking URI:

    >>> import tempfile, numpy as np, fastmlops, fastmlops.mlflow
    >>> from mlflow import MlflowClient
    >>> rng = np.random.default_rng(0)
    >>> ref = fastmlops.DriftReference(rng.normal(size=(1000, 2)), columns=["a", "b"])
    >>> report = ref.check(rng.normal(size=(500, 2)))
    >>> tmp = tempfile.TemporaryDirectory()
    >>> client = MlflowClient(f"sqlite:///{tmp.name}/mlflow.db")
    >>> exp = client.create_experiment("demo", artifact_location=f"{tmp.name}/artifacts")
    >>> run = client.create_run(exp)
    >>> logged = fastmlops.mlflow.log_report(report, run_id=run.info.run_id, client=client)
    >>> logged.metrics["drift.a.ks_statistic"] == float(report.ks_statistic[0])
    True
    >>> logged.artifacts
    ['fastmlops/drift_report.json', 'fastmlops/drift_report.html']
    >>> logged.tags["drift.verdict"]
    'ok'
    >>> client.get_run(run.info.run_id).data.tags["drift.status"]
    'complete'
    >>> client.set_terminated(run.info.run_id)
    >>> tmp.cleanup()
    """
    step = check_step(step)
    ts = check_timestamp(timestamp)
    artifact_path = check_artifact_path(artifact_path)
    series: dict[str, list[float]] = {}
    keys: dict[str, str] = {}
    html = None
    if is_gate_report(report):
        prefix = check_prefix("gate" if prefix is None else prefix)
        json_path = artifact_name(artifact_path, f"{prefix}_report", step, "json")
        data = gate_layout(report)
        ent, keys = gate_entities(data, prefix, json_path)
        gate = cast("GateReport", report)
        text = gate.to_json(indent=2)
        html = gate.to_html()
        what = "gate report"
    elif is_drift_report(report):
        prefix = check_prefix("drift" if prefix is None else prefix)
        json_path = artifact_name(artifact_path, f"{prefix}_report", step, "json")
        data = drift_layout(report)
        ent, keys = drift_entities(data, prefix, json_path)
        to_json = getattr(report, "to_json", None)
        text = to_json() if callable(to_json) else json.dumps(jsonable(data), indent=2)
        to_html = getattr(report, "to_html", None)
        if callable(to_html):
            html = to_html()
        what = "drift report"
    elif hasattr(report, "check_line") and hasattr(report, "budget_remaining"):
        prefix = check_prefix("slo" if prefix is None else prefix)
        json_path = artifact_name(artifact_path, f"{prefix}_status", step, "json")
        status = cast("SLOStatus", report)
        ent = slo_status_entities(status, prefix, json_path)
        text = json.dumps(jsonable(slo_status_dict(status)), indent=2)
        what = "SLO status"
    elif hasattr(report, "rates") and hasattr(report, "windows") and hasattr(report, "objective"):
        prefix = check_prefix("slo" if prefix is None else prefix)
        json_path = artifact_name(artifact_path, f"{prefix}_burn_rates", step, "json")
        rates = cast("BurnRates", report)
        ent = Entities()
        ent.param(f"{prefix}.objective", str(float(rates.objective)), json_path)
        series = burn_rates_series(rates, prefix)
        text = json.dumps(jsonable({"objective": float(rates.objective),
                                    "windows_minutes": list(rates.windows),
                                    "rates": rates.rates}), indent=2)
        what = "burn rates"
    elif callable(getattr(report, "_asdict", None)) and type(report).__module__ == \
            "fastmlops.abtest":
        prefix = check_prefix("abtest" if prefix is None else prefix)
        stem = re.sub(r"(?<!^)(?=[A-Z])", "_", type(report).__name__).lower()
        json_path = artifact_name(artifact_path, f"{prefix}_{stem}", step, "json")
        result = cast("TupleResult", report)
        ent, series = result_entities(result, prefix, json_path)
        ent.tag(f"{prefix}.result", type(result).__name__, json_path)
        text = json.dumps(jsonable({"result": type(result).__name__, **result._asdict()}),
                          indent=2)
        what = f"A/B test result ({type(report).__name__})"
    else:
        raise TypeError(
            "log_report() takes a DriftReport, a gate report, an slo.SLOStatus, an slo.BurnRates or a "
            f"result of fastmlops.abtest, got {type(report).__name__}")
    if step != 0 and series:
        raise ValueError(f"a {what} is logged as a series by position (step = position); "
                         "step= must be 0 for it (use prefix= to tell logs apart)")
    client, run_id = client_and_run(client, run_id)
    artifacts = [(text, json_path)]
    if html is not None:
        artifacts.append((html, json_path[: -len(".json")] + ".html"))
    requests = send(client, run_id, ent, series, uploads(client, run_id, artifacts),
                    timestamp=ts, step=step, status_tag=f"{prefix}.status", what=what)
    metrics = dict(ent.metrics)
    for k, values in series.items():
        metrics[k] = values[-1] if values else math.nan
    return LoggedValues(run_id=run_id, timestamp=ts, step=step, metrics=metrics,
                        params=dict(ent.params), tags=dict(ent.tags), requests=requests,
                        artifacts=[p for _, p in artifacts], keys=keys)
