"""Results of the quality metrics: one value per (group, model)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fastmlops._core.results import TupleResult

if TYPE_CHECKING:
    from fastmlops.quality._inputs import Prepared


@dataclass(frozen=True, eq=False)
class QualityResult:
    """One metric for several models and/or groups.

    ``values[i, j]`` is the metric of group ``groups[i]`` (the whole data when
    ``groups`` is None: one row) and model ``models[j]``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops.quality import roc_auc
    >>> y = [0, 0, 1, 1, 0, 1]
    >>> scores = np.array([[0.1, 0.9], [0.4, 0.2], [0.35, 0.7],
    ...                    [0.8, 0.6], [0.2, 0.1], [0.9, 0.3]])
    >>> result = roc_auc(y, scores)
    >>> result.models, result.values.round(3).tolist()
    ([0, 1], [[0.889, 0.667]])
    >>> roc_auc(y, scores[:, 0], groups=["a", "a", "a", "b", "b", "b"]).to_dict()
    {'a': {'scores': 0.5}, 'b': {'scores': 1.0}}
    """

    metric: str
    values: np.ndarray
    models: list[Any]
    groups: list[Any] | None = field(default=None)

    def to_dict(self) -> dict[Any, Any]:
        """``{model: value}``, or ``{group: {model: value}}`` with groups."""
        rows = [{m: float(v) for m, v in zip(self.models, row)} for row in self.values]
        if self.groups is None:
            return rows[0]
        return dict(zip(self.groups, rows))

    def to_pandas(self) -> Any:
        """A DataFrame: one row per group (one row without groups), one column
        per model (needs pandas)."""
        import pandas as pd

        index = self.groups if self.groups is not None else [self.metric]
        return pd.DataFrame(self.values, index=index, columns=self.models)

    def __repr__(self) -> str:
        groups = "" if self.groups is None else f", groups={self.groups!r}"
        return (f"QualityResult(metric={self.metric!r}, models={self.models!r}{groups}, "
                f"values={self.values.tolist()!r})")


def finish(metric: str, values: np.ndarray, data: Prepared) -> float | QualityResult:
    """A float for one 1-D score column without groups, else a
    :class:`QualityResult`; ``values`` is (groups, models)."""
    if data.one_d and data.group_values is None:
        return float(values[0, 0])
    return QualityResult(metric, values, list(data.models), data.group_values)


class PrecisionRecallF1(TupleResult):
    """``(precision, recall, f1)``, each a float or a :class:`QualityResult`."""

    _fields = ("precision", "recall", "f1")
    _n_unpack = 3


@dataclass(frozen=True, eq=False)
class ReliabilityTable:
    """A reliability diagram's table, one entry per bin.

    ``edges`` has ``bins + 1`` values; ``count`` the rows in each bin,
    ``weight`` their total weight (the count without weights),
    ``mean_predicted`` and ``fraction_positive`` the weighted mean probability
    and share of positives of the bin (NaN for an empty bin).
    """

    edges: np.ndarray
    count: np.ndarray
    weight: np.ndarray
    mean_predicted: np.ndarray
    fraction_positive: np.ndarray

    def to_dict(self) -> dict[str, list[float]]:
        """Every column as a list (``edges`` has one more value than the rest)."""
        return {"edges": self.edges.tolist(), "count": self.count.tolist(),
                "weight": self.weight.tolist(), "mean_predicted": self.mean_predicted.tolist(),
                "fraction_positive": self.fraction_positive.tolist()}


class Calibration(TupleResult):
    """``(ece, table)``: the expected calibration error and the reliability
    table.  For one 1-D column without groups ``ece`` is a float and
    ``table`` a :class:`ReliabilityTable`; otherwise ``ece`` is a
    :class:`QualityResult` and ``table`` a dict ``{(group, model):
    ReliabilityTable}`` (group None without groups)."""

    _fields = ("ece", "table")
    _n_unpack = 2
