"""The drift report's pictures and what they rest on (issue #24, items 2, 3 and 8).

* PSI and the binned test see mass outside the reference's range (an outer
  bin below and one above it), so a constant reference is no blind spot;
* the numeric pictures span both samples: the current's values beyond the
  reference's range are drawn (pixels in a real Chromium);
* tick labels and locations keep enough digits (year data 1960..1979.75);
* new categories are counted once; every reason code is worded; every label
  stays inside its picture;
* the report's newer summary fields are shown when present, skipped when not;
* the README's screenshot is made by ``scripts/drift_screenshot.py``.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastmlops
from fastmlops import divergence
from fastmlops.drift import _html_report
from fastmlops.drift._html_report import render
from fastmlops.drift._plots import categorical_plot

from ._browser import Browser, chromium_path

READY = "window.fastmlopsReport && window.fastmlopsReport.ready === true"
ROOT = Path(__file__).resolve().parents[1]
#: Every reason code a column may cite (docs/drift-report-json.md).
CODES = ["ks", "chi2", "psi", "psi_minor", "binned", "missing", "unseen", "empty", "absent"]


# -------------------------------------------------- outer bins: PSI and binned test
def _mostly_above_zero(n: int = 400, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.exponential(size=n) + 0.1
    x[: n // 20] = 0.0  # 5 % still at the reference's constant
    return x


def test_constant_reference_psi_and_binned_test_see_the_change():
    current = _mostly_above_zero()
    result = fastmlops.psi(np.zeros(500), current)
    assert result.edges.size == 2  # three bins: below, equal, above
    np.testing.assert_allclose(result.current_proportions, [1e-4, 0.05, 0.95])
    assert result.value > 0.25 and result.verdict == "major"
    assert fastmlops.kl_divergence(np.zeros(500), current) > 0
    assert fastmlops.js_divergence(np.zeros(500), current) > 0.1
    report = fastmlops.DriftReference(np.zeros((500, 1))).check(current[:, None])
    assert report.ks_statistic[0] == pytest.approx(0.95)
    assert report.chi2_dof[0] >= 1
    assert report.chi2_pvalue[0] < 1e-10
    assert report.psi[0] > 0.25
    assert report.column_verdict == ["drift"]
    assert "psi" in report.reasons[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint64])
def test_the_largest_value_is_inside_and_anything_above_is_not(dtype):
    reference = np.array([3, 5, 7, 7, 9, 11], dtype=dtype)
    model = fastmlops.DriftReference(reference[:, None]).column_models[0]
    top = float(reference.max())
    assert model.edges[0] == float(reference.min()) and model.edges[-1] > top
    assert model.counts[0] == 0 and model.counts[-1] == 0  # nothing outside its own range
    assert model.counts.sum() == reference.size
    if np.dtype(dtype).kind == "f":
        above = np.array([np.nextafter(reference.max(), dtype(np.inf))], dtype=dtype)
    else:
        above = np.array([reference.max() + 1], dtype=dtype)
    counts, _ = divergence.bin_counts(np.concatenate([reference, above]).astype(np.float64)
                                      if np.dtype(dtype).kind != "f" else
                                      np.concatenate([reference, above]), model.edges)
    assert counts[-1] == 1 and counts[0] == 0
    below = np.array([reference.min() - 1], dtype=dtype)
    counts, _ = divergence.bin_counts(below.astype(np.float64), model.edges)
    assert counts[0] == 1


def test_outer_edges_are_checked_and_skip_infinities():
    np.testing.assert_array_equal(divergence.outer_edges(np.array([0.0]), -np.inf, np.inf), [0.0])
    with pytest.raises(ValueError, match="ordered"):
        divergence.outer_edges(np.array([0.0]), 2.0, 1.0)
    with pytest.raises(ValueError, match="ordered"):
        divergence.outer_edges(np.array([0.0]), np.nan, 1.0)
    # a reference with both infinities: no outer edge (nothing lies beyond them)
    reference = np.array([-np.inf, 0.0, 1.0, np.inf])
    result = fastmlops.psi(reference, np.array([-np.inf, np.inf]))
    np.testing.assert_array_equal(result.edges, divergence.edges_from_sorted(reference, 10))


def test_a_reference_file_saved_before_the_outer_bins_still_loads(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    data = rng.normal(size=(2000, 2))
    current = data[:1000] + np.array([0.0, 3.0])
    # what a file saved before issue #24 holds: the interior edges only
    with monkeypatch.context() as m:
        m.setattr(divergence, "reference_edges", divergence.edges_from_sorted)
        old = fastmlops.DriftReference(data)
        path = tmp_path / "old.fmref"
        old.save(path)
    assert old.column_models[0].edges.size == 9
    loaded = fastmlops.DriftReference.load(path)
    assert loaded.column_models[0].edges.size == 9  # its bins lack the outer ones
    report = loaded.check(current)
    assert report.column_verdict == ["ok", "drift"]
    assert report.chi2_dof[0] == 9  # ten bins: as it was saved
    plot = report.to_dict()["columns"][1]["plot"]
    assert plot["below"] is False and plot["above"] is False  # cannot be told apart
    assert len(plot["edges"]) == len(plot["current_counts"]) + 1
    # a file saved now has the outer bins and loads too
    new = fastmlops.DriftReference(data)
    new.save(tmp_path / "new.fmref")
    again = fastmlops.DriftReference.load(tmp_path / "new.fmref")
    assert again.column_models[0].edges.size == 11
    assert again.check(current).to_dict() == new.check(current).to_dict()


# ----------------------------------------------------------- picture data (no browser)
def test_numeric_picture_spans_both_samples():
    rng = np.random.default_rng(5)
    reference = rng.normal(size=(2000, 1))
    report = fastmlops.DriftReference(reference).check(reference[:1000] + 10)
    plot = report.to_dict()["columns"][0]["plot"]
    assert plot["above"] is True and plot["below"] is False
    assert plot["current_counts"][-1] == 1000 and plot["reference_counts"][-1] == 0
    assert plot["edges"][-2] == pytest.approx(float(reference.max()))
    # the current's ECDF: 0 up to the reference's largest value, 1 at the end
    assert plot["current_cdf"][-2] == 0.0 and plot["current_cdf"][-1] == 1.0
    assert plot["reference_cdf"][-2] == 1.0


def test_numeric_picture_places_the_current_extremes_when_known():
    from fastmlops.drift._plots import numeric_plot

    reference = np.arange(100.0)[:, None]
    model = fastmlops.DriftReference(reference).column_models[0]
    current = np.array([-30.0, -5.0, 10.0, 50.0, 120.0])
    bins, grid, _ = model.count_bins(current)
    plot = numeric_plot(model, bins, grid, current.size, low=-30.0, high=120.0)
    assert plot["below"] and plot["above"]
    assert plot["edges"][0] == -30.0 and plot["edges"][-1] == 120.0
    assert plot["edges"][1] == 0.0 and plot["edges"][-2] == 99.0
    assert plot["current_counts"][0] == 2 and plot["current_counts"][-1] == 1
    assert plot["grid"][0] == -30.0 and plot["grid"][-1] == 120.0
    assert plot["current_cdf"][:2] == [0.0, 0.4] and plot["current_cdf"][-2:] == [0.8, 1.0]
    assert np.all(np.diff(plot["current_cdf"]) >= 0) and np.all(np.diff(plot["reference_cdf"]) >= 0)
    # extremes that are not beyond the reference's range are not ends: unknown
    plot = numeric_plot(model, bins, grid, current.size, low=5.0, high=float("nan"))
    assert plot["edges"][0] is None and plot["edges"][-1] is None
    # no current value outside: no overflow bar
    bins, grid, _ = model.count_bins(np.array([1.0, 2.0]))
    plot = numeric_plot(model, bins, grid, 2)
    assert not plot["below"] and not plot["above"]
    assert plot["edges"][0] == 0.0 and plot["edges"][-1] == 99.0
    assert len(plot["edges"]) == len(plot["current_counts"]) + 1 == 11  # the 10 bins


def test_new_categories_are_counted_once():
    rng = np.random.default_rng(2)
    reference = rng.choice(["a", "b", "c"], 3000)
    current = np.concatenate([rng.choice(["a", "b"], 600), np.array(["new"] * 400)])
    ref = fastmlops.DriftReference({"x": reference})
    plot = ref.check({"x": current}).to_dict()["columns"][0]["plot"]
    drawn = sum(plot["current_counts"]) + plot["other_count_current"] + plot["unseen_count"]
    assert plot["unseen_count"] == 400
    assert drawn == current.size  # each value in one bar
    from fastmlops.drift.categories import encode

    cm = ref.column_models[0].categories
    plot = categorical_plot(cm, cm.count(encode(current, "x")))
    assert plot["other_count_current"] == 0 and plot["unseen_count"] == 400


def test_every_reason_code_is_worded():
    for code in CODES:
        assert _html_report.REASONS.get(code), code
        assert _html_report._REASON_SHORT.get(code), code
    for code in ("chi2", "psi_minor", "binned"):
        assert code not in _html_report.REASONS[code]  # words, not the code again
    report = _report_with_reasons()
    page = render(report)
    for code in CODES:
        assert html_escape(_html_report.REASONS[code]) in page, code
    summary = page[page.index('class="summary"'):page.index('class="columns"')]
    assert "psi_minor" not in summary and "binned" not in summary
    assert "27 columns</b>: " in summary  # "N columns", not "N values moved"
    data = _page_data(page)
    words = {c["name"]: c["reason_words"] for c in data["columns"]}
    assert all(words[code] == _html_report.REASONS[code] for code in CODES)


def test_year_locations_keep_their_digits_in_the_data():
    plot = {"edges": [1979.5, 1979.75, 1980.0], "grid": [1979.5, 1979.75],
            "reference_counts": [1, 1], "current_counts": [1, 1],
            "reference_cdf": [0.0, 0.5], "current_cdf": [0.0, 0.5]}
    assert _html_report._plot(plot)["edges"] == [1979.5, 1979.75, 1980.0]
    close = {"edges": [1e6, 1e6 + 0.1, 1e6 + 0.2]}  # 6 digits would merge them
    assert len(set(_html_report._plot(close)["edges"])) == 3


def test_new_summary_fields_are_shown_when_present():
    report = _report_with_reasons()
    s = report["summary"]
    s["headline"] = "2 of 9 columns drifted (rule: any column after Holm); table verdict: DRIFT"
    s["table_rule"] = "holm"
    s["table_columns"] = ["ks", "psi"]
    s["missing_columns"] = ["gone_<b>"]
    s["extra_columns"] = ["surplus"]
    s["notes"] = {"ks": ["the asymptotic p-value is used"]}
    s["small_batch"] = {"text": "The batch is too small to see a shift.", "columns": ["ks"],
                        "power": 0.2, "n_needed": 400}
    report["columns"][0]["effect"] = {"text": "Mean +0.3 (0.0 -> 0.3).", "mean": 0.3}
    report["columns"][0]["power"] = 0.2
    page = render(report)
    summary = page[page.index('class="summary"'):page.index('class="columns"')]
    assert summary.index(s["headline"]) < summary.index("Columns")  # the first line
    assert '<div class="warning" role="note">' in summary
    assert "The batch is too small to see a shift." in summary
    assert "gone_&lt;b&gt;" in summary and "gone_<b>" not in summary
    assert "surplus" in summary and "the asymptotic p-value is used" in summary
    assert "any column drifts after Holm" in summary
    data = _page_data(page)
    assert data["columns"][0]["effect"] == "Mean +0.3 (0.0 -> 0.3)."
    assert data["columns"][0]["power"] == 0.2
    assert data["columns"][0]["notes"] == ["the asymptotic p-value is used"]
    # absent: nothing of it
    plain = render(_report_with_reasons())
    assert 'class="warning"' not in plain and "Not in the current data" not in plain


def html_escape(text: str) -> str:
    import html

    return html.escape(text)


def _page_data(page: str) -> dict:
    start = page.index('id="report-data">') + len('id="report-data">')
    return json.loads(page[start:page.index("</script>", start)])


def _column(name: str, reasons: list[str], kind: str = "numeric", verdict: str = "drift",
            plot: dict | None = None) -> dict:
    return {"name": name, "kind": kind, "verdict": verdict, "reasons": reasons,
            "explanation": "x", "n_reference": 100, "n_current": 50, "pvalue": 1e-5,
            "ks_statistic": 0.5 if kind == "numeric" else None, "ks_pvalue": 1e-5,
            "ks_location": 1.0, "ks_sign": 1, "chi2_statistic": 3.0, "chi2_pvalue": 0.1,
            "chi2_dof": 2, "psi": 0.3, "psi_tier": "major", "kl": 0.1, "jsd": 0.1,
            "nan_share": 0.0, "reference_nan_share": 0.0, "unseen": None, "other": False,
            "plot": plot}


def _report_with_reasons() -> dict:
    columns = [_column(code, [code]) for code in CODES]
    return {"format": "fastmlops.drift_report", "version": 1, "verdict": "drift",
            "summary": {"n_columns": len(columns), "n_drift": len(columns), "n_watch": 0,
                        "n_ok": 0, "share_drifted": 1.0, "drifted": True,
                        "reasons": {code: (27 if code == "psi" else 1) for code in CODES}},
            "sizes": {"reference_rows": 100, "current_rows": 50},
            "reference": {"digest": None, "n_rows": 100},
            "rule": {"alpha": 0.01, "correction": "none", "drift_share": None,
                     "psi_minor": 0.1, "psi_major": 0.25, "bins": 10, "text": "rule"},
            "columns": columns}


# ------------------------------------------------------------------- in a browser
@pytest.fixture(scope="module")
def browser():
    if chromium_path() is None:
        pytest.skip("no Chromium (apt install chromium)")
    with Browser() as b:
        yield b


def _pixels(png: bytes) -> np.ndarray:
    image = pytest.importorskip("PIL.Image")
    return np.asarray(image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _near(img: np.ndarray, rgb: tuple[int, int, int], tol: int = 40) -> np.ndarray:
    return (np.abs(img - np.array(rgb)).sum(axis=2) <= tol)


CUR_LINE = (213, 94, 0)


def _open_report(browser, tmp_path, report, name: str):
    path = tmp_path / name
    path.write_text(render(report.to_dict() if hasattr(report, "to_dict") else report),
                    encoding="utf-8")
    page = browser.open(path, ready=READY, height=1400)
    return page


def _open_column(page, j: int) -> None:
    page.evaluate(f"window.fastmlopsReport.open({j}, true)")
    assert page.evaluate(f"document.querySelectorAll('#d{j} .plots svg').length") >= 1


def _rect(page, selector: str) -> dict:
    return page.evaluate(f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                         ".getBoundingClientRect(); return {x: r.left + window.scrollX, "
                         "y: r.top + window.scrollY, width: r.width, height: r.height}; })()")


@pytest.mark.parametrize("case", ["above", "constant"])
def test_current_beyond_the_reference_is_drawn(browser, tmp_path, case):
    rng = np.random.default_rng(8)
    if case == "above":  # every current value above the reference's largest (macrodata cpi)
        reference = rng.normal(100.0, 5.0, size=(800, 1))
        current = reference[:400] + 60.0
    else:  # a constant reference against a current mostly above it
        reference = np.zeros((500, 1))
        current = _mostly_above_zero()[:, None]
    page = _open_report(browser, tmp_path, fastmlops.DriftReference(reference).check(current),
                        f"{case}.html")
    _open_column(page, 0)
    for nth in (1, 2):  # the histogram, then the ECDFs
        svg = f"#d0 .plots svg:nth-of-type({nth})"
        box = _rect(page, svg)
        edge = _rect(page, f"{svg} line.ref-range[data-side=high]")
        img = _pixels(page.screenshot(box))
        right = round(edge["x"] - box["x"]) + 3  # beyond the reference's largest value
        part = img[:, right:]  # vermillion, antialiased lines included
        beyond = (part[..., 0] > 150) & (part[..., 0] - part[..., 2] > 100) & (part[..., 1] < 170)
        assert beyond.sum() > 60, (case, nth, int(beyond.sum()))
        # and above the x axis over a real width, not a stray pixel column
        assert np.flatnonzero(beyond.any(axis=0)).size > 20, (case, nth)
    assert page.errors() == []


def test_year_ticks_and_gap_location_read_distinct(browser, tmp_path):
    reference = 1960 + np.arange(81) / 4  # 1960.0 .. 1980.0 by quarters
    current = 1960 + np.arange(80) / 4  # .. 1979.75: the gap is at 1979.75
    report = fastmlops.DriftReference({"year": reference}).check({"year": current})
    assert report.ks_location[0] == 1979.75
    page = _open_report(browser, tmp_path, report, "years.html")
    _open_column(page, 0)
    for nth in (1, 2):
        # the x axis' labels: the texts that are numbers (the y axis reads "10 %")
        ticks = page.evaluate(f"[...document.querySelectorAll('#d0 .plots svg:nth-of-type({nth}) "
                              "text')].map(t => t.textContent)"
                              ".filter(t => /^-?[0-9.]+$/.test(t))")
        assert len(ticks) >= 3 and len(set(ticks)) == len(ticks), ticks
        assert all(float(t) >= 1960 for t in ticks), ticks
    label = page.evaluate("[...document.querySelectorAll('#d0 .plots svg text')]"
                          ".map(t => t.textContent).filter(t => t.startsWith('D = '))")
    assert label and label[0].endswith(" at 1979.75"), label
    stats = page.evaluate("document.querySelector('#d0 .stats').textContent")
    assert "1979.75" in stats


def _texts_outside(page) -> list:
    return page.evaluate("""(() => {
      const out = [];
      document.querySelectorAll('.plots svg').forEach(svg => {
        const b = svg.getBoundingClientRect();
        svg.querySelectorAll('text').forEach(t => {
          const r = t.getBoundingClientRect();
          if (r.width && (r.left < b.left - 1 || r.right > b.right + 1 || r.top < b.top - 1
                          || r.bottom > b.bottom + 1)) out.push(t.textContent);
        });
      });
      return out; })()""")


def test_labels_stay_inside_their_pictures(browser, tmp_path):
    rng = np.random.default_rng(4)
    n = 3000
    reference = {"plan": rng.choice(["free", "pro"], n, p=[0.5, 0.5]),
                 "big": rng.normal(2e6, 1e5, n), "years": 1960 + np.arange(n) % 80 / 4}
    current = {"plan": np.array(["free"] * 1000), "big": rng.normal(2.3e6, 1e5, 1000),
               "years": 1962 + np.arange(1000) % 80 / 4}
    report = fastmlops.DriftReference(reference).check(current)
    page = _open_report(browser, tmp_path, report, "labels.html")
    for j in range(3):
        _open_column(page, j)
    assert page.evaluate("document.querySelectorAll('.plots svg').length") == 5
    assert _texts_outside(page) == []
    assert page.errors() == []


def test_the_demo_picture_of_every_column_draws(browser, tmp_path):
    from fastmlops.cli._demo import _demo_data

    reference, production = _demo_data(20_000, 7)
    report = fastmlops.DriftReference(reference).check(production)
    page = _open_report(browser, tmp_path, report, "demo.html")
    for j in range(len(report.columns)):
        _open_column(page, j)
    assert _texts_outside(page) == []
    assert page.errors() == []
    text = page.evaluate("document.body.innerText")
    for code in ("psi_minor", "binned"):
        assert code not in text


# ------------------------------------------------------------ the README's screenshot
def test_screenshot_script_writes_a_png(tmp_path):
    if chromium_path() is None:
        pytest.skip("no Chromium (apt install chromium)")
    out = tmp_path / "shot.png"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "drift_screenshot.py"),
                           "--rows", "20000", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    png = out.read_bytes()
    assert png.startswith(b"\x89PNG")
    img = _pixels(png)
    assert img.shape[1] >= 1000 and img.shape[0] >= 800
    assert _near(img, CUR_LINE).sum() > 500  # pictures drawn
