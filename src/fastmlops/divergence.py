"""Binned drift measures: population stability index, KL and JS divergence.

All three compare the binned distribution of a *current* sample with that of
a *reference* sample, on bins taken from the reference:

* interior edges ``e = unique(quantile(reference, linspace(0, 1, bins + 1)[1:-1]))``
  over the non-NaN reference values (numpy's default linear quantiles,
  computed as numpy does for the reference's dtype: float32 in float32,
  integers from their exact integer differences);
* a value ``x`` falls in bin ``searchsorted(e, x, side="right")``, so values
  below or above the reference range (including -inf and +inf) land in the
  first or last bin and are never dropped; there are ``len(e) + 1`` bins
  (fewer than ``bins`` when quantiles tie, a single bin for a constant
  reference);
* proportions are bin counts divided by the number of non-NaN values; NaN
  values are left out of the counts and reported as a NaN share;
* a masked value of a :class:`numpy.ma.MaskedArray` is missing, exactly as
  NaN (the one rule for masked input, in ``fastmlops._core.validation``).

The public functions validate and convert their input; the building blocks
:func:`edges_from_sorted`, :func:`bin_counts`, :func:`psi_from_counts`,
:func:`kl_from_counts` and :func:`js_from_counts` let a caller that keeps the
reference edges and counts (``DriftReference``) score a new batch with a
single pass over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastmlops._core.parallel import chunk_bounds, n_workers, parallel_map
from fastmlops._core.validation import as_numeric_array, reject_long_double

__all__ = [
    "PsiResult",
    "psi",
    "kl_divergence",
    "js_divergence",
    "psi_verdict",
    "edges_from_sorted",
    "bin_counts",
    "psi_from_counts",
    "kl_from_counts",
    "js_from_counts",
]

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
def _check_bins(bins: Any) -> int:
    if isinstance(bins, (bool, np.bool_)) or not isinstance(bins, (int, np.integer)):
        raise TypeError(f"bins must be an integer, got {bins!r} ({type(bins).__name__})")
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    if bins > MAX_BINS:
        raise ValueError(
            f"bins must be <= {MAX_BINS}, got {bins}; quantile bins beyond that are "
            "not meaningful (ties merge them) and would exhaust memory"
        )
    return int(bins)


def _check_eps(eps: Any) -> float:
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, (int, float, np.integer, np.floating)):
        raise TypeError(f"eps must be a number, got {eps!r} ({type(eps).__name__})")
    value = float(eps)
    if not 0.0 < value < 1.0:  # also rejects NaN
        raise ValueError(f"eps must be in the open interval (0, 1), got {eps!r}")
    return value


def _sample(x: Any, name: str, keep_int: bool = False) -> np.ndarray:
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


def _check_n(n: Any, name: str) -> int:
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


def _check_counts(counts: Any, n: Any, name: str, n_name: str) -> np.ndarray:
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
        total: Any = arr.sum(dtype=np.float64)
    else:  # a wide accumulator: a uint8 sum would wrap at 256
        total = int(arr.sum(dtype=np.uint64 if arr.dtype.kind == "u" else np.int64))
    if total != n:
        raise ValueError(
            f"{name} sum to {total} but {n_name} is {n}; {n_name} must be the number of "
            "non-NaN values, and every one of them lies in exactly one bin"
        )
    return np.asarray(arr, dtype=np.float64)


def _proportion_pair(ref_counts: Any, ref_n: Any, cur_counts: Any, cur_n: Any):
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
    bins = _check_bins(bins)
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


def _reference_bins(reference: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Edges, bin counts and NaN count of a validated reference sample.

    One numpy sort (faster than the partition np.quantile does for several
    quantiles) gives the edges through :func:`edges_from_sorted` and the bin
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
    edges = edges_from_sorted(ordered, bins)
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


def _kernel_for(values: np.ndarray, edges: np.ndarray) -> Any:
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
    if isinstance(parallel_threshold, (bool, np.bool_)) or not isinstance(
        parallel_threshold, (int, np.integer)
    ):
        raise TypeError(f"parallel_threshold must be an integer, got {parallel_threshold!r}")
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
def _proportions(counts: Any, n: int) -> np.ndarray:
    return np.asarray(counts, dtype=np.float64) / n


def _floored(ref_counts: Any, ref_n: Any, cur_counts: Any, cur_n: Any, eps: Any):
    eps = _check_eps(eps)
    p, q = _proportion_pair(ref_counts, ref_n, cur_counts, cur_n)
    return np.maximum(p, eps), np.maximum(q, eps)


def psi_from_counts(ref_counts: Any, ref_n: int, cur_counts: Any, cur_n: int, eps: float = 1e-4) -> float:
    """PSI from bin counts: ``sum((q - p) * ln(q / p))``.

    ``p = max(ref_counts / ref_n, eps)`` and ``q = max(cur_counts / cur_n,
    eps)``, where ``ref_n`` and ``cur_n`` are the non-NaN totals.

    Raises ``ValueError`` unless the counts are 1-D, of equal length, finite,
    non-negative and sum to their ``n`` (as :func:`bin_counts` returns them),
    and ``eps`` is in (0, 1); ``TypeError`` for a non-integer ``n``.

    Examples
    --------
    >>> from fastmlops.divergence import psi_from_counts
    >>> round(psi_from_counts([50, 50], 100, [40, 60], 100), 6)
    0.040547
    """
    p, q = _floored(ref_counts, ref_n, cur_counts, cur_n, eps)
    return float(np.sum((q - p) * np.log(q / p)))


def kl_from_counts(ref_counts: Any, ref_n: int, cur_counts: Any, cur_n: int, eps: float = 1e-4) -> float:
    """KL divergence D_KL(P || Q) from bin counts, natural log.

    P is the reference, Q the current distribution, both floored at ``eps``
    (not renormalised): ``sum(p * ln(p / q))``.  Counts are checked as in
    :func:`psi_from_counts`.

    Examples
    --------
    >>> from fastmlops.divergence import kl_from_counts
    >>> round(kl_from_counts([50, 50], 100, [40, 60], 100), 6)
    0.020411
    """
    p, q = _floored(ref_counts, ref_n, cur_counts, cur_n, eps)
    return float(np.sum(p * np.log(p / q)))


def _rel_entr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """scipy.special.rel_entr for x >= 0, y > 0 where x > 0: x ln(x/y), 0 ln 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = x * np.log(x / y)
    return np.where(x > 0, terms, 0.0)


def js_from_counts(ref_counts: Any, ref_n: int, cur_counts: Any, cur_n: int) -> float:
    """Jensen-Shannon divergence from bin counts, natural log.

    ``JSD = (KL(P || M) + KL(Q || M)) / 2`` with ``M = (P + Q) / 2`` on the raw
    (unfloored) proportions, ``0 ln 0 = 0``; symmetric, between 0 and ``ln 2``.
    This is the divergence, not its square root (the Jensen-Shannon
    distance of :func:`scipy.spatial.distance.jensenshannon`).  Counts are
    checked as in :func:`psi_from_counts`.

    Examples
    --------
    >>> from fastmlops.divergence import js_from_counts
    >>> round(js_from_counts([100, 0], 100, [0, 100], 100), 6)   # ln 2
    0.693147
    """
    p, q = _proportion_pair(ref_counts, ref_n, cur_counts, cur_n)
    # as scipy.spatial.distance.jensenshannon: renormalise, then relative entropies
    p = p / np.sum(p)
    q = q / np.sum(q)
    m = (p + q) / 2.0
    js = np.sum(_rel_entr(p, m)) + np.sum(_rel_entr(q, m))
    return float(js / 2.0)


# --------------------------------------------------------------------- public
def psi_verdict(value: float) -> str:
    """Conventional reading of a PSI value.

    ``"none"`` below 0.1, ``"minor"`` from 0.1 to 0.25 inclusive, ``"major"``
    above 0.25.

    Examples
    --------
    >>> from fastmlops.divergence import psi_verdict
    >>> psi_verdict(0.05), psi_verdict(0.1), psi_verdict(0.25), psi_verdict(0.3)
    ('none', 'minor', 'minor', 'major')
    """
    try:
        if isinstance(value, (str, bytes, bool, np.bool_)):
            raise TypeError
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"value must be a real number, got {value!r}") from None
    if math.isnan(v):
        raise ValueError("value is NaN; a PSI value is needed")
    if v < PSI_MINOR:
        return "none"
    if v <= PSI_MAJOR:
        return "minor"
    return "major"


@dataclass(frozen=True, eq=False)
class PsiResult:
    """Result of :func:`psi`; ``float(result)`` is the PSI value.

    Attributes
    ----------
    value : float
        ``sum((q - p) * ln(q / p))``.
    verdict : str
        :func:`psi_verdict` of ``value``: ``"none"``, ``"minor"`` or ``"major"``.
    edges : numpy.ndarray
        The interior bin edges (``len(edges) + 1`` bins).
    reference_proportions, current_proportions : numpy.ndarray
        Per-bin proportions of the non-NaN values, floored at ``eps``, as used
        in the sum.
    reference_nan_share, current_nan_share : float
        Fraction of each sample that was NaN (left out of the proportions).
    """

    value: float
    verdict: str
    edges: np.ndarray
    reference_proportions: np.ndarray
    current_proportions: np.ndarray
    reference_nan_share: float
    current_nan_share: float

    def __float__(self) -> float:
        return self.value

    def __repr__(self) -> str:
        return (
            f"PsiResult(value={self.value!r}, verdict={self.verdict!r}, bins={self.edges.size + 1}, "
            f"reference_nan_share={self.reference_nan_share!r}, "
            f"current_nan_share={self.current_nan_share!r})"
        )


def _binned(reference: Any, current: Any, bins: Any):
    bins = _check_bins(bins)
    ref = _sample(reference, "reference", keep_int=True)
    cur = _sample(current, "current")
    edges, ref_counts, ref_nan = _reference_bins(ref, bins)
    cur_counts, cur_nan = bin_counts(cur, edges)
    if cur_nan == cur.size:
        raise ValueError("current has no non-NaN values")
    return edges, ref_counts, ref.size, ref_nan, cur_counts, cur.size, cur_nan


def psi(reference: Any, current: Any, bins: int = 10, eps: float = 1e-4) -> PsiResult:
    """Population stability index of ``current`` against ``reference``.

    ``PSI = sum((q - p) * ln(q / p))`` over the bins, natural log, where ``p``
    and ``q`` are the reference and current proportions of non-NaN values per
    bin, each floored at ``eps``.  Bins are the reference quantiles (see the
    module docstring): values outside the reference range count in the
    outer bins, NaN values are left out and reported as a share.

    Parameters
    ----------
    reference, current : array_like
        1-D samples of numbers (int, float32, float64; any byte order or
        stride).  NaN is ignored; +/-inf are ordinary values.
    bins : int, default 10
        Number of quantile bins requested (1 to :data:`MAX_BINS`); ties in
        the reference quantiles merge bins.
    eps : float, default 1e-4
        Floor for the proportions, in (0, 1), so empty bins give a finite PSI.

    Returns
    -------
    PsiResult
        ``value``, ``verdict`` ("none" < 0.1 <= "minor" <= 0.25 < "major"),
        ``edges``, the floored proportions and the NaN shares.

    Raises
    ------
    TypeError
        If a sample is not numeric, or ``bins`` is not an integer.
    ValueError
        If a sample is not 1-D, is empty or all NaN; if ``bins`` is not in
        1 to :data:`MAX_BINS`; if ``eps`` is not in (0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops import psi
    >>> reference = np.arange(100.0)
    >>> result = psi(reference, reference + 10)
    >>> round(float(result), 4), result.verdict
    (0.7594, 'major')
    >>> psi(reference, reference).verdict
    'none'
    """
    eps = _check_eps(eps)
    edges, ref_counts, ref_size, ref_nan, cur_counts, cur_size, cur_nan = _binned(
        reference, current, bins
    )
    ref_n = ref_size - ref_nan
    cur_n = cur_size - cur_nan
    p = np.maximum(_proportions(ref_counts, ref_n), eps)
    q = np.maximum(_proportions(cur_counts, cur_n), eps)
    value = float(np.sum((q - p) * np.log(q / p)))
    return PsiResult(
        value=value,
        verdict=psi_verdict(value),
        edges=edges,
        reference_proportions=p,
        current_proportions=q,
        reference_nan_share=ref_nan / ref_size,
        current_nan_share=cur_nan / cur_size,
    )


def kl_divergence(reference: Any, current: Any, bins: int = 10, eps: float = 1e-4) -> float:
    """Kullback-Leibler divergence D_KL(P || Q) of the binned samples.

    Direction: P is the **reference** distribution, Q the **current** one:
    ``sum(p * ln(p / q))``, natural log (nats).  Both proportions are floored
    at ``eps`` (not renormalised), as in :func:`psi`; bins as in :func:`psi`.

    Parameters
    ----------
    reference, current : array_like
        1-D samples of numbers; NaN is ignored.
    bins : int, default 10
        Number of quantile bins requested.
    eps : float, default 1e-4
        Floor for the proportions, in (0, 1).

    Returns
    -------
    float
        The divergence in nats (>= 0 up to the effect of the floor).

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops import kl_divergence
    >>> reference = np.arange(100.0)
    >>> round(kl_divergence(reference, reference + 10), 4)
    0.6215
    """
    eps = _check_eps(eps)
    edges, ref_counts, ref_size, ref_nan, cur_counts, cur_size, cur_nan = _binned(
        reference, current, bins
    )
    return kl_from_counts(ref_counts, ref_size - ref_nan, cur_counts, cur_size - cur_nan, eps)


def js_divergence(reference: Any, current: Any, bins: int = 10) -> float:
    """Jensen-Shannon divergence of the binned samples, natural log.

    ``(KL(P || M) + KL(Q || M)) / 2`` with ``M = (P + Q) / 2``, P the
    reference and Q the current raw (unfloored) proportions, ``0 ln 0 = 0``.
    Symmetric in P and Q, bounded by ``ln 2``; this is the divergence, not
    the Jensen-Shannon *distance* (its square root).  Bins as in :func:`psi`:
    they come from the reference, so swapping the two samples changes the
    bins and, in general, the value.

    Parameters
    ----------
    reference, current : array_like
        1-D samples of numbers; NaN is ignored.
    bins : int, default 10
        Number of quantile bins requested.

    Returns
    -------
    float
        The divergence in nats, in ``[0, ln 2]``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops import js_divergence
    >>> reference = np.arange(100.0)
    >>> round(js_divergence(reference, reference + 10), 4)
    0.0432
    >>> js_divergence(reference, reference)
    0.0
    """
    edges, ref_counts, ref_size, ref_nan, cur_counts, cur_size, cur_nan = _binned(
        reference, current, bins
    )
    return js_from_counts(ref_counts, ref_size - ref_nan, cur_counts, cur_size - cur_nan)
