"""Saved drift references: load time and size of a 1e6-row x 100-column float64
reference, against ``numpy.load`` of the same sorted values from ``.npy``
files (the floor: reading the values, with no checking at all).

Run with ``python -m pytest benchmarks/test_bench_reference.py --benchmark-enable``.
Building the reference takes about 30 s and 1.6 GB of memory; the file is
800 MB in a temporary directory.  The issue's goal: load in under 0.5 s, and a
file no larger than the values it needs.

The ``1e6x20`` tests time a one-shot build + check against ``ks_2samp`` of
the same tables (issue #24 item 9; run them alone with ``-k 1e6x20``).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import fastmlops

ROWS, COLS = 1_000_000, 100


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref")
    rng = np.random.default_rng(0)
    ref = fastmlops.DriftReference(rng.normal(size=(ROWS, COLS)))
    path = d / "ref.fmlref"
    ref.save(path)
    npy = d / "values.npy"
    np.save(npy, np.stack([c.sorted_values for c in ref.column_models]))
    size = os.path.getsize(path)
    values = ROWS * COLS * 8
    print(f"\nfile {size / 1e6:.1f} MB for {values / 1e6:.1f} MB of values "
          f"({100 * (size / values - 1):.3f} % more)")
    assert size < values * 1.01
    return path, npy


def test_fastmlops_load_1e6x100(benchmark, saved):
    benchmark.group = "reference load 1e6 x 100 float64"
    path, _ = saved
    ref = benchmark(fastmlops.DriftReference.load, path)
    assert ref.n_rows == ROWS and len(ref.columns) == COLS


def test_fastmlops_load_sha256_1e6x100(benchmark, saved):
    benchmark.group = "reference load 1e6 x 100 float64 (sha256)"
    path, _ = saved
    benchmark(fastmlops.DriftReference.load, path, verify="sha256")


def test_numpy_load_1e6x100(benchmark, saved):
    benchmark.group = "reference load 1e6 x 100 float64"
    _, npy = saved
    benchmark(lambda: np.load(npy).sum())


# One-shot build + check (issue #24 item 9): the reference is built from a
# 1e6 x 20 float64 table, then checked, against ``ks_2samp`` of both whole
# tables (the goal: build + check within 2x of it).
ONE_ROWS, ONE_COLS = 1_000_000, 20


@pytest.fixture(scope="module")
def one_shot():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(ONE_ROWS, ONE_COLS)),
            rng.normal(0.01, 1.0, size=(ONE_ROWS, ONE_COLS)))


def test_fastmlops_build_1e6x20(benchmark, one_shot):
    benchmark.group = "one-shot 1e6 x 20 float64"
    ref, _ = one_shot
    benchmark(fastmlops.DriftReference, ref)


def test_fastmlops_build_check_1e6x20(benchmark, one_shot):
    benchmark.group = "one-shot 1e6 x 20 float64"
    ref, cur = one_shot
    benchmark(lambda: fastmlops.DriftReference(ref).check(cur))


def test_ks_2samp_1e6x20(benchmark, one_shot):
    benchmark.group = "one-shot 1e6 x 20 float64"
    ref, cur = one_shot
    benchmark(fastmlops.ks_2samp, ref, cur, axis=0)
