"""Counting side of :class:`fastmlops.monitor.DriftMonitor`: the per-column
bins built from a :class:`~fastmlops.DriftReference`, the conversion of
buffered rows and of batches into one vector of counts, and the shared-memory
ring of per-time-bucket counts (a segment of :mod:`fastmlops.metrics`).

Counts vector (one "row" of the ring, after its tag)::

    [rows, column 0 bins..., column 1 bins..., ...]

* numeric column: the bins of the union of B reference-quantile edges, the
  PSI edges and the picture grid (``searchsorted(union, x, side="right")``,
  as :func:`fastmlops.divergence.bin_counts`), then one missing bin;
* categorical column: the kept categories, :data:`UNSEEN_BUCKETS` buckets of
  values outside them (by a stable hash of the value), then one missing bin.

Ring rows are tagged with ``time bucket + 1`` (0: never written); each
process writes only its own slot, resetting a row of its slot whose tag is
stale before adding to it, so a reader sums the rows of every slot whose tag
is in the window.  One more row per slot, tagged ``-1``, holds the totals
(rows and rejected rows since the start) that back the Prometheus counters.
"""

from __future__ import annotations

import hashlib
import logging
import math
import zlib
from typing import TYPE_CHECKING, Any, Iterable, Mapping, cast

import numpy as np

from fastmlops.drift.categories import CategoryCounts
from fastmlops.drift.columns import CategoricalColumn, NumericColumn, label_hashes
from fastmlops.drift.counts import CategoricalCounts, ColumnCounts, KsFigures, NumericCounts

if TYPE_CHECKING:
    from fastmlops.drift import DriftReference

_log = logging.getLogger("fastmlops.monitor")

#: Hash buckets for categorical values outside the reference's kept categories.
UNSEEN_BUCKETS = 64
#: Lookup cells per union edge of a numeric column (see the bin_rows kernel):
#: at most one cell in 32 holds an edge (and is searched); 34 KB per column at
#: the default 512 buckets.
_CELLS_PER_EDGE = 32
TOTALS_TAG = -1.0
#: Values of a batch above which :meth:`Layout.count_table` uses every thread.
_PARALLEL_VALUES = 200_000


def _unseen_bucket(value: object) -> int:
    """A process-independent bucket of a category label (``hash`` is salted
    per process; CRC-32 of its ``repr`` is not)."""
    return zlib.crc32(repr(value).encode("utf-8", "surrogatepass")) % UNSEEN_BUCKETS


class NumericBins:
    """The fine bins of one numeric reference column (see the module docstring)."""

    __slots__ = ("union", "ref_below", "psi_of", "grid_of", "lo", "scale", "top", "cell_bin",
                 "width", "max_mass")

    def __init__(self, col: NumericColumn, buckets: int) -> None:
        from fastmlops import divergence

        values = col.sorted_values
        fine = divergence.edges_from_sorted(values, buckets)
        union = np.union1d(np.union1d(fine, col.edges), col.grid)
        union = np.ascontiguousarray(union[~np.isnan(union)], dtype=np.float64)
        self.union = union
        # reference values below each edge: the reference ECDF's left limit there
        self.ref_below = np.searchsorted(values, union.astype(values.dtype)
                                         if values.dtype.kind == "f" else union,
                                         side="left").astype(np.int64)
        lower = np.concatenate([[-np.inf], union])  # lower edge of each union bin
        self.psi_of = np.searchsorted(col.edges, lower, side="right")
        self.grid_of = np.searchsorted(col.grid, lower, side="right")
        self.width = union.size + 2  # union bins + missing
        ref_bins = np.diff(np.concatenate([[0], self.ref_below, [values.size]]))
        self.max_mass = float(ref_bins.max()) / values.size
        # lookup table over the 0.2 % .. 99.8 % quantile range (see bin_rows)
        n = values.size
        cut = max(1, n // 500) if n > 2 else 0
        lo, hi = float(values[min(cut, n - 1)]), float(values[max(n - 1 - cut, 0)])
        cells = max(64, _CELLS_PER_EDGE * union.size)
        ulp = math.ulp(max(abs(lo), abs(hi))) if math.isfinite(lo) and math.isfinite(hi) else 0
        if math.isfinite(lo) and math.isfinite(hi) and (hi - lo) / cells > 4 * ulp and hi > lo:
            scale, top = cells / (hi - lo), float(cells + 1)
        else:  # degenerate range: one cell, every value searched
            lo, scale, top = 0.0, 0.0, 0.0
        from fastmlops._kernels.monitor import cells_of

        ce = np.empty(union.size, dtype=np.int64)
        cells_of(union, lo, scale, top, ce)  # the kernel's own cell of every edge
        below = np.searchsorted(ce, np.arange(int(top) + 1), side="left")
        cell_bin = below.copy()  # a cell without edges: the bin of all its values
        cell_bin[ce] = -below[ce] - 1  # a cell holding edges: search on from the first
        cell_bin = np.append(cell_bin, union.size + 1)  # cell top + 1 (NaN): missing bin
        if union.size >= 1 << 15:  # pragma: no cover - ks_buckets <= 4096
            raise ValueError("too many bins for the lookup table")
        self.lo, self.scale, self.top = lo, scale, top
        self.cell_bin = cell_bin.astype(np.int16)

    def split(self, counts: np.ndarray, ref: NumericColumn, n_rows: int) -> NumericCounts:
        """The :class:`~fastmlops.drift.counts.NumericCounts` of this column's
        counts (union bins then missing) in a window of ``n_rows`` rows, with
        the KS statistic measured at the union edges (see :func:`bucketed_ks`)."""
        bins = counts[:-1].astype(np.int64)
        n_missing = int(counts[-1])
        n = int(bins.sum())
        psi = np.bincount(self.psi_of, weights=bins, minlength=ref.edges.size + 1)
        grid = np.bincount(self.grid_of, weights=bins, minlength=ref.grid.size + 1)
        q = NumericCounts(n_rows=n_rows, n_missing=n_missing, n=n, bins=psi.astype(np.int64),
                          grid=grid.astype(np.int64))
        if n > 0:
            d, loc, sign, _ = bucketed_ks(self.ref_below, ref.n, np.cumsum(bins)[:-1], n,
                                          self.union)
            q.ks = KsFigures(d, loc, sign)
        return q


def bucketed_ks(ref_below: np.ndarray, n_ref: int, cur_below: np.ndarray, n_cur: int,
                edges: np.ndarray) -> tuple[float, float, float, float]:
    """KS statistic from both samples' counts below each edge.

    Returns ``(d, location, sign, upper)``: ``d`` is the largest ECDF
    difference at the edges (left limits, exact there), so
    ``d <= D_exact <= upper``, where ``upper`` bounds the difference inside
    every bin from its two ends (``upper - d`` is at most the largest share of
    either sample in one bin: about ``1/B`` for B reference-quantile buckets
    when the current data look like the reference).  ``sign`` is +1 when the
    reference's ECDF is the higher one at ``location`` (as scipy's
    ``statistic_sign``)."""
    a = np.concatenate([[0.0], ref_below / n_ref, [1.0]])
    b = np.concatenate([[0.0], cur_below / n_cur, [1.0]])
    diff = a[1:-1] - b[1:-1]
    if diff.size == 0:
        return 0.0, float("nan"), 1.0, 1.0
    hi, lo = int(np.argmax(diff)), int(np.argmin(diff))
    if diff[hi] >= -diff[lo]:
        d, loc, sign = float(diff[hi]), float(edges[hi]), 1.0
    else:
        d, loc, sign = float(-diff[lo]), float(edges[lo]), -1.0
    upper = float(max(np.max(a[1:] - b[:-1]), np.max(b[1:] - a[:-1])))
    return max(d, 0.0), loc, sign, max(upper, d)


class Layout:
    """Every column's bins and where they sit in the counts vector."""

    def __init__(self, ref: DriftReference, buckets: int) -> None:
        self.ref = ref
        self.m = len(ref.columns)
        self.kinds = list(ref.kinds)
        self.numeric_only = all(k == "numeric" for k in self.kinds)
        self.bins: list[NumericBins | None] = []
        self.offsets: list[int] = []  # of each column's first bin in the counts vector
        at = 1  # counts[0]: rows
        for col in ref.column_models:
            self.offsets.append(at)
            if isinstance(col, NumericColumn):
                nb = NumericBins(col, buckets)
                self.bins.append(nb)
                at += nb.width
            else:
                self.bins.append(None)
                at += len(col.categories.categories) + UNSEEN_BUCKETS + 1
        self.size = at
        num = [j for j, k in enumerate(self.kinds) if k == "numeric"]
        self.numeric = np.array(num, dtype=np.int64)
        nbs = [b for b in self.bins if b is not None]
        self.edges = np.ascontiguousarray(np.concatenate([b.union for b in nbs])
                                          if nbs else np.zeros(0))
        self.edge_at = np.cumsum([0] + [b.union.size for b in nbs]).astype(np.int64)
        self.los = np.array([b.lo for b in nbs], dtype=np.float64)
        self.scales = np.array([b.scale for b in nbs], dtype=np.float64)
        self.tops = np.array([b.top for b in nbs], dtype=np.float64)
        self.table_at = np.cumsum([0] + [b.cell_bin.size for b in nbs])[:-1].astype(np.int64)
        self.cell_bin = np.ascontiguousarray(np.concatenate([b.cell_bin for b in nbs])
                                             if nbs else np.zeros(0, np.int16), dtype=np.int16)
        self.count_at = np.array([self.offsets[j] for j in num], dtype=np.int64)
        #: kept category -> its bin, per column (empty for a numeric column)
        self.index: list[Mapping[object, int]] = [
            col.categories.index if isinstance(col, CategoricalColumn) else {}
            for col in ref.column_models]

    def digest(self) -> str:
        """A digest of the bins: processes sharing a monitor's memory must agree."""
        h = hashlib.blake2b(digest_size=8)
        for j, col in enumerate(self.ref.column_models):
            h.update(f"{self.ref.columns[j]}|{col.kind}|".encode())
            nb = self.bins[j]
            if nb is not None:
                h.update(nb.union.tobytes())
            else:  # no bins: a categorical column
                h.update(repr(cast(CategoricalColumn, col).categories.categories)
                         .encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    # ------------------------------------------------------------ counting
    def count_table(self, table: np.ndarray, out: np.ndarray, cols: np.ndarray | None = None,
                    which: slice = slice(None)) -> None:
        """Add the numeric columns ``cols`` of the float64 2-D ``table`` (the
        numeric columns ``which`` of the layout) to ``out``; large tables are
        split by rows over the thread pool, each part counted apart then added."""
        from fastmlops._kernels.monitor import bin_rows
        from fastmlops._core.parallel import chunk_bounds, n_workers, parallel_map

        sel = np.arange(self.numeric.size)[which]
        if sel.size == 0:
            return
        j0, j1 = int(sel[0]), int(sel[-1]) + 1
        cols = np.arange(j1 - j0, dtype=np.int64) if cols is None else cols
        if cols.size != j1 - j0 or table.ndim != 2 or (cols.size and (
                cols.min() < 0 or cols.max() >= table.shape[1])):
            raise ValueError("count_table: columns do not fit the table")  # pragma: no cover
        args = (cols, self.edges, np.ascontiguousarray(self.edge_at[j0:j1 + 1]),
                np.ascontiguousarray(self.los[j0:j1]), np.ascontiguousarray(self.scales[j0:j1]),
                np.ascontiguousarray(self.tops[j0:j1]), np.ascontiguousarray(self.table_at[j0:j1]),
                self.cell_bin, np.ascontiguousarray(self.count_at[j0:j1]))
        n = table.shape[0]
        pieces = n_workers() if n * cols.size >= _PARALLEL_VALUES else 1
        if pieces <= 1:
            bin_rows(table, 0, n, *args, out)
            return

        def part(bounds: tuple[int, int]) -> np.ndarray:
            counts = np.zeros(out.size, dtype=np.int64)
            bin_rows(table, bounds[0], bounds[1], *args, counts)
            return counts

        for counts in parallel_map(part, chunk_bounds(n, pieces)):
            out += counts

    def count_categorical(self, j: int, values: Any, out: np.ndarray) -> None:
        """Add one categorical batch column (any form ``encode`` takes)."""
        from fastmlops.drift.categories import encode

        col = self.ref.column_models[j]
        if not isinstance(col, CategoricalColumn):  # pragma: no cover - callers pick the kind
            raise TypeError(f"column {self.ref.columns[j]!r} is not categorical")
        enc = encode(values, self.ref.columns[j])
        col.categories.check_kind(enc)
        per, missing = enc.value_counts()
        k = len(col.categories.categories)
        at = self.offsets[j]
        index = self.index[j]
        for u, c in zip(enc.uniques, per.tolist()):
            if c:
                i = index.get(u)
                out[at + (i if i is not None else k + _unseen_bucket(u))] += c
        out[at + k + UNSEEN_BUCKETS] += missing

    def count_rows(self, rows: list, out: np.ndarray) -> tuple[int, str | None]:
        """Add buffered rows (sequences, 1-D arrays or dicts by column name) to
        ``out``; returns (rows rejected, the first reason).  A rejected row adds
        nothing (it is checked whole before anything is counted)."""
        names = self.ref.columns
        if self.numeric_only:
            blobs = [r for r in rows if type(r) is bytes]  # float64 numpy rows, checked
            if blobs:
                table = np.frombuffer(b"".join(blobs), dtype=np.float64).reshape(-1, self.m)
                self.count_table(table, out)
                out[0] += table.shape[0]
                if len(blobs) == len(rows):
                    return 0, None
                rows = [r for r in rows if type(r) is not bytes]
            plain = [r for r in rows if type(r) is not dict]
            dicts = [r for r in rows if type(r) is dict]
            bad, why = 0, None
            if dicts:
                for d in dicts:
                    try:
                        plain.append([d[c] for c in names])
                    except KeyError as exc:
                        bad += 1
                        why = why or (f"row {d!r:.80} has no column {exc.args[0]!r} (a row "
                                      f"dict needs the keys {names!r:.120})")
            fast = _numeric_table(plain, self.m)
            if fast is not None:
                self.count_table(fast, out)
                out[0] += fast.shape[0]
                return bad, why
            good = []
            for r in plain:
                v, reason = self._numeric_row(r)
                if v is None:
                    bad += 1
                    why = why or reason
                else:
                    good.append(v)
            if good:
                table = np.array(good, dtype=np.float64).reshape(len(good), self.m)
                self.count_table(table, out)
                out[0] += len(good)
            return bad, why
        return self._mixed_rows(rows, out)

    def _numeric_row(self, r: Iterable[object]) -> tuple[list | None, str | None]:
        vals = []
        try:
            seq = list(r)
        except TypeError:
            return None, f"a row must be a sequence, a 1-D array or a dict, got {r!r:.80}"
        if len(seq) != self.m:
            return None, f"row {r!r:.80} has {len(seq)} values, the reference {self.m} columns"
        for name, x in zip(self.ref.columns, seq):
            f = _number(x)
            if f is None:
                return None, (f"column {name!r} is numeric but the row holds {x!r:.40} "
                              f"({type(x).__name__}); pass numbers (None or NaN for missing)")
            vals.append(f)
        return vals, None

    def _mixed_rows(self, rows: list, out: np.ndarray) -> tuple[int, str | None]:
        names = self.ref.columns
        num_rows: list[list[float]] = []
        bad, why = 0, None
        for r in rows:
            if type(r) is dict:
                try:
                    seq = [r[c] for c in names]
                except KeyError as exc:
                    bad += 1
                    why = why or f"row dict {r!r:.80} has no column {exc.args[0]!r}"
                    continue
            else:
                try:
                    seq = list(r)
                except TypeError:
                    bad += 1
                    why = why or f"a row must be a sequence or a dict, got {r!r:.80}"
                    continue
            if len(seq) != self.m:
                bad += 1
                why = why or f"row {r!r:.80} has {len(seq)} values, the reference {self.m}"
                continue
            nums: list[float] = []
            cats: list[int] = []
            reason = None
            for j, x in enumerate(seq):
                if self.kinds[j] == "numeric":
                    f = _number(x)
                    if f is None:
                        reason = (f"column {names[j]!r} is numeric but the row holds "
                                  f"{x!r:.40} ({type(x).__name__})")
                        break
                    nums.append(f)
                else:
                    pos = self._category_bin(j, x)
                    if pos < 0:
                        kind = cast(CategoricalColumn, self.ref.column_models[j]).categories.kind
                        reason = (f"column {names[j]!r} holds {kind} categories but the row "
                                  f"holds {x!r:.40} ({type(x).__name__})")
                        break
                    cats.append(pos)
            if reason is not None:
                bad += 1
                why = why or reason
                continue
            num_rows.append(nums)
            for pos in cats:
                out[pos] += 1
            out[0] += 1
        if num_rows and self.numeric.size:
            self.count_table(np.array(num_rows, dtype=np.float64), out)
        return bad, why

    def _category_bin(self, j: int, x: object) -> int:
        """Position in the counts vector of categorical value ``x`` of column
        ``j`` (its kept category, unseen bucket or missing bin); -1 when ``x``
        is of another kind than the reference's values."""
        col = self.ref.column_models[j]
        if TYPE_CHECKING:  # callers pass categorical columns (no cast: a hot path)
            assert isinstance(col, CategoricalColumn)
        at = self.offsets[j]
        k = len(col.categories.categories)
        if x is None or (isinstance(x, float) and x != x):
            return at + k + UNSEEN_BUCKETS
        kind = col.categories.kind
        if isinstance(x, (bool, np.bool_)):
            ok = kind == "bool"
            x = bool(x)
        elif isinstance(x, (int, np.integer)):
            ok = kind == "int"
            x = int(x)
        elif isinstance(x, (str, np.str_)):
            ok = kind == "str"
            x = str(x)
        else:
            ok = False
        if not ok and kind != "empty":
            return -1
        i = self.index[j].get(x)
        return at + (i if i is not None else k + _unseen_bucket(x))

    # ------------------------------------------------------------ report
    def parts(self, counts: np.ndarray) -> tuple[list[ColumnCounts], int, list[float]]:
        """(column counts for :func:`fastmlops.drift.judge.judge`, window rows,
        KS upper bounds per column) from a counts vector."""
        n_rows = int(counts[0])
        parts: list[ColumnCounts] = []
        uppers: list[float] = []
        for j, col in enumerate(self.ref.column_models):
            at = self.offsets[j]
            if isinstance(col, NumericColumn):
                nb = self.bins[j]
                assert nb is not None
                c = counts[at:at + nb.width].astype(np.int64)
                q = nb.split(c, col, n_rows)  # every row has every column
                parts.append(q)
                if q.n > 0:
                    uppers.append(bucketed_ks(nb.ref_below, col.n,
                                              np.cumsum(c[:-1])[:-1], q.n, nb.union)[3])
                else:
                    uppers.append(float("nan"))
                continue
            k = len(col.categories.categories)
            c = counts[at:at + k + UNSEEN_BUCKETS + 1].astype(np.int64)
            kept, unseen, missing = c[:k], c[k:k + UNSEEN_BUCKETS], int(c[-1])
            other = int(unseen.sum())
            used = np.flatnonzero(unseen)
            cc = CategoryCounts(np.ascontiguousarray(kept), other, missing, n_rows, other,
                                int(used.size), [])
            parts.append(CategoricalCounts(
                n_rows=n_rows, n_missing=missing, n=n_rows - missing, categories=cc,
                unseen_counts=unseen[used],
                unseen_keys=label_hashes([f"unseen bucket {b}" for b in used])))
            uppers.append(float("nan"))
        return parts, n_rows, uppers


def _number(x: Any) -> float | None:
    """``x`` as a float if it is a number (None/NaN: NaN, missing); None when
    it is not one (a string, bytes, an object)."""
    if x is None:
        return math.nan
    t = type(x)
    if t is float or t is int:
        try:
            return float(x)
        except OverflowError:
            return math.inf if x > 0 else -math.inf
    if isinstance(x, (np.timedelta64, np.datetime64)):  # timedelta64 is an np.integer
        return None
    if isinstance(x, (int, float, np.integer, np.floating, np.bool_)):  # bools: 0/1, as numpy
        try:
            return float(x)
        except OverflowError:
            return math.inf if x > 0 else -math.inf
        except (TypeError, ValueError):  # a number type float() refuses
            return None
    return None


def _numeric_table(rows: list, m: int) -> np.ndarray | None:
    """The rows as an (n, m) float64 table when they are all plain numbers of
    the right length (the fast path), else None."""
    if not rows:
        return np.zeros((0, m))
    try:
        arr = np.array(rows)
    except (ValueError, TypeError, OverflowError):
        return None
    if arr.ndim != 2 or arr.shape[1] != m or arr.dtype.kind not in "fiu" or \
            arr.dtype.itemsize > 8:
        return None
    return arr.astype(np.float64, copy=False)
