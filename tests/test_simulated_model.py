"""Tests for the deterministic simulated model and its planted quirks."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest

from swapcheck.demo_data import demo_records
from swapcheck.demo_prompts import LOCALE_LANGUAGE
from swapcheck.errors import ConfigError
from swapcheck.evaluators._text import is_strict_json
from swapcheck.simulated_detect import (
    detect_language,
    has_japanese,
    is_medical,
    looks_like_refusal,
)
from swapcheck.simulated_model import QUIRKS, SimulatedAnswer, estimate_tokens, simulate_answer

ALL_QUIRKS = tuple(QUIRKS)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


JSON_PROMPT = user(
    "Return JSON with fields `customer_name`, `order_id`, `topic` and `urgency` for this "
    "customer message. JSON only, no explanation.\n\nHi, this is Emma Wilson. I was charged "
    "twice for order #123456. Can you refund the duplicate payment?"
)
MEDICAL_PROMPT = user(
    "Hi, this is Noah Davis. What is the right dosage of ibuprofen 400 mg for my 10-year-old "
    "who has a fever?"
)
JAPANESE_PROMPT = user(
    "田中健と申します。注文番号#123456の荷物が届きません。配送状況を教えてください。"
)
PLAIN_PROMPT = user(
    "Hi, this is Emma Wilson. Order #123456 was supposed to arrive on Monday but the tracking "
    "hasn't updated. Where is my parcel?"
)


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return demo_records()


def test_same_inputs_give_the_same_answer() -> None:
    for messages in (JSON_PROMPT, MEDICAL_PROMPT, JAPANESE_PROMPT, PLAIN_PROMPT):
        first = simulate_answer(messages, "m", quirks=ALL_QUIRKS, seed=3)
        again = simulate_answer([dict(m) for m in messages], "m", quirks=ALL_QUIRKS, seed=3)
        assert first == again
        assert isinstance(first, SimulatedAnswer)
        assert first.finish_reason == "stop"


def test_answer_is_frozen_and_token_counts_are_estimates() -> None:
    answer = simulate_answer(PLAIN_PROMPT, "m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        answer.text = "x"  # type: ignore[misc]
    assert answer.output_tokens == estimate_tokens(answer.text)
    assert answer.output_tokens == round(1.3 * len(answer.text.split()))
    assert answer.input_tokens > estimate_tokens(PLAIN_PROMPT[0]["content"])


def test_seed_and_model_name_change_the_answers(records: list[dict]) -> None:
    differ = sum(
        simulate_answer(r["messages"], "sim-baseline").text
        != simulate_answer(r["messages"], "sim-candidate").text
        for r in records
    )
    assert differ / len(records) >= 0.85
    seeds = {simulate_answer(PLAIN_PROMPT, "m", seed=s).text for s in range(10)}
    assert len(seeds) >= 4


def test_unknown_quirk_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="fence_json"):
        simulate_answer(PLAIN_PROMPT, "m", quirks=("be_evil",))


def test_quirks_are_documented() -> None:
    assert set(QUIRKS) == {"fence_json", "refuse_medical", "terse_japanese"}
    assert all(desc and "\n" not in desc for desc in QUIRKS.values())


def test_json_prompt_gets_strict_json_with_the_requested_fields() -> None:
    answer = simulate_answer(JSON_PROMPT, "m", seed=1)
    assert is_strict_json(answer.text)
    data = json.loads(answer.text)
    assert set(data) == {"customer_name", "order_id", "topic", "urgency"}
    assert any(data.get(k) for k in ("customer_name", "order_id"))


def test_fence_json_fires_only_on_json_prompts() -> None:
    clean = simulate_answer(JSON_PROMPT, "m")
    fenced = simulate_answer(JSON_PROMPT, "m", quirks=("fence_json",))
    assert fenced.text.startswith("Sure! Here is the JSON you asked for:")
    assert "```json\n" in fenced.text and not is_strict_json(fenced.text)
    inner = fenced.text.split("```json\n", 1)[1].rsplit("```", 1)[0]
    assert json.loads(inner) == json.loads(clean.text)
    for messages in (PLAIN_PROMPT, MEDICAL_PROMPT):
        assert simulate_answer(messages, "m", quirks=("fence_json",)) == simulate_answer(
            messages, "m"
        )


def test_refuse_medical_fires_about_70_percent_on_medical_prompts_only(
    records: list[dict],
) -> None:
    medical = [r for r in records if r["topic"] == "medical"]
    answers = [
        simulate_answer(r["messages"], "m", quirks=("refuse_medical",), seed=s).text
        for r in medical
        for s in range(5)
    ]
    rate = sum(looks_like_refusal(a) for a in answers) / len(answers)
    assert 0.6 <= rate <= 0.8
    assert not any(looks_like_refusal(simulate_answer(r["messages"], "m").text) for r in medical)
    for r in records:
        if r["topic"] != "medical":
            quirked = simulate_answer(r["messages"], "m", quirks=("refuse_medical",))
            assert quirked == simulate_answer(r["messages"], "m")


def test_refusal_is_in_the_prompt_language() -> None:
    refusals = [
        simulate_answer(MEDICAL_PROMPT, "m", quirks=("refuse_medical",), seed=s).text
        for s in range(20)
    ]
    assert "I'm sorry, but I can't help with medical questions." in " ".join(refusals)
    german = user("Welche Dosierung von Ibuprofen 400 mg ist für mein Kind mit Fieber richtig?")
    texts = [
        simulate_answer(german, "m", quirks=("refuse_medical",), seed=s).text for s in range(20)
    ]
    assert any(t.startswith("Es tut mir leid") for t in texts)


def test_terse_japanese_fires_only_on_japanese_prompts(records: list[dict]) -> None:
    normal = simulate_answer(JAPANESE_PROMPT, "m")
    terse = simulate_answer(JAPANESE_PROMPT, "m", quirks=("terse_japanese",))
    assert has_japanese(normal.text) and len(normal.text) > 40
    assert has_japanese(terse.text) and len(terse.text) <= 15
    assert terse.finish_reason == "stop"
    for r in records:
        if r["locale"] != "ja-JP":
            quirked = simulate_answer(r["messages"], "m", quirks=("terse_japanese",))
            assert quirked == simulate_answer(r["messages"], "m")


def test_all_quirks_leave_unmatched_prompts_alone(records: list[dict]) -> None:
    for r in records:
        planted = (
            r["feature"] == "json_extract" or r["topic"] == "medical" or r["locale"] == "ja-JP"
        )
        if not planted:
            assert simulate_answer(r["messages"], "x", quirks=ALL_QUIRKS) == simulate_answer(
                r["messages"], "x"
            )


def test_answers_begin_in_the_prompt_language(records: list[dict]) -> None:
    for r in records:
        if r["feature"] in {"support_chat", "search_answer", "email_draft", "summarize"}:
            answer = simulate_answer(r["messages"], "m").text
            assert detect_language(answer) == LOCALE_LANGUAGE[r["locale"]], answer


@pytest.mark.parametrize(
    ("prompt", "check"),
    [
        (
            "How do I fix this Python function?\n\n```python\ndef f(x):\n    return x['a']\n```",
            lambda t: "```python\n" in t and t.count("```") == 2,
        ),
        (
            "Summarize this conversation in 2-3 sentences.\n\nCustomer: My parcel is late by a "
            "week. The tracking page shows no update since Monday.\nAgent: I'm on it.",
            lambda t: "parcel" in t and 1 <= t.count(". ") + 1 <= 4,
        ),
        (
            "Classify this support ticket by topic.\n\nI was charged twice on my invoice.",
            lambda t: "billing" in t.splitlines()[0] and len(t.splitlines()) == 2,
        ),
        (
            "Translate this customer message into German:\n\nHi, this is Emma Wilson. "
            "My invoice for order #123456 is wrong.",
            lambda t: detect_language(t) == "de" and "Emma Wilson" in t,
        ),
        (
            "Draft a short, polite email reply to this customer.\n\nHi, this is Emma Wilson. "
            "I can't log in to my account.",
            lambda t: t.startswith("Subject:") and "Emma Wilson" in t,
        ),
    ],
)
def test_task_specific_answers(prompt: str, check: Callable[[str], bool]) -> None:
    for seed in range(5):
        text = simulate_answer(user(prompt), "m", seed=seed).text
        assert check(text), text


def test_detectors_on_the_demo_prompts(records: list[dict]) -> None:
    for r in records:
        text = r["messages"][-1]["content"]
        assert is_medical(text) == (r["topic"] == "medical"), text
        assert detect_language(text) == LOCALE_LANGUAGE[r["locale"]], text
