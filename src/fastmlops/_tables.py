"""Columns out of the table-like things users pass: 1-D/2-D arrays, pandas
DataFrames and Series, pyarrow Tables and RecordBatches, and mappings of
name -> 1-D array.

pandas and pyarrow are never imported here: objects are recognised by duck
typing, so neither is a dependency.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from fastmlops._validation import as_numeric_array


class Columns:
    """Named numeric columns of equal length, read one block at a time.

    ``block(j0, j1)`` returns contiguous 1-D arrays for columns ``j0..j1-1``;
    for a row-major 2-D array it copies the block with one transposing copy,
    which reads whole cache lines instead of one element per line.
    """

    def __init__(self, names: list[str], n_rows: int,
                 get_block: Callable[[int, int], list[np.ndarray]]) -> None:
        self.names = names
        self.n_rows = n_rows
        self._get_block = get_block

    def __len__(self) -> int:
        return len(self.names)

    def block(self, j0: int, j1: int) -> list[np.ndarray]:
        return self._get_block(j0, j1)


def _check_names(names: Sequence[Any], n: int, what: str) -> list[str]:
    names = [str(c) for c in names]
    if len(names) != n:
        raise ValueError(f"{what}: {len(names)} column names for {n} columns")
    if len(set(names)) != len(names):
        dup = sorted({c for c in names if names.count(c) > 1})
        raise ValueError(f"{what}: column names must be unique; repeated: {dup}")
    return names


def _numeric_column(values: Any, name: str) -> np.ndarray:
    arr = as_numeric_array(values, f"column {name!r}")
    if arr.ndim != 1:
        raise ValueError(f"column {name!r} must be 1-D, got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _arrow_column_to_numpy(col: Any, name: str) -> np.ndarray:
    # ChunkedArray or Array; nulls become NaN (ints with nulls become float64).
    if hasattr(col, "combine_chunks"):
        col = col.combine_chunks()
    if col.null_count:
        import pyarrow.compute as pc  # only reached when pyarrow is already in use

        arr = np.asarray(pc.cast(col, "float64").to_numpy(zero_copy_only=False))
        return _numeric_column(arr, name)
    return _numeric_column(col.to_numpy(zero_copy_only=False), name)


_KERNEL_DTYPES = ("float64", "float32", "int64", "uint64")


def columns_block(table: np.ndarray, j0: int, j1: int, dtype: Any = None) -> list[np.ndarray]:
    """Columns ``j0..j1-1`` of a 2-D array as contiguous 1-D arrays (optionally
    converted to ``dtype``).

    Column-major input is sliced directly; row-major input of a kernel dtype
    is copied by a tiled kernel (about 3x faster than one strided copy per
    column); anything else goes through numpy.
    """
    dtype = table.dtype if dtype is None else np.dtype(dtype)
    if (table.flags.f_contiguous or j1 - j0 == 1 or dtype != table.dtype
            or dtype.name not in _KERNEL_DTYPES):
        return [np.ascontiguousarray(table[:, j], dtype=dtype) for j in range(j0, j1)]
    from fastmlops._kernels.layout import columns_block as kernel

    out = np.empty((j1 - j0, table.shape[0]), dtype=dtype)
    kernel(table, j0, out)
    return list(out)


def as_columns(data: Any, columns: Sequence[Any] | None = None, what: str = "data") -> Columns:
    """Recognise ``data`` and return its :class:`Columns`.

    ``columns`` names the columns of an array (default "0", "1", ...); for
    tables it selects and orders columns by name.
    """
    # pandas DataFrame
    if hasattr(data, "columns") and hasattr(data, "iloc") and hasattr(data, "dtypes"):
        names = [str(c) for c in data.columns]
        if columns is not None:
            wanted = [str(c) for c in columns]
            missing = [c for c in wanted if c not in names]
            if missing:
                raise ValueError(f"{what}: no column(s) named {missing}")
            index = [names.index(c) for c in wanted]
            names = wanted
        else:
            index = list(range(len(names)))
        names = _check_names(names, len(index), what)

        def get_df(j0: int, j1: int) -> list[np.ndarray]:
            out = []
            for j in range(j0, j1):
                series = data.iloc[:, index[j]]
                values = series.to_numpy()
                if values.dtype == object:  # nullable dtypes with pd.NA, or non-numbers
                    try:
                        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
                    except (TypeError, ValueError):
                        raise TypeError(f"{what}: column {names[j]!r} is not numeric "
                                        f"(dtype {series.dtype})") from None
                out.append(_numeric_column(values, names[j]))
            return out

        return Columns(names, len(data), get_df)
    # pyarrow Table / RecordBatch
    if hasattr(data, "column_names") and hasattr(data, "column") and hasattr(data, "num_rows"):
        names = list(data.column_names)
        if columns is not None:
            wanted = [str(c) for c in columns]
            missing = [c for c in wanted if c not in names]
            if missing:
                raise ValueError(f"{what}: no column(s) named {missing}")
            names = wanted
        names = _check_names(names, len(names), what)

        def get_arrow(j0: int, j1: int) -> list[np.ndarray]:
            return [_arrow_column_to_numpy(data.column(names[j]), names[j]) for j in range(j0, j1)]

        return Columns(names, int(data.num_rows), get_arrow)
    # mapping name -> 1-D values
    if isinstance(data, dict):
        names = list(data) if columns is None else list(columns)
        missing = [c for c in names if c not in data]
        if missing:
            raise ValueError(f"{what}: no column(s) named {missing}")
        arrays = [_numeric_column(data[c], str(c)) for c in names]
        lengths = {a.size for a in arrays}
        if len(lengths) > 1:
            raise ValueError(f"{what}: columns have different lengths {sorted(lengths)}")
        names = _check_names(names, len(arrays), what)
        return Columns(names, arrays[0].size if arrays else 0,
                       lambda j0, j1: arrays[j0:j1])
    # pandas Series: one named column
    if hasattr(data, "to_numpy") and hasattr(data, "name") and hasattr(data, "dtype"):
        name = str(data.name) if data.name is not None else "0"
        arr = _numeric_column(data.to_numpy(), name)
        return Columns(_check_names([name] if columns is None else columns, 1, what),
                       arr.size, lambda j0, j1: [arr][j0:j1])
    # array-like
    arr = as_numeric_array(data, what)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{what} must be 1-D (one column) or 2-D (rows x columns); "
                         f"got shape {arr.shape}")
    n_rows, n_cols = arr.shape
    names = _check_names(range(n_cols) if columns is None else columns, n_cols, what)

    def get_array(j0: int, j1: int) -> list[np.ndarray]:
        return columns_block(arr, j0, j1)

    return Columns(names, n_rows, get_array)
