"""The header of :mod:`fastmlops.metrics`' segments and the mapping of a
segment (anonymous, or a metric file): creating, opening and checking it.

A file mapped with ``MAP_SHARED`` that another process truncates (``truncate
-s 0``, ``ftruncate``) raises SIGBUS at the first access to a page beyond its
new end, which kills the process: Python cannot recover from it.  So every
pass over a file's mapping (a write of one series, one scrape of one metric)
first checks, with :func:`file_problem`, that the file is still as long as
the mapping (one ``fstat``, about half a microsecond) and still has its
header; a file that fails is refused for good (:class:`SegmentRefused`).  A
truncation in the microseconds between that check and the end of the pass
is not caught: only the file's owner (and root) can truncate it (mode 0600).
"""

from __future__ import annotations

import functools
import mmap
import os
import tempfile
from typing import Callable, TypeVar

import numpy as np

from fastmlops.metrics._files import check_directory, open_file, segment_path

__all__ = ["HEADER_WORDS", "MAGIC", "META_AT", "METRIC_DEFINITION", "VERSION", "SegmentRefused",
           "file_problem", "open_segment", "skip_refused", "write_header"]

_FILE_MODE = 0o600          # metric files: readable by their owner only
MAGIC = 0x31434952_54454D46  # "FMETRIC1"
VERSION = 4  # 3: a gauge row holds (value, written); 4: generations, exemplars
H_MAGIC, H_VERSION, H_KIND, H_WIDTH, H_SLOTS, H_SERIES, H_NSERIES, H_HASH, \
    H_META_LEN = range(9)
HEADER_WORDS = 2048        # 16 KiB: the fields above, then the definition as JSON
META_AT = 128              # byte offset of that JSON (name, help, labels, buckets, ...)
MAX_META = HEADER_WORDS * 8 - META_AT
KINDS = {"counter": 1, "gauge": 2, "histogram": 3}
#: What a writer of segments is called, and what its definition is made of, in
#: the error raised when a name is taken by another definition.
METRIC_DEFINITION = ("metric", "type, labels, buckets, max_series or max_processes")
_T = TypeVar("_T")
_S = TypeVar("_S")


class SegmentRefused(ValueError):
    """A metric file that can no longer be used (truncated or overwritten by
    another process): its values are dropped and it is left out of scrapes."""


def skip_refused(collect: Callable[[_S], list[_T]]) -> Callable[[_S], list[_T]]:
    """A collector's ``collect`` that returns nothing for a refused segment
    (the refusal was logged once), so that a scrape still shows every other
    metric of the registry."""
    @functools.wraps(collect)
    def guarded(self: _S) -> list[_T]:
        try:
            return collect(self)
        except SegmentRefused:
            return []
    return guarded


def file_problem(mm: mmap.mmap, size: int, header: bool = True) -> str | None:
    """What makes the file mapped by ``mm`` (``size`` bytes) unsafe to use
    (None: nothing): shorter than the mapping, or (``header``) without its
    header's magic number."""
    try:
        actual = mm.size()  # fstat of the mapping's own descriptor
    except (OSError, ValueError) as exc:
        return f"cannot be checked ({exc})"
    if actual < size:
        return f"was truncated to {actual} bytes (its mapping needs {size})"
    if header and int.from_bytes(mm[:8], "little") != MAGIC:
        return "was overwritten (its header is gone)"
    return None


def open_segment(name: str, kind: str, shape: tuple[int, int, int], size: int, digest: int,
                 directory: str | None, meta: bytes, read_only: bool = False,
                 defined_by: tuple[str, str] = METRIC_DEFINITION) -> mmap.mmap:
    """The mapping of a segment of ``size`` bytes: anonymous when ``directory``
    is None, else the metric file of ``name`` there, created (fully
    initialised, then published with ``link``) or opened and checked against
    ``kind``, ``shape`` (width, slots, series) and ``digest``."""
    if directory is None:
        mm = mmap.mmap(-1, size, flags=mmap.MAP_SHARED)
        write_header(mm, kind, shape, digest, meta)
        return mm
    check_directory(directory)
    if not read_only:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    path = segment_path(name, directory)
    for _ in range(100):
        try:
            fd = open_file(path, read_only)
        except FileNotFoundError:
            if read_only:
                raise
            # a fresh, unpredictable name (O_EXCL | O_NOFOLLOW, mode 0600) in the
            # same directory (os.link needs that), published fully initialised
            fd, tmp = tempfile.mkstemp(prefix=".fastmlops-", suffix=".tmp", dir=directory)
            try:
                os.fchmod(fd, _FILE_MODE)
                os.ftruncate(fd, size)
                mm = mmap.mmap(fd, size, flags=mmap.MAP_SHARED)
                write_header(mm, kind, shape, digest, meta)
                try:
                    os.link(tmp, path)  # atomic; never replaces an existing name
                except FileExistsError:
                    mm.close()
                    continue
                return mm
            finally:
                os.close(fd)
                os.unlink(tmp)
        try:
            actual = os.fstat(fd).st_size
            if actual < HEADER_WORDS * 8:
                raise ValueError(f"{path} is not a fastmlops metrics file (only {actual} "
                                 "bytes); delete it or use another metrics directory")
            mm = mmap.mmap(fd, actual, flags=mmap.MAP_SHARED,
                           prot=mmap.PROT_READ if read_only else
                           mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        problem = file_problem(mm, actual, header=False)  # shrunk since the fstat?
        if problem is not None:
            mm.close()
            raise ValueError(f"{path} {problem}; delete it (when no process uses it) or use "
                             "another metrics directory")
        header = np.frombuffer(mm, dtype=np.uint64, count=HEADER_WORDS)
        expected = (MAGIC, VERSION, KINDS[kind], *shape)
        found = tuple(int(header[i]) for i in (H_MAGIC, H_VERSION, H_KIND, H_WIDTH,
                                               H_SLOTS, H_SERIES))
        if found != expected or int(header[H_HASH]) != digest or actual != size:
            del header
            mm.close()
            what, fields = defined_by
            raise ValueError(
                f"{what} {name!r}: {path} holds a {what} of that name with another "
                f"definition ({fields} differ) or from another fastmlops version; give "
                "every process the same definition, or delete the file (when no process "
                "uses it) or use another metrics directory")
        return mm
    raise RuntimeError(f"could not create or open {path}")  # pragma: no cover


def write_header(mm: mmap.mmap, kind: str, shape: tuple[int, int, int], digest: int,
                 meta: bytes) -> None:
    """Write a new segment's header: its definition ``meta`` (JSON), then the
    fields, the magic number last."""
    mm[META_AT:META_AT + len(meta)] = meta
    header = np.frombuffer(mm, dtype=np.uint64, count=HEADER_WORDS)
    header[H_META_LEN] = len(meta)
    header[H_VERSION] = VERSION
    header[H_KIND] = KINDS[kind]
    header[H_WIDTH], header[H_SLOTS], header[H_SERIES] = shape
    header[H_HASH] = digest
    header[H_MAGIC] = MAGIC
    del header
