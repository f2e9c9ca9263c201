"""Counting a categorical column against a stored reference: fastmlops vs pandas.

Run with ``python -m pytest benchmarks/test_bench_categorical.py --benchmark-enable``.

The promise being measured: a string column of 1e6 values with 1,000
categories is checked against a stored reference (a built ``CategoryMap``)
in under 100 ms: ``encode`` (hash kernel, arrow's ``dictionary_encode``,
``pd.factorize``, or the codes the column already has) plus
``CategoryMap.count``.  The reference in each group is
``pandas.Series.value_counts`` on the same data held in the matching pandas
form (object, ``str``, category), which only counts (it does not align the
counts with a reference).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fastmlops.drift.categories import CategoryMap, encode

N = 1_000_000
K = 1_000


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    names = np.array([f"category_{i:04d}" for i in range(K)], dtype=object)
    weights = rng.dirichlet(np.ones(K))
    reference = CategoryMap.build(encode(names[rng.choice(K, 200_000, p=weights)], "c"))
    current = names[rng.choice(K, N, p=weights)]
    current[::1000] = None
    return reference, current


INPUTS = {
    "numpy-object": lambda v: v,
    "numpy-U": lambda v: np.where(v == None, "", v).astype("U13"),  # noqa: E711 - elementwise
    "pandas-object": lambda v: pd.Series(v, dtype=object),
    "pandas-str": lambda v: pd.Series(v, dtype="str"),
    "pandas-category": lambda v: pd.Series(v, dtype="category"),
    "arrow-string": lambda v: pa.array(v, pa.string()),
    "arrow-dictionary": lambda v: pa.array(v, pa.string()).dictionary_encode(),
}

PANDAS_FORM = {
    "numpy-object": lambda x: pd.Series(x, dtype=object),
    "numpy-U": lambda x: pd.Series(x.astype(object), dtype=object),
    "pandas-object": lambda x: x,
    "pandas-str": lambda x: x,
    "pandas-category": lambda x: x,
    "arrow-string": lambda x: pd.Series(x.to_pandas(), dtype="str"),
    "arrow-dictionary": lambda x: x.to_pandas(),
}


@pytest.fixture(scope="module", params=sorted(INPUTS))
def column(request, data):
    reference, current = data
    x = INPUTS[request.param](current)
    return request.param, reference, x


def _check(reference, x):
    return reference.count(encode(x, "c"))


def test_fastmlops_encode_and_count(benchmark, column):
    kind, reference, x = column
    benchmark.group = f"categorical-1e6x1000-{kind}"
    counts = _check(reference, x)  # compile / load from cache
    counts = benchmark(_check, reference, x)
    ref = PANDAS_FORM[kind](x).value_counts(dropna=True)
    expected = [int(ref.get(c, 0)) for c in reference.categories]
    kept = set(reference.categories)
    assert counts.counts.tolist() == expected
    assert counts.other == sum(int(c) for v, c in ref.items() if v not in kept)
    # a 'U' array has no missing values: its None rows became ""
    assert counts.missing == (0 if kind == "numpy-U" else N // 1000)
    benchmark.extra_info["ns_per_value"] = benchmark.stats.stats.median / N * 1e9


def test_pandas_value_counts(benchmark, column):
    kind, _, x = column
    benchmark.group = f"categorical-1e6x1000-{kind}"
    series = PANDAS_FORM[kind](x)
    result = benchmark(series.value_counts)
    assert int(result.sum()) >= N - N // 1000
