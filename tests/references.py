"""Reference implementations shared by the tests and the benchmarks.

Each is the slow, obviously-correct version of a fastmlops function: scipy and
numpy called exactly as the documentation of the fastmlops function says.
"""

from __future__ import annotations

import numpy as np


# --------------------------------------------------------------------------- KS
def ks_2samp_reference(data1, data2, alternative="two-sided", method="auto", **kwargs):
    """scipy.stats.ks_2samp, the function fastmlops.ks_2samp is a drop-in for."""
    from scipy import stats

    return stats.ks_2samp(data1, data2, alternative=alternative, method=method, **kwargs)


def kstwo_sf_reference(d, n):
    """scipy's finite-n two-sided Kolmogorov survival function."""
    from scipy import stats

    return float(stats.kstwo.sf(d, n))


# ------------------------------------------------------------------ binned drift
def psi_edges_reference(reference, bins=10):
    """Interior bin edges: unique(np.quantile(reference, linspace(0, 1, bins +
    1)[1:-1])) over the non-NaN values, on the reference *as given*: numpy
    interpolates float32 samples from their float32 difference and integers
    from their integer difference, so converting to float64 first would not
    be the promised definition.  Bool and narrow integers are widened to
    int64 so that numpy's integer subtraction cannot wrap."""
    ref = np.asarray(reference)
    if ref.dtype.kind == "f":
        ref = ref[~np.isnan(ref)]
    elif ref.dtype.kind in "bi" or (ref.dtype.kind == "u" and ref.dtype.itemsize < 8):
        ref = ref.astype(np.int64)
    return np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))


def psi_bins_reference(reference, bins=10):
    """All PSI bin edges (the definition since issue #24): the interior edges of
    :func:`psi_edges_reference` plus an edge at the reference's smallest value
    and one at the float64 just above its largest (a bin for what lies below
    the reference's range, one for what lies above it); an infinite smallest
    or largest value adds no edge."""
    ref = np.asarray(reference).astype(np.float64)
    ref = ref[~np.isnan(ref)]
    lo, hi = ref.min(), ref.max()
    outer = ([lo] if lo > -np.inf else []) + ([np.nextafter(hi, np.inf)] if hi < np.inf else [])
    return np.unique(np.concatenate([psi_edges_reference(reference, bins), outer]))


def binned_proportions_reference(values, edges):
    """Proportion of non-NaN values in each bin; bin = searchsorted(edges, x, 'right')."""
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    idx = np.searchsorted(edges, x, side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(np.float64)
    return counts / x.size


def psi_reference(reference, current, bins=10, eps=1e-4):
    """PSI exactly as issue #2 defines it: sum((q - p) * ln(q / p)), proportions
    below eps replaced by eps."""
    edges = psi_bins_reference(reference, bins)  # with the outer bins (issue #24)
    p = np.maximum(binned_proportions_reference(reference, edges), eps)
    q = np.maximum(binned_proportions_reference(current, edges), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def kl_reference(reference, current, bins=10, eps=1e-4):
    """D_KL(P || Q), natural log, P = reference proportions, Q = current, both
    floored at eps as in PSI (not renormalised)."""
    edges = psi_bins_reference(reference, bins)  # with the outer bins (issue #24)
    p = np.maximum(binned_proportions_reference(reference, edges), eps)
    q = np.maximum(binned_proportions_reference(current, edges), eps)
    return float(np.sum(p * np.log(p / q)))


def js_reference(reference, current, bins=10):
    """Jensen-Shannon divergence (natural log, not its square root) of the raw
    binned proportions: scipy's jensenshannon distance, squared."""
    from scipy.spatial.distance import jensenshannon

    edges = psi_bins_reference(reference, bins)  # with the outer bins (issue #24)
    p = binned_proportions_reference(reference, edges)
    q = binned_proportions_reference(current, edges)
    return float(jensenshannon(p, q) ** 2)


def histogram_counts_reference(values, edges):
    """np.histogram on the same bins as the kernel (open-ended outer bins)."""
    x = np.asarray(values, dtype=np.float64)
    full = np.concatenate(([-np.inf], edges, [np.inf]))
    return np.histogram(x, bins=full)[0]
