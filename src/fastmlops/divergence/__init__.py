"""Binned drift measures: population stability index, KL and JS divergence.

All three compare the binned distribution of a *current* sample with that of
a *reference* sample, on bins taken from the reference:

* interior edges ``e = unique(quantile(reference, linspace(0, 1, bins + 1)[1:-1]))``
  over the non-NaN reference values (numpy's default linear quantiles,
  computed as numpy does for the reference's dtype: float32 in float32,
  integers from their exact integer differences);
* two outer edges around them: the reference's smallest value ``lo`` and
  the float64 just above its largest value ``hi`` (``nextafter(hi, inf)``),
  so the edges are ``unique([lo, *e, nextafter(hi, inf)])``
  (:func:`reference_edges`).  The first bin, ``(-inf, lo)``, holds the
  values below the reference's range and the last one, ``(hi, +inf)``, those
  above it: the reference has no value there, so mass that moved outside its
  range counts against it (with the old interior-only bins it fell in the
  reference's outer quantile bins, and PSI of any sample against a constant
  reference was 0).  A constant reference has three bins: below, equal,
  above.  An infinite ``lo`` or ``hi`` adds no edge (nothing lies beyond it);
* a value ``x`` falls in bin ``searchsorted(edges, x, side="right")``,
  compared in float64 (float32 values widened exactly, integers rounded as
  float64 rounds them; the largest reference value always stays below the
  upper outer edge); there are ``len(edges) + 1`` bins, at most ``bins + 2``
  (fewer when quantiles tie);
* proportions are bin counts divided by the number of non-NaN values; NaN
  values are left out of the counts and reported as a NaN share;
* a masked value of a :class:`numpy.ma.MaskedArray` is missing, exactly as
  NaN (the one rule for masked input, in ``fastmlops._core.validation``).

What the outer bins cost: two samples of one continuous distribution now
differ in them, because about ``2 / (n + 1)`` of the current values fall
outside the range of a reference of ``n`` values, where the reference's
proportion is 0 (floored at ``eps``).  Each outer bin adds about
``q ln(q / eps)`` with ``q = 1 / (n + 1)``.  Measured (``bins=10``,
``eps=1e-4``, normal reference and current samples of one distribution,
10,000 current values, mean of 200 runs; before -> after):

==========  ===============  ==================
reference   mean PSI         95th percentile
==========  ===============  ==================
100         0.089 -> 0.186   0.37 after
300         0.032 -> 0.059   0.11 after
1,000       0.0097 -> 0.0149  0.026 after
3,000       0.0039 -> 0.0049  0.009 after
10,000      0.0018 -> 0.0019  0.003 after
==========  ===============  ==================

So the bias is about ``2 q ln(q / eps)``: 0.097 at 100 reference values,
0.027 at 300, 0.005 at 1,000, negligible from 10,000 (where ``q`` reaches
``eps``).  Under a few hundred reference values PSI alone often reads
"minor" or "major" for unchanged data; the drift verdicts are not affected
(they need the binned chi-square test, which pools sparse bins, or the KS
test), but read PSI of small references with care.

The public functions validate and convert their input; the building blocks
:func:`edges_from_sorted`, :func:`reference_edges`, :func:`outer_edges`,
:func:`bin_counts`, :func:`psi_from_counts`,
:func:`kl_from_counts` and :func:`js_from_counts` let a caller that keeps the
reference edges and counts (``DriftReference``) score a new batch with a
single pass over it.
"""

# MAX_BINS, PARALLEL_THRESHOLD, PSI_MINOR/PSI_MAJOR, check_bins and check_eps
# are public to the package (fastmlops.drift uses them), not in __all__
from fastmlops.divergence._bins import MAX_BINS as MAX_BINS
from fastmlops.divergence._bins import PARALLEL_THRESHOLD as PARALLEL_THRESHOLD
from fastmlops.divergence._bins import PSI_MAJOR as PSI_MAJOR
from fastmlops.divergence._bins import PSI_MINOR as PSI_MINOR
from fastmlops.divergence._bins import (
    bin_counts,
    edges_from_sorted,
    outer_edges,
    reference_edges,
)
from fastmlops.divergence._bins import check_bins as check_bins
from fastmlops.divergence._bins import check_eps as check_eps
from fastmlops.divergence._measures import (
    PsiResult,
    js_divergence,
    js_from_counts,
    kl_divergence,
    kl_from_counts,
    measures_from_counts,
    psi,
    psi_from_counts,
    psi_verdict,
)

__all__ = [
    "PsiResult",
    "bin_counts",
    "edges_from_sorted",
    "js_divergence",
    "js_from_counts",
    "kl_divergence",
    "kl_from_counts",
    "measures_from_counts",
    "outer_edges",
    "psi",
    "psi_from_counts",
    "psi_verdict",
    "reference_edges",
]
