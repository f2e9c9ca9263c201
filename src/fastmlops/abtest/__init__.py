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

Examples
--------
>>> from fastmlops import abtest
>>> abtest.sample_size(0.10, 0.02)   # users per group for 10% -> 12%
3835
>>> res = abtest.proportions_ztest(100, 1000, 130, 1000)
>>> round(res.statistic, 4), round(res.pvalue, 4)
(2.1027, 0.0355)
"""

from __future__ import annotations

from fastmlops.abtest._sample_size import power, sample_size
from fastmlops.abtest._sequential import (
    MAX_LOOKS, PeekingResult, SequentialResult, sequential_test, simulate_peeking,
)
from fastmlops.abtest._simulate import MAX_NOBS, MAX_SIMS, SimulatedPower, simulate_power
from fastmlops.abtest._ztest import (
    ConfidenceInterval, ZTestResult, lift_confint, proportions_ztest,
)

__all__ = [
    "sample_size", "power", "proportions_ztest", "ZTestResult", "lift_confint",
    "ConfidenceInterval", "simulate_power", "SimulatedPower", "sequential_test",
    "SequentialResult", "simulate_peeking", "PeekingResult",
]

# The result classes belong to this public module: pickles name their class by
# module (fastmlops.abtest.ZTestResult, as before the split into private
# modules), and fastmlops.mlflow.log_report recognises them by it.
for _cls in (ZTestResult, ConfidenceInterval, SimulatedPower, SequentialResult, PeekingResult):
    _cls.__module__ = __name__
del _cls
