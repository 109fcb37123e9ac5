"""Mask personal data and secrets in prompts before any reviewer sees them."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from swapcheck.errors import ConfigError
from swapcheck.redact_detectors import PHONE_DETECTOR, PRIMARY_DETECTORS

BUILTIN_KINDS: tuple[str, ...] = ("EMAIL", "PHONE", "CARD", "IBAN", "IP", "SECRET")
DISABLEABLE_KINDS: tuple[str, ...] = ("PHONE", "IP")
"""Built-in detectors a team may turn off: their matches are often not personal in some products
(company hotlines, order numbers shaped like phones; server addresses in an ops tool). EMAIL and
IBAN are precise and nearly always personal, CARD (PCI scope) and SECRET (credentials) are never
needed to judge an answer: those four always run."""
_KIND_RE = re.compile(r"[A-Z0-9_]{1,24}")
_MASK_FILL = "\x00"


@dataclass(frozen=True)
class Finding:
    """One detected span ``text[start:end]`` of ``kind``; the matched text is never stored."""

    kind: str
    start: int
    end: int


@functools.lru_cache(maxsize=256)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


@functools.lru_cache(maxsize=64)
def _placeholder_re(kinds: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\[(?:" + "|".join(re.escape(k) for k in kinds) + r")\]")


def _mask(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` with each span replaced by ``[`` fill ``]`` of the same length.

    Bracketed like a placeholder, so detectors see the same boundaries before and after a
    redaction (this is what makes ``redact`` idempotent), and nothing matches inside it.
    """
    if not spans:
        return text
    parts: list[str] = []
    pos = 0
    for start, end in spans:
        n = end - start
        parts.append(text[pos:start])
        parts.append("[" + _MASK_FILL * (n - 2) + "]" if n >= 2 else _MASK_FILL)
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def _resolve(candidates: list[tuple[int, int, int, str]]) -> list[Finding]:
    """Non-overlapping findings: the earlier start wins, then the longer span, then priority.

    A losing candidate that reaches past the winner keeps its tail as a finding of its own kind
    (``Ref 4111 1111 1111 1111`` with a custom ``Ref 4\\d{3}`` gives ``[REF][CARD]``), so an
    overlap never leaves the rest of a detected value visible.
    """
    candidates.sort(key=lambda c: (c[0], c[0] - c[1], c[2]))
    chosen: list[Finding] = []
    last_end = 0
    for start, end, _, kind in candidates:
        if end <= last_end:
            continue
        chosen.append(Finding(kind, max(start, last_end), end))
        last_end = end
    return chosen


def compile_custom(patterns: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Validate user patterns ``(kind, regex)``; kinds are upper-cased to ``[A-Z0-9_]{1,24}``.

    Raises :class:`ConfigError` naming the bad pattern when an entry is not a pair of strings,
    the kind is not 1-24 letters, digits or underscores, the regex does not compile, or it
    matches the empty string (it would redact nothing, or everything between characters).
    """
    result: list[tuple[str, str]] = []
    for number, item in enumerate(patterns, start=1):
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise ConfigError(
                f"Custom redaction pattern #{number} ({item!r}) is not a (kind, regex) pair.",
                'Give each pattern as a pair such as ("TICKET", r"TCK-\\d{6}").',
            )
        kind, regex = item
        if not isinstance(kind, str) or not isinstance(regex, str):
            raise ConfigError(
                f"Custom redaction pattern #{number} ({item!r}) must hold two strings.",
                'Give the kind and the regex as text, e.g. ("TICKET", r"TCK-\\d{6}").',
            )
        kind = kind.strip().upper()
        if _KIND_RE.fullmatch(kind) is None:
            raise ConfigError(
                f"Custom redaction pattern #{number} has an invalid kind {item[0]!r}.",
                "Name the kind with 1-24 letters, digits or underscores, e.g. TICKET.",
            )
        try:
            compiled = _compiled(regex)
        except re.error as exc:
            raise ConfigError(
                f"Custom redaction pattern {kind} ({regex!r}) is not a valid regular "
                f"expression: {exc}.",
                f"Fix the regex of pattern {kind} (Python `re` syntax), or remove {kind}.",
            ) from exc
        if compiled.match("") is not None:
            raise ConfigError(
                f"Custom redaction pattern {kind} ({regex!r}) matches the empty string.",
                f"Make the regex of pattern {kind} require at least one character, e.g. use "
                "+ instead of *.",
            )
        result.append((kind, regex))
    return tuple(result)


@dataclass(frozen=True)
class Redactor:
    """Finds and masks e-mails, phones, cards, IBANs, IPs, secrets and custom patterns.

    Detection runs in two phases. Custom patterns and the SECRET, EMAIL, IBAN, CARD and IP
    detectors run on the text; where their matches overlap the earlier start wins, then the
    longer match, then the first in that order (custom patterns first); the loser's part beyond
    the winner, if any, is still reported (as its own kind). PHONE, the fuzziest
    detector, then runs on the text with those findings masked, so it never claims card or IBAN
    digits. Placeholders already in the text (``[EMAIL]``, ``[TICKET]``) are masked before
    detection, which makes :meth:`redact` idempotent.
    """

    custom_patterns: tuple[tuple[str, str], ...] = ()
    disabled_kinds: frozenset[str] = frozenset()
    """Built-in detectors not to run; only :data:`DISABLEABLE_KINDS` may be listed."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "custom_patterns", compile_custom(self.custom_patterns))
        disabled = frozenset(str(k).strip().upper() for k in self.disabled_kinds)
        refused = sorted(disabled - set(DISABLEABLE_KINDS))
        if refused:
            raise ConfigError(
                f"The {', '.join(refused)} detector cannot be turned off.",
                f"Only {' and '.join(DISABLEABLE_KINDS)} can be turned off; EMAIL, IBAN, CARD "
                "and SECRET always run.",
            )
        object.__setattr__(self, "disabled_kinds", disabled)

    @property
    def kinds(self) -> tuple[str, ...]:
        """Every kind this redactor can report (built-in first, then custom)."""
        custom = tuple(k for k, _ in self.custom_patterns if k not in BUILTIN_KINDS)
        return BUILTIN_KINDS + tuple(dict.fromkeys(custom))

    def find(self, text: str) -> list[Finding]:
        """Non-overlapping findings sorted by position."""
        if not text:
            return []
        if "[" in text:
            existing = [m.span() for m in _placeholder_re(self.kinds).finditer(text)]
            text = _mask(text, existing)
        candidates: list[tuple[int, int, int, str]] = []
        priority = 0
        for kind, regex in self.custom_patterns:
            candidates.extend(
                (m.start(), m.end(), priority, kind)
                for m in _compiled(regex).finditer(text)
                if m.end() > m.start()
            )
            priority += 1
        for kind, detector in PRIMARY_DETECTORS:
            if kind not in self.disabled_kinds:
                candidates.extend((start, end, priority, kind) for start, end in detector(text))
            priority += 1
        primary = _resolve(candidates)
        phone_kind, phone_detector = PHONE_DETECTOR
        if phone_kind in self.disabled_kinds:
            return primary
        masked = _mask(text, [(f.start, f.end) for f in primary])
        phones = [Finding(phone_kind, start, end) for start, end in phone_detector(masked)]
        if not phones:
            return primary
        return sorted(primary + phones, key=lambda f: f.start)

    def redact(self, text: str) -> str:
        """``text`` with every finding replaced by ``[KIND]``; everything else byte-identical."""
        findings = self.find(text)
        if not findings:
            return text
        parts: list[str] = []
        pos = 0
        for f in findings:
            parts.append(text[pos : f.start])
            parts.append(f"[{f.kind}]")
            pos = f.end
        parts.append(text[pos:])
        return "".join(parts)

    def redact_messages(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        """New messages of the same shape (roles and other keys kept) with ``content`` redacted.

        ``content`` may also be a list of OpenAI text parts (``{"type": "text", "text": …}``);
        their ``text`` is redacted. ``None`` stays ``None``; any other type raises ``TypeError``
        rather than letting unredacted data through.
        """
        result: list[dict[str, str]] = []
        for message in messages:
            copy: dict[str, Any] = dict(message)
            if "content" in copy:
                copy["content"] = self._redact_content(copy["content"])
            result.append(copy)
        return result

    def _redact_content(self, content: Any) -> Any:
        if content is None:
            return None
        if isinstance(content, str):
            return self.redact(content)
        if isinstance(content, list):
            parts = []
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    part = {**part, "text": self.redact(part["text"])}
                elif isinstance(part, str):
                    part = self.redact(part)
                parts.append(part)
            return parts
        raise TypeError(f"message content must be text, not {type(content).__name__}")


DEFAULT_REDACTOR = Redactor()
"""The redactor with only the built-in detectors."""
