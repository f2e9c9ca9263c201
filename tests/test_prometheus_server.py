"""A real Prometheus scrapes our histograms; PromQL agrees with histogram_quantile.

Integration test against the ``prometheus`` Debian package (skipped when
``/usr/bin/prometheus`` / ``promtool`` are missing): a histogram of a few
thousand deterministic lognormal latencies is exported over HTTP, one
throwaway Prometheus per module scrapes it every 200 ms, and
``histogram_quantile(q, <metric>_bucket)`` from ``/api/v1/query`` must equal
:func:`fastmlops.quantiles.histogram_quantile` on the exported cumulative
bucket counts.  Also: ``promtool check metrics`` accepts the text exposition
and the OpenMetrics exposition parses back to the same samples.

Each test runs for two implementations of ``Histogram``/``Counter``:
prometheus_client's own and the drop-in ``fastmlops.metrics`` (skipped
until that module exists).
"""

from __future__ import annotations

import contextlib
import importlib
import subprocess
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import prometheus_client
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import (
    generate_latest as generate_openmetrics,
)
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_om,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from fastmlops.quantiles import histogram_quantile
from tests._promserver import PrometheusServer, prometheus_binary, serve_registry

HIST = "fastmlops_it_latency_seconds"
COUNTER = "fastmlops_it_requests"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0)
QS = (0.5, 0.9, 0.99)
RTOL = 1e-9
IMPLS = ("prometheus_client", "fastmlops")
# (model, route) -> (n, median seconds, sigma); "b" puts its p99 above the
# top finite bucket (PromQL then answers that bucket's bound, 5.0).
SERIES = {
    ("a", "/predict"): (3000, 0.05, 0.8),
    ("b", "/predict"): (2000, 0.3, 1.5),
    ("a", "/health"): (250, 0.004, 0.5),
}


# --------------------------------------------------------------------------- implementations
class Unavailable(Exception):
    """The implementation cannot be imported: skip, do not fail."""


def _load(impl: str) -> SimpleNamespace:
    if impl == "prometheus_client":
        def observe_many(child: Any, values: np.ndarray) -> None:
            for v in values.tolist():
                child.observe(v)
        return SimpleNamespace(Histogram=prometheus_client.Histogram,
                               Counter=prometheus_client.Counter,
                               flush=lambda: None, observe_many=observe_many)
    try:
        m = importlib.import_module("fastmlops.metrics")
    except ModuleNotFoundError as e:
        if e.name not in ("fastmlops.metrics",):
            raise  # the module exists but is broken: a failure, not a skip
        raise Unavailable("fastmlops.metrics not available") from e
    return SimpleNamespace(Histogram=m.Histogram, Counter=m.Counter, flush=m.flush,
                           observe_many=lambda child, values: child.observe_many(values))


@dataclass
class Recorded:
    registry: CollectorRegistry
    values: dict[tuple[str, str], np.ndarray]
    # What registry.collect() exports, per (model, route) series.
    le: list[float] = field(default_factory=list)
    buckets: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    count: dict[tuple[str, str], float] = field(default_factory=dict)
    sum: dict[tuple[str, str], float] = field(default_factory=dict)
    total: dict[tuple[str, str], float] = field(default_factory=dict)
    counter_sample: str = ""


def _values() -> dict[tuple[str, str], np.ndarray]:
    rng = np.random.default_rng(20261128)
    return {key: rng.lognormal(np.log(median), sigma, size=n)
            for key, (n, median, sigma) in SERIES.items()}


def _record(impl: str) -> Recorded:
    m = _load(impl)
    reg = CollectorRegistry()
    hist = m.Histogram(HIST, "Inference latency.", labelnames=("model", "route"),
                       buckets=BUCKETS, registry=reg)
    requests = m.Counter(COUNTER, "Inference requests.", labelnames=("model", "route"),
                         registry=reg)
    values = _values()
    for key, v in values.items():
        child = hist.labels(*key)
        half = len(v) // 2
        for x in v[:half].tolist():  # one at a time ...
            child.observe(x)
        m.observe_many(child, v[half:])  # ... and in bulk
        requests.labels(*key).inc(len(v))
    m.flush()
    return _exported(reg, values)


def _exported(reg: CollectorRegistry, values: dict[tuple[str, str], np.ndarray]) -> Recorded:
    """The cumulative bucket counts, _count, _sum and counter as collect() yields them."""
    rec = Recorded(reg, values)
    raw: dict[tuple[str, str], dict[float, float]] = {}
    for family in reg.collect():
        for s in family.samples:
            key = (s.labels.get("model"), s.labels.get("route"))
            if s.name == HIST + "_bucket":
                raw.setdefault(key, {})[float(s.labels["le"])] = s.value
            elif s.name == HIST + "_count":
                rec.count[key] = s.value
            elif s.name == HIST + "_sum":
                rec.sum[key] = s.value
            elif s.name.startswith(COUNTER) and s.name.endswith("_total"):
                rec.total[key] = s.value
                rec.counter_sample = s.name
    assert set(raw) == set(values), f"exported series {sorted(raw)} != {sorted(values)}"
    rec.le = sorted(next(iter(raw.values())))
    assert rec.le == [*BUCKETS, float("inf")], rec.le
    rec.buckets = {key: np.array([b[le] for le in rec.le]) for key, b in raw.items()}
    return rec


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    """impl -> Recorded, or the exception that building it raised."""
    out: dict[str, Any] = {}
    for impl in IMPLS:
        try:
            out[impl] = _record(impl)
        except Exception as e:  # noqa: BLE001 -- re-raised by that impl's tests only
            out[impl] = e
    return out


def _get(recorded: dict[str, Any], impl: str) -> Recorded:
    rec = recorded[impl]
    if isinstance(rec, Unavailable):
        pytest.skip(str(rec))
    if isinstance(rec, BaseException):
        raise rec
    return rec


@pytest.fixture(scope="module")
def prometheus(recorded, tmp_path_factory):
    """One Prometheus for the module, one scrape job per implementation that recorded."""
    binary = prometheus_binary("prometheus")
    ok = {impl: rec for impl, rec in recorded.items() if isinstance(rec, Recorded)}
    if not ok:
        pytest.skip("no metrics implementation could be recorded")
    with contextlib.ExitStack() as stack:
        ports = {impl: stack.enter_context(serve_registry(rec.registry))
                 for impl, rec in ok.items()}
        prom = stack.enter_context(PrometheusServer(tmp_path_factory.mktemp("prometheus"),
                                                    ports, binary=binary))
        prom.up = prom.wait_for_targets()
        yield prom


# --------------------------------------------------------------------------- tests
def _by_series(result: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    out = {}
    for s in result:
        key = (s["metric"].get("model"), s["metric"].get("route"))
        assert key not in out, f"duplicate series {s['metric']}"
        out[key] = float(s["value"][1])
    return out


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= RTOL * max(abs(a), abs(b))


@pytest.mark.parametrize("impl", IMPLS)
def test_exported_counts_match_the_observations(recorded, impl):
    rec = _get(recorded, impl)
    le = np.array(rec.le)
    for key, v in rec.values.items():
        expected = (v[:, None] <= le[None, :]).sum(axis=0)
        np.testing.assert_array_equal(rec.buckets[key], expected, err_msg=str(key))
        assert rec.count[key] == len(v)
        assert _close(rec.sum[key], float(np.sum(v))), (key, rec.sum[key], np.sum(v))
        assert rec.total[key] == len(v)


@pytest.mark.parametrize("impl", IMPLS)
def test_promql_histogram_quantile_matches(recorded, prometheus, impl):
    rec = _get(recorded, impl)
    job = f'job="{impl}"'
    assert prometheus.up[impl] == 1, (
        f"Prometheus could not scrape the {impl} exporter (up == 0): "
        f"{prometheus.scrape_errors().get(impl)!r}\n{prometheus.log_tail()}")

    # The scraped series are exactly the exported ones.
    scraped: dict[tuple[str, str], dict[float, float]] = {}
    for s in prometheus.query(f"{HIST}_bucket{{{job}}}"):
        key = (s["metric"].get("model"), s["metric"].get("route"))
        scraped.setdefault(key, {})[float(s["metric"]["le"])] = float(s["value"][1])
    assert set(scraped) == set(rec.values)
    for key, b in scraped.items():
        assert sorted(b) == rec.le, key
        np.testing.assert_array_equal([b[le] for le in rec.le], rec.buckets[key],
                                      err_msg=str(key))

    # _count is the +Inf bucket, _sum numpy's sum of the observations.
    count = _by_series(prometheus.query(f"{HIST}_count{{{job}}}"))
    total = _by_series(prometheus.query(f"{HIST}_sum{{{job}}}"))
    requests = _by_series(prometheus.query(f"{rec.counter_sample}{{{job}}}"))
    for key, v in rec.values.items():
        assert count[key] == rec.buckets[key][-1] == len(v), key
        assert _close(total[key], float(np.sum(v))), (key, total[key], float(np.sum(v)))
        assert requests[key] == len(v), key

    # PromQL's histogram_quantile == ours on the exported cumulative counts.
    seen = set()
    for q in QS:
        got = _by_series(prometheus.query(f"histogram_quantile({q!r}, {HIST}_bucket{{{job}}})"))
        assert set(got) == set(rec.values), q
        for key in rec.values:
            ours = float(histogram_quantile(q, rec.le, rec.buckets[key]))
            assert np.isfinite(ours)
            assert _close(got[key], ours), f"q={q} {key}: PromQL {got[key]!r} != ours {ours!r}"
            seen.add(ours in BUCKETS)
    assert seen == {True, False}, "want both interpolated and clamped-to-a-bound quantiles"


@pytest.mark.parametrize("impl", IMPLS)
def test_promtool_accepts_the_exposition(recorded, impl):
    rec = _get(recorded, impl)
    promtool = prometheus_binary("promtool")
    text = generate_latest(rec.registry)
    out = subprocess.run([promtool, "check", "metrics"], input=text, check=False,
                         capture_output=True, timeout=60)
    assert out.returncode == 0, (out.stdout + out.stderr).decode(errors="replace")
    # and prometheus_client's text parser reads the same samples back
    assert _samples(parse_text(text.decode())) == _samples(rec.registry.collect())


def _samples(families: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in families for s in f.samples}


@pytest.mark.parametrize("impl", IMPLS)
def test_openmetrics_roundtrip(recorded, impl):
    rec = _get(recorded, impl)
    text = generate_openmetrics(rec.registry).decode()
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in parse_om(text)}
    assert families[HIST].type == "histogram"
    assert families[COUNTER].type == "counter"
    assert _samples(families.values()) == _samples(rec.registry.collect())
