"""The drift report as one self-contained HTML file.

:func:`render` turns the report's stable JSON layout (``DriftReport.to_dict()``,
described in ``docs/drift-report-json.md``) into a page that needs nothing but
a browser: the CSS, the script and the data are inline, nothing is fetched (no
CDN, no web fonts), so the file works offline and as a CI artifact.

How it is built (see ``docs/html-report.md``):

* the page skeleton is a :class:`string.Template` (``_report_assets/report.html``);
  the summary and the table of columns are written here, escaped with
  :func:`html.escape`, so they read without JavaScript;
* the per-column pictures are plain inline SVG, drawn by a small script
  (``_report_assets/report.js``) from the plot data embedded as JSON, when a
  column is opened: a 1,000-column report opens without building 2,000 charts.

Only the standard library is used.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping
from importlib import resources
from string import Template
from typing import TYPE_CHECKING, Any

from fastmlops._core.documents import base_css, check_document, finite

if TYPE_CHECKING:
    import os

__all__ = ["render", "write"]

_FORMAT = "fastmlops.drift_report"
_VERSIONS = (1,)
_VERDICT_RANK = {"drift": 0, "watch": 1, "ok": 2}
#: Reason codes in words a non-statistician reads (summary and table).
#: Every code a column's ``reasons`` may hold (docs/drift-report-json.md).
REASONS = {
    "ks": "the shape of the distribution changed (KS test)",
    "chi2": "the shares of categories or ranges changed (chi-square test)",
    "psi": "a large share of values moved between the ranges of the reference (PSI above "
           "the major line)",
    "psi_minor": "a moderate share of values moved between the ranges of the reference (PSI "
                 "between the minor and major lines)",
    "binned": "a small but significant change in the shares of the ranges of the reference "
              "(chi-square test; PSI below the minor line)",
    "missing": "the share of missing values changed",
    "unseen": "categories never seen in the reference",
    "empty": "no values left (every value is missing)",
    "absent": "the column is not in the current data",
}
#: The same, in a word or two for the table's "Why" cells (the words above
#: are the cell's tooltip).
_REASON_SHORT = {"ks": "KS", "chi2": "χ²", "psi": "PSI major", "psi_minor": "PSI moderate",
                 "binned": "small shift", "missing": "missing", "unseen": "new categories",
                 "empty": "empty", "absent": "absent"}
#: How many of the worst columns open with their pictures drawn.
OPEN_ON_LOAD = 3
#: Rows the table shows before "show all" (sorting and filtering use every column).
PAGE_ROWS = 200


def _asset(name: str) -> str:
    return resources.files("fastmlops.drift").joinpath("_report_assets", name) \
        .read_text(encoding="utf-8")


# ------------------------------------------------------------------ numbers
_finite = finite


def _num(value: Any, digits: int = 3) -> str:
    """A statistic for a table cell: ``digits`` significant digits; "–" when
    absent, "n/a" for NaN, "∞" for infinity."""
    x = _finite(value)
    if x is None:
        if _is_nan(value):
            return "n/a"
        try:
            return ("-∞" if float(value) < 0 else "∞") if not isinstance(value, bool) \
                and value is not None else "–"
        except (TypeError, ValueError):
            return "–"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e3:
        return f"{x:.{digits}g}"
    if 1e3 <= abs(x) < 1e6:
        return f"{x:,.0f}"
    return f"{x:.{digits - 1}e}"


def _is_nan(value: Any) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _pct(value: Any, digits: int = 1) -> str:
    x = _finite(value)
    return "–" if x is None else f"{100 * x:.{digits}f} %"


def _int(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError, OverflowError):
        return "–"


def _json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as ``None`` (JSON has no NaN/inf)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _json_safe(value.tolist())
    return value


#: Surrogate code points: no UTF-8 for them (a lone one comes from undecodable
#: bytes read with ``surrogateescape``, or from JSON's ``"\\ud800"``).
_SURROGATE = re.compile("[\ud800-\udfff]")


def _script_json(value: Any) -> str:
    """JSON to embed in ``<script type="application/json">``: ``<``, ``>`` and
    ``&`` escaped so that no text in the data can end the element, and
    surrogates as JSON escapes (the strings stay exact, the page UTF-8)."""
    text = json.dumps(_json_safe(value), ensure_ascii=False, allow_nan=False,
                      separators=(",", ":"))
    text = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# ------------------------------------------------------------------ checks
def _check(report: object) -> None:
    doc = check_document(report, fmt=_FORMAT, versions=_VERSIONS,
                         keys=("verdict", "summary", "sizes", "reference", "rule", "columns"),
                         what="drift report", source="DriftReport.to_dict()")
    if not isinstance(doc["columns"], list):
        raise ValueError("drift report 'columns' must be a list")


def worst_first(columns: list[Mapping[str, Any]]) -> list[int]:
    """Column indices, worst first: verdict, then p-value (smallest first), then
    PSI (largest first), then reference order."""
    def key(j: int) -> tuple:
        c = columns[j]
        p = _finite(c.get("pvalue"))
        psi = _finite(c.get("psi"))
        return (_VERDICT_RANK.get(str(c.get("verdict")), 3), 2.0 if p is None else p,
                -(psi if psi is not None else -1.0), j)
    return sorted(range(len(columns)), key=key)


# ------------------------------------------------------------------ summary
def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


_ADVICE = {"drift": "Look at the columns below before retraining: drift is a lead, not "
                    "proof that the model got worse.",
           "watch": "Nothing that marks the table as drifted; the columns below are worth "
                    "a look.",
           "ok": "The current data looks like the reference."}


def _headline(report: Mapping[str, Any]) -> str:
    """The summary's first line: the report's own ``summary.headline`` when it
    has one (then the advice for its verdict), else one written here."""
    s, rule = report["summary"], report["rule"]
    given = s.get("headline")
    if isinstance(given, str) and given:
        return given
    n, n_drift, n_watch = int(s["n_columns"]), int(s["n_drift"]), int(s["n_watch"])
    share = _finite(rule.get("drift_share"))
    verdict = report["verdict"]
    if verdict == "drift":
        marks = ("at or above the " + f"{100 * share:g} %" + " share that marks the whole "
                 "table as drifted" if share is not None else
                 "and the table drifts when any column drifts after Holm's correction")
        return (f"{n_drift:,} of {_plural(n, 'column')} drifted "
                f"({_pct(s.get('share_drifted'), 0)}), {marks}. " + _ADVICE["drift"])
    if verdict == "watch":
        parts = []
        if n_drift:
            parts.append(f"{n_drift:,} of {_plural(n, 'column')} drifted, " + (
                f"below the {100 * share:g} % share that marks the table as drifted"
                if share is not None else "none of them after Holm's correction across "
                "the table"))
        if n_watch:
            parts.append(f"{_plural(n_watch, 'column')} changed a little (worth watching)")
        return "; ".join(parts) + "."
    return (f"None of the {_plural(n, 'column')} changed beyond the rule's thresholds: "
            "the current data looks like the reference.")


def _reasons_html(report: Mapping[str, Any]) -> str:
    counts = report["summary"].get("reasons") or {}
    items = [f"<li><b>{_plural(int(k), 'column')}</b>: "
             f"{html.escape(REASONS.get(str(code), str(code)))}</li>"
             for code, k in counts.items()
             if isinstance(k, int) and not isinstance(k, bool) and k > 0]
    if not items:
        return ""
    return ("<p class=\"why-title\">Why, in columns with verdict drift or watch "
            "(a column can have several reasons):</p><ul class=\"why\">"
            + "".join(items) + "</ul>")


def _summary_html(report: Mapping[str, Any]) -> str:
    verdict = str(report["verdict"])
    s, sizes, ref, rule = report["summary"], report["sizes"], report["reference"], \
        report["rule"]
    digest = ref.get("digest")
    digest_html = (f"<code title=\"{html.escape(str(digest))}\">"
                   f"{html.escape(str(digest)[:23])}…</code>" if digest
                   else "<span class=\"muted\">none (an unsaved reference)</span>")
    counts = (f"<span class=\"pill drift\">{int(s['n_drift']):,} drift</span> "
              f"<span class=\"pill watch\">{int(s['n_watch']):,} watch</span> "
              f"<span class=\"pill ok\">{int(s['n_ok']):,} ok</span>")
    given = isinstance(s.get("headline"), str) and bool(s.get("headline"))
    advice = (f"<p class=\"advice\">{html.escape(_ADVICE.get(verdict, ''))}</p>"
              if given else "")
    return f"""
<section class="summary" aria-label="Summary">
  <div class="verdict-line">
    <span class="badge {html.escape(verdict)}">{_ICON.get(verdict, '')} {html.escape(verdict.upper())}</span>
    <div><p class="headline">{html.escape(_headline(report))}</p>{advice}</div>
  </div>
  {_small_batch_html(s.get("small_batch"))}
  <div class="facts">
    <div><span class="k">Columns</span> {counts}</div>
    <div><span class="k">Reference</span> {_int(sizes.get('reference_rows'))} rows,
      digest {digest_html}</div>
    <div><span class="k">Current</span> {_int(sizes.get('current_rows'))} rows</div>
  </div>
  {_table_rule_html(s)}
  {_names_html(s.get("missing_columns"), "warn", "Not in the current data",
               "reference columns the current data lacks (verdict drift, reason absent)")}
  {_names_html(s.get("extra_columns"), "", "Not checked",
               "current columns the reference does not have")}
  {_reasons_html(report)}
  {_notes_html(s.get("notes"))}
  <details class="rule">
    <summary>The rule used (α = {html.escape(_num(rule.get('alpha')))},
      correction {html.escape(str(rule.get('correction', 'none')))},
      {_table_rule_short(rule)})</summary>
    <p>{html.escape(str(rule.get('text', '')))}</p>
    {_GLOSSARY.substitute(psi_minor=_num(rule.get('psi_minor')),
                          psi_major=_num(rule.get('psi_major')),
                          alpha=_num(rule.get('alpha')),
                          bins=_int(rule.get('bins')))}
  </details>
</section>"""


_ICON = {"drift": "▲", "watch": "●", "ok": "✓"}
#: Names listed in the summary before "and N more".
SHOW_NAMES = 20
_TABLE_RULES = {
    "holm": "the table drifts when any column drifts after Holm's correction across its "
            "columns",
    "share": "the table drifts when the share of drifted columns reaches the rule's share",
}


def _names(names: list[Any]) -> str:
    shown = ", ".join(f"<code>{html.escape(str(n))}</code>" for n in names[:SHOW_NAMES])
    more = len(names) - SHOW_NAMES
    return shown + (f" and {more:,} more" if more > 0 else "")


def _names_html(names: Any, css: str, title: str, what: str) -> str:
    """A line listing column ``names`` (nothing when there is none)."""
    if not isinstance(names, list) or not names:
        return ""
    return (f"<p class=\"names {css}\"><span class=\"k\">{html.escape(title)}</span> "
            f"{_plural(len(names), 'column')} ({html.escape(what)}): {_names(names)}</p>")


def _table_rule_html(s: Mapping[str, Any]) -> str:
    rule, cols = s.get("table_rule"), s.get("table_columns")
    if rule not in _TABLE_RULES and not isinstance(cols, list):
        return ""
    text = f"<span class=\"k\">Table rule</span> {html.escape(_TABLE_RULES.get(str(rule), ''))}"
    if isinstance(cols, list):
        text += ("; the columns that make the table drift: " + _names(cols) if cols else
                 "; no column makes the table drift")
    return f"<p class=\"names\">{text}.</p>"


def _table_rule_short(rule: Mapping[str, Any]) -> str:
    share = _finite(rule.get("drift_share"))
    if share is None:
        return "table drifts when any column drifts after Holm's correction"
    return f"table drifts at {_pct(share, 0)} of columns"


def _small_batch_html(small: Any) -> str:
    """The warning of ``summary.small_batch`` (nothing when it is null)."""
    if not isinstance(small, Mapping) or not isinstance(small.get("text"), str):
        return ""
    return (f"<div class=\"warning\" role=\"note\"><b>Small batch.</b> "
            f"{html.escape(small['text'])}</div>")


def _notes_html(notes: Any) -> str:
    """``summary.notes``: how some columns' figures were computed."""
    if not isinstance(notes, Mapping) or not notes:
        return ""
    items = []
    for name, texts in list(notes.items())[:SHOW_NAMES]:
        lines = texts if isinstance(texts, list) else [texts]
        items.append(f"<li><code>{html.escape(str(name))}</code>: "
                     + "; ".join(html.escape(str(t)) for t in lines) + "</li>")
    more = len(notes) - SHOW_NAMES
    tail = f"<li>and {more:,} more columns</li>" if more > 0 else ""
    return ("<details class=\"notes\"><summary>Notes on how "
            f"{_plural(len(notes), 'column')}' figures were computed</summary><ul>"
            + "".join(items) + tail + "</ul></details>")

_GLOSSARY = Template("""
    <dl class="glossary">
      <dt>p-value</dt><dd>How likely a difference at least this large would be if
        nothing had changed. Below α = $alpha the difference is called drift: with
        α = 0.01, about 1 unchanged column in 100 is flagged by chance.</dd>
      <dt>KS distance (D)</dt><dd>The largest gap between the two cumulative
        curves (right-hand picture of a numeric column): D = 0.2 means that below
        some value lie 20 percentage points more of one sample than of the other.</dd>
      <dt>PSI (population stability index)</dt><dd>How far values moved between
        the reference's $bins ranges and the two beyond it (below its smallest and
        above its largest value, where the reference has none, so values that left
        its range always count). Below $psi_minor: little change; $psi_minor to
        $psi_major: a moderate shift worth watching; above $psi_major: a major shift.
        PSI 0.3 is about what you get when a range that held 10 % of the reference
        values holds 30 % of the current ones.</dd>
      <dt>χ² (chi-square) test</dt><dd>Compares the counts per range or category;
        its p-value reads like the KS test's.</dd>
      <dt>Missing</dt><dd>The share of values that are missing (NaN or null) now,
        against the reference's.</dd>
    </dl>""")


# ------------------------------------------------------------------- table
#: The table's headings: (sort key, label); the rows are built by the script
#: from the embedded data (a 1,000-row table written as HTML takes the browser
#: longer to lay out than the issue's 2 s allow on a busy machine).
_HEAD = [("name", "Column"), ("kind", "Kind"), ("verdict", "Verdict"), ("reasons", "Why"),
         ("pvalue", "p-value"), ("ks", "KS D"), ("psi", "PSI"), ("missing", "Missing now"),
         ("rows", "Values (ref / cur)")]


def _table_head() -> str:
    return "".join(
        f"<th scope=\"col\" data-key=\"{key}\" aria-sort=\"none\"><button type=\"button\">"
        f"{html.escape(label)}<span class=\"arrow\" aria-hidden=\"true\"></span></button></th>"
        for key, label in _HEAD)


def _rounded(values: Any, digits: int) -> Any:
    """Plot coordinates to ``digits`` significant digits of the array's largest
    magnitude (a picture needs about three; six keep ties apart), more where
    that would merge distinct values (edges 0.1 apart at 1e6 stay apart), as
    a list with ``None`` for non-finite values: a smaller file that opens
    faster."""
    import numpy as np

    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return values
    if a.ndim != 1:
        return values
    finite = np.isfinite(a)
    if not finite.any():
        return [None] * a.size
    top = float(np.max(np.abs(a[finite])))
    decimals = digits - 1 - (int(np.floor(np.log10(top))) if top > 0 else 0)
    distinct = np.unique(a[finite]).size
    while True:
        rounded = np.round(a, max(-300, min(300, decimals)))
        if np.unique(rounded[finite]).size == distinct or decimals >= 340:
            break
        decimals += 1
    out = rounded.tolist()
    return [v if ok else None for v, ok in zip(out, finite.tolist())]


_FLOAT_PLOT_KEYS = {"edges": 6, "grid": 6, "reference_cdf": 5, "current_cdf": 5}


def _plot(plot: object) -> dict[str, Any] | None:
    if not isinstance(plot, Mapping):
        return None
    return {k: _rounded(v, _FLOAT_PLOT_KEYS[k]) if k in _FLOAT_PLOT_KEYS else v
            for k, v in plot.items()}


def _plot_data(columns: list[Mapping[str, Any]], notes: object = None) -> list[dict[str, Any]]:
    """What the script needs per column (by index), for drawing and sorting."""
    keep = ("name", "kind", "verdict", "explanation", "pvalue", "ks_statistic", "ks_pvalue",
            "ks_location", "ks_sign", "chi2_statistic", "chi2_pvalue", "chi2_dof", "psi",
            "psi_tier", "kl", "jsd", "nan_share", "reference_nan_share", "n_reference",
            "n_current", "unseen", "other", "power")
    out = []
    notes = notes if isinstance(notes, Mapping) else {}
    for c in columns:
        d = {k: c.get(k) for k in keep}
        d["name"] = str(d["name"])
        d["plot"] = _plot(c.get("plot"))
        codes = [str(r) for r in c.get("reasons") or []]
        d["reasons"] = ", ".join(_REASON_SHORT.get(r, r) for r in codes)
        d["reason_words"] = "; ".join(REASONS.get(r, r) for r in codes)
        effect = c.get("effect")
        d["effect"] = str(effect["text"]) if isinstance(effect, Mapping) \
            and isinstance(effect.get("text"), str) else None
        got = notes.get(d["name"])
        d["notes"] = [str(t) for t in got] if isinstance(got, list) else None
        out.append(d)
    return out


# ------------------------------------------------------------------- entry
def render(report: Mapping[str, Any], *, title: str | None = None) -> str:
    """The HTML page of a drift report.

    Parameters
    ----------
    report : dict
        ``DriftReport.to_dict()``: the layout of ``docs/drift-report-json.md``
        (version 1); non-finite floats may be Python floats or ``None``.
    title : str, optional
        The page title (default: "Drift report").

    Returns
    -------
    str
        One self-contained HTML document (UTF-8 text): no external resource.

    Examples
    --------
    >>> from fastmlops.drift._html_report import render
    >>> page = render({"format": "fastmlops.drift_report", "version": 1, "verdict": "ok",
    ...     "summary": {"n_columns": 0, "n_drift": 0, "n_watch": 0, "n_ok": 0,
    ...                 "share_drifted": 0.0, "drifted": False, "reasons": {}},
    ...     "sizes": {"reference_rows": 10, "current_rows": 5},
    ...     "reference": {"digest": None, "n_rows": 10},
    ...     "rule": {"alpha": 0.01, "drift_share": 0.5, "text": "..."}, "columns": []})
    >>> page.startswith("<!DOCTYPE html>") and " src=" not in page and " href=" not in page
    True
    """
    _check(report)
    columns = list(report["columns"])
    order = worst_first(columns)
    title = title or "Drift report"
    page = Template(_asset("report.html")).substitute(
        title=html.escape(title),
        css=base_css() + _asset("report.css"),
        js=_asset("report.js"),
        summary=_summary_html(report),
        n_columns=f"{len(columns):,}",
        head=_table_head(),
        data=_script_json({"columns": _plot_data(columns, report["summary"].get("notes")),
                           "order": order,
                           "open": [j for j in order[:OPEN_ON_LOAD]
                                    if columns[j].get("verdict") != "ok"],
                           "page": PAGE_ROWS}),
        version=html.escape(str(report.get("version"))),
    )
    # text outside the data (title, digest, rule): a surrogate, which has no
    # UTF-8, shows as U+FFFD, so the page can always be written
    return _SURROGATE.sub("\ufffd", page)


def write(report: Mapping[str, Any], path: str | os.PathLike[str], *,
          title: str | None = None) -> None:
    """Write :func:`render`'s page to ``path`` (UTF-8)."""
    import os

    text = render(report, title=title)
    with open(os.fspath(path), "w", encoding="utf-8") as f:
        f.write(text)
