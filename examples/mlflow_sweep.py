"""MLflow tracking with fastmlops: a sweep, the best run registered, each run pinned.

One experiment; three runs over ``learning_rate`` in {0.001, 0.01, 0.1}
(``batch_size`` 32, ``epochs`` 10, ``optimizer`` Adam), each training a small
logistic regression with Adam (NumPy) and logging ``train_loss`` and
``val_acc`` at epochs 1..10 with a millisecond timestamp.  A run ends FINISHED,
or FAILED when training raises.  Each run also records, with
:mod:`fastmlops.mlflow`, exactly which weights, data, hyper-parameters,
environment and seed it used (:func:`~fastmlops.mlflow.log_model_version`) and
the drift of its validation features against its training features
(:func:`~fastmlops.mlflow.log_report`).  The run with the best final
``val_acc`` is registered in the model registry.

Run::

    python examples/mlflow_sweep.py                       # a SQLite store in a temp dir
    python examples/mlflow_sweep.py --tracking-uri http://127.0.0.1:5000

Needs ``pip install 'fastmlops[mlflow]'`` (and a tracking server or a SQLite
URI: the registry needs a database store).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

LEARNING_RATES = (0.001, 0.01, 0.1)
BASE_PARAMS = {"batch_size": 32, "epochs": 10, "optimizer": "Adam"}
EXPERIMENT = "fastmlops-sweep"
MODEL_NAME = "fastmlops-sweep-model"


def make_data(seed: int = 0, n: int = 2000, d: int = 5) -> tuple[np.ndarray, ...]:
    """A linearly separable-ish binary task, split 80/20 into train/validation."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    y = (x @ w + 0.5 * rng.normal(size=n) > 0).astype(np.float64)
    cut = int(0.8 * n)
    return x[:cut], y[:cut], x[cut:], y[cut:]


def train(x: np.ndarray, y: np.ndarray, xv: np.ndarray, yv: np.ndarray, *,
          learning_rate: float, batch_size: int, epochs: int, seed: int,
          on_epoch: Callable[[int, float, float], None]) -> np.ndarray:
    """Logistic regression trained with Adam; ``on_epoch(epoch, loss, acc)``."""
    rng = np.random.default_rng(seed)
    w = np.zeros(x.shape[1] + 1)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    b1, b2, eps, t = 0.9, 0.999, 1e-8, 0
    xb = np.hstack([x, np.ones((len(x), 1))])
    xvb = np.hstack([xv, np.ones((len(xv), 1))])
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(xb))
        for start in range(0, len(xb), batch_size):
            idx = order[start:start + batch_size]
            p = 1 / (1 + np.exp(-(xb[idx] @ w)))
            grad = xb[idx].T @ (p - y[idx]) / len(idx)
            t += 1
            m = b1 * m + (1 - b1) * grad
            v = b2 * v + (1 - b2) * grad * grad
            w -= learning_rate * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        p = np.clip(1 / (1 + np.exp(-(xb @ w))), 1e-12, 1 - 1e-12)
        loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
        acc = float(np.mean(((xvb @ w) > 0) == (yv > 0.5)))
        on_epoch(epoch, loss, acc)
    return w


def run_one(client: Any, experiment_id: str, learning_rate: float, workdir: Path,
            data: tuple[np.ndarray, ...], data_file: Path, seed: int = 0) -> str:
    """One run of the sweep; returns its id.  Ends FINISHED, or FAILED on error."""
    import fastmlops
    from fastmlops.fingerprint import ModelVersion
    from fastmlops.mlflow import log_model_version, log_report
    from mlflow.entities import Metric, Param

    params = {"learning_rate": learning_rate, **BASE_PARAMS}
    run = client.create_run(experiment_id, run_name=f"lr={learning_rate:g}")
    run_id = run.info.run_id
    try:
        client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()])
        x, y, xv, yv = data

        def on_epoch(epoch: int, loss: float, acc: float) -> None:
            now = int(time.time() * 1000)
            client.log_batch(run_id, metrics=[Metric("train_loss", loss, now, epoch),
                                              Metric("val_acc", acc, now, epoch)])

        weights = train(x, y, xv, yv, learning_rate=learning_rate,
                        batch_size=BASE_PARAMS["batch_size"], epochs=BASE_PARAMS["epochs"],
                        seed=seed, on_epoch=on_epoch)
        model_dir = workdir / f"model-lr{learning_rate:g}"
        model_dir.mkdir(parents=True, exist_ok=True)
        np.save(model_dir / "weights.npy", weights)
        client.log_artifacts(run_id, str(model_dir), "model")
        version = ModelVersion.create(weights=model_dir, data=data_file,
                                      hyperparameters=params, seed=seed)
        log_model_version(version, run_id=run_id, client=client,
                          weights_manifest=fastmlops.hash_tree(model_dir))
        columns = [f"x{j}" for j in range(x.shape[1])]
        report = fastmlops.DriftReference(x, columns=columns).check(xv)
        log_report(report, run_id=run_id, client=client)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return run_id


def main(tracking_uri: str | None = None, workdir: str | None = None) -> dict[str, Any]:
    """Run the sweep and register the best run; returns what it did."""
    from mlflow import MlflowClient

    work = Path(workdir or tempfile.mkdtemp(prefix="fastmlops-sweep-"))
    work.mkdir(parents=True, exist_ok=True)
    local = tracking_uri is None
    if local:
        tracking_uri = f"sqlite:///{work / 'mlflow.db'}"
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        # A local store keeps artifacts beside it; a server decides for itself.
        location = (work / "artifacts").as_uri() if local else None
        experiment_id = client.create_experiment(EXPERIMENT, artifact_location=location)
    else:
        experiment_id = experiment.experiment_id

    data = make_data()
    data_file = work / "train.npz"
    np.savez(data_file, x=data[0], y=data[1])
    runs = {lr: run_one(client, experiment_id, lr, work, data, data_file)
            for lr in LEARNING_RATES}

    # The best run: highest final val_acc among this sweep's runs.
    final = {lr: client.get_run(run_id).data.metrics["val_acc"] for lr, run_id in runs.items()}
    best_lr = max(final, key=lambda lr: final[lr])
    best_run = client.get_run(runs[best_lr])
    try:
        client.create_registered_model(MODEL_NAME)
    except Exception as exc:  # already registered by an earlier sweep
        if "already exists" not in str(exc).lower():
            raise
    version = client.create_model_version(MODEL_NAME, source=f"{best_run.info.artifact_uri}/model",
                                          run_id=best_run.info.run_id)
    return {"tracking_uri": tracking_uri, "experiment_id": experiment_id, "runs": runs,
            "final_val_acc": final, "best_lr": best_lr, "best_run_id": best_run.info.run_id,
            "model_name": MODEL_NAME, "model_version": version.version}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default=None,
                        help="MLflow tracking URI (default: a SQLite store in a temp dir)")
    parser.add_argument("--workdir", default=None, help="where to write data and weights")
    args = parser.parse_args()
    result = main(args.tracking_uri, args.workdir)
    for lr, acc in result["final_val_acc"].items():
        print(f"learning_rate={lr:<6g} final val_acc={acc:.4f}  run {result['runs'][lr]}")
    print(f"best: learning_rate={result['best_lr']:g}, registered as "
          f"{result['model_name']} version {result['model_version']} ({result['tracking_uri']})")
