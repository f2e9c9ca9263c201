""":func:`log_model_version`: the weights, data, hyper-parameters,
environment and seed of a :class:`~fastmlops.fingerprint.ModelVersion` as
params, tags, artifacts and a dataset input of an MLflow run."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from fastmlops.mlflow._client import (
    LoggedValues,
    Step,
    artifact_name,
    check_artifact_path,
    check_timestamp,
    client_and_run,
    send,
    uploads,
)
from fastmlops.mlflow._values import (
    MAX_KEY_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    Entities,
    flatten,
    long_text,
    param_text,
    unique_keys,
)

if TYPE_CHECKING:  # imported on first use
    from mlflow import MlflowClient

    from fastmlops.fingerprint import Manifest, ModelVersion


def log_model_version(version: ModelVersion, *, run_id: str | None = None,
                      weights_manifest: Manifest | None = None,
                      data_manifest: Manifest | None = None, dataset_name: str = "data",
                      context: str = "training", artifact_path: str = "fastmlops",
                      client: MlflowClient | None = None) -> LoggedValues:
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
    Inside ``with mlflow.start_run():`` it is ``log_model_version(version)``;
    the example logs to a throw-away SQLite store through an explicit client:

    >>> import tempfile
    >>> from mlflow import MlflowClient
    >>> from fastmlops.fingerprint import ModelVersion
    >>> from fastmlops.mlflow import log_model_version
    >>> v = ModelVersion.create(weights="sha256:" + "ab" * 32, data="sha256:" + "cd" * 32,
    ...                         hyperparameters={"learning_rate": 0.001, "epochs": 10},
    ...                         seed=7, environment={"python": "3.11"})
    >>> tmp = tempfile.TemporaryDirectory()
    >>> client = MlflowClient(f"sqlite:///{tmp.name}/mlflow.db")
    >>> exp = client.create_experiment("demo", artifact_location=f"{tmp.name}/artifacts")
    >>> run = client.create_run(exp)
    >>> logged = log_model_version(v, run_id=run.info.run_id, client=client)
    >>> logged.params
    {'epochs': '10', 'learning_rate': '0.001', 'fastmlops.seed': '7'}
    >>> client.set_terminated(run.info.run_id)
    >>> tmp.cleanup()
    """
    from fastmlops.fingerprint import Manifest, ModelVersion

    if not isinstance(version, ModelVersion):
        raise TypeError(f"version must be a fastmlops.fingerprint.ModelVersion, got "
                        f"{type(version).__name__}; build one with ModelVersion.create()")
    manifests: list[tuple[str, Manifest]] = []
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
    artifact_path = check_artifact_path(artifact_path)
    json_path = artifact_name(artifact_path, "model_version", 0, "json")

    ent = Entities()
    hyper: dict[str, object] = {}
    flatten(version.hyperparameters, "", hyper)
    hyper.pop("", None)  # an empty dict of hyper-parameters
    names = list(hyper)
    hkeys = unique_keys(names, MAX_KEY_LENGTH, ("fastmlops",))
    for name, key in zip(names, hkeys):
        ent.params[key] = long_text(key, param_text(hyper[name]), MAX_PARAM_VALUE_LENGTH,
                                    json_path)
    ent.params["fastmlops.seed"] = str(version.seed)
    ent.tag("fastmlops.weights", version.weights, json_path)
    ent.tag("fastmlops.data", version.data, json_path)
    ent.tag("fastmlops.hyperparameters_digest", version.hyperparameters_digest, json_path)
    ent.tag("fastmlops.environment_digest", version.environment_digest, json_path)
    ent.tag("fastmlops.version_digest", version.digest, json_path)
    env: dict[str, object] = {}
    flatten(version.environment, "", env)
    env.pop("", None)
    env_names = list(env)
    env_keys = unique_keys(env_names, MAX_KEY_LENGTH - len("fastmlops.env."))
    for name, key in zip(env_names, env_keys):
        if env[name] is not None:
            ent.tag(f"fastmlops.env.{key}", env[name], json_path)
    artifacts = [(version.to_json(), json_path)]
    for part, manifest in manifests:
        artifacts.append((manifest.to_json(),
                          artifact_name(artifact_path, f"{part}_manifest", 0, "json")))

    client, run_id = client_and_run(client, run_id)
    steps: list[Step] = uploads(client, run_id, artifacts)
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
    ts = check_timestamp(None)
    requests = send(client, run_id, ent, {}, steps, timestamp=ts, step=0,
                    status_tag="fastmlops.version.status", what="model version")
    return LoggedValues(run_id=run_id, timestamp=ts, step=0, metrics={},
                        params=dict(ent.params), tags=dict(ent.tags), requests=requests,
                        artifacts=[p for _, p in artifacts], keys=dict(zip(names, hkeys)))
