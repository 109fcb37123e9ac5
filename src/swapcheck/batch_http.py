"""Shared plumbing of the Batch API clients: result types, retried HTTP calls, key redaction."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from swapcheck.errors import ConfigError, PermanentProviderError, RetryableProviderError
from swapcheck.keys import lookup_key
from swapcheck.models import VariantConfig
from swapcheck.providers.base import Completion
from swapcheck.providers.http_common import is_local_url, parse_retry_after

MAX_SERVER_MESSAGE = 300
RETRYABLE_STATUSES = frozenset({408, 409, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long submit/poll/download calls are retried on 429, 5xx and resets."""

    max_retries: int = 6
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    retry_after_cap_s: float = 600.0
    """A server's ``Retry-After`` is honoured up to this many seconds."""

    def delay(self, attempt: int, retry_after: float | None) -> float:
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** max(0, attempt - 1))
        wait = random.uniform(0.0, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.retry_after_cap_s))
        return wait


@dataclass(frozen=True)
class SubmittedBatch:
    """What the provider answered when it accepted a batch."""

    batch_id: str
    status: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class BatchState:
    """One poll of a batch: its provider status and whether results can be collected."""

    batch_id: str
    status: str
    ended: bool
    finished: int
    total: int
    detail: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None
    """Why the batch as a whole produced no answers (failed, expired, cancelled)."""


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one request of a batch: a completion or an error text."""

    custom_id: str
    completion: Completion | None = None
    error: str | None = None


class BatchProtocol(Protocol):
    """One provider's Batch API: build entries, submit, poll, read results."""

    provider: str

    @property
    def max_requests(self) -> int: ...

    @property
    def max_bytes(self) -> int: ...

    def entry(self, custom_id: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def submit(self, entries: list[dict[str, Any]]) -> SubmittedBatch: ...

    def poll(self, batch_id: str) -> BatchState: ...

    def results(self, state: BatchState) -> Iterable[ItemResult]: ...


def entry_size(entry: dict[str, Any]) -> int:
    """Bytes ``entry`` takes as one JSONL line (or one element of a JSON array)."""
    return len(json.dumps(entry, ensure_ascii=False).encode("utf-8")) + 1


def require_key(variant: VariantConfig, key_env: str, base_url: str) -> str | None:
    """The key for ``variant``; ``ConfigError`` naming ``key_env`` when a remote URL lacks one."""
    key = lookup_key(key_env)
    if key is None and not is_local_url(base_url):
        raise ConfigError(
            f"No API key for variant '{variant.name}': environment variable {key_env} is not set.",
            fix=f"Set {key_env} in the environment (or st.secrets) before submitting batches, "
            "or point api_key_env at the variable that holds the key.",
        )
    return key


def server_message(response: httpx.Response) -> str:
    """The error text in a reply (OpenAI and Anthropic shapes), shortened."""
    message: Any = None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        message = error_text(payload.get("error")) or payload.get("message")
    text = " ".join(str(message or response.text).split())
    if len(text) > MAX_SERVER_MESSAGE:
        text = text[: MAX_SERVER_MESSAGE - 3] + "..."
    return text or response.reason_phrase or "no details"


def error_text(error: Any) -> str | None:
    """``type/code: message`` from an (arbitrarily nested) error object, or None."""
    while isinstance(error, dict) and isinstance(error.get("error"), dict):
        error = error["error"]
    if isinstance(error, str):
        return error or None
    if not isinstance(error, dict):
        return None
    message = error.get("message")
    kind = error.get("code") or error.get("type")
    if message and kind:
        return f"{kind}: {message}"
    return str(message or kind) if (message or kind) else None


class BatchHttp:
    """Sends one provider's Batch API calls with auth headers, retries and redacted errors."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        key: str | None,
        auth_headers: dict[str, str],
        key_env: str,
        where: str,
        retry: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.__key = key
        self.__auth_headers = auth_headers
        self.key_env = key_env
        self.where = where
        self.retry = retry
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"BatchHttp(where={self.where!r}, key_env={self.key_env!r})"

    def redact(self, text: str) -> str:
        return text.replace(self.__key, "***") if self.__key else text

    def request(
        self, method: str, url: str, *, creates: bool = False, with_key: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """Send with retries. ``creates``: a dropped connection may have created a batch, so
        only failures that prove nothing was created (no connection, 429, 5xx) are retried."""
        headers = {**kwargs.pop("headers", {}), **(self.__auth_headers if with_key else {})}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.client.request(method, url, headers=headers, **kwargs)
                if response.is_success:
                    return response
                self._raise_for_status(response, method, url)
            except RetryableProviderError as exc:
                if attempt > self.retry.max_retries:
                    raise
                self.sleep(self.retry.delay(attempt, exc.retry_after))
            except httpx.TransportError as exc:
                detail = f"{type(exc).__name__}: {self.redact(str(exc))[:MAX_SERVER_MESSAGE]}"
                if creates and not isinstance(exc, httpx.ConnectError):
                    raise PermanentProviderError(
                        f"{self.where}: the connection broke while submitting a batch ({detail}).",
                        fix="Check the provider's batch list before running again: the batch "
                        "may have been created; cancel it there if it was.",
                    ) from None
                if attempt > self.retry.max_retries:
                    raise RetryableProviderError(
                        f"{self.where}: could not reach the server ({detail}).",
                        fix="Check that base_url is right and the server is running.",
                    ) from None
                self.sleep(self.retry.delay(attempt, None))

    def _raise_for_status(self, response: httpx.Response, method: str, url: str) -> None:
        status = response.status_code
        path = httpx.URL(url).path
        message = f"{self.where}: {method} {path}: HTTP {status}: "
        message += self.redact(server_message(response))
        if status in RETRYABLE_STATUSES or status >= 500:
            raise RetryableProviderError(
                message,
                fix="Transient server or rate-limit error; try again later if it persists.",
                retry_after=parse_retry_after(response.headers),
                rate_limited=status == 429,
            )
        if status in (401, 403):
            fix = (
                f"Check the API key in the environment variable {self.key_env} (missing, wrong, "
                "revoked, or not allowed to use the Batch API)."
            )
        elif status == 404:
            fix = "Check base_url (and that the batch belongs to this key's organisation)."
        else:
            fix = "Check the variant's model and params; the provider rejected the request."
        raise PermanentProviderError(message, fix=fix)

    def json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise PermanentProviderError(
                f"{self.where}: the reply to {response.request.url.path} is not a JSON object.",
                fix="Check base_url: the server is not speaking this provider's Batch API.",
            )
        return payload


def jsonl_objects(text: str) -> Iterable[dict[str, Any] | None]:
    """Each line of a JSONL text as an object (None for a line that is not one)."""
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            yield None
            continue
        yield value if isinstance(value, dict) else None
