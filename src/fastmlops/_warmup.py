"""Ahead-of-time compilation: ``fastmlops.warmup()`` and ``fastmlops warmup``."""

from __future__ import annotations

import importlib
import time

def kernel_modules() -> list[str]:
    """Every module of :mod:`fastmlops._kernels` (each may declare kernels)."""
    import pkgutil

    import fastmlops._kernels as package

    return sorted(f"{package.__name__}.{info.name}"
                  for info in pkgutil.iter_modules(package.__path__) if info.name != "_jit")


def warmup(verbose: bool = False) -> dict[str, float]:
    """Compile every kernel for every dtype it is used with, or load it from the
    on-disk cache, so that no request pays for JIT compilation.

    Call it once at server start (before forking workers) or during a container
    build (``fastmlops warmup``): the first run compiles and writes Numba's
    cache (tens of seconds), later runs and processes load it (about one to
    two seconds here, most of it importing Numba and loading machine code).

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
    start = time.perf_counter()
    for name in kernel_modules():
        importlib.import_module(name)
    from fastmlops._kernels._jit import compile_all

    count = compile_all()
    elapsed = time.perf_counter() - start
    if verbose:
        print(f"fastmlops: {count} kernel signatures ready in {elapsed:.2f} s")
    return {"signatures": float(count), "seconds": elapsed}
