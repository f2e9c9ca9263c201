"""Reading data files for the command line (and, later, streaming).

:func:`open_data` recognises a path and returns a :class:`pyarrow.dataset.Dataset`
(Parquet, CSV, Arrow IPC/Feather: one file or a directory of them, hive
partitions included) or, for ``.npy``, a NumPy array (memory-mapped).
:func:`read_table` reads one whole.  Every failure is a :class:`DataFileError`
(a ValueError) that names the file and says what is wrong with it.

The format comes from the extension (``.parquet``/``.pq``/``.parq``, ``.csv``
(``.csv.gz``, ``.csv.bz2`` too), ``.tsv``, ``.arrow``/``.feather``/``.ipc``,
``.npy``) or, without one, from the file's first bytes.

Only regular files (and directories of them) are read: a FIFO, a pipe
(``<(cat data.csv)``, ``/dev/stdin``), a device or a socket is refused before
it is opened, as data is read twice (an exact KS needs two passes) and opening
a FIFO without a writer blocks forever.  :func:`open_regular` opens a file that
way, and :func:`check_output_file` refuses to replace anything but a regular
file (the drift reference writer uses both).
"""

from __future__ import annotations

import os
import stat
from types import ModuleType
from typing import TYPE_CHECKING, BinaryIO, Sequence, Union, cast

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow.dataset as pads

#: A path to a data file or directory.
DataPath = Union[str, "os.PathLike[str]"]

__all__ = ["DataFileError", "FORMATS", "detect_format", "open_data", "read_table",
           "open_regular", "check_output_file"]

#: Formats and their extensions (lower case).
FORMATS: dict[str, tuple[str, ...]] = {
    "parquet": (".parquet", ".pq", ".parq"),
    "csv": (".csv", ".csv.gz", ".csv.bz2", ".csv.zst", ".tsv"),
    "ipc": (".arrow", ".feather", ".ipc", ".arrows"),
    "npy": (".npy",),
}
_MAGIC = ((b"PAR1", "parquet"), (b"ARROW1", "ipc"), (b"\x93NUMPY", "npy"))
_NEEDS_PYARROW = ("reading {what} needs pyarrow: pip install 'fastmlops[tables]'")


class DataFileError(ValueError):
    """A data file or directory that cannot be read; the message says why."""


def _special(mode: int) -> str | None:
    """What a file of this ``st_mode`` is, when it is neither a regular file nor
    a directory."""
    for test, what in ((stat.S_ISFIFO, "a FIFO or pipe"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return "a special file"


def _not_regular(path: str, what: str, hint: str) -> DataFileError:
    return DataFileError(f"{path}: not a regular file ({what}); {hint}")


_READ_HINT = ("fastmlops reads data and references from files (data twice, for an exact "
              "KS): save the stream to a file first")


def open_regular(path: DataPath, hint: str = _READ_HINT) -> BinaryIO:
    """Open a regular file for reading (binary), refusing anything else.

    A FIFO, pipe, device or socket raises :class:`DataFileError` without
    blocking (checked before opening, then again on the open file, which is
    opened non-blocking so that a FIFO swapped in between cannot block
    either); a directory raises ``IsADirectoryError`` and a missing file
    ``FileNotFoundError``, as ``open`` does.
    """
    path = os.fspath(path)
    mode = os.stat(path).st_mode
    what = _special(mode)
    if what is not None:
        raise _not_regular(path, what, hint)
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(21, "Is a directory", path)
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0) \
        | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        what = _special(os.fstat(fd).st_mode)
        if what is not None:
            raise _not_regular(path, what, hint)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_output_file(path: DataPath, what: str = "output") -> None:
    """Refuse to replace ``path`` unless it is missing or a regular file: a
    symbolic link (whose target would be left behind), a FIFO, a device (such
    as ``/dev/full``, which root could otherwise replace), a socket or a
    directory raises :class:`DataFileError`."""
    path = os.fspath(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError:  # e.g. a component is not a directory: the write will say so
        return
    if stat.S_ISLNK(mode):
        raise _not_regular(path, "a symbolic link", f"refusing to replace it with the {what}; "
                           "write to the link's target, or to another path")
    kind = "a directory" if stat.S_ISDIR(mode) else _special(mode)
    if kind is not None:
        raise _not_regular(path, kind, f"refusing to replace it with the {what}; write "
                           "to a regular file")


def _format_of_name(name: str) -> str | None:
    low = name.lower()
    for fmt, exts in FORMATS.items():
        if low.endswith(exts):
            return fmt
    return None


def _sniff(path: str) -> str | None:
    try:
        with open_regular(path) as f:
            head = f.read(8)
    except OSError as exc:
        raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return fmt
    if head and b"\0" not in head:
        return "csv"
    return None


def detect_format(path: DataPath) -> str:
    """``"parquet"``, ``"csv"``, ``"ipc"`` or ``"npy"`` for a file; for a
    directory, the one format of the data files in it."""
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        return _directory_format(path)
    what = _special(mode)
    if what is not None:  # pyarrow and numpy would open it, and block on a FIFO
        raise _not_regular(path, what, _READ_HINT)
    fmt = _format_of_name(path) or _sniff(path)
    if fmt is None:
        raise DataFileError(f"{path}: not a data file fastmlops reads (Parquet, CSV, "
                            "Arrow IPC/Feather or .npy; name it with its extension)")
    return fmt


def _directory_files(path: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(path, onerror=_raise_walk_error):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        found += [os.path.join(dirpath, f) for f in sorted(filenames)
                  if not f.startswith((".", "_"))]
    return found


def _raise_walk_error(exc: OSError) -> None:
    raise DataFileError(f"cannot read the directory {exc.filename}: "
                        f"{exc.strerror or exc}") from None


def _directory_format(path: str) -> str:
    by_format: dict[str, list[str]] = {}
    for f in _directory_files(path):
        fmt = _format_of_name(f)
        if fmt is not None:
            by_format.setdefault(fmt, []).append(f)
    if not by_format:
        raise DataFileError(f"{path}: the directory has no data files (Parquet, CSV, "
                            "Arrow IPC/Feather, named by their extension)")
    if "npy" in by_format:
        raise DataFileError(f"{path}: a directory of .npy files is not read; pass one "
                            ".npy file, or write the data as Parquet")
    if len(by_format) > 1:
        kinds = ", ".join(f"{len(v)} {k}" for k, v in sorted(by_format.items()))
        raise DataFileError(f"{path}: the directory mixes formats ({kinds}); keep one "
                            "format per directory")
    return next(iter(by_format))


def _pyarrow_dataset() -> ModuleType:
    try:
        import pyarrow.dataset as ds
    except ImportError:
        raise DataFileError(_NEEDS_PYARROW.format(what="Parquet, CSV and Arrow files")) \
            from None
    return ds


def _arrow_message(exc: BaseException) -> str:
    text = str(exc).strip()
    for marker in ("CSV parse error: ", "Invalid: "):
        if marker in text:
            text = text[text.rindex(marker) + len(marker):]
            break
    return text.splitlines()[0] if text else type(exc).__name__


def _load_npy(path: str) -> np.ndarray:
    import numpy as np

    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except OSError as exc:
        raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataFileError(f"{path} holds Python objects; only numeric .npy files "
                                "are read (np.save an array of numbers)") from None
        raise DataFileError(f"{path} is not a valid .npy file: {exc}") from None
    if not isinstance(array, np.ndarray) or array.ndim not in (1, 2):
        raise DataFileError(f"{path}: a .npy file must hold a 1-D or 2-D array "
                            f"(rows x columns), got {getattr(array, 'ndim', '?')}-D")
    return array


def open_data(path: DataPath) -> pads.Dataset | np.ndarray:
    """A :class:`pyarrow.dataset.Dataset` over a data file or directory, or a
    NumPy array (memory-mapped) for a ``.npy`` file.

    A directory is read as one dataset (files and directories whose names
    start with ``.`` or ``_`` are left out; ``key=value`` directories become
    columns, hive-style).  Nothing but the schema is read here.

    Raises
    ------
    DataFileError
        The path does not exist, is not readable, holds no data files, mixes
        formats, or is not a valid file of its format.
    """
    path = os.fspath(path)
    fmt = detect_format(path)
    if fmt == "npy":
        return _load_npy(path)
    ds = _pyarrow_dataset()
    if not os.path.isdir(path) and not os.access(path, os.R_OK):
        raise DataFileError(f"cannot read {path}: permission denied")
    options: dict[str, object] = {}
    if fmt == "csv" and path.lower().endswith(".tsv"):
        import pyarrow.csv as pacsv

        options["format"] = ds.CsvFileFormat(
            parse_options=pacsv.ParseOptions(delimiter="\t"))
    else:
        options["format"] = {"ipc": "arrow"}.get(fmt, fmt)
    if os.path.isdir(path):
        options["partitioning"] = "hive"
    try:
        dataset = ds.dataset(path, **options)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        name = {"parquet": "Parquet", "csv": "CSV", "ipc": "Arrow IPC/Feather"}[fmt]
        raise DataFileError(f"cannot read {path} as {name}: {_arrow_message(exc)}") from None
    if fmt == "csv":
        _check_utf8(path, dataset)
    return dataset


def is_utf8_error(exc: BaseException) -> bool:
    """Whether ``exc`` is Arrow's error on CSV text that is not UTF-8 (raised
    while reading, when the bad bytes come after the rows the schema is
    inferred from)."""
    return isinstance(exc, ValueError) and "invalid utf8" in str(exc).lower()


def not_utf8_error(path: str, columns: Sequence[str] = ()) -> DataFileError:
    """The error for a CSV file whose text is not UTF-8: names the file (and
    the columns, when known) and says how to re-encode it."""
    where = f" (column {', '.join(map(repr, columns))})" if columns else ""
    return DataFileError(
        f"{path}: the CSV text is not UTF-8{where}; re-encode the file as UTF-8 (e.g. "
        f"iconv -f latin1 -t utf-8 IN.csv > OUT.csv, or pandas "
        f"read_csv(..., encoding='latin1').to_csv(..., encoding='utf-8'))")


def _check_utf8(path: str, dataset: pads.Dataset) -> None:
    """Refuse a CSV whose text columns are not UTF-8: Arrow reads such a
    column as binary (CSV cells have no binary type of their own)."""
    import pyarrow as pa

    binary = [f.name for f in dataset.schema
              if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]
    if binary:
        raise not_utf8_error(path, binary)


def read_table(source: DataPath | pads.Dataset | np.ndarray,
               columns: Sequence[str] | None = None, *,
               name: str | None = None) -> pa.Table | np.ndarray:
    """Read a whole data file or directory (or a dataset from :func:`open_data`):
    a :class:`pyarrow.Table`, or a NumPy array for ``.npy``.

    ``columns`` selects (and orders) columns; a name that is not there raises
    :class:`DataFileError` listing those that are.  ``name`` is how errors
    call the data (default: its path).
    """
    import numpy as np

    data = (open_data(cast(DataPath, source)) if isinstance(source, (str, bytes, os.PathLike))
            else source)
    where = name or (os.fspath(source) if isinstance(source, (str, bytes, os.PathLike))
                     else "data")
    if isinstance(data, np.ndarray):
        return np.asarray(data)  # columns of an array are chosen by the caller
    names = list(data.schema.names)
    if columns is not None:
        present = set(names)
        missing = [c for c in columns if c not in present]
        if missing:
            shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
            raise DataFileError(f"{where!s}: no column {', '.join(map(repr, missing))}; "
                                f"its columns are: {shown}")
    try:
        return data.to_table(columns=list(columns) if columns is not None else None)
    except (OSError, ValueError) as exc:
        if is_utf8_error(exc):
            raise not_utf8_error(str(where)) from None
        raise DataFileError(f"cannot read {where!s}: {_arrow_message(exc)}") from None
