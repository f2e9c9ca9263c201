"""The pooled two-proportion z-test and confidence intervals of the lift."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from fastmlops._core.results import TupleResult
from fastmlops._core.validation import check_choice, check_probability
from fastmlops.abtest._counts import as_scalar, counts, float64_counts
from fastmlops.abtest._normal import check_alternative, norm_isf, wilson


def _exact_ztest(ca: int, na: int, cb: int, nb: int) -> tuple[float, float, float, float]:
    """(z, p_a, p_b, p_b - p_a) from exact rational arithmetic, each rounded
    once to float64 (z to within an ulp or two)."""
    from fractions import Fraction

    pa, pb = Fraction(ca, na), Fraction(cb, nb)
    d = pb - pa
    pooled = Fraction(ca + cb, na + nb)
    var = pooled * (1 - pooled) * (Fraction(1, na) + Fraction(1, nb))
    if var == 0 or d == 0:
        z = 0.0
    else:
        try:
            z = math.copysign(math.sqrt(float(d * d / var)), d)
        except OverflowError:  # |z| beyond the float range
            z = math.copysign(math.inf, d)
    return z, float(pa), float(pb), float(d)


class ZTestResult(TupleResult):
    """Result of :func:`proportions_ztest`; unpacks as ``(statistic, pvalue)``.

    Attributes: ``statistic`` (z of b minus a), ``pvalue``, ``p_a``, ``p_b``,
    ``difference`` (``p_b - p_a``).
    """

    _fields = ("statistic", "pvalue", "p_a", "p_b", "difference")


def proportions_ztest(count_a: ArrayLike, nobs_a: ArrayLike, count_b: ArrayLike,
                      nobs_b: ArrayLike, alternative: str = "two-sided") -> ZTestResult:
    """Pooled two-proportion z-test of ``p_b`` against ``p_a``.

    ``z = (p_b - p_a) / sqrt(pbar (1 - pbar) (1/nobs_a + 1/nobs_b))`` with the
    pooled ``pbar = (count_a + count_b) / (nobs_a + nobs_b)``; equal to
    ``statsmodels.stats.proportion.proportions_ztest([count_b, count_a],
    [nobs_b, nobs_a], alternative=...)``.  When both arms are all failures or
    all successes (``pbar`` is 0 or 1) there is no evidence either way: the
    statistic is 0 and the p-value 1 (statsmodels gives NaN).

    Counts are computed in float64, as statsmodels does, as long as every
    count of a test is at most ``2**53`` (where float64 holds every integer).
    A test with a larger count (Python ints of any size, ``int64``,
    ``uint64``) is computed exactly, in rational arithmetic, and each result
    rounded once to float64: float64 would round such counts silently (and
    could even hide a ``count > nobs``).  A statistic beyond the float range
    is ``inf``.

    Parameters
    ----------
    count_a, nobs_a, count_b, nobs_b : int or array_like of int
        Successes and trials in each group; arrays (of one shape, or scalars)
        run many tests at once.
    alternative : {'two-sided', 'larger', 'smaller'}
        'larger': ``p_b > p_a``; 'smaller': ``p_b < p_a``.

    Returns
    -------
    ZTestResult
        ``statistic``, ``pvalue``, ``p_a``, ``p_b``, ``difference``; floats for
        scalar input, arrays otherwise.

    Raises
    ------
    ValueError
        Negative or non-integral counts, ``count > nobs``, ``nobs < 1``,
        shapes that do not match, unknown ``alternative``.
    TypeError
        Counts that are not numbers (strings, booleans, objects).

    Examples
    --------
    >>> from fastmlops.abtest import proportions_ztest
    >>> res = proportions_ztest(100, 1000, 130, 1000)
    >>> round(res.statistic, 4), round(res.pvalue, 4)
    (2.1027, 0.0355)
    >>> round(proportions_ztest(100, 1000, 130, 1000, alternative="larger").pvalue, 4)
    0.0177
    """
    alternative = check_alternative(alternative)
    ca, na, cb, nb, big, exact = counts(count_a, nobs_a, count_b, nobs_b)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pa, pb = np.asarray(ca / na), np.asarray(cb / nb)
        pooled = (ca + cb) / (na + nb)
        var = pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)
        z = np.where(var > 0, (pb - pa) / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    diff = np.asarray(pb - pa)
    if big.any():  # counts above 2**53: float64 would round them; compute exactly
        pa, pb, diff = pa.copy(), pb.copy(), diff.copy()
        for i in np.argwhere(big):
            pos = tuple(i)
            z[pos], pa[pos], pb[pos], diff[pos] = _exact_ztest(*(int(e[pos]) for e in exact))
    from scipy.special import ndtr

    if alternative == "two-sided":
        p = 2.0 * ndtr(-np.abs(z))
    elif alternative == "larger":
        p = ndtr(-z)
    else:
        p = ndtr(z)
    p = np.minimum(p, 1.0)
    return ZTestResult(statistic=as_scalar(z), pvalue=as_scalar(p), p_a=as_scalar(pa),
                       p_b=as_scalar(pb), difference=as_scalar(diff))


class ConfidenceInterval(TupleResult):
    """Result of :func:`lift_confint`; unpacks as ``(low, high)``.

    Attributes: ``low``, ``high``, ``difference`` (``p_b - p_a``), ``method``.
    """

    _fields = ("low", "high", "difference", "method")


def lift_confint(count_a: ArrayLike, nobs_a: ArrayLike, count_b: ArrayLike, nobs_b: ArrayLike,
                 alpha: float = 0.05, method: str = "newcombe") -> ConfidenceInterval:
    """Two-sided ``1 - alpha`` confidence interval of the lift ``p_b - p_a``.

    Parameters
    ----------
    count_a, nobs_a, count_b, nobs_b : int or array_like of int
        As in :func:`proportions_ztest`.
    alpha : float, default 0.05
        One minus the confidence level.
    method : {'newcombe', 'wald'}
        'newcombe' (default): Newcombe's hybrid score interval (his method
        10), built from the Wilson score intervals of both proportions; good
        coverage even for small counts or proportions near 0 or 1, and equal
        to statsmodels' ``confint_proportions_2indep(count_b, nobs_b, count_a,
        nobs_a, method='newcomb')``.  'wald': ``d +- z sqrt(p_a q_a / n_a +
        p_b q_b / n_b)`` (unpooled; poor coverage for small counts).

    Computed in float64: a count above ``2**53`` that float64 cannot hold
    exactly raises ValueError rather than being rounded.

    Examples
    --------
    >>> from fastmlops.abtest import lift_confint
    >>> low, high = lift_confint(100, 1000, 130, 1000)
    >>> round(low, 4), round(high, 4)
    (0.002, 0.0581)
    >>> [round(v, 4) for v in lift_confint(100, 1000, 130, 1000, method="wald")]
    [0.0021, 0.0579]
    """
    alpha = check_probability(alpha, "alpha")
    method = check_choice(method, "method", ("newcombe", "wald"))
    ca, na, cb, nb = float64_counts(count_a, nobs_a, count_b, nobs_b, "lift_confint")
    z = norm_isf(alpha / 2)
    pa, pb = ca / na, cb / nb
    d = pb - pa
    if method == "wald":
        half = z * np.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
        low, high = d - half, d + half
    else:
        la, ua = wilson(ca, na, z)
        lb, ub = wilson(cb, nb, z)
        low = np.maximum(d - np.sqrt((pb - lb) ** 2 + (ua - pa) ** 2), -1.0)  # clip rounding
        high = np.minimum(d + np.sqrt((ub - pb) ** 2 + (pa - la) ** 2), 1.0)
    return ConfidenceInterval(low=as_scalar(low), high=as_scalar(high),
                              difference=as_scalar(d), method=method)
