"""McNemar's test of two models' accuracy on the same rows (McNemar, 1947).

Only the rows on which the two models disagree about being right carry
information: ``b`` rows that only the baseline gets right, ``c`` rows that
only the candidate gets right.  Under equal accuracy each of those ``b + c``
rows is the candidate's with probability 1/2.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from fastmlops._core.results import TupleResult
from fastmlops._core.validation import check_bool, check_number
from fastmlops.gate._inputs import Paired, check_predictions, paired_input
from fastmlops.gate._stats import check_alternative, norm_sf

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


class McNemarResult(TupleResult):
    """Result of :func:`mcnemar`; unpacks as ``(statistic, pvalue)``.

    Attributes: ``statistic`` (as statsmodels: ``min(b, c)`` for the exact
    test, the chi-square statistic otherwise), ``pvalue``,
    ``baseline_only`` (``b``: rows only the baseline gets right),
    ``candidate_only`` (``c``), ``n``, ``accuracy_baseline``,
    ``accuracy_candidate``, ``difference`` (candidate minus baseline,
    ``(c - b) / n``), ``se`` (standard error of the difference), ``method``
    ('exact', 'chi2' or 'chi2-corrected') and ``alternative``.
    """

    _fields = ("statistic", "pvalue", "baseline_only", "candidate_only", "n",
               "accuracy_baseline", "accuracy_candidate", "difference", "se", "method",
               "alternative")


def discordant(data: Paired, threshold: float | None) -> tuple[int, int, int, int]:
    """(rows both models get right, b, c, n) of checked input."""
    pa, pb = check_predictions(data, threshold)
    truth = data.y.astype(bool)
    right_a = pa == truth
    right_b = pb == truth
    both = int(np.count_nonzero(right_a & right_b))
    b = int(np.count_nonzero(right_a & ~right_b))
    c = int(np.count_nonzero(~right_a & right_b))
    return both, b, c, data.n


def mcnemar_counts(both: int, b: int, c: int, n: int, exact: bool, correction: bool,
                   alternative: str) -> McNemarResult:
    """McNemar's test from the counts (``both`` right, ``b``, ``c``, ``n`` rows)."""
    from scipy.stats import binom

    k = b + c
    if exact:
        method = "exact"
        statistic = float(min(b, c))
        if alternative == "two-sided":
            pvalue = min(1.0, 2.0 * float(binom.cdf(min(b, c), k, 0.5)))
        elif alternative == "greater":  # P(X >= c), X ~ Bin(b + c, 1/2)
            pvalue = float(binom.sf(c - 1, k, 0.5))
        else:
            pvalue = float(binom.cdf(c, k, 0.5))
    else:
        corr = 1 if correction else 0
        method = "chi2-corrected" if correction else "chi2"
        if k == 0:  # no discordant row: no evidence either way (statsmodels: NaN)
            statistic, pvalue = 0.0, 1.0
        else:
            from scipy.stats import chi2

            statistic = (abs(c - b) - corr) ** 2 / k
            if alternative == "two-sided":
                pvalue = float(chi2.sf(statistic, 1))
            else:
                z = math.copysign(max(abs(c - b) - corr, 0), c - b) / math.sqrt(k)
                pvalue = norm_sf(z if alternative == "greater" else -z)
    diff = (c - b) / n
    se = math.sqrt(max(k / n ** 2 - (c - b) ** 2 / n ** 3, 0.0))
    return McNemarResult(statistic=statistic, pvalue=pvalue, baseline_only=b,
                         candidate_only=c, n=n, accuracy_baseline=(both + b) / n,
                         accuracy_candidate=(both + c) / n, difference=diff, se=se,
                         method=method, alternative=alternative)


def mcnemar(y_true: ArrayLike, baseline_pred: ArrayLike, candidate_pred: ArrayLike, *,
            exact: bool = True, correction: bool = True, alternative: str = "two-sided",
            threshold: float | None = None) -> McNemarResult:
    """McNemar's test of paired accuracy: does the candidate get more rows
    right than the baseline?

    Two-sided, equal to ``statsmodels.stats.contingency_tables.mcnemar(table,
    exact=exact, correction=correction)`` on the table ``[[both right, b],
    [c, both wrong]]``: exact, the binomial test of ``c`` out of ``b + c``
    (statsmodels' default, right at any size); else the chi-square statistic
    ``(|b - c| - 1)**2 / (b + c)`` (``- 1`` with ``correction`` only).  The
    one-sided alternatives are the binomial tail, or the normal tail of the
    signed root of the chi-square statistic.  Without discordant rows the
    chi-square test has statistic 0 and p-value 1 (statsmodels: NaN).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Binary labels (bool or 0/1).
    baseline_pred, candidate_pred : array-like of shape (n,)
        Predicted labels (0/1 or bool), or scores with ``threshold``.
    exact : bool
        The exact binomial test (default) or the chi-square approximation.
    correction : bool
        Continuity correction of the chi-square test.
    alternative : {'two-sided', 'greater', 'less'}
        'greater': the candidate is more accurate.
    threshold : float, optional
        Predict positive where a score is ``>= threshold``.

    Returns
    -------
    McNemarResult

    Examples
    --------
    >>> from fastmlops.gate import mcnemar
    >>> y = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    >>> base = [1, 0, 0, 0, 1, 0, 0, 1, 1, 0]
    >>> cand = [1, 1, 1, 1, 1, 1, 0, 0, 0, 1]
    >>> res = mcnemar(y, base, cand)
    >>> res.baseline_only, res.candidate_only, round(res.pvalue, 4)
    (1, 6, 0.125)
    >>> round(mcnemar(y, base, cand, alternative="greater").pvalue, 4)
    0.0625
    """
    alt = check_alternative(alternative)
    use_exact = check_bool(exact, "exact")
    corr = check_bool(correction, "correction")
    t = None if threshold is None else check_number(threshold, "threshold", -np.inf, np.inf)
    data = paired_input(y_true, baseline_pred, candidate_pred)
    return mcnemar_counts(*discordant(data, t), use_exact, corr, alt)
