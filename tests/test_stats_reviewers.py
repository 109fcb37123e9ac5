"""Reviewer quality against hand-computed values and statsmodels' Wilson interval."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from swapcheck.stats_reviewers import QUALITY_COLUMNS, reviewer_quality


def frame(rows: list[tuple[str, str, str, str, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["reviewer", "pair_id", "left_role", "choice", "time_on_item_ms"]
    )


ANA = [  # (reviewer, pair, left_role, choice, ms)
    ("ana", "p1", "baseline", "baseline", 4000),  # left pick, gold expects baseline: right
    ("ana", "p2", "candidate", "baseline", 6000),  # right pick, gold expects candidate: wrong
    ("ana", "p3", "candidate", "candidate", 8000),  # left pick, gold expects tie: wrong
    ("ana", "p4", "baseline", "tie", 10000),
    ("ana", "p5", "baseline", "both_bad", 12000),
    ("ana", "p6", "candidate", "candidate", None),  # left pick, no time recorded
    ("ana", "p7", "baseline", "baseline", 2000),  # left pick
]
BO = [
    ("bo", "p1", "candidate", "tie", 1000),  # gold expects baseline: wrong
    ("bo", "p4", "candidate", "tie", 3000),
]
GOLD = pd.DataFrame({"pair_id": ["p1", "p2", "p3"], "expected": ["baseline", "candidate", "tie"]})


def test_reviewer_quality_matches_hand_computed_values() -> None:
    table = reviewer_quality(frame(ANA + BO), GOLD).set_index("reviewer")
    assert list(table.reset_index().columns) == list(QUALITY_COLUMNS)
    ana = table.loc["ana"]
    assert ana.judgments == 7 and ana.gold_judged == 3
    assert ana.gold_accuracy == pytest.approx(1 / 3)
    # decisive: p1, p2, p3, p6, p7; left picks: p1, p3, p6, p7 -> 4 of 5
    assert ana.left_pick_rate == pytest.approx(4 / 5)
    low, high = proportion_confint(4, 5, alpha=0.05, method="wilson")
    assert (ana.left_pick_low, ana.left_pick_high) == (pytest.approx(low), pytest.approx(high))
    assert ana.tie_rate == pytest.approx(1 / 7) and ana.both_bad_rate == pytest.approx(1 / 7)
    assert ana.median_time_s == pytest.approx(7.0)  # median of 2,4,6,8,10,12 s
    bo = table.loc["bo"]
    assert bo.judgments == 2 and bo.gold_judged == 1 and bo.gold_accuracy == 0.0
    assert math.isnan(bo.left_pick_rate)  # nothing decisive
    assert bo.tie_rate == 1.0 and bo.both_bad_rate == 0.0 and bo.median_time_s == 2.0


def test_wilson_bounds_follow_statsmodels_for_a_larger_sample() -> None:
    rows = [
        ("cy", f"p{i}", "baseline", "baseline" if i < 37 else "candidate", 5000) for i in range(60)
    ]
    row = reviewer_quality(frame(rows), GOLD.iloc[:0]).iloc[0]
    low, high = proportion_confint(37, 60, alpha=0.05, method="wilson")
    assert row.left_pick_rate == pytest.approx(37 / 60)
    assert row.left_pick_low == pytest.approx(low) and row.left_pick_high == pytest.approx(high)
    assert row.gold_judged == 0 and math.isnan(row.gold_accuracy)


def test_empty_and_invalid_inputs() -> None:
    empty = reviewer_quality(frame([]), GOLD)
    assert empty.empty and list(empty.columns) == list(QUALITY_COLUMNS)
    with pytest.raises(ValueError, match="missing"):
        reviewer_quality(pd.DataFrame({"choice": ["tie"]}), GOLD)
