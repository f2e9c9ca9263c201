"""The time axis of a drift timeline: ``every`` parsed, the ``by`` column read
as numbers, rows put in buckets, and the buckets' bounds and labels.

Time buckets are aligned on the Unix epoch (1970-01-01T00:00:00Z), as
``pandas.Timestamp.floor`` and ``resample(origin="epoch")`` align them: ``1d``
buckets are UTC calendar days, ``1h`` buckets whole UTC hours; ``7d`` buckets
start on Thursdays (the epoch's weekday).  Timestamps with a time zone are
placed by their UTC instant; naive ones are read as UTC.  Numeric ``by``
columns take a numeric ``every``: bucket ``k`` holds ``k * every <= v <
(k + 1) * every``.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Axis", "bucket_ids", "parse_every"]

_NS = {"s": 10**9, "m": 60 * 10**9, "min": 60 * 10**9, "h": 3600 * 10**9,
       "d": 86400 * 10**9, "w": 7 * 86400 * 10**9}
_EVERY = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_DAY = _NS["d"]


@dataclass(frozen=True)
class Axis:
    """How chunks are cut: ``kind`` "time" (``width`` in nanoseconds),
    "number" (``width`` a number) or "rows" (``width`` rows per chunk)."""

    kind: str
    width: int | float
    text: str  # as written in reports: "1d", "30m", "2.5", "10000"

    def bounds(self, key: int) -> tuple[Any, Any]:
        """(start, end) of chunk ``key``: UTC datetimes, numbers or row numbers
        (``end`` exclusive)."""
        if self.kind == "time":
            w = int(self.width)
            return _datetime(key * w), _datetime((key + 1) * w)
        if self.kind == "number":
            return key * self.width, (key + 1) * self.width
        w = int(self.width)
        return key * w, (key + 1) * w

    def label(self, key: int, end: int | None = None) -> str:
        """A short label of chunk ``key`` ("2026-01-05", "2026-01-05T13:00Z",
        "[10, 20)", "rows 0-9999")."""
        start, stop = self.bounds(key)
        if self.kind == "time":
            w = int(self.width)
            fmt = "%Y-%m-%d" if w % _DAY == 0 else \
                "%Y-%m-%dT%H:%MZ" if w % _NS["m"] == 0 else "%Y-%m-%dT%H:%M:%SZ"
            return str(start.strftime(fmt))
        if self.kind == "number":
            return f"[{start:g}, {stop:g})"
        return f"rows {start}-{(stop if end is None else end) - 1}"


def _datetime(ns: int) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(microseconds=ns // 1000)


def iso(value: Any) -> Any:
    """A chunk bound for JSON: ISO 8601 text (UTC, "Z") for datetimes, else the number."""
    if isinstance(value, _dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _duration_text(ns: int) -> str:
    for unit in ("d", "h", "m", "s"):
        if ns % _NS[unit] == 0:
            return f"{ns // _NS[unit]}{unit}"
    return f"{ns}ns"  # pragma: no cover - durations are whole seconds


def parse_every(every: object) -> Axis:
    """The axis of ``every``: a duration ("30m", "1h", "1d", "7d", "2w", "90s";
    a ``datetime.timedelta``, ``numpy.timedelta64`` or ``pandas.Timedelta``)
    for a time column, or a positive number for a numeric column.

    >>> parse_every("1d").width == 86400 * 10**9, parse_every("90m").text
    (True, '90m')
    >>> parse_every(2.5).kind
    'number'
    """
    if isinstance(every, (bool, np.bool_)) or every is None:
        raise ValueError(f"every must be a duration such as '1d', '1h', '30m' or a "
                         f"positive number, got {every!r}")
    if isinstance(every, str):
        m = _EVERY.match(every)
        if m is None:
            if _NUMBER.match(every):
                return parse_every(float(every) if any(c in every for c in ".eE")
                                   else int(every))
            raise ValueError(f"every {every!r} is not a duration: write a number and a "
                             "unit s, m, h, d or w, such as '1d', '6h', '30m' or '7d'")
        ns = float(m.group(1)) * _NS[m.group(2).lower()]
        return _time_axis(ns, every)
    if isinstance(every, np.timedelta64):
        if np.isnat(every):
            raise ValueError("every is NaT; give a duration such as '1d'")
        return _time_axis(float(every.astype("timedelta64[ns]").astype(np.int64)), every)
    if isinstance(every, _dt.timedelta) or hasattr(every, "total_seconds"):
        seconds = every.total_seconds()
        return _time_axis(float(seconds) * 1e9, every)
    if isinstance(every, (int, np.integer, float, np.floating)):
        x = float(every)
        if not math.isfinite(x) or x <= 0:
            raise ValueError(f"every must be positive and finite, got {every!r}")
        w: int | float = int(every) if isinstance(every, (int, np.integer)) else x
        return Axis("number", w, f"{w:g}")
    raise TypeError(f"every must be a duration (such as '1d' or a datetime.timedelta) or a "
                    f"number, got {type(every).__name__}")


def _time_axis(ns: float, given: object) -> Axis:
    if not math.isfinite(ns) or ns < 1e9 or abs(ns - round(ns / 1e9) * 1e9) > 0.5:
        raise ValueError(f"every {given!r}: a time bucket must be a whole number of "
                         "seconds, at least 1 s (such as '1d', '6h', '30m', '90s')")
    whole = round(ns / 1e9) * 10**9
    return Axis("time", whole, _duration_text(whole))


def rows_axis(chunk_rows: object) -> Axis:
    """The axis of ``chunk_rows`` consecutive rows per chunk."""
    if isinstance(chunk_rows, (bool, np.bool_)) or not isinstance(
            chunk_rows, (int, np.integer)) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    return Axis("rows", int(chunk_rows), str(int(chunk_rows)))


# ------------------------------------------------------------------ the by column
def _pyarrow_ticks(col: Any, name: str) -> tuple[str, np.ndarray, np.ndarray]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.dictionary_decode()
        t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        col = _parse_iso(col, name)
        t = col.type
    valid = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        if pa.types.is_timestamp(t):
            scale = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[t.unit]
            raw = pc.cast(col, pa.int64())
        elif pa.types.is_date32(t):
            scale, raw = _DAY, pc.cast(col, pa.int32()).cast(pa.int64())
        else:
            scale, raw = 10**6, pc.cast(col, pa.int64())
        ticks = np.asarray(raw.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
        return "time", ticks * scale, valid
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        values = np.asarray(col.to_numpy(zero_copy_only=False))
        if values.dtype.kind == "f":
            valid &= ~np.isnan(values)
        return "number", values, valid
    raise TypeError(f"by column {name!r} holds {t}, not times: --by needs a timestamp or "
                    "date column, ISO 8601 text, or numbers with a numeric --every")


def _parse_iso(col: Any, name: str) -> Any:
    """ISO 8601 text as timestamps: naive ("2026-03-01", "2026-03-01 13:30") read
    as UTC, or with a zone ("...T13:30:00Z", "+02:00") at their UTC instant."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for t in (pa.timestamp("ns"), pa.timestamp("ns", tz="UTC")):
        try:
            return pc.cast(col, t)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    first = next((v for v in col.to_pylist() if v is not None), None)
    raise TypeError(f"by column {name!r} holds text that is not ISO 8601 times (such as "
                    f"{first!r}): --by needs a timestamp or date column, or text such as "
                    "'2026-03-01' or '2026-03-01T13:30:00Z' (all with a zone or none); "
                    "parse other text first (e.g. pandas.to_datetime with a format)")


def ticks(col: Any, name: str) -> tuple[str, np.ndarray, np.ndarray]:
    """(kind, values, valid) of a ``by`` column: kind "time" with int64
    nanoseconds since the epoch (UTC), or "number" with the numbers."""
    if hasattr(col, "type") and hasattr(col, "null_count"):  # pyarrow
        return _pyarrow_ticks(col, name)
    dtype = getattr(col, "dtype", None)
    if dtype is not None and hasattr(col, "iloc"):  # pandas Series
        if getattr(dtype, "tz", None) is not None:
            col = col.dt.tz_convert("UTC").dt.tz_localize(None)
        elif not isinstance(dtype, np.dtype):  # Arrow-backed and extension dtypes
            try:
                import pyarrow as pa

                return _pyarrow_ticks(pa.array(col, from_pandas=True), name)
            except (ImportError, TypeError, ValueError):
                pass
        col = col.to_numpy()
    arr = np.asarray(col)
    if arr.ndim != 1:
        raise ValueError(f"by column {name!r} must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind == "M":
        valid = ~np.isnat(arr)
        return "time", arr.astype("datetime64[ns]").view(np.int64).copy(), valid
    if arr.dtype.kind in "iu":
        return "number", arr, np.ones(arr.size, dtype=bool)
    if arr.dtype.kind == "f":
        return "number", arr, ~np.isnan(arr)
    if arr.dtype.kind in "OU":  # text (or datetime objects): through Arrow
        try:
            import pyarrow as pa

            parsed = pa.array(arr, from_pandas=True)
        except ImportError:
            raise TypeError(f"by column {name!r} holds objects or text: reading times from "
                            "text needs pyarrow (pip install pyarrow)") from None
        except (TypeError, ValueError, pa.ArrowException):
            raise TypeError(f"by column {name!r} holds objects of mixed types, not "
                            "times") from None
        return _pyarrow_ticks(parsed, name)
    raise TypeError(f"by column {name!r} holds {arr.dtype}, not times: --by needs a "
                    "timestamp or date column, ISO 8601 text, or numbers with a numeric "
                    "--every")


def bucket_ids(axis: Axis, kind: str, values: np.ndarray, name: str) -> np.ndarray:
    """The bucket of every row (int64), for a ``by`` column of ``kind``."""
    if kind != axis.kind:
        if kind == "time":
            raise ValueError(f"every={axis.text} is a number but by column {name!r} holds "
                             "times: give a duration such as '1d', '6h' or '30m'")
        raise ValueError(f"every={axis.text} is a duration but by column {name!r} holds "
                         "numbers, not times: give a number, or a timestamp column")
    if kind == "time":
        return np.floor_divide(values, np.int64(axis.width))
    if values.dtype.kind in "iu" and isinstance(axis.width, int):
        return np.floor_divide(values.astype(np.int64), np.int64(axis.width))
    out = np.floor(values.astype(np.float64) / axis.width)
    if out.size and not np.all(np.abs(out) < 2.0**62):
        raise ValueError(f"by column {name!r}: values too large for buckets of "
                         f"{axis.text}; use a larger every")
    return out.astype(np.int64)
