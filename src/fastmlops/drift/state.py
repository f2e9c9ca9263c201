"""The mergeable partial state of a drift check: one mechanism for streamed
batches, files, Dask partitions (and, later, the in-server monitor).

Protocol (``docs/drift-state.md`` tells it for Spark and Ray too):

1. **Count** (pass 1, any number of batches, in any order, on any machine):
   ``state = ref.new_state(); state.update(ref, batch)``.  Per numeric column the
   state holds the batch's counts on the reference's KS buckets (the bucket
   map of the reference's column model, :meth:`fastmlops.drift.columns.NumericColumn.buckets`, 8-32k buckets), the
   counts of the values of the few buckets that may hold a PSI edge or a
   point of the ECDF-picture grid on the bins of those (every other bucket
   lies in one such bin: the PSI and grid counts follow from the bucket
   counts at the end, see :mod:`fastmlops._kernels.ks_bins`), and the missing count; per
   categorical column the counts per reference category, per unseen value,
   and the missing count.  All of these are sums: ``a.merge(b)`` adds them,
   so merging is associative and commutative and a batch counted twice (a
   retried task) is the only way to get a wrong count.
2. **Plan**: ``state.candidates(ref)``: from the reference's and the batch's
   bucket counts, the ECDF difference is exact at every bucket end and
   bounded inside each bucket; only the few buckets whose bound reaches the
   best bucket-end value can hold the KS extremes.  Nothing else is needed
   when no bucket is selected (never, in practice) -- so an exact KS needs
   **two passes** over the current data: the statistic's location lies inside
   a bucket, and which values lie there is known only after every batch has
   been counted.
3. **Gather** (pass 2): ``state.gather(ref, batch)`` keeps the batch's values that
   fall in the selected buckets (typically well under 1 % of them).
4. **Finish**: ``state.finish(ref)`` merges the gathered values with the
   reference's values of the same buckets and gives exactly the report that
   ``ref.check`` gives for all batches concatenated (bit for bit).

Categorical columns, PSI, KL, JSD and the missing share need pass 1 only.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Hashable

import numpy as np

from fastmlops._core.validation import kernel_dtype, reject_long_double
from fastmlops.drift.categories import CategoryCounts
from fastmlops.drift.columns import BucketSpec, CategoricalColumn, NumericColumn, label_hashes
from fastmlops.drift.counts import CategoricalCounts, ColumnCounts, NumericCounts, ValueSummary
from fastmlops.drift.judge import judge
from fastmlops.drift.report import DriftReport

if TYPE_CHECKING:
    from fastmlops.drift._reference import DriftReference
    from fastmlops.drift._tables import ColumnValues

__all__ = ["DriftState"]

#: Buckets used when the reference has no bucket map (fewer than 16 distinct
#: finite values, or a constant): one bucket holding everything.
_ONE_BUCKET = (0.0, 0.0, 0.0)


def _bucket_spec(ref_col: NumericColumn) -> tuple[BucketSpec, np.ndarray]:
    """(lo, scale, top) of a numeric reference column and its counts per bucket."""
    bm = ref_col.buckets()
    if bm is None:
        return _ONE_BUCKET, np.array([ref_col.n], dtype=np.int64)
    return (bm.lo, bm.scale, bm.top), bm.counts


class _NumericPart:
    __slots__ = ("buckets", "split", "n_rows", "n_missing", "dtype", "gathered", "summary")

    def __init__(self, nb: int, k: int) -> None:
        self.buckets = np.zeros(nb, dtype=np.int64)
        self.split = np.zeros(k, dtype=np.int64)  # split buckets' values per union bin
        self.n_rows = 0
        self.n_missing = 0
        self.dtype: np.dtype | None = None
        self.gathered: list[np.ndarray] = []
        self.summary: ValueSummary | None = None  # exact sum and range

    def merge(self, o: "_NumericPart") -> None:
        mine, theirs = getattr(self, "summary", None), getattr(o, "summary", None)
        self.summary = theirs if mine is None else mine if theirs is None else mine.merge(theirs)
        self.buckets += o.buckets
        self.split += o.split
        self.n_rows += o.n_rows
        self.n_missing += o.n_missing
        if o.dtype is not None:
            self.dtype = o.dtype if self.dtype is None else np.promote_types(self.dtype, o.dtype)
        self.gathered.extend(o.gathered)


class _CategoricalPart:
    __slots__ = ("counts", "unseen", "n_rows", "n_missing")

    def __init__(self) -> None:
        self.counts: CategoryCounts | None = None
        self.unseen: dict[Hashable, int] = {}  # unseen value -> rows, for the binned test
        self.n_rows = 0
        self.n_missing = 0

    def merge(self, o: "_CategoricalPart") -> None:
        if o.counts is not None:
            self.counts = o.counts if self.counts is None else self.counts.merge(o.counts)
        for k, v in o.unseen.items():
            self.unseen[k] = self.unseen.get(k, 0) + v
        self.n_rows += o.n_rows
        self.n_missing += o.n_missing


class DriftState:
    """The partial state of a check against a :class:`~fastmlops.DriftReference`
    (see the module docstring for the protocol).  Make one with
    :meth:`DriftReference.new_state`; it pickles (for Dask, Spark, Ray) and
    holds only counts and gathered values, never the reference."""

    def __init__(self, ref: DriftReference) -> None:
        self.columns = list(ref.columns)
        self.kinds = list(ref.kinds)
        self.n_rows = 0
        self.n_batches = 0
        self._parts: list[_NumericPart | _CategoricalPart] = []
        for col in ref.column_models:
            if isinstance(col, NumericColumn):
                spec, _ = _bucket_spec(col)
                self._parts.append(_NumericPart(int(spec[2]) + 1,
                                                col.union_bins()[0].size + 1))
            else:
                self._parts.append(_CategoricalPart())
        self._selected: list[np.ndarray | None] | None = None
        #: reference columns some batch lacked (counted as missing values)
        self.absent: list[str] = []

    # ------------------------------------------------------------ pass 1
    def update(self, ref: DriftReference, batch: Any) -> "DriftState":
        """Count one batch (pass 1)."""
        from fastmlops._core.parallel import parallel_map

        if self._selected is not None:
            raise RuntimeError("this state is gathering (pass 2): count batches before "
                               "calling candidates()")
        cols = ref.current_columns(batch, allow_empty=True, allow_absent=True)
        if cols.absent:  # reference columns this batch lacks: all missing, and listed
            gone = {*getattr(self, "absent", []), *cols.absent}
            self.absent = [c for c in self.columns if c in gone]  # the reference's order

        def work(block: tuple[int, int]) -> None:
            for j, values in zip(range(*block), cols.block(*block)):
                col, part = ref.column_models[j], self._parts[j]
                if isinstance(col, NumericColumn) and isinstance(part, _NumericPart):
                    self._count_numeric(col, part, values, self.columns[j])
                elif isinstance(col, CategoricalColumn) and isinstance(part, _CategoricalPart):
                    self._count_categorical(col, part, values, self.columns[j])
                else:  # pragma: no cover - a state of another reference
                    raise ValueError("this state was made by another reference")

        parallel_map(work, cols.blocks())
        self.n_rows += cols.n_rows
        self.n_batches += 1
        return self

    @staticmethod
    def _count_numeric(ref_col: NumericColumn, part: _NumericPart, values: np.ndarray, name: str) -> None:
        reject_long_double(values, f"current column {name!r}")
        dtype = kernel_dtype(ref_col.sorted_values, values)
        values = np.ascontiguousarray(values, dtype=dtype)
        from fastmlops._kernels.ks_bins import bucket_split_counts
        from fastmlops.drift._ks_engine import arena

        spec, _ = _bucket_spec(ref_col)
        ids = arena("state_ids", values.size, np.uint16)  # reused: no fresh pages per batch
        split, _ = ref_col.split_table(spec)
        nan = int(bucket_split_counts(values, *spec, part.buckets, ids, split,
                                      ref_col.union_bins()[0], part.split))
        part.n_rows += values.size
        part.n_missing += nan
        from fastmlops.drift._effects import summarize

        got, mine = summarize(values), getattr(part, "summary", None)
        part.summary = got if mine is None else mine.merge(got)
        if values.size:
            part.dtype = dtype if part.dtype is None else np.promote_types(part.dtype, dtype)

    @staticmethod
    def _count_categorical(ref_col: CategoricalColumn, part: _CategoricalPart,
                           values: ColumnValues, name: str) -> None:
        from fastmlops.drift.categories import encode

        enc = encode(values, name)
        c = ref_col.categories.count(enc)
        part.counts = c if part.counts is None else part.counts.merge(c)
        per, _ = enc.value_counts()
        for u, k in zip(enc.uniques, per):
            if k and not ref_col.categories.has(u):
                part.unseen[u] = part.unseen.get(u, 0) + int(k)
        part.n_rows += len(enc)
        part.n_missing += c.missing

    def merge(self, other: "DriftState") -> "DriftState":
        """Add ``other``'s counts (and gathered values) to this state; returns self."""
        if other.columns != self.columns or other.kinds != self.kinds:
            raise ValueError("cannot merge states of different references")
        if (self._selected is None) != (other._selected is None):
            raise ValueError("cannot merge a counting state with a gathering one")
        for a, b in zip(self._parts, other._parts):
            a.merge(b)  # type: ignore[arg-type]  # same kinds, checked above
        self.n_rows += other.n_rows
        self.n_batches += other.n_batches
        gone = {*getattr(self, "absent", []), *getattr(other, "absent", [])}
        self.absent = [c for c in self.columns if c in gone]
        return self

    # ------------------------------------------------------------ plan, pass 2
    def candidates(self, ref: DriftReference) -> "DriftState":
        """Select the KS buckets that pass 2 must gather (see the module
        docstring); returns self, now gathering."""
        from fastmlops._kernels import ks as _k

        selected: list[np.ndarray | None] = []
        for col, part in zip(ref.column_models, self._parts):
            if not isinstance(col, NumericColumn) or not isinstance(part, _NumericPart):
                selected.append(None)
                continue
            _, ca = _bucket_spec(col)
            n2 = part.n_rows - part.n_missing
            nb = ca.size
            sel = np.zeros(nb, dtype=np.uint8)
            if n2 > 0:
                work = np.empty((3, nb), dtype=np.int64)
                _k.select_buckets(np.ascontiguousarray(ca, dtype=np.int64), part.buckets,
                                  col.n, n2, sel, work[0], work[1], work[2])
            selected.append(sel)
            part.gathered = []
        self._selected = selected
        return self

    def gather(self, ref: DriftReference, batch: Any) -> "DriftState":
        """Keep the batch's values in the selected buckets (pass 2)."""
        from fastmlops._kernels.ks_bins import gather_mapped
        from fastmlops.drift._ks_engine import arena
        from fastmlops._core.parallel import parallel_map

        if self._selected is None:
            raise RuntimeError("call candidates() after counting every batch, then gather")
        cols = ref.current_columns(batch, allow_empty=True, numeric_only=True,
                                   allow_absent=True)
        numeric = [j for j, k in enumerate(self.kinds) if k == "numeric"]

        def work(block: tuple[int, int]) -> None:
            for i, values in zip(range(*block), cols.block(*block)):
                j = numeric[i]
                sel = self._selected[j] if self._selected is not None else None
                col, part = ref.column_models[j], self._parts[j]
                if sel is None or not isinstance(col, NumericColumn) or \
                        not isinstance(part, _NumericPart):
                    continue
                values = np.ascontiguousarray(values, dtype=kernel_dtype(col.sorted_values,
                                                                         values))
                spec, _ = _bucket_spec(col)
                if sel.size <= int(spec[2]):  # pragma: no cover - a plan of another reference
                    raise ValueError("the gathering plan does not fit this reference")
                out = arena("state_gather", values.size, values.dtype)  # reused scratch
                got = gather_mapped(values, *spec, sel, out)
                if got < 0:  # pragma: no cover - sized to the batch above
                    raise RuntimeError("fastmlops: KS gather overflow")
                part.gathered.append(out[:got].copy())

        parallel_map(work, cols.blocks())
        return self

    def plan(self) -> list[np.ndarray | None]:
        """The selected buckets per column (after :meth:`candidates`): all a
        worker needs, with the reference, to run pass 2 on its partition."""
        if self._selected is None:
            raise RuntimeError("call candidates() first")
        return self._selected

    @classmethod
    def from_plan(cls, ref: DriftReference, plan: list[np.ndarray | None]) -> "DriftState":
        """An empty gathering state for pass 2 on a worker."""
        state = cls(ref)
        state._selected = plan
        return state

    def gathered_values(self) -> list[np.ndarray | None]:
        """The values gathered so far, one array (or None) per column: what a
        worker sends back after pass 2."""
        return [np.concatenate(p.gathered) if isinstance(p, _NumericPart) and p.gathered
                else None for p in self._parts]

    def add_gathered(self, values: list[np.ndarray | None]) -> "DriftState":
        """Add a worker's :meth:`gathered_values` to this (merged) state."""
        for part, v in zip(self._parts, values):
            if v is not None and isinstance(part, _NumericPart):
                part.gathered.append(v)
        return self

    @property
    def needs_second_pass(self) -> bool:
        """True while numeric columns still need pass 2 (see the module docstring)."""
        return self._selected is None and "numeric" in self.kinds

    # ------------------------------------------------------------ finish
    def finish(self, ref: DriftReference) -> DriftReport:
        """The :class:`~fastmlops.DriftReport` of every batch counted (and gathered)."""
        if self.needs_second_pass:
            raise RuntimeError("numeric columns need the second pass: call candidates(), "
                               "gather() every batch again, then finish()")
        if self.n_rows == 0:
            raise ValueError("current has no rows")
        counts: list[ColumnCounts] = []
        for j, (col, part) in enumerate(zip(ref.column_models, self._parts)):
            if isinstance(col, CategoricalColumn) and isinstance(part, _CategoricalPart):
                counts.append(self._categorical_counts(part))
            elif isinstance(col, NumericColumn) and isinstance(part, _NumericPart):
                sel = self._selected[j] if self._selected is not None else None
                counts.append(self._numeric_counts(col, part, sel))
            else:  # pragma: no cover - a state of another reference
                raise ValueError("this state was made by another reference")
        return judge(ref.column_models, counts, self.n_rows, ref.settings(),
                     absent=getattr(self, "absent", []))

    @staticmethod
    def _categorical_counts(part: _CategoricalPart) -> CategoricalCounts:
        # merged per-batch distinct counts are an upper bound; the state knows
        # every unseen value, so the count is exact
        c = dataclasses.replace(part.counts, unseen_distinct=len(part.unseen)) \
            if part.counts is not None else None
        items = list(part.unseen.items())
        return CategoricalCounts(n_rows=part.n_rows, n_missing=part.n_missing,
                                 n=part.n_rows - part.n_missing, categories=c,
                                 unseen_counts=np.array([v for _, v in items], dtype=np.int64),
                                 unseen_keys=label_hashes([k for k, _ in items]))

    @staticmethod
    def _numeric_counts(col: NumericColumn, part: _NumericPart,
                        sel: np.ndarray | None) -> NumericCounts:
        from fastmlops._kernels import ks as _k
        from fastmlops.drift._count import ks_figures

        n2 = part.n_rows - part.n_missing
        spec, _ = _bucket_spec(col)
        bins, grid = col.bins_from_buckets(spec, part.buckets, part.split)
        q = NumericCounts(n_rows=part.n_rows, n_missing=part.n_missing, n=n2, bins=bins,
                          grid=grid, summary=getattr(part, "summary", None))
        if n2 <= 0:
            return q
        dtype = np.promote_types(part.dtype, col.sorted_values.dtype) \
            if part.dtype is not None else col.sorted_values.dtype
        dtype = kernel_dtype(np.empty(0, dtype))
        _, ca = _bucket_spec(col)
        ca = np.ascontiguousarray(ca, dtype=np.int64)
        nb = ca.size
        work = np.empty((3, nb), dtype=np.int64)
        sel2 = np.zeros(nb, dtype=np.uint8)
        m = _k.select_buckets(ca, part.buckets, col.n, n2, sel2, work[0], work[1], work[2])
        idx, below_a, below_b = work[0][:m], work[1][:m].copy(), work[2][:m].copy()
        ca_sel = np.ascontiguousarray(ca[idx])
        cb_sel = np.ascontiguousarray(part.buckets[idx])
        ga = np.concatenate([col.sorted_values[below_a[t]:below_a[t] + ca_sel[t]]
                             for t in range(m)]) if m else col.sorted_values[:0]
        gb = np.concatenate(part.gathered) if part.gathered else np.empty(0, dtype)
        gb = np.sort(gb.astype(dtype, copy=False))
        ga = np.ascontiguousarray(ga, dtype=dtype)
        if gb.size != int(cb_sel.sum()) or ga.size != int(ca_sel.sum()) or sel is None or \
                not np.array_equal(sel, sel2):  # pragma: no cover - protocol misuse
            raise RuntimeError("fastmlops: the second pass did not see the same data "
                               "as the first (batches changed between passes?)")
        st = np.array([-np.inf, -np.inf, np.inf, np.inf])
        locs = np.zeros(4, dtype=dtype)
        _k.refine_merge(ga, ca_sel, gb, cb_sel, below_a, below_b, col.n, n2, st, locs)
        q.ks = ks_figures(st, locs, "two-sided")
        return q
