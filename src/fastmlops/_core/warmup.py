"""Ahead-of-time compilation: ``fastmlops.warmup()`` and ``fastmlops warmup``.

Also what the command line shows while kernels compile: the first run of a
command that needs kernels compiles them (tens of seconds to minutes) and says
so on stderr in one line, then reports each kernel family as it is done; a
later run loads them from Numba's on-disk cache without a word.
"""

from __future__ import annotations

import importlib
import threading
import time
from typing import TYPE_CHECKING, Callable, TextIO

if TYPE_CHECKING:  # annotations only: Numba is imported on first use
    from numba.core.dispatcher import Dispatcher
    from numba.core.event import Event, Listener
    from numba.core.types import Type
    from numba.core.typing.templates import Signature

    #: The kernels of one family: (dispatcher, signatures) each.
    Kernels = list[tuple[Dispatcher, tuple[str | Signature, ...]]]

#: Seconds to compile one kernel signature, from a cold-cache run of
#: ``fastmlops warmup`` (128 signatures: 78 s of CPU, 4 min on 2 busy shared
#: cores): only for the "about N s" estimate.
SECONDS_PER_SIGNATURE = 1.0


def kernel_modules() -> list[str]:
    """Every module of :mod:`fastmlops._kernels` (each may declare kernels)."""
    import pkgutil

    import fastmlops._kernels as package

    return sorted(f"{package.__name__}.{info.name}"
                  for info in pkgutil.iter_modules(package.__path__) if info.name != "_jit")


def _families() -> dict[str, Kernels]:
    """The registered kernels by family (the module that declares them)."""
    for name in kernel_modules():
        importlib.import_module(name)
    from fastmlops._kernels._jit import REGISTRY

    families: dict[str, Kernels] = {}
    for dispatcher, signatures in REGISTRY:
        family = dispatcher.py_func.__module__.rsplit(".", 1)[-1]
        families.setdefault(family, []).append((dispatcher, signatures))
    return families


def load_kernels(*modules: str) -> int:
    """Load (or compile, on a cold cache) every declared signature of the
    kernel modules ``modules`` (``"metrics"`` for
    :mod:`fastmlops._kernels.metrics`); return how many.  What a writer's
    warm-up calls, so that a process forked later starts with them loaded."""
    from fastmlops._kernels._jit import REGISTRY

    names = {f"fastmlops._kernels.{m}" for m in modules}
    for name in sorted(names):
        importlib.import_module(name)
    count = 0
    for dispatcher, signatures in list(REGISTRY):
        if dispatcher.py_func.__module__ in names:
            for sig in signatures:
                dispatcher.compile(_arg_types(sig))
                count += 1
    return count


def _arg_types(signature: str | Signature) -> tuple[Type, ...]:
    # As compile_all(): only the argument types key Numba's cache.
    from numba.core import sigutils

    args, _ = sigutils.normalize_signature(signature)
    return tuple(args)


def _cached_types(dispatcher: Dispatcher) -> set[tuple[Type, ...]] | None:
    """Argument types that Numba's on-disk cache holds for ``dispatcher``
    (its index is dropped when the source changed); None when unknown."""
    try:
        index = dispatcher._cache._cache_file._load_index()  # type: ignore[attr-defined]
        return {key[0] for key in index}
    except Exception:  # a private API of Numba: unknown, not an error
        return None


def uncompiled() -> dict[str, int]:
    """Signatures per family that are neither loaded nor in the on-disk cache
    (what the next warm-up would have to compile)."""
    todo: dict[str, int] = {}
    for family, kernels in _families().items():
        for dispatcher, signatures in kernels:
            cached = _cached_types(dispatcher)
            if cached is None:
                continue
            for sig in signatures:
                args = _arg_types(sig)
                if args not in dispatcher.overloads and args not in cached:
                    todo[family] = todo.get(family, 0) + 1
    return todo


def _say(stream: TextIO | None, text: str) -> None:
    if stream is None:
        return
    try:
        stream.write(text + "\n")
        stream.flush()
    except (OSError, ValueError):  # stderr gone: not worth failing the command
        pass


def warmup(verbose: bool = False, *, stream: TextIO | None = None) -> dict[str, float]:
    """Compile every kernel for every dtype it is used with, or load it from the
    on-disk cache, so that no request pays for JIT compilation.

    Call it once at server start (before forking workers) or during a container
    build (``fastmlops warmup``): the first run compiles and writes Numba's
    cache (tens of seconds to minutes), later runs and processes load it (about
    one to two seconds, most of it importing Numba and loading machine code).

    Parameters
    ----------
    verbose : bool
        Print progress: one line when kernels must be compiled (with an
        estimate of the time), one line per kernel family, and a summary.
    stream : file, optional
        Where ``verbose`` prints (default: ``sys.stderr``).

    Returns
    -------
    dict
        ``{"signatures": n, "seconds": elapsed}``.

    Examples
    --------
    >>> import fastmlops
    >>> info = fastmlops.warmup()
    >>> info["signatures"] > 0
    True
    """
    import sys

    out = (stream or sys.stderr) if verbose else None
    start = time.perf_counter()
    families = _families()
    if out is not None:
        todo = uncompiled()
        if todo:
            n = sum(todo.values())
            _say(out, f"fastmlops: compiling kernels, first run only, about "
                      f"{_estimate(n)} ({n} signatures in {len(todo)} families; later runs "
                      "load them from the cache)")
    count = 0
    for family, kernels in sorted(families.items()):
        began = time.perf_counter()
        n = 0
        for dispatcher, signatures in kernels:
            for sig in signatures:
                dispatcher.compile(_arg_types(sig))
                n += 1
        count += n
        if out is not None:
            _say(out, f"fastmlops:   {family:<12} {n:3d} signatures  "
                      f"{time.perf_counter() - began:6.2f} s")
    elapsed = time.perf_counter() - start
    _say(out, f"fastmlops: {count} kernel signatures ready in {elapsed:.2f} s")
    return {"signatures": float(count), "seconds": elapsed}


def _estimate(n_signatures: int) -> str:
    seconds = max(1, round(n_signatures * SECONDS_PER_SIGNATURE))
    return f"{seconds} s" if seconds < 120 else f"{round(seconds / 60)} min"


def ensure_compiled(stream: TextIO | None) -> None:
    """For commands: when kernels are not compiled yet, say so on ``stream``
    and compile them all with progress per family (as ``fastmlops warmup``);
    otherwise do nothing (the kernels load from the cache on first use)."""
    if uncompiled():
        warmup(verbose=stream is not None, stream=stream)


class compile_heartbeat:
    """While active, any kernel compiled on demand (a type no warm-up covers)
    is reported on ``stream`` every ``every`` seconds, so no command is silent
    for long.  A context manager; costs nothing when nothing compiles."""

    def __init__(self, stream: TextIO | None, every: float = 4.0,
                 clock: Callable[[], float] = time.monotonic):
        self.stream, self.every, self.clock = stream, every, clock
        self._active: dict[int, list[tuple[str, float]]] = {}  # per thread, nested
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: Listener | None = None
        self._said = False

    def _on_start(self, event: Event) -> None:
        name = getattr(event.data.get("dispatcher"), "__name__", "kernel")
        with self._lock:
            self._active.setdefault(threading.get_ident(), []).append((name, self.clock()))

    def _on_end(self, event: Event) -> None:
        with self._lock:
            stack = self._active.get(threading.get_ident())
            if stack:
                stack.pop()

    def _beat(self) -> None:
        while not self._stop.wait(self.every / 4):
            with self._lock:
                now = self.clock()
                slow = [(stack[0][0], now - stack[0][1]) for stack in self._active.values()
                        if stack and now - stack[0][1] >= self.every]
            if slow:
                if not self._said:
                    self._said = True
                    _say(self.stream, "fastmlops: compiling kernels, first run only "
                                      "(`fastmlops warmup` compiles them ahead of time)")
                for name, age in slow:
                    _say(self.stream, f"fastmlops:   still compiling {name} ({age:.0f} s)")
                with self._lock:  # the next line for each in another `every` seconds
                    for stack in self._active.values():
                        if stack:
                            stack[0] = (stack[0][0], now)

    def __enter__(self) -> "compile_heartbeat":
        if self.stream is None:
            return self
        from numba.core import event as ev

        heartbeat = self

        class Listener(ev.Listener):
            def on_start(self, event: Event) -> None:
                heartbeat._on_start(event)

            def on_end(self, event: Event) -> None:
                heartbeat._on_end(event)

        self._listener = Listener()
        ev.register("numba:compile", self._listener)
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name="fastmlops-compile-heartbeat")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._listener is None:
            return
        from numba.core import event as ev

        ev.unregister("numba:compile", self._listener)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
