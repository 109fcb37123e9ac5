"""Provider registry: look up the provider for a variant by its ``provider`` name."""

from __future__ import annotations

from swapcheck.errors import ConfigError
from swapcheck.models import LOGGED_VARIANT, VariantConfig
from swapcheck.providers import anthropic as _anthropic  # noqa: F401  (registers "anthropic")
from swapcheck.providers import azure_openai as _azure  # noqa: F401  (registers "azure_openai")
from swapcheck.providers import gemini as _gemini  # noqa: F401  (registers "gemini")
from swapcheck.providers import openai_chat as _openai_chat  # noqa: F401  (registers "openai")
from swapcheck.providers import simulated as _simulated  # noqa: F401  (registers "simulated")
from swapcheck.providers.base import (
    Completion,
    Provider,
    ProviderFactory,
    register_provider,
    registered_factory,
    registered_names,
)

__all__ = [
    "Completion",
    "Provider",
    "ProviderFactory",
    "make_provider",
    "provider_names",
    "register_provider",
]


def provider_names() -> list[str]:
    """Names usable as ``VariantConfig.provider``."""
    return registered_names()


def make_provider(variant: VariantConfig) -> Provider:
    """Build the provider for ``variant``; raises ``ConfigError`` when that is impossible."""
    if variant.provider == LOGGED_VARIANT:
        raise ConfigError(
            f"Variant '{variant.name}' uses the logged answers and cannot generate.",
            fix="Pick a variant with a model provider (e.g. 'openai' or 'simulated').",
        )
    factory = registered_factory(variant.provider)
    if factory is None:
        known = ", ".join(registered_names()) or "none"
        raise ConfigError(
            f"Unknown provider '{variant.provider}' for variant '{variant.name}'.",
            fix=f"Use one of: {known}.",
        )
    return factory(variant)
