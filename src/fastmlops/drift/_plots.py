"""The data of a drift report's pictures: per column, what the HTML report
draws (bins and ECDFs of a numeric column, category shares of a categorical
one), from the reference's column model and the current data's counts."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastmlops.drift.categories import CategoryCounts, CategoryMap
from fastmlops.drift.columns import NumericColumn

__all__ = ["PLOT_CATEGORIES", "categorical_plot", "numeric_plot"]

#: Categories drawn in a categorical column's picture (the rest pooled).
PLOT_CATEGORIES = 30


def numeric_plot(ref: NumericColumn, bins: np.ndarray, grid: np.ndarray,
                  n: int) -> dict[str, Any]:
    v = ref.sorted_values
    m = max(1, n)
    edges = [float(v[0])] + [float(e) for e in ref.edges] + [float(v[-1])]
    ref_cdf = np.searchsorted(v, ref.grid.astype(v.dtype) if v.dtype.kind == "f" else ref.grid,
                              side="left") / ref.n
    cur_cdf = np.cumsum(grid)[:-1] / m
    return {"edges": edges, "reference_counts": [int(c) for c in ref.counts],
            "current_counts": [int(c) for c in bins],
            "grid": [float(g) for g in ref.grid], "reference_cdf": [float(x) for x in ref_cdf],
            "current_cdf": [float(x) for x in cur_cdf]}


def categorical_plot(cm: CategoryMap, c: CategoryCounts) -> dict[str, Any]:
    ref_counts = np.asarray(cm.counts, dtype=np.int64)
    cur_counts = np.asarray(c.counts, dtype=np.int64)
    share = np.maximum(ref_counts / max(1, ref_counts.sum() + cm.other),
                       cur_counts / max(1, cur_counts.sum() + c.other + c.unseen))
    top = np.sort(np.argsort(-share, kind="stable")[:PLOT_CATEGORIES])
    rest = np.setdiff1d(np.arange(ref_counts.size), top)
    return {"categories": [str(cm.categories[i]) for i in top],
            "reference_counts": [int(ref_counts[i]) for i in top],
            "current_counts": [int(cur_counts[i]) for i in top],
            "unseen_count": int(c.unseen),
            "other_count_reference": int(cm.other + ref_counts[rest].sum()),
            "other_count_current": int(c.other + cur_counts[rest].sum())}
