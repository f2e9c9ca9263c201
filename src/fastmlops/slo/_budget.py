"""Objectives as exact fractions, SLO periods and the error budget."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from numbers import Real

import numpy as np

_MICROSECOND = timedelta(microseconds=1)


def as_objective(objective: object, name: str = "objective") -> Fraction:
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


def check_period(period: object, name: str = "period") -> timedelta:
    if not isinstance(period, timedelta):
        raise TypeError(
            f"{name} must be a datetime.timedelta, e.g. timedelta(days=30); got "
            f"{type(period).__name__} {period!r}")
    if period <= timedelta(0):
        raise ValueError(f"{name} must be positive, got {period!r}")
    return period


def error_budget(objective: float | Fraction | Decimal,
                 period: timedelta = timedelta(days=30)) -> timedelta:
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
    frac = as_objective(objective)
    period = check_period(period)
    micros = period // _MICROSECOND
    return timedelta(microseconds=round((1 - frac) * micros))
