"""The ``fastmlops`` command line: exit statuses, one-line errors, Ctrl-C,
broken pipes and help texts (regressions from an audit of ``fastmlops.cli``)."""

from __future__ import annotations

import errno
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

import fastmlops
from fastmlops import cli
from fastmlops import fingerprint as fp_module

pytest.importorskip("prometheus_client")


def _busy_port() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def _last_line_only(err: str) -> None:
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


# ------------------------------------------------------------ OS errors
def test_cli_metrics_port_in_use_is_a_one_line_error(tmp_path, capsys):
    with _busy_port() as s:
        port = s.getsockname()[1]
        status = cli.main(["metrics", str(tmp_path), "--serve", str(port)])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("fastmlops: error: ") and "in use" in err
    _last_line_only(err)


def test_cli_metrics_bad_addr_is_a_one_line_error(tmp_path, capsys):
    status = cli.main(["metrics", str(tmp_path), "--serve", "0", "--addr", "999.1.1.1"])
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("fastmlops: error: ") and "999.1.1.1" in err
    _last_line_only(err)


class _FullStream(io.StringIO):
    """stdout on a full disk (``fastmlops fingerprint x > /dev/full``)."""

    def write(self, text):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_cli_write_error_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "f.bin").write_bytes(b"abc")
    monkeypatch.setattr(sys, "stdout", _FullStream())
    status = cli.main(["fingerprint", str(tmp_path / "f.bin")])
    err = capsys.readouterr().err
    assert status == 1 and "No space left on device" in err
    _last_line_only(err)


def test_cli_write_error_on_the_real_entry_point(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    (tmp_path / "f.bin").write_bytes(b"abc")
    with open("/dev/full", "w") as full:
        run = subprocess.run([sys.executable, "-m", "fastmlops.cli", "version"],
                             stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr and "No space left" in run.stderr


def test_cli_demo_out_of_memory_is_a_one_line_error(capsys):
    status = cli.main(["demo", "--rows", str(10**13)])
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("fastmlops: error: ") and "memory" in err
    _last_line_only(err)


# ----------------------------------------------------------- broken pipe
class _ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


def test_cli_broken_pipe_on_a_stream_without_fileno(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert cli.main(["version"]) == 141  # 128 + SIGPIPE, as GNU tools
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("command", ["version", "fingerprint"])
def test_cli_broken_pipe_exits_141_quietly_on_the_real_entry_point(tmp_path, command):
    # `fastmlops fingerprint DIR | head -1` under `set -o pipefail`: the reader
    # is gone before anything is written (closed here before the child starts
    # writing, so the result does not depend on timing).
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(50):
        (tree / f"f{i:02d}.txt").write_bytes(b"x" * i)
    argv = ["version"] if command == "version" else ["fingerprint", str(tree)]
    r, w = os.pipe()
    os.close(r)
    try:
        run = subprocess.run([sys.executable, "-m", "fastmlops", *argv], stdout=w,
                             stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(w)
    assert run.returncode == 141
    assert run.stderr == ""


def test_cli_broken_pipe_status_in_a_shell_pipeline_with_pipefail(tmp_path):
    if not os.path.exists("/bin/bash"):
        pytest.skip("no bash")
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(3000):  # ~280 kB of checksum lines: more than a pipe buffer holds
        (tree / f"file-{i:05d}.txt").write_bytes(b"")
    script = (f'set -o pipefail; "{sys.executable}" -m fastmlops fingerprint "{tree}" '
              '| head -1 >/dev/null; echo "status=$?"')
    run = subprocess.run(["/bin/bash", "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert run.stdout.strip() == "status=141", (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr and run.stderr == ""


# ---------------------------------------------------------------- Ctrl-C
def test_cli_ctrl_c_during_fingerprint_exits_130_quietly(tmp_path, monkeypatch, capsys):
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "x").write_bytes(b"x")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fp_module, "hash_tree", interrupted)
    status = cli.main(["fingerprint", str(tmp_path / "tree"), "--progress"])
    out, err = capsys.readouterr()
    assert status == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.endswith("\n")  # the progress bar's line is ended


def test_cli_ctrl_c_stops_the_server_with_status_130(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with subprocess.Popen([sys.executable, "-m", "fastmlops.cli", "metrics", str(tmp_path),
                           "--serve", "0"], stderr=subprocess.PIPE, text=True,
                          env=env) as proc:
        try:
            line = proc.stderr.readline()
            assert "serving" in line, line
            proc.send_signal(signal.SIGINT)
            rest = proc.stderr.read()
            assert proc.wait(timeout=30) == 130
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "Traceback" not in rest and "KeyboardInterrupt" not in rest


# ---------------------------------------------------------------- serving
def _serve_and_fetch(monkeypatch, capsys, argv):
    """Run ``main(argv)``; once serving, fetch the URL it printed, then Ctrl-C."""
    fetched = {}

    def wait():
        err = capsys.readouterr().err
        url = re.search(r"http://\S+/metrics", err).group(0)
        fetched["url"] = url
        with urllib.request.urlopen(url, timeout=10) as response:
            fetched["body"] = response.read().decode()
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_wait_forever", wait, raising=False)
    status = cli.main(argv)
    return status, fetched


def _directory_with_a_metric(tmp_path):
    from fastmlops.metrics import Counter, flush

    directory = str(tmp_path)
    Counter("cli_served", "Served", registry=None, directory=directory).inc()
    flush()
    return directory


def test_cli_serve_on_port_0_prints_the_real_port(tmp_path, monkeypatch, capsys):
    directory = _directory_with_a_metric(tmp_path)
    status, fetched = _serve_and_fetch(monkeypatch, capsys,
                                       ["metrics", directory, "--serve", "0"])
    assert status == 130
    assert not fetched["url"].endswith(":0/metrics")
    assert "cli_served_total 1.0" in fetched["body"]


def test_cli_serve_on_ipv6_prints_a_valid_url(tmp_path, monkeypatch, capsys):
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    directory = _directory_with_a_metric(tmp_path)
    status, fetched = _serve_and_fetch(monkeypatch, capsys,
                                       ["metrics", directory, "--serve", "0", "--addr", "::1"])
    assert status == 130
    assert fetched["url"].startswith("http://[::1]:")
    assert "cli_served_total 1.0" in fetched["body"]


def test_cli_serve_names_the_directory_from_the_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FASTMLOPS_METRICS_DIR", str(tmp_path))
    fetched = {}

    def wait():
        fetched["err"] = capsys.readouterr().err
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_wait_forever", wait, raising=False)
    assert cli.main(["metrics", "--serve", "0"]) == 130
    assert str(tmp_path) in fetched["err"]


def test_cli_addr_without_serve_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["metrics", str(tmp_path), "--addr", "0.0.0.0"])
    assert exc.value.code == 2
    assert "--serve" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_cli_invalid_port_is_a_usage_error(tmp_path, capsys, port):
    with pytest.raises(SystemExit) as exc:
        cli.main(["metrics", str(tmp_path), "--serve", port])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: fastmlops metrics" in err and "--serve" in err


# ------------------------------------------------------ arguments and help
@pytest.mark.parametrize("argv, option", [(["demo", "--rows", "1"], "--rows"),
                                          (["demo", "--seed", "-1"], "--seed")])
def test_cli_demo_bad_arguments_name_the_option(argv, option, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: fastmlops demo" in err and option in err


def test_cli_help_texts_match_behaviour(capsys):
    with pytest.raises(SystemExit):
        cli.main(["metrics", "--help"])
    text = capsys.readouterr().out
    assert "[DIR]" in text  # the description and the module docstring call it DIR
    assert "Accept" in text  # --openmetrics only affects printing; the server negotiates
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    assert "--seed SEED" in (text := capsys.readouterr().out) and "random seed" in text


def test_cli_version_flag(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"fastmlops {fastmlops.__version__}"
    assert cli.main(["version"]) == 0
    assert capsys.readouterr().out == fastmlops.__version__ + "\n"


def test_cli_module_runs_as_a_script():
    run = subprocess.run([sys.executable, "-m", "fastmlops.cli", "version"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == fastmlops.__version__


def test_cli_demo_small_run(capsys):
    started = time.perf_counter()
    assert cli.main(["demo", "--rows", "4000", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "4,000 rows" in out and "2,000 rows" in out and "table verdict" in out
    assert time.perf_counter() - started < 60


def test_cli_closed_stdout_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    """``fastmlops fingerprint f >&-`` (Python then has ``sys.stdout = None``)."""
    (tmp_path / "f.bin").write_bytes(b"abc")
    monkeypatch.setattr(sys, "stdout", None)
    status = cli.main(["fingerprint", str(tmp_path / "f.bin")])
    err = capsys.readouterr().err
    assert status == 1 and "standard output is closed" in err
    _last_line_only(err)


def test_python_dash_m_fastmlops_runs_the_cli():
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "fastmlops", "version"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == fastmlops.__version__
