"""The metrics a comparison knows: direction, and how a bootstrap replicate
computes them.

Point estimates come from :mod:`fastmlops.quality` (equal to scikit-learn).
A replicate computes the same metric on resampled rows by one of two routes:

* rank metrics (ROC AUC, average precision): a weighted sweep over each
  model's rows sorted once (:func:`fastmlops._kernels.paired.rank_bootstrap`);
* every other metric is a function of a few weighted sums over rows: each
  row adds ``vals[i, t]`` to sum ``cols[i, t]`` (the columns of one row are
  distinct), and :attr:`Terms.finish` turns the sums of each replicate into
  both models' values.  Log loss, Brier score, accuracy, RMSE and MAE are
  ratios of two sums; precision, recall and F1 ratios of confusion counts; R²
  uses the centred target's first two moments; ECE one signed sum per bin
  (bins fixed on the full data: quantile edges are not recomputed per
  replicate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastmlops._core.validation import check_choice, check_int, check_number
from fastmlops.gate._inputs import Paired


@dataclass(frozen=True)
class Metric:
    """A metric's name, direction and kind."""

    name: str
    higher_is_better: bool
    rank: int = -1  # 0 ROC AUC, 1 average precision, -1 a sums metric
    regression: bool = False
    probability: bool = False


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("roc_auc", True, rank=0),
    Metric("average_precision", True, rank=1),
    Metric("log_loss", False, probability=True),
    Metric("brier_score", False, probability=True),
    Metric("ece", False, probability=True),
    Metric("accuracy", True),
    Metric("precision", True),
    Metric("recall", True),
    Metric("f1", True),
    Metric("rmse", False, regression=True),
    Metric("mae", False, regression=True),
    Metric("r2", True, regression=True),
)}


@dataclass(frozen=True)
class Options:
    """Metric options: the threshold of hard predictions, the ECE bins."""

    threshold: float = 0.5
    bins: int = 10
    strategy: str = "uniform"


def check_metric(metric: object) -> Metric:
    name = check_choice(metric, "metric", tuple(METRICS))
    return METRICS[name]


def check_options(threshold: object, bins: object, strategy: object) -> Options:
    return Options(threshold=check_number(threshold, "threshold", -np.inf, np.inf),
                   bins=check_int(bins, "bins", 1, 100_000),
                   strategy=check_choice(strategy, "strategy", ("uniform", "quantile")))


def check_scores(metric: Metric, data: Paired) -> None:
    """Refuse probabilities outside [0, 1] for a probability metric."""
    if not metric.probability:
        return
    for name, s in (("baseline", data.baseline), ("candidate", data.candidate)):
        bad = (s < 0) | (s > 1)
        if bad.any():
            raise ValueError(f"{metric.name} needs probabilities in [0, 1]; {name} has "
                             f"{int(bad.sum()):,} values outside (first: {s[bad][0]!r})")


def point_values(metric: Metric, data: Paired, opt: Options) -> np.ndarray:
    """(baseline, candidate) values of the metric on all rows, from
    :mod:`fastmlops.quality`."""
    from fastmlops import quality

    scores = np.column_stack([data.baseline, data.candidate])
    w = data.weights if data.weights.size else None
    name = metric.name
    got: Any
    if metric.regression:
        got = getattr(quality, name)(data.y, scores, sample_weight=w)
    elif name in ("precision", "recall", "f1"):
        prf = quality.precision_recall_f1(data.y, scores, threshold=opt.threshold,
                                          sample_weight=w)
        got = getattr(prf, name)
    elif name == "accuracy":
        got = quality.accuracy(data.y, scores, threshold=opt.threshold, sample_weight=w)
    elif name == "ece":
        got = quality.calibration(data.y, scores, bins=opt.bins, strategy=opt.strategy,
                                  sample_weight=w).ece
    else:
        got = getattr(quality, name)(data.y, scores, sample_weight=w)
    return np.asarray(got.values[0], dtype=np.float64)


@dataclass(frozen=True)
class Terms:
    """Per-row terms of a sums metric: ``cols`` and ``vals`` (rows, terms),
    ``n_sums`` sums in all, and ``finish`` (replicates, sums) -> (replicates,
    2) values of (baseline, candidate)."""

    cols: np.ndarray
    vals: np.ndarray
    n_sums: int
    finish: Callable[[np.ndarray], np.ndarray]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _terms(vals: list[np.ndarray], cols: list[np.ndarray | int], n_sums: int,
           finish: Callable[[np.ndarray], np.ndarray]) -> Terms:
    n = vals[0].size
    c = np.empty((n, len(cols)), dtype=np.int32)
    for t, col in enumerate(cols):
        c[:, t] = col
    return Terms(c, np.ascontiguousarray(np.column_stack(vals)), n_sums, finish)


def _row_loss(name: str, y: np.ndarray, p: np.ndarray, opt: Options) -> np.ndarray:
    if name == "log_loss":  # clipped as fastmlops.quality.log_loss (and scikit-learn)
        eps = np.finfo(np.float64).eps
        q = np.clip(np.where(y != 0, p, 1.0 - p), eps, 1.0 - eps)
        return -np.log(q)
    if name in ("brier_score", "rmse"):
        return (y - p) ** 2
    if name == "mae":
        return np.abs(y - p)
    return ((p >= opt.threshold) == (y != 0)).astype(np.float64)  # accuracy


def sums_terms(metric: Metric, data: Paired, opt: Options) -> Terms:
    """The per-row terms of a sums metric (see the module docstring)."""
    name = metric.name
    y = data.y.astype(np.float64)
    w = data.weights if data.weights.size else np.ones(data.n)
    a, b = data.baseline, data.candidate
    if name in ("log_loss", "brier_score", "rmse", "mae", "accuracy"):
        root = name == "rmse"

        def finish_mean(s: np.ndarray) -> np.ndarray:
            v = np.column_stack([_ratio(s[:, 1], s[:, 0]), _ratio(s[:, 2], s[:, 0])])
            return np.sqrt(v) if root else v

        return _terms([w, w * _row_loss(name, y, a, opt), w * _row_loss(name, y, b, opt)],
                      [0, 1, 2], 3, finish_mean)
    if name in ("precision", "recall", "f1"):
        pa = (a >= opt.threshold) * w
        pb = (b >= opt.threshold) * w
        # sums: tp_a, predicted_a, tp_b, predicted_b, positives
        vals = [pa * y, pa, pb * y, pb, w * y]

        def finish_prf(s: np.ndarray) -> np.ndarray:
            out = []
            for tp, pp in ((s[:, 0], s[:, 1]), (s[:, 2], s[:, 3])):
                if name == "precision":
                    out.append(_ratio(tp, pp))
                elif name == "recall":
                    out.append(_ratio(tp, s[:, 4]))
                else:
                    out.append(_ratio(2 * tp, pp + s[:, 4]))
            return np.column_stack(out)

        return _terms(vals, [0, 1, 2, 3, 4], 5, finish_prf)
    if name == "r2":
        total = w.sum()
        centre = float((w * y).sum() / total) if total > 0 else 0.0
        yc = y - centre

        def finish_r2(s: np.ndarray) -> np.ndarray:
            tss = s[:, 2] - _ratio(s[:, 1] ** 2, s[:, 0])
            tss = np.where(tss > 1e-12 * np.maximum(s[:, 2], 1e-300), tss, 0.0)
            return np.column_stack([1.0 - _ratio(s[:, 3], tss), 1.0 - _ratio(s[:, 4], tss)])

        return _terms([w, w * yc, w * yc * yc, w * (y - a) ** 2, w * (y - b) ** 2],
                      [0, 1, 2, 3, 4], 5, finish_r2)
    if name == "ece":
        k = opt.bins

        def bin_of(p: np.ndarray) -> np.ndarray:
            if opt.strategy == "uniform":
                edges = np.linspace(0.0, 1.0, k + 1)
            else:
                edges = np.percentile(p, np.linspace(0, 1, k + 1) * 100)
            return np.searchsorted(edges[1:-1], p, side="left")

        def finish_ece(s: np.ndarray) -> np.ndarray:
            return np.column_stack([_ratio(np.abs(s[:, :k]).sum(axis=1), s[:, 2 * k]),
                                    _ratio(np.abs(s[:, k:2 * k]).sum(axis=1), s[:, 2 * k])])

        return _terms([w * (a - y), w * (b - y), w], [bin_of(a), k + bin_of(b), 2 * k],
                      2 * k + 1, finish_ece)
    raise AssertionError(name)  # pragma: no cover - every metric is handled above
