"""Multiwindow burn-rate alert rules: :class:`BurnRateRule` and the SRE
workbook's :data:`DEFAULT_RULES`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable, Sequence

import numpy as np

from fastmlops.slo._numbers import MINUTE, as_finite, minutes

_SEVERITIES = ("page", "ticket")


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
        rate = as_finite(self.burn_rate, "burn_rate")
        if rate <= 0:
            raise ValueError(f"burn_rate must be positive, got {self.burn_rate!r}")
        for attr in ("long_window", "short_window"):
            value = getattr(self, attr)
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                object.__setattr__(self, attr, timedelta(minutes=int(value)))
            minutes(getattr(self, attr), attr)

    @property
    def windows(self) -> tuple[int, int]:
        """(long, short) in minutes."""
        return self.long_window // MINUTE, self.short_window // MINUTE


#: The SRE workbook's recommendation for a 30-day SLO.
DEFAULT_RULES: tuple[BurnRateRule, ...] = (
    BurnRateRule("Page1h", "page", 14.4, timedelta(hours=1), timedelta(minutes=5)),
    BurnRateRule("Page6h", "page", 6.0, timedelta(hours=6), timedelta(minutes=30)),
    BurnRateRule("Ticket1d", "ticket", 3.0, timedelta(days=1), timedelta(hours=2)),
    BurnRateRule("Ticket3d", "ticket", 1.0, timedelta(days=3), timedelta(hours=6)),
)


def check_rules(rules: Iterable[BurnRateRule] | BurnRateRule) -> tuple[BurnRateRule, ...]:
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


def rule_windows(rules: Sequence[BurnRateRule]) -> tuple[int, ...]:
    return tuple(sorted({m for r in rules for m in r.windows}))
