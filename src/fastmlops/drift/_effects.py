"""Effect sizes of a drift report, in the data's units.

Numeric columns:

* ``mean_shift``: the current mean minus the reference mean (exact: the
  current sum is kept exactly, see :class:`~fastmlops.drift.counts.ValueSummary`,
  so it does not depend on batching); None when the producer keeps no sum (a
  :class:`~fastmlops.DriftMonitor`'s window) or a mean is not finite;
* ``median_shift``, ``spread_ratio`` (interquartile ranges, current over
  reference) and the quantile that moved most (of the 5th, 10th, ..., 95th
  percentiles): the quantiles of both samples are read off their ECDFs at the
  reference's picture grid (24 reference quantiles, where both ECDFs are exact
  counts), linearly interpolated between the grid points and the samples'
  smallest and largest values (the reference's when the current's are not
  kept).  Both samples go through the same interpolation, so under no drift
  the shifts are close to 0; they are as fine as the grid (1/25 of the
  reference's mass between points), not exact quantiles.  A current quantile
  beyond the grid's outer points (the reference's 4th and 96th percentiles) is
  left out (None), as it would be a guess.

Categorical columns: the category whose share of the values present changed
most (values the reference never had pooled as one "new values" entry).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastmlops.drift.categories import CategoryCounts, CategoryMap
from fastmlops.drift.columns import NumericColumn
from fastmlops.drift.counts import NumericCounts, ValueSummary

__all__ = ["categorical_effect", "numeric_effect", "summarize", "summarize_rows"]

#: Percentiles compared for "the quantile that moved most".
PERCENTILES = np.arange(5, 100, 5) / 100.0


def _summary(acc: np.ndarray, over: np.ndarray, out: np.ndarray) -> ValueSummary:
    from fastmlops._kernels.summary import LIMIT

    total = 0
    for e in np.flatnonzero((acc != 0) | (over != 0)).tolist():
        total += (int(acc[e]) + int(over[e]) * LIMIT) << e
    return ValueSummary(total, float(out[0]), float(out[1]), int(out[2]), int(out[3]))


def _start(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from fastmlops._kernels.summary import EXPONENTS

    out = np.zeros((*shape, 4), dtype=np.float64)
    out[..., 0], out[..., 1] = np.inf, -np.inf
    return (np.zeros((*shape, EXPONENTS), dtype=np.int64),
            np.zeros((*shape, EXPONENTS), dtype=np.int64), out)


def summarize(values: np.ndarray) -> ValueSummary:
    """The exact sum and range of a contiguous 1-D array of a kernel dtype."""
    from fastmlops._kernels.summary import column_summary

    acc, over, out = _start(())
    column_summary(values, acc, over, out)
    return _summary(acc, over, out)


def summarize_rows(table: np.ndarray) -> list[ValueSummary]:
    """:func:`summarize` of every column of a row-major 2-D table, read in place
    (row chunks on the threads)."""
    from fastmlops._core.parallel import chunk_bounds, n_workers, parallel_map
    from fastmlops._kernels.summary import table_summary

    n, k = table.shape
    bounds = chunk_bounds(n, min(max(1, n_workers()), max(1, n // 65536)))

    def work(r: tuple[int, int]) -> list[ValueSummary]:
        acc, over, out = _start((k,))
        table_summary(table, r[0], r[1], acc, over, out)
        return [_summary(acc[j], over[j], out[j]) for j in range(k)]

    parts = parallel_map(work, bounds)
    first = parts[0]
    for p in parts[1:]:
        first = [a.merge(b) for a, b in zip(first, p)]
    return first


# ------------------------------------------------------------------ numbers
def _quantiles(points: np.ndarray, cdf: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The inverse of a piecewise-linear distribution function through
    ``(points, cdf)`` (non-decreasing) at ``probs``."""
    out = np.empty(probs.size)
    for i, p in enumerate(probs):
        k = int(np.searchsorted(cdf, p, side="left"))
        if k <= 0:
            out[i] = points[0]
        elif k >= cdf.size:
            out[i] = points[-1]
        else:
            f0, f1 = cdf[k - 1], cdf[k]
            x0, x1 = points[k - 1], points[k]
            out[i] = x1 if f1 <= f0 else x0 + (p - f0) / (f1 - f0) * (x1 - x0)
    return out


def _digits(scale: float) -> int:
    """Decimals that show a difference of about 1/1000 of ``scale``."""
    if not np.isfinite(scale) or scale <= 0:
        return 3
    return int(np.clip(3 - np.floor(np.log10(scale)), 0, 12))


def _signed(x: float, d: int) -> str:
    return f"{x:+.{d}f}"


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _ordinal(p: float) -> str:
    k = round(100 * p)
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix} percentile"


def numeric_effect(ref: NumericColumn, q: NumericCounts) -> dict[str, Any] | None:
    """The effect sizes of one numeric column (see the module docstring);
    None when either sample has no value or the counts have no grid."""
    v = ref.sorted_values
    if q.n <= 0 or v.size == 0 or q.grid is None:
        return None
    grid = ref.grid[np.isfinite(ref.grid)] if ref.grid.size else ref.grid
    lo_r, hi_r = float(v[0]), float(v[-1])
    if not (np.isfinite(lo_r) and np.isfinite(hi_r)):
        return None
    s = q.summary
    lo_c = s.low if s is not None and np.isfinite(s.low) else lo_r
    hi_c = s.high if s is not None and np.isfinite(s.high) else hi_r
    ref_cdf = np.searchsorted(v, grid.astype(v.dtype) if v.dtype.kind == "f" else grid,
                              side="left") / v.size
    cur_cdf = (np.cumsum(q.grid)[:-1] / q.n)[np.isfinite(ref.grid)] if ref.grid.size else \
        np.zeros(0)
    qr = _quantiles(np.concatenate([[lo_r], grid, [hi_r]]),
                    np.concatenate([[0.0], ref_cdf, [1.0]]), np.r_[0.25, 0.5, 0.75, PERCENTILES])
    qc = _quantiles(np.concatenate([[min(lo_c, grid[0]) if grid.size else lo_c], grid,
                                    [max(hi_c, grid[-1]) if grid.size else hi_c]]),
                    np.concatenate([[0.0], cur_cdf, [1.0]]), np.r_[0.25, 0.5, 0.75, PERCENTILES])
    # a current quantile outside the grid's span would be a guess between the
    # last grid point and the current's extreme: left out
    probs = np.r_[0.25, 0.5, 0.75, PERCENTILES]
    inside = (probs >= cur_cdf[0]) & (probs <= cur_cdf[-1]) if cur_cdf.size else \
        np.zeros(probs.size, dtype=bool)
    qc = np.where(inside, qc, np.nan)
    iqr_r, iqr_c = qr[2] - qr[0], qc[2] - qc[0]
    moved = qc[3:] - qr[3:]
    k = int(np.argmax(np.where(np.isnan(moved), -1.0, np.abs(moved))))
    if np.isnan(moved[k]):
        k = -1
    mean_r = float(np.mean(v, dtype=np.float64))
    mean_c = s.mean(q.n) if s is not None else float("nan")
    mean_shift = mean_c - mean_r if np.isfinite(mean_c) and np.isfinite(mean_r) else None
    d = _digits(iqr_r if iqr_r > 0 else hi_r - lo_r)
    parts = []
    if mean_shift is not None:
        parts.append(f"mean {_signed(mean_shift, d)} ({mean_r:.{d}f} -> {mean_c:.{d}f})")
    median = float(qc[1] - qr[1]) if np.isfinite(qc[1]) else None
    if median is not None:
        parts.append(f"median {_signed(median, d)}")
    ratio = float(iqr_c / iqr_r) if iqr_r > 0 and np.isfinite(iqr_c) else None
    if ratio is not None:
        parts.append(f"spread x{ratio:.2f} (interquartile range)")
    if k >= 0:
        parts.append(f"the {_ordinal(PERCENTILES[k])} moved most: {_signed(moved[k], d)}")
    if not parts:
        parts.append("most current values lie outside the reference's range")
    return {
        "mean_shift": mean_shift,
        "reference_mean": mean_r, "current_mean": mean_c if np.isfinite(mean_c) else None,
        "median_shift": median,
        "reference_median": float(qr[1]),
        "current_median": float(qc[1]) if median is not None else None,
        "spread_ratio": ratio,
        "quantile": float(PERCENTILES[k]) if k >= 0 else None,
        "quantile_shift": float(moved[k]) if k >= 0 else None,
        "text": _sentence("; ".join(parts)),
    }


def categorical_effect(cm: CategoryMap, c: CategoryCounts) -> dict[str, Any] | None:
    """The category whose share of the values present changed most; None when
    either sample has no value."""
    # "other": the values outside the kept categories (for a map that kept every
    # reference value, exactly the values the reference never had)
    ref_counts = np.append(np.asarray(cm.counts, dtype=np.float64), cm.other)
    cur_counts = np.append(np.asarray(c.counts, dtype=np.float64), c.other)
    n_r, n_c = ref_counts.sum(), cur_counts.sum()
    if n_r <= 0 or n_c <= 0:
        return None
    change = cur_counts / n_c - ref_counts / n_r
    k = int(np.argmax(np.abs(change)))
    labels = [str(x) for x in cm.categories] + [
        "(other values)" if cm.truncated else "(new values)"]
    r, q = float(ref_counts[k] / n_r), float(cur_counts[k] / n_c)
    name = labels[k] if k >= len(cm.categories) else repr(labels[k])
    return {"category": labels[k], "reference_share": r, "current_share": q,
            "change": float(change[k]),
            "text": f"{name} changed most: {100 * r:.1f}% -> {100 * q:.1f}% "
                    f"({100 * change[k]:+.1f} points)"}
