"""MLflow integration: drift reports, SLO and A/B results, and model versions in runs.

Needs MLflow's client (``pip install 'fastmlops[mlflow]'``, which installs
``mlflow-skinny``).  ``import fastmlops`` never imports MLflow; this module
imports it on first use.

* :func:`log_report` -- a :class:`~fastmlops.DriftReport` (or an
  :class:`~fastmlops.slo.SLOStatus`, :class:`~fastmlops.slo.BurnRates` or an
  A/B test result of :mod:`fastmlops.abtest`) as metrics, params and tags of a
  run, every value, in as few ``log_batch`` requests as MLflow's limits allow,
  plus the report's JSON (and HTML, where the report has one) as artifacts.
* :func:`log_model_version` -- a :class:`~fastmlops.fingerprint.ModelVersion`
  (weights, data, hyper-parameters, environment, seed) as params and tags, the
  version JSON and file manifests as artifacts, and the data fingerprint as an
  MLflow dataset input.
* :func:`column_keys` -- how column names become metric names (below).

How values are named
--------------------
A drift report with prefix ``"drift"`` (the default) becomes:

* metrics ``drift.<column>.<field>`` for every numeric field of every column
  (``ks_statistic``, ``ks_pvalue``, ``psi``, ``kl``, ``jsd``, ``nan_share``,
  ...; a true/false field as 1/0; the ``unseen`` counts as ``unseen_count``,
  ``unseen_share``, ``unseen_distinct``), and ``drift.summary.<figure>``,
  ``drift.summary.reasons.<code>``, ``drift.sizes.<rows>``;
* tags ``drift.<column>.<field>`` for every text field of every column
  (``verdict``, ``kind``, ``psi_tier``, ``explanation``; the ``reasons``
  codes comma-separated, when there are any), and ``drift.verdict``;
* params ``drift.rule.<setting>`` (``alpha``, ``drift_share``, ``bins``, ...);
* artifacts ``fastmlops/drift_report.json`` (the layout of
  ``docs/drift-report-json.md``; plot data, unseen examples and every value
  not logged above live only there) and ``fastmlops/drift_report.html`` when
  the report can render one.

A value that does not apply (``null`` in the JSON) is not logged.  NaN is
logged as NaN; MLflow's SQL stores keep ``+-inf`` as ``+-1.7976931348623157e308``.

Column names become metric-name segments by :func:`column_keys`: every
character MLflow does not allow in names (anything but letters, digits,
``_ - . `` and space; ``/`` and ``:`` too, as they mean paths and are refused
on Windows) becomes ``_``; a name that had to change, is empty, is longer than
MLflow allows, or would clash with the report's own names (``summary``,
``sizes``, ``rule``...) gets ``-`` and 8 hex digits of the SHA-256 of the
original name appended.  Two columns never share a key (any remaining clash
gets the column's position appended); the tag ``drift.<key>.name`` holds the
original name of every column whose key differs from it.

Batching, failures and retries
------------------------------
Everything is sent with :meth:`mlflow.MlflowClient.log_batch` (synchronous),
packed under MLflow's per-request limits: at most 1,000 metrics, 100 params,
100 tags and 1,000 entities in all, and under 900 kB of JSON (the server
refuses 1 MB), all with one timestamp per report.  MLflow's REST client retries
connection errors, HTTP 429 and 5xx with exponential backoff
(``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, default 7;
``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR``, default 2;
``MLFLOW_HTTP_REQUEST_TIMEOUT``, default 120 s per attempt); fastmlops adds no
retries of its own.  A report is never left half-logged silently: the first
request tags the run ``<prefix>.status = incomplete``, the last one (after the
artifacts) ``complete``; when a request still fails, :class:`MlflowLogError`
says how many requests were written and the run keeps the ``incomplete`` tag.
Calling again with the same ``timestamp=`` (the error carries it) completes
the report without duplicating metrics.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from fastmlops.mlflow._values import (  # noqa: F401 (names used by the tests too)
    _BAD_CHARS, _RESERVED, FIELD_ROOM, MAX_ENTITIES_PER_REQUEST, MAX_KEY_LENGTH,
    MAX_METRICS_PER_REQUEST, MAX_PARAM_VALUE_LENGTH, MAX_PARAMS_PER_REQUEST,
    MAX_REQUEST_BYTES, MAX_TAG_VALUE_LENGTH, MAX_TAGS_PER_REQUEST, _burn_rates_series,
    _check_prefix, _drift_entities, _drift_layout, _Entities, _flatten, _is_drift_report,
    _jsonable, _long_text, _param_text, _plan, _result_entities, _slo_status_dict,
    _slo_status_entities, _unique_keys, _window_label)

__all__ = ["log_report", "log_model_version", "column_keys", "LoggedValues", "MlflowLogError",
           "MAX_METRICS_PER_REQUEST", "MAX_PARAMS_PER_REQUEST", "MAX_TAGS_PER_REQUEST",
           "MAX_ENTITIES_PER_REQUEST"]

INSTALL_HINT = "pip install 'fastmlops[mlflow]'"


class MlflowLogError(RuntimeError):
    """A report or version was not completely logged.

    Attributes: ``run_id``, ``written`` and ``total`` (requests), ``timestamp``
    (pass it back as ``timestamp=`` to retry without duplicating metrics) and
    ``status_tag`` (the run tag that reads ``incomplete``).
    """

    def __init__(self, message: str, *, run_id: str, written: int, total: int,
                 timestamp: int, status_tag: str) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.written = written
        self.total = total
        self.timestamp = timestamp
        self.status_tag = status_tag


@dataclass(frozen=True)
class LoggedValues:
    """What :func:`log_report` / :func:`log_model_version` wrote to a run.

    ``metrics``, ``params``, ``tags``: name -> value as sent (the status tag
    not included); ``requests``: ``log_batch`` requests made for them;
    ``artifacts``: artifact paths in the run; ``keys``: column (or
    hyper-parameter) name -> the key used in metric/param names.
    """

    run_id: str
    timestamp: int
    step: int
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    requests: int
    artifacts: list[str]
    keys: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------ mlflow import
def _mlflow() -> Any:
    try:
        import mlflow
        import mlflow.entities  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"fastmlops.mlflow needs MLflow's client, which is not installed: {INSTALL_HINT} "
            f"(installs mlflow-skinny); the import failed with: {exc}") from exc
    return mlflow


def _client_and_run(client: Any, run_id: Any) -> tuple[Any, str]:
    mlflow = _mlflow()
    if client is None:
        client = mlflow.MlflowClient()
    elif not hasattr(client, "log_batch"):
        raise TypeError(f"client must be an mlflow.MlflowClient, got {type(client).__name__}")
    if run_id is None:
        run = mlflow.active_run()
        if run is None:
            raise ValueError("there is no active MLflow run: call this inside "
                             "`with mlflow.start_run():` or pass run_id=")
        run_id = run.info.run_id
    elif not isinstance(run_id, str) or not run_id:
        raise TypeError(f"run_id must be a run id (str), got {run_id!r}")
    return client, run_id


# ------------------------------------------------------------------ names
def column_keys(names: Sequence[Any], *, prefix: str = "drift") -> dict[str, str]:
    """Metric-name segments for column names, as :func:`log_report` uses them.

    Characters MLflow refuses in names (and ``/`` and ``:``) become ``_``; a
    name that changed, is empty, is too long for
    ``<prefix>.<key>.<field>`` to fit MLflow's 250 characters (``FIELD_ROOM``
    = 40 are kept for the field), or equals one of the report's own names
    (``summary``, ``sizes``, ``reference``, ``rule``, ``verdict``,
    ``status``, ``format``, or starts with one of them and ``.``) gets ``-``
    and the first 8 hex digits of the SHA-256 of its UTF-8 bytes appended (and
    ``_`` prepended when it starts with a report name and ``.``).  Keys
    are distinct: a name already valid keeps itself, and a remaining clash gets
    the column's position appended.

    Parameters
    ----------
    names : sequence of str
        Column names (converted with ``str``).
    prefix : str, default "drift"
        The metric-name prefix (it sets the length budget).

    Returns
    -------
    dict
        ``{column name: key}`` in column order (duplicate names: the first).

    Examples
    --------
    >>> from fastmlops.mlflow import column_keys
    >>> column_keys(["age", "income ($)", "a/b", "a_b"])
    {'age': 'age', 'income ($)': 'income ___-e7ef31d7', 'a/b': 'a_b-c14cddc0', 'a_b': 'a_b'}
    """
    prefix = _check_prefix(prefix)
    names = [str(n) for n in names]
    keys = _unique_keys(names, MAX_KEY_LENGTH - len(prefix) - 2 - FIELD_ROOM, _RESERVED)
    out: dict[str, str] = {}
    for name, key in zip(names, keys):
        out.setdefault(name, key)
    return out


# ------------------------------------------------------------------ sending
def _send(client: Any, run_id: str, ent: _Entities, series: dict[str, list[float]],
          steps: list[tuple[str, Any]], *, timestamp: int, step: int,
          status_tag: str, what: str) -> int:
    """Log everything, then run ``steps`` (``(doing, callable)``: artifact
    uploads, inputs); the status tag is set first (incomplete) and last
    (complete).  Returns the number of ``log_batch`` requests."""
    from mlflow.entities import Metric, Param, RunTag

    metrics = [Metric(k, v, timestamp, step) for k, v in ent.metrics.items()]
    for k, values in series.items():
        metrics.extend(Metric(k, v, timestamp, i) for i, v in enumerate(values))
    params = [Param(k, v) for k, v in ent.params.items()]
    tags = [RunTag(status_tag, "incomplete")] + [RunTag(k, v) for k, v in ent.tags.items()]
    plan = _plan(metrics, params, tags)
    total = len(plan) + len(steps) + 1
    errors = _tracking_errors()
    done = 0

    def fail(exc: BaseException, doing: str) -> MlflowLogError:
        uri = getattr(getattr(client, "_tracking_client", None), "tracking_uri", None)
        if done == 0:
            state = f"nothing of the {what} was logged"
        else:
            state = (f"{done} of {total} requests were written and the run is tagged "
                     f"{status_tag}=incomplete")
        return MlflowLogError(
            f"logging the {what} to run {run_id} at {uri or 'the tracking server'} failed "
            f"while {doing}: {state}. MLflow's error: {type(exc).__name__}: {exc}. "
            "(MLflow already retried as MLFLOW_HTTP_REQUEST_MAX_RETRIES and "
            f"MLFLOW_HTTP_REQUEST_TIMEOUT allow.) Call again with timestamp={timestamp} to "
            "complete it without duplicating metrics",
            run_id=run_id, written=done, total=total, timestamp=timestamp,
            status_tag=status_tag)

    for i, (m, p, t) in enumerate(plan):
        try:
            client.log_batch(run_id, metrics=m, params=p, tags=t, synchronous=True)
        except errors as exc:
            raise fail(exc, f"sending request {i + 1} of {len(plan)}") from exc
        done += 1
    for doing, call in steps:
        try:
            call()
        except errors as exc:
            raise fail(exc, doing) from exc
        done += 1
    try:
        client.set_tag(run_id, status_tag, "complete", synchronous=True)
    except errors as exc:
        raise fail(exc, "marking it complete") from exc
    return len(plan)


def _tracking_errors() -> tuple[type[BaseException], ...]:
    """What a failing tracking server raises through MLflow's client (other
    exceptions are bugs and propagate unchanged)."""
    from mlflow.exceptions import MlflowException

    errors: list[type[BaseException]] = [MlflowException, OSError]
    try:
        import requests

        errors.append(requests.exceptions.RequestException)
    except ImportError:  # pragma: no cover - a dependency of mlflow-skinny
        pass
    return tuple(errors)


def _uploads(client: Any, run_id: str, artifacts: list[tuple[str, str]]
             ) -> list[tuple[str, Any]]:
    return [(f"uploading the artifact {path}",
             lambda text=text, path=path: client.log_text(run_id, text, path))
            for text, path in artifacts]


def _timestamp(timestamp: Any) -> int:
    if timestamp is None:
        return int(time.time() * 1000)
    if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Integral) \
            or timestamp < 0:
        raise ValueError(f"timestamp must be milliseconds since the epoch (an int >= 0), "
                         f"got {timestamp!r}")
    return int(timestamp)


def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) \
            or not -(2**63) <= step < 2**63:
        raise ValueError(f"step must be an int (a 64-bit integer), got {step!r}")
    return int(step)


def _check_artifact_path(path: Any) -> str:
    if not isinstance(path, str) or path.startswith("/") or ".." in path.split("/"):
        raise ValueError(f"artifact_path must be a relative directory in the run, got {path!r}")
    return path.strip("/")


def _artifact_name(artifact_path: str, stem: str, step: int, ext: str) -> str:
    name = f"{stem}.{ext}" if step == 0 else f"{stem}_step{step}.{ext}"
    return f"{artifact_path}/{name}" if artifact_path else name


# ------------------------------------------------------------------ public API
def log_report(report: Any, *, run_id: str | None = None, prefix: str | None = None,
               step: int = 0, timestamp: int | None = None, artifact_path: str = "fastmlops",
               client: Any = None) -> LoggedValues:
    """Log a drift report (or an SLO / A/B test result) to an MLflow run.

    Every value of the report is logged (see the module documentation for the
    names), chunked under MLflow's per-request limits, with one timestamp;
    the report's JSON (and HTML, when it has ``to_html()``) is uploaded as
    artifacts.  Accepted reports:

    * :class:`~fastmlops.DriftReport` (prefix ``"drift"``);
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
    report : DriftReport, SLOStatus, BurnRates or an abtest result
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
    >>> import mlflow, numpy as np, fastmlops, fastmlops.mlflow
    >>> rng = np.random.default_rng(0)
    >>> ref = fastmlops.DriftReference(rng.normal(size=(1000, 2)), columns=["a", "b"])
    >>> report = ref.check(rng.normal(size=(500, 2)))
    >>> import tempfile
    >>> tmp = tempfile.mkdtemp()
    >>> mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    >>> exp = mlflow.create_experiment("demo", artifact_location=f"{tmp}/artifacts")
    >>> with mlflow.start_run(experiment_id=exp):
    ...     logged = fastmlops.mlflow.log_report(report)
    >>> logged.metrics["drift.a.ks_statistic"] == float(report.ks_statistic[0])
    True
    >>> logged.artifacts[0]
    'fastmlops/drift_report.json'
    >>> logged.tags["drift.verdict"]
    'ok'
    """
    step = _check_step(step)
    ts = _timestamp(timestamp)
    artifact_path = _check_artifact_path(artifact_path)
    series: dict[str, list[float]] = {}
    keys: dict[str, str] = {}
    html = None
    if _is_drift_report(report):
        prefix = _check_prefix("drift" if prefix is None else prefix)
        json_path = _artifact_name(artifact_path, f"{prefix}_report", step, "json")
        data = _drift_layout(report)
        ent, keys = _drift_entities(data, prefix, json_path)
        to_json = getattr(report, "to_json", None)
        text = to_json() if callable(to_json) else json.dumps(_jsonable(data), indent=2)
        to_html = getattr(report, "to_html", None)
        if callable(to_html):
            html = to_html()
        what = "drift report"
    elif hasattr(report, "check_line") and hasattr(report, "budget_remaining"):
        prefix = _check_prefix("slo" if prefix is None else prefix)
        json_path = _artifact_name(artifact_path, f"{prefix}_status", step, "json")
        ent = _slo_status_entities(report, prefix, json_path)
        text = json.dumps(_jsonable(_slo_status_dict(report)), indent=2)
        what = "SLO status"
    elif hasattr(report, "rates") and hasattr(report, "windows") and hasattr(report, "objective"):
        prefix = _check_prefix("slo" if prefix is None else prefix)
        json_path = _artifact_name(artifact_path, f"{prefix}_burn_rates", step, "json")
        ent = _Entities()
        ent.param(f"{prefix}.objective", str(float(report.objective)), json_path)
        series = _burn_rates_series(report, prefix)
        text = json.dumps(_jsonable({"objective": float(report.objective),
                                     "windows_minutes": list(report.windows),
                                     "rates": report.rates}), indent=2)
        what = "burn rates"
    elif callable(getattr(report, "_asdict", None)) and type(report).__module__ == \
            "fastmlops.abtest":
        prefix = _check_prefix("abtest" if prefix is None else prefix)
        stem = re.sub(r"(?<!^)(?=[A-Z])", "_", type(report).__name__).lower()
        json_path = _artifact_name(artifact_path, f"{prefix}_{stem}", step, "json")
        ent, series = _result_entities(report, prefix, json_path)
        ent.tag(f"{prefix}.result", type(report).__name__, json_path)
        text = json.dumps(_jsonable({"result": type(report).__name__, **report._asdict()}),
                          indent=2)
        what = f"A/B test result ({type(report).__name__})"
    else:
        raise TypeError(
            "log_report() takes a DriftReport, an slo.SLOStatus, an slo.BurnRates or a "
            f"result of fastmlops.abtest, got {type(report).__name__}")
    if step != 0 and series:
        raise ValueError(f"a {what} is logged as a series by position (step = position); "
                         "step= must be 0 for it (use prefix= to tell logs apart)")
    client, run_id = _client_and_run(client, run_id)
    artifacts = [(text, json_path)]
    if html is not None:
        artifacts.append((html, json_path[: -len(".json")] + ".html"))
    requests = _send(client, run_id, ent, series, _uploads(client, run_id, artifacts),
                     timestamp=ts, step=step, status_tag=f"{prefix}.status", what=what)
    metrics = dict(ent.metrics)
    for k, values in series.items():
        metrics[k] = values[-1] if values else math.nan
    return LoggedValues(run_id=run_id, timestamp=ts, step=step, metrics=metrics,
                        params=dict(ent.params), tags=dict(ent.tags), requests=requests,
                        artifacts=[p for _, p in artifacts], keys=keys)


def log_model_version(version: Any, *, run_id: str | None = None, weights_manifest: Any = None,
                      data_manifest: Any = None, dataset_name: str = "data",
                      context: str = "training", artifact_path: str = "fastmlops",
                      client: Any = None) -> LoggedValues:
    """Record in an MLflow run exactly which weights, data, hyper-parameters,
    environment and seed it used.

    * params: every hyper-parameter under its own name (nested dicts joined
      with ``.``; values as ``str()``, as ``mlflow.log_params`` writes them, so
      logging them both ways agrees; lists as JSON), and ``fastmlops.seed``;
    * tags: ``fastmlops.weights``, ``fastmlops.data`` (the fingerprints),
      ``fastmlops.hyperparameters_digest``, ``fastmlops.environment_digest``,
      ``fastmlops.version_digest``, and ``fastmlops.env.<key>`` for every
      environment entry (nested keys joined with ``.``);
    * artifacts: ``fastmlops/model_version.json`` (:meth:`ModelVersion.to_json`,
      loadable with :meth:`ModelVersion.from_json`) and, when given,
      ``fastmlops/weights_manifest.json`` / ``fastmlops/data_manifest.json``;
    * a dataset input (``mlflow.data.context`` = ``context``) named
      ``dataset_name`` whose digest is the first 36 hex digits of the data
      fingerprint (MLflow's limit) and whose source is the full fingerprint;
      skipped on MLflow versions without ``MlflowClient.log_inputs``.

    A hyper-parameter name MLflow refuses is changed as in
    :func:`column_keys` (``LoggedValues.keys`` has the mapping); a value
    longer than MLflow allows is replaced by its SHA-256 and a pointer to the
    JSON artifact.

    Parameters
    ----------
    version : fastmlops.fingerprint.ModelVersion
    run_id : str, optional
        Default the active run.
    weights_manifest, data_manifest : fastmlops.fingerprint.Manifest, optional
        Per-file digests of the weights / data directories; each must be the
        manifest the version's fingerprint was made from.
    dataset_name : str, default "data"
    context : str, default "training"
    artifact_path : str, default "fastmlops"
    client : mlflow.MlflowClient, optional

    Returns
    -------
    LoggedValues

    Raises
    ------
    TypeError, ValueError
        Not a ModelVersion; a manifest that does not match the version.
    MlflowLogError
        As for :func:`log_report` (status tag ``fastmlops.version.status``).

    Examples
    --------
    >>> import mlflow
    >>> from fastmlops.fingerprint import ModelVersion
    >>> from fastmlops.mlflow import log_model_version
    >>> v = ModelVersion.create(weights="sha256:" + "ab" * 32, data="sha256:" + "cd" * 32,
    ...                         hyperparameters={"learning_rate": 0.001, "epochs": 10},
    ...                         seed=7, environment={"python": "3.11"})
    >>> import tempfile
    >>> tmp = tempfile.mkdtemp()
    >>> mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    >>> exp = mlflow.create_experiment("demo", artifact_location=f"{tmp}/artifacts")
    >>> with mlflow.start_run(experiment_id=exp):
    ...     logged = log_model_version(v)
    >>> logged.params
    {'epochs': '10', 'learning_rate': '0.001', 'fastmlops.seed': '7'}
    """
    from fastmlops.fingerprint import Manifest, ModelVersion

    if not isinstance(version, ModelVersion):
        raise TypeError(f"version must be a fastmlops.fingerprint.ModelVersion, got "
                        f"{type(version).__name__}; build one with ModelVersion.create()")
    manifests = []
    for part, manifest in (("weights", weights_manifest), ("data", data_manifest)):
        if manifest is None:
            continue
        if not isinstance(manifest, Manifest):
            raise TypeError(f"{part}_manifest must be a fastmlops.fingerprint.Manifest, got "
                            f"{type(manifest).__name__}")
        fingerprint = getattr(version, part)
        if fingerprint.lower() not in (f"{manifest.algorithm}:{manifest.digest}",
                                       manifest.digest):
            raise ValueError(f"{part}_manifest (digest {manifest.algorithm}:{manifest.digest}) "
                             f"is not the manifest of the version's {part} ({fingerprint}); "
                             "pass the hash_tree() result the version was created from")
        manifests.append((part, manifest))
    if not isinstance(dataset_name, str) or not dataset_name or len(dataset_name) > 500:
        raise ValueError(f"dataset_name must be a non-empty str of at most 500 characters, "
                         f"got {dataset_name!r}")
    if not isinstance(context, str) or not context or len(context) > 500:
        raise ValueError(f"context must be a non-empty str, got {context!r}")
    artifact_path = _check_artifact_path(artifact_path)
    json_path = _artifact_name(artifact_path, "model_version", 0, "json")

    ent = _Entities()
    hyper: dict[str, Any] = {}
    _flatten(version.hyperparameters, "", hyper)
    hyper.pop("", None)  # an empty dict of hyper-parameters
    names = list(hyper)
    hkeys = _unique_keys(names, MAX_KEY_LENGTH, ("fastmlops",))
    for name, key in zip(names, hkeys):
        ent.params[key] = _long_text(key, _param_text(hyper[name]), MAX_PARAM_VALUE_LENGTH,
                                     json_path)
    ent.params["fastmlops.seed"] = str(version.seed)
    ent.tag("fastmlops.weights", version.weights, json_path)
    ent.tag("fastmlops.data", version.data, json_path)
    ent.tag("fastmlops.hyperparameters_digest", version.hyperparameters_digest, json_path)
    ent.tag("fastmlops.environment_digest", version.environment_digest, json_path)
    ent.tag("fastmlops.version_digest", version.digest, json_path)
    env: dict[str, Any] = {}
    _flatten(version.environment, "", env)
    env.pop("", None)
    env_names = list(env)
    env_keys = _unique_keys(env_names, MAX_KEY_LENGTH - len("fastmlops.env."))
    for name, key in zip(env_names, env_keys):
        if env[name] is not None:
            ent.tag(f"fastmlops.env.{key}", env[name], json_path)
    artifacts = [(version.to_json(), json_path)]
    for part, manifest in manifests:
        artifacts.append((manifest.to_json(),
                          _artifact_name(artifact_path, f"{part}_manifest", 0, "json")))

    client, run_id = _client_and_run(client, run_id)
    steps = _uploads(client, run_id, artifacts)
    if callable(getattr(client, "log_inputs", None)):
        from mlflow.entities import Dataset, DatasetInput, InputTag

        data_m = dict(manifests).get("data")
        profile = None if data_m is None else json.dumps(
            {"files": len(data_m), "total_size": data_m.total_size})
        dataset = Dataset(name=dataset_name, digest=version.data.rpartition(":")[2][:36],
                          source_type="fastmlops",
                          source=json.dumps({"fingerprint": version.data}), profile=profile)
        inputs = [DatasetInput(dataset, tags=[InputTag("mlflow.data.context", context)])]
        steps.append(("logging the dataset input",
                      lambda: client.log_inputs(run_id, datasets=inputs)))
    ts = _timestamp(None)
    requests = _send(client, run_id, ent, {}, steps, timestamp=ts, step=0,
                     status_tag="fastmlops.version.status", what="model version")
    return LoggedValues(run_id=run_id, timestamp=ts, step=0, metrics={},
                        params=dict(ent.params), tags=dict(ent.tags), requests=requests,
                        artifacts=[p for _, p in artifacts], keys=dict(zip(names, hkeys)))
