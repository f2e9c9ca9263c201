"""Continuous monitoring: the always-valid mSPRT, and a simulation of peeking."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from fastmlops._core.results import TupleResult
from fastmlops._core.validation import check_int, check_positive, check_probability, check_seed
from fastmlops.abtest._counts import float64_counts
from fastmlops.abtest._normal import critical_value, wilson_scalar
from fastmlops.abtest._simulate import MAX_NOBS, MAX_SIMS, chunks

#: Largest ``looks`` of :func:`simulate_peeking`.
MAX_LOOKS = 1_000_000


class SequentialResult(TupleResult):
    """Result of :func:`sequential_test`; unpacks as ``(pvalues, reject)``.

    Attributes (arrays with one value per look): ``pvalues`` (always-valid
    p-values, non-increasing), ``reject`` (``pvalues <= alpha``), ``statistic``
    (z of b minus a), ``log_lr`` (log mixture likelihood ratio); and
    ``stopped_at``, the index of the first look that rejects (-1 if none).
    """

    _fields = ("pvalues", "reject", "statistic", "log_lr", "stopped_at")


def sequential_test(count_a: ArrayLike, nobs_a: ArrayLike, count_b: ArrayLike,
                    nobs_b: ArrayLike, alpha: float = 0.05,
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
    alpha = check_probability(alpha, "alpha")
    tau = check_positive(tau, "tau")
    ca, na, cb, nb = float64_counts(count_a, nobs_a, count_b, nobs_b, "sequential_test")
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
                     seed: int | None = 0) -> PeekingResult:
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
    p_a = check_probability(p_a, "p_a")
    p_b = p_a if p_b is None else check_probability(p_b, "p_b")
    batch = check_int(batch, "batch", maximum=MAX_NOBS)
    looks = check_int(looks, "looks", maximum=MAX_LOOKS)
    if batch * looks > MAX_NOBS:
        raise ValueError(f"batch * looks (users per arm at the last look) must be at most "
                         f"2**53, where float64 counts stop being exact; got {batch * looks:,}")
    n_experiments = check_int(n_experiments, "n_experiments", maximum=MAX_SIMS)
    alpha = check_probability(alpha, "alpha")
    tau = check_positive(tau, "tau")
    seed = check_seed(seed)
    from fastmlops._kernels.abtest import simulate_peeking_both
    from fastmlops._core.parallel import parallel_map

    # chunks of 1024 experiments; more for huge counts, so there are at most 65,536
    jobs = chunks(n_experiments, max(1024, -(-n_experiments // 65536)), seed)
    z_crit = critical_value(alpha, "two-sided")
    log_bound = math.log(1.0 / alpha)
    parts = parallel_map(
        lambda job: simulate_peeking_both(p_a, p_b, batch, looks, job[0], z_crit, log_bound,
                                          tau, job[1]),
        jobs)
    naive = sum(p[0] for p in parts)
    seq = sum(p[1] for p in parts)
    return PeekingResult(naive_rate=naive / n_experiments, sequential_rate=seq / n_experiments,
                         naive_ci=wilson_scalar(naive, n_experiments),
                         sequential_ci=wilson_scalar(seq, n_experiments),
                         n_experiments=n_experiments)
