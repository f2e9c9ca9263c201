"""Reading live metric objects: the value of a counter and the cumulative
buckets of a histogram (fastmlops.metrics or prometheus_client ones)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable, Protocol, Union

import numpy as np

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric as MetricFamily


class ValueMetric(Protocol):
    """A fastmlops.metrics metric (or ``.labels(...)`` child): ``value()`` reads it."""

    def value(self) -> object: ...


class CollectMetric(Protocol):
    """A prometheus_client metric: ``collect()`` gives its families of samples."""

    def collect(self) -> Iterable[MetricFamily]: ...


#: An event count, or a counter to read it from.
CountLike = Union[int, float, np.integer, np.floating, ValueMetric, CollectMetric]
#: A histogram of fastmlops.metrics or prometheus_client.
HistogramLike = Union[ValueMetric, CollectMetric]


def metric_value(x: CountLike) -> object:
    """The current value of a counter object, or ``x`` itself if it is not one."""
    if isinstance(x, (int, float, np.integer, np.floating)):
        return x
    value = getattr(x, "value", None)
    if callable(value):  # fastmlops.metrics.Counter and its children
        return value()
    collect = getattr(x, "collect", None)
    if callable(collect):  # prometheus_client: the sum of the _total samples
        totals = [s.value for family in collect() for s in family.samples
                  if s.name.endswith("_total")]
        if not totals:
            raise TypeError(f"{x!r} exposes no _total samples; pass a counter or a number")
        return math.fsum(totals)
    return x


def histogram_buckets(metric: HistogramLike) -> tuple[np.ndarray, np.ndarray]:
    """(le, cumulative counts) of a histogram object, summed over label sets."""
    value = getattr(metric, "value", None)
    if callable(value):  # fastmlops.metrics.Histogram and its children
        got = value()
        if isinstance(got, dict) and "buckets" in got:
            return (np.array(list(got["buckets"]), dtype=np.float64),
                    np.array(list(got["buckets"].values()), dtype=np.float64))
    collect = getattr(metric, "collect", None)
    if callable(collect):  # prometheus_client
        by_le: dict[float, float] = {}
        for family in collect():
            for sample in family.samples:
                if sample.name.endswith("_bucket"):
                    le = float(sample.labels["le"])
                    by_le[le] = by_le.get(le, 0.0) + sample.value
        if by_le:
            keys = sorted(by_le)
            return np.array(keys), np.array([by_le[b] for b in keys])
        # a labelled prometheus_client Histogram with no label set yet: no
        # samples, but it is a histogram with known bounds and no observations
        bounds = getattr(metric, "_upper_bounds", None)
        if bounds:
            les = np.array([float(b) for b in bounds], dtype=np.float64)
            return les, np.zeros(les.size)
    raise TypeError(f"expected a histogram (fastmlops.metrics.Histogram or a "
                    f"prometheus_client Histogram), got {metric!r}")
