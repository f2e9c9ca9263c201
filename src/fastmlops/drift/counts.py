"""Column counts: what one pass over current data leaves per column, before any
test is run.  Every producer (a check in memory, the mergeable
:class:`~fastmlops.drift.DriftState`, the in-server
:class:`~fastmlops.DriftMonitor`) fills these, and one judging step
(:func:`fastmlops.drift.judge.judge`) turns them into tests, verdicts and a
:class:`~fastmlops.DriftReport`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import numpy as np

from fastmlops.drift.categories import CategoryCounts

__all__ = ["KsFigures", "NumericCounts", "CategoricalCounts", "ColumnCounts", "ValueSummary"]


@dataclass(frozen=True)
class KsFigures:
    """The KS statistic of one column, resolved for its alternative: ``d``, the
    value where it is reached and its sign (+1: the reference's ECDF above)."""

    d: float
    location: float
    sign: float


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass
class NumericCounts:
    """Counts of one numeric column of the current data.

    ``n_rows`` rows were seen, ``n_missing`` of them missing (NaN), ``n``
    values present.  ``bins``/``grid`` are the counts on the reference's PSI
    bins and ECDF-picture grid (None when only the KS statistic was asked
    for); ``ks`` is None when there is no value to test (or no statistic was
    computed)."""

    n_rows: int
    n_missing: int
    n: int
    bins: np.ndarray | None = None
    grid: np.ndarray | None = None
    ks: KsFigures | None = None
    #: the exact sum and range of the values present, for the effect sizes
    #: (:mod:`fastmlops.drift._effects`); None when the producer does not
    #: keep them (a :class:`~fastmlops.DriftMonitor`'s window)
    summary: ValueSummary | None = None


@dataclass
class CategoricalCounts:
    """Counts of one categorical column of the current data.

    ``categories`` holds the counts per kept reference category (None when only
    the KS statistics were asked for: categorical columns have none);
    ``unseen_counts`` the rows of each value the reference never had (each a
    bin of its own in the binned test) and ``unseen_keys`` a stable hash of
    each such value (:func:`fastmlops.drift.columns.label_hashes`) that breaks
    ties without favouring either sample."""

    n_rows: int
    n_missing: int
    n: int
    categories: CategoryCounts | None = None
    unseen_counts: np.ndarray = field(default_factory=_empty)
    unseen_keys: np.ndarray = field(default_factory=_empty)

    @property
    def ks(self) -> None:
        """Categorical columns have no KS statistic."""
        return None


#: The counts of one column.
ColumnCounts = Union[NumericCounts, CategoricalCounts]


@dataclass(frozen=True)
class ValueSummary:
    """The exact sum and the range of a column's values present (NaNs left
    out), mergeable in any order with the same result: the sum is kept as
    the integer ``scaled_sum = sum * 2**1075`` of the finite values (see
    :mod:`fastmlops._kernels.summary`), infinities counted apart."""

    scaled_sum: int
    low: float
    high: float
    n_pos_inf: int
    n_neg_inf: int

    def merge(self, other: ValueSummary) -> ValueSummary:
        return ValueSummary(self.scaled_sum + other.scaled_sum, min(self.low, other.low),
                            max(self.high, other.high), self.n_pos_inf + other.n_pos_inf,
                            self.n_neg_inf + other.n_neg_inf)

    def mean(self, n: int) -> float:
        """The mean of the ``n`` values, rounded once (inf, -inf or NaN with
        infinities; NaN when ``n`` is 0)."""
        if n <= 0 or (self.n_pos_inf and self.n_neg_inf):
            return float("nan")
        if self.n_pos_inf or self.n_neg_inf:
            return float("inf") if self.n_pos_inf else float("-inf")
        from fractions import Fraction

        return float(Fraction(self.scaled_sum, n << 1075))
