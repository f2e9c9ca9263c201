"""Regressions from the audit of issue #23 (drift check items): total drift
judged "ok" when a p-value is subnormal (1), JSON of non-finite plot data (3),
Markdown injection (13), the sign of ``statistic_location`` (14a) and lone
surrogates in the HTML report (14d)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastmlops
from fastmlops import cli
from fastmlops.drift import _rule as rule

TINY = 5e-324  # the smallest subnormal double


# ------------------------------------------- 1. underflow never flips a verdict
def _numeric_verdict(p_ks: float, p_bin: float, correction: str,
                     others: tuple[float, ...] = (0.5, 0.9)) -> rule.ColumnVerdict:
    """The verdict of a numeric column with these p-values, among columns of
    p-values ``others``, adjusted by ``correction`` as the judge does."""
    p_col = min(1.0, 2 * min(p_ks, p_bin))
    p_adj = rule.adjust(np.array([p_col, *others]), correction)
    return rule.judge("numeric", p_ks=p_ks, p_bin=p_bin, p_col=p_col, p_adj=float(p_adj[0]),
                      alpha=0.05, psi=8.3, nan_up=0.0, nan_increase=0.05, n_current=160)


@pytest.mark.parametrize("correction", rule.CORRECTIONS)
@pytest.mark.parametrize("p", [0.0, TINY, 1e-322, 2.4e-322, 1e-310, 1e-300])
def test_rule_tiny_ks_pvalue_is_drift(p, correction):
    """The issue's case: ``alpha * p_col / p_adj`` underflowed to 0 for a
    subnormal p-value, so neither test counted and the column was "ok"."""
    v = _numeric_verdict(p, 1e-250, correction)
    assert v.verdict == "drift"
    assert v.reasons == ["ks", "psi"]


@pytest.mark.parametrize("correction", rule.CORRECTIONS)
@pytest.mark.parametrize("p", [0.0, TINY, 1e-300])
def test_rule_tiny_binned_pvalue_is_drift(p, correction):
    v = _numeric_verdict(1.0, p, correction)
    assert v.verdict == "drift" and v.reasons == ["psi"]
    # a small PSI: significant but small is "watch", never "ok"
    p_col = 2 * p
    w = rule.judge("numeric", p_ks=1.0, p_bin=p, p_col=p_col,
                   p_adj=float(rule.adjust(np.array([p_col, 0.5]), correction)[0]),
                   alpha=0.05, psi=0.05, nan_up=0.0, nan_increase=0.05, n_current=160)
    assert w.verdict == "watch" and w.reasons == ["binned"]


@pytest.mark.parametrize("correction", rule.CORRECTIONS)
@pytest.mark.parametrize("p", [0.0, TINY, 1e-322, 1e-300])
def test_rule_tiny_categorical_pvalue_is_drift(p, correction):
    p_adj = rule.adjust(np.array([p, 0.3, 0.7]), correction)
    v = rule.judge("categorical", p_ks=np.nan, p_bin=p, p_col=p, p_adj=float(p_adj[0]),
                   alpha=0.01, psi=3.0, nan_up=0.0, nan_increase=0.05, n_current=200)
    assert v.verdict == "drift" and v.reasons[0] == "chi2"


@pytest.mark.parametrize("correction", rule.CORRECTIONS)
def test_rule_second_test_of_a_subnormal_column_is_judged_at_its_level(correction):
    """KS p subnormal, the binned p moderate: the binned test counts when
    ``2 * p_bin * (p_adj / p_col) < alpha``, whatever the size of ``p_col``."""
    for p_ks in (TINY, 1e-320, 1e-300, 1e-100):
        factor = {"none": 1.0, "holm": 3.0, "bh": 3.0}[correction]
        small = _numeric_verdict(p_ks, 0.02 / factor, correction)  # 2 * 0.02 < 0.05
        big = _numeric_verdict(p_ks, 0.03 / factor, correction)    # 2 * 0.03 > 0.05
        assert small.reasons == ["ks", "psi"], (p_ks, small.reasons)
        assert big.reasons == ["ks"], (p_ks, big.reasons)


@pytest.mark.parametrize("correction", rule.CORRECTIONS)
def test_rule_not_significant_stays_ok(correction):
    for p in (0.2, 0.06, 0.5, 1.0, np.nan):
        v = _numeric_verdict(p, 0.9 if np.isnan(p) else p, correction, others=())
        assert v.verdict == "ok", (p, v)


def test_rule_uses_the_exact_correction_factor_of_a_subnormal_column():
    """BH of 7 columns, ours third with p_col = 1e-323: its adjusted p-value
    7/3 * 1e-323 rounds to 2.5e-323 (factor 2.5, not 2.33), which would drop the
    binned test (2 * 0.0103 * 7/3 = 0.048 < 0.05).  The rule takes the
    adjusted p-value in logs from :func:`log_adjust`."""
    p_ks, p_bin = TINY, 0.0103
    p = np.array([0.0, TINY, 2 * p_ks, 0.9, 0.9, 0.9, 0.9])
    p_adj, log_p_adj = rule.adjust(p, "bh"), rule.log_adjust(p, "bh")
    assert p_adj[2] / p[2] == 2.5 and math.exp(log_p_adj[2] - math.log(p[2])) < 2.34
    v = rule.judge("numeric", p_ks=p_ks, p_bin=p_bin, p_col=p[2], p_adj=float(p_adj[2]),
                   log_p_adj=float(log_p_adj[2]), alpha=0.05, psi=8.3, nan_up=0.0,
                   nan_increase=0.05, n_current=160)
    assert v.verdict == "drift" and v.reasons == ["ks", "psi"]


def test_log_adjust_is_the_log_of_adjust():
    rng = np.random.default_rng(3)
    for _ in range(50):
        p = rng.random(int(rng.integers(1, 30))) ** 3
        p[rng.random(p.size) < 0.1] = np.nan
        for method in rule.CORRECTIONS:
            want = rule.adjust(p, method)
            got = rule.log_adjust(p, method)
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
            ok = ~np.isnan(want)
            np.testing.assert_allclose(np.exp(got[ok]), want[ok], rtol=1e-12)
    # subnormal and zero p-values keep their size in logs
    got = rule.log_adjust(np.array([TINY, 0.0, 0.5]), "holm")
    assert got[1] == -math.inf
    assert got[0] == pytest.approx(math.log(2) + math.log(TINY), rel=1e-15)
    assert np.all(rule.log_adjust(np.array([TINY, 1e-320]), "bh") <= 0)


@pytest.mark.parametrize("n", [152, 160, 175, 190])
@pytest.mark.parametrize("correction", rule.CORRECTIONS)
def test_total_drift_is_drift(n, correction):
    """Reference 10,000 rows of N(0, 1), current rows near 100: D = 1, PSI 8.3,
    and the verdict was "ok" with a subnormal KS p-value."""
    rng = np.random.default_rng(0)
    ref = fastmlops.DriftReference(rng.standard_normal((10_000, 1)), columns=["x"],
                                   correction=correction)
    report = ref.check(100 + rng.standard_normal((n, 1)))
    assert report.ks_statistic[0] == 1.0 and report.ks_pvalue[0] < 1e-300
    assert report.column_verdict == ["drift"] and report.verdict == "drift"
    assert "ks" in report.reasons[0]


def test_total_drift_fails_the_command(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savetxt(tmp_path / "ref.csv", rng.standard_normal(10_000), header="x", comments="")
    np.savetxt(tmp_path / "cur.csv", 100 + rng.standard_normal(160), header="x", comments="")
    status = cli.main(["drift", str(tmp_path / "ref.csv"), str(tmp_path / "cur.csv"),
                       "--fail-on", "drift", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "drift" and status == 1


# ------------------------------------------- 3. non-finite values are JSON null
def _non_finite_floats(tree, path="$"):
    if isinstance(tree, float):
        return [] if math.isfinite(tree) else [path]
    if isinstance(tree, dict):
        return [p for k, v in tree.items() for p in _non_finite_floats(v, f"{path}.{k}")]
    if isinstance(tree, (list, tuple)):
        return [p for i, v in enumerate(tree) for p in _non_finite_floats(v, f"{path}[{i}]")]
    return []


def _report_with_infinities():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1000)
    x[:3], x[3:5], x[5:8] = np.inf, -np.inf, np.nan
    ref = fastmlops.DriftReference({"x": x, "all_inf": np.full(1000, np.inf),
                                    "c": rng.choice(["a", "b"], 1000)})
    y = rng.standard_normal(300)
    y[:2], y[2] = np.inf, -np.inf
    return ref.check({"x": y, "all_inf": np.r_[np.full(299, -np.inf), np.nan],
                      "c": rng.choice(["a", "b"], 300)})


def test_infinite_values_are_null_in_json():
    """``plot.edges`` held +-inf and ``to_json`` raised "Out of range float
    values are not JSON compliant"."""
    report = _report_with_infinities()
    d = report.to_dict()
    assert _non_finite_floats(d) == []
    assert d["columns"][0]["plot"]["edges"][0] is None
    assert d["columns"][0]["plot"]["edges"][-1] is None
    text = report.to_json()
    assert json.loads(text) == d
    assert "Infinity" not in text and "NaN" not in text
    assert report.to_html().startswith("<!DOCTYPE html>")


def test_infinite_values_in_the_command_write_json(tmp_path, capsys):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal(500), rng.standard_normal(200)
    x[:2], x[2] = np.inf, -np.inf
    np.savetxt(tmp_path / "ref.csv", x, header="x", comments="")
    np.savetxt(tmp_path / "cur.csv", y, header="x", comments="")
    status = cli.main(["drift", str(tmp_path / "ref.csv"), str(tmp_path / "cur.csv"),
                       "--format", "json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert json.loads(out)["columns"][0]["plot"]["edges"][0] is None


# ------------------------------------------------- 13. Markdown escapes user text
HOSTILE = ["a|b", "two\nlines", "**bold**", "<b>hi</b>", "back\\slash|", "# heading",
           "- item", "[link](https://example.com)", "`code`", "_under_", "&amp; x",
           "tab\there", "cr\r\nlf", "~~strike~~", "![img](x.png)", "1. first", "> quote",
           "sep\u2028line", "<script>alert(1)</script>"]


def _hostile_report():
    rng = np.random.default_rng(7)
    ref = {name: rng.standard_normal(400) for name in HOSTILE}
    ref["cat|<i>x</i>"] = rng.choice(["a|b", "**c**"], 400)
    cur = {name: rng.standard_normal(200) + 3.0 for name in HOSTILE}  # every one drifts
    cur["cat|<i>x</i>"] = rng.choice(["a|b", "<b>new</b>"], 200)
    return fastmlops.DriftReference(ref).check(cur)


def _unescaped_pipes(line: str) -> int:
    n, i = 0, 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        n += line[i] == "|"
        i += 1
    return n


def test_markdown_rows_stay_one_row_each():
    report = _hostile_report()
    text = report.format(markdown=True)
    lines = text.split("\n")
    assert lines[0] == report.headline() and lines[1] == ""  # the headline comes first
    lines = lines[2:]
    head = lines[0]
    rows = lines[2:2 + len(report.columns)]
    assert all(r.startswith("| ") for r in rows), rows
    assert lines[2 + len(report.columns)] == ""  # the table ends after the last column
    assert {_unescaped_pipes(r) for r in rows} == {_unescaped_pipes(head)}
    for bad in ("<", ">", "\r", "\u2028", "\t"):
        assert bad not in text, bad
    for ch in "*_`[]~!#":  # every markup character is backslash-escaped
        assert all(text[i - 1] == "\\" for i, c in enumerate(text) if c == ch), ch


def test_markdown_renders_names_as_text():
    """Rendered as GitHub-flavoured Markdown (tables on, HTML allowed), the
    table has one row per column whose first cell is the column's name as
    plain text, and no tag, emphasis, link or code span comes from a name."""
    markdown_it = pytest.importorskip("markdown_it")
    report = _hostile_report()
    md = markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    tokens = md.parse(report.format(markdown=True))
    kinds = {t.type for t in tokens}
    assert not kinds & {"html_block", "heading_open", "blockquote_open", "ordered_list_open",
                        "fence", "code_block", "hr"}, kinds
    # every piece of inline text is plain text: no tag, emphasis, link, code span
    assert {c.type for t in tokens for c in t.children or []} == {"text"}
    # the reasons: one bullet a column, none nested
    assert sum(t.type == "list_item_open" for t in tokens) == len(report.columns)
    assert sum(t.type == "bullet_list_open" for t in tokens) == 1
    rows = [i for i, t in enumerate(tokens) if t.type == "tr_open"]
    assert len(rows) == 1 + len(report.columns)
    first_cells = []
    for i in rows[1:]:
        cell = next(t for t in tokens[i:] if t.type == "inline")
        first_cells.append(cell.children[0].content if cell.children else "")
        n_cells = 0
        for t in tokens[i + 1:]:
            if t.type == "tr_close":
                break
            n_cells += t.type == "td_open"
        assert n_cells == 9
    shown = {name.replace("\r\n", "\\r\\n").replace("\n", "\\n").replace("\t", "\\t")
             .replace("\u2028", "\\u2028") for name in report.columns}
    assert set(first_cells) == shown
    html = md.render(report.format(markdown=True))
    assert "<b>" not in html and "<script>" not in html and "<i>" not in html


_ONE_COLUMN = fastmlops.DriftReference({"x": np.arange(100.0)}).check({"x": np.arange(50.0) + 80})


def _visible(name: str) -> str:
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode()
                   for c in name)


@given(name=st.text(min_size=1, max_size=30))
@settings(max_examples=300)
def test_markdown_any_name_renders_as_itself(name):
    """Whatever a column is called, its Markdown row renders as one table row
    whose first cell is the name as plain text (control characters shown as
    their escapes), and its reason line as one list item."""
    markdown_it = pytest.importorskip("markdown_it")
    report = dataclasses.replace(_ONE_COLUMN, columns=[name])
    md = markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    tokens = md.parse(report.format(markdown=True))
    rows = [i for i, t in enumerate(tokens) if t.type == "tr_open"]
    assert len(rows) == 2
    cell = next(t for t in tokens[rows[1]:] if t.type == "inline")
    assert {c.type for t in tokens for c in t.children or []} <= {"text"}
    assert "".join(c.content for c in cell.children) == _visible(name)
    items = [i for i, t in enumerate(tokens) if t.type == "list_item_open"]
    assert len(items) == 1
    note = next(t for t in tokens[items[0]:] if t.type == "inline")
    assert "".join(c.content for c in note.children).startswith(_visible(name) + ": ")


# ---------------------------------- 14a. the sign of a zero statistic_location
def _same_location(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def _signed_zero_samples(rng, n1, n2, dtype1=np.float64, dtype2=np.float64, nan=False):
    vals = np.array([-0.0, 0.0, -1.0, 1.0, 2.0, np.nan if nan else 3.0])
    return (rng.choice(vals, n1).astype(dtype1), rng.choice(vals, n2).astype(dtype2))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_ks_location_keeps_scipys_signed_zero():
    """scipy's location is an element of ``np.sort(data1)`` (or of data2):
    with -0.0 and 0.0 in a sample, it is -0.0 or 0.0 as that sort leaves them;
    fastmlops said 0.0 where scipy said -0.0."""
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    negative = 0
    for _ in range(400):
        n1, n2 = rng.integers(1, 60, 2)
        a, b = _signed_zero_samples(rng, n1, n2)
        for alt in ("two-sided", "less", "greater"):
            got = fastmlops.ks_2samp(a, b, alternative=alt)
            want = stats.ks_2samp(a, b, alternative=alt)
            _same_location(got.statistic_location, want.statistic_location)
            assert got.statistic_location.dtype == want.statistic_location.dtype
            negative += bool(np.signbit(want.statistic_location))
    assert negative > 50  # the cases that failed


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtypes", [(np.float32, np.float64), (np.float64, np.float32),
                                    (np.float32, np.float32), (np.float16, np.float64),
                                    (np.int64, np.float64)])
def test_ks_location_signed_zero_of_every_dtype(dtypes):
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(2)
    for _ in range(150):
        n1, n2 = rng.integers(1, 80, 2)
        a, b = _signed_zero_samples(rng, n1, n2, *dtypes)
        _same_location(fastmlops.ks_2samp(a, b).statistic_location,
                       stats.ks_2samp(a, b).statistic_location)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_ks_location_signed_zero_with_nans_masks_and_axes():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    for _ in range(60):
        n1, n2 = rng.integers(2, 60, 2)
        a, b = _signed_zero_samples(rng, n1, n2, nan=True)
        _same_location(fastmlops.ks_2samp(a, b, nan_policy="omit").statistic_location,
                       stats.ks_2samp(a, b, nan_policy="omit").statistic_location)
        a, b = _signed_zero_samples(rng, n1, n2)
        ma = np.ma.masked_array(a, mask=rng.random(n1) < 0.2)
        ma[0] = np.ma.masked
        _same_location(fastmlops.ks_2samp(ma, b).statistic_location,
                       stats.ks_2samp(ma, b).statistic_location)
        # many tests along an axis, float32 against float64, NaNs omitted
        a2, b2 = _signed_zero_samples(rng, 5 * n1, 5 * n2, np.float32, np.float64, nan=True)
        a2, b2 = a2.reshape(n1, 5), b2.reshape(n2, 5)
        for policy in ("omit", "propagate"):
            _same_location(fastmlops.ks_2samp(a2, b2, nan_policy=policy).statistic_location,
                           stats.ks_2samp(a2, b2, nan_policy=policy).statistic_location)
        a3, b3 = _signed_zero_samples(rng, 4 * n1, 4 * n2)
        _same_location(fastmlops.ks_2samp(a3.reshape(4, n1), b3.reshape(4, n2),
                                          axis=-1).statistic_location,
                       stats.ks_2samp(a3.reshape(4, n1), b3.reshape(4, n2),
                                      axis=-1).statistic_location)
        _same_location(fastmlops.ks_2samp(a3.reshape(2, 2, n1), b3.reshape(2, 2 * n2),
                                          axis=None).statistic_location,
                       stats.ks_2samp(a3.reshape(2, 2, n1), b3.reshape(2, 2 * n2),
                                      axis=None).statistic_location)


def test_ks_location_signed_zero_large_samples():
    """Large samples go through bucket refinement: the same signs.  Their
    statistic sits at 0 (40 % zeros against 20 %)."""
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(4)

    def sample(n, neg, zero, pos_from):
        u = rng.random(n)
        x = np.where(u < neg, -rng.random(n) - 0.01,
                     np.where(u < neg + zero, 0.0, rng.random(n) + pos_from))
        x[(x == 0) & (rng.random(n) < 0.5)] = -0.0
        return x

    signs = set()
    for _ in range(4):
        a, b = sample(20_000, 0.4, 0.4, 0.5), sample(15_000, 0.3, 0.2, 0.01)
        want = stats.ks_2samp(a, b, method="asymp")
        assert want.statistic_location == 0
        signs.add(bool(np.signbit(want.statistic_location)))
        _same_location(fastmlops.ks_2samp(a, b, method="asymp").statistic_location,
                       want.statistic_location)
        a2, b2 = np.c_[a[:15_000], a[5000:]], np.c_[b, b[::-1]]
        _same_location(fastmlops.ks_2samp(a2, b2, method="asymp").statistic_location,
                       stats.ks_2samp(a2, b2, method="asymp").statistic_location)
    assert signs == {True, False}


# ----------------------------------------- 14d. lone surrogates in the HTML report
def _surrogate_report():
    rng = np.random.default_rng(0)
    name = "c\ud800"
    ref = fastmlops.DriftReference({name: rng.choice(["a", "b\udcff", "\ud800"], 500),
                                    "x\udfff": rng.standard_normal(500)}, categorical=[name])
    return ref.check({name: rng.choice(["a", "\ud800", "new\udfff", "\ud83d\ude00"], 200),
                      "x\udfff": rng.standard_normal(200)})


def test_html_report_with_lone_surrogates(tmp_path):
    """A category (or column name) that is not valid Unicode text (a lone
    surrogate, as ``surrogateescape`` leaves undecodable bytes) made the page
    impossible to write as UTF-8."""
    import re

    report = _surrogate_report()
    report.to_html(tmp_path / "r.html")  # raised UnicodeEncodeError
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page == report.to_html()
    page.encode("utf-8")  # strict
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)'
                                r"</script>", page, re.DOTALL).group(1))
    cols = {c["name"]: c for c in data["columns"]}
    assert set(cols) == {"c\ud800", "x\udfff"}  # exact, as JSON escapes
    cat = cols["c\ud800"]
    assert set(cat["plot"]["categories"]) == {"a", "b\udcff", "\ud800"}
    assert "new\udfff" in cat["unseen"]["examples"]
    # a pair written as two surrogates reads back as the one character, as in JavaScript
    assert "\U0001F600" in cat["unseen"]["examples"]


def test_html_report_title_with_lone_surrogate(tmp_path):
    from fastmlops.drift._html_report import render, write

    d = _surrogate_report().to_dict()
    page = render(d, title="t\udc80")
    page.encode("utf-8")
    write(d, tmp_path / "p.html", title="t\udc80")
    assert "t\ufffd" in (tmp_path / "p.html").read_text(encoding="utf-8")
