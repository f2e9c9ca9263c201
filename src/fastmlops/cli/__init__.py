"""The ``fastmlops`` command line.

``fastmlops demo``              drift check of built-in synthetic reference/production data
``fastmlops drift REF CUR``     drift check of data files, exit status for CI gates
``fastmlops reference build``   save a drift reference of a data file or directory
``fastmlops gate DATA ...``      model-quality gate: a candidate's scores against a baseline's
``fastmlops fingerprint PATH``  sha256sum-style digests (or a JSON manifest) of files/trees
``fastmlops fingerprint --check MANIFEST [DIR]``  verify files against a manifest
``fastmlops metrics [DIR]``     expose the metrics a metrics directory holds (print, or --serve)
``fastmlops warmup``            compile (or load from cache) every kernel ahead of time
``fastmlops version``           print the version

One module per command, each with its parser and its argument checks:
``_demo``, ``_warmup``, ``_metrics``, ``_version``, ``_gate`` (``gate``), ``_drift`` (``drift`` and
``reference build``) and ``_fingerprint`` (``fingerprint`` and its
``--check``); ``_common`` holds what they share.  This module builds the
parser and runs a command with the exit statuses documented in :func:`main`.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from fastmlops.cli._common import CommandError
from fastmlops.cli._demo import cmd_demo
from fastmlops.cli._metrics import cmd_metrics
from fastmlops.cli._version import cmd_version
from fastmlops.cli._warmup import cmd_warmup

__all__ = ["main", "build_parser", "cmd_demo", "cmd_warmup", "cmd_metrics", "cmd_version"]


def build_parser() -> argparse.ArgumentParser:
    """The ``fastmlops`` parser: every command's subparser, with its handler as
    ``func`` (and its extra checks as ``check_arguments``)."""
    import fastmlops
    from fastmlops.cli import (
        _demo,
        _drift,
        _fingerprint,
        _gate,
        _metrics,
        _version,
        _warmup,
    )

    parser = argparse.ArgumentParser(
        prog="fastmlops",
        description="Production ML monitoring statistics on native-speed kernels.")
    parser.add_argument("--version", action="version",
                        version=f"fastmlops {fastmlops.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _demo.add_cli(sub)
    _warmup.add_cli(sub)
    _metrics.add_cli(sub)
    _version.add_cli(sub)
    _drift.add_cli(sub)  # drift and reference
    _gate.add_cli(sub)  # the model-quality gate
    _fingerprint.add_cli(sub)
    return parser


#: Exit status on a broken pipe: 128 + SIGPIPE, what a shell reports for a GNU
#: tool killed by SIGPIPE (``yes | head -1; echo ${PIPESTATUS[0]}``).
_EXIT_SIGPIPE = 128 + 13


def _prog(args: argparse.Namespace | None) -> str:
    """``fastmlops COMMAND``, as argparse names it in its own error lines."""
    if args is None or not getattr(args, "command", None):
        return "fastmlops"
    return getattr(args, "prog_name", None) or f"fastmlops {args.command}"


def _error(message: object, args: argparse.Namespace | None = None) -> None:
    """One line ``fastmlops COMMAND: error: MESSAGE`` on stderr: the format of
    argparse's usage errors, so every error of the command line reads alike."""
    text = str(message).strip().replace("\n", " ") or type(message).__name__
    try:
        print(f"{_prog(args)}: error: {text}", file=sys.stderr)
    except (OSError, ValueError):  # pragma: no cover - stderr is gone too
        pass


def _drop_stdout() -> None:
    """Point stdout at /dev/null so that the output still buffered is not
    written again (and fails again, with a traceback) at interpreter exit."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(fd, sys.stdout.fileno())
        finally:
            os.close(fd)
    except (OSError, ValueError, AttributeError):  # no file descriptor (in-process use)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fastmlops`` command line; returns the exit status.

    0 success, 1 failure (an OS error such as a port in use or a full disk,
    out of memory, a fingerprint path that could not be read), 2 bad usage,
    130 interrupted by Ctrl-C, 141 (128 + SIGPIPE, as GNU tools killed by
    SIGPIPE report it) when the reader of the output left early, as in
    ``fastmlops fingerprint DIR | head -1``: quietly, without a message, so
    that the pipeline fails only under ``set -o pipefail``.  Malformed
    arguments exit through argparse (``SystemExit(2)``) with the usage.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    check_arguments = getattr(args, "check_arguments", None)
    if check_arguments is not None:  # what argparse cannot express; exits 2 with the usage
        check_arguments(args)
    failure = getattr(args, "error_status", 1)  # drift: 1 is the verdict, errors are 2
    if sys.stdout is None and getattr(args, "serve", None) is None:  # `fastmlops ... >&-`
        _error("write error: standard output is closed", args)
        return failure
    try:
        status = int(args.func(args))
        if sys.stdout is not None:
            sys.stdout.flush()  # a write error shows here, not at interpreter exit
        return status
    except BrokenPipeError:  # `fastmlops demo | head`: the reader left
        # Quietly, with the shell's status for a death by SIGPIPE; stdout goes
        # to /dev/null so that the flush at interpreter exit does not fail again
        # (the recipe of the Python docs, "Note on SIGPIPE").
        _drop_stdout()
        return _EXIT_SIGPIPE
    except KeyboardInterrupt:  # Ctrl-C: no traceback, the shell's status for SIGINT
        from fastmlops._core.progress import is_terminal

        if getattr(args, "progress", False) and is_terminal(sys.stderr):
            try:
                sys.stderr.write("\n")  # end the progress bar's line
            except (OSError, ValueError):  # pragma: no cover
                pass
        return 130
    except CommandError as exc:
        _error(exc, args)
        return failure
    except MemoryError as exc:
        _error(f"out of memory: {exc}" if str(exc) else "out of memory", args)
        return failure
    except OSError as exc:  # e.g. stdout on a full disk, an unreadable metrics directory
        _error(_os_message(exc), args)
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            _drop_stdout()
        return failure
    except (ValueError, TypeError) as exc:  # bad input (InputError, DataFileError...)
        _error(exc, args)
        return 2


def _os_message(exc: OSError) -> str:
    """``path: reason`` for an OS error (not Python's ``[Errno 2] ...`` form)."""
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason
