"""Requests per second and scrape time of the README's app under gunicorn.

    python benchmarks/serving.py [--quick] [--rounds N] [--requests N]

The app is tests/_serving_app.py, served by ``gunicorn -k sync -w 4
--preload`` on loopback (tests/_servers.py), with ``FMLOPS_APP_MODE``:

* ``none``        -- no metrics (the ceiling);
* ``prometheus``  -- prometheus_client's multiprocess mode (files per process);
* ``fastmlops``   -- fastmlops.metrics Counter / Histogram through ``instrument``;
* ``monitor``     -- the same plus a ``DriftMonitor`` observing every request.

**Requests per second.** Each mode with and without ``--max-requests 40``
(jitter 0: a worker recycles every 40 requests).  A run starts a server,
sends a few warm-up requests, then ``--requests`` POSTs from ``--threads``
client threads (one connection per request: sync workers close it) and
stops the server.  Runs are interleaved: every round runs each
configuration once, in round-robin order, and the table gives the median
(and range) over ``--rounds`` rounds.  The client shares the machine with the
server, so the figures are for comparing modes, not absolute capacity.

**Scrape time.** A server with ``--max-requests 1`` (every request recycles
a worker) per mode (prometheus, fastmlops, monitor): the median time of 20
``GET /metrics`` after 0, 100 and 1,000 worker recycles (0 and 100 with
``--quick``).  prometheus_client's multiprocess mode keeps files of every
dead worker, so its scrape grows with the recycles; fastmlops has fixed-size
segments (a new process adopts a dead one's slot).  A scrape is itself a
request, so each scrape recycles a worker too: scrapes go in batches of one
per worker, each batch once every worker is idle (no scrape waits behind an
exit or a boot); the time is the client's (connect, scrape, read).  The
first column is the same median on warm workers (no ``--max-requests``)
after 1,000 requests.

**Worker exit.** The delay from gunicorn's ``worker_exit`` hook (in the
worker, just before it exits) to ``child_exit`` (in the master, after
reaping it), per mode: 2 sync workers, ``--preload``, ``--max-requests 20``,
260 requests at 120/s per run, runs interleaved over the rounds; the median
over every exit.  Goal (issue #22): fastmlops adds at most 30 ms to a worker
without metrics.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests._servers
from tests._servers import exit_delays, gunicorn, http_request, load, write_reference

MODES = ("none", "prometheus", "fastmlops", "monitor")
SCRAPE_MODES = ("prometheus", "fastmlops", "monitor")


def _rps(workdir: Path, mode: str, max_requests: int | str, *, requests: int, threads: int,
         workers: int, reference: Path) -> float:
    """Requests per second of one run (a fresh server); ``max_requests`` "40+hook":
    40 with ``fastmlops.serving.worker_exit`` as gunicorn's worker_exit hook."""
    fast = isinstance(max_requests, str)
    server = gunicorn(workdir, mode=mode, workers=workers, preload=True,
                      max_requests=int(str(max_requests).split("+")[0]),
                      env={"FMLOPS_REFERENCE": str(reference),
                           "FMLOPS_FAST_EXIT": "1" if fast else "0"})
    with server:
        load(server.port, 4 * workers, threads=threads)           # warm-up
        got = load(server.port, requests, threads=threads)
    if got.failed:
        print(f"  {mode} max-requests={max_requests}: {got.failed} failed ({got.errors[:2]})",
              file=sys.stderr)
    return got.rate


def measure_rps(workdir: Path, *, rounds: int, requests: int, threads: int, workers: int,
                reference: Path, modes=MODES, recycling=(0, 40, "40+hook")) -> dict:
    """{(mode, max_requests): [requests per second of each round]}, interleaved
    (the "40+hook" runs for fastmlops' modes only)."""
    configs = [(m, r) for m, r in itertools.product(modes, recycling)
               if r != "40+hook" or m in ("fastmlops", "monitor")]
    results: dict = {c: [] for c in configs}
    for rnd in range(rounds):
        order = configs[rnd % len(configs):] + configs[:rnd % len(configs)]  # round-robin
        for mode, max_req in order:
            run_dir = workdir / f"rps-{mode}-{str(max_req).replace('+', '-')}-{rnd}"
            results[(mode, max_req)].append(
                _rps(run_dir, mode, max_req, requests=requests, threads=threads,
                     workers=workers, reference=reference))
        print(f"  round {rnd + 1}/{rounds} done", file=sys.stderr)
    return results


def _scrape_seconds(server, workers: int, n: int = 20) -> float:
    """Median of ``n`` scrapes, each by an idle worker: ``workers`` scrapes at
    a time (every one recycles its worker), then wait for the exits and the
    new workers before the next batch, so no scrape waits behind an exit."""
    times: list[float] = []
    while len(times) < n:
        done = _exits(server.exit_log)
        server.workers(workers)
        time.sleep(0.2)
        batch = min(workers, n - len(times))
        for _ in range(batch):
            t0 = time.perf_counter()
            status, _, _ = http_request(server.port, "/metrics", timeout=60)
            times.append(time.perf_counter() - t0)
            assert status == 200
        deadline = time.monotonic() + 60
        while _exits(server.exit_log) < done + batch and time.monotonic() < deadline:
            time.sleep(0.02)
    return statistics.median(times)


def _exits(path: Path) -> int:
    try:
        return sum(1 for line in path.read_text().splitlines() if line.startswith("child_exit"))
    except FileNotFoundError:
        return 0


def measure_scrapes(workdir: Path, mode: str, *, recycles=(0, 100, 1000), workers: int,
                    reference: Path, scrapes: int = 20) -> dict:
    """{recycles: median scrape seconds}; also '_exit_ms': median exit delay."""
    server = gunicorn(workdir, mode=mode, workers=workers, preload=True, max_requests=1,
                      env={"FMLOPS_REFERENCE": str(reference)})
    out: dict = {}
    with server:
        for target in recycles:
            deadline = time.monotonic() + 600
            while _exits(server.exit_log) < target and time.monotonic() < deadline:
                load(server.port, min(200, target - _exits(server.exit_log)), threads=4)
            time.sleep(0.3)                          # let the last exits and flushes land
            out.setdefault("_actual", {})[target] = _exits(server.exit_log)
            out[target] = _scrape_seconds(server, workers, scrapes)
    delays = exit_delays(server.exit_log)
    out["_exit_ms"] = 1e3 * statistics.median(delays) if delays else float("nan")
    return out


def measure_warm_scrape(workdir: Path, mode: str, *, workers: int, reference: Path,
                        requests: int = 1000, scrapes: int = 20) -> float:
    """Median scrape seconds of warm workers (no recycling) after ``requests``."""
    with gunicorn(workdir, mode=mode, workers=workers, preload=True,
                  env={"FMLOPS_REFERENCE": str(reference)}) as server:
        load(server.port, requests, threads=4)
        time.sleep(0.3)
        times = []
        for _ in range(scrapes):
            t0 = time.perf_counter()
            status, _, _ = http_request(server.port, "/metrics", timeout=60)
            times.append(time.perf_counter() - t0)
            assert status == 200
    return statistics.median(times)


def measure_exits(workdir: Path, *, rounds: int, reference: Path) -> dict[str, list[float]]:
    """Every worker's exit delay (s) per mode, runs interleaved."""
    delays: dict[str, list[float]] = {mode: [] for mode in MODES}
    for rnd in range(rounds):
        for mode in MODES:
            run = workdir / f"exit-{mode}-{rnd}"
            with gunicorn(run, mode=mode, workers=2, preload=True, max_requests=20,
                          env={"FMLOPS_REFERENCE": str(reference)}) as server:
                load(server.port, 260, threads=2, rate=120)
                server.stop()
            delays[mode] += exit_delays(run / "exits.log")
    return delays


def _fmt_rps(values: list) -> str:
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 rounds of 300 requests; scrapes after 0 and 100 recycles")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--requests", type=int)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--recycles", help="comma-separated recycle counts of the scrape "
                        "table (default 0,100,1000; 0,100 with --quick)")
    parser.add_argument("--skip-rps", action="store_true")
    parser.add_argument("--skip-scrapes", action="store_true")
    parser.add_argument("--skip-exits", action="store_true")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 5)
    requests = args.requests or (300 if args.quick else 2000)
    recycles = (tuple(int(r) for r in args.recycles.split(",")) if args.recycles
                else (0, 100) if args.quick else (0, 100, 1000))

    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, gunicorn -k sync "
          f"-w {args.workers} --preload, {args.threads} client threads, {requests} requests "
          f"per run, {rounds} interleaved rounds\n")
    with tempfile.TemporaryDirectory(prefix="fmlops-serving-") as tmp:
        workdir = Path(tmp)
        reference = write_reference(workdir / "reference.fmlref")
        if not args.skip_rps:
            rps = measure_rps(workdir, rounds=rounds, requests=requests,
                              threads=args.threads, workers=args.workers, reference=reference)
            print("| mode | req/s, no recycling | req/s, --max-requests 40 | the same with "
                  "fastmlops.serving.worker_exit |")
            print("|---|---|---|---|")
            for mode in MODES:
                hook = _fmt_rps(rps[(mode, "40+hook")]) if (mode, "40+hook") in rps else ""
                print(f"| {mode} | {_fmt_rps(rps[(mode, 0)])} | {_fmt_rps(rps[(mode, 40)])} "
                      f"| {hook} |")
            print("\nmedian (lowest-highest) over the rounds\n")
        if not args.skip_exits:
            exits = measure_exits(workdir, rounds=min(rounds, 3), reference=reference)
            base = statistics.median(exits["none"])
            print("| mode | median worker exit -> child_exit | over no metrics | exits |")
            print("|---|---|---|---|")
            for mode, d in exits.items():
                med = statistics.median(d)
                print(f"| {mode} | {1e3 * med:.0f} ms | {1e3 * (med - base):+.0f} ms "
                      f"| {len(d)} |")
            print()
        if args.skip_scrapes:
            return
        scrapes = {mode: measure_scrapes(workdir / f"scrape-{mode}", mode, recycles=recycles,
                                         workers=args.workers, reference=reference)
                   for mode in SCRAPE_MODES}
        warm = {mode: measure_warm_scrape(workdir / f"warm-{mode}", mode, workers=args.workers,
                                          reference=reference) for mode in SCRAPE_MODES}
        head = " | ".join(f"after {r:,} recycles" for r in recycles)
        print(f"| mode | warm workers, 1,000 requests | {head} "
              "| median worker exit -> child_exit |")
        print("|---" * (len(recycles) + 3) + "|")
        for mode, res in scrapes.items():
            cells = " | ".join(f"{1e3 * res[r]:.2f} ms ({res['_actual'][r]})" for r in recycles)
            print(f"| {mode} | {1e3 * warm[mode]:.2f} ms | {cells} | {res['_exit_ms']:.0f} ms |")
        print("\nmedian of 20 scrapes.  Warm: no recycling.  After N recycles: gunicorn "
              "--max-requests 1, so each scrape is the first request of a new worker "
              "(in parentheses: worker exits counted before the scrapes)")


if __name__ == "__main__":
    main()
