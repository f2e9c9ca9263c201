"""What :mod:`fastmlops.metrics` reads back from shared memory, validated:
label-set records, exemplars and a metric file's definition.

Any process of the user (or a damaged disk) can change a metric file, so
nothing read from one is trusted: a record that is not what fastmlops writes
raises ValueError here (the caller skips it with a warning) instead of
reaching prometheus_client, where one bad value would break every scrape.
Nesting is measured before JSON is parsed (a deep one would raise
RecursionError)."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["decode_definition", "decode_exemplar", "decode_key", "max_depth"]

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_KIND_FIELDS: dict[str, dict[str, type]] = {
    "counter": {}, "histogram": {"buckets": list}, "gauge": {"multiprocess_mode": str}}


def max_depth(text: str) -> int:
    """How deeply the arrays and objects of the JSON ``text`` nest (brackets
    inside strings do not count), without parsing it."""
    opening = text.count("[") + text.count("{")
    if opening <= 1:  # the usual record: no bracket but its own
        return opening
    depth = deepest = 0
    for m in _BRACKET.finditer(_STRING.sub("", text)):
        if m.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _loads(raw: bytes, depth: int) -> Any:
    text = raw.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if max_depth(text) > depth:
        raise ValueError(f"nested more than {depth} deep")
    return json.loads(text)


def _exposable(texts: list[str]) -> None:
    """ValueError for a lone surrogate (a JSON escape fastmlops never writes):
    the exposition could not encode it."""
    "".join(texts).encode("utf-8")


def decode_key(raw: bytes, n_labels: int | None) -> tuple[str, ...]:
    """The label values stored in a record (a JSON array of strings, one per
    label name when ``n_labels`` is given)."""
    key = _loads(raw, 1)
    if not isinstance(key, list) or not all(isinstance(v, str) for v in key):
        raise ValueError("not a list of label values (strings)")
    if n_labels is not None and len(key) != n_labels:
        raise ValueError(f"{len(key)} label value(s) where the metric has {n_labels} "
                         "label name(s)")
    _exposable(key)
    return tuple(key)


def decode_exemplar(raw: bytes) -> dict[str, str]:
    """An exemplar's labels: an object of valid label names to strings, at
    most 128 characters together (prometheus_client's limit)."""
    labels = _loads(raw, 1)
    if not isinstance(labels, dict):
        raise ValueError("not an object of labels")
    runes = 0
    for k, v in labels.items():
        if not isinstance(v, str) or not _LABEL_RE.match(k) or k.startswith("__"):
            raise ValueError(f"not an exemplar label: {k!r}")
        runes += len(k) + len(v)
    if runes > 128:
        raise ValueError("exemplar labels beyond 128 characters")
    _exposable([*labels, *labels.values()])
    return labels


def decode_definition(raw: bytes, name: str) -> dict[str, Any]:
    """A metric file's definition (see ``segment.encode_definition``), which
    must be that of metric ``name`` (the file's own): a definition naming
    another metric would make a reader open that metric's file instead."""
    meta = _loads(raw, 2)
    if not isinstance(meta, dict):
        raise ValueError("its definition is not a JSON object")
    kind = meta.get("type")
    fields: dict[str, type] = {"name": str, "help": str, "labelnames": list, "unit": str,
                               **_KIND_FIELDS.get(kind if isinstance(kind, str) else "", {})}
    if kind not in _KIND_FIELDS:
        raise ValueError(f"unknown metric type {kind!r}")
    for field, typ in fields.items():
        if not isinstance(meta.get(field), typ):
            raise ValueError(f"its definition's {field!r} is not a {typ.__name__}")
    if meta["name"] != name or not _NAME_RE.match(name):
        raise ValueError(f"its definition names metric {meta['name'][:80]!r}, not {name!r}")
    if not all(isinstance(x, str) for x in meta["labelnames"]):
        raise ValueError("its definition's label names are not all strings")
    bounds = meta.get("buckets", [])
    if not all(b == "+Inf" or (isinstance(b, (int, float)) and not isinstance(b, bool))
               for b in bounds):
        raise ValueError("its definition's buckets are not all numbers")
    _exposable([meta["help"], meta["unit"], *meta["labelnames"]])
    return meta
