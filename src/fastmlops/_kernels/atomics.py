"""CPU atomics and fences for Numba kernels, as LLVM intrinsics.

Numba has no atomic operations of its own, but it compiles through LLVM,
which has them all: these ``@intrinsic`` functions emit LLVM's ``load
atomic``, ``store atomic``, ``cmpxchg``, ``atomicrmw`` and ``fence``
instructions, the same instructions a C11 compiler emits for
``<stdatomic.h>``.  They work on one element of a C-contiguous 1-D ``uint64``
or ``int64`` array (8-byte aligned, as numpy allocates and as ``mmap`` pages
are), including arrays that view shared memory: that is what the
multi-process metrics use them for.

* ``load_acquire(a, i)`` / ``store_release(a, i, v)``: ordered load and store.
* ``load_relaxed(a, i)`` / ``store_relaxed(a, i, v)``: atomic, unordered.
* ``compare_exchange(a, i, expected, new)``: returns the value seen; the store
  happened if and only if it equals ``expected`` (sequentially consistent).
* ``fetch_add(a, i, v)``: returns the value before the addition.
* ``fence_acquire()``, ``fence_release()``, ``fence_seq_cst()``.

They compile only inside other Numba functions (that is what an intrinsic
is); ``fastmlops._kernels.metrics`` wraps the ones Python needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba.core import cgutils, types
from numba.core.typing.templates import Signature
from numba.extending import intrinsic

_WORD = (types.uint64, types.int64)


def _check_array(arr: types.Type) -> None:
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.dtype in _WORD
            and arr.layout == "C"):
        raise TypeError(f"atomics need a C-contiguous 1-D uint64/int64 array, got {arr}")


def _pointer(context: Any, builder: Any, arrty: types.Array, arr: Any, idxty: types.Type,
             idx: Any) -> Any:
    ary = context.make_array(arrty)(context, builder, arr)
    index = context.cast(builder, idx, idxty, types.intp)
    return cgutils.get_item_pointer(context, builder, arrty, ary, [index])


# ``Any`` below is Numba's compiler machinery.  The typing functions get the
# typing context and the Numba types of the arguments, but Numba's stubs check
# a kernel's call of an intrinsic against these same parameters with run-time
# values (a ``uint64`` array, an ``int``), so no annotation fits both; the
# lowering functions get the target context, an llvmlite builder and LLVM
# values.  The factories return ``Any``, not Numba's ``_Intrinsic``, whose stub
# types every call ``Never``: mypy would skip the rest of each kernel using it.
def _load(ordering: str) -> Any:
    @intrinsic
    def load(typingctx: Any, arr: Any, idx: Any) -> tuple[Signature, Callable[..., Any]]:
        _check_array(arr)
        sig = arr.dtype(arr, idx)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            ptr = _pointer(context, builder, signature.args[0], args[0], signature.args[1], args[1])
            return builder.load_atomic(ptr, ordering, 8)

        return sig, codegen

    return load


def _store(ordering: str) -> Any:
    @intrinsic
    def store(typingctx: Any, arr: Any, idx: Any,
              value: Any) -> tuple[Signature, Callable[..., Any]]:
        _check_array(arr)
        sig = types.void(arr, idx, value)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            arrty, idxty, valty = signature.args
            ptr = _pointer(context, builder, arrty, args[0], idxty, args[1])
            val = context.cast(builder, args[2], valty, arrty.dtype)
            builder.store_atomic(val, ptr, ordering, 8)
            return context.get_dummy_value()

        return sig, codegen

    return store


load_acquire = _load("acquire")
load_relaxed = _load("monotonic")
store_release = _store("release")
store_relaxed = _store("monotonic")


@intrinsic
def compare_exchange(typingctx: Any, arr: Any, idx: Any, expected: Any,
                     new: Any) -> tuple[Signature, Callable[..., Any]]:
    _check_array(arr)
    sig = arr.dtype(arr, idx, expected, new)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        arrty, idxty, expty, newty = signature.args
        ptr = _pointer(context, builder, arrty, args[0], idxty, args[1])
        exp = context.cast(builder, args[2], expty, arrty.dtype)
        val = context.cast(builder, args[3], newty, arrty.dtype)
        pair = builder.cmpxchg(ptr, exp, val, "seq_cst", "seq_cst")
        return builder.extract_value(pair, 0)

    return sig, codegen


@intrinsic
def fetch_add(typingctx: Any, arr: Any, idx: Any,
              value: Any) -> tuple[Signature, Callable[..., Any]]:
    _check_array(arr)
    sig = arr.dtype(arr, idx, value)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        arrty, idxty, valty = signature.args
        ptr = _pointer(context, builder, arrty, args[0], idxty, args[1])
        val = context.cast(builder, args[2], valty, arrty.dtype)
        return builder.atomic_rmw("add", ptr, val, "seq_cst")

    return sig, codegen


def _fence(ordering: str) -> Any:
    @intrinsic
    def fence(typingctx: Any) -> tuple[Signature, Callable[..., Any]]:
        sig = types.void()

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            builder.fence(ordering)
            return context.get_dummy_value()

        return sig, codegen

    return fence


fence_acquire = _fence("acquire")
fence_release = _fence("release")
fence_seq_cst = _fence("seq_cst")
