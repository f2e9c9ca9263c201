"""The reference build's sort (``fastmlops.drift.columns.sort_values``: a
Numba bucket sort for long columns, ``np.sort`` otherwise) against
``np.sort``: the same values in the same order, byte for byte, NaNs counted
apart; the cases it declines (ties, skew, signed zeros) fall back."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastmlops.drift.columns import BUCKET_SORT_FROM, sort_values


def _expected(values: np.ndarray) -> tuple[np.ndarray, int]:
    out = np.sort(values)
    n_nan = int(np.isnan(out).sum()) if out.dtype.kind == "f" else 0
    return out[: out.size - n_nan], n_nan


def _column(kind: str, n: int, seed: int, dtype: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "normal":
        x = rng.normal(size=n)
    elif kind == "cauchy":
        x = rng.standard_cauchy(n)
    elif kind == "levels":
        x = rng.integers(0, 5, n).astype(float)
    elif kind == "skewed":
        x = np.exp(rng.normal(0, 4, n))
    elif kind == "specials":
        x = rng.normal(size=n)
        x[rng.integers(0, n, n // 50)] = np.nan
        x[rng.integers(0, n, n // 100)] = np.inf
        x[rng.integers(0, n, n // 100)] = -np.inf
    elif kind == "zeros":
        x = rng.normal(size=n)
        x[rng.integers(0, n, n // 10)] = 0.0
        x[rng.integers(0, n, n // 10)] = -0.0
    elif kind == "one_zero_sign":
        x = rng.normal(size=n)
        x[rng.integers(0, n, n // 10)] = -0.0
    elif kind == "tiny_range":
        x = 1.0 + rng.integers(0, 3, n) * np.finfo(float).eps
    else:  # "huge": values near the float64 limits
        x = rng.choice([-1.0, 1.0], n) * np.finfo(float).max * rng.random(n)
    if dtype == "int64":
        return np.nan_to_num(x, nan=0, posinf=2**62, neginf=-(2**62)).clip(-2**62, 2**62) \
            .astype(np.int64)
    if dtype == "uint64":
        return np.abs(np.nan_to_num(x, nan=0, posinf=2**62, neginf=0)).clip(0, 2**62) \
            .astype(np.uint64)
    with np.errstate(over="ignore"):  # "huge" as float32: +-inf, also a case
        return x.astype(dtype)


KINDS = ["normal", "cauchy", "levels", "skewed", "specials", "zeros", "one_zero_sign",
         "tiny_range", "huge"]


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(KINDS), seed=st.integers(0, 2**32 - 1),
       extra=st.integers(0, 3 * BUCKET_SORT_FROM),
       dtype=st.sampled_from(["float64", "float32", "int64", "uint64"]))
def test_sort_values_equals_numpy_sort(kind, seed, extra, dtype):
    values = _column(kind, BUCKET_SORT_FROM + extra, seed, dtype)
    got, n_nan = sort_values(values)
    want, want_nan = _expected(values)
    assert n_nan == want_nan
    assert got.dtype == want.dtype
    assert got.tobytes() == want.tobytes()  # signed zeros and all


@pytest.mark.parametrize("n", [0, 1, 100, BUCKET_SORT_FROM - 1, BUCKET_SORT_FROM, 200_000])
def test_sort_values_sizes(n):
    values = np.random.default_rng(n).normal(size=n)
    values[::97] = np.nan
    got, n_nan = sort_values(values)
    want, want_nan = _expected(values)
    assert (got.tobytes(), n_nan) == (want.tobytes(), want_nan)
    assert got.flags.c_contiguous
    got[:1] = 0  # the result is the caller's own array
    assert not np.shares_memory(got, values)
