"""Protocol-independent HTTP plumbing shared by every provider: keys, errors, rate-limit headers."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from swapcheck.errors import ConfigError, PermanentProviderError, RetryableProviderError
from swapcheck.keys import lookup_key
from swapcheck.models import ChatMessages, VariantConfig
from swapcheck.providers.base import Completion, RateLimitInfo

MAX_SERVER_MESSAGE = 300
RETRYABLE_STATUSES = frozenset({408, 409, 429})
"""Besides every 5xx (which includes Anthropic's 529 "overloaded")."""

GENERIC_FIX_BY_STATUS = {
    400: "The server rejected the request; check the variant's params (names and values).",
    403: "The key is not allowed to use this model or endpoint; check its permissions.",
    404: "Check the model name and base_url (it should end with the API root, e.g. '/v1').",
    422: "The server rejected the request body; check the variant's params.",
}


# -- URLs, Retry-After and server messages ------------------------------------------------


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


def server_message(response: httpx.Response) -> str:
    """The error text in a reply body (OpenAI, Anthropic, Gemini, vLLM and Ollama shapes)."""
    message: Any = None
    try:
        payload = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        payload = None
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]  # some Google front ends wrap the error in a list
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


def redact_key(text: str, key: str | None) -> str:
    """``text`` with every occurrence of ``key`` replaced by ``***``."""
    return text.replace(key, "***") if key else text


def content_text(content: Any) -> str:
    """Message content as text; list-of-parts content is joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return "".join(str(p) for p in parts if p)
    return str(content)


def int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# -- rate-limit headers -------------------------------------------------------------------

_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|h|m|s)")
_GO_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_go_duration(text: str) -> float | None:
    """Seconds in a Go duration such as ``1s``, ``6m0s``, ``20ms`` or ``1h2m3.5s``."""
    text = text.strip()
    if not text:
        return None
    pos, total = 0, 0.0
    for match in _GO_DURATION.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _GO_UNIT_SECONDS[match.group(2)]
        pos = match.end()
    return total if pos == len(text) else None


def parse_reset(text: str | None, now: float | None = None) -> float | None:
    """Seconds until a reset given as a Go duration, plain seconds or an RFC 3339 time."""
    if not text:
        return None
    text = text.strip()
    seconds = parse_go_duration(text)
    if seconds is not None:
        return seconds
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclasses.dataclass(frozen=True)
class _Allowance:
    limit: int | None
    remaining: int | None
    reset_s: float | None

    @property
    def known(self) -> bool:
        return self.limit is not None or self.remaining is not None or self.reset_s is not None

    @property
    def tightness(self) -> float:
        """Fraction left (lower is tighter); raw remaining when the limit is unknown."""
        if self.remaining is None:
            return float("inf")
        if self.limit:
            return self.remaining / self.limit
        return float(self.remaining)


def _allowance(
    headers: Mapping[str, str], names: tuple[str, str, str], now: float | None
) -> _Allowance:
    limit, remaining, reset = names
    reset_s = parse_reset(headers.get(reset), now)
    return _Allowance(_header_int(headers, limit), _header_int(headers, remaining), reset_s)


def _openai_names(kind: str) -> tuple[str, str, str]:
    return (
        f"x-ratelimit-limit-{kind}",
        f"x-ratelimit-remaining-{kind}",
        f"x-ratelimit-reset-{kind}",
    )


def _anthropic_names(kind: str) -> tuple[str, str, str]:
    prefix = f"anthropic-ratelimit-{kind}"
    return (f"{prefix}-limit", f"{prefix}-remaining", f"{prefix}-reset")


def rate_limit_info(headers: Mapping[str, str], now: float | None = None) -> RateLimitInfo | None:
    """Normalised rate-limit headers (OpenAI ``x-ratelimit-*`` or ``anthropic-ratelimit-*``).

    OpenAI resets are Go durations (``6m0s``); Anthropic's are RFC 3339 times, turned into
    seconds from ``now``. Anthropic's combined ``tokens-*`` allowance is used when sent; else the
    tighter (smaller fraction remaining) of its ``input-tokens-*`` and ``output-tokens-*`` ones.
    ``None`` when the reply carried no rate-limit header at all.
    """
    # One pass into a small dict: each httpx.Headers lookup re-scans every header.
    items = headers.multi_items() if isinstance(headers, httpx.Headers) else headers.items()
    headers = {k.lower(): v for k, v in items if "ratelimit" in k.lower()}
    if not headers:
        return None
    requests = _allowance(headers, _openai_names("requests"), now)
    tokens = _allowance(headers, _openai_names("tokens"), now)
    if not requests.known:
        requests = _allowance(headers, _anthropic_names("requests"), now)
    if not tokens.known:
        candidates = [_allowance(headers, _anthropic_names("tokens"), now)]
        if not candidates[0].known:
            candidates = [
                a
                for a in (
                    _allowance(headers, _anthropic_names("input-tokens"), now),
                    _allowance(headers, _anthropic_names("output-tokens"), now),
                )
                if a.known
            ]
        if candidates:
            tokens = min(candidates, key=lambda a: a.tightness)
    if not requests.known and not tokens.known:
        return None
    return RateLimitInfo(
        remaining_requests=requests.remaining,
        remaining_tokens=tokens.remaining,
        reset_requests_s=requests.reset_s,
        reset_tokens_s=tokens.reset_s,
        limit_requests=requests.limit,
        limit_tokens=tokens.limit,
    )


# -- the shared provider skeleton ---------------------------------------------------------


def missing_key_error(variant: VariantConfig, key_envs: tuple[str, ...]) -> ConfigError:
    """The ``ConfigError`` for a remote variant whose key variable(s) are all unset."""
    names = " or ".join(key_envs)
    first = key_envs[0]
    return ConfigError(
        f"No API key for variant '{variant.name}': environment variable {names} is not set.",
        fix=f"Set {first} in the environment (or st.secrets) before generating, "
        "or point api_key_env at the variable that holds the key.",
    )


def transport_error(
    exc: httpx.TransportError, where: str, redact: Callable[[str], str]
) -> RetryableProviderError:
    """The retryable error for a timeout, refused/failed connection, reset or cut-off reply."""
    detail = redact(str(exc))[:MAX_SERVER_MESSAGE]
    name = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return RetryableProviderError(
            f"{where}: request timed out ({type(exc).__name__}).",
            fix="Raise the timeout or lower concurrency if the server is overloaded.",
        )
    if isinstance(exc, httpx.RemoteProtocolError):
        return RetryableProviderError(
            f"{where}: the server closed the connection before the reply was complete "
            f"(a truncated or dropped reply, usually a transient glitch; {name}).",
            fix="Retry; if it persists, check the server or any proxy in between.",
        )
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return RetryableProviderError(
            f"{where}: the connection broke during the request (reset or dropped, usually a "
            f"transient glitch; {name}).",
            fix="Retry; if it persists, check the server or any proxy in between.",
        )
    return RetryableProviderError(
        f"{where}: could not reach the server ({name}).",
        fix="Check that base_url is right and the server is running.",
    )


class JsonHttpProvider:
    """One JSON POST per completion; subclasses supply the URL, auth header, body and parser.

    The key is looked up once (``lookup_key``) and kept in a private attribute: it is never in
    ``repr``, the built body, or any error text (server echoes are redacted).
    """

    protocol: ClassVar[str] = "JSON HTTP"
    fix_by_status: ClassVar[Mapping[int, str]] = GENERIC_FIX_BY_STATUS

    def __init__(self, variant: VariantConfig, base_url: str, key_envs: tuple[str, ...]) -> None:
        """``key_envs``: variables tried in order (the first is the one named in advice)."""
        self.variant = variant
        self.base_url = base_url.rstrip("/")
        key_env, key = key_envs[0], None
        for name in key_envs:
            key = lookup_key(name)
            if key is not None:
                key_env = name
                break
        self.key_env = key_env
        self.__key = key
        if key is None and not is_local_url(self.base_url):
            raise missing_key_error(variant, key_envs)

    # -- subclass hooks --------------------------------------------------------------------
    @property
    def url(self) -> str:
        raise NotImplementedError

    def auth_headers(self, key: str) -> dict[str, str]:
        raise NotImplementedError

    def extra_headers(self) -> dict[str, str]:
        return {}

    def build_body(self, messages: ChatMessages) -> dict[str, Any]:
        raise NotImplementedError

    def parse_payload(self, payload: Any, where: str) -> Completion:
        raise NotImplementedError

    # -- shared behaviour ------------------------------------------------------------------
    @property
    def has_key(self) -> bool:
        return self.__key is not None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(variant={self.variant.name!r}, model={self.variant.model!r}, "
            f"base_url={self.base_url!r}, key_env={self.key_env!r}, has_key={self.has_key})"
        )

    def _redact(self, text: str) -> str:
        return redact_key(text, self.__key)

    @property
    def where(self) -> str:
        return f"{self.variant.name} ({self.variant.model} at {self.base_url})"

    def protocol_error(self, message: str) -> PermanentProviderError:
        """A 200 reply that parsed as JSON but is not shaped like this protocol's answer."""
        return PermanentProviderError(
            f"{self.where}: HTTP 200 {message}",
            fix=f"The server is not speaking the {self.protocol} protocol; check base_url.",
        )

    async def complete(self, messages: ChatMessages, client: httpx.AsyncClient) -> Completion:
        body = self.build_body(messages)  # translation errors surface before any traffic
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        headers.update(self.extra_headers())
        if self.__key:
            headers.update(self.auth_headers(self.__key))
        where = self.where
        try:
            response = await client.post(self.url, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise transport_error(exc, where, self._redact) from None
        if not response.is_success:
            raise self.status_error(response)
        try:
            payload = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            raise RetryableProviderError(
                f"{where}: HTTP 200 with a body that is not valid JSON (truncated or garbled "
                "reply, usually a transient server glitch).",
                fix="Retry; if it persists, check that base_url points at the right API.",
                rate_limit=rate_limit_info(response.headers),
            ) from None
        completion = self.parse_payload(payload, where)
        return dataclasses.replace(completion, rate_limit=rate_limit_info(response.headers))

    def status_error(
        self, response: httpx.Response
    ) -> RetryableProviderError | PermanentProviderError:
        """The error for a non-2xx reply: 408/409/429/5xx retryable, the rest permanent."""
        status = response.status_code
        message = f"{self.where}: HTTP {status}: {self._redact(server_message(response))}"
        if status in RETRYABLE_STATUSES or status >= 500:
            fix = (
                "Rate limited: the run slows down by itself; lower concurrency or the variant's "
                "requests/tokens per minute if it persists."
                if status == 429
                else "Transient server error or overload; lower concurrency if it persists."
            )
            return RetryableProviderError(
                message,
                fix=fix,
                retry_after=parse_retry_after(response.headers),
                rate_limited=status == 429,
                rate_limit=rate_limit_info(response.headers),
            )
        if status == 401:
            fix = (
                f"Check the API key in the environment variable {self.key_env} "
                "(it is missing, wrong or revoked)."
            )
        else:
            fix = self.fix_by_status.get(status, "Check the variant's model, params and base_url.")
        return PermanentProviderError(message, fix=fix)


def check_params(
    provider: str, params: Mapping[str, Any], accepted: frozenset[str], aliases: Mapping[str, str]
) -> None:
    """Raise ``ConfigError`` for a param ``provider`` does not accept or one set twice.

    ``aliases`` maps a native name to the canonical name it duplicates (e.g. ``stop_sequences``
    → ``stop``); setting both would be ambiguous.
    """
    unknown = sorted(name for name in params if name not in accepted)
    if unknown:
        raise ConfigError(
            f"Parameter {', '.join(repr(n) for n in unknown)} is not accepted by the "
            f"'{provider}' provider.",
            fix=f"Remove it or use one of: {', '.join(sorted(accepted))}.",
        )
    for native, canonical in aliases.items():
        if native in params and canonical in params:
            raise ConfigError(
                f"Parameters '{canonical}' and '{native}' both set for the '{provider}' "
                "provider; they mean the same thing.",
                fix=f"Keep only '{canonical}'.",
            )


def stop_list(value: Any) -> list[str]:
    """``stop`` as a list of strings (a single string becomes a one-item list)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]
