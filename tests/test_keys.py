"""API keys: looked up by variable name, environment first, then registered sources."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from swapcheck import keys
from swapcheck.models import VariantConfig
from swapcheck.providers import make_provider


@pytest.fixture(autouse=True)
def clean_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "_SOURCES", [])


def test_environment_wins_over_registered_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    keys.register_key_source(lambda name: "from-secrets")
    assert keys.lookup_key("SWAP_TEST_KEY") == "from-secrets"
    monkeypatch.setenv("SWAP_TEST_KEY", "from-env")
    assert keys.lookup_key("SWAP_TEST_KEY") == "from-env"


def test_a_broken_source_is_skipped() -> None:
    def broken(name: str) -> str:
        raise FileNotFoundError("no secrets.toml")

    keys.register_key_source(broken)
    keys.register_key_source(lambda name: {"K": "v"}.get(name))
    assert keys.lookup_key("K") == "v"
    assert keys.lookup_key("MISSING") is None


def test_openai_provider_uses_a_key_from_secrets_without_showing_it() -> None:
    keys.register_key_source(lambda name: "sk-from-secrets-0042" if name == "TEAM_KEY" else None)
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(
            200, json={"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]}
        )

    provider = make_provider(
        VariantConfig(
            name="v",
            provider="openai",
            model="m",
            base_url="https://llm.example.invalid/v1",
            api_key_env="TEAM_KEY",
        )
    )
    assert "sk-from-secrets-0042" not in repr(provider)

    async def call():  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await provider.complete([{"role": "user", "content": "x"}], client)

    completion = asyncio.run(call())
    assert completion.text == "hi" and seen == ["Bearer sk-from-secrets-0042"]
