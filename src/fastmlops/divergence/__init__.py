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

from fastmlops.divergence._bins import (MAX_BINS, PARALLEL_THRESHOLD, PSI_MAJOR, PSI_MINOR,
                                         bin_counts, check_bins, check_eps, edges_from_sorted)
from fastmlops.divergence._measures import (PsiResult, js_divergence, js_from_counts, kl_divergence,
                                            kl_from_counts, measures_from_counts, psi,
                                            psi_from_counts, psi_verdict)

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
    "measures_from_counts",
]
