"""p-value of the two-sample Kolmogorov-Smirnov test once the statistic is known.

This is the second half of ``scipy.stats.ks_2samp``: the choice between the
exact and the asymptotic distribution, the exact computation (Numba kernels in
:mod:`fastmlops._kernels.ks_exact`), the fallbacks with scipy's warnings, and
the asymptotic formulas.  The rules, in scipy's order:

* ``method="auto"`` is exact when ``max(n1, n2) <= 10000``, else asymptotic.
* ``method="exact"`` switches to asymptotic, with a RuntimeWarning, when
  ``lcm(n1, n2)`` does not fit comfortably in an int32.
* exact: ``h = round(d * lcm)``, and the statistic becomes ``h / lcm``; if the
  exact calculation fails (floating-point overflow), asymptotic with a
  RuntimeWarning, using the rounded statistic.
* asymptotic, two-sided: ``kstwo.sf(d, round(n1*n2/(n1+n2)))``; one-sided:
  Hodges' approximation (his eqn 5.3) with ``m >= n``.
* the p-value is clipped to [0, 1].

Agreement with scipy is to 1e-10 relative for p-values of at least 1e-307.
Below that only the magnitude agrees: the Smirnov sum is cut to 0 when
``-2 n d^2 < log(2**-1022)`` (where scipy's value can still be up to ~4.4e-308)
and subnormal terms lose digits, so either side may be 0 or differ in the
subnormal digits (e.g. 0 against scipy's 2.7e-311).  The exact path agrees in
the same way: it is bit-identical to scipy's for p >= 4.5e-308 and returns 0
below the smallest normal float (scipy's own answer for n1 = n2 = 10000,
D = 0.3).

Kernels are imported on first call, so importing this module is cheap.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

#: ``method="auto"`` uses the exact distribution up to this sample size.
MAX_AUTO_N = 10000
_INT32_MAX = int(np.iinfo(np.int32).max)

_ALTERNATIVES = ("two-sided", "less", "greater")
_METHODS = ("auto", "exact", "asymp")


def ks_pvalue(d: float, n1: int, n2: int, alternative: str, method: str) -> tuple[float, float]:
    """Return (statistic, pvalue) as scipy.stats.ks_2samp would for a statistic d.

    ``alternative`` is one of 'two-sided', 'less', 'greater' and ``method`` one
    of 'auto', 'exact', 'asymp' (both already validated); ``n1, n2 >= 1``.  When
    the exact distribution is used, scipy replaces ``d`` by ``h / lcm(n1, n2)``
    with ``h = round(d * lcm)``; that value is the statistic returned.
    """
    return ks_pvalue_at(d, n1, n2, alternative, method, stacklevel=3)


def ks_pvalues(
    d: np.ndarray,
    n1: np.ndarray,
    n2: np.ndarray,
    alternative: str,
    method: str,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ks_pvalue` for many columns (``d``, ``n1``, ``n2`` broadcast).

    Returns float64 arrays ``(statistic, pvalue)`` of the broadcast shape.
    Fallback warnings are issued per column, as calling scipy once per column
    would.
    """
    d_b, n1_b, n2_b = np.broadcast_arrays(
        np.asarray(d, dtype=np.float64),
        np.asarray(n1, dtype=np.int64),
        np.asarray(n2, dtype=np.int64),
    )
    stat = np.empty(d_b.shape, dtype=np.float64)
    pval = np.empty(d_b.shape, dtype=np.float64)
    flat_d, flat_n1, flat_n2 = d_b.ravel(), n1_b.ravel(), n2_b.ravel()
    out_s, out_p = stat.reshape(-1), pval.reshape(-1)
    for k in range(flat_d.size):
        out_s[k], out_p[k] = ks_pvalue_at(
            flat_d[k], flat_n1[k], flat_n2[k], alternative, method, stacklevel=4
        )
    return stat, pval


def ks_pvalue_at(
    d: float, n1: int, n2: int, alternative: str, method: str, stacklevel: int
) -> tuple[float, float]:
    """:func:`ks_pvalue` with its fallback warnings issued ``stacklevel`` frames up."""
    d = float(d)
    n1 = int(n1)
    n2 = int(n2)
    g = math.gcd(n1, n2)
    n1g = n1 // g
    n2g = n2 // g

    mode = method
    if mode == "auto":
        mode = "exact" if max(n1, n2) <= MAX_AUTO_N else "asymp"
    elif mode == "exact" and n1g >= _INT32_MAX / n2g:
        mode = "asymp"
        warnings.warn(
            f"Exact ks_2samp calculation not possible with samples sizes "
            f"{n1} and {n2}. Switching to 'asymp'.",
            RuntimeWarning,
            stacklevel=stacklevel,
        )

    prob = math.nan
    if mode == "exact":
        lcm = n1g * n2
        h = round(d * lcm)  # float round half to even, as np.round
        d = float(h) / lcm
        if h == 0:
            prob = 1.0
        else:
            from fastmlops._kernels.ks_exact import exact_sf

            prob = float(exact_sf(n1, n2, g, h, alternative == "two-sided"))
            if math.isnan(prob):
                mode = "asymp"
                warnings.warn(
                    f"ks_2samp: Exact calculation unsuccessful. "
                    f"Switching to method={mode}.",
                    RuntimeWarning,
                    stacklevel=stacklevel,
                )

    if mode == "asymp":
        prob = _asymptotic_sf(d, n1, n2, alternative == "two-sided")

    if prob < 0.0:
        prob = 0.0
    elif prob > 1.0:
        prob = 1.0
    return d, prob


def _asymptotic_sf(d: float, n1: int, n2: int, two_sided: bool) -> float:
    # Float arithmetic in scipy's order; numpy's sqrt/exp for identical rounding.
    m, n = (float(n1), float(n2)) if n1 >= n2 else (float(n2), float(n1))
    en = m * n / (m + n)
    if two_sided:
        from fastmlops._kernels.kstwo import kstwo_sf

        return float(kstwo_sf(d, int(round(en))))
    # Hodges (1958), eqn 5.3, with m the larger sample.
    z = np.sqrt(np.float64(en)) * d
    correction = 2 * z * (m + 2 * n) / np.sqrt(np.float64(m * n * (m + n))) / 3.0
    return float(np.exp(-2 * z**2 - correction))
