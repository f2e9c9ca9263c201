"""The examples in the public docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = ["fastmlops.drift", "fastmlops.divergence", "fastmlops._core.warmup",
           "fastmlops.fingerprint", "fastmlops.slo", "fastmlops.abtest", "fastmlops.canary",
           "fastmlops.losses", "fastmlops.quantiles", "fastmlops.telemetry",
           "fastmlops.categorical", "fastmlops.drift.categories", "fastmlops.drift._html_report",
           "fastmlops.monitor", "fastmlops.metrics", "fastmlops.mlflow", "fastmlops.otel"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no docstring examples"
    assert result.failed == 0
