"""Categorical columns: encoding to integer codes, and counting against a reference.

:func:`encode` turns one column into :class:`Encoded` -- integer ``codes``
(-1 = missing) into a list of distinct values ``uniques`` of one ``kind``
("str", "int" or "bool"; "empty" when a column without a type holds no
values at all, e.g. an object array of ``None``).  It never loops in Python
over rows:

* pandas ``category`` / :class:`pandas.Categorical` and pyarrow dictionary
  arrays already have codes: they are used as they are;
* numpy fixed-width strings (``'U'``, ``'S'``) and integers are factorised by
  the Numba hash kernels of :mod:`fastmlops._kernels.categories`;
* pyarrow string, bool and integer arrays (and pandas' pyarrow-backed string
  columns) by :func:`pyarrow.compute.dictionary_encode`;
* object arrays, lists and other pandas columns by :func:`pandas.factorize`
  (without pandas: :func:`numpy.unique`, sorting, slower).

Python loops run over the *distinct* values only (checking their types,
mapping them to a reference's categories).

:class:`CategoryMap` is built once from a reference column and counts any
number of current batches against it (:meth:`CategoryMap.count`), giving the
bins of PSI, KL and JSD: the reference's categories plus one "other" bin.

Missing values are ``None``, ``NaN``, ``pd.NA``, ``NaT`` and arrow nulls; numpy
string arrays have none (an empty string is a category like any other).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from numpy.typing import ArrayLike

from fastmlops.drift._encode import KIND_WORDS, KINDS, Encoded, column_label, encode

__all__ = ["DEFAULT_MAX_CATEGORIES", "MAX_EXAMPLES", "Encoded", "encode", "CategoryMap",
           "CategoryCounts"]

#: Categories kept by :meth:`CategoryMap.build` by default: above this many
#: distinct reference values, the most frequent ones are kept and the rest
#: share one "other" bin (a few hundred KB per column at most).
DEFAULT_MAX_CATEGORIES = 10_000

#: Unseen values listed by :meth:`CategoryMap.count` (the first few of a batch).
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class CategoryCounts:
    """One batch counted against a :class:`CategoryMap`.

    ``counts[i]`` rows hold ``CategoryMap.categories[i]``; ``other`` rows hold a
    value outside the kept categories; ``missing`` rows are missing; ``n`` is
    all rows.  ``unseen`` / ``unseen_distinct`` are the rows / distinct values
    outside the kept categories and ``unseen_examples`` the first
    :data:`MAX_EXAMPLES` of them in order of first appearance, as ``str``.
    When the map is not truncated these are exactly the values the reference
    never had (``unseen == other``); when it is truncated, a value outside the
    kept categories may be a rare reference value or a new one, which cannot
    be told apart.

    Counts of batches add up: :meth:`merge` sums everything; examples keep the
    first few of ``self`` then new ones of ``other`` (merge in batch order to
    keep "first"), and ``unseen_distinct`` becomes an upper bound (a value
    unseen in two batches counts twice).
    """

    counts: np.ndarray
    other: int
    missing: int
    n: int
    unseen: int
    unseen_distinct: int
    unseen_examples: list = field(default_factory=list)

    @property
    def bins(self) -> np.ndarray:
        """The counts of the PSI/KL/JSD bins: the kept categories, then "other"."""
        return np.append(self.counts, np.int64(self.other))

    def merge(self, other: "CategoryCounts") -> "CategoryCounts":
        """The counts of both batches (see the class docstring)."""
        if self.counts.shape != other.counts.shape:
            raise ValueError("cannot merge counts of different category maps "
                             f"({self.counts.size} and {other.counts.size} categories)")
        examples = list(self.unseen_examples)
        for v in other.unseen_examples:
            if len(examples) >= MAX_EXAMPLES:
                break
            if v not in examples:
                examples.append(v)
        return CategoryCounts(self.counts + other.counts, self.other + other.other,
                              self.missing + other.missing, self.n + other.n,
                              self.unseen + other.unseen,
                              self.unseen_distinct + other.unseen_distinct, examples)


def _check_max_categories(max_categories: object) -> int:
    if isinstance(max_categories, bool) or not isinstance(max_categories, (int, np.integer)):
        raise TypeError(f"max_categories must be an int >= 1, got {max_categories!r}")
    if max_categories < 1:
        raise ValueError(f"max_categories must be >= 1, got {max_categories}")
    return int(max_categories)


def _sorted_order(values: list, counts: np.ndarray, kind: str) -> np.ndarray:
    """Positions of ``values`` by count descending, then value ascending."""
    if kind == "str":
        keys = np.array(values, dtype=str) if values else np.empty(0, str)
        # numpy 'U' drops trailing NUL characters; break such ties by the full
        # Python strings (rare, and only among values numpy thinks equal)
    elif kind == "int":
        try:
            keys = np.array(values, dtype=np.int64)
        except OverflowError:
            keys = np.array(values, dtype=object)
    else:
        keys = np.array(values, dtype=bool)
    by_value = np.argsort(keys, kind="stable")
    if kind == "str" and keys.size and len(set(keys.tolist())) != len(values):
        by_value = np.array(sorted(range(len(values)), key=values.__getitem__), dtype=np.intp)
    return by_value[np.argsort(-counts[by_value], kind="stable")]


class CategoryMap:
    """The categories of a reference column, built once, counting many batches.

    Built with :meth:`build`.  ``categories`` are the kept reference values by
    count descending then value (all of them, or the ``max_categories`` most
    frequent when there are more: ``truncated``), ``counts`` their reference
    counts (int64), ``other`` the reference rows of the values not kept,
    ``missing`` the reference's missing rows and ``n_distinct`` how many
    distinct values the reference had.  A "str" map never counts an "int"
    batch (and so on): that is a TypeError naming the column.

    Serialise it without pickle with :meth:`to_arrays` (a JSON-able header and
    one int64 array) and :meth:`from_arrays`.

    Examples
    --------
    >>> from fastmlops.drift.categories import CategoryMap, encode
    >>> ref = CategoryMap.build(encode(["a", "b", "a", None, "c", "a"], "colour"))
    >>> ref.categories, ref.counts.tolist(), ref.missing
    (['a', 'b', 'c'], [3, 1, 1], 1)
    >>> cur = ref.count(encode(["a", "d", "e", "d"], "colour"))
    >>> cur.counts.tolist(), cur.other, cur.unseen_distinct, cur.unseen_examples
    ([1, 0, 0], 3, 2, ['d', 'e'])
    """

    def __init__(self, name: str, kind: str, categories: list, counts: np.ndarray, other: int,
                 missing: int, n_distinct: int, max_categories: int) -> None:
        self.name = name
        self.kind = kind
        self.categories = categories
        self.counts = counts
        self.other = other
        self.missing = missing
        self.n_distinct = n_distinct
        self.max_categories = max_categories
        self._index = {v: i for i, v in enumerate(categories)}

    def has(self, value: object) -> bool:
        """Whether ``value`` is one of the kept categories."""
        return value in self._index

    @property
    def index(self) -> Mapping[Any, int]:
        """Kept category -> its position in :attr:`categories`."""
        return self._index

    @property
    def truncated(self) -> bool:
        """True when only the ``max_categories`` most frequent values were kept."""
        return self.n_distinct > len(self.categories)

    @property
    def n(self) -> int:
        """Reference rows, missing included."""
        return int(self.counts.sum()) + self.other + self.missing

    @property
    def bins(self) -> np.ndarray:
        """Reference counts of the PSI/KL/JSD bins: the kept categories, then "other"."""
        return np.append(self.counts, np.int64(self.other))

    def __repr__(self) -> str:
        more = f", truncated from {self.n_distinct}" if self.truncated else ""
        return (f"CategoryMap({self.name!r}, kind={self.kind!r}, "
                f"{len(self.categories)} categories{more})")

    @classmethod
    def build(cls, encoded: Encoded, max_categories: int = DEFAULT_MAX_CATEGORIES
              ) -> "CategoryMap":
        """The map of a reference column (see the class docstring)."""
        max_categories = _check_max_categories(max_categories)
        per, missing = encoded.value_counts()
        present = np.flatnonzero(per)
        values = [encoded.uniques[i] for i in present]
        counts = per[present]
        order = _sorted_order(values, counts, encoded.kind)
        keep = order[:max_categories]
        kept = counts[keep]
        return cls(encoded.name, encoded.kind, [values[i] for i in keep],
                   np.ascontiguousarray(kept, dtype=np.int64),
                   int(counts.sum() - kept.sum()), missing, len(values), max_categories)

    def check_kind(self, encoded: Encoded) -> None:
        if encoded.kind == "empty" or self.kind == "empty" or encoded.kind == self.kind:
            return
        raise TypeError(
            f"{column_label(self.name)}: {KIND_WORDS[self.kind]} in the reference, "
            f"{KIND_WORDS[encoded.kind]} in the current batch; give the column the same type "
            f"in both (e.g. .astype(str) on both)")

    def count(self, encoded: Encoded) -> CategoryCounts:
        """Count one batch (see :class:`CategoryCounts`)."""
        self.check_kind(encoded)
        per, missing = encoded.value_counts()
        index = self._index
        lookup = np.fromiter((index.get(u, -1) for u in encoded.uniques), np.int64,
                             count=len(encoded.uniques))
        known = lookup >= 0
        counts = np.zeros(len(self.categories), np.int64)
        np.add.at(counts, lookup[known], per[known])
        outside = ~known & (per > 0)
        other = int(per[outside].sum())
        return CategoryCounts(counts, other, missing, len(encoded), other,
                              int(outside.sum()), self._examples(encoded, outside))

    @staticmethod
    def _examples(encoded: Encoded, outside: np.ndarray) -> list:
        where = np.flatnonzero(outside)
        if where.size == 0:
            return []
        if not encoded.appearance_order:
            from fastmlops._kernels.categories import first_positions

            first = np.full(outside.size, encoded.codes.size, np.int64)
            first_positions(encoded.codes, outside.astype(np.uint8), first)
            where = where[np.argsort(first[where], kind="stable")]
        return [str(encoded.uniques[i]) for i in where[:MAX_EXAMPLES]]

    # -------------------------------------------------------------- storage
    def to_arrays(self) -> tuple[dict, np.ndarray]:
        """``(header, counts)``: a JSON-able dict and the int64 reference counts."""
        header = {"format": "fastmlops.CategoryMap/1", "name": self.name, "kind": self.kind,
                  "categories": list(self.categories), "other": int(self.other),
                  "missing": int(self.missing), "n_distinct": int(self.n_distinct),
                  "max_categories": int(self.max_categories)}
        return header, self.counts.copy()

    @classmethod
    def from_arrays(cls, header: dict, counts: ArrayLike) -> "CategoryMap":
        """The map stored by :meth:`to_arrays` (checked: a damaged store raises ValueError)."""
        if not isinstance(header, dict) or header.get("format") != "fastmlops.CategoryMap/1":
            raise ValueError("not a stored CategoryMap header (format "
                             "'fastmlops.CategoryMap/1' expected)")
        try:
            name = str(header["name"])
            kind = header["kind"]
            categories = list(header["categories"])
            other, missing = int(header["other"]), int(header["missing"])
            n_distinct, max_categories = int(header["n_distinct"]), int(header["max_categories"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"stored CategoryMap header is damaged: {exc!r}") from None
        if kind not in KINDS + ("empty",):
            raise ValueError(f"stored CategoryMap has unknown kind {kind!r}")
        types = {"str": (str,), "int": (int,), "bool": (bool,), "empty": ()}[kind]
        if any(not isinstance(v, types) or (kind == "int" and isinstance(v, bool))
               for v in categories):
            raise ValueError(f"stored CategoryMap {name!r}: categories are not all {kind}")
        if len(set(categories)) != len(categories):
            raise ValueError(f"stored CategoryMap {name!r}: repeated categories")
        arr = np.asarray(counts)
        if arr.ndim != 1 or arr.dtype.kind not in "iu" or arr.size != len(categories):
            raise ValueError(f"stored CategoryMap {name!r}: counts must be a 1-D integer array "
                             f"of {len(categories)} values, got {arr.dtype} {arr.shape}")
        if (arr.size and arr.min() < 0) or other < 0 or missing < 0 \
                or n_distinct < len(categories) or max_categories < 1:
            raise ValueError(f"stored CategoryMap {name!r}: negative or inconsistent counts")
        return cls(name, kind, categories, np.ascontiguousarray(arr, dtype=np.int64), other,
                   missing, n_distinct, max_categories)

