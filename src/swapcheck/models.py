"""Typed records shared across stages (variants, generation results, judgments)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
ChatMessages = list[dict[str, str]]
"""OpenAI chat format with string content: ``[{"role": "user", "content": "..."}]``."""

Choice = Literal["baseline", "candidate", "tie", "both_bad"]
CHOICES: tuple[str, ...] = ("baseline", "candidate", "tie", "both_bad")
Side = Literal["left", "right"]

RESERVED_PARAMS = frozenset({"batch_discount"})
"""Variant params that configure swapcheck itself and are never sent to a provider."""

LOGGED_VARIANT = "logged"
"""Name of the built-in variant holding the answers that were logged in production."""


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no whitespace) used for hashing and storage."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class VariantConfig:
    """One way of answering: a provider + model + parameters (or ``logged``)."""

    name: str
    provider: str
    model: str = ""
    base_url: str | None = None
    api_key_env: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    price_input_per_mtok: float = 0.0
    price_output_per_mtok: float = 0.0
    system_prompt: str | None = None
    """Replaces the logged system prompt; with ``{system}`` in it, wraps the logged one."""
    max_concurrency: int | None = None
    """Requests in flight at once for this variant (None: the run's setting)."""
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    @property
    def api_params(self) -> dict[str, Any]:
        """The params a provider sees (swapcheck's own settings such as batch_discount removed)."""
        return {k: v for k, v in self.params.items() if k not in RESERVED_PARAMS}

    def prepare_messages(self, messages: ChatMessages) -> ChatMessages:
        """The messages this variant sends: the system prompt override or template applied."""
        if self.system_prompt is None:
            return messages
        logged = "\n\n".join(m["content"] for m in messages if m.get("role") == "system")
        rest = [m for m in messages if m.get("role") != "system"]
        if "{system}" in self.system_prompt:
            text = self.system_prompt.replace("{system}", logged)
        else:
            text = self.system_prompt
        if not text.strip():
            return rest
        return [{"role": "system", "content": text}, *rest]

    def request_hash(self, messages: ChatMessages) -> str:
        """Identity of one request: same variant settings + same messages → same answer slot."""
        return sha256_hex(
            canonical_json(
                {
                    "provider": self.provider,
                    "model": self.model,
                    "base_url": self.base_url,
                    "params": self.api_params,
                    "messages": messages,
                }
            )
        )

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float | None:
        if input_tokens is None and output_tokens is None:
            return None
        return (
            (input_tokens or 0) * self.price_input_per_mtok
            + (output_tokens or 0) * self.price_output_per_mtok
        ) / 1_000_000


@dataclass(frozen=True)
class GenerationJob:
    """One prompt to be answered by one variant."""

    prompt_id: str
    messages: ChatMessages


@dataclass
class ResponseRecord:
    """Outcome of one generation job, success or failure, ready to be stored."""

    prompt_id: str
    variant: str
    request_hash: str
    text: str | None
    finish_reason: str | None = None
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    error: str | None = None
    attempts: int = 1
    request_body: str | None = None
    """Canonical JSON of the body sent to the provider (never holds a secret)."""
    run_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


def content_text(content: object) -> str:
    """A chat message's content as one string: text parts joined by line breaks, other
    parts left out (images are never shown or scored)."""
    if content is None:
        return ""
    if isinstance(content, list):
        texts = [p.get("text") if isinstance(p, dict) else p for p in content]
        return "\n".join(t for t in texts if isinstance(t, str))
    return str(content)
