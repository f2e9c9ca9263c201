"""Service level indicators: availability from good/total counts, latency
SLIs from raw latencies, cumulative histogram buckets or a live histogram,
and the nearest-rank quantile of the original SLO check."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from fastmlops._core.validation import as_numeric_array
from fastmlops.slo._metric_values import (CountLike, HistogramLike, histogram_buckets,
                                          metric_value)
from fastmlops.slo._numbers import as_finite, count


def availability(good: CountLike, total: CountLike) -> float:
    """Availability SLI: ``good / max(total, 1)``.

    ``good`` and ``total`` are event counts, or counters to read them from:
    a :class:`fastmlops.metrics.Counter` (or one of its ``.labels(...)``
    children; the value is the total over all processes) or a
    prometheus_client ``Counter``.

    The rule of the original SLO check: with no traffic the availability is
    0.0 (check ``total`` yourself if no traffic should count as meeting the
    objective; :class:`SLOMonitor` does not alert on it).  Burn rates use the
    opposite convention (no traffic burns nothing).

    Examples
    --------
    >>> from fastmlops.slo import availability
    >>> availability(982, 1000)
    0.982
    >>> availability(0, 0)
    0.0
    """
    g, t = count(metric_value(good), "good"), count(metric_value(total), "total")
    if g > t:
        raise ValueError(f"good ({g}) must not exceed total ({t}); pass the successful "
                         "events as good and all events as total")
    return g / max(t, 1)


def latency_sli_from_metric(histogram: HistogramLike, threshold: float, *,
                            interpolate: bool = False) -> float:
    """Latency SLI read from a live histogram: the fraction of observations
    ``<= threshold``, over all processes.

    ``histogram`` is a :class:`fastmlops.metrics.Histogram` without labels or
    one of its ``.labels(...)`` children, or a prometheus_client ``Histogram``
    (all its label sets added up).  The rest is
    :func:`latency_sli_from_histogram` on its cumulative buckets: the
    threshold must be a bucket bound unless ``interpolate=True``.

    Examples
    --------
    >>> from fastmlops.metrics import Histogram
    >>> from fastmlops.slo import latency_sli_from_metric
    >>> latency = Histogram("doc_slo_latency_seconds", "Latency", registry=None,
    ...                     buckets=(0.05, 0.1, 0.25))
    >>> latency.observe_many([0.01] * 600 + [0.07] * 300 + [0.2] * 80 + [0.3] * 20)
    >>> latency_sli_from_metric(latency, 0.1)
    0.9
    """
    le, counts = histogram_buckets(histogram)
    return latency_sli_from_histogram(le, counts, threshold, interpolate=interpolate)


def latency_sli(latencies: ArrayLike, threshold: float) -> float:
    """Latency SLI from raw latencies: the fraction with ``latency <= threshold``.

    Returns 0.0 for an empty sample (the same rule as :func:`availability`).

    Examples
    --------
    >>> from fastmlops.slo import latency_sli
    >>> latency_sli([20, 50, 100, 180], threshold=100)
    0.75
    """
    arr = as_numeric_array(latencies, "latencies").reshape(-1)
    thr = as_finite(threshold, "threshold")
    if np.isnan(arr).any():
        raise ValueError("latencies contain NaN; drop failed measurements first")
    return int(np.count_nonzero(arr <= thr)) / max(arr.size, 1)


def latency_sli_from_histogram(le: ArrayLike, cumulative_counts: ArrayLike, threshold: float, *,
                               interpolate: bool = False) -> float:
    """Latency SLI from cumulative (Prometheus-style) histogram buckets.

    Parameters
    ----------
    le : array_like
        Upper bounds of the buckets, strictly increasing; the last one should
        be ``inf`` (the ``+Inf`` bucket, whose count is the total).
    cumulative_counts : array_like
        ``count[i]`` = number of observations ``<= le[i]`` (non-decreasing, as
        the ``_bucket`` series of a Prometheus histogram).
    threshold : float
        The latency threshold.  It must be one of the bounds, unless
        ``interpolate=True``.
    interpolate : bool, default False
        When the threshold falls inside a bucket, interpolate linearly within
        it (observations assumed uniform in the bucket, the lowest bucket
        starting at 0, as Prometheus' ``histogram_quantile`` does).  A
        threshold beyond the last finite bound gives that bound's count.

    Returns
    -------
    float
        ``count(<= threshold) / total``, 0.0 when the histogram is empty.  The
        total is the last count, so the last bound must be ``inf`` for it to
        be the true total.

    Examples
    --------
    >>> from fastmlops.slo import latency_sli_from_histogram
    >>> le = [0.05, 0.1, 0.25, float("inf")]
    >>> latency_sli_from_histogram(le, [600, 900, 980, 1000], 0.1)
    0.9
    >>> latency_sli_from_histogram(le, [600, 900, 980, 1000], 0.175, interpolate=True)
    0.94
    """
    bounds = np.asarray(as_numeric_array(le, "le"), dtype=np.float64).reshape(-1)
    counts = np.asarray(as_numeric_array(cumulative_counts, "cumulative_counts"),
                        dtype=np.float64).reshape(-1)
    thr = as_finite(threshold, "threshold")
    if bounds.size == 0 or bounds.size != counts.size:
        raise ValueError(f"le and cumulative_counts must be non-empty and of the same length; "
                         f"got {bounds.size} bounds and {counts.size} counts")
    if np.isnan(bounds).any() or np.any(np.diff(bounds) <= 0):
        raise ValueError("le must be strictly increasing bucket bounds, e.g. [0.1, 0.5, inf]")
    if np.isnan(counts).any() or np.any(counts < 0) or np.any(np.diff(counts) < 0):
        raise ValueError("cumulative_counts must be >= 0 and non-decreasing (cumulative "
                         "buckets: the count of observations <= each bound)")
    total = counts[-1]
    hit = np.flatnonzero(bounds == thr)
    if hit.size:
        return float(counts[hit[0]] / total) if total > 0 else 0.0
    if not interpolate:
        finite = ", ".join(f"{b:g}" for b in bounds if np.isfinite(b))
        raise ValueError(f"threshold {thr:g} is not a bucket bound (bounds: {finite}); "
                         "use one of them or pass interpolate=True")
    if total <= 0:
        return 0.0
    i = int(np.searchsorted(bounds, thr))  # bounds[i-1] < thr < bounds[i]
    if i == bounds.size or not np.isfinite(bounds[i]):
        return float(counts[i - 1] / total)
    lo = bounds[i - 1] if i > 0 else 0.0
    below = counts[i - 1] if i > 0 else 0.0
    if thr <= lo:  # below the first bucket's assumed lower edge 0
        return 0.0
    frac = (thr - lo) / (bounds[i] - lo)
    return float((below + frac * (counts[i] - below)) / total)


def nearest_rank_quantile(values: ArrayLike, q: float) -> float:
    """The quantile rule of the original SLO check: ``sorted(values)[min(round(q*n), n-1)]``.

    ``round`` is Python's (ties to even) on the float ``q*n``; the index is
    0-based and clamped to ``n - 1``.  This is *not* numpy's default linear
    interpolation: with 990 values of 50 ms and ten larger ones, the p99 is
    the 991st smallest value, where ``np.quantile`` would interpolate.

    Examples
    --------
    >>> from fastmlops.slo import nearest_rank_quantile
    >>> nearest_rank_quantile([50] * 990 + [148] + [200] * 9, 0.99)
    148.0
    >>> nearest_rank_quantile([1, 2, 3], 0.99)     # index round(2.97) = 3, clamped to 2
    3.0
    """
    arr = np.asarray(as_numeric_array(values, "values"), dtype=np.float64).reshape(-1)
    qf = as_finite(q, "q")
    if not 0 <= qf <= 1:
        raise ValueError(f"q must be in [0, 1] (0.99 for p99), got {q!r}")
    if arr.size == 0:
        raise ValueError("values is empty; a quantile needs at least one value")
    if np.isnan(arr).any():
        raise ValueError("values contain NaN; drop them first")
    idx = min(round(qf * arr.size), arr.size - 1)
    return float(np.partition(arr, idx)[idx])
