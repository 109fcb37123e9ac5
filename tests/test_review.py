"""Review: server-side sides, unblinding, one vote per reviewer and pair, overlap, progress."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swapcheck.errors import NotFoundError, ReviewError, StudyError
from swapcheck.review import (
    PICKS,
    item_for,
    left_role_for,
    next_item,
    normalise_reviewer,
    submit_judgment,
    unblind,
)
from swapcheck.store import Store
from swapcheck.store.judgments import judgments_frame, ready_pair_ids, review_progress
from swapcheck.store.studies import create_study
from tests.helpers import simulated_study


@given(st.sampled_from(PICKS), st.sampled_from(["baseline", "candidate"]))
def test_unblind_maps_screen_picks_to_variants(pick: str, left_role: str) -> None:
    choice = unblind(pick, left_role)
    if pick == "left":
        assert choice == left_role
    elif pick == "right":
        assert choice != left_role and choice in ("baseline", "candidate")
    else:
        assert choice == pick


def test_sides_are_stable_balanced_and_depend_on_the_reviewer(
    tmp_store: Store, tmp_path: Path
) -> None:
    study = simulated_study(tmp_store, tmp_path, n=60)
    pairs = ready_pair_ids(tmp_store, study)
    for reviewer in ("ana", "bo"):
        roles = [left_role_for(study, p, reviewer) for p in pairs]
        assert roles == [left_role_for(study, p, reviewer) for p in pairs]
        assert 15 <= roles.count("candidate") <= 45  # ~50/50, binomial(60, .5) ± 4 sd
    assert [left_role_for(study, p, "ana") for p in pairs] != [
        left_role_for(study, p, "bo") for p in pairs
    ]


def test_item_shows_each_text_on_its_side(tmp_store: Store, tmp_path: Path) -> None:
    from swapcheck.store.judgments import pair_content

    study = simulated_study(tmp_store, tmp_path)
    for pair_id in ready_pair_ids(tmp_store, study):
        item = item_for(tmp_store, study, pair_id, "ana")
        content = pair_content(tmp_store, study, pair_id)
        if left_role_for(study, pair_id, "ana") == "candidate":
            assert (item.left_text, item.right_text) == (
                content.candidate_text,
                content.baseline_text,
            )
        else:
            assert (item.left_text, item.right_text) == (
                content.baseline_text,
                content.candidate_text,
            )


def test_votes_are_unblinded_on_the_server_and_stored_once(
    tmp_store: Store, tmp_path: Path
) -> None:
    study = simulated_study(tmp_store, tmp_path)
    item = next_item(tmp_store, study, "ana")
    assert item is not None
    first = submit_judgment(
        tmp_store,
        study,
        reviewer="ana",
        pair_id=item.pair_id,
        pick="left",
        comment="  clearer  ",
        time_on_item_ms=1234,
    )
    again = submit_judgment(tmp_store, study, reviewer="ana", pair_id=item.pair_id, pick="right")
    assert first is not None and again is None
    frame = judgments_frame(tmp_store, study)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row.choice == left_role_for(study, item.pair_id, "ana") == row.left_role
    assert row.comment == "clearer" and row.time_on_item_ms == 1234
    assert {"feature", "locale"} <= set(frame.columns)


def test_queue_skips_judged_pairs_and_respects_overlap(tmp_store: Store, tmp_path: Path) -> None:
    study = simulated_study(tmp_store, tmp_path, n=6, overlap=2)
    seen: dict[str, list[str]] = {"ana": [], "bo": [], "cy": []}
    for reviewer in seen:
        while (item := next_item(tmp_store, study, reviewer)) is not None:
            assert item.pair_id not in seen[reviewer]
            seen[reviewer].append(item.pair_id)
            submit_judgment(tmp_store, study, reviewer=reviewer, pair_id=item.pair_id, pick="tie")
    counts = judgments_frame(tmp_store, study).groupby("pair_id").size()
    assert (counts == 2).all() and len(counts) == 6
    assert len(seen["cy"]) == 0  # ana and bo filled the overlap of 2
    progress = review_progress(tmp_store, study, "ana")
    assert progress == {
        "pairs_total": 6,
        "pairs_ready": 6,
        "judgments_given": 12,
        "judgments_target": 12,
        "mine": 6,
    }


def test_skip_list_and_foreign_pairs(tmp_store: Store, tmp_path: Path) -> None:
    study = simulated_study(tmp_store, tmp_path, n=3)
    first = next_item(tmp_store, study, "ana")
    second = next_item(tmp_store, study, "ana", skip=(first.pair_id,))
    assert second is not None and second.pair_id != first.pair_id
    with pytest.raises(NotFoundError):
        submit_judgment(tmp_store, study, reviewer="ana", pair_id="pr_forged", pick="left")
    with pytest.raises(ReviewError):
        submit_judgment(tmp_store, study, reviewer="ana", pair_id=first.pair_id, pick="baseline")


def test_reviewer_names_are_validated() -> None:
    assert normalise_reviewer("  Ana   Lopez ") == "Ana Lopez"
    with pytest.raises(ReviewError, match="empty"):
        normalise_reviewer("   ")
    with pytest.raises(ReviewError, match="at most"):
        normalise_reviewer("x" * 65)


def test_study_names_may_not_leak_model_names(tmp_store: Store, tmp_path: Path) -> None:
    simulated_study(tmp_store, tmp_path)
    with pytest.raises(StudyError, match="blinding"):
        create_study(
            tmp_store, "sim-b rollout", baseline="base", candidate="cand", sources=["small.jsonl"]
        )
    with pytest.raises(StudyError, match="two different"):
        create_study(tmp_store, "x", baseline="base", candidate="base", sources=["small.jsonl"])
    with pytest.raises(StudyError, match="not slice columns"):
        create_study(
            tmp_store,
            "y",
            baseline="base",
            candidate="cand",
            sources=["small.jsonl"],
            slice_columns=["nope"],
        )
