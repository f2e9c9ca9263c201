"""Every public name stays importable from where it was (the architecture issue #21).

``public_names.json`` was taken from the ``__all__`` of every public module
(and the public functions of ``fastmlops.cli``, which had no ``__all__``)
before the package was split into subpackages; a name may be added, never lost.
"""

import importlib
import json
import pathlib
import subprocess
import sys

import pytest

NAMES = json.loads((pathlib.Path(__file__).with_name("public_names.json")).read_text())


@pytest.mark.parametrize("module", sorted(NAMES))
def test_public_names_importable_from_their_old_path(module):
    mod = importlib.import_module(module)
    missing = [n for n in NAMES[module] if not hasattr(mod, n)]
    assert not missing, f"{module} lost {missing}"
    exported = set(getattr(mod, "__all__", ()))
    assert set(NAMES[module]) <= exported, f"{module}.__all__ lost {set(NAMES[module]) - exported}"
    for n in NAMES[module]:  # ``from module import name`` works too
        exec(f"from {module} import {n}", {})


def test_top_level_names_are_the_objects_of_their_modules():
    import fastmlops

    for name in NAMES["fastmlops"]:
        value = getattr(fastmlops, name)
        if name in fastmlops._SUBMODULES:
            assert value is importlib.import_module(f"fastmlops.{name}")
        elif name in fastmlops._LAZY:  # the object of the public module it comes from
            assert value is getattr(importlib.import_module(fastmlops._LAZY[name]), name), name


def test_import_fastmlops_loads_no_numba_scipy_or_subpackage():
    code = ("import sys, fastmlops; bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('numba', 'scipy', 'numpy') or (m.startswith('fastmlops.') and m != 'fastmlops'));"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
