"""The README's app under ``gunicorn -k sync -w 4 --preload``: a reduced
benchmarks/serving.py for pytest-benchmark.

Run with::

    python -m pytest benchmarks/test_bench_serving.py --benchmark-enable \
        --benchmark-json=serving.json -p no:randomly

* ``serving-load``: one round is ``REQUESTS`` POSTs from 8 client threads
  against one server per mode (none, prometheus multiprocess, fastmlops,
  fastmlops + DriftMonitor), with and without ``--max-requests 40``;
  ``extra_info["requests_per_second"]`` has each round's rate.
* ``serving-scrape``: one ``GET /metrics`` after 100 worker recycles
  (``--max-requests 1``), per mode.

The interleaved, round-robin figures (and scrapes after 1,000 recycles) come
from ``python benchmarks/serving.py``; here each configuration's rounds run
back to back, as pytest-benchmark does.
"""

from __future__ import annotations

import pytest

pytest.importorskip("gunicorn")

from tests._servers import gunicorn, http_request, load, write_reference

REQUESTS = 300
WORKERS = 4


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return write_reference(tmp_path_factory.mktemp("serving-ref") / "reference.fmlref")


@pytest.mark.benchmark(group="serving-load")
@pytest.mark.parametrize("max_requests", [0, 40], ids=["no-recycling", "max-requests-40"])
@pytest.mark.parametrize("mode", ["none", "prometheus", "fastmlops", "monitor"])
def test_requests(benchmark, tmp_path, reference, mode, max_requests):
    with gunicorn(tmp_path, mode=mode, workers=WORKERS, preload=True,
                  max_requests=max_requests, env={"FMLOPS_REFERENCE": str(reference)}) as srv:
        load(srv.port, 4 * WORKERS, threads=8)      # warm-up
        rates = []

        def run():
            got = load(srv.port, REQUESTS, threads=8)
            assert got.answered == REQUESTS, got.errors
            rates.append(got.rate)

        benchmark.pedantic(run, rounds=3)
    benchmark.extra_info["requests_per_round"] = REQUESTS
    benchmark.extra_info["requests_per_second"] = rates


@pytest.mark.benchmark(group="serving-scrape")
@pytest.mark.parametrize("mode", ["prometheus", "fastmlops", "monitor"])
def test_scrape_after_100_recycles(benchmark, tmp_path, reference, mode):
    with gunicorn(tmp_path, mode=mode, workers=WORKERS, preload=True, max_requests=1,
                  env={"FMLOPS_REFERENCE": str(reference)}) as srv:
        got = load(srv.port, 100, threads=4)
        assert got.answered == 100, got.errors

        def scrape():
            status, _, _ = http_request(srv.port, "/metrics", timeout=60)
            assert status == 200

        benchmark.pedantic(scrape, rounds=20)
