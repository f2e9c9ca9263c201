"""The one streamed pass of :meth:`DriftReference.check_over_time`.

Every batch of the current data is cut into the pieces of its chunks (time
buckets of the ``by`` column, or consecutive rows); each chunk has its own
:class:`~fastmlops.drift.state.DriftState`, which counts the piece (pass 1 of
the state's protocol), and keeps a copy of the piece's numeric values.  When a
chunk is complete, its state picks the KS candidates, gathers them from the
kept values (pass 2, in memory: the data is read once) and finishes: the
report is bit-identical to ``ref.check`` of the chunk's rows, as the state's
protocol promises for any split of the data into batches.

Memory: per open chunk its state (per numeric column the reference's KS
bucket counts, 8-32k int64; per categorical column its category counts) and
its numeric values (the column's dtype, 8 bytes a float64 value); a finished
chunk keeps only its report.  Row chunks are complete at their last row, so one
is open at a time.  Time buckets: with ``in_order=True`` a bucket is complete
when a row of a later bucket arrives (one open at a time; a row of an earlier
bucket then raises ``ValueError``); by default rows may come in any order and
every bucket stays open to the end of the data, i.e. the numeric columns of the
whole current data are held (plus a state per bucket).
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from fastmlops.drift import _stream
from fastmlops.drift._timeline_axis import (
    Axis,
    bucket_ids,
    parse_every,
    rows_axis,
    ticks,
)
from fastmlops.drift.timeline import DriftTimeline, TimeChunk

if TYPE_CHECKING:
    from fastmlops.drift._reference import DriftReference
    from fastmlops.drift.report import DriftReport
    from fastmlops.drift.state import DriftState

__all__ = ["run"]

Annotate = Callable[["DriftReport", list[str], list[Any]], "DriftReport"]


def _axis(by: object, every: object, chunk_rows: object) -> Axis:
    """The chunking asked for; the rules of the options (one way to chunk)."""
    if by is not None and not isinstance(by, str):
        raise TypeError(f"by must be a column name (str), got {type(by).__name__}")
    if every is not None and chunk_rows is not None:
        raise ValueError("give either every (time buckets of the by column) or chunk_rows "
                         "(consecutive rows), not both")
    if every is not None:
        if by is None:
            raise ValueError(f"every={every!r} needs by: the time column to bucket "
                             "(or give chunk_rows to chunk by consecutive rows)")
        return parse_every(every)
    if chunk_rows is not None:
        if by is not None:
            raise ValueError(f"by={by!r} with chunk_rows: chunks of consecutive rows do not "
                             "use a time column; give every (such as '1d') to bucket by "
                             f"{by!r}, or leave by out")
        return rows_axis(chunk_rows)
    if by is not None:
        raise ValueError(f"by={by!r} needs every: the width of the time buckets, such as "
                         "'1h', '1d' or '7d'")
    raise ValueError("give every (with by: time buckets) or chunk_rows (consecutive rows) "
                     "to check the data over time")


def without_column(ref: DriftReference, name: str) -> DriftReference:
    """``ref`` without its column ``name`` (a shallow view: the other columns'
    models are shared); the digest stays the full reference's."""
    j = ref.columns.index(name)
    if len(ref.columns) == 1:
        raise ValueError(f"the reference's only column is the by column {name!r}: "
                         "nothing is left to check")
    view = copy.copy(ref)
    view.columns = ref.columns[:j] + ref.columns[j + 1:]
    view.kinds = ref.kinds[:j] + ref.kinds[j + 1:]
    view.column_models = ref.column_models[:j] + ref.column_models[j + 1:]
    return view


# ------------------------------------------------------------------ batches
def _is_table(x: object) -> bool:
    return isinstance(x, dict) or hasattr(x, "column_names") or (
        hasattr(x, "columns") and hasattr(x, "iloc"))


def _n_rows(batch: Any) -> int:
    if hasattr(batch, "num_rows"):
        return int(batch.num_rows)
    if hasattr(batch, "iloc") and hasattr(batch, "columns"):
        return len(batch)
    if isinstance(batch, dict):
        return len(next(iter(batch.values()))) if batch else 0
    return int(np.shape(batch)[0]) if np.ndim(batch) else 0


def _column_of(batch: Any, name: str) -> Any:
    if hasattr(batch, "column_names"):
        if name not in batch.column_names:
            raise ValueError(f"current: no by column {name!r}; its columns are "
                             f"{list(batch.column_names)[:20]}")
        return batch.column(name)
    if hasattr(batch, "iloc") and hasattr(batch, "columns"):
        for c in batch.columns:
            if str(c) == name:
                return batch[c]
        raise ValueError(f"current: no by column {name!r}; its columns are "
                         f"{[str(c) for c in batch.columns][:20]}")
    if isinstance(batch, dict):
        for k, v in batch.items():
            if str(k) == name:
                return v
        raise ValueError(f"current: no by column {name!r}; its columns are "
                         f"{[str(k) for k in batch][:20]}")
    raise TypeError(f"by={name!r} needs named columns (a DataFrame, Arrow table, dict or "
                    f"data file), got a {type(batch).__name__}; or use chunk_rows")


def _take_column(v: Any, sel: slice | np.ndarray) -> Any:
    if hasattr(v, "iloc"):
        return v.iloc[sel]
    if hasattr(v, "type") and hasattr(v, "null_count"):  # pyarrow (Chunked)Array
        if isinstance(sel, slice):
            return v.slice(sel.start, sel.stop - sel.start)
        return v.take(sel)
    return np.asarray(v)[sel]


def _take(batch: Any, sel: slice | np.ndarray) -> Any:
    """The rows ``sel`` (a slice or positions) of a batch, of the same type."""
    if hasattr(batch, "column_names") and hasattr(batch, "num_rows"):
        if isinstance(sel, slice):
            return batch.slice(sel.start, sel.stop - sel.start)
        return batch.take(sel)
    if hasattr(batch, "iloc"):
        return batch.iloc[sel]
    if isinstance(batch, dict):
        return {k: _take_column(v, sel) for k, v in batch.items()}
    return np.asarray(batch)[sel]


def _dataset_batches(ds: Any, names: list[str]) -> Iterator[Any]:
    options: dict[str, object] = {}
    if getattr(getattr(ds, "format", None), "default_extname", "") == "parquet":
        import pyarrow.dataset as pads

        options = {"fragment_scan_options": pads.ParquetFragmentScanOptions(pre_buffer=False),
                   "batch_readahead": 4, "fragment_readahead": 1}
    yield from ds.to_batches(columns=names, batch_size=_stream.BATCH_ROWS, use_threads=True,
                             **options)


def _batches(ref: DriftReference, current: Any, by: str | None, axis: Axis
             ) -> tuple[Iterable[Any], int | None, list[str]]:
    """(batches, total rows if known, the current data's columns not checked)."""
    known = set(ref.columns) | ({by} if by else set())
    if isinstance(current, (str, os.PathLike)):
        from fastmlops.drift.files import open_data

        current = open_data(current)
        if isinstance(current, np.ndarray):
            return [current], int(current.shape[0]), []
    if _stream.is_dataset(current):
        names = list(current.schema.names)
        if by is not None and by not in names:
            raise ValueError(f"current: no by column {by!r}; its columns are {names[:20]}")
        if not any(c in names for c in ref.columns):
            raise ValueError(f"current has none of the reference's columns "
                             f"{ref.columns[:20]}; its columns are {names[:20]}")
        # reference columns the files lack are read as all missing (and listed), as check
        want = [c for c in ref.columns if c in names] + \
            ([by] if by and by not in ref.columns else [])
        if by is not None:  # the by column's type, before reading any data
            import pyarrow as pa

            kind, values, _ = ticks(pa.array([], type=current.schema.field(by).type), by)
            bucket_ids(axis, kind, values, by)
        keys = set(getattr(getattr(getattr(current, "partitioning", None), "schema", None),
                           "names", None) or ())
        try:
            total: int | None = int(current.count_rows())
        except (OSError, ValueError, TypeError, NotImplementedError):  # CSV: read to count
            total = None
        return _dataset_batches(current, want), total, \
            [c for c in names if c not in known and c not in keys]
    if _stream.is_dask(current):
        if not hasattr(current, "npartitions") or not hasattr(current, "columns"):
            raise TypeError("check_over_time takes a dask DataFrame (its partitions are "
                            "read one at a time), not a dask array")
        parts = (current.get_partition(i).compute() for i in range(current.npartitions))
        return parts, None, [str(c) for c in current.columns if str(c) not in known]
    if _stream.is_stream(current):
        if isinstance(current, (list, tuple)):
            extra = _extra(current[0], known)
            return current, sum(_n_rows(b) for b in current), extra
        it = iter(current)
        try:
            first = next(it)
        except StopIteration:
            raise ValueError("current has no rows (the stream held no data)") from None

        def chained() -> Iterator[Any]:
            yield first
            yield from it
        return chained(), None, _extra(first, known)
    return [current], _n_rows(current), _extra(current, known)


def _extra(batch: Any, known: set[str]) -> list[str]:
    if hasattr(batch, "column_names"):
        names = [str(c) for c in batch.column_names]
    elif _is_table(batch):
        names = [str(c) for c in (batch.columns if hasattr(batch, "columns") else batch)]
    else:
        return []
    return [c for c in dict.fromkeys(names) if c not in known]


# ------------------------------------------------------------------ chunks
class _Open:
    """A chunk being read: its state and its numeric values."""

    def __init__(self, ref: DriftReference) -> None:
        self.state: DriftState = ref.new_state()
        self.kept: list[dict[str, np.ndarray]] = []
        self.rows = 0

    def add(self, ref: DriftReference, piece: Any, numeric: list[int]) -> None:
        self.state.update(ref, piece)
        n = _n_rows(piece)
        self.rows += n
        if not numeric or n == 0:
            return
        # copies: a block may be a view of the batch or a reused buffer
        # reference columns the piece lacks are not kept (pass 2 reads them as absent)
        if _is_table(piece):
            cols = ref.current_columns(piece, allow_empty=True, numeric_only=True,
                                       allow_absent=True)
            values = [np.array(v, copy=True) for v in cols.block(0, len(numeric))]
        else:  # an array: columns by position
            cols = ref.current_columns(piece, allow_empty=True)
            values = [np.array(cols.block(j, j + 1)[0], copy=True) for j in numeric]
        absent = set(getattr(cols, "absent", None) or ())
        self.kept.append({ref.columns[j]: v for j, v in zip(numeric, values)
                          if ref.columns[j] not in absent})

    def finish(self, ref: DriftReference, extra: list[str], annotate: Annotate) -> DriftReport:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            state = self.state
            if state.needs_second_pass:
                state.candidates(ref)
                for piece in self.kept:
                    state.gather(ref, piece)
            self.kept = []
            report = state.finish(ref)
        return annotate(report, list(extra), caught)


def _pieces(axis: Axis, by: str | None, batch: Any, row0: int, n: int
            ) -> tuple[np.ndarray, list[tuple[int, slice | np.ndarray]]]:
    """The chunk keys of a batch's rows, and (key, rows) per chunk in it."""
    if axis.kind == "rows":
        w = int(axis.width)
        keys = np.arange(row0 // w, (row0 + n - 1) // w + 1, dtype=np.int64)
        out: list[tuple[int, slice | np.ndarray]] = []
        for k in keys.tolist():
            a, b = max(k * w, row0) - row0, min((k + 1) * w, row0 + n) - row0
            out.append((k, slice(a, b)))
        return keys, out
    assert by is not None
    kind, values, valid = ticks(_column_of(batch, by), by)
    if not valid.all():
        bad = int((~valid).sum())
        raise ValueError(f"by column {by!r} has {bad} missing value(s) (null/NaT/NaN): "
                         "every row needs a time; drop or fill them")
    ids = bucket_ids(axis, kind, values, by)
    if ids.size == 0:
        return ids, []
    if ids.size == 1 or bool(np.all(ids[1:] >= ids[:-1])):  # in order: slices
        cuts = np.flatnonzero(np.diff(ids)) + 1
        starts = np.concatenate([[0], cuts]).tolist()
        stops = np.concatenate([cuts, [ids.size]]).tolist()
        return ids, [(int(ids[a]), slice(a, b)) for a, b in zip(starts, stops)]
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    cuts = np.flatnonzero(np.diff(sorted_ids)) + 1
    groups = np.split(order, cuts)
    return ids, [(int(ids[g[0]]), g) for g in groups]


def run(ref: DriftReference, current: Any, *, by: str | None, every: object,
        chunk_rows: object, in_order: bool,
        progress: Callable[[int, int | None], object] | None,
        annotate: Annotate) -> DriftTimeline:
    """See :meth:`DriftReference.check_over_time`."""
    axis = _axis(by, every, chunk_rows)
    check_ref = without_column(ref, by) if by is not None and by in ref.columns else ref
    numeric = [j for j, k in enumerate(check_ref.kinds) if k == "numeric"]
    batches, total, extra = _batches(check_ref, current, by, axis)
    open_: dict[int, _Open] = {}
    done: dict[int, TimeChunk] = {}
    row0 = 0
    last = None  # the largest key so far (in_order)

    def close(key: int) -> None:
        ch = open_.pop(key)
        start, end = axis.bounds(key)
        if axis.kind == "rows":
            end = start + ch.rows
        report = ch.finish(check_ref, extra, annotate)
        done[key] = TimeChunk(axis.label(key, end if axis.kind == "rows" else None),
                              start, end, ch.rows, report)

    for i, batch in enumerate(batches):
        try:
            n = _n_rows(batch)
            if n == 0:
                continue
            keys, pieces = _pieces(axis, by, batch, row0, n)
            if in_order and axis.kind != "rows":
                _check_order(axis, by, keys, last)
            for key, sel in pieces:
                if key in done:  # pragma: no cover - only in order, caught above
                    raise ValueError(f"chunk {axis.label(key)} was already finished")
                ch = open_.get(key)
                if ch is None:
                    ch = open_[key] = _Open(check_ref)
                ch.add(check_ref, _take(batch, sel), numeric)
        except (ValueError, TypeError) as exc:
            if i == 0 or not _stream.is_stream(current):
                raise
            raise _in_batch(i, exc) from exc
        row0 += n
        last = int(keys.max()) if last is None else max(last, int(keys.max()))
        if axis.kind == "rows":
            complete = row0 // int(axis.width)
            for key in [k for k in open_ if k < complete]:
                close(key)
        elif in_order:
            for key in [k for k in open_ if k < last]:
                close(key)
        if progress is not None:
            progress(row0, total)
    for key in sorted(open_):
        close(key)
    if not done:
        raise ValueError("current has no rows")
    chunks = [done[k] for k in sorted(done)]
    return DriftTimeline(axis=axis.kind, by=by, every=axis.text, chunks=chunks,
                         columns=list(check_ref.columns), kinds=list(check_ref.kinds),
                         extra_columns=list(extra))


def _check_order(axis: Axis, by: str | None, keys: np.ndarray, last: int | None) -> None:
    """Raise unless ``keys`` (a batch's buckets) follow ``last`` in order."""
    back = np.flatnonzero(keys[1:] < keys[:-1])
    if last is not None and int(keys[0]) < last:
        early, late = int(keys[0]), last
    elif back.size:
        early, late = int(keys[back[0] + 1]), int(keys[back[0]])
    else:
        return
    raise ValueError(f"rows are not in order of {by!r}: a row of {axis.label(early)} comes "
                     f"after rows of {axis.label(late)}; sort the data by {by!r}, or leave "
                     "out in_order (--in-order) to accept rows in any order")


def _in_batch(i: int, exc: BaseException) -> BaseException:
    """The same exception, saying which batch of a stream it came from."""
    try:
        return type(exc)(f"batch {i}: {exc}")
    except TypeError:  # exceptions with other constructors: kept as they are
        return exc
