"""The gate's decision: is the candidate at least as good as the baseline?

Differences are oriented so that positive means "the candidate is better"
(``d = candidate - baseline`` for a metric where higher is better,
``baseline - candidate`` where lower is better).  Three hypotheses:

* ``"non-inferiority"`` (the default of a gate): the candidate passes when
  the one-sided test rejects ``H0: d <= -margin`` ("the candidate is worse by
  the margin or more") at level ``alpha``.  A candidate worse by exactly the
  margin passes with probability at most ``alpha``; ``power`` is the
  approximate probability of passing when the two models are equally good.
* ``"superiority"``: passes when the test rejects ``H0: d <= margin``.
* ``"harm"``: fails only on evidence that the candidate is worse: when the
  test rejects ``H0: d >= 0``.  Two equally good models fail with probability
  at most ``alpha``; ``power`` is the probability of catching a candidate
  worse by ``margin``.

With ``groups``, every slice is also tested for harm, ``H0: d_g >= -margin``
for non-inferiority (the tolerance) and ``H0: d_g >= 0`` otherwise; the
slices' p-values are adjusted by Holm's step-down method, and a slice whose
adjusted p-value is below ``alpha`` fails the gate, so the probability that
some slice of two equally good models is flagged is at most ``alpha``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fastmlops._core.validation import as_real, check_choice, check_probability
from fastmlops.gate._bootstrap import (
    check_bootstrap_args,
    entropy_of,
    run_bootstrap,
)
from fastmlops.gate._delong import delong_from, result_from
from fastmlops.gate._inputs import Paired, paired_input
from fastmlops.gate._mcnemar import discordant, mcnemar_counts
from fastmlops.gate._metrics import (
    Metric,
    Options,
    check_metric,
    check_options,
    check_scores,
)
from fastmlops.gate._stats import Interval, holm, norm_ppf, power_z

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

HYPOTHESES = ("non-inferiority", "superiority", "harm")
TESTS = ("auto", "delong", "mcnemar", "bootstrap")


@dataclass(frozen=True)
class SliceRow:
    """One slice of a :class:`Comparison`: its rows, both metrics, the
    difference (candidate minus baseline), the harm test's p-value, Holm's
    adjusted p-value and whether the slice fails the gate."""

    group: Any
    n: int
    baseline: float
    candidate: float
    difference: float
    pvalue: float
    pvalue_holm: float
    flagged: bool


@dataclass(frozen=True, eq=False)
class Comparison:
    """Result of :func:`compare`.

    ``decision`` is "pass" or "fail"; ``test`` the test used ("delong",
    "mcnemar", "bootstrap") and ``reason`` why; ``pvalue`` that of the
    hypothesis on all rows, ``statistic`` its z (McNemar: as
    :func:`fastmlops.gate.mcnemar`; NaN for the bootstrap); ``difference``
    is candidate minus baseline (raw, not oriented) with its interval
    two-sided at ``1 - 2 alpha`` (the one-sided bound of the test at ``1 -
    alpha`` is one of its ends); ``se`` its standard error; ``power`` the
    approximate probability of passing (non-inferiority, superiority) or of
    failing (harm) when the true oriented difference is ``power_at``.
    ``slices`` has one :class:`SliceRow` per group (empty without groups).
    """

    metric: str
    test: str
    reason: str
    hypothesis: str
    margin: float
    alpha: float
    higher_is_better: bool
    baseline: float
    candidate: float
    difference: float
    baseline_interval: Interval
    candidate_interval: Interval
    difference_interval: Interval
    se: float
    statistic: float
    pvalue: float
    decision: str
    power: float
    power_at: float
    slices: list[SliceRow] = field(default_factory=list)

    @property
    def failed_slices(self) -> list[Any]:
        """The groups that fail the gate."""
        return [s.group for s in self.slices if s.flagged]

    @property
    def summary(self) -> str:
        """One line a person can act on."""
        better = "higher" if self.higher_is_better else "lower"
        line = (f"{self.decision.upper()}: {self.metric} ({better} is better) candidate "
                f"{self.candidate:.4g} vs baseline {self.baseline:.4g}, difference "
                f"{self.difference:+.4g} [{self.difference_interval.low:+.4g}, "
                f"{self.difference_interval.high:+.4g}]; {self.hypothesis} "
                f"(margin {self.margin:g}) p = {self.pvalue:.3g} by {self.test}")
        if self.failed_slices:
            line += f"; worse on slices {self.failed_slices!r}"
        return line

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready (slices as a list of dicts)."""
        out: dict[str, Any] = {k: getattr(self, k) for k in (
            "decision", "metric", "test", "reason", "hypothesis", "margin", "alpha",
            "higher_is_better", "baseline", "candidate", "difference", "se", "statistic",
            "pvalue", "power", "power_at")}
        for k in ("baseline_interval", "candidate_interval", "difference_interval"):
            out[k] = list(getattr(self, k))
        out["slices"] = [dict(s.__dict__) for s in self.slices]
        out["failed_slices"] = self.failed_slices
        return out


@dataclass(frozen=True)
class _Setup:
    """The arguments of one comparison, checked."""

    metric: Metric
    opt: Options
    test: str
    n_resamples: int
    method: str
    entropy: int


@dataclass(frozen=True)
class _Outcome:
    """One test on one set of rows: the metrics, intervals, p-value, se."""

    values: tuple[float, float]
    intervals: tuple[Interval, Interval, Interval]
    statistic: float
    pvalue: float
    se: float


def _pick_test(test: str, metric: Metric, margin: float, weighted: bool) -> tuple[str, str]:
    if test == "auto":
        if metric.name == "roc_auc" and not weighted:
            test = "delong"
        elif metric.name == "accuracy" and margin == 0.0 and not weighted:
            test = "mcnemar"
        else:
            test = "bootstrap"
    if test == "delong" and (metric.name != "roc_auc" or weighted):
        raise ValueError("test='delong' compares ROC AUCs without sample weights: use "
                         "metric='roc_auc' and no sample_weight, or test='bootstrap'")
    if test == "mcnemar" and (metric.name != "accuracy" or weighted or margin != 0.0):
        raise ValueError("test='mcnemar' compares accuracies without a margin or weights: "
                         "use metric='accuracy', margin=0 and no sample_weight, or "
                         "test='bootstrap'")
    reasons = {
        "delong": "DeLong: exact paired test for ROC AUC (DeLong 1988; O(n log n), "
                  "Sun & Xu 2014)",
        "mcnemar": "McNemar for accuracy: exact binomial test of the rows only one model "
                   "gets right",
        "bootstrap": f"paired bootstrap otherwise: no closed-form paired test for "
                     f"{metric.name}" + (" with sample weights" if weighted else ""),
    }
    return test, reasons[test]


def _wald(value: float, se: float, alpha: float) -> Interval:
    half = norm_ppf(1 - alpha) * se
    return Interval(low=value - half, high=value + half)


def _run(setup: _Setup, data: Paired, null: float, alt: str, alpha: float,
         stream: int) -> _Outcome:
    """The test of ``setup`` on ``data`` (raw difference candidate - baseline
    against ``null``, alternative ``alt``); intervals two-sided at 1 - 2 alpha."""
    if setup.test == "delong":
        aucs, cov, m, n = delong_from(data)
        if m == 0 or n == 0:
            nan = Interval(low=math.nan, high=math.nan)
            return _Outcome((math.nan, math.nan), (nan, nan, nan), math.nan, math.nan,
                            math.nan)
        res = result_from(aucs, cov, m, n, null, alt)
        sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
        return _Outcome((res.auc_baseline, res.auc_candidate),
                        (_wald(res.auc_baseline, float(sd[0]), alpha),
                         _wald(res.auc_candidate, float(sd[1]), alpha),
                         _wald(res.difference, res.se, alpha)),
                        res.statistic, res.pvalue, res.se)
    if setup.test == "mcnemar":
        mc = mcnemar_counts(*discordant(data, setup.opt.threshold), True, True, alt)
        n_rows = mc.n
        sds = [math.sqrt(p * (1 - p) / n_rows) for p in (mc.accuracy_baseline,
                                                        mc.accuracy_candidate)]
        return _Outcome((mc.accuracy_baseline, mc.accuracy_candidate),
                        (_wald(mc.accuracy_baseline, sds[0], alpha),
                         _wald(mc.accuracy_candidate, sds[1], alpha),
                         _wald(mc.difference, mc.se, alpha)),
                        mc.statistic, mc.pvalue, mc.se)
    boot = run_bootstrap(setup.metric, data, setup.opt, setup.n_resamples, setup.method,
                         1 - 2 * alpha, setup.entropy, stream)
    return _Outcome((boot.baseline, boot.candidate),
                    (boot.baseline_interval, boot.candidate_interval,
                     boot.difference_interval),
                    math.nan, boot.pvalue(null, alt), boot.se)


def compare(y_true: ArrayLike, baseline: ArrayLike, candidate: ArrayLike, *,
            metric: str = "roc_auc", margin: float = 0.0, alpha: float = 0.05,
            hypothesis: str = "non-inferiority", test: str = "auto",
            groups: ArrayLike | None = None, sample_weight: ArrayLike | None = None,
            n_resamples: int = 1000, method: str = "bca", seed: int | None = 0,
            threshold: float = 0.5, bins: int = 10, strategy: str = "uniform",
            power_at: float | None = None) -> Comparison:
    """Decide whether a candidate model may replace a baseline, from both
    models' scores on the same rows.

    The test: ``"auto"`` picks DeLong's test for ROC AUC (:func:`delong`),
    McNemar's for accuracy without a margin (:func:`mcnemar`), and the paired
    bootstrap (:func:`paired_bootstrap`) otherwise (any metric, weights).
    The hypotheses, the margin and the slices are described in the module
    docstring of :mod:`fastmlops.gate._compare` and in docs/gate.md.

    Parameters
    ----------
    y_true, baseline, candidate : array-like of shape (n,)
        Labels (or the regression target) and each model's scores.
    metric : str
        A metric of :mod:`fastmlops.quality`; its direction is known
        (ROC AUC higher is better, log loss lower is better...).
    margin : float
        Non-negative, in the metric's units: the tolerated loss
        (non-inferiority), the required gain (superiority) or the harm the
        gate must catch (harm: the power is stated for it).
    alpha : float
        Level of the test (and the family-wise level of the slices).
    hypothesis : {'non-inferiority', 'superiority', 'harm'}
    test : {'auto', 'delong', 'mcnemar', 'bootstrap'}
    groups : array-like of shape (n,), optional
        A slice label per row (country, device): each slice is tested for
        harm, with Holm's correction.
    sample_weight : array-like, optional
        Row weights (the bootstrap is used).
    n_resamples, method, seed
        Of the bootstrap, when it is used.
    threshold, bins, strategy
        Of accuracy/precision/recall/F1 and ECE, as in :mod:`fastmlops.quality`.
    power_at : float, optional
        The true oriented difference at which ``power`` is stated; default
        0 for non-inferiority, ``-margin`` for harm, none for superiority.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops.gate import compare
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 4000)
    >>> base = y + rng.normal(0, 1.0, 4000)
    >>> cand = y + rng.normal(0, 0.9, 4000)
    >>> res = compare(y, base, cand, metric="roc_auc", margin=0.01)
    >>> res.decision, res.test
    ('pass', 'delong')
    >>> res.summary[:60]
    'PASS: roc_auc (higher is better) candidate 0.7876 vs baselin'
    """
    spec = check_metric(metric)
    tol = as_real(margin, "margin")
    if not (tol >= 0 and math.isfinite(tol)):
        raise ValueError(f"margin must be a non-negative finite number in the metric's "
                         f"units, got {margin!r}")
    level = check_probability(alpha, "alpha")
    if level >= 0.5:
        raise ValueError(f"alpha must be below 0.5, got {alpha!r}")
    hyp = check_choice(hypothesis, "hypothesis", HYPOTHESES)
    chosen = check_choice(test, "test", TESTS)
    n_res, meth, _ = check_bootstrap_args(n_resamples, method, 0.9)
    opt = check_options(threshold, bins, strategy)
    at = None if power_at is None else as_real(power_at, "power_at")
    data = paired_input(y_true, baseline, candidate, sample_weight=sample_weight,
                        groups=groups, regression=spec.regression)
    check_scores(spec, data)
    if hyp == "non-inferiority" and tol == 0:
        raise ValueError(
            "non-inferiority needs a margin > 0 (the loss you tolerate, in the metric's "
            "units, e.g. margin=0.01 of ROC AUC): with margin 0 it is the superiority test, "
            "which a candidate as good as the baseline fails most of the time; or use "
            "hypothesis='harm' (fail only when the candidate is shown worse)")
    name, reason = _pick_test(chosen, spec, tol, data.weights.size > 0)
    setup = _Setup(spec, opt, name, n_res, meth, entropy_of(seed))
    sign = 1.0 if spec.higher_is_better else -1.0
    up, down = ("greater", "less") if sign > 0 else ("less", "greater")
    if hyp == "harm":
        null, alt = 0.0, down
    else:
        null, alt = sign * (tol if hyp == "superiority" else -tol), up
    if name == "mcnemar":
        null = 0.0  # margin is 0 here; -0.0 would print oddly
    overall = _run(setup, data, null, alt, level, 0)
    rejected = overall.pvalue < level
    passed = (not rejected) if hyp == "harm" else rejected
    rows = _slices(setup, data, sign * (-tol if hyp == "non-inferiority" else 0.0), down,
                   level)
    if any(r.flagged for r in rows):
        passed = False
    if at is None:
        at = {"non-inferiority": 0.0, "harm": -tol if tol > 0 else math.nan,
              "superiority": math.nan}[hyp]
    shift = at - (0.0 if hyp == "harm" else sign * null)
    power = power_z(shift, overall.se, level, "less" if hyp == "harm" else "greater")
    diff = overall.values[1] - overall.values[0]
    return Comparison(
        metric=spec.name, test=name, reason=reason, hypothesis=hyp, margin=tol, alpha=level,
        higher_is_better=spec.higher_is_better, baseline=overall.values[0],
        candidate=overall.values[1], difference=diff, baseline_interval=overall.intervals[0],
        candidate_interval=overall.intervals[1], difference_interval=overall.intervals[2],
        se=overall.se, statistic=overall.statistic, pvalue=overall.pvalue,
        decision="pass" if passed else "fail", power=power, power_at=at, slices=rows)


def _slices(setup: _Setup, data: Paired, null: float, alt: str, alpha: float
            ) -> list[SliceRow]:
    """Each slice's harm test, with Holm's adjustment."""
    found = []
    for i, (group, rows) in enumerate(data.slices()):
        out = _run(setup, data.subset(rows), null, alt, alpha, 1 + i)
        found.append((group, rows.size, out))
    if not found:
        return []
    adjusted = holm(np.array([o.pvalue for _, _, o in found]))
    return [SliceRow(group=g, n=int(n), baseline=o.values[0], candidate=o.values[1],
                     difference=o.values[1] - o.values[0], pvalue=o.pvalue,
                     pvalue_holm=float(p), flagged=bool(p < alpha))
            for (g, n, o), p in zip(found, adjusted)]
