"""The file format of a saved :class:`~fastmlops.DriftReference` (version 1).

Documented for other tools in ``docs/reference-format.md``.  In short::

    bytes 0-7    magic  b"FMLDREF\\n"
    bytes 8-11   uint32 little-endian format version (1)
    bytes 12-15  uint32 flags (0)
    bytes 16-23  uint64 little-endian length H of the header
    bytes 24-    the header: H bytes of UTF-8 JSON
    then         zero padding to a multiple of 64, and the arrays ("sections"),
                 each raw little-endian and 64-byte aligned, where the header
                 says (offset from the start of the file, byte count, dtype,
                 shape, SHA-256).

The header's ``digest`` is ``"sha256:"`` + the SHA-256 of the canonical JSON
(sorted keys, no spaces) of the header without its ``digest`` and
``written_by`` keys and without the sections' offsets.  The header holds
every section's SHA-256 and XXH3-128, so the digest covers every value; it
does not depend on the fastmlops version that wrote the file.

Loading checks the header's SHA-256 and every section's XXH3-128 (about
8 GB/s on one core: a 1e6 x 100 float64 reference loads in about 0.3 s),
which catches truncation, corruption and accidental edits.  XXH3 is not a
cryptographic hash: against deliberate tampering, load with
``verify="sha256"`` (every section's SHA-256, about 1 GB/s per core), which is
also the default when an ``expected_digest`` pins the reference.  Loading never
unpickles or evaluates anything: it reads JSON and raw numbers, checks every
bound and digest, and refuses anything else.

What no digest can vouch for is checked too (a file whose digests were
recomputed after an edit passes them): the header is at most
:data:`MAX_HEADER_BYTES` (checked before it is read; a pinned digest is looked
for before it is parsed), keys are exactly the format's (none repeated), every
count is an int in ``[0, MAX_ROWS]`` and the counts agree with each other and
with the stored values.  Only regular files are read or replaced (no FIFO,
device or symbolic link).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import re
import secrets
import struct
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, Union

import numpy as np

from fastmlops.drift.categories import CategoryMap
from fastmlops.drift.columns import GRID, CategoricalColumn, ColumnModel, NumericColumn
from fastmlops.drift.files import check_output_file, open_regular

if TYPE_CHECKING:
    from fastmlops.drift._reference import DriftReference

#: A file path as ``open`` takes it.
Path = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
R = TypeVar("R", bound="DriftReference")

MAGIC = b"FMLDREF\n"
VERSION = 1
_PREFIX = struct.Struct("<8sIIQ")
_ALIGN = 64
_DTYPES: dict[str, np.dtype[Any]] = {"<f8": np.dtype(np.float64), "<f4": np.dtype(np.float32),
                                     "<i8": np.dtype(np.int64), "<u8": np.dtype(np.uint64)}


def _not_a_reference(path: Path, why: str) -> ValueError:
    return ValueError(f"{os.fspath(path)!s}: not a valid fastmlops drift reference ({why}); "
                      "write references with DriftReference.save")


def _le(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.astype(a.dtype.newbyteorder("<"), copy=False)


def _layout(ref: DriftReference) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The header (without digest, offsets and section digests) and the arrays."""
    arrays: list[np.ndarray] = []

    def section(a: np.ndarray) -> int:
        arrays.append(_le(a))
        return len(arrays) - 1

    columns = []
    for name, kind, col in zip(ref.columns, ref.kinds, ref.column_models):
        entry: dict[str, Any] = {"name": name, "kind": kind, "n_missing": int(col.n_missing)}
        if isinstance(col, NumericColumn):
            entry["sections"] = {"values": section(col.sorted_values),
                                 "edges": section(col.edges), "counts": section(col.counts),
                                 "grid": section(col.grid)}
        else:
            meta, counts = col.categories.to_arrays()
            entry["categories"] = meta
            entry["sections"] = {"counts": section(counts)}
        columns.append(entry)
    header = {
        "format": "fastmlops.drift_reference",
        "version": VERSION,
        "n_rows": int(ref.n_rows),
        "params": {"bins": ref.bins, "eps": ref.eps, "alpha": ref.alpha,
                   "drift_share": ref.drift_share, "nan_increase": ref.nan_increase,
                   "correction": ref.correction, "max_categories": ref.max_categories},
        "columns": columns,
    }
    return header, arrays


def _hash_all(buffers: list[memoryview], algorithm: str = "sha256") -> list[str]:
    """SHA-256 or XXH3-128 of each buffer, on the worker threads (both release
    the GIL for large buffers)."""
    from fastmlops._core.parallel import parallel_map

    if algorithm == "sha256":
        return list(parallel_map(lambda b: hashlib.sha256(b).hexdigest(), buffers))
    import xxhash

    return list(parallel_map(lambda b: xxhash.xxh3_128(b).hexdigest(), buffers))


def _digests(arrays: list[np.ndarray]) -> list[tuple[str, str]]:
    views = [a.data.cast("B") for a in arrays]
    return list(zip(_hash_all(views, "sha256"), _hash_all(views, "xxh3")))


def _canonical(header: dict) -> bytes:
    body = {k: v for k, v in header.items() if k not in ("digest", "written_by")}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _sections(arrays: list[np.ndarray], digests: list[tuple[str, str]],
              start: int) -> list[dict]:
    out = []
    offset = start
    for a, (sha, xxh) in zip(arrays, digests):
        offset = -(-offset // _ALIGN) * _ALIGN
        out.append({"offset": offset, "nbytes": int(a.nbytes), "dtype": a.dtype.str,
                    "shape": [int(a.size)], "sha256": sha, "xxh3_128": xxh})
        offset += a.nbytes
    return out


def content_digest(ref: DriftReference) -> str:
    header, arrays = _layout(ref)
    header["sections"] = _sections(arrays, _digests(arrays), 0)
    for s in header["sections"]:  # offsets depend on the header's length: not content
        del s["offset"]
    return "sha256:" + hashlib.sha256(_canonical(header)).hexdigest()


def _final_header(header: dict, arrays: list[np.ndarray],
                  digests: list[tuple[str, str]]) -> bytes:
    """Header bytes with section offsets; the offsets depend on the header's own
    length, so grow the estimate until it is stable."""
    import fastmlops

    guess = 0
    while True:
        h = dict(header)
        h["sections"] = _sections(arrays, digests, _PREFIX.size + guess)
        covered = dict(h)
        covered["sections"] = [{k: v for k, v in s.items() if k != "offset"}
                               for s in h["sections"]]
        h["digest"] = "sha256:" + hashlib.sha256(_canonical(covered)).hexdigest()
        h["written_by"] = f"fastmlops {fastmlops.__version__}"
        raw = json.dumps(h, separators=(",", ":"), allow_nan=False).encode()
        if len(raw) <= guess:
            return raw + b" " * (guess - len(raw))
        guess = -(-(len(raw) + 256) // _ALIGN) * _ALIGN - _PREFIX.size


def save(ref: DriftReference, path: Path) -> str:
    path = os.fsdecode(path)
    check_output_file(path, "drift reference")  # before the work: a FIFO, link, device...
    header, arrays = _layout(ref)
    raw = _final_header(header, arrays, _digests(arrays))
    if len(raw) > MAX_HEADER_BYTES:
        raise ValueError(
            f"cannot save the reference to {path}: its header would take "
            f"{len(raw) / 2**20:.1f} MiB, more than the {MAX_HEADER_BYTES >> 20} MiB a "
            "reference file may hold (about 40,000 numeric columns); save the columns "
            "as several references")
    parsed = json.loads(raw)
    tmp = f"{path}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) \
        | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, 0o666)  # a new file, never something planted at that name
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_PREFIX.pack(MAGIC, VERSION, 0, len(raw)))
            fh.write(raw)
            for a, s in zip(arrays, parsed["sections"]):
                fh.write(b"\0" * (s["offset"] - fh.tell()))
                fh.write(a.data.cast("B"))
        check_output_file(path, "drift reference")  # still not special (it was made meanwhile?)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    ref._digest = parsed["digest"]
    return ref._digest


# ------------------------------------------------------------------ loading
#: The largest header loaded (and saved): 32 MiB, about 40,000 numeric columns
#: (a numeric column takes about 830 bytes of header).  Parsing JSON costs
#: Python objects: about 5 times the header for a real one, up to about 25
#: times for a hostile one (``[{},{},...]``), so the cap bounds what a file
#: can make a loader allocate before any check (about 0.8 GB at worst).
MAX_HEADER_BYTES = 32 << 20
#: The largest row count (and count) a reference may hold: 2**53 (about 9e15
#: rows, far beyond any table that fits in memory); every count is exact in
#: float64 and sums of counts cannot overflow int64.
MAX_ROWS = 1 << 53
_TOP_KEYS = frozenset({"format", "version", "n_rows", "params", "columns", "sections", "digest"})
_PARAM_KEYS = frozenset({"bins", "eps", "alpha", "drift_share", "nan_increase", "correction",
                         "max_categories"})
_SECTION_KEYS = frozenset({"offset", "nbytes", "dtype", "shape", "sha256", "xxh3_128"})
_COLUMN_SECTIONS = {"numeric": frozenset({"values", "edges", "counts", "grid"}),
                    "categorical": frozenset({"counts"})}
_COLUMN_KEYS = {"numeric": frozenset({"name", "kind", "n_missing", "sections"}),
                "categorical": frozenset({"name", "kind", "n_missing", "sections",
                                          "categories"})}
_CATEGORY_KEYS = frozenset({"format", "name", "kind", "categories", "other", "missing",
                            "n_distinct", "max_categories"})
_DIGEST_IN_HEADER = re.compile(rb'"digest"\s*:\s*"(sha256:[0-9a-f]{64})"')
_HEX = {"sha256": re.compile(r"[0-9a-f]{64}"), "xxh3_128": re.compile(r"[0-9a-f]{32}")}


def _expect(cond: bool, path: Path, why: str) -> None:
    if not cond:
        raise _not_a_reference(path, why)


def _int(x: object, high: int = MAX_ROWS) -> bool:
    """An int (not a bool) in ``[0, high]``."""
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= high


class _RepeatedKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: a JSON object, refusing repeated keys (the digest
    sees the last one, another reader might keep the first)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _RepeatedKey(k)
            seen.add(k)
    return obj


def _read_header(fh: BinaryIO, path: Path, size: int, expected_digest: str | None) -> dict:
    """The parsed header, after the checks that need no parsing: the prefix,
    the header's size (at most :data:`MAX_HEADER_BYTES`, checked before it is
    read) and, when ``expected_digest`` pins the reference, that the header
    names that digest (checked before it is parsed)."""
    prefix = fh.read(_PREFIX.size)
    _expect(len(prefix) == _PREFIX.size, path, "file too short")
    magic, version, _flags, hlen = _PREFIX.unpack(prefix)
    _expect(magic == MAGIC, path, "it does not start with the reference magic bytes")
    if version > VERSION:
        raise ValueError(f"{os.fspath(path)!s} was written in drift reference format "
                         f"version {version}; this fastmlops reads version {VERSION}: "
                         "upgrade fastmlops to load it")
    _expect(version == VERSION, path, f"unknown format version {version}")
    _expect(hlen <= size - _PREFIX.size, path, "truncated header")
    _expect(hlen <= MAX_HEADER_BYTES, path, f"its header of {hlen:,} bytes is larger than "
            f"the {MAX_HEADER_BYTES >> 20} MiB the format allows")
    raw = fh.read(hlen)
    _expect(len(raw) == hlen, path, "truncated header")
    if expected_digest is not None:  # a valid file names its digest as a plain string
        named = _DIGEST_IN_HEADER.findall(raw)
        if expected_digest.encode("utf-8", "replace") not in named:
            held = (f"holds reference {named[0].decode()}" if named
                    else "names no digest in its header")
            raise ValueError(f"{os.fspath(path)!s} {held}, not the expected reference "
                             f"{expected_digest}")
    try:
        header = json.loads(raw, object_pairs_hook=_unique_keys)
    except _RepeatedKey as exc:
        raise _not_a_reference(path, f"its header has a duplicate key {exc.args[0]!r}") \
            from None
    except (ValueError, RecursionError):
        raise _not_a_reference(path, "its header is not valid JSON") from None
    _expect(isinstance(header, dict) and header.get("format") == "fastmlops.drift_reference"
            and type(header.get("version")) is int and header["version"] == VERSION, path,
            "wrong header")
    keys = set(header) - {"written_by"}
    _expect(keys == _TOP_KEYS and isinstance(header.get("written_by", ""), str), path,
            f"unexpected header keys {sorted(keys ^ _TOP_KEYS)}")
    return header


def _check_sections(sections: object, path: Path, start: int, size: int) -> None:
    _expect(isinstance(sections, list), path, "no sections")
    assert isinstance(sections, list)
    for s in sections:
        _expect(isinstance(s, dict) and set(s) == _SECTION_KEYS and _int(s["offset"], size)
                and _int(s["nbytes"], size) and s["dtype"] in _DTYPES
                and isinstance(s["shape"], list) and len(s["shape"]) == 1
                and _int(s["shape"][0], size)
                and all(isinstance(s[k], str) and p.fullmatch(s[k]) for k, p in _HEX.items()),
                path, "malformed section")
        _expect(s["shape"][0] * np.dtype(s["dtype"]).itemsize == s["nbytes"], path,
                "section size does not match its shape")
        _expect(s["offset"] % _ALIGN == 0, path, "a section is not 64-byte aligned")
        _expect(s["offset"] >= start and s["offset"] + s["nbytes"] <= size,
                path, "truncated file: a section ends past the end of the file")


def load(cls: type[R], path: Path, expected_digest: str | None,
         verify: str | None = None) -> R:

    if expected_digest is not None and not isinstance(expected_digest, str):
        raise TypeError(f"expected_digest must be a 'sha256:<hex>' string, got {expected_digest!r}")
    if verify is None:
        verify = "xxh3" if expected_digest is None else "sha256"
    if verify not in ("xxh3", "sha256"):
        raise ValueError(f"verify must be 'xxh3' or 'sha256', got {verify!r}")
    with open_regular(os.fsdecode(path), "a drift reference is memory-mapped from a regular file: "
                      "save it to a file first") as fh:
        size = os.fstat(fh.fileno()).st_size
        header = _read_header(fh, path, size, expected_digest)
        sections = header["sections"]
        _check_sections(sections, path, fh.tell(), size)
        covered = {k: v for k, v in header.items()}
        covered["sections"] = [{k: v for k, v in s.items() if k != "offset"} for s in sections]
        try:
            digest = "sha256:" + hashlib.sha256(_canonical(covered)).hexdigest()
        except (TypeError, ValueError):
            raise _not_a_reference(path, "its header holds non-JSON values") from None
        _expect(header["digest"] == digest, path, "the header does not match its digest "
                "(altered or corrupted)")
        if expected_digest is not None and digest != expected_digest:
            raise ValueError(f"{os.fspath(path)!s} holds reference {digest}, not the expected "
                             f"{expected_digest}")
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)  # size > 0: read a prefix
    arrays = [np.frombuffer(mm, dtype=_DTYPES[s["dtype"]], count=s["shape"][0],
                            offset=s["offset"]) for s in sections]
    key = "sha256" if verify == "sha256" else "xxh3_128"
    got = _hash_all([memoryview(mm)[s["offset"]:s["offset"] + s["nbytes"]] for s in sections],
                    verify)
    bad = [i for i, (s, h) in enumerate(zip(sections, got)) if s[key] != h]
    _expect(not bad, path, f"{len(bad)} data section(s) do not match their digests "
            "(altered or corrupted)")
    try:
        return _rebuild(cls, header, arrays, path)
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        raise _not_a_reference(path, f"inconsistent header: {exc!r}") from None


def _params(header: dict[str, Any], path: Path) -> dict[str, Any]:
    params = header["params"]
    _expect(isinstance(params, dict) and set(params) == _PARAM_KEYS, path,
            "bad parameters")
    _expect(_int(params["bins"]) and _int(params["max_categories"])
            and isinstance(params["correction"], str)
            and all(isinstance(params[k], (int, float)) and not isinstance(params[k], bool)
                    for k in ("eps", "alpha", "nan_increase"))
            and (params["drift_share"] is None  # the default table rule (Holm)
                 or isinstance(params["drift_share"], (int, float))
                 and not isinstance(params["drift_share"], bool)),
            path, "bad parameters")
    return params


def _rebuild(cls: type[R], header: dict[str, Any], arrays: list[np.ndarray], path: Path) -> R:
    params = _params(header, path)
    ref = object.__new__(cls)
    try:
        ref._set_params(**params)
    except (TypeError, ValueError) as exc:
        raise _not_a_reference(path, f"bad parameters: {exc}") from None
    n_rows = header["n_rows"]
    _expect(_int(n_rows) and n_rows > 0, path, f"bad row count (at most {MAX_ROWS:,})")
    ref.n_rows = n_rows
    ref.columns, ref.kinds, ref.column_models = [], [], []
    columns = header["columns"]
    _expect(isinstance(columns, list) and len(columns) > 0, path, "no columns")
    names, used = set(), []
    for entry in columns:
        _expect(isinstance(entry, dict) and entry.get("kind") in _COLUMN_KEYS, path,
                "bad column entry")
        kind: str = entry["kind"]
        _expect(set(entry) == _COLUMN_KEYS[kind], path, "bad column entry")
        name, n_missing, where = entry["name"], entry["n_missing"], entry["sections"]
        _expect(isinstance(name, str) and name not in names and _int(n_missing, n_rows)
                and isinstance(where, dict) and set(where) == _COLUMN_SECTIONS[kind]
                and all(_int(i, len(arrays) - 1) for i in where.values()),
                path, "bad column entry")
        names.add(name)
        used += where.values()
        sec = {k: arrays[i] for k, i in where.items()}
        col: ColumnModel = (_numeric(name, sec, n_missing, n_rows, ref.bins, path)
                            if kind == "numeric" else
                            _categorical(name, entry["categories"], sec["counts"], n_missing,
                                         n_rows, ref.max_categories, path))
        ref.columns.append(name)
        ref.kinds.append(kind)
        ref.column_models.append(col)
    _expect(sorted(used) == list(range(len(arrays))), path,
            "the columns do not use every section exactly once")
    ref._digest = header["digest"]
    return ref


def _numeric(name: str, sec: dict[str, np.ndarray], n_missing: int, n_rows: int, bins: int,
             path: Path) -> NumericColumn:
    values, edges, counts, grid = sec["values"], sec["edges"], sec["counts"], sec["grid"]
    _expect(values.size + n_missing == n_rows and values.size > 0, path,
            f"column {name!r}: sizes do not add up")
    _expect(edges.dtype == np.float64 and grid.dtype == np.float64
            and counts.dtype == np.int64 and counts.size == edges.size + 1
            # at most bins - 1 interior edges, and the two outer ones (files saved
            # before those existed hold the interior ones only, and still load)
            and edges.size <= bins + 1 and grid.size <= GRID, path, f"column {name!r}: bad bins")
    _expect(_is_sorted(values), path, f"column {name!r}: values not sorted")
    _expect(_are_edges(edges) and _are_edges(grid), path,
            f"column {name!r}: bin edges not increasing")
    _expect(np.array_equal(counts, _sorted_bin_counts(values, edges)), path,
            f"column {name!r}: bad bins (the counts are not those of its values)")
    return NumericColumn(values, n_missing, edges, counts, grid)


def _categorical(name: str, meta: object, counts: np.ndarray, n_missing: int, n_rows: int,
                 max_categories: int, path: Path) -> CategoricalColumn:
    bad = f"column {name!r}: impossible categories"
    _expect(isinstance(meta, dict) and set(meta) == _CATEGORY_KEYS, path, bad)
    assert isinstance(meta, dict)
    cats, other, n_distinct = meta["categories"], meta["other"], meta["n_distinct"]
    _expect(meta["name"] == name and meta["max_categories"] == max_categories
            and _int(other, n_rows) and _int(meta["missing"], n_rows) and _int(n_distinct)
            and isinstance(cats, list) and len(cats) <= max_categories
            and counts.dtype == np.int64 and counts.size == len(cats), path, bad)
    if meta["kind"] == "int":
        _expect(all(isinstance(v, int) and -(1 << 63) <= v < (1 << 64) for v in cats), path,
                f"column {name!r}: an integer category outside int64/uint64")
    try:
        cmap = CategoryMap.from_arrays(meta, counts)
    except ValueError as exc:
        raise _not_a_reference(path, f"column {name!r}: {exc}") from None
    kept = len(cats)
    _expect(bool(counts.size == 0 or (counts.min() >= 1 and counts.max() <= n_rows
                                      and (counts[1:] <= counts[:-1]).all())), path,
            f"column {name!r}: impossible category counts (each kept category is counted "
            "at least once, most frequent first)")
    if n_distinct > kept:  # truncated: the rest is "other", each at most as frequent
        _expect(kept == max_categories and n_distinct - kept <= other
                <= (n_distinct - kept) * int(counts[-1]), path, bad)
    else:
        _expect(other == 0, path, bad)
    _expect(_exact_sum(counts) + other + cmap.missing == n_rows and cmap.missing == n_missing
            and n_missing < n_rows, path, f"column {name!r}: sizes do not add up")
    return CategoricalColumn(cmap, n_missing)


def _exact_sum(a: np.ndarray) -> int:
    """The sum of counts in ``[0, MAX_ROWS]``, without int64 overflow."""
    step = 1 << 9  # 512 * 2**53 < 2**63
    return sum(int(a[i:i + step].sum()) for i in range(0, a.size, step))


def _sorted_bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The PSI bin counts of sorted ``values`` (as ``divergence.bin_counts``
    counts them: compared in float64, bin ``k`` below ``edges[k]``) in
    ``O(bins log n)`` for float64, one chunked pass otherwise."""
    if values.dtype == np.float64:
        below = np.searchsorted(values, edges, side="left")
    else:
        below = np.zeros(edges.size, dtype=np.int64)
        step = 1 << 20
        for i in range(0, values.size, step):
            below += np.searchsorted(values[i:i + step].astype(np.float64), edges, side="left")
    return np.diff(np.concatenate([[0], below, [values.size]])).astype(np.int64)


def _are_edges(a: np.ndarray) -> bool:
    """Strictly increasing, then NaN edges if any (what ``edges_from_sorted``
    makes of a reference holding both infinities)."""
    finite = int(np.searchsorted(np.isnan(a), True)) if a.size else 0
    head = a[:finite]
    return bool(np.isnan(a[finite:]).all() and (head[1:] > head[:-1]).all())


def _is_sorted(a: np.ndarray) -> bool:
    """Sorted ascending without NaN (a chunked check: no n-sized temporary)."""
    if a.dtype.kind == "f" and a.size and (np.isnan(a[0]) or np.isnan(a[-1])):
        return False
    step = 1 << 20
    for i in range(0, max(a.size - 1, 0), step):
        x = a[i:i + step + 1]
        if not (x[1:] >= x[:-1]).all():  # NaN inside compares False
            return False
    return True
