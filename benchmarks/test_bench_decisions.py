"""Decision benchmarks: A/B power simulation, canary assignment, DPO loss.

Run with ``python -m pytest benchmarks/test_bench_decisions.py --benchmark-enable``.
In each group ``test_fastmlops_*`` is ours and the other tests are references
(numpy, or the ``xxhash`` package in a Python loop); results are checked
against the reference before timing.  Goals (issue #5): 1e6 simulated A/B
tests in <= 1 s, >= 5e7 canary keys per second on 1e7 keys, DPO loss over
1e7 pairs in <= 50 ms.
"""

from __future__ import annotations

import numpy as np
import pytest
import xxhash

from fastmlops import abtest, canary, losses


def _warm():
    abtest.simulate_power(0.1, 0.12, 100, n_sims=10, seed=0)
    canary.assign(np.arange(10), 5)
    for dt in (np.float64, np.float32):
        x = np.zeros(4, dt)
        losses.dpo_loss(x, x, x, x)


_warm()


# ------------------------------------------------------------ A/B power, 1e6 tests
def _numpy_power(p_a, p_b, n, n_sims, seed):
    rng = np.random.default_rng(seed)
    xa = rng.binomial(n, p_a, n_sims)
    xb = rng.binomial(n, p_b, n_sims)
    pooled = (xa + xb) / (2 * n)
    z = (xb - xa) / n / np.sqrt(pooled * (1 - pooled) * 2 / n)
    return float(np.mean(np.abs(z) > 1.959963984540054))


def test_fastmlops_simulate_power_1e6(benchmark):
    benchmark.group = "A/B power: 1e6 simulated tests"
    res = benchmark(abtest.simulate_power, 0.10, 0.12, 3528, n_sims=1_000_000, seed=1)
    assert abs(res.power - _numpy_power(0.10, 0.12, 3528, 200_000, 2)) < 0.006


def test_numpy_simulate_power_1e6(benchmark):
    benchmark.group = "A/B power: 1e6 simulated tests"
    benchmark.pedantic(_numpy_power, (0.10, 0.12, 3528, 1_000_000, 1), rounds=3, iterations=1)


def test_fastmlops_simulate_peeking_2000x50(benchmark):
    benchmark.group = "A/B peeking: 2,000 experiments x 50 looks"
    res = benchmark(abtest.simulate_peeking, 0.10, seed=3)
    assert res.naive_rate > 0.15 and res.sequential_rate <= 0.05


# ------------------------------------------------------------ canary assignment
_P1, _P2, _P3, _P4, _P5 = (np.uint64(v) for v in (
    0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x85EBCA77C2B2AE63,
    0x27D4EB2F165667C5))


def _rotl(x, r):
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


def _numpy_assign(keys, percent, seed=0):
    """XXH64 of 8-byte keys with numpy uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        k = keys.astype(np.uint64)
        h = np.uint64(seed) + _P5 + np.uint64(8)
        k = _rotl(k * _P2, 31) * _P1
        h = k ^ h
        h = _rotl(h, 27) * _P1 + _P4
        h ^= h >> np.uint64(33)
        h *= _P2
        h ^= h >> np.uint64(29)
        h *= _P3
        h ^= h >> np.uint64(32)
    return h % np.uint64(10_000) < np.uint64(round(percent * 100))


def _xxhash_loop(keys, percent, seed=0):
    t = round(percent * 100)
    return np.array([xxhash.xxh64_intdigest(int(k).to_bytes(8, "little", signed=True), seed)
                     % 10_000 < t for k in keys])


@pytest.fixture(scope="module")
def keys_1e7():
    return np.random.default_rng(4).integers(-2**63, 2**63 - 1, 10_000_000, dtype=np.int64)


def test_fastmlops_assign_1e7(benchmark, keys_1e7):
    benchmark.group = "canary assign: 1e7 int64 keys"
    benchmark.extra_info["keys"] = keys_1e7.size
    mask = benchmark(canary.assign, keys_1e7, 5, seed=0)
    assert np.array_equal(mask, _numpy_assign(keys_1e7, 5))


def test_numpy_assign_1e7(benchmark, keys_1e7):
    benchmark.group = "canary assign: 1e7 int64 keys"
    benchmark.pedantic(_numpy_assign, (keys_1e7, 5), rounds=3, iterations=1)


def test_fastmlops_assign_1e5(benchmark, keys_1e7):
    benchmark.group = "canary assign: 1e5 int64 keys"
    keys = keys_1e7[:100_000]
    mask = benchmark(canary.assign, keys, 5, seed=0)
    assert np.array_equal(mask, _xxhash_loop(keys, 5))


def test_xxhash_loop_assign_1e5(benchmark, keys_1e7):
    """The xxhash package, one key at a time (x100 for 1e7 keys)."""
    benchmark.group = "canary assign: 1e5 int64 keys"
    benchmark.pedantic(_xxhash_loop, (keys_1e7[:100_000], 5), rounds=3, iterations=1)


# ------------------------------------------------------------ DPO loss, 1e7 pairs
def _numpy_dpo(pc, pr, rc, rr, beta=0.1):
    margin = beta * (pc - rc) - beta * (pr - rr)
    per = np.logaddexp(0, -margin)
    return float(per.mean()), per, float(np.mean(beta * (pc - rc) > beta * (pr - rr)))


@pytest.fixture(scope="module")
def pairs_1e7():
    rng = np.random.default_rng(5)
    n = 10_000_000
    pc = rng.normal(-120, 20, n)
    pr = rng.normal(-125, 20, n)
    return pc, pr, pc + rng.normal(0, 3, n), pr + rng.normal(0, 3, n)


def test_fastmlops_dpo_1e7_f64(benchmark, pairs_1e7):
    benchmark.group = "DPO loss: 1e7 pairs"
    res = benchmark(losses.dpo_loss, *pairs_1e7, beta=0.1)
    loss, per, acc = _numpy_dpo(*pairs_1e7)
    assert res.loss == pytest.approx(loss, rel=1e-12) and res.accuracy == acc
    np.testing.assert_allclose(res.losses[:100_000], per[:100_000], rtol=1e-12)


def test_fastmlops_dpo_1e7_f32(benchmark, pairs_1e7):
    benchmark.group = "DPO loss: 1e7 pairs"
    pairs = [a.astype(np.float32) for a in pairs_1e7]
    res = benchmark(losses.dpo_loss, *pairs, beta=0.1)
    assert res.losses.dtype == np.float32
    assert res.loss == pytest.approx(_numpy_dpo(*pairs_1e7)[0], rel=1e-4)


def test_fastmlops_dpo_1e7_f64_out(benchmark, pairs_1e7):
    """With a preallocated ``out`` (a training loop's steady state): no page
    faults for a fresh 80 MB result on every call."""
    benchmark.group = "DPO loss: 1e7 pairs"
    out = np.empty(pairs_1e7[0].shape)
    res = benchmark(losses.dpo_loss, *pairs_1e7, beta=0.1, out=out)
    assert res.loss == pytest.approx(_numpy_dpo(*pairs_1e7)[0], rel=1e-12)


def test_numpy_dpo_1e7_f64(benchmark, pairs_1e7):
    benchmark.group = "DPO loss: 1e7 pairs"
    benchmark.pedantic(_numpy_dpo, pairs_1e7, rounds=3, iterations=1)
