"""The parts of :mod:`fastmlops.mlflow` that need no MLflow: MLflow's limits,
column keys (:func:`column_keys`), and the metrics / params / tags a report
becomes, packed into requests.  The public documentation is in
:mod:`fastmlops.mlflow`."""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import re
from typing import TYPE_CHECKING, Any, Iterable, Sequence, SupportsFloat, TypeGuard

if TYPE_CHECKING:  # annotations only: nothing here needs MLflow or the reports' packages
    import datetime

    from mlflow.entities import Metric, Param, RunTag

    from fastmlops._core.results import TupleResult
    from fastmlops.slo import BurnRates, SLOStatus


#: MLflow's limits per ``log_batch`` request (``mlflow.utils.validation``).
MAX_METRICS_PER_REQUEST = 1000
MAX_PARAMS_PER_REQUEST = 100
MAX_TAGS_PER_REQUEST = 100
MAX_ENTITIES_PER_REQUEST = 1000
#: MLflow's limits on names and values.
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
#: The server refuses a ``log-batch`` body over 1 MB; we stay under this.
MAX_REQUEST_BYTES = 900_000

#: Room left for ``.<field>`` after ``<prefix>.<column key>`` in a metric name.
FIELD_ROOM = 40

#: Names a drift report uses for itself, never given to a column.
_RESERVED = ("summary", "sizes", "reference", "rule", "verdict", "status", "format")

_BAD_CHARS = re.compile(r"[^\w.\- ]")
_DRIFT_FORMAT = "fastmlops.drift_report"

# ------------------------------------------------------------------ names
def _hash8(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not prefix or _BAD_CHARS.search(prefix) \
            or prefix.startswith(".") or len(prefix) > 100:
        raise ValueError(f"prefix must be 1 to 100 letters, digits, '_', '-', '.' or spaces, "
                         f"not starting with '.', got {prefix!r}")
    return prefix


def unique_keys(names: Sequence[str], budget: int, reserved: Iterable[str] = ()) -> list[str]:
    """Sanitized keys, distinct from each other and from ``reserved`` (and
    from ``reserved + '.'``-prefixed names); see :func:`column_keys`."""
    reserved = tuple(reserved)

    def clashes_reserved(key: str) -> bool:
        return any(key == r or key.startswith(r + ".") for r in reserved)

    keys: list[str | None] = [None] * len(names)
    taken: set[str] = set()
    # Names valid as they are keep themselves (the first of equal names wins).
    for j, name in enumerate(names):
        if (0 < len(name) <= budget and not _BAD_CHARS.search(name)
                and not clashes_reserved(name) and name not in taken):
            keys[j] = name
            taken.add(name)
    for j, name in enumerate(names):
        if keys[j] is not None:
            continue
        base = _BAD_CHARS.sub("_", name)[: budget - 10] + "-" + _hash8(name)
        if clashes_reserved(base):  # "summary.x": no reserved word starts with "_"
            base = "_" + base
        key, n = base, 0
        while key in taken or clashes_reserved(key):
            n += 1
            suffix = f"-{j}" if n == 1 else f"-{j}-{n}"
            key = base[: budget - len(suffix)] + suffix
        keys[j] = key
        taken.add(key)
    return keys  # type: ignore[return-value]


def column_keys(names: Sequence[object], *, prefix: str = "drift") -> dict[str, str]:
    """Metric-name segments for column names, as
    :func:`~fastmlops.mlflow.log_report` uses them.

    Characters MLflow refuses in names (and ``/`` and ``:``) become ``_``; a
    name that changed, is empty, is too long for
    ``<prefix>.<key>.<field>`` to fit MLflow's 250 characters (``FIELD_ROOM``
    = 40 are kept for the field), or equals one of the report's own names
    (``summary``, ``sizes``, ``reference``, ``rule``, ``verdict``,
    ``status``, ``format``, or starts with one of them and ``.``) gets ``-``
    and the first 8 hex digits of the SHA-256 of its UTF-8 bytes appended (and
    ``_`` prepended when it starts with a report name and ``.``).  Keys
    are distinct: a name already valid keeps itself, and a remaining clash gets
    the column's position appended.

    Parameters
    ----------
    names : sequence of str
        Column names (converted with ``str``).
    prefix : str, default "drift"
        The metric-name prefix (it sets the length budget).

    Returns
    -------
    dict
        ``{column name: key}`` in column order (duplicate names: the first).

    Examples
    --------
    >>> from fastmlops.mlflow import column_keys
    >>> column_keys(["age", "income ($)", "a/b", "a_b"])
    {'age': 'age', 'income ($)': 'income ___-e7ef31d7', 'a/b': 'a_b-c14cddc0', 'a_b': 'a_b'}
    """
    prefix = check_prefix(prefix)
    texts = [str(n) for n in names]
    keys = unique_keys(texts, MAX_KEY_LENGTH - len(prefix) - 2 - FIELD_ROOM, _RESERVED)
    out: dict[str, str] = {}
    for name, key in zip(texts, keys):
        out.setdefault(name, key)
    return out


# ------------------------------------------------------------------ values
def _is_number(v: object) -> TypeGuard[numbers.Real]:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _as_float(v: SupportsFloat) -> float:
    return float(v)


def _text(v: object) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v):
        return ",".join(v)
    return json.dumps(jsonable(v), sort_keys=True, allow_nan=False)


def jsonable(v: object) -> Any:
    """Plain JSON types; non-finite floats become None (JSON has no NaN)."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if hasattr(v, "tolist") and not isinstance(v, (str, bytes)):  # numpy arrays and scalars
        return jsonable(v.tolist())
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        f = float(v)
        return f if math.isfinite(f) else None
    if hasattr(v, "total_seconds"):
        return v.total_seconds()
    return str(v)


def long_text(key: str, value: str, limit: int, artifact: str) -> str:
    """``value`` if it fits ``limit``, else a pointer to the artifact holding it."""
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"(too long for MLflow: {len(value)} characters, sha256:{digest}; see {artifact})"


class Entities:
    """Metrics, params and tags to send, with names checked for uniqueness."""

    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}
        self.params: dict[str, str] = {}
        self.tags: dict[str, str] = {}

    def metric(self, key: str, value: SupportsFloat | None) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            value = 1.0 if value else 0.0
        if key in self.metrics:  # pragma: no cover - our naming is injective
            raise AssertionError(f"metric name {key!r} used twice")
        self.metrics[key] = _as_float(value)

    def tag(self, key: str, value: object, artifact: str) -> None:
        if value is None:
            return
        self.tags[key] = long_text(key, _text(value), MAX_TAG_VALUE_LENGTH, artifact)

    def param(self, key: str, value: object, artifact: str) -> None:
        if value is None:
            return
        self.params[key] = long_text(key, _text(value), MAX_PARAM_VALUE_LENGTH, artifact)

    def scalar(self, key: str, value: object, artifact: str) -> None:
        """A number becomes a metric, text (or a list of codes) a tag."""
        if value is None:
            return
        if _is_number(value) or isinstance(value, bool):
            self.metric(key, value)
        else:
            self.tag(key, value, artifact)


# ------------------------------------------------------------------ drift reports
def drift_layout(report: Any) -> dict[str, Any]:
    """The report as the ``to_dict()`` layout of docs/drift-report-json.md."""
    to_dict = getattr(report, "to_dict", None)
    if callable(to_dict):
        data = to_dict()
        if not isinstance(data, dict) or data.get("format") != _DRIFT_FORMAT:
            raise TypeError("report.to_dict() did not return a fastmlops drift report "
                            f"(\"format\": \"{_DRIFT_FORMAT}\")")
        return data
    # A DriftReport from before to_dict(): the same layout from its fields.
    records = report.to_records()
    columns = []
    for r in records:
        col = {"name": r["column"], "verdict": r["verdict"]}
        col.update({k: v for k, v in r.items() if k not in ("column", "verdict", "psi_verdict")})
        col["psi_tier"] = r["psi_verdict"]
        columns.append(col)
    n = len(columns)
    counts = {v: sum(c["verdict"] == v for c in columns) for v in ("drift", "watch", "ok")}
    return {
        "format": _DRIFT_FORMAT, "version": 1, "verdict": report.verdict,
        "summary": {"n_columns": n, "n_drift": counts["drift"], "n_watch": counts["watch"],
                    "n_ok": counts["ok"], "share_drifted": report.share_drifted,
                    "drifted": report.drifted},
        "sizes": {"current_rows": report.n_rows},
        "rule": {"alpha": report.alpha, "drift_share": report.drift_share,
                 "nan_increase": report.nan_increase},
        "columns": columns,
    }


def is_drift_report(report: object) -> bool:
    if callable(getattr(report, "to_dict", None)) and hasattr(report, "column_verdict"):
        return True
    return callable(getattr(report, "to_records", None)) and hasattr(report, "column_verdict")


def drift_entities(data: dict[str, Any], prefix: str, artifact: str
                   ) -> tuple[Entities, dict[str, str]]:
    ent = Entities()
    ent.tag(f"{prefix}.verdict", data.get("verdict"), artifact)
    ent.tag(f"{prefix}.format", f"{data.get('format')}/{data.get('version')}", artifact)
    for name, value in (data.get("summary") or {}).items():
        if isinstance(value, dict):
            for sub, v in value.items():
                ent.scalar(f"{prefix}.summary.{name}.{_segment(sub)}", v, artifact)
        else:
            ent.scalar(f"{prefix}.summary.{_segment(name)}", value, artifact)
    for name, value in (data.get("sizes") or {}).items():
        ent.scalar(f"{prefix}.sizes.{_segment(name)}", value, artifact)
    for name, value in (data.get("reference") or {}).items():
        ent.scalar(f"{prefix}.reference.{_segment(name)}", value, artifact)
    for name, value in (data.get("rule") or {}).items():
        ent.param(f"{prefix}.rule.{_segment(name)}", value, artifact)
    columns = data.get("columns") or []
    names = [str(c.get("name", "")) for c in columns]
    keys = unique_keys(names, MAX_KEY_LENGTH - len(prefix) - 2 - FIELD_ROOM, _RESERVED)
    for col, name, key in zip(columns, names, keys):
        base = f"{prefix}.{key}"
        if key != name:
            ent.tag(f"{base}.name", name, artifact)
        for fname, value in col.items():
            if fname in ("name", "plot"):
                continue
            if isinstance(value, dict):  # "unseen": {"count", "share", "distinct", "examples"}
                for sub, v in value.items():
                    if not isinstance(v, (list, tuple, dict)):
                        ent.scalar(f"{base}.{_segment(fname)}_{_segment(sub)}", v, artifact)
            elif isinstance(value, (list, tuple)):
                if value:  # reason codes
                    ent.tag(f"{base}.{_segment(fname)}", value, artifact)
            else:
                ent.scalar(f"{base}.{_segment(fname)}", value, artifact)
    return ent, dict(zip(names, keys))


def _segment(name: object) -> str:
    """A fixed field name of a report, checked (these never need changing)."""
    s = str(name)
    if _BAD_CHARS.search(s) or not s or len(s) > FIELD_ROOM - 1:
        return _BAD_CHARS.sub("_", s)[: FIELD_ROOM - 10] + "-" + _hash8(s)
    return s


# ------------------------------------------------------------------ SLO and A/B results
def slo_status_entities(status: SLOStatus, prefix: str, artifact: str) -> Entities:
    ent = Entities()
    for name in ("good", "total", "availability", "latency"):
        ent.metric(f"{prefix}.{name}", getattr(status, name))
    for sli, windows in status.burn_rates.items():
        for window, rate in windows.items():
            ent.metric(f"{prefix}.burn_rate.{_segment(sli)}.{_window_label(window)}", rate)
    for sli, left in status.budget_remaining.items():
        ent.metric(f"{prefix}.budget_remaining.{_segment(sli)}", left)
    ent.metric(f"{prefix}.alerts", len(status.alerts))
    ent.tag(f"{prefix}.ok", status.ok, artifact)
    ent.tag(f"{prefix}.check_line", status.check_line, artifact)
    if status.alerts:
        ent.tag(f"{prefix}.alert_names", [a.name for a in status.alerts], artifact)
    return ent


def _window_label(window: datetime.timedelta | int) -> str:
    minutes = window.total_seconds() / 60 if hasattr(window, "total_seconds") else window
    minutes = int(round(minutes))
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def result_entities(result: TupleResult, prefix: str, artifact: str
                    ) -> tuple[Entities, dict[str, list[float]]]:
    """An A/B result: scalars as metrics/tags, pairs as ``.low``/``.high``,
    arrays as one series per field (``step`` = position)."""
    ent = Entities()
    series: dict[str, list[float]] = {}
    for name, value in result._asdict().items():
        key = f"{prefix}.{_segment(name)}"
        if hasattr(value, "ndim") and getattr(value, "ndim", 0) > 0:
            series[key] = [float(x) for x in value.ravel().tolist()]
        elif isinstance(value, tuple) and len(value) == 2 and all(_is_number(x) for x in value):
            ent.metric(f"{key}.low", value[0])
            ent.metric(f"{key}.high", value[1])
        elif hasattr(value, "item") and not isinstance(value, (str, bytes)):
            ent.scalar(key, value.item(), artifact)
        else:
            ent.scalar(key, value, artifact)
    return ent, series


def burn_rates_series(rates: BurnRates, prefix: str) -> dict[str, list[float]]:
    return {f"{prefix}.burn_rate.{_window_label(w)}": [float(x) for x in rates.rates[k].tolist()]
            for k, w in enumerate(rates.windows)}


# ------------------------------------------------------------------ requests
def plan(metrics: list[Metric], params: list[Param], tags: list[RunTag]
         ) -> list[tuple[list[Metric], list[Param], list[RunTag]]]:
    """Pack entities into requests under MLflow's count and size limits."""
    def size(e: Metric | Param | RunTag) -> int:
        return len(json.dumps(e.key)) + len(json.dumps(str(e.value))) + 60

    requests: list[tuple[list[Metric], list[Param], list[RunTag]]] = []
    queues: list[list[Metric | Param | RunTag]] = [list(reversed(params)), list(reversed(tags)),
                                                   list(reversed(metrics))]
    caps = [MAX_PARAMS_PER_REQUEST, MAX_TAGS_PER_REQUEST, MAX_METRICS_PER_REQUEST]
    while any(queues):
        # (params, tags, metrics), each list of its queue's type
        parts: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
        total = nbytes = 0
        for queue, part, cap in zip(queues, parts, caps):
            while (queue and len(part) < cap and total < MAX_ENTITIES_PER_REQUEST
                   and (nbytes + size(queue[-1]) <= MAX_REQUEST_BYTES or total == 0)):
                e = queue.pop()
                nbytes += size(e)
                part.append(e)
                total += 1
        requests.append((parts[2], parts[0], parts[1]))  # (metrics, params, tags)
    return requests


def slo_status_dict(status: SLOStatus) -> dict[str, Any]:
    return {
        "time": status.time, "good": status.good, "total": status.total,
        "availability": status.availability, "latency": status.latency,
        "burn_rates": {sli: {_window_label(w): r for w, r in ws.items()}
                       for sli, ws in status.burn_rates.items()},
        "budget_remaining": status.budget_remaining, "ok": status.ok,
        "check_line": status.check_line,
        "alerts": [{"name": a.name, "severity": a.severity, "sli": a.sli,
                    "message": a.message, "time": a.time,
                    "burn_rates": {_window_label(w): r for w, r in a.burn_rates.items()}}
                   for a in status.alerts],
    }


def flatten(value: object, path: str, out: dict[str, object]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            flatten(v, f"{path}.{k}" if path else str(k), out)
    else:
        out[path] = value


def param_text(value: object) -> str:
    """As ``mlflow.log_params`` writes values (``str``), so the two agree."""
    if isinstance(value, (str, bool, int, float)) or value is None:
        return str(value)
    return json.dumps(value, sort_keys=True)
