"""Columns out of the table-like things users pass: 1-D/2-D arrays, pandas
DataFrames and Series, pyarrow Tables and RecordBatches, and mappings of
name -> 1-D array.

pandas and pyarrow are never imported here: objects are recognised by duck
typing, so neither is a dependency.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastmlops._core.validation import as_numeric_array

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from fastmlops.drift._encode import Column

    #: A column as :meth:`Columns.block` gives it: a contiguous 1-D array for a
    #: numeric column; for a categorical one, the column object itself (a numpy
    #: array, pandas Series or Categorical, pyarrow Array or ChunkedArray).
    ColumnValues = Union[np.ndarray, pd.Series, pd.Categorical, pa.Array, pa.ChunkedArray]


class Columns:
    """Named numeric columns of equal length, read one block at a time.

    ``kinds`` holds each column's kind ("numeric" or "categorical").
    ``block(j0, j1)`` returns the columns ``j0..j1-1``: contiguous 1-D arrays
    for numeric columns, the column object for categorical ones;
    for a row-major 2-D array it copies the block with one transposing copy,
    which reads whole cache lines instead of one element per line.
    """

    def __init__(self, names: list[str], n_rows: int,
                 get_block: Callable[[int, int], list[ColumnValues]],
                 kinds: list[str] | None = None, row_bytes: int = 0,
                 table: np.ndarray | None = None) -> None:
        self.names = names
        #: the 2-D (rows x columns) numeric array behind the columns when they
        #: are not contiguous (a row-major table), for kernels that read rows
        #: in place; None otherwise
        self.table = table
        #: bytes of one column when ``block`` copies columns (0: no copies)
        self.column_bytes = row_bytes
        self.n_rows = n_rows
        self.kinds = kinds if kinds is not None else ["numeric"] * len(names)
        self._get_block = get_block
        #: reference columns the data lack, given as all-missing values
        #: (``DriftReference.current_columns(..., allow_absent=True)``)
        self.absent: list[str] = []

    def __len__(self) -> int:
        return len(self.names)

    def block(self, j0: int, j1: int) -> list[ColumnValues]:
        return self._get_block(j0, j1)

    def blocks(self) -> list[tuple[int, int]]:
        """Column blocks for the worker threads: balanced, and small enough that
        a block copied out of a row-major table fits the reusable scratch."""
        from fastmlops.drift._ks_engine import ARENA_MAX_BYTES
        from fastmlops._core.parallel import BLOCK, balanced_blocks

        most = BLOCK if not self.column_bytes else max(
            1, min(BLOCK, ARENA_MAX_BYTES // self.column_bytes))
        return balanced_blocks(len(self.names), max_block=most)


def _check_names(names: Sequence[Any], n: int, what: str) -> list[str]:
    names = [str(c) for c in names]
    if len(names) != n:
        raise ValueError(f"{what}: {len(names)} column names for {n} columns")
    if len(set(names)) != len(names):
        from collections import Counter

        dup = sorted(c for c, k in Counter(names).items() if k > 1)
        shown = dup[:20] + (["..."] if len(dup) > 20 else [])
        raise ValueError(f"{what}: column names must be unique; repeated: {shown}")
    return names


def _numeric_column(values: ArrayLike, name: str) -> np.ndarray:
    arr = as_numeric_array(values, f"column {name!r}")
    if arr.ndim != 1:
        raise ValueError(f"column {name!r} must be 1-D, got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _arrow_column_to_numpy(col: pa.Array | pa.ChunkedArray, name: str) -> np.ndarray:
    # ChunkedArray or Array; nulls become NaN (ints with nulls become float64).
    if hasattr(col, "combine_chunks"):
        col = col.combine_chunks()
    if col.null_count:
        import pyarrow.compute as pc  # only reached when pyarrow is already in use

        arr = np.asarray(pc.cast(col, "float64").to_numpy(zero_copy_only=False))
        return _numeric_column(arr, name)
    return _numeric_column(col.to_numpy(zero_copy_only=False), name)


_KERNEL_DTYPES = ("float64", "float32", "int64", "uint64")


def columns_block(table: np.ndarray, j0: int, j1: int,
                  dtype: DTypeLike | None = None) -> list[np.ndarray]:
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


#: Column kinds of a table: numbers (KS, PSI/KL/JSD on quantile bins) and
#: categories (chi-square, PSI/KL/JSD on the reference's categories).
NUMERIC, CATEGORICAL = "numeric", "categorical"


def _kind_error(what: str, name: str, detail: str) -> TypeError:
    if what == "current":  # the reference made it categorical, not the caller
        detail = detail.replace("is named categorical", "is categorical in the reference") \
            .replace(" or drop it from categorical=", "")
    return TypeError(f"{what}: column {name!r} {detail}")


def _datetime_values(values: np.ndarray) -> np.ndarray:
    """datetime64/timedelta64 as float64 nanoseconds, NaT as NaN."""
    ns = values.astype("M8[ns]" if values.dtype.kind == "M" else "m8[ns]",
                       copy=False).view(np.int64)
    out = ns.astype(np.float64)
    out[ns == np.iinfo(np.int64).min] = np.nan
    return out


def _numpy_kind(arr: np.ndarray, name: str, categorical: bool, what: str) -> str:
    k = arr.dtype.kind
    if k in "USOb":
        return CATEGORICAL
    if k in "iu":
        return CATEGORICAL if categorical else NUMERIC
    if k in "fMm":
        if categorical:
            raise _kind_error(what, name, f"is named categorical but holds {arr.dtype} values; "
                              "categories must be strings, bools or integers: cast it (e.g. "
                              ".astype('Int64') or .astype(str)) or drop it from categorical=")
        return NUMERIC
    raise _kind_error(what, name, f"has dtype {arr.dtype}, which is neither numeric nor "
                      "categorical; convert it to numbers or strings")


def _pandas_column(series: pd.Series, name: str, categorical: bool,
                   what: str) -> tuple[str, ColumnValues]:
    """(kind, values): values are a contiguous numeric array, or the Series itself
    for a categorical column (its dictionary codes or hashes are used later)."""
    dtype = series.dtype
    text = str(dtype)
    if text == "category" or text in ("bool", "boolean", "object", "string", "str") \
            or text.startswith("string"):
        if text == "category" and categorical is not None:
            cats = dtype.categories
            if getattr(cats, "dtype", None) is not None and cats.dtype.kind in "fcMm":
                raise _kind_error(what, name, f"is a category column of {cats.dtype} values; "
                                  "categories must be strings, bools or integers")
        return CATEGORICAL, series
    if text.startswith(("datetime64", "timedelta64")):
        if categorical:
            raise _kind_error(what, name, f"is named categorical but holds {dtype} values")
        values = series.to_numpy()
        if values.dtype.kind not in "Mm":  # tz-aware: to UTC nanoseconds
            values = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        return NUMERIC, _numeric_column(_datetime_values(values), name)
    if categorical:
        if text.startswith(("Int", "UInt", "int", "uint")):
            return CATEGORICAL, series
        raise _kind_error(what, name, f"is named categorical but holds {dtype} values; "
                          "categories must be strings, bools or integers: cast it (e.g. "
                          ".astype('Int64') or .astype(str)) or drop it from categorical=")
    values = series.to_numpy()
    if values.dtype == object:  # nullable dtypes with pd.NA
        try:
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            raise _kind_error(what, name, f"is not numeric (dtype {dtype})") from None
    if values.dtype.kind not in "biuf":
        raise _kind_error(what, name, f"has dtype {dtype}, which is neither numeric nor "
                          "categorical; convert it to numbers or strings")
    return NUMERIC, _numeric_column(values, name)


def _arrow_column(col: pa.Array | pa.ChunkedArray, name: str, categorical: bool,
                  what: str) -> tuple[str, ColumnValues]:
    import pyarrow as pa  # only reached with a pyarrow object in hand

    t = col.type
    if pa.types.is_null(t):  # an all-empty CSV column: every value missing
        if categorical:
            return CATEGORICAL, col.cast(pa.string())
        return NUMERIC, np.full(len(col), np.nan)
    if (pa.types.is_dictionary(t) or pa.types.is_string(t) or pa.types.is_large_string(t)
            or pa.types.is_boolean(t) or getattr(pa.types, "is_string_view", lambda _: False)(t)):
        return CATEGORICAL, col
    if pa.types.is_integer(t) and categorical:
        return CATEGORICAL, col
    if pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_duration(t):
        if categorical:
            raise _kind_error(what, name, f"is named categorical but holds {t} values")
        if hasattr(col, "combine_chunks"):
            col = col.combine_chunks()
        if pa.types.is_duration(t):
            col = col.cast(pa.duration("ns"))
        else:  # dates and timestamps of any unit: UTC nanoseconds
            col = col.cast(pa.timestamp("ns", tz=getattr(t, "tz", None)))
        values = col.cast(pa.int64()).to_numpy(zero_copy_only=False)
        values = np.asarray(values, dtype=np.float64)
        if col.null_count:
            values[np.asarray(col.is_null())] = np.nan
        return NUMERIC, _numeric_column(values, name)
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        if categorical:
            raise _kind_error(what, name, f"is named categorical but holds {t} values; "
                              "categories must be strings, bools or integers")
        return NUMERIC, _arrow_column_to_numpy(col, name)
    raise _kind_error(what, name, f"has Arrow type {t}, which is neither numeric nor "
                      "categorical (nested and binary columns are not supported); select "
                      "other columns with columns=, or convert it")


def _array_column(values: Column, name: str, categorical: bool,
                  what: str) -> tuple[str, ColumnValues]:
    """A 1-D array-like: numpy arrays, lists, pandas/pyarrow 1-D objects."""
    if hasattr(values, "iloc") and hasattr(values, "dtype"):
        return _pandas_column(values, name, categorical, what)
    if hasattr(values, "type") and hasattr(values, "null_count"):
        return _arrow_column(values, name, categorical, what)
    if hasattr(values, "categories") and hasattr(values, "codes"):  # pandas Categorical
        return CATEGORICAL, values
    if isinstance(values, np.ma.MaskedArray) or isinstance(values, np.ndarray):
        arr = values
    else:
        try:
            arr = np.asarray(values)
        except Exception as exc:
            raise TypeError(f"{what}: column {name!r} could not be converted to an "
                            f"array: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"{what}: column {name!r} must be 1-D, got shape {arr.shape}")
    kind = _numpy_kind(arr, name, categorical, what)
    if kind == CATEGORICAL:
        return kind, arr
    if arr.dtype.kind in "Mm":
        return kind, _numeric_column(_datetime_values(arr), name)
    return kind, _numeric_column(arr, name)


def _select(names: list[str], columns: Sequence[Any] | None, what: str) -> list[int]:
    """Positions of ``columns`` among ``names``: one dictionary, linear in the
    number of columns.  A selected name that the table holds twice raises
    ValueError (which one is meant is ambiguous)."""
    if columns is None:
        return list(range(len(names)))
    wanted = [str(c) for c in columns]
    position: dict[str, int] = {}
    repeated: dict[str, int] = {}
    for i, name in enumerate(names):
        if position.setdefault(name, i) != i:
            repeated[name] = repeated.get(name, 1) + 1
    twice = [f"{c!r} ({repeated[c]} times)" for c in dict.fromkeys(wanted) if c in repeated]
    if twice:
        raise ValueError(f"{what}: duplicate column name(s) {', '.join(twice[:20])}"
                         + (" ..." if len(twice) > 20 else "") + "; which one to use is "
                         "ambiguous: rename or drop the duplicates")
    missing = [c for c in wanted if c not in position]
    if missing:
        raise ValueError(f"{what}: no column(s) named {missing[:20]}"
                         + (f" (and {len(missing) - 20} more)" if len(missing) > 20 else "")
                         + f"; it has {names[:20]}" + (" ..." if len(names) > 20 else ""))
    return [position[c] for c in wanted]


def as_columns(data: Any, columns: Sequence[Any] | None = None, what: str = "data",
               categorical: Sequence[Any] = ()) -> Columns:
    """Recognise ``data`` and return its :class:`Columns`.

    ``columns`` names the columns of an array (default "0", "1", ...); for
    tables it selects and orders columns by name.  ``categorical`` names the
    integer columns to treat as categories (strings, bools and categorical
    dtypes always are).  ``Columns.kinds`` holds each column's kind;
    ``block`` returns contiguous numeric arrays for numeric columns and the
    column object itself (Series, Arrow array, numpy array) for categorical
    ones.
    """
    cat_names = {str(c) for c in categorical}
    # pandas DataFrame
    if hasattr(data, "columns") and hasattr(data, "iloc") and hasattr(data, "dtypes"):
        all_names = [str(c) for c in data.columns]
        if columns is None:
            _check_names(all_names, len(all_names), what)
        index = _select(all_names, columns, what)
        names = _check_names([all_names[i] for i in index], len(index), what)
        kinds_values = [_pandas_column(data.iloc[:, i], n, n in cat_names, what)
                        for i, n in zip(index, names)]
        return _columns_of(names, len(data), kinds_values, cat_names, what)
    # pyarrow Table / RecordBatch
    if hasattr(data, "column_names") and hasattr(data, "column") and hasattr(data, "num_rows"):
        all_names = list(data.column_names)
        if columns is None:
            _check_names(all_names, len(all_names), what)
        index = _select(all_names, columns, what)
        names = _check_names([all_names[i] for i in index], len(index), what)
        kinds_values = [_arrow_column(data.column(i), n, n in cat_names, what)
                        for i, n in zip(index, names)]
        return _columns_of(names, int(data.num_rows), kinds_values, cat_names, what)
    # mapping name -> 1-D values
    if isinstance(data, dict):
        names = list(data) if columns is None else list(columns)
        missing = [c for c in names if c not in data]
        if missing:
            raise ValueError(f"{what}: no column(s) named {missing}")
        names_s = _check_names(names, len(names), what)
        kinds_values = [_array_column(data[c], s, s in cat_names, what)
                        for c, s in zip(names, names_s)]
        lengths = {len(v) for _, v in kinds_values}
        if len(lengths) > 1:
            raise ValueError(f"{what}: columns have different lengths {sorted(lengths)}")
        return _columns_of(names_s, lengths.pop() if lengths else 0, kinds_values,
                           cat_names, what)
    # pandas Series, pyarrow array, pandas Categorical: one column
    if (hasattr(data, "iloc") and hasattr(data, "dtype")) or (
            hasattr(data, "type") and hasattr(data, "null_count")):
        name = str(getattr(data, "name", None) or getattr(data, "_name", None) or "0") \
            if columns is None else None
        names = _check_names([name] if columns is None else columns, 1, what)
        kind_value = _array_column(data, names[0], names[0] in cat_names, what)
        return _columns_of(names, len(kind_value[1]), [kind_value], cat_names, what)
    # array-like
    if isinstance(data, (str, bytes)):
        raise TypeError(f"{what} must be a table or an array, got a {type(data).__name__}")
    raw = data
    if not isinstance(raw, np.ndarray):
        try:
            raw = np.asarray(data)
        except Exception as exc:
            raise TypeError(f"{what} could not be converted to an array: {exc}") from None
    if raw.ndim == 1:
        raw = raw[:, None]
    if raw.ndim != 2:
        raise ValueError(f"{what} must be 1-D (one column) or 2-D (rows x columns); "
                         f"got shape {raw.shape}")
    n_rows, n_cols = raw.shape
    names = _check_names(range(n_cols) if columns is None else columns, n_cols, what)
    if raw.dtype.kind in "USOb" or any(n in cat_names for n in names):
        kinds_values = [_array_column(raw[:, j], names[j], names[j] in cat_names, what)
                        for j in range(n_cols)]
        return _columns_of(names, n_rows, kinds_values, cat_names, what)
    if raw.dtype.kind in "Mm":
        raw = _datetime_values(raw)
    arr = as_numeric_array(raw, what)

    def get_array(j0: int, j1: int) -> list[np.ndarray]:
        # the calling thread's reusable scratch (valid until its next block):
        # fresh 80 MB copies page-faulted in on every check
        from fastmlops.drift._ks_engine import columns

        return columns(arr, j0, j1, arr.dtype, name="table-block")

    strided = arr.shape[0] > 1 and arr.strides[0] != arr.itemsize
    return Columns(names, n_rows, get_array, [NUMERIC] * n_cols, row_bytes=arr.itemsize
                   * n_rows, table=arr if strided else None)


def _columns_of(names: list[str], n_rows: int, kinds_values: list[tuple[str, ColumnValues]],
                cat_names: set[str], what: str) -> Columns:
    unknown = sorted(cat_names - set(names))
    if unknown:
        raise ValueError(f"{what}: categorical= names column(s) {unknown} that are not "
                         "among the selected columns")
    values = [v for _, v in kinds_values]
    return Columns(names, n_rows, lambda j0, j1: values[j0:j1], [k for k, _ in kinds_values])
