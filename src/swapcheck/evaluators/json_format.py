"""Strict JSON check: when the prompt asks for JSON, is the answer *only* valid JSON?"""

from __future__ import annotations

import json
import re

from swapcheck.evaluators import ChatMessages, EvalResult, evaluator

_ASKS_FOR_JSON = re.compile(r"\b(?:json)\b", re.IGNORECASE)


def _asks_for_json(messages: ChatMessages) -> bool:
    return any(
        m.get("role") in ("system", "user") and _ASKS_FOR_JSON.search(m.get("content", ""))
        for m in messages
    )


@evaluator(
    "json_invalid",
    version=1,
    description="Prompt asks for JSON and the answer is not bare valid JSON (1) or is (0).",
)
def json_invalid(messages: ChatMessages, text: str) -> EvalResult | None:
    if not _asks_for_json(messages):
        return None
    stripped = text.strip()
    try:
        json.loads(stripped)
    except ValueError:
        label = "fenced" if stripped.startswith("```") or "```json" in stripped else "invalid"
        return EvalResult(1.0, label)
    return EvalResult(0.0, None)
