"""The project's redaction policy: custom patterns, detectors turned off, what providers receive.

Stored as one JSON value under the ``redaction`` key of the ``settings`` table. Reviewers always
get redacted text (:func:`redactor_for` is what ``review.item_for`` applies); ``provider_text``
decides whether the model providers get the original prompts (default: the model needs the real
text to answer well) or the redacted ones (for teams whose policy forbids sending personal data
to a new vendor). Generation hashes the messages actually sent, so switching the policy makes
every prompt that contains something to redact be answered again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

from swapcheck.errors import ConfigError, NotFoundError
from swapcheck.models import ChatMessages
from swapcheck.redact import DISABLEABLE_KINDS, Redactor, compile_custom
from swapcheck.store import Store
from swapcheck.store.settings import delete_setting, get_setting, set_setting

SETTINGS_KEY = "redaction"
ProviderText = Literal["original", "redacted"]
PROVIDER_TEXTS: tuple[str, ...] = ("original", "redacted")
MAX_CUSTOM_PATTERNS = 50
MAX_REGEX_CHARS = 500

BUILTIN_DETECTORS: dict[str, tuple[str, str]] = {
    "EMAIL": ("E-mail addresses", "Write to ana.lopez@example.com today"),
    "PHONE": ("Phone numbers, international and national", "Call me on +49 30 1234 5678"),
    "CARD": ("Payment card numbers (Luhn-checked)", "Visa 4111 1111 1111 1111 exp 12/27"),
    "IBAN": ("Bank accounts as IBAN (mod-97 checked)", "Refund to DE89 3704 0044 0532 0130 00"),
    "IP": ("IPv4 and IPv6 addresses", "Login from 192.168.1.20 failed"),
    "SECRET": ("API keys, tokens and credentials", "aws key AKIAIOSFODNN7EXAMPLE"),
}
"""Each built-in kind (same order as ``BUILTIN_KINDS``): what it detects and an example
sentence (synthetic values only)."""


def normalise_kind(kind: str) -> str:
    return str(kind).strip().upper()


@dataclass(frozen=True)
class RedactionConfig:
    """What is redacted and what providers receive; every instance is valid.

    ``custom_patterns`` are ``(KIND, regex)`` pairs with distinct kinds (Python ``re`` syntax,
    at most ``MAX_REGEX_CHARS`` characters each). ``disabled_kinds`` lists built-in detectors
    turned off, which only ``DISABLEABLE_KINDS`` (PHONE, IP) allow; that is a conscious choice
    for products where those values are not personal, never a default. ``provider_text`` is
    ``"original"`` or ``"redacted"``.
    """

    custom_patterns: tuple[tuple[str, str], ...] = ()
    disabled_kinds: tuple[str, ...] = ()
    provider_text: ProviderText = "original"

    def __post_init__(self) -> None:
        patterns = compile_custom(self.custom_patterns)
        if len(patterns) > MAX_CUSTOM_PATTERNS:
            raise ConfigError(
                f"{len(patterns)} custom redaction patterns are configured.",
                f"Keep at most {MAX_CUSTOM_PATTERNS}; combine related ones with |.",
            )
        seen: set[str] = set()
        for kind, regex in patterns:
            if len(regex) > MAX_REGEX_CHARS:
                raise ConfigError(
                    f"Custom redaction pattern {kind} has a {len(regex)}-character regex.",
                    f"Shorten the regex of pattern {kind} to at most {MAX_REGEX_CHARS} characters.",
                )
            if kind in seen:
                raise ConfigError(
                    f"Two custom redaction patterns are named {kind}.",
                    f"Give each pattern its own kind, or combine the two {kind} regexes with |.",
                )
            seen.add(kind)
        if self.provider_text not in PROVIDER_TEXTS:
            raise ConfigError(
                f"Provider text {self.provider_text!r} is not a choice.",
                "Use 'original' (providers get the prompts as logged) or 'redacted'.",
            )
        disabled = tuple(sorted({normalise_kind(k) for k in self.disabled_kinds}))
        _redactor(patterns, frozenset(disabled))  # refuses kinds that must always run
        object.__setattr__(self, "custom_patterns", patterns)
        object.__setattr__(self, "disabled_kinds", disabled)

    @property
    def redactor(self) -> Redactor:
        """The redactor for this configuration (built once per distinct configuration)."""
        return _redactor(self.custom_patterns, frozenset(self.disabled_kinds))

    def provider_messages(self) -> Callable[[ChatMessages], ChatMessages] | None:
        """How to turn stored messages into what providers receive; None = send as stored."""
        return self.redactor.redact_messages if self.provider_text == "redacted" else None

    def with_pattern(self, kind: str, regex: str) -> RedactionConfig:
        """A copy with one more custom pattern (its kind must be new)."""
        name = normalise_kind(kind)
        if any(k == name for k, _ in self.custom_patterns):
            raise ConfigError(
                f"A custom redaction pattern named {name} already exists.",
                f"Remove the existing {name} pattern first, or choose another kind.",
            )
        return replace(self, custom_patterns=(*self.custom_patterns, (kind, regex)))

    def without_pattern(self, kind: str) -> RedactionConfig:
        """A copy without the custom pattern of this kind."""
        name = normalise_kind(kind)
        kept = tuple(p for p in self.custom_patterns if p[0] != name)
        if len(kept) == len(self.custom_patterns):
            known = ", ".join(k for k, _ in self.custom_patterns) or "none"
            raise NotFoundError(
                f"No custom redaction pattern named {name}.",
                f"Use one of the configured kinds: {known}.",
            )
        return replace(self, custom_patterns=kept)

    def with_provider_text(self, provider_text: str) -> RedactionConfig:
        return replace(self, provider_text=cast(ProviderText, provider_text))

    def with_disabled_kinds(self, kinds: Iterable[str]) -> RedactionConfig:
        return replace(self, disabled_kinds=tuple(kinds))

    def to_json(self) -> dict[str, Any]:
        return {
            "custom_patterns": [[k, r] for k, r in self.custom_patterns],
            "disabled_kinds": list(self.disabled_kinds),
            "provider_text": self.provider_text,
        }

    @classmethod
    def from_json(cls, data: Any) -> RedactionConfig:
        """Parse a stored value; anything malformed is a :class:`ConfigError` (fail closed)."""
        fix = "Reset the redaction settings (swapcheck redaction reset) and configure them again."
        if not isinstance(data, dict):
            raise ConfigError("The stored redaction settings are not a JSON object.", fix)
        patterns = data.get("custom_patterns", [])
        disabled = data.get("disabled_kinds", [])
        if not isinstance(patterns, list) or not isinstance(disabled, list):
            raise ConfigError(
                "The stored redaction settings hold custom_patterns or disabled_kinds that "
                "are not lists.",
                fix,
            )
        return cls(
            custom_patterns=tuple(tuple(p) if isinstance(p, list) else p for p in patterns),
            disabled_kinds=tuple(str(k) for k in disabled),
            provider_text=data.get("provider_text", "original"),
        )


@functools.lru_cache(maxsize=32)
def _redactor(patterns: tuple[tuple[str, str], ...], disabled: frozenset[str]) -> Redactor:
    return Redactor(custom_patterns=patterns, disabled_kinds=disabled)


def load_redaction_config(store: Store) -> RedactionConfig:
    """The stored configuration, or the default (built-in detectors, original text to providers)."""
    value = get_setting(store, SETTINGS_KEY)
    return RedactionConfig() if value is None else RedactionConfig.from_json(value)


def save_redaction_config(store: Store, config: RedactionConfig) -> None:
    set_setting(store, SETTINGS_KEY, config.to_json())


def redactor_for(store: Store) -> Redactor:
    """The redactor reviewers' text goes through, as configured for this database."""
    return load_redaction_config(store).redactor


def add_pattern(store: Store, kind: str, regex: str) -> RedactionConfig:
    """Validate and store one more custom pattern; returns the new configuration."""
    config = load_redaction_config(store).with_pattern(kind, regex)
    save_redaction_config(store, config)
    return config


def remove_pattern(store: Store, kind: str) -> RedactionConfig:
    """Forget the custom pattern of ``kind``; works even when that stored pattern is invalid."""
    stored = get_setting(store, SETTINGS_KEY)
    if isinstance(stored, dict) and isinstance(stored.get("custom_patterns"), list):
        name = normalise_kind(kind)
        kept = [
            p
            for p in stored["custom_patterns"]
            if not (isinstance(p, list) and p and normalise_kind(p[0]) == name)
        ]
        if len(kept) < len(stored["custom_patterns"]):
            config = RedactionConfig.from_json({**stored, "custom_patterns": kept})
            save_redaction_config(store, config)
            return config
    config = load_redaction_config(store).without_pattern(kind)  # raises NotFoundError
    save_redaction_config(store, config)
    return config


def set_provider_text(store: Store, provider_text: str) -> RedactionConfig:
    config = load_redaction_config(store).with_provider_text(provider_text)
    save_redaction_config(store, config)
    return config


def set_disabled_kinds(store: Store, kinds: Iterable[str]) -> RedactionConfig:
    config = load_redaction_config(store).with_disabled_kinds(kinds)
    save_redaction_config(store, config)
    return config


def reset_redaction_config(store: Store) -> RedactionConfig:
    """Back to the default: built-in detectors only, original text to providers."""
    delete_setting(store, SETTINGS_KEY)
    return RedactionConfig()


def describe(config: RedactionConfig) -> dict[str, Any]:
    """JSON-ready summary: each built-in detector's state, the custom patterns, the policy."""
    return {
        "detectors": [
            {
                "kind": kind,
                "detects": what,
                "enabled": kind not in config.disabled_kinds,
                "can_be_disabled": kind in DISABLEABLE_KINDS,
            }
            for kind, (what, _) in BUILTIN_DETECTORS.items()
        ],
        "custom_patterns": [{"kind": k, "regex": r} for k, r in config.custom_patterns],
        "provider_text": config.provider_text,
    }
