"""OpenAI-compatible chat completions provider (OpenAI, vLLM, Ollama, Together, ...)."""

from __future__ import annotations

from typing import Any

from swapcheck.models import ChatMessages, VariantConfig
from swapcheck.providers.base import Completion, register_provider
from swapcheck.providers.http_common import (
    GENERIC_FIX_BY_STATUS,
    MAX_SERVER_MESSAGE,
    RETRYABLE_STATUSES,
    JsonHttpProvider,
    content_text,
    int_or_none,
    is_local_url,
    parse_retry_after,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_KEY_ENV",
    "MAX_SERVER_MESSAGE",
    "RETRYABLE_STATUSES",
    "OpenAIChatProvider",
    "is_local_url",
    "chat_completion",
    "parse_chat_completion",
    "parse_retry_after",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"


def chat_completion(payload: Any) -> Completion | None:
    """A chat-completions body (OpenAI, Azure OpenAI and compatibles, also inside Batch API
    output) as a ``Completion``; None when it has no choices."""
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    choice = choices[0]
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if content is None and "text" in choice:  # legacy completions shape
        content = choice.get("text")
    finish = choice.get("finish_reason")
    usage = payload.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    return Completion(
        text=content_text(content),
        finish_reason=str(finish) if finish is not None else None,
        input_tokens=int_or_none(usage.get("prompt_tokens")),
        output_tokens=int_or_none(usage.get("completion_tokens")),
    )


def parse_chat_completion(payload: Any, provider: JsonHttpProvider) -> Completion:
    """A chat-completions reply as a ``Completion``; a protocol error without choices."""
    completion = chat_completion(payload)
    if completion is None:
        raise provider.protocol_error("reply has no choices.")
    return completion


@register_provider("openai")
class OpenAIChatProvider(JsonHttpProvider):
    """POST ``{base_url}/chat/completions`` with ``{**params, "model", "messages"}``.

    Every param is passed through unchanged (OpenAI-compatible servers differ in what they
    accept; the server's 400 names a bad one). ``Authorization: Bearer <key>`` when a key is set.
    """

    protocol = "OpenAI chat completions"
    fix_by_status = GENERIC_FIX_BY_STATUS

    def __init__(self, variant: VariantConfig) -> None:
        super().__init__(
            variant,
            base_url=variant.base_url or DEFAULT_BASE_URL,
            key_envs=(variant.api_key_env or DEFAULT_KEY_ENV,),
        )

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def build_body(self, messages: ChatMessages) -> dict[str, Any]:
        """Request body: the variant's params plus model and messages (which always win)."""
        return {**self.variant.api_params, "model": self.variant.model, "messages": messages}

    def parse_payload(self, payload: Any, where: str) -> Completion:
        return parse_chat_completion(payload, self)
