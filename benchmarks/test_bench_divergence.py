"""Binned drift (PSI) against a stored reference: fastmlops vs numpy.

Run with ``python -m pytest benchmarks/test_bench_divergence.py --benchmark-enable``.

The promise being measured: PSI per check against a stored reference (edges
and reference counts precomputed), 1e7 float64 current values, at most 2 ns
per value and at least 6x faster than ``np.histogram`` on the same edges.
Ours is ``bin_counts`` + ``psi_from_counts`` (the whole check); the
references are ``np.histogram`` alone (counts only) and numpy's
``searchsorted`` + ``bincount`` (what tests/references.py does).  The last
group is the one-shot ``psi()`` (edges, both counts, PSI) vs
``psi_reference``.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastmlops.divergence import bin_counts, edges_from_sorted, psi, psi_from_counts
from tests.references import psi_reference

N = 10_000_000
BINS = 10


def _stored_reference(dtype):
    rng = np.random.default_rng(0)
    reference = rng.normal(size=1_000_000)
    edges = edges_from_sorted(np.sort(reference), BINS)
    ref_counts, ref_nan = bin_counts(reference, edges)
    current = rng.normal(0.05, 1.02, size=N).astype(dtype)
    current[::10_000] = np.nan
    return edges, ref_counts, reference.size - ref_nan, current


@pytest.fixture(scope="module", params=["float64", "float32"])
def stored(request):
    return request.param, *_stored_reference(np.dtype(request.param))


def _check(edges, ref_counts, ref_n, current):
    counts, n_nan = bin_counts(current, edges)
    return psi_from_counts(ref_counts, ref_n, counts, current.size - n_nan, 1e-4)


def test_fastmlops_psi_check(benchmark, stored):
    dtype, edges, ref_counts, ref_n, current = stored
    benchmark.group = f"psi-check-1e7-{dtype}"
    _check(edges, ref_counts, ref_n, current)  # compile / load from cache
    value = benchmark(_check, edges, ref_counts, ref_n, current)
    counts = np.bincount(
        np.searchsorted(edges, current[~np.isnan(current)], side="right"), minlength=edges.size + 1
    )
    assert value == psi_from_counts(ref_counts, ref_n, counts, int(counts.sum()), 1e-4)
    benchmark.extra_info["ns_per_value"] = benchmark.stats.stats.median / N * 1e9


def test_np_histogram(benchmark, stored):
    dtype, edges, _, _, current = stored
    benchmark.group = f"psi-check-1e7-{dtype}"
    full = np.concatenate(([-np.inf], edges, [np.inf]))
    counts, _ = benchmark(np.histogram, current, full)
    assert counts.sum() == np.count_nonzero(~np.isnan(current))


def test_numpy_searchsorted_bincount(benchmark, stored):
    dtype, edges, _, _, current = stored
    benchmark.group = f"psi-check-1e7-{dtype}"

    def counts():
        x = current[~np.isnan(current)]
        return np.bincount(np.searchsorted(edges, x, side="right"), minlength=edges.size + 1)

    assert benchmark(counts).sum() == np.count_nonzero(~np.isnan(current))


@pytest.fixture(scope="module")
def one_shot():
    rng = np.random.default_rng(1)
    reference = rng.normal(size=1_000_000)
    current = rng.normal(0.05, 1.02, size=1_000_000)
    return reference, current


def test_fastmlops_psi_1e6(benchmark, one_shot):
    benchmark.group = "psi-1e6"
    reference, current = one_shot
    psi(reference[:100], current[:100])
    result = benchmark(psi, reference, current)
    assert abs(result.value - psi_reference(reference, current)) <= 1e-12 * abs(result.value)


def test_psi_reference_1e6(benchmark, one_shot):
    benchmark.group = "psi-1e6"
    reference, current = one_shot
    benchmark(psi_reference, reference, current)
