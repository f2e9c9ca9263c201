"""Drift detection: the two-sample Kolmogorov-Smirnov test and a reusable
reference for checking many production batches against one training sample.

* :func:`ks_2samp` is a drop-in for :func:`scipy.stats.ks_2samp`: the same
  statistic (bit for bit, ties included), the same p-values (``exact`` and
  ``asymp``, agreeing to 1e-10 relative for p-values of at least 1e-307),
  the same result fields, plus ``axis`` / ``nan_policy`` for testing many
  columns in one parallel call.
* :class:`DriftReference` sorts and bins a reference table once, then checks
  any number of current batches: KS, PSI, KL, JSD and NaN share per column,
  with a verdict per column and for the whole table.
* :meth:`DriftReference.check_over_time` gives a :class:`DriftTimeline`:
  one exact report per time bucket or chunk of rows (``docs/drift-over-time.md``).
* :class:`DriftState` is the mergeable partial state of a check, for data
  counted in pieces (streams, Dask, Spark, Ray: see ``docs/drift-state.md``).

The package's modules, from the bottom up: ``categories`` (category maps and
counts), ``columns`` (the model of each reference column), ``counts`` (what a
pass over current data leaves per column), ``judge`` (counts -> tests ->
verdicts -> :class:`DriftReport`), ``report``, ``state``; private modules
hold the KS engine, tables, files, the saved-reference format and the HTML
report.
"""

from fastmlops.drift._ks import KstestResult, ks_2samp
from fastmlops.drift._reference import DriftReference
from fastmlops.drift.report import DriftReport
from fastmlops.drift.state import DriftState
from fastmlops.drift.timeline import DriftTimeline, TimeChunk

__all__ = ["DriftReference", "DriftReport", "DriftState", "DriftTimeline", "KstestResult",
           "TimeChunk", "ks_2samp"]
