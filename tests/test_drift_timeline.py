"""Drift over time (issue #24 item 6): ``DriftReference.check_over_time``.

The promise tested first: every chunk's report is exactly ``ref.check`` of
the chunk's rows (the same KS statistics and p-values, bit for bit, and the
same verdicts), whatever the batches, the order of the rows and the source
(in memory, an iterator, a Parquet file streamed in batches).
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

import fastmlops
from fastmlops.drift import DriftTimeline, _stream
from fastmlops.drift._html_timeline import render
from fastmlops.drift._timeline_axis import parse_every

from ._browser import Browser, chromium_path

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

DAY = np.timedelta64(1, "D")
START = np.datetime64("2026-03-01T00:00:00", "ns")


def _reference(seed: int = 0, n: int = 3000) -> fastmlops.DriftReference:
    rng = np.random.default_rng(seed)
    return fastmlops.DriftReference({
        "x": rng.normal(size=n), "k": rng.integers(0, 50, size=n).astype(np.float64),
        "c": rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])})


def _current(seed: int = 1, days: int = 5, per_day: int = 800, shuffle: bool = True):
    """A DataFrame over ``days`` days: x shifts on day 3, c changes on day 4,
    a few NaNs; rows shuffled unless asked."""
    rng = np.random.default_rng(seed)
    n = days * per_day
    day = np.repeat(np.arange(days), per_day)
    x = rng.normal(size=n) + np.where(day == 3, 0.8, 0.0)
    x[rng.random(n) < 0.01] = np.nan
    k = rng.integers(0, 50, size=n).astype(np.float64)
    c = np.where(day == 4, rng.choice(["a", "b", "c", "d"], size=n),
                 rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2]))
    ts = START + day * DAY + rng.integers(0, 86_400, size=n) * np.timedelta64(1, "s")
    df = pd.DataFrame({"x": x, "k": k, "c": c, "ts": ts})
    if shuffle:
        df = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return df


def _same(got, want) -> None:
    """Two reports are the same: every figure bit for bit, every verdict."""
    for name in ("ks_statistic", "ks_pvalue", "pvalue", "psi", "kl", "jsd", "chi2_statistic",
                 "chi2_pvalue", "nan_share", "ks_location", "ks_sign", "n_current"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    assert got.column_verdict == want.column_verdict
    assert got.reasons == want.reasons and got.verdict == want.verdict
    assert got.n_rows == want.n_rows
    assert got.to_dict() == want.to_dict()


def _by_day(df, chunk):
    lo = np.datetime64(chunk.start.replace(tzinfo=None), "ns")
    hi = np.datetime64(chunk.end.replace(tzinfo=None), "ns")
    ts = df["ts"].to_numpy()
    return df[(ts >= lo) & (ts < hi)].drop(columns="ts")


# ------------------------------------------------------------------ exact per chunk
@pytest.mark.parametrize("in_order", [False, True])
def test_each_day_is_exactly_the_check_of_its_rows(in_order):
    ref = _reference()
    df = _current(shuffle=not in_order)
    if in_order:
        df = df.sort_values("ts", kind="stable").reset_index(drop=True)
    tl = ref.check_over_time(df, by="ts", every="1d", in_order=in_order)
    assert isinstance(tl, DriftTimeline) and tl.axis == "time" and tl.every == "1d"
    assert [c.label for c in tl.chunks] == [f"2026-03-0{d}" for d in range(1, 6)]
    assert [c.rows for c in tl.chunks] == [800] * 5
    for chunk in tl.chunks:
        _same(chunk.report, ref.check(_by_day(df, chunk)))
    verdicts = [c.report.column_verdict for c in tl.chunks]
    assert verdicts[3][0] == "drift" and verdicts[4][2] == "drift"
    assert tl.verdict == "drift"
    assert tl.chunks[0].start == dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    assert tl.chunks[0].end == dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)


def test_batches_split_anywhere_give_the_same_chunks():
    """An iterator of Arrow batches of odd sizes, rows shuffled: each bucket's
    rows arrive in many pieces, and the reports do not change."""
    ref = _reference()
    df = _current(seed=3)
    table = pa.Table.from_pandas(df, preserve_index=False)
    whole = ref.check_over_time(df, by="ts", every="1d")
    sizes = [1, 999, 37, 1500, 463]
    batches, at = [], 0
    while at < table.num_rows:
        step = sizes[len(batches) % len(sizes)]
        batches.append(table.slice(at, step).to_batches()[0])
        at += step
    streamed = ref.check_over_time(iter(batches), by="ts", every="1d")
    assert [c.label for c in streamed.chunks] == [c.label for c in whole.chunks]
    for a, b in zip(streamed.chunks, whole.chunks):
        _same(a.report, b.report)


def test_chunk_rows_are_consecutive_rows_of_an_array():
    ref = fastmlops.DriftReference(np.random.default_rng(0).normal(size=(2000, 3)))
    cur = np.random.default_rng(1).normal(size=(2350, 3))
    cur[1200:, 1] += 0.5
    seen = []
    tl = ref.check_over_time(cur, chunk_rows=500, progress=lambda d, t: seen.append((d, t)))
    assert [(c.start, c.end, c.rows) for c in tl.chunks] == [
        (0, 500, 500), (500, 1000, 500), (1000, 1500, 500), (1500, 2000, 500),
        (2000, 2350, 350)]
    assert tl.chunks[-1].label == "rows 2000-2349" and tl.axis == "rows"
    for c in tl.chunks:
        _same(c.report, ref.check(cur[c.start:c.end]))
    assert seen[-1] == (2350, 2350)
    # batches cut across the chunks: the same reports
    parts = [pd.DataFrame(cur[a:a + 333], columns=["0", "1", "2"]) for a in range(0, 2350, 333)]
    again = ref.check_over_time(iter(parts), chunk_rows=500)
    for a, b in zip(again.chunks, tl.chunks):
        _same(a.report, b.report)


def test_streamed_parquet_file_in_row_groups(tmp_path, monkeypatch):
    """A Parquet file of several row groups, larger than one batch, read in
    batches (smaller here, for speed): the same as checking each day in memory."""
    monkeypatch.setattr(_stream, "BATCH_ROWS", 1500)
    ref = _reference()
    df = _current(seed=5, days=4, per_day=2000, shuffle=False)
    path = tmp_path / "cur.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=2500)
    assert pq.ParquetFile(path).metadata.num_row_groups == 4
    seen = []
    tl = ref.check_over_time(str(path), by="ts", every="1d", in_order=True,
                             progress=lambda d, t: seen.append((d, t)))
    assert len(seen) >= 6 and seen[-1] == (8000, 8000)  # batch by batch
    assert [c.rows for c in tl.chunks] == [2000] * 4
    for chunk in tl.chunks:
        _same(chunk.report, ref.check(_by_day(df, chunk)))
    rows = ref.check_over_time(path, chunk_rows=3000)
    for c in rows.chunks:
        _same(c.report, ref.check(df.iloc[c.start:c.end]))  # ts: an extra column here


def test_out_of_order_rows_are_refused_in_order():
    ref = _reference()
    df = _current(seed=2)  # shuffled
    with pytest.raises(ValueError, match="not in order of 'ts'.*--in-order"):
        ref.check_over_time(df, by="ts", every="1d", in_order=True)


def test_by_column_of_the_reference_is_left_out():
    rng = np.random.default_rng(0)
    ts_ref = START + rng.integers(0, 10, 3000) * DAY
    data = {"x": rng.normal(size=3000), "ts": ts_ref}
    with_ts = fastmlops.DriftReference(data)
    without = fastmlops.DriftReference({"x": data["x"]})
    cur = _current(seed=4)[["x", "ts"]]
    a = with_ts.check_over_time(cur, by="ts", every="2d")
    b = without.check_over_time(cur, by="ts", every="2d")
    assert a.columns == ["x"] and len(a) == len(b) == 3
    for ca, cb in zip(a.chunks, b.chunks):
        _same(ca.report, cb.report)
    with pytest.raises(ValueError, match="only column is the by column"):
        fastmlops.DriftReference({"ts": ts_ref}).check_over_time(cur, by="ts", every="1d")


# ------------------------------------------------------------------ the by column
def test_time_columns_of_every_kind():
    ref = fastmlops.DriftReference({"x": np.random.default_rng(0).normal(size=500)})
    x = np.random.default_rng(1).normal(size=6)
    naive = np.array(["2026-01-01T10:00", "2026-01-01T10:59", "2026-01-01T11:00",
                      "2026-01-01T12:30", "2026-01-01T12:00", "2026-01-01T10:30"],
                     dtype="datetime64[ns]")
    want = ["2026-01-01T10:00Z", "2026-01-01T11:00Z", "2026-01-01T12:00Z"]
    rows = [3, 1, 2]
    forms = {
        "numpy": {"x": x, "t": naive},
        "arrow us": pa.table({"x": x, "t": pa.array(naive.astype("datetime64[us]"))}),
        # the same instants at UTC+2: bucketed by their UTC instant
        "pandas tz": pd.DataFrame({"x": x, "t": pd.DatetimeIndex(naive).tz_localize("UTC")
                                   .tz_convert("Etc/GMT-2")}),
        "arrow tz": pa.table({"x": x, "t": pa.array(naive.astype("datetime64[ms]"))
                              .cast(pa.timestamp("ms", tz="Asia/Tokyo"))}),
    }
    for name, cur in forms.items():
        tl = ref.check_over_time(cur, by="t", every="1h")
        assert [c.label for c in tl.chunks] == want, name
        assert [c.rows for c in tl.chunks] == rows, name
    dates = pa.table({"x": x, "d": pa.array([dt.date(2026, 1, d) for d in (1, 2, 2, 3, 9, 8)],
                                            pa.date32())})
    tl = ref.check_over_time(dates, by="d", every="7d")  # epoch weeks start on Thursdays
    assert [c.label for c in tl.chunks] == ["2026-01-01", "2026-01-08"]
    assert [c.rows for c in tl.chunks] == [4, 2]


def test_iso_text_and_hive_partition_keys(tmp_path):
    """ISO 8601 text is read as times (naive as UTC, zoned by its instant):
    CSV columns and hive partition keys (``day=2026-03-01/``) come as text."""
    ref = fastmlops.DriftReference({"x": np.random.default_rng(0).normal(size=500)})
    x = np.arange(4.0)
    tl = ref.check_over_time({"x": x[:3], "t": ["2026-03-01", "2026-03-01 23:59",
                                                "2026-03-02T00:00"]}, by="t", every="1d")
    assert [(c.label, c.rows) for c in tl.chunks] == [("2026-03-01", 2), ("2026-03-02", 1)]
    zoned = pd.DataFrame({"x": x[:2], "t": ["2026-03-01T23:30:00-01:00",
                                            "2026-03-01T23:30:00Z"]})
    tl = ref.check_over_time(zoned, by="t", every="1d")
    assert [(c.label, c.rows) for c in tl.chunks] == [("2026-03-01", 1), ("2026-03-02", 1)]
    rng = np.random.default_rng(1)
    for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
        (tmp_path / f"day={day}").mkdir()
        pq.write_table(pa.table({"x": rng.normal(size=200)}),
                       tmp_path / f"day={day}" / "part.parquet")
    tl = ref.check_over_time(tmp_path, by="day", every="1d", in_order=True)
    assert [(c.label, c.rows) for c in tl.chunks] == [
        ("2026-03-01", 200), ("2026-03-02", 200), ("2026-03-03", 200)]
    assert tl.extra_columns == []
    part = pq.read_table(tmp_path / "day=2026-03-02" / "part.parquet")
    _same(tl.chunks[1].report, ref.check(part))


def test_empty_columns_and_categorical_only_references():
    """A day whose numeric column is all missing, and a reference without
    numeric columns (no second pass): still the reports of a check."""
    ref = _reference()
    df = _current(days=3, per_day=300)
    df.loc[df["ts"] < START + DAY, "x"] = np.nan
    tl = ref.check_over_time(df, by="ts", every="1d")
    assert "empty" in tl.chunks[0].report.reasons[0]
    for chunk in tl.chunks:
        _same(chunk.report, ref.check(_by_day(df, chunk)))
    cats = fastmlops.DriftReference({"c": ["a", "b", "c"] * 100})
    tl = cats.check_over_time(df, by="ts", every="1d")
    for chunk in tl.chunks:
        _same(chunk.report, cats.check(_by_day(df, chunk)))


def test_numeric_by_column_with_numeric_every():
    ref = fastmlops.DriftReference({"x": np.arange(100.0)})
    cur = {"x": np.arange(30.0), "step": np.arange(30) + 5}
    tl = ref.check_over_time(cur, by="step", every=10)
    assert [c.label for c in tl.chunks] == ["[0, 10)", "[10, 20)", "[20, 30)", "[30, 40)"]
    assert [c.rows for c in tl.chunks] == [5, 10, 10, 5]
    assert tl.to_dict()["chunks"][1]["start"] == 10


def test_parse_every():
    assert parse_every("1d").width == 86_400 * 10**9
    assert [parse_every(s).text for s in ("30m", "1h", "24h", "7d", "2w", "90s", "1.5h")] == \
        ["30m", "1h", "1d", "7d", "14d", "90s", "90m"]
    assert parse_every(dt.timedelta(hours=6)).text == "6h"
    assert parse_every(np.timedelta64(2, "D")).text == "2d"
    assert parse_every(pd.Timedelta("15min")).text == "15m"
    assert parse_every("100").kind == "number" and parse_every("0.5").width == 0.5
    for bad in ("", "1 day", "d", "1y", "1.5", "0d", "0.5s", -1, 0, float("nan"), True):
        with pytest.raises((ValueError, TypeError)):
            ax = parse_every(bad)
            if bad == "1.5":  # a number is fine for numeric columns
                raise ValueError(ax)
    with pytest.raises(ValueError, match="not a duration.*'1d'"):
        parse_every("1 fortnight")


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kwargs, error, match", [
    ({"by": "nope", "every": "1d"}, ValueError, "no by column 'nope'"),
    ({"by": "c", "every": "1d"}, TypeError, "by column 'c' holds text that is not ISO 8601"),
    ({"by": "ts", "every": "soon"}, ValueError, "not a duration"),
    ({"by": "ts", "every": 5}, ValueError, "is a number but by column 'ts' holds times"),
    ({"by": "k", "every": "1d"}, ValueError, "is a duration but by column 'k' holds numbers"),
    ({"by": "ts"}, ValueError, "by='ts' needs every"),
    ({"every": "1d"}, ValueError, "needs by"),
    ({"by": "ts", "every": "1d", "chunk_rows": 10}, ValueError, "not both"),
    ({"by": "ts", "chunk_rows": 10}, ValueError, "chunk_rows"),
    ({}, ValueError, "give every .* or chunk_rows"),
    ({"chunk_rows": 0}, ValueError, "positive integer"),
    ({"chunk_rows": 2.5}, ValueError, "positive integer"),
])
def test_bad_options_say_what_to_do(kwargs, error, match):
    ref = fastmlops.DriftReference({"x": np.arange(50.0)})
    df = _current(days=2, per_day=20)
    with pytest.raises(error, match=match):
        ref.check_over_time(df[["x", "k", "c", "ts"]], **kwargs)


def test_missing_times_and_empty_data_are_refused():
    ref = fastmlops.DriftReference({"x": np.arange(50.0)})
    df = _current(days=2, per_day=20)
    df.loc[3, "ts"] = pd.NaT
    with pytest.raises(ValueError, match="1 missing value.*every row needs a time"):
        ref.check_over_time(df, by="ts", every="1d")
    with pytest.raises(ValueError, match="no rows"):
        ref.check_over_time(df.iloc[:0], by="ts", every="1d")
    with pytest.raises(ValueError, match="no rows"):
        ref.check_over_time(iter([]), chunk_rows=5)
    with pytest.raises(TypeError, match="needs named columns"):
        ref.check_over_time(np.zeros((5, 1)), by="ts", every="1d")


# ------------------------------------------------------------------ layouts
def test_json_layout_and_text():
    ref = _reference()
    df = _current(days=3, per_day=400).rename(columns={"c": "c|*x*"})
    ref = fastmlops.DriftReference({"x": np.random.default_rng(0).normal(size=3000),
                                    "k": np.random.default_rng(1).integers(0, 50, 3000)
                                    .astype(float), "c|*x*": ["a", "b", "c"] * 1000})
    tl = ref.check_over_time(df, by="ts", every="1d")
    d = json.loads(tl.to_json())
    assert d["format"] == "fastmlops.drift_timeline" and d["version"] == 1
    assert d["axis"] == {"kind": "time", "by": "ts", "every": "1d",
                         "origin": "1970-01-01T00:00:00Z"}
    assert d["summary"]["n_chunks"] == 3 and d["summary"]["current_rows"] == 1200
    assert d["verdict"] == tl.verdict
    assert [c["name"] for c in d["columns"]] == ["x", "k", "c|*x*"]
    first = d["chunks"][0]
    assert first["start"] == "2026-03-01T00:00:00Z" and first["end"] == "2026-03-02T00:00:00Z"
    assert set(first["columns"][0]) == {"verdict", "reasons", "pvalue", "ks_statistic",
                                        "ks_pvalue", "chi2_pvalue", "psi", "nan_share",
                                        "n_current"}
    assert first["columns"][0]["ks_pvalue"] == float(tl.chunks[0].report.ks_pvalue[0])
    assert first["columns"][2]["ks_statistic"] is None  # categorical
    assert "report" not in first
    full = tl.to_dict(reports=True)
    assert full["chunks"][1]["report"] == tl.chunks[1].report.to_dict()
    md = tl.format(markdown=True)
    assert "c\\|\\*x\\*" in md and "c|*x*" not in md
    assert md.splitlines()[0].startswith("| chunk | rows | verdict |")
    assert f"timeline verdict: {tl.verdict.upper()}" in tl.format()


def test_long_table():
    ref = fastmlops.DriftReference({"x": np.arange(100.0), "c": ["a", "b"] * 50})
    tl = ref.check_over_time({"x": np.arange(30.0), "c": ["a", "b", "b"] * 10}, chunk_rows=10)
    frame = tl.to_pandas()
    assert frame.shape[0] == 6 and list(frame.index[:2]) == [("rows 0-9", "x"),
                                                            ("rows 0-9", "c")]
    assert frame.loc[("rows 10-19", "x"), "ks_pvalue"] == tl.chunks[1].report.ks_pvalue[0]
    assert frame.loc[("rows 20-29", "c"), "rows"] == 10


def test_verdict_is_the_worst_chunk():
    ref = fastmlops.DriftReference({"x": np.random.default_rng(0).normal(size=2000)})
    cur = np.random.default_rng(1).normal(size=3000)
    cur[2000:] += 2.0
    tl = ref.check_over_time({"x": cur}, chunk_rows=1000)
    assert [c.report.verdict for c in tl.chunks] == ["ok", "ok", "drift"]
    assert tl.verdict == "drift" and tl.worst().label == "rows 2000-2999"


# ------------------------------------------------------------------ HTML
def test_html_renders_offline_one_chart_per_column():
    tl = _reference().check_over_time(_current(days=4, per_day=300), by="ts", every="1d")
    page = tl.to_html()
    assert page.count('<svg class="chart"') == 3
    assert " src=" not in page and " href=" not in page and "<script" not in page
    with pytest.raises(ValueError, match="not a drift timeline"):
        render({"format": "fastmlops.drift_report", "version": 1})


def test_html_in_a_browser(tmp_path):
    if chromium_path() is None:
        pytest.skip("no Chromium (apt install chromium)")
    ref = _reference()
    tl = ref.check_over_time(_current(days=5, per_day=300), by="ts", every="1d")
    path = tmp_path / "timeline.html"
    tl.to_html(path)
    with Browser() as browser:
        page = browser.open(path)
        page.settle()
        assert page.errors() == []
        assert page.external_requests() == []
        charts = page.evaluate("Array.from(document.querySelectorAll('svg.chart'))"
                               ".map(s => s.querySelectorAll('.pt').length)")
        assert charts == [5, 5, 5]
        drawn = page.evaluate("Array.from(document.querySelectorAll('svg.chart'))"
                              ".map(s => s.getBoundingClientRect().width > 100)")
        assert drawn == [True, True, True]
        n_drift = page.evaluate("document.querySelectorAll('svg.chart .pt.drift').length")
    want = sum(v == "drift" for c in tl.chunks for v in c.report.column_verdict)
    assert n_drift == want > 0


def test_dask_dataframe_is_read_partition_by_partition():
    dd = pytest.importorskip("dask.dataframe")
    ref = _reference()
    df = _current(days=3, per_day=300)
    tl = ref.check_over_time(dd.from_pandas(df, npartitions=4), by="ts", every="1d")
    assert len(tl) == 3
    for chunk in tl.chunks:
        _same(chunk.report, ref.check(_by_day(df, chunk)))


def test_html_draws_the_most_drifted_columns_first(monkeypatch):
    from fastmlops.drift import _html_timeline

    rng = np.random.default_rng(0)
    ref = fastmlops.DriftReference({f"c{j}": rng.normal(size=1000) for j in range(5)})
    cur = {f"c{j}": rng.normal(size=600) + (1.0 if j == 3 else 0.0) for j in range(5)}
    tl = ref.check_over_time(cur, chunk_rows=200)
    monkeypatch.setattr(_html_timeline, "MAX_CHARTS", 2)
    page = tl.to_html()
    assert page.count('<svg class="chart"') == 2
    assert page.index("<h3>c3 ") < page.index('<svg class="chart"')  # the drifted one first
    assert "3 more columns, the least drifted, are not drawn" in page


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_splits_and_orders_change_nothing(seed):
    """Rows in a random order, cut into batches of random sizes, as DataFrames
    or dicts: every bucket's report is the one of its rows checked at once."""
    rng = np.random.default_rng(seed)
    ref = _reference(seed)
    df = _current(seed=seed, days=3, per_day=300)
    want = {c.label: c.report for c in ref.check_over_time(df, by="ts", every="6h").chunks}
    rows = df.iloc[rng.permutation(len(df))].reset_index(drop=True)
    cuts = np.sort(rng.choice(np.arange(1, len(rows)), size=12, replace=False))
    parts = np.split(np.arange(len(rows)), cuts)
    batches = [rows.iloc[p] if i % 2 else {k: rows[k].to_numpy()[p] for k in rows}
               for i, p in enumerate(parts)]
    got = ref.check_over_time(iter(batches), by="ts", every="6h")
    assert [c.label for c in got.chunks] == list(want)
    for chunk in got.chunks:
        _same(chunk.report, want[chunk.label])
        lo = np.datetime64(chunk.start.replace(tzinfo=None), "ns")
        hi = np.datetime64(chunk.end.replace(tzinfo=None), "ns")
        sub = df[(df["ts"] >= lo) & (df["ts"] < hi)].drop(columns="ts")
        _same(chunk.report, ref.check(sub))


def test_reference_columns_absent_from_the_data_drift_as_in_check(tmp_path):
    """A reference column the current data lacks: every chunk reports it as
    check does (all missing, reason "absent"), from memory and from a file."""
    rng = np.random.default_rng(0)
    ref = fastmlops.DriftReference({"x": rng.normal(size=500), "y": rng.normal(size=500),
                                    "c": rng.choice(["a", "b"], 500)})
    df = _current(days=2, per_day=200)[["x", "ts"]]
    path = tmp_path / "cur.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    for source in (df, path):
        tl = ref.check_over_time(source, by="ts", every="1d")
        for chunk in tl.chunks:
            want = ref.check(_by_day(df, chunk))
            assert want.reasons[1] == ["absent"]
            _same(chunk.report, want)
