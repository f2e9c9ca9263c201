"""DeLong's test of two correlated ROC AUCs, in O(n log n).

DeLong, DeLong and Clarke-Pearson (1988) estimate the covariance of two AUCs
measured on the same rows from their structural components; Sun and Xu (2014)
compute those in O(n log n) from midranks.  Here, after one sort of each
model's scores, every positive row gets ``V10`` (the share of negatives
scored below it, ties counting half) and every negative row ``V01`` (the
share of positives scored above it); each model's AUC is the mean of either.
With ``m`` positives and ``n`` negatives, ``S10`` and ``S01`` the 2 x 2 sample
covariances (denominators ``m - 1`` and ``n - 1``) of the two models'
``V10`` and ``V01``, the covariance of the AUCs is ``S = S10 / m + S01 / n``
and

    z = (AUC_candidate - AUC_baseline - margin) / sqrt(S00 + S11 - 2 S01),

as R's ``pROC::roc.test(method="delong", paired=TRUE)`` does (margin 0).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from fastmlops._core.results import TupleResult
from fastmlops._core.validation import as_real, check_probability
from fastmlops.gate._inputs import Paired, paired_input
from fastmlops.gate._sorted import SortedPair, sort_pair
from fastmlops.gate._stats import (
    Interval,
    check_alternative,
    norm_ppf,
    z_pvalue,
    z_statistic,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


class DeLongResult(TupleResult):
    """Result of :func:`delong`; unpacks as ``(statistic, pvalue)``.

    Attributes: ``statistic`` (z), ``pvalue``, ``auc_baseline``,
    ``auc_candidate``, ``difference`` (candidate minus baseline), ``se`` (its
    standard error), ``covariance`` (2 x 2: baseline, candidate),
    ``margin``, ``alternative``, ``n_positive``, ``n_negative``.
    """

    _fields = ("statistic", "pvalue", "auc_baseline", "auc_candidate", "difference", "se",
               "covariance", "margin", "alternative", "n_positive", "n_negative")

    def confidence_interval(self, confidence: float = 0.95) -> Interval:
        """Two-sided normal interval of the difference of the AUCs."""
        level = check_probability(confidence, "confidence")
        half = norm_ppf(0.5 + level / 2) * self.se
        return Interval(low=self.difference - half, high=self.difference + half)


def delong_from(data: Paired, sorted_pair: SortedPair | None = None
                ) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(the two AUCs, their 2 x 2 covariance, positives, negatives) of
    checked input; NaN when a class is missing."""
    from fastmlops._kernels.paired import class_covariances, placements

    m = int(np.count_nonzero(data.y))
    n = data.n - m
    if m == 0 or n == 0:
        return np.full(2, np.nan), np.full((2, 2), np.nan), m, n
    sp = sort_pair(data.y, data.baseline, data.candidate) if sorted_pair is None \
        else sorted_pair
    v = placements(sp.rows, sp.first, sp.labels, np.empty(0))
    stats = class_covariances(v, data.y)  # rows: V01 (negatives), V10 (positives)
    aucs = stats[1, :2].copy()
    if m < 2 or n < 2:  # a variance of one row is not estimable
        return aucs, np.full((2, 2), np.nan), m, n
    s01, s10 = ([[r[2], r[3]], [r[3], r[4]]] for r in stats)
    return aucs, np.array(s10) / m + np.array(s01) / n, m, n


def delong(y_true: ArrayLike, baseline: ArrayLike, candidate: ArrayLike, *,
           margin: float = 0.0, alternative: str = "two-sided") -> DeLongResult:
    """DeLong's paired test of two ROC AUCs measured on the same rows.

    ``z = (AUC_candidate - AUC_baseline - margin) / se``, the standard error
    from DeLong's covariance of the two AUCs (see the module docstring);
    equal to R's ``pROC::roc.test(roc(y, candidate), roc(y, baseline),
    method="delong", paired=TRUE)`` for ``margin=0``.  O(n log n): one sort
    of each model's scores.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Binary labels (bool or 0/1).
    baseline, candidate : array-like of shape (n,)
        Each model's scores on the same rows, higher meaning more likely
        positive.  NaN raises ``ValueError`` with the count.
    margin : float
        The difference under the null hypothesis.  A non-inferiority test
        with a tolerance of 0.01 is ``margin=-0.01, alternative="greater"``
        (the candidate passes when the test rejects "the candidate's AUC is
        lower by 0.01 or more").
    alternative : {'two-sided', 'greater', 'less'}
        'greater': the candidate's AUC exceeds the baseline's by more than
        ``margin``.

    Returns
    -------
    DeLongResult
        ``statistic, pvalue`` and the AUCs, difference, standard error and
        covariance.  When both models rank every pair alike (``se`` 0) the
        statistic is 0 and the p-value 1 if the difference equals
        ``margin``; with a single row of a class the covariance, statistic
        and p-value are NaN; a class missing raises.

    Examples
    --------
    >>> from fastmlops.gate import delong
    >>> y = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> base = [0.1, 0.3, 0.5, 0.7, 0.4, 0.6, 0.8, 0.2]
    >>> cand = [0.1, 0.2, 0.5, 0.75, 0.6, 0.7, 0.8, 0.9]
    >>> res = delong(y, base, cand)
    >>> res.auc_baseline, res.auc_candidate
    (0.625, 0.875)
    >>> round(res.statistic, 4), round(res.pvalue, 4)  # as pROC::roc.test
    (1.2247, 0.2207)
    """
    alt = check_alternative(alternative)
    null = as_real(margin, "margin")
    if not math.isfinite(null) or abs(null) >= 1:
        raise ValueError(f"margin must be a difference of AUCs in (-1, 1), got {margin!r}")
    data = paired_input(y_true, baseline, candidate)
    aucs, cov, m, n = delong_from(data)
    if m == 0 or n == 0:
        raise ValueError(f"y_true has {m:,} positives and {n:,} negatives: DeLong's test "
                         "needs both classes")
    return result_from(aucs, cov, m, n, null, alt)


def result_from(aucs: np.ndarray, cov: np.ndarray, m: int, n: int, null: float,
                alt: str) -> DeLongResult:
    diff = float(aucs[1] - aucs[0])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    se = math.sqrt(max(var, 0.0))
    z = z_statistic(diff, null, se)
    return DeLongResult(statistic=z, pvalue=z_pvalue(z, alt), auc_baseline=float(aucs[0]),
                        auc_candidate=float(aucs[1]), difference=diff, se=se, covariance=cov,
                        margin=null, alternative=alt, n_positive=m, n_negative=n)
