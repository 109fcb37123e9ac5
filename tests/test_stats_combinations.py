"""Slice tables per combination of two columns and the vectorised slice counting, checked by hand
and against a naive pandas groupby with statsmodels' Wilson interval and scipy's binomial test."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from swapcheck.stats import (
    TABLE_COLUMNS,
    _slice_values,
    combination_table,
    combination_tables,
    slice_tables,
    win_rate_table,
)
from swapcheck.stats_decisions import combination_decisions, non_inferiority

HAND = [  # (locale, tier, choice)
    ("de-DE", "pro", "candidate"),
    ("de-DE", "pro", "candidate"),
    ("de-DE", "pro", "baseline"),
    ("de-DE", "free", "baseline"),
    ("de-DE", "free", "baseline"),
    ("de-DE", "free", "baseline"),
    ("de-DE", "free", "tie"),
    ("en-US", "pro", "candidate"),
    ("en-US", "pro", "candidate"),
    ("en-US", "pro", "candidate"),
    ("en-US", "pro", "candidate"),
    ("en-US", "pro", "candidate"),
    ("en-US", None, "both_bad"),
]


def _hand() -> pd.DataFrame:
    frame = pd.DataFrame(HAND, columns=["locale", "tier", "choice"])
    frame["pair_id"] = [f"p{i}" for i in range(len(frame))]
    return frame


def _wilson(count: float, n: int) -> tuple[float, float]:
    low, high = proportion_confint(count, n, alpha=0.05, method="wilson")
    return max(0.0, float(low)), min(1.0, float(high))


def test_combination_table_hand_computed() -> None:
    frame = combination_decisions(_hand(), ["locale", "tier"], min_n=4)
    assert list(frame.columns) == [*TABLE_COLUMNS, "q_value", "go"]
    out = frame.set_index("value")
    # worst first: de-DE x free 0.125, en-US x (missing) 0.5, de-DE x pro 2/3, en-US x pro 1
    assert out.index.tolist() == [
        "de-DE × free",
        "en-US × (missing)",
        "de-DE × pro",
        "en-US × pro",
    ]
    assert set(out["slice"]) == {"locale × tier"}
    assert out["n"].tolist() == [4, 1, 3, 5]
    assert out["candidate_wins"].tolist() == [0, 0, 2, 5]
    assert out["baseline_wins"].tolist() == [3, 0, 1, 0]
    assert out["ties"].tolist() == [1, 0, 0, 0]
    assert out["both_bad"].tolist() == [0, 1, 0, 0]
    assert out["win_rate"].tolist() == pytest.approx([0.5 / 4, 0.5, 2 / 3, 1.0], abs=1e-15)
    assert out["low_n"].tolist() == [False, True, True, False]  # min_n = 4
    # sign test on decisive votes: 0 vs 3 -> 2/8, none -> 1, 2 vs 1 -> 1, 5 vs 0 -> 2/32
    assert out["sign_test_p"].tolist() == pytest.approx([0.25, 1.0, 1.0, 0.0625], abs=1e-15)
    # BH over the four rows together: sorted p 0.0625, 0.25, 1, 1 -> 4p/rank = 0.25, 0.5, 4/3, 1
    assert out["q_value"].tolist() == pytest.approx([0.5, 1.0, 1.0, 0.25], abs=1e-15)
    for value, (count, n) in {
        "de-DE × free": (0.5, 4),
        "en-US × (missing)": (0.5, 1),
        "de-DE × pro": (2, 3),
        "en-US × pro": (5, 5),
    }.items():
        row = out.loc[value]
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(_wilson(count, n), abs=1e-12)
        assert row["go"] == non_inferiority(row["ci_low"], row["ci_high"])
    assert out.loc["en-US × pro", "go"] == "green"  # Wilson 5/5 lower bound 0.5655 >= 0.45
    assert out.loc["de-DE × free", "go"] == "amber"


def _random_judgments(seed: int, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    choice = rng.choice(["baseline", "candidate", "tie", "both_bad"], n, p=[0.4, 0.4, 0.15, 0.05])
    locale = rng.choice(np.array(["de-DE", "en-US", "fr-FR", None], dtype=object), n)
    tier = rng.choice(["free", "pro", "team"], n, p=[0.7, 0.25, 0.05])
    device = rng.choice(np.array([1, "1", 2, math.nan], dtype=object), n)  # 1 and "1" merge
    return pd.DataFrame(
        {
            "pair_id": np.arange(n),
            "choice": choice,
            "left_role": rng.choice(["baseline", "candidate"], n),
            "locale": locale,
            "tier": pd.Series(tier, dtype="string"),
            "device": device,
        }
    )


def _naive_table(frame: pd.DataFrame, keys: pd.Series) -> pd.DataFrame:
    rows = []
    for value, group in frame.groupby(keys.to_numpy(), sort=True):
        counts = group["choice"].value_counts()
        cand, base = int(counts.get("candidate", 0)), int(counts.get("baseline", 0))
        ties, both_bad, n = int(counts.get("tie", 0)), int(counts.get("both_bad", 0)), len(group)
        score = cand + 0.5 * (ties + both_bad)
        decisive = cand + base
        rows.append(
            {
                "value": str(value),
                "n": n,
                "counts": (cand, base, ties, both_bad),
                "ci": _wilson(score, n),
                "bb_ci": _wilson(both_bad, n),
                "p": binomtest(cand, decisive, 0.5).pvalue if decisive else 1.0,
            }
        )
    return pd.DataFrame(rows).set_index("value")


def _check_against_naive(table: pd.DataFrame, naive: pd.DataFrame) -> None:
    table = table.set_index("value")
    assert sorted(table.index) == sorted(naive.index)
    for value, want in naive.iterrows():
        row = table.loc[value]
        got = (row["candidate_wins"], row["baseline_wins"], row["ties"], row["both_bad"])
        assert got == want["counts"] and row["n"] == want["n"]
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(want["ci"], abs=1e-9)
        assert (row["both_bad_ci_low"], row["both_bad_ci_high"]) == pytest.approx(
            want["bb_ci"], abs=1e-9
        )
        assert row["sign_test_p"] == pytest.approx(want["p"], rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_slice_and_combination_tables_match_naive_groupby(seed: int) -> None:
    frame = _random_judgments(seed)
    for column in ("locale", "tier", "device"):
        table = win_rate_table(frame, column, min_n=100)
        _check_against_naive(table, _naive_table(frame, _slice_values(frame[column])))
        assert table["low_n"].tolist() == (table["n"] < 100).tolist()
    assert sorted(win_rate_table(frame, "device")["value"]) == ["(missing)", "1", "2"]
    keys = _slice_values(frame["locale"]) + " × " + _slice_values(frame["device"])
    _check_against_naive(combination_table(frame, "locale", "device"), _naive_table(frame, keys))
    stacked = slice_tables(frame, ["locale", "tier"])
    pd.testing.assert_frame_equal(
        stacked,
        pd.concat(
            [win_rate_table(frame), win_rate_table(frame, "locale"), win_rate_table(frame, "tier")],
            ignore_index=True,
        ),
    )


def test_combination_decisions_one_bh_family_over_all_pairs() -> None:
    frame = _random_judgments(5)
    out = combination_decisions(frame, ["locale", "tier", "device"])
    assert list(dict.fromkeys(out["slice"])) == [
        "locale × tier",
        "locale × device",
        "tier × device",
    ]
    parts = [
        combination_table(frame, "locale", "tier"),
        combination_table(frame, "locale", "device"),
        combination_table(frame, "tier", "device"),
    ]
    assert len(out) == sum(len(p) for p in parts) == 4 * 3 + 4 * 3 + 3 * 3
    expected = multipletests(out["sign_test_p"].to_numpy(), method="fdr_bh")[1]
    np.testing.assert_allclose(out["q_value"].to_numpy(), expected, rtol=1e-12, atol=1e-15)
    assert int(out["n"].groupby(out["slice"]).sum().nunique()) == 1  # each pair covers all rows


def test_combination_edge_cases() -> None:
    frame = _hand()
    assert combination_tables(frame, ["locale"]).empty
    assert combination_tables(frame.iloc[:0], ["locale", "tier"]).empty
    assert combination_decisions(frame.iloc[:0], ["locale", "tier"]).empty
    with pytest.raises(ValueError, match="two different columns"):
        combination_table(frame, "locale", "locale")
    with pytest.raises(ValueError, match="missing column"):
        combination_tables(frame, ["locale", "nope"])
