"""Scoring one answer with a registered evaluator, for the evaluator tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from swapcheck.evaluators import EvalValue, ResponseInput, get_evaluator

Score = Callable[..., EvalValue | None]


def scorer(default_messages: list[dict[str, str]]) -> Score:
    """``score(name, text, messages=None, options=None, metadata=None)``: build evaluator
    ``name`` with ``options`` and score one answer (``default_messages`` when none given)."""

    def score(
        name: str,
        text: str,
        messages: list[dict[str, str]] | None = None,
        options: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> EvalValue | None:
        check = get_evaluator(name).build(options)
        inputs = ResponseInput(messages or default_messages, text, metadata or {})  # type: ignore[arg-type]
        return check(inputs)

    return score
