"""Anthropic Messages API provider (``POST {base_url}/v1/messages``).

Translation rules (each one is unit-tested):

* Every ``system`` message, wherever it appears, goes into the top-level ``system`` string,
  in order, joined with a blank line.
* The other messages must alternate user/assistant: consecutive same-role messages are merged
  into one turn (texts joined with a blank line). ``tool`` messages (tool results; the chat
  format here has no tool-call structure) are sent as user text, unchanged, and so merge with a
  neighbouring user turn.
* The conversation must start with a user turn. When the first non-system message is an
  assistant message no text is invented: ``PermanentProviderError`` is raised.
* Params: the canonical ``temperature``, ``top_p``, ``max_tokens`` and ``stop`` (→
  ``stop_sequences``, always a list) are translated; ``seed`` does not exist in this API and is
  refused. The API's own ``top_k``, ``stop_sequences``, ``metadata``, ``thinking``,
  ``service_tier``, ``tools`` and ``tool_choice`` pass through unchanged. Any other param raises
  ``ConfigError`` (naming the param and the accepted names) instead of being silently dropped.
* ``max_tokens`` is required by the API: ``params["max_tokens"]`` or ``DEFAULT_MAX_TOKENS``.
* ``finish_reason`` is Anthropic's ``stop_reason`` verbatim (``end_turn``, ``max_tokens``, ...).

``base_url`` is the API root without ``/v1`` (a trailing ``/v1`` is tolerated and removed).
"""

from __future__ import annotations

from typing import Any

from swapcheck.errors import ConfigError, PermanentProviderError
from swapcheck.models import ChatMessages, VariantConfig
from swapcheck.providers.base import Completion, register_provider
from swapcheck.providers.http_common import (
    GENERIC_FIX_BY_STATUS,
    JsonHttpProvider,
    check_params,
    int_or_none,
    stop_list,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_KEY_ENV = "ANTHROPIC_API_KEY"
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
"""Sent when the variant's params set no ``max_tokens`` (the API requires one)."""

CANONICAL_PARAMS = frozenset({"temperature", "top_p", "max_tokens", "stop"})
NATIVE_PARAMS = frozenset(
    {"top_k", "stop_sequences", "metadata", "thinking", "service_tier", "tools", "tool_choice"}
)
ACCEPTED_PARAMS = CANONICAL_PARAMS | NATIVE_PARAMS
NATIVE_ALIASES = {"stop_sequences": "stop"}

FIX_BY_STATUS = {
    **GENERIC_FIX_BY_STATUS,
    404: "Check the model name and base_url (the API root, e.g. 'https://api.anthropic.com').",
    413: "The prompt is too large for the API; exclude such prompts from the study.",
}


def messages_reply(payload: Any) -> Completion | None:
    """The text, stop reason and usage of a Messages API reply (also inside Message Batches
    results), or None if it is not one."""
    content = payload.get("content") if isinstance(payload, dict) else None
    if not isinstance(content, list):
        return None
    text = "".join(
        str(block.get("text", ""))
        for block in content
        if isinstance(block, dict) and block.get("type") == "text"
    )
    stop_reason = payload.get("stop_reason")
    usage = payload.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    return Completion(
        text=text,
        finish_reason=str(stop_reason) if stop_reason is not None else None,
        input_tokens=int_or_none(usage.get("input_tokens")),
        output_tokens=int_or_none(usage.get("output_tokens")),
    )


def merge_turns(turns: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Consecutive same-role ``(role, text)`` turns merged, texts joined with a blank line."""
    merged: list[dict[str, str]] = []
    for role, text in turns:
        if merged and merged[-1]["role"] == role:
            merged[-1]["content"] += "\n\n" + text
        else:
            merged.append({"role": role, "content": text})
    return merged


@register_provider("anthropic")
class AnthropicProvider(JsonHttpProvider):
    """POST ``{base_url}/v1/messages`` with ``x-api-key`` and ``anthropic-version`` headers."""

    protocol = "Anthropic Messages"
    fix_by_status = FIX_BY_STATUS

    def __init__(self, variant: VariantConfig) -> None:
        base_url = (variant.base_url or DEFAULT_BASE_URL).rstrip("/").removesuffix("/v1")
        super().__init__(variant, base_url, (variant.api_key_env or DEFAULT_KEY_ENV,))
        self._check_params()

    def _check_params(self) -> None:
        params = self.variant.api_params
        if "seed" in params:
            raise ConfigError(
                f"Variant '{self.variant.name}': the Anthropic Messages API has no 'seed' "
                "parameter.",
                fix="Remove 'seed' from the variant's params (Anthropic sampling cannot be "
                "seeded; use temperature 0 for the most repeatable answers).",
            )
        check_params("anthropic", params, ACCEPTED_PARAMS, NATIVE_ALIASES)

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1/messages"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def extra_headers(self) -> dict[str, str]:
        return {"anthropic-version": ANTHROPIC_VERSION}

    def build_body(self, messages: ChatMessages) -> dict[str, Any]:
        self._check_params()
        params = dict(self.variant.api_params)
        system = [m["content"] for m in messages if m.get("role") == "system"]
        turns = [
            ("assistant" if m.get("role") == "assistant" else "user", m.get("content", ""))
            for m in messages
            if m.get("role") != "system"
        ]
        if not turns or turns[0][0] != "user":
            first = "no user or assistant message" if not turns else "an assistant message"
            raise PermanentProviderError(
                f"{self.where}: the conversation starts with {first}; the Anthropic Messages "
                "API requires it to start with a user turn.",
                fix="Anthropic requires the conversation to start with a user turn: choose a "
                "study turn whose prompt starts with a user message (the study's turn choice "
                "decides which messages are replayed), or exclude these prompts.",
            )
        body: dict[str, Any] = {
            "model": self.variant.model,
            "max_tokens": params.pop("max_tokens", DEFAULT_MAX_TOKENS),
        }
        if system:
            body["system"] = "\n\n".join(system)
        body["messages"] = merge_turns(turns)
        if "stop" in params:
            body["stop_sequences"] = stop_list(params.pop("stop"))
        if "stop_sequences" in params:
            body["stop_sequences"] = stop_list(params.pop("stop_sequences"))
        body.update(params)
        return body

    def parse_payload(self, payload: Any, where: str) -> Completion:
        completion = messages_reply(payload)
        if completion is None:
            raise self.protocol_error("reply has no content list.")
        return completion
