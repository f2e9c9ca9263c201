"""All Numba options in one place, and the registry that ``warmup`` walks.

Every kernel is declared with :func:`kernel`, which

* compiles lazily (nothing is compiled at import time),
* caches machine code on disk (``cache=True``), so a second process loads it
  in milliseconds instead of compiling it again,
* releases the GIL (``nogil=True``), so the public API can run kernels on
  several columns at once from a thread pool,
* never uses ``fastmath``: its ``nnan``/``ninf`` flags would break the NaN
  checks the kernels rely on, and its reassociation would change sums that
  must match numpy and scipy (the single exception, opt-in per kernel, is
  ``contract``: fused multiply-add, see :func:`kernel`),
* uses ``error_model="numpy"`` (division by zero gives inf/NaN instead of
  raising, as numpy does; the wrappers validate input first).

``parallel=True`` is not used: Numba's default ``workqueue`` threading layer
aborts the process when two Python threads launch parallel kernels at once,
which a threaded server would do.  Parallelism comes from
:mod:`fastmlops._core.parallel` instead (threads over nogil kernels, each thread
owning its own output).

Each kernel lists the signatures it is used with; :func:`compile_all`
compiles (or loads from the on-disk cache) every one of them, which is what
``fastmlops.warmup()`` does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal, TypedDict

import numba
from numba.core.dispatcher import Dispatcher
from numba.core.typing.templates import Signature


class _Options(TypedDict):
    """The keyword arguments :func:`kernel` passes to ``numba.njit``."""

    cache: bool
    nogil: bool
    fastmath: bool | set[str]
    error_model: Literal["python", "numpy"]


_OPTIONS: _Options = {
    "cache": True,
    "nogil": True,
    "fastmath": False,
    "error_model": "numpy",
}

#: (dispatcher, signatures) for every kernel declared with :func:`kernel`.
REGISTRY: list[tuple[Dispatcher, tuple[str | Signature, ...]]] = []


def kernel(*signatures: str | Signature,
           contract: bool = False) -> Callable[[Callable[..., object]], Any]:
    """Declare a Numba kernel with the project's options.

    ``signatures`` are Numba signature strings (``"f8(f8[::1], i8)"``), or
    Numba signature objects for types strings cannot spell (read-only
    arrays), that warm-up compiles ahead of time; calls with other types still compile
    lazily on first use.

    ``contract=True`` allows one fast-math flag, and only this one: fusing
    ``a * b + c`` into a fused multiply-add.  That rounds once instead of
    twice (so results are as accurate or more), leaves NaN/inf handling and the
    order of sums alone, and halves the work of polynomial evaluations.  It is
    for kernels whose documented accuracy is a tolerance, not bit-equality
    with numpy.
    """
    options = _OPTIONS.copy()
    if contract:
        options["fastmath"] = {"contract"}

    # The dispatcher stays ``Any``: Numba's stub types it ``Dispatcher[F]``,
    # whose calls mypy checks against the Python annotations of ``fn``, while
    # the compiled kernel takes whatever Numba can type (``np.int64`` for ``i8``).
    def decorate(fn: Callable[..., object]) -> Any:
        dispatcher = numba.njit(**options)(fn)
        REGISTRY.append((dispatcher, tuple(signatures)))
        return dispatcher

    return decorate


def compile_all() -> int:
    """Compile or load every registered signature; return how many.

    Only the argument types are passed to ``compile``: Numba keys its on-disk
    cache by the signature it was asked for, and an ordinary call asks by
    argument types alone, so compiling with the return type included would
    write cache entries that no later call ever finds.
    """
    from numba.core import sigutils

    count = 0
    for dispatcher, signatures in REGISTRY:
        for sig in signatures:
            args, _ = sigutils.normalize_signature(sig)
            dispatcher.compile(tuple(args))
            count += 1
    return count


def _hold_compiler_lock_across_fork() -> None:
    """Fork only while no thread is inside Numba's compiler.

    Numba compiles (and loads cached kernels) under one global lock.  A fork
    while another thread holds it leaves the lock held for ever in the child,
    whose first kernel call then hangs.  So, like the interpreter does with
    its import lock, take the lock before a fork and release it on both sides
    (in the child, the forking thread is the one that holds it).
    """
    try:
        from numba.core.compiler_lock import global_compiler_lock
        lock = global_compiler_lock._lock
    except (ImportError, AttributeError):  # pragma: no cover - another Numba layout
        return
    held: list[bool] = []

    def before() -> None:
        lock.acquire()
        held.append(True)

    def after() -> None:
        # only what before() took: this module may be imported by another
        # fork hook, after the before-hooks of this fork have run
        if held:
            held.pop()
            lock.release()

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=before, after_in_parent=after, after_in_child=after)


_hold_compiler_lock_across_fork()
