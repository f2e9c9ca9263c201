"""Fingerprints for reproducible ML: file and directory digests, manifests, and
model versions.

* :func:`hash_file` streams one file (or an open binary file object) through
  hashlib or xxhash with a large reused buffer, in constant memory, and refuses
  to return a digest for a file that changed while it was read
  (:class:`FileChangedError`).
* :func:`hash_tree` hashes every file of a directory in parallel on the thread
  pool and returns a :class:`Manifest`: per-file sizes and digests plus one
  digest of the whole tree that depends only on relative paths and contents.
* :class:`ModelVersion` is the 5-tuple that pins a trained model: weights
  fingerprint, data fingerprint, hyper-parameters (hashed canonically),
  environment (captured automatically) and seed.
* :func:`add_cli` registers ``fastmlops fingerprint PATH...`` on an argparse
  parser; its text output is accepted by ``sha256sum -c``.
"""

from __future__ import annotations

import argparse
import errno
import fnmatch
import hashlib
import io
import json
import math
import operator
import os
import platform
import stat
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import xxhash

from fastmlops._core.parallel import _nested, n_workers, parallel_map

__all__ = [
    "ALGORITHMS",
    "FileChangedError",
    "hash_file",
    "hash_tree",
    "Manifest",
    "ManifestEntry",
    "ManifestDiff",
    "ModelVersion",
    "VersionComparison",
    "canonical_json",
    "capture_environment",
    "add_cli",
]

#: Algorithm name -> constructor of a hashlib-style object (``update``/``hexdigest``).
_CONSTRUCTORS: dict[str, Callable[[], Any]] = {
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
    "sha1": hashlib.sha1,
    "md5": hashlib.md5,
    "blake2b": hashlib.blake2b,
    "xxh64": xxhash.xxh64,
    "xxh3_64": xxhash.xxh3_64,
    "xxh3_128": xxhash.xxh3_128,
}
#: The algorithms accepted by :func:`hash_file`, :func:`hash_tree` and the CLI.
ALGORITHMS: tuple[str, ...] = tuple(_CONSTRUCTORS)

# Read size.  Measured on the 2-core development VM (1 GiB file in the page
# cache): 1 MiB reads keep the buffer in L2 and beat 4-8 MiB (xxh3_128 5.5 vs
# 4.9 GB/s); 64 KiB costs 2x for xxh3 in per-call overhead.
BUFFER_SIZE = 1 << 20
# For the slow hashes (sha*, md5, blake2b) files at least this large are read
# by a helper thread while the calling thread hashes, when a core is free for
# it (sha256 1.21 vs 1.08 GB/s).  For xxhash the copy out of the page cache is
# as slow as the hash and the hand-off between cores cost more than it saved
# (xxh3_128 5.4 vs 5.6 GB/s), so xxhash is always read serially.
_PIPELINE_MIN = 8 * BUFFER_SIZE
_PIPELINE_ALGORITHMS = frozenset({"sha256", "sha512", "sha1", "md5", "blake2b"})

_TREE_HEADER = "fastmlops-tree-v1"
_HEX = frozenset("0123456789abcdef")
_MANIFEST_FORMAT = "fastmlops-manifest"

Progress = Callable[[int, "int | None"], Any]


class FileChangedError(RuntimeError):
    """A file changed (size or modification time) while it was being hashed.

    The digest of such a file describes no version of it, so none is returned.
    ``path`` is the file (or ``None`` for a nameless file object).  Hash again
    once the writer has finished, or hash a copy.
    """

    def __init__(self, path: Any, message: str):
        super().__init__(message)
        self.path = path


# ----------------------------------------------------------------- validation
def _check_algorithm(algorithm: Any) -> str:
    if not isinstance(algorithm, str) or algorithm.lower() not in _CONSTRUCTORS:
        raise ValueError(
            f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")
    return algorithm.lower()


def _check_progress(progress: Any) -> None:
    if progress is not None and not callable(progress):
        raise TypeError(
            "progress must be None or a callable progress(bytes_done, bytes_total), "
            f"got {type(progress).__name__}")


def _fspath(path: Any, what: str = "path") -> str:
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(
            f"{what} must be a str or os.PathLike (or, for hash_file, an open binary "
            f"file object), got {type(path).__name__}") from None


# ------------------------------------------------------------- streaming core
def _same(before: os.stat_result, after: os.stat_result) -> bool:
    return (before.st_size == after.st_size and before.st_mtime_ns == after.st_mtime_ns
            and before.st_ino == after.st_ino)


if hasattr(os, "readv"):
    def _readinto_fd(fd: int, buf: bytearray) -> int:
        return os.readv(fd, [buf])
else:  # pragma: no cover - Windows
    def _readinto_fd(fd: int, buf: bytearray) -> int:
        data = os.read(fd, len(buf))
        buf[:len(data)] = data
        return len(data)


class _Cancelled(Exception):
    """Raised in a :func:`hash_tree` worker when another worker failed or the
    caller was interrupted (Ctrl-C): stop after the current buffer."""


def _read_serial(readinto: Callable[[Any], int | None], hasher: Any, progress: Any,
                 total: int | None, cancel: threading.Event | None = None) -> int:
    buf = bytearray(BUFFER_SIZE)
    view = memoryview(buf)
    done = 0
    while True:
        if cancel is not None and cancel.is_set():
            raise _Cancelled
        n = readinto(buf)
        if n is None:  # non-blocking stream with nothing ready
            raise ValueError("the file object is non-blocking and returned no data; "
                             "pass a blocking binary file object")
        if not n:
            return done
        hasher.update(view[:n] if n < BUFFER_SIZE else view)
        done += n
        if progress is not None:
            progress(done, total)


def _read_pipelined(fd: int, hasher: Any, progress: Any, total: int | None,
                    cancel: threading.Event | None = None) -> int:
    """A helper thread reads into one buffer while this thread hashes the other
    (os.readinto-style reads and both hash libraries release the GIL)."""
    import queue

    free: "queue.Queue[bytearray]" = queue.Queue()
    full: "queue.Queue[tuple[bytearray, int] | BaseException]" = queue.Queue()
    for _ in range(3):
        free.put(bytearray(BUFFER_SIZE))
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                buf = free.get()
                if stop.is_set():
                    return
                n = _readinto_fd(fd, buf)
                full.put((buf, n))
                if not n:
                    return
        except BaseException as exc:  # pragma: no cover - I/O errors mid-read
            full.put(exc)

    thread = threading.Thread(target=reader, name="fastmlops-reader", daemon=True)
    thread.start()
    done = 0
    try:
        while True:
            if cancel is not None and cancel.is_set():
                raise _Cancelled
            item = full.get()
            if isinstance(item, BaseException):
                raise item
            buf, n = item
            if not n:
                return done
            hasher.update(memoryview(buf)[:n] if n < BUFFER_SIZE else buf)
            done += n
            free.put(buf)
            if progress is not None:
                progress(done, total)
    finally:
        stop.set()
        free.put(bytearray(0))  # wake the reader if it waits for a buffer
        thread.join()


# Linux file systems whose files are generated by the kernel when read: their
# st_size is 0 (procfs, cgroupfs...) or 4096 (sysfs), whatever they hold, and
# their contents may differ from one read to the next.
_PSEUDO_FS = frozenset({
    "proc", "sysfs", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs",
    "configfs", "pstore", "efivarfs", "binfmt_misc", "fusectl", "selinuxfs",
    "bpf", "rpc_pipefs", "nfsd",
})
_MOUNTINFO = "/proc/self/mountinfo"
_fs_types: dict[int, str] = {}  # st_dev -> file system type, from _MOUNTINFO


def _read_mountinfo() -> dict[int, str]:
    """st_dev -> file system type of every mount (Linux; empty elsewhere)."""
    types: dict[int, str] = {}
    try:
        with open(_MOUNTINFO, "rb") as f:
            text = f.read().decode("utf-8", "surrogateescape")
    except OSError:  # not Linux, or no /proc
        return types
    for line in text.splitlines():
        # "36 35 98:0 /root /mnt opts [optional fields...] - fstype source opts"
        fields = line.split()
        try:
            major, minor = fields[2].split(":")
            fstype = fields[fields.index("-", 6) + 1]
            types[os.makedev(int(major), int(minor))] = fstype
        except (IndexError, ValueError):  # pragma: no cover - malformed line
            continue
    return types


def _pseudo_file(st: os.stat_result) -> bool:
    """True for a file on a kernel pseudo file system (/proc, /sys...), whose
    st_size does not tell its length."""
    if not sys.platform.startswith("linux"):
        return False
    fstype = _fs_types.get(st.st_dev)
    if fstype is None:  # a device not seen yet: (re)read the mount table
        _fs_types.update(_read_mountinfo())
        fstype = _fs_types.setdefault(st.st_dev, "")
    return fstype in _PSEUDO_FS


def _hash_fd(fd: int, algorithm: str, name: Any, progress: Any, pipelined: bool,
             start: int = 0, cancel: threading.Event | None = None) -> tuple[str, int]:
    """Digest and byte count of the regular file open as ``fd`` from ``start``."""
    before = os.fstat(fd)
    if _pseudo_file(before):
        return _hash_pseudo_fd(fd, algorithm, progress, cancel)
    total = max(0, before.st_size - start)
    if hasattr(os, "posix_fadvise"):  # larger read-ahead for files not in the cache
        try:
            os.posix_fadvise(fd, start, 0, os.POSIX_FADV_SEQUENTIAL)
        except OSError:  # pragma: no cover - e.g. some network file systems
            pass
    hasher = _CONSTRUCTORS[algorithm]()
    if progress is not None:
        progress(0, total)
    if pipelined and total >= _PIPELINE_MIN and algorithm in _PIPELINE_ALGORITHMS:
        done = _read_pipelined(fd, hasher, progress, total, cancel)
    else:
        done = _read_serial(lambda b: _readinto_fd(fd, b), hasher, progress, total, cancel)
    after = os.fstat(fd)
    if not _same(before, after) or done != total:
        label = "file object" if name is None else repr(os.fsdecode(name))
        raise FileChangedError(
            name,
            f"{label} changed while it was being hashed (size {before.st_size} -> "
            f"{after.st_size} bytes, {done} read from offset {start}; mtime_ns "
            f"{before.st_mtime_ns} -> {after.st_mtime_ns}); no digest returned. Hash it "
            "again once the writer has finished, or hash a copy.")
    return hasher.hexdigest(), done


def _hash_pseudo_fd(fd: int, algorithm: str, progress: Any,
                    cancel: threading.Event | None) -> tuple[str, int]:
    """A file of /proc, /sys...: read to end of file, as ``sha256sum`` does.

    Its st_size (0 or 4096) says nothing about its length and its modification
    time nothing about its contents, which the kernel generates as they are
    read, so there is no change check: the digest is that of the bytes this
    one pass read.
    """
    hasher = _CONSTRUCTORS[algorithm]()
    if progress is not None:
        progress(0, None)
    done = _read_serial(lambda b: _readinto_fd(fd, b), hasher, progress, None, cancel)
    return hasher.hexdigest(), done


def _open_regular(path: Any) -> int:
    """Open ``path`` read-only, checking it is a regular file (errors name it)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
    except IsADirectoryError:
        raise IsADirectoryError(
            errno.EISDIR, "is a directory; use hash_tree() for directories",
            os.fsdecode(path)) from None
    except FileNotFoundError as exc:
        raise FileNotFoundError(errno.ENOENT, "no such file (or a broken symlink)",
                                os.fsdecode(path)) from exc
    except PermissionError as exc:
        raise PermissionError(errno.EACCES, "permission denied; cannot read",
                              os.fsdecode(path)) from exc
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory; use hash_tree() for "
                                    "directories", os.fsdecode(path))
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(
                f"{os.fsdecode(path)!r} is not a regular file (a FIFO, socket or device); "
                "open it yourself and pass the binary file object to hash_file(), or "
                "exclude it with ignore=")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def hash_file(path: Any, algorithm: str = "sha256", *, progress: Progress | None = None) -> str:
    """Digest of one file, streamed in constant memory.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        A regular file, or a file object opened in binary mode (``open(p, "rb")``,
        ``io.BytesIO``, a pipe...), which is hashed from its current position to
        end of file and left there.
    algorithm : str
        One of :data:`ALGORITHMS`: ``"sha256"`` (default), ``"sha512"``,
        ``"sha1"``, ``"md5"``, ``"blake2b"``, ``"xxh64"``, ``"xxh3_64"``,
        ``"xxh3_128"``.  The result equals ``hashlib.new(algorithm,
        data).hexdigest()`` / ``xxhash.<algorithm>(data).hexdigest()``.
    progress : callable, optional
        Called as ``progress(bytes_done, bytes_total)`` once with 0 before the
        first read and after every buffer (1 MiB).  ``bytes_total`` is ``None``
        for a stream of unknown length.  An exception raised by it aborts.

    Returns
    -------
    str
        The lower-case hexadecimal digest.

    Raises
    ------
    FileChangedError
        The file's size or modification time changed while it was read (checked
        with ``os.fstat`` before and after), or fewer/more bytes were read than
        its size said.  Not for the files of kernel pseudo file systems (see
        Notes).
    FileNotFoundError, IsADirectoryError, PermissionError
        With the offending path in the message.
    ValueError
        Unknown algorithm, or a path that is not a regular file.
    TypeError
        A text-mode file object, or something that is neither path nor file.

    Notes
    -----
    Files are read with ``readv`` into a reused 1 MiB buffer; for the slow
    hashes and files of 8 MiB and more, when a core is free, a helper thread
    reads the next buffer while the calling thread hashes.  ``mmap`` was measured too (faster for xxh3 on
    page-cached files) but a file truncated by another process while mapped
    kills the process with SIGBUS instead of raising :class:`FileChangedError`,
    so it is not used.

    Files of Linux kernel pseudo file systems (``/proc``, ``/sys``, cgroupfs,
    debugfs, tracefs, securityfs, configfs...; recognised by the type of their
    mount in ``/proc/self/mountinfo``) report a size of 0 or 4096 whatever
    they hold, and are generated by the kernel as they are read.  They are
    read to end of file, as ``sha256sum /proc/cpuinfo`` does, without the
    change check (neither their size nor their modification time could show
    a change): the digest is that of the bytes of this one read, which need
    not equal those of the next one (``/proc/self/status`` changes
    constantly).  ``progress`` gets ``bytes_total=None`` for them.  Files of
    every other file system are checked as described above.

    Examples
    --------
    >>> import io, fastmlops
    >>> fastmlops.hash_file(io.BytesIO(b"abc"))
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    >>> fastmlops.hash_file(io.BytesIO(b""), "xxh3_64")
    '2d06800538d394c2'
    """
    algorithm = _check_algorithm(algorithm)
    _check_progress(progress)
    if hasattr(path, "read") or hasattr(path, "readinto"):
        return _hash_fileobj(path, algorithm, progress)
    path = _fspath(path)
    fd = _open_regular(path)
    try:
        return _hash_fd(fd, algorithm, path, progress,
                        pipelined=n_workers() > 1 and not _nested())[0]
    finally:
        os.close(fd)


def _hash_fileobj(fobj: Any, algorithm: str, progress: Any) -> str:
    mode = getattr(fobj, "mode", "b")
    # io's binary classes are binary whatever their ``mode`` says (zipfile's
    # ZipExtFile has mode "r"); for other objects a mode without "b" means text.
    binary = isinstance(fobj, (io.RawIOBase, io.BufferedIOBase))
    if isinstance(fobj, io.TextIOBase) or (not binary and isinstance(mode, str)
                                           and "b" not in mode):
        raise TypeError(
            "hash_file needs a binary file object; this one is in text mode. "
            "Open the file with open(path, 'rb').")
    if getattr(fobj, "closed", False):
        raise ValueError("hash_file got a closed file object; pass an open one")
    readable = getattr(fobj, "readable", None)
    if readable is not None and not readable():
        raise ValueError("hash_file got a file object that is not open for reading; "
                         "open the file with open(path, 'rb')")
    fd = None
    # Only plain file objects read the descriptor's bytes: a wrapper such as
    # gzip.GzipFile has a fileno() too, but it yields other data.
    raw = getattr(fobj, "raw", fobj) if type(fobj) in (io.BufferedReader,
                                                        io.BufferedRandom) else fobj
    if type(raw) is io.FileIO:
        fd = raw.fileno()
    if fd is not None and stat.S_ISREG(os.fstat(fd).st_mode):
        # Raw regular file: read the descriptor directly from the object's position
        # (seek() first flushes any read-ahead of a buffered object), then leave
        # the object at the end.
        pos = fobj.seek(0, io.SEEK_CUR)
        os.lseek(fd, pos, os.SEEK_SET)
        name = getattr(fobj, "name", None)
        name = name if isinstance(name, (str, bytes)) else None
        digest, done = _hash_fd(fd, algorithm, name, progress,
                                pipelined=n_workers() > 1 and not _nested(), start=pos)
        fobj.seek(pos + done)
        return digest
    total = None
    if isinstance(fobj, io.BytesIO):
        total = max(0, len(fobj.getbuffer()) - fobj.tell())
    hasher = _CONSTRUCTORS[algorithm]()
    if progress is not None:
        progress(0, total)
    readinto = getattr(fobj, "readinto", None)
    if readinto is None:
        def readinto(buf: bytearray) -> int | None:
            data = fobj.read(len(buf))
            if data is None:
                return None
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(
                    f"hash_file needs a binary file object; read() returned "
                    f"{type(data).__name__}. Open the file with open(path, 'rb').")
            buf[:len(data)] = data
            return len(data)
    try:
        _read_serial(readinto, hasher, progress, total)
    except TypeError as exc:
        if "binary file object" in str(exc):
            raise
        raise TypeError("hash_file needs a binary file object whose readinto()/read() "
                        f"fill bytes; got {type(fobj).__name__} ({exc}). Open the file "
                        "with open(path, 'rb').") from None
    return hasher.hexdigest()


# ------------------------------------------------------------------- manifests
@dataclass(frozen=True)
class ManifestEntry:
    """One file of a :class:`Manifest`.

    ``path`` is relative with POSIX separators; ``kind`` is ``"file"`` (``size``
    bytes with ``digest``) or ``"symlink"`` (a link not followed: ``size`` and
    ``digest`` are the byte length and digest of its target string, as
    ``os.readlink`` returns it).  ``size`` is a non-negative int and
    ``digest`` lower-case hex; other values raise TypeError or ValueError.
    """

    path: str
    size: int
    digest: str
    kind: str = "file"

    def __post_init__(self) -> None:
        # Checked so that every manifest has a well-defined tree digest (and a
        # hand-edited JSON manifest is refused rather than silently coerced).
        if not isinstance(self.path, str) or not self.path:
            raise TypeError(f"manifest path must be a non-empty str, got {self.path!r}")
        try:
            raw = self.path.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = None
        if raw is None or raw.decode("utf-8", "surrogateescape") != self.path:
            raise ValueError(f"manifest path {self.path!r} is not a file name decoded "
                             "from bytes as UTF-8 with surrogateescape")
        size = self.size
        if not isinstance(size, bool) and not isinstance(size, int):
            try:
                size = operator.index(size)  # numpy integers
            except TypeError:
                pass
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"manifest size of {self.path!r} must be an int, got {size!r}")
        if size < 0:
            raise ValueError(f"manifest size of {self.path!r} is negative ({size})")
        object.__setattr__(self, "size", int(size))
        if (not isinstance(self.digest, str) or not self.digest
                or not set(self.digest) <= _HEX):
            raise ValueError(f"manifest digest of {self.path!r} must be lower-case hex, "
                             f"got {self.digest!r}")
        if self.kind not in ("file", "symlink"):
            raise ValueError(f"manifest kind of {self.path!r} must be 'file' or "
                             f"'symlink', got {self.kind!r}")

    def _line(self) -> bytes:
        raw = self.path.encode("utf-8", "surrogateescape")
        return (f"{self.kind} {self.size} {self.digest} {len(raw)}:".encode("ascii")
                + raw + b"\n")


@dataclass(frozen=True)
class ManifestDiff:
    """What changed from one manifest to another: sorted tuples of paths."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]

    @property
    def identical(self) -> bool:
        """True when no file was added, removed or changed."""
        return not (self.added or self.removed or self.changed)

    def __str__(self) -> str:
        lines = [f"+ {p}" for p in self.added] + [f"- {p}" for p in self.removed]
        lines += [f"~ {p}" for p in self.changed]
        return "\n".join(lines) if lines else "(identical)"


def _sort_key(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def _tree_digest(algorithm: str, entries: Sequence[ManifestEntry]) -> str:
    hasher = _CONSTRUCTORS[algorithm]()
    hasher.update(f"{_TREE_HEADER} {algorithm}\n".encode("ascii"))
    for entry in entries:
        hasher.update(entry._line())
    return hasher.hexdigest()


class Manifest:
    """Per-file sizes and digests of a directory, and one digest of the tree.

    Built by :func:`hash_tree` (or from entries).  Iterating yields the
    :class:`ManifestEntry` objects sorted by the UTF-8 bytes of their paths;
    ``manifest[path]`` looks one up; ``manifest.digest`` is the tree digest
    defined in :func:`hash_tree`.

    Examples
    --------
    >>> from fastmlops.fingerprint import Manifest, ManifestEntry
    >>> m = Manifest("sha256", [ManifestEntry("b.txt", 3, "ab" * 32),
    ...                         ManifestEntry("a.txt", 0, "cd" * 32)])
    >>> [e.path for e in m], len(m), m.total_size
    (['a.txt', 'b.txt'], 2, 3)
    >>> Manifest.from_json(m.to_json()) == m
    True
    """

    def __init__(self, algorithm: str, entries: Iterable[ManifestEntry]):
        self.algorithm = _check_algorithm(algorithm)
        items = sorted(entries, key=lambda e: _sort_key(e.path))
        for a, b in zip(items, items[1:]):
            if a.path == b.path:
                raise ValueError(f"duplicate path {a.path!r} in manifest entries")
        self.entries: tuple[ManifestEntry, ...] = tuple(items)
        self._index = {e.path: e for e in self.entries}
        self.digest: str = _tree_digest(self.algorithm, self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter(self.entries)

    def __contains__(self, path: object) -> bool:
        return path in self._index

    def __getitem__(self, path: str) -> ManifestEntry:
        try:
            return self._index[path]
        except KeyError:
            raise KeyError(f"{path!r} is not in the manifest") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Manifest):
            return NotImplemented
        return self.algorithm == other.algorithm and self.entries == other.entries

    def __hash__(self) -> int:
        return hash((self.algorithm, self.digest))

    def __repr__(self) -> str:
        return (f"Manifest({self.algorithm!r}, {len(self)} entries, "
                f"{self.total_size} bytes, digest={self.digest[:16]}...)")

    @property
    def paths(self) -> list[str]:
        """Relative paths, in manifest order."""
        return [e.path for e in self.entries]

    @property
    def total_size(self) -> int:
        """Sum of the entry sizes in bytes."""
        return sum(e.size for e in self.entries)

    # -------------------------------------------------------------- compare
    def diff(self, other: "Manifest") -> ManifestDiff:
        """Paths added, removed and changed (size, digest or kind) going from
        ``self`` to ``other``.  Both must use the same algorithm."""
        if not isinstance(other, Manifest):
            raise TypeError(f"diff() needs a Manifest, got {type(other).__name__}")
        if other.algorithm != self.algorithm:
            raise ValueError(
                f"cannot compare a {self.algorithm} manifest with a {other.algorithm} one; "
                f"hash both trees with the same algorithm= (e.g. {self.algorithm!r})")
        mine, theirs = self._index, other._index
        key = _sort_key
        return ManifestDiff(
            added=tuple(sorted((p for p in theirs if p not in mine), key=key)),
            removed=tuple(sorted((p for p in mine if p not in theirs), key=key)),
            changed=tuple(sorted((p for p in mine if p in theirs and mine[p] != theirs[p]),
                                 key=key)))

    # ---------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form (see :meth:`to_json`)."""
        return {"format": _MANIFEST_FORMAT, "version": 1, "algorithm": self.algorithm,
                "digest": self.digest, "total_size": self.total_size,
                "files": [{"path": e.path, "size": e.size, "digest": e.digest,
                           "kind": e.kind} for e in self.entries]}

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text: ``{"format", "version", "algorithm", "digest",
        "total_size", "files": [{"path", "size", "digest", "kind"}, ...]}``."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Any) -> "Manifest":
        """Inverse of :meth:`to_dict`; checks the stored tree digest."""
        if not isinstance(data, dict) or data.get("format") != _MANIFEST_FORMAT:
            raise ValueError("not a fastmlops manifest: expected a JSON object with "
                             f"\"format\": \"{_MANIFEST_FORMAT}\"")
        if data.get("version") != 1:
            raise ValueError(f"unsupported manifest version {data.get('version')!r}; "
                             "this fastmlops reads version 1")
        try:
            entries = [ManifestEntry(f["path"], f["size"], f["digest"],
                                     f.get("kind", "file")) for f in data["files"]]
            manifest = cls(data["algorithm"], entries)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed manifest: missing or bad field ({exc})") from None
        stored = data.get("digest")
        if stored is not None and stored != manifest.digest:
            raise ValueError(
                "manifest is corrupt or was edited: its stored digest does not match its "
                "entries; regenerate it with hash_tree()")
        return manifest

    @classmethod
    def from_json(cls, text: str | bytes) -> "Manifest":
        """Inverse of :meth:`to_json`; raises ValueError if the stored tree
        digest does not match the entries, or if ``text`` is not a manifest
        (invalid JSON, not UTF-8, nested too deeply...)."""
        return cls.from_dict(_parse_json(text, "manifest"))

    def save(self, path: Any) -> None:
        """Write :meth:`to_json` to ``path`` (UTF-8)."""
        with open(_fspath(path), "w", encoding="utf-8") as f:
            f.write(self.to_json())
            f.write("\n")

    @classmethod
    def load(cls, path: Any) -> "Manifest":
        """Read a manifest written by :meth:`save`."""
        with open(_fspath(path), encoding="utf-8") as f:
            return cls.from_json(f.read())


def _parse_json(text: Any, what: str) -> Any:
    """``json.loads(text)``, with every way bad input fails as ValueError."""
    try:
        return json.loads(text)
    except RecursionError:  # deeply nested arrays or objects
        raise ValueError(f"not a fastmlops {what}: its JSON is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not valid JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} is not valid JSON: the bytes are not UTF-8 text "
                         f"({exc})") from None
    except ValueError as exc:  # e.g. an integer past sys.get_int_max_str_digits()
        raise ValueError(f"not a fastmlops {what}: {exc}") from None


# ---------------------------------------------------------------- tree walking
def _check_patterns(ignore: Any) -> tuple[str, ...]:
    if isinstance(ignore, (str, bytes)):
        ignore = (ignore,)
    try:
        patterns = tuple(ignore)
    except TypeError:
        raise TypeError("ignore must be a sequence of fnmatch patterns (str), "
                        f"got {type(ignore).__name__}") from None
    for p in patterns:
        if not isinstance(p, str) or not p.strip("/"):
            raise TypeError(f"ignore patterns must be non-empty strings, got {p!r}")
    return patterns


def _ignored(rel: str, name: str, is_dir: bool, patterns: Sequence[str]) -> bool:
    for pat in patterns:
        dir_only = pat.endswith("/")
        if dir_only:
            if not is_dir:
                continue
            pat = pat.rstrip("/")
        target = rel if "/" in pat else name
        if fnmatch.fnmatchcase(target, pat.lstrip("/") if "/" in pat else pat):
            return True
    return False


def _walk(root: bytes, algorithm: str, follow: bool, include_hidden: bool,
          patterns: Sequence[str]) -> tuple[list[tuple[bytes, str, int]], list[ManifestEntry]]:
    """Files to hash as (absolute bytes path, relative str path, size), and
    entries for symlinks that are not followed."""
    files: list[tuple[bytes, str, int]] = []
    links: list[ManifestEntry] = []
    root_st = os.stat(root)
    active = {(root_st.st_dev, root_st.st_ino)}  # directories on the current path
    # Depth first with an explicit stack (no recursion limit on deep trees):
    # ("visit", path, prefix, key) enters a directory, ("leave", key) leaves it.
    stack: list[tuple[Any, ...]] = [("visit", root, "", None)]

    def visit(dirpath: bytes, prefix: str) -> None:
        try:
            with os.scandir(dirpath) as it:
                children = sorted(it, key=lambda e: e.name)
        except PermissionError as exc:
            raise PermissionError(errno.EACCES, "cannot list directory (permission "
                                  "denied); fix its permissions or add it to ignore=",
                                  os.fsdecode(dirpath)) from exc
        subdirs: list[tuple[bytes, str, tuple[int, int]]] = []
        for entry in children:
            name = entry.name.decode("utf-8", "surrogateescape")
            rel = prefix + name
            if not include_hidden and name.startswith("."):
                continue
            if _ignored(rel, name, False, patterns):  # patterns that need no stat
                continue
            if entry.is_symlink() and not follow:
                target = os.readlink(entry.path)
                hasher = _CONSTRUCTORS[algorithm]()
                hasher.update(target)
                links.append(ManifestEntry(rel, len(target), hasher.hexdigest(), "symlink"))
                continue
            try:
                st = entry.stat(follow_symlinks=True)
            except FileNotFoundError:
                target = os.fsdecode(os.readlink(entry.path))
                raise FileNotFoundError(
                    errno.ENOENT, f"broken symlink (target {target!r} does not exist); "
                    "remove it, add it to ignore=, or use follow_symlinks=False",
                    os.fsdecode(entry.path)) from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise OSError(errno.ELOOP, "symlink loop (too many levels of "
                                  "symbolic links); add it to ignore= or use "
                                  "follow_symlinks=False", os.fsdecode(entry.path)) from None
                raise
            if stat.S_ISDIR(st.st_mode):
                if _ignored(rel, name, True, patterns):
                    continue
                key = (st.st_dev, st.st_ino)
                if key in active:
                    raise OSError(errno.ELOOP, "symlink loop: this link points back to "
                                  "one of its own parent directories; add it to ignore= "
                                  "or use follow_symlinks=False", os.fsdecode(entry.path))
                subdirs.append((entry.path, rel + "/", key))
            elif stat.S_ISREG(st.st_mode):
                files.append((entry.path, rel, st.st_size))
            else:
                raise ValueError(
                    f"{os.fsdecode(entry.path)!r} is not a regular file, directory or "
                    "symlink (a FIFO, socket or device), which hash_tree does not read; "
                    f"add {rel!r} to ignore=")

        for path, rel, key in reversed(subdirs):
            stack.append(("leave", key))
            stack.append(("visit", path, rel, key))

    while stack:
        item = stack.pop()
        if item[0] == "leave":
            active.discard(item[1])
            continue
        _, path, prefix, key = item
        if key is not None:
            active.add(key)  # checked against its ancestors when it was listed
        visit(path, prefix)
    return files, links


class _SharedProgress:
    def __init__(self, progress: Progress, total: int):
        self._progress = progress
        self._total = total
        self._done = 0
        self._lock = threading.Lock()

    def file_callback(self) -> Callable[[int, int | None], None]:
        last = [0]

        def cb(done: int, _total: int | None) -> None:
            with self._lock:
                self._done += done - last[0]
                last[0] = done
                self._progress(self._done, self._total)
        return cb


def hash_tree(path: Any, algorithm: str = "sha256", *, ignore: Sequence[str] = (),
              follow_symlinks: bool = False, include_hidden: bool = True,
              progress: Progress | None = None) -> Manifest:
    """Hash every file under a directory, in parallel, into a :class:`Manifest`.

    Parameters
    ----------
    path : str or os.PathLike
        The directory (a symlink to a directory is followed at the top level).
    algorithm : str
        One of :data:`ALGORITHMS`, used for every file and for the tree digest.
    ignore : sequence of str
        fnmatch patterns (``*``, ``?``, ``[seq]``; case-sensitive) for entries to
        leave out.  A pattern without ``/`` is matched against every entry's
        name (``"*.tmp"``, ``"__pycache__"``); a pattern with ``/`` against the
        whole relative POSIX path (``"data/raw/*"``; a leading ``/`` is
        dropped); as in fnmatch (unlike gitignore) ``*`` matches ``/`` too, so
        ``"data/*.csv"`` also leaves out ``data/old/x.csv``.  A trailing ``/``
        restricts it to directories (``"logs/"``).  An ignored directory is
        not entered.
    follow_symlinks : bool
        ``False`` (default): a symlink (to a file, a directory, or nothing) is
        recorded, not followed, as an entry of kind ``"symlink"`` whose size is
        the byte length of its target string (``os.readlink``) and whose digest
        is the digest of that string, so retargeting a link changes the tree
        digest.  ``True``: links
        are followed, a link to a file is hashed as that file, a link to a
        directory is walked; a broken link or a link loop raises an error naming
        it.
    include_hidden : bool
        If False, entries whose name starts with ``.`` (files and whole
        directories) are left out.
    progress : callable, optional
        ``progress(bytes_done, bytes_total)`` over all files: first once as
        ``(0, bytes_total)`` (``(0, 0)`` for a tree without files), then from
        the worker threads, one call at a time, with non-decreasing
        ``bytes_done``.  An exception raised by it aborts.

    Returns
    -------
    Manifest
        Entries sorted by the UTF-8 bytes of their relative paths, and
        ``manifest.digest``.

    Notes
    -----
    The tree digest is ``<algorithm>`` applied to the UTF-8 bytes of::

        fastmlops-tree-v1 <algorithm>\\n
        <kind> <size> <digest> <n>:<path>\\n     (one line per entry)

    where entries are sorted by the bytes of ``path`` (the relative path with
    ``/`` separators, raw file-name bytes on POSIX), ``kind`` is ``file`` or
    ``symlink``, ``size`` is decimal, ``digest`` lower-case hex and ``n`` the
    byte length of ``path`` (so any file name is unambiguous).  It depends on
    nothing else: not on listing order, modification times, permissions,
    locale or where the tree is.  Empty directories contribute nothing.
    Names are their bytes, not Unicode-normalised: ``"\u00e9"`` (NFC) and
    ``"e\u0301"`` (NFD, as macOS file systems may store it) are different
    names (both can exist side by side on Linux), so a tree whose names were
    normalised differently on the way hashes differently.
    Special files (FIFOs, sockets, devices) raise ValueError unless ignored.
    Files are hashed on the thread pool (:func:`fastmlops._core.parallel.n_workers`
    threads, dynamic scheduling, largest files first); a single large file is
    read by a helper thread while the caller hashes.  When one file fails, or
    the caller is interrupted (``KeyboardInterrupt``, Ctrl-C), every worker
    stops after its current 1 MiB buffer, not at the end of its file, and the
    exception propagates.  Files of ``/proc``, ``/sys`` and other kernel
    pseudo file systems are read to end of file (see :func:`hash_file`); the
    manifest records the bytes read as their size.

    Examples
    --------
    >>> import os, tempfile, fastmlops
    >>> d = tempfile.mkdtemp()
    >>> with open(os.path.join(d, "a.txt"), "wb") as f:
    ...     _ = f.write(b"abc")
    >>> m = fastmlops.hash_tree(d)
    >>> [(e.path, e.size, e.digest[:8]) for e in m]
    [('a.txt', 3, 'ba7816bf')]
    >>> len(m.digest)
    64
    """
    algorithm = _check_algorithm(algorithm)
    _check_progress(progress)
    patterns = _check_patterns(ignore)
    root = os.fsencode(_fspath(path))
    if not os.path.exists(root):
        raise FileNotFoundError(errno.ENOENT, "no such directory", os.fsdecode(root))
    if not os.path.isdir(root):
        raise NotADirectoryError(errno.ENOTDIR, "not a directory; use hash_file() for a "
                                 "single file", os.fsdecode(root))
    files, links = _walk(root, algorithm, bool(follow_symlinks), bool(include_hidden),
                         patterns)
    sizes = [size for _, _, size in files]
    order = sorted(range(len(files)), key=lambda i: -sizes[i])
    shared = _SharedProgress(progress, sum(sizes)) if progress is not None else None
    lanes = min(n_workers(), len(files)) if not _nested() else 1
    pipelined = lanes == 1 and n_workers() > 1 and not _nested()
    next_index = iter(order)
    lock = threading.Lock()
    results: list[ManifestEntry | None] = [None] * len(files)
    # Set when a worker fails or the caller is interrupted (Ctrl-C): the other
    # workers stop after their current buffer, not at the end of their file.
    cancel = threading.Event()

    def lane(_: int) -> None:
        while True:
            with lock:
                if cancel.is_set():
                    return
                i = next(next_index, None)
            if i is None:
                return
            abspath, rel, _ = files[i]
            try:
                fd = _open_regular(abspath)
                try:
                    cb = shared.file_callback() if shared is not None else None
                    digest, size = _hash_fd(fd, algorithm, os.fsdecode(abspath), cb,
                                            pipelined, cancel=cancel)
                finally:
                    os.close(fd)
            except _Cancelled:  # another lane failed and raises its own error
                return
            except BaseException:
                cancel.set()
                raise
            results[i] = ManifestEntry(rel, size, digest, "file")

    if progress is not None:  # also for a tree without files: (0, 0)
        progress(0, shared._total)
    if files:
        try:
            parallel_map(lane, range(max(1, lanes)))
        except BaseException:
            # E.g. KeyboardInterrupt while this thread waited for the pool's
            # lanes: stop them too (they would otherwise hash on, and be
            # waited for at interpreter exit).
            cancel.set()
            raise
        if cancel.is_set():  # pragma: no cover - a failing lane always raises
            raise RuntimeError("hash_tree was cancelled")
    return Manifest(algorithm, [e for e in results if e is not None] + links)


# --------------------------------------------------------------- model version
def _canonical(value: Any, where: str, active: set[int] | None = None) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"hyper-parameter {where} is {value!r}; NaN and infinities "
                             "have no JSON form: use None or a string such as 'inf'")
        return int(value) if value.is_integer() else float(value)
    if isinstance(value, (dict, list, tuple)):
        active = set() if active is None else active
        if id(value) in active:
            raise ValueError(f"hyper-parameter {where} contains itself (a circular "
                             "reference), which has no JSON form")
        active.add(id(value))
        try:
            if isinstance(value, dict):
                out = {}
                for k, v in value.items():
                    if not isinstance(k, str):
                        raise TypeError(
                            f"hyper-parameter keys must be str; {where} has key {k!r} "
                            f"({type(k).__name__}): convert it with str()")
                    out[k] = _canonical(v, f"{where}[{k!r}]", active)
                return out
            return [_canonical(v, f"{where}[{i}]", active) for i, v in enumerate(value)]
        finally:
            active.discard(id(value))
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        item = value.item()
        if type(item).__module__ != "numpy":  # long double's item() is itself
            return _canonical(item, where, active)
    raise TypeError(
        f"hyper-parameter {where} is a {type(value).__name__} ({value!r}), which has no "
        "canonical JSON form; use None, bool, int, float, str, lists or dicts with str "
        "keys (e.g. str(value), float(value) or value.tolist())")


def canonical_json(value: Any) -> str:
    """Canonical JSON of nested hyper-parameters: keys sorted, no spaces, ASCII,
    integral floats written as integers (``1.0`` -> ``1``, ``-0.0`` -> ``0``),
    tuples as lists, numpy scalars as the Python value they hold.

    Booleans stay booleans: ``True`` and ``1`` are different hyper-parameters
    (``{"shuffle": True}`` is not ``{"shuffle": 1}``), although Python's
    ``True == 1``.  Strings are taken as they are (no Unicode normalisation).

    Raises TypeError for values JSON cannot represent (sets, bytes, arrays,
    ``numpy.longdouble``, non-str keys), ValueError for NaN/inf, for a
    container that contains itself and for nesting deeper than Python's
    recursion limit allows.

    Examples
    --------
    >>> from fastmlops.fingerprint import canonical_json
    >>> canonical_json({"lr": 1e-3, "epochs": 10.0, "layers": (64, 32)})
    '{"epochs":10,"layers":[64,32],"lr":0.001}'
    """
    try:
        return json.dumps(_canonical(value, "value"), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=True, allow_nan=False)
    except RecursionError:
        raise ValueError("hyper-parameters are nested too deeply for canonical JSON; "
                         "flatten them") from None


_CPU_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512dq",
              "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
              "sha_ni", "aes", "asimd", "sve", "sve2")
_DEFAULT_PACKAGES = ("numpy", "scipy", "numba", "xxhash", "fastmlops")


def _cpu_info() -> dict[str, Any]:
    info: dict[str, Any] = {"machine": platform.machine(), "count": os.cpu_count()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read(1 << 20)
    except OSError:
        return info
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("flags", "Features"):
            flags.update(value.split())
        elif key == "model name" and "model" not in info:
            info["model"] = value.strip()
    info["flags"] = [f for f in _CPU_FLAGS if f in flags]
    return info


def _cuda_info(packages: Sequence[str]) -> dict[str, Any] | None:
    info: dict[str, Any] = {}
    for var in ("CUDA_VERSION", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"):
        if os.environ.get(var):
            info[var] = os.environ[var]
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8") as f:
            info["driver"] = f.readline().strip()
    except OSError:
        pass
    torch = sys.modules.get("torch")
    if torch is None and "torch" in packages:
        try:
            import torch  # type: ignore[no-redef]  # asked for explicitly
        except Exception:  # pragma: no cover - broken install
            torch = None
    if torch is not None:
        try:
            info["torch_cuda"] = torch.version.cuda
            info["torch_cuda_available"] = bool(torch.cuda.is_available())
        except Exception:  # pragma: no cover
            pass
    return info or None


def capture_environment(packages: Sequence[str] = ()) -> dict[str, Any]:
    """The environment part of a :class:`ModelVersion`, as a JSON-able dict.

    Python version and implementation, OS and machine, CPU model and SIMD
    flags (from ``/proc/cpuinfo`` on Linux), versions (``importlib.metadata``;
    ``None`` if not installed) of numpy, scipy, numba, xxhash, fastmlops and of
    ``packages``, and CUDA hints (``CUDA_*`` variables, the NVIDIA driver file,
    and torch's CUDA version only if torch is already imported or asked for).
    Nothing heavy is imported unless named in ``packages``.
    """
    from importlib import metadata

    if isinstance(packages, str):
        packages = (packages,)
    names = list(dict.fromkeys([*_DEFAULT_PACKAGES, *packages]))
    versions: dict[str, str | None] = {}
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError(f"packages must be distribution names (str), got {name!r}")
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": platform.system(),
        "platform": sys.platform,
        "cpu": _cpu_info(),
        "packages": versions,
        "cuda": _cuda_info(names),
    }


_FIELDS = ("weights", "data", "hyperparameters", "environment", "seed")


def _fingerprint(value: Any, what: str, algorithm: str) -> str:
    """``"<algorithm>:<hex>"`` for a path / Manifest, or a given digest, checked."""
    if isinstance(value, Manifest):
        return f"{value.algorithm}:{value.digest}"
    if isinstance(value, (str, os.PathLike)) and not isinstance(value, bytes):
        text = os.fspath(value)
        if os.path.isdir(text):
            return f"{algorithm}:{hash_tree(text, algorithm).digest}"
        if os.path.exists(text):
            return f"{algorithm}:{hash_file(text, algorithm)}"
        if isinstance(value, str):
            alg, sep, hexpart = text.lower().rpartition(":")
            if ((not sep or alg in _CONSTRUCTORS) and len(hexpart) >= 16
                    and set(hexpart) <= _HEX):
                return text.lower()
        raise ValueError(
            f"{what}={value!r} is neither an existing file or directory nor a digest "
            "('<hex>' or '<algorithm>:<hex>', e.g. from hash_file()); check the path")
    raise TypeError(f"{what} must be a path, a Manifest or a digest string, got "
                    f"{type(value).__name__}")


def _drift_digest(value: Any) -> str:
    """A drift reference's digest: ``"<algorithm>:<hex>"`` (lower case)."""
    if not isinstance(value, str):
        raise TypeError(f"drift_reference must be a digest string such as 'sha256:<hex>' "
                        f"(DriftReference.digest), got {type(value).__name__} {value!r}")
    alg, sep, hexpart = value.lower().rpartition(":")
    if not (sep and alg in _CONSTRUCTORS and len(hexpart) >= 16 and set(hexpart) <= _HEX):
        raise ValueError(f"drift_reference must be a digest such as 'sha256:<hex>' "
                         f"(DriftReference.digest), got {value!r}")
    return value.lower()


@dataclass(frozen=True)
class VersionComparison:
    """Result of :meth:`ModelVersion.compare`.

    ``differences`` lists the differing fields among ``weights``, ``data``,
    ``hyperparameters``, ``environment``, ``seed`` and ``drift_reference``
    (in that order; ``drift_reference`` differs when one version has a
    drift reference the other lacks, or a different one);
    ``environment_differences`` the differing top-level environment keys.
    """

    differences: tuple[str, ...]
    environment_differences: tuple[str, ...] = ()

    @property
    def reproducible(self) -> bool:
        """True when all five parts (and ``drift_reference``) match."""
        return not self.differences

    def __str__(self) -> str:
        if self.reproducible:
            return "reproducible: all five parts match"
        extra = (f" (environment: {', '.join(self.environment_differences)})"
                 if self.environment_differences else "")
        return f"not reproducible: {', '.join(self.differences)} differ{extra}"


@dataclass(frozen=True)
class ModelVersion:
    """What pins a trained model: (weights, data, hyper-parameters, environment, seed).

    ``weights`` and ``data`` are fingerprints (``"<algorithm>:<hex>"`` or a bare
    hex digest); ``hyperparameters`` is stored in canonical form (see
    :func:`canonical_json`); ``environment`` as :func:`capture_environment`
    returns it; ``seed`` an int (a numpy integer is converted).  Build one with
    :meth:`create`.  ``digest`` is the SHA-256 of the canonical JSON of all
    five, a single version id.

    ``drift_reference`` (optional) is the digest of the drift baseline the
    model was trained with (:attr:`fastmlops.DriftReference.digest`, e.g.
    ``"sha256:<hex>"``), so that the model and its baseline are versioned
    together: check it with ``DriftReference.load(path,
    expected_digest=version.drift_reference)``.  When set it is part of
    ``digest``, :meth:`compare` (as the difference ``"drift_reference"``),
    ``==`` and the JSON; when it is None (the default) none of them mention
    it, so a version without one has the same digest and JSON as before the
    field existed.  Two versions are equal (``==``, and then hash
    alike) exactly when :meth:`compare` finds no difference: by canonical form,
    so ``{"shuffle": True}`` does not equal ``{"shuffle": 1}``.

    Examples
    --------
    >>> from fastmlops.fingerprint import ModelVersion
    >>> env = {"python": "3.11"}
    >>> a = ModelVersion.create(weights="sha256:" + "0" * 64, data="md5:" + "1" * 32,
    ...                         hyperparameters={"lr": 0.1, "epochs": 10},
    ...                         seed=7, environment=env)
    >>> b = ModelVersion.create(weights="sha256:" + "0" * 64, data="md5:" + "1" * 32,
    ...                         hyperparameters={"epochs": 10.0, "lr": 0.1},
    ...                         seed=8, environment=env)
    >>> a.hyperparameters_digest == b.hyperparameters_digest
    True
    >>> result = a.compare(b)
    >>> result.differences, result.reproducible
    (('seed',), False)
    """

    weights: str
    data: str
    hyperparameters: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    seed: int = 0
    drift_reference: str | None = None

    def __post_init__(self) -> None:
        for name in ("weights", "data"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise TypeError(f"{name} must be a fingerprint string, got {value!r}")
        if self.drift_reference is not None:
            object.__setattr__(self, "drift_reference",
                               _drift_digest(self.drift_reference))
        if not isinstance(self.hyperparameters, dict):
            raise TypeError("hyperparameters must be a dict, got "
                            f"{type(self.hyperparameters).__name__}")
        if not isinstance(self.environment, dict):
            raise TypeError(f"environment must be a dict, got {type(self.environment).__name__}")
        seed = self.seed
        if not isinstance(seed, int) and type(seed).__module__ == "numpy":
            try:  # numpy integer scalars (rng.integers(...)) are integers too
                seed = operator.index(seed)
            except TypeError:
                pass
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {self.seed!r}; pass the integer "
                            "seed the training run used")
        object.__setattr__(self, "seed", int(seed))
        object.__setattr__(self, "hyperparameters",
                           json.loads(canonical_json(self.hyperparameters)))
        object.__setattr__(self, "environment", json.loads(canonical_json(self.environment)))

    @classmethod
    def create(cls, *, weights: Any, data: Any, hyperparameters: dict | None = None,
               seed: int, packages: Sequence[str] = (), algorithm: str = "sha256",
               environment: dict | None = None,
               drift_reference: Any = None) -> "ModelVersion":
        """A version from paths or digests, capturing the environment.

        ``weights`` / ``data``: a file (hashed with :func:`hash_file`), a
        directory (:func:`hash_tree` digest), a :class:`Manifest`, or a digest
        string.  ``packages``: extra distributions whose versions to record.
        ``environment``: pass one to skip automatic capture.
        ``drift_reference``: the drift baseline's digest string, or any object
        with a ``.digest`` string (a :class:`fastmlops.DriftReference`).

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> from fastmlops.fingerprint import ModelVersion
        >>> baseline = SimpleNamespace(digest="sha256:" + "2" * 64)  # a DriftReference
        >>> v = ModelVersion.create(weights="sha256:" + "0" * 64, data="md5:" + "1" * 32,
        ...                         seed=7, environment={}, drift_reference=baseline)
        >>> v.drift_reference == baseline.digest
        True
        """
        algorithm = _check_algorithm(algorithm)
        if drift_reference is not None and not isinstance(drift_reference, str):
            digest = getattr(drift_reference, "digest", None)
            if not isinstance(digest, str):
                raise TypeError(
                    "drift_reference must be a digest string ('sha256:<hex>') or an object "
                    f"with a .digest string such as a DriftReference, got "
                    f"{type(drift_reference).__name__}")
            drift_reference = digest
        if environment is None:
            environment = capture_environment(packages)
        return cls(weights=_fingerprint(weights, "weights", algorithm),
                   data=_fingerprint(data, "data", algorithm),
                   hyperparameters={} if hyperparameters is None else hyperparameters,
                   environment=environment, seed=seed, drift_reference=drift_reference)

    @property
    def hyperparameters_digest(self) -> str:
        """SHA-256 of the canonical JSON of the hyper-parameters."""
        return hashlib.sha256(canonical_json(self.hyperparameters).encode()).hexdigest()

    @property
    def environment_digest(self) -> str:
        """SHA-256 of the canonical JSON of the environment."""
        return hashlib.sha256(canonical_json(self.environment).encode()).hexdigest()

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON of all five parts (and of
        ``drift_reference`` when it is set)."""
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()

    def compare(self, other: "ModelVersion") -> VersionComparison:
        """Which of the five parts differ from ``other``."""
        if not isinstance(other, ModelVersion):
            raise TypeError(f"compare() needs a ModelVersion, got {type(other).__name__}")
        diffs = []
        for name in _FIELDS:
            a, b = getattr(self, name), getattr(other, name)
            if name in ("hyperparameters", "environment"):
                a, b = canonical_json(a), canonical_json(b)
            if a != b:
                diffs.append(name)
        if self.drift_reference != other.drift_reference:
            diffs.append("drift_reference")
        env_keys = sorted(set(self.environment) | set(other.environment))
        env_diffs = tuple(k for k in env_keys
                          if canonical_json(self.environment.get(k))
                          != canonical_json(other.environment.get(k)))
        return VersionComparison(tuple(diffs), env_diffs)

    def __eq__(self, other: object) -> bool:
        # By canonical form, as compare() and digest: the dataclass default would
        # compare the dicts with Python's ==, where True == 1.
        if not isinstance(other, ModelVersion):
            return NotImplemented
        return canonical_json(self.to_dict()) == canonical_json(other.to_dict())

    def __hash__(self) -> int:
        return hash(self.digest)

    def to_dict(self) -> dict[str, Any]:
        """The five parts as a JSON-able dict (and ``drift_reference`` when set)."""
        out = {"weights": self.weights, "data": self.data,
               "hyperparameters": self.hyperparameters, "environment": self.environment,
               "seed": self.seed}
        if self.drift_reference is not None:  # absent otherwise: older digests stay
            out["drift_reference"] = self.drift_reference
        return out

    def to_json(self, indent: int | None = 2) -> str:
        """JSON with the five parts, ``drift_reference`` when set, and ``digest``."""
        return json.dumps({"format": "fastmlops-model-version", "version": 1,
                           **self.to_dict(), "digest": self.digest},
                          indent=indent, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> "ModelVersion":
        """Inverse of :meth:`to_json`; checks the stored digest."""
        data = _parse_json(text, "model version")
        if not isinstance(data, dict) or data.get("format") != "fastmlops-model-version":
            raise ValueError("not a fastmlops model version: expected a JSON object with "
                             "\"format\": \"fastmlops-model-version\"")
        try:
            version = cls(**{name: data[name] for name in _FIELDS},
                          drift_reference=data.get("drift_reference"))
        except KeyError as exc:
            raise ValueError(f"model version JSON lacks the field {exc}") from None
        except TypeError as exc:
            raise ValueError(f"malformed model version JSON: {exc}") from None
        if data.get("digest") not in (None, version.digest):
            raise ValueError("model version JSON is corrupt or was edited: its digest "
                             "does not match its contents")
        return version

    def save(self, path: Any) -> None:
        with open(_fspath(path), "w", encoding="utf-8") as f:
            f.write(self.to_json())
            f.write("\n")

    @classmethod
    def load(cls, path: Any) -> "ModelVersion":
        with open(_fspath(path), encoding="utf-8") as f:
            return cls.from_json(f.read())


# ------------------------------------------------------------------------- CLI
# A bar redrawn with carriage returns on a terminal, plain lines in a log.
from fastmlops._core.progress import ProgressBar as _ProgressBar  # noqa: E402


def _checksum_line(digest: str, path: str) -> str:
    """A ``sha256sum``-style line, escaped the way GNU coreutils does: a name with
    a backslash or newline gets a leading ``\\`` on the line and those two
    characters written as ``\\\\`` and ``\\n``."""
    if "\\" in path or "\n" in path:
        path = path.replace("\\", "\\\\").replace("\n", "\\n")
        return f"\\{digest}  {path}"
    return f"{digest}  {path}"


def _write(stream: Any, text: str) -> None:
    """Write ``text``; a file name that is not valid in the stream's encoding
    (e.g. non-UTF-8 bytes, held as surrogates) is written as its raw bytes
    when the stream has a binary ``buffer``, as ``sha256sum`` does, else with
    the undecodable bytes shown as ``\\xNN``."""
    try:
        stream.write(text)
        return
    except UnicodeEncodeError:
        pass
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        buffer.write(text.encode(getattr(stream, "encoding", None) or "utf-8",
                                 "surrogateescape"))
        buffer.flush()
    else:
        stream.write(text.encode("utf-8", "surrogateescape")
                     .decode("ascii", "backslashreplace"))


def cmd_fingerprint(args: argparse.Namespace) -> int:
    """Handler of ``fastmlops fingerprint``; returns the exit status (1 if any
    path failed, as ``sha256sum`` does)."""
    algorithm = _check_algorithm(args.algorithm)
    out = getattr(args, "stdout", None) or sys.stdout
    err = getattr(args, "stderr", None) or sys.stderr
    if getattr(args, "check", None) is not None:
        from fastmlops.cli._check import run_check

        return run_check(args, algorithm, out, err)
    status = 0
    single_tree: Manifest | None = None
    entries: list[ManifestEntry] = []
    for raw in args.paths:
        bar = _ProgressBar(raw, err) if args.progress else None
        try:
            if os.path.isdir(raw):
                manifest = hash_tree(raw, algorithm, ignore=args.ignore or (),
                                     follow_symlinks=args.follow_symlinks, progress=bar)
                if len(args.paths) == 1:
                    single_tree = manifest
                prefix = raw if raw.endswith("/") else raw + "/"
                for e in manifest:
                    entries.append(ManifestEntry(prefix + e.path, e.size, e.digest, e.kind))
            else:
                fd = _open_regular(raw)
                try:
                    digest, size = _hash_fd(fd, algorithm, raw, bar, pipelined=n_workers() > 1)
                finally:
                    os.close(fd)
                entries.append(ManifestEntry(raw, size, digest))
        except (OSError, FileChangedError, ValueError) as exc:
            if bar is not None:
                bar.close()
            _write(err, f"fastmlops fingerprint: error: {exc}\n")
            status = 1
            continue
        if bar is not None:
            bar.close()
        if not args.json:
            for e in entries:
                if e.kind == "symlink":
                    _write(err, f"fastmlops fingerprint: {e.path}: symlink not followed "
                                "(use --follow-symlinks to hash its target)\n")
                else:
                    _write(out, _checksum_line(e.digest, e.path) + "\n")
            entries.clear()
    if args.json:
        if single_tree is not None:
            manifest = single_tree
        else:  # a file named twice (or also inside a named directory) is listed once
            unique: dict[str, ManifestEntry] = {}
            for e in entries:
                if unique.setdefault(e.path, e) != e:
                    _write(err, f"fastmlops fingerprint: error: {e.path}: changed "
                                "between two reads\n")
                    status = 1
            manifest = Manifest(algorithm, unique.values())
        if status:  # never a manifest that looks complete when a path failed
            _write(err, "fastmlops fingerprint: error: no manifest written, "
                        "since not every path could be hashed\n")
        else:
            out.write(manifest.to_json() + "\n")
    out.flush()
    return status


def add_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``fingerprint`` on an ``argparse`` subparsers object.

    ``fastmlops fingerprint PATH... [--algorithm sha256] [--json] [--progress]
    [--ignore PATTERN]... [--follow-symlinks]`` prints ``<hex>  <path>`` per file
    (every file inside a directory), which ``sha256sum -c`` / ``md5sum -c``
    accept, or with ``--json`` one manifest (for a single directory the
    :func:`hash_tree` manifest, else a manifest of the printed paths).  The
    handler is :func:`cmd_fingerprint`, set as ``func``.
    """
    parser = subparsers.add_parser(
        "fingerprint", help="sha256sum-style digests of files and directory trees",
        description="Digest files and directories (in parallel); the text output is "
                    "accepted by sha256sum -c.")
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="files or directories (with --check: the directory the "
                             "manifest's paths are relative to, default: .)")
    parser.add_argument("--check", "-c", metavar="MANIFEST", default=None,
                        help="verify against MANIFEST (a --json manifest or checksum lines) "
                             "instead of printing digests; exit status 1 on any difference")
    parser.add_argument("--quiet", action="store_true",
                        help="with --check: print only the files that differ")
    parser.add_argument("--algorithm", "-a", default="sha256", choices=ALGORITHMS,
                        help="digest algorithm (default: sha256)")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON manifest instead of checksum lines")
    parser.add_argument("--progress", action="store_true",
                        help="show progress on stderr (a bar on a terminal, a line "
                             "every few seconds otherwise)")
    parser.add_argument("--ignore", action="append", metavar="PATTERN",
                        help="fnmatch pattern to leave out inside directories (repeatable)")
    parser.add_argument("--follow-symlinks", action="store_true",
                        help="hash the targets of symlinks inside directories")
    parser.set_defaults(func=cmd_fingerprint)
    return parser
