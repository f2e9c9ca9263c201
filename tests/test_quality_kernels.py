"""The ranking kernels of ``fastmlops.quality`` against obviously correct references.

* ``placements`` (DeLong's structural components) against the direct O(n m)
  double loop over every (positive, negative) pair;
* the bucket sort (``fastmlops.quality._ranking.sort_rows``) against
  ``np.sort``: the same keys in the same order, every row's code and weight
  carried with its score (compared as sorted (score, code, weight) triples),
  over columns built to stress it (ties, skew, signed zeros, infinities,
  subnormals, constant) and with small first-level buckets so that many of
  them, and their boundaries, are exercised;
* the tie-block sweeps (``auc_sums``, ``ap_sums``) against per-group pair
  counts and threshold loops.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastmlops._kernels.quality import ap_sums, auc_sums
from fastmlops._kernels.ranks import placements, placements_sorted
from fastmlops.quality._ranking import sort_rows

SCORES = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False, width=64),
    st.integers(-3, 3).map(float),
    st.sampled_from([0.0, -0.0, np.inf, -np.inf, 5e-324, -5e-324, 1e308]),
)


def _direct_placements(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos, neg = scores[labels == 1], scores[labels == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return psi.mean(axis=1), psi.mean(axis=0)


@settings(max_examples=200)
@given(data=st.data(), n=st.integers(2, 60))
def test_placements_equal_the_pairwise_definition(data, n):
    scores = data.draw(hnp.arrays(np.float64, n, elements=SCORES))
    labels = data.draw(hnp.arrays(np.uint8, n, elements=st.integers(0, 1)))
    labels[0], labels[1] = 0, 1  # both classes present
    v10, v01 = placements(scores, labels)
    e10, e01 = _direct_placements(scores, labels)
    np.testing.assert_allclose(v10, e10, rtol=1e-14, atol=0)
    np.testing.assert_allclose(v01, e01, rtol=1e-14, atol=0)
    assert v10.mean() == pytest.approx(v01.mean(), rel=1e-13)
    # the same from the bucket sort's order (row numbers carried as codes)
    keys, rows, _ = sort_rows(scores, np.arange(n, dtype=np.int32), np.empty(0), 4)
    s10, s01 = placements_sorted(keys, rows, labels)
    np.testing.assert_array_equal(s10, v10)
    np.testing.assert_array_equal(s01, v01)


def test_placements_known_answer():
    # positives 0.8, 0.35; negatives 0.1, 0.4: 0.8 beats both, 0.35 beats 0.1
    v10, v01 = placements(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1], np.uint8))
    assert v10.tolist() == [0.5, 1.0]
    assert v01.tolist() == [1.0, 0.5]
    v10, v01 = placements(np.array([1.0, 1.0, 1.0]), np.array([1, 0, 1], np.uint8))
    assert v10.tolist() == [0.5, 0.5] and v01.tolist() == [0.5]


def _check_sorted(values: np.ndarray, codes: np.ndarray, weights: np.ndarray,
                  rows_per_bucket: int) -> None:
    keys, out_codes, out_weights = sort_rows(values, codes, weights, rows_per_bucket)
    expected = np.sort(values)
    assert np.array_equal(keys, expected)  # -0.0 == 0.0: their order is free
    # every row kept its code and weight: compare sorted triples
    w_in = weights if weights.size else np.zeros(values.size)
    w_out = out_weights if weights.size else np.zeros(values.size)
    if weights.size:
        assert out_weights.size == values.size
    a = np.lexsort((w_in, codes, values))
    b = np.lexsort((w_out, out_codes, keys))
    assert np.array_equal(values[a], keys[b])
    assert np.array_equal(codes[a], out_codes[b])
    assert np.array_equal(w_in[a], w_out[b])


def _column(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "normal":
        return rng.normal(size=n)
    if kind == "sigmoid":
        return 1 / (1 + np.exp(-3 * rng.normal(size=n)))
    if kind == "skewed":
        return np.exp(rng.normal(0, 6, n))
    if kind == "levels":
        return rng.integers(0, 7, n).astype(float)
    if kind == "rounded":
        return np.round(rng.random(n), 2)
    if kind == "constant":
        return np.full(n, 0.25)
    if kind == "specials":
        x = rng.normal(size=n)
        for v in (np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324, 1e308, -1e308):
            x[rng.integers(0, n, max(1, n // 50))] = v
        return x
    if kind == "ulps":  # distinct values closer than the float64 rounding of their keys
        return 1.0 + rng.integers(0, 40, n) * np.finfo(float).eps
    raise AssertionError(kind)


KINDS = ["normal", "sigmoid", "skewed", "levels", "rounded", "constant", "specials", "ulps"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n,rows_per_bucket", [(1, 4096), (17, 4096), (5000, 4096),
                                               (20_000, 64), (300_000, 4096)])
def test_sort_rows_equals_np_sort(kind, n, rows_per_bucket):
    rng = np.random.default_rng(n)
    values = _column(kind, n, rng)
    codes = rng.integers(0, 9, n).astype(np.int32)
    weights = rng.random(n)
    _check_sorted(values, codes, weights, rows_per_bucket)
    _check_sorted(values, codes, np.empty(0), rows_per_bucket)


@pytest.mark.parametrize("threads", ["1", "3"])
def test_sort_rows_split_between_threads(threads, monkeypatch):
    # long enough for the first passes to be split: each part its own offsets
    monkeypatch.setenv("FASTMLOPS_NUM_THREADS", threads)
    rng = np.random.default_rng(11)
    n = 600_001
    for kind in ("normal", "levels", "specials"):
        values = _column(kind, n, rng)
        _check_sorted(values, rng.integers(0, 5, n).astype(np.int32), rng.random(n), 1024)


@settings(max_examples=150)
@given(data=st.data(), n=st.integers(1, 400), rows_per_bucket=st.sampled_from([4, 32, 4096]))
def test_sort_rows_hypothesis(data, n, rows_per_bucket):
    values = data.draw(hnp.arrays(np.float64, n, elements=SCORES))
    codes = data.draw(hnp.arrays(np.int32, n, elements=st.integers(0, 5)))
    _check_sorted(values, codes, np.arange(n, dtype=np.float64), rows_per_bucket)


def _direct_auc_ap(scores, labels, groups, weights, n_groups):
    auc = np.zeros((n_groups, 3))
    ap = np.zeros((n_groups, 3))
    for g in range(n_groups):
        s, y, w = scores[groups == g], labels[groups == g], weights[groups == g]
        pos, neg = y == 1, y == 0
        pw = w[pos][:, None] * w[neg][None, :]
        cmp = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
        auc[g] = [(pw * cmp).sum(), w[pos].sum(), w[neg].sum()]
        total = 0.0
        for t in np.unique(s):
            at = s == t
            if w[at & pos].sum() > 0:
                above = s >= t
                total += w[at & pos].sum() * (w[above & pos].sum() / w[above].sum())
        ap[g] = [total, w[pos].sum(), w[neg].sum()]
    return auc, ap


@settings(max_examples=150)
@given(data=st.data(), n=st.integers(1, 80), n_groups=st.integers(1, 4),
       weighted=st.booleans())
def test_sweeps_equal_pairwise_sums_per_group(data, n, n_groups, weighted):
    scores = np.sort(data.draw(hnp.arrays(np.float64, n, elements=SCORES)))
    labels = data.draw(hnp.arrays(np.int32, n, elements=st.integers(0, 1)))
    groups = data.draw(hnp.arrays(np.int32, n, elements=st.integers(0, n_groups - 1)))
    weights = (data.draw(hnp.arrays(np.float64, n, elements=st.sampled_from([0.0, 0.5, 1.0, 3.0])))
               if weighted else np.empty(0))
    codes = np.ascontiguousarray(2 * groups + labels, dtype=np.int32)
    auc, ap = np.zeros((n_groups, 3)), np.zeros((n_groups, 3))
    auc_sums(scores, codes, weights, auc)
    ap_sums(scores, codes, weights, ap)
    e_auc, e_ap = _direct_auc_ap(scores, labels, groups, weights if weighted else np.ones(n),
                                 n_groups)
    np.testing.assert_allclose(auc, e_auc, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ap, e_ap, rtol=1e-12, atol=1e-12)
