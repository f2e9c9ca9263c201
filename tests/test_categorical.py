"""Categorical columns: encoding, counting against a reference, and the chi-square
test of homogeneity.

References: scipy.stats.chi2_contingency(correction=False) and exact rational
arithmetic for the test; collections.Counter and pandas.value_counts for the
counts; pandas.factorize for the hash kernels.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import chdtrc
from scipy.stats import chi2_contingency

import fastmlops
from fastmlops.drift import _encode as _categories
from fastmlops.drift.categories import (DEFAULT_MAX_CATEGORIES, MAX_EXAMPLES, CategoryCounts,
                                   CategoryMap, Encoded, encode)
from fastmlops._kernels.categories import chi2_2xk, code_counts, factorize_rows
from fastmlops.categorical import Chi2Result, chi2_from_counts, chisquare_2samp

NO_MASK = np.empty(0, np.uint8)


# ------------------------------------------------------------------ references
def scipy_chi2(counts1, counts2):
    """chi2_contingency on the 2 x k table without the columns empty in both."""
    table = np.array([counts1, counts2], dtype=np.int64)
    table = table[:, table.sum(axis=0) > 0]
    res = chi2_contingency(table, correction=False)
    return float(res.statistic), float(res.pvalue), int(res.dof)


def exact_chi2(counts1, counts2):
    """Pearson's statistic in rational arithmetic: sum (O - E)^2 / E."""
    a = [int(v) for v in counts1]
    b = [int(v) for v in counts2]
    n1, n2 = sum(a), sum(b)
    n = n1 + n2
    total = Fraction(0)
    for x, y in zip(a, b):
        c = x + y
        if c == 0:
            continue
        for obs, row in ((x, n1), (y, n2)):
            e = Fraction(row * c, n)
            total += (obs - e) ** 2 / e
    return total


def scipy_error_bound(counts1, counts2):
    """Absolute error of scipy's float64 sum of (O - E)^2 / E: each O - E is off
    by a few roundings of max(O, E) (E = row * col / N, then the difference)."""
    eps = np.finfo(float).eps
    table = np.array([counts1, counts2], dtype=np.float64)
    table = table[:, table.sum(axis=0) > 0]
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    delta = 4 * eps * np.maximum(table, expected)
    diff = np.abs(table - expected)
    return float(np.sum((2 * diff * delta + delta**2) / expected))


def decoded(e: Encoded) -> list:
    """The values an Encoded stands for, None where missing."""
    return [e.uniques[c] if c >= 0 else None for c in e.codes.tolist()]


def counter_of(values) -> Counter:
    return Counter(v for v in values if not _is_missing(v))


def _is_missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def close(x, y, rtol):
    return x == y or abs(x - y) <= rtol * max(abs(x), abs(y))


# -------------------------------------------------------------- chi-square test
counts_lists = st.integers(1, 25).flatmap(
    lambda k: st.tuples(st.lists(st.integers(0, 1000), min_size=k, max_size=k),
                        st.lists(st.integers(0, 1000), min_size=k, max_size=k)))


@given(counts_lists)
def test_chi2_from_counts_matches_scipy(pair):
    a, b = pair
    if sum(a) == 0 or sum(b) == 0:
        with pytest.raises(ValueError, match="sums to 0"):
            chi2_from_counts(a, b)
        return
    stat, p, dof = scipy_chi2(a, b)
    res = chi2_from_counts(a, b)
    assert res.dof == dof
    assert close(float(res.statistic), stat, 1e-10)
    assert close(float(res.pvalue), p, 1e-10)


@given(st.lists(st.integers(0, 2**40), min_size=2, max_size=12),
       st.lists(st.integers(0, 2**40), min_size=2, max_size=12))
def test_chi2_huge_counts_match_exact_and_scipy(a, b):
    k = min(len(a), len(b))
    a, b = a[:k], b[:k]
    if sum(a) == 0 or sum(b) == 0:
        return
    res = chi2_from_counts(np.array(a), np.array(b))
    exact = exact_chi2(a, b)
    if sum(1 for x, y in zip(a, b) if x + y) <= 1:
        assert (res.statistic, res.pvalue, res.dof) == (0.0, 1.0, 0)
        return
    assert close(float(res.statistic), float(exact), 1e-13)
    assert close(float(res.pvalue), float(chdtrc(res.dof, float(exact))), 1e-12)
    stat, p, dof = scipy_chi2(a, b)
    assert res.dof == dof
    # equal to scipy within 1e-10, or within scipy's own float64 error when that is larger
    err = scipy_error_bound(a, b)
    assert abs(float(res.statistic) - stat) <= 1e-10 * stat + err
    if err <= 1e-12 * stat:
        assert close(float(res.pvalue), p, 1e-10)


@given(st.lists(st.integers(1, 2**20), min_size=2, max_size=8), st.integers(2**30, 2**40),
       st.lists(st.integers(-3, 3), min_size=8, max_size=8))
def test_chi2_nearly_equal_huge_samples_exact(base, scale, noise):
    """Near-homogeneous tables of huge counts: scipy's O - E cancels; ours is exact."""
    a = [v * scale for v in base]
    b = [v * scale + noise[i] for i, v in enumerate(base)]
    res = chi2_from_counts(a, b)
    exact = exact_chi2(a, b)
    assert close(float(res.statistic), float(exact), 1e-13)
    assert close(float(res.pvalue), float(chdtrc(len(a) - 1, float(exact))), 1e-12)


def test_chi2_int64_extremes():
    a = np.array([2**61, 2**60 + 1, 0], dtype=np.int64)
    b = np.array([2**60, 2**61 - 7, 0], dtype=np.int64)
    res = chi2_from_counts(a, b)
    assert res.dof == 1
    assert close(float(res.statistic), float(exact_chi2(a, b)), 1e-14)
    with pytest.raises(ValueError, match="2\\*\\*63"):
        chi2_from_counts([2**62, 2**62], [2**62, 1])
    with pytest.raises(ValueError, match="2\\*\\*63"):
        chi2_from_counts(np.array([2**63 + 5], dtype=np.uint64), [1])


def test_chi2_known_answer():
    # scipy's own documentation example, 2 x 3: statistic 8.9686..., p 0.011284...
    res = chi2_from_counts([50, 30, 20], [30, 30, 35])
    assert res.dof == 2
    assert close(float(res.statistic), 8.968600478468895, 1e-13)
    assert close(float(res.pvalue), 0.011284781405778528, 1e-12)
    # 2 x 2 by hand: a = [10, 0], b = [0, 10] -> chi2 = N = 20
    assert close(float(chi2_from_counts([10, 0], [0, 10]).statistic), 20.0, 1e-15)


def test_chi2_single_category_and_empty_bins():
    res = chi2_from_counts([5, 0, 0], [7, 0, 0])
    assert (res.statistic, res.pvalue, res.dof) == (0.0, 1.0, 0)
    sp = chi2_contingency([[5], [7]], correction=False)
    assert (sp.statistic, sp.pvalue, sp.dof) == (0.0, 1.0, 0)
    assert chi2_from_counts([3, 0, 4], [1, 0, 9]) == chi2_from_counts([3, 4], [1, 9])


def test_chi2_result_shape():
    res = chi2_from_counts([3, 4], [1, 9])
    stat, p = res
    assert (stat, p) == (res.statistic, res.pvalue) and len(res) == 2
    assert isinstance(res, Chi2Result) and res.dof == 1
    assert "dof=1" in repr(res)
    import pickle

    again = pickle.loads(pickle.dumps(res))
    assert again == res and again.dof == 1
    assert fastmlops.chisquare_2samp is chisquare_2samp and fastmlops.Chi2Result is Chi2Result


@pytest.mark.parametrize("a, b, exc, msg", [
    ([1, 2], [1, 2, 3], ValueError, "one count per category"),
    ([1, -2], [1, 2], ValueError, "negative"),
    ([0, 0], [1, 2], ValueError, "counts1 sums to 0"),
    ([1, 2], [0, 0], ValueError, "counts2 sums to 0"),
    ([], [], ValueError, "sums to 0"),
    ([[1, 2]], [[1, 2]], ValueError, "1-D"),
    ([1.5, 2], [1, 2], TypeError, "whole numbers"),
    ([np.nan, 2], [1, 2], TypeError, "whole numbers"),
    (["a", "b"], [1, 2], TypeError, "integer counts"),
    ("ab", [1, 2], TypeError, "1-D array of counts"),
])
def test_chi2_from_counts_bad_input(a, b, exc, msg):
    with pytest.raises(exc, match=msg):
        chi2_from_counts(a, b)


def test_chi2_from_counts_accepts_whole_floats():
    assert chi2_from_counts([3.0, 4.0], [1.0, 9.0]) == chi2_from_counts([3, 4], [1, 9])


labels = st.sampled_from(["a", "b", "c", "dd", "", "é", "x y"])
samples = st.lists(st.one_of(labels, st.none(), st.just(float("nan"))), min_size=0, max_size=60)


def _table(s1, s2, missing):
    c1, c2 = counter_of(s1), counter_of(s2)
    keys = sorted(set(c1) | set(c2))
    t1 = [c1[k] for k in keys]
    t2 = [c2[k] for k in keys]
    if missing == "category":
        t1.append(sum(map(_is_missing, s1)))
        t2.append(sum(map(_is_missing, s2)))
    return t1, t2


@pytest.mark.parametrize("missing", ["omit", "category"])
@given(s1=samples, s2=samples)
def test_chisquare_2samp_matches_scipy(missing, s1, s2):
    t1, t2 = _table(s1, s2, missing)
    if sum(t1) == 0 or sum(t2) == 0:
        with pytest.raises(ValueError, match="has no values"):
            chisquare_2samp(s1, s2, missing=missing)
        return
    stat, p, dof = scipy_chi2(t1, t2)
    for conv in (list, lambda s: pd.Series(s, dtype=object),
                 lambda s: pa.array([None if _is_missing(v) else v for v in s], pa.string())):
        res = chisquare_2samp(conv(s1), conv(s2), missing=missing)
        assert res.dof == dof
        assert close(float(res.statistic), stat, 1e-10)
        assert close(float(res.pvalue), p, 1e-10)


@given(st.lists(st.integers(-3, 3), min_size=1, max_size=80),
       st.lists(st.integers(-3, 3), min_size=1, max_size=80))
def test_chisquare_2samp_ints_match_scipy(s1, s2):
    t1, t2 = _table(s1, s2, "omit")
    stat, p, dof = scipy_chi2(t1, t2)
    res = chisquare_2samp(np.array(s1), np.array(s2, dtype=np.int8))
    assert res.dof == dof
    assert close(float(res.statistic), stat, 1e-10)
    assert close(float(res.pvalue), p, 1e-10)


def test_chisquare_2samp_huge_sample_matches_scipy():
    rng = np.random.default_rng(3)
    cats = np.array([f"c{i}" for i in range(300)])
    a = cats[rng.integers(0, 300, 200_000)]
    b = cats[np.minimum(rng.geometric(0.02, 150_000), 299)]
    t1, t2 = _table(a.tolist(), b.tolist(), "omit")
    stat, p, dof = scipy_chi2(t1, t2)
    res = chisquare_2samp(a, b)
    assert res.dof == dof and close(float(res.statistic), stat, 1e-10)
    assert close(float(res.pvalue), p, 1e-10) or (p < 1e-300 and res.pvalue < 1e-300)


def test_chisquare_2samp_single_category_and_missing():
    assert tuple(chisquare_2samp(["a"] * 3, ["a", None])) == (0.0, 1.0)
    res = chisquare_2samp(["a"] * 3, ["a", None], missing="category")
    stat, p, dof = scipy_chi2([3, 0], [1, 1])
    assert res.dof == dof == 1 and close(float(res.statistic), stat, 1e-12)


def test_chisquare_2samp_errors():
    with pytest.raises(ValueError, match="data1 has no values"):
        chisquare_2samp([], ["a"])
    with pytest.raises(ValueError, match="missing='category'"):
        chisquare_2samp([None, None], ["a"])
    with pytest.raises(TypeError, match="data1 holds strings and data2 holds integers"):
        chisquare_2samp(["a"], [1])
    with pytest.raises(ValueError, match="missing must be"):
        chisquare_2samp(["a"], ["a"], missing="drop")
    with pytest.raises(TypeError, match="column 'data2' holds floats"):
        chisquare_2samp(["a"], np.array([1.0, np.nan]))


# -------------------------------------------------------------------- encoding
STRS = ["b", "a", None, "b", "ccc", "a", "b", ""]


def _with_nan(values):
    return [np.nan if v is None else v for v in values]


STR_INPUTS = {
    "list": lambda: list(STRS),
    "tuple": lambda: tuple(STRS),
    "numpy-object-None": lambda: np.array(STRS, dtype=object),
    "numpy-object-NaN": lambda: np.array(_with_nan(STRS), dtype=object),
    "numpy-object-NA": lambda: np.array([pd.NA if v is None else v for v in STRS], dtype=object),
    "numpy-StringDType": lambda: np.array(STRS, dtype=np.dtypes.StringDType(na_object=None)),
    "pandas-object": lambda: pd.Series(STRS, dtype=object),
    "pandas-str": lambda: pd.Series(STRS, dtype="str"),
    "pandas-string-python": lambda: pd.Series(STRS, dtype="string[python]"),
    "pandas-string-pyarrow": lambda: pd.Series(STRS, dtype="string[pyarrow]"),
    "pandas-arrow-large": lambda: pd.Series(STRS, dtype=pd.ArrowDtype(pa.large_string())),
    "pandas-category": lambda: pd.Series(STRS, dtype="category"),
    "pandas-category-unused": lambda: pd.Series(
        pd.Categorical(STRS, categories=["zz", "a", "b", "ccc", ""])),
    "pandas-Categorical": lambda: pd.Categorical(STRS),
    "pandas-Index": lambda: pd.Index(STRS, dtype=object),
    "arrow-string": lambda: pa.array(STRS, pa.string()),
    "arrow-large_string": lambda: pa.array(STRS, pa.large_string()),
    "arrow-string_view": lambda: pa.array(STRS, pa.string_view()),
    "arrow-chunked": lambda: pa.chunked_array(
        [pa.array(STRS[:3]), pa.array([], pa.string()), pa.array(STRS[3:])], pa.string()),
    "arrow-dictionary": lambda: pa.array(STRS).dictionary_encode(),
    "arrow-dictionary-chunked": lambda: pa.chunked_array(
        [pa.array(STRS[:4]).dictionary_encode(), pa.array(STRS[4:]).dictionary_encode()]),
    "arrow-dictionary-sliced": lambda: pa.array(["zz"] + STRS).dictionary_encode()[1:],
    "arrow-dictionary-repeats": lambda: pa.DictionaryArray.from_arrays(
        pa.array([0, 1, None, 2, 3, 4, 0, 5], pa.int32()),
        pa.array(["b", "a", "b", "ccc", "a", ""])),
    "arrow-dictionary-null-entry": lambda: pa.DictionaryArray.from_arrays(
        pa.array([0, 1, 2, 0, 3, 1, 0, 4], pa.int8()),
        pa.array(["b", "a", None, "ccc", ""])),
}


@pytest.mark.parametrize("kind", sorted(STR_INPUTS))
def test_encode_string_inputs(kind):
    e = encode(STR_INPUTS[kind](), "colour")
    assert e.kind == "str" and e.name == "colour"
    assert e.codes.dtype in (np.int32, np.int64) and e.codes.flags.c_contiguous
    assert len(set(e.uniques)) == len(e.uniques)
    assert all(type(u) is str for u in e.uniques)
    assert decoded(e) == STRS
    per, missing = e.value_counts()
    assert missing == 1
    assert {u: int(c) for u, c in zip(e.uniques, per) if c} == counter_of(STRS)


def test_encode_fixed_width_numpy_strings():
    values = ["b", "a", "b", "ccc", "a", "", "ab\u00e9\U0001f600"]
    for dtype in ("U", "<U9", ">U9", "U1"):
        arr = np.array(values, dtype=dtype)
        e = encode(arr, "c")
        assert e.kind == "str" and decoded(e) == arr.tolist()
    e = encode(np.array([b"x", b"yy", b"x", b"\xff"], dtype="S"), "c")
    assert decoded(e) == ["x", "yy", "x", b"\xff".decode("utf-8", "surrogateescape")]
    strided = np.array(values * 3)[::3]
    assert decoded(encode(strided, "c")) == strided.tolist()
    assert encode(np.array([], dtype="U3"), "c").kind == "str"


@pytest.mark.parametrize("make, expected", [
    (lambda: np.array([True, False, True]), [True, False, True]),
    (lambda: [True, None, False], [True, None, False]),
    (lambda: pd.Series([True, None, False], dtype="boolean"), [True, None, False]),
    (lambda: pd.Series([True, False]), [True, False]),
    (lambda: pa.array([True, None, False]), [True, None, False]),
    (lambda: pa.array([True, None, False]).dictionary_encode(), [True, None, False]),
])
def test_encode_bool_inputs(make, expected):
    e = encode(make(), "flag")
    assert e.kind == "bool" and decoded(e) == expected
    assert all(type(u) is bool for u in e.uniques)


INT_VALUES = [3, -1, None, 3, 2**40, 0, -(2**63), 2**63 - 1]


@pytest.mark.parametrize("make", [
    lambda v: [x for x in v],
    lambda v: np.array([0 if x is None else x for x in v], dtype=np.int64),
    lambda v: pd.Series(v, dtype="Int64"),
    lambda v: pd.Series(v, dtype=pd.ArrowDtype(pa.int64())),
    lambda v: pa.array(v, pa.int64()),
    lambda v: pa.array(v, pa.int64()).dictionary_encode(),
    lambda v: pd.Series(pd.Categorical(v)),
])
def test_encode_int_inputs(make):
    data = make(INT_VALUES)
    expected = INT_VALUES if not isinstance(data, np.ndarray) else \
        [0 if x is None else x for x in INT_VALUES]
    e = encode(data, "code")
    assert e.kind == "int" and decoded(e) == expected
    assert all(type(u) is int for u in e.uniques)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "uint8", "uint16", "uint32", "uint64"])
def test_encode_numpy_int_widths(dtype):
    info = np.iinfo(dtype)
    arr = np.array([info.min, info.max, 1, info.max, 0, info.min], dtype=dtype)
    e = encode(arr, "c")
    assert e.kind == "int" and decoded(e) == arr.tolist()
    swapped = arr.astype(arr.dtype.newbyteorder())
    assert decoded(encode(swapped, "c")) == arr.tolist()


@given(st.lists(st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-5, 5)), max_size=3000))
def test_factorize_ints_matches_pandas(values):
    arr = np.array(values, dtype=np.int64)
    codes = np.empty(arr.size, np.int32)
    first = factorize_rows(arr.view(np.uint64).reshape(-1, 1), NO_MASK, codes)
    ref_codes, ref_uniques = pd.factorize(arr)
    assert np.array_equal(codes, ref_codes)
    assert np.array_equal(arr[first], ref_uniques)


@given(st.lists(st.text(alphabet="ab\u00e9\x00", max_size=4), max_size=400),
       st.sampled_from([np.int32, np.int64]))
def test_factorize_strings_matches_pandas(values, code_dtype):
    arr = np.array(values, dtype="U4") if values else np.array([], dtype="U4")
    codes = np.empty(arr.size, code_dtype)
    rows = arr.view(np.uint32).reshape(arr.size, 4)
    first = factorize_rows(rows, NO_MASK, codes)
    ref_codes, ref_uniques = pd.factorize(arr)
    assert np.array_equal(codes, ref_codes)
    assert np.array_equal(arr[first], ref_uniques)


def test_factorize_many_distinct_grows_table():
    rng = np.random.default_rng(0)
    arr = rng.integers(-(10**12), 10**12, 200_000)
    arr[::7] = 5  # repeats between growths
    e = encode(arr, "id")
    assert len(e.uniques) == np.unique(arr).size
    assert decoded(e) == arr.tolist()
    mask = (arr % 3 == 0).astype(np.uint8)
    codes = np.empty(arr.size, np.int64)
    first = factorize_rows(arr.view(np.uint64).reshape(-1, 1), mask, codes)
    assert np.all(codes[mask == 1] == -1)
    ref_codes, ref_uniques = pd.factorize(np.where(mask == 1, np.nan, arr.astype(object)))
    assert np.array_equal(codes, ref_codes) and arr[first].tolist() == list(ref_uniques)


def test_factorize_wide_rows_beyond_compact_copy():
    """Rows of 16 KiB: only the first 256 distinct rows fit the compact copy; the
    others are compared where they lie in the input."""
    values = [("x" * 4095) + chr(0x4E00 + i) for i in range(300)]
    arr = np.array(values + values[::-1] + values[:7], dtype="U4096")
    e = encode(arr, "text")
    assert len(e.uniques) == 300 and decoded(e) == arr.tolist()
    assert e.codes[:300].tolist() == list(range(300))


def test_code_counts_checks_bounds():
    out = np.zeros(4, np.int64)
    assert code_counts(np.array([0, 1, -1, 2, 2], np.int32), out) == -1
    assert out.tolist() == [1, 1, 2, 1]
    out = np.zeros(4, np.int64)
    assert code_counts(np.array([0, 1, 3, 2, 2], np.int64), out) == 2
    assert code_counts(np.array([0, -2], np.int64), np.zeros(4, np.int64)) == 1
    assert out.tolist() == [0, 0, 0, 0]
    bad = Encoded(np.array([0, 5], np.int32), ["a"], "str", "c")
    with pytest.raises(ValueError, match="column 'c'.*corrupt"):
        bad.value_counts()


@given(st.lists(st.one_of(st.sampled_from(["x", "y", "z", "w"]), st.none()), max_size=200))
def test_value_counts_match_pandas(values):
    e = encode(values, "c")
    per, missing = e.value_counts()
    ref = pd.Series(values, dtype=object).value_counts(dropna=True)
    assert {u: int(c) for u, c in zip(e.uniques, per) if c} == ref.to_dict()
    assert missing == sum(v is None for v in values)


def test_chi2_kernel_skips_empty_columns():
    a = np.array([4, 0, 6], np.int64)
    b = np.array([2, 0, 8], np.int64)
    assert close(chi2_2xk(a, b, 10, 10), float(exact_chi2(a, b)), 1e-15)


def test_object_fallback_without_pandas():
    arr = np.array(["b", None, "a", float("nan"), "b"], dtype=object)
    codes, uniques, order = _categories._factorize_object_numpy(arr, "c")
    assert [uniques[c] if c >= 0 else None for c in codes] == ["b", None, "a", None, "b"]
    assert order is False
    with pytest.raises(TypeError, match="column 'c' mixes values of types int, str"):
        _categories._factorize_object_numpy(np.array(["a", 1], dtype=object), "c")


def test_encode_all_missing_and_empty():
    for data in ([], [None, None], np.array([None, np.nan], dtype=object),
                 pa.array([None, None]), pd.Series([None, None], dtype=object)):
        e = encode(data, "c")
        assert e.kind == "empty" and e.uniques == [] and np.all(e.codes == -1)
    assert encode(pa.array([], pa.string()), "c").kind == "str"
    assert encode(pd.Series([], dtype="str"), "c").kind == "str"


# ------------------------------------------------------------------- bad input
@pytest.mark.parametrize("data, pattern", [
    (np.array([1.0, np.nan, 2.0]), "column 'c' holds floats.*astype\\('Int64'\\)"),
    (pd.Series([1.0, np.nan]), "column 'c' holds floats.*categorical="),
    ([1.0, None, 2.0], "column 'c' holds floats"),
    (pd.Series([1.0, None], dtype="Float64"), "column 'c' holds floats"),
    (pa.array([1.5, None]), "column 'c' holds floats"),
    (pd.Series(pd.Categorical([1.5, 2.5])), "column 'c' holds floats"),
    (np.array(["2024-01-01"], dtype="datetime64[D]"), "column 'c' holds datetime.*astype\\(str\\)"),
    (pd.Series(pd.to_datetime(["2024-01-01"])), "column 'c' holds datetime"),
    (pd.Series(pd.to_datetime(["2024-01-01"]).tz_localize("UTC")), "column 'c' holds datetime"),
    (pa.array([1, 2], pa.timestamp("s")), "column 'c' holds datetime"),
    (np.array([pd.Timestamp("2024-01-01")], dtype=object), "column 'c' holds datetime"),
    ([[1, 2], [3, 4]], "column 'c' holds nested"),
    ([["a"], "b"], "column 'c' holds nested"),
    (pa.array([[1], [2, 3]]), "column 'c' holds nested"),
    (np.array([(1, 2)], dtype="i4,i4"), "column 'c' holds structured"),
    (["a", 1], "column 'c' mixes integers and strings.*astype\\(str\\)"),
    (np.array([True, 2], dtype=object), "column 'c' mixes booleans and integers"),
    ([b"a", b"b"], "column 'c' holds bytes.*decode"),
    (pa.array([b"a"]), "column 'c' holds bytes"),
    (np.array([1 + 2j]), "column 'c' holds complex"),
    ([object()], "column 'c' holds object values"),
])
def test_encode_refuses_non_categorical(data, pattern):
    with pytest.raises(TypeError, match=pattern):
        encode(data, "c")


@pytest.mark.parametrize("data, exc, pattern", [
    ("abc", TypeError, "column 'c' must be a column of values"),
    (3, TypeError, "got a single int"),
    (None, TypeError, "got a single NoneType"),
    (np.array([["a", "b"]]), ValueError, "must be 1-D"),
    (np.array("a"), ValueError, "must be 1-D"),
    ((x for x in "ab"), TypeError, "cannot read values from a generator"),
    (pa.table({"x": ["a"]}), TypeError, "pass one column"),
])
def test_encode_refuses_bad_containers(data, exc, pattern):
    with pytest.raises(exc, match=pattern):
        encode(data, "c")


# -------------------------------------------------------------------- CategoryMap
def test_category_map_build_order_and_counts():
    values = ["b", "a", "c", "a", None, "b", "d", "a", "c", "b"]
    ref = CategoryMap.build(encode(values, "col"))
    # count descending, then value
    assert ref.categories == ["a", "b", "c", "d"]
    assert ref.counts.tolist() == [3, 3, 2, 1] and ref.counts.dtype == np.int64
    assert (ref.other, ref.missing, ref.n_distinct, ref.truncated) == (0, 1, 4, False)
    assert ref.n == len(values) and ref.bins.tolist() == [3, 3, 2, 1, 0]
    assert ref.max_categories == DEFAULT_MAX_CATEGORIES == 10_000
    assert "4 categories" in repr(ref)


def test_category_map_ignores_unused_categories():
    cat = pd.Series(pd.Categorical(["a", "b", "a"], categories=["z", "a", "b", "y"]))
    ref = CategoryMap.build(encode(cat, "c"))
    assert ref.categories == ["a", "b"] and ref.n_distinct == 2
    cur = ref.count(encode(cat, "c"))
    assert cur.unseen == 0 and cur.unseen_examples == []


@given(st.lists(st.sampled_from("abcdefgh"), max_size=150), st.integers(1, 9))
def test_category_map_truncation_is_deterministic_top_k(values, k):
    ref = CategoryMap.build(encode(values, "c"), max_categories=k)
    counts = Counter(values)
    expected = sorted(counts, key=lambda v: (-counts[v], v))[:k]
    assert ref.categories == expected
    assert ref.counts.tolist() == [counts[v] for v in expected]
    assert ref.other == len(values) - sum(counts[v] for v in expected)
    assert ref.truncated == (len(counts) > k) and ref.n_distinct == len(counts)
    again = CategoryMap.build(encode(pd.Categorical(values[::-1]), "c"), max_categories=k)
    assert again.categories == ref.categories  # any input order, same map


def test_category_map_int_and_bool_order():
    ref = CategoryMap.build(encode(np.array([5, -2, 7, 5, -2, 10**12]), "c"))
    assert ref.categories == [-2, 5, 7, 10**12]
    ref = CategoryMap.build(encode([True, False, True, False], "c"))
    assert ref.categories == [False, True]


def test_category_map_count_unseen_examples_in_order_of_first_appearance():
    ref = CategoryMap.build(encode(["a", "b", "c"], "c"))
    batch = ["q", "a", "z", None, "q", "m", "y", "x", "w", "b", "v"]
    expected_examples = ["q", "z", "m", "y", "x"]
    for data in (batch, pd.Categorical(batch), pa.array(batch).dictionary_encode(),
                 pd.Series(batch, dtype="category")):
        cur = ref.count(encode(data, "c"))
        assert cur.counts.tolist() == [1, 1, 0]
        assert (cur.other, cur.unseen, cur.unseen_distinct, cur.missing, cur.n) == (8, 8, 7, 1, 11)
        assert cur.unseen_examples == expected_examples
        assert cur.bins.tolist() == [1, 1, 0, 8]
    assert MAX_EXAMPLES == 5


def test_category_map_truncated_counts_outside_as_other():
    ref = CategoryMap.build(encode(["a"] * 5 + ["b"] * 3 + ["c", "d"], "c"), max_categories=2)
    assert ref.truncated and ref.categories == ["a", "b"] and ref.other == 2
    cur = ref.count(encode(["a", "c", "new", "b", "c"], "c"))
    assert cur.counts.tolist() == [1, 1]
    # "c" (rare in the reference) and "new" (never seen) cannot be told apart
    assert (cur.other, cur.unseen, cur.unseen_distinct) == (3, 3, 2)
    assert cur.unseen_examples == ["c", "new"]


@given(st.lists(st.one_of(st.sampled_from(["a", "b", "c", "n1", "n2", "n3"]), st.none()),
                min_size=1, max_size=120),
       st.lists(st.integers(0, 120), max_size=4), st.integers(1, 4))
def test_category_counts_merge_equals_one_shot(batch, cuts, k):
    ref = CategoryMap.build(encode(["a", "a", "b", "c", "c", "c"], "c"), max_categories=k)
    whole = ref.count(encode(batch, "c"))
    bounds = [0] + sorted(min(c, len(batch)) for c in cuts) + [len(batch)]
    parts = [ref.count(encode(batch[i:j], "c")) for i, j in zip(bounds, bounds[1:])]
    merged = parts[0]
    for p in parts[1:]:
        merged = merged.merge(p)
    assert np.array_equal(merged.counts, whole.counts)
    assert (merged.other, merged.missing, merged.n, merged.unseen) == \
        (whole.other, whole.missing, whole.n, whole.unseen)
    assert merged.unseen_distinct >= whole.unseen_distinct  # an upper bound
    assert merged.unseen_examples == whole.unseen_examples
    # and the counts against Counter
    c = counter_of(batch)
    assert whole.counts.tolist() == [c[v] for v in ref.categories]
    assert whole.other == sum(n for v, n in c.items() if v not in ref.categories)


def test_category_counts_merge_refuses_other_maps():
    a = CategoryCounts(np.zeros(2, np.int64), 0, 0, 0, 0, 0)
    b = CategoryCounts(np.zeros(3, np.int64), 0, 0, 0, 0, 0)
    with pytest.raises(ValueError, match="different category maps"):
        a.merge(b)


def test_category_map_kind_mismatch():
    ref = CategoryMap.build(encode(["a", "b"], "city"))
    with pytest.raises(TypeError, match="column 'city': strings in the reference, integers in "
                                        "the current batch"):
        ref.count(encode(np.array([1, 2]), "city"))
    ref = CategoryMap.build(encode(np.array([True, False]), "flag"))
    with pytest.raises(TypeError, match="booleans in the reference, integers"):
        ref.count(encode([1, 0], "flag"))
    cur = ref.count(encode([None, None], "flag"))  # an all-missing batch has no kind
    assert (cur.missing, cur.n, cur.counts.sum()) == (2, 2, 0)


def test_category_map_empty_batch_and_reference():
    ref = CategoryMap.build(encode(["a", "b"], "c"))
    cur = ref.count(encode([], "c"))
    assert (cur.n, cur.missing, cur.other, cur.counts.tolist()) == (0, 0, 0, [0, 0])
    empty = CategoryMap.build(encode([None], "c"))
    assert empty.categories == [] and empty.missing == 1
    cur = empty.count(encode(["x"], "c"))
    assert (cur.other, cur.unseen, cur.unseen_examples) == (1, 1, ["x"])


def test_category_map_huge_counts():
    ref = CategoryMap.build(encode(["a", "b"], "c"))
    e = Encoded(np.zeros(3_000_000, np.int32), ["a"], "str", "c")
    assert ref.count(e).counts.tolist() == [3_000_000, 0]


@pytest.mark.parametrize("values", [
    ["a", "b", "a", None, "é\u2028", "x\"y"],
    [3, -(2**63), 2**63 - 1, 3, None],
    [True, False, True],
    [None],
])
def test_category_map_round_trip_json(values):
    ref = CategoryMap.build(encode(values, "col"), max_categories=2)
    header, counts = ref.to_arrays()
    header = json.loads(json.dumps(header))
    back = CategoryMap.from_arrays(header, counts)
    assert (back.name, back.kind, back.categories, back.other, back.missing,
            back.n_distinct, back.truncated, back.max_categories) == \
        (ref.name, ref.kind, ref.categories, ref.other, ref.missing, ref.n_distinct,
         ref.truncated, ref.max_categories)
    assert np.array_equal(back.counts, ref.counts) and back.counts.dtype == np.int64
    batch = encode(values + values[:1], "col")
    one, two = ref.count(batch), back.count(batch)
    assert np.array_equal(one.counts, two.counts) and one.other == two.other


def test_category_map_from_arrays_refuses_damage():
    header, counts = CategoryMap.build(encode(["a", "b", "b"], "c")).to_arrays()
    with pytest.raises(ValueError, match="format"):
        CategoryMap.from_arrays({**header, "format": "x"}, counts)
    with pytest.raises(ValueError, match="damaged"):
        CategoryMap.from_arrays({k: v for k, v in header.items() if k != "other"}, counts)
    with pytest.raises(ValueError, match="not all str"):
        CategoryMap.from_arrays({**header, "categories": ["a", 1]}, counts)
    with pytest.raises(ValueError, match="not all int"):
        CategoryMap.from_arrays({**header, "kind": "int", "categories": [1, True]}, counts)
    with pytest.raises(ValueError, match="repeated"):
        CategoryMap.from_arrays({**header, "categories": ["a", "a"]}, counts)
    with pytest.raises(ValueError, match="counts must be a 1-D integer array of 2"):
        CategoryMap.from_arrays(header, counts[:1])
    with pytest.raises(ValueError, match="negative"):
        CategoryMap.from_arrays(header, -counts)
    with pytest.raises(ValueError, match="unknown kind"):
        CategoryMap.from_arrays({**header, "kind": "float"}, counts)


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                      (True, TypeError), ("10", TypeError)])
def test_category_map_max_categories_checked(bad, exc):
    with pytest.raises(exc, match="max_categories"):
        CategoryMap.build(encode(["a"], "c"), max_categories=bad)


def test_high_cardinality_keeps_memory_bounded():
    ids = np.array([f"id{i}" for i in range(30_000)] + ["hot"] * 10)
    ref = CategoryMap.build(encode(ids, "user_id"), max_categories=100)
    assert len(ref.categories) == 100 and ref.categories[0] == "hot"
    assert ref.truncated and ref.n_distinct == 30_001 and ref.counts.size == 100
    assert ref.other == ids.size - int(ref.counts.sum())
