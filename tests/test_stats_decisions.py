"""Tests for swapcheck.stats_decisions against statsmodels and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from swapcheck.stats import slice_tables, win_rate_table
from swapcheck.stats_decisions import (
    benjamini_hochberg,
    decision_table,
    non_inferiority,
    overall_verdict,
    reweighted_win_rate,
)

BOUND = 0.5 - 0.05


def _bh_reference(p: list[float]) -> np.ndarray:
    return multipletests(np.asarray(p, dtype=float), method="fdr_bh")[1]


# --- benjamini_hochberg -------------------------------------------------------------------


@pytest.mark.parametrize(
    "p",
    [
        [0.01, 0.04, 0.03, 0.2, 0.5],
        [0.01, 0.01, 0.01, 0.02, 0.9],  # ties
        [0.05, 0.05, 0.05, 0.05],
        [1.0, 0.0, 0.5],
        [0.3],
    ],
)
def test_bh_matches_statsmodels(p: list[float]) -> None:
    np.testing.assert_allclose(benjamini_hochberg(p), _bh_reference(p), rtol=0, atol=1e-15)


def test_bh_hand_computed() -> None:
    # m = 4; sorted p: .01, .02, .03, .5 -> .04, .04, .04, .5
    q = benjamini_hochberg([0.5, 0.03, 0.01, 0.02])
    np.testing.assert_allclose(q, [0.5, 0.04, 0.04, 0.04])


def test_bh_nan_passthrough_and_family_size() -> None:
    q = benjamini_hochberg([0.01, math.nan, 0.04, math.nan])
    assert math.isnan(q[1]) and math.isnan(q[3])
    np.testing.assert_allclose(q[[0, 2]], _bh_reference([0.01, 0.04]))


def test_bh_edge_cases() -> None:
    assert benjamini_hochberg([]).shape == (0,)
    assert np.isnan(benjamini_hochberg([math.nan, math.nan])).all()
    with pytest.raises(ValueError):
        benjamini_hochberg([0.5, 1.2])
    with pytest.raises(ValueError):
        benjamini_hochberg([-0.1])


p_value = st.one_of(
    st.floats(0.0, 1.0, allow_nan=False),
    st.sampled_from([0.0, 0.001, 0.01, 0.05, 0.5, 1.0]),  # encourages ties
)


@settings(max_examples=150, deadline=None)
@given(st.lists(p_value, min_size=1, max_size=40))
def test_bh_properties(p: list[float]) -> None:
    q = benjamini_hochberg(p)
    np.testing.assert_allclose(q, _bh_reference(p), rtol=1e-12, atol=1e-15)
    arr = np.asarray(p)
    assert np.all(q >= arr - 1e-15)
    assert np.all(q <= 1.0)
    order = np.argsort(arr, kind="mergesort")
    assert np.all(np.diff(q[order]) >= -1e-15)  # monotone in p
    for value in set(p):  # equal p -> equal q
        assert len(set(q[arr == value].tolist())) == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(p_value, st.just(math.nan)), min_size=1, max_size=30))
def test_bh_nan_property(p: list[float]) -> None:
    q = benjamini_hochberg(p)
    arr = np.asarray(p)
    nan = np.isnan(arr)
    assert np.array_equal(np.isnan(q), nan)
    if (~nan).any():
        np.testing.assert_allclose(q[~nan], _bh_reference(arr[~nan].tolist()), atol=1e-15)


# --- non_inferiority ----------------------------------------------------------------------


def test_non_inferiority_boundaries() -> None:
    assert non_inferiority(BOUND, 0.6) == "green"  # ci_low == bound counts as green
    assert non_inferiority(np.nextafter(BOUND, 0), 0.6) == "amber"
    assert non_inferiority(0.3, BOUND) == "amber"  # ci_high == bound is not below it
    assert non_inferiority(0.3, np.nextafter(BOUND, 0)) == "red"
    assert non_inferiority(0.5, 0.5, margin=0.0) == "green"
    assert non_inferiority(0.3, 0.49, margin=0.0) == "red"
    assert non_inferiority(0.41, 0.55, margin=0.1) == "green"
    assert non_inferiority(math.nan, math.nan) == "amber"
    for bad in (-0.01, 0.5, 0.7):
        with pytest.raises(ValueError):
            non_inferiority(0.4, 0.6, margin=bad)


@given(
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 0.49),
)
def test_non_inferiority_property(a: float, b: float, margin: float) -> None:
    lo, hi = min(a, b), max(a, b)
    colour = non_inferiority(lo, hi, margin)
    bound = 0.5 - margin
    expected = "green" if lo >= bound else ("red" if hi < bound else "amber")
    assert colour == expected


# --- decision_table -----------------------------------------------------------------------


def _judgments(seed: int = 0, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    feature = rng.choice(["chat", "json", "summary", "code"], n)
    locale = rng.choice(["en", "de", "fr"], n)
    p_cand = np.where(feature == "json", 0.3, 0.55)
    u = rng.random(n)
    choice = np.where(u < p_cand, "candidate", "baseline")
    choice = np.where(rng.random(n) < 0.15, "tie", choice)
    choice = np.where(rng.random(n) < 0.05, "both_bad", choice)
    return pd.DataFrame(
        {
            "pair_id": [f"p{i}" for i in range(n)],
            "reviewer": "r1",
            "choice": choice,
            "left_role": rng.choice(["baseline", "candidate"], n),
            "feature": feature,
            "locale": locale,
        }
    )


def test_decision_table_q_values_across_all_slice_rows() -> None:
    table = slice_tables(_judgments(), ["feature", "locale"])
    before = table.copy()
    out = decision_table(table)
    pd.testing.assert_frame_equal(table, before)  # input untouched
    assert list(out.columns[: len(table.columns)]) == list(table.columns)
    overall = out["slice"] == "overall"
    assert out.loc[overall, "q_value"].item() == out.loc[overall, "sign_test_p"].item()
    expected = _bh_reference(out.loc[~overall, "sign_test_p"].tolist())
    np.testing.assert_allclose(out.loc[~overall, "q_value"].to_numpy(), expected)
    assert len(expected) == 7  # 4 features + 3 locales in one family
    for _, row in out.iterrows():
        bound = 0.5 - 0.05
        want = "green" if row.ci_low >= bound else ("red" if row.ci_high < bound else "amber")
        assert row.go == want
    assert out.loc[out["value"] == "json", "go"].item() == "red"


def test_decision_table_per_column_family_and_margin() -> None:
    table = slice_tables(_judgments(1), ["feature", "locale"])
    out = decision_table(table, margin=0.2, family="column")
    for column in ("feature", "locale"):
        rows = out["slice"] == column
        np.testing.assert_allclose(
            out.loc[rows, "q_value"].to_numpy(),
            _bh_reference(out.loc[rows, "sign_test_p"].tolist()),
        )
    pairs = zip(out["ci_low"], out["ci_high"], strict=True)
    assert out["go"].tolist() == [non_inferiority(lo, hi, 0.2) for lo, hi in pairs]
    with pytest.raises(ValueError):
        decision_table(table, family="slice")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        decision_table(table.drop(columns=["sign_test_p"]))


def test_decision_table_empty() -> None:
    out = decision_table(slice_tables(_judgments().iloc[:0], ["feature"]))
    assert out.empty and {"q_value", "go"} <= set(out.columns)


# --- overall_verdict ----------------------------------------------------------------------


def _table(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"slice": s, "value": v, "win_rate": (lo + hi) / 2, "ci_low": lo, "ci_high": hi}
            for s, v, lo, hi in rows
        ]
    )


def test_overall_verdict_go_with_amber_slices() -> None:
    table = _table(
        [
            ("overall", "all", 0.47, 0.55),
            ("feature", "chat", 0.46, 0.6),
            ("feature", "json", 0.40, 0.6),
        ]
    )
    result = overall_verdict(table, 0.05)
    assert result["verdict"] == "go"
    assert result["red_slices"] == []
    assert result["amber_slices"] == ["feature=json"]
    assert result["reason"].startswith("Go") and "feature=json" in result["reason"]


def test_overall_verdict_no_go_on_red_slice_or_overall() -> None:
    table = _table([("overall", "all", 0.47, 0.55), ("locale", "de", 0.2, 0.40)])
    result = overall_verdict(table)
    assert result["verdict"] == "no-go" and result["red_slices"] == ["locale=de"]
    assert "locale=de" in result["reason"]
    table = _table([("overall", "all", 0.30, 0.40), ("locale", "de", 0.46, 0.7)])
    result = overall_verdict(table)
    assert result["verdict"] == "no-go" and result["red_slices"] == []
    assert "overall" in result["reason"]


def test_overall_verdict_inconclusive_and_margin_recomputed() -> None:
    table = _table([("overall", "all", 0.42, 0.56), ("feature", "chat", 0.42, 0.7)])
    table["go"] = "green"  # stale colours are ignored
    result = overall_verdict(table, 0.05)
    assert result["verdict"] == "inconclusive"
    assert result["amber_slices"] == ["feature=chat"]
    assert overall_verdict(table, 0.1)["verdict"] == "go"


def test_overall_verdict_needs_one_overall_row() -> None:
    with pytest.raises(ValueError):
        overall_verdict(_table([("feature", "chat", 0.4, 0.6)]))
    with pytest.raises(ValueError):
        overall_verdict(_table([("overall", "all", 0.4, 0.6)] * 2))


def test_overall_verdict_on_real_pipeline() -> None:
    result = overall_verdict(decision_table(slice_tables(_judgments(), ["feature"])))
    assert result["verdict"] == "no-go" and "feature=json" in result["red_slices"]


# --- reweighted_win_rate ------------------------------------------------------------------


def test_reweighted_equal_weights_equal_unweighted() -> None:
    frame = _judgments(2).assign(weight=3.5)
    result = reweighted_win_rate(frame)
    row = win_rate_table(frame).iloc[0]
    assert result["n"] == len(frame)
    assert result["n_eff"] == pytest.approx(len(frame))
    assert result["win_rate"] == pytest.approx(row.win_rate, abs=1e-12)
    assert result["ci_low"] == pytest.approx(row.ci_low, abs=1e-9)
    assert result["ci_high"] == pytest.approx(row.ci_high, abs=1e-9)
    assert result["unweighted_win_rate"] == pytest.approx(row.win_rate)


def test_reweighted_hand_computed() -> None:
    frame = pd.DataFrame(
        {"choice": ["candidate", "baseline", "tie", "candidate"], "w": [1.0, 2.0, 3.0, 2.0]}
    )
    result = reweighted_win_rate(frame, weight_column="w")
    # sum w = 8, sum w*s = 1 + 0 + 1.5 + 2 = 4.5, sum w^2 = 1 + 4 + 9 + 4 = 18
    assert result["win_rate"] == pytest.approx(4.5 / 8)
    n_eff = 64 / 18
    assert result["n_eff"] == pytest.approx(n_eff)
    z = 1.959963984540054
    p = 4.5 / 8
    centre = (p + z * z / (2 * n_eff)) / (1 + z * z / n_eff)
    half = z * math.sqrt(p * (1 - p) / n_eff + z * z / (4 * n_eff**2)) / (1 + z * z / n_eff)
    assert result["ci_low"] == pytest.approx(centre - half)
    assert result["ci_high"] == pytest.approx(centre + half)
    sm_low, sm_high = proportion_confint(p * n_eff, n_eff, method="wilson")
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((sm_low, sm_high))
    assert result["unweighted_win_rate"] == pytest.approx(2.5 / 4)


def test_reweighted_validation_and_empty() -> None:
    frame = pd.DataFrame({"choice": ["candidate", "baseline"], "weight": [1.0, -1.0]})
    with pytest.raises(ValueError):
        reweighted_win_rate(frame)
    with pytest.raises(ValueError):
        reweighted_win_rate(frame.assign(weight=[0.0, 0.0]))
    with pytest.raises(ValueError):
        reweighted_win_rate(frame.assign(weight=[1.0, math.nan]))
    with pytest.raises(ValueError):
        reweighted_win_rate(frame.drop(columns=["weight"]))
    empty = reweighted_win_rate(frame.iloc[:0])
    assert empty["n"] == 0 and math.isnan(empty["win_rate"])


choice_st = st.sampled_from(["candidate", "baseline", "tie", "both_bad"])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(choice_st, st.integers(1, 5)), min_size=1, max_size=30))
def test_reweighted_integer_weights_equal_replication(rows: list[tuple[str, int]]) -> None:
    frame = pd.DataFrame(rows, columns=["choice", "weight"])
    result = reweighted_win_rate(frame)
    replicated = frame.loc[frame.index.repeat(frame["weight"])]
    assert result["win_rate"] == pytest.approx(win_rate_table(replicated).iloc[0].win_rate)
    scaled = reweighted_win_rate(frame.assign(weight=frame["weight"] * 7.25))
    for key in ("win_rate", "n_eff", "ci_low", "ci_high"):
        assert scaled[key] == pytest.approx(result[key])
    assert 1.0 - 1e-9 <= result["n_eff"] <= len(frame) + 1e-9
    assert result["ci_low"] <= result["win_rate"] <= result["ci_high"]
