"""Review admin page (AppTest): settings saved, identity flags, gold items, reviewer quality."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from swapcheck.review import left_role_for, submit_judgment
from swapcheck.store import Store
from swapcheck.store.gold import gold_frame, mark_gold
from swapcheck.store.judgments import pair_content, ready_pair_ids
from swapcheck.store.studies import Study, get_study, set_review_settings
from swapcheck.ui.render import neutralise_markdown
from tests.apptest_utils import APP, assert_no_exception, browser_payload, open_page
from tests.helpers import simulated_study

pytestmark = pytest.mark.both_backends  # tmp_store: DuckDB and PostgreSQL

LEAK_CAND = "As an AI developed by OpenAI, I would open Settings first."
LEAK_BASE = "GPT-4 here. Open Settings and press Reset."


@pytest.fixture
def study(tmp_store: Store, tmp_path: Path) -> Study:
    return simulated_study(tmp_store, tmp_path, n=6, overlap=2, name="password review")


def _button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def _flags_table(at: AppTest):  # type: ignore[no-untyped-def]
    """The identity-flags table (other tabs hold tables too)."""
    return next(d.value for d in at.dataframe if "phrases" in d.value.columns)


def _set_answer(store: Store, study: Study, pair_id: str, variant: str, text: str) -> None:
    """Give one answer a new text and forget its scores (as if generated before the check)."""
    prompt_id = pair_content(store, study, pair_id).prompt_id
    with store.cursor() as cur:
        cur.execute(
            "UPDATE responses SET text = ? WHERE prompt_id = ? AND variant = ?",
            [text, prompt_id, variant],
        )
        cur.execute(
            "DELETE FROM evaluation_scores WHERE prompt_id = ? AND variant = ?",
            [prompt_id, variant],
        )


def test_review_settings_are_saved(tmp_store: Store, study: Study) -> None:
    at = open_page("review_admin")
    assert at.title[0].value == "Review admin"
    at.text_area(key="settings_rubric").input("correctness\n\n  clarity  \nsafety")
    at.text_area(key="settings_reason_tags").input("more accurate\nshorter")
    at.radio(key="settings_identity_policy").set_value("exclude")
    at.number_input(key="settings_slice_minimum").set_value(5)
    _button(at, "Save review settings").click().run()
    assert_no_exception(at)
    assert "Saved: 3 criteria, 2 reason tags" in at.success[0].value
    saved = get_study(tmp_store, "password review")
    assert saved.rubric == ("correctness", "clarity", "safety")
    assert saved.reason_tags == ("more accurate", "shorter")
    assert (saved.identity_policy, saved.slice_minimum) == ("exclude", 5)
    # the other tabs already use the saved policy in this run
    assert any("Policy in force: exclude" in md.value for md in at.markdown)


def test_invalid_settings_show_the_fix_and_change_nothing(tmp_store: Store, study: Study) -> None:
    before = get_study(tmp_store, "password review")
    at = open_page("review_admin")
    at.text_area(key="settings_rubric").input("x" * 41)
    _button(at, "Save review settings").click().run()
    assert_no_exception(at)
    assert "not saved" in at.error[0].value and "Fix" in at.error[0].value
    assert get_study(tmp_store, "password review") == before


def test_identity_flags_list_the_phrase_with_the_variant_name(
    tmp_store: Store, study: Study
) -> None:
    pairs = ready_pair_ids(tmp_store, study)
    _set_answer(tmp_store, study, pairs[1], "cand", LEAK_CAND)
    _set_answer(tmp_store, study, pairs[3], "base", LEAK_BASE)
    set_review_settings(
        tmp_store,
        study,
        rubric=study.rubric,
        reason_tags=study.reason_tags,
        identity_policy="warn",
        slice_minimum=study.slice_minimum,
    )
    at = open_page("review_admin")
    assert any("Policy in force: warn" in md.value for md in at.markdown)
    assert "2 pairs with an answer that names its model" in at.warning[0].value
    assert "Reviewers see these answers unchanged" in at.warning[0].value
    flags = _flags_table(at)
    assert list(flags["pair_id"]) == [pairs[1], pairs[3]]  # the study's pair order
    assert list(flags["answer of"]) == ["candidate (cand)", "baseline (base)"]
    assert list(flags["phrases"]) == ["As an AI developed by OpenAI", "GPT-4 here"]
    assert list(flags["leaks"]) == [1, 1]


def test_no_flags_says_so(study: Study) -> None:
    at = open_page("review_admin")
    assert any("names its own model" in s.value for s in at.success)
    assert any("Policy in force: mask" in md.value for md in at.markdown)


def test_gold_items_are_marked_listed_and_removed(tmp_store: Store, study: Study) -> None:
    at = open_page("review_admin")
    at.text_input(key="gold_search").input("number 3:").run()
    assert_no_exception(at)
    choice = at.selectbox(key="gold_pair")
    assert len(choice.options) == 1 and "Question number 3:" in choice.options[0]
    pair_id = choice.value
    content = pair_content(tmp_store, study, pair_id)
    shown = [md.value for md in at.markdown]
    assert "#### Baseline · `base`" in shown and "#### Candidate · `cand`" in shown
    assert neutralise_markdown(content.baseline_text) in shown
    assert neutralise_markdown(content.candidate_text) in shown
    at.radio(key="gold_expected").set_value("candidate")
    at.text_input(key="gold_note").input("clearer steps")
    _button(at, "Mark as gold").click().run()
    assert_no_exception(at)
    assert "is gold: Candidate (`cand`) is better" in at.success[-1].value
    gold = gold_frame(tmp_store, study)
    assert list(gold["pair_id"]) == [pair_id]
    assert (gold["expected"][0], gold["note"][0], gold["marked_by"][0]) == (
        "candidate",
        "clearer steps",
        "local admin",
    )
    listed = at.dataframe[-1].value if at.dataframe else None
    assert listed is not None and list(listed["pair_id"]) == [pair_id]
    _button(at, "Remove from gold").click().run()
    assert_no_exception(at)
    assert gold_frame(tmp_store, study).empty
    assert any("No gold items yet" in c.value for c in at.caption)


def test_reviewer_quality_table_values(tmp_store: Store, study: Study) -> None:
    pairs = ready_pair_ids(tmp_store, study)[:4]
    # ann: always the left answer, quickly; bob: tie, both bad, right, right, slower
    for pair_id, ms in zip(pairs, (1000, 2000, 3000, 10_000), strict=True):
        submit_judgment(
            tmp_store, study, reviewer="ann", pair_id=pair_id, pick="left", time_on_item_ms=ms
        )
    for pair_id, pick, ms in zip(
        pairs, ("tie", "both_bad", "right", "right"), (4000, 6000, 8000, 100_000), strict=True
    ):
        submit_judgment(
            tmp_store, study, reviewer="bob", pair_id=pair_id, pick=pick, time_on_item_ms=ms
        )
    # gold: the verdict ann gave on the first pair (bob said tie there)
    mark_gold(
        tmp_store,
        study,
        pairs[0],
        left_role_for(study, pairs[0], "ann"),
        marked_by="admin",
    )
    at = open_page("review_admin")
    quality = at.dataframe[-1].value.sort_values("reviewer").reset_index(drop=True)
    assert list(quality["reviewer"]) == ["ann", "bob"]
    assert list(quality["judgments"]) == [4, 4]
    assert list(quality["gold_judged"]) == [1, 1]
    assert list(quality["gold_accuracy"]) == [1.0, 0.0]
    assert list(quality["left_pick_rate"]) == [1.0, 0.0]
    # Wilson 95% interval for 4 of 4: (0.5101, 1.0), by hand from the closed form
    assert quality["left_pick_low"][0] == pytest.approx(0.5101, abs=1e-4)
    assert quality["left_pick_high"][0] == pytest.approx(1.0)
    assert list(quality["tie_rate"]) == [0.0, 0.25]
    assert list(quality["both_bad_rate"]) == [0.0, 0.25]
    assert list(quality["median_time_s"]) == [2.5, 7.0]
    assert list(quality["check"]) == ["side bias, very fast", ""]
    assert any("interval excluding 0.5" in md.value for md in at.markdown)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Pairs"] == "6" and metrics["Reviewers"] == "2"
    assert metrics["Judgments"] == "8 of 12"  # 6 ready pairs x overlap 2


def _signed_in(name: str, code: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.text_input[0].input(name)
    at.text_input[1].input(code)
    _button(at, "Sign in").click().run()
    assert_no_exception(at)
    return at


def test_only_admins_get_the_page(study: Study, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWAPCHECK_ADMIN_CODE", "gold-keeper-7")
    reviewer = _signed_in("rita", "")
    with pytest.raises(ValueError, match="review_admin"):  # not even in a reviewer's navigation
        reviewer.switch_page("app_pages/review_admin.py")
    admin = _signed_in("ada", "gold-keeper-7")
    admin.switch_page("app_pages/review_admin.py").run()
    assert_no_exception(admin)
    assert [t for t in admin.title if t.value == "Review admin"]
    assert [b for b in admin.button if b.label == "Save review settings"]


def test_untrusted_answers_render_as_text(tmp_store: Store, study: Study) -> None:
    pair_id = ready_pair_ids(tmp_store, study)[0]
    _set_answer(tmp_store, study, pair_id, "cand", "I'm Claude. <img src=x onerror=alert(1)>")
    at = open_page("review_admin")
    at.selectbox(key="gold_pair").set_value(pair_id).run()
    assert_no_exception(at)
    assert "I'm Claude" in _flags_table(at)["phrases"][0]
    payload = browser_payload(at)
    assert "&lt;img src=x onerror=alert(1)&gt;" in payload
    assert "<img" not in payload


def test_queue_priority_is_saved_and_slices_show_their_decision(
    tmp_store: Store, study: Study
) -> None:
    from swapcheck.store.priority import get_priority_settings

    tmp_store.close()
    at = open_page("review_admin")
    status = next(d.value for d in at.dataframe if "decided" in d.value.columns)
    assert status["pairs"].sum() == len(ready_pair_ids(tmp_store, study))
    assert set(status["decided"]) == {"not yet"}  # nothing judged yet
    toggle = next(t for t in at.toggle if t.label == "Prioritise contested pairs")
    toggle.set_value(True)
    next(s for s in at.slider if s.label.startswith("Share of contested")).set_value(0.5)
    _button(at, "Save queue settings").click().run()
    assert_no_exception(at)
    assert any("Prioritised queue on." in s.value for s in at.success)
    saved = get_priority_settings(tmp_store, study)
    assert saved.enabled and saved.contested_share == 0.5 and saved.stop_rule == "full_review"
