"""Paired comparison of a candidate model and a baseline on the same rows.

The statistics of the model-quality gate (details and references in
docs/gate.md):

* :func:`delong` -- DeLong's test of two correlated ROC AUCs, O(n log n)
  (Sun and Xu 2014), equal to R's ``pROC::roc.test(method="delong",
  paired=TRUE)``; with a margin for non-inferiority.
* :func:`mcnemar` -- McNemar's test of paired accuracy, equal to
  ``statsmodels.stats.contingency_tables.mcnemar``.
* :func:`paired_bootstrap` -- the paired bootstrap (percentile or BCa) of any
  metric of :mod:`fastmlops.quality`, rows resampled once per replicate for
  both models, seeded per block of replicates (the result does not depend on
  the thread count), per slice with ``groups``.
* :func:`gate_report` -- a :class:`GateReport` of one or more metrics (text,
  Markdown, JSON, offline HTML; ``fastmlops gate`` on the command line).
* :func:`compare` -- the decision: non-inferiority with a margin (default),
  superiority, or harm; per slice with Holm's correction; the test picked
  per metric; a :class:`Comparison` with ``decision`` "pass"/"fail".

Differences are candidate minus baseline.

Examples
--------
>>> import numpy as np
>>> from fastmlops import gate
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 2000)
>>> base = y + rng.normal(0, 1.0, 2000)
>>> cand = y + rng.normal(0, 1.0, 2000)
>>> country = rng.choice(["de", "fr", "us"], 2000)
>>> cand[(country == "fr") & (y == 1)] -= 1.5  # worse in France
>>> res = gate.compare(y, base, cand, metric="roc_auc", margin=0.02, groups=country)
>>> res.decision, res.failed_slices
('fail', ['fr'])
"""

from fastmlops.gate._bootstrap import MAX_RESAMPLES, BootstrapResult, paired_bootstrap
from fastmlops.gate._compare import HYPOTHESES, TESTS, Comparison, SliceRow, compare
from fastmlops.gate._delong import DeLongResult, delong
from fastmlops.gate._mcnemar import McNemarResult, mcnemar
from fastmlops.gate._metrics import METRICS
from fastmlops.gate._stats import Interval
from fastmlops.gate.report import GateMetric, GateReport, gate_report

__all__ = [
    "HYPOTHESES",
    "MAX_RESAMPLES",
    "METRICS",
    "TESTS",
    "BootstrapResult",
    "Comparison",
    "DeLongResult",
    "GateMetric",
    "GateReport",
    "Interval",
    "McNemarResult",
    "SliceRow",
    "compare",
    "delong",
    "gate_report",
    "mcnemar",
    "paired_bootstrap",
]

# The result classes belong to this public module (pickles name their class by module).
for _cls in (DeLongResult, McNemarResult, BootstrapResult, Comparison, SliceRow, Interval,
             GateMetric, GateReport):
    _cls.__module__ = __name__
del _cls
