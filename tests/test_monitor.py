"""fastmlops.monitor.DriftMonitor: exact window counts (kernel vs numpy, forked
workers and threads), figures vs DriftReference.check, the bucketed KS bound,
windows, categorical columns, bad input."""

from __future__ import annotations

import multiprocessing as mp
import os
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastmlops
from fastmlops import divergence
from fastmlops.drift.judge import judge
from fastmlops.monitor._layout import UNSEEN_BUCKETS, Layout, bucketed_ks
from fastmlops.monitor import DriftMonitor

_N = [0]


def _name() -> str:
    _N[0] += 1
    return f"test_monitor_{os.getpid()}_{_N[0]}"


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _numpy_counts(nb, values: np.ndarray) -> np.ndarray:
    """The reference for bin_rows: searchsorted(side='right') per value, NaN last."""
    v = values[~np.isnan(values)]
    k = np.searchsorted(nb.union, v, side="right")
    out = np.bincount(k, minlength=nb.union.size + 1)
    return np.append(out, np.isnan(values).sum())


def _column_counts(m: DriftMonitor, counts: np.ndarray, j: int) -> np.ndarray:
    lay = m._layout
    at = lay.offsets[j]
    return counts[at:at + lay.bins[j].width]


# ------------------------------------------------------------------ kernel vs numpy
finite = st.floats(-1e6, 1e6, allow_nan=False, width=64)
special = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0])


@settings(deadline=None, max_examples=60)
@given(ref=st.lists(finite, min_size=1, max_size=300),
       cur=st.lists(st.one_of(finite, special), min_size=0, max_size=300),
       buckets=st.sampled_from([16, 64, 512]))
def test_bin_rows_equals_numpy_searchsorted(ref, cur, buckets):
    r = fastmlops.DriftReference(np.array(ref))
    lay = Layout(r, buckets)
    values = np.array(cur, dtype=np.float64)
    out = np.zeros(lay.size, dtype=np.int64)
    lay.count_table(values.reshape(-1, 1), out)
    nb = lay.bins[0]
    np.testing.assert_array_equal(out[1:1 + nb.width], _numpy_counts(nb, values))


@pytest.mark.parametrize("make", [
    lambda rng: rng.normal(size=5000),
    lambda rng: rng.lognormal(sigma=3, size=5000),          # heavy right tail
    lambda rng: np.round(rng.normal(size=5000), 1),          # ties
    lambda rng: np.concatenate([rng.normal(size=4990), [1e300, -1e300] * 5]),  # outliers
    lambda rng: np.full(100, 7.0),                           # constant
    lambda rng: rng.integers(0, 3, size=1000).astype(float),  # three values
])
def test_bin_rows_known_shapes(make):
    rng = np.random.default_rng(1)
    r = fastmlops.DriftReference(make(rng))
    lay = Layout(r, 512)
    cur = np.concatenate([make(rng), rng.normal(size=500) * 1e3, [np.nan, np.inf, -np.inf]])
    out = np.zeros(lay.size, dtype=np.int64)
    lay.count_table(cur.reshape(-1, 1), out)
    np.testing.assert_array_equal(out[1:1 + lay.bins[0].width], _numpy_counts(lay.bins[0], cur))


# ------------------------------------------------------------------ bucketed KS bound
@settings(deadline=None, max_examples=60)
@given(n=st.integers(20, 400), m=st.integers(5, 400), shift=st.floats(-1, 1),
       seed=st.integers(0, 2**32 - 1), buckets=st.sampled_from([16, 64, 512]))
def test_bucketed_ks_bounds_the_exact_statistic(n, m, shift, seed, buckets):
    rng = np.random.default_rng(seed)
    a = np.round(rng.normal(size=n), 2)
    b = np.round(rng.normal(size=m) + shift, 2)
    r = fastmlops.DriftReference(a)
    lay = Layout(r, buckets)
    nb = lay.bins[0]
    counts = _numpy_counts(nb, b)[:-1]
    d, _, _, upper = bucketed_ks(nb.ref_below, a.size, np.cumsum(counts)[:-1], m, nb.union)
    exact = fastmlops.ks_2samp(a, b).statistic
    assert d <= exact + 1e-12
    assert exact <= upper + 1e-12
    # the gap is at most the largest share of either sample in one bin
    mass = max(nb.max_mass, counts.max() / m)
    assert upper - d <= mass + 1e-12


def test_bucketed_ks_within_1_over_b_under_no_drift():
    rng = np.random.default_rng(3)
    ref = fastmlops.DriftReference(rng.normal(size=100_000))
    m = DriftMonitor(ref, registry=None, name=_name())
    cur = rng.normal(size=50_000)
    m.observe(cur.reshape(-1, 1))
    rep = m.report()
    exact = fastmlops.ks_2samp(ref.column_models[0].sorted_values, cur).statistic
    assert rep.ks_statistic[0] <= exact <= m.ks_bounds()[0]
    assert exact - rep.ks_statistic[0] <= 1.5 / 512


# ------------------------------------------------------------------ figures vs check
def _mixed(rng, n, shift=0.0):
    import pandas as pd

    return pd.DataFrame({
        "age": np.round(rng.normal(40 + shift, 10, n)),
        "income": np.where(rng.random(n) < 0.05, np.nan, rng.lognormal(10, 1, n)),
        "region": rng.choice(["n", "s", "e", "w"], n, p=[0.4, 0.3, 0.2, 0.1]),
    })


def test_report_matches_check_except_ks():
    rng = np.random.default_rng(5)
    ref = fastmlops.DriftReference(_mixed(rng, 20_000))
    m = DriftMonitor(ref, registry=None, name=_name())
    cur = _mixed(rng, 3_000, shift=2.0)
    for rec in cur.iloc[:500].to_dict("records"):  # rows as dicts
        m.observe(rec)
    m.observe(cur.iloc[500:])  # a DataFrame batch
    got, want = m.report(), ref.check(cur)
    assert got.n_rows == want.n_rows == 3000
    for key in ("psi", "kl", "jsd", "nan_share", "chi2_statistic", "chi2_pvalue"):
        np.testing.assert_allclose(getattr(got, key), getattr(want, key), rtol=1e-12,
                                   err_msg=key)
    np.testing.assert_array_equal(got.n_current, want.n_current)
    assert got.ks_statistic[0] <= want.ks_statistic[0] <= m.ks_bounds()[0]
    # PSI equals psi_from_counts on numpy's counts of the same rows
    c = ref.column_models[0]
    counts, _ = divergence.bin_counts(cur["age"].to_numpy(), c.edges)
    assert got.psi[0] == divergence.psi_from_counts(c.counts, c.n, counts, counts.sum(),
                                                    ref.eps)
    assert got.column_verdict == want.column_verdict
    # the report says how its KS statistic was measured
    assert (got.ks_method, want.ks_method) == ("bucketed", "exact")
    assert got.to_dict()["rule"]["ks_method"] == "bucketed"


def test_verdicts_agree_with_the_exact_check():
    """The documented share: over 200 windows (half shifted by 0 to 0.15 sd),
    the monitor's column verdicts equal the exact check's in at least 97 %."""
    rng = np.random.default_rng(11)
    ref = fastmlops.DriftReference(rng.normal(size=(20_000, 4)))
    agree = total = 0
    for trial in range(200):
        m = DriftMonitor(ref, registry=None, name=_name())
        cur = rng.normal(size=(2_000, 4))
        if trial % 2:
            cur[:, trial % 4] += rng.uniform(0, 0.15)
        m.observe(cur)
        a, b = m.report().column_verdict, ref.check(cur).column_verdict
        agree += sum(x == y for x, y in zip(a, b))
        total += len(a)
    assert agree / total >= 0.97, agree / total


def test_false_drift_rate_under_no_drift():
    """Windows drawn from the reference's own distribution (numeric columns
    with ties and missing values, a categorical column, small and large
    windows): the monitor's "drift" verdicts stay at or below alpha within
    binomial noise, and its "watch" at or below alpha / 2, as the check's do."""
    import pandas as pd
    from scipy.stats import binom

    rng = np.random.default_rng(23)

    def table(n):
        return pd.DataFrame({
            "x": rng.normal(size=n),
            "t": np.where(rng.random(n) < 0.1, np.nan, np.round(rng.exponential(size=n), 1)),
            "c": rng.choice(["a", "b", "c", "d"], n, p=[0.5, 0.3, 0.15, 0.05]),
        })

    ref = fastmlops.DriftReference(table(3000))
    lay = Layout(ref, 512)
    drift = watch = total = 0
    for trial in range(300):
        cur = table([30, 200, 1000][trial % 3])
        out = np.zeros(lay.size, dtype=np.int64)
        lay.count_table(np.ascontiguousarray(cur[["x", "t"]].to_numpy()), out)
        lay.count_categorical(2, cur["c"], out)
        out[0] = len(cur)
        parts, n_rows, _ = lay.parts(out.astype(np.float64))
        verdicts = judge(ref.column_models, parts, n_rows, ref.settings()).column_verdict  # as report()
        drift += verdicts.count("drift")
        watch += verdicts.count("watch")
        total += len(verdicts)
    # one-sided binomial bounds at the 0.1 % level
    assert drift <= binom.ppf(0.999, total, ref.alpha), (drift, total)
    assert watch <= binom.ppf(0.999, total, ref.alpha / 2), (watch, total)


# ------------------------------------------------------------------ processes and threads
def _worker(m: DriftMonitor, rows: np.ndarray, n_threads: int) -> None:
    parts = np.array_split(rows, n_threads)

    def run(part: np.ndarray) -> None:
        for i, row in enumerate(part.tolist()):
            m.observe(row if i % 3 else tuple(row))
        m.observe(part[: len(part) // 4])  # and a batch

    ts = [threading.Thread(target=run, args=(p,)) for p in parts]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def _expected(rows: np.ndarray, n_threads: int) -> np.ndarray:
    """The rows _worker observes: each one, and each thread's first quarter again."""
    return np.vstack([rows] + [p[: len(p) // 4] for p in np.array_split(rows, n_threads)])


def test_forked_workers_and_threads_count_exactly():
    rng = np.random.default_rng(7)
    ref = fastmlops.DriftReference(rng.normal(size=(5000, 3)), columns=["a", "b", "c"])
    m = DriftMonitor(ref, registry=None, name=_name(), window=3600, bucket=3600)
    data = [np.round(rng.normal(size=(3000, 3)), 1) for _ in range(4)]
    data[0][::7, 1] = np.nan
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_worker, args=(m, d, 3)) for d in data]
    for p in procs:
        p.start()
    _worker(m, data[0][:100], 2)  # the parent observes too
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    counts = m.window_counts()
    rows = np.vstack([_expected(d, 3) for d in data] + [_expected(data[0][:100], 2)])
    assert counts[0] == rows.shape[0]
    for j in range(3):
        np.testing.assert_array_equal(_column_counts(m, counts, j),
                                      _numpy_counts(m._layout.bins[j], rows[:, j]))
    rep = m.report()
    c = ref.column_models[1]
    col = rows[:, 1]
    k, _ = divergence.bin_counts(col, c.edges)
    assert rep.psi[1] == divergence.psi_from_counts(c.counts, c.n, k, k.sum(), ref.eps)
    assert m.totals() == (rows.shape[0], 0)


def test_numpy_rows_of_any_numeric_dtype_count_like_lists():
    """float64 rows are buffered as bytes, other numeric dtypes converted
    first, lists and tuples converted at the flush: all count the same, and a
    row the caller changes afterwards was copied."""
    rng = np.random.default_rng(11)
    ref = fastmlops.DriftReference(rng.normal(size=(4000, 3)), columns=["a", "b", "c"])
    m = DriftMonitor(ref, registry=None, name=_name(), window=3600, bucket=3600)
    rows = np.round(rng.normal(size=(600, 3)), 1)
    rows[::11, 2] = np.nan
    rows[5] = [np.inf, -np.inf, 0.0]
    forms = [lambda r: r.copy(), lambda r: r.tolist(), lambda r: tuple(r.tolist()),
             lambda r: r.astype(np.float32), lambda r: np.ascontiguousarray(r[::-1])[::-1],
             lambda r: r.astype(">f8")]
    for i, r in enumerate(rows):
        row = forms[i % len(forms)](r)
        m.observe(row)
        if isinstance(row, np.ndarray):
            row[...] = 99.0  # the monitor kept a copy
    ints = rng.integers(-3, 4, size=(50, 3))
    for r in ints:
        m.observe(r)  # int64 rows
    m.observe(np.array([True, False, True]))  # bools count as 0/1, as numpy converts them
    counts = m.window_counts()
    f32 = rows.copy()
    f32[3::len(forms)] = rows[3::len(forms)].astype(np.float32)  # what the float32 rows hold
    want = np.vstack([f32, ints.astype(float), [[1.0, 0.0, 1.0]]])
    assert counts[0] == want.shape[0]
    for j in range(3):
        np.testing.assert_array_equal(_column_counts(m, counts, j),
                                      _numpy_counts(m._layout.bins[j], want[:, j]))


def test_a_0d_array_is_not_a_row_of_a_mixed_monitor():
    """A 0-d float64 array is refused, whatever the number of columns (its
    8 bytes must never pass for a row of 8 columns)."""
    import pandas as pd

    cols = {f"x{j}": np.arange(50.0) for j in range(7)}
    cols["c"] = ["a", "b"] * 25
    ref = fastmlops.DriftReference(pd.DataFrame(cols))
    m = DriftMonitor(ref, registry=None, name=_name())
    with pytest.raises(ValueError, match="1-D"):
        m.observe(np.array(1.0))
    m.flush()
    assert m.totals() == (0, 0)


# ------------------------------------------------------------------ windows
def test_rows_older_than_the_window_stop_counting():
    clock = Clock(600 * 1000.0)
    ref = fastmlops.DriftReference(np.arange(100.0))
    m = DriftMonitor(ref, registry=None, name=_name(), window=300, bucket=60, clock=clock)
    m.observe([1.0])
    m.flush()
    clock.t += 60
    m.observe(np.array([[2.0], [3.0]]))
    assert m.report().n_rows == 3
    clock.t += 239  # the first row's bucket is 5 buckets old at 300 s: still 4 back
    assert m.report().n_rows == 3
    clock.t += 1  # now 5 buckets back: out
    assert m.report().n_rows == 2
    clock.t += 600
    with pytest.raises(ValueError, match="no rows in the last 300 s"):
        m.report()
    assert m.totals() == (3, 0)
    # the ring position is reused for a new bucket: old counts never come back
    m.observe([5.0])
    assert m.report().n_rows == 1


# ------------------------------------------------------------------ categorical
def test_categorical_rows_and_batches_count_the_same():
    rng = np.random.default_rng(2)
    ref = fastmlops.DriftReference({"c": rng.choice(list("abcde"), 1000),
                                    "x": rng.normal(size=1000)})
    m1 = DriftMonitor(ref, registry=None, name=_name())
    m2 = DriftMonitor(ref, registry=None, name=_name())
    cats = ["a", "b", "z", None, "y", "a"] * 50
    xs = rng.normal(size=len(cats))
    for c, x in zip(cats, xs):
        m1.observe({"c": c, "x": x})
    m2.observe_batch({"c": np.array(cats, dtype=object), "x": xs})
    a, b = m1.window_counts(), m2.window_counts()
    np.testing.assert_array_equal(a, b)
    rep = m1.report()
    want = ref.check({"c": np.array(cats, dtype=object), "x": xs})
    assert rep.unseen[0]["count"] == want.unseen[0]["count"] == 100
    np.testing.assert_allclose(rep.psi[0], want.psi[0], rtol=1e-12)
    assert rep.column_verdict[0] == want.column_verdict[0] == "drift"
    lay = m1._layout
    k = len(ref.column_models[0].categories.categories)
    unseen = a[lay.offsets[0] + k: lay.offsets[0] + k + UNSEEN_BUCKETS]
    assert unseen.sum() == 100 and np.count_nonzero(unseen) == 2


# ------------------------------------------------------------------ bad input
def test_bad_rows_are_errors_or_dropped_whole(caplog):
    ref = fastmlops.DriftReference(np.zeros((10, 3)) + np.arange(10.0)[:, None],
                                   columns=["a", "b", "c"])
    m = DriftMonitor(ref, registry=None, name=_name())
    with pytest.raises(ValueError, match="has 2 value.*3 column"):
        m.observe([1.0, 2.0])
    with pytest.raises(ValueError, match="has 4 value"):
        m.observe(np.zeros(4))
    with pytest.raises(ValueError, match="4 column.*the reference 3"):
        m.observe(np.zeros((5, 4)))
    before = m.window_counts().copy() if m.totals()[0] else None
    assert before is None
    m.observe([1.0, "abc", 3.0])           # a string where a number is expected
    m.observe([1.0, "2.5", 3.0])           # even a numeric-looking one
    m.observe({"a": 1.0, "b": 2.0, "x": 3.0})  # a dict without column "c"
    m.observe([1.0, float("nan"), None])   # NaN and None: missing
    m.observe([4.0, 5.0, 6.0])
    with caplog.at_level("WARNING", logger="fastmlops.monitor"):
        m.flush()
    assert "dropped 3 row(s)" in caplog.text and "has no column 'c'" in caplog.text
    counts = m.window_counts()
    assert counts[0] == 2
    assert m.totals() == (2, 3)
    assert m.rejected_rows == 3
    rep = m.report()
    assert list(rep.nan_share) == [0.0, 0.5, 0.5]
    with pytest.raises(TypeError):
        m.observe("abc")
    with pytest.raises(ValueError):
        DriftMonitor(ref, registry=None, name="bad name")
    with pytest.raises(ValueError, match="window"):
        DriftMonitor(ref, registry=None, name=_name(), window=90, bucket=60)
    with pytest.raises(TypeError, match="DriftReference"):
        DriftMonitor(np.zeros(3), registry=None)


def test_bad_categorical_row_is_dropped():
    ref = fastmlops.DriftReference({"c": np.array(["a", "b"] * 10), "x": np.arange(20.0)})
    m = DriftMonitor(ref, registry=None, name=_name())
    m.observe(["a", 1.0])
    m.observe([3, 1.0])     # an int where strings are expected
    m.observe(["b", "x"])   # a string where a number is expected
    m.flush()
    assert m.totals() == (1, 2)
    assert m.window_counts()[0] == 1


def test_directory_mode(tmp_path):
    ref = fastmlops.DriftReference(np.arange(50.0))
    name = _name()
    a = DriftMonitor(ref, registry=None, name=name, directory=tmp_path)
    b = DriftMonitor(ref, registry=None, name=name, directory=tmp_path)
    a.observe([1.0])
    b.observe([2.0])
    b.flush()  # (another process's flusher would have)
    assert a.report().n_rows == 2
    assert (tmp_path / "drift-monitors" / f"{name}.fastmlops").exists()
    other = fastmlops.DriftReference(np.arange(60.0))
    with pytest.raises(ValueError, match="another definition"):
        DriftMonitor(other, registry=None, name=name, directory=tmp_path)
