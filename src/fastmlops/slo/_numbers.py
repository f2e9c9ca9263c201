"""Checks of the numbers the SLO functions take: finite values, event counts,
whole-minute windows and their Prometheus durations."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal
from numbers import Real
from typing import Union

import numpy as np

MINUTE = timedelta(minutes=1)
#: Longest window (in minutes) anywhere: the longest ``timedelta``.
MAX_WINDOW_MINUTES = timedelta.max // MINUTE

#: A window: a timedelta of whole minutes, or the minutes as an int.
Window = Union[timedelta, int, np.integer]


def as_finite(x: object, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (Real, Decimal)):
        raise TypeError(f"{name} must be a number, got {x!r}")
    try:
        value = float(x)
    except OverflowError:  # an int beyond float64
        value = math.inf
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return value


def count(x: object, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer, float, np.floating)):
        raise TypeError(f"{name} must be a whole number of events, got {x!r}")
    if isinstance(x, (float, np.floating)):
        if not math.isfinite(x) or x != int(x):
            raise ValueError(f"{name} must be a whole number of events, got {x!r}")
    x = int(x)
    if x < 0:
        raise ValueError(f"{name} must be >= 0, got {x}")
    return x


def minutes(window: object, name: str) -> int:
    if isinstance(window, bool):
        raise TypeError(f"{name} must be a timedelta (or whole minutes as int), got {window!r}")
    if isinstance(window, (int, np.integer)):
        minutes = int(window)
    elif isinstance(window, timedelta):
        if window % MINUTE:
            raise ValueError(f"{name} must be a whole number of minutes, got {window}")
        minutes = window // MINUTE
    else:
        raise TypeError(f"{name} must be a timedelta (or whole minutes as int), got "
                        f"{type(window).__name__} {window!r}")
    if minutes < 1:
        raise ValueError(f"{name} must be at least 1 minute, got {window!r}")
    if minutes > MAX_WINDOW_MINUTES:
        raise ValueError(f"{name} must be at most {MAX_WINDOW_MINUTES:,} minutes (the longest "
                         f"timedelta), got {window!r}")
    return minutes


def duration(minutes: int) -> str:
    """Prometheus duration of a whole number of minutes: 5m, 1h, 3d."""
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"
