"""What the commands of the ``fastmlops`` command line share: argparse types
for their options, the errors a command reports as one line, and the writing
of a report (stdout in a ``--format``, a ``--html`` page)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    #: The ``add_subparsers()`` object each command module registers its parser on.
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


class CommandError(Exception):
    """A failure reported as one ``fastmlops COMMAND: error:`` line with exit status 1."""


class InputError(ValueError):
    """A problem with the command's input: exit status 2, one line on stderr."""


def say(text: str) -> None:
    """A message on stderr (never an error: stderr may be closed)."""
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def write_report(report: Any, fmt: str, html: str | None, command: str,
                 what: str = "report") -> None:
    """Write ``report`` (a drift or gate report, a drift timeline) as the
    ``--html`` page ``html`` when given, then on stdout in ``fmt`` ("json":
    its ``to_json()`` only; "markdown"; else the text table)."""
    if html:
        try:
            report.to_html(html)
        except OSError as exc:
            raise InputError(f"cannot write --html {html}: {exc.strerror or exc}") from None
        say(f"fastmlops {command}: wrote the HTML {what} to {html}")
    if fmt == "json":
        sys.stdout.write(report.to_json() + "\n")
    else:
        sys.stdout.write(report.format(markdown=fmt == "markdown") + "\n")
    sys.stdout.flush()


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
