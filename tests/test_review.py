"""Review: server-side sides, unblinding, one vote per reviewer and pair, overlap, progress."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

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
from swapcheck.store import Store, studies
from swapcheck.store.judgments import judgments_frame, ready_pair_ids, review_progress
from swapcheck.store.studies import create_study
from tests.helpers import simulated_study

pytestmark = pytest.mark.both_backends  # tmp_store: DuckDB and PostgreSQL


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
    tmp_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a fixed study id and secret: pair ids and sides are then fixed, so the balance check
    # below is a fact about this study, not a 1-in-6000 chance of failing
    monkeypatch.setattr(studies, "uuid", SimpleNamespace(uuid4=lambda: uuid.UUID(int=0x5EED)))
    monkeypatch.setattr(studies, "secrets", SimpleNamespace(token_hex=lambda n: "ab" * n))
    study = simulated_study(tmp_store, tmp_path, n=60)
    assert (study.study_id, study.blind_salt) == ("st_" + f"{0x5EED:032x}"[:12], "ab" * 16)
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
    with pytest.raises(ReviewError, match="LLM judges"):  # the prefix always means a judge
        normalise_reviewer("Judge:Ana")


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


def test_new_studies_get_default_review_settings_which_validate(
    tmp_store: Store, tmp_path: Path
) -> None:
    from swapcheck.store.studies import DEFAULT_REASON_TAGS, get_study, set_review_settings

    study = simulated_study(tmp_store, tmp_path)
    assert study.rubric == ("correctness", "format", "tone", "safety")
    assert study.reason_tags == DEFAULT_REASON_TAGS and "refused" in study.reason_tags
    assert (study.identity_policy, study.slice_minimum) == ("mask", 30)
    assert get_study(tmp_store, study.study_id) == study
    updated = set_review_settings(
        tmp_store,
        study,
        rubric=[" correctness ", "brevity", "brevity"],
        reason_tags=("shorter",),
        identity_policy="exclude",
        slice_minimum=5,
    )
    assert updated.rubric == ("correctness", "brevity") and updated.reason_tags == ("shorter",)
    assert get_study(tmp_store, study.name) == updated
    for bad in (
        {"identity_policy": "hide"},
        {"slice_minimum": -1},
        {"slice_minimum": 2.5},
        {"rubric": ["x" * 41]},
        {"reason_tags": [""]},
    ):
        args = {
            "rubric": (),
            "reason_tags": (),
            "identity_policy": "mask",
            "slice_minimum": 0,
            **bad,
        }
        with pytest.raises(StudyError) as err:
            set_review_settings(tmp_store, study, **args)  # type: ignore[arg-type]
        assert err.value.fix
    assert get_study(tmp_store, study.name) == updated  # nothing half-saved


def test_criteria_and_reason_tags_are_checked_and_stored_unblinded(
    tmp_store: Store, tmp_path: Path
) -> None:
    study = simulated_study(tmp_store, tmp_path, n=3)
    item = next_item(tmp_store, study, "ana")
    assert item is not None and item.rubric == study.rubric
    assert item.reason_tags == study.reason_tags
    with pytest.raises(ReviewError, match="Unknown criterion"):
        submit_judgment(
            tmp_store,
            study,
            reviewer="ana",
            pair_id=item.pair_id,
            pick="left",
            criteria={"speed": "left"},
        )
    with pytest.raises(ReviewError, match="Unknown choice"):
        submit_judgment(
            tmp_store,
            study,
            reviewer="ana",
            pair_id=item.pair_id,
            pick="left",
            criteria={"tone": "baseline"},
        )
    with pytest.raises(ReviewError, match="reason tag"):
        submit_judgment(
            tmp_store,
            study,
            reviewer="ana",
            pair_id=item.pair_id,
            pick="left",
            reason_tags=("made up",),
        )
    submit_judgment(
        tmp_store,
        study,
        reviewer="ana",
        pair_id=item.pair_id,
        pick="right",
        criteria={"correctness": "left", "tone": "same"},
        reason_tags=("safer", "more accurate"),
    )
    row = judgments_frame(tmp_store, study).iloc[0]
    left = left_role_for(study, item.pair_id, "ana")
    right = "candidate" if left == "baseline" else "baseline"
    assert row.choice == right
    assert row.criteria == {"correctness": left, "tone": "same"}
    assert row.reason_tags == ["safer", "more accurate"]


def test_undo_touches_only_the_reviewers_own_latest_live_judgment(
    tmp_store: Store, tmp_path: Path
) -> None:
    from swapcheck.pipeline import study_results
    from swapcheck.review import undo_last_judgment

    study = simulated_study(tmp_store, tmp_path, n=4, overlap=2)
    assert undo_last_judgment(tmp_store, study, "ana") is None
    judged: list[str] = []
    for _ in range(3):
        item = next_item(tmp_store, study, "ana")
        submit_judgment(tmp_store, study, reviewer="ana", pair_id=item.pair_id, pick="left")
        judged.append(item.pair_id)
    bo_item = next_item(tmp_store, study, "bo")
    submit_judgment(tmp_store, study, reviewer="bo", pair_id=bo_item.pair_id, pick="tie")
    assert undo_last_judgment(tmp_store, study, "ana") == judged[2]
    assert undo_last_judgment(tmp_store, study, "ana") == judged[1]
    frame = judgments_frame(tmp_store, study)
    assert sorted(zip(frame.reviewer, frame.pair_id, strict=True)) == sorted(
        [("ana", judged[0]), ("bo", bo_item.pair_id)]
    )
    assert study_results(tmp_store, study)["n_judgments"] == 2
    assert review_progress(tmp_store, study, "ana")["mine"] == 1
    with tmp_store.cursor() as cur:  # undo marks, never deletes
        assert cur.execute("SELECT count(*) FROM judgments").fetchall()[0][0] == 4
    # the newest undone pair comes back first, then the older one; re-judging is allowed
    for expected in (judged[1], judged[2]):
        item = next_item(tmp_store, study, "ana")
        assert item is not None and item.pair_id == expected
        assert submit_judgment(tmp_store, study, reviewer="ana", pair_id=expected, pick="tie")
    assert len(judgments_frame(tmp_store, study)) == 4


def test_skip_reasons_and_progress_without_win_rates(tmp_store: Store, tmp_path: Path) -> None:
    from swapcheck.review import (
        SKIP_REASONS,
        reviewer_progress,
        skip_item,
        study_progress,
    )

    study = simulated_study(tmp_store, tmp_path, n=6, overlap=2)
    assert study_progress(tmp_store, study) == {
        "pairs": 6,
        "judgments_given": 0,
        "judgments_target": 12,
        "reviewers": 0,
        "slices_below_minimum": 3,  # feature: chat, json, summary, each below 30
    }
    first = next_item(tmp_store, study, "ana")
    with pytest.raises(ReviewError, match="200"):
        skip_item(tmp_store, study, "ana", first.pair_id, "x" * 201)
    with pytest.raises(ReviewError, match="reason"):
        skip_item(tmp_store, study, "ana", first.pair_id, "  ")
    skip_item(tmp_store, study, "ana", first.pair_id, "mail me at ana@example.com")
    with tmp_store.cursor() as cur:
        assert cur.execute("SELECT reason FROM skips").fetchall() == [("mail me at [EMAIL]",)]
    second = next_item(tmp_store, study, "ana")
    skip_item(tmp_store, study, "ana", second.pair_id, SKIP_REASONS[0])
    third = next_item(tmp_store, study, "ana")
    submit_judgment(tmp_store, study, reviewer="ana", pair_id=third.pair_id, pick="left")
    assert reviewer_progress(tmp_store, study, "ana") == {
        "mine": 1,
        "skipped": 2,
        "available_to_me": 3,
    }
    bo = next_item(tmp_store, study, "bo")  # held by bo: still available to bo
    assert reviewer_progress(tmp_store, study, "bo")["available_to_me"] == 6 - 0
    submit_judgment(tmp_store, study, reviewer="bo", pair_id=bo.pair_id, pick="tie")
    progress = study_progress(tmp_store, study)
    assert progress["judgments_given"] == 2 and progress["reviewers"] == 2
    assert not any("win" in key for key in progress)


def test_gold_items_mark_unmark_and_validate(tmp_store: Store, tmp_path: Path) -> None:
    from swapcheck.store.gold import gold_frame, mark_gold, unmark_gold

    study = simulated_study(tmp_store, tmp_path, n=3)
    pairs = ready_pair_ids(tmp_store, study)
    mark_gold(tmp_store, study, pairs[0], "candidate", note=" obvious ", marked_by="admin")
    mark_gold(tmp_store, study, pairs[1], "tie", marked_by="admin")
    mark_gold(tmp_store, study, pairs[1], "both_bad", marked_by="lead")  # re-mark replaces
    frame = gold_frame(tmp_store, study).set_index("pair_id")
    assert list(frame.columns) == ["expected", "note", "marked_by", "created_at"]
    assert frame.loc[pairs[0], "expected"] == "candidate"
    assert frame.loc[pairs[0], "note"] == "obvious"
    assert tuple(frame.loc[pairs[1], ["expected", "marked_by"]]) == ("both_bad", "lead")
    unmark_gold(tmp_store, study, pairs[0])
    assert list(gold_frame(tmp_store, study).pair_id) == [pairs[1]]
    with pytest.raises(ReviewError, match="expected verdict"):
        mark_gold(tmp_store, study, pairs[2], "left", marked_by="admin")
    with pytest.raises(NotFoundError):
        mark_gold(tmp_store, study, "pr_forged", "tie", marked_by="admin")
