"""Service level objectives: error budgets, SLIs, multiwindow burn-rate alerts,
an in-process monitor and Prometheus rules.

* :func:`error_budget` -- the time a service may be out of its objective over
  a period, exactly (99.9 % over 30 days is 43 min 12 s to the microsecond).
* :func:`availability`, :func:`latency_sli`, :func:`latency_sli_from_histogram`
  and :func:`nearest_rank_quantile` -- SLIs from good/total counts, raw
  latencies or cumulative Prometheus histogram buckets.
* :func:`burn_rates` -- burn rates of every window at every minute of a
  per-minute series of good/total counts (prefix sums, O(1) per window and
  minute, one Numba kernel); :func:`latest_burn_rates` at the last minute
  only.  ``burn rate = error rate / (1 - objective)``.
* :class:`BurnRateRule` and :data:`DEFAULT_RULES` -- the multiwindow,
  multi-burn-rate alerts the Google SRE workbook recommends for a 30-day
  objective.  A rule fires when the burn rate is *above* its threshold (``>``,
  as the workbook's PromQL) over BOTH its long and its short window.
* :class:`SLOMonitor` -- records ``(latency_ms, success)`` per request,
  evaluates on a schedule (background thread, asyncio task, or your own loop)
  and calls alert handlers with :class:`Alert` objects.
* :func:`prometheus_rules` -- the same SLO as Prometheus recording and
  alerting rules (YAML text; pyyaml is not needed).

Conventions used throughout:

* A window with no traffic has burn rate 0 (no bad events), never NaN.
* A window that reaches back before the first minute of a series covers only
  the minutes that exist (earlier minutes count as no traffic).
* A request is "fast" when ``latency <= threshold`` (Prometheus' ``le``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from numbers import Real
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from fastmlops._core.validation import as_numeric_array

__all__ = [
    "error_budget",
    "availability",
    "latency_sli",
    "latency_sli_from_histogram",
    "latency_sli_from_metric",
    "nearest_rank_quantile",
    "BurnRateRule",
    "DEFAULT_RULES",
    "BurnRates",
    "burn_rates",
    "latest_burn_rates",
    "window_counts",
    "Alert",
    "SLOStatus",
    "SLOMonitor",
    "EventCounters",
    "LatencyHistogram",
    "prometheus_rules",
]

_log = logging.getLogger("fastmlops.slo")
_MINUTE = timedelta(minutes=1)
_MICROSECOND = timedelta(microseconds=1)
_SEVERITIES = ("page", "ticket")
#: Longest window (in minutes) anywhere: the longest ``timedelta``.
MAX_WINDOW_MINUTES = timedelta.max // _MINUTE
#: Longest window or period of an :class:`SLOMonitor`, which keeps one bucket
#: (24 bytes) per minute: 4 x 366 days (about 50 MB).
MONITOR_MAX_MINUTES = 4 * 366 * 1440


# --------------------------------------------------------------------------- objectives
def _objective(objective: Any, name: str = "objective") -> Fraction:
    """The objective as an exact fraction strictly between 0 and 1.

    Floats are read as the decimal they print as (``0.999`` is 999/1000, not
    the nearest binary fraction), so budgets come out exact.
    """
    if isinstance(objective, bool) or not isinstance(objective, (Real, Decimal)):
        raise TypeError(
            f"{name} must be a number such as 0.999 (for 99.9 %), got "
            f"{type(objective).__name__} {objective!r}")
    if isinstance(objective, Fraction):
        frac = objective
    elif isinstance(objective, (int, np.integer)):
        frac = Fraction(int(objective))
    elif isinstance(objective, np.floating) and np.isfinite(objective):
        frac = Fraction(str(objective))  # float32(0.999) means 0.999 too
    else:
        value = float(objective) if not isinstance(objective, Decimal) else objective
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{name} must be strictly between 0 and 1, got {objective!r}")
        if isinstance(value, Decimal) and not value.is_finite():
            raise ValueError(f"{name} must be strictly between 0 and 1, got {objective!r}")
        frac = Fraction(value) if isinstance(value, Decimal) else Fraction(repr(value))
    if not 0 < frac < 1:
        hint = " (write 99.9 % as 0.999)" if 1 <= frac <= 100 else ""
        raise ValueError(f"{name} must be strictly between 0 and 1, got {objective!r}{hint}")
    return frac


def _check_period(period: Any, name: str = "period") -> timedelta:
    if not isinstance(period, timedelta):
        raise TypeError(
            f"{name} must be a datetime.timedelta, e.g. timedelta(days=30); got "
            f"{type(period).__name__} {period!r}")
    if period <= timedelta(0):
        raise ValueError(f"{name} must be positive, got {period!r}")
    return period


def error_budget(objective: Any, period: timedelta = timedelta(days=30)) -> timedelta:
    """The error budget: how long a service may miss its objective in ``period``.

    ``budget = (1 - objective) * period``, computed exactly with integer
    microseconds and fractions (no float drift), rounded to the nearest
    microsecond (ties to even).

    Parameters
    ----------
    objective : float, Fraction or Decimal
        The SLO, strictly between 0 and 1 (0.999 for 99.9 %).  A float is read
        as the decimal it prints as, so 0.999 means exactly 999/1000.
    period : datetime.timedelta, default 30 days
        The SLO period (the compliance window).

    Returns
    -------
    datetime.timedelta

    Raises
    ------
    ValueError
        ``objective`` not strictly between 0 and 1, or ``period`` not positive.
    TypeError
        ``objective`` not a number, or ``period`` not a ``timedelta``.

    Examples
    --------
    >>> from datetime import timedelta
    >>> from fastmlops.slo import error_budget
    >>> error_budget(0.999)
    datetime.timedelta(seconds=2592)
    >>> error_budget(0.999) == timedelta(minutes=43, seconds=12)
    True
    >>> str(error_budget(0.99, timedelta(days=365)))
    '3 days, 15:36:00'
    >>> error_budget(0.99999).total_seconds()
    25.92
    """
    frac = _objective(objective)
    period = _check_period(period)
    micros = period // _MICROSECOND
    return timedelta(microseconds=round((1 - frac) * micros))


# --------------------------------------------------------------------------- SLIs
def availability(good: Any, total: Any) -> float:
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
    g, t = _count(_metric_value(good), "good"), _count(_metric_value(total), "total")
    if g > t:
        raise ValueError(f"good ({g}) must not exceed total ({t}); pass the successful "
                         "events as good and all events as total")
    return g / max(t, 1)


def _metric_value(x: Any) -> Any:
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


def _histogram_buckets(metric: Any) -> tuple[np.ndarray, np.ndarray]:
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
            les = sorted(by_le)
            return np.array(les), np.array([by_le[b] for b in les])
        # a labelled prometheus_client Histogram with no label set yet: no
        # samples, but it is a histogram with known bounds and no observations
        bounds = getattr(metric, "_upper_bounds", None)
        if bounds:
            les = np.array([float(b) for b in bounds], dtype=np.float64)
            return les, np.zeros(les.size)
    raise TypeError(f"expected a histogram (fastmlops.metrics.Histogram or a "
                    f"prometheus_client Histogram), got {metric!r}")


def latency_sli_from_metric(histogram: Any, threshold: float, *,
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
    le, counts = _histogram_buckets(histogram)
    return latency_sli_from_histogram(le, counts, threshold, interpolate=interpolate)


def _count(x: Any, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer, float, np.floating)):
        raise TypeError(f"{name} must be a whole number of events, got {x!r}")
    if isinstance(x, (float, np.floating)):
        if not math.isfinite(x) or x != int(x):
            raise ValueError(f"{name} must be a whole number of events, got {x!r}")
    x = int(x)
    if x < 0:
        raise ValueError(f"{name} must be >= 0, got {x}")
    return x


def latency_sli(latencies: Any, threshold: float) -> float:
    """Latency SLI from raw latencies: the fraction with ``latency <= threshold``.

    Returns 0.0 for an empty sample (the same rule as :func:`availability`).

    Examples
    --------
    >>> from fastmlops.slo import latency_sli
    >>> latency_sli([20, 50, 100, 180], threshold=100)
    0.75
    """
    arr = as_numeric_array(latencies, "latencies").reshape(-1)
    thr = _finite(threshold, "threshold")
    if np.isnan(arr).any():
        raise ValueError("latencies contain NaN; drop failed measurements first")
    return int(np.count_nonzero(arr <= thr)) / max(arr.size, 1)


def _finite(x: Any, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (Real, Decimal)):
        raise TypeError(f"{name} must be a number, got {x!r}")
    try:
        value = float(x)
    except OverflowError:  # an int beyond float64
        value = math.inf
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return value


def latency_sli_from_histogram(le: Any, cumulative_counts: Any, threshold: float, *,
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
    thr = _finite(threshold, "threshold")
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


def nearest_rank_quantile(values: Any, q: float) -> float:
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
    qf = _finite(q, "q")
    if not 0 <= qf <= 1:
        raise ValueError(f"q must be in [0, 1] (0.99 for p99), got {q!r}")
    if arr.size == 0:
        raise ValueError("values is empty; a quantile needs at least one value")
    if np.isnan(arr).any():
        raise ValueError("values contain NaN; drop them first")
    idx = min(round(qf * arr.size), arr.size - 1)
    return float(np.partition(arr, idx)[idx])


# --------------------------------------------------------------------------- rules
def _minutes(window: Any, name: str) -> int:
    if isinstance(window, bool):
        raise TypeError(f"{name} must be a timedelta (or whole minutes as int), got {window!r}")
    if isinstance(window, (int, np.integer)):
        minutes = int(window)
    elif isinstance(window, timedelta):
        if window % _MINUTE:
            raise ValueError(f"{name} must be a whole number of minutes, got {window}")
        minutes = window // _MINUTE
    else:
        raise TypeError(f"{name} must be a timedelta (or whole minutes as int), got "
                        f"{type(window).__name__} {window!r}")
    if minutes < 1:
        raise ValueError(f"{name} must be at least 1 minute, got {window!r}")
    if minutes > MAX_WINDOW_MINUTES:
        raise ValueError(f"{name} must be at most {MAX_WINDOW_MINUTES:,} minutes (the longest "
                         f"timedelta), got {window!r}")
    return minutes


def _duration(minutes: int) -> str:
    """Prometheus duration of a whole number of minutes: 5m, 1h, 3d."""
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


@dataclass(frozen=True)
class BurnRateRule:
    """One multiwindow burn-rate alert.

    It fires when the burn rate is above ``burn_rate`` (strictly, ``>``) over
    both ``long_window`` and ``short_window``: the long window makes the
    alert significant, the short one makes it stop soon after the burning
    does.

    Attributes
    ----------
    name : str
        Identifier, letters, digits and ``_`` (used in alert names).
    severity : {'page', 'ticket'}
    burn_rate : float
        Threshold, in multiples of the budget-neutral rate (1 spends exactly
        the budget over the SLO period).
    long_window, short_window : datetime.timedelta
        Whole minutes.
    """

    name: str
    severity: str
    burn_rate: float
    long_window: timedelta
    short_window: timedelta

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.name):
            raise ValueError(f"rule name must be letters, digits and '_' (not starting with a "
                             f"digit), got {self.name!r}")
        if self.severity not in _SEVERITIES:
            raise ValueError(f"severity must be 'page' or 'ticket', got {self.severity!r}")
        rate = _finite(self.burn_rate, "burn_rate")
        if rate <= 0:
            raise ValueError(f"burn_rate must be positive, got {self.burn_rate!r}")
        for attr in ("long_window", "short_window"):
            value = getattr(self, attr)
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                object.__setattr__(self, attr, timedelta(minutes=int(value)))
            _minutes(getattr(self, attr), attr)

    @property
    def windows(self) -> tuple[int, int]:
        """(long, short) in minutes."""
        return self.long_window // _MINUTE, self.short_window // _MINUTE


#: The SRE workbook's recommendation for a 30-day SLO.
DEFAULT_RULES: tuple[BurnRateRule, ...] = (
    BurnRateRule("Page1h", "page", 14.4, timedelta(hours=1), timedelta(minutes=5)),
    BurnRateRule("Page6h", "page", 6.0, timedelta(hours=6), timedelta(minutes=30)),
    BurnRateRule("Ticket1d", "ticket", 3.0, timedelta(days=1), timedelta(hours=2)),
    BurnRateRule("Ticket3d", "ticket", 1.0, timedelta(days=3), timedelta(hours=6)),
)


def _check_rules(rules: Any) -> tuple[BurnRateRule, ...]:
    if isinstance(rules, BurnRateRule):
        rules = (rules,)
    try:
        rules = tuple(rules)
    except TypeError:
        raise TypeError(f"rules must be a sequence of BurnRateRule, got {rules!r}") from None
    if not rules:
        raise ValueError("rules is empty; pass at least one BurnRateRule (or DEFAULT_RULES)")
    for r in rules:
        if not isinstance(r, BurnRateRule):
            raise TypeError(f"rules must hold BurnRateRule objects, got {r!r}")
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ValueError(f"rule names must be unique, got {names}")
    return rules


def _rule_windows(rules: Sequence[BurnRateRule]) -> tuple[int, ...]:
    return tuple(sorted({m for r in rules for m in r.windows}))


# --------------------------------------------------------------------------- burn rates
def _counts(x: Any, name: str) -> np.ndarray:
    arr = as_numeric_array(x, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one count per minute), got shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.floor(arr)):
            raise ValueError(f"{name} must hold whole numbers of events per minute")
        if arr.size and np.max(np.abs(arr)) >= 2.0 ** 53:
            raise ValueError(f"{name} has counts too large to be exact (>= 2**53)")
    elif arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name} has counts too large for int64")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _good_total(good: Any, total: Any, tail: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validated int64 counts; with ``tail``, only the last ``tail`` minutes
    (the only ones read) are converted and checked."""
    g = as_numeric_array(good, "good")
    t = as_numeric_array(total, "total")
    if g.ndim == 1 and t.ndim == 1 and g.shape != t.shape:
        raise ValueError(f"good and total must have the same length (one count per minute); "
                         f"got {g.size} and {t.size}")
    offset = 0
    if tail is not None and g.ndim == 1 and g.size > tail:
        offset = g.size - tail
        g, t = g[offset:], t[offset:]
    g = _counts(g, "good")
    t = _counts(t, "total")
    if g.size and g.min() < 0:
        i = int(np.argmin(g))
        raise ValueError(f"good must be >= 0; minute {i + offset} has good={g[i]}")
    bad = np.flatnonzero(g > t)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"good must not exceed total; minute {i + offset} has good={g[i]} > "
                         f"total={t[i]} (good counts successful events, total all events)")
    return g, t


def _windows_arg(windows: Any) -> tuple[int, ...]:
    if windows is None:
        return _rule_windows(DEFAULT_RULES)
    if isinstance(windows, (timedelta, int, np.integer)):
        windows = (windows,)
    out = tuple(_minutes(w, "window") for w in windows)
    if not out:
        raise ValueError("windows is empty; pass at least one window")
    return out


@dataclass(frozen=True)
class BurnRates:
    """Burn rates of several windows at every minute of a series.

    Attributes
    ----------
    windows : tuple of int
        Window lengths in minutes, one per row of ``rates``.
    rates : ndarray, shape (len(windows), n)
        ``rates[k, i]``: burn rate over the ``windows[k]`` minutes ending at
        minute ``i`` (inclusive).
    objective : Fraction
    """

    windows: tuple[int, ...]
    rates: np.ndarray
    objective: Fraction

    def rate(self, window: Any) -> np.ndarray:
        """The row of one window (a timedelta or minutes)."""
        m = _minutes(window, "window")
        if m not in self.windows:
            raise KeyError(f"window {_duration(m)} was not evaluated; windows are "
                           f"{[_duration(w) for w in self.windows]}")
        return self.rates[self.windows.index(m)]

    def latest(self) -> dict[timedelta, float]:
        """``{window: burn rate}`` at the last minute."""
        if self.rates.shape[1] == 0:
            raise ValueError("the series is empty")
        return {timedelta(minutes=w): float(self.rates[k, -1]) for k, w in enumerate(self.windows)}

    def firing(self, rules: Any = DEFAULT_RULES) -> dict[str, np.ndarray]:
        """``{rule name: bool array}``: whether each rule fires at each minute
        (burn rate ``>`` threshold over both of its windows)."""
        out = {}
        for r in _check_rules(rules):
            long_m, short_m = r.windows
            out[r.name] = ((self.rate(long_m) > r.burn_rate) & (self.rate(short_m) > r.burn_rate))
        return out


def burn_rates(good: Any, total: Any, objective: Any, windows: Any = None) -> BurnRates:
    """Burn rates of every window at every minute of per-minute event counts.

    ``burn rate = (bad / total over the window) / (1 - objective)``, with
    ``bad = total - good``.  Window sums are differences of prefix sums
    (exact counts while the series total is below 2**53; O(1) per window and
    minute) computed by one Numba kernel, and each rate is within a few ulp
    of that formula (it multiplies by ``1 / (1 - objective)``).  About
    0.6 ms for 30 days of minutes and the 7 default windows.

    Parameters
    ----------
    good, total : array_like of int
        Good and total events per minute, same length, ``0 <= good <= total``.
    objective : float
        The SLO, strictly between 0 and 1.
    windows : sequence of timedelta or int minutes, optional
        Default: every window of :data:`DEFAULT_RULES` (5m, 30m, 1h, 2h, 6h,
        1d, 3d).  Each from 1 to :data:`MAX_WINDOW_MINUTES` minutes (the
        longest ``timedelta``).

    Returns
    -------
    BurnRates
        A window with no traffic has burn rate 0 (not NaN).  A window that
        reaches back before minute 0 covers minutes 0..i only.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops.slo import burn_rates
    >>> total = np.full(120, 1000)
    >>> good = total.copy(); good[-5:] -= 20             # 2 % errors in the last 5 minutes
    >>> br = burn_rates(good, total, 0.999, windows=[5, 60])
    >>> {str(w): round(r, 6) for w, r in br.latest().items()}
    {'0:05:00': 20.0, '1:00:00': 1.666667}
    >>> from fastmlops.slo import DEFAULT_RULES
    >>> bool(br.firing(DEFAULT_RULES[:1])["Page1h"][-1])   # 1h burn 1.67 < 14.4: no page
    False
    """
    from fastmlops._kernels.slo import burn_rates as _kernel

    g, t = _good_total(good, total)
    frac = _objective(objective)
    wins = _windows_arg(windows)
    if t.size and float(t.sum(dtype=np.float64)) >= 2.0 ** 53:
        raise ValueError("the total count of the series must be below 2**53 for exact "
                         "window sums; split the series")
    out = np.empty((len(wins), g.size), dtype=np.float64)
    _kernel(g, t, np.asarray(wins, dtype=np.int64), float(1 - frac), out)
    return BurnRates(wins, out, frac)


def window_counts(counts: Any, windows: Any = None) -> np.ndarray:
    """Exact rolling sums of per-minute counts: ``out[k, i]`` = sum of the
    ``windows[k]`` minutes ending at minute ``i`` (int64; windows reaching
    before minute 0 cover minutes 0..i).

    Examples
    --------
    >>> from fastmlops.slo import window_counts
    >>> window_counts([1, 2, 3, 4], windows=[2, 3])
    array([[1, 3, 5, 7],
           [1, 3, 6, 9]])
    """
    from fastmlops._kernels.slo import window_sums as _kernel

    c = _counts(counts, "counts")
    if c.size and c.min() < 0:
        i = int(np.argmin(c))
        raise ValueError(f"counts must be >= 0; minute {i} has {c[i]}")
    wins = _windows_arg(windows)
    out = np.empty((len(wins), c.size), dtype=np.int64)
    _kernel(c, np.asarray(wins, dtype=np.int64), out)
    return out


def latest_burn_rates(good: Any, total: Any, objective: Any,
                      windows: Any = None) -> dict[timedelta, float]:
    """Burn rates of each window at the last minute only: ``{window: rate}``.

    The same definition as :func:`burn_rates` (zero traffic gives 0), costing
    sums over the longest window instead of the whole series: only those last
    minutes are read, so only they are checked.

    Examples
    --------
    >>> from fastmlops.slo import latest_burn_rates
    >>> latest_burn_rates([990, 1000], [1000, 1000], 0.99, windows=[1, 2])
    {datetime.timedelta(seconds=60): 0.0, datetime.timedelta(seconds=120): 0.5}
    """
    frac = _objective(objective)
    wins = _windows_arg(windows)
    g, t = _good_total(good, total, tail=max(wins))
    budget = float(1 - frac)
    if g.size == 0:
        raise ValueError("good and total are empty; pass at least one minute of counts")
    # sums of the last w minutes: suffix sums of the tail, O(1) per window
    suffix_t = np.cumsum(t[::-1])
    suffix_g = np.cumsum(g[::-1])
    last = np.minimum(np.asarray(wins), t.size) - 1
    tots = suffix_t[last].tolist()
    goods = suffix_g[last].tolist()
    out = {}
    for w, tt, gg in zip(wins, tots, goods):
        out[timedelta(minutes=w)] = ((tt - gg) / max(tt, 1)) / budget
    return out


# --------------------------------------------------------------------------- monitor
@dataclass(frozen=True)
class Alert:
    """An alert passed to handlers.

    Attributes
    ----------
    name : str
        ``"<sli>:<rule>"`` for burn-rate alerts (``"availability:Page1h"``),
        ``"slo_check"`` for the threshold check.
    severity : {'page', 'ticket'}
    sli : str
        ``"availability"``, ``"latency"`` or ``"check"``.
    burn_rates : dict
        ``{window: burn rate}`` of the two windows of the rule (empty for the
        threshold check).
    message : str
    time : float
        Clock time of the evaluation (seconds).
    """

    name: str
    severity: str
    sli: str
    burn_rates: dict
    message: str
    time: float


@dataclass(frozen=True)
class SLOStatus:
    """One evaluation of an :class:`SLOMonitor`.

    Attributes
    ----------
    time : float
        Clock time (seconds).
    good, total : int
        Successful and all requests over the SLO period (the whole stream
        while it is shorter than the period).
    availability : float
        ``good / max(total, 1)``.
    latency : float or None
        The ``latency_quantile`` of the last ``latency_window`` latencies by
        :func:`nearest_rank_quantile`; None before the first request.
    burn_rates : dict
        ``{sli: {window: burn rate}}`` at the current minute.
    budget_remaining : dict
        ``{sli: fraction of the period's error budget left}`` (1 = untouched,
        negative = overspent; 1 with no traffic).
    alerts : list of Alert
        Every alert firing at this evaluation.
    check_line : str
        ``"availability=0.9820, p99_latency=148ms"``.
    """

    time: float
    good: int
    total: int
    availability: float
    latency: float | None
    burn_rates: dict
    budget_remaining: dict
    alerts: list
    check_line: str

    @property
    def ok(self) -> bool:
        """True when no alert fires."""
        return not self.alerts


def _success(success: Any) -> bool:
    """A request outcome: a bool, a numpy bool, or the int 0 or 1."""
    if isinstance(success, (bool, np.bool_)):
        return bool(success)
    if isinstance(success, (int, np.integer)) and success in (0, 1):
        return bool(success)
    raise TypeError(f"success must be True or False (or 1/0), got {type(success).__name__} "
                    f"{success!r}; convert it, e.g. success=(status < 500)")


def _quantile_label(q: float) -> str:
    return f"p{q * 100:.10g}"


class SLOMonitor:
    """Records requests in-process and checks them against SLOs.

    The default configuration is the original check: availability >= 99.9 %
    and p99 latency <= 100 ms over the last 1000 requests, plus the
    multiwindow burn-rate alerts of :data:`DEFAULT_RULES` on availability.

    Call :meth:`record` once per request (thread-safe, about 2 us).  Evaluate
    with :meth:`start` / :meth:`stop` (a daemon thread), with
    ``asyncio.create_task(monitor.run(interval))``, or by calling
    :meth:`evaluate` from your own loop; the latest result is
    :attr:`last_status`.

    Parameters
    ----------
    availability_objective : float, default 0.999
        Availability SLO (successful / all requests).
    latency_threshold_ms : float, default 100
        The latency check: alert when the ``latency_quantile`` of the last
        ``latency_window`` latencies is above it.
    latency_quantile : float, default 0.99
        Computed by :func:`nearest_rank_quantile` (element
        ``min(round(q*n), n-1)`` of the sorted window, 0-based).
    latency_window : int, default 1000
        How many recent latencies are kept.
    latency_objective : float, optional
        If given, also a latency SLO with burn-rate alerts: the fraction of
        requests (failed or not) with ``latency <= latency_threshold_ms``
        must be at least this.
    rules : sequence of BurnRateRule, default DEFAULT_RULES
    period : timedelta, default 30 days
        SLO period, whole minutes: availability and the remaining budget are
        over it.  The monitor keeps one bucket per minute of its longest
        window or period, so both are at most :data:`MONITOR_MAX_MINUTES`
        (4 x 366 days).
    handlers : sequence of callables, optional
        Called as ``handler(alert)`` for each firing :class:`Alert`; more with
        :meth:`add_handler`, fewer with :meth:`remove_handler`.  An exception
        in a handler is logged (logger ``fastmlops.slo``) and the other
        handlers still run; the background thread and :meth:`run` keep going.
    repeat : bool, default False
        False: a handler hears about an alert when it starts firing (again
        after it has stopped).  True: at every evaluation while it fires.
    clock : callable, default time.time
        Returns the current time in seconds; requests are counted in the
        minute ``floor(clock() / 60)``.  Inject a fake clock in tests.

    Notes
    -----
    Burn rates are kept in per-minute buckets: a window of ``w`` minutes is
    the current (partial) minute and the ``w - 1`` before it, each evaluated
    in O(1) from cumulative counts.  Windows longer than the monitor's
    lifetime cover the lifetime.  If the clock goes backwards, requests are
    counted in the latest minute seen.  The threshold check does not alert
    without traffic (availability is then reported as 0.0 by the seed rule).

    Examples
    --------
    >>> from fastmlops.slo import SLOMonitor
    >>> now = [0.0]
    >>> mon = SLOMonitor(clock=lambda: now[0])
    >>> for i in range(1000):
    ...     mon.record(latency_ms=148 if i >= 990 else 40, success=i >= 18)
    >>> status = mon.evaluate()
    >>> status.check_line
    'availability=0.9820, p99_latency=148ms'
    >>> [a.name for a in status.alerts]
    ['slo_check', 'availability:Page1h', 'availability:Page6h', 'availability:Ticket1d', 'availability:Ticket3d']
    """

    def __init__(self, availability_objective: Any = 0.999, latency_threshold_ms: Any = 100.0,
                 latency_quantile: Any = 0.99, latency_window: int = 1000, *,
                 latency_objective: Any = None, rules: Any = DEFAULT_RULES,
                 period: timedelta = timedelta(days=30),
                 handlers: Iterable[Callable[[Alert], Any]] = (), repeat: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.availability_objective = _objective(availability_objective,
                                                 "availability_objective")
        self.latency_threshold_ms = _finite(latency_threshold_ms, "latency_threshold_ms")
        q = _finite(latency_quantile, "latency_quantile")
        if not 0 <= q <= 1:
            raise ValueError(f"latency_quantile must be in [0, 1] (0.99 for p99), got {q!r}")
        self.latency_quantile = q
        if isinstance(latency_window, bool) or not isinstance(latency_window, (int, np.integer)) \
                or latency_window < 1:
            raise ValueError(f"latency_window must be a positive int, got {latency_window!r}")
        self.latency_objective = (None if latency_objective is None
                                  else _objective(latency_objective, "latency_objective"))
        self.rules = _check_rules(rules)
        self.period = _check_period(period)
        self._period_min = _minutes(self.period, "period")
        if not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds, got {clock!r}")
        self._clock = clock
        self.repeat = bool(repeat)
        self._lock = threading.Lock()
        self._handlers: list[Callable[[Alert], Any]] = []
        for h in handlers:
            self.add_handler(h)
        self._windows = _rule_windows(self.rules)
        self._slis = ("availability",) + (("latency",) if self.latency_objective is not None else ())
        self._budgets = {"availability": float(1 - self.availability_objective)}
        if self.latency_objective is not None:
            self._budgets["latency"] = float(1 - self.latency_objective)
        longest = max(max(self._windows), self._period_min)
        if longest > MONITOR_MAX_MINUTES:
            raise ValueError(
                f"an SLOMonitor keeps one bucket per minute of its longest window or period, "
                f"at most {MONITOR_MAX_MINUTES:,} minutes (4 x 366 days); got "
                f"{_duration(longest)}. Use burn_rates() on stored per-minute counts for "
                "longer ones.")
        self._size = longest + 1
        # rows: total, availability-bad, latency-bad; columns: cumulative counts
        # at the start of each minute (ring buffer indexed by minute % size)
        self._ring = np.zeros((3, self._size), dtype=np.int64)
        self._cum = [0, 0, 0]
        self._first: int | None = None
        self._minute: int | None = None
        self._latencies: deque[float] = deque(maxlen=int(latency_window))
        self._firing: set[str] = set()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()  # the stop event of the current thread
        self._run_lock = threading.Lock()  # start/stop
        self.last_status: SLOStatus | None = None

    # ------------------------------------------------------------- recording
    def add_handler(self, handler: Callable[[Alert], Any]) -> None:
        """Add an alert handler, called as ``handler(alert)``."""
        if not callable(handler):
            raise TypeError(f"handler must be callable as handler(alert), got {handler!r}")
        with self._lock:
            self._handlers = self._handlers + [handler]  # copy-on-write

    def remove_handler(self, handler: Callable[[Alert], Any]) -> bool:
        """Remove a handler added before (its first occurrence); ``True`` if it
        was there.  An evaluation already running may still call it once."""
        with self._lock:
            for i, h in enumerate(self._handlers):
                if h is handler or h == handler:
                    self._handlers = self._handlers[:i] + self._handlers[i + 1:]
                    return True
        return False

    def _advance(self, now: float) -> None:
        minute = math.floor(now / 60.0)
        if self._minute is None:
            self._first = self._minute = minute
            return
        if minute <= self._minute:
            return
        steps = min(minute - self._minute, self._size)
        # reduced first: the minute itself may be beyond int64 (a clock far in the future)
        idx = (np.arange(steps) + (minute - steps + 1) % self._size) % self._size
        self._ring[:, idx] = np.asarray(self._cum, dtype=np.int64)[:, None]
        self._minute = minute

    def record(self, latency_ms: Any, success: Any = True) -> None:
        """Record one request: its latency in ms and whether it succeeded.

        ``success`` is a bool (``True``, ``False``, a numpy bool, or the ints
        1 and 0); anything else, e.g. the string ``"false"``, NaN or a list,
        raises ``TypeError`` rather than being read as truthy.
        """
        lat = _finite(latency_ms, "latency_ms")
        if lat < 0:
            raise ValueError(f"latency_ms must be >= 0, got {latency_ms!r}")
        ok = _success(success)
        slow = lat > self.latency_threshold_ms
        now = self._now()
        with self._lock:
            self._advance(now)
            cum = self._cum
            cum[0] += 1
            cum[1] += not ok
            cum[2] += slow
            self._latencies.append(lat)

    def _now(self) -> float:
        """``clock()``, checked: a finite number of seconds."""
        return _finite(self._clock(), "clock()")

    # ------------------------------------------------------------- evaluation
    def _sum(self, row: int, minutes: int) -> int:
        start = self._minute - minutes + 1
        if start <= self._first:
            return self._cum[row]
        return self._cum[row] - int(self._ring[row, start % self._size])

    def evaluate(self) -> SLOStatus:
        """Evaluate every SLO now, call the handlers, and return the status.

        Safe to call from any thread or from your own loop (it does not block
        on I/O); the background thread and :meth:`run` call it.
        """
        now = self._now()
        with self._lock:
            if self._minute is None:
                self._first = self._minute = math.floor(now / 60.0)
            else:
                self._advance(now)
            total = self._sum(0, self._period_min)
            bad = {"availability": self._sum(1, self._period_min),
                   "latency": self._sum(2, self._period_min)}
            rates = {}
            for sli in self._slis:
                row = 1 if sli == "availability" else 2
                rates[sli] = {}
                for w in self._windows:
                    t = self._sum(0, w)
                    rates[sli][timedelta(minutes=w)] = ((self._sum(row, w) / max(t, 1))
                                                        / self._budgets[sli])
            latencies = list(self._latencies)
        good = total - bad["availability"]
        avail = good / max(total, 1)
        latency = (nearest_rank_quantile(latencies, self.latency_quantile)
                   if latencies else None)
        label = _quantile_label(self.latency_quantile)
        check_line = (f"availability={avail:.4f}, {label}_latency="
                      + (f"{latency:.0f}ms" if latency is not None else "n/a"))
        remaining = {sli: 1.0 - (bad[sli] / max(total, 1)) / self._budgets[sli]
                     for sli in self._slis}
        alerts = []
        reasons = []
        if total and avail < self.availability_objective:
            reasons.append(f"availability < {float(self.availability_objective):g}")
        if latency is not None and latency > self.latency_threshold_ms:
            reasons.append(f"{label}_latency > {self.latency_threshold_ms:g}ms")
        if reasons:
            alerts.append(Alert("slo_check", "page", "check", {},
                                f"SLO check failed: {check_line} ({'; '.join(reasons)})", now))
        for sli in self._slis:
            for r in self.rules:
                long_w, short_w = r.long_window, r.short_window
                pair = {long_w: rates[sli][long_w], short_w: rates[sli][short_w]}
                if pair[long_w] > r.burn_rate and pair[short_w] > r.burn_rate:
                    msg = (f"{sli} SLO {float(self._objective_of(sli)):g}: burn rate "
                           f"{pair[long_w]:.3g} over {_duration(r.windows[0])} and "
                           f"{pair[short_w]:.3g} over {_duration(r.windows[1])} "
                           f"(both > {r.burn_rate:g}); budget left "
                           f"{remaining[sli]:.1%}")
                    alerts.append(Alert(f"{sli}:{r.name}", r.severity, sli, pair, msg, now))
        status = SLOStatus(now, good, total, avail, latency, rates, remaining, alerts, check_line)
        names = {a.name for a in alerts}
        with self._lock:
            notify = [a for a in alerts if self.repeat or a.name not in self._firing]
            self._firing = names
            self.last_status = status
        handlers = self._handlers
        for alert in notify:
            for handler in handlers:
                try:
                    handler(alert)
                except Exception:  # one broken handler must not silence the others
                    _log.exception("fastmlops.slo: alert handler %r failed on %s",
                                   handler, alert.name)
        return status

    def _objective_of(self, sli: str) -> Fraction:
        return self.availability_objective if sli == "availability" else self.latency_objective

    # ------------------------------------------------------------- scheduling
    def start(self, interval: Any = 10.0) -> None:
        """Evaluate every ``interval`` seconds (or timedelta) in a daemon thread.

        ``interval`` is positive and at most :data:`threading.TIMEOUT_MAX`
        (about 292 years on Linux); other values raise ``ValueError`` here,
        before the thread starts.

        An evaluation that raises (a failing clock, a handler raising even
        ``SystemExit``) is logged (logger ``fastmlops.slo``) and the thread
        keeps running until :meth:`stop`.
        """
        seconds = self._interval(interval)
        with self._run_lock:
            if self._thread is not None and self._thread.is_alive():
                raise RuntimeError("the monitor is already running; call stop() first")
            # a fresh event per thread: a thread that stop() could not join in
            # time still sees its own event set and exits, even after a restart
            stop = self._stop = threading.Event()
            self._thread = threading.Thread(target=self._loop, args=(seconds, stop),
                                            name="fastmlops-slo-monitor", daemon=True)
            self._thread.start()

    def _loop(self, seconds: float, stop: threading.Event) -> None:
        while not stop.wait(seconds):
            try:
                self.evaluate()
            except BaseException:  # SystemExit from a handler must not end the thread silently
                _log.exception("fastmlops.slo: evaluation failed")

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the background thread (no-op when not running) and wait for it
        (up to ``timeout`` seconds; not when called from a handler running on
        that thread)."""
        with self._run_lock:
            self._stop.set()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        """True while the background thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    async def run(self, interval: Any = 10.0) -> None:
        """Evaluate every ``interval`` seconds in an asyncio loop until cancelled.

        ``task = asyncio.create_task(monitor.run(10))``; ``task.cancel()`` stops it.
        ``interval`` as in :meth:`start`.
        As in the thread, an evaluation that raises is logged (logger
        ``fastmlops.slo``) and the loop goes on.
        """
        seconds = self._interval(interval)
        while True:
            await asyncio.sleep(seconds)
            try:
                self.evaluate()
            except Exception:
                _log.exception("fastmlops.slo: evaluation failed")

    @staticmethod
    def _interval(interval: Any) -> float:
        if isinstance(interval, timedelta):
            seconds = interval.total_seconds()
        else:
            seconds = _finite(interval, "interval")
        if seconds <= 0:
            raise ValueError(f"interval must be positive (seconds or timedelta), got {interval!r}")
        if seconds > threading.TIMEOUT_MAX:
            raise ValueError(f"interval must be at most threading.TIMEOUT_MAX "
                             f"({threading.TIMEOUT_MAX:g} s), got {interval!r}")
        return seconds

    def __enter__(self) -> "SLOMonitor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# --------------------------------------------------------------------------- Prometheus
_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _metric(name: Any, what: str) -> str:
    if not isinstance(name, str) or not _METRIC.fullmatch(name):
        raise ValueError(f"{what} must be a Prometheus metric name like "
                         f"'http_requests_total', got {name!r}")
    return name


def _selector(sel: Any) -> str:
    if not isinstance(sel, str):
        raise TypeError(f"selector must be a string of label matchers like 'job=\"api\"', "
                        f"got {sel!r}")
    sel = sel.strip()
    if sel.startswith("{") and sel.endswith("}"):
        sel = sel[1:-1].strip()
    if any(c in sel for c in "{}\n\r"):
        raise ValueError(f"selector must be label matchers like 'job=\"api\", code!~\"5..\"' "
                         f"without braces or newlines, got {sel!r}")
    return sel


def _series(metric: str, *matchers: str) -> str:
    inner = ", ".join(m for m in matchers if m)
    return f"{metric}{{{inner}}}" if inner else metric


@dataclass(frozen=True)
class EventCounters:
    """An SLI from request counters: give ``total`` and either ``errors`` or ``good``.

    ``selector`` is label matchers added to every series, e.g.
    ``'job="api"'``.  The error ratio over a window ``W`` is
    ``sum(rate(errors[W])) / sum(rate(total[W]))`` (or ``1 - good/total``).
    """

    total: str
    errors: str | None = None
    good: str | None = None
    selector: str = ""

    def __post_init__(self) -> None:
        _metric(self.total, "total")
        if (self.errors is None) == (self.good is None):
            raise ValueError("give exactly one of errors= (a counter of failed requests) "
                             "or good= (a counter of successful requests)")
        _metric(self.errors if self.errors is not None else self.good,
                "errors" if self.errors is not None else "good")
        object.__setattr__(self, "selector", _selector(self.selector))

    def error_ratio(self, window: str, by: str) -> str:
        tot = f"sum{by}(rate({_series(self.total, self.selector)}[{window}]))"
        if self.errors is not None:
            return f"sum{by}(rate({_series(self.errors, self.selector)}[{window}]))\n/\n{tot}"
        return f"1 - (\n  sum{by}(rate({_series(self.good, self.selector)}[{window}]))\n  /\n  {tot}\n)"


@dataclass(frozen=True)
class LatencyHistogram:
    """A latency SLI from a Prometheus histogram: requests with ``le`` are good.

    ``metric`` is the histogram's base name (``<metric>_bucket`` and
    ``<metric>_count`` are used); ``le`` the threshold, which must be one of
    its bucket bounds.  Pass ``le`` as the exact label string your exporter
    writes (``"0.1"``, ``"1.0"``); a number is written as Python's repr of
    the float (``0.1`` -> ``"0.1"``, ``1`` -> ``"1.0"``, as Prometheus 3
    normalises them).
    """

    metric: str
    le: Any
    selector: str = ""

    def __post_init__(self) -> None:
        _metric(self.metric, "metric")
        if isinstance(self.le, str):
            if not self.le or any(c in self.le for c in '"\\\n'):
                raise ValueError(f"le must be a bucket bound such as '0.1', got {self.le!r}")
            le = self.le
        else:
            value = _finite(self.le, "le")
            le = repr(value)
        object.__setattr__(self, "le", le)
        object.__setattr__(self, "selector", _selector(self.selector))

    def error_ratio(self, window: str, by: str) -> str:
        fast = _series(f"{self.metric}_bucket", self.selector, f'le="{self.le}"')
        count = _series(f"{self.metric}_count", self.selector)
        return (f"1 - (\n  sum{by}(rate({fast}[{window}]))\n  /\n"
                f"  sum{by}(rate({count}[{window}]))\n)")


def _yaml_str(s: str) -> str:
    out = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out}"'


def _yaml_block(text: str, indent: int) -> str:
    pad = " " * indent
    return "|-\n" + "\n".join(pad + line if line else "" for line in text.split("\n"))


def _camel(name: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+", name)
    out = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return out if out and not out[0].isdigit() else "Slo" + out


def _decimal(x: Fraction) -> str:
    """Exact decimal text of a fraction with a terminating expansion, else repr(float)."""
    d = x.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d != 1:
        return repr(float(x))
    s = format(Decimal(x.numerator) / Decimal(x.denominator), "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def prometheus_rules(name: str, objective: Any, sli: Any, *, rules: Any = DEFAULT_RULES,
                     group_by: Sequence[str] = (),
                     record_prefix: str = "slo:error_ratio:rate") -> str:
    """Prometheus recording and alerting rules for one SLO, as YAML text.

    One rule group ``slo-<name>``: a recording rule per window of ``rules``
    (``<record_prefix><window>``, e.g. ``slo:error_ratio:rate5m``, labelled
    ``slo="<name>"``), then one alerting rule per burn-rate rule that fires
    when the error ratio is above ``burn_rate * (1 - objective)`` over both
    windows, labelled ``severity`` (page/ticket) and ``slo``.  Recording rules
    come first in the same group, so alerts see the ratios of the same
    evaluation.  With no traffic the PromQL ratio is NaN and no alert fires.

    Parameters
    ----------
    name : str
        SLO name (the ``slo`` label; alert names are ``<CamelName>BurnRate<rule>``).
    objective : float
        Strictly between 0 and 1.
    sli : EventCounters or LatencyHistogram
        Which series measure good and bad events.
    rules : sequence of BurnRateRule, default DEFAULT_RULES
    group_by : sequence of str
        Labels kept by the ``sum by (...)`` aggregations (one SLO per value,
        e.g. ``("job",)``); default: one series for everything.
    record_prefix : str
        Prefix of the recording rule names.

    Returns
    -------
    str
        YAML accepted by ``promtool check rules``.

    Examples
    --------
    >>> from fastmlops.slo import EventCounters, prometheus_rules
    >>> text = prometheus_rules("api-availability", 0.999, EventCounters(
    ...     total="http_requests_total", errors="http_requests_errors_total"))
    >>> print(text.splitlines()[3])
      - name: "slo-api-availability"
    >>> "slo:error_ratio:rate5m{slo=\\"api-availability\\"} > (14.4 * 0.001)" in text
    True
    """
    if not isinstance(name, str) or not name.strip() or any(c in name for c in '"\\\n{}'):
        raise ValueError(f"name must be a non-empty string without quotes, backslashes, braces "
                         f"or newlines, got {name!r}")
    frac = _objective(objective)
    if not isinstance(sli, (EventCounters, LatencyHistogram)):
        raise TypeError("sli must be EventCounters(total=..., errors=...) or "
                        f"LatencyHistogram(metric=..., le=...), got {sli!r}")
    rules = _check_rules(rules)
    if isinstance(group_by, str):
        group_by = (group_by,)
    group_by = tuple(group_by)
    for label in group_by:
        if not isinstance(label, str) or not _LABEL.fullmatch(label):
            raise ValueError(f"group_by must hold label names like 'job', got {label!r}")
    _metric(record_prefix + "5m", "record_prefix + window")
    by = f" by ({', '.join(group_by)}) " if group_by else ""
    budget = _decimal(1 - frac)
    camel = _camel(name)
    slo_label = _yaml_str(name)
    lines = ["# Generated by fastmlops.slo.prometheus_rules",
             f"# SLO {name}: objective {_decimal(frac)}, error budget ratio {budget}",
             "groups:",
             f"  - name: {_yaml_str('slo-' + name)}",
             "    rules:"]
    for minutes in _rule_windows(rules):
        window = _duration(minutes)
        lines += [f"      - record: {record_prefix}{window}",
                  f"        expr: {_yaml_block(sli.error_ratio(window, by), 10)}",
                  "        labels:",
                  f"          slo: {slo_label}"]
    for r in rules:
        long_w, short_w = (_duration(m) for m in r.windows)
        factor = _decimal(Fraction(repr(float(r.burn_rate))))
        sel = '{slo="' + name + '"}'
        expr = (f"{record_prefix}{long_w}{sel} > ({factor} * {budget})\n"
                f"and\n{record_prefix}{short_w}{sel} > ({factor} * {budget})")
        lines += [f"      - alert: {camel}BurnRate{r.name}",
                  f"        expr: {_yaml_block(expr, 10)}",
                  "        labels:",
                  f"          severity: {_yaml_str(r.severity)}",
                  f"          slo: {slo_label}",
                  "        annotations:",
                  "          summary: " + _yaml_str(
                      f"SLO {name}: error budget burning over {factor}x "
                      f"({long_w} and {short_w} windows)"),
                  "          description: " + _yaml_str(
                      f"Error ratio over {long_w} is {{{{ $value | humanizePercentage }}}}, "
                      f"above {factor} x the budget {budget} over both {long_w} and "
                      f"{short_w}: sustained, this spends the error budget of objective "
                      f"{_decimal(frac)} {factor} times as fast as the SLO period allows.")]
    return "\n".join(lines) + "\n"
