"""``fastmlops gate``: the two input forms, the formats, the exit statuses
(0 pass, 1 fail, 2 usage or input error) and one-line errors, and the
README's example."""

from __future__ import annotations

import json
import pathlib
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest

from fastmlops import cli, gate
from fastmlops.cli import _gate

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _frame(n: int = 2000, seed: int = 0, worse: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    country = rng.choice(["de", "fr", "us"], n)
    old = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(0, 1.5, n))))
    noise = rng.normal(0, 1.2, n)
    noise[(country == "fr") & (y == 1)] -= worse
    new = 1 / (1 + np.exp(-(2 * y - 1 + noise)))
    return pd.DataFrame({"y": y, "country": country, "old": old, "new": new})


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    df = _frame()
    df.to_parquet("s.parquet")
    df.to_csv("s.csv", index=False)
    _frame(worse=2.0).to_parquet("bad.parquet")
    df[["y", "country"]].to_csv("labels.csv", index=False)
    df[["old"]].to_csv("old.csv", index=False)
    np.save("new.npy", df["new"].to_numpy())
    return tmp_path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main(["gate", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def _one_line_error(status: int, err: str, *words: str) -> None:
    assert status == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("fastmlops gate: error: "), err
    for w in words:
        assert w in err, (w, err)


def test_metric_choices_are_the_gates():
    assert _gate.METRICS == tuple(gate.METRICS)
    assert set(_gate.REGRESSION) == {m for m, s in gate.METRICS.items() if s.regression}


# ------------------------------------------------------------------ outcomes
def test_one_file_pass_prints_the_table_and_exits_0(files, capsys):
    status, out, err = _run(capsys, "s.parquet", "--label", "y", "--baseline", "old",
                            "--candidate", "new", "--metric", "roc_auc", "--metric",
                            "log_loss", "--margin", "0.01", "--slice", "country")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("PASS: candidate 'new' may replace baseline 'old' on 2,000")
    assert re.search(r"^roc_auc\s+higher.*delong\s+PASS$", out, flags=re.MULTILINE)
    assert re.search(r"^log_loss\s+lower.*bootstrap\s+PASS$", out, flags=re.MULTILINE)
    assert sum(1 for ln in lines if re.match(r"^(de|fr|us)\s+[\d,]+\s", ln)) == 3


def test_a_worse_slice_fails_with_exit_1(files, capsys, tmp_path):
    html = tmp_path / "gate.html"
    status, out, err = _run(capsys, "bad.parquet", "--label", "y", "--baseline", "old",
                            "--candidate", "new", "--slice", "country", "--margin",
                            "0.05", "--html", str(html))
    assert status == 1, err
    assert out.startswith("FAIL: ") and "worse on slices ['fr']" in out
    assert re.search(r"^fr\s.*WORSE$", out, flags=re.MULTILINE)
    page = html.read_text(encoding="utf-8")
    assert "✗ FAIL" in page and page.count("data-flagged=") == 3
    assert "wrote the HTML report" in err


def test_csv_and_three_files_give_the_same_report(files, capsys):
    base = ["--metric", "roc_auc", "--margin", "roc_auc=0.01", "--format", "json"]
    status, one, _ = _run(capsys, "s.csv", "--label", "y", "--baseline", "old",
                          "--candidate", "new", "--slice", "country", *base)
    assert status == 0
    status, three, err = _run(capsys, "--label-file", "labels.csv:y", "--baseline-file",
                              "old.csv", "--candidate-file", "new.npy", "--slice", "country",
                              *base)
    assert status == 0, err
    a, b = json.loads(one), json.loads(three)
    assert b["names"] == {"baseline": "old", "candidate": "new"}  # column name, file stem
    assert a["metrics"] == b["metrics"] and a["slices"] == b["slices"]
    assert a["format"] == "fastmlops.gate_report" and a["rule"]["slice_column"] == "country"


def test_formats(files, capsys):
    argv = ["s.parquet", "--label", "y", "--baseline", "old", "--candidate", "new"]
    status, out, _ = _run(capsys, *argv, "--format", "json", "--hypothesis", "superiority",
                          "--margin", "0.2")
    data = json.loads(out)  # stdout is the JSON and nothing else
    assert data["decision"] == "fail"  # not better by 0.2 AUC
    assert status == 1
    status, out, _ = _run(capsys, *argv, "--format", "markdown", "--hypothesis", "harm")
    assert status == 0
    assert out.startswith("PASS: ") and "| roc\\_auc | higher |" in out


def test_margin_per_metric_and_hypothesis(files, capsys):
    status, out, _ = _run(capsys, "s.parquet", "--label", "y", "--baseline", "old",
                          "--candidate", "new", "--metric", "roc_auc", "--metric", "brier_score",
                          "--margin", "0.01", "--margin", "brier_score=0.002",
                          "--hypothesis", "superiority", "--format", "json")
    data = json.loads(out)
    assert data["rule"]["margins"] == {"roc_auc": 0.01, "brier_score": 0.002}
    assert data["rule"]["hypothesis"] == "superiority"
    assert status == (0 if data["decision"] == "pass" else 1)


# ------------------------------------------------------------------ errors
def test_non_inferiority_needs_a_margin(files, capsys):
    # with margin 0 non-inferiority is superiority: equal models would fail
    status, _, err = _run(capsys, "s.parquet", "--label", "y", "--baseline", "old",
                          "--candidate", "new", "--metric", "roc_auc", "--metric", "log_loss",
                          "--margin", "roc_auc=0.01")
    _one_line_error(status, err, "needs a margin > 0 for log_loss", "--hypothesis harm")
    status, _, err = _run(capsys, "s.parquet", "--label", "y", "--baseline", "old",
                          "--candidate", "new", "--hypothesis", "harm")
    assert status in (0, 1), err


def test_label_column_not_binary(files, capsys):
    df = _frame()
    df["y3"] = np.arange(len(df)) % 3
    df.to_parquet("y3.parquet")
    status, _, err = _run(capsys, "y3.parquet", "--label", "y3", "--baseline", "old",
                          "--candidate", "new")
    _one_line_error(status, err, "'y3'", "not binary", "[0.0, 1.0, 2.0]")
    status, _, err = _run(capsys, "s.parquet", "--label", "country", "--baseline", "old",
                          "--candidate", "new")
    _one_line_error(status, err, "'country'", "not numeric")


def test_lengths_differ(files, capsys):
    pd.DataFrame({"s": np.linspace(0, 1, 1999)}).to_csv("short.csv", index=False)
    status, _, err = _run(capsys, "--label-file", "labels.csv:y", "--baseline-file", "old.csv",
                          "--candidate-file", "short.csv")
    _one_line_error(status, err, "short.csv", "1,999 rows", "2,000")


def test_nan_scores(files, capsys):
    df = _frame()
    df.loc[[3, 10, 11], "new"] = np.nan
    df.to_parquet("nan.parquet")
    status, _, err = _run(capsys, "nan.parquet", "--label", "y", "--baseline", "old",
                          "--candidate", "new")
    _one_line_error(status, err, "'new'", "3 NaN")
    df = _frame()
    df.loc[5, "y"] = np.nan
    df.to_parquet("nan_y.parquet")
    status, _, err = _run(capsys, "nan_y.parquet", "--label", "y", "--baseline", "old",
                          "--candidate", "new")
    _one_line_error(status, err, "'y'", "1 missing")


def test_column_missing(files, capsys):
    status, _, err = _run(capsys, "s.parquet", "--label", "y", "--baseline", "old",
                          "--candidate", "newer")
    _one_line_error(status, err, "'newer'", "its columns are")
    status, _, err = _run(capsys, "--label-file", "labels.csv:label", "--baseline-file",
                          "old.csv", "--candidate-file", "new.npy")
    _one_line_error(status, err, "'label'")
    status, _, err = _run(capsys, "s.parquet", "--label", "y", "--baseline", "old",
                          "--candidate", "new", "--slice", "region")
    _one_line_error(status, err, "'region'")


def test_file_unreadable(files, capsys):
    status, _, err = _run(capsys, "nope.parquet", "--label", "y", "--baseline", "old",
                          "--candidate", "new")
    _one_line_error(status, err, "nope.parquet", "no such file")
    pathlib.Path("junk.parquet").write_bytes(b"this is not parquet at all")
    status, _, err = _run(capsys, "junk.parquet", "--label", "y", "--baseline", "old",
                          "--candidate", "new")
    _one_line_error(status, err, "junk.parquet")
    status, _, err = _run(capsys, "--label-file", "labels.csv:y", "--baseline-file",
                          "missing.csv:x", "--candidate-file", "new.npy")
    _one_line_error(status, err, "missing.csv", "no such file")


def test_usage_errors(files, capsys):
    status, _, err = _run(capsys, "s.parquet", "--label", "y", "--baseline", "old")
    _one_line_error(status, err, "--candidate")
    status, _, err = _run(capsys, "s.parquet", "--label", "y", "--baseline", "old",
                          "--candidate", "new", "--label-file", "labels.csv:y")
    _one_line_error(status, err, "not both")
    status, _, err = _run(capsys, "--label-file", "labels.csv:y", "--baseline-file", "old.csv")
    _one_line_error(status, err, "--candidate-file")
    status, _, err = _run(capsys, "--label-file", "labels.csv", "--baseline-file", "old.csv",
                          "--candidate-file", "new.npy")
    _one_line_error(status, err, "FILE:COLUMN")
    status, _, err = _run(capsys, "s.parquet", "--label", "y", "--baseline", "old",
                          "--candidate", "new", "--margin", "lots")
    _one_line_error(status, err, "--margin 'lots'")
    status, _, err = _run(capsys, "s.parquet", "--label", "y", "--baseline", "old",
                          "--candidate", "new", "--margin", "log_loss=0.1")
    _one_line_error(status, err, "'log_loss' is not one of the --metric")
    with pytest.raises(SystemExit) as exc:  # argparse: a metric that does not exist
        cli.main(["gate", "s.parquet", "--metric", "auc"])
    assert exc.value.code == 2
    capsys.readouterr()


def test_split_source(files):
    assert _gate.split_source("a.csv:col") == ("a.csv", "col")
    assert _gate.split_source("a.csv") == ("a.csv", None)
    assert _gate.split_source("dir/x.parquet:a:b") == ("dir/x.parquet:a", "b")
    pathlib.Path("odd:name.csv").write_text("s\n0.5\n")
    assert _gate.split_source("odd:name.csv") == ("odd:name.csv", None)


def test_exit_status_of_the_process(files):
    run = subprocess.run([sys.executable, "-m", "fastmlops", "gate", "bad.parquet", "--label",
                          "y", "--baseline", "old", "--candidate", "new", "--slice",
                          "country", "--margin", "0.05", "--format", "json"],
                         check=False, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr
    assert json.loads(run.stdout)["decision"] == "fail"


# ------------------------------------------------------------------ README
def _section() -> str:
    text = README.read_text()
    start = text.index("### A model-quality gate in CI")
    end = re.search(r"\n##+ ", text[start + 5:])
    assert end is not None
    return text[start:start + 5 + end.start()]


def test_readme_section_follows_the_drift_gate():
    text = README.read_text()
    drift = text.index("### Drift checks of files (CI gate)")
    ours = text.index("### A model-quality gate in CI")
    between = text[drift + 10:ours]
    assert drift < ours and not re.search(r"\n##+ ", between)


def test_readme_gate_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    section = _section()
    for code in re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL):
        exec(compile(code, str(README), "exec"), {})  # noqa: S102 - the README runs as written
    (bash,) = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    commands = [c for c in bash.replace("\\\n", " ").splitlines()
                if c.strip().startswith("fastmlops ")]
    assert len(commands) >= 2
    for command in commands:
        argv = shlex.split(command.split("#")[0])
        assert cli.main(argv[1:]) == 0, command
    out = capsys.readouterr().out
    assert "PASS: candidate" in out
    assert (tmp_path / "gate.html").exists()
