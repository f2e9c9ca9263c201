"""The paired bootstrap's engine: replicates, jackknife, intervals, p-values.

Replicate ``r`` resamples the rows once for both models.  Replicates come in
blocks of :data:`BLOCK`; block ``k`` of stream ``s`` (0 for all rows, ``1 + g``
for slice ``g``) is seeded with ``SeedSequence(entropy=seed,
spawn_key=(s, k))``, so results depend on the seed only, not on the threads.
Blocks run on :func:`fastmlops._core.parallel.parallel_map`, each writing its
own rows of the output.

BCa follows scipy.stats.bootstrap (Efron and Tibshirani 1993, 14.3): bias
``z0 = ndtri((#{t* < t} + #{t* <= t}) / 2B)``, acceleration from the
jackknife ``a = sum U^3 / (6 (sum U^2)^1.5)`` with ``U_i = mean - t_(i)``.
The jackknife is exact and O(n) for the sums metrics (leave-one-out sums)
and ROC AUC (from the weighted placements: removing positive ``i`` removes
``w_i W0 V10_i`` of the pair sum).  Average precision has no cheap
leave-one-out, so it uses the grouped jackknife over at most
:data:`JACKKNIFE_GROUPS` groups (row ``i`` in group ``i % G``; exact up to
that many rows), which estimates the same acceleration (the third and second
cumulants of the group sums scale alike); its cost is ``G`` sweeps of ``n``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fastmlops._core.parallel import chunk_bounds, n_workers, parallel_map
from fastmlops.gate._inputs import Paired
from fastmlops.gate._metrics import Metric, Options, Terms, sums_terms
from fastmlops.gate._sorted import SortedPair, sort_pair

#: Replicates per seeded block.
BLOCK = 64
#: Groups of the grouped jackknife (average precision).
JACKKNIFE_GROUPS = 1000
#: Rows per chunk of the leave-one-out sums (bounds the memory).
_CHUNK = 1 << 15


def block_state(entropy: int, stream: int, block: int) -> np.ndarray:
    """The xoshiro256** state of a block (see the module docstring)."""
    seq = np.random.SeedSequence(entropy=entropy, spawn_key=(stream, block))
    return seq.generate_state(4, np.uint64)


@dataclass(frozen=True)
class Engine:
    """Everything a replicate needs, prepared once: the sorted rows (rank
    metrics) or the per-row terms (sums metrics)."""

    metric: Metric
    data: Paired
    sorted_pair: SortedPair | None
    terms: Terms | None

    @classmethod
    def build(cls, metric: Metric, data: Paired, opt: Options) -> Engine:
        if metric.rank >= 0:
            return cls(metric, data, sort_pair(data.y, data.baseline, data.candidate), None)
        return cls(metric, data, None, sums_terms(metric, data, opt))

    def estimate(self) -> np.ndarray:
        """(baseline, candidate) on all rows, computed as a replicate is."""
        if self.sorted_pair is not None:
            from fastmlops._kernels.paired import rank_values

            sp = self.sorted_pair
            return rank_values(sp.rows, sp.first, sp.labels, self.data.weights,
                               self.metric.rank)
        assert self.terms is not None
        t = self.terms
        total = np.bincount(t.cols.ravel(), weights=t.vals.ravel(), minlength=t.n_sums)
        return t.finish(total[None, :])[0]

    def replicates(self, entropy: int, stream: int, n_resamples: int) -> np.ndarray:
        """(n_resamples, 2) values of (baseline, candidate) on resampled rows."""
        from fastmlops._kernels.paired import rank_bootstrap, sums_bootstrap

        bounds = [(s, min(s + BLOCK, n_resamples)) for s in range(0, n_resamples, BLOCK)]
        sp, t = self.sorted_pair, self.terms
        if sp is not None:
            out = np.empty((n_resamples, 2))

            def run_rank(k: int) -> None:
                state = block_state(entropy, stream, k)
                rank_bootstrap(state, sp.rows, sp.first, sp.labels, self.data.weights,
                               self.metric.rank, out[bounds[k][0]:bounds[k][1]])

            parallel_map(run_rank, range(len(bounds)))
            return out
        assert t is not None
        sums = np.zeros((n_resamples, t.n_sums))
        cols, vals = np.ascontiguousarray(t.cols.T), np.ascontiguousarray(t.vals.T)
        same = (cols == cols[:, :1]).all(axis=1)
        fixed = np.where(same, cols[:, 0], -1).astype(np.int32)

        def run_sums(k: int) -> None:
            state = block_state(entropy, stream, k)
            sums_bootstrap(state, cols, vals, fixed, sums[bounds[k][0]:bounds[k][1]])

        parallel_map(run_sums, range(len(bounds)))
        return t.finish(sums)

    def jackknife(self) -> np.ndarray:
        """(J, 2) leave-one-out (or leave-one-group-out) values."""
        if self.sorted_pair is not None:
            return self._rank_jackknife(self.sorted_pair)
        assert self.terms is not None
        t = self.terms
        total = np.bincount(t.cols.ravel(), weights=t.vals.ravel(), minlength=t.n_sums)
        parts = []
        for start in range(0, t.cols.shape[0], _CHUNK):
            cols, vals = t.cols[start:start + _CHUNK], t.vals[start:start + _CHUNK]
            loo = np.repeat(total[None, :], cols.shape[0], axis=0)
            rows = np.arange(cols.shape[0])[:, None]
            loo[rows, cols] -= vals  # a row's columns are distinct
            parts.append(t.finish(loo))
        return np.concatenate(parts)

    def _rank_jackknife(self, sp: SortedPair) -> np.ndarray:
        from fastmlops._kernels.paired import placements, rank_delete_groups

        data = self.data
        if self.metric.rank == 0:  # ROC AUC: exact, from the weighted placements
            v = placements(sp.rows, sp.first, sp.labels, data.weights)
            w = data.weights if data.weights.size else np.ones(data.n)
            pos = data.y.astype(bool)
            w1 = float(w[pos].sum())
            w0 = float(w[~pos].sum())
            auc = self.estimate()
            pair_sum = auc[:, None] * (w1 * w0)
            with np.errstate(invalid="ignore", divide="ignore"):
                loo = np.where(pos, (pair_sum - w * w0 * v) / ((w1 - w) * w0),
                               (pair_sum - w * w1 * v) / (w1 * (w0 - w)))
            return loo.T
        groups = min(data.n, JACKKNIFE_GROUPS)
        out = np.empty((groups, 2))
        chunks = chunk_bounds(groups, n_workers())
        parallel_map(lambda c: rank_delete_groups(sp.rows, sp.first, sp.labels, data.weights,
                                                  self.metric.rank, groups, c[0],
                                                  out[c[0]:c[1]]), chunks)
        return out


def bca_parameters(estimate: float, reps: np.ndarray, jack: np.ndarray
                   ) -> tuple[float, float]:
    """(z0, a) of BCa, as scipy.stats.bootstrap computes them."""
    from scipy.special import ndtri

    share = (np.count_nonzero(reps < estimate) + np.count_nonzero(reps <= estimate)) \
        / (2 * reps.size)
    z0 = float(ndtri(share))
    jack = jack[np.isfinite(jack)]
    u = jack.mean() - jack if jack.size else np.zeros(1)
    den = float((u ** 2).sum())
    accel = float((u ** 3).sum() / (6 * den ** 1.5)) if den > 0 else 0.0
    return z0, accel


def interval(reps: np.ndarray, alpha: float, z0: float, accel: float,
             bca: bool) -> tuple[float, float]:
    """The two-sided interval with ``alpha`` in each tail (percentile, or
    BCa with ``z0`` and ``accel``)."""
    from scipy.special import ndtr, ndtri

    if reps.size == 0:
        return math.nan, math.nan
    if bca:
        levels = []
        for z in (float(ndtri(alpha)), -float(ndtri(alpha))):
            num = z0 + z
            levels.append(float(ndtr(z0 + num / (1 - accel * num))))
    else:
        levels = [alpha, 1 - alpha]
    if not all(math.isfinite(q) for q in levels):
        return math.nan, math.nan
    lo, hi = np.quantile(reps, levels)
    return float(lo), float(hi)


def pvalue(reps: np.ndarray, null: float, alternative: str, z0: float, accel: float) -> float:
    """The p-value of ``H0: theta <= null`` ('greater') or ``theta >= null``
    ('less'), or two-sided: the smallest level at which the one-sided interval
    (with the same ``z0`` and ``accel``; 0 and 0 for the percentile method)
    excludes ``null``.  Replicates equal to ``null`` count for the null, and
    ``(k + 1) / (B + 1)`` keeps p-values above 0."""
    from scipy.special import ndtr, ndtri

    b = reps.size
    if b == 0 or math.isnan(null):
        return math.nan
    if alternative == "two-sided":
        return min(1.0, 2 * min(pvalue(reps, null, "greater", z0, accel),
                                pvalue(reps, null, "less", z0, accel)))
    if alternative == "greater":
        share = (np.count_nonzero(reps <= null) + 1) / (b + 1)
    else:
        share = 1.0 - (np.count_nonzero(reps >= null) + 1) / (b + 1)
    u = float(ndtri(share)) - z0 if 0 < share < 1 else math.copysign(math.inf, share - 0.5)
    if math.isinf(u):
        w = u
    elif 1 + accel * u <= 0:
        w = math.copysign(math.inf, u)
    else:
        w = u / (1 + accel * u)
    p = float(ndtr(w - z0)) if alternative == "greater" else float(ndtr(z0 - w))
    return min(1.0, max(p, 0.0))
