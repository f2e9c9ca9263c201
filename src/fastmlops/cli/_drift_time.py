"""``fastmlops drift REF CUR --by COLUMN --every 1d`` (or ``--chunk-rows N``):
drift over time, one exact report per chunk of CUR, read once.

The ``drift`` command registers these options with :func:`add_time_arguments`
and hands over to :func:`run` when :func:`wanted` says so.  Output: a table
over time (``--format table|markdown``) or the timeline's JSON layout
(``--format json``, ``docs/drift-over-time.md``); ``--html FILE`` writes one
chart per column of its p-value per chunk.  Exit status under ``--fail-on``:
the worst chunk's verdict decides (1 when any chunk is at or above it), 2 on
usage or input errors, as for one report.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastmlops.cli._common import int_in_range, write_report

if TYPE_CHECKING:
    from fastmlops.drift import DriftReference, DriftTimeline

__all__ = ["add_time_arguments", "check_time_arguments", "run", "wanted"]

#: The verdicts, from least to most severe (as ``fastmlops drift`` ranks them).
_SEVERITY = {"ok": 0, "watch": 1, "drift": 2, "never": 3}


def _every(text: str) -> str:
    """An argparse type: a duration ("1d", "6h", "30m", "7d") or a number."""
    from fastmlops.drift.timeline import parse_every

    try:
        parse_every(text)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_time_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--by``, ``--every``, ``--chunk-rows`` and ``--in-order`` to the
    ``drift`` parser, and their rules to its ``check_arguments`` (chained
    after any check the parser has already)."""
    group = parser.add_argument_group(
        "drift over time",
        "One report per chunk of CURRENT, in one pass: time buckets of a column "
        "(--by COLUMN --every 1d) or consecutive rows (--chunk-rows N). The exit "
        "status follows the worst chunk.")
    group.add_argument("--by", metavar="COLUMN", default=None,
                       help="timestamp or date column of CURRENT to bucket by (not itself "
                            "checked); numbers too, with a numeric --every")
    group.add_argument("--every", metavar="DURATION", type=_every, default=None,
                       help="bucket width: 30m, 1h, 1d, 7d... (UTC, aligned on "
                            "1970-01-01), or a number for a numeric --by column")
    group.add_argument("--chunk-rows", metavar="N", type=int_in_range(1), default=None,
                       help="chunks of N consecutive rows (without --by)")
    group.add_argument("--in-order", action="store_true",
                       help="rows are in time order: hold one bucket at a time (default: "
                            "any order, every bucket held to the end)")
    previous = parser.get_default("check_arguments")

    def check(args: argparse.Namespace) -> None:
        if previous is not None:
            previous(args)
        check_time_arguments(args)

    parser.set_defaults(check_arguments=check)


def wanted(args: argparse.Namespace) -> bool:
    """Whether the command line asks for drift over time."""
    return any(getattr(args, name, None) not in (None, False)
               for name in ("by", "every", "chunk_rows", "in_order"))


def _rule_error(args: argparse.Namespace) -> str | None:
    by, every, rows = args.by, args.every, args.chunk_rows
    if every is not None and rows is not None:
        return "give --every (time buckets of --by) or --chunk-rows (consecutive rows), not both"
    if every is not None and by is None:
        return "--every needs --by COLUMN: the time column to bucket"
    if rows is not None and by is not None:
        return ("--by with --chunk-rows: chunks of consecutive rows use no time column; "
                "give --every (such as 1d) to bucket by --by, or leave --by out")
    if by is not None and every is None:
        return "--by needs --every: the width of the time buckets, such as 1h, 1d or 7d"
    if getattr(args, "in_order", False) and by is None:
        return "--in-order goes with --by and --every (rows in time order)"
    if by is not None and not by.strip():
        return "--by needs a column name"
    return None


def check_time_arguments(args: argparse.Namespace) -> None:
    """The rules of the options (what argparse cannot express): exits 2 with
    the usage and one error line."""
    if not wanted(args):
        return
    message = _rule_error(args)
    if message is not None:
        parser = getattr(args, "subparser", None)
        if parser is not None:
            parser.error(message)
        raise ValueError(message)


def _check(ref: DriftReference, args: argparse.Namespace,
           progress: Callable[[int, int | None], object]) -> DriftTimeline:
    try:
        return ref.check_over_time(args.current, by=args.by, every=args.every,
                                   chunk_rows=args.chunk_rows, in_order=args.in_order,
                                   progress=progress)
    except ArithmeticError as exc:  # a bug or an impossible input: never status 1
        raise ValueError(f"cannot check {args.current} against {args.reference}: "
                         f"{type(exc).__name__}: {exc}") from exc
    except ValueError as exc:  # bytes that are not UTF-8 past the first rows of a CSV
        from fastmlops.drift import files as _files

        if _files.is_utf8_error(exc):
            raise _files.not_utf8_error(f"current data {args.current}") from None
        raise


def run(args: argparse.Namespace, ref: DriftReference) -> int:
    """Check ``args.current`` over time against ``ref``, print the timeline
    (``--format``), write ``--html``; returns the exit status."""
    message = _rule_error(args)
    if message is not None:  # called without the parser's checks
        raise ValueError(message)
    from fastmlops._core.progress import ProgressBar

    bar = ProgressBar(f"checking {args.current} over time", sys.stderr, unit="rows")
    try:
        timeline = _check(ref, args, bar)
    finally:
        bar.close()
    write_report(timeline, getattr(args, "format", "table"), getattr(args, "html", None),
                 "drift", "timeline")
    fail_on = getattr(args, "fail_on", "drift")
    return 1 if _SEVERITY[timeline.verdict] >= _SEVERITY[fail_on] else 0
