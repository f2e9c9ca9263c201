"""The column model of a :class:`~fastmlops.DriftReference`: what is kept of
each reference column (sorted values, bins, categories), built once and used by
every check, the partial state, the saved file and the monitor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence, Union

import numpy as np

from fastmlops._core.validation import kernel_dtype, reject_long_double

if TYPE_CHECKING:
    from fastmlops.drift._ks_engine import BucketMap
    from fastmlops.drift._tables import ColumnValues
    from fastmlops.drift.categories import CategoryMap

__all__ = ["NumericColumn", "CategoricalColumn", "ColumnModel", "label_hashes", "build_column",
           "GRID", "BucketSpec"]

#: Points at which the report's ECDF pictures are drawn (reference quantiles).
#: The current batch is counted on these and the PSI edges together, from its
#: KS bucket counts (see ``NumericColumn.split_table``): almost free.
GRID = 24
#: A KS bucket map: ``(lo, scale, top)`` (see :mod:`fastmlops._kernels.ks_bins`).
BucketSpec = tuple[float, float, float]


@dataclass
class NumericColumn:
    sorted_values: np.ndarray  # non-missing values, sorted, kernel dtype
    n_missing: int
    #: PSI bin edges (float64): the reference's smallest value, the interior
    #: quantile edges, the float64 above its largest value (the first and last
    #: bins hold what lies outside its range); a file saved before the outer
    #: edges existed holds the interior edges only
    edges: np.ndarray
    counts: np.ndarray  # reference counts per PSI bin (int64)
    grid: np.ndarray  # ECDF picture points (float64)
    _buckets: BucketMap | None = field(default=None, repr=False)  # KS buckets, made on first use
    _have_buckets: bool = field(default=False, repr=False)
    #: (edges, psi bin, grid bin) per union bin
    _union: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    #: bucket map -> (split, bin_of)
    _splits: dict[BucketSpec, tuple[np.ndarray, np.ndarray]] | None = field(default=None,
                                                                           repr=False)
    kind: str = "numeric"

    @property
    def n(self) -> int:
        return self.sorted_values.size

    def count_bins(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """(counts on the PSI bins, counts on the picture grid's bins, NaNs) of
        ``values``, from one pass over the union of both edge sets (each union
        bin lies inside one bin of either set)."""
        from fastmlops import divergence

        union = self.union_bins()[0]
        counts, nan = divergence.bin_counts(values, union)
        psi, grid = self.split_union(counts.astype(np.int64))
        return psi, grid, int(nan)

    def union_bins(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(union of the PSI edges and the grid, PSI bin of each union bin,
        grid bin of each union bin)."""
        if self._union is None:
            union = np.ascontiguousarray(np.union1d(self.edges, self.grid), dtype=np.float64)
            lower = np.concatenate([[-np.inf], union])  # lower edge of each union bin
            psi_of = np.searchsorted(self.edges, lower, side="right")
            grid_of = np.searchsorted(self.grid, lower, side="right")
            self._union = (union, psi_of, grid_of)
        return self._union

    def split_union(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(PSI bin counts, grid bin counts) from counts on the union bins."""
        _, psi_of, grid_of = self.union_bins()
        psi = np.bincount(psi_of, weights=counts, minlength=self.edges.size + 1)
        grid = np.bincount(grid_of, weights=counts, minlength=self.grid.size + 1)
        return psi.astype(np.int64), grid.astype(np.int64)

    def split_table(self, spec: BucketSpec) -> tuple[np.ndarray, np.ndarray]:
        """For the KS bucket map ``spec = (lo, scale, top)``: ``(split, bin_of)``
        per bucket.  ``split[b]`` is 1 where bucket ``b`` may hold a union edge
        (the bucket of each edge and one bucket of margin on either side); for
        every other bucket ``bin_of[b]`` is the union bin holding all of its
        values, else -1 (see :mod:`fastmlops._kernels.ks_bins`).

        Exact by monotonicity: the map never decreases with the value, so a
        bucket two or more below an edge's bucket holds only values below the
        edge, and one two or more above holds only values at or above it."""
        splits = self._splits
        if splits is None:
            splits = self._splits = {}
        got = splits.get(spec)
        if got is not None:
            return got
        from fastmlops._kernels import ks as _k

        lo, scale, top = spec
        nb = int(top) + 1
        union = self.union_bins()[0]
        e = np.ascontiguousarray(union[~np.isnan(union)])  # NaN edges hold no value
        ids = np.empty(e.size, dtype=np.uint16)
        _k.bucket_counts(e, lo, scale, top, np.zeros(nb, dtype=np.int64), ids)  # the kernels' map
        be = ids.astype(np.int64)
        split = np.zeros(nb, dtype=np.uint8)
        for d in (-1, 0, 1):
            split[np.clip(be + d, 0, nb - 1)] = 1
        bin_of = np.searchsorted(be, np.arange(nb), side="left").astype(np.int64)
        bin_of[split.astype(bool)] = -1
        got = splits[spec] = (split, bin_of)
        return got

    def bins_from_buckets(self, spec: BucketSpec, bucket_counts: np.ndarray,
                          split_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(PSI bin counts, grid bin counts) from the non-NaN counts per KS
        bucket of map ``spec`` and the union-bin counts of the values of its
        split buckets (``_kernels.ks_bins.bucket_split_counts``)."""
        from fastmlops._kernels.ks_bins import fold_buckets

        _, bin_of = self.split_table(spec)
        if bucket_counts.size != bin_of.size or split_counts.size != self.union_bins()[0].size + 1:
            raise RuntimeError("fastmlops: bucket counts do not fit the bucket map")  # pragma: no cover
        union = np.array(split_counts, dtype=np.int64)
        fold_buckets(np.ascontiguousarray(bucket_counts), bin_of, union)
        return self.split_union(union)

    def buckets(self) -> BucketMap | None:
        """The reference's KS bucket map (None below 16 distinct values)."""
        if not self._have_buckets:
            from fastmlops.drift._ks_engine import reference_buckets

            self._buckets = reference_buckets(self.sorted_values)
            self._have_buckets = True
        return self._buckets



def label_hashes(labels: Sequence[object]) -> np.ndarray:
    """A stable (process-independent) hash of each category label, to break ties
    in the binned test without favouring either sample."""
    import zlib

    return np.array([zlib.crc32(repr(v).encode("utf-8", "surrogatepass")) for v in labels],
                    dtype=np.int64)



@dataclass
class CategoricalColumn:
    categories: CategoryMap
    n_missing: int
    kind: str = "categorical"
    _hashes: np.ndarray | None = field(default=None, repr=False)

    def label_hashes(self) -> np.ndarray:
        if self._hashes is None:
            self._hashes = label_hashes(self.categories.categories)
        return self._hashes

    @property
    def n(self) -> int:  # values present
        return int(self.categories.counts.sum()) + int(self.categories.other)


#: The model of one reference column.
ColumnModel = Union[NumericColumn, CategoricalColumn]


def build_column(name: str, kind: str, values: ColumnValues, *, bins: int,
                 max_categories: int) -> ColumnModel:
    """The model of one reference column (``kind`` "numeric" or "categorical")."""
    from fastmlops import divergence

    if kind == "categorical":
        from fastmlops.drift.categories import CategoryMap, encode

        enc = encode(values, name)
        cmap = CategoryMap.build(enc, max_categories=max_categories)
        n_missing = int(cmap.missing)
        if cmap.n == n_missing:
            raise ValueError(f"reference column {name!r} has no values (all missing); "
                             "drop it or fill it")
        return CategoricalColumn(cmap, n_missing)
    reject_long_double(values, f"reference column {name!r}")
    dtype = kernel_dtype(values)
    finite, n_nan = sort_values(values.astype(dtype, copy=False))
    if finite.size == 0:
        raise ValueError(f"reference column {name!r} has no values (all NaN); "
                         "drop it or fill it")
    # the interior quantile edges and the two outer ones (a bin below the
    # reference's range, one above it): see fastmlops.divergence
    edges = divergence.reference_edges(finite, bins)
    counts, _ = divergence.bin_counts(finite, edges)
    grid = divergence.edges_from_sorted(finite, GRID + 1)
    return NumericColumn(finite, n_nan, edges, counts.astype(np.int64), grid)


#: Columns at least this long are sorted by ``_kernels.sorting.bucket_sort``.
BUCKET_SORT_FROM = 1 << 14
_RANGE_SAMPLE = 2048


def sort_values(values: np.ndarray) -> tuple[np.ndarray, int]:
    """(the non-NaN values sorted, as ``np.sort`` orders them, the NaN count)
    of a 1-D array of a kernel dtype.  Long columns go through a bucket sort
    (linear passes and tiny sorts; ~3-4x faster than ``np.sort`` at 1e6),
    the rest, and the cases it declines, through ``np.sort``."""
    n = values.size
    if n >= BUCKET_SORT_FROM:
        got = _bucket_sorted(values)
        if got is not None:
            return got
    out = np.sort(values)  # NaNs last
    n_nan = n - int(np.searchsorted(out, np.nan)) if out.dtype.kind == "f" else 0
    return np.ascontiguousarray(out[: n - n_nan]), n_nan


def _bucket_sorted(values: np.ndarray) -> tuple[np.ndarray, int] | None:
    from fastmlops._kernels.sorting import bucket_sort
    from fastmlops.drift._ks_engine import arena

    n = values.size
    step = max(1, n // _RANGE_SAMPLE)
    sample = np.sort(values[::step].astype(np.float64))
    sample = sample[np.isfinite(sample)]
    if sample.size < 64:
        return None
    cut = max(1, sample.size // 500)
    lo, hi = float(sample[cut]), float(sample[-cut - 1])
    inner = 1 << min(22, max(8, (n // 2).bit_length()))  # ~1-2 values per bucket
    if not (hi > lo) or not np.isfinite(scale := inner / (hi - lo)):
        return None
    top = inner + 1
    values = np.ascontiguousarray(values)
    out = np.empty(n, dtype=values.dtype)
    nan = int(bucket_sort(values, lo, scale, top, out, arena("sort-ids", n, np.int32),
                          arena("sort-starts", top + 3, np.int64), max(4096, n // 16)))
    if nan < 0:
        return None
    out = out[: n - nan]
    if out.dtype.kind == "f":  # -0.0 and +0.0 compare equal: their order is numpy's
        z0, z1 = np.searchsorted(out, 0.0, side="left"), np.searchsorted(out, 0.0, side="right")
        if z1 - z0 > 1 and np.unique(np.signbit(out[z0:z1])).size > 1:
            return None
    return (out if nan == 0 else out.copy()), nan
