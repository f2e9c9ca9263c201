"""What the commands of the ``fastmlops`` command line share: argparse types
for their options, and the error a command reports as one line."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    #: The ``add_subparsers()`` object each command module registers its parser on.
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


class CommandError(Exception):
    """A failure reported as one ``fastmlops COMMAND: error:`` line with exit status 1."""


def probability(text: str) -> float:
    """An argparse type: a number in the open interval (0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def int_in_range(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an int in [minimum, maximum]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(
                f"must be at least {minimum}, got {value}" if maximum is None
                else f"must be in [{minimum}, {maximum}], got {value}")
        return value
    return parse
