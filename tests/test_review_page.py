"""Review page (AppTest): votes carry rubric, tags and comment; undo, skip; no win rates shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from swapcheck.review import SKIP_REASONS, left_role_for
from swapcheck.store import Store
from swapcheck.store.judgments import pair_content
from swapcheck.store.studies import Study
from tests.apptest_utils import assert_no_exception, browser_payload, open_page
from tests.helpers import simulated_study

REVIEWER = "Dana"
SECRET_NAMES = ("base", "cand", "sim-a", "sim-b", "simulated", "baseline", "candidate")
"""The fixture's variant names, models and provider, and the roles: never on the page."""
HOSTILE_PREFIX = '<img src=x onerror="window.__pwned=1"> <script>alert(1)</script> same '


@pytest.fixture
def study(isolated_env: Path, tmp_path: Path) -> Study:
    store = Store(isolated_env, linger=0)
    try:
        return simulated_study(store, tmp_path, n=6)
    finally:
        store.close()


def signed_in_page() -> AppTest:
    at = open_page("review")
    at.text_input[0].input(REVIEWER)
    at.form_submit_button[0].click().run()
    assert_no_exception(at)
    return at


def key(at: AppTest, name: str) -> str:
    """The positional widget key of ``name`` for the item on screen."""
    return f"review_{name}_{at.session_state['review_seq']}"


def shown_pair(at: AppTest) -> str:
    return at.session_state["review_pair_id"]


def judged(at: AppTest) -> int:
    caption = next(c.value for c in at.caption if "you judged" in c.value)
    match = re.search(r"you judged (\d+) pairs?\b", caption)
    assert match, caption
    return int(match.group(1))


def db_rows(db: Path, sql: str, params: list[object]) -> list[tuple]:
    store = Store(db, linger=0)
    try:
        with store.cursor() as cur:
            return cur.execute(sql, params).fetchall()
    finally:
        store.close()


def other_role(role: str) -> str:
    return "candidate" if role == "baseline" else "baseline"


def test_vote_stores_rubric_tags_comment_and_time_unblinded(
    study: Study, isolated_env: Path
) -> None:
    at = signed_in_page()
    pair = shown_pair(at)
    rubric = [
        r.label.lower() for r in at.segmented_control if r.key.startswith("review_criterion_")
    ]
    assert rubric == ["correctness", "format", "tone", "safety"]  # the study's default rubric
    at.segmented_control(key=key(at, "criterion_0")).set_value("left")
    at.segmented_control(key=key(at, "criterion_2")).set_value("right")
    at.segmented_control(key=key(at, "criterion_3")).set_value("same")
    at.pills(key=key(at, "tags")).set_value(["more accurate", "safer"])
    at.text_input(key=key(at, "comment")).input("left explains the steps")
    at.button(key="pick_right").click().run()
    assert_no_exception(at)
    assert judged(at) == 1 and shown_pair(at) != pair

    rows = db_rows(
        isolated_env,
        "SELECT pair_id, reviewer, left_role, choice, criteria, reason_tags, comment, "
        "time_on_item_ms, undone_at FROM judgments",
        [],
    )
    assert len(rows) == 1
    pair_id, reviewer, left_role, choice, criteria, tags, comment, ms, undone = rows[0]
    assert (pair_id, reviewer, undone) == (pair, REVIEWER, None)
    assert left_role == left_role_for(study, pair, REVIEWER)
    assert choice == other_role(left_role)  # "right" unblinded
    assert json.loads(criteria) == {
        "correctness": left_role,
        "tone": other_role(left_role),
        "safety": "same",
    }
    assert sorted(json.loads(tags)) == ["more accurate", "safer"]
    assert comment == "left explains the steps"
    assert isinstance(ms, int) and ms >= 0
    # the next item starts with a blank form
    assert at.segmented_control(key=key(at, "criterion_0")).value is None
    assert at.pills(key=key(at, "tags")).value == []
    assert at.text_input(key=key(at, "comment")).value == ""


def test_undo_brings_the_pair_back_and_marks_the_vote_undone(
    study: Study, isolated_env: Path
) -> None:
    at = signed_in_page()
    first = shown_pair(at)
    at.button(key="pick_tie").click().run()
    assert judged(at) == 1
    assert shown_pair(at) != first
    at.button(key="review_undo").click().run()
    assert_no_exception(at)
    assert shown_pair(at) == first, "the undone pair comes back first"
    assert judged(at) == 0
    assert "undone" in at.toast[0].value
    store = Store(isolated_env, linger=0)
    try:
        content = pair_content(store, study, first)
    finally:
        store.close()
    left = (
        content.candidate_text
        if left_role_for(study, first, REVIEWER) == "candidate"
        else (content.baseline_text)
    )
    assert (
        left.split()[0] in at.markdown[[m.value for m in at.markdown].index("#### Left") + 1].value
    )

    at.button(key="pick_left").click().run()  # vote again on the same pair
    rows = db_rows(
        isolated_env,
        "SELECT choice, undone_at IS NOT NULL FROM judgments WHERE pair_id = ? ORDER BY created_at",
        [first],
    )
    assert rows == [("tie", True), (left_role_for(study, first, REVIEWER), False)]
    assert judged(at) == 1


def test_undo_with_nothing_to_undo_says_so(study: Study) -> None:
    at = signed_in_page()
    pair = shown_pair(at)
    at.button(key="review_undo").click().run()
    assert_no_exception(at)
    assert "no vote of yours to undo" in at.toast[0].value
    assert shown_pair(at) == pair


def test_skip_stores_the_reason_and_never_offers_the_pair_again(
    study: Study, isolated_env: Path
) -> None:
    at = signed_in_page()
    first = shown_pair(at)
    at.selectbox(key=key(at, "skip_reason")).set_value("answers identical")
    at.button(key="pick_skip").click().run()
    assert_no_exception(at)
    second = shown_pair(at)
    assert second != first
    at.selectbox(key=key(at, "skip_reason")).set_value("other")
    at.text_input(key=key(at, "skip_other")).input("prompt is in Finnish")
    at.button(key="pick_skip").click().run()
    assert_no_exception(at)
    assert shown_pair(at) not in (first, second)
    caption = next(c.value for c in at.caption if "you judged" in c.value)
    assert "skipped 2" in caption
    rows = db_rows(
        isolated_env, "SELECT pair_id, reviewer, reason FROM skips ORDER BY created_at", []
    )
    assert rows == [
        (first, REVIEWER, "answers identical"),
        (second, REVIEWER, "prompt is in Finnish"),
    ]
    assert "answers identical" in SKIP_REASONS


def test_reviewer_sees_own_progress_no_win_rates_and_no_variant_names(study: Study) -> None:
    at = signed_in_page()
    for pick in ("left", "left", "right"):
        at.button(key=f"pick_{pick}").click().run()
        assert_no_exception(at)
    payload = browser_payload(at).lower()
    caption = next(c.value for c in at.caption if "you judged" in c.value)
    assert re.search(r"you judged 3 pairs · skipped 0 · 3 left for you", caption), caption
    assert not re.search(r"\bwin", payload) and not re.search(r"\d\s*%", payload)
    assert "judgments collected" not in payload  # no study-wide totals either
    for name in SECRET_NAMES:
        assert not re.search(rf"\b{re.escape(name)}\b", payload), name
    assert "pick_left" in payload  # widget keys are in the payload checked above


def test_shortcuts_are_bound_and_documented(study: Study) -> None:
    at = signed_in_page()
    shortcuts = {
        b.key: b.proto.shortcut
        for b in at.button
        if b.key and b.key.startswith(("review_", "pick_"))
    }
    assert shortcuts == {
        "pick_left": "1",
        "pick_right": "2",
        "pick_tie": "3",
        "pick_both_bad": "4",
        "pick_skip": "s",
        "review_undo": "u",
        "review_diff_button": "d",
    }
    help_text = next(c.value for c in at.caption if c.value.startswith("Keyboard:"))
    for documented in (
        "**1**",
        "**2**",
        "**3**",
        "**4**",
        "**S** skip",
        "**U** undo",
        "**D** word",
        "**Tab**",
    ):
        assert documented in help_text
    assert not at.get("html")  # the diff highlight is off by default
    assert "hidden" in at.button(key="review_diff_button").label


def test_diff_highlight_renders_escaped_html(isolated_env: Path, study: Study) -> None:
    store = Store(isolated_env, linger=0)
    try:
        with store.cursor() as cur:
            cur.execute("UPDATE responses SET text = ? || md5(variant)", [HOSTILE_PREFIX])
    finally:
        store.close()
    at = signed_in_page()
    at.button(key="review_diff_button").click().run()
    assert_no_exception(at)
    bodies = [h.proto.body for h in at.get("html")]
    assert len(bodies) == 2
    for body in bodies:
        assert "<img" not in body and "<script" not in body
        assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in body
        assert body.count("<mark") == 1  # only the variant-specific word differs
