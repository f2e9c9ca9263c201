"""The KS statistic of one pair of 1-D samples, from validated contiguous arrays.

:func:`ks_statistic` decides between a plain sort-merge (small samples) and
bucket refinement (large samples; see :mod:`fastmlops._kernels.ks`), and
returns the raw extremes from which :mod:`fastmlops.drift` builds scipy's
``statistic``, ``statistic_location`` and ``statistic_sign``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Sequence, cast

import numpy as np
from numpy.typing import DTypeLike

from fastmlops._kernels import ks as _k
from fastmlops._core.parallel import chunk_bounds, n_workers, parallel_map

#: Below this many elements in both samples together, sort and merge.
SORT_MERGE_BELOW = 4096
#: Refinement may touch at most this share of the elements before we fall back.
_MAX_REFINE_SHARE = 0.25
#: Samples at least this large get their per-sample passes run on two threads.
_PARALLEL_ABOVE = 200_000
#: Values sampled from each sample to place the bucket range.
_RANGE_SAMPLE = 1024


@dataclass
class Sample:
    """One 1-D sample for the KS kernels: contiguous values of a kernel dtype
    (float64, float32, int64, uint64), and whether they are sorted (NaNs last).
    ``nan`` is the NaN count once known (``None`` before)."""

    values: np.ndarray
    is_sorted: bool = False
    nan: int | None = None
    #: Precomputed for a stored reference: its bucket map and counts.
    buckets: "BucketMap | None" = None
    #: For a stored reference with ``buckets``: ``(split, edges)`` of its map
    #: (see :mod:`fastmlops._kernels.ks_bins`); the sample compared with it
    #: then gets ``bin_counts``.
    split: tuple[np.ndarray, np.ndarray] | None = None
    #: Set by the engine on the sample compared with a reference that has
    #: ``split``: (its non-NaN counts per bucket, the counts of its split
    #: buckets' values per bin of ``edges``); None when its buckets were not counted.
    bin_counts: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n(self) -> int:
        assert self.nan is not None
        return self.values.size - self.nan

    @property
    def n_missing(self) -> int:
        """The NaN count (known once the sample has been through the engine)."""
        assert self.nan is not None
        return self.nan


@dataclass(frozen=True)
class BucketMap:
    """A monotone value -> bucket map (see ``_kernels.ks.bucket_chunk``) and, for
    the sample it was made for, that sample's counts per bucket."""

    lo: float
    scale: float
    top: float
    counts: np.ndarray

    @property
    def nb(self) -> int:
        return self.counts.size


def bucket_map(lo: float, hi: float, total: int) -> tuple[float, float, float] | None:
    """(lo, scale, top) for about 8 elements per bucket over [lo, hi], or None
    when the range is degenerate."""
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        return None
    # 16,384 buckets up to ~1e6 values in all; 32,768 above (measured at n=m=1e6:
    # ~12 % faster, fewer values left to refine; at 100 x 1e5 columns no gain)
    inner = 1 << min(15 if total >= 1 << 20 else 14, max(8, total.bit_length() - 3))
    scale = inner / (hi - lo)
    if not np.isfinite(scale):
        return None
    return lo, scale, float(inner + 1)


def reference_buckets(sorted_values: np.ndarray) -> BucketMap | None:
    """The bucket map of a sorted, NaN-free reference, ranged on its own 0.2 %
    and 99.8 % quantiles and sized for a batch as large as itself."""
    n = sorted_values.size
    # the range comes from the finite values; -inf/+inf land in the end buckets
    first = int(np.searchsorted(sorted_values, -np.inf, side="right")) \
        if sorted_values.dtype.kind == "f" else 0
    last = int(np.searchsorted(sorted_values, np.inf, side="left")) \
        if sorted_values.dtype.kind == "f" else n
    finite = sorted_values[first:last]
    if finite.size < 16:
        return None
    cut = max(1, finite.size // 500)
    spec = bucket_map(float(finite[cut]), float(finite[-cut - 1]), 2 * n)
    if spec is None:
        return None
    lo, scale, top = spec
    counts = np.zeros(int(top) + 1, dtype=np.int64)
    _k.sorted_bucket_counts(sorted_values, lo, scale, top, counts)
    return BucketMap(lo, scale, top, counts)


def count_nan(values: np.ndarray) -> int:
    if values.dtype.kind != "f":
        return 0
    return int(np.count_nonzero(np.isnan(values)))


def _strided_sample(values: np.ndarray) -> np.ndarray:
    step = max(1, values.size // _RANGE_SAMPLE)
    return values[::step].astype(np.float64)


def _sorted_non_nan(s: Sample) -> np.ndarray:
    if s.nan is None:
        s.nan = count_nan(s.values)
    if s.is_sorted:
        return s.values[: s.n]
    out = np.sort(s.values)  # NaNs sort last
    return out[: s.n] if s.nan else out


def ks_statistic(sa: Sample, sb: Sample) -> tuple[np.ndarray, np.ndarray] | None:
    """Return ``(st, locs)`` for two samples of the same dtype, NaNs omitted.

    ``st = [max over a, max over b, min over a, min over b]`` of ``i/n1 - j/n2``
    and ``locs`` the first values reaching them (see :mod:`fastmlops._kernels.ks`).
    Fills in ``sa.nan``/``sb.nan``.  Returns None when a sample has no non-NaN
    value (nothing to compare).
    """
    st = np.array([-np.inf, -np.inf, np.inf, np.inf])
    locs = np.zeros(4, dtype=sa.values.dtype)
    total = sa.values.size + sb.values.size
    if total >= SORT_MERGE_BELOW and _bucketed(sa, sb, st, locs):
        return st, locs
    if total >= _PARALLEL_ABOVE:
        a, b = parallel_map(_sorted_non_nan, (sa, sb))
    else:
        a, b = _sorted_non_nan(sa), _sorted_non_nan(sb)
    if a.size == 0 or b.size == 0:
        return None
    st[:] = (-np.inf, -np.inf, np.inf, np.inf)
    _k.merge_sorted(a, b, st, locs)
    return st, locs


def _bucketed(sa: Sample, sb: Sample, st: np.ndarray, locs: np.ndarray) -> bool:
    """Bucket refinement.  Returns False (st/locs untouched) when a full sort is
    the better plan: too much of the data would need refining, or the range
    is degenerate.

    A stored reference (``sa.buckets``) is tried with its own precomputed map
    first, so only the batch is counted; if the batch lies too far outside the
    reference's range for that to work, both are bucketed afresh.
    """
    if sa.buckets is not None and _refine(sa, sb, sa.buckets, st, locs):
        return True
    spec = _column_map(sa, sb.values, sa.values.size + sb.values.size)
    if spec is None:
        return False
    return _refine(sa, sb, BucketMap(*spec, counts=np.empty(0, np.int64)), st, locs,
                   count_a=True)


def _refine(sa: Sample, sb: Sample, bmap: BucketMap, st: np.ndarray, locs: np.ndarray,
            count_a: bool = False) -> bool:
    lo, scale, top = bmap.lo, bmap.scale, bmap.top
    nb = int(top) + 1
    total = sa.values.size + sb.values.size
    # Tasks: pieces of each unsorted sample (so both threads stay busy even when
    # one sample is much larger), one run-length pass per sorted sample.
    pieces = _n_pieces(total)
    samples = (sa, sb)
    tasks = []
    for which, s in enumerate(samples):
        if which == 0 and not count_a:
            continue
        n = s.values.size
        if s.is_sorted:
            tasks.append((which, 0, n))
        else:
            tasks.extend((which, lo_, hi_) for lo_, hi_ in chunk_bounds(n, pieces, 65536))

    # Scratch memory comes from this thread's arena: fresh allocations of this
    # size are page-faulted in on every call (about 600 faults per 1e6 x 1e6 test).
    ids_all = arena("ids", total, np.uint16)
    offsets = {}
    at = 0
    for task in tasks:
        offsets[task] = at
        at += task[2] - task[1]
    # Rows are zeroed by the task that uses them (in parallel), and only those.
    table = arena("counts", (len(tasks) + 2) * nb, np.int64).reshape(len(tasks) + 2, nb)
    table[-2:] = 0
    # Unsorted pieces count into int32 rows (a smaller table for the scattered
    # increments); a piece is far below 2**31 values in practice, else int64.
    table32 = arena("counts32", len(tasks) * nb, np.int32).reshape(len(tasks), nb)
    slot = {task: k for k, task in enumerate(tasks)}
    nans: dict[tuple[int, int, int], int] = {}
    # the current's counts on the reference's PSI/grid edges come almost free
    # from its bucket counts: only the values of split buckets are searched
    split = sa.split if not count_a else None
    splits: dict[tuple[int, int, int], np.ndarray] = {}

    def ids_of(task: tuple[int, int, int]) -> np.ndarray:
        return ids_all[offsets[task]:offsets[task] + task[2] - task[1]]

    def count(task: tuple[int, int, int]) -> tuple[int, np.ndarray, int]:
        which, start, stop = task
        s = samples[which]
        if s.is_sorted:
            counts = table[slot[task]]
            counts[:] = 0
            nan = _k.sorted_bucket_counts(s.values, lo, scale, top, counts)
        else:
            counts = table32[slot[task]] if stop - start < 2**31 else table[slot[task]]
            counts[:] = 0
            if split is not None and which == 1 and split[0].size >= nb:
                from fastmlops._kernels.ks_bins import bucket_split_counts

                sc = splits[task] = np.zeros(split[1].size + 1, dtype=np.int64)
                nan = bucket_split_counts(s.values[start:stop], lo, scale, top, counts,
                                          ids_of(task), split[0], split[1], sc)
            else:
                nan = _k.bucket_counts(s.values[start:stop], lo, scale, top, counts,
                                       ids_of(task))
        nans[task] = int(nan)
        return which, counts, int(nan)

    if count_a:
        ca = table[-2]
        sa.nan = 0
    else:
        ca = bmap.counts
    cb = table[-1]
    sb.nan = 0
    for which, counts, nan in _map(count, tasks, total):
        _k.add_counts(ca if which == 0 else cb, counts)
        samples[which].nan += nan
    if split is not None and splits:
        sb.bin_counts = (cb.copy(), cast(np.ndarray, sum(splits.values())))
    n1, n2 = sa.n, sb.n
    if n1 == 0 or n2 == 0:
        return False
    sel = _select(ca, cb, n1, n2)
    if sel is None:
        return False
    selected, m, ca_sel, cb_sel, below_a, below_b = sel
    want = (int(ca_sel.sum()), int(cb_sel.sum()))

    def collect(task: tuple[int, int, int]) -> tuple[int, np.ndarray]:
        which, start, stop = task
        s = samples[which]
        if s.is_sorted:  # the selected buckets are slices of the sorted values
            return which, _sorted_slices(s.values, sel, which)
        values = s.values[start:stop]
        room = min(values.size, want[which])
        out = np.empty(room, dtype=values.dtype)
        # NaNs sit in bucket 0, which may be selected: room for their positions too.
        pos = np.empty(min(values.size, room + nans.get(task, values.size)), dtype=np.int64)
        got = _k.gather(values, ids_of(task), selected, pos, out)
        if got < 0:  # pragma: no cover - kernel bug
            raise RuntimeError("fastmlops: KS bucket gather overflow")
        return which, out[:got]

    gather_tasks = list(tasks) if count_a else [(0, 0, sa.values.size)] + tasks
    gathered: list[list[np.ndarray]] = [[], []]
    for which, part in _map(collect, gather_tasks, total):
        gathered[which].append(part)

    def finish(which: int) -> np.ndarray:
        parts = gathered[which]
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        if not samples[which].is_sorted:
            out = np.sort(out)
        return out

    _merge_selected(finish(0), finish(1), sel, n1, n2, st, locs)
    return True


def _select(ca: np.ndarray, cb: np.ndarray, n1: int, n2: int) -> tuple | None:
    """The buckets that may hold an extreme (see ``_k.select_buckets``):
    ``(selected, m, ca_sel, cb_sel, below_a, below_b)``, or None when they
    hold more than ``_MAX_REFINE_SHARE`` of the values (sorting is then the
    better plan).  ``selected`` is this thread's scratch: valid until its
    next call here."""
    nb = ca.size
    work = arena("select", 3 * nb, np.int64).reshape(3, nb)
    sel_idx, below_a, below_b = work[0], work[1], work[2]
    selected = arena("selected", nb, np.uint8)
    m = _k.select_buckets(ca, cb, n1, n2, selected, sel_idx, below_a, below_b)
    idx = sel_idx[:m]
    ca_sel = np.ascontiguousarray(ca[idx])
    cb_sel = np.ascontiguousarray(cb[idx])
    if int(ca_sel.sum()) + int(cb_sel.sum()) > _MAX_REFINE_SHARE * (n1 + n2):
        return None
    return selected, m, ca_sel, cb_sel, below_a[:m].copy(), below_b[:m].copy()


def _merge_selected(ga: np.ndarray, gb: np.ndarray, sel: tuple, n1: int, n2: int,
                    st: np.ndarray, locs: np.ndarray) -> None:
    """Merge the sorted values gathered from the selected buckets into st/locs."""
    _, m, ca_sel, cb_sel, below_a, below_b = sel
    if ga.size != int(ca_sel.sum()) or gb.size != int(cb_sel.sum()):  # pragma: no cover
        raise RuntimeError("fastmlops: KS bucket gather count mismatch")
    _k.refine_merge(ga, ca_sel, gb, cb_sel, below_a, below_b, n1, n2, st, locs)


def _sorted_slices(values: np.ndarray, sel: tuple, which: int) -> np.ndarray:
    """The selected buckets of a sorted sample (``which``: 0 for a, 1 for b):
    consecutive slices of it."""
    _, m, ca_sel, cb_sel, below_a, below_b = sel
    below, c = (below_a, ca_sel) if which == 0 else (below_b, cb_sel)
    parts = [values[below[t]:below[t] + c[t]] for t in range(m)]
    return np.concatenate(parts) if parts else values[:0]


def _column_map(a: np.ndarray | Sample, b: np.ndarray, total: int) -> tuple[float, float, float] | None:
    """A fresh bucket map for one test, placed on values sampled from both sides."""
    va = a.values if isinstance(a, Sample) else a
    sample = np.sort(np.concatenate((_strided_sample(va), _strided_sample(b))))
    sample = sample[np.isfinite(sample)]  # +-inf land in the end buckets anyway
    if sample.size < 16:
        return None
    cut = max(1, sample.size // 500)
    return bucket_map(float(sample[cut]), float(sample[-cut - 1]), total)


def _count_rows(table: np.ndarray, j0: int, maps: list, name: str,
                splits: list | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Run ``rows_bucket_counts`` over columns ``j0 .. j0 + len(maps) - 1``
    (a map of None is counted into a dummy bucket and ignored by the caller).
    Returns (ids, counts, nans, split counts), ids and counts in this thread's
    scratch; ``splits[k]``: a ``(split, edges)`` of map ``k`` whose split
    buckets' values are also counted on ``edges`` (the split counts of column
    ``k`` are then row ``k`` of the fourth result, else it is None)."""
    w = len(maps)
    use = np.zeros(w, np.uint8)
    if splits is not None and any(sp is not None for sp in splits):
        nb_s = max(sp[0].size for sp in splits if sp is not None)
        split = np.zeros((w, nb_s), np.uint8)
        edges_list = []
        edge_at = np.zeros(w + 1, np.int64)
        for k, sp in enumerate(splits):
            if sp is not None and maps[k] is not None and sp[0].size == int(maps[k][2]) + 1:
                use[k] = 1
                split[k, :sp[0].size] = sp[0]
                edges_list.append(sp[1])
            edge_at[k + 1] = edge_at[k] + (sp[1].size if use[k] else 0)
        edges = np.ascontiguousarray(np.concatenate(edges_list) if edges_list
                                     else np.zeros(0), dtype=np.float64)
        scounts = np.zeros((w, int(np.diff(edge_at).max()) + 1), np.int64)
    else:
        split, edges, edge_at = np.zeros((1, 1), np.uint8), np.zeros(0), np.zeros(w + 1, np.int64)
        scounts = np.zeros((1, 1), np.int64)
    los = np.zeros(w)
    scales = np.zeros(w)
    tops = np.zeros(w)
    for k, spec in enumerate(maps):
        if spec is not None:
            los[k], scales[k], tops[k] = spec
    nb = int(tops.max()) + 1
    n = table.shape[0]
    # chunks of rows on the threads, each reading whole rows once (splitting by
    # columns made each thread pull most of every row's cache lines); the
    # scratch is this (calling) thread's, written by the tasks at disjoint places
    bounds = chunk_bounds(n, _n_pieces(n * w), 4096)
    p = len(bounds)
    ids = arena(name + "_ids", w * n, np.uint16).reshape(w, n)
    counts = arena(name + "_counts", p * w * nb, np.int64).reshape(p, w, nb)
    nans = np.zeros((p, w), np.int64)
    scounts = np.zeros((p,) + scounts.shape, np.int64)

    def count(c: int) -> int:
        counts[c] = 0
        return _k.rows_bucket_counts(table, bounds[c][0], bounds[c][1], j0, los, scales, tops,
                                     ids, counts[c], nans[c], use, split, edges, edge_at,
                                     scounts[c])

    if min(_map(count, range(p), n * w)) < 0:
        raise RuntimeError("fastmlops: KS row counting got inconsistent shapes")  # pragma: no cover
    for c in range(1, p):
        counts[0] += counts[c]
        scounts[0] += scounts[c]
    return ids, counts[0], nans.sum(axis=0), (scounts[0] if use.any() else None), edge_at


#: Columns counted together from the rows of a table (bounds the row tile
#: and the bucket ids, ``columns x rows x 2`` bytes of scratch).
_ROW_GROUP = 64
_ROW_IDS_BYTES = 48 << 20


def ks_table_block(a: np.ndarray | Sequence[Sample], b: np.ndarray, j0: int,
                   j1: int, bins: list | None = None,
                   ) -> list[tuple[tuple[np.ndarray, np.ndarray] | None, int, int]]:
    """KS statistics of columns ``j0 .. j1 - 1`` of the table ``b``, read in place.

    ``b`` is a 2-D array of a kernel dtype with the samples down its columns
    (rows x columns), any strides; it is read row by row, so a row-major table
    is never copied column by column.  ``a`` is either another such table of the
    same dtype (its same columns are the other samples) or a list of
    ``j1 - j0`` :class:`Sample` (e.g. sorted stored references with their
    ``buckets``, whose counts are then reused).  NaNs are omitted.

    Returns one ``(result, nan_a, nan_b)`` per column, ``result`` as from
    :func:`ks_statistic` (None when a side has no non-NaN value).  Columns whose
    values are too concentrated for bucket refinement are copied out and
    sorted, as :func:`ks_statistic` does.

    The rows are counted in chunks on the thread pool, then the columns are
    refined on it: call this from the thread that owns the data with all the
    columns at once (from inside a pool task it runs on one thread).

    ``bins``: a list of ``j1 - j0`` slots; for every sample of ``a`` with a
    ``split`` whose column was bucketed, slot ``k`` gets the ``bin_counts``
    that :func:`ks_statistic` would set on the column's :class:`Sample`.
    """
    w = j1 - j0
    table_a = cast(np.ndarray, a)  # read only when is_table
    samples = cast(Sequence[Sample], a)  # read only when not is_table
    if not (0 <= j0 <= j1 <= b.shape[1]) or b.ndim != 2:
        raise ValueError(f"columns {j0}..{j1} out of range for a table of shape {b.shape}")
    is_table = isinstance(a, np.ndarray)
    if is_table and (table_a.ndim != 2 or table_a.shape[1] != b.shape[1] or table_a.dtype != b.dtype):
        raise ValueError("a and b must be tables with the same columns and dtype; got "
                         f"{table_a.shape} {table_a.dtype} and {b.shape} {b.dtype}")
    if not is_table and len(a) != w:
        raise ValueError(f"need {w} samples for columns {j0}..{j1}, got {len(a)}")
    group = max(1, min(_ROW_GROUP, _ROW_IDS_BYTES // (2 * max(b.shape[0],
                                                           table_a.shape[0] if is_table else 0, 1))))
    if w > group:  # columns in groups: the bucket ids of a group fit the scratch
        res: list = []
        for g0 in range(0, w, group):
            g1 = min(w, g0 + group)
            sub_bins: list | None = None if bins is None else [None] * (g1 - g0)
            res.extend(ks_table_block(table_a if is_table else samples[g0:g1], b, j0 + g0, j0 + g1,
                                      sub_bins))
            if bins is not None and sub_bins is not None:
                bins[g0:g1] = sub_bins
        return res
    n_b = b.shape[0]
    out: list = [None] * w

    def fallback(k: int) -> None:
        if is_table:
            sa = Sample(np.ascontiguousarray(table_a[:, j0 + k]))
        else:  # without its stored buckets: those are what failed
            ref = samples[k]
            sa = Sample(ref.values, is_sorted=ref.is_sorted, nan=ref.nan)
        sb = Sample(np.ascontiguousarray(b[:, j0 + k]))
        res = ks_statistic(sa, sb)
        out[k] = (res, int(sa.nan or 0), int(sb.nan or 0))

    if is_table:
        n_a = table_a.shape[0]
        if n_a + n_b < SORT_MERGE_BELOW:
            for k in range(w):
                fallback(k)
            return out
        maps = [_column_map(table_a[:, j0 + k], b[:, j0 + k], n_a + n_b) for k in range(w)]
    else:
        maps = [(s.buckets.lo, s.buckets.scale, s.buckets.top) if s.buckets is not None
                else None for s in samples]
    if all(spec is None for spec in maps):
        for k in range(w):
            fallback(k)
        return out
    splits = [s.split for s in samples] if bins is not None and not is_table else None
    ids_b, counts_b, nans_b, scounts, edge_at = _count_rows(b, j0, maps, "rows_b", splits)
    if scounts is not None:
        for k, spec in enumerate(maps):
            ne = int(edge_at[k + 1] - edge_at[k])
            sp = samples[k].split
            if bins is None or spec is None or sp is None or ne != sp[1].size:
                continue
            nb = int(spec[2]) + 1
            bins[k] = (counts_b[k, :nb].copy(), scounts[k, :ne + 1].copy())
    if is_table:
        ids_a, counts_a, nans_a, _, _ = _count_rows(table_a, j0, maps, "rows_a")
    def refine(k: int) -> None:
        spec = maps[k]
        if spec is None:
            fallback(k)
            return
        nb = int(spec[2]) + 1
        cb = counts_b[k, :nb]
        nan_b = int(nans_b[k])
        if is_table:
            ca, nan_a, n1 = counts_a[k, :nb], int(nans_a[k]), n_a - int(nans_a[k])
        else:
            ref = samples[k]
            if ref.nan is None:
                ref.nan = count_nan(ref.values)
            assert ref.buckets is not None  # maps[k] is not None
            ca, nan_a, n1 = ref.buckets.counts, ref.nan, ref.n
        n2 = n_b - nan_b
        if n1 == 0 or n2 == 0:
            out[k] = (None, nan_a, nan_b)
            return
        sel = _select(np.ascontiguousarray(ca), np.ascontiguousarray(cb), n1, n2)
        if sel is None:
            fallback(k)
            return
        want_a, want_b = int(sel[2].sum()), int(sel[3].sum())
        col_b = b[:, j0 + k]
        gb = _gather(col_b, ids_b[k], sel[0], want_b, nan_b)
        if is_table:
            ga = np.sort(_gather(table_a[:, j0 + k], ids_a[k], sel[0], want_a, nan_a))
        else:
            got = _sorted_slices(samples[k].values, sel, 0) if samples[k].is_sorted else None
            if got is None:  # pragma: no cover - stored references are sorted
                fallback(k)
                return
            ga = got
        st = np.array([-np.inf, -np.inf, np.inf, np.inf])
        locs = np.zeros(4, dtype=b.dtype)
        _merge_selected(ga, np.sort(gb), sel, n1, n2, st, locs)
        out[k] = ((st, locs), nan_a, nan_b)

    _map(refine, range(w), (n_b + (table_a.shape[0] if is_table else 0)) * w)
    return out


def _gather(values: np.ndarray, ids: np.ndarray, selected: np.ndarray, want: int,
            nan: int) -> np.ndarray:
    """The ``want`` non-NaN values of the selected buckets (NaNs, in bucket 0,
    need position slots too)."""
    out = np.empty(want, dtype=values.dtype)
    pos = np.empty(min(values.size, want + nan), dtype=np.int64)
    got = _k.gather(values, ids, selected, pos, out)
    if got != want:  # pragma: no cover - kernel bug
        raise RuntimeError("fastmlops: KS bucket gather count mismatch")
    return out


def columns(table: np.ndarray, j0: int, j1: int, dtype: DTypeLike,
            name: str = "columns") -> list[np.ndarray]:
    """Columns ``j0 .. j1 - 1`` of a 2-D (rows x columns) array as contiguous 1-D
    arrays of ``dtype``: views where a column already is one, else copies into
    this thread's scratch buffer ``name`` (reused across calls, so no fresh
    pages for every call).  Valid until this thread's next call with ``name``."""
    dtype = np.dtype(dtype)
    if table.dtype == dtype and (table.strides[0] == dtype.itemsize or table.shape[0] <= 1):
        return [table[:, j] for j in range(j0, j1)]
    w, n = j1 - j0, table.shape[0]
    buf = arena(name, w * n, dtype).reshape(w, n)
    if table.dtype == dtype and dtype.name in _LAYOUT_DTYPES and w > 1:
        from fastmlops._kernels.layout import columns_block as copy_block

        copy_block(table, j0, buf)
    else:
        for k in range(w):
            buf[k] = table[:, j0 + k]  # widening only: kernel dtypes hold every value
    return list(buf)


_LAYOUT_DTYPES = ("float64", "float32", "int64", "uint64")


_arenas = threading.local()
ARENA_MAX_BYTES = 64 << 20  # larger scratch is allocated per call, not kept


def arena(name: str, size: int, dtype: DTypeLike) -> np.ndarray:
    """A scratch array of ``size`` elements, reused by this thread across calls
    (contents undefined).  Valid until this thread asks for ``name`` again."""
    dtype = np.dtype(dtype)
    if size * dtype.itemsize > ARENA_MAX_BYTES:
        return np.empty(size, dtype=dtype)
    buffers = getattr(_arenas, "buffers", None)
    if buffers is None:
        buffers = _arenas.buffers = {}
    buf = buffers.get((name, dtype))
    if buf is None or buf.size < size:
        buf = buffers[(name, dtype)] = np.empty(max(size, 1), dtype=dtype)
    return buf[:size]


def _map(fn, items, total):  # type: ignore[no-untyped-def]
    """parallel_map for large work; a plain loop where threads cost more than they save."""
    if total >= _PARALLEL_ABOVE:
        return parallel_map(fn, items)
    return [fn(x) for x in items]


def _n_pieces(total: int) -> int:
    """Pieces per sample: one for small work, else one per worker thread."""
    return 1 if total < _PARALLEL_ABOVE else n_workers()
