"""``fastmlops demo``: a drift check of built-in synthetic reference and
production data (no files or network needed); ``fastmlops demo loop`` (the
seed's loop end to end) is registered here and lives in ``_demo_loop``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING

from fastmlops.cli._common import int_in_range, probability

if TYPE_CHECKING:
    import numpy as np

    from fastmlops.cli._common import SubParsers

#: A demo table: column name -> values.
Table = dict[str, "np.ndarray"]


def _demo_data(rows: int, seed: int) -> tuple[Table, Table]:
    """The reference table and a production table half as long, which drifted."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def table(n: int, production: bool) -> Table:
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
    """Handler of ``fastmlops demo``."""
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


def _write_demo_files(reference: Table, production: Table, directory: str) -> None:
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


def add_cli(sub: SubParsers) -> None:
    """Register ``demo`` on the ``fastmlops`` subparsers."""
    demo = sub.add_parser(
        "demo", help="drift check of built-in synthetic data",
        description="Drift check of built-in synthetic reference and production data "
                    "(no files or network needed).")
    demo.add_argument("--rows", type=int_in_range(2), default=200_000,
                      help="reference rows; production gets half as many (default: 200000)")
    demo.add_argument("--seed", type=int_in_range(0), default=7,
                      help="random seed of the synthetic data (default: 7)")
    demo.add_argument("--alpha", type=probability, default=0.01,
                      help="each column's false-positive rate, in (0, 1) (default: 0.01)")
    demo.add_argument("--out", metavar="DIR", default=None,
                      help="also write the demo's data to DIR as reference.parquet and "
                           "production.parquet (CSV without pyarrow)")
    demo.set_defaults(func=cmd_demo)
    from fastmlops.cli import _demo_loop

    _demo_loop.add_cli(demo.add_subparsers(dest="demo_command", metavar="{loop}"))
