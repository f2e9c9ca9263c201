"""The normal approximation shared by the tests: alternatives, critical values,
tail probabilities and the Wilson score interval."""

from __future__ import annotations

import math

import numpy as np

from fastmlops._core.validation import check_choice

#: The alternatives of every test, in the order the kernels number them (side 0, 1, 2).
ALTERNATIVES = ("two-sided", "larger", "smaller")
_SQRT2 = math.sqrt(2.0)


def check_alternative(alternative: object) -> str:
    """``alternative`` if it is one of :data:`ALTERNATIVES`, else ValueError."""
    return check_choice(alternative, "alternative", ALTERNATIVES,
                        hint=" ('larger': p_b > p_a)")


def norm_cdf(x: float) -> float:
    """P(Z <= x) for a standard normal Z."""
    return 0.5 * math.erfc(-x / _SQRT2)


def norm_sf(x: float) -> float:
    """P(Z > x) for a standard normal Z (accurate far in the upper tail)."""
    return 0.5 * math.erfc(x / _SQRT2)


def norm_isf(q: float) -> float:
    """The ``x`` with ``P(Z > x) = q``."""
    from scipy.special import ndtri

    return float(-ndtri(q))


def critical_value(alpha: float, alternative: str) -> float:
    """The z beyond which a test at level ``alpha`` rejects (both tails share
    ``alpha`` for a two-sided test)."""
    return norm_isf(alpha / 2 if alternative == "two-sided" else alpha)


def wilson(count: np.ndarray | np.float64, nobs: np.ndarray | np.float64,
           z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval ``(low, high)`` of ``count / nobs`` at the normal quantile ``z``."""
    p = count / nobs
    denom = 1.0 + z * z / nobs
    center = (p + z * z / (2 * nobs)) / denom
    half = z * np.sqrt(p * (1 - p) / nobs + z * z / (4 * nobs * nobs)) / denom
    return center - half, center + half


def wilson_scalar(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95% (by default) Wilson interval of a simulated rate ``k / n``, as floats in [0, 1]."""
    lo, hi = wilson(np.float64(k), np.float64(n), z)
    # the bound at 0 successes is exactly 0 (and at n, 1); rounding would leave ~1e-19
    return (0.0 if k == 0 else max(float(lo), 0.0)), (1.0 if k == n else min(float(hi), 1.0))
