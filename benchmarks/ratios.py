"""Turn pytest-benchmark JSON into a markdown table of speed-ups.

    python -m pytest benchmarks --benchmark-enable --benchmark-json=bench.json
    python benchmarks/ratios.py bench.json

In every benchmark group, tests whose name contains ``fastmlops`` are ours and
every other test is a reference; the ratio is reference median / our median.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def main(path: str) -> None:
    data = json.load(open(path))
    groups: dict[str, list[dict]] = defaultdict(list)
    for b in data["benchmarks"]:
        groups[b["group"] or b["name"]].append(b)
    print("| benchmark | fastmlops (median) | reference | reference (median) | speed-up |")
    print("|---|---|---|---|---|")
    for group, items in groups.items():
        ours = [b for b in items if "fastmlops" in b["name"]]
        refs = [b for b in items if "fastmlops" not in b["name"]]
        for o in ours:
            if not refs:
                print(f"| {group} | {fmt_time(o['stats']['median'])} | - | - | - |")
            for r in refs:
                ratio = r["stats"]["median"] / o["stats"]["median"]
                rname = r["name"].split("[")[0].replace("test_", "")
                print(f"| {group} | {fmt_time(o['stats']['median'])} | {rname} | "
                      f"{fmt_time(r['stats']['median'])} | {ratio:.1f}x |")
    info = data.get("machine_info", {})
    print()
    print(f"Machine: {info.get('cpu', {}).get('brand_raw', '?')}, "
          f"{info.get('cpu', {}).get('count', '?')} cores; Python {info.get('python_version', '?')}; "
          f"date {data.get('datetime', '?')}")


if __name__ == "__main__":
    main(sys.argv[1])
