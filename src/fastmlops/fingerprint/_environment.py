"""The environment part of a model version: Python, OS, CPU, package versions
and CUDA hints (:func:`capture_environment`)."""

from __future__ import annotations

import importlib
import os
import platform
import sys
from typing import Any, Sequence


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
            torch = importlib.import_module("torch")  # asked for explicitly
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

