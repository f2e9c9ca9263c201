"""The package's architecture holds (issue #21): layers, privacy, no cycles, types.

* ``lint-imports`` checks the layers contract of ``pyproject.toml``
  (kernels -> shared core -> domains -> integrations -> CLI);
* a private module (``_name``) of a subpackage is imported only by modules of
  that subpackage (``fastmlops._core`` and ``fastmlops._kernels`` are the
  shared layers and are open to every package), and a private name (``_name``
  in a module) is imported by no other module;
* no module takes part in an import cycle, lazy (function-level) imports
  included; imports under ``if TYPE_CHECKING:`` are annotations only and do not
  count;
* mypy passes on ``src/`` with the settings of ``pyproject.toml``;
* modules stay under about 600 lines.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import grimp
import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "fastmlops"
SHARED = ("fastmlops._core", "fastmlops._kernels")
#: Lines a module may have ("about 600"); the Numba kernels stay as they were.
MAX_LINES = 650
KERNEL_EXCEPTIONS = {"fastmlops._kernels.kstwo"}
#: Imports allowed against the rules, each with its reason (the same list as the
#: ``ignore_imports`` of the contract in pyproject.toml).
ALLOWED = {
    # fastmlops.fingerprint.add_cli stays at its public path, loaded on first use
    # from the CLI package, where the command lives now.
    ("fastmlops.fingerprint", "fastmlops.cli._fingerprint"),
}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    graph = grimp.build_graph("fastmlops", exclude_type_checking_imports=True, cache_dir=None)
    for importer, imported in ALLOWED:
        graph.remove_import(importer=importer, imported=imported)
    return graph


def _bin(name: str) -> str:
    return str(pathlib.Path(sys.executable).with_name(name))


def _private_at(module: str) -> str | None:
    """The package a private module belongs to (None for a public module or a
    shared layer)."""
    parts = module.split(".")
    for i in range(1, len(parts)):
        if parts[i].startswith("_") and not parts[i].startswith("__"):
            prefix = ".".join(parts[:i + 1])
            if prefix in SHARED or any(prefix.startswith(s + ".") for s in SHARED):
                return None
            return ".".join(parts[:i])
    return None


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_layers_contract():
    out = subprocess.run([_bin("lint-imports"), "--no-cache"], capture_output=True, text=True,
                         cwd=SRC.parent)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_private_modules_are_imported_by_their_siblings_only(graph):
    bad = []
    for imported in sorted(graph.modules):
        home = _private_at(imported)
        if home is None:
            continue
        for importer in graph.find_modules_that_directly_import(imported):
            if not _inside(importer, home):
                bad.append(f"{importer} imports {imported}")
    assert not bad, "\n".join(bad)


def _modules() -> list[tuple[str, pathlib.Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path))
    return out


def test_private_names_stay_inside_their_module():
    """``from fastmlops.x import _name`` only for a private module ``_name``: a
    name that another module needs is package API, without the underscore."""
    bad = []
    for module, path in _modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ImportFrom) or node.level or node.module is None \
                    or not node.module.startswith("fastmlops"):
                continue
            for alias in node.names:
                name = alias.name
                if not name.startswith("_") or name.startswith("__"):
                    continue
                as_path = SRC / f"{node.module}.{name}".replace(".", "/")
                if as_path.is_dir() or as_path.with_suffix(".py").exists():  # a module
                    continue
                bad.append(f"{module}:{node.lineno} imports {name} from {node.module}")
    assert not bad, "\n".join(bad)


def test_no_import_cycles(graph):
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.find_modules_directly_imported_by(v)):
            if not w.startswith("fastmlops"):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(10_000, limit))
    try:
        for v in sorted(graph.modules):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)  # other tests size their work by it
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)


def test_modules_stay_small():
    big = [f"{m}: {len(p.read_text().splitlines())} lines" for m, p in _modules()
           if m not in KERNEL_EXCEPTIONS and len(p.read_text().splitlines()) > MAX_LINES]
    assert not big, "\n".join(big)


@pytest.mark.slow
def test_type_check():
    out = subprocess.run([sys.executable, "-m", "mypy"], capture_output=True, text=True,
                         cwd=SRC.parent)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
