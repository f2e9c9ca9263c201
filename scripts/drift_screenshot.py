"""Make the README's screenshot of the HTML drift report (docs/drift-report.png).

The report is the one of ``fastmlops demo`` (same synthetic data, same seed),
rendered by ``DriftReport.to_html`` and photographed in a headless Chromium,
started as the tests start it (``tests/_browser.py``: the DevTools protocol
over a pipe, no port, no network).  Run from the repository's root::

    python scripts/drift_screenshot.py            # writes docs/drift-report.png
    python scripts/drift_screenshot.py --out /tmp/shot.png --rows 20000

Needs Chromium (``chromium`` on PATH, or ``CHROMIUM=/path/to/binary``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY = "window.fastmlopsReport && window.fastmlopsReport.ready === true"
#: The page's width in CSS pixels, and the most of its height that is kept.
WIDTH, MAX_HEIGHT = 1280, 2400


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "drift-report.png"),
                        help="the PNG to write (default: docs/drift-report.png)")
    parser.add_argument("--rows", type=int, default=200_000,
                        help="reference rows of the demo data (default: 200000, as the demo)")
    parser.add_argument("--seed", type=int, default=7, help="the demo's seed (default: 7)")
    parser.add_argument("--open", type=int, default=3,
                        help="how many of the worst columns to show opened (default: 3)")
    args = parser.parse_args(argv)
    if args.rows < 2 or args.open < 0:
        parser.error("--rows must be >= 2 and --open >= 0")

    sys.path.insert(0, str(ROOT))  # tests/_browser.py: how the tests drive Chromium
    import fastmlops
    from fastmlops.cli._demo import _demo_data
    from tests._browser import Browser, chromium_path

    if chromium_path() is None:
        print("no Chromium found: install chromium or set CHROMIUM", file=sys.stderr)
        return 2
    reference, production = _demo_data(args.rows, args.seed)
    report = fastmlops.DriftReference(reference).check(production)
    with tempfile.TemporaryDirectory() as tmp:
        page_path = Path(tmp) / "drift.html"
        report.to_html(page_path)
        with Browser() as browser:
            page = browser.open(page_path, width=WIDTH, height=900, ready=READY)
            # the worst columns open, the rest closed (the page opens the worst
            # three that drifted; this makes it exactly --open, whatever they are)
            page.evaluate(f"""(() => {{
              const order = JSON.parse(document.getElementById('report-data').textContent).order;
              order.forEach((j, r) => window.fastmlopsReport.open(j, r < {args.open}));
            }})()""")
            height = page.evaluate("Math.ceil(document.documentElement.scrollHeight)")
            page.settle()
            errors = page.errors()
            if errors:
                print("the page reported errors: " + "; ".join(errors), file=sys.stderr)
                return 1
            png = page.screenshot({"x": 0, "y": 0, "width": WIDTH,
                                   "height": min(int(height), MAX_HEIGHT)})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png)
    print(f"wrote {out} ({len(png):,} bytes; {len(report.columns)} columns, "
          f"verdict {report.verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
