"""The SLO as Prometheus recording and alerting rules: the SLIs as series
(:class:`EventCounters`, :class:`LatencyHistogram`) and
:func:`prometheus_rules`, written by :mod:`fastmlops._core.rules`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Iterable, Sequence

from fastmlops._core.rules import AlertingRule, RecordingRule, Rule, RuleGroup, render_rule_file
from fastmlops.slo._budget import as_objective
from fastmlops.slo._burn_rules import (DEFAULT_RULES, BurnRateRule, check_rules,
                                       rule_windows)
from fastmlops.slo._numbers import as_finite, duration


_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _metric(name: object, what: str) -> str:
    if not isinstance(name, str) or not _METRIC.fullmatch(name):
        raise ValueError(f"{what} must be a Prometheus metric name like "
                         f"'http_requests_total', got {name!r}")
    return name


def _selector(sel: object) -> str:
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
        good = self.good
        assert good is not None  # __post_init__: exactly one of errors and good
        return f"1 - (\n  sum{by}(rate({_series(good, self.selector)}[{window}]))\n  /\n  {tot}\n)"


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
    le: str | float
    selector: str = ""

    def __post_init__(self) -> None:
        _metric(self.metric, "metric")
        if isinstance(self.le, str):
            if not self.le or any(c in self.le for c in '"\\\n'):
                raise ValueError(f"le must be a bucket bound such as '0.1', got {self.le!r}")
            le = self.le
        else:
            value = as_finite(self.le, "le")
            le = repr(value)
        object.__setattr__(self, "le", le)
        object.__setattr__(self, "selector", _selector(self.selector))

    def error_ratio(self, window: str, by: str) -> str:
        fast = _series(f"{self.metric}_bucket", self.selector, f'le="{self.le}"')
        count = _series(f"{self.metric}_count", self.selector)
        return (f"1 - (\n  sum{by}(rate({fast}[{window}]))\n  /\n"
                f"  sum{by}(rate({count}[{window}]))\n)")


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


def prometheus_rules(name: str, objective: float | Fraction | Decimal,
                     sli: EventCounters | LatencyHistogram, *,
                     rules: BurnRateRule | Iterable[BurnRateRule] = DEFAULT_RULES,
                     group_by: str | Sequence[str] = (),
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
    frac = as_objective(objective)
    if not isinstance(sli, (EventCounters, LatencyHistogram)):
        raise TypeError("sli must be EventCounters(total=..., errors=...) or "
                        f"LatencyHistogram(metric=..., le=...), got {sli!r}")
    rules = check_rules(rules)
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
    group: list[Rule] = []
    for minutes in rule_windows(rules):
        window = duration(minutes)
        group.append(RecordingRule(f"{record_prefix}{window}", sli.error_ratio(window, by),
                                   labels={"slo": name}))
    for r in rules:
        long_w, short_w = (duration(m) for m in r.windows)
        factor = _decimal(Fraction(repr(float(r.burn_rate))))
        sel = '{slo="' + name + '"}'
        expr = (f"{record_prefix}{long_w}{sel} > ({factor} * {budget})\n"
                f"and\n{record_prefix}{short_w}{sel} > ({factor} * {budget})")
        group.append(AlertingRule(
            f"{camel}BurnRate{r.name}", expr,
            labels={"severity": r.severity, "slo": name},
            annotations={
                "summary": (f"SLO {name}: error budget burning over {factor}x "
                            f"({long_w} and {short_w} windows)"),
                "description": (
                    f"Error ratio over {long_w} is {{{{ $value | humanizePercentage }}}}, "
                    f"above {factor} x the budget {budget} over both {long_w} and "
                    f"{short_w}: sustained, this spends the error budget of objective "
                    f"{_decimal(frac)} {factor} times as fast as the SLO period allows.")}))
    return render_rule_file(
        [RuleGroup("slo-" + name, group)],
        header=["Generated by fastmlops.slo.prometheus_rules",
                f"SLO {name}: objective {_decimal(frac)}, error budget ratio {budget}"])
