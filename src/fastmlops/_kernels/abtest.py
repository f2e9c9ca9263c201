"""Monte-Carlo kernels for A/B tests of two proportions.

Each kernel seeds Numba's own (thread-local) generator with the seed it is
given, so a chunk of simulations is reproducible whichever thread runs it.
"""

from __future__ import annotations

import math

import numpy as np

from fastmlops._kernels._jit import kernel


@kernel()
def _rejects(xa, xb, n_a, n_b, total, inv, crit, side):
    """1 if the pooled two-proportion z-test rejects for counts xa/n_a, xb/n_b.

    ``side``: 0 two-sided (|z| > crit), 1 'larger' (z > crit), 2 'smaller'
    (z < -crit); z is for b minus a.  A degenerate pooled variance (both arms
    all 0 or all 1) never rejects.
    """
    pooled = (float(xa) + float(xb)) / total
    var = pooled * (1.0 - pooled) * inv
    if var <= 0.0:
        return 0
    z = (xb / n_b - xa / n_a) / math.sqrt(var)
    if side == 0:
        return 1 if abs(z) > crit else 0
    if side == 1:
        return 1 if z > crit else 0
    return 1 if z < -crit else 0


@kernel("i8(f8, f8, i8, i8, f8, i8, i8, i8)")
def simulate_ztest_rejections(p_a, p_b, n_a, n_b, crit, side, n_sims, seed):
    """Count rejections of the pooled two-proportion z-test over ``n_sims``
    simulated experiments (binomial draws for both arms).

    ``side``: 0 two-sided (|z| > crit), 1 'larger' (z > crit), 2 'smaller'
    (z < -crit); z is for b minus a.
    """
    np.random.seed(seed)
    inv = 1.0 / n_a + 1.0 / n_b
    total = float(n_a) + float(n_b)  # an int64 sum would wrap for huge arms
    rejected = 0
    for _ in range(n_sims):
        xa = np.random.binomial(n_a, p_a)
        xb = np.random.binomial(n_b, p_b)
        rejected += _rejects(xa, xb, n_a, n_b, total, inv, crit, side)
    return rejected


@kernel("UniTuple(i8, 2)(f8, f8, i8, i8, i8, f8, f8, f8, i8)")
def simulate_peeking_both(p_a, p_b, batch, looks, n_experiments, z_crit, log_bound, tau,
                          seed):
    """Simulate ``n_experiments`` experiments observed in ``looks`` batches of
    ``batch`` users per arm.  Return (experiments in which the fixed-horizon
    two-sided pooled z-test, |z| > ``z_crit``, rejected at any look;
    experiments in which the mSPRT log-likelihood ratio reached
    ``log_bound`` = log(1/alpha) at any look)."""
    np.random.seed(seed)
    tau2 = tau * tau
    naive = 0
    seq = 0
    for _ in range(n_experiments):
        xa = 0
        xb = 0
        n = 0
        hit_naive = False
        hit_seq = False
        for _look in range(looks):
            xa += np.random.binomial(batch, p_a)
            xb += np.random.binomial(batch, p_b)
            n += batch
            pooled = (xa + xb) / (2.0 * n)
            var = pooled * (1.0 - pooled) * (2.0 / n)
            if var <= 0.0:
                continue
            z = (xb - xa) / n / math.sqrt(var)
            if abs(z) > z_crit:
                hit_naive = True
            if not hit_seq:
                r = tau2 / var
                if -0.5 * math.log1p(r) + 0.5 * z * z * r / (1.0 + r) >= log_bound:
                    hit_seq = True
            if hit_naive and hit_seq:
                break
        if hit_naive:
            naive += 1
        if hit_seq:
            seq += 1
    return naive, seq


@kernel("i8[::1](f8[::1], i8)")
def guide_table(cdf, m):
    """``guide[j]`` = smallest k with ``cdf[k] > j / m`` (Chen's guide table for
    inverse-CDF sampling); ``cdf`` is non-decreasing and ends at 1."""
    guide = np.empty(m, np.int64)
    k = 0
    last = cdf.shape[0] - 1
    for j in range(m):
        u = j / m
        while k < last and cdf[k] <= u:
            k += 1
        guide[j] = k
    return guide


@kernel()
def _draw(cdf, guide, m):
    u = np.random.random()
    k = guide[int(u * m)]
    while cdf[k] <= u:
        k += 1
    return k


@kernel("i8(f8[::1], i8[::1], f8[::1], i8[::1], i8, i8, f8, i8, i8, i8)")
def simulate_ztest_rejections_table(cdf_a, guide_a, cdf_b, guide_b, n_a, n_b, crit, side,
                                    n_sims, seed):
    """As :func:`simulate_ztest_rejections`, drawing the binomial counts by
    inverse-CDF sampling with guide tables (``cdf_x[k] = P(X <= k)``, exact up
    to the rounding of the tabulated CDF), which is several times faster than
    a binomial sampler for moderate ``n``."""
    np.random.seed(seed)
    m_a = guide_a.shape[0]
    m_b = guide_b.shape[0]
    inv = 1.0 / n_a + 1.0 / n_b
    total = float(n_a) + float(n_b)  # an int64 sum would wrap for huge arms
    rejected = 0
    for _ in range(n_sims):
        xa = _draw(cdf_a, guide_a, m_a)
        xb = _draw(cdf_b, guide_b, m_b)
        rejected += _rejects(xa, xb, n_a, n_b, total, inv, crit, side)
    return rejected
