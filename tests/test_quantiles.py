"""Sliding-window and reservoir quantiles, and PromQL's histogram_quantile."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from fastmlops.quantiles import Reservoir, SlidingWindow, histogram_quantile

INF = float("inf")


# --------------------------------------------------------------------------- window
QS = [0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0]


def _shapes(rng, n):
    """Inputs that stress selection: random, ties, sorted, reversed, organ pipe."""
    yield rng.normal(size=n)
    yield rng.integers(0, 4, size=n).astype(float)
    yield np.arange(n, dtype=float)
    yield np.arange(n, dtype=float)[::-1].copy()
    yield np.concatenate((np.arange(n // 2), np.arange(n - n // 2)[::-1])).astype(float)
    yield np.full(n, 3.5)
    yield rng.lognormal(size=n) * 1e-3


@pytest.mark.parametrize("n", [1, 2, 3, 7, 17, 64, 100, 1000, 1024, 5000])
def test_window_equals_numpy_quantile_bit_for_bit(n):
    rng = np.random.default_rng(n)
    for values in _shapes(rng, n):
        w = SlidingWindow(n)
        w.extend(values)
        expected = np.quantile(values, QS)
        assert (w.quantiles(QS) == expected).all()
        for q, e in zip(QS, expected):
            assert w.quantile(q) == e
        assert w.p50 == np.quantile(values, 0.5)
        assert w.p95 == np.quantile(values, 0.95)
        assert w.p99 == np.quantile(values, 0.99)


def test_window_equals_np_percentile():
    rng = np.random.default_rng(3)
    w = SlidingWindow(1024)
    w.extend(rng.lognormal(size=3000))
    vals = w.values()
    for p in (50, 90, 95, 99, 99.9):
        got = w.quantile(p / 100)
        ref = np.percentile(vals, p)
        # np.percentile computes (p / 100) itself; with q = p / 100 both agree exactly
        assert got == ref
        assert math.isclose(w.quantile(p / 100), np.percentile(vals, 100 * (p / 100)),
                            rel_tol=1e-15)


@settings(max_examples=150, deadline=None)
@given(size=st.integers(1, 300),
       chunks=st.lists(st.one_of(
           st.floats(-1e6, 1e6, allow_nan=False),
           st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=400)), min_size=1,
           max_size=12),
       qs=st.lists(st.floats(0, 1), min_size=1, max_size=5))
def test_window_keeps_the_last_values_and_matches_numpy(size, chunks, qs):
    w = SlidingWindow(size)
    stream: list[float] = []
    for chunk in chunks:
        if isinstance(chunk, list):
            w.extend(np.array(chunk, dtype=float))
            stream.extend(chunk)
        else:
            w.add(chunk)
            stream.append(chunk)
    expected_values = np.array(stream[-size:], dtype=float)
    assert w.count == len(stream)
    assert len(w) == expected_values.size
    np.testing.assert_array_equal(w.values(), expected_values)
    if expected_values.size == 0:
        with pytest.raises(ValueError, match="empty"):
            w.quantile(0.5)
        return
    assert (w.quantiles(qs) == np.quantile(expected_values, qs)).all()
    assert w.quantile(qs[0]) == np.quantile(expected_values, qs[0])


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 50),
       values=st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=60),
       nan_at=st.integers(0, 59))
def test_window_rejects_nan_and_keeps_its_state(size, values, nan_at):
    w = SlidingWindow(size)
    w.extend(values)
    before = w.values()
    bad = list(values)
    bad.insert(min(nan_at, len(bad)), float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        w.extend(bad)
    with pytest.raises(ValueError, match="NaN"):
        w.add(float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        w.add(np.float32("nan"))
    np.testing.assert_array_equal(w.values(), before)
    assert w.count == len(values)


def test_window_infinities_follow_numpy():
    vals = np.array([1.0, INF, -INF, 2.0, 3.0])
    w = SlidingWindow(5)
    w.extend(vals)
    with np.errstate(invalid="ignore"):
        expected = np.quantile(vals, QS)
    np.testing.assert_array_equal(w.quantiles(QS), expected)


def test_window_quantiles_keep_the_order_given():
    w = SlidingWindow(100)
    w.extend(np.arange(100.0))
    qs = [0.99, 0.5, 0.0, 0.95]
    np.testing.assert_array_equal(w.quantiles(qs), np.quantile(np.arange(100.0), qs))


def test_window_does_not_reorder_its_buffer():
    rng = np.random.default_rng(11)
    vals = rng.normal(size=500)
    w = SlidingWindow(500)
    w.extend(vals)
    w.quantiles(QS)
    w.quantile(0.37)
    np.testing.assert_array_equal(w.values(), vals)


def test_window_integer_input_and_clear():
    w = SlidingWindow(3)
    w.extend(np.array([5, 1, 3], dtype=np.int32))
    w.add(7)
    np.testing.assert_array_equal(w.values(), [1.0, 3.0, 7.0])
    assert w.p50 == 3.0
    w.clear()
    assert len(w) == 0 and w.count == 0
    with pytest.raises(ValueError, match="empty"):
        w.p99


def test_window_errors_say_what_to_do():
    with pytest.raises(ValueError, match="at least 1"):
        SlidingWindow(0)
    with pytest.raises(TypeError, match="positive int"):
        SlidingWindow(10.5)
    w = SlidingWindow(4)
    with pytest.raises(ValueError, match="empty"):
        w.quantile(0.5)
    with pytest.raises(ValueError, match="empty"):
        w.quantiles([0.5])
    w.add(1.0)
    with pytest.raises(ValueError, match=r"as 0\.99"):
        w.quantile(99)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        w.quantile(float("nan"))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        w.quantiles([0.5, 1.5])
    with pytest.raises(TypeError, match="sequence"):
        w.quantiles(0.5)
    with pytest.raises(TypeError, match="number"):
        w.quantile("0.5")
    with pytest.raises(TypeError, match="real number"):
        w.add("1.0")
    with pytest.raises(TypeError, match="real number"):
        w.add(True)
    with pytest.raises(ValueError, match="1-D"):
        w.extend(np.ones((2, 2)))
    with pytest.raises(TypeError):
        w.extend(["a", "b"])


# --------------------------------------------------------------------------- reservoir
def test_reservoir_fill_phase_keeps_everything():
    r = Reservoir(10, seed=0)
    r.extend([3.0, 1.0, 2.0])
    r.add(5.0)
    np.testing.assert_array_equal(np.sort(r.sample()), [1.0, 2.0, 3.0, 5.0])
    assert r.count == 4 and len(r) == 4
    assert r.quantile(0.5) == np.quantile([1.0, 2.0, 3.0, 5.0], 0.5)


def test_reservoir_empty_and_bad_arguments():
    r = Reservoir(5, seed=1)
    with pytest.raises(ValueError, match="empty"):
        r.p50
    with pytest.raises(ValueError, match="at least 1"):
        Reservoir(0)
    with pytest.raises(TypeError, match="seed"):
        Reservoir(5, seed="x")
    with pytest.raises(ValueError, match="seed"):
        Reservoir(5, seed=-1)
    with pytest.raises(ValueError, match="NaN"):
        r.extend([1.0, float("nan")])
    with pytest.raises(ValueError, match="NaN"):
        r.add(float("nan"))
    assert r.count == 0


def test_reservoir_same_seed_same_sample_whatever_the_chunking():
    rng = np.random.default_rng(5)
    stream = rng.normal(size=20_000)
    bulk = Reservoir(50, seed=42)
    bulk.extend(stream)
    one_by_one = Reservoir(50, seed=42)
    for x in stream:
        one_by_one.add(x)
    chunked = Reservoir(50, seed=42)
    pos = 0
    for size in rng.integers(0, 3000, size=100):
        chunked.extend(stream[pos:pos + size])
        pos += size
    chunked.extend(stream[pos:])
    mixed = Reservoir(50, seed=42)
    mixed.extend(stream[:7])
    for x in stream[7:1000]:
        mixed.add(x)
    mixed.extend(stream[1000:])
    for r in (one_by_one, chunked, mixed):
        assert r.count == stream.size
        np.testing.assert_array_equal(r.sample(), bulk.sample())
    other = Reservoir(50, seed=43)
    other.extend(stream)
    assert not np.array_equal(other.sample(), bulk.sample())
    same_seq = Reservoir(50, seed=np.random.SeedSequence(42))
    same_seq.extend(stream)
    np.testing.assert_array_equal(same_seq.sample(), bulk.sample())


def test_reservoir_sample_is_a_subset_without_repeats():
    r = Reservoir(200, seed=9)
    r.extend(np.arange(1_000_000, dtype=float))
    s = r.sample()
    assert s.size == 200 and np.unique(s).size == 200
    assert ((s >= 0) & (s < 1_000_000)).all() and (s == np.floor(s)).all()
    assert r.quantiles([0.1, 0.9]).tolist() == np.quantile(s, [0.1, 0.9]).tolist()


def test_reservoir_inclusion_frequencies_are_uniform():
    """Every position of a 60-value stream is kept with probability k/n = 1/10:
    inclusion counts over 3000 seeded runs pass a chi-square test, and each is
    within 5 binomial standard deviations of its expectation."""
    n, k, runs = 60, 6, 3000
    stream = np.arange(n, dtype=float)
    hits = np.zeros(n)
    for seed in range(runs):
        r = Reservoir(k, seed=seed)
        r.extend(stream)
        hits[r.sample().astype(int)] += 1
    expected = runs * k / n
    sd = math.sqrt(runs * (k / n) * (1 - k / n))
    assert np.abs(hits - expected).max() < 5 * sd
    assert stats.chisquare(hits).pvalue > 1e-3


def test_reservoir_long_stream_positions_are_uniform():
    """With many skips (n = 200,000, k = 50), kept positions are uniform over
    the stream: KS test against U(0, n) on 40 pooled seeded samples, and the
    add() path gives the same distribution as extend()."""
    n, k = 200_000, 50
    stream = np.arange(n, dtype=float)
    kept = []
    for seed in range(40):
        r = Reservoir(k, seed=1000 + seed)
        r.extend(stream)
        kept.append(r.sample())
    pooled = np.concatenate(kept) / n
    assert stats.kstest(pooled, "uniform").pvalue > 1e-3
    r = Reservoir(k, seed=7)
    for x in range(50_000):
        r.add(float(x))
    assert stats.kstest(r.sample() / 50_000, "uniform").pvalue > 1e-4


def test_reservoir_count_and_skip_regime():
    r = Reservoir(3, seed=2)
    for _ in range(5):
        r.extend(np.zeros(100_000))
    assert r.count == 500_000
    r.add(1.0)
    assert r.count == 500_001


# --------------------------------------------------------------------------- histogram_quantile
def _go_almost_equal(a, b, epsilon):
    """Prometheus' almostEqual (util/almost), subnormals included: a count of
    5e-324 after a 0 is "almost equal" to it."""
    min_normal = 2.2250738585072014e-308
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < min_normal:
        return diff < epsilon * min_normal
    return diff / min(abs_sum, sys.float_info.max) < epsilon


def promql_reference(q, le, cum):
    """PromQL's bucketQuantile written out directly, for one series."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    counts = list(map(float, cum))
    prev = counts[0]
    for i in range(1, len(counts)):  # ensureMonotonicAndIgnoreSmallDeltas
        cur = counts[i]
        if cur == prev:
            continue
        close = _go_almost_equal(prev, cur, 1e-12)
        if close or cur < prev:
            counts[i] = prev
            continue
        prev = cur
    if len(counts) < 2:
        return math.nan
    observations = counts[-1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(counts) - 1) if counts[i] >= rank), len(counts) - 1)
    if b == len(counts) - 1:
        return le[-2]
    if b == 0 and le[0] <= 0:
        return le[0]
    start, end, count = 0.0, le[b], counts[b]
    if b > 0:
        start = le[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    # Go's float division: 0/0 is NaN (q = 0 on an empty bucket), not an error
    ratio = rank / count if count else (math.nan if rank == 0 else math.copysign(math.inf, rank))
    return start + (end - start) * ratio


LE = [0.01, 0.05, 0.1, 0.5, 1.0, INF]


def test_histogram_quantile_lecture_example():
    counts = [0, 100, 100, 100, 100, 100]  # 100 requests of 50 ms
    assert histogram_quantile(0.99, LE, counts) == 0.01 + (0.05 - 0.01) * (99 / 100)
    assert histogram_quantile(0.5, LE, counts) == pytest.approx(0.03, rel=1e-15)
    assert histogram_quantile(1.0, LE, counts) == 0.05
    # q = 0: rank 0 is reached by the (empty) first bucket -> 0/0 = NaN, as in PromQL
    assert math.isnan(histogram_quantile(0.0, LE, counts))
    assert histogram_quantile(0.0, LE, [5, 100, 100, 100, 100, 100]) == 0.0
    np.testing.assert_array_equal(histogram_quantile([0.5, 0.99], LE, counts),
                                  [histogram_quantile(0.5, LE, counts),
                                   histogram_quantile(0.99, LE, counts)])


def test_histogram_quantile_hand_cases():
    # first bucket: lower bound 0 -> 0.01 * 0.5
    assert histogram_quantile(0.5, LE, [10, 10, 10, 10, 10, 10]) == 0.005
    # quantile in the +Inf bucket -> highest finite upper bound
    assert histogram_quantile(0.99, LE, [0, 0, 0, 0, 90, 100]) == 1.0
    # first bucket with a non-positive upper bound -> that bound
    assert histogram_quantile(0.1, [-1.0, 0.0, 1.0, INF], [5, 6, 10, 10]) == -1.0
    assert histogram_quantile(0.5, [0.0, 1.0, INF], [6, 10, 10]) == 0.0
    # interpolation between 0.1 and 0.5: rank 75 - 50 of 40 in the bucket
    assert histogram_quantile(0.75, LE, [0, 20, 50, 90, 100, 100]) == 0.1 + 0.4 * (25 / 40)
    # q outside [0, 1], NaN, no observations, only the +Inf bucket
    assert histogram_quantile(-0.1, LE, [0] * 6) == -INF
    assert histogram_quantile(1.1, LE, [0] * 6) == INF
    assert math.isnan(histogram_quantile(float("nan"), LE, [1] * 6))
    assert math.isnan(histogram_quantile(0.5, LE, [0] * 6))
    assert math.isnan(histogram_quantile(0.5, [INF], [10]))
    # decreasing cumulative counts are forced monotonic, as Prometheus does
    assert histogram_quantile(0.5, LE, [0, 60, 50, 100, 100, 100]) == \
        histogram_quantile(0.5, LE, [0, 60, 60, 100, 100, 100])


def test_histogram_quantile_non_cumulative_and_many_series():
    per_bucket = np.array([[0, 100, 0, 0, 0, 0], [10, 20, 30, 20, 10, 10]])
    cum = np.cumsum(per_bucket, axis=1)
    out = histogram_quantile([0.5, 0.99], LE, per_bucket, cumulative=False)
    assert out.shape == (2, 2)
    np.testing.assert_array_equal(out, histogram_quantile([0.5, 0.99], LE, cum))
    for i, q in enumerate([0.5, 0.99]):
        for r in range(2):
            assert out[i, r] == promql_reference(q, LE, cum[r])
    assert histogram_quantile(0.5, LE, cum).shape == (2,)


@settings(max_examples=200, deadline=None)
@given(bounds=st.lists(st.floats(-100, 100, allow_nan=False), min_size=0, max_size=8,
                       unique=True),
       deltas=st.lists(st.floats(0, 1000, allow_nan=False), min_size=9, max_size=9),
       shuffle=st.booleans(),
       q=st.one_of(st.floats(-0.5, 1.5), st.sampled_from([0.0, 0.5, 0.99, 1.0])))
@example(bounds=[1.0, 0.5], deltas=[0.0, 0.0, 1.0] + [0.0] * 6, shuffle=False, q=0.0)
@example(bounds=[0.0], deltas=[0.0, 5e-324] + [0.0] * 7, shuffle=False, q=0.0)  # subnormal
def test_histogram_quantile_matches_the_promql_rules(bounds, deltas, shuffle, q):
    le = sorted(bounds) + [INF]
    cum = np.cumsum(deltas[:len(le)])
    if shuffle and len(le) > 2:
        cum[1], cum[2] = cum[2], cum[1]  # a non-monotonic scrape
    got = histogram_quantile(q, le, cum)
    ref = promql_reference(q, le, cum)
    if math.isnan(ref):
        assert math.isnan(got)
    else:
        assert got == ref


def test_histogram_quantile_errors():
    with pytest.raises(ValueError, match=r"\+Inf"):
        histogram_quantile(0.5, [0.1, 1.0], [1, 2])
    with pytest.raises(ValueError, match="strictly increasing"):
        histogram_quantile(0.5, [1.0, 0.1, INF], [1, 2, 3])
    with pytest.raises(ValueError, match="shape"):
        histogram_quantile(0.5, LE, [1, 2, 3])
    with pytest.raises(ValueError, match=">= 0"):
        histogram_quantile(0.5, LE, [0, -1, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="finite"):
        histogram_quantile(0.5, LE, [0, float("nan"), 0, 0, 0, 0])
    with pytest.raises(ValueError, match="NaN"):
        histogram_quantile(0.5, [float("nan"), INF], [0, 0])
    with pytest.raises(TypeError, match="bool"):
        histogram_quantile(True, LE, [0] * 6)
    with pytest.raises(TypeError, match="cumulative"):
        histogram_quantile(0.5, LE, [0] * 6, cumulative="no")


def test_kernel_signatures_compile_for_warmup():
    from numba.core import sigutils

    from fastmlops._kernels import quantiles as kq
    from fastmlops._kernels._jit import REGISTRY

    mine = [(d, sigs) for d, sigs in REGISTRY if d.py_func.__module__ == kq.__name__ and sigs]
    assert {d.py_func.__name__ for d, _ in mine} == {
        "select_quantiles", "select_quantile", "reservoir_init", "reservoir_feed",
        "bucket_quantiles"}
    for dispatcher, sigs in mine:
        for sig in sigs:
            args, _ = sigutils.normalize_signature(sig)
            dispatcher.compile(tuple(args))


# --------------------------------------------------------------------------- regressions
def test_reservoir_skip_never_wraps_negative():
    """For a weight W below about 4e-18 the skip quotient is 2**63 or more;
    math.floor converted it to int64 first, which wrapped to a negative skip
    (and reservoir_feed then indexed the chunk before its start)."""
    from fastmlops._kernels import quantiles as kq

    rng = np.array([1, 2, 3, 4], dtype=np.uint64)
    for w in (1e-17, 1e-19, 1e-30, 1e-300, 5e-324):
        assert kq._skip(rng, w) > 0
    assert kq._skip(rng, 1e-300) == kq._MAX_INDEX
    # ordinary weights: unchanged (same draws, same skips)
    assert kq._skip(np.array([1, 2, 3, 4], dtype=np.uint64), 0.5) == 51
    # a feed whose next take leaves W tiny stops taking, in bounds
    sample = np.zeros(1)
    counters = np.array([10, 10], dtype=np.int64)  # seen 10, take position 10
    w = np.array([1e-300])
    kq.reservoir_feed(sample, np.array([5.0, 6.0, 7.0]), counters, w, rng)
    assert sample[0] == 5.0 and counters[0] == 13 and counters[1] == kq._MAX_INDEX


def test_histogram_quantile_bool_q_is_rejected_like_python_bool():
    for q in (True, np.True_, [True, False], np.array([True])):
        with pytest.raises(TypeError, match="bool"):
            histogram_quantile(q, LE, [0, 100, 100, 100, 100, 100])


def test_histogram_quantile_0d_q_gives_a_float():
    counts = [0, 100, 100, 100, 100, 100]
    got = histogram_quantile(np.array(0.99), LE, counts)
    assert type(got) is float and got == histogram_quantile(0.99, LE, counts)
    assert histogram_quantile(np.array(0.5), LE, [counts, counts]).shape == (2,)


def test_quantiles_reject_strings_and_bools():
    w = SlidingWindow(4)
    w.extend([1.0, 2.0, 3.0])
    for qs in (["0.5"], [True, False], np.array([True]), [0.5, "0.9"]):
        with pytest.raises(TypeError, match="sequence of numbers"):
            w.quantiles(qs)
    assert w.quantiles(np.array([0.5], np.float32)).tolist() == [2.0]


def test_huge_int_values_raise_value_error():
    w = SlidingWindow(4)
    with pytest.raises(ValueError, match="too large"):
        w.add(10 ** 400)
    with pytest.raises(ValueError, match="too large"):
        Reservoir(3, seed=0).add(-(10 ** 400))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        w.quantile(10 ** 400)
    assert len(w) == 0


def test_documented_exceptions_to_bit_equality_still_compare_equal():
    """The docstring's two exceptions: signed zeros (equal values, the sign may
    differ) and float32 q (numpy forms the index in float32; ours is float64)."""
    rng = np.random.default_rng(21)
    for _ in range(200):
        n = int(rng.integers(1, 150))
        v = rng.choice([0.0, -0.0, 1.0, -1.0], n)
        w = SlidingWindow(n)
        w.extend(v)
        assert (w.quantiles(QS) == np.quantile(v, QS)).all()
    v = rng.normal(size=101)
    w = SlidingWindow(101)
    w.extend(v)
    for q in rng.random(50).astype(np.float32):
        assert w.quantile(q) == np.quantile(v, float(q))
