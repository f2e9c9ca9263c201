"""Several binary classification metrics from one checked input.

:func:`evaluate` checks and converts the input once, sorts each model's
scores once for both ROC AUC and average precision, and sums the confusion
counts once for accuracy, precision, recall and F1.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from fastmlops.quality._calibration import calibration_sums, check_bins, ece_values
from fastmlops.quality._inputs import binary_input, check_probabilities
from fastmlops.quality._probability import LOG_LOSS, SQUARED, mean_loss
from fastmlops.quality._ranking import ranking_values
from fastmlops.quality._results import QualityResult, finish
from fastmlops.quality._threshold import accuracy_values, confusion, prf_values

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

#: Every metric :func:`evaluate` knows.
METRICS = ("roc_auc", "average_precision", "log_loss", "brier_score", "accuracy",
           "precision", "recall", "f1", "ece")
_PROBABILITY = {"log_loss", "brier_score", "ece"}
_THRESHOLD = {"accuracy", "precision", "recall", "f1"}


def evaluate(y_true: ArrayLike, scores: ArrayLike,
             metrics: Iterable[str] = ("roc_auc", "average_precision", "log_loss",
                                       "brier_score"),
             *, sample_weight: ArrayLike | None = None, groups: ArrayLike | None = None,
             threshold: float = 0.5, bins: int = 10, strategy: str = "uniform",
             pos_label: object = None) -> dict[str, float | QualityResult]:
    """Every metric of ``metrics`` (names from :data:`METRICS`) of one input.

    Each value equals the function of the same name (``precision``,
    ``recall`` and ``f1`` are the fields of :func:`precision_recall_f1`,
    ``ece`` the first field of :func:`calibration`), with ``threshold``,
    ``bins`` and ``strategy`` passed to those that take them.  ``log_loss``,
    ``brier_score`` and ``ece`` need probabilities in [0, 1]; leave them out
    for scores that are not.

    Examples
    --------
    >>> from fastmlops.quality import evaluate
    >>> got = evaluate([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], ["roc_auc", "accuracy"])
    >>> got
    {'roc_auc': 0.75, 'accuracy': 0.75}
    """
    wanted = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [m for m in wanted if m not in METRICS]
    if unknown or not wanted:
        raise ValueError(f"metrics must be names from {METRICS}, got {wanted!r}")
    n_bins, strat = check_bins(bins, strategy)
    data = binary_input(y_true, scores, sample_weight, groups, pos_label)
    if _PROBABILITY.intersection(wanted):
        check_probabilities(data, "scores")
    values: dict[str, Any] = {}
    auc, ap = "roc_auc" in wanted, "average_precision" in wanted
    if auc or ap:
        values["roc_auc"], values["average_precision"] = ranking_values(data, auc, ap)
    if _THRESHOLD.intersection(wanted):
        counts = confusion(data, threshold)
        values["accuracy"] = accuracy_values(counts)
        values["precision"], values["recall"], values["f1"] = prf_values(counts)
    if "log_loss" in wanted:
        values["log_loss"] = mean_loss(data, LOG_LOSS)
    if "brier_score" in wanted:
        values["brier_score"] = mean_loss(data, SQUARED)
    if "ece" in wanted:
        values["ece"] = ece_values(calibration_sums(data, n_bins, strat)[1])
    return {m: finish(m, values[m], data) for m in wanted}
