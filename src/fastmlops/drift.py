"""Drift detection: the two-sample Kolmogorov-Smirnov test and a reusable
reference for checking many production batches against one training sample.

* :func:`ks_2samp` is a drop-in for :func:`scipy.stats.ks_2samp`: the same
  statistic (bit for bit, ties included), the same p-values (``exact`` and
  ``asymp``, agreeing to 1e-10 relative for p-values of at least 1e-307),
  the same result fields, plus
  ``axis`` / ``nan_policy`` for testing many columns in one parallel call.
* :class:`DriftReference` sorts and bins a reference table once, then checks
  any number of current batches: KS, PSI, KL, JSD and NaN share per column,
  with a verdict per column and for the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from fastmlops import _drift_rule as rule
from fastmlops._drift_report import DriftReport
from fastmlops._ks_2samp import (KstestResult, _check_options, _resolve, _str_keyed,
                                 ks_2samp)
from fastmlops._validation import kernel_dtype, reject_long_double

__all__ = ["KstestResult", "ks_2samp", "DriftReference", "DriftReport"]

# --------------------------------------------------------------------------
# Reference computed once, many checks
# --------------------------------------------------------------------------

#: Points at which the report's ECDF pictures are drawn (reference quantiles).
#: The current batch is counted on these and the PSI edges together, from its
#: KS bucket counts (see ``_NumericRef.split_table``): almost free.
_GRID = 24
#: Categories drawn in a categorical column's picture (the rest pooled).
_PLOT_CATEGORIES = 30


@dataclass
class _NumericRef:
    sorted_values: np.ndarray  # non-missing values, sorted, kernel dtype
    n_missing: int
    edges: np.ndarray  # interior PSI bin edges (float64)
    counts: np.ndarray  # reference counts per PSI bin (int64)
    grid: np.ndarray  # ECDF picture points (float64)
    _buckets: Any = field(default=None, repr=False)  # KS buckets, made on first use
    _have_buckets: bool = field(default=False, repr=False)
    _union: Any = field(default=None, repr=False)  # (edges, psi bin, grid bin) per union bin
    _splits: Any = field(default=None, repr=False)  # bucket map -> (split, bin_of)
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

    def split_table(self, spec: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
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

    def bins_from_buckets(self, spec: tuple[float, float, float], bucket_counts: np.ndarray,
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

    def buckets(self) -> Any:
        if not self._have_buckets:
            from fastmlops._ks_engine import reference_buckets

            self._buckets = reference_buckets(self.sorted_values)
            self._have_buckets = True
        return self._buckets


def _label_hashes(labels: list) -> np.ndarray:
    """A stable (process-independent) hash of each category label, to break ties
    in the binned test without favouring either sample."""
    import zlib

    return np.array([zlib.crc32(repr(v).encode("utf-8", "surrogatepass")) for v in labels],
                    dtype=np.int64)


@dataclass
class _CategoricalRef:
    categories: Any  # _categories.CategoryMap
    n_missing: int
    kind: str = "categorical"
    _hashes: Any = field(default=None, repr=False)

    def label_hashes(self) -> np.ndarray:
        if self._hashes is None:
            self._hashes = _label_hashes(self.categories.categories)
        return self._hashes

    @property
    def n(self) -> int:  # values present
        return int(self.categories.counts.sum()) + int(self.categories.other)


def _check_number(value: Any, name: str, low: float, high: float, low_open: bool = True,
                  high_open: bool = True) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not ((low < v if low_open else low <= v) and (v < high if high_open else v <= high)):
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise ValueError(f"{name} must be in {lo}{low:g}, {high:g}{hi}, got {value!r}")
    return v


class DriftReference:
    """A reference table, sorted, binned and counted once, to check batches against.

    Parameters
    ----------
    reference : array_like, DataFrame, pyarrow Table or dict
        A 1-D array (one column), a 2-D array (rows x columns), a pandas
        DataFrame, a pyarrow Table/RecordBatch, or a dict of name -> 1-D array.
        Column kinds:

        * numeric: int, uint and float columns (up to float64: long double
          raises TypeError); datetimes and timedeltas as float64 nanoseconds
          (NaT missing);
        * categorical: strings (numpy, object, pandas ``string``/``str``,
          pyarrow string), bools, pandas ``category``, pyarrow dictionary
          columns, and integer columns named in ``categorical``.

        Anything else (nested, binary, complex, objects of mixed types) raises
        TypeError naming the column.  Missing values (NaN, NaT, None, null,
        pd.NA, masked entries) are left out of the distributions and their
        share is recorded.  Column names are strings: a dict's keys and a
        DataFrame's labels are converted with ``str``.
    columns : sequence, optional
        Names for the columns of an array, or the subset/order of table columns
        to use.  Arrays default to "0", "1", ...
    categorical : sequence, optional
        Integer columns to treat as categories (strings, bools and category
        dtypes always are).  A float column named here raises TypeError.
    bins : int, default 10
        PSI/KL/JSD bins of numeric columns: quantiles of each reference column
        (see :func:`fastmlops.psi`).
    eps : float, default 1e-4
        Floor for bin proportions in PSI and KL.
    alpha : float, default 0.01
        Each column's false-positive rate: under no drift a column is "drift"
        at most this share of the time, at any sample size (see
        :class:`DriftReport` for the rule).
    drift_share : float, default 0.5
        The table drifts when at least this share of its columns drift.
    nan_increase : float, default 0.02
        A significant binned change is "drift" (not only "watch") when the
        share of missing values rose by more than this (absolute: 0.02 is two
        percentage points).
    correction : {"none", "holm", "bh"}, default "none"
        Adjust the columns' p-values across the table: Holm (family-wise
        error rate at most ``alpha``) or Benjamini-Hochberg (false discovery
        rate at most ``alpha``).  "none" judges each column on its own.
    max_categories : int, default 10,000
        A categorical column keeps at most this many of its most frequent
        reference values; the rest form one "other" bin (and the report says
        so).  Bounds memory for ids and free text.

    Examples
    --------
    >>> import numpy as np, fastmlops
    >>> rng = np.random.default_rng(0)
    >>> ref = fastmlops.DriftReference(rng.normal(size=(5000, 3)), columns=["a", "b", "c"])
    >>> cur = rng.normal(size=(2000, 3))
    >>> cur[:, 2] += 1.0
    >>> report = ref.check(cur)
    >>> report.column_verdict
    ['ok', 'ok', 'drift']
    >>> report.reasons[2]
    ['ks', 'psi']
    >>> report.verdict
    'watch'
    """

    def __init__(self, reference: Any, *, columns: Sequence[Any] | None = None,
                 categorical: Sequence[Any] = (), bins: int = 10, eps: float = 1e-4,
                 alpha: float = 0.01, drift_share: float = 0.5, nan_increase: float = 0.02,
                 correction: str = "none", max_categories: int = 10_000) -> None:
        from fastmlops._parallel import parallel_map
        from fastmlops._tables import as_columns

        self._set_params(bins=bins, eps=eps, alpha=alpha, drift_share=drift_share,
                         nan_increase=nan_increase, correction=correction,
                         max_categories=max_categories)
        if isinstance(categorical, (str, bytes)):
            categorical = [categorical]
        if isinstance(reference, dict):
            reference = _str_keyed(reference, "reference")
            if columns is not None:
                columns = [str(c) for c in columns]
        cols = as_columns(reference, columns, "reference", categorical=categorical)
        if len(cols) == 0:
            raise ValueError("reference has no columns")
        if cols.n_rows == 0:
            raise ValueError("reference has no rows")
        self.columns: list[str] = cols.names
        self.kinds: list[str] = list(cols.kinds)
        self.n_rows: int = cols.n_rows
        self._digest: str | None = None

        def build(block: tuple[int, int]) -> list[Any]:
            return [self._build_column(self.columns[j], kind, values) for j, kind, values in
                    zip(range(*block), self.kinds[block[0]:block[1]], cols.block(*block))]

        blocks = cols.blocks()
        self._cols: list[Any] = [c for part in parallel_map(build, blocks) for c in part]

    def _set_params(self, *, bins: Any, eps: Any, alpha: Any, drift_share: Any,
                    nan_increase: Any, correction: Any, max_categories: Any) -> None:
        from fastmlops import divergence

        self.bins = divergence._check_bins(bins)
        self.eps = divergence._check_eps(eps)
        self.alpha = _check_number(alpha, "alpha", 0, 1)
        self.drift_share = _check_number(drift_share, "drift_share", 0, 1, high_open=False)
        self.nan_increase = _check_number(nan_increase, "nan_increase", 0, 1, False, False)
        if correction not in rule.CORRECTIONS:
            raise ValueError(f"correction must be one of {rule.CORRECTIONS}, got {correction!r}")
        self.correction = str(correction)
        if isinstance(max_categories, (bool, np.bool_)) or not isinstance(
                max_categories, (int, np.integer)) or max_categories < 1:
            raise ValueError(f"max_categories must be a positive integer, got {max_categories!r}")
        self.max_categories = int(max_categories)

    def _build_column(self, name: str, kind: str, values: Any) -> Any:
        from fastmlops import divergence

        if kind == "categorical":
            from fastmlops._categories import CategoryMap, encode

            enc = encode(values, name)
            cmap = CategoryMap.build(enc, max_categories=self.max_categories)
            n_missing = int(cmap.missing)
            if cmap.n == n_missing:
                raise ValueError(f"reference column {name!r} has no values (all missing); "
                                 "drop it or fill it")
            return _CategoricalRef(cmap, n_missing)
        reject_long_double(values, f"reference column {name!r}")
        dtype = kernel_dtype(values)
        values = np.sort(values.astype(dtype, copy=False))  # NaNs last
        n_nan = values.size - int(np.searchsorted(values, np.nan)) if dtype.kind == "f" else 0
        finite = np.ascontiguousarray(values[: values.size - n_nan])
        if finite.size == 0:
            raise ValueError(f"reference column {name!r} has no values (all NaN); "
                             "drop it or fill it")
        edges = divergence.edges_from_sorted(finite, self.bins)
        counts, _ = divergence.bin_counts(finite, edges)
        grid = divergence.edges_from_sorted(finite, _GRID + 1)
        return _NumericRef(finite, n_nan, edges, counts.astype(np.int64), grid)

    def __repr__(self) -> str:
        n_cat = self.kinds.count("categorical")
        kinds = f", {n_cat} categorical" if n_cat else ""
        return (f"DriftReference({len(self.columns)} columns{kinds} x {self.n_rows} rows, "
                f"bins={self.bins}, alpha={self.alpha:g})")

    # ---------------------------------------------------------------- files
    @property
    def digest(self) -> str:
        """``"sha256:<hex>"``: the digest of the reference's content (every
        stored value and parameter), the same before :meth:`save` and after
        :meth:`load`.  Computed on first use (it hashes every value)."""
        if self._digest is None:
            from fastmlops._reference_file import content_digest

            self._digest = content_digest(self)
        return self._digest

    def save(self, path: Any) -> str:
        """Write the reference to ``path`` in the documented, versioned format
        of ``docs/reference-format.md`` (a JSON header and raw little-endian
        arrays; never pickle).  Returns the reference's :attr:`digest`."""
        from fastmlops._reference_file import save

        return save(self, path)

    @classmethod
    def load(cls, path: Any, *, expected_digest: str | None = None,
             verify: str | None = None) -> "DriftReference":
        """Read a reference written by :meth:`save`.

        The arrays are memory-mapped (read-only) and every one is checked
        against the digests the file carries: a truncated, corrupted or
        altered file, a file of a newer format version, or a file that is not
        a reference raises ``ValueError``; loading runs no code from the file.
        ``verify="xxh3"`` (the default) checks each array's XXH3-128, fast
        and enough against corruption; ``verify="sha256"`` checks their
        SHA-256, against deliberate tampering (the default when
        ``expected_digest`` is given).  ``expected_digest`` (e.g. from a
        :class:`~fastmlops.fingerprint.ModelVersion`) also refuses a valid
        reference other than the one expected.
        """
        from fastmlops._reference_file import load

        return load(cls, path, expected_digest, verify)

    # ---------------------------------------------------------------- checks
    def _current_columns(self, current: Any, allow_empty: bool = False,
                         numeric_only: bool = False) -> Any:
        """The columns of a current batch, matched to the reference's by name
        (tables, dicts) or position (arrays), kinds checked.  ``numeric_only``
        selects the numeric columns of a table (pass 2 of a stream)."""
        from fastmlops._tables import as_columns

        if numeric_only:
            names = [c for c, k in zip(self.columns, self.kinds) if k == "numeric"]
            if isinstance(current, dict):
                current = _str_keyed(current, "current")
            return as_columns(current, names, "current")

        cat = [c for c, k in zip(self.columns, self.kinds) if k == "categorical"]
        is_table = isinstance(current, dict) or hasattr(current, "column_names") or (
            hasattr(current, "columns") and hasattr(current, "iloc"))
        if is_table:  # match by name
            if isinstance(current, dict):
                current = _str_keyed(current, "current")
            cols = as_columns(current, self.columns, "current", categorical=cat)
        else:  # match by position
            cols = _positional(current, self.columns, cat)
        if cols.n_rows == 0 and not allow_empty:
            raise ValueError("current has no rows")
        for name, want, got in zip(self.columns, self.kinds, cols.kinds):
            if want != got:
                raise TypeError(
                    f"current: column {name!r} is {want} in the reference but "
                    f"{'holds numbers' if got == 'numeric' else 'holds categories (strings/bools)'}"
                    " in the current batch; pass the same kind of values (cast the column)")
        return cols

    def new_state(self) -> Any:
        """An empty :class:`~fastmlops._drift_state.DriftState`: the mergeable
        partial state of a check (count, merge, candidates, gather, finish;
        see :mod:`fastmlops._drift_state`)."""
        from fastmlops._drift_state import DriftState

        return DriftState(self)

    def ks(self, current: Any, *, alternative: str = "two-sided",
           method: str = "auto") -> KstestResult:
        """KS test of every numeric column of ``current`` against the reference
        (NaNs omitted); the same numbers as ``ks_2samp(reference_col,
        current_col, nan_policy='omit')``, with the reference's sort done once.
        Categorical columns get NaN."""
        alternative, method, _ = _check_options(alternative, method, "omit")
        cols = self._current_columns(current)
        parts = self._count(cols, alternative, binned=False)
        d, p = self._ks_pvalues(parts, alternative, method)
        loc = np.array([q.get("ks_location", np.nan) for q in parts], dtype=np.float64)
        sign = np.array([q.get("ks_sign", np.nan) for q in parts], dtype=np.float64)
        return KstestResult(d, p, loc, sign)

    def check(self, current: Any, *, progress: Any = None) -> DriftReport:
        """Compare current data with the reference: per column KS (numbers), the
        binned chi-square test, PSI, KL, JSD, missing share and unseen
        categories, and the verdicts with their reasons (see
        :class:`DriftReport`).

        ``current`` is one batch in memory (the same forms as the reference:
        tables and dicts matched by column name, arrays by position), or data
        of any size streamed in batches (see :mod:`fastmlops._drift_stream`):

        * a path: a Parquet file or directory (hive-partitioned too), CSV,
          Arrow IPC / Feather, or ``.npy``; a ``pyarrow.dataset.Dataset``;
          these are read twice (an exact KS needs two passes);
        * an iterator or generator of batches (2-D arrays, DataFrames, Arrow
          RecordBatches or Tables, dicts); a list or tuple of DataFrames /
          Arrow tables / dicts is iterated twice, a one-shot iterator has its
          numeric columns spooled to a temporary file for the second pass
          (8 bytes per value on disk, one batch in memory);
        * a ``dask.dataframe.DataFrame`` or ``dask.array.Array`` (columns on
          axis 1): each partition is counted where it lies; only counts and
          the few candidate values travel (see :func:`fastmlops.drift.check_dask`).

        Every figure is bit-identical to checking the concatenated data in
        memory, whatever the batch sizes and order.  Each column must be of
        the same kind as in the reference.  ``progress(rows_done, total)`` is
        called after each batch of a stream (``total`` None when unknown).
        """
        from fastmlops import _drift_stream

        if _drift_stream.is_stream(current):
            return _drift_stream.check(self, current, progress)
        cols = self._current_columns(current)
        parts = self._count(cols, "two-sided", binned=True)
        return self._finish(parts, cols.n_rows)

    def _count(self, cols: Any, alternative: str, binned: bool) -> list[dict]:
        """One pass over each current column: the per-column partial results."""
        from fastmlops._parallel import parallel_map

        m = len(self.columns)
        parts: list[Any] = [None] * m
        rows = self._row_major(cols)
        if rows is not None:  # read in place: row chunks, then columns, on the threads
            self._count_rows(rows, 0, m, parts, alternative, binned)
            return parts

        def work(block: tuple[int, int]) -> None:
            for j, values in zip(range(*block), cols.block(*block)):
                ref = self._cols[j]
                name = self.columns[j]
                if ref.kind == "categorical":
                    parts[j] = self._count_categorical(ref, values, name) if binned else {
                        "n_rows": len(values)}
                else:
                    parts[j] = self._count_numeric(ref, values, name, alternative, binned)

        parallel_map(work, cols.blocks())
        return parts

    def _row_major(self, cols: Any) -> np.ndarray | None:
        """The row-major numeric table behind ``cols`` when every column can be
        counted straight from its rows (same dtype as every reference column,
        which all have KS buckets), else None."""
        from fastmlops._ks_engine import SORT_MERGE_BELOW

        table = getattr(cols, "table", None)
        if table is None or table.dtype.name not in ("float64", "float32", "int64", "uint64") \
                or table.shape[0] < SORT_MERGE_BELOW:
            return None
        for ref in self._cols:
            if ref.kind != "numeric" or ref.sorted_values.dtype != table.dtype or \
                    ref.buckets() is None:
                return None
        return table

    def _count_rows(self, table: np.ndarray, j0: int, j1: int, parts: list,
                    alternative: str, binned: bool) -> None:
        """``_count_numeric`` of columns ``j0 .. j1 - 1`` of a row-major table,
        read in place (see :func:`fastmlops._ks_engine.ks_table_block`)."""
        from fastmlops._ks_engine import Sample, ks_table_block

        samples, specs = [], []
        for j in range(j0, j1):
            ref = self._cols[j]
            bm = ref.buckets()
            spec = (bm.lo, bm.scale, bm.top)
            specs.append(spec)
            samples.append(Sample(ref.sorted_values, is_sorted=True, nan=0, buckets=bm,
                                  split=(ref.split_table(spec)[0], ref.union_bins()[0])
                                  if binned else None))
        bins: list = [None] * (j1 - j0)
        n = table.shape[0]
        for k, (res, _, nan_b) in enumerate(ks_table_block(samples, table, j0, j1, bins)):
            j = j0 + k
            ref = self._cols[j]
            part: dict[str, Any] = {"n_rows": n, "n_missing": nan_b, "n": n - nan_b}
            if res is not None:
                d, loc, sign = _resolve(res[0], res[1], alternative)
                part.update(ks_d=d, ks_location=float(loc), ks_sign=float(sign))
            if binned:
                if bins[k] is not None:
                    counts, grid_counts = ref.bins_from_buckets(specs[k], *bins[k])
                else:  # pragma: no cover - every column here has buckets
                    counts, grid_counts, _ = ref.count_bins(np.ascontiguousarray(table[:, j]))
                part.update(counts=counts, grid_counts=grid_counts)
            parts[j] = part

    def _count_numeric(self, ref: _NumericRef, values: np.ndarray, name: str,
                       alternative: str, binned: bool) -> dict:
        from fastmlops._ks_engine import Sample, ks_statistic

        reject_long_double(values, f"current column {name!r}")
        dtype = kernel_dtype(ref.sorted_values, values)
        bm = ref.buckets() if dtype == ref.sorted_values.dtype else None
        spec = (bm.lo, bm.scale, bm.top) if bm is not None else None
        sa = Sample(ref.sorted_values.astype(dtype, copy=False), is_sorted=True, nan=0,
                    buckets=bm, split=(ref.split_table(spec)[0], ref.union_bins()[0])
                    if binned and spec is not None else None)
        sb = Sample(np.ascontiguousarray(values, dtype=dtype))
        res = ks_statistic(sa, sb)
        part: dict[str, Any] = {"n_rows": int(values.size), "n_missing": int(sb.nan),
                                "n": int(sb.n)}
        if res is not None:
            d, loc, sign = _resolve(res[0], res[1], alternative)
            part.update(ks_d=d, ks_location=float(loc), ks_sign=float(sign))
        if binned:
            if sb.bin_counts is not None:  # from the KS bucket counts (same figures)
                counts, grid_counts = ref.bins_from_buckets(spec, *sb.bin_counts)
            else:
                counts, grid_counts, _ = ref.count_bins(sb.values)
            part.update(counts=counts, grid_counts=grid_counts)
        return part

    def _count_categorical(self, ref: _CategoricalRef, values: Any, name: str) -> dict:
        from fastmlops._categories import encode

        enc = encode(values, name)
        c = ref.categories.count(enc)
        # per-value counts of the values the reference never had: the binned test
        # needs them as bins of their own (see _drift_rule.pooled_chi2)
        index = ref.categories._index
        per, _ = enc.value_counts()
        pairs = [(k, u) for u, k in zip(enc.uniques, per) if k and u not in index]
        return {"n_rows": int(len(enc.codes)), "n_missing": int(c.missing),
                "n": int(len(enc.codes) - c.missing), "cat": c,
                "unseen_counts": np.array([k for k, _ in pairs], dtype=np.int64),
                "unseen_keys": _label_hashes([u for _, u in pairs])}

    def _ks_pvalues(self, parts: list[dict], alternative: str,
                    method: str) -> tuple[np.ndarray, np.ndarray]:
        from fastmlops._ks_pvalue import ks_pvalues

        m = len(parts)
        d = np.array([q.get("ks_d", np.nan) for q in parts], dtype=np.float64)
        p = np.full(m, np.nan)
        ok = ~np.isnan(d)
        if ok.any():
            n_ref = np.array([c.n for c in self._cols], dtype=np.int64)
            n_cur = np.array([q.get("n", 0) for q in parts], dtype=np.int64)
            d_ok, p_ok = ks_pvalues(d[ok], n_ref[ok], n_cur[ok], alternative, method)
            d[ok] = d_ok
            p[ok] = p_ok
        return d, p

    def _finish(self, parts: list[dict], n_rows: int) -> DriftReport:
        """Figures, tests and verdicts from the per-column partial results."""
        from fastmlops import divergence

        m = len(self.columns)
        d, p_ks = self._ks_pvalues(parts, "two-sided", "auto")
        f = {k: np.full(m, np.nan) for k in ("psi", "kl", "jsd", "chi2", "p_bin", "loc", "sign")}
        dof = np.zeros(m, dtype=np.int64)
        nan_share = np.zeros(m)
        ref_nan = np.zeros(m)
        n_cur = np.zeros(m, dtype=np.int64)
        n_ref = np.zeros(m, dtype=np.int64)
        unseen: list[dict | None] = [None] * m
        other = [False] * m
        plots: list[dict] = [{}] * m
        for j, (ref, q) in enumerate(zip(self._cols, parts)):
            rows = max(1, q["n_rows"])
            nan_share[j] = q["n_missing"] / rows
            ref_nan[j] = ref.n_missing / self.n_rows
            n_cur[j], n_ref[j] = q["n"], ref.n
            f["loc"][j] = q.get("ks_location", np.nan)
            f["sign"][j] = q.get("ks_sign", np.nan)
            if ref.kind == "numeric":
                rc, cc = ref.counts, q["counts"]
                plots[j] = _numeric_plot(ref, q)
            else:
                c = q["cat"]
                cm = ref.categories
                rc, cc = cm.bins, c.bins  # kept categories, then "other" (unseen values)
                unseen[j] = {"count": int(c.unseen), "share": c.unseen / max(1, q["n"]),
                             "distinct": int(c.unseen_distinct),
                             "examples": [str(x) for x in c.unseen_examples]}
                other[j] = bool(cm.truncated)
                plots[j] = _categorical_plot(cm, c)
            if q["n"] > 0:
                f["psi"][j] = divergence.psi_from_counts(rc, ref.n, cc, q["n"], self.eps)
                f["kl"][j] = divergence.kl_from_counts(rc, ref.n, cc, q["n"], self.eps)
                f["jsd"][j] = divergence.js_from_counts(rc, ref.n, cc, q["n"])
            t1, t2, ties = rc, cc, None
            if ref.kind == "categorical" and not ref.categories.truncated:
                # each unseen value a bin of its own, as in the 2 x k table of all
                # categories (one pooled "unseen" bin that the reference cannot
                # balance flagged 17-24 % of no-drift batches)
                u = q["unseen_counts"]
                t1 = np.concatenate([ref.categories.counts, np.zeros(u.size, np.int64)])
                t2 = np.concatenate([q["cat"].counts, u])
                ties = np.concatenate([ref.label_hashes(), q["unseen_keys"], [-1]])
            elif ref.kind == "categorical":
                ties = np.concatenate([ref.label_hashes(), [-2, -1]])
            test = rule.pooled_chi2(np.append(t1, ref.n_missing), np.append(t2, q["n_missing"]),
                                    by="order" if ref.kind == "numeric" else "total",
                                    tiebreak=ties)
            f["chi2"][j], f["p_bin"][j], dof[j] = test.statistic, test.pvalue, test.dof
        numeric = np.array([k == "numeric" for k in self.kinds])
        p_col = np.where(numeric, np.minimum(1.0, 2 * np.fmin(np.nan_to_num(p_ks, nan=1.0),
                                                              f["p_bin"])), f["p_bin"])
        p_adj = rule.adjust(p_col, self.correction)
        verdicts = [rule.judge(self.kinds[j], p_ks=p_ks[j], p_bin=f["p_bin"][j], p_col=p_col[j],
                               p_adj=p_adj[j], alpha=self.alpha, psi=f["psi"][j],
                               nan_up=nan_share[j] - ref_nan[j], nan_increase=self.nan_increase,
                               n_current=int(n_cur[j]),
                               unseen=unseen[j]["count"] if unseen[j] else 0,
                               unseen_share=unseen[j]["share"] if unseen[j] else 0.0)
                    for j in range(m)]
        tiers = [divergence.psi_verdict(v) if np.isfinite(v) else "n/a" for v in f["psi"]]
        return DriftReport(
            columns=list(self.columns), n_rows=int(n_rows), ks_statistic=d, ks_pvalue=p_ks,
            psi=f["psi"], kl=f["kl"], jsd=f["jsd"], psi_verdict=tiers, nan_share=nan_share,
            reference_nan_share=ref_nan, column_verdict=[v.verdict for v in verdicts],
            alpha=self.alpha, drift_share=self.drift_share, nan_increase=self.nan_increase,
            kinds=list(self.kinds), reference_rows=self.n_rows, n_reference=n_ref,
            n_current=n_cur, ks_location=f["loc"], ks_sign=f["sign"],
            chi2_statistic=f["chi2"], chi2_pvalue=f["p_bin"], chi2_dof=dof, pvalue=p_adj,
            reasons=[v.reasons for v in verdicts], explanations=[v.explanation for v in verdicts],
            unseen=unseen, other=other, plots=plots, correction=self.correction, bins=self.bins,
            eps=self.eps, max_categories=self.max_categories, reference_digest=self._digest)


def _positional(current: Any, names: list[str], categorical: list[str]) -> Any:
    """Columns of an array-like (or a Series / Arrow array: one column),
    matched to the reference's columns by position."""
    from fastmlops._tables import as_columns

    one_column = (hasattr(current, "iloc") and hasattr(current, "dtype")) or (
        hasattr(current, "type") and hasattr(current, "null_count"))
    if one_column:
        n = 1
    else:
        if isinstance(current, (str, bytes)):
            raise TypeError(f"current must be a table or an array, got a "
                            f"{type(current).__name__}")
        try:
            current = current if isinstance(current, np.ndarray) else np.asarray(current)
        except Exception as exc:
            raise TypeError(f"current could not be converted to an array: {exc}") from None
        n = 1 if current.ndim == 1 else current.shape[1] if current.ndim == 2 else None
        if n is None:
            raise ValueError("current must be 1-D (one column) or 2-D (rows x columns); "
                             f"got shape {current.shape}")
    if n != len(names):
        raise ValueError(
            f"current has {n} column(s), the reference {len(names)}; "
            "pass the same columns in the same order")
    return as_columns(current, names, "current", categorical=categorical)


def _numeric_plot(ref: _NumericRef, q: dict) -> dict:
    v = ref.sorted_values
    n, m = ref.n, max(1, q["n"])
    edges = [float(v[0])] + [float(e) for e in ref.edges] + [float(v[-1])]
    ref_cdf = np.searchsorted(v, ref.grid.astype(v.dtype) if v.dtype.kind == "f" else ref.grid,
                              side="left") / n
    cur_cdf = np.cumsum(q["grid_counts"])[:-1] / m
    return {"edges": edges, "reference_counts": [int(c) for c in ref.counts],
            "current_counts": [int(c) for c in q["counts"]],
            "grid": [float(g) for g in ref.grid], "reference_cdf": [float(x) for x in ref_cdf],
            "current_cdf": [float(x) for x in cur_cdf]}


def _categorical_plot(cm: Any, c: Any) -> dict:
    ref_counts = np.asarray(cm.counts, dtype=np.int64)
    cur_counts = np.asarray(c.counts, dtype=np.int64)
    share = np.maximum(ref_counts / max(1, ref_counts.sum() + cm.other),
                       cur_counts / max(1, cur_counts.sum() + c.other + c.unseen))
    top = np.sort(np.argsort(-share, kind="stable")[:_PLOT_CATEGORIES])
    rest = np.setdiff1d(np.arange(ref_counts.size), top)
    return {"categories": [str(cm.categories[i]) for i in top],
            "reference_counts": [int(ref_counts[i]) for i in top],
            "current_counts": [int(cur_counts[i]) for i in top],
            "unseen_count": int(c.unseen),
            "other_count_reference": int(cm.other + ref_counts[rest].sum()),
            "other_count_current": int(c.other + cur_counts[rest].sum())}
