"""Hashing one file: :func:`hash_file`, the read loops (serial, and pipelined
with a reader thread), the change check and the kernel pseudo file systems.

:func:`fastmlops.fingerprint.hash_tree` hashes each file of a tree with
:func:`hash_fd` of this module, so the read size (``BUFFER_SIZE``), the
pipelining threshold (``_PIPELINE_MIN``) and the read function
(``_readinto_fd``) are looked up here, as module globals, at every call.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import sys
import threading
from typing import BinaryIO, Callable, Union, cast

from fastmlops._core.parallel import in_pool_thread, n_workers
from fastmlops.fingerprint._algorithms import (CONSTRUCTORS, Hasher, PathArg, Progress,
                                               check_algorithm, check_progress, fspath)

#: A file object open for binary reading.
BinaryFile = Union[BinaryIO, io.RawIOBase, io.BufferedIOBase]

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


class FileChangedError(RuntimeError):
    """A file changed (size or modification time) while it was being hashed.

    The digest of such a file describes no version of it, so none is returned.
    ``path`` is the file (or ``None`` for a nameless file object).  Hash again
    once the writer has finished, or hash a copy.
    """

    def __init__(self, path: str | bytes | None, message: str) -> None:
        super().__init__(message)
        self.path = path


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


class Cancelled(Exception):
    """Raised in a :func:`hash_tree` worker when another worker failed or the
    caller was interrupted (Ctrl-C): stop after the current buffer."""


def _read_serial(readinto: Callable[[bytearray], int | None], hasher: Hasher,
                 progress: Progress | None, total: int | None,
                 cancel: threading.Event | None = None) -> int:
    buf = bytearray(BUFFER_SIZE)
    view = memoryview(buf)
    done = 0
    while True:
        if cancel is not None and cancel.is_set():
            raise Cancelled
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


def _read_pipelined(fd: int, hasher: Hasher, progress: Progress | None, total: int | None,
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
                raise Cancelled
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


def hash_fd(fd: int, algorithm: str, name: str | bytes | None, progress: Progress | None,
            pipelined: bool, start: int = 0,
            cancel: threading.Event | None = None) -> tuple[str, int]:
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
    hasher = CONSTRUCTORS[algorithm]()
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


def _hash_pseudo_fd(fd: int, algorithm: str, progress: Progress | None,
                    cancel: threading.Event | None) -> tuple[str, int]:
    """A file of /proc, /sys...: read to end of file, as ``sha256sum`` does.

    Its st_size (0 or 4096) says nothing about its length and its modification
    time nothing about its contents, which the kernel generates as they are
    read, so there is no change check: the digest is that of the bytes this
    one pass read.
    """
    hasher = CONSTRUCTORS[algorithm]()
    if progress is not None:
        progress(0, None)
    done = _read_serial(lambda b: _readinto_fd(fd, b), hasher, progress, None, cancel)
    return hasher.hexdigest(), done


def open_regular(path: str | bytes) -> int:
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


def hash_file(path: PathArg | BinaryFile, algorithm: str = "sha256", *,
              progress: Progress | None = None) -> str:
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
    algorithm = check_algorithm(algorithm)
    check_progress(progress)
    if hasattr(path, "read") or hasattr(path, "readinto"):
        return _hash_fileobj(cast(BinaryFile, path), algorithm, progress)
    path = fspath(path)
    fd = open_regular(path)
    try:
        return hash_fd(fd, algorithm, path, progress,
                       pipelined=n_workers() > 1 and not in_pool_thread())[0]
    finally:
        os.close(fd)


def _hash_fileobj(fobj: BinaryFile, algorithm: str, progress: Progress | None) -> str:
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
        digest, done = hash_fd(fd, algorithm, name, progress,
                               pipelined=n_workers() > 1 and not in_pool_thread(), start=pos)
        fobj.seek(pos + done)
        return digest
    total = None
    if isinstance(fobj, io.BytesIO):
        total = max(0, len(fobj.getbuffer()) - fobj.tell())
    hasher = CONSTRUCTORS[algorithm]()
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


