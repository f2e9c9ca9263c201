"""Hashing a directory tree: the walk, the ignore patterns, and
:func:`hash_tree`, which hashes the files on the thread pool."""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
import threading
from typing import Any, Callable, Sequence

from fastmlops._core.parallel import in_pool_thread, n_workers, parallel_map
from fastmlops.fingerprint._algorithms import (CONSTRUCTORS, PathArg, Progress, check_algorithm,
                                               check_progress, fspath)
from fastmlops.fingerprint._file import Cancelled, hash_fd, open_regular
from fastmlops.fingerprint._manifest import Manifest, ManifestEntry


def _check_patterns(ignore: Sequence[str]) -> tuple[str, ...]:
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
                link = os.readlink(entry.path)
                hasher = CONSTRUCTORS[algorithm]()
                hasher.update(link)
                links.append(ManifestEntry(rel, len(link), hasher.hexdigest(), "symlink"))
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
    def __init__(self, progress: Progress, total: int) -> None:
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


def hash_tree(path: PathArg, algorithm: str = "sha256", *, ignore: Sequence[str] = (),
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
    algorithm = check_algorithm(algorithm)
    check_progress(progress)
    patterns = _check_patterns(ignore)
    root = os.fsencode(fspath(path))
    if not os.path.exists(root):
        raise FileNotFoundError(errno.ENOENT, "no such directory", os.fsdecode(root))
    if not os.path.isdir(root):
        raise NotADirectoryError(errno.ENOTDIR, "not a directory; use hash_file() for a "
                                 "single file", os.fsdecode(root))
    files, links = _walk(root, algorithm, bool(follow_symlinks), bool(include_hidden),
                         patterns)
    sizes = [size for _, _, size in files]
    order = sorted(range(len(files)), key=lambda i: -sizes[i])
    total = sum(sizes)
    shared = _SharedProgress(progress, total) if progress is not None else None
    lanes = min(n_workers(), len(files)) if not in_pool_thread() else 1
    pipelined = lanes == 1 and n_workers() > 1 and not in_pool_thread()
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
                fd = open_regular(abspath)
                try:
                    cb = shared.file_callback() if shared is not None else None
                    digest, size = hash_fd(fd, algorithm, os.fsdecode(abspath), cb,
                                           pipelined, cancel=cancel)
                finally:
                    os.close(fd)
            except Cancelled:  # another lane failed and raises its own error
                return
            except BaseException:
                cancel.set()
                raise
            results[i] = ManifestEntry(rel, size, digest, "file")

    if progress is not None:  # also for a tree without files: (0, 0)
        progress(0, total)
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

