"""The machinery under :func:`fastmlops.telemetry.span` and
:func:`fastmlops.telemetry.instrument`: start values paired with their exits
(threads, tasks, interleaved generators), the callable-kind tests, and the
decorator wrappers for functions, coroutines and (async) generators, which
leave a traced span's OpenTelemetry context at every ``yield``.  See the
module notes of :mod:`fastmlops.telemetry`.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import sys
from typing import TYPE_CHECKING, Any, Callable, Generator, Literal, TypeVar, cast

if TYPE_CHECKING:
    from types import FrameType, TracebackType
    from typing import Self  # Python 3.11

    from fastmlops.telemetry.tracing import ActiveSpan

    #: What a block's ``_enter`` returns and its ``_exit`` takes: the start
    #: (clock seconds), paired with its OpenTelemetry span when traced.
    Token = float | tuple[float, ActiveSpan]

F = TypeVar("F", bound=Callable[..., Any])

# --------------------------------------------------------------------------- start-time stacks
_getframe = getattr(sys, "_getframe", None)


def _caller_frame(depth: int) -> FrameType | None:
    """The frame ``depth`` levels above the caller of this function (``None``
    where the interpreter has no ``sys._getframe``)."""
    if _getframe is None:  # pragma: no cover - not CPython/PyPy
        return None
    try:
        return _getframe(depth + 1)
    except ValueError:  # pragma: no cover - no such frame
        return None


_GENERATOR_FRAME = inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR


class Starts:
    """The start values of the ``with`` blocks open on one object, each
    matched to its own exit.

    Blocks in ordinary functions and coroutines nest within their thread or
    asyncio task, so a stack per thread / task (a context variable) pairs
    them.  Blocks in generator frames (sync or async) do not: two generators
    paused inside blocks on one object interleave within one thread, and a
    generator may be resumed in another thread.  A ``with`` statement calls
    ``__enter__`` and ``__exit__`` from the same frame, so those starts are
    kept per generator frame.  Only the frame that owns a key touches it, so
    no lock is needed; the frame object is held while its block is open, so
    its identity cannot be reused meanwhile, and a generator dropped inside a
    block is closed by the garbage collector, which runs ``__exit__``.  An
    exit from a frame that entered nothing (``contextlib.ExitStack``, or a
    manual ``__enter__()`` / ``__exit__()``) takes the latest entry of the
    current thread / task, as a plain stack would.
    """

    __slots__ = ("_by_frame", "_var")

    def __init__(self) -> None:
        self._by_frame: dict[FrameType, list[Token]] = {}
        self._var: contextvars.ContextVar[tuple[Token, ...]] = contextvars.ContextVar(
            "fastmlops_starts", default=())

    def push(self, value: Token, frame: FrameType | None) -> None:
        if frame is not None and frame.f_code.co_flags & _GENERATOR_FRAME:
            own = self._by_frame.get(frame)
            if own is None:
                self._by_frame[frame] = [value]
            else:
                own.append(value)
            return
        self._var.set(self._var.get() + (value,))

    def pop(self, frame: FrameType | None) -> Token:
        if frame is not None and frame.f_code.co_flags & _GENERATOR_FRAME:
            own = self._by_frame.get(frame)
            if own:
                value = own.pop()
                if not own:
                    del self._by_frame[frame]
                return value
        stack = self._var.get()
        if not stack:
            raise RuntimeError("__exit__ without a matching __enter__")
        self._var.set(stack[:-1])
        return stack[-1]


def _is_kind(fn: object, test: Callable[[object], bool]) -> bool:
    """``test(fn)`` (an ``inspect.is...function``), also for partials and for
    callable objects whose ``__call__`` passes it."""
    if test(fn):
        return True
    if inspect.isfunction(fn) or inspect.ismethod(fn):
        return False
    return test(getattr(fn, "__call__", None))


def is_async(fn: object) -> bool:
    return _is_kind(fn, inspect.iscoroutinefunction)


def is_asyncgen(fn: object) -> bool:
    return _is_kind(fn, inspect.isasyncgenfunction)


def is_gen(fn: object) -> bool:
    return _is_kind(fn, inspect.isgeneratorfunction)


def _as_ended(exc: BaseException | None) -> BaseException | None:
    """The exception a block or generator ended with, or None for a normal end:
    ``GeneratorExit`` (the generator was closed early, the consumer stopped
    iterating) is a normal end."""
    return None if isinstance(exc, GeneratorExit) else exc


def otel_parts(token: Token) -> tuple[float, ActiveSpan | None]:
    """``(start, active OpenTelemetry span or None)`` of an enter token."""
    if token.__class__ is tuple:
        return token
    # a float (mypy narrows only the ``is`` branch; isinstance would cost every span)
    return token, None  # type: ignore[return-value]


def wrap(fn: F, enter: Callable[[], Token],
         exit_: Callable[[Token, BaseException | None], None]) -> F:
    """Decorate a sync or async function with ``enter``/``exit_`` around each call.

    Generator and async generator functions are timed from the first
    ``next()`` to their end: an exception raised inside them counts as an
    exception, and an early ``close()`` (the consumer stopped iterating,
    ``GeneratorExit``) as a normal end.
    """
    if is_async(fn):
        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            token = enter()
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                exit_(token, exc)
                raise
            exit_(token, None)
            return result
        return cast("F", async_wrapper)

    if is_asyncgen(fn):
        @functools.wraps(fn)
        async def asyncgen_wrapper(*args: Any, **kwargs: Any) -> Any:
            token = enter()
            active = otel_parts(token)[1]  # its context is left at every yield
            try:
                agen = fn(*args, **kwargs)
                try:
                    value = await agen.__anext__()
                    while True:
                        if active is not None:
                            active.suspend()
                        try:
                            sent = yield value
                        except GeneratorExit:
                            if active is not None:
                                active.resume()
                            await agen.aclose()
                            raise
                        except BaseException as thrown:
                            if active is not None:
                                active.resume()
                            value = await agen.athrow(thrown)
                        else:
                            if active is not None:
                                active.resume()
                            value = await agen.asend(sent)
                except StopAsyncIteration:
                    pass
            except BaseException as exc:
                exit_(token, _as_ended(exc))
                raise
            exit_(token, None)
        return cast("F", asyncgen_wrapper)

    if is_gen(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            token = enter()
            try:
                active = otel_parts(token)[1]
                if active is None:
                    result = yield from fn(*args, **kwargs)
                else:  # traced: the span's context is left at every yield
                    result = yield from _suspending(fn(*args, **kwargs), active)
            except BaseException as exc:
                exit_(token, _as_ended(exc))
                raise
            exit_(token, None)
            return result
        return cast("F", gen_wrapper)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = enter()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            exit_(token, exc)
            raise
        exit_(token, None)
        return result
    return cast("F", wrapper)


def _suspending(gen: Generator[object, object, object], active: ActiveSpan
                ) -> Generator[object, object, object]:
    """``yield from gen``, leaving ``active``'s OpenTelemetry context while
    suspended, so the consumer's code between two items is not in the span."""
    try:
        value = next(gen)
        while True:
            active.suspend()
            try:
                sent = yield value
            except GeneratorExit:
                active.resume()
                gen.close()
                raise
            except BaseException as thrown:
                active.resume()
                value = gen.throw(thrown)
            else:
                active.resume()
                value = gen.send(sent)
    except StopIteration as stop:
        return stop.value


class ContextDecorator:
    """``with obj:``, ``async with obj:`` and ``@obj`` on sync/async functions."""

    _starts: Starts

    def _enter(self) -> Token:  # pragma: no cover - overridden
        raise NotImplementedError

    def _exit(self, token: Token, exc: BaseException | None) -> None:  # pragma: no cover
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._starts.push(self._enter(), _caller_frame(1))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        self._exit(self._starts.pop(_caller_frame(1)), _as_ended(exc))
        return False  # re-raise

    async def __aenter__(self) -> Self:
        self._starts.push(self._enter(), _caller_frame(1))
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> Literal[False]:
        self._exit(self._starts.pop(_caller_frame(1)), _as_ended(exc))
        return False

    def __call__(self, fn: F) -> F:
        if not callable(fn):
            raise TypeError(f"decorate a function, got {fn!r}")
        return wrap(fn, self._enter, self._exit)
