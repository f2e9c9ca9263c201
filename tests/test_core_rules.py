"""The one Prometheus rule writer (fastmlops._core.rules): every string it writes
reads back exactly through a YAML parser, and promtool accepts what it writes."""

import shutil
import subprocess

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastmlops._core.rules import AlertingRule, RecordingRule, RuleGroup, render_rule_file, yaml_quote

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
NAMES = st.one_of(st.from_regex(r"[A-Za-z_:][A-Za-z0-9_:]{0,12}", fullmatch=True),
                  st.sampled_from(["on", "yes", "No", "null", "true", "y", "a:", "x::", "NULL"]))
LINES = st.lists(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=15),
                 min_size=1, max_size=5).map("\n".join)
EXPRS = st.one_of(TEXT, LINES, LINES.map(lambda s: s + "\n"), LINES.map(lambda s: s + "\n\n\n"),
                  LINES.map(lambda s: "  " + s), LINES.map(lambda s: "\n " + s))


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(group=TEXT, name=NAMES, expr=EXPRS,
       for_=st.one_of(st.none(), st.sampled_from(["5m", "1h30m", "10", "x y", "on"]), TEXT),
       labels=st.dictionaries(NAMES, TEXT, max_size=3),
       annotations=st.dictionaries(NAMES, TEXT, max_size=3), quote=st.booleans(),
       recording=st.booleans())
def test_every_rule_reads_back_exactly(group, name, expr, for_, labels, annotations, quote,
                                       recording):
    if recording:
        rule = RecordingRule(name, expr, labels)
        want = {"record": name, "expr": expr}
    else:
        rule = AlertingRule(name, expr, for_, labels, annotations)
        want = {"alert": name, "expr": expr}
        if for_ is not None:
            want["for"] = for_
    if labels:
        want["labels"] = labels
    if annotations and not recording:
        want["annotations"] = annotations
    out = render_rule_file([RuleGroup(group, [rule])], header=["hi", "x\ty"], quote_names=quote)
    assert yaml.safe_load(out) == {"groups": [{"name": group, "rules": [want]}]}, out


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_quoted_strings_read_back(s):
    assert yaml.safe_load(yaml_quote(s)) == s


def test_empty_files_and_groups():
    assert yaml.safe_load(render_rule_file([])) == {"groups": []}
    assert yaml.safe_load(render_rule_file([RuleGroup("g")])) == {"groups": [{"name": "g",
                                                                              "rules": []}]}


def test_header_lines_cannot_break_out_of_the_comment():
    with pytest.raises(ValueError):
        render_rule_file([], header=["one\ntwo"])


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_accepts_odd_strings(tmp_path):
    rules = [RecordingRule("job:odd:rate5m", 'sum(rate(x{a="q\\"uote"}[5m]))',
                           {"team": "on", "note": "tab\there"}),
             AlertingRule("OddAlert", "job:odd:rate5m > 1\n  and on() vector(1)", "5m",
                          {"severity": "yes"}, {"summary": 'quote " colon: # hash \\ back',
                                                "description": "two\nlines"})]
    path = tmp_path / "rules.yml"
    path.write_text(render_rule_file([RuleGroup("odd: group", rules)], header=["odd rules"]))
    out = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr
