"""fastmlops.serving: the opt-in fast exit of recycled workers runs what a
normal exit runs (non-daemon threads, atexit handlers: the metrics' flush)
and ends with the status the worker was ending with."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from fastmlops.serving import exit_status, fast_exit


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def test_fast_exit_runs_atexit_joins_threads_and_keeps_the_status(tmp_path):
    out = tmp_path / "out.txt"
    proc = _run(f"""
        import atexit, threading, time
        from fastmlops.metrics import Counter
        from fastmlops.serving import fast_exit
        c = Counter("fast_exit_total", "x", registry=None, directory={str(tmp_path)!r})
        atexit.register(lambda: open({str(out)!r}, "a").write("atexit\\n"))
        def slow():
            time.sleep(0.3)
            open({str(out)!r}, "a").write("thread\\n")
        threading.Thread(target=slow).start()
        for _ in range(1000):
            c.inc()
        print("bye", flush=False)
        fast_exit(7)
        open({str(out)!r}, "a").write("never\\n")
    """)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout.strip() == "bye"  # the standard streams are flushed
    assert out.read_text().splitlines() == ["thread", "atexit"]
    from fastmlops.metrics import DirectoryCollector
    from prometheus_client import CollectorRegistry, generate_latest
    reg = CollectorRegistry()
    DirectoryCollector(tmp_path, registry=reg)
    assert "fast_exit_total 1000.0" in generate_latest(reg).decode()


def test_worker_exit_ends_with_gunicorns_status():
    proc = _run("""
        import sys
        from fastmlops.serving import worker_exit
        try:
            try:
                raise ImportError("the app")
            except ImportError:
                sys.exit(4)            # gunicorn's APP_LOAD_ERROR
        finally:
            worker_exit(None, None)
    """)
    assert proc.returncode == 4, proc.stderr


@pytest.mark.parametrize("exc,status", [(None, 0), (SystemExit(None), 0), (SystemExit(0), 0),
                                        (SystemExit(3), 3), (SystemExit(-1), 255),
                                        (SystemExit("message"), 1), (ValueError("x"), 1)])
def test_exit_status_follows_sys_exit(exc, status):
    assert exit_status(exc) == status


def test_fast_exit_checks_its_status():
    with pytest.raises(TypeError, match="int"):
        fast_exit("0")  # type: ignore[arg-type]
