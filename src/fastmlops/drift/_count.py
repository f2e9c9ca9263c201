"""One pass over the current columns of a check in memory: the
:mod:`~fastmlops.drift.counts` of each column (KS statistic, PSI and picture
bins, missing share, categories), on the threads."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from fastmlops._core.validation import kernel_dtype, reject_long_double
from fastmlops.drift._ks import resolve
from fastmlops.drift._tables import Columns
from fastmlops.drift.columns import CategoricalColumn, ColumnModel, NumericColumn, label_hashes
from fastmlops.drift.counts import CategoricalCounts, ColumnCounts, KsFigures, NumericCounts


def ks_figures(st: np.ndarray, locs: np.ndarray, alternative: str) -> KsFigures:
    """The kernels' statistics and locations resolved for ``alternative``."""
    d, loc, sign = resolve(st, locs, alternative)
    return KsFigures(float(d), float(loc), float(sign))


def count_columns(models: Sequence[ColumnModel], names: Sequence[str], cols: Columns,
                  alternative: str, binned: bool) -> list[ColumnCounts]:
    """The counts of every current column (``binned``: PSI bins and categories
    too, else the KS statistic only)."""
    from fastmlops._core.parallel import parallel_map

    m = len(models)
    parts: list[ColumnCounts | None] = [None] * m
    rows = _row_major(models, cols)
    if rows is not None:  # read in place: row chunks, then columns, on the threads
        return list(_count_rows(models, rows, alternative, binned))

    def work(block: tuple[int, int]) -> None:
        for j, values in zip(range(*block), cols.block(*block)):
            ref = models[j]
            if isinstance(ref, CategoricalColumn):
                parts[j] = count_categorical(ref, values, names[j]) if binned else \
                    CategoricalCounts(len(values), 0, 0)
            else:
                parts[j] = count_numeric(ref, values, names[j], alternative, binned)

    parallel_map(work, cols.blocks())
    done = [p for p in parts if p is not None]
    if len(done) != m:  # pragma: no cover - every block is counted or raises
        raise RuntimeError(f"fastmlops: {m - len(done)} column(s) were not counted")
    return done


def _row_major(models: Sequence[ColumnModel], cols: Columns) -> np.ndarray | None:
    """The row-major numeric table behind ``cols`` when every column can be
    counted straight from its rows (same dtype as every reference column,
    which all have KS buckets), else None."""
    from fastmlops.drift._ks_engine import SORT_MERGE_BELOW

    table = cols.table
    if table is None or table.dtype.name not in ("float64", "float32", "int64", "uint64") \
            or table.shape[0] < SORT_MERGE_BELOW:
        return None
    for ref in models:
        if not isinstance(ref, NumericColumn) or ref.sorted_values.dtype != table.dtype or \
                ref.buckets() is None:
            return None
    return table


def _count_rows(models: Sequence[ColumnModel], table: np.ndarray, alternative: str,
                binned: bool) -> list[NumericCounts]:
    """:func:`count_numeric` of every column of a row-major table, read in place
    (see :func:`fastmlops.drift._ks_engine.ks_table_block`)."""
    from fastmlops.drift._ks_engine import Sample, ks_table_block

    numeric = [ref for ref in models if isinstance(ref, NumericColumn)]
    samples, specs = [], []
    for ref in numeric:
        bm = ref.buckets()
        assert bm is not None  # checked by _row_major
        spec = (bm.lo, bm.scale, bm.top)
        specs.append(spec)
        samples.append(Sample(ref.sorted_values, is_sorted=True, nan=0, buckets=bm,
                              split=(ref.split_table(spec)[0], ref.union_bins()[0])
                              if binned else None))
    j1 = len(numeric)
    bins: list = [None] * j1
    n = table.shape[0]
    out: list[NumericCounts] = []
    if binned:
        from fastmlops.drift._effects import summarize_rows

        summaries = summarize_rows(table)
    for k, (res, _, nan_b) in enumerate(ks_table_block(samples, table, 0, j1, bins)):
        ref = numeric[k]
        part = NumericCounts(n_rows=n, n_missing=int(nan_b), n=n - int(nan_b),
                             summary=summaries[k] if binned else None)
        if res is not None:
            part.ks = ks_figures(res[0], res[1], alternative)
        if binned:
            if bins[k] is not None:
                part.bins, part.grid = ref.bins_from_buckets(specs[k], *bins[k])
            else:  # pragma: no cover - every column here has buckets
                part.bins, part.grid, _ = ref.count_bins(np.ascontiguousarray(table[:, k]))
        out.append(part)
    return out


def count_numeric(ref: NumericColumn, values: np.ndarray, name: str, alternative: str,
                  binned: bool) -> NumericCounts:
    """The counts of one numeric current column."""
    from fastmlops.drift._ks_engine import Sample, ks_statistic

    reject_long_double(values, f"current column {name!r}")
    dtype = kernel_dtype(ref.sorted_values, values)
    bm = ref.buckets() if dtype == ref.sorted_values.dtype else None
    spec = (bm.lo, bm.scale, bm.top) if bm is not None else None
    sa = Sample(ref.sorted_values.astype(dtype, copy=False), is_sorted=True, nan=0,
                buckets=bm, split=(ref.split_table(spec)[0], ref.union_bins()[0])
                if binned and spec is not None else None)
    sb = Sample(np.ascontiguousarray(values, dtype=dtype))
    res = ks_statistic(sa, sb)
    part = NumericCounts(n_rows=int(values.size), n_missing=sb.n_missing, n=int(sb.n))
    if binned:
        from fastmlops.drift._effects import summarize

        part.summary = summarize(sb.values)
    if res is not None:
        part.ks = ks_figures(res[0], res[1], alternative)
    if binned:
        if sb.bin_counts is not None and spec is not None:  # from the KS bucket counts
            part.bins, part.grid = ref.bins_from_buckets(spec, *sb.bin_counts)
        else:
            part.bins, part.grid, _ = ref.count_bins(sb.values)
    return part


def count_categorical(ref: CategoricalColumn, values: object, name: str) -> CategoricalCounts:
    """The counts of one categorical current column."""
    from fastmlops.drift.categories import encode

    enc = encode(values, name)
    c = ref.categories.count(enc)
    # per-value counts of the values the reference never had: the binned test
    # needs them as bins of their own (see _rule.pooled_chi2)
    per, _ = enc.value_counts()
    pairs = [(k, u) for u, k in zip(enc.uniques, per) if k and not ref.categories.has(u)]
    return CategoricalCounts(n_rows=int(len(enc.codes)), n_missing=int(c.missing),
                             n=int(len(enc.codes) - c.missing), categories=c,
                             unseen_counts=np.array([k for k, _ in pairs], dtype=np.int64),
                             unseen_keys=label_hashes([u for _, u in pairs]))
