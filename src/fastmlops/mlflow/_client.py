"""Talking to MLflow for :mod:`fastmlops.mlflow`: importing it, the client
and run to log to, the checked arguments shared by the public functions, the
``log_batch`` requests with the run's status tag, and what was logged
(:class:`LoggedValues`) or why not (:class:`MlflowLogError`)."""

from __future__ import annotations

import numbers
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastmlops.mlflow._values import Entities, plan

if TYPE_CHECKING:  # MLflow is imported on first use
    from mlflow import MlflowClient

INSTALL_HINT = "pip install 'fastmlops[mlflow]'"

#: ``(what it is doing, the call)``: an artifact upload or the dataset input,
#: run after the ``log_batch`` requests.
Step = tuple[str, Callable[[], object]]


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
def _mlflow() -> types.ModuleType:
    try:
        import mlflow
        import mlflow.entities  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"fastmlops.mlflow needs MLflow's client, which is not installed: {INSTALL_HINT} "
            f"(installs mlflow-skinny); the import failed with: {exc}") from exc
    return mlflow


def client_and_run(client: MlflowClient | None, run_id: str | None
                   ) -> tuple[MlflowClient, str]:
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



# ------------------------------------------------------------------ sending
def send(client: MlflowClient, run_id: str, ent: Entities, series: dict[str, list[float]],
         steps: list[Step], *, timestamp: int, step: int,
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
    batches = plan(metrics, params, tags)
    total = len(batches) + len(steps) + 1
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

    for i, (m, p, t) in enumerate(batches):
        try:
            client.log_batch(run_id, metrics=m, params=p, tags=t, synchronous=True)
        except errors as exc:
            raise fail(exc, f"sending request {i + 1} of {len(batches)}") from exc
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
    return len(batches)


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


def uploads(client: MlflowClient, run_id: str, artifacts: list[tuple[str, str]]
            ) -> list[Step]:
    """An upload step for each ``(text, artifact path)``."""
    def upload(text: str, path: str) -> Step:
        return (f"uploading the artifact {path}", lambda: client.log_text(run_id, text, path))
    return [upload(text, path) for text, path in artifacts]


def check_timestamp(timestamp: int | None) -> int:
    if timestamp is None:
        return int(time.time() * 1000)
    if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Integral) \
            or timestamp < 0:
        raise ValueError(f"timestamp must be milliseconds since the epoch (an int >= 0), "
                         f"got {timestamp!r}")
    return int(timestamp)


def check_step(step: int) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) \
            or not -(2**63) <= step < 2**63:
        raise ValueError(f"step must be an int (a 64-bit integer), got {step!r}")
    return int(step)


def check_artifact_path(path: str) -> str:
    if not isinstance(path, str) or path.startswith("/") or ".." in path.split("/"):
        raise ValueError(f"artifact_path must be a relative directory in the run, got {path!r}")
    return path.strip("/")


def artifact_name(artifact_path: str, stem: str, step: int, ext: str) -> str:
    name = f"{stem}.{ext}" if step == 0 else f"{stem}_step{step}.{ext}"
    return f"{artifact_path}/{name}" if artifact_path else name
