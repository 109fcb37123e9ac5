"""Tests for the synthetic demo log and the simulated blind reviewer."""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from swapcheck.demo_data import (
    DEMO_BASELINE_MODEL,
    DEMO_CANDIDATE_MODEL,
    DEMO_CANDIDATE_QUIRKS,
    DEMO_PLANTED,
    DEMO_SLICE_COLUMNS,
    demo_records,
    simulated_reviewer_choice,
    write_demo_log,
)
from swapcheck.simulated_detect import asks_for_json, has_japanese, is_medical
from swapcheck.simulated_model import simulate_answer

FIELDS = {"request_id", "timestamp", "messages", "response", *DEMO_SLICE_COLUMNS}


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return demo_records()


def _planted(record: dict) -> list[str]:
    return [key for key in DEMO_PLANTED if record[key.split("=")[0]] == key.split("=")[1]]


def test_write_demo_log_writes_valid_jsonl(tmp_path: Path) -> None:
    path = write_demo_log(tmp_path / "nested" / "demo.jsonl", n=50, seed=3)
    assert isinstance(path, Path) and path.exists()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 50
    rows = [json.loads(line) for line in lines]
    assert rows == demo_records(n=50, seed=3)


def test_records_have_the_documented_fields(records: list[dict]) -> None:
    assert len(records) == 360
    assert len({r["request_id"] for r in records}) == 360
    stamps = [datetime.fromisoformat(r["timestamp"]) for r in records]
    assert stamps == sorted(stamps)
    for r, stamp in zip(records, stamps, strict=True):
        assert set(r) == FIELDS
        assert re.fullmatch(r"req-\d{6}", r["request_id"])
        assert stamp.year == 2026 and stamp.month == 11 and 1 <= stamp.day <= 14
        roles = [m["role"] for m in r["messages"]]
        assert roles in (["user"], ["system", "user"])
        assert all(m["content"].strip() for m in r["messages"])
        assert r["response"].strip()
    assert (stamps[-1] - stamps[0]).days >= 12


def test_demo_is_deterministic_per_seed() -> None:
    assert demo_records(n=40, seed=11) == demo_records(n=40, seed=11)
    assert demo_records(n=40, seed=11) != demo_records(n=40, seed=12)


def test_slice_values_are_many_skewed_and_planted_slices_are_big(records: list[dict]) -> None:
    counts = {col: Counter(r[col] for r in records) for col in DEMO_SLICE_COLUMNS}
    assert [len(counts[c]) for c in DEMO_SLICE_COLUMNS] == [8, 8, 3, 8]
    assert sum(len(c) for c in counts.values()) >= 25
    assert counts["feature"].most_common(1)[0][0] == "support_chat"
    assert counts["locale"].most_common(1)[0][0] == "en-US"
    for key in DEMO_PLANTED:
        column, value = key.split("=")
        assert column in DEMO_SLICE_COLUMNS
        assert counts[column][value] >= 35, key
    for seed in range(5):
        other = demo_records(seed=seed)
        for key in DEMO_PLANTED:
            column, value = key.split("=")
            assert sum(r[column] == value for r in other) >= 35


def test_prompts_match_their_metadata(records: list[dict]) -> None:
    for r in records:
        text = r["messages"][-1]["content"]
        assert has_japanese(text) == (r["locale"] == "ja-JP"), text
        assert is_medical(text) == (r["topic"] == "medical"), text
        asks = asks_for_json("\n".join(m["content"] for m in r["messages"]))
        assert asks == (r["feature"] == "json_extract"), text
        if r["feature"] == "json_extract":
            assert "JSON" in text
        if r["locale"] == "ja-JP":
            latin = re.sub(
                r"```.*?```|`[^`]*`|#\d+|KeyError: 'amount'|JSON|Python", "", text, flags=re.S
            )
            assert not re.search(r"[A-Za-z]{3,}", latin), text


def test_logged_response_is_the_baseline_answer(records: list[dict]) -> None:
    for r in records[:40]:
        assert r["response"] == simulate_answer(r["messages"], DEMO_BASELINE_MODEL, seed=7).text


MESSAGES = [
    {
        "role": "user",
        "content": "Return JSON with fields `order_id` and `issue`. "
        "JSON only.\n\nHi, this is Emma Wilson. Order #123456 never arrived.",
    }
]
CLEAN_JSON = '{"order_id": "#123456", "issue": "order never arrived"}'
FENCED_JSON = (
    "Sure! Here is the JSON you asked for:\n\n```json\n"
    '{\n  "order_id": "#123456",\n  "issue": "order never arrived"\n}\n```'
)
ANSWER = (
    "Thanks for reaching out about your delivery. I've checked order #123456 on our side "
    "and it is with the courier. You can track it from your account dashboard."
)
REFUSAL = (
    "I'm sorry, but I can't help with medical questions. Please consult a healthcare professional."
)
JA_ANSWER = (
    "配送に関するご連絡ありがとうございます。ご注文#123456の状況を確認しました。"
    "状況はマイページからいつでもご確認いただけます。よろしくお願いいたします。"
)


@pytest.mark.parametrize(
    ("good", "bad"),
    [(CLEAN_JSON, FENCED_JSON), (ANSWER, REFUSAL), (JA_ANSWER, "承知しました。")],
    ids=["fenced-json", "refusal", "terse"],
)
def test_reviewer_prefers_the_clean_answer(good: str, bad: str) -> None:
    rng = random.Random(5)
    wins = 0
    for _ in range(200):
        good_left = rng.random() < 0.5
        left, right = (good, bad) if good_left else (bad, good)
        choice = simulated_reviewer_choice(MESSAGES, left, right, rng)
        wins += choice == ("left" if good_left else "right")
    assert wins / 200 >= 0.85


def test_reviewer_is_noise_on_equal_answers() -> None:
    rng = random.Random(9)
    votes = Counter(simulated_reviewer_choice(MESSAGES, ANSWER, ANSWER, rng) for _ in range(4000))
    assert abs(votes["left"] / 4000 - 0.45) < 0.03
    assert abs(votes["right"] / 4000 - 0.45) < 0.03
    assert abs(votes["tie"] / 4000 - 0.07) < 0.02
    assert abs(votes["both_bad"] / 4000 - 0.03) < 0.015


def _candidate_scores(records: list[dict], quirks: tuple[str, ...]) -> dict[str, list[float]]:
    """Blind reviews with random sides; 1 = candidate wins, 0.5 = tie or both bad."""
    rng = random.Random(2026)
    scores: dict[str, list[float]] = {"all": [], "unplanted": []}
    for r in records:
        base = simulate_answer(r["messages"], DEMO_BASELINE_MODEL).text
        cand = simulate_answer(r["messages"], DEMO_CANDIDATE_MODEL, quirks=quirks).text
        cand_left = rng.random() < 0.5
        left, right = (cand, base) if cand_left else (base, cand)
        choice = simulated_reviewer_choice(r["messages"], left, right, rng)
        score = 0.5 if choice in ("tie", "both_bad") else float((choice == "left") == cand_left)
        for key in ["all", *(_planted(r) or ["unplanted"])]:
            scores.setdefault(key, []).append(score)
    return scores


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def test_reviewer_is_about_50_50_on_quirk_free_answers(records: list[dict]) -> None:
    scores = _candidate_scores(records, ())["all"]
    # Loose 4-sigma binomial bound around an even split.
    assert abs(_mean(scores) - 0.5) < 4 * math.sqrt(0.25 / len(scores))


def test_end_to_end_planted_slices_lose_and_the_rest_is_even(records: list[dict]) -> None:
    scores = _candidate_scores(records, DEMO_CANDIDATE_QUIRKS)
    for key in DEMO_PLANTED:
        values = scores[key]
        upper = _mean(values) + 1.96 * math.sqrt(0.25 / len(values))
        assert _mean(values) < 0.3 and upper < 0.5, (key, _mean(values))
    assert len(scores["unplanted"]) >= 150
    assert 0.35 <= _mean(scores["unplanted"]) <= 0.65
