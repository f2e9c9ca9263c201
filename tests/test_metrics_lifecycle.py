"""Nothing a worker observed is lost when it ends gracefully (issue #15 item 1):
Pool.terminate(), SIGTERM with its default action (also while the main
thread is stuck in C code), sys.exit, an unhandled exception, os._exit in
multiprocessing.  Only SIGKILL may lose the last flush interval
(test_metrics.py::test_sigkill_loses_at_most_the_last_second)."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from fastmlops.metrics import Histogram
from fastmlops.metrics import flush as fm_flush
from tests import _metrics_workers as workers

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
CTX = mp.get_context("fork") if hasattr(os, "fork") else None


@pytest.fixture(scope="module")
def hist():
    h = Histogram("lifecycle_seconds", "d", ["run"], registry=None, buckets=(0.01,))
    workers.SHARED["hist"] = h
    yield h
    workers.SHARED.clear()


def _count(h, label):
    return h.labels(label).value()["count"]


def test_pool_with_block_loses_nothing_50_times(hist):
    hist.labels("warm").observe(0.003)
    fm_flush()  # the flush kernels are loaded before the forks
    """The usual idiom: the with block ends the pool with terminate() (SIGTERM)
    as soon as map returns; a scrape right after counts every observation."""
    n = 100_000
    with CTX.Pool(4) as pool:  # one pool's workers first, to warm the fork path
        pool.map(workers.pool_work, [("warm", 10)] * 4)
    for r in range(50):
        label = f"pool{r}"
        with CTX.Pool(4) as pool:
            assert pool.map(workers.pool_work, [(label, n)] * 4, chunksize=1) == [n] * 4
        assert _count(hist, label) == 4 * n, f"round {r}"


@pytest.mark.parametrize("then_block", [False, True], ids=["observing", "stuck-in-C"])
def test_sigterm_to_a_busy_worker_counts_everything_before_the_signal(hist, then_block):
    label = f"busy{int(then_block)}"
    if then_block:
        workers.spin_nogil(1)  # compiled here, before the fork
    progress = CTX.Value("q", 0, lock=False)
    p = CTX.Process(target=workers.busy, args=(label, progress, then_block))
    p.start()
    deadline = time.monotonic() + 20
    while progress.value < (20_000 if then_block else 50_000):
        assert time.monotonic() < deadline and p.is_alive()
        time.sleep(0.005)
    if then_block:
        time.sleep(0.2)  # inside the C loop now
    before = progress.value  # observed before the signal, at least
    t0 = time.monotonic()
    os.kill(p.pid, signal.SIGTERM)
    p.join(10)
    assert p.exitcode == -signal.SIGTERM  # the status SIGTERM gives
    assert time.monotonic() - t0 < 5  # the C loop did not delay the end
    got = _count(hist, label)
    assert before <= got <= progress.value, (before, got, progress.value)
    if then_block:
        assert got == 20_000


@pytest.mark.parametrize("how, code", [("return", 0), ("exit", 3), ("raise", 1),
                                       ("os_exit", 4)])
def test_exits_lose_nothing(hist, how, code):
    label = f"end_{how}"
    p = CTX.Process(target=workers.observe_then, args=(how, label, 30_000))
    p.start()
    p.join(20)
    assert p.exitcode == code
    if how != "os_exit":  # a bare os._exit outside multiprocessing's finalisers
        assert _count(hist, label) == 30_000


def _script(body: str) -> subprocess.CompletedProcess:
    code = textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)


def test_an_application_handler_is_kept_and_sig_ign_too():
    out = _script("""
        import os, signal, sys
        calls = []
        def mine(signum, frame):
            calls.append(signum)
        signal.signal(signal.SIGTERM, mine)
        from fastmlops.metrics import Counter
        c = Counter("own_handler", "d", registry=None)
        c.inc()
        assert signal.getsignal(signal.SIGTERM) is mine
        os.kill(os.getpid(), signal.SIGTERM)
        assert calls == [signal.SIGTERM], calls
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        Counter("own_handler2", "d", registry=None).inc()
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
        print("kept")
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "kept"


def test_sigterm_in_a_plain_process_flushes_to_a_directory_and_keeps_the_status(tmp_path):
    """A separately started process (no fork), default SIGTERM action: the
    handler flushes into the metrics directory and the process still dies of
    SIGTERM; a later scrape of the directory has every value."""
    d = str(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from fastmlops.metrics import Histogram, set_flush_interval
        set_flush_interval(1.0)  # the periodic flush cannot explain the result
        h = Histogram("plain_seconds", "d", registry=None, directory={d!r}, buckets=(1,))
        for _ in range(123_456):
            h.observe(0.5)
        print("ready", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == -signal.SIGTERM
    from fastmlops.metrics import DirectoryCollector
    from prometheus_client import CollectorRegistry
    reg = CollectorRegistry()
    DirectoryCollector(d, registry=reg)
    assert reg.get_sample_value("plain_seconds_count") == 123_456
