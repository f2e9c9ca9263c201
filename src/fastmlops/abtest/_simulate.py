"""Power of the pooled z-test by simulation, on seeded Numba kernels."""

from __future__ import annotations

import numpy as np

from fastmlops._core.results import TupleResult
from fastmlops._core.validation import check_int, check_probability, check_seed
from fastmlops.abtest._counts import EXACT_INT_MAX
from fastmlops.abtest._normal import (
    ALTERNATIVES, check_alternative, critical_value, wilson_scalar,
)

_SIM_CHUNK = 1 << 16  # simulated experiments per seeded chunk

#: Largest ``n_sims`` of :func:`simulate_power` and ``n_experiments`` of
#: :func:`simulate_peeking`: 2**32 simulated experiments (hours of work; the
#: Monte-Carlo error is then below 1e-5).  Beyond it the chunk list alone
#: would exhaust memory before any work is done.
MAX_SIMS = 2 ** 32
#: Largest number of users per arm (and, in :func:`simulate_peeking`, of
#: ``batch * looks``): counts up to 2**53 are exact in the float64 z-test.
MAX_NOBS = EXACT_INT_MAX

_TABLE_MAX_N = 2_000_000  # tabulate the binomial CDF up to this many users per arm
_GUIDE_SIZE = 1 << 14


def _binom_cdf(n: int, p: float) -> np.ndarray:
    """P(X <= k) for k = 0..n, X ~ Binomial(n, p), ending exactly at 1."""
    from scipy import stats

    cdf = np.cumsum(stats.binom.pmf(np.arange(n + 1), n, p))
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return np.ascontiguousarray(cdf)


def chunks(n: int, chunk: int, seed: int | None) -> list[tuple[int, int]]:
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
                   seed: int | None = 0) -> SimulatedPower:
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
        Users per group (``nobs_b`` defaults to ``nobs_a``), at most
        :data:`MAX_NOBS` (2**53) each.
    alpha, alternative
        As in :func:`proportions_ztest`.
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
    p_a = check_probability(p_a, "p_a")
    p_b = check_probability(p_b, "p_b")
    exact = " (counts beyond 2**53 are not exact in float64)"
    n_a = check_int(nobs_a, "nobs_a", maximum=MAX_NOBS, why=exact)
    n_b = n_a if nobs_b is None else check_int(nobs_b, "nobs_b", maximum=MAX_NOBS, why=exact)
    alpha = check_probability(alpha, "alpha")
    alternative = check_alternative(alternative)
    n_sims = check_int(n_sims, "n_sims", maximum=MAX_SIMS)
    seed = check_seed(seed)
    crit = critical_value(alpha, alternative)
    side = ALTERNATIVES.index(alternative)
    from fastmlops._kernels import abtest as kern
    from fastmlops._core.parallel import parallel_map

    jobs = chunks(n_sims, _SIM_CHUNK, seed)
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
    per_chunk = parallel_map(run, jobs)
    rejections = int(sum(per_chunk))
    rate = rejections / n_sims
    ci = wilson_scalar(rejections, n_sims)
    return SimulatedPower(power=rate, ci=ci, rejections=rejections, n_sims=n_sims)

