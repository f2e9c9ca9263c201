"""A/B tests of two proportions (conversion, error or click rates).

* :func:`sample_size` -- users per group for a minimum detectable effect, by
  the arcsine (Cohen's h) method that statsmodels uses (default), the normal
  approximation of the pooled z-test, or the simple textbook formula.
* :func:`power` -- analytic power for a given sample size, by the same methods.
* :func:`proportions_ztest` -- the pooled two-proportion z-test, equal to
  ``statsmodels.stats.proportion.proportions_ztest([count_b, count_a],
  [nobs_b, nobs_a])``; the statistic is the z of **b minus a**.
* :func:`lift_confint` -- confidence interval of the lift ``p_b - p_a``
  (Newcombe's hybrid score interval by default, or Wald).
* :func:`simulate_power` -- power by simulation (binomial draws and a pooled
  z-test per simulated experiment, on a seeded Numba kernel): one million
  simulated tests take well under a second.
* :func:`sequential_test` -- an always-valid test for continuous monitoring
  (the mixture sequential probability ratio test, mSPRT), and
  :func:`simulate_peeking`, which shows why it is needed: peeking at a
  fixed-horizon z-test after every batch inflates the false-positive rate.

Throughout, group ``a`` is the control (baseline) and group ``b`` the
treatment (variant, canary); differences are ``b - a``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastmlops._core.results import TupleResult

__all__ = [
    "sample_size", "power", "proportions_ztest", "ZTestResult", "lift_confint",
    "ConfidenceInterval", "simulate_power", "SimulatedPower", "sequential_test",
    "SequentialResult", "simulate_peeking", "PeekingResult",
]

_ALTERNATIVES = ("two-sided", "larger", "smaller")
_SIZE_METHODS = ("arcsine", "pooled-z", "simple")
_METHOD_ALIASES = {"seed": "simple", "cohen-h": "arcsine", "cohens-h": "arcsine"}
_SIM_CHUNK = 1 << 16  # simulated experiments per seeded chunk
_SQRT2 = math.sqrt(2.0)


# ------------------------------------------------------------------ validation
def _float_or_inf(v: int) -> float:
    try:
        return float(v)
    except OverflowError:  # beyond 1.8e308
        return math.inf if v > 0 else -math.inf  # copysign(inf, v) would convert v too


def _check_alternative(alternative: Any) -> str:
    if alternative not in _ALTERNATIVES:
        raise ValueError(
            f"alternative must be one of {_ALTERNATIVES} ('larger': p_b > p_a), "
            f"got {alternative!r}")
    return alternative


def _check_unit(value: Any, name: str) -> float:
    """A real number strictly between 0 and 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    v = _float_or_inf(value)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return v


def _check_positive(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be a positive number, got {value!r}")
    v = _float_or_inf(value)
    if not (v > 0.0 and math.isfinite(v)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def _check_method(method: Any) -> str:
    m = _METHOD_ALIASES.get(method, method) if isinstance(method, str) else method
    if m not in _SIZE_METHODS:
        raise ValueError(f"method must be one of {_SIZE_METHODS} (or 'seed' for 'simple'), "
                         f"got {method!r}")
    return m


#: Every integer of at most this magnitude is exactly a float64.
_EXACT_INT_MAX = 2 ** 53


def _is_float64(v: int) -> bool:
    """True if the integer ``v`` is exactly representable as a float64."""
    if -_EXACT_INT_MAX <= v <= _EXACT_INT_MAX:
        return True
    try:
        return int(float(v)) == v
    except OverflowError:
        return False




def _count_array(name: str, x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x`` as (float64 array, array of its exact values, mask of the values
    above 2**53 in magnitude), checked: whole numbers, not negative."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a number or an array of numbers, got {x!r}")
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if kind == "O":  # Python ints beyond the int64 range (or other objects)
        values = []
        for v in arr.flat:
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name} must hold integer counts, got {type(v).__name__} "
                                f"{v!r} (dtype object)")
            values.append(int(v))
        exact = np.empty(len(values), dtype=object)
        exact[:] = values
        exact = exact.reshape(arr.shape)
        floats = np.array([_float_or_inf(v) for v in values],
                          dtype=np.float64).reshape(arr.shape)
        big = np.array([abs(v) > _EXACT_INT_MAX for v in values], dtype=bool).reshape(arr.shape)
    elif kind in "iu":
        floats = arr.astype(np.float64)
        exact = arr
        big = arr > arr.dtype.type(_EXACT_INT_MAX) if arr.dtype.itemsize >= 8 else \
            np.zeros(arr.shape, dtype=bool)
        if kind == "i" and arr.dtype.itemsize >= 8:
            big |= arr < -_EXACT_INT_MAX
    elif kind == "f":
        floats = arr.astype(np.float64)
        if not np.all(np.isfinite(floats)) or np.any(floats != np.floor(floats)):
            raise ValueError(f"{name} must hold whole numbers (counts), got {x!r}")
        exact = floats
        big = np.abs(floats) > _EXACT_INT_MAX
    else:
        raise TypeError(f"{name} must hold integer counts, got dtype {arr.dtype}")
    if np.any(floats < 0):
        raise ValueError(f"{name} must not be negative, got {x!r}")
    return floats, exact, big


_COUNT_NAMES = ("count_a", "nobs_a", "count_b", "nobs_b")


def _counts(count_a: Any, nobs_a: Any, count_b: Any, nobs_b: Any) -> tuple[Any, ...]:
    """``(ca, na, cb, nb, big, exact)``: four float64 arrays of one broadcast
    shape, checked (integers or integral floats, 0 <= count <= nobs, nobs >=
    1); the mask of the positions where some count is above 2**53 in
    magnitude (float64 may round it); and the four arrays of exact values
    (Python or numpy ints, or whole floats)."""
    names = _COUNT_NAMES
    parts = [_count_array(name, x) for name, x in zip(names, (count_a, nobs_a, count_b, nobs_b))]
    try:
        shape = np.broadcast_shapes(*(f.shape for f, _, _ in parts))
    except ValueError:
        shapes = ", ".join(f"{n}{f.shape}" for n, (f, _, _) in zip(names, parts))
        raise ValueError(f"count_a, nobs_a, count_b and nobs_b must have matching lengths "
                         f"(or be scalars); got shapes {shapes}") from None
    ca, na, cb, nb = (np.broadcast_to(f, shape) for f, _, _ in parts)
    big = np.zeros(shape, dtype=bool)
    for _, _, b in parts:
        big |= b
    exact = [np.broadcast_to(e, shape) for _, e, _ in parts]
    if big.any():
        positions = [tuple(i) for i in np.argwhere(big)]
        for pos in positions:  # exact comparisons: rounding may hide count > nobs
            if int(exact[0][pos]) > int(exact[1][pos]) or int(exact[2][pos]) > int(exact[3][pos]):
                raise ValueError("a count is larger than its number of observations: need "
                                 "count_a <= nobs_a and count_b <= nobs_b")
    if np.any(na < 1) or np.any(nb < 1):
        raise ValueError("nobs_a and nobs_b must be at least 1 (each group needs observations)")
    if np.any(ca > na) or np.any(cb > nb):
        raise ValueError("a count is larger than its number of observations: need "
                         "count_a <= nobs_a and count_b <= nobs_b")
    return ca, na, cb, nb, big, exact


def _float64_counts(count_a: Any, nobs_a: Any, count_b: Any, nobs_b: Any,
                    caller: str) -> tuple[np.ndarray, ...]:
    """:func:`_counts` for functions that compute in float64: counts that a
    float64 cannot hold exactly are refused with a ValueError naming ``caller``."""
    ca, na, cb, nb, big, exact = _counts(count_a, nobs_a, count_b, nobs_b)
    for i in np.argwhere(big):
        pos = tuple(i)
        for name, e in zip(_COUNT_NAMES, exact):
            v = int(e[pos])
            if not _is_float64(v):
                raise ValueError(
                    f"{name} holds {v}, above 2**53 = {_EXACT_INT_MAX}, which a float64 "
                    f"cannot represent exactly; {caller} computes in float64 and would "
                    "round it (proportions_ztest computes such counts exactly)")
    return ca, na, cb, nb


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


def _scalar(x: np.ndarray) -> Any:
    return float(x) if np.ndim(x) == 0 else x


# ------------------------------------------------------------------ normal bits
def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / _SQRT2)


def _norm_sf(x: float) -> float:
    return 0.5 * math.erfc(x / _SQRT2)


def _norm_isf(q: float) -> float:
    from scipy.special import ndtri

    return float(-ndtri(q))


def _crit(alpha: float, alternative: str) -> float:
    return _norm_isf(alpha / 2 if alternative == "two-sided" else alpha)


def _arms(p_baseline: Any, mde: Any) -> tuple[float, float, float]:
    p_a = _check_unit(p_baseline, "p_baseline")
    if isinstance(mde, (bool, np.bool_)) or not isinstance(mde, (int, float, np.number)):
        raise TypeError(f"mde must be a number (the absolute difference p_b - p_a), got {mde!r}")
    d = _float_or_inf(mde)
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
    crit = _crit(alpha, alternative)
    if method == "arcsine":
        # statsmodels: NormalIndPower with effect size 2 asin(sqrt p_b) - 2 asin(sqrt p_a)
        # and nobs = 1 / (1/n_a + 1/n_b); a two-sided test adds both tails.
        h = 2.0 * math.asin(math.sqrt(p_b)) - 2.0 * math.asin(math.sqrt(p_a))
        shift = h * math.sqrt(1.0 / (1.0 / n_a + 1.0 / n_b))
        up = _norm_sf(crit - shift)
        down = _norm_cdf(-crit - shift)
        sd0 = sd1 = 1.0
    else:
        d = p_b - p_a
        if method == "pooled-z":
            pbar = (n_a * p_a + n_b * p_b) / (n_a + n_b)
            sd0 = math.sqrt(pbar * (1 - pbar) * (1 / n_a + 1 / n_b))
            sd1 = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
        else:  # simple: baseline variance in both arms, under H0 and H1
            sd0 = sd1 = math.sqrt(p_a * (1 - p_a) * (1 / n_a + 1 / n_b))
        up = _norm_sf((crit * sd0 - d) / sd1)
        down = _norm_cdf((-crit * sd0 - d) / sd1)
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
    alpha = _check_unit(alpha, "alpha")
    target = _check_unit(power, "power")
    ratio = _check_positive(ratio, "ratio")
    alternative = _check_alternative(alternative)
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
        z_a = _crit(alpha, alternative)
        z_b = _norm_isf(1.0 - target)
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
    alpha = _check_unit(alpha, "alpha")
    ratio = _check_positive(ratio, "ratio")
    n = _check_positive(nobs, "nobs")
    return _power_at(p_a, p_b, n, ratio, alpha, _check_alternative(alternative),
                     _check_method(method))


# ------------------------------------------------------------------ z-test
class ZTestResult(TupleResult):
    """Result of :func:`proportions_ztest`; unpacks as ``(statistic, pvalue)``.

    Attributes: ``statistic`` (z of b minus a), ``pvalue``, ``p_a``, ``p_b``,
    ``difference`` (``p_b - p_a``).
    """

    _fields = ("statistic", "pvalue", "p_a", "p_b", "difference")


def proportions_ztest(count_a: Any, nobs_a: Any, count_b: Any, nobs_b: Any,
                      alternative: str = "two-sided") -> ZTestResult:
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
    alternative = _check_alternative(alternative)
    ca, na, cb, nb, big, exact = _counts(count_a, nobs_a, count_b, nobs_b)
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
    return ZTestResult(statistic=_scalar(z), pvalue=_scalar(p), p_a=_scalar(pa),
                       p_b=_scalar(pb), difference=_scalar(diff))


class ConfidenceInterval(TupleResult):
    """Result of :func:`lift_confint`; unpacks as ``(low, high)``.

    Attributes: ``low``, ``high``, ``difference`` (``p_b - p_a``), ``method``.
    """

    _fields = ("low", "high", "difference", "method")


def _wilson(count: np.ndarray, nobs: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    p = count / nobs
    denom = 1.0 + z * z / nobs
    center = (p + z * z / (2 * nobs)) / denom
    half = z * np.sqrt(p * (1 - p) / nobs + z * z / (4 * nobs * nobs)) / denom
    return center - half, center + half


def lift_confint(count_a: Any, nobs_a: Any, count_b: Any, nobs_b: Any, alpha: float = 0.05,
                 method: str = "newcombe") -> ConfidenceInterval:
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
    alpha = _check_unit(alpha, "alpha")
    if method not in ("newcombe", "wald"):
        raise ValueError(f"method must be 'newcombe' or 'wald', got {method!r}")
    ca, na, cb, nb = _float64_counts(count_a, nobs_a, count_b, nobs_b, "lift_confint")
    z = _norm_isf(alpha / 2)
    pa, pb = ca / na, cb / nb
    d = pb - pa
    if method == "wald":
        half = z * np.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
        low, high = d - half, d + half
    else:
        la, ua = _wilson(ca, na, z)
        lb, ub = _wilson(cb, nb, z)
        low = np.maximum(d - np.sqrt((pb - lb) ** 2 + (ua - pa) ** 2), -1.0)  # clip rounding
        high = np.minimum(d + np.sqrt((ub - pb) ** 2 + (pa - la) ** 2), 1.0)
    return ConfidenceInterval(low=_scalar(low), high=_scalar(high), difference=_scalar(d),
                              method=method)


# ------------------------------------------------------------------ simulation
#: Largest ``n_sims`` of :func:`simulate_power` and ``n_experiments`` of
#: :func:`simulate_peeking`: 2**32 simulated experiments (hours of work; the
#: Monte-Carlo error is then below 1e-5).  Beyond it the chunk list alone
#: would exhaust memory before any work is done.
MAX_SIMS = 2 ** 32
#: Largest number of users per arm (and, in :func:`simulate_peeking`, of
#: ``batch * looks``): counts up to 2**53 are exact in the float64 z-test.
MAX_NOBS = _EXACT_INT_MAX
#: Largest ``looks`` of :func:`simulate_peeking`.
MAX_LOOKS = 1_000_000


def _check_int(value: Any, name: str, minimum: int = 1, maximum: int | None = None,
               why: str = "") -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum:,}{why}, got {value!r}")
    return int(value)


def _check_seed(seed: Any) -> Any:
    """``None`` or a non-negative integer (the entropy of a SeedSequence)."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a non-negative integer or None (fresh entropy), got "
                        f"{seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None (fresh entropy), got "
                         f"{seed!r}")
    return int(seed)


def _chunks(n: int, chunk: int, seed: Any) -> list[tuple[int, int]]:
    """``(size, seed)`` of each seeded chunk of ``n`` simulations (``n`` is
    bounded by :data:`MAX_SIMS`, so the list stays small)."""
    n_chunks = -(-n // chunk)
    state = np.random.SeedSequence(seed).generate_state(n_chunks, dtype=np.uint32)
    sizes = [chunk] * (n_chunks - 1) + [n - chunk * (n_chunks - 1)]
    return list(zip(sizes, (int(s) for s in state)))


class SimulatedPower(TupleResult):
    """Result of :func:`simulate_power`; unpacks as ``(power, ci)``.

    Attributes: ``power`` (rejection rate), ``ci`` (95% Wilson interval of the
    rate, a tuple), ``rejections``, ``n_sims``.
    """

    _fields = ("power", "ci", "rejections", "n_sims")


def simulate_power(p_a: float, p_b: float, nobs_a: int, nobs_b: int | None = None,
                   alpha: float = 0.05, alternative: str = "two-sided", n_sims: int = 100_000,
                   seed: Any = 0) -> SimulatedPower:
    """Power of :func:`proportions_ztest` by simulation.

    Each simulated experiment draws ``Binomial(nobs_a, p_a)`` and
    ``Binomial(nobs_b, p_b)`` successes and runs the pooled z-test; the power
    is the share of experiments that reject at ``alpha`` (with ``p_a == p_b``
    it is the false-positive rate).  Runs on a Numba kernel, in seeded chunks
    of 65,536 experiments spread over the worker threads, so the result
    depends only on ``seed`` (not on the number of threads).  Up to 2 million
    users per arm, the binomial counts are drawn by inverse-CDF sampling from
    the tabulated binomial distribution (a guide table makes each draw O(1));
    above that, by Numba's binomial sampler.

    Parameters
    ----------
    p_a, p_b : float
        True proportions in (0, 1).
    nobs_a, nobs_b : int
        Users per group (``nobs_b`` defaults to ``nobs_a``).
    alpha, alternative
        As in :func:`proportions_ztest`.
        At most :data:`MAX_NOBS` (2**53) each.
    n_sims : int, default 100_000
        Number of simulated experiments, at most :data:`MAX_SIMS` (2**32).
    seed : int or None
        Seed of :class:`numpy.random.SeedSequence` (a non-negative integer);
        None draws fresh entropy.

    Examples
    --------
    >>> from fastmlops.abtest import simulate_power
    >>> res = simulate_power(0.10, 0.12, 3528, n_sims=200_000, seed=1)
    >>> 0.76 < res.power < 0.79
    True
    """
    p_a = _check_unit(p_a, "p_a")
    p_b = _check_unit(p_b, "p_b")
    exact = " (counts beyond 2**53 are not exact in float64)"
    n_a = _check_int(nobs_a, "nobs_a", maximum=MAX_NOBS, why=exact)
    n_b = n_a if nobs_b is None else _check_int(nobs_b, "nobs_b", maximum=MAX_NOBS, why=exact)
    alpha = _check_unit(alpha, "alpha")
    alternative = _check_alternative(alternative)
    n_sims = _check_int(n_sims, "n_sims", maximum=MAX_SIMS)
    seed = _check_seed(seed)
    crit = _crit(alpha, alternative)
    side = _ALTERNATIVES.index(alternative)
    from fastmlops._kernels import abtest as kern
    from fastmlops._core.parallel import parallel_map

    jobs = _chunks(n_sims, _SIM_CHUNK, seed)
    if max(n_a, n_b) <= _TABLE_MAX_N:
        cdf_a, cdf_b = _binom_cdf(n_a, p_a), _binom_cdf(n_b, p_b)
        guide_a = kern.guide_table(cdf_a, _GUIDE_SIZE)
        guide_b = kern.guide_table(cdf_b, _GUIDE_SIZE)

        def run(job: tuple[int, int]) -> int:
            return kern.simulate_ztest_rejections_table(cdf_a, guide_a, cdf_b, guide_b, n_a, n_b,
                                                        crit, side, job[0], job[1])
    else:
        def run(job: tuple[int, int]) -> int:
            return kern.simulate_ztest_rejections(p_a, p_b, n_a, n_b, crit, side, job[0],
                                                  job[1])
    counts = parallel_map(run, jobs)
    rejections = int(sum(counts))
    rate = rejections / n_sims
    ci = _wilson_scalar(rejections, n_sims)
    return SimulatedPower(power=rate, ci=ci, rejections=rejections, n_sims=n_sims)


_TABLE_MAX_N = 2_000_000  # tabulate the binomial CDF up to this many users per arm
_GUIDE_SIZE = 1 << 14


def _binom_cdf(n: int, p: float) -> np.ndarray:
    """P(X <= k) for k = 0..n, X ~ Binomial(n, p), ending exactly at 1."""
    from scipy import stats

    cdf = np.cumsum(stats.binom.pmf(np.arange(n + 1), n, p))
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return np.ascontiguousarray(cdf)


def _wilson_scalar(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    lo, hi = _wilson(np.float64(k), np.float64(n), z)
    # the bound at 0 successes is exactly 0 (and at n, 1); rounding would leave ~1e-19
    return (0.0 if k == 0 else float(max(lo, 0.0))), (1.0 if k == n else float(min(hi, 1.0)))


# ------------------------------------------------------------------ sequential
class SequentialResult(TupleResult):
    """Result of :func:`sequential_test`; unpacks as ``(pvalues, reject)``.

    Attributes (arrays with one value per look): ``pvalues`` (always-valid
    p-values, non-increasing), ``reject`` (``pvalues <= alpha``), ``statistic``
    (z of b minus a), ``log_lr`` (log mixture likelihood ratio); and
    ``stopped_at``, the index of the first look that rejects (-1 if none).
    """

    _fields = ("pvalues", "reject", "statistic", "log_lr", "stopped_at")


def sequential_test(count_a: Any, nobs_a: Any, count_b: Any, nobs_b: Any, alpha: float = 0.05,
                    tau: float = 0.01) -> SequentialResult:
    """Always-valid two-sided test of ``p_b = p_a`` for continuous monitoring (mSPRT).

    The mixture sequential probability ratio test of Johari, Pekelis and
    Walsh ("Always valid inference", 2017): at every look, the estimate
    ``d = p_b - p_a`` is treated as normal with variance ``s^2 = pbar (1 - pbar)
    (1/n_a + 1/n_b)`` (pooled, as in :func:`proportions_ztest`), and the true
    difference is given a normal mixing distribution ``N(0, tau^2)``.  The
    mixture likelihood ratio against ``d = 0`` is

    ``LR = sqrt(s^2 / (s^2 + tau^2)) * exp(z^2 tau^2 / (2 (s^2 + tau^2)))``

    with ``z = d / s``.  It is a martingale under the null, so by Ville's
    inequality ``P(LR ever >= 1/alpha) <= alpha``: the always-valid p-value
    ``min(1, 1/max LR so far)`` may be checked after every batch, and the test
    stopped the first time it falls to ``alpha``, without inflating the
    false-positive rate (unlike re-running a fixed-horizon z-test at every
    look; see :func:`simulate_peeking`).  The guarantee is asymptotic in the
    normal approximation of the counts, and conservative with discrete looks.

    Parameters
    ----------
    count_a, nobs_a, count_b, nobs_b : array_like of int
        *Cumulative* successes and trials of each group at each look (1-D, one
        value per look, non-decreasing).  Scalars are a single look.
    alpha : float, default 0.05
        Significance level.
    tau : float, default 0.01
        Standard deviation of the mixing distribution of the difference, on
        the scale of proportions: set it near the size of effect you expect
        (0.01 for one percentage point).  Any fixed ``tau`` keeps the test
        valid; a well-chosen one makes it stop sooner.

    Computed in float64: a count above ``2**53`` that float64 cannot hold
    exactly raises ValueError rather than being rounded.

    Examples
    --------
    >>> from fastmlops.abtest import sequential_test
    >>> res = sequential_test([50, 100, 150], [500, 1000, 1500], [70, 150, 230], [500, 1000, 1500])
    >>> [round(float(p), 3) for p in res.pvalues]
    [0.774, 0.201, 0.026]
    >>> res.stopped_at
    2
    """
    alpha = _check_unit(alpha, "alpha")
    tau = _check_positive(tau, "tau")
    ca, na, cb, nb = _float64_counts(count_a, nobs_a, count_b, nobs_b, "sequential_test")
    if ca.ndim > 1:
        raise ValueError(f"sequential_test takes 1-D arrays (one value per look), got shape "
                         f"{ca.shape}")
    ca, na, cb, nb = (np.atleast_1d(x) for x in (ca, na, cb, nb))
    for name, x in (("count_a", ca), ("nobs_a", na), ("count_b", cb), ("nobs_b", nb)):
        if np.any(np.diff(x) < 0):
            raise ValueError(f"{name} must be cumulative (non-decreasing over looks)")
    pooled = (ca + cb) / (na + nb)
    var = pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)
    ok = var > 0
    safe = np.where(ok, var, 1.0)
    z = np.where(ok, (cb / nb - ca / na) / np.sqrt(safe), 0.0)
    r = np.where(ok, tau * tau / safe, 0.0)
    log_lr = -0.5 * np.log1p(r) + 0.5 * z * z * r / (1.0 + r)
    pvals = np.minimum(1.0, np.exp(-np.maximum.accumulate(log_lr)))
    reject = pvals <= alpha
    hits = np.flatnonzero(reject)
    return SequentialResult(pvalues=pvals, reject=reject, statistic=z, log_lr=log_lr,
                            stopped_at=int(hits[0]) if hits.size else -1)


class PeekingResult(TupleResult):
    """Result of :func:`simulate_peeking`; unpacks as ``(naive_rate, sequential_rate)``.

    Attributes: ``naive_rate`` (share of experiments in which a fixed-horizon
    z-test rejected at some look), ``sequential_rate`` (same for the mSPRT),
    ``naive_ci``, ``sequential_ci`` (95% Wilson intervals), ``n_experiments``.
    """

    _fields = ("naive_rate", "sequential_rate", "naive_ci", "sequential_ci", "n_experiments")


def simulate_peeking(p_a: float, p_b: float | None = None, batch: int = 200, looks: int = 50,
                     n_experiments: int = 2_000, alpha: float = 0.05, tau: float = 0.01,
                     seed: Any = 0) -> PeekingResult:
    """Simulate continuous monitoring: the peeking problem and the mSPRT.

    Each experiment adds ``batch`` users per arm (binomial draws, ``p_a`` and
    ``p_b``) ``looks`` times; after every batch it runs the two-sided pooled
    z-test at ``alpha`` as if the sample size had been fixed in advance, and
    the mSPRT of :func:`sequential_test`.  With ``p_b == p_a`` (the default)
    the rates are false-positive rates: the peeking z-test's rises far above
    ``alpha``, the mSPRT's stays at or below it.

    Limits: ``looks`` at most :data:`MAX_LOOKS`, ``batch * looks`` at most
    :data:`MAX_NOBS` (2**53), ``n_experiments`` at most :data:`MAX_SIMS`;
    ``seed`` as in :func:`simulate_power`.

    Examples
    --------
    >>> from fastmlops.abtest import simulate_peeking
    >>> naive, seq = simulate_peeking(0.10, seed=3)
    >>> naive > 0.15, seq <= 0.05
    (True, True)
    """
    p_a = _check_unit(p_a, "p_a")
    p_b = p_a if p_b is None else _check_unit(p_b, "p_b")
    batch = _check_int(batch, "batch", maximum=MAX_NOBS)
    looks = _check_int(looks, "looks", maximum=MAX_LOOKS)
    if batch * looks > MAX_NOBS:
        raise ValueError(f"batch * looks (users per arm at the last look) must be at most "
                         f"2**53, where float64 counts stop being exact; got {batch * looks:,}")
    n_experiments = _check_int(n_experiments, "n_experiments", maximum=MAX_SIMS)
    alpha = _check_unit(alpha, "alpha")
    tau = _check_positive(tau, "tau")
    seed = _check_seed(seed)
    from fastmlops._kernels.abtest import simulate_peeking_both
    from fastmlops._core.parallel import parallel_map

    # chunks of 1024 experiments; more for huge counts, so there are at most 65,536
    jobs = _chunks(n_experiments, max(1024, -(-n_experiments // 65536)), seed)
    z_crit = _crit(alpha, "two-sided")
    log_bound = math.log(1.0 / alpha)
    parts = parallel_map(
        lambda job: simulate_peeking_both(p_a, p_b, batch, looks, job[0], z_crit, log_bound,
                                          tau, job[1]),
        jobs)
    naive = sum(p[0] for p in parts)
    seq = sum(p[1] for p in parts)
    return PeekingResult(naive_rate=naive / n_experiments, sequential_rate=seq / n_experiments,
                         naive_ci=_wilson_scalar(naive, n_experiments),
                         sequential_ci=_wilson_scalar(seq, n_experiments),
                         n_experiments=n_experiments)
