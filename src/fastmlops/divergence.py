"""Binned drift measures: population stability index, KL and JS divergence.

All three compare the binned distribution of a *current* sample with that of
a *reference* sample, on bins taken from the reference:

* interior edges ``e = unique(quantile(reference, linspace(0, 1, bins + 1)[1:-1]))``
  over the non-NaN reference values (numpy's default linear quantiles);
* a value ``x`` falls in bin ``searchsorted(e, x, side="right")``, so values
  below or above the reference range (including -inf and +inf) land in the
  first or last bin and are never dropped; there are ``len(e) + 1`` bins
  (fewer than ``bins`` when quantiles tie, a single bin for a constant
  reference);
* proportions are bin counts divided by the number of non-NaN values; NaN
  values are left out of the counts and reported as a NaN share.

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

from fastmlops._parallel import chunk_bounds, n_workers, parallel_map
from fastmlops._validation import as_numeric_array, reject_long_double

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


# ----------------------------------------------------------------- validation
def _check_bins(bins: Any) -> int:
    if isinstance(bins, (bool, np.bool_)) or not isinstance(bins, (int, np.integer)):
        raise TypeError(f"bins must be an integer, got {bins!r} ({type(bins).__name__})")
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    return int(bins)


def _check_eps(eps: Any) -> float:
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, (int, float, np.integer, np.floating)):
        raise TypeError(f"eps must be a number, got {eps!r} ({type(eps).__name__})")
    value = float(eps)
    if not 0.0 < value < 1.0:  # also rejects NaN
        raise ValueError(f"eps must be in the open interval (0, 1), got {eps!r}")
    return value


def _sample(x: Any, name: str) -> np.ndarray:
    """1-D float32/float64 contiguous array of ``x`` (other numbers -> float64)."""
    arr = as_numeric_array(x, name)
    reject_long_double(arr, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}; pass a single column")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; at least one non-NaN value is needed")
    dtype = np.float32 if arr.dtype == np.float32 else np.float64
    return np.ascontiguousarray(arr, dtype=dtype)


def _check_n(n: Any, name: str) -> int:
    n = int(n)
    if n <= 0:
        raise ValueError(
            f"{name} must be > 0 (the number of non-NaN values); "
            "an empty or all-NaN sample has no proportions"
        )
    return n


# ---------------------------------------------------------------------- edges
def _probabilities(bins: int) -> np.ndarray:
    return np.linspace(0, 1, bins + 1)[1:-1]


def edges_from_sorted(sorted_values: np.ndarray, bins: int) -> np.ndarray:
    """Interior bin edges from the sorted non-NaN reference values.

    Returns ``np.unique(np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1]))``
    with ``v = sorted_values.astype(np.float64)``, in ``O(bins)`` time:
    numpy's linear-interpolation quantile is evaluated directly on the order
    statistics, with numpy's own arithmetic, instead of partitioning the array
    again.  The result is bit-identical except that an edge equal to zero may
    carry the other sign than np.quantile's (which depends on where its
    partition leaves ``-0.0`` and ``0.0``); the bins are the same either way.

    Parameters
    ----------
    sorted_values : numpy.ndarray
        1-D float32 or float64 array, sorted ascending, without NaN (other
        numeric dtypes are converted to float64).
    bins : int
        Requested number of bins (>= 1).

    Returns
    -------
    numpy.ndarray
        Sorted unique float64 interior edges; at most ``bins - 1`` of them.

    Raises
    ------
    ValueError
        If ``sorted_values`` is empty or not 1-D, or ``bins < 1``.

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
    values = np.asarray(sorted_values)
    if values.ndim != 1:
        raise ValueError(f"sorted_values must be 1-D, got shape {values.shape}")
    n = values.shape[0]
    if n == 0:
        raise ValueError("sorted_values is empty; at least one non-NaN value is needed")
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
    a = np.asarray(values[previous_i], dtype=np.float64)
    b = np.asarray(values[following_i], dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf -> NaN, as numpy
        diff = b - a
        result = np.add(a, diff * gamma)
        np.subtract(b, diff * (1 - gamma), out=result, where=gamma >= 0.5)
    return np.unique(result)


def _reference_bins(reference: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Edges, bin counts and NaN count of a validated reference sample.

    One numpy sort (faster than the partition np.quantile does for several
    quantiles) gives the edges through :func:`edges_from_sorted` and the bin
    counts through a binary search of each edge: bin ``k`` holds the values
    ``e[k-1] <= x < e[k]``, i.e. ``searchsorted(sorted, e[k], "left")`` minus
    the same for ``e[k-1]``.
    """
    ordered = reference.astype(np.float64)  # always a copy
    ordered.sort()  # NaN sort last
    n_valid = int(np.searchsorted(ordered, np.nan)) if np.isnan(ordered[-1]) else ordered.size
    if n_valid == 0:
        raise ValueError("reference has no non-NaN values")
    ordered = ordered[:n_valid]
    edges = edges_from_sorted(ordered, bins)
    below = np.searchsorted(ordered, edges, side="left")
    counts = np.diff(np.concatenate(([0], below, [n_valid]))).astype(np.int64)
    return edges, counts, reference.size - n_valid


# --------------------------------------------------------------------- counts
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
        (NaN edges, if any, last).
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
        isinstance(values, np.ndarray)
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
    if not (isinstance(edges, np.ndarray) and edges.dtype == np.float64 and edges.flags.c_contiguous):
        edges = np.ascontiguousarray(edges, dtype=np.float64)
    if edges.ndim != 1:
        raise ValueError(f"edges must be 1-D, got shape {edges.shape}")
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
    p = np.maximum(_proportions(ref_counts, _check_n(ref_n, "ref_n")), eps)
    q = np.maximum(_proportions(cur_counts, _check_n(cur_n, "cur_n")), eps)
    if p.shape != q.shape:
        raise ValueError(f"ref_counts and cur_counts differ in length: {p.shape} vs {q.shape}")
    return p, q


def psi_from_counts(ref_counts: Any, ref_n: int, cur_counts: Any, cur_n: int, eps: float = 1e-4) -> float:
    """PSI from bin counts: ``sum((q - p) * ln(q / p))``.

    ``p = max(ref_counts / ref_n, eps)`` and ``q = max(cur_counts / cur_n,
    eps)``, where ``ref_n`` and ``cur_n`` are the non-NaN totals.

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
    (not renormalised): ``sum(p * ln(p / q))``.

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
    distance of :func:`scipy.spatial.distance.jensenshannon`).

    Examples
    --------
    >>> from fastmlops.divergence import js_from_counts
    >>> round(js_from_counts([100, 0], 100, [0, 100], 100), 6)   # ln 2
    0.693147
    """
    p = _proportions(ref_counts, _check_n(ref_n, "ref_n"))
    q = _proportions(cur_counts, _check_n(cur_n, "cur_n"))
    if p.shape != q.shape:
        raise ValueError(f"ref_counts and cur_counts differ in length: {p.shape} vs {q.shape}")
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
    ref = _sample(reference, "reference")
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
        Number of quantile bins requested; ties in the reference quantiles
        merge bins.
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
        If a sample is not 1-D, is empty or all NaN; if ``bins < 1``; if
        ``eps`` is not in (0, 1).

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
    Symmetric, bounded by ``ln 2``; this is the divergence, not the
    Jensen-Shannon *distance* (its square root).  Bins as in :func:`psi`.

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
