"""``fastmlops metrics [DIR]``: print, or serve over HTTP, the Prometheus
exposition of the metrics a metrics directory holds."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING

from fastmlops.cli._common import CommandError

if TYPE_CHECKING:
    from fastmlops.cli._common import SubParsers


def _wait_forever() -> None:
    """Block the main thread until Ctrl-C (the server runs in a daemon thread)."""
    while True:
        time.sleep(3600)


def _url_host(addr: str) -> str:
    """``addr`` as the host part of a URL: an IPv6 address goes in brackets."""
    return f"[{addr}]" if ":" in addr and not addr.startswith("[") else addr


def cmd_metrics(args: argparse.Namespace) -> int:
    """Handler of ``fastmlops metrics``."""
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
        raise CommandError(f"cannot serve on {_url_host(addr)}:{args.serve}: {reason}") \
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


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is in [0, 65535] (0: any free port), "
                                         f"got {value}")
    return value


def _check_arguments(args: argparse.Namespace) -> None:
    """Checks argparse cannot express; a failure exits 2 with the usage."""
    if args.addr is not None and args.serve is None:
        args.subparser.error("--addr needs --serve PORT")


def add_cli(sub: SubParsers) -> None:
    """Register ``metrics`` on the ``fastmlops`` subparsers."""
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
    met.set_defaults(func=cmd_metrics, subparser=met, check_arguments=_check_arguments)
