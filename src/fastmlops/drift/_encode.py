"""Encoding of categorical columns to integer codes (see :mod:`fastmlops.drift.categories`).

:func:`encode` turns one column into :class:`Encoded` -- integer ``codes``
(-1 = missing) into a list of distinct values ``uniques`` of one ``kind``
("str", "int" or "bool"; "empty" when a column without a type holds no
values at all, e.g. an object array of ``None``).  It never loops in Python
over rows (see the package module's docstring for the paths taken).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Hashable, Union, cast

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from numpy.typing import ArrayLike

    #: One categorical column as :func:`encode` takes it.
    Column = Union[ArrayLike, pd.Series, pd.Index, pd.Categorical, pa.Array, pa.ChunkedArray]

KINDS = ("str", "int", "bool")
KIND_WORDS = {"str": "strings", "int": "integers", "bool": "booleans", "empty": "no values"}


# ---------------------------------------------------------------------- errors
def column_label(name: str) -> str:
    return f"column {name!r}"


def _type_error(name: str, what: str) -> TypeError:
    """The messages say what the column holds and what to do about it."""
    hints = {
        "float": ("a categorical column holds str, int or bool values. If the floats are "
                  "integer codes with NaN for missing values, convert them with "
                  "pd.Series(x).astype('Int64') (NaN becomes missing); if they are "
                  "measurements, leave the column out of categorical= so that it is tested "
                  "as numeric"),
        "datetime": ("categorical columns hold str, int or bool values: convert the column "
                     "with .astype(str) to compare its values as labels, or to numbers "
                     "(e.g. seconds since the epoch) to test it as numeric"),
        "nested": ("categorical columns hold one str, int or bool value per row: flatten "
                   "the column or convert each value to a str"),
        "bytes": "decode them to str first, e.g. pd.Series(x).str.decode('utf-8')",
        "complex": "categorical columns hold str, int or bool values; convert it first",
    }
    kind, detail = what.split(":", 1) if ":" in what else (what, "")
    hint = hints.get(kind, "categorical columns hold str, int or bool values; convert it first, "
                           "e.g. with .astype(str)")
    return TypeError(f"{column_label(name)} holds {detail or kind} values; {hint}")


# --------------------------------------------------------------------- encoded
@dataclass(frozen=True)
class Encoded:
    """One column as integer codes.

    ``codes`` (int32 or int64 ndarray, one per row) index ``uniques``; -1 marks a
    missing row.  ``uniques`` are distinct Python values (``str``, ``int`` or
    ``bool``, all of one ``kind``); they may include values no row has (unused
    pandas categories, both booleans).  ``appearance_order`` is True when
    ``uniques`` are in order of first appearance in the rows.
    """

    codes: np.ndarray
    uniques: list
    kind: str
    name: str = "values"
    appearance_order: bool = True

    def __len__(self) -> int:
        return int(self.codes.size)

    def value_counts(self) -> tuple[np.ndarray, int]:
        """Rows per unique value (int64, aligned with ``uniques``) and missing rows."""
        from fastmlops._kernels.categories import code_counts

        out = np.zeros(len(self.uniques) + 1, np.int64)
        bad = code_counts(self.codes, out)
        if bad >= 0:
            raise ValueError(f"{column_label(self.name)}: code {int(self.codes[bad])} at row "
                             f"{bad} is outside [-1, {len(self.uniques)}); the Encoded value is "
                             "corrupt")
        return out[:-1], int(out[-1])


def _codes_dtype(n: int) -> type:
    return np.int32 if n < 2**31 else np.int64


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas is in the dev environment
        return None
    return pandas


def _classify(values: list, name: str) -> tuple[str, list]:
    """Kind of a list of distinct values, and the values as plain Python objects."""
    if not values:
        return "empty", []
    seen: set[str] = set()
    for v in values:
        if isinstance(v, (bool, np.bool_)):
            seen.add("bool")
        elif isinstance(v, (int, np.integer)):
            seen.add("int")
        elif isinstance(v, str):
            seen.add("str")
        elif isinstance(v, (float, np.floating)):
            raise _type_error(name, f"float:floats (e.g. {v!r})")
        elif isinstance(v, (bytes, bytearray, np.bytes_)):
            raise _type_error(name, "bytes")
        elif isinstance(v, (complex, np.complexfloating)):
            raise _type_error(name, "complex")
        elif isinstance(v, (list, tuple, dict, set, np.ndarray)):
            raise _type_error(name, f"nested:nested ({type(v).__name__})")
        elif hasattr(v, "year") and hasattr(v, "month") or isinstance(v, np.datetime64):
            raise _type_error(name, f"datetime:datetime ({type(v).__name__})")
        else:
            raise _type_error(name, f"other:{type(v).__name__}")
    if len(seen) > 1:
        kinds = " and ".join(KIND_WORDS[k] for k in sorted(seen))
        raise TypeError(f"{column_label(name)} mixes {kinds}; a categorical column holds one "
                        "kind of value: convert it first, e.g. with .astype(str)")
    kind = seen.pop()
    if kind == "str":
        return kind, [str(v) for v in values]
    if kind == "int":
        return kind, [int(v) for v in values]
    return kind, [bool(v) for v in values]


def _dtype_error(name: str, dtype: object) -> TypeError:
    kind = getattr(dtype, "kind", "?")
    if kind == "f":
        return _type_error(name, f"float:floats (dtype {dtype})")
    if kind in "Mm":
        return _type_error(name, f"datetime:datetime (dtype {dtype})")
    if kind == "c":
        return _type_error(name, f"complex:complex (dtype {dtype})")
    if kind == "V":
        return _type_error(name, f"nested:structured (dtype {dtype})")
    return _type_error(name, f"other:dtype {dtype}")


# ----------------------------------------------------------------------- numpy
def _encode_numpy(arr: np.ndarray, name: str) -> Encoded:
    if arr.ndim != 1:
        raise ValueError(f"{column_label(name)} must be 1-D, got shape {arr.shape}; "
                         "pass one column")
    kind = arr.dtype.kind
    if kind in "US":
        return _encode_fixed_width(arr, name)
    if kind == "b":
        return Encoded(arr.astype(np.int32) if arr.size else np.empty(0, np.int32),
                       [False, True], "bool", name, appearance_order=False)
    if kind in "iu":
        return _encode_ints(arr, name)
    if kind == "O":
        return _encode_object(arr, name)
    if kind == "T":  # numpy 2 StringDType
        return _encode_object(arr.astype(object), name)
    raise _dtype_error(name, arr.dtype)


def _encode_fixed_width(arr: np.ndarray, name: str) -> Encoded:
    from fastmlops._kernels.categories import factorize_rows

    n = arr.size
    codes: np.ndarray = np.empty(n, _codes_dtype(n))
    size = arr.dtype.itemsize
    if n == 0:
        return Encoded(codes, [], "str", name)
    if size == 0:
        codes[:] = 0
        return Encoded(codes, [""], "str", name)
    arr = np.ascontiguousarray(arr)
    word = next(w for w in (8, 4, 1) if size % w == 0)
    rows = arr.view(np.dtype(f"u{word}")).reshape(n, size // word)
    first = factorize_rows(rows, np.empty(0, np.uint8), codes)
    values = arr[first].tolist()
    if arr.dtype.kind == "S":
        values = [v.decode("utf-8", "surrogateescape") for v in values]
    return Encoded(codes, values, "str", name)


def _encode_ints(arr: np.ndarray, name: str) -> Encoded:
    from fastmlops._kernels.categories import factorize_rows

    n = arr.size
    codes: np.ndarray = np.empty(n, _codes_dtype(n))
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype != np.uint64:
        arr = np.ascontiguousarray(arr, dtype=np.int64)
    arr = np.ascontiguousarray(arr)
    first = factorize_rows(arr.view(np.uint64).reshape(n, 1), np.empty(0, np.uint8), codes)
    return Encoded(codes, arr[first].tolist(), "int", name)


def _encode_object(arr: np.ndarray, name: str) -> Encoded:
    pd = _pandas()
    if pd is None:  # pragma: no cover - exercised by calling the fallback directly
        codes, uniques, order = _factorize_object_numpy(arr, name)
    else:
        try:
            codes, uniq = pd.factorize(arr, use_na_sentinel=True)
        except TypeError as exc:  # unhashable: lists, dicts, arrays
            raise _type_error(name, "nested:nested (unhashable)") from exc
        uniques, order = uniq.tolist(), True
    kind, uniques = _classify(uniques, name)
    return Encoded(np.asarray(codes), uniques, kind, name, appearance_order=order)


def _factorize_object_numpy(arr: np.ndarray, name: str) -> tuple[np.ndarray, list, bool]:
    """Object arrays without pandas: None and NaN are missing; :func:`numpy.unique`
    sorts the rest (a TypeError when they cannot be compared: mixed kinds)."""
    missing = np.equal(arr, cast(Any, None)) | np.not_equal(arr, arr)
    try:
        uniq, inverse = np.unique(arr[~missing], return_inverse=True)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in arr[~missing][:1000]})
        raise TypeError(f"{column_label(name)} mixes values of types {', '.join(kinds)}; a "
                        "categorical column holds one kind of value: convert it first, e.g. "
                        "with .astype(str)") from None
    codes: np.ndarray = np.full(arr.size, -1, _codes_dtype(arr.size))
    codes[~missing] = inverse.ravel()
    return codes, uniq.tolist(), False


# ---------------------------------------------------------------------- pandas
def _encode_pandas(x: pd.Series | pd.Index | pd.Categorical, name: str) -> Encoded:
    if hasattr(x, "categories") and hasattr(x, "codes"):  # pandas.Categorical
        return _from_categorical(x, name)
    dtype = x.dtype
    if getattr(dtype, "name", None) == "category":
        return _from_categorical(x.array, name)
    if isinstance(dtype, np.dtype):
        return _encode_numpy(x.to_numpy(), name)
    if getattr(dtype, "kind", "") in "fMmcV":
        raise _dtype_error(name, dtype)
    arrow = getattr(x, "array", x)
    if (getattr(dtype, "storage", None) == "pyarrow" or hasattr(dtype, "pyarrow_dtype")) \
            and hasattr(arrow, "__arrow_array__"):
        return _encode_arrow(arrow.__arrow_array__(), name)
    pd = _pandas()
    try:
        codes, uniq = pd.factorize(x, use_na_sentinel=True)
    except TypeError as exc:
        raise _type_error(name, f"other:dtype {dtype}") from exc
    kind, uniques = _classify(list(uniq.tolist()), name)
    return Encoded(np.asarray(codes), uniques, kind, name)


def _from_categorical(cat: pd.Categorical | pd.CategoricalIndex, name: str) -> Encoded:
    categories = cat.categories
    if getattr(categories.dtype, "kind", "O") in "fMmcV":
        raise _dtype_error(name, categories.dtype)
    kind, uniques = _classify(list(categories.tolist()), name)
    codes = np.asarray(cat.codes)
    return Encoded(codes.astype(_codes_dtype(codes.size)), uniques, kind, name,
                   appearance_order=False)


# --------------------------------------------------------------------- pyarrow
def _arrow_kind(pa: ModuleType, typ: pa.DataType, name: str) -> str:
    t = pa.types
    if t.is_string(typ) or t.is_large_string(typ) or getattr(t, "is_string_view", bool)(typ):
        return "str"
    if t.is_integer(typ):
        return "int"
    if t.is_boolean(typ):
        return "bool"
    if t.is_null(typ):
        return "empty"
    if t.is_floating(typ) or t.is_decimal(typ):
        raise _type_error(name, f"float:floats (arrow type {typ})")
    if t.is_temporal(typ):
        raise _type_error(name, f"datetime:datetime (arrow type {typ})")
    if t.is_nested(typ):
        raise _type_error(name, f"nested:nested (arrow type {typ})")
    if t.is_binary(typ) or t.is_large_binary(typ) or t.is_fixed_size_binary(typ):
        raise _type_error(name, "bytes")
    raise _type_error(name, f"other:arrow type {typ}")


def _encode_arrow(x: pa.Array | pa.ChunkedArray, name: str) -> Encoded:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not hasattr(x, "type") or isinstance(x, (pa.Table, pa.RecordBatch)):
        raise TypeError(f"{column_label(name)}: pass one column (a pyarrow Array or ChunkedArray), "
                        f"not a {type(x).__name__}")
    typ = x.type
    given_codes = pa.types.is_dictionary(typ)
    kind = _arrow_kind(pa, typ.value_type if given_codes else typ, name)
    n = len(x)
    if kind == "empty":
        return Encoded(np.full(n, -1, _codes_dtype(n)), [], "empty", name)
    if not given_codes:
        x = pc.dictionary_encode(x)
    chunks = x.unify_dictionaries().chunks if isinstance(x, pa.ChunkedArray) else [x]
    chunks = [c for c in chunks if len(c)]
    codes: np.ndarray = np.empty(n, _codes_dtype(n))
    at = 0
    for chunk in chunks:
        idx = chunk.indices
        if idx.null_count:
            idx = pc.fill_null(idx, -1)
        codes[at:at + len(idx)] = idx.to_numpy(zero_copy_only=False)
        at += len(idx)
    dictionary = chunks[0].dictionary.to_pylist() if chunks else []
    if given_codes and dictionary:
        codes, dictionary = _dedupe_dictionary(codes, dictionary)
    if kind == "int":
        dictionary = [int(v) for v in dictionary]
    elif kind == "bool":
        dictionary = [bool(v) for v in dictionary]
    return Encoded(codes, dictionary, kind, name, appearance_order=not given_codes)


def _dedupe_dictionary(codes: np.ndarray, dictionary: list) -> tuple[np.ndarray, list]:
    """A dictionary array's dictionary may repeat values or hold nulls: map its
    codes onto distinct non-null values (one lookup per dictionary entry)."""
    index: dict[Hashable, int] = {}
    remap = np.empty(len(dictionary) + 1, codes.dtype)
    for i, v in enumerate(dictionary):
        remap[i] = -1 if v is None else index.setdefault(v, len(index))
    if len(index) == len(dictionary):
        return codes, dictionary
    remap[-1] = -1  # code -1 (null index) stays missing
    bad = (codes < -1) | (codes >= len(dictionary))
    if bad.any():  # pragma: no cover - arrow validates indices
        raise ValueError("dictionary indices out of range")
    return remap[codes], list(index)


# ---------------------------------------------------------------------- encode
def encode(values: Column, name: str = "values") -> Encoded:
    """Encode one categorical column as integer codes (see the module docstring).

    Parameters
    ----------
    values : array-like
        numpy ``'U'``/``'S'``/bool/integer/object arrays, lists, pandas Series
        (category, string, object, bool, nullable Int/boolean) and
        :class:`pandas.Categorical`, pyarrow Array/ChunkedArray (string,
        large_string, string_view, dictionary, bool, integer).
    name : str
        The column's name, used in error messages.

    Returns
    -------
    Encoded

    Raises
    ------
    TypeError
        For floats, datetimes, nested values, bytes objects and object columns
        mixing kinds (e.g. str and int), naming the column and what to do.

    Examples
    --------
    >>> from fastmlops.drift.categories import encode
    >>> e = encode(["b", "a", None, "b"], "colour")
    >>> e.codes.tolist(), e.uniques, e.kind
    ([0, 1, -1, 0], ['b', 'a'], 'str')
    """
    if isinstance(values, np.ndarray):
        return _encode_numpy(values, name)
    module = type(values).__module__ or ""
    if module.startswith("pyarrow"):
        return _encode_arrow(values, name)
    if module.startswith("pandas") and hasattr(values, "dtype"):
        return _encode_pandas(values, name)
    if isinstance(values, (str, bytes)) or np.isscalar(values) or values is None:
        raise TypeError(f"{column_label(name)} must be a column of values (a list, array or "
                        f"Series), got a single {type(values).__name__}")
    if isinstance(values, (list, tuple)):
        arr = np.empty(len(values), dtype=object)
        try:
            arr[:] = values
        except ValueError:
            raise _type_error(name, "nested:nested (sequence)") from None
        return _encode_object(arr, name)
    if hasattr(values, "__array__") or hasattr(values, "__array_interface__"):
        return _encode_numpy(np.asarray(values), name)
    raise TypeError(f"{column_label(name)}: cannot read values from a "
                    f"{type(values).__name__}; pass a list, a numpy array, a pandas Series or a "
                    "pyarrow array")
