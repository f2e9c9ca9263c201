"""Hooks for pre-fork servers: end a recycled worker without tearing down its
interpreter.

A worker that gunicorn recycles (``--max-requests``) ends with ``sys.exit``:
the interpreter then runs the ``atexit`` handlers (fastmlops flushes there)
and tears itself down, freeing every object of every module one by one.  In
a forked worker that teardown writes to nearly every page it inherited from
the master, so the kernel copies them: with Numba loaded (fastmlops'
kernels) it costs about 30 ms of CPU per exit after the inherited heap is
frozen (about 200 ms before), against a few milliseconds for a small app.
With ``--max-requests 40`` that is most of a worker's life.

:func:`worker_exit`, gunicorn's hook of that name, ends the worker as a
normal exit would (non-daemon threads joined, every ``atexit`` handler run:
fastmlops' flush, ``logging.shutdown``, your own) and then calls
``os._exit`` with the worker's exit status, as ``multiprocessing`` ends its
children: objects' ``__del__`` methods are not called at the end (a handler
registered with ``atexit`` is the place for what must run).  It is opt-in::

    # gunicorn.conf.py
    from fastmlops.serving import worker_exit

or, with a hook of your own, call :func:`fast_exit` at its end.

>>> from fastmlops.serving import exit_status
>>> exit_status(SystemExit(3)), exit_status(SystemExit(None)), exit_status(None)
(3, 0, 0)
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import Any

__all__ = ["exit_status", "fast_exit", "worker_exit"]


def exit_status(exc: BaseException | None) -> int:
    """The status a process ends with when ``exc`` propagates out of it
    (``sys.exit``'s rules: None and ``SystemExit(None)`` 0, an int code
    itself, any other code or exception 1)."""
    if exc is None:
        return 0
    if isinstance(exc, SystemExit):
        code = exc.code
        if code is None:
            return 0
        return code & 0xFF if isinstance(code, int) else 1
    return 1


def fast_exit(status: int = 0) -> None:
    """End this process now with ``status``, as a normal exit would but
    without the interpreter's teardown: join the non-daemon threads, run
    every ``atexit`` handler, flush the standard streams, ``os._exit``."""
    if isinstance(status, bool) or not isinstance(status, int):
        raise TypeError(f"status must be an int, got {type(status).__name__}")
    me = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not me and not thread.daemon and thread.is_alive():
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # closed or gone: nothing to keep
            pass
    os._exit(status & 0xFF)


def worker_exit(server: Any, worker: Any) -> None:
    """gunicorn's ``worker_exit`` hook (``from fastmlops.serving import
    worker_exit`` in ``gunicorn.conf.py``): end the worker with the status
    gunicorn is ending it with (0, or its boot and load error codes, which
    the master reads), through :func:`fast_exit`.  Only in the worker
    process itself, and only while gunicorn is ending it."""
    del server, worker  # the hook's signature; nothing needed from them
    fast_exit(exit_status(sys.exc_info()[1]))
