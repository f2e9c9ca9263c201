"""Sample size and analytic power of the pooled two-proportion z-test."""

from __future__ import annotations

import math

from fastmlops._core.validation import as_real, check_choice, check_positive, check_probability
from fastmlops.abtest._normal import check_alternative, critical_value, norm_cdf, norm_isf, norm_sf

_SIZE_METHODS = ("arcsine", "pooled-z", "simple")
_METHOD_ALIASES = {"seed": "simple", "cohen-h": "arcsine", "cohens-h": "arcsine"}


def _check_method(method: object) -> str:
    return check_choice(method, "method", _SIZE_METHODS, aliases=_METHOD_ALIASES,
                        hint=" (or 'seed' for 'simple')")


def _arms(p_baseline: object, mde: object) -> tuple[float, float, float]:
    """``(p_a, p_b, mde)`` of the two arms, checked."""
    p_a = check_probability(p_baseline, "p_baseline")
    d = as_real(mde, "mde", "a number (the absolute difference p_b - p_a)")
    if d == 0.0 or not math.isfinite(d):
        raise ValueError(f"mde must be a non-zero finite difference p_b - p_a, got {mde!r}")
    p_b = p_a + d
    if not 0.0 < p_b < 1.0:
        raise ValueError(f"p_baseline + mde = {p_b!r} is not a proportion in (0, 1); mde is the "
                         "absolute difference (0.02 for 10% -> 12%), not a relative lift")
    return p_a, p_b, d


def _power_at(p_a: float, p_b: float, n_a: float, ratio: float, alpha: float,
              alternative: str, method: str) -> float:
    """Analytic power with n_a users in group a and ratio * n_a in group b."""
    n_b = ratio * n_a
    crit = critical_value(alpha, alternative)
    if method == "arcsine":
        # statsmodels: NormalIndPower with effect size 2 asin(sqrt p_b) - 2 asin(sqrt p_a)
        # and nobs = 1 / (1/n_a + 1/n_b); a two-sided test adds both tails.
        h = 2.0 * math.asin(math.sqrt(p_b)) - 2.0 * math.asin(math.sqrt(p_a))
        shift = h * math.sqrt(1.0 / (1.0 / n_a + 1.0 / n_b))
        up = norm_sf(crit - shift)
        down = norm_cdf(-crit - shift)
        sd0 = sd1 = 1.0
    else:
        d = p_b - p_a
        if method == "pooled-z":
            pbar = (n_a * p_a + n_b * p_b) / (n_a + n_b)
            sd0 = math.sqrt(pbar * (1 - pbar) * (1 / n_a + 1 / n_b))
            sd1 = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
        else:  # simple: baseline variance in both arms, under H0 and H1
            sd0 = sd1 = math.sqrt(p_a * (1 - p_a) * (1 / n_a + 1 / n_b))
        up = norm_sf((crit * sd0 - d) / sd1)
        down = norm_cdf((-crit * sd0 - d) / sd1)
    if alternative == "larger":
        return up
    if alternative == "smaller":
        return down
    return up + down


def sample_size(p_baseline: float, mde: float, alpha: float = 0.05, power: float = 0.8,
                ratio: float = 1.0, alternative: str = "two-sided", method: str = "arcsine",
                *, round_z: bool = False) -> int:
    """Number of users in group ``a`` needed to detect ``p_b = p_baseline + mde``.

    Group ``b`` needs ``ceil(ratio * n)`` users; with the default ``ratio=1``
    the answer is the size of each group.

    Parameters
    ----------
    p_baseline : float
        Baseline proportion ``p_a`` in (0, 1).
    mde : float
        Minimum detectable effect, the *absolute* difference ``p_b - p_a``
        (0.02 for 10% -> 12%).  Negative for a decrease.
    alpha : float, default 0.05
        Significance level in (0, 1).
    power : float, default 0.8
        Requested power in (0, 1).
    ratio : float, default 1.0
        ``n_b / n_a``.
    alternative : {'two-sided', 'larger', 'smaller'}
        'larger' tests ``p_b > p_a`` (needs ``mde > 0``), 'smaller' ``p_b < p_a``.
    method : {'arcsine', 'pooled-z', 'simple'}
        * 'arcsine' (default): Cohen's h, ``h = 2 asin(sqrt p_b) - 2 asin(sqrt p_a)``,
          treated as a normal mean difference with unit variance; the smallest
          ``n`` whose power reaches ``power``, both tails counted for a two-sided
          test.  Identical to statsmodels'
          ``NormalIndPower().solve_power(proportion_effectsize(p_b, p_a), ...)``
          rounded up.  The arcsine transform stabilises the variance, so this
          reaches the requested power for the pooled z-test in practice.
        * 'pooled-z': the normal approximation of the pooled z-test itself
          (variance ``pbar(1-pbar)`` under H0, ``p_a q_a / n_a + p_b q_b / n_b``
          under H1; Fleiss' formula without continuity correction).
        * 'simple' (alias 'seed'): ``(z_{1-alpha/2} + z_power)^2 * p(1-p) *
          (1 + 1/ratio) / mde^2`` with ``p = p_baseline``, i.e.
          ``2 p (1-p) / mde^2`` per group at ``ratio=1``.  It uses the
          baseline variance for both arms and ignores the far tail, which
          under-powers when ``p_b`` has a larger variance than ``p_a``: for
          ``p=0.10``, ``mde=0.02`` it gives 3532 per group, at which the
          pooled z-test has a real power of about 0.77, not 0.80.
    round_z : bool, default False
        Only for 'simple': round both normal quantiles to two decimals
        (1.96 and 0.84), as hand calculations do (3528 instead of 3532 above).

    Returns
    -------
    int
        Users in group ``a`` (each group when ``ratio == 1``).

    Raises
    ------
    ValueError
        Proportions, ``alpha`` or ``power`` outside (0, 1), ``mde == 0``,
        ``p_baseline + mde`` outside (0, 1), a one-sided alternative pointing
        the other way from ``mde``, ``ratio <= 0``, unknown options, ``power``
        not above the test's false-positive rate (``alpha``, or ``alpha / 2``
        two-sided), for every method.

    Examples
    --------
    >>> from fastmlops.abtest import sample_size
    >>> sample_size(0.10, 0.02)
    3835
    >>> sample_size(0.10, 0.02, method="simple")
    3532
    >>> sample_size(0.10, 0.02, method="simple", round_z=True)
    3528
    >>> sample_size(0.10, 0.02, alternative="larger")
    3021
    """
    p_a, p_b, d = _arms(p_baseline, mde)
    alpha = check_probability(alpha, "alpha")
    target = check_probability(power, "power")
    ratio = check_positive(ratio, "ratio")
    alternative = check_alternative(alternative)
    method = _check_method(method)
    if round_z and method != "simple":
        raise ValueError("round_z applies only to method='simple'")
    if (alternative == "larger" and d < 0) or (alternative == "smaller" and d > 0):
        raise ValueError(f"alternative={alternative!r} cannot detect mde={mde!r}: use "
                         "'larger' for an increase (mde > 0), 'smaller' for a decrease")
    if alpha / (2 if alternative == "two-sided" else 1) >= target:
        raise ValueError(f"power={target} must exceed the false-positive rate of the test "
                         f"(alpha={alpha}); ask for more power")
    if method == "simple":
        z_a = critical_value(alpha, alternative)
        z_b = norm_isf(1.0 - target)
        if round_z:
            z_a, z_b = round(z_a, 2), round(z_b, 2)
        n = (z_a + z_b) ** 2 * p_a * (1 - p_a) * (1 + 1 / ratio) / d ** 2
        return int(math.ceil(n - 1e-9))
    from scipy.optimize import brentq

    def gap(n: float) -> float:
        return _power_at(p_a, p_b, n, ratio, alpha, alternative, method) - target

    hi = 2.0
    while gap(hi) < 0:
        hi *= 2.0
        if hi > 1e15:  # pragma: no cover - effect too small to ever detect
            raise ValueError("the effect is too small: no sample size below 1e15 reaches "
                             "the requested power")
    lo = 1e-6 if gap(1e-6) < 0 else None
    if lo is None:  # power already reached with a fraction of a user
        return 1
    n = brentq(gap, lo, hi, xtol=1e-10, rtol=1e-14, maxiter=500)
    return max(1, int(math.ceil(n - 1e-7)))


def power(p_baseline: float, mde: float, nobs: float, alpha: float = 0.05, ratio: float = 1.0,
          alternative: str = "two-sided", method: str = "arcsine") -> float:
    """Analytic power with ``nobs`` users in group ``a`` (``ratio * nobs`` in ``b``).

    Same parameters and methods as :func:`sample_size`.  'arcsine' equals
    statsmodels' ``NormalIndPower().power(proportion_effectsize(p_b, p_a),
    nobs, alpha, ratio, alternative)``; 'pooled-z' is the normal approximation
    of the power of :func:`proportions_ztest` (which :func:`simulate_power`
    confirms by simulation); 'simple' is the power the simple formula assumes.

    Examples
    --------
    >>> from fastmlops.abtest import power
    >>> round(power(0.10, 0.02, 3835), 4)
    0.8
    >>> round(power(0.10, 0.02, 3532, method="pooled-z"), 3)
    0.766
    """
    p_a, p_b, _ = _arms(p_baseline, mde)
    alpha = check_probability(alpha, "alpha")
    ratio = check_positive(ratio, "ratio")
    n = check_positive(nobs, "nobs")
    return _power_at(p_a, p_b, n, ratio, alpha, check_alternative(alternative),
                     _check_method(method))
