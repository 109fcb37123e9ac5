"""Every HTTP provider against a real fake server of its protocol on 127.0.0.1, faults included."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from swapcheck.errors import PermanentProviderError, ProviderError, RetryableProviderError
from swapcheck.models import VariantConfig
from swapcheck.providers import Completion, Provider, make_provider
from tests.fake_openai_server import FakeOpenAIServer
from tests.fake_providers import FakeAnthropicServer, FakeAzureOpenAIServer, FakeGeminiServer

SECRET = "sk-http-DO-NOT-LEAK-91c2d7a4"
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 2+2?"},
]
ANSWER = "answer from m-1: What is 2+2?"
OPENAI_LIMITS = {
    "x-ratelimit-limit-requests": "60",
    "x-ratelimit-remaining-requests": "59",
    "x-ratelimit-reset-requests": "1s",
    "x-ratelimit-limit-tokens": "1000",
    "x-ratelimit-remaining-tokens": "990",
    "x-ratelimit-reset-tokens": "1m30s",
}
ANTHROPIC_LIMITS = {
    "anthropic-ratelimit-requests-limit": "50",
    "anthropic-ratelimit-requests-remaining": "40",
    "anthropic-ratelimit-requests-reset": "2999-01-01T00:00:00Z",
    "anthropic-ratelimit-tokens-limit": "8000",
    "anthropic-ratelimit-tokens-remaining": "7000",
    "anthropic-ratelimit-tokens-reset": "2999-01-01T00:00:00Z",
}


@dataclass(frozen=True)
class Flavor:
    provider: str
    server: type[FakeOpenAIServer]
    key_header: str
    finish_reason: str
    limit_headers: dict[str, str] = field(default_factory=dict)
    expected_limits: tuple[int | None, int | None, int | None, int | None] = (None,) * 4
    """(limit_requests, remaining_requests, limit_tokens, remaining_tokens)."""
    path_start: str = ""


FLAVORS = [
    Flavor(
        "openai",
        FakeOpenAIServer,
        "authorization",
        "stop",
        OPENAI_LIMITS,
        (60, 59, 1000, 990),
        "/v1/chat/completions",
    ),
    Flavor(
        "anthropic",
        FakeAnthropicServer,
        "x-api-key",
        "end_turn",
        ANTHROPIC_LIMITS,
        (50, 40, 8000, 7000),
        "/v1/messages",
    ),
    Flavor("gemini", FakeGeminiServer, "x-goog-api-key", "STOP", {}, (None,) * 4, "/v1beta/"),
    Flavor(
        "azure_openai",
        FakeAzureOpenAIServer,
        "api-key",
        "stop",
        OPENAI_LIMITS,
        (60, 59, 1000, 990),
        "/openai/deployments/m-1/chat/completions?api-version=",
    ),
]


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWAPCHECK_TEST_KEY", SECRET)
    monkeypatch.delenv("SWAPCHECK_UNSET_KEY", raising=False)


@pytest.fixture(params=FLAVORS, ids=[f.provider for f in FLAVORS])
def flavor(request: pytest.FixtureRequest) -> Flavor:
    return request.param


@pytest.fixture
def server(flavor: Flavor) -> Iterator[FakeOpenAIServer]:
    with flavor.server(response_headers=flavor.limit_headers) as fake:
        yield fake


def variant(flavor: Flavor, base_url: str, **overrides: Any) -> VariantConfig:
    fields: dict[str, Any] = {
        "name": "cand",
        "provider": flavor.provider,
        "model": "m-1",
        "base_url": base_url,
        "api_key_env": "SWAPCHECK_TEST_KEY",
    }
    fields.update(overrides)
    return VariantConfig(**fields)


def complete(provider: Provider, timeout: float = 10.0, messages: Any = MESSAGES) -> Completion:
    async def go() -> Completion:
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await provider.complete(messages, client)

    return asyncio.run(go())


def failure(provider: Provider, timeout: float = 10.0) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        complete(provider, timeout)
    return info.value


def assert_no_secret(err: ProviderError) -> None:
    for text in (str(err), repr(err), err.message, err.fix or "", repr(err.args)):
        assert SECRET not in text


# -- success ------------------------------------------------------------------------------


def test_round_trip_parses_text_usage_finish_and_limits(
    flavor: Flavor, server: FakeOpenAIServer
) -> None:
    server.require_key = SECRET  # the server checks its own protocol's key header only
    provider = make_provider(variant(flavor, server.base_url, params={"temperature": 0}))
    completion = complete(provider)
    assert completion.text == ANSWER
    assert completion.finish_reason == flavor.finish_reason
    # "Be brief." + "What is 2+2?" = 5 words in; the 6-word answer out (the fake counts words)
    assert (completion.input_tokens, completion.output_tokens) == (5, 6)
    (request,) = server.requests
    assert request.path.startswith(flavor.path_start)
    assert request.body == provider.build_body(MESSAGES)
    assert request.messages == MESSAGES  # the server's reading of the translated request
    assert request.auth_present
    assert SECRET not in json.dumps(request.headers) and SECRET not in json.dumps(request.body)
    limit_requests, remaining_requests, limit_tokens, remaining_tokens = flavor.expected_limits
    if limit_requests is None:
        assert completion.rate_limit is None
    else:
        limits = completion.rate_limit
        assert limits is not None
        assert (limits.limit_requests, limits.remaining_requests) == (
            limit_requests,
            remaining_requests,
        )
        assert (limits.limit_tokens, limits.remaining_tokens) == (limit_tokens, remaining_tokens)
        assert limits.reset_requests_s is not None and limits.reset_requests_s >= 1.0


def test_key_goes_in_the_protocol_header(flavor: Flavor) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500, text="down")

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            provider = make_provider(variant(flavor, "https://llm.example.invalid"))
            with pytest.raises(RetryableProviderError):
                await provider.complete(MESSAGES, client)

    asyncio.run(go())
    (request,) = seen
    expected = f"Bearer {SECRET}" if flavor.key_header == "authorization" else SECRET
    assert request.headers[flavor.key_header] == expected
    others = {"authorization", "x-api-key", "api-key", "x-goog-api-key"} - {flavor.key_header}
    assert not others & set(request.headers.keys())
    assert SECRET not in str(request.url)


def test_local_server_without_key_sends_none(flavor: Flavor, server: FakeOpenAIServer) -> None:
    local = variant(flavor, server.base_url, api_key_env="SWAPCHECK_UNSET_KEY")
    assert complete(make_provider(local)).text == ANSWER
    assert server.requests[0].auth_present is False


# -- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "retryable", "says"),
    [
        (("429", 3), True, "HTTP 429"),
        (("500",), True, "HTTP 500"),
        (("503",), True, "HTTP 503"),
        (("529", "Overloaded"), True, "HTTP 529: Overloaded"),
        (("malformed",), True, "not valid JSON"),
        (("truncated",), True, "truncated"),
        (("reset",), True, "connection broke"),
        (("disconnect",), True, "closed the connection"),
        (("no_choices",), False, "HTTP 200"),
        (("400", "bad stop sequence"), False, "bad stop sequence"),
        (("403", "forbidden model"), False, "HTTP 403"),
    ],
)
def test_faults_map_to_errors(
    flavor: Flavor,
    server: FakeOpenAIServer,
    fault: tuple[Any, ...],
    retryable: bool,
    says: str,
) -> None:
    server.script(fault)
    provider = make_provider(variant(flavor, server.base_url))
    err = failure(provider)
    assert isinstance(err, RetryableProviderError if retryable else PermanentProviderError)
    assert says in str(err)
    assert err.fix
    if isinstance(err, RetryableProviderError):
        assert err.rate_limited is (fault[0] == "429")
        assert err.retry_after == (3.0 if fault[0] == "429" else None)
    if fault[0] == "429" and flavor.expected_limits[0] is not None:
        assert isinstance(err, RetryableProviderError) and err.rate_limit is not None
        assert err.rate_limit.remaining_requests == flavor.expected_limits[1]
    assert_no_secret(err)
    # The script is used up: the same provider's next request succeeds.
    assert complete(provider).text == ANSWER
    assert len(server.requests) == 2


def test_hanging_server_times_out_as_retryable(flavor: Flavor, server: FakeOpenAIServer) -> None:
    server.script(("hang", 30))
    err = failure(make_provider(variant(flavor, server.base_url)), timeout=0.3)
    assert isinstance(err, RetryableProviderError) and "timed out" in str(err)


def test_wrong_key_is_permanent_and_redacted(flavor: Flavor) -> None:
    with flavor.server(require_key="the-right-key") as server:  # echoes the key it got
        err = failure(make_provider(variant(flavor, server.base_url)))
    assert isinstance(err, PermanentProviderError)
    assert "HTTP 401" in str(err) and "***" in str(err)
    assert "SWAPCHECK_TEST_KEY" in (err.fix or "")
    assert_no_secret(err)


def test_unknown_model_is_permanent_with_a_fix(flavor: Flavor) -> None:
    with flavor.server(known_models={"real-model"}) as server:
        err = failure(make_provider(variant(flavor, server.base_url)))
    assert isinstance(err, PermanentProviderError) and "HTTP 404" in str(err)
    assert "base_url" in (err.fix or "")


def test_transport_error_text_is_redacted(flavor: Flavor) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused while sending {SECRET}", request=request)

    async def go() -> ProviderError:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            provider = make_provider(variant(flavor, "https://llm.example.invalid"))
            with pytest.raises(RetryableProviderError) as info:
                await provider.complete(MESSAGES, client)
            return info.value

    err = asyncio.run(go())
    assert "***" in str(err) and err.__cause__ is None
    assert_no_secret(err)


# -- protocol specifics -------------------------------------------------------------------


def test_anthropic_sends_version_header_and_lifted_system() -> None:
    with FakeAnthropicServer() as server:
        provider = make_provider(
            variant(FLAVORS[1], server.base_url, params={"max_tokens": 50, "stop": "END"})
        )
        complete(provider)
        (request,) = server.requests
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.body["system"] == "Be brief."
    assert request.body["max_tokens"] == 50 and request.body["stop_sequences"] == ["END"]


def test_anthropic_assistant_first_fails_before_sending() -> None:
    with FakeAnthropicServer() as server:
        provider = make_provider(variant(FLAVORS[1], server.base_url))
        with pytest.raises(PermanentProviderError, match="user turn"):
            complete(provider, messages=[{"role": "assistant", "content": "Hello!"}])
        assert server.requests == []


def test_gemini_blocked_prompt_is_a_result() -> None:
    with FakeGeminiServer() as server:
        server.script(("blocked", "PROHIBITED_CONTENT"))
        completion = complete(make_provider(variant(FLAVORS[2], server.base_url)))
    assert completion == Completion("", "blocked: PROHIBITED_CONTENT", 7, None)


def test_azure_api_version_in_query_not_body() -> None:
    with FakeAzureOpenAIServer() as server:
        params = {"api_version": "2024-06-01", "temperature": 0.5}
        provider = make_provider(variant(FLAVORS[3], server.base_url, params=params))
        complete(provider)
        (request,) = server.requests
    assert request.path.endswith("?api-version=2024-06-01")
    assert request.body == {"temperature": 0.5, "model": "m-1", "messages": MESSAGES}
