"""Judge prompt building, lenient verdict parsing (never a guess), unblinding, rubric hash."""

from __future__ import annotations

import pytest

from swapcheck.judge_prompt import (
    VerdictParseError,
    build_judge_messages,
    default_rubric,
    parse_verdict,
    rubric_hash,
    unblind_pick,
)


def test_messages_hold_rubric_conversation_and_labelled_answers() -> None:
    messages = build_judge_messages(
        "- accuracy first",
        "You are a support bot.",
        [{"role": "user", "content": "How do I reset it?"}],
        "Open settings.",
        "Call us.",
    )
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "- accuracy first" in messages[0]["content"]
    assert '"verdict"' in messages[0]["content"]
    user = messages[1]["content"]
    assert "<system>\nYou are a support bot.\n</system>" in user
    assert "<user>\nHow do I reset it?\n</user>" in user
    assert user.index("<answer_1>\nOpen settings.\n</answer_1>") < user.index(
        "<answer_2>\nCall us.\n</answer_2>"
    )


def test_default_rubric_lists_the_study_criteria() -> None:
    text = default_rubric(("correctness", "tone"))
    assert "- correctness" in text and "- tone" in text
    assert "- correctness" in default_rubric(())


def test_rubric_hash_changes_with_text_and_version() -> None:
    base = rubric_hash("be strict", 1)
    assert base == rubric_hash("be strict", 1)
    assert len({base, rubric_hash("be strict", 2), rubric_hash("be lenient", 1)}) == 3


@pytest.mark.parametrize(
    ("reply", "pick", "rationale"),
    [
        ('{"verdict": "1", "rationale": "more accurate"}', "1", "more accurate"),
        ('{"verdict": 2, "rationale": "r"}', "2", "r"),
        ('{"verdict": "Answer 2", "rationale": "r"}', "2", "r"),
        ('{"verdict": "tie", "rationale": ""}', "tie", ""),
        ('{"verdict": "both bad", "rationale": "x"}', "both_bad", "x"),
        ('{"verdict": "BOTH_BAD"}', "both_bad", ""),
        ('```json\n{"verdict": "2", "rationale": "shorter"}\n```', "2", "shorter"),
        (
            'Sure! Here it is:\n```\n{"verdict":"1","rationale":"ok"}\n```\nHope it helps.',
            "1",
            "ok",
        ),
        ('{"verdict": "1", "rationale": "uses {braces}"} and some trailing prose', "1", ""),
        ('Thinking... {"verdict": "tie", "rationale": "same"} done', "tie", "same"),
        ("Answer 1", "1", ""),
        ("**Answer 2**\nIt is correct while the other is not.", "2", ""),
        ("Verdict: tie", "tie", ""),
        ("2.", "2", ""),
    ],
)
def test_parse_accepts_lenient_forms(reply: str, pick: str, rationale: str) -> None:
    parsed = parse_verdict(reply)
    assert parsed.pick == pick
    if rationale:
        assert parsed.rationale == rationale


def test_bare_verdict_keeps_the_following_lines_as_rationale() -> None:
    assert parse_verdict("Answer 2\nIt is correct.").rationale == "It is correct."


@pytest.mark.parametrize(
    "reply",
    [
        None,
        "",
        "   ",
        "I cannot decide between them.",
        "Answer 2 is worse than Answer 1.",  # prose, not a verdict line: no guessing
        "Answer 1 or Answer 2",
        '{"verdict": "3", "rationale": "x"}',
        '{"verdict": "maybe"}',
        '{"verdict": true}',
        '{"rationale": "no verdict key"}',
        '{"verdict": "1"} actually {"verdict": "2"}',
        '{"verdict": "1", "rationale": "unterminated',
    ],
)
def test_parse_refuses_to_guess(reply: str | None) -> None:
    with pytest.raises(VerdictParseError):
        parse_verdict(reply)


def test_nested_objects_are_not_read_as_verdicts() -> None:
    assert parse_verdict('{"verdict": "1", "detail": {"verdict": "2"}}').pick == "1"


def test_unblind_pick_maps_by_the_answer_shown_first() -> None:
    assert unblind_pick("1", "baseline") == "baseline"
    assert unblind_pick("2", "baseline") == "candidate"
    assert unblind_pick("1", "candidate") == "candidate"
    assert unblind_pick("2", "candidate") == "baseline"
    assert unblind_pick("tie", "candidate") == "tie"
    assert unblind_pick("both_bad", "baseline") == "both_bad"
    with pytest.raises(ValueError):
        unblind_pick("left", "baseline")
