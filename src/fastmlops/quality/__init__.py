"""Quality metrics of binary classifiers and regressors, equal to scikit-learn's.

Ranking: :func:`roc_auc`, :func:`average_precision`.  Probabilities:
:func:`log_loss`, :func:`brier_score`, :func:`calibration` (expected
calibration error and the reliability table).  At a threshold:
:func:`accuracy`, :func:`precision_recall_f1`.  Regression: :func:`rmse`,
:func:`mae`, :func:`r2`.  Several at once: :func:`evaluate`.

Every function takes

* ``y_true``: binary labels (bool or 0/1; any two values with
  ``pos_label``), or the target for regression;
* scores of one model (1-D), of several (2-D rows x models, or a DataFrame
  whose columns are the models);
* ``sample_weight`` (non-negative, finite) and ``groups`` (a slice label per
  row: country, device; ints or strings), all optional.

and returns a float for a single 1-D score column without groups, else a
:class:`QualityResult` whose ``values[i, j]`` is the metric of group ``i``
(one row without groups) and model ``j``.  Each model is read once, the
groups are accumulated during that pass: ROC AUC per group comes from one sort
of the whole column.

Rules (details in docs/quality.md):

* NaN in labels, scores or weights raises ``ValueError`` naming the column and
  counting the rows: drop or fill them first;
* a metric undefined for a group is NaN: AUC with one class only (scikit-learn
  raises), average precision without positives, anything with zero weight,
  precision with nothing predicted positive (as ``zero_division=np.nan``), R²
  with a constant target;
* AUC and AP are exact up to float rounding (relative ~1e-12 against
  scikit-learn), the other metrics too.

Examples
--------
>>> import numpy as np
>>> from fastmlops import quality
>>> y = np.array([0, 0, 1, 1, 0, 1])
>>> p = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
>>> round(quality.roc_auc(y, p), 4)
0.8889
>>> quality.roc_auc(y, p, groups=["a", "a", "a", "b", "b", "b"]).to_dict()
{'a': {'scores': 0.5}, 'b': {'scores': 1.0}}
"""

from fastmlops.quality._calibration import calibration
from fastmlops.quality._evaluate import METRICS, evaluate
from fastmlops.quality._probability import brier_score, log_loss
from fastmlops.quality._ranking import average_precision, roc_auc
from fastmlops.quality._regression import mae, r2, rmse
from fastmlops.quality._results import (
                                        Calibration,
                                        PrecisionRecallF1,
                                        QualityResult,
                                        ReliabilityTable,
)
from fastmlops.quality._threshold import accuracy, precision_recall_f1

__all__ = [
                                        "METRICS",
                                        "Calibration",
                                        "PrecisionRecallF1",
                                        "QualityResult",
                                        "ReliabilityTable",
                                        "accuracy",
                                        "average_precision",
                                        "brier_score",
                                        "calibration",
                                        "evaluate",
                                        "log_loss",
                                        "mae",
                                        "precision_recall_f1",
                                        "r2",
                                        "rmse",
                                        "roc_auc",
]
