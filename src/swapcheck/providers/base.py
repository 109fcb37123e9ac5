"""The one-method provider interface, its Completion result and the provider registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

import httpx

from swapcheck.models import ChatMessages, VariantConfig


@dataclass(frozen=True)
class RateLimitInfo:
    """A provider's rate-limit headers, normalised (None where the reply did not say)."""

    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_requests_s: float | None = None
    """Seconds until the request allowance is fully restored."""
    reset_tokens_s: float | None = None
    limit_requests: int | None = None
    limit_tokens: int | None = None


@dataclass(frozen=True)
class Completion:
    """What a provider returns for one successful request."""

    text: str
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    rate_limit: RateLimitInfo | None = None


@runtime_checkable
class Provider(Protocol):
    """Answers one chat request. Retries, concurrency and timing live in the engine.

    Implementations raise ``RetryableProviderError`` for transient failures (429, 5xx,
    timeouts) and ``PermanentProviderError`` for failures retrying will not fix.
    """

    def build_body(self, messages: ChatMessages) -> dict[str, Any]:
        """The request body for ``messages`` (pure translation; stored for audit, no secrets)."""
        ...

    async def complete(self, messages: ChatMessages, client: httpx.AsyncClient) -> Completion:
        """Send ``messages`` using ``client`` and return the answer."""
        ...


ProviderFactory = Callable[[VariantConfig], Provider]
"""Builds a provider for one variant; a provider class taking the variant qualifies."""

_REGISTRY: dict[str, ProviderFactory] = {}

F = TypeVar("F", bound=ProviderFactory)


def register_provider(name: str) -> Callable[[F], F]:
    """Class/function decorator registering a provider factory under ``name``."""

    def decorator(factory: F) -> F:
        _REGISTRY[name] = factory
        return factory

    return decorator


def registered_factory(name: str) -> ProviderFactory | None:
    """The factory registered under ``name`` or ``None``."""
    return _REGISTRY.get(name)


def registered_names() -> list[str]:
    """Sorted names of every registered provider."""
    return sorted(_REGISTRY)
