"""The data of a drift report's pictures: per column, what the HTML report
draws (bins and ECDFs of a numeric column, category shares of a categorical
one), from the reference's column model and the current data's counts.

A numeric picture spans both samples: the reference's bins, and a bin below
and one above the reference's range when the current data has values there
(the outer PSI bins of :mod:`fastmlops.divergence`), marked ``below`` /
``above``.  Their outer ends are the current's smallest and largest values
when the caller passes them (``low`` / ``high``, e.g. from the counts'
``ValueSummary``), else ``None`` (the page then draws them with a nominal
width and says the extent is not known).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastmlops.drift.categories import CategoryCounts, CategoryMap
from fastmlops.drift.columns import NumericColumn

__all__ = ["PLOT_CATEGORIES", "categorical_plot", "numeric_plot"]

#: Categories drawn in a categorical column's picture (the rest pooled).
PLOT_CATEGORIES = 30


def _end(value: float | None, beyond: float, below: bool) -> float | None:
    """The outer end of an overflow bin: the current's extreme value when it
    is known and lies beyond the reference's, else None."""
    if value is None:
        return None
    x = float(value)
    if math.isnan(x) or (x >= beyond if below else x <= beyond):
        return None
    return x


def numeric_plot(ref: NumericColumn, bins: np.ndarray, grid: np.ndarray, n: int, *,
                 low: float | None = None, high: float | None = None) -> dict[str, Any]:
    """The picture data of one numeric column (layout in
    ``docs/drift-report-json.md``, "plot").

    ``bins`` and ``grid`` are the current's counts on the reference's PSI bins
    and picture grid, ``n`` its number of values; ``low`` / ``high`` its
    smallest and largest values when known (they place the outer ends of the
    overflow bins and of the current's ECDF)."""
    v = ref.sorted_values
    m = max(1, n)
    lo, hi = float(v[0]), float(v[-1])
    e = np.asarray(ref.edges, dtype=np.float64)
    k = int(np.count_nonzero(~np.isnan(e)))  # NaN edges (last) end always-empty bins
    e = e[:k]
    rc = np.asarray(ref.counts, dtype=np.int64)[:k + 1]
    cc = np.asarray(bins, dtype=np.int64)[:k + 1]
    # the outer PSI bins (see fastmlops.divergence.outer_edges); a reference
    # saved before they existed has interior edges only
    below = bool(k and e[0] == lo and lo > -math.inf)
    above = bool(k and e[-1] > hi)
    inner = e[int(below):k - int(above)]
    rin = rc[int(below):k + 1 - int(above)]
    cin = cc[int(below):k + 1 - int(above)]
    edges: list[float | None] = [lo, *(float(x) for x in inner), hi]
    ref_counts, cur_counts = [int(c) for c in rin], [int(c) for c in cin]
    g = np.asarray(ref.grid, dtype=np.float64)
    ref_cdf = np.searchsorted(v, g.astype(v.dtype) if v.dtype.kind == "f" else g,
                              side="left") / ref.n
    cur_cdf = np.cumsum(grid)[:-1] / m
    points: list[float | None] = [float(x) for x in g]
    rcdf, ccdf = [float(x) for x in ref_cdf], [float(x) for x in cur_cdf]
    n_below = int(cc[0]) if below else 0
    n_above = int(cc[-1]) if above else 0
    if below:  # the share below the reference's smallest value: 0 of it
        points.insert(0, lo)
        rcdf.insert(0, 0.0)
        ccdf.insert(0, n_below / m)
    if above:  # the share below the upper outer edge: up to its largest value
        points.append(float(e[-1]))
        rcdf.append(1.0)
        ccdf.append((m - n_above) / m if n else 0.0)
    show_below, show_above = n_below > 0, n_above > 0
    if show_below:
        start = _end(low, lo, below=True)
        edges.insert(0, start)
        ref_counts.insert(0, 0)
        cur_counts.insert(0, n_below)
        points.insert(0, start)
        rcdf.insert(0, 0.0)
        ccdf.insert(0, 0.0)
    if show_above:
        stop = _end(high, hi, below=False)
        edges.append(stop)
        ref_counts.append(0)
        cur_counts.append(n_above)
        points.append(stop)
        rcdf.append(1.0)
        ccdf.append(1.0)
    return {"edges": edges, "reference_counts": ref_counts, "current_counts": cur_counts,
            "below": show_below, "above": show_above,
            "grid": points, "reference_cdf": rcdf, "current_cdf": ccdf}


def categorical_plot(cm: CategoryMap, c: CategoryCounts) -> dict[str, Any]:
    """The picture data of one categorical column: the categories with the
    largest shares, the rest of the kept ones pooled as "other", and the
    values outside the kept categories once, as ``unseen_count`` (new values;
    with a truncated map, new or rare ones, which cannot be told apart)."""
    ref_counts = np.asarray(cm.counts, dtype=np.int64)
    cur_counts = np.asarray(c.counts, dtype=np.int64)
    share = np.maximum(ref_counts / max(1, ref_counts.sum() + cm.other),
                       cur_counts / max(1, cur_counts.sum() + c.other))
    top = np.sort(np.argsort(-share, kind="stable")[:PLOT_CATEGORIES])
    rest = np.setdiff1d(np.arange(ref_counts.size), top)
    # c.other counts the values outside the kept categories, which is what
    # c.unseen counts too: they are drawn once, as unseen_count
    outside_not_unseen = max(0, int(c.other) - int(c.unseen))
    return {"categories": [str(cm.categories[i]) for i in top],
            "reference_counts": [int(ref_counts[i]) for i in top],
            "current_counts": [int(cur_counts[i]) for i in top],
            "unseen_count": int(c.unseen),
            "truncated": bool(cm.truncated),
            "other_count_reference": int(cm.other + ref_counts[rest].sum()),
            "other_count_current": int(outside_not_unseen + cur_counts[rest].sum())}
