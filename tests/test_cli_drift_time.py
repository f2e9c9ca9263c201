"""``fastmlops drift REF CUR --by COLUMN --every 1d`` / ``--chunk-rows N``:
drift over time on the command line (issue #24 item 6)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest

import fastmlops
from fastmlops import cli
from fastmlops.cli import _drift_time

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

START = np.datetime64("2026-03-01T00:00:00", "ns")


def _files(tmp_path, shift_day: int | None = 2, days: int = 4, per_day: int = 600,
           with_ts_in_reference: bool = False):
    """reference.parquet and current.parquet (with a ``ts`` column, rows in time
    order); column x of day ``shift_day`` is shifted by one standard deviation."""
    rng = np.random.default_rng(0)
    ref = {"x": rng.normal(size=3000), "y": rng.normal(size=3000),
           "city": rng.choice(["a", "b", "c"], 3000)}
    if with_ts_in_reference:
        ref["ts"] = START - np.timedelta64(30, "D") + rng.integers(0, 30, 3000) * \
            np.timedelta64(1, "D")
    n = days * per_day
    day = np.repeat(np.arange(days), per_day)
    x = rng.normal(size=n) + (np.where(day == shift_day, 1.0, 0.0) if shift_day is not None
                              else 0.0)
    cur = {"x": x, "y": rng.normal(size=n), "city": rng.choice(["a", "b", "c"], n),
           "ts": START + day * np.timedelta64(1, "D") + np.arange(n) % per_day
           * np.timedelta64(60, "s"), "name": rng.choice(["p", "q"], n)}
    pq.write_table(pa.table(ref), tmp_path / "reference.parquet")
    pq.write_table(pa.table(cur), tmp_path / "current.parquet", row_group_size=1000)
    return str(tmp_path / "reference.parquet"), str(tmp_path / "current.parquet")


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith(("usage:", " "))]
    assert len(lines) == 1 and lines[0].startswith("fastmlops drift: error: "), err
    return lines[0]


@pytest.mark.parametrize("shift_day, fail_on, status", [
    (2, "drift", 1), (2, "watch", 1), (2, "never", 0), (None, "drift", 0)])
def test_exit_status_follows_the_worst_chunk(tmp_path, capsys, shift_day, fail_on, status):
    ref, cur = _files(tmp_path, shift_day)
    assert cli.main(["drift", ref, cur, "--by", "ts", "--every", "1d", "--format", "json",
                     "--fail-on", fail_on]) == status
    out = json.loads(capsys.readouterr().out)
    assert out["format"] == "fastmlops.drift_timeline"
    assert [c["label"] for c in out["chunks"]] == [f"2026-03-0{d}" for d in range(1, 5)]
    verdicts = [c["verdict"] for c in out["chunks"]]
    if shift_day is not None:
        assert verdicts[shift_day] == "drift" and out["verdict"] == "drift"
        assert out["summary"]["worst"] == "2026-03-03"
    assert out["summary"]["extra_columns"] == ["name"]


def test_each_chunk_is_the_report_of_its_rows(tmp_path, capsys):
    ref_path, cur_path = _files(tmp_path)
    assert cli.main(["drift", ref_path, cur_path, "--by", "ts", "--every", "1d",
                     "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    ref = fastmlops.DriftReference(pq.read_table(ref_path))
    table = pq.read_table(cur_path)
    for i, chunk in enumerate(out["chunks"]):
        day = table.slice(i * 600, 600)
        want = ref.check(day.drop(["ts"])).to_dict()
        assert chunk["verdict"] == want["verdict"]
        for got, col in zip(chunk["columns"], want["columns"]):
            assert (got["ks_pvalue"], got["pvalue"], got["verdict"]) == \
                (col["ks_pvalue"], col["pvalue"], col["verdict"])


def test_table_markdown_and_html(tmp_path, capsys):
    ref, cur = _files(tmp_path)
    html = tmp_path / "over-time.html"
    assert cli.main(["drift", ref, cur, "--by", "ts", "--every", "12h", "--html",
                     str(html)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split()[:3] == ["chunk", "rows", "verdict"]
    assert any(ln.startswith("2026-03-03T00:00Z") and " drift " in ln for ln in lines)
    assert "timeline verdict: DRIFT" in captured.out
    assert "wrote the HTML timeline" in captured.err
    page = html.read_text(encoding="utf-8")
    assert page.count('<svg class="chart"') == 3  # x, y, city
    assert cli.main(["drift", ref, cur, "--chunk-rows", "1000", "--format", "markdown"]) == 1
    md = capsys.readouterr().out
    assert md.startswith("| chunk | rows | verdict |") and "| rows 0-999 | 1,000 |" in md


def test_saved_reference_and_a_reference_with_the_time_column(tmp_path, capsys):
    ref, cur = _files(tmp_path, with_ts_in_reference=True)
    saved = str(tmp_path / "ref.fmlref")
    assert cli.main(["reference", "build", ref, "-o", saved]) == 0
    capsys.readouterr()
    for reference in (ref, saved):
        assert cli.main(["drift", reference, cur, "--by", "ts", "--every", "1d",
                         "--format", "json"]) == 1
        out = json.loads(capsys.readouterr().out)
        assert [c["name"] for c in out["columns"]] == ["x", "y", "city"]  # ts left out


def test_in_order(tmp_path, capsys):
    ref, cur = _files(tmp_path)
    assert cli.main(["drift", ref, cur, "--by", "ts", "--every", "1d", "--in-order",
                     "--format", "json"]) == 1
    assert len(json.loads(capsys.readouterr().out)["chunks"]) == 4
    table = pq.read_table(cur)
    pq.write_table(table.take(np.random.default_rng(0).permutation(table.num_rows)),
                   tmp_path / "shuffled.parquet")
    assert cli.main(["drift", ref, str(tmp_path / "shuffled.parquet"), "--by", "ts",
                     "--every", "1d", "--in-order"]) == 2
    assert "not in order of 'ts'" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("args, message", [
    (["--by", "nope", "--every", "1d"], "no by column 'nope'"),
    (["--by", "name", "--every", "1d"], "by column 'name' holds"),
    (["--by", "ts", "--every", "soon"], "not a duration"),
    (["--by", "ts", "--every", "0d"], "at least 1 s"),
    (["--by", "ts", "--every", "10"], "is a number but by column 'ts' holds times"),
    (["--every", "1d"], "--every needs --by"),
    (["--by", "ts"], "--by needs --every"),
    (["--by", "ts", "--every", "1d", "--chunk-rows", "10"], "not both"),
    (["--by", "ts", "--chunk-rows", "10"], "--by with --chunk-rows"),
    (["--chunk-rows", "0"], "must be at least 1"),
    (["--in-order", "--chunk-rows", "5"], "--in-order goes with --by"),
])
def test_bad_options_exit_2_with_one_line(tmp_path, capsys, args, message):
    ref, cur = _files(tmp_path, days=2, per_day=50)
    assert _exit(["drift", ref, cur, *args]) == 2
    assert message in _one_error_line(capsys.readouterr().err)


def _exit(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as exc:  # argparse's usage errors
        return int(exc.code or 0)


def test_json_is_the_only_thing_on_stdout(tmp_path):
    ref, cur = _files(tmp_path)
    run = subprocess.run([sys.executable, "-m", "fastmlops", "drift", ref, cur, "--by", "ts",
                          "--every", "1d", "--format", "json"], check=False, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 1, run.stderr
    assert json.loads(run.stdout)["summary"]["n_chunks"] == 4


def test_arguments_on_their_own_parser():
    """The options and their rules, without the drift command."""
    parser = argparse.ArgumentParser(prog="fastmlops drift")
    parser.set_defaults(subparser=parser)
    _drift_time.add_time_arguments(parser)
    args = parser.parse_args(["--by", "ts", "--every", "6h"])
    assert _drift_time.wanted(args) and (args.by, args.every, args.chunk_rows) == \
        ("ts", "6h", None)
    args.check_arguments(args)  # fine
    assert not _drift_time.wanted(parser.parse_args([]))
    bad = parser.parse_args(["--every", "6h"])
    with pytest.raises(SystemExit):
        bad.check_arguments(bad)
