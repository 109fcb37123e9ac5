"""Drift table rendering: Streamlit view (AppTest) and the HTML report fragment, escaped."""

from __future__ import annotations

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from swapcheck.report_drift import drift_section_html
from swapcheck.stats_drift import drift_table
from swapcheck.ui.results_drift import drift_display, drift_summary

EVIL = "<script>alert(1)</script>"


def _table() -> pd.DataFrame:
    """Refusal up from 5% to 45% in topic EVIL (40 pairs), unchanged in topic 'plain'."""
    rows = []
    for topic, cells in ((EVIL, {(0, 1): 16, (0, 0): 22, (1, 1): 2}), ("plain", {(0, 0): 40})):
        for (b, c), count in cells.items():
            rows += [(topic, float(b), float(c))] * count
    frame = pd.DataFrame(rows, columns=["topic", "baseline", "candidate"])
    frame["pair_id"] = [f"p{i}" for i in range(len(frame))]
    frame["prompt_id"] = frame["pair_id"]
    frame["evaluator"] = "refusal"
    frame["scope"] = "response"
    frame["kind"] = "rate"
    frame["higher_is"] = "worse"
    frame["value"] = np.nan
    return drift_table(frame, ["topic"])


def test_summary_and_display_order() -> None:
    table = _table()
    flagged = table[table["flagged"]]
    assert set(zip(flagged["slice"], flagged["value"], strict=True)) == {
        ("overall", "all"),
        ("topic", EVIL),
    }
    summary = drift_summary(table)
    assert summary.startswith("2 behaviour changes flagged: refusal ↑ in ")
    assert f"topic={EVIL} (+40.0 pts, worse)" in summary
    shown = drift_display(table)
    assert list(shown["flagged"]) == [True, True, False]
    assert shown.iloc[0]["difference"] == 40.0 or shown.iloc[1]["difference"] == 40.0
    assert shown.iloc[2]["interval"] == "-8.8 pts – +8.8 pts"  # a difference: points
    assert len(drift_display(table, flagged_only=True)) == 2
    assert drift_summary(table.iloc[0:0]).startswith("No behaviour change flagged")


def _app(table: "pd.DataFrame") -> None:  # noqa: UP037 (source runs without the import)
    from swapcheck.ui.results_drift import render_drift

    render_drift(table)


def test_render_drift_shows_summary_table_and_escapes_slice_values() -> None:
    table = _table()
    at = AppTest.from_function(_app, args=(table,), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    markdown = " ".join(m.value for m in at.markdown)
    assert "2 behaviour changes flagged" in markdown
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    shown = at.dataframe[0].value
    assert len(shown) == 3 and EVIL in set(shown["value"])
    at.toggle[0].set_value(True).run()
    assert len(at.dataframe[0].value) == 2


def test_render_drift_without_scores() -> None:
    empty = _table().iloc[0:0]
    at = AppTest.from_function(_app, args=(empty,), default_timeout=60)
    at.run()
    assert not at.exception
    assert "No evaluator scores" in at.info[0].value
    assert len(at.dataframe) == 0


def test_html_fragment_escapes_and_lists_flagged_rows_first() -> None:
    fragment = drift_section_html(_table())
    assert "<script>" not in fragment
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in fragment
    flagged_part, _, all_part = fragment.partition("<details>")
    assert "2 behaviour changes flagged" in flagged_part
    assert flagged_part.count('<tr class="drift-worse">') == 2
    assert "All rows (3)" in all_part and all_part.count("<tr") == 4  # header + 3 rows
    assert "+40.0 pts" in flagged_part
    assert "http" not in fragment and "src=" not in fragment


def test_html_fragment_without_scores() -> None:
    assert "No evaluator scores" in drift_section_html(_table().iloc[0:0])
    assert "No evaluator scores" in drift_section_html(None)
