"""``fastmlops drift`` and ``fastmlops reference build``: drift checks of data
files for CI gates.

Exit statuses of ``fastmlops drift`` (a CI gate reads them):

* 0: the table's verdict is below ``--fail-on`` (default ``drift``);
* 1: the verdict is at or above ``--fail-on``;
* 2: usage or input error (bad option, unreadable or malformed file, columns
  that do not match), or an output that could not be written.

With ``--format json`` stdout holds the report's stable JSON layout
(``docs/drift-report-json.md``) and nothing else; messages and progress go to
stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from fastmlops.cli import _drift_time
from fastmlops.cli._common import InputError, int_in_range, probability, write_report
from fastmlops.cli._common import say as _say

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from fastmlops.cli._common import SubParsers
    from fastmlops.drift import DriftReference

#: The verdicts, from least to most severe.
_SEVERITY = {"ok": 0, "watch": 1, "drift": 2, "never": 3}
_REFERENCE_MAGIC = b"FMLDREF\n"


def is_saved_reference(path: str) -> bool:
    """Whether ``path`` is a file written by ``DriftReference.save`` (False for
    anything but a regular file: a FIFO is not opened, a pipe not read from)."""
    from fastmlops.drift.files import open_regular

    try:
        with open_regular(path) as f:
            return f.read(len(_REFERENCE_MAGIC)) == _REFERENCE_MAGIC
    except (OSError, ValueError):
        return False


def _names(values: list[str] | None) -> list[str] | None:
    """``--columns a,b --columns c`` -> ["a", "b", "c"]."""
    if not values:
        return None
    out = [n.strip() for v in values for n in v.split(",")]
    if any(not n for n in out):
        raise InputError("empty column name in a comma-separated list "
                         f"({','.join(values)!r}); write names separated by single commas")
    return out


def _size(path: str) -> int:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    return os.path.getsize(path)


def read_data(path: str, columns: list[str] | None, what: str) -> pa.Table | np.ndarray:
    """A whole data file or directory as a pyarrow Table (NumPy array for
    .npy), saying on stderr when it is large."""
    from fastmlops.drift import files as _files

    if not os.path.exists(path):
        raise InputError(f"{what} {path}: no such file or directory")
    try:
        size = _size(path)
    except OSError:
        size = 0
    if size > 100e6:
        _say(f"fastmlops: reading {what} {path} ({size / 1e9:.2f} GB)")
    data = _files.open_data(path)
    return _files.read_table(data, columns if hasattr(data, "schema") else None,
                             name=f"{what} {path}")


def drift_share(text: str) -> float | None:
    """An argparse type: a share in (0, 1], or "holm" (the default rule: any
    column drifted after Holm's correction), as None."""
    if text.strip().lower() == "holm":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid share: {text!r} (a number in (0, 1], or 'holm')") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1] or 'holm', got {text}")
    return value


def _rule_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The verdict rule's options given on the command line."""
    kwargs: dict[str, Any] = {}
    if args.alpha is not None:
        kwargs["alpha"] = args.alpha
    if getattr(args, "correction", None) is not None:
        kwargs["correction"] = args.correction
    if getattr(args, "drift_share", "keep") != "keep":
        kwargs["drift_share"] = args.drift_share
    return kwargs


def _build(args: argparse.Namespace, data: pa.Table | np.ndarray) -> DriftReference:
    from fastmlops.drift import DriftReference

    columns = _names(args.columns)
    kwargs: dict[str, Any] = _rule_kwargs(args)
    if args.bins is not None:
        kwargs["bins"] = args.bins
    categorical = _names(args.categorical) or ()
    if hasattr(data, "ndim") and columns is None and data.ndim == 2:
        columns = [str(j) for j in range(data.shape[1])]
    return DriftReference(data, columns=columns, categorical=categorical, **kwargs)


def _reference(args: argparse.Namespace) -> DriftReference:
    from fastmlops.drift import DriftReference

    if is_saved_reference(args.reference):
        given = [opt for opt, value in (("--columns", args.columns),
                                        ("--categorical", args.categorical),
                                        ("--bins", args.bins))
                 if value is not None]
        if given:
            raise InputError(f"{' and '.join(given)} {'sets' if len(given) == 1 else 'set'} "
                             "how a reference is built; "
                             f"{args.reference} is a saved reference (built already): "
                             "leave them out, or pass the reference's data instead")
        ref = DriftReference.load(args.reference)
        rule = _rule_kwargs(args)  # the verdict rule may change at check time
        return ref.with_rule(**rule) if rule else ref
    columns = _names(args.columns)
    data = read_data(args.reference, columns, "reference")
    return _build(args, data)


def _ensure_kernels() -> None:
    from fastmlops._core.warmup import ensure_compiled

    ensure_compiled(sys.stderr)


def cmd_drift(args: argparse.Namespace) -> int:
    """Handler of ``fastmlops drift``."""
    from fastmlops._core.warmup import compile_heartbeat

    _ensure_kernels()
    with compile_heartbeat(sys.stderr):
        if is_saved_reference(args.current):
            raise InputError(f"CURRENT {args.current} is a saved reference; CURRENT is "
                             "the data to check (a data file or directory)")
        if os.path.exists(args.current):  # a FIFO or pipe: refused before the build
            from fastmlops.drift.files import detect_format

            detect_format(args.current)
        ref = _reference(args)
        if not os.path.exists(args.current):
            raise InputError(f"current data {args.current}: no such file or directory")
        if _drift_time.wanted(args):  # --by/--every or --chunk-rows: one report per chunk
            return _drift_time.run(args, ref)
        # streamed in batches (read twice for an exact KS), progress on stderr
        from fastmlops._core.progress import ProgressBar

        bar = ProgressBar(f"checking {args.current}", sys.stderr, unit="rows")
        try:
            report = ref.check(args.current, progress=bar)
        except ArithmeticError as exc:  # a bug or an impossible input: never status 1
            raise InputError(f"cannot check {args.current} against {args.reference}: "
                             f"{type(exc).__name__}: {exc}") from exc
        except ValueError as exc:  # bytes that are not UTF-8 past the first rows of a CSV
            from fastmlops.drift import files as _files

            if _files.is_utf8_error(exc):
                raise InputError(str(_files.not_utf8_error(f"current data {args.current}"))) \
                    from None
            raise
        finally:
            bar.close()
    write_report(report, args.format, args.html, "drift")
    return 1 if _SEVERITY[report.verdict] >= _SEVERITY[args.fail_on] else 0


def cmd_reference_build(args: argparse.Namespace) -> int:
    """Handler of ``fastmlops reference build``."""
    from fastmlops._core.warmup import compile_heartbeat
    from fastmlops.drift.files import check_output_file

    check_output_file(args.output, "drift reference")  # a FIFO, link, device: before the build
    _ensure_kernels()
    with compile_heartbeat(sys.stderr):
        columns = _names(args.columns)
        data = read_data(args.data, columns, "data")
        ref = _build(args, data)
    try:
        digest = ref.save(args.output)
    except OSError as exc:
        raise InputError(f"cannot write -o {args.output}: {exc.strerror or exc}") from None
    _say(f"fastmlops reference: saved {len(ref.columns)} columns x {ref.n_rows:,} rows "
         f"to {args.output}")
    sys.stdout.write(f"{digest or ref.digest}\n")
    return 0


# ------------------------------------------------------------------ arguments
def _build_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--columns", action="append", metavar="A,B,...",
                        help="columns to check, comma-separated or repeated (default: all "
                             "columns of the reference)")
    parser.add_argument("--categorical", action="append", metavar="A,B,...",
                        help="integer columns to treat as categories (strings and bools "
                             "always are)")
    parser.add_argument("--alpha", type=probability, default=None,
                        help="each column's false-positive rate, and the table's under "
                             "the default rule (default: 0.01; with a saved reference: "
                             "its own)")
    parser.add_argument("--correction", choices=("none", "holm", "bh"), default=None,
                        help="adjust the columns' p-values across the table for the "
                             "column verdicts (default: none; the table's default rule "
                             "applies Holm's correction whatever this is)")
    parser.add_argument("--drift-share", type=drift_share, default=argparse.SUPPRESS,
                        metavar="SHARE|holm",
                        help="the table's rule: by default (holm) the table drifts when "
                             "any column drifts after Holm's correction across its "
                             "columns (false-alarm rate at most alpha); a share in (0, 1] "
                             "makes it drift when at least that share of its columns "
                             "drift")
    parser.add_argument("--bins", type=int_in_range(2, 10_000), default=None,
                        help="PSI bins of numeric columns: quantiles of the reference "
                             "(default: 10)")


def add_cli(sub: SubParsers) -> None:
    """Register ``drift`` and ``reference`` on the ``fastmlops`` subparsers."""
    drift = sub.add_parser(
        "drift", help="check data files for drift against a reference (CI gate)",
        description="Check CURRENT for drift against REFERENCE, column by column. "
                    "Exit status: 0 when the verdict is below --fail-on, 1 when it is at "
                    "or above, 2 on usage or input errors.",
        epilog="Data: Parquet (a file, or a directory incl. hive partitions), CSV, "
               "Arrow IPC/Feather or .npy. Example: fastmlops drift train.parquet "
               "today/ --html drift.html --fail-on drift")
    drift.add_argument("reference", metavar="REFERENCE",
                       help="reference data (file or directory), or a reference saved by "
                            "`fastmlops reference build`")
    drift.add_argument("current", metavar="CURRENT", help="data to check (file or directory)")
    _build_options(drift)
    drift.add_argument("--format", choices=("table", "json", "markdown"), default="table",
                       help="stdout: a table, the report's JSON layout, or Markdown "
                            "(default: table)")
    drift.add_argument("--html", metavar="FILE", default=None,
                       help="also write a self-contained HTML report to FILE")
    drift.add_argument("--fail-on", choices=("drift", "watch", "never"), default="drift",
                       help="exit with status 1 when the verdict is at least this "
                            "(default: drift; never: always 0)")
    drift.set_defaults(func=cmd_drift, error_status=2, subparser=drift)
    _drift_time.add_time_arguments(drift)  # --by, --every, --chunk-rows, --in-order

    ref = sub.add_parser("reference", help="build and save drift references",
                         description="Build a drift reference once, check many batches "
                                     "against it with `fastmlops drift REF CURRENT`.")
    ref_sub = ref.add_subparsers(dest="reference_command", required=True, metavar="build")
    build = ref_sub.add_parser(
        "build", help="save the reference of a data file or directory",
        description="Sort, bin and count DATA once and save it to REF (prints its digest).")
    build.add_argument("data", metavar="DATA", help="data file or directory")
    build.add_argument("-o", "--output", required=True, metavar="REF",
                       help="file to write the reference to")
    _build_options(build)
    build.set_defaults(func=cmd_reference_build, error_status=2, subparser=build,
                       prog_name="fastmlops reference build")
