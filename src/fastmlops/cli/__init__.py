"""The ``fastmlops`` command line.

``fastmlops demo``              drift check of built-in synthetic reference/production data
``fastmlops drift REF CUR``     drift check of data files, exit status for CI gates
``fastmlops reference build``   save a drift reference of a data file or directory
``fastmlops fingerprint PATH``  sha256sum-style digests (or a JSON manifest) of files/trees
``fastmlops fingerprint --check MANIFEST [DIR]``  verify files against a manifest
``fastmlops metrics [DIR]``     expose the metrics a metrics directory holds (print, or --serve)
``fastmlops warmup``            compile (or load from cache) every kernel ahead of time
``fastmlops version``           print the version
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Sequence

from fastmlops.cli._drift import int_in_range, probability

__all__ = ["main", "build_parser", "cmd_demo", "cmd_warmup", "cmd_metrics", "cmd_version"]


def _demo_data(rows: int, seed: int):  # -> (reference dict, production dict)
    import numpy as np

    rng = np.random.default_rng(seed)

    def table(n: int, production: bool) -> dict:
        age = rng.normal(41, 12, n).round()
        income = rng.lognormal(10.5, 0.6, n)
        latency = rng.gamma(2.0, 20.0, n)
        score = rng.beta(2, 5, n)
        clicks = rng.poisson(3.0, n).astype(float)
        region = rng.choice(["north", "south", "east", "west", "centre", "islands"], n,
                            p=[0.25, 0.2, 0.2, 0.15, 0.15, 0.05])
        plan = rng.choice(["free", "pro", "team"], n, p=[0.6, 0.3, 0.1])
        device = rng.choice(["web", "ios", "android"], n, p=[0.5, 0.25, 0.25])
        if production:
            income = income * 1.25  # inflation: a real shift
            latency = latency + rng.normal(0, 2.0, n)  # small noise: negligible
            score = rng.beta(2.6, 5, n)  # model input drifted
            clicks[rng.random(n) < 0.08] = np.nan  # a logging bug: 8 % missing
            plan = rng.choice(["free", "pro", "team"], n, p=[0.5, 0.3, 0.2])  # a campaign
            device[rng.random(n) < 0.03] = "tv"  # a new client the model never saw
        return {"age": age, "income": income, "latency_ms": latency,
                "score": score, "clicks": clicks, "region": region, "plan": plan,
                "device": device}

    return table(rows, False), table(rows // 2, True)


def cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np

    import fastmlops

    from fastmlops._core.warmup import compile_heartbeat, ensure_compiled

    ensure_compiled(sys.stderr)
    t0 = time.perf_counter()
    reference, production = _demo_data(args.rows, args.seed)
    if args.out is not None:
        _write_demo_files(reference, production, args.out)
    with compile_heartbeat(sys.stderr):
        ref = fastmlops.DriftReference(reference, alpha=args.alpha)
    t1 = time.perf_counter()
    with compile_heartbeat(sys.stderr):
        report = ref.check(production)
    t2 = time.perf_counter()
    print(f"fastmlops {fastmlops.__version__} drift demo: reference {ref.n_rows:,} rows, "
          f"production {report.n_rows:,} rows, {len(ref.columns)} columns\n")
    print(report.format())
    print(f"\n(reference built in {t1 - t0:.3f} s, batch checked in {(t2 - t1) * 1e3:.1f} ms;"
          " the first run includes JIT compilation unless `fastmlops warmup` ran)")

    # The lecture's example: 1000 training vs 1000 production values,
    # production = 1.2 * x + 0.5 (x uniform on [0, 1)).
    rng = np.random.default_rng(args.seed)
    train = rng.random(1000)
    prod = rng.random(1000) * 1.2 + 0.5
    res = fastmlops.ks_2samp(train, prod)
    drift = "drift: trigger retraining" if res.pvalue < args.alpha else "no drift"
    print(f"\nKS, 1000 training vs 1000 production values (x1.2 + 0.5): "
          f"D = {res.statistic:.4f}, p = {res.pvalue:.3g} -> {drift}")
    return 0


def _write_demo_files(reference: dict, production: dict, directory: str) -> None:
    """The demo's data as reference.parquet and production.parquet in
    ``directory`` (CSV files when pyarrow is missing), for ``fastmlops drift``."""
    os.makedirs(directory, exist_ok=True)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        pa = None
    written = []
    for name, table in (("reference", reference), ("production", production)):
        if pa is not None:
            path = os.path.join(directory, f"{name}.parquet")
            pq.write_table(pa.table(table), path)
        else:  # pragma: no cover - depends on the environment
            import numpy as np

            path = os.path.join(directory, f"{name}.csv")
            columns = list(table)
            np.savetxt(path, np.column_stack([table[c] for c in columns]), delimiter=",",
                       header=",".join(columns), comments="", fmt="%.17g")
        written.append(path)
    print(f"fastmlops demo: wrote {written[0]} and {written[1]}; try: fastmlops drift "
          f"{written[0]} {written[1]} --html drift.html", file=sys.stderr)


def cmd_warmup(args: argparse.Namespace) -> int:
    import fastmlops

    fastmlops.warmup(verbose=True)
    return 0


def _wait_forever() -> None:
    """Block the main thread until Ctrl-C (the server runs in a daemon thread)."""
    while True:
        time.sleep(3600)


def _url_host(addr: str) -> str:
    """``addr`` as the host part of a URL: an IPv6 address goes in brackets."""
    return f"[{addr}]" if ":" in addr and not addr.startswith("[") else addr


def cmd_metrics(args: argparse.Namespace) -> int:
    try:
        from prometheus_client import (
            CollectorRegistry,
            generate_latest,
            start_http_server,
        )
        from prometheus_client.openmetrics.exposition import (
            generate_latest as om_latest,
        )
    except ImportError:  # pragma: no cover - depends on the environment
        raise ValueError("fastmlops metrics needs prometheus_client: "
                         "pip install 'fastmlops[prometheus]'") from None
    from fastmlops.metrics import DirectoryCollector

    registry = CollectorRegistry()
    DirectoryCollector(args.directory, registry=registry)
    if args.serve is None:
        text = (om_latest if args.openmetrics else generate_latest)(registry)
        sys.stdout.write(text.decode("utf-8"))
        return 0
    addr = args.addr if args.addr is not None else "127.0.0.1"
    try:
        started = start_http_server(args.serve, addr=addr, registry=registry)
    except OSError as exc:  # port in use, privileged port, unknown address
        reason = exc.strerror or str(exc)
        raise _CommandError(f"cannot serve on {_url_host(addr)}:{args.serve}: {reason}") \
            from None
    # prometheus_client >= 0.19 returns (server, thread); older versions None.
    server = started[0] if isinstance(started, tuple) else None
    port = server.server_address[1] if server is not None else args.serve
    directory = args.directory or os.environ.get("FASTMLOPS_METRICS_DIR", "")
    print(f"fastmlops: serving the metrics of {directory} "
          f"on http://{_url_host(addr)}:{port}/metrics (Ctrl-C stops)", file=sys.stderr)
    try:
        _wait_forever()
    finally:  # Ctrl-C: close the socket (matters when main() runs in-process)
        if server is not None:
            server.shutdown()
            server.server_close()
    return 0  # pragma: no cover - _wait_forever only ends by an exception


def cmd_version(args: argparse.Namespace) -> int:
    import fastmlops

    print(fastmlops.__version__)
    return 0


def _int_at_least(minimum: int):
    return int_in_range(minimum)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is in [0, 65535] (0: any free port), "
                                         f"got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    import fastmlops

    parser = argparse.ArgumentParser(
        prog="fastmlops",
        description="Production ML monitoring statistics on native-speed kernels.")
    parser.add_argument("--version", action="version",
                        version=f"fastmlops {fastmlops.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="drift check of built-in synthetic data",
        description="Drift check of built-in synthetic reference and production data "
                    "(no files or network needed).")
    demo.add_argument("--rows", type=_int_at_least(2), default=200_000,
                      help="reference rows; production gets half as many (default: 200000)")
    demo.add_argument("--seed", type=_int_at_least(0), default=7,
                      help="random seed of the synthetic data (default: 7)")
    demo.add_argument("--alpha", type=probability, default=0.01,
                      help="each column's false-positive rate, in (0, 1) (default: 0.01)")
    demo.add_argument("--out", metavar="DIR", default=None,
                      help="also write the demo's data to DIR as reference.parquet and "
                           "production.parquet (CSV without pyarrow)")
    demo.set_defaults(func=cmd_demo)
    warm = sub.add_parser("warmup", help="compile or load every kernel ahead of time")
    warm.set_defaults(func=cmd_warmup)
    met = sub.add_parser(
        "metrics", help="expose the metrics of a metrics directory (fastmlops.metrics)",
        description="Print (or serve over HTTP) the Prometheus exposition of every "
                    "fastmlops metric that the processes sharing DIR have recorded.")
    met.add_argument("directory", nargs="?", default=None, metavar="DIR",
                     help="metrics directory (default: $FASTMLOPS_METRICS_DIR)")
    met.add_argument("--openmetrics", action="store_true",
                     help="print in the OpenMetrics text format (when serving, each "
                          "scraper gets the format its Accept header asks for)")
    met.add_argument("--serve", type=_port, metavar="PORT", default=None,
                     help="serve /metrics on this port (0: any free one) until Ctrl-C, "
                          "instead of printing once")
    met.add_argument("--addr", default=None, help="address to serve on, with --serve "
                     "(default: 127.0.0.1; 0.0.0.0 or :: for every interface)")
    met.set_defaults(func=cmd_metrics, subparser=met)
    ver = sub.add_parser("version", help="print the version")
    ver.set_defaults(func=cmd_version)
    from fastmlops.cli._drift import add_cli as add_drift
    from fastmlops.fingerprint import add_cli as add_fingerprint

    add_drift(sub)
    fingerprint = add_fingerprint(sub)
    fingerprint.set_defaults(subparser=fingerprint)
    return parser


#: Exit status on a broken pipe: 128 + SIGPIPE, what a shell reports for a GNU
#: tool killed by SIGPIPE (``yes | head -1; echo ${PIPESTATUS[0]}``).
_EXIT_SIGPIPE = 128 + 13


class _CommandError(Exception):
    """A failure reported as one ``fastmlops COMMAND: error:`` line with exit status 1."""


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


def _check_arguments(args: argparse.Namespace) -> None:
    """Checks argparse cannot express; a failure exits 2 with the usage."""
    if getattr(args, "addr", None) is not None and args.serve is None:
        args.subparser.error("--addr needs --serve PORT")
    if args.command == "fingerprint":
        if args.check is None and not args.paths:
            args.subparser.error("the following arguments are required: PATH "
                                 "(or --check MANIFEST)")
        if args.check is not None and len(args.paths) > 1:
            args.subparser.error("--check takes at most one PATH: the directory the "
                                 "manifest's paths are relative to")
        if args.check is not None and args.json:
            args.subparser.error("--check and --json do not go together")
        if args.quiet and args.check is None:
            args.subparser.error("--quiet goes with --check")


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
    _check_arguments(args)
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
    except _CommandError as exc:
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
