"""OpenAI-compatible chat completions provider (OpenAI, vLLM, Ollama, Together, ...)."""

from __future__ import annotations

import ipaddress
import json
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from swapcheck.errors import ConfigError, PermanentProviderError, RetryableProviderError
from swapcheck.keys import lookup_key
from swapcheck.models import ChatMessages, VariantConfig
from swapcheck.providers.base import Completion, register_provider

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
MAX_SERVER_MESSAGE = 300
RETRYABLE_STATUSES = frozenset({408, 409, 429})

_FIX_BY_STATUS = {
    400: "The server rejected the request; check the variant's params (names and values).",
    403: "The key is not allowed to use this model or endpoint; check its permissions.",
    404: "Check the model name and base_url (it should end with the API root, e.g. '/v1').",
    422: "The server rejected the request body; check the variant's params.",
}


def is_local_url(url: str) -> bool:
    """True when ``url`` points at this machine (loopback address or ``localhost``)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP-date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _server_message(response: httpx.Response) -> str:
    """The error text a server put in its body (OpenAI, vLLM and Ollama shapes)."""
    message: Any = None
    try:
        payload = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        message = message or payload.get("message") or payload.get("detail")
    if not message:
        message = response.text
    text = " ".join(str(message).split())
    if len(text) > MAX_SERVER_MESSAGE:
        text = text[: MAX_SERVER_MESSAGE - 3] + "..."
    return text or response.reason_phrase or "no details"


def _content_text(content: Any) -> str:
    """Message content as text; list-of-parts content is joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return "".join(str(p) for p in parts if p)
    return str(content)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@register_provider("openai")
class OpenAIChatProvider:
    """POST ``{base_url}/chat/completions`` with ``{"model", "messages", **params}``."""

    def __init__(self, variant: VariantConfig) -> None:
        self.variant = variant
        self.base_url = (variant.base_url or DEFAULT_BASE_URL).rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.key_env = variant.api_key_env or DEFAULT_KEY_ENV
        self.__key = lookup_key(self.key_env)
        if self.__key is None and not is_local_url(self.base_url):
            raise ConfigError(
                f"No API key for variant '{variant.name}': environment variable "
                f"{self.key_env} is not set.",
                fix=f"Set {self.key_env} in the environment (or st.secrets) before generating, "
                "or point api_key_env at the variable that holds the key.",
            )

    @property
    def has_key(self) -> bool:
        return self.__key is not None

    def __repr__(self) -> str:
        return (
            f"OpenAIChatProvider(variant={self.variant.name!r}, model={self.variant.model!r}, "
            f"base_url={self.base_url!r}, key_env={self.key_env!r}, has_key={self.has_key})"
        )

    def _redact(self, text: str) -> str:
        if self.__key:
            text = text.replace(self.__key, "***")
        return text

    def build_body(self, messages: ChatMessages) -> dict[str, Any]:
        """Request body: the variant's params plus model and messages (which always win)."""
        return {**self.variant.params, "model": self.variant.model, "messages": messages}

    async def complete(self, messages: ChatMessages, client: httpx.AsyncClient) -> Completion:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.__key:
            headers["Authorization"] = f"Bearer {self.__key}"
        where = f"{self.variant.name} ({self.variant.model} at {self.base_url})"
        try:
            response = await client.post(self.url, json=self.build_body(messages), headers=headers)
        except httpx.TimeoutException as exc:
            raise RetryableProviderError(
                f"{where}: request timed out ({type(exc).__name__}).",
                fix="Raise the timeout or lower concurrency if the server is overloaded.",
            ) from None
        except httpx.TransportError as exc:
            raise RetryableProviderError(
                f"{where}: could not reach the server ({type(exc).__name__}: "
                f"{self._redact(str(exc))[:MAX_SERVER_MESSAGE]}).",
                fix="Check that base_url is right and the server is running.",
            ) from None
        if not response.is_success:
            self._raise_for_status(response, where)
        return self._parse(response, where)

    def _raise_for_status(self, response: httpx.Response, where: str) -> None:
        status = response.status_code
        detail = self._redact(_server_message(response))
        message = f"{where}: HTTP {status}: {detail}"
        if status in RETRYABLE_STATUSES or status >= 500:
            raise RetryableProviderError(
                message,
                fix="Transient server or rate-limit error; lower concurrency if it persists.",
                retry_after=parse_retry_after(response.headers),
            )
        if status == 401:
            fix = (
                f"Check the API key in the environment variable {self.key_env} "
                "(it is missing, wrong or revoked)."
            )
        else:
            fix = _FIX_BY_STATUS.get(status, "Check the variant's model, params and base_url.")
        raise PermanentProviderError(message, fix=fix)

    def _parse(self, response: httpx.Response, where: str) -> Completion:
        fix = "The server is not speaking the OpenAI chat completions protocol; check base_url."
        try:
            payload = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            raise PermanentProviderError(
                f"{where}: HTTP 200 with a body that is not JSON.", fix=fix
            ) from None
        choices = payload.get("choices") if isinstance(payload, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise PermanentProviderError(f"{where}: HTTP 200 reply has no choices.", fix=fix)
        choice = choices[0]
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if content is None and "text" in choice:  # legacy completions shape
            content = choice.get("text")
        finish = choice.get("finish_reason")
        usage = payload.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        return Completion(
            text=_content_text(content),
            finish_reason=str(finish) if finish is not None else None,
            input_tokens=_int_or_none(usage.get("prompt_tokens")),
            output_tokens=_int_or_none(usage.get("completion_tokens")),
        )
