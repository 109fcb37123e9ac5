"""Hand-checked token and cost estimates (tokenizer-free heuristic, max_tokens bounds)."""

from __future__ import annotations

import pytest

from swapcheck import cost_estimate
from swapcheck.cost_estimate import (
    TYPICAL_OUTPUT_TOKENS,
    estimate_cost,
    heuristic_text_tokens,
    message_tokens,
    output_token_cap,
    reserved_output_tokens,
)
from swapcheck.models import GenerationJob, VariantConfig

MESSAGES = [
    {"role": "system", "content": "You are helpful."},  # 16 Latin characters: 4 tokens
    {"role": "user", "content": "你好"},  # 2 CJK characters: 2 tokens
]


def variant(**params: object) -> VariantConfig:
    return VariantConfig(
        name="v",
        provider="openai",
        model="m",
        params=dict(params),
        price_input_per_mtok=2.0,
        price_output_per_mtok=8.0,
    )


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("Hello, world!", 4),  # 13 characters / 4, rounded up
        ("abcd" * 10, 10),
        ("你好世界", 4),
        ("こんにちは", 5),
        ("안녕", 2),
        ("abc你好", 3),  # 2 CJK + ceil(3 / 4)
    ],
)
def test_heuristic_text_tokens(text: str, tokens: int) -> None:
    assert heuristic_text_tokens(text) == tokens


def test_message_tokens_add_per_message_and_per_request_overhead() -> None:
    # 3 (reply priming) + (4 + 4) system + (4 + 2) user
    assert message_tokens(MESSAGES) == 17
    assert message_tokens([]) == 3


def test_estimate_with_max_tokens_hand_checked() -> None:
    jobs = [GenerationJob("a", MESSAGES), GenerationJob("b", MESSAGES)]
    est = estimate_cost(variant(max_tokens=100), jobs, method="heuristic")
    assert (est.jobs, est.input_tokens, est.method) == (2, 34, "heuristic")
    # typical = min(max_tokens, 256) = 100 per job; the upper bound is max_tokens too
    assert (est.output_tokens_typical, est.output_tokens_max) == (200, 200)
    assert est.cost_typical == pytest.approx((34 * 2 + 200 * 8) / 1e6)  # $0.001668
    assert est.cost_max == pytest.approx(0.001668)

    expected = estimate_cost(variant(max_tokens=100), jobs, 40, method="heuristic")
    assert expected.output_tokens_typical == 80 and expected.output_tokens_max == 200
    assert expected.cost_typical == pytest.approx((68 + 80 * 8) / 1e6)  # $0.000708
    assert expected.cost_max == pytest.approx(0.001668)


def test_estimate_without_a_cap_uses_the_typical_figure_only() -> None:
    est = estimate_cost(variant(), [GenerationJob("a", MESSAGES)], method="heuristic")
    assert est.output_tokens_typical == TYPICAL_OUTPUT_TOKENS == 256
    assert est.output_tokens_max is None and est.cost_max is None
    assert est.cost_typical == pytest.approx((17 * 2 + 256 * 8) / 1e6)
    assert estimate_cost(variant(), [], method="heuristic").cost_typical == 0


def test_output_cap_aliases_and_reservation() -> None:
    assert output_token_cap({"max_completion_tokens": 64}) == 64
    assert output_token_cap({"max_output_tokens": 32, "temperature": 0}) == 32
    assert output_token_cap({"max_tokens": True}) is None  # a bool is not a number here
    assert output_token_cap({"max_tokens": 0}) is None
    assert reserved_output_tokens(variant(max_tokens=1000)) == 1000  # the cap, not typical
    assert reserved_output_tokens(variant(), expected=50) == 50
    assert reserved_output_tokens(variant()) == 256


def test_auto_uses_tiktoken_only_when_it_is_available(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = [GenerationJob("a", MESSAGES)]
    monkeypatch.setitem(cost_estimate._COUNTERS, "tiktoken", None)  # not installed
    assert estimate_cost(variant(), jobs).method == "heuristic"
    monkeypatch.setitem(cost_estimate._COUNTERS, "tiktoken", lambda text: 1)
    est = estimate_cost(variant(), jobs)
    assert est.method == "tiktoken" and est.input_tokens == 3 + 2 * (4 + 1)
    assert estimate_cost(variant(), jobs, method="heuristic").input_tokens == 17
