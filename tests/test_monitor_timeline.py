"""A DriftMonitor's window in the over-time view (#24 item 6): one report per
group of time buckets, the same figures as checking each group's rows (KS
bucketed)."""

from __future__ import annotations

import datetime as dt
import json
import os

import numpy as np
import pytest

import fastmlops
from fastmlops import DriftMonitor
from fastmlops.drift import DriftTimeline

_N = [0]


def _name() -> str:
    _N[0] += 1
    return f"test_monitor_timeline_{os.getpid()}_{_N[0]}"


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_one_report_per_bucket_equal_to_checking_its_rows():
    rng = np.random.default_rng(0)
    ref = fastmlops.DriftReference(rng.normal(size=(4000, 2)), columns=["a", "b"])
    clock = Clock(60 * 100_000.0)  # the start of a bucket
    m = DriftMonitor(ref, registry=None, name=_name(), window=300, bucket=60, clock=clock)
    batches = []
    for k in range(4):  # four buckets; the inputs drift from the third on
        x = rng.normal(size=(400 + 100 * k, 2))
        if k >= 2:
            x[:, 1] += 0.5
        m.observe(x)
        m.flush()
        batches.append(x)
        clock.t += 60
    clock.t -= 1  # still in the fourth bucket
    tl = m.timeline()
    assert isinstance(tl, DriftTimeline)
    assert [c.rows for c in tl.chunks] == [400, 500, 600, 700]
    assert [c.report.verdict for c in tl.chunks] == ["ok", "ok", "drift", "drift"]
    for chunk, x in zip(tl.chunks, batches):
        exact = ref.check(x)
        r = chunk.report
        assert r.ks_method == "bucketed"
        np.testing.assert_allclose(r.psi, exact.psi, rtol=1e-12)
        np.testing.assert_allclose(r.chi2_pvalue, exact.chi2_pvalue, rtol=1e-9)
        assert np.all(r.ks_statistic <= exact.ks_statistic + 1e-12)  # a lower bound
    assert tl.chunks[0].start == dt.datetime.fromtimestamp(60 * 100_000.0, dt.timezone.utc)
    assert tl.chunks[1].start - tl.chunks[0].start == dt.timedelta(seconds=60)
    d = json.loads(tl.to_json())
    assert d["axis"]["every"] == "60s" and d["axis"]["by"] is None and len(d["chunks"]) == 4
    assert "60s buckets of a monitor's window" in tl.format()
    assert "<svg" in tl.to_html()


def test_groups_of_buckets_and_bad_every():
    rng = np.random.default_rng(1)
    ref = fastmlops.DriftReference(rng.normal(size=(2000, 1)))
    clock = Clock(120 * 50_000.0)
    m = DriftMonitor(ref, registry=None, name=_name(), window=600, bucket=60, clock=clock)
    for _ in range(4):
        m.observe(rng.normal(size=(100, 1)))
        m.flush()
        clock.t += 60
    clock.t -= 1
    tl = m.timeline(every="2m")
    assert [c.rows for c in tl.chunks] == [200, 200] and tl.every == "2m"
    assert m.timeline(every=dt.timedelta(minutes=4)).chunks[0].rows == 400
    with pytest.raises(ValueError, match="whole number of the monitor's buckets"):
        m.timeline(every="90s")
    with pytest.raises(ValueError, match="duration"):
        m.timeline(every="soon")


def test_an_empty_window_has_no_chunks():
    ref = fastmlops.DriftReference(np.arange(100.0))
    m = DriftMonitor(ref, registry=None, name=_name(), clock=Clock(1_000_000.0))
    assert m.timeline().chunks == [] and m.timeline().verdict == "ok"
