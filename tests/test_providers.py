"""Provider tests: OpenAI request/response translation, error mapping, key hygiene, registry."""

from __future__ import annotations

import asyncio
import json
import sys
import types
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, TypeVar

import httpx
import pytest

from swapcheck.errors import ConfigError, PermanentProviderError, RetryableProviderError
from swapcheck.models import VariantConfig
from swapcheck.providers import (
    Completion,
    Provider,
    make_provider,
    provider_names,
    register_provider,
)
from swapcheck.providers.openai_chat import (
    DEFAULT_BASE_URL,
    OpenAIChatProvider,
    is_local_url,
    parse_retry_after,
)
from swapcheck.providers.simulated import SimulatedProvider
from tests.fake_openai_server import FakeOpenAIServer

T = TypeVar("T")
SECRET = "sk-test-DO-NOT-LEAK-7f3a9c2e5b1d"
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 2+2?"},
]
Handler = Callable[[httpx.Request], httpx.Response]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def variant(**overrides: Any) -> VariantConfig:
    fields: dict[str, Any] = {
        "name": "cand",
        "provider": "openai",
        "model": "gpt-test",
        "base_url": "https://llm.example.invalid/v1",
        "api_key_env": "SWAPCHECK_TEST_KEY",
    }
    fields.update(overrides)
    return VariantConfig(**fields)


def complete_with(provider: Provider, handler: Handler) -> Completion:
    async def go() -> Completion:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await provider.complete(MESSAGES, client)

    return run(go())


def ok_body(content: Any = "4", **extra: Any) -> dict[str, Any]:
    body = {
        "id": "c1",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 1, "total_tokens": 12},
    }
    body.update(extra)
    return body


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        payload = {"error": {"message": message, "type": "x", "code": None}}
        return httpx.Response(status, json=payload, headers=headers)

    return handler


def raise_from(
    status: int, message: str = "boom", headers: dict[str, str] | None = None
) -> Exception:
    provider = OpenAIChatProvider(variant())
    with pytest.raises((RetryableProviderError, PermanentProviderError)) as info:
        complete_with(provider, error_response(status, message, headers))
    return info.value


@pytest.fixture(autouse=True)
def provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWAPCHECK_TEST_KEY", SECRET)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("SWAPCHECK_UNSET_KEY", raising=False)


@pytest.fixture
def fake_openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


# -- request translation ------------------------------------------------------------------


def test_request_body_url_and_auth_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ok_body())

    params = {"temperature": 0.2, "max_tokens": 64, "top_p": 0.9, "stop": ["\n\n"], "seed": 7}
    completion = complete_with(OpenAIChatProvider(variant(params=params)), handler)

    assert completion == Completion("4", "stop", 11, 1)
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://llm.example.invalid/v1/chat/completions"
    assert json.loads(request.content) == {"model": "gpt-test", "messages": MESSAGES, **params}
    assert request.headers["authorization"] == f"Bearer {SECRET}"


def test_default_base_url_and_default_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:  # MockTransport: no network
        seen.append(request)
        return httpx.Response(200, json=ok_body())

    provider = OpenAIChatProvider(variant(base_url=None, api_key_env=None))
    complete_with(provider, handler)
    # MockTransport answered: nothing left this process; the URL is only compared as text
    assert str(seen[0].url) == f"{DEFAULT_BASE_URL}/chat/completions"
    assert seen[0].headers["authorization"] == f"Bearer {SECRET}"


def test_trailing_slash_in_base_url_is_tolerated() -> None:
    provider = OpenAIChatProvider(variant(base_url="http://localhost:8000/v1/"))
    assert provider.url == "http://localhost:8000/v1/chat/completions"


def test_params_cannot_override_model_or_messages() -> None:
    provider = OpenAIChatProvider(variant(params={"model": "other", "temperature": 0}))
    body = provider.build_body(MESSAGES)
    assert body["model"] == "gpt-test" and body["messages"] == MESSAGES


def test_no_authorization_header_without_key_on_local_server() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ok_body())

    local = variant(base_url="http://127.0.0.1:11434/v1", api_key_env="SWAPCHECK_UNSET_KEY")
    complete_with(OpenAIChatProvider(local), handler)
    assert "authorization" not in seen[0].headers


# -- configuration and key hygiene --------------------------------------------------------


def test_missing_key_on_remote_url_is_config_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        OpenAIChatProvider(variant(api_key_env="SWAPCHECK_UNSET_KEY"))
    assert "SWAPCHECK_UNSET_KEY" in str(info.value)
    assert info.value.fix and "SWAPCHECK_UNSET_KEY" in info.value.fix


def test_missing_default_key_names_openai_api_key() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAIChatProvider(variant(base_url=None, api_key_env=None))


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://localhost:8000/v1", True),
        ("http://127.0.0.1:11434/v1", True),
        ("http://127.5.0.1/v1", True),
        ("http://[::1]:8000/v1", True),
        ("http://api.localhost/v1", True),
        ("https://llm.example.com/v1", False),
        ("http://10.0.0.5:8000/v1", False),
        ("http://localhost.evil.example/v1", False),
    ],
)
def test_is_local_url(url: str, local: bool) -> None:
    assert is_local_url(url) is local


def test_key_never_appears_in_errors_or_reprs() -> None:
    provider = OpenAIChatProvider(variant())
    assert SECRET not in repr(provider)
    assert "has_key=True" in repr(provider)

    # A server that echoes the key back (OpenAI does, partially) must not leak it through us.
    handler = error_response(401, f"Incorrect API key provided: {SECRET}.")
    with pytest.raises(PermanentProviderError) as info:
        complete_with(provider, handler)
    err = info.value
    for text in (str(err), repr(err), err.message, err.fix or "", repr(err.args)):
        assert SECRET not in text
    assert "***" in str(err)

    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect while sending {SECRET}", request=request)

    with pytest.raises(RetryableProviderError) as info2:
        complete_with(provider, broken)
    assert SECRET not in str(info2.value) and SECRET not in repr(info2.value)
    assert info2.value.__cause__ is None


# -- status → error mapping ---------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 408])
def test_transient_statuses_are_retryable(status: int) -> None:
    err = raise_from(status)
    assert isinstance(err, RetryableProviderError)
    assert f"HTTP {status}" in str(err)
    assert err.retry_after is None


def test_retry_after_seconds() -> None:
    err = raise_from(429, headers={"Retry-After": "7"})
    assert isinstance(err, RetryableProviderError) and err.retry_after == 7.0


def test_retry_after_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    err = raise_from(503, headers={"Retry-After": format_datetime(when, usegmt=True)})
    assert isinstance(err, RetryableProviderError)
    assert err.retry_after is not None and 25 <= err.retry_after <= 31


def test_retry_after_ms_wins() -> None:
    err = raise_from(429, headers={"retry-after-ms": "1500", "Retry-After": "9"})
    assert isinstance(err, RetryableProviderError) and err.retry_after == 1.5


def test_parse_retry_after_edge_cases() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    past = "Tue, 01 Jan 2019 00:00:00 GMT"
    assert parse_retry_after(httpx.Headers({"Retry-After": past}), now=now) == 0.0
    assert parse_retry_after(httpx.Headers({"Retry-After": "soon"})) is None
    assert parse_retry_after(httpx.Headers({"Retry-After": "-3"})) == 0.0
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "x", "Retry-After": "2"})) == 2.0
    assert parse_retry_after(httpx.Headers()) is None


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (400, "params"),
        (401, "SWAPCHECK_TEST_KEY"),
        (403, "permissions"),
        (404, "model name and base_url"),
        (422, "params"),
    ],
)
def test_permanent_statuses_carry_server_message_and_fix(status: int, hint: str) -> None:
    err = raise_from(status, message="Invalid value for 'temperature'")
    assert isinstance(err, PermanentProviderError)
    assert f"HTTP {status}" in str(err)
    assert "Invalid value for 'temperature'" in str(err)
    assert isinstance(err.fix, str) and hint in err.fix


def test_long_server_message_is_truncated() -> None:
    err = raise_from(400, message="x" * 5000)
    assert len(str(err)) < 700


def test_non_json_error_body_uses_text() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    with pytest.raises(RetryableProviderError, match="Bad Gateway"):
        complete_with(OpenAIChatProvider(variant()), handler)


@pytest.mark.parametrize("exc_type", [httpx.ReadTimeout, httpx.ConnectError, httpx.ReadError])
def test_transport_failures_are_retryable(exc_type: type[httpx.TransportError]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("nope", request=request)

    with pytest.raises(RetryableProviderError):
        complete_with(OpenAIChatProvider(variant()), handler)


# -- response parsing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, json={"choices": []}),
        httpx.Response(200, json={"object": "list"}),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"choices": ["text"]}),
    ],
)
def test_wrong_shape_success_is_permanent(response: httpx.Response) -> None:
    with pytest.raises(PermanentProviderError, match="HTTP 200"):
        complete_with(OpenAIChatProvider(variant()), lambda request: response)


def test_success_that_is_not_json_is_a_retryable_glitch() -> None:
    """A 200 with a body that does not parse is a server glitch (often a cut-off reply)."""
    response = httpx.Response(200, text="{not json")
    with pytest.raises(RetryableProviderError, match="HTTP 200") as info:
        complete_with(OpenAIChatProvider(variant()), lambda request: response)
    assert not info.value.rate_limited


def test_null_content_and_missing_usage() -> None:
    body = ok_body(content=None)
    body["choices"][0]["finish_reason"] = "content_filter"
    del body["usage"]
    completion = complete_with(
        OpenAIChatProvider(variant()), lambda request: httpx.Response(200, json=body)
    )
    assert completion == Completion("", "content_filter", None, None)


def test_list_content_parts_are_joined() -> None:
    parts = [{"type": "text", "text": "Hello "}, {"type": "text", "text": "world"}]
    completion = complete_with(
        OpenAIChatProvider(variant()), lambda request: httpx.Response(200, json=ok_body(parts))
    )
    assert completion.text == "Hello world"


# -- against a real HTTP server on 127.0.0.1 ----------------------------------------------


def real_complete(provider: Provider, timeout: float = 5.0) -> Completion:
    async def go() -> Completion:
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await provider.complete(MESSAGES, client)

    return run(go())


def test_fake_server_round_trip(fake_openai_server: FakeOpenAIServer) -> None:
    local = variant(base_url=fake_openai_server.base_url, params={"temperature": 0})
    completion = real_complete(OpenAIChatProvider(local))
    assert completion.text == "answer from gpt-test: What is 2+2?"
    assert completion.finish_reason == "stop"
    assert completion.input_tokens == 5 and completion.output_tokens == 6
    (request,) = fake_openai_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.body == {"model": "gpt-test", "messages": MESSAGES, "temperature": 0}
    assert request.auth_present is True
    assert SECRET not in json.dumps(request.headers)


def test_fake_server_without_key_sends_no_auth(fake_openai_server: FakeOpenAIServer) -> None:
    local = variant(base_url=fake_openai_server.base_url, api_key_env="SWAPCHECK_UNSET_KEY")
    real_complete(OpenAIChatProvider(local))
    assert fake_openai_server.requests[0].auth_present is False


def test_wrong_key_against_server_is_redacted() -> None:
    with FakeOpenAIServer(require_key="sk-the-right-one") as server:
        provider = OpenAIChatProvider(variant(base_url=server.base_url))
        with pytest.raises(PermanentProviderError) as info:
            real_complete(provider)
    assert "HTTP 401" in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    assert "SWAPCHECK_TEST_KEY" in (info.value.fix or "")


def test_unknown_model_and_wrong_path_hint_at_404() -> None:
    with FakeOpenAIServer(known_models={"gpt-real"}) as server:
        with pytest.raises(PermanentProviderError, match="does not exist") as info:
            real_complete(OpenAIChatProvider(variant(base_url=server.base_url)))
        assert "model name and base_url" in (info.value.fix or "")
        root = server.base_url.removesuffix("/v1")
        with pytest.raises(PermanentProviderError, match="HTTP 404"):
            real_complete(OpenAIChatProvider(variant(base_url=root, model="gpt-real")))


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (("429", 3), RetryableProviderError),
        (("500",), RetryableProviderError),
        (("503",), RetryableProviderError),
        (("disconnect",), RetryableProviderError),
        (("malformed",), RetryableProviderError),
        (("no_choices",), PermanentProviderError),
        (("400", "bad stop sequence"), PermanentProviderError),
        (("401",), PermanentProviderError),
    ],
)
def test_fake_server_faults_map_to_errors(
    fake_openai_server: FakeOpenAIServer, fault: tuple[Any, ...], error: type[Exception]
) -> None:
    fake_openai_server.script(fault)
    provider = OpenAIChatProvider(variant(base_url=fake_openai_server.base_url))
    with pytest.raises(error) as info:
        real_complete(provider)
    if fault[0] == "429":
        assert isinstance(info.value, RetryableProviderError) and info.value.retry_after == 3
    # The script is used up: the next request succeeds.
    assert real_complete(provider).text.startswith("answer from gpt-test")


def test_hanging_server_times_out_as_retryable(fake_openai_server: FakeOpenAIServer) -> None:
    fake_openai_server.script(("hang", 5))
    provider = OpenAIChatProvider(variant(base_url=fake_openai_server.base_url))
    with pytest.raises(RetryableProviderError, match="timed out"):
        real_complete(provider, timeout=0.2)


# -- registry and simulated provider ------------------------------------------------------


def test_registry_builds_known_providers_and_rejects_unknown() -> None:
    assert {"openai", "simulated"} <= set(provider_names())
    assert isinstance(make_provider(variant()), OpenAIChatProvider)
    assert isinstance(make_provider(variant(provider="simulated")), SimulatedProvider)
    with pytest.raises(ConfigError, match="Unknown provider 'nope'") as info:
        make_provider(variant(provider="nope"))
    assert "openai" in (info.value.fix or "")
    with pytest.raises(ConfigError, match="logged"):
        make_provider(variant(provider="logged"))


def test_register_provider_decorator() -> None:
    @register_provider("test-constant")
    class Constant:
        def __init__(self, v: VariantConfig) -> None:
            self.v = v

        def build_body(self, messages: Any) -> dict[str, Any]:
            return {"messages": messages}

        async def complete(self, messages: Any, client: httpx.AsyncClient) -> Completion:
            return Completion(f"constant {self.v.model}", "stop", 1, 1)

    provider = make_provider(variant(provider="test-constant"))
    assert isinstance(provider, Provider)
    assert complete_with(provider, lambda r: httpx.Response(500)).text == "constant gpt-test"


def test_simulated_provider_passes_quirks_and_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []

    def simulate_answer(messages: Any, model: str, *, quirks: Any = (), seed: int = 0) -> Any:
        calls.append((messages, model, tuple(quirks), seed))
        return types.SimpleNamespace(
            text="sim", finish_reason="length", input_tokens=3, output_tokens=4
        )

    fake_module = types.ModuleType("swapcheck.simulated_model")
    fake_module.simulate_answer = simulate_answer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "swapcheck.simulated_model", fake_module)
    sim = variant(provider="simulated", model="sim-b", params={"quirks": ["terse"], "seed": 3})

    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the simulated provider must not use the network")

    completion = complete_with(make_provider(sim), no_network)
    assert completion == Completion("sim", "length", 3, 4)
    assert calls == [(MESSAGES, "sim-b", ("terse",), 3)]


def test_simulated_provider_is_deterministic_with_real_model() -> None:
    pytest.importorskip("swapcheck.simulated_model", reason="simulated_model not landed yet")
    sim = variant(provider="simulated", model="sim-a", params={"seed": 1})

    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the simulated provider must not use the network")

    first = complete_with(make_provider(sim), no_network)
    second = complete_with(make_provider(sim), no_network)
    assert first == second
    assert isinstance(first.text, str) and first.text


def test_swapcheck_own_params_are_never_sent_nor_change_the_request_hash() -> None:
    plain = variant(params={"temperature": 0})
    with_discount = variant(params={"temperature": 0, "batch_discount": 0.5})
    messages = [{"role": "user", "content": "hi"}]
    assert "batch_discount" not in OpenAIChatProvider(with_discount).build_body(messages)
    assert with_discount.request_hash(messages) == plain.request_hash(messages)
