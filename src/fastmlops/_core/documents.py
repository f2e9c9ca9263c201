"""What the HTML renderers of the reports share: reading back a report's
JSON layout (a dict from ``to_dict()`` or parsed JSON, hostile until checked)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["base_css", "check_document", "finite"]


def finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (absent, not a number, NaN, inf)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def check_document(doc: object, *, fmt: str, versions: Sequence[int], keys: Sequence[str],
                   what: str, source: str) -> Mapping[str, Any]:
    """``doc`` when it is a mapping of the layout ``fmt``, of a version in
    ``versions``, with every key of ``keys``; else TypeError/ValueError naming
    ``what`` ("drift report") and where a right one comes from (``source``,
    e.g. "DriftReport.to_dict()")."""
    if not isinstance(doc, Mapping):
        raise TypeError(f"render() takes the dict of {source}, got {type(doc).__name__}")
    if doc.get("format") != fmt:
        raise ValueError(f"not a {what}: 'format' is {doc.get('format')!r}, "
                         f"expected {fmt!r} (pass {source})")
    if doc.get("version") not in versions:
        raise ValueError(f"{what} layout version {doc.get('version')!r} is not supported "
                         f"(this fastmlops reads version {', '.join(map(str, versions))}); "
                         "upgrade fastmlops")
    for key in keys:
        if key not in doc:
            raise ValueError(f"{what} has no {key!r}; pass {source}")
    return doc


def base_css() -> str:
    """The CSS every report page shares (``_core/_assets/base.css``); a page
    puts it before its own."""
    from importlib import resources

    return resources.files("fastmlops._core").joinpath("_assets", "base.css") \
        .read_text(encoding="utf-8")
