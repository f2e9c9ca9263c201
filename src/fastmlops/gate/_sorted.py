"""One sort of each model's scores, shared by DeLong's test, the rank-metric
bootstrap replicates and their jackknife."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastmlops._core.parallel import parallel_map


@dataclass(frozen=True)
class SortedPair:
    """Both models' rows in ascending score order (as the kernels of
    :mod:`fastmlops._kernels.paired` take them): ``rows[m]`` the row order
    of model ``m`` (0 baseline, 1 candidate), ``first[m, k]`` 1 where a block
    of equal scores starts at position ``k``, ``labels[m, k]`` the label of
    the row at position ``k``."""

    rows: np.ndarray
    first: np.ndarray
    labels: np.ndarray


def sort_pair(y: np.ndarray, baseline: np.ndarray, candidate: np.ndarray) -> SortedPair:
    """Sort both models' scores (a radix sort each, on two threads when
    there are two cores): ~10x faster than ``np.argsort`` at 1e6 rows."""
    from fastmlops._kernels.paired import sort_scores

    n = y.size
    rows = np.empty((2, n), dtype=np.int32)
    first = np.empty((2, n), dtype=np.uint8)
    labels = np.empty((2, n), dtype=np.uint8)
    parallel_map(lambda m: sort_scores((baseline, candidate)[m], y, rows[m], first[m],
                                       labels[m]), range(2))
    return SortedPair(rows=rows, first=first, labels=labels)
