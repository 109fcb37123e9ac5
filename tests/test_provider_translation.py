"""Pure translation tests: each provider's build_body, URL, key lookup, reply and header parsing."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from swapcheck.errors import ConfigError, PermanentProviderError
from swapcheck.models import VariantConfig
from swapcheck.providers import make_provider, provider_names
from swapcheck.providers.anthropic import DEFAULT_MAX_TOKENS, AnthropicProvider
from swapcheck.providers.azure_openai import DEFAULT_API_VERSION, AzureOpenAIProvider
from swapcheck.providers.base import Completion, RateLimitInfo
from swapcheck.providers.gemini import DEFAULT_BASE_URL as GEMINI_DEFAULT_BASE_URL
from swapcheck.providers.gemini import GeminiProvider
from swapcheck.providers.http_common import parse_go_duration, parse_reset, rate_limit_info
from swapcheck.providers.openai_chat import OpenAIChatProvider

SECRET = "sk-translation-SECRET-4b8e1f"
KEY_VARS = (
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "SWAPCHECK_UNSET_KEY",
)
CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi."},
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "4."},
    {"role": "system", "content": "Answer in French."},
    {"role": "tool", "content": '{"result": 4}'},
    {"role": "user", "content": "And 3+3?"},
]


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SWAPCHECK_TEST_KEY", SECRET)


def variant(provider: str, **overrides: Any) -> VariantConfig:
    fields: dict[str, Any] = {
        "name": "cand",
        "provider": provider,
        "model": "m-1",
        "base_url": "https://llm.example.invalid",
        "api_key_env": "SWAPCHECK_TEST_KEY",
    }
    fields.update(overrides)
    return VariantConfig(**fields)


def test_new_providers_are_registered() -> None:
    assert {"anthropic", "gemini", "azure_openai", "openai"} <= set(provider_names())
    assert isinstance(make_provider(variant("anthropic")), AnthropicProvider)
    assert isinstance(make_provider(variant("gemini")), GeminiProvider)
    assert isinstance(make_provider(variant("azure_openai")), AzureOpenAIProvider)


# -- OpenAI and Azure OpenAI --------------------------------------------------------------


def test_openai_passes_every_param_and_model_messages_win() -> None:
    params = {"temperature": 0.1, "stop": "END", "seed": 3, "logprobs": True, "model": "x"}
    body = OpenAIChatProvider(variant("openai", params=params)).build_body(CONVERSATION)
    assert body == {**params, "model": "m-1", "messages": CONVERSATION}


def test_azure_body_url_and_api_version() -> None:
    params = {"temperature": 0, "seed": 5, "api_version": "2025-01-01-preview", "messages": []}
    provider = AzureOpenAIProvider(
        variant("azure_openai", model="my gpt/4o", base_url="https://res.example.invalid/openai/")
    )
    assert provider.url == (
        "https://res.example.invalid/openai/deployments/my%20gpt%2F4o/chat/completions"
        f"?api-version={DEFAULT_API_VERSION}"
    )
    provider = AzureOpenAIProvider(variant("azure_openai", params=params))
    body = provider.build_body(CONVERSATION)
    assert body == {"temperature": 0, "seed": 5, "model": "m-1", "messages": CONVERSATION}
    assert provider.url.endswith(
        "/openai/deployments/m-1/chat/completions?api-version=2025-01-01-preview"
    )


def test_azure_needs_endpoint_and_names_its_key_variable() -> None:
    with pytest.raises(ConfigError, match="base_url") as info:
        AzureOpenAIProvider(variant("azure_openai", base_url=None))
    assert "resource endpoint" in (info.value.fix or "")
    with pytest.raises(ConfigError, match="AZURE_OPENAI_API_KEY"):
        AzureOpenAIProvider(variant("azure_openai", api_key_env=None))


# -- Anthropic ----------------------------------------------------------------------------


def anthropic_body(messages: Any = CONVERSATION, **params: Any) -> dict[str, Any]:
    return AnthropicProvider(variant("anthropic", params=params)).build_body(messages)


def test_anthropic_systems_lifted_turns_merged_tool_as_user() -> None:
    before = copy.deepcopy(CONVERSATION)
    body = anthropic_body()
    assert body == {
        "model": "m-1",
        "max_tokens": DEFAULT_MAX_TOKENS,
        "system": "Be brief.\n\nAnswer in French.",
        "messages": [
            {"role": "user", "content": "Hi.\n\nWhat is 2+2?"},
            {"role": "assistant", "content": "4."},
            {"role": "user", "content": '{"result": 4}\n\nAnd 3+3?'},
        ],
    }
    assert before == CONVERSATION  # the caller's messages are not mutated


def test_anthropic_without_system_sends_no_system_field() -> None:
    body = anthropic_body([{"role": "user", "content": "Hi"}])
    assert "system" not in body and body["messages"] == [{"role": "user", "content": "Hi"}]


def test_anthropic_params_translated() -> None:
    body = anthropic_body(temperature=0.3, top_p=0.9, max_tokens=64, stop="\n\n", top_k=5)
    assert body["max_tokens"] == 64 and body["stop_sequences"] == ["\n\n"]
    assert body["temperature"] == 0.3 and body["top_p"] == 0.9 and body["top_k"] == 5
    assert "stop" not in body
    assert anthropic_body(stop=["a", "b"])["stop_sequences"] == ["a", "b"]
    assert anthropic_body(stop_sequences=["z"])["stop_sequences"] == ["z"]


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "system", "content": "S"}, {"role": "assistant", "content": "Hello!"}],
        [{"role": "system", "content": "S"}],
    ],
)
def test_anthropic_refuses_conversation_not_starting_with_user(messages: Any) -> None:
    with pytest.raises(PermanentProviderError, match="start with a user turn") as info:
        anthropic_body(messages)
    fix = info.value.fix or ""
    assert "user turn" in fix and "turn choice" in fix


def test_anthropic_seed_is_config_error_with_fix() -> None:
    with pytest.raises(ConfigError, match="seed") as info:
        AnthropicProvider(variant("anthropic", params={"seed": 1}))
    assert "Remove 'seed'" in (info.value.fix or "")


@pytest.mark.parametrize(
    ("provider", "params", "named"),
    [
        ("anthropic", {"frequency_penalty": 0.5}, "frequency_penalty"),
        ("anthropic", {"model": "other"}, "model"),
        ("gemini", {"presence_penalty": 0.5}, "presence_penalty"),
        ("gemini", {"max_output_tokens": 5}, "max_output_tokens"),
    ],
)
def test_unknown_params_are_config_errors(provider: str, params: Any, named: str) -> None:
    with pytest.raises(ConfigError, match=repr(named)) as info:
        make_provider(variant(provider, params=params))
    fix = info.value.fix or ""
    assert "temperature" in fix and "max_tokens" in fix  # lists the accepted names


@pytest.mark.parametrize(
    ("provider", "params"),
    [
        ("anthropic", {"stop": "x", "stop_sequences": ["y"]}),
        ("gemini", {"max_tokens": 5, "maxOutputTokens": 6}),
    ],
)
def test_canonical_and_native_name_together_is_config_error(provider: str, params: Any) -> None:
    with pytest.raises(ConfigError, match="same thing"):
        make_provider(variant(provider, params=params))


def test_anthropic_urls_and_default_key_variable() -> None:
    assert AnthropicProvider(variant("anthropic")).url == (
        "https://llm.example.invalid/v1/messages"
    )
    tolerant = AnthropicProvider(variant("anthropic", base_url="https://a.invalid/v1/"))
    assert tolerant.url == "https://a.invalid/v1/messages"
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY") as info:
        AnthropicProvider(variant("anthropic", base_url=None, api_key_env=None))
    assert "ANTHROPIC_API_KEY" in (info.value.fix or "")
    local = AnthropicProvider(
        variant("anthropic", base_url="http://127.0.0.1:9", api_key_env="SWAPCHECK_UNSET_KEY")
    )
    assert local.has_key is False


def test_anthropic_reply_parsing() -> None:
    provider = AnthropicProvider(variant("anthropic"))
    payload = {
        "content": [
            {"type": "thinking", "thinking": "hmm"},
            {"type": "text", "text": "Bonjour "},
            {"type": "tool_use", "id": "t", "name": "f", "input": {}},
            {"type": "text", "text": "!"},
        ],
        "stop_reason": "max_tokens",
        "usage": {"input_tokens": 12, "output_tokens": 3},
    }
    assert provider.parse_payload(payload, "w") == Completion("Bonjour !", "max_tokens", 12, 3)
    with pytest.raises(PermanentProviderError, match="HTTP 200"):
        provider.parse_payload({"choices": []}, "w")


# -- Gemini -------------------------------------------------------------------------------


def gemini_body(messages: Any = CONVERSATION, **params: Any) -> dict[str, Any]:
    return GeminiProvider(variant("gemini", params=params)).build_body(messages)


def test_gemini_contents_roles_and_system_instruction() -> None:
    assert gemini_body() == {
        "systemInstruction": {"parts": [{"text": "Be brief.\n\nAnswer in French."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Hi.\n\nWhat is 2+2?"}]},
            {"role": "model", "parts": [{"text": "4."}]},
            {"role": "user", "parts": [{"text": '{"result": 4}\n\nAnd 3+3?'}]},
        ],
    }


def test_gemini_generation_config_and_native_params() -> None:
    body = gemini_body(
        [{"role": "user", "content": "Hi"}],
        temperature=0.2,
        top_p=0.8,
        max_tokens=32,
        stop="END",
        seed=9,
        topK=4,
        safetySettings=[{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    )
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.8,
        "maxOutputTokens": 32,
        "stopSequences": ["END"],
        "seed": 9,
        "topK": 4,
    }
    assert body["safetySettings"][0]["threshold"] == "BLOCK_NONE"
    assert "systemInstruction" not in body


def test_gemini_url_and_key_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = GeminiProvider(variant("gemini", base_url=None, model="models/gemini-2.0-flash"))
    assert provider.url == f"{GEMINI_DEFAULT_BASE_URL}/models/gemini-2.0-flash:generateContent"
    with pytest.raises(ConfigError, match="GEMINI_API_KEY or GOOGLE_API_KEY") as info:
        GeminiProvider(variant("gemini", api_key_env=None))
    assert "GEMINI_API_KEY" in (info.value.fix or "")
    monkeypatch.setenv("GOOGLE_API_KEY", SECRET)
    assert GeminiProvider(variant("gemini", api_key_env=None)).key_env == "GOOGLE_API_KEY"
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    assert GeminiProvider(variant("gemini", api_key_env=None)).key_env == "GEMINI_API_KEY"
    # A variant naming its variable gets no fallback.
    with pytest.raises(ConfigError, match="SWAPCHECK_UNSET_KEY"):
        GeminiProvider(variant("gemini", api_key_env="SWAPCHECK_UNSET_KEY"))


def test_gemini_reply_parsing_and_blocked_prompts() -> None:
    provider = GeminiProvider(variant("gemini"))
    usage = {"promptTokenCount": 8, "candidatesTokenCount": 2, "totalTokenCount": 10}
    reply = {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": "Bon"}, {"text": "jour"}]},
                "finishReason": "MAX_TOKENS",
            }
        ],
        "usageMetadata": usage,
    }
    assert provider.parse_payload(reply, "w") == Completion("Bonjour", "MAX_TOKENS", 8, 2)
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage}
    assert provider.parse_payload(blocked, "w") == Completion("", "blocked: SAFETY", 8, 2)
    no_candidates = {"candidates": [], "usageMetadata": {"promptTokenCount": 8}}
    assert provider.parse_payload(no_candidates, "w").finish_reason == (
        "blocked: BLOCK_REASON_UNSPECIFIED"
    )
    with pytest.raises(PermanentProviderError, match="HTTP 200"):
        provider.parse_payload({"choices": []}, "w")


# -- key hygiene --------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["anthropic", "gemini", "azure_openai", "openai"])
def test_key_not_in_repr_or_body(provider: str) -> None:
    built = make_provider(variant(provider))
    assert SECRET not in repr(built) and "has_key=True" in repr(built)
    assert SECRET not in json.dumps(built.build_body([{"role": "user", "content": "Hi"}]))


# -- rate-limit headers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("0s", 0.0),
        ("1.5m", 90.0),
        ("", None),
        ("5", None),
        ("1x", None),
        ("s1", None),
    ],
)
def test_go_durations(text: str, seconds: float | None) -> None:
    assert parse_go_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_reset_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    assert parse_reset("2026-01-01T12:00:30Z", now=now) == 30.0
    assert parse_reset("2026-01-01T12:00:30.5+00:00", now=now) == 30.5
    assert parse_reset("2025-12-31T12:00:00Z", now=now) == 0.0  # in the past
    assert parse_reset("2026-01-01T12:00:30", now=now) is None  # no zone: ambiguous
    assert parse_reset("7", now=now) == 7.0
    assert parse_reset("soon", now=now) is None


def test_openai_rate_limit_headers() -> None:
    headers = {
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-remaining-tokens": "29000",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    assert rate_limit_info(headers) == RateLimitInfo(
        remaining_requests=499,
        remaining_tokens=29000,
        reset_requests_s=pytest.approx(0.12),
        reset_tokens_s=360.0,
        limit_requests=500,
        limit_tokens=30000,
    )


def test_anthropic_rate_limit_headers_prefer_combined_tokens() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    headers = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "49",
        "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:01Z",
        "anthropic-ratelimit-tokens-limit": "90000",
        "anthropic-ratelimit-tokens-remaining": "80000",
        "anthropic-ratelimit-tokens-reset": "2026-01-01T00:00:06Z",
        "anthropic-ratelimit-input-tokens-remaining": "1",
    }
    assert rate_limit_info(headers, now=now) == RateLimitInfo(49, 80000, 1.0, 6.0, 50, 90000)


def test_anthropic_input_output_tokens_take_the_tighter_allowance() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    headers = {
        "anthropic-ratelimit-input-tokens-limit": "40000",
        "anthropic-ratelimit-input-tokens-remaining": "30000",  # 75 % left
        "anthropic-ratelimit-input-tokens-reset": "2026-01-01T00:00:10Z",
        "anthropic-ratelimit-output-tokens-limit": "8000",
        "anthropic-ratelimit-output-tokens-remaining": "2000",  # 25 % left: tighter
        "anthropic-ratelimit-output-tokens-reset": "2026-01-01T00:00:20Z",
    }
    assert rate_limit_info(headers, now=now) == RateLimitInfo(
        remaining_tokens=2000, reset_tokens_s=20.0, limit_tokens=8000
    )


def test_no_rate_limit_headers_is_none() -> None:
    assert rate_limit_info({"content-type": "application/json"}) is None
    partial = rate_limit_info({"X-RateLimit-Remaining-Requests": "3"})
    assert partial == RateLimitInfo(remaining_requests=3)
