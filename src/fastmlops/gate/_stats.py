"""Small statistics shared by the gate's tests: alternatives, normal tail
probabilities, Holm's correction and the approximate power of a z-test."""

from __future__ import annotations

import math

import numpy as np

from fastmlops._core.results import TupleResult
from fastmlops._core.validation import check_choice

#: The alternatives, about ``candidate - baseline`` (scipy's names).
ALTERNATIVES = ("two-sided", "greater", "less")
_ALIASES = {"larger": "greater", "smaller": "less", "two.sided": "two-sided"}


class Interval(TupleResult):
    """A confidence interval ``(low, high)``."""

    _fields = ("low", "high")
    _n_unpack = 2


def check_alternative(alternative: object) -> str:
    """One of :data:`ALTERNATIVES` ('larger'/'smaller' accepted as aliases)."""
    return check_choice(alternative, "alternative", ALTERNATIVES, aliases=_ALIASES,
                        hint=" ('greater': the candidate is better than the baseline)")


def norm_sf(x: float) -> float:
    """P(Z > x) for a standard normal Z."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def norm_ppf(q: float) -> float:
    """The ``x`` with P(Z <= x) = q."""
    from scipy.special import ndtri

    return float(ndtri(q))


def z_pvalue(z: float, alternative: str) -> float:
    """The p-value of a z statistic (NaN for NaN)."""
    if math.isnan(z):
        return math.nan
    if alternative == "greater":
        return norm_sf(z)
    if alternative == "less":
        return norm_sf(-z)
    return min(1.0, 2.0 * norm_sf(abs(z)))


def z_statistic(estimate: float, null: float, se: float) -> float:
    """``(estimate - null) / se``; 0 when both are 0 (no evidence either
    way, e.g. two identical models), +-inf when only ``se`` is, NaN when
    ``se`` is NaN."""
    diff = estimate - null
    if math.isnan(se):
        return math.nan
    if se > 0.0:
        return diff / se
    if diff == 0.0 or math.isnan(diff):
        return 0.0 if diff == 0.0 else math.nan
    return math.copysign(math.inf, diff)


def power_z(shift: float, se: float, alpha: float, alternative: str) -> float:
    """Approximate power of a z-test at level ``alpha`` when the true value
    is ``shift`` above the null (``shift / se`` standard errors)."""
    if not se > 0.0 or math.isnan(shift):
        return math.nan
    if alternative == "greater":
        return norm_sf(norm_ppf(1 - alpha) - shift / se)
    if alternative == "less":
        return norm_sf(norm_ppf(1 - alpha) + shift / se)
    crit = norm_ppf(1 - alpha / 2)
    return norm_sf(crit - shift / se) + norm_sf(crit + shift / se)


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN, out of the family);
    equal to ``statsmodels.stats.multitest.multipletests(p, method="holm")``.

    Examples
    --------
    >>> from fastmlops.gate._stats import holm
    >>> holm(np.array([0.01, 0.04, 0.03])).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out
