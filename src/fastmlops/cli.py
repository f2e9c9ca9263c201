"""The ``fastmlops`` command line.

``fastmlops demo``              drift check of built-in synthetic reference/production data
``fastmlops fingerprint PATH``  sha256sum-style digests (or a JSON manifest) of files/trees
``fastmlops metrics [DIR]``     expose the metrics a metrics directory holds (print, or --serve)
``fastmlops warmup``            compile (or load from cache) every kernel ahead of time
``fastmlops version``           print the version
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence


def _demo_data(rows: int, seed: int):  # -> (reference dict, production dict)
    import numpy as np

    rng = np.random.default_rng(seed)

    def table(n: int, production: bool) -> dict:
        age = rng.normal(41, 12, n).round()
        income = rng.lognormal(10.5, 0.6, n)
        latency = rng.gamma(2.0, 20.0, n)
        score = rng.beta(2, 5, n)
        clicks = rng.poisson(3.0, n).astype(float)
        region = rng.integers(0, 8, n).astype(float)
        if production:
            income = income * 1.25  # inflation: a real shift
            latency = latency + rng.normal(0, 2.0, n)  # small noise: negligible
            score = rng.beta(2.6, 5, n)  # model input drifted
            clicks[rng.random(n) < 0.08] = np.nan  # a logging bug: 8 % missing
        return {"age": age, "income": income, "latency_ms": latency,
                "score": score, "clicks": clicks, "region": region}

    return table(rows, False), table(rows // 2, True)


def cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np

    import fastmlops

    t0 = time.perf_counter()
    reference, production = _demo_data(args.rows, args.seed)
    ref = fastmlops.DriftReference(reference, alpha=args.alpha)
    t1 = time.perf_counter()
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


def cmd_warmup(args: argparse.Namespace) -> int:
    import fastmlops

    fastmlops.warmup(verbose=True)
    return 0


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
    if not 0 <= args.serve <= 65535:
        raise ValueError(f"--serve needs a port in [0, 65535], got {args.serve}")
    start_http_server(args.serve, addr=args.addr, registry=registry)
    print(f"fastmlops: serving the metrics of {args.directory or 'FASTMLOPS_METRICS_DIR'} "
          f"on http://{args.addr}:{args.serve}/metrics (Ctrl-C stops)", file=sys.stderr)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


def cmd_version(args: argparse.Namespace) -> int:
    import fastmlops

    print(fastmlops.__version__)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastmlops",
        description="Production ML monitoring statistics on native-speed kernels.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="drift check of built-in synthetic data")
    demo.add_argument("--rows", type=int, default=200_000,
                      help="reference rows (production gets half as many)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--alpha", type=float, default=0.01, help="KS significance level")
    demo.set_defaults(func=cmd_demo)
    warm = sub.add_parser("warmup", help="compile or load every kernel ahead of time")
    warm.set_defaults(func=cmd_warmup)
    met = sub.add_parser(
        "metrics", help="expose the metrics of a metrics directory (fastmlops.metrics)",
        description="Print (or serve over HTTP) the Prometheus exposition of every "
                    "fastmlops metric that the processes sharing DIR have recorded.")
    met.add_argument("directory", nargs="?", default=None,
                     help="metrics directory (default: $FASTMLOPS_METRICS_DIR)")
    met.add_argument("--openmetrics", action="store_true", help="OpenMetrics text format")
    met.add_argument("--serve", type=int, metavar="PORT", default=None,
                     help="serve /metrics on this port instead of printing once")
    met.add_argument("--addr", default="127.0.0.1", help="address to serve on (default: "
                     "127.0.0.1; 0.0.0.0 for every interface)")
    met.set_defaults(func=cmd_metrics)
    ver = sub.add_parser("version", help="print the version")
    ver.set_defaults(func=cmd_version)
    from fastmlops.fingerprint import add_cli as add_fingerprint

    add_fingerprint(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "rows", 2) < 2:
        parser.error("--rows must be at least 2")
    try:
        return int(args.func(args))
    except (ValueError, TypeError) as exc:
        print(f"fastmlops: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `fastmlops demo | head`: the reader left; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
