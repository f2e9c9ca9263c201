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

>>> from fastmlops.slo import error_budget
>>> str(error_budget(0.999))                    # 99.9 % over 30 days
'0:43:12'

The package's private modules, from the bottom up: ``_numbers`` (checks of
numbers, counts and whole-minute windows), ``_budget`` (objectives and the
error budget), ``_metric_values`` (reading live counters and histograms),
``_sli``, ``_burn_rules``, ``_burn_rates``, ``_monitor`` and ``_prometheus``
(the rules, written by :mod:`fastmlops._core.rules`).
"""

from fastmlops.slo._budget import error_budget
from fastmlops.slo._burn_rates import BurnRates, burn_rates, latest_burn_rates, window_counts
from fastmlops.slo._burn_rules import DEFAULT_RULES, BurnRateRule
from fastmlops.slo._monitor import MONITOR_MAX_MINUTES  # noqa: F401 (documented limit)
from fastmlops.slo._monitor import Alert, SLOMonitor, SLOStatus
from fastmlops.slo._numbers import MAX_WINDOW_MINUTES  # noqa: F401 (documented limit)
from fastmlops.slo._prometheus import EventCounters, LatencyHistogram, prometheus_rules
from fastmlops.slo._sli import (availability, latency_sli, latency_sli_from_histogram,
                                latency_sli_from_metric, nearest_rank_quantile)

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
