"""The KS statistic of one pair of 1-D samples, from validated contiguous arrays.

:func:`ks_statistic` decides between a plain sort-merge (small samples) and
bucket refinement (large samples; see :mod:`fastmlops._kernels.ks`), and
returns the raw extremes from which :mod:`fastmlops.drift` builds scipy's
``statistic``, ``statistic_location`` and ``statistic_sign``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastmlops._kernels import ks as _k
from fastmlops._parallel import parallel_map

#: Below this many elements in both samples together, sort and merge.
SORT_MERGE_BELOW = 4096
#: Refinement may touch at most this share of the elements before we fall back.
_MAX_REFINE_SHARE = 0.25
#: Samples at least this large get their per-sample passes run on two threads.
_PARALLEL_ABOVE = 200_000
#: Values sampled from each sample to place the bucket range.
_RANGE_SAMPLE = 1024


@dataclass
class Sample:
    """One 1-D sample for the KS kernels: contiguous values of a kernel dtype
    (float64, float32, int64, uint64), and whether they are sorted (NaNs last).
    ``nan`` is the NaN count once known (``None`` before)."""

    values: np.ndarray
    is_sorted: bool = False
    nan: int | None = None

    @property
    def n(self) -> int:
        assert self.nan is not None
        return self.values.size - self.nan


def count_nan(values: np.ndarray) -> int:
    if values.dtype.kind != "f":
        return 0
    return int(np.count_nonzero(np.isnan(values)))


def _strided_sample(values: np.ndarray) -> np.ndarray:
    step = max(1, values.size // _RANGE_SAMPLE)
    return values[::step].astype(np.float64)


def _sorted_non_nan(s: Sample) -> np.ndarray:
    if s.nan is None:
        s.nan = count_nan(s.values)
    if s.is_sorted:
        return s.values[: s.n]
    out = np.sort(s.values)  # NaNs sort last
    return out[: s.n] if s.nan else out


def ks_statistic(sa: Sample, sb: Sample) -> tuple[np.ndarray, np.ndarray] | None:
    """Return ``(st, locs)`` for two samples of the same dtype, NaNs omitted.

    ``st = [max over a, max over b, min over a, min over b]`` of ``i/n1 - j/n2``
    and ``locs`` the first values reaching them (see :mod:`fastmlops._kernels.ks`).
    Fills in ``sa.nan``/``sb.nan``.  Returns None when a sample has no non-NaN
    value (nothing to compare).
    """
    st = np.array([-np.inf, -np.inf, np.inf, np.inf])
    locs = np.zeros(4, dtype=sa.values.dtype)
    total = sa.values.size + sb.values.size
    if total >= SORT_MERGE_BELOW and _bucketed(sa, sb, st, locs):
        return st, locs
    if total >= _PARALLEL_ABOVE:
        a, b = parallel_map(_sorted_non_nan, (sa, sb))
    else:
        a, b = _sorted_non_nan(sa), _sorted_non_nan(sb)
    if a.size == 0 or b.size == 0:
        return None
    st[:] = (-np.inf, -np.inf, np.inf, np.inf)
    _k.merge_sorted(a, b, st, locs)
    return st, locs


def _bucketed(sa: Sample, sb: Sample, st: np.ndarray, locs: np.ndarray) -> bool:
    """Bucket refinement.  Returns False (st/locs untouched) when a full sort is
    the better plan: too much of the data would need refining, or the range
    sample is degenerate."""
    sample = np.concatenate((_strided_sample(sa.values), _strided_sample(sb.values)))
    sample = np.sort(sample)
    sample = sample[: sample.size - int(np.count_nonzero(np.isnan(sample)))]
    if sample.size < 16:
        return False
    cut = max(1, sample.size // 500)
    lo, hi = float(sample[cut]), float(sample[-cut - 1])
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        return False
    total = sa.values.size + sb.values.size
    inner = 1 << min(14, max(8, total.bit_length() - 3))  # ~8 elements per bucket
    scale = inner / (hi - lo)
    if not np.isfinite(scale):
        return False
    top = float(inner + 1)
    nb = inner + 2
    parallel = total >= _PARALLEL_ABOVE

    def count(s: Sample) -> np.ndarray:
        counts = np.zeros(nb, dtype=np.int64)
        s.nan = int(_k.bucket_counts(s.values, lo, scale, top, counts))
        return counts

    ca, cb = parallel_map(count, (sa, sb)) if parallel else (count(sa), count(sb))
    n1, n2 = sa.n, sb.n
    if n1 == 0 or n2 == 0:
        return False
    selected = np.empty(nb, dtype=np.uint8)
    refine = _k.select_buckets(ca, cb, n1, n2, selected)
    if refine > _MAX_REFINE_SHARE * (n1 + n2):
        return False
    idx = np.flatnonzero(selected)
    ca_sel = np.ascontiguousarray(ca[idx])
    cb_sel = np.ascontiguousarray(cb[idx])

    def collect(args: tuple[Sample, np.ndarray]) -> np.ndarray:
        s, c_sel = args
        out = np.empty(int(c_sel.sum()), dtype=s.values.dtype)
        m = _k.gather(s.values, lo, scale, top, selected, out)
        if m != out.size:  # pragma: no cover - would be a kernel bug
            raise RuntimeError("fastmlops: KS bucket gather count mismatch")
        if not s.is_sorted:
            out.sort()
        return out

    pairs = ((sa, ca_sel), (sb, cb_sel))
    ga, gb = parallel_map(collect, pairs) if parallel else [collect(p) for p in pairs]
    below_a = np.ascontiguousarray((np.cumsum(ca) - ca)[idx])
    below_b = np.ascontiguousarray((np.cumsum(cb) - cb)[idx])
    _k.refine_merge(ga, ca_sel, gb, cb_sel, below_a, below_b, n1, n2, st, locs)
    return True
