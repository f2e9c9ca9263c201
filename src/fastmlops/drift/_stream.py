"""Checking data of any size: files, datasets, iterators of batches and Dask
collections, through the mergeable state of :mod:`fastmlops.drift.state`.

Memory: one batch at a time, plus the state (per numeric column 8-32k bucket
counts, the PSI bins and the values gathered in pass 2, typically well under
1 % of the column), plus whatever the reader holds.  A reference larger than
one machine's memory is out of scope: a reference must fit in memory (or be
memory-mapped from a saved file); only the current data may be larger.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence, cast

if TYPE_CHECKING:
    import dask.array as da
    import dask.dataframe as dd
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as pads
    from dask.delayed import Delayed
    from distributed import Future

    from fastmlops.drift._reference import DriftReference
    from fastmlops.drift.report import DriftReport
    from fastmlops.drift.state import DriftState

import numpy as np

from fastmlops.drift.columns import NumericColumn

#: Rows per batch read from files and datasets.
BATCH_ROWS = 1 << 17


def _is_table_batch(x: object) -> bool:
    return isinstance(x, dict) or hasattr(x, "column_names") or (
        hasattr(x, "columns") and hasattr(x, "iloc"))


def is_dask(x: object) -> bool:
    return hasattr(x, "__dask_graph__") and callable(getattr(x, "__dask_graph__"))


def is_dataset(x: object) -> bool:
    return hasattr(x, "to_batches") and hasattr(x, "schema") and hasattr(x, "count_rows")


def is_stream(x: object) -> bool:
    """True for current data that is streamed rather than one batch in memory."""
    if isinstance(x, (str, os.PathLike)) or is_dask(x) or is_dataset(x):
        return True
    if isinstance(x, (list, tuple)):
        return len(x) > 0 and all(_is_table_batch(b) for b in x)
    if isinstance(x, (np.ndarray, dict)) or _is_table_batch(x) or hasattr(x, "__array__"):
        return False
    return isinstance(x, Iterator) or (hasattr(x, "__iter__") and not hasattr(x, "__len__"))


# ------------------------------------------------------------------ sources
class _Source:
    """Two passes over the data: ``batches(pass_no)``; ``total`` rows if known."""

    total: int | None = None

    def batches(self, pass_no: int) -> Iterable[Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        pass


class _Dataset(_Source):
    def __init__(self, ds: pads.Dataset, columns: list[str], kinds: list[str]) -> None:
        names = set(ds.schema.names)
        if not any(c in names for c in columns):
            raise ValueError(f"current has none of the reference's columns "
                             f"{columns[:20]}; its columns are {ds.schema.names[:20]}")
        # reference columns the files lack are read as all missing (and listed)
        self.ds = ds
        self.columns = [c for c in columns if c in names]
        self.numeric = [c for c, k in zip(columns, kinds) if k == "numeric" and c in names]
        try:
            self.total = int(ds.count_rows())
        except Exception:  # some formats (CSV) must be read to count
            self.total = None

    def batches(self, pass_no: int) -> Iterable[pa.RecordBatch]:
        cols = self.columns if pass_no == 1 else self.numeric
        options: dict[str, object] = {}
        fmt = getattr(getattr(self.ds, "format", None), "default_extname", "")
        if fmt == "parquet":  # pre-buffering + readahead held a whole 1.6 GB file in memory
            import pyarrow.dataset as pads

            options = {"fragment_scan_options": pads.ParquetFragmentScanOptions(pre_buffer=False),
                       "batch_readahead": 4, "fragment_readahead": 1}
        for rb in self.ds.to_batches(columns=cols, batch_size=BATCH_ROWS, use_threads=True,
                                     **options):
            yield rb


class _Array(_Source):
    def __init__(self, arr: np.ndarray) -> None:
        self.arr = arr
        self.total = int(arr.shape[0])

    def batches(self, pass_no: int) -> Iterable[np.ndarray]:
        for start in range(0, max(self.arr.shape[0], 1), BATCH_ROWS):
            yield self.arr[start:start + BATCH_ROWS]


class _Reiterable(_Source):
    def __init__(self, items: Sequence[Any]) -> None:
        self.items = items

    def batches(self, pass_no: int) -> Iterable[Any]:
        return iter(self.items)


class _Spooled(_Source):
    """A one-shot iterator: pass 1 reads it and writes each batch's numeric
    columns to a temporary directory; pass 2 memory-maps them back."""

    def __init__(self, it: Iterator[Any], ref: DriftReference) -> None:
        self.it = it
        self.ref = ref
        self.dir = tempfile.TemporaryDirectory(prefix="fastmlops-spool-")
        self.spooled: list[dict[str, str]] = []

    def batches(self, pass_no: int) -> Iterable[Any]:
        if pass_no == 1:
            numeric = [j for j, k in enumerate(self.ref.kinds) if k == "numeric"]
            for i, batch in enumerate(self.it):
                yield batch
                if numeric:
                    cols = self.ref.current_columns(batch, allow_empty=True, numeric_only=True,
                                                    allow_absent=True)
                    files = {}
                    for j, values in zip(numeric, cols.block(0, len(numeric))):
                        path = os.path.join(self.dir.name, f"{i}-{j}.npy")
                        np.save(path, values)
                        files[self.ref.columns[j]] = path
                    self.spooled.append(files)
        else:
            for files in self.spooled:
                yield {name: np.load(path, mmap_mode="r") for name, path in files.items()}

    def close(self) -> None:
        self.dir.cleanup()


#: Above this many files the footers are not read up front (one by one) to
#: split the files into row groups: such a directory is read the ordinary way.
_MAPPED_FILES_MAX = 64


def _mapped_row_groups(data: pads.Dataset) -> pads.Dataset:
    """A local Parquet dataset as one fragment per row group, each read
    through its own memory map (unmapped when the row group is done).

    Reading through a memory map skips the copy from the page cache into
    pyarrow's buffers: measured on a 1.6 GB file here, 0.28-0.31 s and 0.53 s
    of CPU a pass, against 0.52 s and 0.78 s with ordinary reads.  One map of
    the whole file would count all of its pages in the process's RSS by the
    end of a pass (1.6 GB); a map per row group holds at most the row groups
    being read (about 200 MB here).  Other formats and filesystems are read
    as they are."""
    try:
        import pyarrow.dataset as pads
        import pyarrow.fs as pafs

        fmt = data.format
        if not isinstance(fmt, pads.ParquetFileFormat) or \
                not isinstance(data.filesystem, pafs.LocalFileSystem) or \
                len(data.files) > _MAPPED_FILES_MAX:
            return data
        mapped = pafs.LocalFileSystem(use_mmap=True)
        frags = []
        for frag in data.get_fragments():
            for i in range(frag.num_row_groups):
                frags.append(fmt.make_fragment(frag.path, filesystem=mapped,
                                               partition_expression=frag.partition_expression,
                                               row_groups=[i]))
        if not frags:
            return data
        return pads.FileSystemDataset(frags, data.schema, fmt, filesystem=mapped)
    except (OSError, ValueError, AttributeError, TypeError):  # read it the ordinary way
        return data


def _source(ref: DriftReference, current: Any) -> _Source:
    if isinstance(current, (str, os.PathLike)):
        from fastmlops.drift.files import open_data

        data = open_data(current)
        if isinstance(data, np.ndarray):
            return _Array(data)
        return _Dataset(_mapped_row_groups(data), ref.columns, ref.kinds)
    if is_dataset(current):
        return _Dataset(current, ref.columns, ref.kinds)
    if isinstance(current, (list, tuple)):
        return _Reiterable(current)
    return _Spooled(iter(current), ref)


def _label(i: int, what: str, exc: BaseException) -> BaseException:
    """The same exception, saying which batch it came from."""
    msg = f"batch {i} ({what}): {exc}"
    try:
        new = type(exc)(msg)
    except Exception:  # exceptions with other constructors: keep them as they are
        return exc
    return new


def check(ref: DriftReference, current: Any,
          progress: Callable[[int, int | None], object] | None) -> DriftReport:
    """:meth:`DriftReference.check` for streamed data (see its docstring)."""
    if is_dask(current):
        return check_dask(ref, current)
    src = _source(ref, current)
    try:
        state = ref.new_state()
        done = 0
        for pass_no in (1, 2):
            if pass_no == 2:
                if not state.needs_second_pass:
                    break
                state.candidates(ref)
            for i, batch in enumerate(src.batches(pass_no)):
                try:
                    if pass_no == 1:
                        state.update(ref, batch)
                    else:
                        state.gather(ref, batch)
                except (ValueError, TypeError) as exc:
                    raise _label(i, f"pass {pass_no}", exc) from exc
                if pass_no == 1:
                    done = state.n_rows
                    if progress is not None:
                        progress(done, src.total)
        if state.n_batches == 0 or state.n_rows == 0:
            raise ValueError("current has no rows (the stream held no data)")
        return state.finish(ref)
    finally:
        src.close()


# ------------------------------------------------------------------ Dask
def _count_part(ref: DriftReference, part: pd.DataFrame | np.ndarray) -> DriftState:
    return ref.new_state().update(ref, part)


def _merge_all(*states: DriftState) -> DriftState:
    first = states[0]
    for s in states[1:]:
        first.merge(s)
    return first


def check_dask(ref: DriftReference, data: dd.DataFrame | da.Array, *,
               split_every: int = 8) -> DriftReport:
    """Check a ``dask.dataframe.DataFrame`` (columns by name) or a
    ``dask.array.Array`` (rows x columns, chunked along rows) against ``ref``.

    Two rounds of tasks, one per partition each: pass 1 counts every
    partition where it lies and the states are merged in a tree
    (``split_every`` at a time); the client picks the candidate buckets; pass
    2 gathers the partitions' values in them.  Only states (bucket counts,
    PSI bins, category counts) and candidate values travel; no shuffle, no
    sort, no ``compute()`` of the collection.  The reference travels once:
    scattered to every worker with an active ``distributed`` client, else one
    node of the task graph.  A retried task recomputes its partition's state,
    which is merged once, so lost workers do not change the result.
    """
    try:
        import dask
    except ImportError:  # pragma: no cover - a dask object without dask?
        raise ImportError("checking Dask collections needs dask: "
                          "pip install 'fastmlops[dask]'") from None
    if hasattr(data, "to_delayed") and hasattr(data, "ndim") and not hasattr(data, "columns"):
        if data.ndim == 1:
            data = data[:, None]
        if data.ndim != 2:
            raise ValueError(f"a dask array must be 2-D (rows x columns), got {data.ndim}-D")
        if data.shape[1] != len(ref.columns):
            raise ValueError(f"current has {data.shape[1]} column(s), the reference "
                             f"{len(ref.columns)}")
        parts = list(data.rechunk({1: -1}).to_delayed().ravel())
    else:
        frame = cast("dd.DataFrame", data)  # not an array: a DataFrame
        present = {str(c) for c in frame.columns}
        if not any(c in present for c in ref.columns):  # absent ones: all missing, listed
            raise ValueError(f"current has none of the reference's columns "
                             f"{ref.columns[:20]}")
        parts = list(data.to_delayed())
    ref_node = _reference_node(_worker_view(ref))
    count = dask.delayed(_count_part, pure=True)
    states = [count(ref_node, p) for p in parts]
    while len(states) > 1:  # a tree of merges
        states = [dask.delayed(_merge_all, pure=True)(*states[i:i + split_every])
                  for i in range(0, len(states), split_every)]
    (state,) = dask.compute(states[0])
    if state.n_rows == 0:
        raise ValueError("current has no rows")
    if state.needs_second_pass:
        state.candidates(ref)
        plan = _reference_node(state.plan())  # once per worker, not in every task
        gather = dask.delayed(_gather_from_plan, pure=True)
        gathered = dask.compute(*[gather(ref_node, p, plan) for p in parts])
        for g in gathered:
            state.add_gathered(g)
    return state.finish(ref)


def _gather_from_plan(ref: DriftReference, part: pd.DataFrame | np.ndarray,
                      plan: list[np.ndarray | None]) -> list[np.ndarray | None]:
    from fastmlops.drift.state import DriftState

    return DriftState.from_plan(ref, plan).gather(ref, part).gathered_values()


def _reference_node(ref: object) -> Delayed | Future:
    import dask

    try:
        from distributed import get_client

        client = get_client()
    except (ImportError, ValueError):
        client = None
    if client is not None:  # a list of one: a list would be scattered item by item
        return client.scatter([ref], broadcast=True, hash=False)[0]
    return dask.delayed(ref, pure=True, traverse=False)


def _worker_view(ref: DriftReference) -> DriftReference:
    """What tasks need of ``ref``: everything but the numeric columns' sorted
    values (only ``finish``, on the client, reads them); the KS buckets are
    made here once (1e6 x 20 float64: 158 MB -> 5 MB sent to each worker)."""
    import copy
    import dataclasses

    view = copy.copy(ref)
    view.column_models = []
    for col in ref.column_models:
        if isinstance(col, NumericColumn):
            col.buckets()
            # split tables are rebuilt on the worker in a millisecond: not sent
            col = dataclasses.replace(col, sorted_values=np.empty(0, col.sorted_values.dtype),
                                      _splits=None)
        view.column_models.append(col)
    return view
