"""The table's verdict rule (#24): by default the table drifts when any column
drifts after Holm's correction across its columns; the share rule is an option.

Judged by simulation: the table's false-alarm rate under no drift stays at
alpha (plus binomial noise) for any number of columns, and one strongly
drifted column of several fails the gate."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import fastmlops
from fastmlops.drift import DriftReference


def _upper(rate: float, n: int) -> float:
    """rate plus 3 binomial standard errors over n trials."""
    return rate + 3 * math.sqrt(rate * (1 - rate) / n)


def _table(rng: np.random.Generator, n: int, m: int) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {f"x{j}": rng.normal(size=n) for j in range(m)}
    cols["city"] = rng.choice(np.array(["a", "b", "c", "d"]), size=n, p=[0.4, 0.3, 0.2, 0.1])
    return cols


def test_one_strongly_drifted_column_fails_the_table():
    # the cases: one of three columns shifted by 3 SD (PSI 6.5) at 2,000
    # rows, and by 0.4 SD at 8,000 rows: the table verdict was WATCH (exit 0)
    rng = np.random.default_rng(1)
    for shift, n in ((3.0, 2000), (0.4, 8000)):
        ref = DriftReference(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
        cur = rng.normal(size=(n, 3))
        cur[:, 1] += shift
        report = ref.check(cur)
        assert report.column_verdict == ["ok", "drift", "ok"]
        assert report.verdict == "drift" and report.drifted
        assert report.table_rule == "holm" and report.table_columns == ["b"]
        # the share rule (the old default) lets it through as "watch"
        share = ref.with_rule(drift_share=0.5).check(cur)
        assert share.verdict == "watch" and not share.drifted
        assert share.table_rule == "share" and share.table_columns == ["b"]


@pytest.mark.parametrize("m", [1, 5, 20])
def test_false_alarm_rate_of_the_table_is_at_most_alpha(m):
    """Under no drift, the table drifts at most alpha of the time, whatever the
    number of columns (each column on its own drifts up to alpha of the time:
    'any column, uncorrected' would alarm in up to 1 - (1 - alpha)^m)."""
    rng = np.random.default_rng(100 + m)
    alpha, trials = 0.05, 300
    ref = DriftReference(_table(rng, 600, m), alpha=alpha)
    table = any_uncorrected = 0
    for _ in range(trials):
        report = ref.check(_table(rng, 150, m))
        table += report.drifted
        any_uncorrected += report.n_drifted > 0
    assert table / trials <= _upper(alpha, trials), (table, trials)
    if m >= 5:  # the uncorrected 'any column' rule is far above alpha: Holm matters
        assert any_uncorrected / trials > _upper(alpha, trials)


def test_power_of_the_table_rule_follows_the_drifted_column():
    """One column of ten shifted: the table drifts about as often as that column
    alone is detected at alpha / 10 (Holm's first step), and far more often than
    under the share rule, which never fires for one column of ten."""
    rng = np.random.default_rng(7)
    alpha, trials, m = 0.01, 60, 10
    ref = DriftReference(_table(rng, 2000, m), alpha=alpha)
    share_ref = ref.with_rule(drift_share=0.5)
    holm = share = 0
    for _ in range(trials):
        cur = _table(rng, 500, m)
        cur["x3"] = cur["x3"] + 0.35
        report = ref.check(cur)
        holm += report.drifted
        share += share_ref.check(cur).drifted
    # KS power for a 0.35 SD shift at 2,000 vs 500 rows at alpha / 10 / 2 is
    # above 0.95 (scipy simulation); the share rule needs five columns
    assert holm / trials >= 0.85, holm
    assert share == 0


def test_holm_correction_for_column_verdicts_gives_the_same_table():
    rng = np.random.default_rng(3)
    data = _table(rng, 1000, 6)
    cur = _table(rng, 400, 6)
    cur["x1"] = cur["x1"] + 0.5
    for corr in ("none", "holm", "bh"):
        report = DriftReference(data, correction=corr).check(cur)
        assert report.table_columns == ["x1"] and report.verdict == "drift", corr


def test_headline_starts_every_format():
    rng = np.random.default_rng(5)
    ref = DriftReference(rng.normal(size=(1000, 3)), columns=["a", "b", "c"])
    cur = rng.normal(size=(500, 3))
    cur[:, 0] += 1
    report = ref.check(cur)
    head = report.headline()
    assert head.startswith("1 of 3 columns drifted (rule: the table drifts when any column "
                           "drifts after Holm's correction across its 3 columns at alpha "
                           "0.01); table verdict: DRIFT"), head
    assert report.format().splitlines()[0] == head
    assert report.format(markdown=True).splitlines()[0] == head
    d = json.loads(report.to_json())
    assert d["summary"]["headline"] == head and d["rule"]["drift_share"] is None
    assert "Holm" in d["rule"]["text"]
    share = ref.with_rule(drift_share=0.25).check(cur)
    assert share.headline() == ("1 of 3 columns drifted (rule: the table drifts when at least "
                                "25% of its columns drift); table verdict: DRIFT")


def test_headline_counts_columns_held_after_holm():
    # two columns drift on their own (alpha 0.05, no correction); only the strong
    # one survives Holm's correction across 40 columns
    rng = np.random.default_rng(11)
    m = 40
    ref = DriftReference(rng.normal(size=(400, m)), alpha=0.05)
    found = False
    for _ in range(40):
        cur = rng.normal(size=(200, m))
        cur[:, 0] += 2.0
        report = ref.check(cur)
        if report.n_drifted >= 2:
            assert report.table_columns == ["0"]
            assert f"{report.n_drifted} of 40 columns drifted, 1 of them after Holm's " \
                   "correction (rule:" in report.headline()
            found = True
            break
    assert found


def test_saved_reference_keeps_its_rule(tmp_path):
    rng = np.random.default_rng(2)
    data = rng.normal(size=(500, 2))
    DriftReference(data).save(tmp_path / "holm.fmref")
    DriftReference(data, drift_share=0.5).save(tmp_path / "share.fmref")
    assert DriftReference.load(tmp_path / "holm.fmref").drift_share is None
    loaded = DriftReference.load(tmp_path / "share.fmref")
    assert loaded.drift_share == 0.5
    assert loaded.with_rule(drift_share=None).drift_share is None
    assert loaded.with_rule(alpha=0.2).alpha == 0.2
    assert loaded.with_rule(alpha=0.2).digest == loaded.digest


def test_with_rule_checks_its_arguments():
    ref = DriftReference(np.arange(50.0)[:, None])
    with pytest.raises(ValueError, match="drift_share"):
        ref.with_rule(drift_share=0.0)
    with pytest.raises(ValueError, match="correction"):
        ref.with_rule(correction="bonferroni")
    with pytest.raises(ValueError, match="alpha"):
        ref.with_rule(alpha=1.5)
    assert ref.with_rule().column_models is ref.column_models


def test_cli_rule_options_at_check_time(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fastmlops import cli

    rng = np.random.default_rng(4)
    ref_t = pa.table({"a": rng.normal(size=2000), "b": rng.normal(size=2000),
                      "c": rng.normal(size=2000)})
    cur_t = pa.table({"a": rng.normal(size=800) + 0.4, "b": rng.normal(size=800),
                      "c": rng.normal(size=800)})
    pq.write_table(ref_t, tmp_path / "ref.parquet")
    pq.write_table(cur_t, tmp_path / "cur.parquet")
    saved = str(tmp_path / "ref.fmref")
    assert cli.main(["reference", "build", str(tmp_path / "ref.parquet"), "-o", saved,
                     "--drift-share", "0.5"]) == 0
    capsys.readouterr()
    cur = str(tmp_path / "cur.parquet")
    # the saved share rule: watch, exit 0; the default rule at check time: exit 1
    assert cli.main(["drift", saved, cur, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "watch"
    assert cli.main(["drift", saved, cur, "--format", "json", "--drift-share", "holm"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "drift" and out["summary"]["table_columns"] == ["a"]
    # alpha and correction apply at check time too
    assert cli.main(["drift", saved, cur, "--format", "json", "--alpha", "1e-300",
                     "--correction", "bh", "--drift-share", "holm"]) in (0, 1)
    out = json.loads(capsys.readouterr().out)
    assert out["rule"]["alpha"] == 1e-300 and out["rule"]["correction"] == "bh"
    with pytest.raises(SystemExit):
        cli.main(["drift", saved, cur, "--drift-share", "1.5"])
    assert "must be in (0, 1]" in capsys.readouterr().err


def test_public_psi_unchanged_by_rule():
    # the rule is about verdicts: the figures do not depend on it
    rng = np.random.default_rng(9)
    data, cur = rng.normal(size=(300, 2)), rng.normal(size=(100, 2)) + 0.3
    a = DriftReference(data).check(cur)
    b = DriftReference(data, drift_share=0.5, correction="bh").check(cur)
    np.testing.assert_array_equal(a.ks_pvalue, b.ks_pvalue)
    np.testing.assert_array_equal(a.psi, b.psi)
    assert fastmlops.DriftReport is type(a)


def test_table_rule_at_underflowing_p_values():
    """A total shift gives a KS p-value of 0 or a subnormal one; Holm's
    adjustment across 40 columns is made in logs, so the table still drifts on
    that column alone (no decision through a quantity that underflows)."""
    rng = np.random.default_rng(21)
    m = 40
    ref = DriftReference(rng.normal(size=(3000, m)))
    for shift in (50.0, 8.0):  # p = 0; p far below 1e-300
        cur = rng.normal(size=(3000, m))
        cur[:, 7] += shift
        report = ref.check(cur)
        assert report.ks_pvalue[7] < 1e-300
        assert report.table_columns == ["7"] and report.verdict == "drift"
