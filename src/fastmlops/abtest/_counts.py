"""Success and trial counts of the two groups: checked, broadcast, kept exact.

float64 holds every integer up to 2**53; a count above it may be rounded, so
every check here also keeps the exact values, and the functions that compute
in float64 refuse counts that float64 would round.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from fastmlops._core.validation import float_or_inf

#: Every integer of at most this magnitude is exactly a float64.
EXACT_INT_MAX = 2 ** 53

COUNT_NAMES = ("count_a", "nobs_a", "count_b", "nobs_b")


def is_float64(v: int) -> bool:
    """True if the integer ``v`` is exactly representable as a float64."""
    if -EXACT_INT_MAX <= v <= EXACT_INT_MAX:
        return True
    try:
        return int(float(v)) == v
    except OverflowError:
        return False


def count_array(name: str, x: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x`` as (float64 array, array of its exact values, mask of the values
    above 2**53 in magnitude), checked: whole numbers, not negative."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a number or an array of numbers, got {x!r}")
    arr = np.asarray(x)
    kind = arr.dtype.kind
    floats: np.ndarray
    exact: np.ndarray
    big: np.ndarray
    if kind == "O":  # Python ints beyond the int64 range (or other objects)
        values = []
        for v in arr.flat:
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name} must hold integer counts, got {type(v).__name__} "
                                f"{v!r} (dtype object)")
            values.append(int(v))
        exact = np.empty(len(values), dtype=object)
        exact[:] = values
        exact = exact.reshape(arr.shape)
        floats = np.array([float_or_inf(v) for v in values],
                          dtype=np.float64).reshape(arr.shape)
        big = np.array([abs(v) > EXACT_INT_MAX for v in values], dtype=bool).reshape(arr.shape)
    elif kind in "iu":
        floats = arr.astype(np.float64)
        exact = arr
        big = arr > arr.dtype.type(EXACT_INT_MAX) if arr.dtype.itemsize >= 8 else \
            np.zeros(arr.shape, dtype=bool)
        if kind == "i" and arr.dtype.itemsize >= 8:
            big |= arr < -EXACT_INT_MAX
    elif kind == "f":
        floats = arr.astype(np.float64)
        if not np.all(np.isfinite(floats)) or np.any(floats != np.floor(floats)):
            raise ValueError(f"{name} must hold whole numbers (counts), got {x!r}")
        exact = floats
        big = np.abs(floats) > EXACT_INT_MAX
    else:
        raise TypeError(f"{name} must hold integer counts, got dtype {arr.dtype}")
    if np.any(floats < 0):
        raise ValueError(f"{name} must not be negative, got {x!r}")
    return floats, exact, big


def counts(count_a: ArrayLike, nobs_a: ArrayLike, count_b: ArrayLike, nobs_b: ArrayLike
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                      list[np.ndarray]]:
    """``(ca, na, cb, nb, big, exact)``: four float64 arrays of one broadcast
    shape, checked (integers or integral floats, 0 <= count <= nobs, nobs >=
    1); the mask of the positions where some count is above 2**53 in
    magnitude (float64 may round it); and the four arrays of exact values
    (Python or numpy ints, or whole floats)."""
    names = COUNT_NAMES
    parts = [count_array(name, x) for name, x in zip(names, (count_a, nobs_a, count_b, nobs_b))]
    try:
        shape = np.broadcast_shapes(*(f.shape for f, _, _ in parts))
    except ValueError:
        shapes = ", ".join(f"{n}{f.shape}" for n, (f, _, _) in zip(names, parts))
        raise ValueError(f"count_a, nobs_a, count_b and nobs_b must have matching lengths "
                         f"(or be scalars); got shapes {shapes}") from None
    ca, na, cb, nb = (np.broadcast_to(f, shape) for f, _, _ in parts)
    big = np.zeros(shape, dtype=bool)
    for _, _, b in parts:
        big |= b
    exact = [np.broadcast_to(e, shape) for _, e, _ in parts]
    if big.any():
        positions = [tuple(i) for i in np.argwhere(big)]
        for pos in positions:  # exact comparisons: rounding may hide count > nobs
            if int(exact[0][pos]) > int(exact[1][pos]) or int(exact[2][pos]) > int(exact[3][pos]):
                raise ValueError("a count is larger than its number of observations: need "
                                 "count_a <= nobs_a and count_b <= nobs_b")
    if np.any(na < 1) or np.any(nb < 1):
        raise ValueError("nobs_a and nobs_b must be at least 1 (each group needs observations)")
    if np.any(ca > na) or np.any(cb > nb):
        raise ValueError("a count is larger than its number of observations: need "
                         "count_a <= nobs_a and count_b <= nobs_b")
    return ca, na, cb, nb, big, exact


def float64_counts(count_a: ArrayLike, nobs_a: ArrayLike, count_b: ArrayLike,
                   nobs_b: ArrayLike, caller: str
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`counts` for functions that compute in float64: counts that a
    float64 cannot hold exactly are refused with a ValueError naming ``caller``."""
    ca, na, cb, nb, big, exact = counts(count_a, nobs_a, count_b, nobs_b)
    for i in np.argwhere(big):
        pos = tuple(i)
        for name, e in zip(COUNT_NAMES, exact):
            v = int(e[pos])
            if not is_float64(v):
                raise ValueError(
                    f"{name} holds {v}, above 2**53 = {EXACT_INT_MAX}, which a float64 "
                    f"cannot represent exactly; {caller} computes in float64 and would "
                    "round it (proportions_ztest computes such counts exactly)")
    return ca, na, cb, nb


def as_scalar(x: np.ndarray) -> float | np.ndarray:
    """A Python float for a 0-d result (scalar input), the array otherwise."""
    return float(x) if np.ndim(x) == 0 else x
