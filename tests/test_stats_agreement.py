"""Tests for swapcheck.stats_agreement against statsmodels and brute-force references."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa
from statsmodels.stats.proportion import proportion_confint

from swapcheck.stats import position_bias
from swapcheck.stats_agreement import (
    agreement_table,
    cohens_kappa,
    fleiss_kappa,
    fleiss_kappa_report,
    majority_vote,
    pairwise_agreement,
    position_bias_by_reviewer,
)

CHOICES = ["baseline", "candidate", "tie", "both_bad"]
choice_st = st.sampled_from(CHOICES)


def _frame(votes: list[tuple[str, str, str]], left: list[str] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(votes, columns=["pair_id", "reviewer", "choice"])
    frame["left_role"] = left if left is not None else "baseline"
    return frame


# --- pairwise_agreement -------------------------------------------------------------------


def _brute_agreement(frame: pd.DataFrame, include_ties: bool) -> tuple[int, int]:
    agree = total = 0
    for _, group in frame.groupby("pair_id"):
        for x, y in itertools.combinations(group["choice"].tolist(), 2):
            if not include_ties and not {x, y} <= {"baseline", "candidate"}:
                continue
            total += 1
            agree += x == y
    return agree, total


def test_pairwise_agreement_hand_computed() -> None:
    frame = _frame(
        [
            ("p1", "a", "candidate"),
            ("p1", "b", "candidate"),
            ("p1", "c", "tie"),  # 3 comparisons, 1 agree; decisive only: 1 of 1
            ("p2", "a", "baseline"),
            ("p2", "b", "candidate"),  # 1 comparison, 0 agree
            ("p3", "a", "tie"),  # single vote: ignored
        ]
    )
    assert pairwise_agreement(frame) == {"agreement": 1 / 4, "n_comparisons": 4, "n_items": 2}
    decisive = pairwise_agreement(frame, include_ties=False)
    assert decisive == {"agreement": 1 / 2, "n_comparisons": 2, "n_items": 2}


def test_pairwise_agreement_empty_and_singletons() -> None:
    result = pairwise_agreement(_frame([("p1", "a", "tie"), ("p2", "a", "candidate")]))
    assert math.isnan(result["agreement"]) and result["n_comparisons"] == 0
    assert pairwise_agreement(_frame([]))["n_comparisons"] == 0


votes_st = st.lists(
    st.tuples(st.sampled_from(["p1", "p2", "p3", "p4"]), st.just("r"), choice_st),
    min_size=0,
    max_size=25,
)


@settings(max_examples=100, deadline=None)
@given(votes_st, st.booleans())
def test_pairwise_agreement_matches_brute_force(votes: list, include_ties: bool) -> None:
    frame = _frame(votes)
    agree, total = _brute_agreement(frame, include_ties)
    result = pairwise_agreement(frame, include_ties=include_ties)
    assert result["n_comparisons"] == total
    if total:
        assert result["agreement"] == pytest.approx(agree / total)
    else:
        assert math.isnan(result["agreement"])


# --- cohens_kappa -------------------------------------------------------------------------


def test_cohens_kappa_hand_computed() -> None:
    # a: c c b b t ; b: c b b b t  -> p_o = 4/5
    # marginals a: c2 b2 t1, b: c1 b3 t1 -> p_e = (2*1 + 2*3 + 1*1) / 25 = 9/25
    a = ["candidate", "candidate", "baseline", "baseline", "tie"]
    b = ["candidate", "baseline", "baseline", "baseline", "tie"]
    votes = [(f"p{i}", "ann", c) for i, c in enumerate(a)]
    votes += [(f"p{i}", "bob", c) for i, c in enumerate(b)]
    votes += [("p9", "ann", "candidate"), ("p8", "bob", "baseline")]  # not shared: ignored
    kappa = cohens_kappa(_frame(votes), "ann", "bob")
    assert kappa == pytest.approx((4 / 5 - 9 / 25) / (1 - 9 / 25))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(choice_st, choice_st), min_size=2, max_size=40))
def test_cohens_kappa_matches_statsmodels(rows: list[tuple[str, str]]) -> None:
    votes = [(f"p{i}", "ann", a) for i, (a, _) in enumerate(rows)]
    votes += [(f"p{i}", "bob", b) for i, (_, b) in enumerate(rows)]
    frame = _frame(votes).sample(frac=1.0, random_state=0)
    table = agreement_table(frame, "ann", "bob")
    assert table.to_numpy().sum() == len(rows)
    ours = cohens_kappa(frame, "ann", "bob")
    a_set, b_set = {a for a, _ in rows}, {b for _, b in rows}
    if len(a_set) == 1 and a_set == b_set:
        assert math.isnan(ours)  # chance agreement is 1
        return
    expected = sm_cohens_kappa(table.to_numpy(), return_results=False)
    assert ours == pytest.approx(expected, abs=1e-12)


def test_cohens_kappa_edge_cases() -> None:
    assert math.isnan(
        cohens_kappa(_frame([("p1", "ann", "tie"), ("p2", "bob", "tie")]), "ann", "bob")
    )
    dup = _frame([("p1", "ann", "tie"), ("p1", "ann", "candidate"), ("p1", "bob", "tie")])
    with pytest.raises(ValueError, match="more than once"):
        cohens_kappa(dup, "ann", "bob")


# --- fleiss_kappa -------------------------------------------------------------------------


def _fleiss_reference(wide: np.ndarray) -> float:
    counts, _ = aggregate_raters(wide, n_cat=4)
    return float(sm_fleiss_kappa(counts, method="fleiss"))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 5),
    st.lists(st.lists(st.integers(0, 3), min_size=5, max_size=5), min_size=2, max_size=20),
)
def test_fleiss_kappa_matches_statsmodels(n_raters: int, codes: list[list[int]]) -> None:
    wide = np.array([row[:n_raters] for row in codes])
    votes = [
        (f"p{i}", f"r{j}", CHOICES[code])
        for i, row in enumerate(wide)
        for j, code in enumerate(row)
    ]
    report = fleiss_kappa_report(_frame(votes))
    assert report["n_items"] == len(wide) and report["n_dropped"] == 0
    assert report["n_raters"] == n_raters
    if len(np.unique(wide)) == 1:
        assert math.isnan(report["kappa"])
        return
    assert report["kappa"] == pytest.approx(_fleiss_reference(wide), abs=1e-12)


def test_fleiss_kappa_drops_items_with_other_vote_counts() -> None:
    rng = np.random.default_rng(3)
    wide = rng.integers(0, 4, size=(12, 3))
    votes = [
        (f"p{i}", f"r{j}", CHOICES[code])
        for i, row in enumerate(wide)
        for j, code in enumerate(row)
    ]
    votes += [("q1", "r0", "tie"), ("q1", "r1", "tie"), ("q2", "r0", "candidate")]
    frame = _frame(votes)
    with pytest.warns(UserWarning, match="dropped 2 pair"):
        kappa = fleiss_kappa(frame)
    assert kappa == pytest.approx(_fleiss_reference(wide), abs=1e-12)
    report = fleiss_kappa_report(frame)
    assert (report["n_items"], report["n_raters"], report["n_dropped"]) == (12, 3, 2)


def test_fleiss_kappa_no_eligible_items() -> None:
    report = fleiss_kappa_report(_frame([("p1", "a", "tie")]))
    assert math.isnan(report["kappa"]) and report["n_dropped"] == 1


def test_fleiss_kappa_perfect_agreement_hand() -> None:
    votes = [(f"p{i}", f"r{j}", c) for i, c in enumerate(["tie", "candidate"]) for j in range(3)]
    assert fleiss_kappa(_frame(votes)) == pytest.approx(1.0)


# --- majority_vote ------------------------------------------------------------------------


def test_majority_vote_hand_computed() -> None:
    frame = _frame(
        [
            ("p1", "a", "candidate"),
            ("p1", "b", "candidate"),
            ("p1", "c", "baseline"),
            ("p2", "a", "candidate"),
            ("p2", "b", "baseline"),
            ("p3", "a", "both_bad"),
        ]
    )
    out = majority_vote(frame)
    assert out.to_dict(orient="list") == {
        "pair_id": ["p1", "p2", "p3"],
        "choice": ["candidate", "tie", "both_bad"],
        "n_votes": [3, 2, 1],
        "n_majority": [2, 1, 1],
    }
    assert majority_vote(frame.iloc[:0]).empty


@settings(max_examples=80, deadline=None)
@given(votes_st.filter(bool))
def test_majority_vote_matches_counter(votes: list) -> None:
    frame = _frame(votes)
    out = majority_vote(frame).set_index("pair_id")
    assert sorted(out.index) == sorted({p for p, _, _ in votes})
    for pair, group in frame.groupby("pair_id"):
        counts = Counter(group["choice"]).most_common()
        top = counts[0][1]
        leaders = [c for c, k in counts if k == top]
        expected = leaders[0] if len(leaders) == 1 else "tie"
        assert out.loc[pair, "choice"] == expected
        assert out.loc[pair, "n_votes"] == len(group)
        assert out.loc[pair, "n_majority"] == top


# --- position_bias_by_reviewer ------------------------------------------------------------


def test_position_bias_by_reviewer_hand_and_wilson() -> None:
    votes = [
        ("p1", "ann", "candidate"),
        ("p2", "ann", "candidate"),
        ("p3", "ann", "baseline"),
        ("p4", "ann", "tie"),
        ("p1", "bob", "tie"),
    ]
    left = ["candidate", "candidate", "candidate", "baseline", "baseline"]
    out = position_bias_by_reviewer(_frame(votes, left))
    assert out["reviewer"].tolist() == ["ann", "bob"]
    ann = out.iloc[0]
    assert (ann.n, ann.left_picks) == (3, 2)
    assert ann.left_pick_rate == pytest.approx(2 / 3)
    low, high = proportion_confint(2, 3, method="wilson")
    assert (ann.ci_low, ann.ci_high) == pytest.approx((low, high))
    bob = out.iloc[1]
    assert bob.n == 0 and math.isnan(bob.left_pick_rate)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]), choice_st, st.sampled_from(["baseline", "candidate"])
        ),
        min_size=1,
        max_size=30,
    )
)
def test_position_bias_by_reviewer_matches_pooled_function(rows: list) -> None:
    frame = pd.DataFrame(rows, columns=["reviewer", "choice", "left_role"])
    frame["pair_id"] = [f"p{i}" for i in range(len(frame))]
    out = position_bias_by_reviewer(frame).set_index("reviewer")
    assert out["n"].sum() == position_bias(frame)["n_decisive"]
    for reviewer, group in frame.groupby("reviewer"):
        decisive = group[group["choice"].isin(["baseline", "candidate"])]
        left_picks = int((decisive["choice"] == decisive["left_role"]).sum())
        assert out.loc[reviewer, "n"] == len(decisive)
        assert out.loc[reviewer, "left_picks"] == left_picks


def test_position_bias_by_reviewer_empty() -> None:
    out = position_bias_by_reviewer(_frame([]))
    assert out.empty and list(out.columns)[:2] == ["reviewer", "n"]
