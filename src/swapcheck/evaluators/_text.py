"""Text helpers shared by the evaluators (and the simulated model): prompt turns, code fences,
strict JSON, option checks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from swapcheck.errors import ConfigError
from swapcheck.models import content_text

FENCE_RE = re.compile(
    r"^[ ]{0,3}(?P<fence>`{3,}|~{3,})[^\n]*\n(?P<body>.*?)(?:^[ ]{0,3}(?P=fence)[`~]*[ \t]*$|\Z)",
    re.MULTILINE | re.DOTALL,
)
"""A fenced code block (``` or ~~~, up to 3 spaces of indent); an unclosed fence runs to the end."""
_INLINE_CODE_RE = re.compile(r"`[^`\n]+`")
_URL_RE = re.compile(r"https?://\S+|www\.\S+")


def is_strict_json(text: str) -> bool:
    """True when the whole answer parses as one JSON object or array (no fences, no prose)."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True


def turns_text(messages: Iterable[Mapping[str, Any]], roles: tuple[str, ...]) -> list[str]:
    """The text of every message whose role is in ``roles``, in order."""
    return [content_text(m.get("content")) for m in messages if m.get("role") in roles]


def last_user_text(messages: Iterable[Mapping[str, Any]]) -> str:
    """The last user turn's text ('' when there is none)."""
    users = turns_text(messages, ("user",))
    return users[-1] if users else ""


def without_code(text: str) -> str:
    """``text`` with fenced blocks, inline code and URLs removed (prose only)."""
    text = FENCE_RE.sub("\n", text)
    text = _INLINE_CODE_RE.sub(" ", text)
    return _URL_RE.sub(" ", text)


def option(
    options: Mapping[str, Any], name: str, kinds: type | tuple[type, ...], evaluator: str
) -> Any:
    """``options[name]`` checked against ``kinds`` (None when absent); ``ConfigError`` if wrong."""
    value = options.get(name)
    if value is None:
        return None
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _as_tuple(kinds)):
        expected = " or ".join(k.__name__ for k in _as_tuple(kinds))
        raise ConfigError(
            f"Evaluator {evaluator!r}: option {name!r} must be a {expected}, "
            f"not {type(value).__name__}.",
            f"Set {name!r} to a {expected} in the study's evaluator options.",
        )
    return value


def reject_unknown(options: Mapping[str, Any], known: Iterable[str], evaluator: str) -> None:
    """``ConfigError`` naming the first option that ``evaluator`` does not know."""
    allowed = set(known)
    for name in options:
        if name not in allowed:
            raise ConfigError(
                f"Evaluator {evaluator!r} has no option {name!r}.",
                f"Use only: {', '.join(sorted(allowed)) or '(no options)'}.",
            )


def _as_tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def when_filter(options: Mapping[str, Any], evaluator: str) -> dict[str, list[str]]:
    """The ``when`` option: metadata column -> accepted values (as strings); {} when absent."""
    when = option(options, "when", dict, evaluator) or {}
    out: dict[str, list[str]] = {}
    for column, wanted in when.items():
        values = wanted if isinstance(wanted, list) else [wanted]
        if not values or any(isinstance(v, dict | list) for v in values):
            raise ConfigError(
                f"Evaluator {evaluator!r}: option 'when' needs a value or a list of values "
                f"for column {column!r}.",
                'Write e.g. "when": {"feature": ["json", "extract"]}.',
            )
        out[str(column)] = [_as_text(v) for v in values]
    return out


def matches_when(when: Mapping[str, list[str]], metadata: Mapping[str, Any]) -> bool:
    """True when every ``when`` column of ``metadata`` holds one of its accepted values."""
    return all(_as_text(metadata.get(column)) in values for column, values in when.items())


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)
