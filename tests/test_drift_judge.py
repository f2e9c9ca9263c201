"""Counts, then judgement: one typed counts value per column and one judging step
(:func:`fastmlops.drift.judge.judge`) shared by every producer of counts."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

import fastmlops
from fastmlops.drift._count import count_columns
from fastmlops.drift.counts import CategoricalCounts, KsFigures, NumericCounts
from fastmlops.drift.judge import judge


def _table(rng, n):
    return pd.DataFrame({"x": rng.normal(size=n),
                         "c": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1])})


def test_counts_of_a_check_are_typed_and_judged_to_the_same_report():
    rng = np.random.default_rng(0)
    ref = fastmlops.DriftReference(_table(rng, 3000))
    cur = _table(rng, 800)
    cols = ref.current_columns(cur)
    counts = count_columns(ref.column_models, ref.columns, cols, "two-sided", binned=True)
    assert isinstance(counts[0], NumericCounts) and isinstance(counts[0].ks, KsFigures)
    assert isinstance(counts[1], CategoricalCounts) and counts[1].ks is None
    assert counts[0].n == 800 and int(counts[0].bins.sum()) == 800
    assert counts[1].categories is not None and int(counts[1].categories.counts.sum()) == 800
    got = judge(ref.column_models, counts, cols.n_rows, ref.settings())
    want = ref.check(cur)
    assert got.to_dict() == want.to_dict()


def test_state_and_check_judge_the_same_counts():
    rng = np.random.default_rng(1)
    ref = fastmlops.DriftReference(_table(rng, 5000))
    batches = [_table(rng, n) for n in (700, 1, 1300)]
    state = ref.new_state()
    for b in batches:
        state.update(ref, b)
    state.candidates(ref)
    for b in batches:
        state.gather(ref, b)
    assert state.finish(ref).to_dict() == ref.check(pd.concat(batches)).to_dict()


def test_judge_refuses_counts_that_do_not_fit_the_reference():
    rng = np.random.default_rng(2)
    ref = fastmlops.DriftReference(_table(rng, 1000))
    cols = ref.current_columns(_table(rng, 100))
    counts = count_columns(ref.column_models, ref.columns, cols, "two-sided", binned=True)
    with pytest.raises(ValueError, match="1 column counts for 2 reference columns"):
        judge(ref.column_models, counts[:1], 100, ref.settings())
    with pytest.raises(TypeError, match="numeric reference column needs binned numeric"):
        judge(ref.column_models, counts[::-1], 100, ref.settings())
    unbinned = dataclasses.replace(counts[0], bins=None)
    with pytest.raises(TypeError, match="'x': numeric reference column"):
        judge(ref.column_models, [unbinned, counts[1]], 100, ref.settings())
    with pytest.raises(TypeError, match="'c': categorical reference column needs category"):
        judge(ref.column_models, [counts[0], CategoricalCounts(100, 0, 100)], 100,
              ref.settings())
