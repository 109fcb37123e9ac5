"""Review queue: slice minimum first then salted order, no repeats, expiry, gold, identity policy,
balanced sides."""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path

import pytest
from scipy.stats import binom

from swapcheck.errors import ReviewError
from swapcheck.review import (
    ReviewItem,
    item_for,
    left_role_for,
    next_item,
    skip_item,
    submit_judgment,
    undo_last_judgment,
)
from swapcheck.store import Store
from swapcheck.store.gold import mark_gold
from swapcheck.store.judgments import judgments_frame, ready_pair_ids
from swapcheck.store.studies import Study, set_review_settings
from tests.helpers import simulated_study

pytestmark = pytest.mark.both_backends  # tmp_store: DuckDB and PostgreSQL


def settings(store: Store, study: Study, **changes: object) -> Study:
    current = {
        "rubric": study.rubric,
        "reason_tags": study.reason_tags,
        "identity_policy": study.identity_policy,
        "slice_minimum": study.slice_minimum,
    }
    return set_review_settings(store, study, **{**current, **changes})  # type: ignore[arg-type]


def pair_slices(store: Store, study: Study) -> list[tuple[str, str]]:
    """(pair_id, feature) of every pair in the study's salted order."""
    with store.cursor() as cur:
        return cur.execute(
            "SELECT p.pair_id, json_extract_string(q.metadata, '$.feature') FROM pairs p "
            "JOIN prompts q USING (prompt_id) WHERE p.study_id = ? ORDER BY p.position",
            [study.study_id],
        ).fetchall()


def drain(store: Store, study: Study, reviewer: str, limit: int = 1000) -> list[str]:
    """Judge everything the queue serves this reviewer; the pair ids in serving order."""
    served: list[str] = []
    while (item := next_item(store, study, reviewer)) is not None and len(served) < limit:
        served.append(item.pair_id)
        submit_judgment(store, study, reviewer=reviewer, pair_id=item.pair_id, pick="tie")
    return served


def test_slices_below_the_minimum_come_first_then_the_salted_order(
    tmp_store: Store, tmp_path: Path
) -> None:
    study = simulated_study(tmp_store, tmp_path, n=24, overlap=1)  # 8 pairs per feature
    study = settings(tmp_store, study, slice_minimum=3)
    order = pair_slices(tmp_store, study)
    # reference: lowest position among pairs of slices still below 3 judgments, else lowest
    expected: list[str] = []
    counts = {feature: 0 for _, feature in order}
    remaining = list(order)
    while remaining:
        below = [p for p in remaining if counts[p[1]] < 3]
        pick = (below or remaining)[0]
        expected.append(pick[0])
        counts[pick[1]] += 1
        remaining.remove(pick)
    served = drain(tmp_store, study, "ana")
    assert served == expected
    feature = dict(order)
    first_nine = [feature[p] for p in served[:9]]
    assert all(first_nine.count(f) == 3 for f in ("chat", "json", "summary"))
    assert sorted(served) == sorted(p for p, _ in order)  # every pair exactly once


def test_without_a_minimum_the_queue_is_the_salted_order(tmp_store: Store, tmp_path: Path) -> None:
    study = settings(tmp_store, simulated_study(tmp_store, tmp_path, n=12), slice_minimum=0)
    assert drain(tmp_store, study, "ana") == [p for p, _ in pair_slices(tmp_store, study)]


def test_no_reviewer_sees_a_pair_twice_skips_and_undo(tmp_store: Store, tmp_path: Path) -> None:
    study = simulated_study(tmp_store, tmp_path, n=6, overlap=2)
    first = next_item(tmp_store, study, "ana")
    assert first is not None
    assert next_item(tmp_store, study, "ana").pair_id == first.pair_id  # held until judged
    skip_item(tmp_store, study, "ana", first.pair_id, "answers identical")
    served = drain(tmp_store, study, "ana")
    assert first.pair_id not in served and len(served) == 5
    assert next_item(tmp_store, study, "ana") is None
    with tmp_store.cursor() as cur:
        assert cur.execute("SELECT reason FROM skips").fetchall() == [("answers identical",)]
    # bo may still take the skipped pair (ana released it)
    assert first.pair_id in drain(tmp_store, study, "bo")
    # an undone pair comes back first, and only to the reviewer who undid it
    undone = undo_last_judgment(tmp_store, study, "ana")
    assert undone == served[-1]
    again = next_item(tmp_store, study, "ana")
    assert again is not None and again.pair_id == undone
    other = next_item(tmp_store, study, "cy")  # ana holds the reopened slot; only the
    assert other is not None and other.pair_id == first.pair_id  # skipped pair is left
    skip_item(tmp_store, study, "cy", other.pair_id, "other")
    assert next_item(tmp_store, study, "cy") is None
    submit_judgment(tmp_store, study, reviewer="ana", pair_id=undone, pick="left")
    frame = judgments_frame(tmp_store, study)
    assert len(frame) == 11 and frame.groupby(["reviewer", "pair_id"]).size().max() == 1


def test_reservations_expire_so_the_last_slot_is_never_taken_twice(
    tmp_store: Store, tmp_path: Path
) -> None:
    study = simulated_study(tmp_store, tmp_path, n=1, overlap=1)
    held = next_item(tmp_store, study, "ana")
    assert held is not None
    assert next_item(tmp_store, study, "bo") is None  # ana holds the only slot
    with tmp_store.cursor() as cur:  # fifteen minutes later
        cur.execute("UPDATE reservations SET expires_at = now() - INTERVAL 1 SECOND")
    taken = next_item(tmp_store, study, "bo")
    assert taken is not None and taken.pair_id == held.pair_id
    with pytest.raises(ReviewError, match="all the judgments"):
        submit_judgment(tmp_store, study, reviewer="ana", pair_id=held.pair_id, pick="left")
    assert submit_judgment(tmp_store, study, reviewer="bo", pair_id=held.pair_id, pick="left")
    assert len(judgments_frame(tmp_store, study)) == 1


def test_gold_items_are_served_like_any_other(tmp_store: Store, tmp_path: Path) -> None:
    study = simulated_study(tmp_store, tmp_path, n=6)
    study = settings(tmp_store, study, slice_minimum=0)
    pairs = ready_pair_ids(tmp_store, study)
    mark_gold(tmp_store, study, pairs[2], "candidate", note="clearly better", marked_by="admin")
    items: list[ReviewItem] = []
    while (item := next_item(tmp_store, study, "ana")) is not None:
        items.append(item)
        submit_judgment(tmp_store, study, reviewer="ana", pair_id=item.pair_id, pick="tie")
    assert [i.pair_id for i in items] == pairs  # gold keeps its place in the order
    gold_item = items[2]
    assert {f.name for f in dataclasses.fields(gold_item)} == {
        "pair_id",
        "system",
        "messages",
        "left_text",
        "right_text",
        "rubric",
        "reason_tags",
    }
    assert "gold" not in repr(gold_item).lower() and "clearly better" not in repr(gold_item)


LEAK = "As an AI developed by OpenAI, I would open the settings first."


def _plant_leak(store: Store, study: Study, pair_id: str) -> None:
    with store.cursor() as cur:
        cur.execute(
            "UPDATE responses SET text = ? WHERE variant = ? AND prompt_id = "
            "(SELECT prompt_id FROM pairs WHERE pair_id = ?)",
            [LEAK, study.candidate_variant, pair_id],
        )


def test_identity_policies_mask_exclude_or_show(tmp_store: Store, tmp_path: Path) -> None:
    study = simulated_study(tmp_store, tmp_path, n=4)
    study = settings(tmp_store, study, slice_minimum=0)
    pairs = ready_pair_ids(tmp_store, study)
    _plant_leak(tmp_store, study, pairs[0])
    with tmp_store.cursor() as cur:  # the identity_leak evaluator's flag on another pair
        cur.execute(
            "INSERT INTO evaluation_scores (prompt_id, variant, evaluator, version, value, label) "
            "SELECT prompt_id, ?, 'identity_leak', 2, 1.0, 'vendor' FROM pairs WHERE pair_id = ? "
            "ON CONFLICT DO UPDATE SET value = 1.0",
            [study.baseline_variant, pairs[1]],
        )
    masked = next_item(tmp_store, study, "ana")
    assert masked is not None and masked.pair_id == pairs[0]
    shown = masked.left_text + masked.right_text
    assert "OpenAI" not in shown and "[model identity removed]" in shown
    warn = settings(tmp_store, study, identity_policy="warn")
    shown_raw = item_for(tmp_store, warn, pairs[0], "bo")
    assert LEAK in {shown_raw.left_text, shown_raw.right_text}
    skip_item(tmp_store, study, "ana", pairs[0], "other")  # free the leaking pair again
    exclude = settings(tmp_store, study, identity_policy="exclude")
    served = drain(tmp_store, exclude, "cy")
    assert served == pairs[2:]  # the leaking pair and the flagged pair are dropped


def test_each_reviewer_sees_the_candidate_left_about_half_the_time() -> None:
    # fixed salt and ids: the keyed hash is deterministic, so this check cannot flake
    study = Study(
        study_id="st_fixed",
        name="balance",
        baseline_variant="base",
        candidate_variant="cand",
        source_ids=(),
        slice_columns=(),
        overlap=1,
        margin=0.05,
        blind_salt="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    )
    pairs = [f"pr_{i:016x}" for i in range(400)]
    low, high = binom.ppf(0.0005, 400, 0.5), binom.isf(0.0005, 400, 0.5)  # 99.9% band
    shares = {}
    for reviewer in ("ana", "bo", "cy", "dee", "eli"):
        left = sum(left_role_for(study, p, reviewer) == "candidate" for p in pairs)
        assert low <= left <= high, (reviewer, left, low, high)
        shares[reviewer] = left
    assert len(set(shares.values())) > 1  # sides depend on the reviewer
    # a different secret gives a different assignment
    other = dataclasses.replace(study, blind_salt=secrets.token_hex(16))
    assert [left_role_for(other, p, "ana") for p in pairs] != [
        left_role_for(study, p, "ana") for p in pairs
    ]
