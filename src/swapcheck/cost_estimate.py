"""Token and cost estimates of generation jobs before they are sent (budget, TPM, previews).

Input tokens, without a tokenizer (``estimate_cost(method="auto")`` uses ``tiktoken``'s
``o200k_base`` instead when tiktoken happens to be installed; it is never required, and the engine
always uses the heuristic: it is cheap and needs no encoding files):

* CJK characters (Han, kana, Hangul) count 1 token each;
* every other character counts 1/4 token (~4 characters per token for Latin text), rounded up
  per message;
* each message adds ``MESSAGE_OVERHEAD_TOKENS`` (role and separators) and each request
  ``REQUEST_OVERHEAD_TOKENS`` (the reply priming), as in OpenAI's chat format.

Output tokens: the variant's ``max_tokens`` (or ``max_completion_tokens`` / ``max_output_tokens``)
param is the **upper bound**; the **typical** figure is ``expected_output_tokens`` when given,
else ``min(upper bound, TYPICAL_OUTPUT_TOKENS)``. Budget and TPM reservations use the upper bound
when the variant sets one and the typical figure otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from swapcheck.models import ChatMessages, GenerationJob, VariantConfig

MESSAGE_OVERHEAD_TOKENS = 4
REQUEST_OVERHEAD_TOKENS = 3
LATIN_CHARS_PER_TOKEN = 4
TYPICAL_OUTPUT_TOKENS = 256
"""Typical answer length assumed when neither ``expected_output_tokens`` nor a cap is known."""
MAX_TOKEN_PARAMS = ("max_tokens", "max_completion_tokens", "max_output_tokens")

Method = Literal["auto", "heuristic", "tiktoken"]

_CJK = re.compile(
    "[\u1100-\u11ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f]"
)


@dataclass(frozen=True)
class CostEstimate:
    """Estimated tokens and US$ cost of answering a set of jobs with one variant."""

    jobs: int
    input_tokens: int
    output_tokens_typical: int
    output_tokens_max: int | None
    """From the variant's ``max_tokens``; None when it sets no cap."""
    cost_typical: float
    cost_max: float | None
    """Upper bound (input estimate + ``max_tokens`` per job); None without a cap."""
    method: str
    """``heuristic`` or ``tiktoken``: how input tokens were counted."""


def heuristic_text_tokens(text: str) -> int:
    """Tokens of ``text``: 1 per CJK character plus 1 per 4 other characters (rounded up)."""
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / LATIN_CHARS_PER_TOKEN)


def _tiktoken_counter() -> Callable[[str], int] | None:
    """A tiktoken counter when tiktoken is installed and its encoding loads; else None."""
    try:
        import tiktoken  # type: ignore[import-not-found]

        encoding = tiktoken.get_encoding("o200k_base")
    except Exception:  # not installed, or the encoding is not cached and cannot be fetched
        return None
    return lambda text: len(encoding.encode(text, disallowed_special=()))


_COUNTERS: dict[str, Callable[[str], int] | None] = {}


def text_counter(method: Method = "auto") -> tuple[str, Callable[[str], int]]:
    """``(name, count_tokens)`` for ``method`` (``auto``: tiktoken if usable, else heuristic)."""
    if method != "heuristic":
        if "tiktoken" not in _COUNTERS:
            _COUNTERS["tiktoken"] = _tiktoken_counter()
        counter = _COUNTERS["tiktoken"]
        if counter is not None:
            return "tiktoken", counter
    return "heuristic", heuristic_text_tokens


def message_tokens(
    messages: ChatMessages, count: Callable[[str], int] = heuristic_text_tokens
) -> int:
    """Estimated input tokens of one request's ``messages``."""
    total = REQUEST_OVERHEAD_TOKENS
    for message in messages:
        total += MESSAGE_OVERHEAD_TOKENS + count(str(message.get("content") or ""))
    return total


def output_token_cap(params: dict[str, Any]) -> int | None:
    """The answer-length cap a variant's params set (``max_tokens`` and its aliases)."""
    for name in MAX_TOKEN_PARAMS:
        value = params.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def typical_output_tokens(variant: VariantConfig, expected: int | None = None) -> int:
    cap = output_token_cap(variant.params)
    if expected is not None:
        return expected if cap is None else min(expected, cap)
    return TYPICAL_OUTPUT_TOKENS if cap is None else min(cap, TYPICAL_OUTPUT_TOKENS)


def reserved_output_tokens(variant: VariantConfig, expected: int | None = None) -> int:
    """Output tokens to reserve per request: the cap when set, else the typical figure."""
    cap = output_token_cap(variant.params)
    return cap if cap is not None else typical_output_tokens(variant, expected)


def estimate_cost(
    variant: VariantConfig,
    jobs: Sequence[GenerationJob],
    expected_output_tokens: int | None = None,
    *,
    method: Method = "auto",
) -> CostEstimate:
    """Estimate tokens and cost of answering ``jobs`` with ``variant`` (see module docstring)."""
    name, count = text_counter(method)
    input_tokens = sum(message_tokens(job.messages, count) for job in jobs)
    typical = typical_output_tokens(variant, expected_output_tokens) * len(jobs)
    cap = output_token_cap(variant.params)
    upper = cap * len(jobs) if cap is not None else None
    return CostEstimate(
        jobs=len(jobs),
        input_tokens=input_tokens,
        output_tokens_typical=typical,
        output_tokens_max=upper,
        cost_typical=variant.cost(input_tokens, typical) or 0.0,
        cost_max=(variant.cost(input_tokens, upper) or 0.0) if upper is not None else None,
        method=name,
    )
