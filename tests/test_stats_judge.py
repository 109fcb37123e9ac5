"""Judge vs human statistics: hand-computed agreement, kappa, gap interval; eligibility rule."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.weightstats import DescrStatsW

from swapcheck.stats_judge import (
    AGREEMENT_COLUMNS,
    judge_agreement_table,
    judge_eligible_slices,
    mean_difference_interval,
)

B, C, T, X = "baseline", "candidate", "tie", "both_bad"


def human_frame() -> pd.DataFrame:
    votes = [
        ("p1", "alice", C, "chat"),
        ("p1", "bob", C, "chat"),
        ("p2", "alice", B, "chat"),
        ("p2", "bob", C, "chat"),
        ("p3", "alice", T, "chat"),
        ("p4", "alice", C, "json"),
        ("p4", "bob", B, "json"),
        ("p4", "carol", C, "json"),
        ("p5", "alice", X, "json"),
        ("p7", "alice", C, "chat"),  # no judge verdict
    ]
    return pd.DataFrame(votes, columns=["pair_id", "reviewer", "choice", "feature"])


def judge_frame() -> pd.DataFrame:
    rows = [
        ("p1", C, [], "chat"),
        ("p2", B, [], "chat"),
        ("p3", T, ["judge_inconsistent"], "chat"),
        ("p4", C, [], "json"),
        ("p5", C, [], "json"),
        ("p6", C, [], "json"),  # no human vote
    ]
    frame = pd.DataFrame(rows, columns=["pair_id", "choice", "reason_tags", "feature"])
    return frame.assign(reviewer="judge:j")


def t_interval(diffs: list[float]) -> tuple[float, float]:
    result = scipy_stats.ttest_1samp(diffs, 0.0).confidence_interval(0.95)
    return (float(result.low), float(result.high))


def test_overall_row_matches_hand_computed_values_and_scipy() -> None:
    table = judge_agreement_table(human_frame(), judge_frame(), "feature")
    assert list(table.columns) == list(AGREEMENT_COLUMNS)
    overall = table.iloc[0]
    assert (overall["slice"], overall["value"]) == ("overall", "all")
    # Both judged: p1-p5. Judge vs each vote: p1 2/2, p2 1/2, p3 1/1, p4 2/3, p5 0/1 → 6/9.
    assert overall["n_pairs"] == 5
    assert overall["n_comparisons"] == 9
    assert overall["agreement"] == pytest.approx(6 / 9, abs=1e-12)
    # Both decisive: p1 2 (2 agree), p2 2 (1), p4 3 (2) → 5/7.
    assert overall["n_decisive_comparisons"] == 7
    assert overall["agreement_no_ties"] == pytest.approx(5 / 7, abs=1e-12)
    # Majority: p1 C, p2 tie (1-1), p3 T, p4 C, p5 X; judge C B T C C → p_o 3/5.
    # Marginals judge B1 C3 T1, majority C2 T2 X1 → p_e = (3*2 + 1*2) / 25 = 8/25.
    assert overall["kappa"] == pytest.approx((15 / 25 - 8 / 25) / (1 - 8 / 25), abs=1e-12)
    # Judge scores 1 0 .5 1 1 → 0.7; human means 1 .5 .5 2/3 .5 → 19/30.
    assert overall["judge_win_rate"] == pytest.approx(0.7, abs=1e-12)
    assert overall["human_win_rate"] == pytest.approx(19 / 30, abs=1e-12)
    diffs = [0.0, -0.5, 0.0, 1 / 3, 0.5]
    assert overall["gap"] == pytest.approx(1 / 15, abs=1e-12)
    low, high = t_interval(diffs)
    assert overall["gap_ci_low"] == pytest.approx(low, abs=1e-9)
    assert overall["gap_ci_high"] == pytest.approx(high, abs=1e-9)
    sm_low, sm_high = DescrStatsW(np.array(diffs)).tconfint_mean(alpha=0.05)
    assert (overall["gap_ci_low"], overall["gap_ci_high"]) == pytest.approx(
        (sm_low, sm_high), abs=1e-9
    )
    # Every judge verdict (p1-p6), one inconsistent.
    assert overall["n_judge_pairs"] == 6
    assert overall["inconsistent_share"] == pytest.approx(1 / 6, abs=1e-12)


def test_slice_rows_match_hand_computed_values() -> None:
    table = judge_agreement_table(human_frame(), judge_frame(), "feature")
    assert table[["slice", "value"]].values.tolist() == [
        ["overall", "all"],
        ["feature", "chat"],
        ["feature", "json"],
    ]
    chat = table.iloc[1]
    assert (chat["n_pairs"], chat["n_comparisons"], chat["n_decisive_comparisons"]) == (3, 5, 4)
    assert chat["agreement"] == pytest.approx(4 / 5, abs=1e-12)
    assert chat["agreement_no_ties"] == pytest.approx(3 / 4, abs=1e-12)
    # (C,C) (B,tie) (T,T): p_o 2/3, p_e = (1*1 + 1*2) / 9 → kappa 0.5.
    assert chat["kappa"] == pytest.approx(0.5, abs=1e-12)
    assert chat["judge_win_rate"] == pytest.approx(0.5, abs=1e-12)
    assert chat["human_win_rate"] == pytest.approx(2 / 3, abs=1e-12)
    assert chat["gap"] == pytest.approx(-1 / 6, abs=1e-12)
    low, high = t_interval([0.0, -0.5, 0.0])
    assert (chat["gap_ci_low"], chat["gap_ci_high"]) == pytest.approx((low, high), abs=1e-9)
    assert (chat["n_judge_pairs"], chat["inconsistent_share"]) == (3, pytest.approx(1 / 3))

    json_row = table.iloc[2]
    assert (json_row["n_pairs"], json_row["n_comparisons"]) == (2, 4)
    assert json_row["agreement"] == pytest.approx(0.5, abs=1e-12)
    assert json_row["agreement_no_ties"] == pytest.approx(2 / 3, abs=1e-12)
    # (C,C) (C,X): p_o 1/2, p_e = 2*1/4 → kappa 0.
    assert json_row["kappa"] == pytest.approx(0.0, abs=1e-12)
    assert json_row["gap"] == pytest.approx(1 - 7 / 12, abs=1e-12)
    low, high = t_interval([1 / 3, 0.5])
    assert (json_row["gap_ci_low"], json_row["gap_ci_high"]) == pytest.approx((low, high), abs=1e-9)
    assert (json_row["n_judge_pairs"], json_row["inconsistent_share"]) == (3, 0.0)


def test_missing_slice_values_and_no_overlap() -> None:
    human = human_frame().assign(feature=None)
    judge = judge_frame().assign(feature=None)
    table = judge_agreement_table(human, judge, "feature")
    assert table["value"].tolist() == ["all", "(missing)"]
    assert table.iloc[1]["n_pairs"] == 5
    none = judge_agreement_table(human_frame()[lambda f: f["pair_id"] == "p7"], judge_frame())
    row = none.iloc[0]
    assert row["n_pairs"] == 0 and row["n_comparisons"] == 0
    assert math.isnan(row["agreement"]) and math.isnan(row["kappa"])
    assert math.isnan(row["gap"]) and math.isnan(row["gap_ci_low"])


def test_judge_frame_must_hold_one_verdict_per_pair() -> None:
    judge = pd.concat([judge_frame(), judge_frame().assign(reviewer="judge:other")])
    with pytest.raises(ValueError, match="several verdicts"):
        judge_agreement_table(human_frame(), judge)


def test_mean_difference_interval_edges() -> None:
    assert all(math.isnan(v) for v in mean_difference_interval([]))
    mean, low, high = mean_difference_interval([0.25])
    assert mean == 0.25 and math.isnan(low) and math.isnan(high)
    assert mean_difference_interval([0.5, 0.5, 0.5]) == (0.5, 0.5, 0.5)
    diffs = list(np.linspace(-0.5, 0.5, 41) ** 3)
    mean, low, high = mean_difference_interval(diffs, confidence=0.9)
    ref = DescrStatsW(np.array(diffs)).tconfint_mean(alpha=0.1)
    assert (low, high) == pytest.approx(ref, abs=1e-12)


def eligibility_table(rows: list[tuple]) -> pd.DataFrame:
    columns = ["slice", "value", "n_pairs", "kappa", "gap_ci_low", "gap_ci_high"]
    return pd.DataFrame(rows, columns=columns)


def test_eligibility_needs_enough_pairs_kappa_and_a_narrow_gap_interval() -> None:
    table = eligibility_table(
        [
            ("f", "ok", 30, 0.6, -0.05, 0.05),  # every bound exactly met
            ("f", "few", 29, 0.9, -0.01, 0.01),
            ("f", "low_kappa", 100, 0.5999, -0.01, 0.01),
            ("f", "wide_high", 100, 0.9, -0.01, 0.0501),
            ("f", "wide_low", 100, 0.9, -0.0501, 0.01),
            ("f", "shifted", 100, 0.9, 0.051, 0.06),  # precise but biased
            ("f", "nan_kappa", 100, math.nan, -0.01, 0.01),
            ("f", "nan_interval", 100, 0.9, math.nan, math.nan),
            ("f", "good", 500, 0.85, -0.02, 0.03),
        ]
    )
    assert judge_eligible_slices(table)["value"].tolist() == ["ok", "good"]
    looser = judge_eligible_slices(table, min_pairs=20, min_kappa=0.5, max_abs_gap=0.06)
    assert looser["value"].tolist() == [
        "ok",
        "few",
        "low_kappa",
        "wide_high",
        "wide_low",
        "shifted",
        "good",
    ]
    assert judge_eligible_slices(table.iloc[0:0]).empty
