"""Refusal / deflection detector: does the answer decline instead of helping?"""

from __future__ import annotations

import re

from swapcheck.evaluators import ChatMessages, EvalResult, evaluator

_REFUSAL_PATTERNS = [
    r"\bI(?:'m| am) (?:sorry|afraid),? (?:but )?I (?:can(?:no|')t|won't|am unable to|'m unable to)",
    r"\bI (?:can(?:no|')t|won't|am not able to|'m not able to) "
    r"(?:help|assist|provide|answer|do that)",
    r"\bI(?:'m| am) (?:not able|unable) to (?:help|assist|provide|answer)",
    r"\bas an AI\b.{0,40}\b(?:can(?:no|')t|not able)",
    r"\bplease (?:consult|contact|seek) (?:a|an|your) (?:doctor|physician|healthcare|medical|"
    r"lawyer|attorney|professional)",
    r"申し訳ありませんが.{0,20}(?:できません|お答えできません)",
    r"\b(?:Es tut mir leid|Leider kann ich)\b",
    r"\bJe (?:suis désolé|ne peux pas)\b",
    r"\b(?:Lo siento|No puedo)\b",
]
_REFUSAL_RE = re.compile("|".join(_REFUSAL_PATTERNS), re.IGNORECASE | re.DOTALL)


@evaluator("refusal", version=1, description="Answer refuses or deflects (1) or helps (0).")
def refusal(messages: ChatMessages, text: str) -> EvalResult:
    head = text.strip()[:600]
    if not head:
        return EvalResult(1.0, "empty")
    match = _REFUSAL_RE.search(head)
    return EvalResult(1.0, "refusal") if match else EvalResult(0.0, None)
