"""Canary rollouts: deterministic traffic assignment and a promote/hold/rollback controller.

Traffic assignment
    A request key (user id as ``str``, ``bytes`` or ``int``) is hashed with
    XXH64 (seeded) into one of 10,000 buckets; the key is in the canary at
    ``P`` percent when ``bucket < round(P * 100)``.  The same key always gets
    the same bucket, so a user in the canary at 1% stays in it at 5%, 25% and
    100% (assignment is monotone in ``P``).  Keys are hashed as bytes:
    ``str`` as UTF-8, ``int`` as 8 little-endian bytes (two's complement;
    integers from -2**63 to 2**64 - 1).  :func:`assign` does the same for a
    numpy array of integer keys on a Numba kernel (over 50 million keys per
    second), equal to :func:`in_canary` key by key.

Controller
    :class:`CanaryController` walks the stages of a :class:`CanaryPolicy`
    (1% -> 5% -> 25% -> 100% by default).  Each stage has a minimum duration
    and a minimum number of canary requests; rollback conditions are declared
    up front: canary error rate above the baseline's by the one-sided
    two-proportion z-test at ``alpha`` (or the always-valid mSPRT), a p99
    latency above a limit, an error-budget burn rate above a threshold.
    Every call to :meth:`CanaryController.observe` returns a :class:`Decision`
    (promote, hold or rollback, with the reason) and appends it to the
    history.  Time is passed in, never read from a clock, so the controller
    is deterministic and testable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from fastmlops._core.validation import (
    as_real, check_choice, check_int, check_positive, check_probability,
)

__all__ = [
    "N_BUCKETS", "bucket", "in_canary", "buckets", "assign", "Stage", "CanaryPolicy",
    "Decision", "CanaryController", "DEFAULT_STAGES",
]

#: Number of hash buckets: assignment granularity is 0.01%.
N_BUCKETS = 10_000
_U64 = 1 << 64

#: A request key: a str, bytes or integer.
Key = Union[str, bytes, bytearray, memoryview, int, np.integer]


# ------------------------------------------------------------------ assignment
def _seed(seed: object) -> int:
    return check_int(seed, "seed", minimum=0, maximum=_U64 - 1, why=" (XXH64 seeds are 64-bit)")


def _key_bytes(key: object) -> bytes:
    if isinstance(key, str):
        return key.encode("utf-8")
    if isinstance(key, (bytes, bytearray, memoryview)):
        return bytes(key)
    if isinstance(key, (bool, np.bool_)):
        raise TypeError("a request key must be a str, bytes or int, not a bool")
    if isinstance(key, (int, np.integer)):
        k = int(key)
        if not -(1 << 63) <= k < _U64:
            raise ValueError(f"integer keys must be in [-2**63, 2**64), got {k}; "
                             "pass large ids as str")
        return (k % _U64).to_bytes(8, "little")
    raise TypeError(f"a request key must be a str, bytes or int, got {type(key).__name__}; "
                    "convert it, e.g. str(key)")


def _threshold(percent: object) -> int:
    p = as_real(percent, "percent", "a number between 0 and 100")
    if not 0.0 <= p <= 100.0:  # also refuses NaN
        raise ValueError(f"percent must be between 0 and 100 (5 means 5%), got {percent!r}")
    return int(round(p * N_BUCKETS / 100.0))


def bucket(key: Key, seed: int = 0) -> int:
    """Bucket of ``key`` in ``range(N_BUCKETS)``: ``xxh64(key bytes, seed) % 10000``.

    Examples
    --------
    >>> from fastmlops.canary import bucket
    >>> bucket("user-42") == bucket(b"user-42")
    True
    >>> 0 <= bucket(123456789) < 10_000
    True
    """
    import xxhash

    return xxhash.xxh64_intdigest(_key_bytes(key), _seed(seed)) % N_BUCKETS


def in_canary(key: Key, percent: float, seed: int = 0) -> bool:
    """True when ``key`` is served by the canary at ``percent`` percent of traffic.

    ``bucket(key, seed) < round(percent * 100)``: monotone in ``percent``
    (a key in at 1% is in at every larger percentage), about ``percent``% of
    keys, and stable across processes and machines for a given ``seed``.
    Use a new ``seed`` per rollout to give a different user sample.

    Examples
    --------
    >>> from fastmlops.canary import in_canary
    >>> in_canary("user-42", 100), in_canary("user-42", 0)
    (True, False)
    >>> all(in_canary(k, 25) for k in range(1000) if in_canary(k, 1))
    True
    """
    return bucket(key, seed) < _threshold(percent)


def _int_keys(keys: ArrayLike) -> np.ndarray:
    arr = np.asarray(keys)
    if arr.size == 0:  # nothing to hash, whatever the dtype (np.asarray([]) is float64)
        return np.empty(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"keys must be an array of integers (int64 or uint64), got dtype "
                        f"{arr.dtype}; hash str keys one by one with in_canary()")
    if arr.dtype == np.uint64:
        return np.ascontiguousarray(arr).reshape(-1)
    return np.ascontiguousarray(arr, dtype=np.int64).reshape(-1)


def _batch(keys: ArrayLike, fn_name: str, *args: np.uint64) -> tuple[np.ndarray, tuple[int, ...]]:
    from fastmlops._kernels import canary as kc
    from fastmlops._core.parallel import chunk_bounds, n_workers, parallel_map

    shape = np.shape(keys)
    flat = _int_keys(keys)
    dtype = np.int16 if fn_name == "buckets_into" else np.bool_
    out: np.ndarray = np.empty(flat.shape[0], dtype=dtype)
    fn = getattr(kc, fn_name)

    def work(b: tuple[int, int]) -> None:
        fn(flat[b[0]:b[1]], *args, out[b[0]:b[1]])

    if flat.shape[0]:
        parallel_map(work, chunk_bounds(flat.shape[0], n_workers(), 1 << 18))
    return out.reshape(shape), shape


def buckets(keys: ArrayLike, seed: int = 0) -> np.ndarray:
    """Buckets of many integer keys at once (int16 array of the keys' shape).

    Equal to ``[bucket(int(k), seed) for k in keys]``.  ``keys`` is an array
    (or list) of integers; no keys (``[]``, any empty array) give an empty
    result of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops.canary import bucket, buckets
    >>> keys = np.array([1, 2, -3])
    >>> buckets(keys).tolist() == [bucket(1), bucket(2), bucket(-3)]
    True
    """
    s = np.uint64(_seed(seed))
    out, _ = _batch(keys, "buckets_into", s, np.uint64(N_BUCKETS))
    return out


def assign(keys: ArrayLike, percent: float, seed: int = 0) -> np.ndarray:
    """Canary membership of many integer keys (bool array of the keys' shape).

    Equal to ``[in_canary(int(k), percent, seed) for k in keys]``; runs on a
    Numba kernel split over the worker threads.  No keys (``[]``, any empty
    array) give an empty result of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops.canary import assign
    >>> mask = assign(np.arange(1_000_000), 5)
    >>> round(float(mask.mean()), 2)
    0.05
    """
    t = _threshold(percent)
    s = np.uint64(_seed(seed))
    out, _ = _batch(keys, "in_canary_into", s, np.uint64(N_BUCKETS), np.uint64(t))
    return out


# ------------------------------------------------------------------ controller
@dataclass(frozen=True)
class Stage:
    """One stage of a rollout: the canary's share of traffic and how long /
    how many canary requests it must be watched before promotion."""

    percent: float
    min_duration: float = 600.0
    min_requests: int = 1000

    def __post_init__(self) -> None:
        _threshold(self.percent)
        if self.percent <= 0:
            raise ValueError(f"a stage's percent must be above 0, got {self.percent!r}")
        if not (isinstance(self.min_duration, (int, float)) and self.min_duration >= 0
                and math.isfinite(self.min_duration)):
            raise ValueError(f"min_duration must be a finite number of seconds >= 0, got "
                             f"{self.min_duration!r}")
        if isinstance(self.min_requests, bool) or not isinstance(self.min_requests, int) \
                or self.min_requests < 0:
            raise ValueError(f"min_requests must be an integer >= 0, got {self.min_requests!r}")


#: 1% -> 5% -> 25% -> 100%: ten minutes and 1,000 canary requests at 1%, ten
#: minutes and 5,000 at 5%, twenty minutes and 20,000 at 25%.
DEFAULT_STAGES = (Stage(1, 600.0, 1_000), Stage(5, 600.0, 5_000), Stage(25, 1200.0, 20_000),
                  Stage(100, 0.0, 0))


@dataclass(frozen=True)
class CanaryPolicy:
    """Stages and rollback conditions, declared before the rollout starts.

    Attributes
    ----------
    stages : sequence of Stage
        Strictly increasing percentages ending at 100, with at least one
        stage below 100% before it (a single 100% stage is no canary and is
        rejected with ValueError).  Reaching the last stage completes the
        rollout: its own ``min_duration`` and ``min_requests`` are not used.
    alpha : float, default 0.01
        Significance level of the error-rate comparison (canary worse than
        baseline, one-sided).
    error_test : {'ztest', 'msprt'}
        'ztest': the pooled two-proportion z-test on the stage's counts so far
        (re-run at every observation, which raises the false-rollback rate
        above ``alpha`` over many looks); 'msprt': the always-valid mixture
        SPRT of :func:`fastmlops.abtest.sequential_test`, whose false-rollback
        rate over any number of looks stays below ``alpha``.
    msprt_tau : float, default 0.01
        Mixing standard deviation for 'msprt' (on the error-rate scale).
    max_p99_latency : float or None
        Roll back when the canary's p99 latency exceeds this (same unit as
        the latencies passed in).
    max_burn_rate : float or None
        Roll back when the burn rate passed in exceeds this number.
    """

    stages: Sequence[Stage] = DEFAULT_STAGES
    alpha: float = 0.01
    error_test: str = "ztest"
    msprt_tau: float = 0.01
    max_p99_latency: float | None = None
    max_burn_rate: float | None = None

    def __post_init__(self) -> None:
        stages = tuple(self.stages)
        if not stages or not all(isinstance(s, Stage) for s in stages):
            raise TypeError("stages must be a non-empty sequence of Stage objects")
        percents = [s.percent for s in stages]
        if any(b <= a for a, b in zip(percents, percents[1:])) or percents[-1] != 100:
            raise ValueError(f"stage percentages must increase strictly and end at 100, got "
                             f"{percents}")
        if len(stages) == 1:
            raise ValueError("a canary rollout needs at least one stage below 100% before the "
                             "final 100% stage, e.g. stages=[Stage(5), Stage(100)]; got only "
                             "Stage(100), which would send all traffic to the new version "
                             "unwatched")
        object.__setattr__(self, "stages", stages)
        object.__setattr__(self, "alpha", check_probability(self.alpha, "alpha"))
        check_choice(self.error_test, "error_test", ("ztest", "msprt"))
        object.__setattr__(self, "msprt_tau", check_positive(self.msprt_tau, "msprt_tau"))
        for name in ("max_p99_latency", "max_burn_rate"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, check_positive(v, name))


@dataclass(frozen=True)
class Decision:
    """What to do now.

    ``action`` is 'promote' (move to ``percent``), 'hold' (stay at
    ``percent``) or 'rollback' (send all traffic to the baseline;
    ``percent`` is 0).  ``stage`` is the index of the stage in force after the
    decision, ``reason`` a sentence for the logs, ``metrics`` the numbers the
    decision was based on.
    """

    action: str
    percent: float
    stage: int
    reason: str
    time: float
    metrics: dict[str, float] = field(default_factory=dict)


def _count(value: object, name: str) -> int:
    return check_int(value, name, minimum=0, what="an integer count")


def _measurement(value: object, name: str) -> float:
    """A latency or burn rate passed to observe(): a real number >= 0 (inf allowed)."""
    v = as_real(value, name, "a number (or None)")
    if math.isnan(v):
        raise ValueError(f"{name} is NaN (a failed measurement?); the controller cannot tell "
                         f"whether the canary is healthy from it. Pass a real value, or None "
                         f"when nothing was measured")
    if v < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return v


def _p99_of(latencies: object) -> float | None:
    """p99 of an array of latencies (None when it is empty); NaN raises ValueError."""
    if isinstance(latencies, (str, bytes)):
        raise TypeError("canary_latencies must be an array of numbers, got a "
                        f"{type(latencies).__name__}")
    try:
        lat = np.asarray(latencies)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"canary_latencies could not be converted to an array of numbers: "
                        f"{exc}") from None
    if lat.size == 0:
        return None
    if lat.dtype.kind not in "iuf":
        raise TypeError(f"canary_latencies must hold numbers (int or float), got dtype "
                        f"{lat.dtype}; convert it, e.g. np.asarray(x, dtype=float)")
    lat = lat.astype(np.float64, copy=False)
    n_nan = int(np.count_nonzero(np.isnan(lat)))
    if n_nan:
        raise ValueError(
            f"canary_latencies contains {n_nan} NaN value(s) of {lat.size} (failed "
            "measurements?); a p99 that ignores them could hide a bad canary. Drop them "
            "(lat[~np.isnan(lat)]) only if they are not failed requests; otherwise count "
            "those requests in canary_errors")
    if np.any(lat < 0):
        raise ValueError("canary_latencies must not be negative")
    inf = np.isinf(lat)
    if inf.any():
        # numpy interpolates inf with inf (or with a finite value at weight 0
        # or >= 0.5) to NaN.  Interpolate with the largest float instead: a
        # result above every finite latency means an inf took part, so p99 is inf.
        largest = float(lat[~inf].max()) if not inf.all() else 0.0
        p99 = float(np.quantile(np.where(inf, np.finfo(np.float64).max, lat), 0.99))
        return math.inf if p99 > largest else p99
    return float(np.quantile(lat, 0.99))


class CanaryController:
    """State machine of one canary rollout.

    Parameters
    ----------
    policy : CanaryPolicy, optional
        Stages and rollback conditions (defaults: 1/5/25/100%, alpha 0.01).
    start_time : float
        Time the first stage starts (seconds, any epoch; the caller's clock).

    Attributes
    ----------
    state : {'running', 'rolled_back', 'complete'}
    stage : int
        Index of the current stage; ``percent`` its traffic share (0 after a
        rollback).
    history : list of Decision
        Every decision, in order.

    Examples
    --------
    >>> from fastmlops.canary import CanaryController, CanaryPolicy, Stage
    >>> policy = CanaryPolicy(stages=[Stage(1, 60, 100), Stage(50, 60, 100), Stage(100)],
    ...                       max_p99_latency=0.5)
    >>> c = CanaryController(policy, start_time=0.0)
    >>> c.observe(30.0, canary_requests=80, canary_errors=0, baseline_requests=8000,
    ...           baseline_errors=8).action
    'hold'
    >>> d = c.observe(61.0, canary_requests=40, canary_errors=0, baseline_requests=4000,
    ...               baseline_errors=4, canary_p99=0.2)
    >>> d.action, d.percent
    ('promote', 50)
    >>> d = c.observe(90.0, canary_requests=5000, canary_errors=60, baseline_requests=5000,
    ...               baseline_errors=5)
    >>> d.action, c.state, c.percent
    ('rollback', 'rolled_back', 0.0)
    >>> [h.action for h in c.history]
    ['hold', 'promote', 'rollback']
    """

    def __init__(self, policy: CanaryPolicy | None = None, start_time: float = 0.0) -> None:
        if policy is None:
            policy = CanaryPolicy()
        if not isinstance(policy, CanaryPolicy):
            raise TypeError(f"policy must be a CanaryPolicy, got {type(policy).__name__}")
        self.policy = policy
        self.state = "running"
        self.stage = 0
        self.history: list[Decision] = []
        self._now = self._time(start_time)
        self._reset_stage(self._now)

    @staticmethod
    def _time(now: object) -> float:
        what = "a finite number of seconds"
        t = as_real(now, "time", what)
        if not math.isfinite(t):  # a TypeError too: time is a number, never NaN or inf
            raise TypeError(f"time must be {what}, got {now!r}")
        return t

    def _reset_stage(self, now: float) -> None:
        self._stage_start = now
        self._c_n = self._c_err = self._b_n = self._b_err = 0
        self._max_log_lr = -math.inf

    @property
    def percent(self) -> float:
        """Canary traffic share now (0 after a rollback)."""
        if self.state == "rolled_back":
            return 0.0
        return self.policy.stages[self.stage].percent

    def observe(self, now: float, canary_requests: int, canary_errors: int,
                baseline_requests: int = 0, baseline_errors: int = 0, *,
                canary_p99: float | None = None, canary_latencies: ArrayLike | None = None,
                burn_rate: float | None = None) -> Decision:
        """Record what was observed since the previous call and decide.

        Parameters
        ----------
        now : float
            Current time (not earlier than the previous call).
        canary_requests, canary_errors, baseline_requests, baseline_errors : int
            Counts observed since the previous call (they are summed over the
            stage).
        canary_p99 : float, optional
            The canary's p99 latency over the window (>= 0; ``inf`` counts
            as above any limit); or pass ``canary_latencies`` (array of
            numbers >= 0) and it is computed (an empty array skips the
            latency check).
        burn_rate : float, optional
            The canary's error-budget burn rate (e.g. from an SLO monitor),
            >= 0.

        NaN is never taken as a measurement: a NaN ``now``, ``canary_p99``
        or ``burn_rate``, or any NaN in ``canary_latencies``, raises (a failed
        measurement must not make a bad canary look healthy), whether or not
        the policy sets a limit for it.

        Returns
        -------
        Decision
            Checks run in this order: error rate, p99 latency, burn rate (any
            failing one rolls back), then the stage's minimum duration and
            requests (promote when both are met, else hold).

        Raises
        ------
        RuntimeError
            After a rollback or completion (start a new controller).
        ValueError, TypeError
            Negative counts, errors above requests, time going backwards, NaN
            or negative latencies or burn rate, non-numeric input.  A call
            that raises changes nothing: fix the input and call again.
        """
        if self.state != "running":
            raise RuntimeError(f"the rollout is {self.state.replace('_', ' ')}; create a new "
                               "CanaryController for the next rollout")
        now = self._time(now)
        if now < self._now:
            raise ValueError(f"time went backwards: now={now} is before the previous "
                             f"observation at {self._now}")
        cn, ce = _count(canary_requests, "canary_requests"), _count(canary_errors, "canary_errors")
        bn = _count(baseline_requests, "baseline_requests")
        be = _count(baseline_errors, "baseline_errors")
        if ce > cn or be > bn:
            raise ValueError("errors cannot exceed requests: need canary_errors <= "
                             "canary_requests and baseline_errors <= baseline_requests")
        if canary_p99 is not None and canary_latencies is not None:
            raise ValueError("pass either canary_p99 or canary_latencies, not both")
        if canary_p99 is not None:
            canary_p99 = _measurement(canary_p99, "canary_p99")
        if canary_latencies is not None:
            canary_p99 = _p99_of(canary_latencies)
        if burn_rate is not None:
            burn_rate = _measurement(burn_rate, "burn_rate")
        self._now = now
        self._c_n += cn
        self._c_err += ce
        self._b_n += bn
        self._b_err += be
        stage = self.policy.stages[self.stage]
        elapsed = now - self._stage_start
        metrics: dict[str, float] = {"elapsed": elapsed, "canary_requests": self._c_n,
                                     "canary_errors": self._c_err,
                                     "baseline_requests": self._b_n,
                                     "baseline_errors": self._b_err}
        reason = self._rollback_reason(metrics, canary_p99, burn_rate)
        if reason is not None:
            self.state = "rolled_back"
            return self._decide("rollback", reason, metrics)
        missing = []
        if elapsed < stage.min_duration:
            missing.append(f"{stage.min_duration - elapsed:g} s more")
        if self._c_n < stage.min_requests:
            missing.append(f"{stage.min_requests - self._c_n} more canary requests")
        if missing:
            return self._decide("hold", f"stage {self.stage} ({stage.percent:g}%) needs "
                                + " and ".join(missing), metrics)
        self.stage += 1
        self._reset_stage(now)
        new = self.policy.stages[self.stage]
        last = self.stage == len(self.policy.stages) - 1
        if last:
            self.state = "complete"
        text = (f"stage {self.stage - 1} ({stage.percent:g}%) passed after {elapsed:g} s and "
                f"{metrics['canary_requests']} canary requests; promote to {new.percent:g}%"
                + ("; rollout complete" if last else ""))
        return self._decide("promote", text, metrics)

    def _rollback_reason(self, metrics: dict[str, float], p99: float | None,
                         burn_rate: float | None) -> str | None:
        policy = self.policy
        if self._c_n > 0 and self._b_n > 0:
            from fastmlops.abtest import proportions_ztest

            res = proportions_ztest(self._b_err, self._b_n, self._c_err, self._c_n,
                                    alternative="larger")
            metrics["canary_error_rate"] = res.p_b
            metrics["baseline_error_rate"] = res.p_a
            if policy.error_test == "ztest":
                p = float(res.pvalue)
            else:
                z = float(res.statistic)
                pooled = (self._b_err + self._c_err) / (self._b_n + self._c_n)
                var = pooled * (1 - pooled) * (1 / self._b_n + 1 / self._c_n)
                if var > 0 and z > 0:  # only evidence that the canary is worse counts
                    r = policy.msprt_tau ** 2 / var
                    log_lr = -0.5 * math.log1p(r) + 0.5 * z * z * r / (1 + r)
                    self._max_log_lr = max(self._max_log_lr, log_lr)
                p = min(1.0, math.exp(-self._max_log_lr)) if self._max_log_lr > -math.inf \
                    else 1.0
            metrics["error_pvalue"] = p
            if p < policy.alpha:
                return (f"canary error rate {res.p_b:.4g} is above the baseline's "
                        f"{res.p_a:.4g} ({policy.error_test} p = {p:.3g} < alpha = "
                        f"{policy.alpha:g})")
        if p99 is not None:
            metrics["canary_p99"] = float(p99)
            if policy.max_p99_latency is not None and p99 > policy.max_p99_latency:
                return (f"canary p99 latency {p99:g} is above the limit "
                        f"{policy.max_p99_latency:g}")
        if burn_rate is not None:
            metrics["burn_rate"] = float(burn_rate)
            if policy.max_burn_rate is not None and burn_rate > policy.max_burn_rate:
                return (f"error-budget burn rate {burn_rate:g} is above the threshold "
                        f"{policy.max_burn_rate:g}")
        return None

    def _decide(self, action: str, reason: str, metrics: dict[str, float]) -> Decision:
        d = Decision(action=action, percent=self.percent, stage=self.stage, reason=reason,
                     time=self._now, metrics=metrics)
        self.history.append(d)
        return d
