"""Process identity and metric files of :mod:`fastmlops.metrics`' segments:
who owns a process slot (and whether it still lives), and opening a metric
file safely (never through a link, only a regular file of this user, in a
directory other users cannot replace files in)."""

from __future__ import annotations

import os
import stat

__all__ = ["alive", "check_directory", "name_max", "open_file", "owner_word", "segment_path",
           "start_time"]

# ------------------------------------------------------- process identity ----

def start_time(pid: int) -> int:
    """Start time of ``pid`` in clock ticks (Linux), 0 elsewhere, -1 if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read()
    except FileNotFoundError:
        return -1
    except OSError:
        return 0
    return int(fields[fields.rindex(b")") + 2:].split()[19])


def owner_word(pid: int) -> int:
    """A slot's owner: the PID in the low 32 bits, the low 32 bits of the
    process start time above, so that a reused PID is not mistaken for the
    process that held the slot."""
    return ((max(start_time(pid), 0) & 0xFFFFFFFF) << 32) | pid


def alive(owner: int) -> bool:
    """Whether the process of the owner word ``owner`` still runs (the same
    process: a reused PID with another start time is not it)."""
    pid = owner & 0xFFFFFFFF
    if pid == os.getpid():
        return owner == owner_word(pid)
    start = start_time(pid)
    if start == -1:
        return False
    if start == 0 and not os.path.exists("/proc/self/stat"):  # no procfs: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return (start & 0xFFFFFFFF) == owner >> 32


# ------------------------------------------------------------------ files ----

def segment_path(name: str, directory: str) -> str:
    """The file of metric ``name`` in ``directory`` (ValueError when the name
    is too long for a file name there)."""
    path = os.path.join(directory, f"{name}.fastmlops")
    limit = name_max(directory)
    if len(os.fsencode(f"{name}.fastmlops")) > limit:
        raise ValueError(
            f"metric name {name[:40]!r}... is too long for a metrics directory: its file "
            f"name would exceed the file system's {limit} bytes; use a name of at most "
            f"{limit - len('.fastmlops')} bytes (or no directory)")
    return path


def name_max(directory: str) -> int:
    """The longest file name ``directory``'s file system takes, in bytes."""
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def check_directory(directory: str) -> None:
    """Refuse a metrics directory that other users may write to without the
    sticky bit: any of them could replace a metric file between two opens."""
    try:
        st = os.stat(directory)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise ValueError(f"metrics directory {directory!r} is not a directory")
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        raise ValueError(
            f"metrics directory {directory!r} is writable by every user and has no sticky "
            "bit, so any local user could replace its metric files; use a directory of "
            f"your own (chmod o-w {directory}) or set its sticky bit (chmod +t)")


def open_file(path: str, read_only: bool) -> int:
    """Open an existing metric file without following a symbolic link, and
    only if it is a regular file of this user (the effective uid), to write
    or to read: another local user could plant files in a shared directory."""
    flags = (os.O_RDONLY if read_only else os.O_RDWR) | getattr(os, "O_NOFOLLOW", 0) | \
        getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", -1) or os.path.islink(path):
            raise ValueError(f"{path} is a symbolic link; metric files are never followed "
                             "through links (delete it)") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise ValueError(f"{path} is not a regular file; delete it")
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        os.close(fd)
        raise ValueError(f"{path} belongs to another user (uid {st.st_uid}); a metric file "
                         "is only written and read by its owner: delete it or use a "
                         "directory of your own")
    return fd
