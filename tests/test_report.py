"""Tests for swapcheck.report: the forest plot and the spreadsheet-safe CSV export."""

from __future__ import annotations

import csv
import io

import pandas as pd
import plotly.graph_objects as go
import pytest
from hypothesis import given
from hypothesis import strategies as st

from swapcheck.report import to_safe_csv, win_rate_figure
from swapcheck.stats import slice_tables

RED, GREEN = "#d62728", "#2ca02c"
DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def make_judgments() -> pd.DataFrame:
    rows: list[tuple[str, str]] = (
        [("baseline", "worse")] * 30
        + [("candidate", "worse")] * 5
        + [("candidate", "better")] * 32
        + [("tie", "better")] * 3
        + [("candidate", "even")] * 10
        + [("baseline", "even")] * 10
        + [("candidate", "<script>alert(1)</script>")] * 2
        + [("baseline", "<b>bold</b>")] * 3
    )
    return pd.DataFrame(
        {
            "pair_id": [f"p{i}" for i in range(len(rows))],
            "reviewer": ["r1"] * len(rows),
            "choice": [r[0] for r in rows],
            "left_role": ["baseline"] * len(rows),
            "feature": [r[1] for r in rows],
        }
    )


@pytest.fixture()
def table() -> pd.DataFrame:
    return slice_tables(make_judgments(), ["feature"], min_n=30)


def points(fig: go.Figure) -> list[dict[str, object]]:
    """One dict per plotted marker: its trace, x, y, error bars, colour, symbol, hover text."""
    out: list[dict[str, object]] = []
    for trace in fig.data:
        if trace.type != "scatter" or trace.x is None or trace.error_x.array is None:
            continue
        symbols = trace.marker.symbol
        for i, (x, y) in enumerate(zip(trace.x, trace.y, strict=True)):
            out.append(
                {
                    "name": trace.name,
                    "x": x,
                    "y": y,
                    "plus": trace.error_x.array[i],
                    "minus": trace.error_x.arrayminus[i],
                    "color": trace.marker.color,
                    "symbol": symbols[i] if isinstance(symbols, list | tuple) else symbols,
                    "hover": trace.hovertext[i],
                }
            )
    return out


def test_one_point_per_row_with_ci_error_bars(table: pd.DataFrame) -> None:
    fig = win_rate_figure(table)
    pts = points(fig)
    assert len(pts) == len(table)
    ticktext = list(fig.layout.yaxis.ticktext)
    tickvals = list(fig.layout.yaxis.tickvals)
    assert len(ticktext) == len(table)
    by_y = {p["y"]: p for p in pts}
    assert sorted(by_y) == sorted(tickvals)
    for i, row in table.iterrows():
        point = by_y[tickvals[i]]
        assert point["x"] == pytest.approx(row["win_rate"])
        assert point["plus"] == pytest.approx(row["ci_high"] - row["win_rate"])
        assert point["minus"] == pytest.approx(row["win_rate"] - row["ci_low"])
        assert point["x"] - point["minus"] == pytest.approx(row["ci_low"])
        assert point["x"] + point["plus"] == pytest.approx(row["ci_high"])


def test_colours_follow_verdict(table: pd.DataFrame) -> None:
    assert set(table["verdict"]) == {"worse", "better", "inconclusive"}
    fig = win_rate_figure(table)
    tickvals = list(fig.layout.yaxis.tickvals)
    by_y = {p["y"]: p for p in points(fig)}
    for i, row in table.iterrows():
        colour = str(by_y[tickvals[i]]["color"]).lower()
        if row["verdict"] == "worse":
            assert colour == RED
        elif row["verdict"] == "better":
            assert colour == GREEN
        else:
            assert colour not in (RED, GREEN)


def test_parity_line_and_axis(table: pd.DataFrame) -> None:
    fig = win_rate_figure(table)
    lines = [s for s in fig.layout.shapes if s.x0 == 0.5 and s.x1 == 0.5]
    assert len(lines) == 1
    assert lines[0].line.dash == "dash"
    assert any(a.text == "parity" for a in fig.layout.annotations)
    assert list(fig.layout.xaxis.range) == [0, 1]
    assert fig.layout.xaxis.title.text == "candidate win rate (ties = ½)"
    assert fig.layout.title.text == "Candidate win rate by slice"


def test_labels_and_low_n_marking(table: pd.DataFrame) -> None:
    fig = win_rate_figure(table)
    ticktext = list(fig.layout.yaxis.ticktext)
    tickvals = list(fig.layout.yaxis.tickvals)
    by_y = {p["y"]: p for p in points(fig)}
    for i, row in table.iterrows():
        label = ticktext[i]
        assert label.startswith(f"{row['slice']} = ".replace("<", "‹"))
        point = by_y[tickvals[i]]
        if row["low_n"]:
            assert "low n" in label
            assert "open" in str(point["symbol"])
        else:
            assert "low n" not in label
            assert "open" not in str(point["symbol"])
        hover = str(point["hover"])
        assert f"n = {row['n']}" in hover
        assert f"ties = {row['ties']}" in hover
        assert "both bad" in hover
    assert "overall = all" in ticktext
    assert "feature = even (low n=20)" in ticktext


def test_user_text_is_neutralised(table: pd.DataFrame) -> None:
    fig = win_rate_figure(table, title="<i>study</i>")
    texts = list(fig.layout.yaxis.ticktext) + [str(p["hover"]) for p in points(fig)]
    texts.append(fig.layout.title.text)
    for text in texts:
        assert "<script" not in text and "<b>" not in text and "<i>" not in text
        assert "</" not in text
    assert any("‹script›alert(1)‹/script›" in t for t in fig.layout.yaxis.ticktext)
    assert any("‹b›bold‹/b›" in t for t in fig.layout.yaxis.ticktext)
    assert fig.layout.title.text == "‹i›study‹/i›"
    raw = fig.to_json()
    assert "<script" not in raw and "\\u003cscript" not in raw


def test_duplicate_labels_stay_separate() -> None:
    df = pd.DataFrame(
        {
            "pair_id": ["a", "b"],
            "reviewer": ["r", "r"],
            "choice": ["candidate", "baseline"],
            "left_role": ["baseline", "baseline"],
            "a": ["x = y", "z"],
            "a = x": ["y", "y"],
        }
    )
    table = slice_tables(df, ["a", "a = x"], min_n=1)
    fig = win_rate_figure(table)
    assert len(points(fig)) == len(table) == 4
    assert len(set(p["y"] for p in points(fig))) == 4


def test_empty_table_gives_a_figure() -> None:
    fig = win_rate_figure(slice_tables(make_judgments().iloc[:0], ["feature"]))
    assert points(fig) == []
    assert any(s.x0 == 0.5 for s in fig.layout.shapes)


def test_missing_columns_raise() -> None:
    with pytest.raises(ValueError, match="missing column"):
        win_rate_figure(pd.DataFrame({"slice": ["a"]}))


# --- CSV -------------------------------------------------------------------------------------

ATTACKS = ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(1)", "\tleading tab", "\r=1+1", "  =1+1"]


def test_csv_neutralises_formulas() -> None:
    df = pd.DataFrame({"text": ATTACKS, "score": [-0.5, 0.25, -2.0, 1.0, 0.0, 3.5, -1.25]})
    data = to_safe_csv(df)
    assert data.startswith(b"\xef\xbb\xbf")  # BOM so Excel reads UTF-8
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert list(back.columns) == ["text", "score"]
    assert back["text"].tolist() == ["'" + a for a in ATTACKS]
    assert pd.api.types.is_float_dtype(back["score"])
    assert back["score"].tolist() == [-0.5, 0.25, -2.0, 1.0, 0.0, 3.5, -1.25]


def test_csv_no_field_starts_a_formula() -> None:
    df = pd.DataFrame(
        {
            "=HYPERLINK(1)": ATTACKS,
            "n": [-1, 2, -3, 4, 5, 6, 7],
            "ok": [True, False, True, True, False, True, False],
        }
    )
    text = to_safe_csv(df).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["'=HYPERLINK(1)", "n", "ok"]
    for row in rows[1:]:
        assert not row[0].lstrip(" ").startswith(DANGEROUS_STARTS)
        assert row[0].startswith("'")
        int(row[1])  # numbers, including negatives, are left as numbers
        assert row[2] in ("True", "False")


def test_csv_round_trips_plain_text() -> None:
    df = pd.DataFrame(
        {
            "slice": ["locale", "locale", "tier"],
            "value": ["en, US", 'say "hi"', "multi\nline ‹ü›"],
            "n": [10, 20, 30],
            "win_rate": [0.5, 0.25, 0.125],
            "missing": [None, "x", None],
        }
    )
    back = pd.read_csv(io.BytesIO(to_safe_csv(df)))
    assert back["value"].tolist() == df["value"].tolist()
    assert back["slice"].tolist() == df["slice"].tolist()
    assert back["n"].tolist() == [10, 20, 30]
    assert back["win_rate"].tolist() == [0.5, 0.25, 0.125]
    assert back["missing"].isna().tolist() == [True, False, True]
    assert list(back.columns) == list(df.columns)


def test_csv_mixed_object_column() -> None:
    class Formula:
        def __str__(self) -> str:
            return "=1+2"

    df = pd.DataFrame({"mixed": [-1.5, "-x", None, Formula(), {"a": 1}]})
    rows = list(csv.reader(io.StringIO(to_safe_csv(df).decode("utf-8-sig"), newline="")))
    assert [r[0] if r else "" for r in rows[1:]] == ["-1.5", "'-x", "", "'=1+2", "{'a': 1}"]


def test_csv_does_not_mutate_input() -> None:
    df = pd.DataFrame({"text": ["=1+1"]})
    to_safe_csv(df)
    assert df["text"].tolist() == ["=1+1"]


@given(st.lists(st.text(max_size=20), min_size=1, max_size=8))
def test_csv_property(values: list[str]) -> None:
    text = to_safe_csv(pd.DataFrame({"v": values})).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    got = [r[0] if r else "" for r in rows[1:]]
    assert len(got) == len(values)
    for original, written in zip(values, got, strict=True):
        dangerous = original.startswith(DANGEROUS_STARTS) or original.lstrip(" ").startswith(
            DANGEROUS_STARTS
        )
        assert written == ("'" + original if dangerous else original)
        assert not written.lstrip(" ").startswith(DANGEROUS_STARTS)


def test_margin_draws_the_non_inferiority_bound() -> None:
    from swapcheck.report import win_rate_figure
    from swapcheck.stats import slice_tables

    frame = pd.DataFrame(
        {
            "choice": ["candidate", "baseline", "tie"] * 4,
            "left_role": ["baseline"] * 12,
            "feature": ["a", "b"] * 6,
        }
    )
    table = slice_tables(frame, ["feature"])
    xs = sorted(shape.x0 for shape in win_rate_figure(table, margin=0.1).layout.shapes)
    assert xs == pytest.approx([0.4, 0.5])
    assert [s.x0 for s in win_rate_figure(table).layout.shapes] == [0.5]
