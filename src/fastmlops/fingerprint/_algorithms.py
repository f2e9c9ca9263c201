"""The digest algorithms and the argument checks every fingerprint function shares."""

from __future__ import annotations

import hashlib
import os
from typing import Callable, Protocol, Union

import xxhash

#: A progress callback ``progress(bytes_done, bytes_total)``; ``bytes_total`` is
#: None for a stream of unknown length.
Progress = Callable[[int, "int | None"], object]

#: A path argument: a str, bytes or os.PathLike.
PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


class Hasher(Protocol):
    """What :mod:`hashlib` and :mod:`xxhash` objects have in common."""

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


#: Algorithm name -> constructor of a hashlib-style object (``update``/``hexdigest``).
CONSTRUCTORS: dict[str, Callable[[], Hasher]] = {
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
    "sha1": hashlib.sha1,
    "md5": hashlib.md5,
    "blake2b": hashlib.blake2b,
    "xxh64": xxhash.xxh64,
    "xxh3_64": xxhash.xxh3_64,
    "xxh3_128": xxhash.xxh3_128,
}
#: The algorithms accepted by :func:`hash_file`, :func:`hash_tree` and the CLI.
ALGORITHMS: tuple[str, ...] = tuple(CONSTRUCTORS)

#: The characters of a lower-case hexadecimal digest.
HEX = frozenset("0123456789abcdef")


def check_algorithm(algorithm: object) -> str:
    if not isinstance(algorithm, str) or algorithm.lower() not in CONSTRUCTORS:
        raise ValueError(
            f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")
    return algorithm.lower()


def check_progress(progress: object) -> None:
    if progress is not None and not callable(progress):
        raise TypeError(
            "progress must be None or a callable progress(bytes_done, bytes_total), "
            f"got {type(progress).__name__}")


def fspath(path: object, what: str = "path") -> str | bytes:
    try:
        return os.fspath(path)  # type: ignore[call-overload]  # any object: checked here
    except TypeError:
        raise TypeError(
            f"{what} must be a str or os.PathLike (or, for hash_file, an open binary "
            f"file object), got {type(path).__name__}") from None
