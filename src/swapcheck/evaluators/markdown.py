"""Markdown structure: does the answer use headings, lists, fenced code blocks or pipe tables?"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from swapcheck.evaluators import EvalValue, ResponseFn, ResponseInput, evaluator
from swapcheck.evaluators._text import FENCE_RE, reject_unknown

_ATX_RE = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+\S.*)?$")
_SETEXT_UNDERLINE_RE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_LIST_ITEM_RE = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\S")
_TABLE_DELIMITER_RE = re.compile(
    r"^[ \t]*\|?(?:[ \t]*:?-+:?[ \t]*\|)+(?:[ \t]*:?-+:?[ \t]*)?\|?[ \t]*$"
)
_THEMATIC_BREAK_RE = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")


def prose_lines(text: str) -> list[str]:
    """The answer's lines outside fenced code blocks (a '#' line inside a fence is code)."""
    return FENCE_RE.sub("\n", text).splitlines()


def count_headings(text: str) -> int:
    """ATX ('# Title') and setext ('Title' over '===' or '---') headings outside code fences."""
    lines = prose_lines(text)
    atx = sum(1 for line in lines if _ATX_RE.match(line))
    setext = sum(
        1
        for index in range(1, len(lines))
        if _SETEXT_UNDERLINE_RE.match(lines[index]) and _is_paragraph_line(lines[index - 1])
    )
    return atx + setext


def _is_paragraph_line(line: str) -> bool:
    return bool(
        line.strip()
        and not line.startswith("    ")
        and not _ATX_RE.match(line)
        and not _LIST_ITEM_RE.match(line)
        and not _THEMATIC_BREAK_RE.match(line)
        and not _SETEXT_UNDERLINE_RE.match(line)
        and "|" not in line
    )


def count_list_items(text: str) -> int:
    """Bullet ('-', '*', '+') and numbered ('1.', '1)') list items outside code fences."""
    return sum(
        1
        for line in prose_lines(text)
        if _LIST_ITEM_RE.match(line) and not _THEMATIC_BREAK_RE.match(line)
    )


def count_code_fences(text: str) -> int:
    """Fenced code blocks (``` or ~~~; an unclosed fence counts, it runs to the end)."""
    return sum(1 for _ in FENCE_RE.finditer(text))


def count_tables(text: str) -> int:
    """Pipe tables: a header row with '|' directly followed by a delimiter row ('|---|:--:|')."""
    lines = prose_lines(text)
    return sum(
        1
        for index in range(1, len(lines))
        if _TABLE_DELIMITER_RE.match(lines[index])
        and "|" in lines[index]
        and "|" in lines[index - 1]
        and lines[index - 1].strip()
    )


def _presence(name: str, counter: Callable[[str], int]) -> ResponseFn:
    def check(item: ResponseInput) -> EvalValue:
        found = counter(item.text)
        return EvalValue(1.0, f"count={found}") if found else EvalValue(0.0, None)

    check.__name__ = name
    return check


_COMMON: dict[str, Any] = {"scope": "response", "kind": "rate", "higher_is": "neutral"}


@evaluator(
    "markdown_headings",
    version=1,
    description="Answer has a markdown heading (ATX '#' or setext underline) outside code fences "
    "(1) or not (0); label: how many.",
    **_COMMON,
)
def markdown_headings(options: Mapping[str, Any]) -> ResponseFn:
    """Answer has a markdown heading outside code fences."""
    reject_unknown(options, (), "markdown_headings")
    return _presence("markdown_headings", count_headings)


@evaluator(
    "markdown_lists",
    version=1,
    description="Answer has a bullet or numbered list item outside code fences (1) or not (0); "
    "label: how many items.",
    **_COMMON,
)
def markdown_lists(options: Mapping[str, Any]) -> ResponseFn:
    """Answer has a bullet or numbered list outside code fences."""
    reject_unknown(options, (), "markdown_lists")
    return _presence("markdown_lists", count_list_items)


@evaluator(
    "code_fences",
    version=1,
    description="Answer has a fenced code block (``` or ~~~) (1) or not (0); label: how many.",
    **_COMMON,
)
def code_fences(options: Mapping[str, Any]) -> ResponseFn:
    """Answer has a fenced code block."""
    reject_unknown(options, (), "code_fences")
    return _presence("code_fences", count_code_fences)


@evaluator(
    "markdown_tables",
    version=1,
    description="Answer has a pipe table (header row + delimiter row) outside code fences (1) "
    "or not (0); label: how many.",
    **_COMMON,
)
def markdown_tables(options: Mapping[str, Any]) -> ResponseFn:
    """Answer has a markdown pipe table outside code fences."""
    reject_unknown(options, (), "markdown_tables")
    return _presence("markdown_tables", count_tables)
