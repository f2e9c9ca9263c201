"""ROC AUC and average precision: fastmlops.quality vs scikit-learn, same run.

Run with ``python -m pytest benchmarks/test_bench_quality.py --benchmark-enable``
(``-k 1e6`` for the short half).

The promise being measured: ROC AUC of 1e7 rows at least 10x faster than
``sklearn.metrics.roc_auc_score``.  Scores are a normal shifted by the label
(30 % positives) passed through a sigmoid, rounded to 4 decimals in the
``ties`` variant.  References: ``roc_auc_score`` and ``average_precision_score``
(which argsort the column), and ``np.sort`` of the scores alone (the floor of
any method that sorts with numpy).  The last group is 5 models x 20 groups at
1e6 rows: one call of ours against scikit-learn on each slice and model.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from fastmlops.quality import average_precision, roc_auc


def _data(n: int, ties: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    s = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + y)))
    return y, (np.round(s, 4) if ties else s)


CASES = [(10**6, False), (10**6, True), (10**7, False), (10**7, True)]
IDS = ["1e6", "1e6-ties", "1e7", "1e7-ties"]


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case(request):
    n, ties = request.param
    return request.param, _data(n, ties)


def _group(metric: str, case) -> str:
    (n, ties), _ = case
    return f"{metric}-{'1e7' if n == 10**7 else '1e6'}{'-ties' if ties else ''}"


def _rounds(case) -> dict:
    (n, _), _ = case
    return {"rounds": 3 if n == 10**7 else 5, "iterations": 1, "warmup_rounds": 0}


def test_fastmlops_roc_auc(benchmark, case):
    benchmark.group = _group("roc-auc", case)
    _, (y, s) = case
    expected = roc_auc(y, s)  # compile / load from cache
    assert benchmark.pedantic(roc_auc, (y, s), **_rounds(case)) == expected


def test_sklearn_roc_auc_score(benchmark, case):
    benchmark.group = _group("roc-auc", case)
    _, (y, s) = case
    got = benchmark.pedantic(roc_auc_score, (y, s), **_rounds(case))
    assert got == pytest.approx(roc_auc(y, s), rel=1e-12)


def test_np_sort_alone(benchmark, case):
    benchmark.group = _group("roc-auc", case)
    _, (_, s) = case
    benchmark.pedantic(np.sort, (s,), **_rounds(case))


def test_fastmlops_average_precision(benchmark, case):
    benchmark.group = _group("average-precision", case)
    _, (y, s) = case
    expected = average_precision(y, s)
    assert benchmark.pedantic(average_precision, (y, s), **_rounds(case)) == expected


def test_sklearn_average_precision_score(benchmark, case):
    benchmark.group = _group("average-precision", case)
    _, (y, s) = case
    got = benchmark.pedantic(average_precision_score, (y, s), **_rounds(case))
    assert got == pytest.approx(average_precision(y, s), rel=1e-10)


@pytest.fixture(scope="module")
def sliced():
    rng = np.random.default_rng(1)
    n, models = 10**6, 5
    y = (rng.random(n) < 0.3).astype(np.int64)
    scores = np.asfortranarray(rng.normal(size=(n, models)) + y[:, None] * rng.random(models))
    groups = rng.integers(0, 20, n)
    return y, scores, groups


def test_fastmlops_roc_auc_5_models_20_groups(benchmark, sliced):
    benchmark.group = "roc-auc-1e6-5-models-20-groups"
    y, scores, groups = sliced
    roc_auc(y, scores, groups=groups)
    got = benchmark.pedantic(roc_auc, (y, scores), {"groups": groups}, rounds=5, iterations=1)
    assert got.values.shape == (20, 5)


def test_sklearn_loop_5_models_20_groups(benchmark, sliced):
    benchmark.group = "roc-auc-1e6-5-models-20-groups"
    y, scores, groups = sliced

    def loop():
        out = np.empty((20, scores.shape[1]))
        for g in range(20):
            rows = groups == g
            for j in range(scores.shape[1]):
                out[g, j] = roc_auc_score(y[rows], scores[rows, j])
        return out

    got = benchmark.pedantic(loop, rounds=3, iterations=1)
    np.testing.assert_allclose(got, roc_auc(y, scores, groups=groups).values, rtol=1e-12)
