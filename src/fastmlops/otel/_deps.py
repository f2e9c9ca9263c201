"""What :mod:`fastmlops.otel` and its exporter share: importing an optional
OpenTelemetry package with an error that names the extra to install."""

from __future__ import annotations

import types

_EXTRA = "pip install fastmlops[otel]"


def require(module: str, what: str) -> types.ModuleType:
    """Import ``module`` or raise an ImportError naming the extra."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise ImportError(f"fastmlops {what} needs {module.split('.')[0]}'s "
                          f"{'opentelemetry-proto' if 'proto' in module else 'opentelemetry-api'}"
                          f" package: {_EXTRA} (missing: {exc.name or module})") from None
