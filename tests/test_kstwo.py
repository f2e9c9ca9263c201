"""fastmlops._kernels.kstwo.kstwo_sf against scipy.stats.kstwo.sf.

The grid covers every branch of scipy's ``_kolmogn(n, d, cdf=False)``:
Ruben-Gambino at both ends, ``2*smirnov`` for ``d >= 0.5``, Durbin's matrix,
Pomeranz and ``2*smirnov`` for ``n <= 140``, and for ``n > 140`` the cut-offs
``n d^2 = 2.2, 370`` and ``n d^1.5 = 1.4`` (Durbin vs Pelz-Good, ``n <= 1e5``),
plus scipy's ``smirnov`` approximation for ``n > 1e6``.  scipy values are
computed once per module; the slow ones (``smirnov`` sums O(n) terms, ~1 s at
``n = 1e6``) are limited to a handful.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastmlops._kernels.kstwo import kstwo_sf
from tests.references import kstwo_sf_reference

RTOL = 1e-10
TINY = 1e-300  # below this scipy's value is compared in absolute terms
TINY_OURS = 1e-290

NS = [1, 2, 3, 5, 10, 50, 140, 141, 500, 1000, 5000, 99999, 100000, 100001, 300000, 1000000]
# n where each scipy smirnov call costs 0.1-2 s: only a few points in that branch
BIG_N = 99999
SLOW_SMIRNOV_POINTS = {99999: 3, 100000: 3, 100001: 3, 300000: 2, 1000000: 2}


def _near(v: float) -> list[float]:
    """v and values a hair either side of it."""
    return [v * (1 - 1e-9), v, v * (1 + 1e-9)]


def _grid_for(n: int) -> list[float]:
    ds: list[float] = [0.0, 1.0, 0.5, math.nextafter(0.5, 0.0), math.nextafter(0.5, 1.0)]
    ds += [0.5 / n * (1 - 1e-6), 0.5 / n, 0.5 / n * (1 + 1e-6), 0.75 / n]
    ds += _near(1.0 / n) + [1.0 / n]
    ds += [2.0 / n, 1.0 - 1.0 / n, 1.0 - 1.5 / n, math.nextafter(1.0, 0.0), 0.999, 0.9, 0.7]
    ds += list(np.linspace(0.0, 1.0, 9)[1:-1])
    ds += list(np.geomspace(0.3 / n, 1.0, 12))
    for nd2 in (0.754693, 4.0, 18.0, 370.0):
        ds += _near(math.sqrt(nd2 / n))
    ds += _near((1.4 / n) ** (2.0 / 3.0))  # n d^1.5 = 1.4
    slow = SLOW_SMIRNOV_POINTS.get(n)
    if slow is None:
        ds += _near(math.sqrt(2.2 / n))
        ds += [math.sqrt(v / n) for v in (1.0, 3.0, 9.0, 30.0, 100.0, 300.0, 354.0, 360.0)]
    else:
        # n d^2 in [2.2, 354] costs a full O(n) smirnov sum in scipy
        ds += [math.sqrt(2.2 / n) * (1 - 1e-9), math.sqrt(1.0 / n)]
        ds += [math.sqrt(v / n) for v in (2.2 * (1 + 1e-9), 9.0, 300.0)[:slow]]
        ds += [math.sqrt(360.0 / n)]
    out = sorted({float(d) for d in ds if 0.0 <= d <= 1.0})
    if slow is not None:
        # d in [0.5, 1) with n this large is 0 in scipy without a sum; n d^2
        # in [2.2, 354] from the generic points above would be slow: drop them
        allowed = {float(math.sqrt(v / n)) for v in (2.2 * (1 + 1e-9), 9.0, 300.0)[:slow]}
        out = [d for d in out if not (2.2 <= n * d * d <= 354.2) or d in allowed]
    return out


GRID = [(n, d) for n in NS for d in _grid_for(n)]


def _scipy(d: float, n: int) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return kstwo_sf_reference(d, n)


@pytest.fixture(scope="module")
def scipy_values() -> dict[tuple[int, float], float]:
    return {(n, d): _scipy(d, n) for n, d in GRID}


def _assert_close(ours: float, ref: float, n: int, d: float) -> None:
    assert 0.0 <= ours <= 1.0, (n, d, ours)
    if ref >= TINY:
        assert math.isclose(ours, ref, rel_tol=RTOL, abs_tol=0.0), (n, d, ours, ref, ours / ref - 1)
    else:
        assert ours < TINY_OURS, (n, d, ours, ref)


@pytest.mark.parametrize("n", NS)
def test_grid_matches_scipy(scipy_values, n):
    for (nn, d), ref in scipy_values.items():
        if nn == n:
            _assert_close(kstwo_sf(d, n), ref, n, d)


def test_grid_covers_every_branch():
    """Each branch of scipy's _kolmogn (SF) is hit by some grid point."""
    seen = set()
    for n, d in GRID:
        t, nd2 = n * d, n * d * d
        if d <= 0 or d >= 1:
            seen.add("edge")
        elif t <= 0.5:
            seen.add("zero")
        elif t <= 1:
            seen.add("rg-low-small" if n <= 140 else "rg-low-big")
        elif t >= n - 1:
            seen.add("rg-high")
        elif d >= 0.5:
            seen.add("smirnov-half")
        elif n <= 140:
            seen.add("dmtw-small" if nd2 <= 0.754693 else "pomeranz" if nd2 <= 4 else "smirnov-small")
        elif nd2 >= 370:
            seen.add("zero-big")
        elif nd2 >= 2.2:
            seen.add("smirnov-approx" if n > 1000000 else "smirnov-underflow" if nd2 > 354.2 else "smirnov")
        elif n <= 100000 and n * d**1.5 <= 1.4:
            seen.add("dmtw-eigen" if math.sqrt(n) * d <= 0.4 else "dmtw-power")
        else:
            seen.add("pelz-good")
    expected = {
        "edge", "zero", "rg-low-small", "rg-low-big", "rg-high", "smirnov-half", "dmtw-small",
        "pomeranz", "smirnov-small", "zero-big", "smirnov", "smirnov-underflow", "dmtw-eigen",
        "dmtw-power", "pelz-good",
    }
    assert expected <= seen, expected - seen


def test_smirnov_approximation_above_1e6():
    """scipy approximates smirnov for n > 1e6; cheap to check at several n."""
    for n in (1000001, 3000000, 10000000):
        for nd2 in (2.2, 5.0, 50.0, 300.0):
            d = math.sqrt(nd2 / n)
            _assert_close(kstwo_sf(d, n), _scipy(d, n), n, d)


@st.composite
def _n_and_d(draw):
    n = draw(st.integers(min_value=1, max_value=20000))
    u = draw(st.floats(min_value=0.0, max_value=1.0))
    # half the draws spread d over the interesting range 0 < sqrt(n) d < 4
    if draw(st.booleans()):
        u *= min(1.0, 4.0 / math.sqrt(n))
    return n, u


@given(_n_and_d())
def test_random_against_scipy(nd):
    n, d = nd
    _assert_close(kstwo_sf(d, n), _scipy(d, n), n, d)


def test_nan_and_out_of_range_like_scipy():
    for n in (1, 7, 141, 5000, 2000000):
        assert math.isnan(_scipy(math.nan, n))
        assert math.isnan(kstwo_sf(math.nan, n))
        for d in (-1.0, -1e-300, -math.inf, 1.0 + 1e-15, 2.0, math.inf, 0.0, 1.0):
            assert kstwo_sf(d, n) == _scipy(d, n), (n, d)


def test_invalid_n_gives_nan_like_scipy():
    for n in (0, -3):
        assert math.isnan(kstwo_sf(0.3, n))
        assert math.isnan(_scipy(0.3, n))


def test_callable_from_numba_kernel():
    import numba

    @numba.njit
    def many(ds, n):
        out = np.empty(ds.shape[0])
        for i in range(ds.shape[0]):
            out[i] = kstwo_sf(ds[i], n)
        return out

    ds = np.array([0.001, 0.01, 0.02, 0.05, 0.3, 0.6])
    got = many(ds, 5000)
    assert list(got) == [kstwo_sf(d, 5000) for d in ds]


def test_monotone_in_d():
    """The SF is non-increasing in d across the branch boundaries."""
    for n in (3, 50, 140, 141, 1000, 100000, 100001):
        ds = np.linspace(0.0, 1.0, 2001)
        ds = np.concatenate([ds, np.geomspace(0.4 / n, min(1.0, 30 / math.sqrt(n)), 2000)])
        ds.sort()
        p = np.array([kstwo_sf(d, n) for d in ds])
        assert np.all(np.diff(p) <= 1e-12 * np.maximum(p[:-1], 1e-300)), n
