"""Categorical drift: the chi-square test of homogeneity of two samples.

* :func:`chisquare_2samp` compares the category counts of two samples
  (strings, booleans, integers, pandas categories, pyarrow string and
  dictionary columns): Pearson's chi-square statistic of the 2 x k table of
  counts, over the categories present in either sample.  It equals
  ``scipy.stats.chi2_contingency(table, correction=False)`` (statistic and
  p-value within 1e-10 relative, the same ``dof``).
* :func:`chi2_from_counts` is the same test on two aligned count vectors
  (e.g. the bins of a binned numeric column).

Counting is done by Numba hash kernels or by the codes the data already has
(see :mod:`fastmlops.drift.categories`), never a Python loop per value.

Exactness.  The statistic is computed as
``sum_i (a_i n2 - b_i n1)^2 / (a_i + b_i) / (n1 n2)`` with the differences
``a_i n2 - b_i n1`` exact (128-bit integers), so it is correct to a few
units in the last place for any int64 counts.  scipy computes
``(O - E)^2 / E`` in float64, which loses digits to cancellation when counts
are huge (sums beyond about 1e11) and the samples nearly alike; there the two
differ by scipy's error, and ours is the exact value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from fastmlops._core.results import TupleResult

if TYPE_CHECKING:
    from fastmlops.drift._encode import Column

__all__ = ["Chi2Result", "chisquare_2samp", "chi2_from_counts"]

_INT64_MAX = 2**63 - 1


class Chi2Result(TupleResult):
    """Result of :func:`chisquare_2samp` and :func:`chi2_from_counts`.

    It unpacks like a tuple of two, ``statistic, pvalue = chisquare_2samp(a, b)``
    (as :func:`fastmlops.ks_2samp` does), and has the attributes
    ``statistic``, ``pvalue`` and ``dof`` (degrees of freedom: the number of
    categories present in either sample, minus one).  The first three values
    of :func:`scipy.stats.chi2_contingency` are
    ``(r.statistic, r.pvalue, r.dof)``.
    """

    _fields = ("statistic", "pvalue", "dof")


def _as_counts(x: ArrayLike, name: str) -> np.ndarray:
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a 1-D array of counts, got a {type(x).__name__}")
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one count per category), got shape {arr.shape}")
    kind = arr.dtype.kind
    if kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.floor(arr)) \
                or (arr.size and np.abs(arr).max() > 2**53):
            raise TypeError(f"{name} must hold whole numbers (counts); got non-integral, "
                            "non-finite or inexact floats. Pass integer counts, e.g. "
                            "np.asarray(x, dtype=np.int64)")
        arr = arr.astype(np.int64)
    elif kind == "u" and arr.dtype.itemsize == 8:
        if arr.size and arr.max() > _INT64_MAX:
            raise ValueError(f"{name} has counts beyond 2**63 - 1, which are not supported")
        arr = arr.astype(np.int64)
    elif kind not in "iu":
        raise TypeError(f"{name} must hold integer counts, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} has negative counts; counts must be >= 0")
    return arr


def _total(arr: np.ndarray) -> int:
    """Exact sum of non-negative int64 counts (Python ints when it could overflow)."""
    approx = float(arr.sum(dtype=np.float64))
    if approx < 2.0**62:
        return int(arr.sum())
    return sum(arr.tolist())


def chi2_from_counts(counts1: ArrayLike, counts2: ArrayLike) -> Chi2Result:
    """Chi-square test of homogeneity on two aligned count vectors.

    The 2 x k table ``[counts1, counts2]`` without the columns empty in both
    is what :func:`scipy.stats.chi2_contingency` is given
    (``correction=False``); one column left gives ``dof`` 0, statistic 0 and
    p-value 1, as scipy does.  It is cheap for small k (no scipy.stats
    import; the p-value is :func:`scipy.special.chdtrc`).

    Parameters
    ----------
    counts1, counts2 : array-like of int
        Non-negative counts, one per category, in the same order.  Floats
        holding whole numbers up to 2**53 are accepted.

    Returns
    -------
    Chi2Result
        ``statistic``, ``pvalue`` (unpacked) and ``dof``.

    Raises
    ------
    ValueError
        When the lengths differ, a count is negative, a sample has no counts
        at all, or the total exceeds 2**63 - 1.

    Examples
    --------
    >>> from fastmlops.drift.categorical import chi2_from_counts
    >>> r = chi2_from_counts([10, 20, 30, 0], [5, 25, 40, 0])
    >>> round(float(r.statistic), 6), round(float(r.pvalue), 6), r.dof
    (2.898715, 0.234721, 2)
    """
    a = _as_counts(counts1, "counts1")
    b = _as_counts(counts2, "counts2")
    if a.size != b.size:
        raise ValueError(f"counts1 and counts2 must have one count per category each; got "
                         f"{a.size} and {b.size} counts")
    n1, n2 = _total(a), _total(b)
    for n, name in ((n1, "counts1"), (n2, "counts2")):
        if n == 0:
            raise ValueError(f"{name} sums to 0: the test needs at least one observation in "
                             "each sample")
    if n1 + n2 > _INT64_MAX:
        raise ValueError(f"the counts add up to {n1 + n2}, beyond 2**63 - 1, which is not "
                         "supported")
    k = int(np.count_nonzero((a | b) != 0))
    if k <= 1:
        return Chi2Result(statistic=np.float64(0.0), pvalue=np.float64(1.0), dof=0)
    from scipy.special import chdtrc

    from fastmlops._kernels.categories import chi2_2xk

    stat = chi2_2xk(a, b, n1, n2)
    return Chi2Result(statistic=np.float64(stat), pvalue=np.float64(chdtrc(k - 1, stat)),
                      dof=k - 1)


def _check_missing(missing: str) -> str:
    if missing not in ("omit", "category"):
        raise ValueError(f"missing must be 'omit' (leave missing values out) or 'category' "
                         f"(count them as one more category), got {missing!r}")
    return missing


def chisquare_2samp(data1: Column, data2: Column, *, missing: str = "omit") -> Chi2Result:
    """Chi-square test that two samples of a categorical variable come from the
    same distribution.

    The 2 x k table of category counts (categories present in either sample)
    goes through Pearson's test of homogeneity; the result equals
    ``scipy.stats.chi2_contingency(table, correction=False)`` (see the module
    docstring for huge counts).  One category in all gives ``dof`` 0,
    statistic 0 and p-value 1, as scipy does.  The asymptotic p-value is
    unreliable when expected counts are small (below about 5), as scipy warns.

    Parameters
    ----------
    data1, data2 : array-like
        Categorical samples of the same kind: str, int or bool values as
        lists, numpy arrays, pandas Series / Categorical or pyarrow arrays
        (see :func:`fastmlops.drift.categories.encode`).  Floats, datetimes,
        nested values and object columns mixing kinds are refused.
    missing : {"omit", "category"}
        Missing values (None, NaN, pd.NA, arrow nulls): left out, or counted
        as one more category.

    Returns
    -------
    Chi2Result
        ``statistic``, ``pvalue`` (unpacked) and ``dof``.

    Raises
    ------
    ValueError
        When a sample has no values (after leaving out missing ones).
    TypeError
        For input that is not categorical, or samples of different kinds
        (strings in one, integers in the other).

    Examples
    --------
    >>> from fastmlops.drift.categorical import chisquare_2samp
    >>> train = ["red"] * 50 + ["green"] * 30 + ["blue"] * 20
    >>> prod = ["red"] * 30 + ["green"] * 30 + ["blue"] * 35 + [None] * 5
    >>> stat, p = chisquare_2samp(train, prod)
    >>> round(float(stat), 4), round(float(p), 5)
    (8.9686, 0.01128)
    >>> chisquare_2samp(train, prod, missing="category").dof
    3
    """
    from fastmlops.drift.categories import encode

    missing = _check_missing(missing)
    e1 = encode(data1, "data1")
    e2 = encode(data2, "data2")
    if "empty" not in (e1.kind, e2.kind) and e1.kind != e2.kind:
        words = {"str": "strings", "int": "integers", "bool": "booleans"}
        raise TypeError(f"data1 holds {words[e1.kind]} and data2 holds {words[e2.kind]}; give "
                        "both samples the same type (e.g. .astype(str) on both)")
    per1, miss1 = e1.value_counts()
    per2, miss2 = e2.value_counts()
    index = {u: i for i, u in enumerate(e1.uniques)}
    lookup = np.empty(len(e2.uniques), np.int64)
    k = len(e1.uniques)
    for j, u in enumerate(e2.uniques):
        i = index.get(u)
        if i is None:
            i = index[u] = k
            k += 1
        lookup[j] = i
    c1 = np.zeros(k + 1, np.int64)
    c2 = np.zeros(k + 1, np.int64)
    c1[:per1.size] = per1
    np.add.at(c2, lookup, per2)
    if missing == "category":
        c1[k], c2[k] = miss1, miss2
    for c, name, miss in ((c1, "data1", miss1), (c2, "data2", miss2)):
        if not c.any():
            left = (f" ({miss} missing values left out; pass missing='category' to count them)"
                    if miss else "")
            raise ValueError(f"{name} has no values{left}: the test needs at least one "
                             "observation in each sample")
    return chi2_from_counts(c1, c2)
