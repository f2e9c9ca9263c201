"""Span metadata as OpenTelemetry attributes (:func:`to_attributes`).

Used by the tracing bridge of :func:`fastmlops.telemetry.span` and by the
OTLP metrics exporter; public as :func:`fastmlops.otel.to_attributes`.
Imports no OpenTelemetry package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["to_attributes"]

_MAX_DEPTH = 8
_INT64 = (-(1 << 63), (1 << 63) - 1)
_PLAIN = (str, bool, float)

#: An OpenTelemetry attribute value: a primitive or a tuple of one primitive type.
AttributeValue = str | bool | int | float | tuple[str | bool | int | float | None, ...]


def _scalar(value: Any) -> str | bool | int | float | None:
    """One attribute value of a primitive type, or None (dropped)."""
    cls = type(value)
    if cls is str or cls is bool or cls is float:
        return value
    if cls is int:
        return value if _INT64[0] <= value <= _INT64[1] else str(value)
    if value is None:
        return None
    if isinstance(value, (str, bool, float)):  # subclasses (an IntEnum is an int)
        return (str if isinstance(value, str) else
                bool if isinstance(value, bool) else float)(value)
    if isinstance(value, int):
        return _scalar(int(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if cls.__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return _scalar(value.item())
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a __str__ that raises: dropped
        return None


def _sequence(values: Any) -> tuple[str | bool | int | float | None, ...]:
    items = [_scalar(v) for v in values]
    kinds = {type(v) for v in items if v is not None}
    if len(kinds) > 1:
        if kinds <= {int, float}:
            items = [None if v is None else float(v) for v in items]
        else:  # mixed types: OpenTelemetry wants one type per array
            items = [None if v is None else (str(v).lower() if type(v) is bool else str(v))
                     for v in items]
    return tuple(items)


def _flatten(key: str, value: Any, out: dict[str, AttributeValue], depth: int) -> None:
    cls = type(value)
    if cls in _PLAIN or (cls is int and _INT64[0] <= value <= _INT64[1]):
        out[key] = value  # the usual case, first
        return
    if value is None:
        return
    if isinstance(value, Mapping):
        if depth >= _MAX_DEPTH:
            deep = _scalar(value)
            if deep is not None:
                out[key] = deep
            return
        for k, v in value.items():
            _flatten(f"{key}.{_key(k)}", v, out, depth + 1)
        return
    if isinstance(value, (list, tuple, set, frozenset)) or (
            type(value).__module__ == "numpy" and getattr(value, "ndim", 0) == 1):
        out[key] = _sequence(value)
        return
    converted = _scalar(value)
    if converted is not None:
        out[key] = converted


def _key(k: Any) -> str:
    if type(k) is str:
        return k
    s = _scalar(k)
    return "" if s is None else s if type(s) is str else str(s).lower() if type(s) is bool \
        else str(s)


def to_attributes(metadata: Mapping[str, Any] | None) -> dict[str, AttributeValue]:
    """OpenTelemetry attributes from a span's metadata; never raises.

    OpenTelemetry accepts ``str``, ``bool``, ``int`` (64-bit), ``float`` and
    one-type sequences of those.  Other values are converted, or dropped:

    ========================================  ====================================
    value                                     attribute
    ========================================  ====================================
    ``None``                                  dropped (also as a dict value)
    ``str``, ``bool``, ``float``, 64-bit int  unchanged (subclasses such as enums:
                                              their base-type value)
    int beyond 64 bits                        its decimal ``str``
    numpy scalar                              its Python value (``.item()``)
    ``bytes``                                 UTF-8 text (bad bytes as ``\\xNN``)
    dict (any ``Mapping``)                    flattened: ``{"a": {"b": 1}}`` gives
                                              ``"a.b": 1``; deeper than 8: ``str``
    list, tuple, set, 1-D numpy array         a tuple; ints mixed with floats become
                                              floats, other mixes all ``str``;
                                              ``None`` items stay ``None``
    anything else (a ModelVersion, a path)    ``str(value)``; dropped if that raises
    ========================================  ====================================

    Keys are ``str(key)``; an empty key is dropped.  Also importable as
    :func:`fastmlops.otel.to_attributes`.

    Examples
    --------
    >>> from fastmlops.telemetry.attributes import to_attributes
    >>> to_attributes({"model": "v1", "threshold": 0.5, "owner": None,
    ...                "features": {"count": 12, "names": ["age", "income"]},
    ...                "ids": [1, 2.5], "big": 2**70})
    {'model': 'v1', 'threshold': 0.5, 'features.count': 12,
     'features.names': ('age', 'income'), 'ids': (1.0, 2.5),
     'big': '1180591620717411303424'}
    """
    out: dict[str, AttributeValue] = {}
    if not metadata:
        return out
    try:
        items = list(metadata.items())
    except Exception:  # noqa: BLE001 - not a mapping after all
        return out
    for k, v in items:
        try:
            key = _key(k)
            if key:
                _flatten(key, v, out, 0)
        except Exception:  # noqa: BLE001 - one bad value never loses the others
            continue
    return out
