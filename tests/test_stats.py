"""Tests for swapcheck.stats against statsmodels/scipy and hand-computed cases."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest, norm
from statsmodels.stats.proportion import proportion_confint

from swapcheck.stats import (
    TABLE_COLUMNS,
    Z_95,
    position_bias,
    sign_test_p,
    slice_tables,
    summarize,
    wilson_interval,
    win_rate_table,
)

EXPECTED_COLUMNS = [
    "slice",
    "value",
    "n",
    "candidate_wins",
    "baseline_wins",
    "ties",
    "both_bad",
    "win_rate",
    "ci_low",
    "ci_high",
    "tie_rate",
    "both_bad_rate",
    "both_bad_ci_low",
    "both_bad_ci_high",
    "sign_test_p",
    "low_n",
    "verdict",
]


def judgments(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    """(choice, left_role, locale) tuples -> a judgments frame."""
    return pd.DataFrame(
        {
            "pair_id": [f"p{i}" for i in range(len(rows))],
            "reviewer": [f"r{i % 3}" for i in range(len(rows))],
            "choice": [r[0] for r in rows],
            "left_role": [r[1] for r in rows],
            "locale": [r[2] for r in rows],
        }
    )


def sm_wilson(count: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    lo, hi = proportion_confint(count, n, alpha=1 - confidence, method="wilson")
    return max(0.0, float(lo)), min(1.0, float(hi))


# --- wilson_interval -------------------------------------------------------------------------


def test_z95_is_two_sided_95() -> None:
    assert abs(Z_95 - norm.ppf(0.975)) < 1e-15
    assert abs(Z_95 - 1.645) > 0.3


GRID = [
    (k, n)
    for n in (1, 2, 3, 5, 7, 10, 30, 100, 1000)
    for k in sorted({0, 1, n // 3, n // 2, n - 1, n} | {min(n, j + 0.5) for j in (0, n // 4)})
    if 0 <= k <= n
]


@pytest.mark.parametrize(("k", "n"), GRID)
def test_wilson_matches_statsmodels(k: float, n: int) -> None:
    assert wilson_interval(k, n) == pytest.approx(sm_wilson(k, n), abs=1e-12)


@pytest.mark.parametrize("confidence", [0.5, 0.8, 0.9, 0.99, 0.999])
@pytest.mark.parametrize(("k", "n"), [(0, 4), (3, 4), (6.5, 10), (17, 50), (250, 250)])
def test_wilson_other_confidence_levels(k: float, n: int, confidence: float) -> None:
    got = wilson_interval(k, n, confidence)
    assert got == pytest.approx(sm_wilson(k, n, confidence), abs=1e-12)


def test_wilson_edges() -> None:
    lo, hi = wilson_interval(0, 0)
    assert math.isnan(lo) and math.isnan(hi)
    assert wilson_interval(0, 5)[0] == 0.0
    assert wilson_interval(5, 5)[1] == 1.0
    # n = 1 with a tie: p = 0.5, interval 0.5 +- z / (2 sqrt(1 + z^2)) = 0.5 +- 0.4453792...
    half = 1.959963984540054 / (2 * math.sqrt(1 + 1.959963984540054**2))
    assert wilson_interval(0.5, 1) == pytest.approx((0.5 - half, 0.5 + half), abs=1e-12)
    assert wilson_interval(0.5, 1) == pytest.approx((0.0546207555, 0.9453792445), abs=1e-9)
    # a higher confidence gives a wider interval
    assert wilson_interval(3, 10, 0.99)[0] < wilson_interval(3, 10, 0.95)[0]


@pytest.mark.parametrize(("k", "n", "confidence"), [(-1, 5, 0.95), (6, 5, 0.95), (1, 5, 1.0)])
def test_wilson_rejects_bad_input(k: float, n: int, confidence: float) -> None:
    with pytest.raises(ValueError):
        wilson_interval(k, n, confidence)


@st.composite
def count_and_n(draw: st.DrawFn) -> tuple[float, int]:
    n = draw(st.integers(min_value=1, max_value=5000))
    halves = draw(st.integers(min_value=0, max_value=2 * n))
    return halves / 2, n


@given(count_and_n())
def test_wilson_contains_estimate_and_is_bounded(kn: tuple[float, int]) -> None:
    k, n = kn
    lo, hi = wilson_interval(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    assert (lo, hi) == pytest.approx(sm_wilson(k, n), abs=1e-10)


@given(count_and_n())
def test_wilson_is_symmetric(kn: tuple[float, int]) -> None:
    k, n = kn
    lo, hi = wilson_interval(k, n)
    mirror_lo, mirror_hi = wilson_interval(n - k, n)
    assert lo == pytest.approx(1 - mirror_hi, abs=1e-12)
    assert hi == pytest.approx(1 - mirror_lo, abs=1e-12)


@given(count_and_n(), st.integers(min_value=2, max_value=20))
def test_wilson_narrows_as_n_grows(kn: tuple[float, int], factor: int) -> None:
    k, n = kn
    lo, hi = wilson_interval(k, n)
    lo2, hi2 = wilson_interval(k * factor, n * factor)
    assert hi2 - lo2 < hi - lo


# --- sign test -------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 10, 11, 25, 60])
def test_sign_test_matches_scipy_grid(n: int) -> None:
    for k in range(n + 1):
        expected = binomtest(k, n, 0.5).pvalue
        assert sign_test_p(k, n - k) == pytest.approx(expected, rel=1e-12, abs=1e-300)


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=3000), st.integers(min_value=0, max_value=3000))
def test_sign_test_matches_scipy_property(wins: int, losses: int) -> None:
    if wins + losses == 0:
        assert sign_test_p(wins, losses) == 1.0
        return
    expected = binomtest(wins, wins + losses, 0.5).pvalue
    assert sign_test_p(wins, losses) == pytest.approx(
        expected, rel=1e-9, abs=1e-250
    )  # scipy underflows to 0 first


@pytest.mark.parametrize(
    ("wins", "losses"), [(20_000, 20_500), (14_900, 15_100), (200_000, 201_000), (10, 30_000)]
)
def test_sign_test_large_n_matches_scipy(wins: int, losses: int) -> None:
    expected = binomtest(wins, wins + losses, 0.5).pvalue
    assert sign_test_p(wins, losses) == pytest.approx(expected, rel=1e-8, abs=1e-300)


def test_sign_test_hand_values() -> None:
    assert sign_test_p(0, 0) == 1.0
    assert sign_test_p(3, 3) == 1.0
    assert sign_test_p(5, 2) == 58 / 128  # 2 * (C(7,0)+C(7,1)+C(7,2)) / 2^7
    assert sign_test_p(1, 4) == 12 / 32  # 2 * (1 + 5) / 2^5
    assert sign_test_p(6, 0) == 2 / 64


# --- win_rate_table --------------------------------------------------------------------------

# en: 4 candidate, 1 baseline, 1 tie        -> score 4.5 / 6 = 0.75
# fr: 1 candidate, 1 baseline, 1 both_bad   -> score 1.5 / 3 = 0.5
# None (missing): 1 tie                     -> score 0.5 / 1 = 0.5
# overall: 5 candidate, 2 baseline, 2 tie, 1 both_bad -> 6.5 / 10 = 0.65
HAND = [
    ("candidate", "baseline", "en"),
    ("candidate", "candidate", "en"),
    ("candidate", "baseline", "en"),
    ("candidate", "candidate", "en"),
    ("baseline", "baseline", "en"),
    ("tie", "candidate", "en"),
    ("candidate", "baseline", "fr"),
    ("baseline", "candidate", "fr"),
    ("both_bad", "baseline", "fr"),
    ("tie", "baseline", None),
]


def test_table_overall_hand_computed() -> None:
    table = win_rate_table(judgments(HAND))
    assert list(table.columns) == EXPECTED_COLUMNS
    assert list(TABLE_COLUMNS) == EXPECTED_COLUMNS
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["slice"], row["value"]) == ("overall", "all")
    assert (row["n"], row["candidate_wins"], row["baseline_wins"]) == (10, 5, 2)
    assert (row["ties"], row["both_bad"]) == (2, 1)
    assert row["win_rate"] == pytest.approx(0.65)
    # Wilson, p = 0.65, n = 10, z^2 = 3.8414588: centre = (0.65 + 0.1920729) / 1.3841459
    # = 0.6083701, half-width = 1.96 * sqrt(0.02275 + 0.0096036) / 1.3841459 = 0.2546993
    assert row["ci_low"] == pytest.approx(0.3536707, abs=1e-6)
    assert row["ci_high"] == pytest.approx(0.8630694, abs=1e-6)
    assert row["tie_rate"] == pytest.approx(0.2)
    assert row["both_bad_rate"] == pytest.approx(0.1)
    assert (row["both_bad_ci_low"], row["both_bad_ci_high"]) == pytest.approx(
        (0.0178762, 0.4041500), abs=1e-6
    )
    assert row["sign_test_p"] == pytest.approx(58 / 128)
    assert bool(row["low_n"]) is True
    assert row["verdict"] == "inconclusive"


def test_table_by_column_with_missing_values() -> None:
    table = win_rate_table(judgments(HAND), by="locale", min_n=3)
    assert list(table.columns) == EXPECTED_COLUMNS
    # sorted by win rate ascending; equal rates keep a deterministic (value) order
    assert table["value"].tolist() == ["(missing)", "fr", "en"]
    assert set(table["slice"]) == {"locale"}
    assert table["n"].tolist() == [1, 3, 6]
    assert table["candidate_wins"].tolist() == [0, 1, 4]
    assert table["baseline_wins"].tolist() == [0, 1, 1]
    assert table["ties"].tolist() == [1, 0, 1]
    assert table["both_bad"].tolist() == [0, 1, 0]
    assert table["win_rate"].tolist() == pytest.approx([0.5, 0.5, 0.75])
    assert table["sign_test_p"].tolist() == pytest.approx([1.0, 1.0, 12 / 32])
    assert table["low_n"].tolist() == [True, False, False]
    assert table["tie_rate"].tolist() == pytest.approx([1.0, 0.0, 1 / 6])
    assert table["both_bad_rate"].tolist() == pytest.approx([0.0, 1 / 3, 0.0])
    # n = 1, p = 0.5: 0.5 +- z / (2 sqrt(1 + z^2))
    assert table.loc[0, ["ci_low", "ci_high"]].tolist() == pytest.approx(
        [0.0546208, 0.9453792], abs=1e-6
    )
    assert table.loc[2, ["ci_low", "ci_high"]].tolist() == pytest.approx(
        [0.3648226, 0.9400103], abs=1e-6
    )
    assert table["verdict"].tolist() == ["inconclusive"] * 3


def test_table_handles_nan_string_dtype_and_non_default_index() -> None:
    df = judgments(HAND)
    df["locale"] = df["locale"].astype("string")  # None -> pd.NA
    df.loc[9, "locale"] = float("nan")
    df.index = range(100, 110)
    table = win_rate_table(df.iloc[::-1], by="locale")
    assert sorted(table["value"]) == ["(missing)", "en", "fr"]
    assert table["n"].sum() == 10


def test_verdict_logic_and_low_n() -> None:
    rows = (
        [("baseline", "baseline", "worse")] * 30
        + [("candidate", "baseline", "worse")] * 5
        + [("candidate", "candidate", "better")] * 30
        + [("tie", "candidate", "better")] * 5
        + [("candidate", "baseline", "even")] * 10
        + [("baseline", "baseline", "even")] * 10
    )
    table = win_rate_table(judgments(rows), by="locale", min_n=30).set_index("value")
    assert table.loc["worse", "verdict"] == "worse"
    assert table.loc["worse", "ci_high"] < 0.5
    assert table.loc["better", "verdict"] == "better"
    assert table.loc["better", "ci_low"] > 0.5
    assert table.loc["even", "verdict"] == "inconclusive"
    assert table.loc["even", "ci_low"] <= 0.5 <= table.loc["even", "ci_high"]
    assert not table.loc["worse", "low_n"] and not table.loc["better", "low_n"]
    assert table.loc["even", "low_n"]  # 20 < 30
    assert table.index.tolist() == ["worse", "even", "better"]


@pytest.mark.parametrize(
    ("wins", "verdict"),
    [
        (39, "worse"),  # Wilson(39, 100) = (0.3002, 0.4880)
        (40, "worse"),  # Wilson(40, 100) = (0.3094, 0.4980)
        (41, "inconclusive"),  # Wilson(41, 100) = (0.3187, 0.5080)
        (59, "inconclusive"),  # Wilson(59, 100) = (0.4920, 0.6813)
        (60, "better"),  # Wilson(60, 100) = (0.5020, 0.6906)
    ],
)
def test_verdict_boundaries(wins: int, verdict: str) -> None:
    rows = [("candidate", "baseline", "x")] * wins + [("baseline", "baseline", "x")] * (100 - wins)
    row = win_rate_table(judgments(rows)).iloc[0]
    assert row["verdict"] == verdict


def test_both_bad_counts_as_half() -> None:
    rows = [("both_bad", "baseline", "x")] * 40
    row = win_rate_table(judgments(rows)).iloc[0]
    assert row["win_rate"] == 0.5
    assert row["verdict"] == "inconclusive"
    assert row["both_bad_rate"] == 1.0
    assert row["both_bad_ci_high"] == 1.0
    assert row["sign_test_p"] == 1.0


def test_empty_input() -> None:
    empty = judgments([])
    for by in (None, "locale"):
        table = win_rate_table(empty, by=by)
        assert table.empty
        assert list(table.columns) == EXPECTED_COLUMNS
    assert slice_tables(empty, ["locale"]).empty
    assert list(slice_tables(empty, ["locale"]).columns) == EXPECTED_COLUMNS


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError, match="unknown choice"):
        win_rate_table(judgments([("left", "baseline", "en")]))
    with pytest.raises(ValueError, match="missing column"):
        win_rate_table(judgments(HAND), by="no_such_column")


def test_slice_tables_puts_overall_first() -> None:
    df = judgments(HAND)
    df["tier"] = ["free", "pro"] * 5
    table = slice_tables(df, ["locale", "tier"], min_n=5)
    assert list(table.columns) == EXPECTED_COLUMNS
    assert (table.loc[0, "slice"], table.loc[0, "value"]) == ("overall", "all")
    assert table["slice"].tolist().count("overall") == 1
    assert table.groupby("slice")["n"].sum().to_dict() == {"overall": 10, "locale": 10, "tier": 10}
    assert not table.loc[0, "low_n"]


# --- position bias / summarize ---------------------------------------------------------------


def test_position_bias_hand_computed() -> None:
    rows = [
        ("candidate", "candidate", "a"),  # chose left
        ("candidate", "baseline", "a"),  # chose right
        ("baseline", "baseline", "a"),  # chose left
        ("baseline", "baseline", "a"),  # chose left
        ("tie", "candidate", "a"),  # not decisive
        ("both_bad", "baseline", "a"),  # not decisive
    ]
    bias = position_bias(judgments(rows))
    assert bias["n_decisive"] == 4
    assert bias["left_pick_rate"] == 0.75
    # Wilson(3, 4): centre (0.75 + 0.4802) / 1.9604 = 0.6275, half 0.3269
    assert (bias["ci_low"], bias["ci_high"]) == pytest.approx((0.3006418, 0.9544127), abs=1e-6)


def test_position_bias_no_decisive() -> None:
    bias = position_bias(judgments([("tie", "baseline", "a")]))
    assert bias["n_decisive"] == 0
    assert math.isnan(bias["left_pick_rate"])


def test_summarize_is_json_serialisable() -> None:
    df = judgments(HAND)
    summary = summarize(df, ["locale"], min_n=3)
    text = json.dumps(summary, allow_nan=False)
    back = json.loads(text)
    assert back["n_judgments"] == 10
    assert back["n_reviewers"] == 3
    assert back["overall"]["value"] == "all"
    assert back["overall"]["win_rate"] == pytest.approx(0.65)
    assert back["overall"]["low_n"] is False
    assert [s["value"] for s in back["slices"]] == ["(missing)", "fr", "en"]
    assert back["position_bias"]["n_decisive"] == 7
    assert set(back["overall"]) == set(EXPECTED_COLUMNS)

    only_ties = summarize(judgments([("tie", "baseline", "a")]), ["locale"])
    json.dumps(only_ties, allow_nan=False)
    assert only_ties["position_bias"]["left_pick_rate"] is None

    empty = summarize(judgments([]), ["locale"])
    json.dumps(empty, allow_nan=False)
    assert empty["overall"] is None and empty["slices"] == [] and empty["n_judgments"] == 0
