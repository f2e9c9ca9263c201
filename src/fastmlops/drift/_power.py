"""How large a batch must be for a drift check to see anything: the power of a
numeric column's KS test against a shift of the mean by a share of a standard
deviation (normal data), and the rows that give it power 0.5.

The approximation: a location shift of ``d`` standard deviations moves the two
distribution functions apart by at most ``delta = 2 * Phi(d / 2) - 1`` (0.197
for ``d = 0.5``).  With ``n_e = n m / (n + m)`` and the asymptotic critical
value ``c(a) = sqrt(-log(a / 2) / 2)`` of the scaled statistic,

    power ~ Phi((sqrt(n_e) * delta - c(a) + 0.42) / 0.45)

The two constants were fitted to 42 simulations of ``scipy.stats.ks_2samp``
(800 trials each; 300 and 3,000 reference rows, 8 to 140 current rows,
``a`` = 0.0005, 0.005, 0.025), largest error 0.042; a normal approximation at
the point of largest difference alone (constants 0 and ``sqrt(F (1 - F))``)
underestimates the power by up to 0.35, as the supremum over the other points
adds to the statistic.  ``tests/test_drift_power.py`` checks it against fresh
simulations.  Power 0.5 needs ``sqrt(n_e) = (c(a) - 0.42) / delta``.
"""

from __future__ import annotations

import math

__all__ = ["POWER_FLOOR", "SHIFT_SD", "ks_shift_power", "rows_for_half_power"]

#: The shift, in standard deviations, a batch should be able to see.
SHIFT_SD = 0.5
#: Below this power the report says the batch is too small.
POWER_FLOOR = 0.5


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _crit(alpha: float) -> float:
    return math.sqrt(-math.log(alpha / 2.0) / 2.0)


#: The fitted offset and scale of the approximation (module docstring).
_OFFSET, _SCALE = 0.42, 0.45


def _delta(shift_sd: float) -> float:
    return 2.0 * _phi(shift_sd / 2.0) - 1.0


def ks_shift_power(n_ref: int, n_cur: int, alpha: float, shift_sd: float = SHIFT_SD) -> float:
    """The approximate power of the two-sided KS test at level ``alpha``
    between ``n_ref`` and ``n_cur`` values to detect a mean shift of
    ``shift_sd`` standard deviations of normal data (see the module
    docstring); 0 when either sample is empty."""
    if n_ref <= 0 or n_cur <= 0:
        return 0.0
    n_e = n_ref * n_cur / (n_ref + n_cur)
    return _phi((math.sqrt(n_e) * _delta(shift_sd) - _crit(alpha) + _OFFSET) / _SCALE)


def rows_for_half_power(n_ref: int, alpha: float, shift_sd: float = SHIFT_SD) -> int | None:
    """The current values that give the KS test power 0.5 against a
    ``shift_sd`` shift with ``n_ref`` reference values; None when no batch
    size does (the reference itself is too small)."""
    root = (_crit(alpha) - _OFFSET) / _delta(shift_sd)
    if root <= 0:
        return 1
    room = 1.0 / root ** 2 - 1.0 / max(1, n_ref)
    if room <= 0:
        return None
    return math.ceil(1.0 / room)
