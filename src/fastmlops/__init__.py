"""fastmlops: the statistics of production ML monitoring on native-speed kernels.

``import fastmlops`` is cheap: it imports neither Numba nor scipy and compiles
nothing.  Public names are loaded on first access.  Call
:func:`fastmlops.warmup` (or run ``fastmlops warmup``) at server start or in a
container build to compile, or load from the on-disk cache, every kernel ahead
of the first request.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "ks_2samp": "fastmlops.drift",
    "KstestResult": "fastmlops.drift",
    "DriftReference": "fastmlops.drift",
    "DriftReport": "fastmlops.drift",
    "psi": "fastmlops.divergence",
    "kl_divergence": "fastmlops.divergence",
    "js_divergence": "fastmlops.divergence",
    "psi_verdict": "fastmlops.divergence",
    "chisquare_2samp": "fastmlops.drift.categorical",
    "Chi2Result": "fastmlops.drift.categorical",
    "warmup": "fastmlops._core.warmup",
    "hash_file": "fastmlops.fingerprint",
    "hash_tree": "fastmlops.fingerprint",
    "Manifest": "fastmlops.fingerprint",
    "ModelVersion": "fastmlops.fingerprint",
    "SlidingWindow": "fastmlops.quantiles",
    "Reservoir": "fastmlops.quantiles",
    "histogram_quantile": "fastmlops.quantiles",
    "instrument": "fastmlops.telemetry",
    "span": "fastmlops.telemetry",
    "record_request": "fastmlops.telemetry",
    "DriftMonitor": "fastmlops.monitor",
}

#: Public submodules, importable as attributes (``fastmlops.slo.error_budget``).
_SUBMODULES = {"drift", "divergence", "fingerprint", "slo", "abtest", "canary", "losses",
               "quantiles", "telemetry", "metrics", "cli", "otel", "mlflow",
               "categorical", "monitor", "quality", "gate", "rollout"}

__all__ = sorted(_LAZY) + sorted(_SUBMODULES) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from fastmlops._core.warmup import warmup
    from fastmlops.drift.categorical import Chi2Result, chisquare_2samp
    from fastmlops.divergence import js_divergence, kl_divergence, psi, psi_verdict
    from fastmlops.drift import DriftReference, DriftReport, KstestResult, ks_2samp
    from fastmlops.fingerprint import Manifest, ModelVersion, hash_file, hash_tree
    from fastmlops.quantiles import Reservoir, SlidingWindow, histogram_quantile
    from fastmlops.telemetry import instrument, record_request, span


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"fastmlops.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fastmlops' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
