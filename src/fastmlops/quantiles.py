"""Streaming quantiles for serving metrics: a sliding window, a reservoir
sample and PromQL's ``histogram_quantile``.

* :class:`SlidingWindow` -- the last ``size`` values in a numpy ring buffer;
  quantiles by numpy's default rule (``method="linear"``), identical bit for
  bit to ``np.quantile`` on the same values (see below for the two
  exceptions), by a Numba selection kernel (no sort: one introselect per
  quantile on a scratch copy).
* :class:`Reservoir` -- a uniform random sample of ``k`` values from a whole
  stream of unknown length (Li's Algorithm L: the gaps between values that
  enter the sample are drawn directly, so :meth:`Reservoir.extend` touches
  only the values it keeps); quantiles by the same linear rule over the
  sample.
* :func:`histogram_quantile` -- PromQL's rules on cumulative Prometheus
  bucket counts (``le`` upper bounds ending in ``+Inf``).

Interpolation rule of :class:`SlidingWindow` and :class:`Reservoir` (numpy's
``linear``, Hyndman & Fan's type 7): for ``n`` sorted values ``x[0..n-1]``,
the virtual index is ``v = (n - 1) * q``; with ``i = floor(v)`` and
``g = v - i``, the quantile is ``x[i] + (x[i+1] - x[i]) * g`` when
``g < 0.5`` and ``x[i+1] - (x[i+1] - x[i]) * (1 - g)`` otherwise (numpy's
``_lerp``, which is exact at both ends); ``v >= n - 1`` gives the maximum.
``np.percentile(values, p)`` divides ``p`` by 100 first, so it equals
``quantile(p / 100)``.

``q`` is used as a float64.  The bit-for-bit equality with ``np.quantile``
holds for float64 ``q`` (a Python float): numpy computes the virtual index of
a float32 ``q`` in float32, so its result for ``np.float32(q)`` differs in the
last bits.  And when the values hold both ``0.0`` and ``-0.0``, which of the
two (equal) zeros a quantile returns depends on the selection order: the
result equals numpy's but may differ from it in the sign of a zero.

NaN is rejected (``ValueError``) by ``add`` and ``extend``: one NaN would make
every later quantile of the window NaN.  Infinities are accepted and follow
numpy's arithmetic.

Thread safety: :class:`SlidingWindow` and :class:`Reservoir` are *not*
thread-safe (``add`` is a read-modify-write of the write position and
counters).  Use one per thread (there is no merge method: combine their
``values()`` / ``sample()`` yourself), or guard every call with one
``threading.Lock``.  Queries release the GIL inside the kernel, read the
buffer and write the object's one scratch buffer, so they need that lock too,
even against each other: two concurrent queries on one object, with no writer
at all, return wrong quantiles (a readers-writer lock is not enough).
:func:`histogram_quantile` is a pure function and safe from any thread.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from fastmlops._kernels import quantiles as _k
from fastmlops._core.validation import (
    as_numeric_array, as_real, check_bool, check_int, check_seed,
)

__all__ = ["SlidingWindow", "Reservoir", "histogram_quantile"]


# --------------------------------------------------------------------------- helpers
def _check_q(q: object) -> float:
    if type(q) is float and 0.0 <= q <= 1.0:  # the common case, fast
        return q
    qf = as_real(q, "q", "a number in [0, 1] (0.99 for p99)")
    if not 0.0 <= qf <= 1.0:  # also rejects NaN
        hint = f" (write the {qf:g}th percentile as {qf / 100:g})" if 1 < qf <= 100 else ""
        raise ValueError(f"q must be in [0, 1] (0.99 for p99), got {q!r}{hint}")
    return qf


def _check_qs(qs: object) -> np.ndarray:
    if type(qs) is not list and isinstance(qs, (Real, np.number)):
        raise TypeError("quantiles() takes a sequence such as [0.5, 0.95, 0.99]; "
                        "use quantile(q) for a single q")
    try:
        raw = np.asarray(qs)
    except (TypeError, ValueError):
        raw = None
    if raw is None or raw.dtype.kind not in "iuf":  # strings, bools, objects, complex
        raise TypeError(f"qs must be a sequence of numbers such as [0.5, 0.99], got {qs!r}")
    arr = np.array(raw, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"qs must be a non-empty 1-D sequence such as [0.5, 0.99], got shape "
                         f"{arr.shape}")
    if not all(0.0 <= q <= 1.0 for q in arr.tolist()):  # also rejects NaN
        raise ValueError(f"every q must be in [0, 1] (0.99 for p99), got {arr.tolist()}")
    return arr


def _values_1d(values: ArrayLike, name: str = "values") -> np.ndarray:
    arr = as_numeric_array(values, name)
    if arr.ndim != 1:
        if arr.ndim == 0:
            raise ValueError(f"{name} must be 1-D; use add(value) for a single value")
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}; pass arr.ravel()")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    # np.min propagates NaN and is vectorised: much cheaper than isnan().any()
    if arr.size and math.isnan(arr.min()):
        raise ValueError(f"{name} contain NaN; drop failed measurements first "
                         "(e.g. arr[~np.isnan(arr)])")
    return arr


def _value(value: object) -> float:
    if type(value) is float and value == value:  # the common case, fast
        return value
    if isinstance(value, bool) or not isinstance(value, (Real, np.number)):
        raise TypeError(f"value must be a real number, got {type(value).__name__} {value!r}; "
                        "use extend() for arrays")
    try:
        v = float(value)
    except OverflowError:  # an int beyond float64
        raise ValueError(f"value {value!r} is too large for a float64") from None
    if v != v:
        raise ValueError("value is NaN; drop failed measurements instead of recording them")
    return v


class _QuantileQueries:
    """The query methods shared by the window and the reservoir."""

    _buf: np.ndarray
    _scratch: np.ndarray

    _len: int  # values held (the window's length, or min(count, k))

    def _empty_error(self) -> ValueError:
        return ValueError(f"{type(self).__name__} is empty; add values before asking for "
                          "quantiles")

    def _query(self, q: float) -> float:
        n = self._len
        if n == 0:
            raise self._empty_error()
        return _k.select_quantile(self._buf, n, q, self._scratch)

    def quantile(self, q: float) -> float:
        """The ``q``-quantile of the current values (numpy's linear rule)."""
        return self._query(_check_q(q))

    def quantiles(self, qs: Sequence[float]) -> np.ndarray:
        """Several quantiles at once, in the order given (one scratch copy;
        ascending ``qs`` let each selection reuse the previous one)."""
        qarr = _check_qs(qs)
        n = self._len
        if n == 0:
            raise self._empty_error()
        out = np.empty(qarr.size)
        _k.select_quantiles(self._buf, n, qarr, self._scratch, out)
        return out

    @property
    def p50(self) -> float:
        """The median (``quantile(0.5)``)."""
        return self._query(0.5)

    @property
    def p95(self) -> float:
        """``quantile(0.95)``."""
        return self._query(0.95)

    @property
    def p99(self) -> float:
        """``quantile(0.99)``."""
        return self._query(0.99)


# --------------------------------------------------------------------------- window
class SlidingWindow(_QuantileQueries):
    """The last ``size`` values of a stream, with exact quantiles.

    A numpy ring buffer: :meth:`add` and :meth:`extend` overwrite the oldest
    values once the window is full.  Quantiles use numpy's default linear
    interpolation (see the module docstring) and equal
    ``np.quantile(window.values(), q)`` bit for bit (for float64 ``q``, up to
    the sign of a zero result); a query copies the window
    to a scratch buffer and selects the two neighbouring order statistics
    (O(size); tail quantiles such as p99 by one heap pass without a copy), so
    the buffer itself is never reordered.

    Not thread-safe: one window per thread, or a lock around every call,
    queries included (they share a scratch buffer).

    Parameters
    ----------
    size : int, default 1000
        How many of the most recent values to keep.

    Raises
    ------
    ValueError
        ``size < 1``; NaN passed to :meth:`add` / :meth:`extend`; a quantile
        of an empty window; ``q`` outside [0, 1].
    TypeError
        Non-numeric ``size``, value or ``q``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops.quantiles import SlidingWindow
    >>> w = SlidingWindow(size=4)
    >>> w.extend([10.0, 20.0, 30.0, 40.0])
    >>> w.add(50.0)                      # 10.0 drops out
    >>> w.values()
    array([20., 30., 40., 50.])
    >>> w.p50                            # index 1.5 -> halfway between 30 and 40
    35.0
    >>> w.quantiles([0.0, 0.99, 1.0])
    array([20. , 49.7, 50. ])
    >>> bool(w.p99 == np.percentile(w.values(), 99))
    True
    >>> len(w), w.count
    (4, 5)
    """

    def __init__(self, size: int = 1000) -> None:
        self.size = check_int(size, "size", what="a positive int")
        self._buf = np.zeros(self.size)
        self._scratch = np.empty(self.size)
        self._pos = 0          # next slot to write
        self._len = 0          # values held (<= size)
        self.count = 0         # values ever added

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        return f"SlidingWindow(size={self.size}, len={self._len}, count={self.count})"

    def add(self, value: float) -> None:
        """Append one value (the oldest drops out when the window is full)."""
        v = _value(value)
        pos = self._pos
        self._buf[pos] = v
        pos += 1
        self._pos = 0 if pos == self.size else pos
        if self._len < self.size:
            self._len += 1
        self.count += 1

    def extend(self, values: ArrayLike) -> None:
        """Append many values in order (a 1-D array-like; NaN raises before
        anything is stored)."""
        arr = _values_1d(values)
        m = arr.size
        if m == 0:
            return
        size = self.size
        if m >= size:
            self._buf[:] = arr[m - size:]
            self._pos = 0
        else:
            pos = self._pos
            first = min(m, size - pos)
            self._buf[pos:pos + first] = arr[:first]
            rest = m - first
            if rest:
                self._buf[:rest] = arr[first:]
            self._pos = (pos + m) % size
        self._len = min(size, self._len + m)
        self.count += m

    def values(self) -> np.ndarray:
        """A copy of the window, oldest first."""
        if self._len < self.size:
            return self._buf[:self._len].copy()
        return np.concatenate((self._buf[self._pos:], self._buf[:self._pos]))

    def clear(self) -> None:
        """Forget every value (``count`` back to 0)."""
        self._pos = self._len = self.count = 0


# --------------------------------------------------------------------------- reservoir
class Reservoir(_QuantileQueries):
    """A uniform random sample of ``k`` values from a whole stream.

    Li's Algorithm L (ACM TOMS 20(4), 1994): the first ``k`` values fill the
    sample; afterwards a weight ``W`` (the largest of ``k`` uniform keys) is
    kept and the number of values to skip before the next one that enters
    the sample is drawn as ``floor(log(U) / log(1 - W))``; that value replaces
    a uniformly chosen slot and ``W *= U' ** (1/k)``.  Every value of the
    stream ends up in the sample with probability ``k / count``, and the
    expected number of replacements after ``n`` values is about
    ``k * (1 + ln(n / k))``, so :meth:`extend` costs almost nothing per value
    (the input is only scanned once for NaN).

    Random numbers come from a private xoshiro256** generator seeded through
    ``np.random.SeedSequence(seed)``: the same seed and the same stream give
    the same sample whether the values arrive one by one (:meth:`add`),
    in one :meth:`extend` or in chunks of any size.

    Quantiles use numpy's linear rule over the sample (see the module
    docstring): ``quantile(q) == np.quantile(reservoir.sample(), q)``.

    Not thread-safe: one reservoir per thread, or a lock around every call,
    queries included (they share a scratch buffer).

    Parameters
    ----------
    k : int
        Sample size.
    seed : int, numpy.random.SeedSequence or None
        ``None`` draws fresh entropy from the operating system.

    Attributes
    ----------
    count : int
        Values seen so far.

    Examples
    --------
    >>> import numpy as np
    >>> from fastmlops.quantiles import Reservoir
    >>> r = Reservoir(100, seed=1)
    >>> r.extend(np.arange(1_000_000, dtype=float))
    >>> r.count, len(r)
    (1000000, 100)
    >>> s = r.sample()
    >>> bool(((s >= 0) & (s < 1_000_000)).all()) and len(np.unique(s)) == 100
    True
    >>> bool(r.quantile(0.5) == np.quantile(s, 0.5))
    True
    >>> r2 = Reservoir(100, seed=1)
    >>> for x in range(1_000_000):
    ...     r2.add(x)
    >>> bool((r2.sample() == s).all())
    True
    """

    def __init__(self, k: int, seed: int | np.random.SeedSequence | None = None) -> None:
        self.k = check_int(k, "k", what="a positive int")
        seed = check_seed(seed, allow_sequence=True)
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        state = ss.generate_state(4, dtype=np.uint64)
        if not state.any():  # xoshiro's one forbidden state
            state[0] = 1
        self._rng = np.ascontiguousarray(state, dtype=np.uint64)
        self._buf = np.zeros(self.k)
        self._scratch = np.empty(self.k)
        self._counters = np.zeros(2, dtype=np.int64)  # [seen, next position taken]
        self._w = np.zeros(1)
        self._one = np.empty(1)
        _k.reservoir_init(self._buf, self._counters, self._w, self._rng)
        self._seen = 0
        self._len = 0
        self._next = int(self._counters[1])

    @property
    def count(self) -> int:
        """Values seen so far."""
        return self._seen

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        return f"Reservoir(k={self.k}, count={self._seen})"

    def add(self, value: float) -> None:
        """Offer one value to the sample (O(1); most calls only count)."""
        v = _value(value)
        seen = self._seen
        if seen < self.k:
            self._buf[seen] = v
            self._len = seen + 1
        elif seen == self._next:
            self._one[0] = v
            self._counters[0] = seen
            _k.reservoir_feed(self._buf, self._one, self._counters, self._w, self._rng)
            self._next = int(self._counters[1])
        self._seen = seen + 1

    def extend(self, values: ArrayLike) -> None:
        """Offer many values (a 1-D array-like) in stream order; NaN raises
        before anything is sampled."""
        arr = _values_1d(values)
        if arr.size == 0:
            return
        self._counters[0] = self._seen
        _k.reservoir_feed(self._buf, arr, self._counters, self._w, self._rng)
        self._seen = int(self._counters[0])
        self._len = min(self._seen, self.k)
        self._next = int(self._counters[1])

    def sample(self) -> np.ndarray:
        """A copy of the current sample (``min(count, k)`` values, in slot
        order, which is not stream order)."""
        return self._buf[:self._len].copy()


# --------------------------------------------------------------------------- histograms
def _is_bool(x: object) -> bool:
    """True for a bool or an array-like of bools (which would pass as 1 and 0)."""
    if isinstance(x, (bool, np.bool_)):
        return True
    if isinstance(x, (list, tuple, np.ndarray)):
        try:
            return np.asarray(x).dtype.kind == "b"
        except (TypeError, ValueError):  # ragged: as_numeric_array explains
            return False
    return False


def histogram_quantile(q: ArrayLike, le: ArrayLike, counts: ArrayLike, *,
                       cumulative: bool = True) -> float | np.ndarray:
    """PromQL's ``histogram_quantile`` on classic Prometheus buckets.

    The rules, as Prometheus applies them (``promql/quantile.go``):

    1. ``q < 0`` gives ``-Inf``, ``q > 1`` gives ``+Inf``, ``q`` NaN gives NaN
       (even with no observations).
    2. Counts are made monotonic first: a cumulative count lower than the one
       before it (or within a relative 1e-12 of it) is replaced by it, as
       Prometheus does for counts scraped mid-update.
    3. With fewer than two buckets, or zero observations (the ``+Inf``
       bucket's count), the result is NaN.
    4. ``rank = q * observations``; the bucket ``b`` is the first one (the
       ``+Inf`` bucket excluded) whose cumulative count is ``>= rank``.
    5. If that is the ``+Inf`` bucket (no finite bucket reaches the rank), the
       result is the upper bound of the previous bucket (the highest finite
       ``le``).
    6. If it is the first bucket and its upper bound is ``<= 0``, the result
       is that upper bound.
    7. Otherwise linear interpolation inside the bucket, whose lower bound is
       the previous ``le`` (0 for the first bucket):
       ``start + (end - start) * (rank - count_before) / count_in_bucket``.
       When that bucket is empty (only possible for ``q = 0``) this is 0/0,
       NaN, as in PromQL.

    Deviation from PromQL, for clearer errors: where Prometheus silently
    returns NaN for a missing ``+Inf`` bucket and sorts/merges unordered or
    duplicate ``le`` values, this function raises ``ValueError``.

    Parameters
    ----------
    q : float or sequence of float
        The quantile(s), normally in [0, 1].
    le : sequence of float
        Bucket upper bounds, strictly increasing, the last one ``+Inf``.
    counts : array-like, shape (len(le),) or (series, len(le))
        Bucket counts (or rates), one row per series.  Cumulative (the
        Prometheus ``_bucket`` samples) unless ``cumulative=False``.
    cumulative : bool, default True
        ``False`` when ``counts`` are per-bucket counts (they are summed along
        the last axis first).

    Returns
    -------
    float or numpy.ndarray
        A float for scalar ``q`` (a number or a 0-d array) and 1-D
        ``counts``; otherwise an array of shape ``q.shape + counts.shape[:-1]``.

    Examples
    --------
    100 requests of 50 ms with buckets 0.01, 0.05, 0.1, 0.5, 1.0, +Inf:

    >>> from fastmlops.quantiles import histogram_quantile
    >>> le = [0.01, 0.05, 0.1, 0.5, 1.0, float("inf")]
    >>> counts = [0, 100, 100, 100, 100, 100]
    >>> round(histogram_quantile(0.99, le, counts), 6)   # 0.01 + 0.04 * 99/100
    0.0496
    >>> histogram_quantile([0.5, 1.0], le, counts)
    array([0.03, 0.05])
    >>> per_bucket = [0, 100, 0, 0, 0, 0]
    >>> histogram_quantile(0.99, le, per_bucket, cumulative=False) == histogram_quantile(0.99, le, counts)
    True
    >>> histogram_quantile(0.9, le, [0, 0, 0, 0, 0, 10])  # all in +Inf: highest finite le
    1.0
    >>> histogram_quantile(0.5, le, [0] * 6)
    nan
    >>> histogram_quantile(1.5, le, counts)
    inf
    """
    check_bool(cumulative, "cumulative")
    if _is_bool(q):
        raise TypeError("q must be a number such as 0.99 (or numbers), got a bool")
    qarr = np.asarray(as_numeric_array(q, "q"), dtype=np.float64)
    scalar_q = qarr.ndim == 0  # a number or a 0-d array
    if qarr.ndim > 1:
        raise ValueError(f"q must be a number or a 1-D sequence, got shape {qarr.shape}")
    bounds = np.ascontiguousarray(as_numeric_array(le, "le"), dtype=np.float64)
    if bounds.ndim != 1 or bounds.size == 0:
        raise ValueError(f"le must be a non-empty 1-D sequence of bucket upper bounds, got shape "
                         f"{bounds.shape}")
    if np.isnan(bounds).any():
        raise ValueError("le contains NaN; bucket upper bounds must be numbers")
    if bounds[-1] != np.inf:
        raise ValueError(f"the last bucket must be le=+Inf (got {bounds[-1]!r}); append "
                         "float('inf') and its count (the total number of observations)")
    if bounds.size > 1 and not (np.diff(bounds) > 0).all():
        raise ValueError("le must be strictly increasing (one bucket per upper bound); sort the "
                         "buckets and merge duplicates first")
    c = as_numeric_array(counts, "counts")
    if c.ndim not in (1, 2) or c.shape[-1] != bounds.size:
        raise ValueError(f"counts must have shape ({bounds.size},) or (series, {bounds.size}) "
                         f"to match le, got {c.shape}")
    c = np.asarray(c, dtype=np.float64)
    if not np.isfinite(c).all():
        raise ValueError("counts must be finite (no NaN or inf)")
    if (c < 0).any():
        raise ValueError("counts must be >= 0")
    if not cumulative:
        c = np.cumsum(c, axis=-1)
    rows = np.ascontiguousarray(c.reshape(-1, bounds.size))
    qflat = np.ascontiguousarray(qarr.reshape(-1))
    out = np.empty((qflat.size, rows.shape[0]))
    _k.bucket_quantiles(qflat, bounds, rows, out)
    if scalar_q and c.ndim == 1:
        return float(out[0, 0])
    return out.reshape(qarr.shape + c.shape[:-1])
