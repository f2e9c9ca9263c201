"""fastmlops.metrics and DriftMonitor under real servers on loopback: gunicorn
sync workers (forked with ``--preload``: anonymous shared memory; without:
``FASTMLOPS_METRICS_DIR``) recycled by ``--max-requests``, reloaded by SIGHUP,
stopped by SIGTERM, a worker SIGKILLed, and uvicorn's spawned workers.

The app is tests/_serving_app.py (the README's), the servers and the client
are tests/_servers.py.  Every count is compared with the number of requests
the clients saw answered (HTTP 200): the requests counter, the latency
histogram's ``_count`` and the monitor's ``model_drift_rows_total`` must equal
it exactly, except for a SIGKILLed worker, which may lose what it observed in
its last flush interval.  A scrape is polled for up to ``SETTLE`` seconds
after the load (workers flush every ``FLUSH_INTERVAL``, 0.1 s).

Every server is stopped (SIGTERM, then SIGKILL to its process group) by a
``with`` block, failures included.  Each test sends a few hundred requests.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from fastmlops.metrics import FLUSH_INTERVAL
from tests._servers import (
    counts,
    gunicorn,
    load,
    poll,
    scrape,
    uvicorn,
    write_reference,
)

#: Seconds a scrape may take to reach the clients' count after the load.
SETTLE = 3.0


@pytest.fixture
def need_gunicorn():
    pytest.importorskip("gunicorn", reason="gunicorn is not installed")


@pytest.fixture
def need_uvicorn():
    pytest.importorskip("uvicorn", reason="uvicorn is not installed")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The fixture reference, saved once for every server of the module."""
    return write_reference(tmp_path_factory.mktemp("reference") / "reference.fmlref")


def _settled(port, answered, monitor):
    """Poll the scrape until every count equals ``answered``; the last counts."""
    want = (float(answered),) * (3 if monitor else 2)
    return poll(lambda: counts(scrape(port), monitor), want, timeout=SETTLE)


def _directory_totals(directory, reference):
    """(requests, histogram count, monitor rows) read from a metrics directory
    by a process that defines nothing but the monitor."""
    import fastmlops
    from fastmlops.metrics import DirectoryCollector

    samples = {(s.name, frozenset(s.labels.items())): s.value
               for fam in DirectoryCollector(directory).collect() for s in fam.samples}
    monitor = fastmlops.DriftMonitor(fastmlops.DriftReference.load(reference),
                                     name="model_drift", directory=directory, registry=None)
    return counts(samples) + (float(monitor.totals()[0]),)


# ----------------------------------------------------------------------------- recycling
@pytest.mark.parametrize("mode,fast_exit", [("prometheus", False), ("monitor", False),
                                            ("monitor", True)])
def test_preload_workers_recycled_count_exactly(need_gunicorn, tmp_path, reference, mode,
                                                fast_exit):
    """--preload (metrics in anonymous shared memory inherited through fork),
    2 sync workers recycled every 20 requests (about 15 recycles): the counts
    equal the answered requests, also with ``fastmlops.serving.worker_exit``
    as the worker_exit hook (the atexit flush, then ``os._exit``).
    prometheus_client's multiprocess mode is the control (it checks the
    harness)."""
    with gunicorn(tmp_path, mode=mode, workers=2, preload=True, max_requests=20,
                  env={"FMLOPS_REFERENCE": str(reference),
                       "FMLOPS_FAST_EXIT": "1" if fast_exit else "0"}) as srv:
        got = load(srv.port, 300, threads=4)
        assert got.answered >= 290, got.errors
        assert _settled(srv.port, got.answered, mode == "monitor") == \
            (got.answered,) * (3 if mode == "monitor" else 2)
        assert len(got.by_pid) >= 10  # the workers were recycled


@pytest.mark.slow
def test_metrics_directory_workers_recycled_count_exactly(need_gunicorn, tmp_path, reference):
    """No --preload: every worker imports the app and shares the metrics
    through FASTMLOPS_METRICS_DIR; 2 workers recycled every 20 requests
    (about 10 recycles, each importing fastmlops again)."""
    mdir = tmp_path / "metrics"
    mdir.mkdir()
    with gunicorn(tmp_path, mode="monitor", workers=2, preload=False, max_requests=20,
                  env={"FASTMLOPS_METRICS_DIR": str(mdir),
                       "FMLOPS_REFERENCE": str(reference)}) as srv:
        got = load(srv.port, 200, threads=4)
        assert got.answered >= 190, got.errors
        assert _settled(srv.port, got.answered, True) == (got.answered,) * 3
        assert len(got.by_pid) >= 8


# ----------------------------------------------------------------------------- signals
@pytest.mark.parametrize("preload", [True, False], ids=["preload", "directory"])
def test_hup_reload_halfway_counts_exactly(need_gunicorn, tmp_path, reference, preload):
    """SIGHUP to the master half-way through the load: gunicorn starts new
    workers and stops the old ones gracefully; nothing is lost or doubled."""
    mdir = tmp_path / "metrics"
    mdir.mkdir()
    env = {"FMLOPS_REFERENCE": str(reference)}
    if not preload:
        env["FASTMLOPS_METRICS_DIR"] = str(mdir)
    with gunicorn(tmp_path, mode="monitor", workers=2, preload=preload, env=env) as srv:
        before = set(srv.workers(2))
        hup = threading.Event()

        def halfway(i):
            if i == 150 and not hup.is_set():
                hup.set()
                srv.signal(signal.SIGHUP)

        got = load(srv.port, 300, threads=4, rate=150, on_progress=halfway)
        assert hup.is_set()
        assert got.answered >= 290, got.errors
        assert _settled(srv.port, got.answered, True) == (got.answered,) * 3
        assert not before & set(srv.workers(2))  # every worker was replaced


def test_term_at_the_end_directory_totals_exact(need_gunicorn, tmp_path, reference):
    """No --preload, metrics directory: SIGTERM to the master right after the
    load (no scrape first, so the workers' last observations are still in
    their buffers); once it exited, DirectoryCollector and a DriftMonitor on
    the directory read totals equal to the answered requests."""
    mdir = tmp_path / "metrics"
    mdir.mkdir()
    with gunicorn(tmp_path, mode="monitor", workers=2, preload=False,
                  env={"FASTMLOPS_METRICS_DIR": str(mdir),
                       "FMLOPS_REFERENCE": str(reference)}) as srv:
        got = load(srv.port, 200, threads=4)
        status = srv.stop()
    assert status == 0, srv.log_tail()
    assert got.answered >= 190, got.errors
    assert _directory_totals(mdir, reference) == (got.answered,) * 3


def test_uvicorn_spawned_workers_count_exactly(need_uvicorn, tmp_path, reference):
    """uvicorn --workers 2 (multiprocessing spawn: the workers share the
    metrics directory) serving the ASGI app: scrape counts exact, and the
    directory's totals after SIGTERM too."""
    mdir = tmp_path / "metrics"
    mdir.mkdir()
    with uvicorn(tmp_path, mode="monitor", workers=2,
                 env={"FASTMLOPS_METRICS_DIR": str(mdir),
                      "FMLOPS_REFERENCE": str(reference)}) as srv:
        got = load(srv.port, 300, threads=4)
        assert got.answered >= 290, got.errors
        assert _settled(srv.port, got.answered, True) == (got.answered,) * 3
        got2 = load(srv.port, 50, threads=2)
        srv.stop()
    total = got.answered + got2.answered
    assert _directory_totals(mdir, reference) == (total,) * 3


def test_sigkilled_worker_loses_at_most_its_last_flush_interval(need_gunicorn, tmp_path,
                                                                 reference):
    """kill -9 of one of 2 --preload workers half-way through a paced load
    (150 requests/s from 4 threads, 300 requests): the master forks a new
    worker and the counts lose at most what the victim answered in its last
    flush interval.  The bound counts the victim's answers that the clients
    received in ``[t_kill - FLUSH_INTERVAL - SLACK, t_kill + 0.05]`` (SLACK =
    FLUSH_INTERVAL for the scheduling noise of a busy 2-core host: the
    flusher thread may run late); one request in flight may be counted but
    never answered.  Measured on a shared 2-core VM (15 runs, commits
    025e0a8 and 90acee3): the victim answered 6-9 requests in its last 0.1 s
    and 12-19 in the bound's 0.2 s; the counts lost 0-8 (the same number for
    the requests counter, the histogram's _count and the monitor's rows)."""
    slack = FLUSH_INTERVAL
    with gunicorn(tmp_path, mode="monitor", workers=2, preload=True,
                  env={"FMLOPS_REFERENCE": str(reference)}) as srv:
        workers = srv.workers(2)
        assert len(workers) == 2, workers
        victim, killed_at = workers[0], []

        def halfway(i):
            if i == 150 and not killed_at:
                killed_at.append(time.monotonic())
                os.kill(victim, signal.SIGKILL)

        got = load(srv.port, 300, threads=4, rate=150, on_progress=halfway)
        assert got.by_pid[victim] > 0 and killed_at
        t_kill = killed_at[0]
        def victim_answers(since):
            return sum(1 for t, pid in got.done if pid == victim and since <= t <= t_kill + 0.05)

        recent = victim_answers(t_kill - FLUSH_INTERVAL - slack)
        # Wait until the counts stop moving (they cannot reach got.answered if rows were lost).
        last = None
        deadline = time.monotonic() + SETTLE
        while time.monotonic() < deadline:
            now = counts(scrape(srv.port), True)
            if now == last or now == (got.answered,) * 3:
                break
            last = now
            time.sleep(4 * FLUSH_INTERVAL)
        lost = [got.answered - c for c in now]
        print(f"SIGKILL: answered {got.answered}, victim answered {got.by_pid[victim]}: "
              f"{victim_answers(t_kill - FLUSH_INTERVAL)} in its last {FLUSH_INTERVAL} s, "
              f"{recent} in its last {FLUSH_INTERVAL + slack:.2f} s; lost {lost}")
        for n in lost:
            assert -1 <= n <= recent, (lost, recent)
        assert victim not in srv.workers(2)  # replaced

