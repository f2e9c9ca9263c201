"""Canary assignment (xxh64 buckets) and the rollout controller."""

from __future__ import annotations

import numpy as np
import pytest
import xxhash
from scipy import stats

from fastmlops import canary
from fastmlops.canary import CanaryController, CanaryPolicy, Decision, Stage


# ------------------------------------------------------------------ hashing
@pytest.mark.parametrize("seed", [0, 1, 12345, 2**64 - 1])
def test_numba_xxh64_equals_xxhash_package(seed):
    from fastmlops._kernels.canary import xxh64_u64

    rng = np.random.default_rng(seed % 1000)
    keys = np.concatenate([rng.integers(-2**63, 2**63 - 1, 5000, dtype=np.int64),
                           np.array([0, 1, -1, 2**63 - 1, -2**63], dtype=np.int64)])
    for k in keys:
        ref = xxhash.xxh64_intdigest(int(k).to_bytes(8, "little", signed=True), seed)
        assert int(xxh64_u64(np.uint64(k), np.uint64(seed))) == ref


def test_scalar_and_batch_agree():
    rng = np.random.default_rng(1)
    keys = np.concatenate([rng.integers(-2**63, 2**63 - 1, 20_000, dtype=np.int64),
                           np.arange(-50, 50)])
    for seed in (0, 7):
        b = canary.buckets(keys, seed=seed)
        assert b.dtype == np.int16
        assert b.tolist() == [canary.bucket(int(k), seed) for k in keys]
        for pct in (0, 0.5, 1, 5, 25, 100):
            mask = canary.assign(keys, pct, seed=seed)
            assert mask.tolist() == [canary.in_canary(int(k), pct, seed) for k in keys]


def test_uint64_keys_and_key_types():
    big = np.array([2**64 - 1, 2**63, 5], dtype=np.uint64)
    assert canary.buckets(big).tolist() == [canary.bucket(int(k)) for k in big]
    # 2**64 - 1 and -1 have the same 8 bytes
    assert canary.bucket(2**64 - 1) == canary.bucket(-1)
    assert canary.assign(np.array([1, 2], dtype=np.int32), 50).tolist() == \
        canary.assign(np.array([1, 2]), 50).tolist()
    assert canary.bucket("é") == xxhash.xxh64_intdigest("é".encode(), 0) % 10_000
    assert canary.bucket(b"abc") == canary.bucket(bytearray(b"abc")) == canary.bucket("abc")
    assert canary.bucket(np.int64(5)) == canary.bucket(5)
    assert canary.buckets(np.arange(6).reshape(2, 3)).shape == (2, 3)
    assert canary.assign(np.array([], dtype=np.int64), 5).shape == (0,)


def test_monotone_across_stages():
    keys = np.arange(200_000)
    masks = [canary.assign(keys, p, seed=3) for p in (1, 5, 25, 100)]
    for small, large in zip(masks, masks[1:]):
        assert np.all(large[small])  # in at a smaller stage -> in at the larger one
    assert masks[-1].all()
    assert not canary.assign(keys, 0).any()
    for k in range(0, 2000, 7):
        ins = [canary.in_canary(f"user-{k}", p) for p in (1, 5, 25, 100)]
        assert ins == sorted(ins)  # False... then True...


def test_buckets_uniform_chi_square():
    keys = np.arange(1_000_000, dtype=np.int64)  # sequential ids: the hardest case
    counts = np.bincount(canary.buckets(keys, seed=11), minlength=10_000)
    assert counts.size == 10_000
    p = stats.chisquare(counts).pvalue
    assert p > 1e-3
    strs = np.bincount([canary.bucket(f"user-{i}") % 100 for i in range(100_000)],
                       minlength=100)
    assert stats.chisquare(strs).pvalue > 1e-3
    share = canary.assign(keys, 5, seed=11).mean()
    se = np.sqrt(0.05 * 0.95 / keys.size)
    assert abs(share - 0.05) < 4 * se


def test_seeds_give_different_samples():
    keys = np.arange(100_000)
    a = canary.assign(keys, 10, seed=1)
    b = canary.assign(keys, 10, seed=2)
    overlap = np.mean(a & b) / 0.10
    assert 0.05 < overlap < 0.15  # independent samples overlap ~10%


@pytest.mark.parametrize("call,exc,match", [
    (lambda: canary.in_canary("u", 101), ValueError, "between 0 and 100"),
    (lambda: canary.in_canary("u", -1), ValueError, "between 0 and 100"),
    (lambda: canary.in_canary("u", "5"), TypeError, "percent"),
    (lambda: canary.bucket(1.5), TypeError, "str, bytes or int"),
    (lambda: canary.bucket(True), TypeError, "bool"),
    (lambda: canary.bucket(2**64), ValueError, "as str"),
    (lambda: canary.bucket("u", seed=-1), ValueError, "seed"),
    (lambda: canary.assign(np.array([1.0, 2.0]), 5), TypeError, "integers"),
    (lambda: canary.assign(np.array(["a"]), 5), TypeError, "integers"),
])
def test_assignment_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ------------------------------------------------------------------ controller
def _policy(**kw):
    stages = [Stage(1, 60, 100), Stage(5, 60, 100), Stage(25, 60, 100), Stage(100)]
    return CanaryPolicy(stages=stages, **kw)


def test_full_rollout_promotes_through_every_stage():
    c = CanaryController(_policy(), start_time=1000.0)
    assert c.percent == 1 and c.state == "running"
    t = 1000.0
    actions = []
    for _ in range(20):
        t += 30
        d = c.observe(t, 60, 0, 6000, 6)
        actions.append((d.action, d.percent))
        if c.state == "complete":
            break
    assert actions == [("hold", 1), ("promote", 5), ("hold", 5), ("promote", 25),
                       ("hold", 25), ("promote", 100)]
    assert c.state == "complete" and "complete" in c.history[-1].reason
    assert len(c.history) == 6 and all(isinstance(d, Decision) for d in c.history)
    with pytest.raises(RuntimeError, match="complete"):
        c.observe(t + 1, 1, 0, 1, 0)


def test_hold_reason_names_what_is_missing():
    c = CanaryController(_policy(), start_time=0)
    d = c.observe(70, 50, 0, 5000, 5)  # time is enough, requests are not
    assert d.action == "hold" and "50 more canary requests" in d.reason
    d = c.observe(71, 60, 0, 5000, 5)
    assert d.action == "promote" and d.stage == 1 and d.percent == 5
    d = c.observe(80, 500, 0, 5000, 5)  # counters and clock restart per stage
    assert d.action == "hold" and "51 s more" in d.reason
    assert d.metrics["canary_requests"] == 500


def test_rollback_on_error_rate():
    c = CanaryController(_policy(alpha=0.01), start_time=0)
    d = c.observe(10, 1000, 30, 100_000, 1000)  # 3% vs 1%
    assert d.action == "rollback" and d.percent == 0.0 and c.state == "rolled_back"
    assert "error rate" in d.reason and d.metrics["error_pvalue"] < 0.01
    with pytest.raises(RuntimeError, match="rolled back"):
        c.observe(11, 1, 0, 1, 0)
    # same rates, small sample: no evidence, hold
    c2 = CanaryController(_policy(alpha=0.01), start_time=0)
    assert c2.observe(10, 30, 1, 3000, 30).action == "hold"
    # canary better than baseline never rolls back (one-sided)
    c3 = CanaryController(_policy(alpha=0.01), start_time=0)
    assert c3.observe(10, 1000, 0, 100_000, 5000).action == "hold"


def test_rollback_on_latency_and_burn_rate():
    c = CanaryController(_policy(max_p99_latency=0.3), start_time=0)
    assert c.observe(10, 10, 0, 100, 0, canary_p99=0.25).action == "hold"
    d = c.observe(20, 10, 0, 100, 0, canary_p99=0.31)
    assert d.action == "rollback" and "p99" in d.reason
    lat = np.concatenate([np.full(980, 0.1), np.full(20, 2.0)])
    c = CanaryController(_policy(max_p99_latency=0.5), start_time=0)
    d = c.observe(20, 1000, 0, 1000, 0, canary_latencies=lat)
    assert d.action == "rollback" and d.metrics["canary_p99"] > 0.5
    c = CanaryController(_policy(max_burn_rate=14.4), start_time=0)
    assert c.observe(20, 10, 0, 100, 0, burn_rate=2.0).action == "hold"
    d = c.observe(30, 10, 0, 100, 0, burn_rate=20.0)
    assert d.action == "rollback" and "burn rate" in d.reason


def test_msprt_error_test_and_default_policy():
    c = CanaryController(CanaryPolicy(error_test="msprt", alpha=0.05), start_time=0)
    assert c.percent == 1 and len(c.policy.stages) == 4
    assert [s.percent for s in c.policy.stages] == [1, 5, 25, 100]
    d = c.observe(10, 2000, 60, 200_000, 2000)
    assert d.action == "rollback" and "msprt" in d.reason
    c = CanaryController(CanaryPolicy(error_test="msprt"), start_time=0)
    d = c.observe(10, 2000, 20, 200_000, 2000)
    assert d.action == "hold" and d.metrics["error_pvalue"] == 1.0


def test_msprt_keeps_false_rollbacks_rare_when_peeking():
    # Equal error rates, 40 looks per rollout: the z-test rolls back far more
    # often than alpha, the mSPRT at most about alpha.
    rng = np.random.default_rng(5)
    policy_kw = dict(stages=[Stage(5, 1e9, 10**9), Stage(100)], alpha=0.05)
    rolled = {"ztest": 0, "msprt": 0}
    n_runs = 150
    for _ in range(n_runs):
        cn = rng.binomial(500, 0.02, size=40)
        bn = rng.binomial(9500, 0.02, size=40)
        for test in rolled:
            c = CanaryController(CanaryPolicy(error_test=test, **policy_kw), start_time=0)
            for i in range(40):
                if c.observe(i + 1, 500, int(cn[i]), 9500, int(bn[i])).action == "rollback":
                    rolled[test] += 1
                    break
    assert rolled["ztest"] / n_runs > 0.12  # about 0.25
    lo = stats.binomtest(rolled["msprt"], n_runs).proportion_ci().low
    assert lo <= 0.05


@pytest.mark.parametrize("call,exc,match", [
    (lambda: CanaryPolicy(stages=[Stage(5), Stage(1), Stage(100)]), ValueError, "increase"),
    (lambda: CanaryPolicy(stages=[Stage(5), Stage(50)]), ValueError, "end at 100"),
    (lambda: CanaryPolicy(stages=[]), TypeError, "Stage"),
    (lambda: CanaryPolicy(alpha=1.5), ValueError, "alpha"),
    (lambda: CanaryPolicy(error_test="t"), ValueError, "error_test"),
    (lambda: CanaryPolicy(max_p99_latency=-1), ValueError, "max_p99_latency"),
    (lambda: Stage(0), ValueError, "above 0"),
    (lambda: Stage(5, min_duration=-1), ValueError, "min_duration"),
    (lambda: Stage(5, min_requests=1.5), ValueError, "min_requests"),
    (lambda: CanaryController(policy="fast"), TypeError, "CanaryPolicy"),
])
def test_policy_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_observe_bad_input():
    c = CanaryController(_policy(), start_time=100)
    with pytest.raises(ValueError, match="backwards"):
        c.observe(50, 1, 0, 1, 0)
    with pytest.raises(ValueError, match="negative"):
        c.observe(150, -1, 0, 1, 0)
    with pytest.raises(ValueError, match="cannot exceed"):
        c.observe(150, 1, 2, 1, 0)
    with pytest.raises(TypeError, match="integer count"):
        c.observe(150, 1.5, 0, 1, 0)
    with pytest.raises(ValueError, match="either"):
        c.observe(150, 1, 0, 1, 0, canary_p99=0.1, canary_latencies=[0.1])
    assert c.history == []  # rejected calls leave no trace


def test_single_full_stage_policy_is_rejected():
    # A lone 100% stage is no canary: the controller used to accept it and
    # crash with IndexError on the first observe().
    with pytest.raises(ValueError, match="at least one stage below 100%"):
        CanaryPolicy(stages=[Stage(100, min_duration=0, min_requests=0)])
    with pytest.raises(ValueError, match="at least one stage below 100%"):
        CanaryPolicy(stages=(Stage(100),))
    # the shortest valid policy: one canary stage, then 100%
    c = CanaryController(CanaryPolicy(stages=[Stage(50, 0, 0), Stage(100)]), start_time=0)
    d = c.observe(1.0, 10, 0, 10, 0)
    assert d.action == "promote" and d.percent == 100 and c.state == "complete"


_NAN = float("nan")


@pytest.mark.parametrize("kw,match", [
    (dict(canary_p99=_NAN), "canary_p99 is NaN"),
    (dict(canary_p99=np.float32("nan")), "canary_p99 is NaN"),
    (dict(burn_rate=_NAN), "burn_rate is NaN"),
    (dict(burn_rate=np.nan, canary_p99=5.0), "burn_rate is NaN"),
    (dict(canary_latencies=np.r_[np.nan, np.full(999, 5.0)]), "1 NaN value"),
    (dict(canary_latencies=[5.0, float("nan"), float("nan")]), "2 NaN value"),
    (dict(canary_latencies=np.full((10, 10), np.nan, dtype=np.float32)), "100 NaN value"),
])
def test_nan_measurement_raises_instead_of_promoting(kw, match):
    # NaN > limit is False: a NaN measurement used to skip the rollback check,
    # so a canary 10x over the latency limit was promoted.
    policy = CanaryPolicy(stages=[Stage(1, 60, 10), Stage(100)], max_p99_latency=0.5,
                          max_burn_rate=10)
    c = CanaryController(policy, start_time=0)
    with pytest.raises(ValueError, match=match):
        c.observe(61.0, 100, 0, 100, 0, **kw)
    # the rejected call changed nothing: the same observation, measured, rolls back
    assert c.history == [] and c.state == "running"
    d = c.observe(61.0, 100, 0, 100, 0, canary_p99=5.0)
    assert d.action == "rollback" and d.metrics["canary_requests"] == 100


def test_nan_measurement_raises_without_a_limit_and_nan_time():
    c = CanaryController(_policy(), start_time=0)  # no latency or burn-rate limit
    for kw in (dict(canary_p99=_NAN), dict(burn_rate=_NAN), dict(canary_latencies=[_NAN])):
        with pytest.raises(ValueError, match="NaN"):
            c.observe(10, 1, 0, 1, 0, **kw)
    with pytest.raises(TypeError, match="finite"):
        c.observe(_NAN, 1, 0, 1, 0)
    with pytest.raises(TypeError, match="finite"):
        CanaryController(_policy(), start_time=_NAN)
    assert c.history == []


def test_infinite_measurement_rolls_back():
    # inf (a timed-out request) is a valid latency: above any limit.  numpy's
    # quantile of [0.1] * 90 + [inf] * 10 is NaN (inf - inf), which used to pass.
    policy = CanaryPolicy(stages=[Stage(1, 60, 10), Stage(100)], max_p99_latency=0.5,
                          max_burn_rate=10)
    for kw in (dict(canary_p99=float("inf")), dict(burn_rate=np.inf),
               dict(canary_latencies=np.r_[np.full(10, np.inf), np.full(90, 0.1)]),
               dict(canary_latencies=np.r_[np.full(2, np.inf), np.full(98, 0.1)]),
               dict(canary_latencies=np.full(3, np.inf))):
        c = CanaryController(policy, start_time=0)
        d = c.observe(61.0, 100, 0, 100, 0, **kw)
        assert d.action == "rollback", kw
    # the p99 of latencies with a few inf values is inf exactly when numpy's
    # interpolation touches one, and numpy's value otherwise
    for n_inf, n in [(1, 100), (1, 101), (2, 101), (1, 1000), (11, 1000), (10, 1000)]:
        lat = np.r_[np.linspace(0.1, 0.2, n - n_inf), np.full(n_inf, np.inf)]
        c = CanaryController(_policy(), start_time=0)
        p99 = c.observe(1, 1, 0, 1, 0, canary_latencies=lat).metrics["canary_p99"]
        finite_ref = np.quantile(np.r_[lat[:n - n_inf], np.full(n_inf, 1e300)], 0.99)
        assert p99 == (np.inf if finite_ref > 1 else finite_ref), (n_inf, n)


@pytest.mark.parametrize("kw,exc,match", [
    (dict(canary_p99=-0.1), ValueError, "canary_p99 must not be negative"),
    (dict(burn_rate=-1.0), ValueError, "burn_rate must not be negative"),
    (dict(canary_latencies=[0.1, -0.2]), ValueError, "must not be negative"),
    (dict(canary_p99="0.2"), TypeError, "canary_p99 must be a number"),
    (dict(burn_rate=True), TypeError, "burn_rate must be a number"),
    (dict(canary_latencies=["0.1"]), TypeError, "canary_latencies must hold numbers"),
    (dict(canary_latencies=np.array([True])), TypeError, "canary_latencies must hold numbers"),
    (dict(canary_latencies="0.1"), TypeError, "canary_latencies must be an array"),
])
def test_bad_measurements(kw, exc, match):
    c = CanaryController(_policy(max_p99_latency=1.0, max_burn_rate=10), start_time=0)
    with pytest.raises(exc, match=match):
        c.observe(10, 1, 0, 1, 0, **kw)
    assert c.history == []
    # an empty latency array is no measurement: the latency check is skipped
    d = c.observe(10, 1, 0, 1, 0, canary_latencies=[])
    assert d.action == "hold" and "canary_p99" not in d.metrics


@pytest.mark.parametrize("keys", [[], np.array([]), np.array([], dtype=np.int32),
                                  np.array([], dtype=str), np.empty((2, 0))])
def test_empty_keys_give_empty_results(keys):
    shape = np.shape(keys)
    b = canary.buckets(keys)
    assert b.shape == shape and b.dtype == np.int16
    m = canary.assign(keys, 5)
    assert m.shape == shape and m.dtype == np.bool_


from hypothesis import given, strategies as st  # noqa: E402


@given(st.one_of(st.text(), st.binary(), st.integers(-2**63, 2**64 - 1)),
       st.floats(0, 100), st.floats(0, 100), st.integers(0, 2**64 - 1))
def test_property_monotone_and_stable(key, p1, p2, seed):
    lo, hi = min(p1, p2), max(p1, p2)
    if canary.in_canary(key, lo, seed):
        assert canary.in_canary(key, hi, seed)
    assert canary.bucket(key, seed) == canary.bucket(key, seed)
    if isinstance(key, int):
        assert canary.buckets(np.array([key % 2**64], dtype=np.uint64), seed)[0] == \
            canary.bucket(key, seed)
