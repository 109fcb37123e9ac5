"""Hypothesis property tests: side swaps, duplicated votes, rates inside intervals, BH."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swapcheck.stats import position_bias, slice_tables
from swapcheck.stats_agreement import cohens_kappa, fleiss_kappa_report
from swapcheck.stats_decisions import decision_table, reweighted_win_rate
from swapcheck.stats_models import bradley_terry, length_controlled_win_rate

CHOICES = ["baseline", "candidate", "tie", "both_bad"]
SWAP = {"baseline": "candidate", "candidate": "baseline", "tie": "tie", "both_bad": "both_bad"}
FLOAT = 1e-12

vote = st.tuples(
    st.sampled_from(CHOICES),
    st.sampled_from(["baseline", "candidate"]),  # left_role
    st.sampled_from(["de", "en", "fr", None]),  # locale
    st.integers(1, 5),  # weight
)
votes_st = st.lists(vote, min_size=1, max_size=120)


def _frame(votes: list[tuple[str, str, str | None, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(votes, columns=["choice", "left_role", "locale", "weight"])
    frame.insert(0, "pair_id", [f"p{i}" for i in range(len(frame))])
    frame["reviewer"] = [f"r{i % 3}" for i in range(len(frame))]
    return frame


def _swapped(frame: pd.DataFrame) -> pd.DataFrame:
    """Baseline and candidate exchanged in every vote (and on the screen)."""
    out = frame.copy()
    out["choice"] = out["choice"].map(SWAP)
    out["left_role"] = out["left_role"].map(SWAP)
    return out


def _doubled(frame: pd.DataFrame) -> pd.DataFrame:
    copy = frame.copy()
    copy["pair_id"] = copy["pair_id"] + "-copy"
    return pd.concat([frame, copy], ignore_index=True)


@settings(max_examples=120, deadline=None)
@given(votes_st)
def test_swapping_sides_mirrors_rates_and_intervals(votes: list) -> None:
    frame = _frame(votes)
    table = slice_tables(frame, ["locale"]).set_index(["slice", "value"])
    mirror = slice_tables(_swapped(frame), ["locale"]).set_index(["slice", "value"])
    mirror = mirror.loc[table.index]
    np.testing.assert_allclose(mirror["win_rate"], 1 - table["win_rate"], atol=FLOAT)
    np.testing.assert_allclose(mirror["ci_low"], 1 - table["ci_high"], atol=FLOAT)
    np.testing.assert_allclose(mirror["ci_high"], 1 - table["ci_low"], atol=FLOAT)
    np.testing.assert_allclose(mirror["sign_test_p"], table["sign_test_p"], rtol=1e-12)
    assert (mirror["candidate_wins"] == table["baseline_wins"]).all()
    np.testing.assert_allclose(mirror["both_bad_ci_low"], table["both_bad_ci_low"], atol=0)
    flipped = {"better": "worse", "worse": "better", "inconclusive": "inconclusive"}
    assert mirror["verdict"].tolist() == table["verdict"].map(flipped).tolist()

    weighted, weighted_mirror = reweighted_win_rate(frame), reweighted_win_rate(_swapped(frame))
    assert weighted_mirror["win_rate"] == pytest.approx(1 - weighted["win_rate"], abs=FLOAT)
    assert weighted_mirror["ci_low"] == pytest.approx(1 - weighted["ci_high"], abs=1e-9)
    # left picks are unchanged: the same screen side was chosen
    bias, bias_mirror = position_bias(frame), position_bias(_swapped(frame))
    assert (bias_mirror["n_decisive"], bias_mirror["left_picks"]) == (
        bias["n_decisive"],
        bias["left_picks"],
    )


@settings(max_examples=40, deadline=None)
@given(votes_st, st.lists(st.integers(0, 3000), min_size=240, max_size=240))
def test_swapping_sides_mirrors_length_controlled_rate(votes: list, lengths: list[int]) -> None:
    frame = _frame(votes)
    frame["len_b"] = lengths[: len(frame)]
    frame["len_c"] = lengths[120 : 120 + len(frame)]
    ours = length_controlled_win_rate(frame, "len_b", "len_c")
    mirror = length_controlled_win_rate(_swapped(frame), "len_c", "len_b")
    assert ours["converged"] == mirror["converged"]
    if ours["converged"]:
        assert mirror["win_rate"] == pytest.approx(1 - ours["win_rate"], abs=1e-9)
        assert mirror["ci_low"] == pytest.approx(1 - ours["ci_high"], abs=1e-9)


@settings(max_examples=120, deadline=None)
@given(votes_st)
def test_duplicating_every_vote_keeps_rates_and_narrows_intervals(votes: list) -> None:
    frame = _frame(votes)
    table = slice_tables(frame, ["locale"]).set_index(["slice", "value"])
    twice = slice_tables(_doubled(frame), ["locale"]).set_index(["slice", "value"])
    twice = twice.loc[table.index]
    assert (twice["n"] == 2 * table["n"]).all()
    for rate in ("win_rate", "tie_rate", "both_bad_rate"):
        np.testing.assert_allclose(twice[rate], table[rate], atol=1e-15)
    for low, high in (("ci_low", "ci_high"), ("both_bad_ci_low", "both_bad_ci_high")):
        # Wilson's interval is {pi : (p - pi)^2 <= z^2 pi (1 - pi) / n}: nested as n grows
        assert (twice[low] >= table[low] - FLOAT).all()
        assert (twice[high] <= table[high] + FLOAT).all()
        assert (twice[high] - twice[low] <= table[high] - table[low] + FLOAT).all()
    assert (twice["sign_test_p"] <= table["sign_test_p"] + FLOAT).all()

    bias, bias_twice = position_bias(frame), position_bias(_doubled(frame))
    if bias["n_decisive"]:
        assert bias_twice["left_pick_rate"] == pytest.approx(bias["left_pick_rate"], abs=1e-15)
        assert bias_twice["ci_low"] >= bias["ci_low"] - FLOAT
        assert bias_twice["ci_high"] <= bias["ci_high"] + FLOAT


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(CHOICES), st.sampled_from(CHOICES)), min_size=2))
def test_duplicating_items_leaves_kappas_unchanged(rows: list[tuple[str, str]]) -> None:
    votes = [(f"p{i}", "ann", a) for i, (a, _) in enumerate(rows)]
    votes += [(f"p{i}", "bob", b) for i, (_, b) in enumerate(rows)]
    frame = pd.DataFrame(votes, columns=["pair_id", "reviewer", "choice"])
    twice = _doubled(frame)
    once_c, twice_c = cohens_kappa(frame, "ann", "bob"), cohens_kappa(twice, "ann", "bob")
    assert (math.isnan(once_c) and math.isnan(twice_c)) or twice_c == pytest.approx(once_c)
    once_f, twice_f = fleiss_kappa_report(frame)["kappa"], fleiss_kappa_report(twice)["kappa"]
    assert (math.isnan(once_f) and math.isnan(twice_f)) or twice_f == pytest.approx(once_f)


@settings(max_examples=120, deadline=None)
@given(votes_st, st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99]))
def test_rates_lie_within_their_intervals(votes: list, confidence: float) -> None:
    table = slice_tables(_frame(votes), ["locale"], confidence=confidence)
    assert ((table["ci_low"] <= table["win_rate"]) & (table["win_rate"] <= table["ci_high"])).all()
    assert ((table["ci_low"] >= 0) & (table["ci_high"] <= 1)).all()
    rate, low, high = table["both_bad_rate"], table["both_bad_ci_low"], table["both_bad_ci_high"]
    assert ((low <= rate) & (rate <= high)).all()
    weighted = reweighted_win_rate(_frame(votes), confidence=confidence)
    assert weighted["ci_low"] <= weighted["win_rate"] + FLOAT
    assert weighted["win_rate"] <= weighted["ci_high"] + FLOAT


@settings(max_examples=120, deadline=None)
@given(votes_st, votes_st)
def test_bh_q_values_of_a_slice_table_are_monotone_and_at_least_p(a: list, b: list) -> None:
    frame = _frame(a + b)
    frame["half"] = ["a"] * len(a) + ["b"] * len(b)
    out = decision_table(slice_tables(frame, ["locale", "half"]))
    rows = out[out["slice"] != "overall"]
    p, q = rows["sign_test_p"].to_numpy(), rows["q_value"].to_numpy()
    assert np.all(q >= p - 1e-15) and np.all(q <= 1.0)
    order = np.argsort(p, kind="mergesort")
    assert np.all(np.diff(q[order]) >= -1e-15)
    for value in set(p.tolist()):
        assert len(set(q[p == value].tolist())) == 1


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3), st.sampled_from("abt"))))
def test_bradley_terry_mirrors_when_every_outcome_is_reversed(extra: list) -> None:
    names = ["w", "x", "y", "z"]
    cycle = [(names[i], names[(i + 1) % 4], "a") for i in range(4)]
    cycle += [(names[i], names[(i + 1) % 4], "b") for i in range(4)]
    rows = cycle + [(names[i], names[(i + j) % 4], w) for i, j, w in extra]
    data = pd.DataFrame(rows, columns=["variant_a", "variant_b", "winner"])
    reversed_data = data.assign(winner=data["winner"].map({"a": "b", "b": "a", "t": "t"}))
    data["winner"] = data["winner"].replace({"t": "tie"})
    reversed_data["winner"] = reversed_data["winner"].replace({"t": "tie"})
    ours = bradley_terry(data, n_boot=0).set_index("variant")["rating"]
    mirror = bradley_terry(reversed_data, n_boot=0).set_index("variant")["rating"]
    np.testing.assert_allclose(mirror.loc[ours.index], 2000.0 - ours, atol=1e-9)
    swapped = data.rename(columns={"variant_a": "variant_b", "variant_b": "variant_a"})
    swapped["winner"] = reversed_data["winner"]
    same = bradley_terry(swapped, n_boot=0).set_index("variant")["rating"]
    np.testing.assert_allclose(same.loc[ours.index], ours, atol=1e-9)
