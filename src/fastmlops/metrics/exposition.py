"""Where :mod:`fastmlops.metrics`' collectors meet prometheus_client: the
registry a collector registers in, and the prometheus_client classes a
scrape builds its families with (looked up once).

Shared with the other collectors of shared memory
(:class:`~fastmlops.DriftMonitor`):

>>> from fastmlops.metrics.exposition import resolve_registry
>>> resolve_registry(None) is None          # not registered
True
>>> mine = object()                         # e.g. a prometheus_client CollectorRegistry
>>> resolve_registry(mine) is mine
True
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: prometheus_client is imported on first use
    from prometheus_client.registry import CollectorRegistry

__all__ = ["DEFAULT_REGISTRY", "PrometheusParts", "prometheus_parts", "resolve_registry",
           "warm_metrics"]

#: Default of a collector's ``registry`` argument: prometheus_client's
#: ``REGISTRY``, looked up (and prometheus_client imported) only when used.
#: A sentinel, left untyped so that it can default a ``CollectorRegistry | None``.
DEFAULT_REGISTRY: Any = object()


def resolve_registry(registry: CollectorRegistry | None) -> CollectorRegistry | None:
    """The registry a collector given ``registry`` registers in (None: none):
    :data:`DEFAULT_REGISTRY` is prometheus_client's ``REGISTRY``; anything
    else is itself.  ImportError with a hint when prometheus_client is missing."""
    if registry is DEFAULT_REGISTRY:
        try:
            from prometheus_client import REGISTRY
        except ImportError:
            raise ImportError("fastmlops.metrics registers in prometheus_client's default "
                              "registry: pip install prometheus_client (or "
                              "fastmlops[prometheus]), or pass registry=None") from None
        return REGISTRY
    return registry


class PrometheusParts:
    """The prometheus_client names a scrape uses, looked up once."""

    def __init__(self) -> None:
        from prometheus_client import metrics
        from prometheus_client.metrics_core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )
        from prometheus_client.samples import Sample
        self.metrics: ModuleType = metrics
        self.Sample = Sample
        # Samples are built with tuple.__new__ from C (map/zip), 2-3x cheaper
        # than the namedtuple's Python-level __new__; only while Sample is
        # still (name, labels, value, <fields defaulting to None>...).
        fields = Sample._fields
        rest = fields[3:]
        self.sample_rest = len(rest) if (
            fields[:3] == ("name", "labels", "value")
            and Sample._field_defaults == dict.fromkeys(rest)) else -1
        self.CounterMetricFamily = CounterMetricFamily
        self.GaugeMetricFamily = GaugeMetricFamily
        self.HistogramMetricFamily = HistogramMetricFamily


_PC: PrometheusParts | None = None


def prometheus_parts() -> PrometheusParts:
    """prometheus_client's parts (:class:`PrometheusParts`), looked up on the
    first call; ImportError when prometheus_client is not installed."""
    global _PC
    if _PC is None:
        _PC = PrometheusParts()
    return _PC


_WARM: list[bool] = []


def warm_metrics() -> None:
    """Load what every metric's flush and scrape need (the kernels, and
    prometheus_client's parts when it is installed), once per process: a
    metric's warm-up, so that workers forked later start with them loaded."""
    if _WARM:
        return
    from fastmlops._core.warmup import load_kernels

    load_kernels("metrics")
    try:
        prometheus_parts()
    except ImportError:  # exposition is optional
        pass
    _WARM.append(True)
