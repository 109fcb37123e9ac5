"""Real Anthropic, Gemini and Azure OpenAI servers on 127.0.0.1 with scripted faults, for tests.

They reuse ``tests.fake_openai_server`` (recording, fault rules, the fault vocabulary:
``("429", retry_after)``, ``("500",)``, ``("503",)``, ``("529",)``, ``("hang", s)``,
``("malformed",)``, ``("truncated",)``, ``("reset",)``, ``("disconnect",)``, any
``(status, message)``) and only swap the protocol: path, key header, body and reply shapes.
Gemini adds ``("blocked", reason)``: a reply with ``promptFeedback.blockReason`` and no
candidates. ``RecordedRequest.messages`` is always the conversation in OpenAI chat form.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fake_openai_server import FakeOpenAIServer, Fault, OpenAIHandler, RecordedRequest

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_GOOGLE_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return str(content or "")


class AnthropicHandler(OpenAIHandler):
    """``POST /v1/messages`` with ``x-api-key`` and ``anthropic-version``."""

    def describe(self, record: RecordedRequest) -> None:
        body = record.body if isinstance(record.body, dict) else {}
        chat = [{"role": "system", "content": body["system"]}] if body.get("system") else []
        for message in body.get("messages") or []:
            if isinstance(message, dict):
                chat.append({"role": message.get("role"), "content": _text(message.get("content"))})
        record.chat_messages = chat

    def path_ok(self) -> bool:
        return self.path.rstrip("/") == "/v1/messages"

    def body_problem(self, body: Any) -> str | None:
        if not self.headers.get("anthropic-version"):
            return "anthropic-version: header is required"
        if not isinstance(body, dict) or not body.get("messages"):
            return "messages: field required"
        if not isinstance(body.get("max_tokens"), int):
            return "max_tokens: field required"
        roles = [m.get("role") for m in body["messages"]]
        if roles[0] != "user" or any(a == b for a, b in zip(roles, roles[1:], strict=False)):
            return "messages: roles must alternate between 'user' and 'assistant', from 'user'"
        return None

    def sent_key(self) -> str:
        return self.headers.get("x-api-key", "")

    def error_payload(self, status: int, message: str, code: str) -> Any:
        kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}

    def empty_payload(self) -> Any:
        return {"id": "msg_x", "type": "message", "role": "assistant"}

    def success_payload(
        self, model: str, content: str, prompt_tokens: int, completion_tokens: int
    ) -> Any:
        return {
            "id": f"msg_{len(self.fake.requests)}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": content}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens},
        }


_GEMINI_PATH = re.compile(r"^/v1beta/models/([^/:]+):generateContent$")


class GeminiHandler(OpenAIHandler):
    """``POST /v1beta/models/{model}:generateContent`` with ``x-goog-api-key``."""

    def _model_in_path(self) -> str | None:
        match = _GEMINI_PATH.match(urlsplit(self.path).path)
        return unquote(match.group(1)) if match else None

    def describe(self, record: RecordedRequest) -> None:
        body = record.body if isinstance(record.body, dict) else {}
        chat: list[dict[str, Any]] = []
        system = body.get("systemInstruction")
        if isinstance(system, dict):
            chat.append({"role": "system", "content": _text(system.get("parts"))})
        for turn in body.get("contents") or []:
            if isinstance(turn, dict):
                role = "assistant" if turn.get("role") == "model" else turn.get("role")
                chat.append({"role": role, "content": _text(turn.get("parts"))})
        record.chat_messages = chat
        record.model_name = self._model_in_path()

    def path_ok(self) -> bool:
        return self._model_in_path() is not None

    def body_problem(self, body: Any) -> str | None:
        if not isinstance(body, dict) or not body.get("contents"):
            return "* GenerateContentRequest.contents: contents is not specified"
        if "messages" in body:
            return 'Invalid JSON payload received. Unknown name "messages"'
        return None

    def sent_key(self) -> str:
        return self.headers.get("x-goog-api-key", "")

    def error_payload(self, status: int, message: str, code: str) -> Any:
        google_status = _GOOGLE_STATUSES.get(status, "UNKNOWN")
        return {"error": {"code": status, "message": message, "status": google_status}}

    def empty_payload(self) -> Any:
        return {"modelVersion": "x"}

    def _apply_fault(self, fault: Fault) -> bool:
        if fault[0] == "blocked":
            reason = fault[1] if len(fault) > 1 else "SAFETY"
            payload = {
                "promptFeedback": {"blockReason": reason},
                "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
            }
            self._json(200, payload)
            return True
        return super()._apply_fault(fault)

    def success_payload(
        self, model: str, content: str, prompt_tokens: int, completion_tokens: int
    ) -> Any:
        return {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": content}]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": completion_tokens,
                "totalTokenCount": prompt_tokens + completion_tokens,
            },
            "modelVersion": model,
        }


_AZURE_PATH = re.compile(r"^/openai/deployments/([^/]+)/chat/completions$")


class AzureHandler(OpenAIHandler):
    """``POST /openai/deployments/{deployment}/chat/completions?api-version=...``, ``api-key``."""

    def describe(self, record: RecordedRequest) -> None:
        match = _AZURE_PATH.match(urlsplit(self.path).path)
        record.model_name = unquote(match.group(1)) if match else None

    def path_ok(self) -> bool:
        parts = urlsplit(self.path)
        return bool(_AZURE_PATH.match(parts.path)) and bool(
            parse_qs(parts.query).get("api-version")
        )

    def sent_key(self) -> str:
        return self.headers.get("api-key", "")


class FakeAnthropicServer(FakeOpenAIServer):
    """``base_url`` is the API root (``http://127.0.0.1:PORT``), like the real API's root."""

    handler_class = AnthropicHandler

    @property
    def base_url(self) -> str:
        return self.root_url


class FakeGeminiServer(FakeOpenAIServer):
    """``base_url`` is ``http://127.0.0.1:PORT/v1beta``."""

    handler_class = GeminiHandler

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1beta"


class FakeAzureOpenAIServer(FakeOpenAIServer):
    """``base_url`` is the resource endpoint (``http://127.0.0.1:PORT``)."""

    handler_class = AzureHandler

    @property
    def base_url(self) -> str:
        return self.root_url
