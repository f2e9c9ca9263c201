"""The paired bootstrap of any metric of :mod:`fastmlops.quality`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fastmlops._core.validation import (
    check_choice,
    check_int,
    check_probability,
    check_seed,
)
from fastmlops.gate._engine import Engine, bca_parameters, interval, pvalue
from fastmlops.gate._inputs import Paired, paired_input
from fastmlops.gate._metrics import (
    Metric,
    Options,
    check_metric,
    check_options,
    check_scores,
    point_values,
)
from fastmlops.gate._stats import Interval, check_alternative

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

#: The most resamples of one call.
MAX_RESAMPLES = 1_000_000


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Result of :func:`paired_bootstrap`.

    ``baseline``, ``candidate`` and ``difference`` (candidate minus baseline)
    are the metric on all rows (from :mod:`fastmlops.quality`), each with its
    two-sided interval at ``confidence``; ``se`` is the standard deviation of
    the bootstrap differences, ``distribution`` the (resamples, 2) replicates
    of (baseline, candidate), ``bias`` and ``acceleration`` BCa's ``z0`` and
    ``a`` of the difference (0 for the percentile method), ``n_invalid`` the
    replicates where the metric is undefined (e.g. no positive drawn), left
    out of the intervals.  ``slices`` maps each group to its own result
    (None without ``groups``).
    """

    metric: str
    method: str
    confidence: float
    n_resamples: int
    higher_is_better: bool
    baseline: float
    candidate: float
    difference: float
    baseline_interval: Interval
    candidate_interval: Interval
    difference_interval: Interval
    se: float
    bias: float
    acceleration: float
    n_invalid: int
    distribution: np.ndarray = field(repr=False)
    slices: dict[Any, BootstrapResult] | None = field(default=None, repr=False)

    def pvalue(self, null: float = 0.0, alternative: str = "two-sided") -> float:
        """Bootstrap p-value of the difference (candidate minus baseline)
        against ``null``: 'greater' tests ``H0: difference <= null``; the
        smallest level at which this result's one-sided interval (BCa or
        percentile) excludes ``null``."""
        alt = check_alternative(alternative)
        diffs = self.distribution[:, 1] - self.distribution[:, 0]
        diffs = diffs[np.isfinite(diffs)]
        return pvalue(diffs, float(null), alt, self.bias, self.acceleration)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (no arrays), slices nested."""
        out: dict[str, Any] = {k: getattr(self, k) for k in (
            "metric", "method", "confidence", "n_resamples", "higher_is_better", "baseline",
            "candidate", "difference", "se", "bias", "acceleration", "n_invalid")}
        for k in ("baseline_interval", "candidate_interval", "difference_interval"):
            out[k] = list(getattr(self, k))
        if self.slices is not None:
            out["slices"] = {g: r.to_dict() for g, r in self.slices.items()}
        return out


def run_bootstrap(metric: Metric, data: Paired, opt: Options, n_resamples: int, method: str,
                  confidence: float, entropy: int, stream: int,
                  point: np.ndarray | None = None) -> BootstrapResult:
    """The bootstrap of checked input (one slice or all rows)."""
    engine = Engine.build(metric, data, opt)
    est = engine.estimate()
    reps = engine.replicates(entropy, stream, n_resamples)
    shown = point_values(metric, data, opt) if point is None else point
    valid = np.isfinite(reps).all(axis=1)
    good = reps[valid]
    alpha = (1 - confidence) / 2
    bca = method == "bca"
    jack = engine.jackknife() if bca and good.shape[0] else None
    intervals = []
    params = (0.0, 0.0)
    for j, (theta, col) in enumerate(((est[0], good[:, 0]), (est[1], good[:, 1]),
                                      (est[1] - est[0], good[:, 1] - good[:, 0]))):
        z0 = a = 0.0
        if jack is not None and math.isfinite(theta):
            jcol = jack[:, 1] - jack[:, 0] if j == 2 else jack[:, j]
            z0, a = bca_parameters(theta, col, jcol)
        lo, hi = interval(col, alpha, z0, a, bca)
        intervals.append(Interval(low=lo, high=hi))
        params = (z0, a)
    diffs = good[:, 1] - good[:, 0]
    return BootstrapResult(
        metric=metric.name, method=method, confidence=confidence, n_resamples=n_resamples,
        higher_is_better=metric.higher_is_better, baseline=float(shown[0]),
        candidate=float(shown[1]), difference=float(shown[1] - shown[0]),
        baseline_interval=intervals[0], candidate_interval=intervals[1],
        difference_interval=intervals[2],
        se=float(diffs.std(ddof=1)) if diffs.size > 1 else math.nan,
        bias=params[0], acceleration=params[1], n_invalid=int((~valid).sum()),
        distribution=reps)


def entropy_of(seed: object) -> int:
    checked = check_seed(seed)
    if checked is None:
        entropy = np.random.SeedSequence().entropy
        assert isinstance(entropy, int)  # drawn from the OS: one int
        return entropy
    return checked


def check_bootstrap_args(n_resamples: object, method: object, confidence: object
                         ) -> tuple[int, str, float]:
    return (check_int(n_resamples, "n_resamples", 2, MAX_RESAMPLES),
            check_choice(method, "method", ("bca", "percentile"),
                         aliases={"BCa": "bca", "BCA": "bca"}),
            check_probability(confidence, "confidence"))


def paired_bootstrap(y_true: ArrayLike, baseline: ArrayLike, candidate: ArrayLike,
                     metric: str = "roc_auc", *, n_resamples: int = 1000, method: str = "bca",
                     confidence: float = 0.95, seed: int | None = 0,
                     groups: ArrayLike | None = None,
                     sample_weight: ArrayLike | None = None, threshold: float = 0.5,
                     bins: int = 10, strategy: str = "uniform") -> BootstrapResult:
    """Paired bootstrap of a metric of two models scored on the same rows.

    Each replicate resamples the rows once, with replacement, and scores both
    models on them, so the difference keeps the correlation of the two models
    (that is what makes it paired).  Intervals as
    ``scipy.stats.bootstrap((y, baseline, candidate), statistic, paired=True,
    method=...)`` within Monte Carlo error: percentile or BCa (bias-corrected
    and accelerated, with a jackknife that is O(n) for every metric except
    average precision, see :mod:`fastmlops.gate._engine`).  A replicate of
    ROC AUC or average precision reuses one sort of each model and costs
    O(n); 1,000 replicates of AUC on 1e5 rows take ~0.4 s on two cores.
    Results depend on ``seed`` only, not on the number of threads.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Binary labels (bool or 0/1), or the target of a regression metric.
    baseline, candidate : array-like of shape (n,)
        Each model's scores (probabilities for log loss, Brier score and ECE;
        predictions for regression).
    metric : str
        One of roc_auc, average_precision, log_loss, brier_score, ece,
        accuracy, precision, recall, f1 (at ``threshold``), rmse, mae, r2.
    n_resamples, method, confidence, seed
        Replicates; 'bca' or 'percentile'; the two-sided level; the seed
        (None: fresh entropy).
    groups : array-like of shape (n,), optional
        A slice label per row: each slice is also bootstrapped on its own rows
        (``result.slices``).
    sample_weight : array-like of shape (n,), optional
        Row weights (a drawn row keeps its weight).
    threshold, bins, strategy
        As in :mod:`fastmlops.quality` for accuracy/precision/recall/F1 and ECE.

    Returns
    -------
    BootstrapResult

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops.gate import paired_bootstrap
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 500)
    >>> base = y + rng.normal(0, 1.0, 500)
    >>> cand = y + rng.normal(0, 0.8, 500)
    >>> res = paired_bootstrap(y, base, cand, "roc_auc", n_resamples=500, seed=1)
    >>> round(res.difference, 3), res.difference_interval.low > 0
    (0.097, True)
    """
    spec = check_metric(metric)
    n_res, meth, conf = check_bootstrap_args(n_resamples, method, confidence)
    opt = check_options(threshold, bins, strategy)
    entropy = entropy_of(seed)
    data = paired_input(y_true, baseline, candidate, sample_weight=sample_weight,
                        groups=groups, regression=spec.regression)
    check_scores(spec, data)
    result = run_bootstrap(spec, data, opt, n_res, meth, conf, entropy, 0)
    if data.group_values is None:
        return result
    slices = {g: run_bootstrap(spec, data.subset(rows), opt, n_res, meth, conf, entropy,
                               1 + i) for i, (g, rows) in enumerate(data.slices())}
    return BootstrapResult(**{**result.__dict__, "slices": slices})
