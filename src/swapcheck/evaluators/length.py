"""Answer length in characters and words, and the candidate/baseline length ratio (log2)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from swapcheck.evaluators import EvalValue, PairFn, PairInput, ResponseFn, ResponseInput, evaluator
from swapcheck.evaluators._text import reject_unknown

_CJK = (
    "\u3040-\u309f"  # Hiragana
    "\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"  # Katakana (incl. half-width)
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
)
_TOKEN_RE = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")
_CJK_CHAR_RE = re.compile(rf"[{_CJK}]")


def char_count(text: str) -> int:
    """Characters (Unicode code points) of the answer without surrounding whitespace."""
    return len(text.strip())


def word_count(text: str) -> int:
    """Whitespace-separated words holding a letter or digit; each Chinese/Japanese character
    (Han, Hiragana, Katakana) counts as one word, since those scripts put no spaces between
    words. Korean (Hangul) is spaced and counted by its spaces."""
    return sum(
        1
        for token in _TOKEN_RE.findall(text)
        if _CJK_CHAR_RE.fullmatch(token) or any(ch.isalnum() for ch in token)
    )


def length_log_ratio(baseline: str, candidate: str) -> float:
    """log2(candidate chars / baseline chars), each floored at 1 (an empty answer is 1 char)."""
    return math.log2(max(char_count(candidate), 1) / max(char_count(baseline), 1))


@evaluator(
    "length_chars",
    version=1,
    scope="response",
    kind="mean",
    higher_is="neutral",
    description="Answer length in characters (Unicode code points, surrounding whitespace "
    "stripped).",
)
def length_chars(options: Mapping[str, Any]) -> ResponseFn:
    """Answer length in characters."""
    reject_unknown(options, (), "length_chars")

    def check(item: ResponseInput) -> EvalValue:
        return EvalValue(float(char_count(item.text)))

    return check


@evaluator(
    "length_words",
    version=1,
    scope="response",
    kind="mean",
    higher_is="neutral",
    description="Answer length in words: whitespace-separated tokens holding a letter or digit; "
    "each Chinese/Japanese character (Han, Hiragana, Katakana) counts as one word.",
)
def length_words(options: Mapping[str, Any]) -> ResponseFn:
    """Answer length in words (CJK: one word per character)."""
    reject_unknown(options, (), "length_words")

    def check(item: ResponseInput) -> EvalValue:
        return EvalValue(float(word_count(item.text)))

    return check


@evaluator(
    "length_ratio",
    version=1,
    scope="pair",
    kind="mean",
    higher_is="neutral",
    description="log2(candidate chars / baseline chars), lengths floored at 1: 0 = same length, "
    "+1 = twice as long, -1 = half as long. The log makes doubling and halving symmetric, so the "
    "mean over prompts is not pulled up by a few long answers as a plain ratio would be.",
)
def length_ratio(options: Mapping[str, Any]) -> PairFn:
    """log2 of the candidate/baseline length ratio in characters."""
    reject_unknown(options, (), "length_ratio")

    def check(item: PairInput) -> EvalValue:
        return EvalValue(length_log_ratio(item.baseline_text, item.candidate_text))

    return check
