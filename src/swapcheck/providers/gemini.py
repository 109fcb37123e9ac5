"""Google Gemini ``generateContent`` provider (``POST {base_url}/models/{model}:generateContent``).

Translation rules (each one is unit-tested):

* ``system`` messages → ``systemInstruction: {parts: [{text}]}`` (joined with a blank line).
* ``user`` → role ``user``, ``assistant`` → role ``model``; ``tool`` messages (tool results;
  the chat format here has no tool-call structure) are sent as user text, unchanged.
  Consecutive same-role turns are merged into one (texts joined with a blank line).
* Params: the canonical ``temperature``, ``top_p``, ``max_tokens``, ``stop`` and ``seed`` go
  into ``generationConfig`` as ``temperature``, ``topP``, ``maxOutputTokens``,
  ``stopSequences`` (always a list) and ``seed``. The API's own ``generationConfig`` fields
  (``topK``, ``candidateCount``, ``presencePenalty``, ``frequencyPenalty``,
  ``responseMimeType``, ``responseSchema``, ``thinkingConfig``, ...; see ``GENERATION_PARAMS``)
  go there too, and its top-level ``safetySettings``, ``tools``, ``toolConfig``,
  ``cachedContent`` and ``labels`` go on the body. Any other param raises ``ConfigError``.
* A prompt blocked by safety filters (``promptFeedback.blockReason``, or no candidates) is an
  answer worth comparing, not an error: ``Completion(text="", finish_reason="blocked: REASON")``.
* ``finish_reason`` is Gemini's ``finishReason`` verbatim (``STOP``, ``MAX_TOKENS``, ...).

The key goes in the ``x-goog-api-key`` header, from ``api_key_env`` or else ``GEMINI_API_KEY``,
falling back to ``GOOGLE_API_KEY``. ``base_url`` includes the version (default ``.../v1beta``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from swapcheck.errors import PermanentProviderError
from swapcheck.models import ChatMessages, VariantConfig
from swapcheck.providers.anthropic import merge_turns
from swapcheck.providers.base import Completion, register_provider
from swapcheck.providers.http_common import (
    GENERIC_FIX_BY_STATUS,
    JsonHttpProvider,
    check_params,
    int_or_none,
    stop_list,
)

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"
DEFAULT_KEY_ENVS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

CANONICAL_TO_GEMINI = {
    "temperature": "temperature",
    "top_p": "topP",
    "max_tokens": "maxOutputTokens",
    "stop": "stopSequences",
    "seed": "seed",
}
GENERATION_PARAMS = frozenset(
    {
        "topP",
        "topK",
        "maxOutputTokens",
        "stopSequences",
        "candidateCount",
        "presencePenalty",
        "frequencyPenalty",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "responseLogprobs",
        "logprobs",
        "thinkingConfig",
        "mediaResolution",
    }
)
BODY_PARAMS = frozenset({"safetySettings", "tools", "toolConfig", "cachedContent", "labels"})
ACCEPTED_PARAMS = frozenset(CANONICAL_TO_GEMINI) | GENERATION_PARAMS | BODY_PARAMS
NATIVE_ALIASES = {
    native: canonical for canonical, native in CANONICAL_TO_GEMINI.items() if native != canonical
}

FIX_BY_STATUS = {
    **GENERIC_FIX_BY_STATUS,
    400: "Gemini rejected the request; check the variant's params and the API key.",
    404: "Check the model name (e.g. 'gemini-2.0-flash') and base_url (the API root with its "
    "version, e.g. 'https://generativelanguage.googleapis.com/v1beta').",
}


@register_provider("gemini")
class GeminiProvider(JsonHttpProvider):
    """POST ``{base_url}/models/{model}:generateContent`` with an ``x-goog-api-key`` header."""

    protocol = "Gemini generateContent"
    fix_by_status = FIX_BY_STATUS

    def __init__(self, variant: VariantConfig) -> None:
        key_envs = (variant.api_key_env,) if variant.api_key_env else DEFAULT_KEY_ENVS
        super().__init__(variant, variant.base_url or DEFAULT_BASE_URL, key_envs)
        check_params("gemini", variant.api_params, ACCEPTED_PARAMS, NATIVE_ALIASES)

    @property
    def url(self) -> str:
        model = self.variant.model.removeprefix("models/")
        return f"{self.base_url}/models/{quote(model, safe='')}:generateContent"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-goog-api-key": key}

    def build_body(self, messages: ChatMessages) -> dict[str, Any]:
        check_params("gemini", self.variant.api_params, ACCEPTED_PARAMS, NATIVE_ALIASES)
        system = [m["content"] for m in messages if m.get("role") == "system"]
        turns = [
            ("model" if m.get("role") == "assistant" else "user", m.get("content", ""))
            for m in messages
            if m.get("role") != "system"
        ]
        if not turns:
            raise PermanentProviderError(
                f"{self.where}: the prompt has no user or assistant message to send.",
                fix="Choose a study turn that includes a user message, or exclude these prompts.",
            )
        body: dict[str, Any] = {}
        if system:
            body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
        body["contents"] = [
            {"role": turn["role"], "parts": [{"text": turn["content"]}]}
            for turn in merge_turns(turns)
        ]
        config: dict[str, Any] = {}
        for name, value in self.variant.api_params.items():
            if name in BODY_PARAMS:
                body[name] = value
                continue
            native = CANONICAL_TO_GEMINI.get(name, name)
            config[native] = stop_list(value) if native == "stopSequences" else value
        if config:
            body["generationConfig"] = config
        return body

    def parse_payload(self, payload: Any, where: str) -> Completion:
        if not isinstance(payload, dict):
            raise self.protocol_error("reply is not a JSON object.")
        usage = payload.get("usageMetadata")
        usage = usage if isinstance(usage, dict) else {}
        input_tokens = int_or_none(usage.get("promptTokenCount"))
        output_tokens = int_or_none(usage.get("candidatesTokenCount"))
        feedback = payload.get("promptFeedback")
        block_reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
        candidates = payload.get("candidates")
        if block_reason or not candidates:
            if not {"candidates", "promptFeedback", "usageMetadata"} & payload.keys():
                raise self.protocol_error("reply has neither candidates nor promptFeedback.")
            reason = block_reason or "BLOCK_REASON_UNSPECIFIED"
            return Completion("", f"blocked: {reason}", input_tokens, output_tokens)
        candidate = candidates[0] if isinstance(candidates, list) else None
        if not isinstance(candidate, dict):
            raise self.protocol_error("reply has a malformed candidate.")
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        text = "".join(
            str(part.get("text", ""))
            for part in (parts if isinstance(parts, list) else [])
            if isinstance(part, dict) and not part.get("thought")
        )
        finish = candidate.get("finishReason")
        return Completion(
            text=text,
            finish_reason=str(finish) if finish is not None else None,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )
