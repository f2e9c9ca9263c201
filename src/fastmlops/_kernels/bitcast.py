"""Reinterpret the bits of a scalar, as LLVM's ``bitcast`` (C's ``memcpy``
between an ``int64_t`` and a ``double``).  Numba has no scalar bit cast; going
through an array and a ``.view`` costs a store and a load per value and keeps
LLVM from fusing the loops around it.  Usable only inside Numba functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba.core import types
from numba.core.typing.templates import Signature
from numba.extending import intrinsic


@intrinsic
def i64_as_f64(typingctx: Any, value: Any) -> tuple[Signature, Callable[..., Any]]:
    """The float64 whose IEEE-754 bits are the int64 ``value``."""
    if value != types.int64:
        raise TypeError(f"i64_as_f64 takes an int64, got {value}")
    sig = types.float64(value)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


@intrinsic
def f64_as_i64(typingctx: Any, value: Any) -> tuple[Signature, Callable[..., Any]]:
    """The int64 whose bits are the IEEE-754 bits of the float64 ``value``."""
    if value != types.float64:
        raise TypeError(f"f64_as_i64 takes a float64, got {value}")
    sig = types.int64(value)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return sig, codegen
