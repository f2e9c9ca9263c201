"""One flush/exit protocol for every writer of shared memory that buffers in
the process (:mod:`fastmlops.metrics`' families, :class:`~fastmlops.DriftMonitor`):
the background flusher, :func:`flush`, and the hooks that flush a process's
buffers before a fork, at interpreter exit, before ``multiprocessing``'s
``os._exit``, and on SIGTERM (:class:`_Terminator`).

A writer implements :class:`Flushable` and calls :func:`register` once it
is ready to be flushed; it is held weakly (a writer nobody uses any more
leaves by itself).  The protocol covers every way a process ends or forks,
so a new writer cannot forget one:

* **Flushes are serialised.**  :func:`flush` holds one process-wide lock:
  an exit path (``atexit``, ``multiprocessing``'s finaliser before
  ``os._exit``, the SIGTERM watcher) that finds a flush in flight waits for
  it, so it never returns (and lets the process end) while another thread
  holds rows taken out of a buffer but not yet written.
* **Warm before fork.**  :func:`register` runs the writer's ``_warm_up()``
  (imports, compiled kernels: whatever a flush or a scrape needs) in the
  registering thread, so a forked worker (``gunicorn --preload``,
  ``multiprocessing``) starts with everything loaded and pays nothing for it
  on its first request, flush or scrape.  (Not in the flusher thread: two
  threads importing Numba at once can see it partially initialised.)
* **Cheap exits of forked children.**  In a child forked while writers
  exist, the heap inherited from the parent is frozen (:func:`gc.freeze`,
  as CPython's documentation advises for pre-fork servers): the child's
  collections, and its interpreter's final ones, then never walk (and so
  never copy) the parent's pages.  That was most of the cost of a worker's
  exit (about 200 ms with Numba loaded).  ``FASTMLOPS_GC_FREEZE=0`` turns it
  off.

>>> from fastmlops._core import flush as core_flush
>>> class Buffered:
...     def __init__(self) -> None:
...         self.buffer: list[float] = []
...         self.shared: list[float] = []
...     def _flush(self) -> None:
...         n = len(self.buffer)
...         self.shared += self.buffer[:n]
...         del self.buffer[:n]
...     def _after_fork_in_child(self) -> None:
...         self.buffer = []
...     def _warm_up(self) -> None:
...         pass                       # nothing to load
...     def _refresh(self) -> None:
...         pass                       # nothing to compute
>>> writer = Buffered()
>>> core_flush.register(writer)
>>> writer.buffer.append(1.5)
>>> core_flush.flush()
>>> writer.shared
[1.5]
"""

from __future__ import annotations

import atexit
import gc
import importlib
import logging
import os
import signal
import sys
import threading
import weakref
from types import FrameType, ModuleType
from typing import Protocol

import fastmlops._core.parallel  # noqa: F401 - imported here, not in a hot path (see _before_fork)

__all__ = ["FLUSH_INTERVAL", "Flushable", "add_locking_file", "export_interval", "flush",
           "register", "set_flush_interval"]

_log = logging.getLogger("fastmlops.metrics")

#: Seconds between two background flushes of a process's buffers.
FLUSH_INTERVAL = 0.1


class Flushable(Protocol):
    """What the flusher calls on a registered writer.

    Both are hooks of the flusher, not user API (hence the underscores, as
    IPython's ``_repr_html_``):

    * ``_flush()`` moves this process's buffered values into shared memory.
      It runs in the flusher thread, in :func:`flush` (any thread), before a
      fork, at exit and on SIGTERM, so it must take only its own locks and
      leave values appended meanwhile for the next call.
    * ``_after_fork_in_child()`` runs in a forked child, before any other
      code: new locks (the parent's may have been held by another thread at
      the fork), no process slot yet (the parent's is the parent's), empty
      buffers (the parent flushed them before the fork).
    * ``_warm_up()`` loads what a flush and a scrape of this writer need
      (modules, compiled kernels), once, when the writer registers (a
      forked child inherits it loaded).  It must not write shared memory.
    * ``_refresh()`` runs in the flusher thread after each of its periodic
      flushes (never at exit, on SIGTERM or before a fork): work kept off
      the request path, such as figures a scrape then only reads.
    """

    def _flush(self) -> None: ...

    def _after_fork_in_child(self) -> None: ...

    def _warm_up(self) -> None: ...

    def _refresh(self) -> None: ...


class _State:
    """Every registered writer of this process, the flusher thread and the
    fork hooks."""

    def __init__(self) -> None:
        self.writers: weakref.WeakSet[Flushable] = weakref.WeakSet()
        self.lock = threading.Lock()
        # held by flush(): an exit path waits for a flush in flight (reentrant:
        # a writer's _flush may flush another writer)
        self.flush_lock = threading.RLock()
        self.thread: threading.Thread | None = None
        self.wake = threading.Event()
        self.stop = False

    def add(self, writer: Flushable) -> None:
        with self.lock:
            self.writers.add(writer)
            self.start()

    def start(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            self.stop = False
            self.wake = threading.Event()
            self.thread = threading.Thread(target=self.run, name="fastmlops-metrics-flush",
                                           daemon=True)
            self.thread.start()
        _TERMINATOR.install()

    def run(self) -> None:
        wake = self.wake
        while not self.stop:
            wake.wait(FLUSH_INTERVAL)
            wake.clear()  # set_flush_interval() wakes us once, not for ever
            if self.stop:
                break
            try:
                flush()
            except Exception:  # pragma: no cover - a bug; keep serving
                _log.exception("fastmlops.metrics: background flush failed")
            self.refresh()

    def refresh(self) -> None:
        with self.lock:
            writers = list(self.writers)
        for writer in writers:
            if self.stop:
                return
            try:
                writer._refresh()
            except Exception:  # pragma: no cover - a bug; keep serving
                _log.exception("fastmlops: background refresh of %r failed", writer)

    def halt(self) -> None:
        thread = self.thread
        if thread is not None and thread.is_alive():
            self.stop = True
            self.wake.set()
            if thread is not threading.current_thread():
                thread.join()
        self.thread = None


_STATE = _State()


def register(writer: Flushable) -> None:
    """Flush ``writer`` with every other registered writer of this process,
    from now on: every :data:`FLUSH_INTERVAL` seconds (starting the flusher
    thread and the SIGTERM hooks if they are not running), in :func:`flush`,
    before a fork, at exit and on SIGTERM; after a fork, its
    ``_after_fork_in_child`` runs in the child.  Held weakly.  Register a
    writer once it can be flushed (its buffers and shared memory exist):
    its ``_warm_up()`` runs first, here."""
    writer._warm_up()
    _STATE.add(writer)


def add_locking_file(path: str) -> None:
    """Declare that code in the source file ``path`` may hold a lock that a
    flush needs: a SIGTERM that interrupts the main thread there never
    flushes from the interrupted thread (see :func:`_on_sigterm`).  A writer's
    package declares its modules when it is imported."""
    _LOCKING_FILES.add(path)


def flush() -> None:
    """Move this process's buffered observations into shared memory now.

    Runs by itself every :data:`FLUSH_INTERVAL` seconds, before every scrape,
    before a fork and at exit; call it to make values visible to other
    processes at once (tests, a worker about to be killed)."""
    with _STATE.lock:  # a WeakSet must not grow while it is iterated
        writers = list(_STATE.writers)
    error: BaseException | None = None
    with _STATE.flush_lock:  # whoever ends the process waits for a flush in flight
        for writer in writers:  # one writer's failure does not hold back the others
            try:
                writer._flush()
            except Exception as exc:  # pragma: no cover - a bug; reported below
                error = error or exc
    if error is not None:  # pragma: no cover
        raise error


def set_flush_interval(seconds: float) -> None:
    """Set :data:`FLUSH_INTERVAL` (0.01 to 1 s: at most 1 s keeps every
    observation visible to a scrape within a second)."""
    global FLUSH_INTERVAL
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or \
            not 0.01 <= seconds <= 1.0:
        raise ValueError(f"flush interval must be a number of seconds in [0.01, 1], "
                         f"got {seconds!r}")
    FLUSH_INTERVAL = float(seconds)
    for module in _INTERVAL_EXPORTS:  # the documented public names follow
        setattr(module, "FLUSH_INTERVAL", FLUSH_INTERVAL)
    _STATE.wake.set()


_INTERVAL_EXPORTS: list[ModuleType] = []


def export_interval(module: ModuleType) -> None:
    """Keep ``module.FLUSH_INTERVAL`` (a public re-export, such as
    ``fastmlops.metrics.FLUSH_INTERVAL``) equal to :data:`FLUSH_INTERVAL`
    after every :func:`set_flush_interval`."""
    setattr(module, "FLUSH_INTERVAL", FLUSH_INTERVAL)
    if module not in _INTERVAL_EXPORTS:
        _INTERVAL_EXPORTS.append(module)


def _held_compiler_lock() -> threading.RLock | None:
    """Numba's compiler lock when this thread holds it: the fork hook of
    :mod:`fastmlops._kernels._jit` takes it before a fork (and may run before
    :func:`_before_fork`), while the flusher thread may be waiting for it (a
    kernel loaded by a ``_refresh``); None otherwise."""
    module = sys.modules.get("numba.core.compiler_lock")
    lock = getattr(getattr(module, "global_compiler_lock", None), "_lock", None)
    owned = getattr(lock, "_is_owned", None)
    return lock if owned is not None and owned() else None


def _before_fork() -> None:
    # Join the flusher (a refresh in flight finishes first).  If this thread
    # already holds Numba's compiler lock (taken by another fork hook), let
    # the flusher have it meanwhile, and take it back before the fork.
    compiler = _held_compiler_lock()
    if compiler is not None:
        compiler.release()
    try:
        _STATE.halt()
    finally:
        if compiler is not None:
            compiler.acquire()
    # A fork while another thread is importing a module leaves that module's
    # import lock held for ever in the child, whose first use of it hangs.
    # The cheap modules of the hot paths are imported with this one; for the
    # two imported on first use, wait here for an import in progress (never
    # start one: a module first imported inside a fork hook would register
    # fork hooks of its own half-way through this fork).
    for name in ("fastmlops._kernels.metrics", "prometheus_client"):
        if name in sys.modules:
            importlib.import_module(name)
    try:
        flush()
    except Exception:  # pragma: no cover - never block a fork
        _log.exception("fastmlops.metrics: flush before fork failed")


def _after_fork_parent() -> None:
    if _STATE.writers:
        _STATE.start()


def _after_fork_child() -> None:
    _STATE.lock = threading.Lock()
    _STATE.flush_lock = threading.RLock()
    _STATE.thread = None
    _TERMINATOR.after_fork()
    for writer in list(_STATE.writers):
        writer._after_fork_in_child()
    if _STATE.writers:
        if os.environ.get("FASTMLOPS_GC_FREEZE", "1").strip() != "0":
            gc.freeze()  # the parent's heap: never walked (nor copied) by this child
        _STATE.start()


def _mp_child(_: object) -> None:
    # multiprocessing clears its finalizers in a new worker, then runs these
    # after-fork hooks: register the flush it runs before ``os._exit``.
    import multiprocessing.util as mp_util
    mp_util.Finalize(None, flush, exitpriority=-100)


def _at_exit() -> None:
    _STATE.halt()  # no background flush racing interpreter shutdown
    flush()


def _install_hooks() -> None:
    atexit.register(_at_exit)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_parent,
                            after_in_child=_after_fork_child)
    import multiprocessing.util as mp_util
    mp_util.register_after_fork(_STATE, _mp_child)
    # In a process that multiprocessing started, register for this process too
    # (writers first imported inside a worker).
    import multiprocessing
    if multiprocessing.parent_process() is not None:
        _mp_child(None)

# ---------------------------------------------------------------- SIGTERM ----

class _Terminator:
    """Flush, then let SIGTERM's default action end the process.

    Installed only where SIGTERM has its default action (a handler of the
    application, or SIG_IGN, is left alone), from the main thread, when a
    writer starts this process's flusher.  Two paths lead here, so that
    neither a main thread busy in C code (a Python handler runs only between
    bytecodes of the main thread) nor one interrupted while it holds a lock of
    ours delays or deadlocks the end:

    * a *watcher* thread blocked on a pipe that is also Python's signal
      wakeup fd (written by the C-level handler at once, whatever the main
      thread does; left alone when the application has set a wakeup fd);
    * the Python handler, which writes to that pipe too and returns: the
      interrupted code may hold a lock the flush needs, so the main thread
      runs on (for the few milliseconds of the flush) until the watcher ends
      the process.

    The watcher flushes every writer, restores the default action and sends
    SIGTERM again, so the process ends with the status SIGTERM gives.  A
    handler the application installs later replaces this one (the watcher
    then ignores SIGTERM)."""

    def __init__(self) -> None:
        self.pid = 0
        self.read_fd = -1
        self.write_fd = -1
        self.thread: threading.Thread | None = None
        self.once = threading.Lock()
        self.done = threading.Event()

    def install(self) -> None:
        if sys.platform == "win32" or threading.current_thread() is not threading.main_thread():
            return
        try:
            current = signal.getsignal(signal.SIGTERM)
            if current is not _on_sigterm:
                if current != signal.SIG_DFL:
                    return  # the application's handler (or SIG_IGN) stays
                self._watch_here()
                signal.signal(signal.SIGTERM, _on_sigterm)
            else:
                self._watch_here()
        except (ValueError, OSError):  # pragma: no cover - not the main thread, no fds
            return

    def _watch_here(self) -> None:
        """A pipe and a watcher thread of this process (after a fork, new ones:
        the parent's stay the parent's)."""
        pid = os.getpid()
        if self.pid == pid and self.thread is not None and self.thread.is_alive():
            return
        inherited = (self.read_fd, self.write_fd) if self.pid != pid else (-1, -1)
        r, w = os.pipe()
        os.set_blocking(w, False)  # a wakeup fd must not block
        try:
            previous = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
            if previous not in (-1, self.write_fd):
                signal.set_wakeup_fd(previous)  # the application's: keep it
        except (ValueError, OSError):  # pragma: no cover
            pass
        for fd in inherited + ((self.read_fd, self.write_fd) if self.pid == pid else ()):
            if fd >= 0:  # copies inherited through fork, or a dead watcher's
                try:
                    os.close(fd)
                except OSError:  # pragma: no cover
                    pass
        self.pid, self.read_fd, self.write_fd = pid, r, w
        self.once = threading.Lock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, args=(r,),
                                       name="fastmlops-metrics-sigterm", daemon=True)
        self.thread.start()

    def after_fork(self) -> None:
        """In a forked child: no watcher yet; :meth:`install` makes one."""
        self.thread = None

    def _watch(self, read_fd: int) -> None:
        term = bytes([int(signal.SIGTERM)])
        while True:
            try:
                data = os.read(read_fd, 256)
            except OSError:  # pragma: no cover - closed
                return
            if not data:  # pragma: no cover
                return
            if term in data and signal.getsignal(signal.SIGTERM) is _on_sigterm \
                    and os.getpid() == self.pid:
                self.terminate()
                return

    def poke(self) -> bool:
        """Wake the watcher; False if this process has none."""
        if self.pid != os.getpid() or self.thread is None or not self.thread.is_alive():
            return False
        try:
            os.write(self.write_fd, bytes([int(signal.SIGTERM)]))
        except OSError:  # full (it has a byte to read already) or closed
            pass
        return True

    def terminate(self) -> None:
        if not self.once.acquire(blocking=False):
            return
        try:
            flush()
        except Exception:  # pragma: no cover - end the process all the same
            _log.exception("fastmlops.metrics: flush on SIGTERM failed")
        self.done.set()
        _default_and_resend()
        # still here (no ctypes): the main thread's handler resends
        main = threading.main_thread()
        if main.ident is not None:  # pragma: no cover
            signal.pthread_kill(main.ident, signal.SIGTERM)


def _default_and_resend() -> None:
    """Restore SIGTERM's default action from any thread (``signal.signal``
    only works in the main thread; ``PyOS_setsig`` is the C function behind
    it) and send SIGTERM again: the process ends as SIGTERM ends it."""
    try:
        import ctypes
        setsig = ctypes.pythonapi.PyOS_setsig
        setsig.argtypes = [ctypes.c_int, ctypes.c_void_p]
        setsig.restype = ctypes.c_void_p
        setsig(int(signal.SIGTERM), None)  # SIG_DFL
    except Exception:  # pragma: no cover - no ctypes: the main thread resends
        return
    os.kill(os.getpid(), signal.SIGTERM)


def _ours(frame: FrameType | None) -> bool:
    """Whether the interrupted code is in a file of :func:`add_locking_file`
    (which may hold a lock the flush needs), this one or logging."""
    while frame is not None:
        if frame.f_code.co_filename in _LOCKING_FILES:
            return True
        frame = frame.f_back
    return False


_LOCKING_FILES: set[str] = {logging.__file__, __file__}


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM's Python handler (main thread).  It never waits for the flush:
    the interrupted code may hold a lock the flush needs (ours, logging's,
    an import's, Numba's compiler lock...), so it wakes the watcher and lets
    the main thread run on until the watcher ends the process."""
    term = _TERMINATOR
    if not term.done.is_set():
        if term.poke():
            return
        if not _ours(frame):  # no watcher (it could not be started): flush here
            try:
                flush()
            except Exception:  # pragma: no cover
                _log.exception("fastmlops.metrics: flush on SIGTERM failed")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


_TERMINATOR = _Terminator()


_install_hooks()
