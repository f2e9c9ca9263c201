"""Fingerprints for reproducible ML: file and directory digests, manifests, and
model versions.

* :func:`hash_file` streams one file (or an open binary file object) through
  hashlib or xxhash with a large reused buffer, in constant memory, and refuses
  to return a digest for a file that changed while it was read
  (:class:`FileChangedError`).
* :func:`hash_tree` hashes every file of a directory in parallel on the thread
  pool and returns a :class:`Manifest`: per-file sizes and digests plus one
  digest of the whole tree that depends only on relative paths and contents.
* :class:`ModelVersion` is the 5-tuple that pins a trained model: weights
  fingerprint, data fingerprint, hyper-parameters (hashed canonically),
  environment (captured automatically) and seed.
* :func:`add_cli` registers ``fastmlops fingerprint PATH...`` on an argparse
  parser; its text output is accepted by ``sha256sum -c``.  The command is
  part of the command line (:mod:`fastmlops.cli`); the name stays here for
  the code that imported it from this module, and loads the CLI on first use.

The implementation is split by concern into private modules: ``_algorithms``
(algorithm names, argument checks), ``_file`` (:func:`hash_file`, the read
loops), ``_manifest`` (:class:`Manifest`), ``_tree`` (:func:`hash_tree`),
``_environment`` (:func:`capture_environment`) and ``_version``
(:class:`ModelVersion`, :func:`canonical_json`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from fastmlops.fingerprint._algorithms import ALGORITHMS
from fastmlops.fingerprint._environment import capture_environment
from fastmlops.fingerprint._file import FileChangedError, hash_file
from fastmlops.fingerprint._manifest import Manifest, ManifestDiff, ManifestEntry
from fastmlops.fingerprint._tree import hash_tree
from fastmlops.fingerprint._version import ModelVersion, VersionComparison, canonical_json

if TYPE_CHECKING:
    import argparse

    #: The argparse object ``add_cli`` registers the command on.
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = [
    "ALGORITHMS",
    "FileChangedError",
    "hash_file",
    "hash_tree",
    "Manifest",
    "ManifestEntry",
    "ManifestDiff",
    "ModelVersion",
    "VersionComparison",
    "canonical_json",
    "capture_environment",
    "add_cli",
]


def __getattr__(name: str) -> Callable[[SubParsers], argparse.ArgumentParser]:
    """``add_cli``, from the command line package, when it is first asked for
    (importing the CLI here at load time would make a cycle: it imports this
    package)."""
    if name == "add_cli":
        from fastmlops.cli._fingerprint import add_cli

        return add_cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")



def __dir__() -> list[str]:
    """The module's names, ``add_cli`` included (it is loaded on first use)."""
    return sorted({*globals(), "add_cli"})
