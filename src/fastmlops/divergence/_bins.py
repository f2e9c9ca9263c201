"""Reference bins and counting on them (see :mod:`fastmlops.divergence`)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from fastmlops._core.parallel import chunk_bounds, n_workers, parallel_map
from fastmlops._core.validation import (
    as_numeric_array,
    check_int,
    check_number,
    reject_long_double,
)

#: PSI below this is "none"; up to and including :data:`PSI_MAJOR` is "minor".
PSI_MINOR = 0.1
#: PSI above this is "major".
PSI_MAJOR = 0.25

#: :func:`bin_counts` splits arrays longer than this over the thread pool.
PARALLEL_THRESHOLD = 1_000_000

#: Largest accepted ``bins``: the quantile probabilities are materialised
#: (``bins + 1`` of them), so a huge value would exhaust memory.
MAX_BINS = 1_000_000


# ----------------------------------------------------------------- validation
# check_bins and check_eps are shared with fastmlops.drift (DriftReference
# takes the same bins and eps): public to the package, not in __all__.
def check_bins(bins: object) -> int:
    """``bins`` as an int from 1 to :data:`MAX_BINS`; TypeError for a
    non-integer, ValueError outside that range."""
    n = check_int(bins, "bins", minimum=None)
    if n < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    if n > MAX_BINS:
        raise ValueError(
            f"bins must be <= {MAX_BINS}, got {bins}; quantile bins beyond that are "
            "not meaningful (ties merge them) and would exhaust memory"
        )
    return n


def check_eps(eps: object) -> float:
    """``eps``, the floor of the proportions, as a float in the open interval
    (0, 1); TypeError for a non-number, ValueError outside it."""
    return check_number(eps, "eps", 0.0, 1.0)




def sample(x: ArrayLike, name: str, keep_int: bool = False) -> np.ndarray:
    """1-D float32/float64 contiguous array of ``x`` (other numbers -> float64;
    with ``keep_int``, integers stay integers, for exact quantiles)."""
    arr = as_numeric_array(x, name)
    reject_long_double(arr, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}; pass a single column")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; at least one non-NaN value is needed")
    if keep_int and arr.dtype.kind in "iu":
        return arr
    dtype = np.float32 if arr.dtype == np.float32 else np.float64
    return np.ascontiguousarray(arr, dtype=dtype)


def _check_n(n: object, name: str) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be an integer (the number of non-NaN values), got {n!r}")
    if isinstance(n, (float, np.floating)) and not (math.isfinite(n) and float(n).is_integer()):
        raise ValueError(f"{name} must be a whole number (the number of non-NaN values), got {n!r}")
    n = int(n)
    if n <= 0:
        raise ValueError(
            f"{name} must be > 0 (the number of non-NaN values); "
            "an empty or all-NaN sample has no proportions"
        )
    return n


def _check_counts(counts: ArrayLike, n: object, name: str, n_name: str) -> np.ndarray:
    """Validated bin counts (1-D, finite, >= 0, summing to ``n``: every
    non-NaN value lies in exactly one bin) as float64."""
    n = _check_n(n, n_name)
    arr = as_numeric_array(counts, name)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of bin counts, got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf; bin counts must be finite")
    if np.any(arr < 0):
        raise ValueError(f"{name} contains negative values; bin counts must be >= 0")
    if arr.dtype.kind == "f":
        total: float = arr.sum(dtype=np.float64)
    else:  # a wide accumulator: a uint8 sum would wrap at 256
        total = int(arr.sum(dtype=np.uint64 if arr.dtype.kind == "u" else np.int64))
    if total != n:
        raise ValueError(
            f"{name} sum to {total} but {n_name} is {n}; {n_name} must be the number of "
            "non-NaN values, and every one of them lies in exactly one bin"
        )
    return np.asarray(arr, dtype=np.float64)


def proportion_pair(ref_counts: ArrayLike, ref_n: int, cur_counts: ArrayLike,
                    cur_n: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw proportions ``(p, q)`` of validated, equally long count arrays."""
    if np.ndim(ref_counts) == np.ndim(cur_counts) == 1 and np.shape(ref_counts) != np.shape(cur_counts):
        raise ValueError(
            f"ref_counts and cur_counts differ in length: {np.shape(ref_counts)} vs "
            f"{np.shape(cur_counts)}; bin both samples on the same edges"
        )
    p = _check_counts(ref_counts, ref_n, "ref_counts", "ref_n") / int(ref_n)
    q = _check_counts(cur_counts, cur_n, "cur_counts", "cur_n") / int(cur_n)
    return p, q


# ---------------------------------------------------------------------- edges
def _probabilities(bins: int) -> np.ndarray:
    return np.linspace(0, 1, bins + 1)[1:-1]


def _native_sorted(values: np.ndarray) -> np.ndarray:
    """``values`` in the dtype its quantiles are taken in: float32 and float64
    stay, signed integers become int64, unsigned (and bool) uint64."""
    kind = values.dtype.kind
    if kind == "f":
        return values if values.dtype in (np.float32, np.float64) else values.astype(np.float64)
    if kind == "i":
        return values.astype(np.int64, copy=False)
    return values.astype(np.uint64, copy=False)


_NAN_IN_SORTED = ("sorted_values contains NaN (or masked values, which count as NaN); "
                  "drop them first, e.g. v[~np.isnan(v)]")


def edges_from_sorted(sorted_values: np.ndarray, bins: int) -> np.ndarray:
    """Interior bin edges from the sorted non-NaN reference values.

    Returns ``np.unique(np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1]))``
    (float64) in ``O(bins)`` time plus one ``O(n)`` check that ``v`` is
    sorted: numpy's linear-interpolation quantile is evaluated directly on the
    order statistics, with numpy's own arithmetic in ``v``'s own dtype, instead
    of partitioning the array again.  As in numpy, float32 values are
    interpolated from their float32 difference, and integers from their
    integer difference (exact beyond 2**53; for integers the difference is
    taken without the wrap-around numpy's int64 subtraction would suffer for
    ranges wider than 2**63).  The result is bit-identical except that an edge
    equal to zero may carry the other sign than np.quantile's (which depends
    on where its partition leaves ``-0.0`` and ``0.0``); the bins are the same
    either way.

    Parameters
    ----------
    sorted_values : numpy.ndarray
        1-D numeric array (bool, int, uint, float32 or float64), sorted
        ascending, without NaN.
    bins : int
        Requested number of bins (1 to :data:`MAX_BINS`).

    Returns
    -------
    numpy.ndarray
        Sorted unique float64 interior edges; at most ``bins - 1`` of them.

    Raises
    ------
    TypeError
        If ``sorted_values`` is not numeric, or ``bins`` not an integer.
    ValueError
        If ``sorted_values`` is empty, not 1-D, not sorted or holds NaN; or
        ``bins`` is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops.divergence import edges_from_sorted
    >>> edges_from_sorted(np.arange(101.0), 4)
    array([25., 50., 75.])
    >>> edges_from_sorted(np.array([3.0, 3.0, 3.0]), 10)   # constant: one edge
    array([3.])
    """
    bins = check_bins(bins)
    values = as_numeric_array(sorted_values, "sorted_values")
    reject_long_double(values, "sorted_values")
    if values.ndim != 1:
        raise ValueError(f"sorted_values must be 1-D, got shape {values.shape}")
    n = values.shape[0]
    if n == 0:
        raise ValueError("sorted_values is empty; at least one non-NaN value is needed")
    values = _native_sorted(values)
    # NaN sorts last, and a comparison with NaN is False: the last value and
    # the order check between them find any NaN (a single NaN too)
    if values.dtype.kind == "f" and np.isnan(values[-1]):
        raise ValueError(_NAN_IN_SORTED)
    if not (values[1:] >= values[:-1]).all():
        if values.dtype.kind == "f" and np.isnan(values).any():
            raise ValueError(_NAN_IN_SORTED)
        raise ValueError("sorted_values is not sorted ascending; pass np.sort(values)")
    q = _probabilities(bins)
    # numpy.lib._function_base_impl._quantile, method="linear", step by step.
    virtual = (n - 1) * q
    previous = np.floor(virtual)
    following = previous + 1
    above = virtual >= n - 1
    previous[above] = -1
    following[above] = -1
    previous_i = previous.astype(np.intp)
    following_i = following.astype(np.intp)
    gamma = np.asanyarray(virtual - previous_i, dtype=virtual.dtype)
    a = values[previous_i]
    b = values[following_i]
    if values.dtype.kind == "f":
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf -> NaN, as numpy
            diff = b - a  # in float32 for float32, as numpy's _lerp
    else:
        # b >= a, so the difference fits in uint64 (int64 would wrap beyond 2**63)
        diff = b.view(np.uint64) - a.view(np.uint64) if values.dtype == np.int64 else b - a
    with np.errstate(invalid="ignore", over="ignore"):
        result = np.add(a, diff * gamma, dtype=np.float64)
        np.subtract(b, diff * (1 - gamma), out=result, where=gamma >= 0.5,
                    casting="unsafe", dtype=np.float64)
    return np.unique(result)


def outer_edges(interior: np.ndarray, smallest: object, largest: object) -> np.ndarray:
    """The PSI edges of a reference: ``interior`` (from :func:`edges_from_sorted`)
    with an edge at the reference's ``smallest`` value and one just above its
    ``largest`` (the next float64, ``np.nextafter(largest, inf)``).

    The first bin then holds the values below the reference's range, the last
    one the values above it, and the bins between them the reference's own
    values: a constant reference has three bins (below, equal, above).  The
    two values are taken as float64, as :func:`bin_counts` compares: the
    largest value itself (a float32 widened exactly, or an integer rounded to
    float64 as every value is) stays below the upper edge.  An infinite
    smallest or largest value adds no edge (nothing lies beyond it), so the
    edges never hold an infinity of their own.  Returns sorted unique float64
    edges (NaN edges of ``interior`` last).

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops.divergence import outer_edges
    >>> outer_edges(np.array([3.0]), 3.0, 3.0).tolist() == [3.0, np.nextafter(3.0, np.inf)]
    True
    """
    lo, hi = float(smallest), float(largest)  # type: ignore[arg-type]
    if math.isnan(lo) or math.isnan(hi) or lo > hi:
        raise ValueError(f"smallest and largest must be ordered non-NaN values, got {lo!r} "
                         f"and {hi!r}")
    parts = [np.asarray(interior, dtype=np.float64).ravel()]
    if lo > -math.inf:
        parts.insert(0, np.array([lo]))
    if hi < math.inf:
        parts.append(np.array([np.nextafter(hi, math.inf)]))
    return np.ascontiguousarray(np.unique(np.concatenate(parts)))


def reference_edges(sorted_values: np.ndarray, bins: int) -> np.ndarray:
    """The PSI bin edges of the sorted non-NaN reference values: the interior
    quantile edges of :func:`edges_from_sorted` and the two outer edges of
    :func:`outer_edges` (a bin below the reference's smallest value and one
    above its largest).  What :func:`psi`, :func:`kl_divergence`,
    :func:`js_divergence` and ``DriftReference`` bin on; at most ``bins + 1``
    edges, ``bins + 2`` bins.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops.divergence import reference_edges
    >>> reference_edges(np.arange(101.0), 4).tolist() == [0.0, 25.0, 50.0, 75.0,
    ...                                                     np.nextafter(100.0, np.inf)]
    True
    """
    interior = edges_from_sorted(sorted_values, bins)
    v = np.asarray(sorted_values)
    return outer_edges(interior, v[0], v[-1])


def reference_bins(reference: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Edges, bin counts and NaN count of a validated reference sample.

    One numpy sort (faster than the partition np.quantile does for several
    quantiles) gives the edges through :func:`reference_edges` and the bin
    counts through a binary search of each edge: bin ``k`` holds the values
    ``e[k-1] <= x < e[k]``, i.e. ``searchsorted(sorted, e[k], "left")`` minus
    the same for ``e[k-1]``.
    """
    ordered = np.sort(_native_sorted(reference))  # a copy; NaN sort last
    n_valid = ordered.size
    if ordered.dtype.kind == "f" and np.isnan(ordered[-1]):
        n_valid = int(np.searchsorted(ordered, np.nan))
    if n_valid == 0:
        raise ValueError("reference has no non-NaN values")
    ordered = ordered[:n_valid]
    # quantiles in the reference's own dtype (as np.quantile), bins in float64
    edges = reference_edges(ordered, bins)
    below = np.searchsorted(ordered.astype(np.float64, copy=False), edges, side="left")
    counts = np.diff(np.concatenate(([0], below, [n_valid]))).astype(np.int64)
    return edges, counts, reference.size - n_valid


# --------------------------------------------------------------------- counts
def _check_sorted_edges(edges: np.ndarray) -> None:
    """The kernels need ascending edges with any NaN last (as np.unique returns
    them); anything else would give wrong, even negative, counts."""
    nan = np.isnan(edges)
    k = edges.size - int(np.count_nonzero(nan))
    if nan[:k].any() or not (edges[1:k] >= edges[: k - 1]).all():
        raise ValueError(
            "edges must be sorted ascending with any NaN last; pass np.unique(edges)"
        )


def _kernel_for(values: np.ndarray, edges: np.ndarray
                ) -> Callable[[np.ndarray, np.ndarray, np.ndarray], None]:
    from fastmlops._kernels import binning

    linear = edges.size <= binning.LINEAR_MAX_EDGES
    if values.dtype == np.float32:
        return binning.count_linear_f4 if linear else binning.count_bsearch_f4
    return binning.count_linear_f8 if linear else binning.count_bsearch_f8


def bin_counts(
    values: np.ndarray,
    edges: np.ndarray,
    *,
    parallel_threshold: int = PARALLEL_THRESHOLD,
) -> tuple[np.ndarray, int]:
    """Count the values in each bin defined by interior ``edges``.

    Bin ``k`` holds the values ``x`` with ``searchsorted(edges, x,
    side="right") == k``; NaN values are counted apart.  Float32 values are
    compared with the float64 edges in float64, as :func:`numpy.searchsorted`
    does after type promotion.

    Parameters
    ----------
    values : numpy.ndarray
        1-D float32 or float64 array (other inputs are converted to a
        contiguous float64 copy).
    edges : numpy.ndarray
        Sorted float64 interior edges, e.g. from :func:`edges_from_sorted`
        (NaN edges, if any, last); unsorted edges raise ``ValueError``.
    parallel_threshold : int, optional
        Arrays longer than this are split into chunks counted on the thread
        pool (when called from a pool thread, the chunks run serially).

    Returns
    -------
    counts : numpy.ndarray
        int64 array of length ``len(edges) + 1``; sums to the non-NaN count.
    n_nan : int
        Number of NaN values.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops.divergence import bin_counts
    >>> counts, n_nan = bin_counts(np.array([-np.inf, 0.5, 1.0, 2.0, np.nan]),
    ...                            np.array([1.0, 2.0]))
    >>> counts.tolist(), n_nan
    ([2, 1, 1], 1)
    """
    if not (
        type(values) is np.ndarray  # not a subclass: a masked array has NaN where masked
        and values.ndim == 1
        and values.dtype in (np.float64, np.float32)
        and values.flags.c_contiguous
        and values.dtype.isnative
    ):
        values = as_numeric_array(values, "values")
        reject_long_double(values, "values")
        if values.ndim != 1:
            raise ValueError(f"values must be 1-D, got shape {values.shape}")
        values = np.ascontiguousarray(
            values, dtype=np.float32 if values.dtype == np.float32 else np.float64
        )
    if not (type(edges) is np.ndarray and edges.dtype == np.float64 and edges.flags.c_contiguous):
        edges = as_numeric_array(edges, "edges")
        reject_long_double(edges, "edges")
        edges = np.ascontiguousarray(edges, dtype=np.float64)
    if edges.ndim != 1:
        raise ValueError(f"edges must be 1-D, got shape {edges.shape}")
    _check_sorted_edges(edges)
    parallel_threshold = check_int(parallel_threshold, "parallel_threshold", minimum=None)
    fn = _kernel_for(values, edges)
    n = values.size
    width = edges.size + 2
    parts = n_workers() if n > parallel_threshold else 1
    bounds = chunk_bounds(n, parts, minimum=max(1, parallel_threshold // 2)) if parts > 1 else [(0, n)]
    if len(bounds) == 1:
        out = np.zeros(width, np.int64)
        fn(values, edges, out)
    else:
        rows = np.zeros((len(bounds), width), np.int64)

        def run(i: int) -> None:
            start, stop = bounds[i]
            fn(values[start:stop], edges, rows[i])

        parallel_map(run, range(len(bounds)))
        out = rows.sum(axis=0)
    return out[:-1], int(out[-1])


# --------------------------------------------------------------- from counts
