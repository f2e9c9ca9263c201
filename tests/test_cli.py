"""The ``fastmlops`` command line: exit statuses, one-line errors, Ctrl-C,
broken pipes and help texts (regressions from an audit of ``fastmlops.cli``)."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

import fastmlops
from fastmlops import cli
from fastmlops import fingerprint as fp_module
from fastmlops.cli import _metrics as cli_metrics  # the metrics command: its _wait_forever

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
    assert err.startswith("fastmlops metrics: error: ") and "in use" in err
    _last_line_only(err)


def test_cli_metrics_bad_addr_is_a_one_line_error(tmp_path, capsys):
    status = cli.main(["metrics", str(tmp_path), "--serve", "0", "--addr", "999.1.1.1"])
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("fastmlops metrics: error: ") and "999.1.1.1" in err
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
    assert status == 1 and "fastmlops demo: error: " in err and "memory" in err
    assert "Traceback" not in err


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
    assert "\r" not in err  # stderr is not a terminal: no carriage return, no bar


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

    monkeypatch.setattr(cli_metrics, "_wait_forever", wait, raising=False)
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

    monkeypatch.setattr(cli_metrics, "_wait_forever", wait, raising=False)
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


# ------------------------------------------------- fastmlops drift (issue 13)
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _tables(tmp_path, drifted_columns: int, n_columns: int = 4, seed: int = 0):
    """reference.parquet and current.parquet; the first ``drifted_columns`` of
    the current one are shifted by one standard deviation."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ref = {f"c{j}": rng.normal(size=3000) for j in range(n_columns)}
    cur = {f"c{j}": rng.normal(size=1500) + (1.0 if j < drifted_columns else 0.0)
           for j in range(n_columns)}
    ref["city"] = rng.choice(["a", "b", "c"], 3000)
    cur["city"] = rng.choice(["a", "b", "c"], 1500)
    pq.write_table(pa.table(ref), tmp_path / "reference.parquet")
    pq.write_table(pa.table(cur), tmp_path / "current.parquet")
    return str(tmp_path / "reference.parquet"), str(tmp_path / "current.parquet")


def _one_error_line(err: str, command: str = "drift") -> None:
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith(("usage:", " "))]
    assert len(lines) == 1 and lines[0].startswith(f"fastmlops {command}: error: "), err


@pytest.mark.parametrize("drifted, fail_on, extra, status, expected", [
    (0, "drift", [], 0, "ok"),
    (4, "drift", [], 1, "drift"),      # every column drifted
    (4, "never", [], 0, "drift"),
    # one of five drifted: the default rule (any column after Holm) fails the gate
    (1, "drift", [], 1, "drift"),
    (1, "drift", ["--drift-share", "holm"], 1, "drift"),
    # the share rule: one of five is below half, verdict watch
    (1, "drift", ["--drift-share", "0.5"], 0, "watch"),
    (1, "watch", ["--drift-share", "0.5"], 1, "watch"),
])
def test_drift_exit_status_follows_fail_on(tmp_path, capsys, drifted, fail_on, extra, status,
                                           expected):
    ref, cur = _tables(tmp_path, drifted)
    assert cli.main(["drift", ref, cur, "--fail-on", fail_on, "--format", "json",
                     *extra]) == status
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == expected
    assert report["summary"]["table_rule"] == ("share" if "0.5" in extra else "holm")


def test_drift_json_is_the_only_thing_on_stdout(tmp_path):
    ref, cur = _tables(tmp_path, 4)
    run = subprocess.run([sys.executable, "-m", "fastmlops", "drift", ref, cur,
                          "--format", "json", "--html", str(tmp_path / "r.html")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)  # the whole of stdout is one JSON document
    assert report["format"] == "fastmlops.drift_report" and report["version"] == 1
    assert set(report) >= {"verdict", "summary", "sizes", "reference", "rule", "columns"}
    assert [c["name"] for c in report["columns"]] == ["c0", "c1", "c2", "c3", "city"]
    assert {c["kind"] for c in report["columns"]} == {"numeric", "categorical"}
    assert report["sizes"] == {"reference_rows": 3000, "current_rows": 1500}
    assert "wrote the HTML report" in run.stderr and "Traceback" not in run.stderr
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '"c0"' in page


def test_drift_table_and_markdown(tmp_path, capsys):
    ref, cur = _tables(tmp_path, 4)
    assert cli.main(["drift", ref, cur]) == 1
    out = capsys.readouterr().out
    assert "table verdict: DRIFT" in out
    assert cli.main(["drift", ref, cur, "--format", "markdown"]) == 1
    assert "| column |" in capsys.readouterr().out


def test_drift_columns_option_selects(tmp_path, capsys):
    ref, cur = _tables(tmp_path, 4)
    assert cli.main(["drift", ref, cur, "--columns", "c3,city", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in report["columns"]] == ["c3", "city"]


def test_reference_build_then_drift(tmp_path, capsys):
    ref, cur = _tables(tmp_path, 4)
    saved = str(tmp_path / "ref.fmref")
    assert cli.main(["reference", "build", ref, "-o", saved, "--bins", "8"]) == 0
    out, err = capsys.readouterr()
    digest = out.strip()
    assert digest.startswith("sha256:") and len(out.splitlines()) == 1
    assert "saved 5 columns" in err
    assert cli.main(["drift", saved, cur, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["reference"]["digest"] == digest
    assert report["rule"]["bins"] == 8


@pytest.mark.parametrize("make_argv, words", [
    (lambda ref, cur, d: ["drift", str(d / "nope.parquet"), cur], "no such file"),
    (lambda ref, cur, d: ["drift", ref, str(d / "empty")], "no data files"),
    (lambda ref, cur, d: ["drift", ref, str(d / "bad.csv")], "Row #3"),
    (lambda ref, cur, d: ["drift", ref, cur, "--columns", "c0,nope"], "no column 'nope'"),
    (lambda ref, cur, d: ["drift", str(d / "ref.fmref"), cur, "--bins", "5"], "--bins"),
    (lambda ref, cur, d: ["drift", ref, str(d / "ref.fmref")], "saved reference"),
    (lambda ref, cur, d: ["drift", ref, cur, "--html", str(d / "no" / "dir" / "r.html")],
     "--html"),
])
def test_drift_input_errors_exit_2_with_one_line(tmp_path, capsys, make_argv, words):
    ref, cur = _tables(tmp_path, 4)
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.csv").write_text("c0,c1\n1,2\n3,4,5\n")
    assert cli.main(["reference", "build", ref, "-o", str(tmp_path / "ref.fmref")]) == 0
    capsys.readouterr()
    status = cli.main(make_argv(ref, cur, tmp_path))
    out, err = capsys.readouterr()
    assert status == 2
    _one_error_line(err)
    assert words in err


@pytest.mark.parametrize("argv, option", [
    (["--alpha", "2"], "--alpha"), (["--alpha", "x"], "--alpha"), (["--bins", "1"], "--bins"),
    (["--format", "xml"], "--format"), (["--fail-on", "sometimes"], "--fail-on")])
def test_drift_usage_errors_name_the_option(tmp_path, capsys, argv, option):
    with pytest.raises(SystemExit) as exc:
        cli.main(["drift", "a.parquet", "b.parquet", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: fastmlops drift" in err and f"argument {option}" in err


def test_demo_writes_files_that_drift_reads(tmp_path, capsys):
    out_dir = tmp_path / "demo"
    assert cli.main(["demo", "--rows", "4000", "--out", str(out_dir)]) == 0
    err = capsys.readouterr().err
    assert (out_dir / "reference.parquet").exists() and (out_dir / "production.parquet").exists()
    assert "fastmlops drift" in err
    status = cli.main(["drift", str(out_dir / "reference.parquet"),
                       str(out_dir / "production.parquet"), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert report["sizes"] == {"reference_rows": 4000, "current_rows": 2000}
    assert status == (1 if report["verdict"] == "drift" else 0)


# ------------------------------------------- fingerprint --json and --check
def test_fingerprint_json_prints_nothing_when_a_path_fails(tmp_path, capsys):
    (tmp_path / "a.txt").write_bytes(b"a")
    status = cli.main(["fingerprint", "--json", str(tmp_path / "a.txt"),
                       str(tmp_path / "missing.txt")])
    out, err = capsys.readouterr()
    assert status == 1 and out == ""
    assert "no manifest written" in err and "fastmlops fingerprint: error: " in err


def _tree(tmp_path):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_bytes(b"alpha")
    (tree / "sub" / "b.txt").write_bytes(b"beta")
    return tree


def test_fingerprint_check_against_a_json_manifest(tmp_path, capsys):
    tree = _tree(tmp_path)
    assert cli.main(["fingerprint", "--json", str(tree)]) == 0
    manifest = tmp_path / "manifest.json"
    manifest.write_text(capsys.readouterr().out)
    assert cli.main(["fingerprint", "--check", str(manifest), str(tree)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["a.txt: OK", "sub/b.txt: OK"] and err == ""
    (tree / "a.txt").write_bytes(b"ALPHA")
    (tree / "sub" / "b.txt").unlink()
    (tree / "new.txt").write_bytes(b"new")
    assert cli.main(["fingerprint", "--check", str(manifest), str(tree)]) == 1
    out, err = capsys.readouterr()
    assert sorted(out.splitlines()) == ["a.txt: FAILED", "new.txt: NEW", "sub/b.txt: MISSING"]
    assert "3 of 3 files differ" in err and "1 changed, 1 missing, 1 new" in err
    assert cli.main(["fingerprint", "--check", str(manifest), str(tree), "--quiet"]) == 1
    assert "OK" not in capsys.readouterr().out


def test_fingerprint_check_against_checksum_lines(tmp_path, capsys, monkeypatch):
    tree = _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["fingerprint", "tree"]) == 0
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(capsys.readouterr().out)
    assert cli.main(["fingerprint", "-c", str(sums)]) == 0
    assert "tree/a.txt: OK" in capsys.readouterr().out
    (tree / "a.txt").write_bytes(b"changed")
    assert cli.main(["fingerprint", "-c", str(sums)]) == 1
    assert "tree/a.txt: FAILED" in capsys.readouterr().out


def test_fingerprint_check_bad_manifest_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("this is not a checksum line\n")
    assert cli.main(["fingerprint", "--check", str(bad)]) == 2
    _one_error_line(capsys.readouterr().err, "fingerprint")
    assert cli.main(["fingerprint", "--check", str(tmp_path / "none.json")]) == 2
    _one_error_line(capsys.readouterr().err, "fingerprint")


@pytest.mark.parametrize("argv", [["fingerprint"], ["fingerprint", "--check", "m", "a", "b"],
                                  ["fingerprint", "--check", "m", "--json"],
                                  ["fingerprint", "x", "--quiet"]])
def test_fingerprint_argument_combinations_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "usage: fastmlops fingerprint" in capsys.readouterr().err


# ------------------------------------------------------ progress and compiling
def test_progress_bar_uses_carriage_returns_only_on_a_terminal():
    from fastmlops._core.progress import ProgressBar

    log = io.StringIO()
    bar = ProgressBar("data", log, interval=0.0)
    for done in range(0, 101, 10):
        bar(done * 10**7, 10**9)
    bar.close()
    text = log.getvalue()
    assert "\r" not in text and text.count("\n") >= 10 and "data: 100%" in text
    term = io.StringIO()
    bar = ProgressBar("data", term, tty=True)
    bar(5 * 10**8, 10**9)
    bar(10**9, 10**9)
    bar.close()
    assert term.getvalue().startswith("\r[") and term.getvalue().endswith("\n")
    quiet = io.StringIO()
    bar = ProgressBar("data", quiet)  # a log, finished before the first interval
    bar(10**9, 10**9)
    bar.close()
    assert quiet.getvalue() == ""


def test_compile_heartbeat_speaks_during_a_long_compile():
    import numba

    from fastmlops._core.warmup import compile_heartbeat

    stream = io.StringIO()

    @numba.njit(cache=False)
    def slow_to_compile(x):  # fresh each run: never in a cache
        total = 0.0
        for i in range(x.size):
            total += np.sin(x[i]) * np.cos(x[i]) + np.sqrt(abs(x[i]))
        return total

    with compile_heartbeat(stream, every=0.02):
        slow_to_compile(np.arange(3.0))
        time.sleep(0.1)
    text = stream.getvalue()
    assert "compiling kernels, first run only" in text
    assert "still compiling slow_to_compile" in text


def test_warmup_reports_each_family(capsys):
    from fastmlops._core.warmup import warmup

    stream = io.StringIO()
    info = warmup(verbose=True, stream=stream)
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith(f"fastmlops: {int(info['signatures'])} kernel signatures ready")
    assert any(line.split()[1:2] == ["ks"] for line in lines)
    assert capsys.readouterr().out == ""  # nothing on stdout
