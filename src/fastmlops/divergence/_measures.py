"""PSI, KL and JSD from bin counts, and the public measures (see
:mod:`fastmlops.divergence`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from fastmlops.divergence._bins import (
    PSI_MAJOR,
    PSI_MINOR,
    bin_counts,
    check_bins,
    check_eps,
    proportion_pair,
    reference_bins,
    sample,
)


def _proportions(counts: ArrayLike, n: int) -> np.ndarray:
    return np.asarray(counts, dtype=np.float64) / n


def _floored(ref_counts: ArrayLike, ref_n: int, cur_counts: ArrayLike, cur_n: int,
             eps: object) -> tuple[np.ndarray, np.ndarray]:
    eps = check_eps(eps)
    p, q = proportion_pair(ref_counts, ref_n, cur_counts, cur_n)
    return np.maximum(p, eps), np.maximum(q, eps)


def psi_from_counts(ref_counts: ArrayLike, ref_n: int, cur_counts: ArrayLike, cur_n: int,
                    eps: float = 1e-4) -> float:
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
    return _psi(p, q)


def _psi(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.sum((q - p) * np.log(q / p)))


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.sum(p * np.log(p / q)))


def _js(p: np.ndarray, q: np.ndarray) -> float:
    # as scipy.spatial.distance.jensenshannon: renormalise, then relative entropies
    p = p / np.sum(p)
    q = q / np.sum(q)
    m = (p + q) / 2.0
    return float((np.sum(_rel_entr(p, m)) + np.sum(_rel_entr(q, m))) / 2.0)


def kl_from_counts(ref_counts: ArrayLike, ref_n: int, cur_counts: ArrayLike, cur_n: int,
                   eps: float = 1e-4) -> float:
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
    return _kl(p, q)


def _rel_entr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """scipy.special.rel_entr for x >= 0, y > 0 where x > 0: x ln(x/y), 0 ln 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = x * np.log(x / y)
    return np.where(x > 0, terms, 0.0)


def js_from_counts(ref_counts: ArrayLike, ref_n: int, cur_counts: ArrayLike, cur_n: int) -> float:
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
    p, q = proportion_pair(ref_counts, ref_n, cur_counts, cur_n)
    return _js(p, q)


def measures_from_counts(ref_counts: ArrayLike, ref_n: int, cur_counts: ArrayLike, cur_n: int,
                         eps: float = 1e-4) -> tuple[float, float, float]:
    """``(psi_from_counts, kl_from_counts, js_from_counts)`` of the same
    counts, equal to the three calls bit for bit, with the counts checked and
    turned into proportions once (what a drift report of many columns does).

    Examples
    --------
    >>> from fastmlops.divergence import measures_from_counts
    >>> [round(x, 6) for x in measures_from_counts([50, 50], 100, [40, 60], 100)]
    [0.040547, 0.020411, 0.005059]
    """
    eps = check_eps(eps)
    p0, q0 = proportion_pair(ref_counts, ref_n, cur_counts, cur_n)
    p, q = np.maximum(p0, eps), np.maximum(q0, eps)
    return _psi(p, q), _kl(p, q), _js(p0, q0)


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
        The bin edges (``len(edges) + 1`` bins): the reference's smallest
        value, the interior quantile edges and the float64 just above its
        largest value (see :func:`fastmlops.divergence.reference_edges`).
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


def _binned(reference: ArrayLike, current: ArrayLike, bins: object
            ) -> tuple[np.ndarray, np.ndarray, int, int, np.ndarray, int, int]:
    bins = check_bins(bins)
    ref = sample(reference, "reference", keep_int=True)
    cur = sample(current, "current")
    edges, ref_counts, ref_nan = reference_bins(ref, bins)
    cur_counts, cur_nan = bin_counts(cur, edges)
    if cur_nan == cur.size:
        raise ValueError("current has no non-NaN values")
    return edges, ref_counts, ref.size, ref_nan, cur_counts, cur.size, cur_nan


def psi(reference: ArrayLike, current: ArrayLike, bins: int = 10, eps: float = 1e-4) -> PsiResult:
    """Population stability index of ``current`` against ``reference``.

    ``PSI = sum((q - p) * ln(q / p))`` over the bins, natural log, where ``p``
    and ``q`` are the reference and current proportions of non-NaN values per
    bin, each floored at ``eps``.  Bins are the reference quantiles and one
    bin below and one above the reference's range (see the module
    docstring): values outside the reference range count in those outer
    bins, where the reference has none, so PSI sees them even for a constant
    reference; NaN values are left out and reported as a share.

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
    (1.3802, 'major')
    >>> psi(reference, reference).verdict
    'none'
    """
    eps = check_eps(eps)
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


def kl_divergence(reference: ArrayLike, current: ArrayLike, bins: int = 10, eps: float = 1e-4) -> float:
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
    0.6901
    """
    eps = check_eps(eps)
    _, ref_counts, ref_size, ref_nan, cur_counts, cur_size, cur_nan = _binned(
        reference, current, bins
    )
    return kl_from_counts(ref_counts, ref_size - ref_nan, cur_counts, cur_size - cur_nan, eps)


def js_divergence(reference: ArrayLike, current: ArrayLike, bins: int = 10) -> float:
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
    0.0693
    >>> js_divergence(reference, reference)
    0.0
    """
    _, ref_counts, ref_size, ref_nan, cur_counts, cur_size, cur_nan = _binned(
        reference, current, bins
    )
    return js_from_counts(ref_counts, ref_size - ref_nan, cur_counts, cur_size - cur_nan)
