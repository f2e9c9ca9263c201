"""The chi-square test of two categorical samples: :func:`chisquare_2samp`.

This public path re-exports :mod:`fastmlops.drift.categorical`, where the test
lives beside the rest of drift detection.
"""

from fastmlops.drift.categorical import Chi2Result, chi2_from_counts, chisquare_2samp

__all__ = ["Chi2Result", "chisquare_2samp", "chi2_from_counts"]
