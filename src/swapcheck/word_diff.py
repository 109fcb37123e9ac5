"""Word-level differences between two answers, as spans and as escaped, fixed-tag HTML."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from difflib import SequenceMatcher

MAX_DIFF_TOKENS = 6000
"""Above this many tokens per side the diff is skipped (SequenceMatcher grows quadratically)."""

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


@dataclass(frozen=True)
class DiffSpan:
    """A run of text; ``changed`` when its words do not occur at this place in the other text."""

    text: str
    changed: bool


@dataclass(frozen=True)
class WordDiff:
    """Both texts cut into spans; joining a side's span texts gives that text back exactly."""

    left: tuple[DiffSpan, ...]
    right: tuple[DiffSpan, ...]
    compared: bool
    """False when a text was too long to compare (every span is then unchanged)."""


def tokenize(text: str) -> list[str]:
    """Words, single punctuation marks and whitespace runs; concatenated they give ``text``."""
    return _TOKEN.findall(text)


def _comparable(token: str) -> str:
    return " " if token.isspace() else token


def _merge(tokens: list[tuple[str, bool]]) -> tuple[DiffSpan, ...]:
    """Adjacent tokens with the same mark as one span; whitespace is marked only between two
    changed words (a change is one highlight, and bare whitespace is never highlighted)."""
    marks = [changed and not text.isspace() for text, changed in tokens]
    for i, (text, _) in enumerate(tokens):
        if text.isspace() and 0 < i < len(tokens) - 1:
            marks[i] = marks[i - 1] and marks[i + 1]
    spans: list[DiffSpan] = []
    for (text, _), changed in zip(tokens, marks, strict=True):
        if spans and spans[-1].changed == changed:
            spans[-1] = DiffSpan(spans[-1].text + text, changed)
        else:
            spans.append(DiffSpan(text, changed))
    return tuple(spans)


def word_diff(left: str, right: str) -> WordDiff:
    """Mark the words of each side that the other side does not have at the matching place."""
    left_tokens, right_tokens = tokenize(left), tokenize(right)
    if max(len(left_tokens), len(right_tokens)) > MAX_DIFF_TOKENS:
        return WordDiff(
            (DiffSpan(left, False),) if left else (),
            (DiffSpan(right, False),) if right else (),
            compared=False,
        )
    matcher = SequenceMatcher(
        None,
        [_comparable(t) for t in left_tokens],
        [_comparable(t) for t in right_tokens],
        autojunk=False,
    )
    left_marks = [True] * len(left_tokens)
    right_marks = [True] * len(right_tokens)
    for block in matcher.get_matching_blocks():
        for i in range(block.size):
            left_marks[block.a + i] = False
            right_marks[block.b + i] = False
    return WordDiff(
        _merge(list(zip(left_tokens, left_marks, strict=True))),
        _merge(list(zip(right_tokens, right_marks, strict=True))),
        compared=True,
    )


DIFF_STYLE = "white-space: pre-wrap; overflow-wrap: anywhere; font-family: inherit"
MARK_STYLE = "background-color: rgba(255, 196, 0, 0.45); border-radius: 2px"


def spans_to_html(spans: tuple[DiffSpan, ...]) -> str:
    """One ``<div>`` of escaped text; changed spans wrapped in ``<mark>``. No other tag, no
    attribute but the two fixed styles, so nothing from the text can become markup."""
    parts = [
        f'<mark style="{MARK_STYLE}">{html.escape(s.text)}</mark>'
        if s.changed
        else html.escape(s.text)
        for s in spans
    ]
    return f'<div style="{DIFF_STYLE}">{"".join(parts)}</div>'
