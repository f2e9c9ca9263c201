"""``fastmlops gate``: the model-quality gate of CI, from files.

Labels, baseline scores and candidate scores come from columns of one data
file (``fastmlops gate DATA --label y --baseline old --candidate new``) or
from three files (``--label-file``, ``--baseline-file``, ``--candidate-file``,
each ``FILE`` with one column, or ``FILE:COLUMN``).  The report is
:func:`fastmlops.gate.report.gate_report`'s.

Exit statuses (a CI gate reads them):

* 0: the candidate passes every metric;
* 1: it fails some metric (or some slice);
* 2: usage or input error (a missing column or file, labels that are not
  binary, lengths that differ, NaN scores...), or an output that could not
  be written.

With ``--format json`` stdout holds the report's JSON layout
(``docs/gate-report-json.md``) and nothing else; messages go to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from fastmlops.cli._common import InputError, probability, write_report

if TYPE_CHECKING:
    import numpy as np

    from fastmlops.cli._common import SubParsers

_HYPOTHESES = ("non-inferiority", "superiority", "harm")
#: ``fastmlops.gate.METRICS`` (tests check they agree), written out so that
#: building the parser does not import NumPy.
METRICS = ("roc_auc", "average_precision", "log_loss", "brier_score", "ece", "accuracy",
           "precision", "recall", "f1", "rmse", "mae", "r2")
REGRESSION = ("rmse", "mae", "r2")


# ------------------------------------------------------------------ reading
def split_source(text: str) -> tuple[str, str | None]:
    """``FILE`` or ``FILE:COLUMN`` -> (path, column or None).  A path that
    exists as written is a whole file (so a name with ``:`` still works);
    otherwise the column is what follows the last ``:``."""
    if os.path.exists(text) or ":" not in text:
        return text, None
    path, column = text.rsplit(":", 1)
    if not path or not column:
        raise InputError(f"{text!r}: write FILE or FILE:COLUMN")
    return path, column


def _read(path: str, columns: list[str] | None, what: str) -> Any:
    """A pyarrow Table (or a NumPy array for .npy) of ``columns`` of ``path``."""
    from fastmlops.drift import files as _files

    if not os.path.exists(path):
        raise InputError(f"{what} {path}: no such file or directory")
    data = _files.open_data(path)
    return _files.read_table(data, columns if hasattr(data, "schema") else None,
                             name=f"{what} {path}")


def _column(table: Any, name: str | None, where: str) -> np.ndarray:
    """One column of a table (None: its only column) as a NumPy array;
    nulls of a numeric column are NaN."""
    import numpy as np

    if isinstance(table, np.ndarray):
        arr = table
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if name is not None or arr.ndim != 1:
            raise InputError(f"{where}: a .npy file holds one column of values (1-D); "
                             f"got shape {arr.shape}" + (f" and a column {name!r}"
                                                        if name is not None else ""))
        return arr
    import pyarrow as pa

    if name is None:
        if table.num_columns != 1:
            shown = ", ".join(table.column_names[:10])
            raise InputError(f"{where} has {table.num_columns} columns ({shown}); name one "
                             "as FILE:COLUMN")
        name = table.column_names[0]
    col = table.column(name)
    kind = col.type
    if pa.types.is_dictionary(kind):
        col = col.cast(kind.value_type)
        kind = col.type
    if pa.types.is_boolean(kind) and col.null_count == 0:
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        return np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False),
                          dtype=np.float64)
    return np.asarray(col.to_numpy(zero_copy_only=False))


def _check_labels(y: np.ndarray, where: str, regression: bool) -> None:
    import numpy as np

    if y.dtype.kind not in "biuf":
        shown = [str(v) for v in np.unique(y.astype(str))[:5]]
        raise InputError(f"{where} is not numeric (values like {shown}): labels must be "
                         "0/1 or true/false; map the positive class to 1 first")
    missing = int(np.isnan(y).sum()) if y.dtype.kind == "f" else 0
    if missing:
        raise InputError(f"{where} has {missing:,} missing values of {y.size:,}: drop those "
                         "rows first")
    if not regression and not bool(((y == 0) | (y == 1)).all()):
        shown = np.unique(y)[:6].tolist()
        raise InputError(f"{where} is not binary (values {shown}): labels must be 0/1 or "
                         "true/false (map the positive class to 1 first)")


def _check_scores(s: np.ndarray, where: str, n: int, label_where: str) -> None:
    import numpy as np

    if s.dtype.kind not in "biuf":
        raise InputError(f"{where} is not numeric: scores must be numbers")
    if s.size != n:
        raise InputError(f"{where} has {s.size:,} rows but {label_where} has {n:,}: both "
                         "models must be scored on the same rows, in the same order")
    bad = int(np.isnan(s).sum()) if s.dtype.kind == "f" else 0
    if bad:
        raise InputError(f"{where} has {bad:,} NaN (or missing) scores of {s.size:,}: drop "
                         "those rows or fill them before gating")
    if s.dtype.kind == "f" and not np.isfinite(s).all():
        raise InputError(f"{where} has infinite scores: scores must be finite")


def load_inputs(args: argparse.Namespace) -> dict[str, Any]:
    """Labels, both models' scores, the slices and the names, checked."""
    import numpy as np

    files = (args.label_file, args.baseline_file, args.candidate_file)
    columns = (args.label, args.baseline, args.candidate)
    regression = all(m in REGRESSION for m in args.metric)
    if args.data is not None:
        if any(f is not None for f in files):
            raise InputError("give DATA with --label/--baseline/--candidate, or "
                             "--label-file/--baseline-file/--candidate-file without DATA, "
                             "not both")
        missing = [o for o, c in zip(("--label", "--baseline", "--candidate"), columns)
                   if c is None]
        if missing:
            raise InputError(f"DATA {args.data} needs {', '.join(missing)} (the columns of "
                             "labels and of each model's scores)")
        wanted = list(dict.fromkeys([*columns, *([args.slice] if args.slice else [])]))
        table = _read(args.data, wanted, "DATA")
        if isinstance(table, np.ndarray):
            raise InputError(f"DATA {args.data}: a .npy array has no named columns; use "
                             "Parquet or CSV, or the three --*-file options")
        where = [f"column {c!r} of {args.data}" for c in columns]
        y, base, cand = (_column(table, c, w) for c, w in zip(columns, where))
        groups = _column(table, args.slice, where[0]) if args.slice else None
        names = (str(args.baseline), str(args.candidate))
    else:
        if any(c is not None for c in columns):
            raise InputError("--label/--baseline/--candidate name columns of DATA; with "
                             "the three --*-file options write FILE:COLUMN instead")
        missing = [o for o, f in zip(("--label-file", "--baseline-file", "--candidate-file"),
                                     files) if f is None]
        if missing:
            raise InputError("give DATA (one file with --label, --baseline, --candidate) or "
                             f"all three of --label-file, --baseline-file, --candidate-file "
                             f"(missing: {', '.join(missing)})")
        got = []
        where = []
        for opt, text in zip(("--label-file", "--baseline-file", "--candidate-file"), files):
            path, col = split_source(text)
            cols: list[str] | None = [col] if col else None
            if opt == "--label-file" and args.slice and col:
                cols = list(dict.fromkeys([col, args.slice]))
            table = _read(path, cols, opt)
            w = f"{opt} {text}"
            if opt == "--label-file" and args.slice and col is None and \
                    not isinstance(table, np.ndarray):
                rest = [c for c in table.column_names if c != args.slice]
                if len(rest) != 1:
                    raise InputError(f"{w}: write FILE:COLUMN for the labels (the file "
                                     f"has columns {table.column_names[:10]})")
                col = rest[0]
            got.append((table, col))
            where.append(w)
        y = _column(got[0][0], got[0][1], where[0])
        base = _column(got[1][0], got[1][1], where[1])
        cand = _column(got[2][0], got[2][1], where[2])
        groups = None
        if args.slice:
            if isinstance(got[0][0], np.ndarray):
                raise InputError(f"--slice {args.slice}: the label file is .npy, which has "
                                 "no named columns; put labels and slices in one "
                                 "Parquet/CSV file")
            groups = _column(got[0][0], args.slice, f"--slice column of {where[0]}")
        names = (_name(files[1], got[1][1]), _name(files[2], got[2][1]))
        if names[0] == names[1]:
            names = ("baseline", "candidate")
    _check_labels(y, where[0], regression)
    _check_scores(base, where[1], y.size, where[0])
    _check_scores(cand, where[2], y.size, where[0])
    if groups is not None:
        if groups.size != y.size:  # pragma: no cover - a column of the same table
            raise InputError("--slice column and labels differ in length")
        if groups.dtype.kind == "f" and np.isnan(groups).any():
            raise InputError(f"--slice column {args.slice!r} has {int(np.isnan(groups).sum()):,}"
                             " missing values: give every row a slice")
        if groups.dtype.kind == "O" and any(g is None for g in groups):
            raise InputError(f"--slice column {args.slice!r} has missing values: give every "
                             "row a slice")
    return {"y": y, "baseline": base, "candidate": cand, "groups": groups, "names": names}


def _name(text: str, column: str | None) -> str:
    if column:
        return column
    base = os.path.basename(split_source(text)[0])
    return base.split(".")[0] or base


# ------------------------------------------------------------------ command
def margins(values: list[str] | None, metrics: list[str]) -> float | dict[str, float]:
    """``--margin 0.01`` (every metric) and/or ``--margin log_loss=0.02``."""
    if not values:
        return 0.0
    common: float | None = None
    per: dict[str, float] = {}
    for v in values:
        name, sep, number = v.rpartition("=")
        try:
            x = float(number)
        except ValueError:
            raise InputError(f"--margin {v!r}: write a number (every metric) or "
                             "METRIC=NUMBER") from None
        if sep:
            if name not in metrics:
                raise InputError(f"--margin {v!r}: {name!r} is not one of the --metric "
                                 f"values ({', '.join(metrics)})")
            per[name] = x
        else:
            common = x
    if not per:
        return common if common is not None else 0.0
    return {m: per.get(m, common if common is not None else 0.0) for m in metrics}


def cmd_gate(args: argparse.Namespace) -> int:
    """Handler of ``fastmlops gate``."""
    from fastmlops._core.warmup import compile_heartbeat
    from fastmlops.gate.report import gate_report

    metrics = list(dict.fromkeys(args.metric or ["roc_auc"]))
    args.metric = metrics
    margin = margins(args.margin, metrics)
    if args.html:
        from fastmlops.drift.files import check_output_file

        check_output_file(args.html, "--html")
    inputs = load_inputs(args)
    if args.hypothesis == "non-inferiority":
        zero = [m for m in metrics if (margin.get(m, 0.0) if isinstance(margin, dict)
                                       else margin) == 0]
        if zero:
            raise InputError(
                f"non-inferiority needs a margin > 0 for {', '.join(zero)}: the loss you "
                "tolerate, in the metric's units (e.g. --margin 0.01); with margin 0 it is "
                "the superiority test, which a candidate as good as the baseline fails most "
                "of the time; or pass --hypothesis harm (fail only when shown worse)")
    with compile_heartbeat(sys.stderr):
        report = gate_report(inputs["y"], inputs["baseline"], inputs["candidate"],
                             metrics=metrics, margin=margin, alpha=args.alpha,
                             hypothesis=args.hypothesis, groups=inputs["groups"],
                             names=inputs["names"], slice_name=args.slice,
                             threshold=args.threshold)
    write_report(report, args.format, args.html, "gate")
    return 0 if report.passed else 1


def add_cli(sub: SubParsers) -> None:
    """Register ``gate`` on the ``fastmlops`` subparsers."""
    gate = sub.add_parser(
        "gate", help="may a candidate model replace the baseline? (CI gate)",
        description="Compare a candidate model's scores with a baseline's on the same "
                    "labelled rows, per metric (and per slice), and decide. Give DATA "
                    "with --label, --baseline and --candidate (columns of one file), or "
                    "--label-file, --baseline-file and --candidate-file, each FILE (one "
                    "column) or FILE:COLUMN. Exit status: 0 pass, 1 fail (any metric or "
                    "slice fails), 2 usage or input error.",
        epilog="Data: Parquet, CSV, Arrow IPC/Feather (.npy for one column). Example: "
               "fastmlops gate scores.parquet --label y --baseline old --candidate new "
               "--metric roc_auc --metric log_loss --margin 0.01 --slice country "
               "--html gate.html")
    gate.add_argument("data", metavar="DATA", nargs="?", default=None,
                      help="one data file with the labels and both models' scores")
    gate.add_argument("--label", metavar="COLUMN", help="column of DATA with the labels "
                      "(0/1 or true/false; the target for rmse, mae, r2)")
    gate.add_argument("--baseline", metavar="COLUMN", help="column of DATA with the "
                      "baseline's scores")
    gate.add_argument("--candidate", metavar="COLUMN", help="column of DATA with the "
                      "candidate's scores")
    gate.add_argument("--label-file", metavar="FILE[:COLUMN]",
                      help="labels from another file (instead of DATA)")
    gate.add_argument("--baseline-file", metavar="FILE[:COLUMN]",
                      help="baseline scores from another file")
    gate.add_argument("--candidate-file", metavar="FILE[:COLUMN]",
                      help="candidate scores from another file")
    gate.add_argument("--metric", action="append", choices=tuple(METRICS),
                      metavar="METRIC",
                      help="repeatable; the gate fails when any metric fails (default: "
                           f"roc_auc; one of {', '.join(METRICS)})")
    gate.add_argument("--margin", action="append", metavar="[METRIC=]NUMBER",
                      help="the margin in the metric's units: tolerated loss "
                           "(non-inferiority), required gain (superiority) or harm to "
                           "catch; a number for every metric, or METRIC=NUMBER "
                           "(repeatable; default 0)")
    gate.add_argument("--alpha", type=probability, default=0.05,
                      help="level of each metric's test, and the family-wise level of the "
                           "harm tests across metrics and slices (Holm; default 0.05)")
    gate.add_argument("--hypothesis", choices=_HYPOTHESES, default="non-inferiority",
                      help="non-inferiority (default): pass when the candidate is shown at "
                           "most the margin worse; superiority: shown better by the "
                           "margin; harm: fail only when shown worse")
    gate.add_argument("--slice", metavar="COLUMN", default=None,
                      help="column of DATA (or of the label file) with a slice per row "
                           "(country, device): every slice is tested for harm")
    gate.add_argument("--threshold", type=float, default=0.5,
                      help="score threshold of accuracy, precision, recall, f1 (default 0.5)")
    gate.add_argument("--format", choices=("table", "json", "markdown"), default="table",
                      help="stdout: a table, the report's JSON layout, or Markdown "
                           "(default: table)")
    gate.add_argument("--html", metavar="FILE", default=None,
                      help="also write a self-contained HTML report to FILE")
    gate.set_defaults(func=cmd_gate, error_status=2, subparser=gate)
