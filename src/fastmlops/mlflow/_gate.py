"""A model-quality gate report (:class:`fastmlops.gate.report.GateReport`) as
MLflow metrics, params and tags (the names are documented in
:mod:`fastmlops.mlflow`).  Read from the report's stable JSON layout
(``docs/gate-report-json.md``); no MLflow needed here."""

from __future__ import annotations

from typing import Any

from fastmlops.mlflow._values import (
    FIELD_ROOM,
    MAX_KEY_LENGTH,
    Entities,
    unique_keys,
)

GATE_FORMAT = "fastmlops.gate_report"
#: The figures of a metric logged as MLflow metrics (the rest is in the JSON).
_FIGURES = ("baseline", "candidate", "difference", "se", "statistic", "pvalue",
            "pvalue_adjusted", "power", "margin")
_INTERVALS = ("baseline_interval", "candidate_interval", "difference_interval")


def is_gate_report(report: object) -> bool:
    """A gate report: ``to_dict()`` and the ``comparisons`` of its metrics."""
    return callable(getattr(report, "to_dict", None)) and hasattr(report, "failed_metrics") \
        and hasattr(report, "metrics") and hasattr(report, "decision")


def gate_layout(report: Any) -> dict[str, Any]:
    data = report.to_dict()
    if not isinstance(data, dict) or data.get("format") != GATE_FORMAT:
        raise TypeError("report.to_dict() did not return a fastmlops gate report "
                        f"(\"format\": \"{GATE_FORMAT}\")")
    return data


def gate_entities(data: dict[str, Any], prefix: str, artifact: str
                  ) -> tuple[Entities, dict[str, str]]:
    """Tags ``<prefix>.decision``, ``.baseline``, ``.candidate``,
    ``.failed_metrics``, ``.failed_slices``; per metric the figures of both
    models and the difference (``.low``/``.high`` for intervals) as metrics,
    decision, test and why as tags; per slice and metric the difference, the
    adjusted p-value and whether it is flagged (a slice whose key differs from
    its value has the tag ``<prefix>.slices.<key>.name``); the rule as params."""
    ent = Entities()
    ent.tag(f"{prefix}.decision", data.get("decision"), artifact)
    ent.tag(f"{prefix}.format", f"{data.get('format')}/{data.get('version')}", artifact)
    names = data.get("names") or {}
    ent.tag(f"{prefix}.baseline", names.get("baseline"), artifact)
    ent.tag(f"{prefix}.candidate", names.get("candidate"), artifact)
    summary = data.get("summary") or {}
    ent.tag(f"{prefix}.headline", summary.get("headline"), artifact)
    if summary.get("failed_metrics"):
        ent.tag(f"{prefix}.failed_metrics", [str(m) for m in summary["failed_metrics"]],
                artifact)
    if summary.get("failed_slices"):
        ent.tag(f"{prefix}.failed_slices", [str(g) for g in summary["failed_slices"]],
                artifact)
    ent.metric(f"{prefix}.n_rows", (data.get("sizes") or {}).get("n_rows"))
    ent.metric(f"{prefix}.passed", data.get("decision") == "pass")
    rule = data.get("rule") or {}
    for key in ("hypothesis", "alpha", "correction", "slice_column"):
        ent.param(f"{prefix}.rule.{key}", rule.get(key), artifact)
    ent.param(f"{prefix}.rule.metrics", [str(m.get("metric")) for m in
                                         data.get("metrics") or []], artifact)
    for m in data.get("metrics") or []:
        base = f"{prefix}.{m['metric']}"
        for key in _FIGURES:
            ent.metric(f"{base}.{key}", m.get(key))
        for key in _INTERVALS:
            low, high = (m.get(key) or [None, None])[:2]
            ent.metric(f"{base}.{key}.low", low)
            ent.metric(f"{base}.{key}.high", high)
        ent.metric(f"{base}.passed", m.get("decision") == "pass")
        for key in ("decision", "test", "why"):
            ent.tag(f"{base}.{key}", m.get(key), artifact)
    slices = data.get("slices") or []
    groups = [str(s.get("group")) for s in slices]
    budget = MAX_KEY_LENGTH - len(prefix) - 2 - FIELD_ROOM - 24  # room for the metric
    keys = unique_keys(groups, budget)  # slices have a namespace of their own
    for s, group, key in zip(slices, groups, keys):
        if key != group:
            ent.tag(f"{prefix}.slices.{key}.name", group, artifact)
        for metric, v in (s.get("metrics") or {}).items():
            base = f"{prefix}.{metric}.slices.{key}"
            ent.metric(f"{base}.difference", v.get("difference"))
            ent.metric(f"{base}.pvalue_adjusted", v.get("pvalue_adjusted"))
            ent.metric(f"{base}.flagged", bool(v.get("flagged")))
    return ent, dict(zip(groups, keys))
