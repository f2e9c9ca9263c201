"""The chi-square test of two categorical samples: :func:`chisquare_2samp`.

This public path re-exports :mod:`fastmlops.drift.categorical`, where the test
lives beside the rest of drift detection.

Examples
--------
>>> from fastmlops.categorical import chisquare_2samp
>>> res = chisquare_2samp(["a", "b", "a", "a"] * 50, ["a", "b", "b", "b"] * 50)
>>> bool(res.pvalue < 1e-6), res.dof
(True, 1)
"""

from fastmlops.drift.categorical import Chi2Result, chi2_from_counts, chisquare_2samp

__all__ = ["Chi2Result", "chisquare_2samp", "chi2_from_counts"]
