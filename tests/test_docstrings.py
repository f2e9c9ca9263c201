"""Every public module shows how it is used: docstring examples that run.

pytest collects and runs the examples of every module under ``src/`` itself
(``--doctest-modules`` in ``pyproject.toml``: no hand-kept list); this test
checks that none of the public modules is left without examples.
"""

import doctest
import importlib
import json
import pathlib
import pkgutil

import pytest

PUBLIC = sorted(json.loads(pathlib.Path(__file__).with_name("public_names.json").read_text()))
#: Public modules whose examples live in the module they re-export.
NONE_OF_THEIR_OWN = {"fastmlops", "fastmlops.cli"}


def _examples(module) -> int:
    found = doctest.DocTestFinder().find(module)
    if hasattr(module, "__path__"):  # a package: its modules too
        for info in pkgutil.iter_modules(module.__path__, module.__name__ + "."):
            found += doctest.DocTestFinder().find(importlib.import_module(info.name))
    return sum(len(t.examples) for t in found)


@pytest.mark.parametrize("name", [m for m in PUBLIC if m not in NONE_OF_THEIR_OWN])
def test_public_module_has_examples(name):
    assert _examples(importlib.import_module(name)) > 0, f"{name} has no docstring examples"
