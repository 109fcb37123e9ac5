"""Prioritised review: strata interleaving, selection weights, signals, and the queue with it on."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from swapcheck.errors import ConfigError
from swapcheck.review import left_role_for, next_item, submit_judgment
from swapcheck.review_priority import (
    PrioritySettings,
    interleave_keys,
    parse_priority_settings,
    priority_order,
    selection_weights,
    slice_decisions,
)
from swapcheck.stats_sequential import StratumData, slice_decision, stratified_interval
from swapcheck.store import Store
from swapcheck.store.priority import (
    contested_for_study,
    get_priority_settings,
    set_priority_settings,
)
from swapcheck.store.settings import set_setting
from swapcheck.store.studies import Study, set_review_settings
from tests.helpers import simulated_study

# ---------------------------------------------------------------- pure: settings and order


def test_settings_default_off_and_validated() -> None:
    assert parse_priority_settings(None) == PrioritySettings(False, 0.7, True)
    assert parse_priority_settings({"enabled": True, "contested_share": 0.5}).contested_share == 0.5
    for bad in (
        {"enabled": "yes"},
        {"contested_share": 0.9},  # would leave less than the 20% uniform share
        {"contested_share": "0.5"},
        {"enabled": True, "speed": 2},
        {"stop_rule": "whenever"},
        [True],
    ):
        with pytest.raises(ConfigError) as info:
            parse_priority_settings(bad)
        assert info.value.fix


def test_interleave_serves_the_contested_share_then_the_rest() -> None:
    flags = np.array([True] * 10 + [False] * 10)
    order = np.lexsort((np.arange(20), ~flags, interleave_keys(flags, 0.7)))
    served = flags[order].astype(int).tolist()
    assert served[:10] == [1, 0, 1, 1, 0, 1, 1, 0, 1, 1]  # 7 of 10 contested
    assert served[10:] == [0, 1, 1, 1, 0, 0, 0, 0, 0, 0]  # contested ran out: the rest
    only_uniform = np.lexsort((np.arange(20), ~flags, interleave_keys(flags, 0.0)))
    assert flags[only_uniform].tolist() == [False] * 10 + [True] * 10


def test_priority_order_hand_case() -> None:
    # rows in salted order; slice b is below the minimum (group 0), a undecided, c decided
    slices = ["a", "b", "a", "b", "a", "c", "a"]
    contested = [False, False, True, True, False, True, True]
    groups = [1, 0, 1, 0, 1, 2, 1]
    order = priority_order(slices, contested, groups, 0.7).tolist()
    # b: contested 3 then 1; a: keys c(2)=0, c(6)=1.43, u(0)=0, u(4)=3.33 -> 2, 0, 6, 4; c last
    assert order == [3, 1, 2, 0, 6, 4, 5]


def test_priority_order_keeps_each_stratum_in_salted_order_and_the_uniform_share() -> None:
    rng = np.random.default_rng(5)
    n = 600
    slices = rng.choice(["x", "y", "z"], size=n)
    contested = rng.random(n) < 0.4
    order = priority_order(slices, contested, np.ones(n, int), 0.7)
    assert sorted(order.tolist()) == list(range(n))
    for s in ("x", "y", "z"):
        mine = order[slices[order] == s]
        for flag in (True, False):  # each (slice, stratum) is a prefix of its salted order
            rows = mine[contested[mine] == flag]
            assert np.all(np.diff(rows) > 0)
        uniform_left = int((~contested[mine]).sum())
        seen_uniform = np.cumsum(~contested[mine])
        for t in range(1, mine.size + 1):
            if seen_uniform[t - 1] < uniform_left:  # the rest is never starved while it lasts
                assert seen_uniform[t - 1] >= math.floor(0.2 * t)


# ---------------------------------------------------------------- pure: weights


def test_selection_weights_hand_case() -> None:
    strata = pd.DataFrame(
        {
            "pair_id": ["p1", "p2", "p3", "p4", "q1"],
            "slice": ["A", "A", "A", "A", "B"],
            "contested": [True, True, False, False, False],
        }
    )
    judgments = pd.DataFrame({"pair_id": ["p1", "p1", "p3", "q1"]})
    weights = selection_weights(judgments, strata)
    # p1: N=2, n=1, k=2 -> 1 each; p3: N=2, n=1, k=1 -> 2; q1: N=1, n=1 -> 1
    assert weights.tolist() == [1.0, 1.0, 2.0, 1.0]
    with pytest.raises(ValueError, match="not among"):
        selection_weights(pd.DataFrame({"pair_id": ["zz"]}), strata)


def test_weighted_win_rate_is_unbiased_and_the_unweighted_one_is_not() -> None:
    rng = np.random.default_rng(11)
    n_pairs, judged = 100, 30
    contested = np.arange(n_pairs) < 30  # contested pairs: the candidate mostly loses
    p_candidate = np.where(contested, 0.1, 0.55)
    truth = float(p_candidate.mean())  # full-population win rate: 0.415
    strata = pd.DataFrame({"pair_id": np.arange(n_pairs), "slice": "s", "contested": contested})
    weighted, unweighted = [], []
    for _ in range(3000):
        salted = rng.permutation(n_pairs)
        order = salted[priority_order(["s"] * n_pairs, contested[salted], [1] * n_pairs, 0.7)]
        picked = order[:judged]
        votes = (rng.random(judged) < p_candidate[picked]).astype(float)
        w = selection_weights(pd.DataFrame({"pair_id": picked}), strata).to_numpy()
        weighted.append(float(np.sum(w * votes) / np.sum(w)))
        unweighted.append(float(votes.mean()))
    se = float(np.std(weighted)) / math.sqrt(len(weighted))
    assert abs(float(np.mean(weighted)) - truth) < 4 * se
    assert abs(float(np.mean(unweighted)) - truth) > 20 * se  # contested over-represented


def test_slice_decisions_from_pair_outcomes() -> None:
    population = pd.DataFrame({"slice": ["a"] * 40 + ["b"] * 40, "contested": False})
    outcomes = pd.DataFrame({"slice": ["a"] * 40, "contested": False, "score": 0.0})
    decisions = slice_decisions(population, outcomes, margin=0.05, rule="bound")
    low, high = stratified_interval([StratumData(1.0, np.zeros(40), 40)], 0.05)
    assert decisions == {"a": slice_decision(low, high, 0.05), "b": None}
    assert decisions["a"] == "no-go"
    # full_review: every pair of a judged, the finite-population interval is the point 0,
    # and 40 votes at 0 are red (Wilson upper 0.088 < 0.45)
    full = slice_decisions(population, outcomes, 0.05, rule="full_review", overlap=1)
    assert full == {"a": "no-go", "b": None}
    ties = pd.DataFrame({"slice": ["b"] * 40, "contested": False, "score": 0.5})
    assert slice_decisions(population, ties, 0.05, overlap=1)["b"] == "inconclusive"


# ---------------------------------------------------------------- store and queue


def _study(store: Store, tmp_path: Path, n: int) -> Study:
    study = simulated_study(store, tmp_path, n=n, overlap=1)  # slices: chat / json / summary
    return set_review_settings(
        store, study, rubric=(), reason_tags=(), identity_policy="warn", slice_minimum=0
    )


def _pairs(store: Store, study: Study) -> pd.DataFrame:
    with store.cursor() as cur:
        return cur.execute(
            "SELECT p.pair_id, p.prompt_id, json_extract_string(q.metadata, '$.feature') AS slice "
            "FROM pairs p JOIN prompts q USING (prompt_id) WHERE p.study_id = ? "
            "ORDER BY p.position",
            [study.study_id],
        ).df()


def _mark_refusal(store: Store, study: Study, prompt_ids: list[str]) -> None:
    with store.cursor() as cur:
        for prompt_id in prompt_ids:
            for variant, value in ((study.baseline_variant, 0.0), (study.candidate_variant, 1.0)):
                cur.execute(
                    "INSERT OR REPLACE INTO evaluation_scores (prompt_id, variant, against, "
                    "evaluator, config_hash, version, value) "
                    "VALUES (?, ?, '', 'refusal', '', 1, ?)",
                    [prompt_id, variant, value],
                )


def _drain(store: Store, study: Study, reviewer: str, pick_for: object = None) -> list[str]:
    served: list[str] = []
    while (item := next_item(store, study, reviewer)) is not None:
        served.append(item.pair_id)
        pick = pick_for(item.pair_id) if callable(pick_for) else "tie"
        submit_judgment(store, study, reviewer=reviewer, pair_id=item.pair_id, pick=pick)
    return served


def test_signals_mark_pairs_contested(tmp_store: Store, tmp_path: Path) -> None:
    study = _study(tmp_store, tmp_path, 12)
    pairs = _pairs(tmp_store, study)
    before = contested_for_study(tmp_store, study)  # answers twice as long count already
    plain = [p for p in pairs["pair_id"] if p not in before]
    assert len(plain) >= 4
    by_pair = dict(zip(pairs["pair_id"], pairs["prompt_id"], strict=True))
    _mark_refusal(tmp_store, study, [by_pair[plain[0]]])
    with tmp_store.cursor() as cur:  # same value on both sides: not a disagreement
        for variant in study.variants:
            cur.execute(
                "INSERT OR REPLACE INTO evaluation_scores (prompt_id, variant, against, evaluator, "
                "config_hash, version, value) VALUES (?, ?, '', 'json_valid', '', 1, 1)",
                [by_pair[plain[1]], variant],
            )
        cur.execute(
            "INSERT INTO judgments (judgment_id, study_id, pair_id, reviewer, reviewer_type, "
            "left_role, choice) VALUES ('jj1', ?, ?, 'judge:x', 'judge', 'baseline', 'baseline')",
            [study.study_id, plain[2]],
        )
        for left_role, verdict in (("baseline", "candidate"), ("candidate", "tie")):
            cur.execute(
                "INSERT INTO judge_calls (study_id, pair_id, judge_variant, rubric_hash, "
                "left_role, verdict) VALUES (?, ?, 'x', 'r', ?, ?)",
                [study.study_id, plain[3], left_role, verdict],
            )
    after = contested_for_study(tmp_store, study)
    assert after == before | {plain[0], plain[2], plain[3]}


def test_queue_serves_contested_pairs_at_the_configured_share(
    tmp_store: Store, tmp_path: Path
) -> None:
    study = _study(tmp_store, tmp_path, 48)
    pairs = _pairs(tmp_store, study)
    length_contested = contested_for_study(tmp_store, study)
    extra = [p for p in pairs["pair_id"] if p not in length_contested][::3]
    by_pair = dict(zip(pairs["pair_id"], pairs["prompt_id"], strict=True))
    _mark_refusal(tmp_store, study, [by_pair[p] for p in extra])
    contested = pairs["pair_id"].isin(length_contested | set(extra)).to_numpy()
    assert 0 < contested.sum() < len(pairs)
    set_priority_settings(
        tmp_store, study, PrioritySettings(True, contested_share=0.7, stop_decided_slices=False)
    )
    assert get_priority_settings(tmp_store, study).enabled
    served = _drain(tmp_store, study, "ana")
    expected = pairs["pair_id"].to_numpy()[
        priority_order(pairs["slice"], contested, np.ones(len(pairs), int), 0.7)
    ]
    assert served == expected.tolist()
    assert len(set(served)) == len(served) == len(pairs)  # nothing handed out twice
    flag = dict(zip(pairs["pair_id"], contested, strict=True))
    for s in pairs["slice"].unique():  # per slice: contested first at 70%, uniform kept
        seq = [flag[p] for p in served if p in set(pairs.loc[pairs["slice"] == s, "pair_id"])]
        n_uniform = seq.count(False)
        for t in range(1, len(seq) + 1):
            if seq[:t].count(False) < n_uniform:
                assert seq[:t].count(False) >= math.floor(0.2 * t)
            if seq[:t].count(True) < seq.count(True):
                assert seq[:t].count(True) >= math.floor(0.7 * t) - 1


def replay(
    pairs: pd.DataFrame, contested: np.ndarray, score_of: dict[str, float], study: Study
) -> tuple[list[str], dict[str, int]]:
    """Reference queue (slice minimum 0, overlap 1): the first pair of the priority order,
    decisions recomputed after every judgment; also when each slice got decided."""
    labels = pairs["slice"].to_numpy(object)
    population = pd.DataFrame({"slice": labels, "contested": contested})
    done: list[int] = []
    decided_at: dict[str, int] = {}
    while len(done) < len(pairs):
        outcomes = pd.DataFrame(
            {
                "slice": labels[done],
                "contested": contested[done],
                "score": [score_of[pairs["pair_id"].iat[i]] for i in done],
            }
        )
        decisions = slice_decisions(population, outcomes, study.margin, overlap=1)
        for s, d in decisions.items():
            if d is not None:
                decided_at.setdefault(s, len(done))
        groups = np.array([2 if decisions[s] is not None else 1 for s in labels])
        order = priority_order(labels, contested, groups, 0.7)
        done.append(int(next(i for i in order if i not in done)))
    return [pairs["pair_id"].iat[i] for i in done], decided_at


def test_decided_slices_move_last(tmp_store: Store, tmp_path: Path) -> None:
    study = _study(tmp_store, tmp_path, 60)  # 20 pairs per slice
    pairs = _pairs(tmp_store, study)
    slice_of = dict(zip(pairs["pair_id"], pairs["slice"], strict=True))
    set_priority_settings(tmp_store, study, PrioritySettings(True, 0.7, True))
    contested = pairs["pair_id"].isin(contested_for_study(tmp_store, study)).to_numpy()
    # json: the baseline always wins (decided early). Elsewhere the candidate wins every 4th
    # pair in each slice's own serving order: 5 of 20 puts a full review's Wilson upper bound
    # (0.454) just over the 0.45 no-go bound, so only (nearly) every pair can tell, whatever
    # the salt.
    within = priority_order(pairs["slice"], contested, np.ones(len(pairs), int), 0.7)
    served_first = pairs.iloc[within]  # each slice's own serving order (decisions move slices)
    rank = served_first.groupby("slice").cumcount().reindex(pairs.index).to_numpy()
    score_of = {
        p: 0.0 if slice_of[p] == "json" else float(r % 4 == 3)
        for r, p in zip(rank, pairs["pair_id"], strict=True)
    }

    def prefer_baseline_on_json(pair_id: str) -> str:
        wanted = "candidate" if score_of[pair_id] == 1.0 else "baseline"
        return "left" if left_role_for(study, pair_id, "ana") == wanted else "right"

    served = _drain(tmp_store, study, "ana", prefer_baseline_on_json)
    expected, decided_at = replay(pairs, contested, score_of, study)
    assert served == expected
    assert sorted(served) == sorted(pairs["pair_id"])  # every pair once, decided ones too
    # json (all baseline wins) is decided no-go with pairs left; they wait for undecided slices
    k = decided_at["json"]
    assert sum(slice_of[p] == "json" for p in served[:k]) < 20
    others_open = [s for s in ("chat", "summary") if decided_at.get(s, len(served)) > k]
    assert others_open
    assert slice_of[served[k]] in others_open


def test_disabled_priority_keeps_the_plain_order(tmp_store: Store, tmp_path: Path) -> None:
    study = _study(tmp_store, tmp_path, 24)
    pairs = _pairs(tmp_store, study)
    by_pair = dict(zip(pairs["pair_id"], pairs["prompt_id"], strict=True))
    _mark_refusal(tmp_store, study, [by_pair[p] for p in pairs["pair_id"][::2]])
    set_priority_settings(tmp_store, study, PrioritySettings(False, 0.7, True))
    assert _drain(tmp_store, study, "ana") == pairs["pair_id"].tolist()


def test_a_broken_setting_falls_back_to_the_plain_order(tmp_store: Store, tmp_path: Path) -> None:
    study = _study(tmp_store, tmp_path, 12)
    set_setting(tmp_store, f"review_priority.{study.study_id.lower()}", {"enabled": "maybe"})
    assert _drain(tmp_store, study, "ana") == _pairs(tmp_store, study)["pair_id"].tolist()


def test_no_signals_at_all_means_nothing_contested(tmp_store: Store, tmp_path: Path) -> None:
    study = _study(tmp_store, tmp_path, 12)
    with tmp_store.cursor() as cur:
        cur.execute("DELETE FROM evaluation_scores")
        cur.execute("UPDATE responses SET text = 'The same length of answer.'")
    assert contested_for_study(tmp_store, study) == set()
    set_priority_settings(tmp_store, study, PrioritySettings(True, 0.7, True))
    pairs = _pairs(tmp_store, study)
    expected = priority_order(pairs["slice"], np.zeros(len(pairs), bool), np.ones(len(pairs)), 0.7)
    assert _drain(tmp_store, study, "ana") == pairs["pair_id"].to_numpy()[expected].tolist()


def test_admin_status_counts_complete_pairs_like_the_queue(
    tmp_store: Store, tmp_path: Path
) -> None:
    """The Queue priority tab: only live human judgments make a pair fully judged, and each
    slice's decision is the one its fully judged pairs give, in queue order."""
    from swapcheck.review import undo_last_judgment
    from swapcheck.ui.review_priority_admin import priority_status
    from swapcheck.verdict_data import priority_strata

    study = _study(tmp_store, tmp_path, 60)  # 20 pairs per slice, overlap 1
    settings = PrioritySettings(True, 0.7, True)
    set_priority_settings(tmp_store, study, settings)
    slice_of = dict(zip(*_pairs(tmp_store, study)[["pair_id", "slice"]].T.to_numpy(), strict=True))
    scores: dict[str, float] = {}
    while len(scores) < 45 and (item := next_item(tmp_store, study, "ana")) is not None:
        wanted = "baseline" if slice_of[item.pair_id] == "json" else "candidate"
        pick = "left" if left_role_for(study, item.pair_id, "ana") == wanted else "right"
        submit_judgment(tmp_store, study, reviewer="ana", pair_id=item.pair_id, pick=pick)
        scores[item.pair_id] = 0.0 if wanted == "baseline" else 1.0
    undone = undo_last_judgment(tmp_store, study, "ana")  # an undone vote does not count
    assert undone is not None
    del scores[undone]
    unjudged = next(p for p in slice_of if p not in scores and p != undone)
    with tmp_store.cursor() as cur:  # neither does an LLM judge's verdict
        cur.execute(
            "INSERT INTO judgments (judgment_id, study_id, pair_id, reviewer, reviewer_type, "
            "left_role, choice) VALUES ('jj1', ?, ?, 'judge:x', 'judge', 'baseline', 'baseline')",
            [study.study_id, unjudged],
        )

    status = priority_status(tmp_store, study, settings).set_index("slice")

    strata = priority_strata(tmp_store, study)
    outcomes = strata[strata["pair_id"].isin(scores)].assign(
        score=lambda f: f["pair_id"].map(scores)
    )
    expected = slice_decisions(strata, outcomes, study.margin, rule=settings.stop_rule, overlap=1)
    for s in ("chat", "json", "summary"):
        judged = sum(slice_of[p] == s for p in scores)
        assert status.loc[s, "pairs"] == 20
        assert status.loc[s, "fully judged"] == status.loc[s, "votes"] == judged
        assert status.loc[s, "decided"] == (expected[s] or "not yet")
    assert status.loc["json", "decided"] == "no-go"  # the baseline won every json pair
