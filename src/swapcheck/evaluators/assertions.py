"""Per-study assertions: a regex or substring that every answer must (or must not) contain."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from swapcheck.errors import ConfigError
from swapcheck.evaluators import EvalValue, ResponseFn, ResponseInput, evaluator
from swapcheck.evaluators._text import (
    matches_when,
    option,
    reject_unknown,
    when_filter,
)

NAME = "assertion"
TYPES = ("regex", "not_regex", "contains", "not_contains")
MAX_INPUT_CHARS = 100_000
"""Only the first 100,000 characters of an answer are searched (bounds the regex work)."""
MAX_PATTERN_CHARS = 1_000

try:  # the stdlib's regex parser: used only to refuse nested unbounded repeats
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python < 3.11 layout
    import sre_parse as _sre_parse  # type: ignore[no-redef]

_REPEATS = {_sre_parse.MAX_REPEAT, _sre_parse.MIN_REPEAT}
_UNBOUNDED = _sre_parse.MAXREPEAT


def _has_nested_unbounded_repeat(parsed: Any, inside_unbounded: bool = False) -> bool:
    """True for patterns like ``(a+)+`` or ``(\\w*x?)*``: the classic catastrophic backtracking."""
    for op, arg in parsed:
        if op in _REPEATS:
            _low, high, sub = arg
            unbounded = high == _UNBOUNDED
            if unbounded and inside_unbounded:
                return True
            if _has_nested_unbounded_repeat(sub, inside_unbounded or unbounded):
                return True
        elif op == _sre_parse.SUBPATTERN:
            if _has_nested_unbounded_repeat(arg[-1], inside_unbounded):
                return True
        elif op == _sre_parse.BRANCH:
            if any(_has_nested_unbounded_repeat(b, inside_unbounded) for b in arg[1]):
                return True
        elif op in (_sre_parse.ASSERT, _sre_parse.ASSERT_NOT) and _has_nested_unbounded_repeat(
            arg[1], inside_unbounded
        ):
            return True
    return False


def compile_pattern(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    """Compile a user regex, refusing invalid ones and nested unbounded repeats (ReDoS)."""
    flags = 0 if case_sensitive else re.IGNORECASE
    try:
        compiled = re.compile(pattern, flags)
        parsed = _sre_parse.parse(pattern, flags)
    except re.error as exc:
        raise ConfigError(
            f"Evaluator {NAME!r}: option 'pattern' is not a valid regular expression ({exc}).",
            "Fix the pattern (Python 're' syntax) or use type 'contains' for plain text.",
        ) from exc
    if _has_nested_unbounded_repeat(parsed):
        raise ConfigError(
            f"Evaluator {NAME!r}: option 'pattern' nests unbounded repeats (like '(a+)+'), "
            "which can take exponential time on some answers.",
            "Rewrite the pattern without a '+' or '*' inside a repeated group, or bound the "
            "inner repeat ('{1,20}').",
        )
    return compiled


def _type_option(options: Mapping[str, Any]) -> str:
    kind = option(options, "type", str, NAME)
    if kind not in TYPES:
        raise ConfigError(
            f"Evaluator {NAME!r}: option 'type' must be one of {', '.join(TYPES)}, not {kind!r}.",
            'Set "type" to "regex", "not_regex", "contains" or "not_contains".',
        )
    return kind


def _pattern_option(options: Mapping[str, Any]) -> str:
    pattern = option(options, "pattern", str, NAME)
    if not pattern:
        raise ConfigError(
            f"Evaluator {NAME!r}: option 'pattern' is missing or empty.",
            'Set "pattern" to the text or regular expression to look for.',
        )
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ConfigError(
            f"Evaluator {NAME!r}: option 'pattern' is longer than {MAX_PATTERN_CHARS} characters.",
            "Split it into several assertion instances.",
        )
    return pattern


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 60 else flat[:57] + "..."


@evaluator(
    NAME,
    version=1,
    scope="response",
    kind="rate",
    higher_is="worse",
    description="Configured assertion is violated (1) or holds (0): regex / not_regex / contains "
    "/ not_contains on the answer's first 100,000 characters; label: what violated it.",
    options_doc='{"type": "regex"|"not_regex"|"contains"|"not_contains", "pattern": "...", '
    '"case_sensitive": false, "when": {"<metadata column>": value or [values]}}. Regexes use '
    "Python 're' (no timeout): patterns nesting unbounded repeats such as '(a+)+' are refused.",
    needs_options=True,
)
def assertion(options: Mapping[str, Any]) -> ResponseFn:
    """1 when the answer violates the configured assertion, 0 when it holds."""
    reject_unknown(options, ("type", "pattern", "case_sensitive", "when"), NAME)
    kind = _type_option(options)
    pattern = _pattern_option(options)
    case_sensitive = option(options, "case_sensitive", bool, NAME) or False
    when = when_filter(options, NAME)
    if kind in ("regex", "not_regex"):
        regex = compile_pattern(pattern, case_sensitive)
    else:
        regex = re.compile(re.escape(pattern), 0 if case_sensitive else re.IGNORECASE)
    must_match = kind in ("regex", "contains")

    def check(item: ResponseInput) -> EvalValue | None:
        if not matches_when(when, item.metadata):
            return None
        found = regex.search(item.text[:MAX_INPUT_CHARS])
        if must_match:
            return EvalValue(0.0, None) if found else EvalValue(1.0, "missing")
        if found:
            return EvalValue(1.0, f"found: {_snippet(found.group(0))}")
        return EvalValue(0.0, None)

    return check
