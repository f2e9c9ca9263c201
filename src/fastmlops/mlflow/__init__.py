"""MLflow integration: drift reports, SLO and A/B results, and model versions in runs.

Needs MLflow's client (``pip install 'fastmlops[mlflow]'``, which installs
``mlflow-skinny``).  ``import fastmlops`` never imports MLflow; this module
imports it on first use.

* :func:`log_report` -- a :class:`~fastmlops.DriftReport` (or an
  :class:`~fastmlops.slo.SLOStatus`, :class:`~fastmlops.slo.BurnRates` or an
  A/B test result of :mod:`fastmlops.abtest`) as metrics, params and tags of a
  run, every value, in as few ``log_batch`` requests as MLflow's limits allow,
  plus the report's JSON (and HTML, where the report has one) as artifacts.
* :func:`log_model_version` -- a :class:`~fastmlops.fingerprint.ModelVersion`
  (weights, data, hyper-parameters, environment, seed) as params and tags, the
  version JSON and file manifests as artifacts, and the data fingerprint as an
  MLflow dataset input.
* :func:`column_keys` -- how column names become metric names (below).

How values are named
--------------------
A drift report with prefix ``"drift"`` (the default) becomes:

* metrics ``drift.<column>.<field>`` for every numeric field of every column
  (``ks_statistic``, ``ks_pvalue``, ``psi``, ``kl``, ``jsd``, ``nan_share``,
  ...; a true/false field as 1/0; the ``unseen`` counts as ``unseen_count``,
  ``unseen_share``, ``unseen_distinct``), and ``drift.summary.<figure>``,
  ``drift.summary.reasons.<code>``, ``drift.sizes.<rows>``;
* tags ``drift.<column>.<field>`` for every text field of every column
  (``verdict``, ``kind``, ``psi_tier``, ``explanation``; the ``reasons``
  codes comma-separated, when there are any), and ``drift.verdict``;
* params ``drift.rule.<setting>`` (``alpha``, ``drift_share``, ``bins``, ...);
* artifacts ``fastmlops/drift_report.json`` (the layout of
  ``docs/drift-report-json.md``; plot data, unseen examples and every value
  not logged above live only there) and ``fastmlops/drift_report.html`` when
  the report can render one.

A model-quality gate report (:func:`fastmlops.gate.report.gate_report`) with
prefix ``"gate"`` becomes the tag ``gate.decision`` ("pass"/"fail"), per
metric ``gate.<metric>.baseline``, ``.candidate`` and ``.difference`` (with
their intervals' ``.low``/``.high``) and the p-values as metrics, the test and
the reason as tags, per slice ``gate.<metric>.slices.<slice>.*``, and the
artifacts ``fastmlops/gate_report.json`` (``docs/gate-report-json.md``) and
``fastmlops/gate_report.html`` (see :func:`log_report`).

A value that does not apply (``null`` in the JSON) is not logged.  NaN is
logged as NaN; MLflow's SQL stores keep ``+-inf`` as ``+-1.7976931348623157e308``.

Column names become metric-name segments by :func:`column_keys`: every
character MLflow does not allow in names (anything but letters, digits,
``_ - . `` and space; ``/`` and ``:`` too, as they mean paths and are refused
on Windows) becomes ``_``; a name that had to change, is empty, is longer than
MLflow allows, or would clash with the report's own names (``summary``,
``sizes``, ``rule``...) gets ``-`` and 8 hex digits of the SHA-256 of the
original name appended.  Two columns never share a key (any remaining clash
gets the column's position appended); the tag ``drift.<key>.name`` holds the
original name of every column whose key differs from it.

Batching, failures and retries
------------------------------
Everything is sent with :meth:`mlflow.MlflowClient.log_batch` (synchronous),
packed under MLflow's per-request limits: at most 1,000 metrics, 100 params,
100 tags and 1,000 entities in all, and under 900 kB of JSON (the server
refuses 1 MB), all with one timestamp per report.  MLflow's REST client retries
connection errors, HTTP 429 and 5xx with exponential backoff
(``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, default 7;
``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR``, default 2;
``MLFLOW_HTTP_REQUEST_TIMEOUT``, default 120 s per attempt); fastmlops adds no
retries of its own.  A report is never left half-logged silently: the first
request tags the run ``<prefix>.status = incomplete``, the last one (after the
artifacts) ``complete``; when a request still fails, :class:`MlflowLogError`
says how many requests were written and the run keeps the ``incomplete`` tag.
Calling again with the same ``timestamp=`` (the error carries it) completes
the report without duplicating metrics.

The parts live in private modules: ``_values`` (limits, names and values,
no MLflow needed), ``_client`` (MLflow, requests and results), ``_report``
(:func:`log_report`), ``_gate`` (a gate report's names) and ``_version``
(:func:`log_model_version`).
"""

from __future__ import annotations

from fastmlops.mlflow._client import LoggedValues, MlflowLogError
from fastmlops.mlflow._report import log_report
from fastmlops.mlflow._values import (
    MAX_ENTITIES_PER_REQUEST,
    MAX_METRICS_PER_REQUEST,
    MAX_PARAMS_PER_REQUEST,
    MAX_TAGS_PER_REQUEST,
    column_keys,
)
from fastmlops.mlflow._version import log_model_version

# importable from here as before, not in ``__all__``
from fastmlops.mlflow._client import INSTALL_HINT  # noqa: F401
from fastmlops.mlflow._values import FIELD_ROOM, MAX_KEY_LENGTH  # noqa: F401
from fastmlops.mlflow._values import MAX_PARAM_VALUE_LENGTH  # noqa: F401
from fastmlops.mlflow._values import MAX_REQUEST_BYTES, MAX_TAG_VALUE_LENGTH  # noqa: F401

__all__ = ["log_report", "log_model_version", "column_keys", "LoggedValues", "MlflowLogError",
           "MAX_METRICS_PER_REQUEST", "MAX_PARAMS_PER_REQUEST", "MAX_TAGS_PER_REQUEST",
           "MAX_ENTITIES_PER_REQUEST"]
