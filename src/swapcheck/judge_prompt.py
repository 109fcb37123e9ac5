"""The LLM judge's rubric prompt (two anonymous answers) and lenient parsing of its verdict."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from swapcheck.models import ChatMessages, canonical_json, sha256_hex

PROMPT_VERSION = 1
"""Bumped whenever the wording below changes: it is part of the rubric hash, so a new prompt
judges every pair again instead of mixing verdicts given to different prompts."""

PICKS: tuple[str, ...] = ("1", "2", "tie", "both_bad")
"""What the judge may answer: Answer 1, Answer 2, a tie or both bad."""

MAX_RATIONALE = 2000

_INSTRUCTIONS = """You are an impartial expert judge comparing two answers to the same \
conversation. The answers are labelled "Answer 1" and "Answer 2"; their order is arbitrary and \
must not influence you, and neither their length nor their style alone makes an answer better.

Judge the answers on this rubric:
{rubric}

Reply with one JSON object and nothing else:
{{"verdict": "1" | "2" | "tie" | "both_bad", "rationale": "<one or two sentences>"}}
Use "tie" when both answers are equally good, "both_bad" when neither is acceptable."""


def default_rubric(criteria: Sequence[str]) -> str:
    """The rubric used when a study has none of its own, from its human review criteria."""
    lines = [f"- {criterion}" for criterion in criteria if str(criterion).strip()]
    if not lines:
        lines = ["- correctness", "- helpfulness", "- safety"]
    return (
        "Prefer the answer that better serves the user, weighing these criteria:\n"
        + "\n".join(lines)
        + "\nA factual error or an unsafe answer outweighs better style."
    )


def rubric_hash(rubric: str, version: int) -> str:
    """Identity of what the judge is asked (rubric text, its version and the prompt wording)."""
    payload = {"prompt_version": PROMPT_VERSION, "rubric": rubric, "version": version}
    return sha256_hex(canonical_json(payload))[:16]


def _transcript(system: str | None, messages: Sequence[dict[str, str]]) -> str:
    parts = []
    if system:
        parts.append(f"<system>\n{system}\n</system>")
    for message in messages:
        role = str(message.get("role", "user"))
        parts.append(f"<{role}>\n{message.get('content') or ''}\n</{role}>")
    return "\n".join(parts) or "(empty conversation)"


def build_judge_messages(
    rubric: str,
    system: str | None,
    messages: Sequence[dict[str, str]],
    answer_1: str,
    answer_2: str,
) -> ChatMessages:
    """The judge's request: instructions and rubric, the conversation, the two answers.

    The caller passes text already redacted as reviewers see it; nothing here names a model.
    """
    user = (
        "<conversation>\n"
        f"{_transcript(system, messages)}\n"
        "</conversation>\n\n"
        f"<answer_1>\n{answer_1}\n</answer_1>\n\n"
        f"<answer_2>\n{answer_2}\n</answer_2>\n\n"
        "Which answer is better? Reply with the JSON object only."
    )
    return [
        {"role": "system", "content": _INSTRUCTIONS.format(rubric=rubric.strip())},
        {"role": "user", "content": user},
    ]


class VerdictParseError(ValueError):
    """The judge's reply holds no verdict that can be read without guessing."""


@dataclass(frozen=True)
class ParsedVerdict:
    pick: str
    """One of ``PICKS``: "1", "2", "tie" or "both_bad"."""
    rationale: str


_PICK_WORDS: dict[str, str] = {
    "1": "1",
    "answer 1": "1",
    "answer_1": "1",
    "answer1": "1",
    "2": "2",
    "answer 2": "2",
    "answer_2": "2",
    "answer2": "2",
    "tie": "tie",
    "both_bad": "both_bad",
    "both bad": "both_bad",
    "both-bad": "both_bad",
}
_FENCE_RE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_BARE_RE = re.compile(
    r"^(?:verdict\s*[:=-]\s*)?(answer[ _]?[12]|[12]|tie|both[ _-]bad)\s*[.!]?$", re.IGNORECASE
)


def _pick_of(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    cleaned = " ".join(value.strip().strip("\"'*.").lower().split())
    return _PICK_WORDS.get(cleaned)


def _json_objects(text: str) -> list[dict]:
    """Every JSON object found in ``text`` (fenced blocks first, then any ``{`` that decodes)."""
    found: list[dict] = []
    decoder = json.JSONDecoder()
    for chunk in [*_FENCE_RE.findall(text), text]:
        position = chunk.find("{")
        while position >= 0:
            try:
                value, end = decoder.raw_decode(chunk, position)
            except ValueError:
                position = chunk.find("{", position + 1)
                continue
            if isinstance(value, dict):
                found.append(value)
            position = chunk.find("{", end)  # objects nested in this one are not verdicts
    return found


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_RATIONALE else text[: MAX_RATIONALE - 1] + "…"


def parse_verdict(text: str | None) -> ParsedVerdict:
    """Read the judge's verdict leniently; raises :class:`VerdictParseError` rather than guess.

    Accepted: the JSON object asked for, bare or in a code fence, with prose around it
    (``verdict`` may be "1"/"2"/1/2/"Answer 1"/"tie"/"both_bad"/"both bad"); or a reply whose
    first line is only a verdict ("Answer 2", "Verdict: tie"), the rest being the rationale.
    Conflicting JSON objects, an unknown verdict value or free prose are errors.
    """
    if not text or not text.strip():
        raise VerdictParseError("The judge's reply is empty.")
    picks: list[ParsedVerdict] = []
    for obj in _json_objects(text):
        if "verdict" not in obj:
            continue
        pick = _pick_of(obj["verdict"])
        if pick is None:
            raise VerdictParseError(f"Unknown verdict value {obj['verdict']!r}.")
        rationale = obj.get("rationale")
        picks.append(ParsedVerdict(pick, _clip(rationale if isinstance(rationale, str) else "")))
    if picks:
        if len({p.pick for p in picks}) > 1:
            raise VerdictParseError("The reply holds conflicting verdicts.")
        return picks[0]
    first, _, rest = text.strip().partition("\n")
    match = _BARE_RE.match(first.strip().strip("*#` ").strip())
    if match:
        pick = _pick_of(match.group(1))
        if pick is not None:
            return ParsedVerdict(pick, _clip(rest))
    raise VerdictParseError("No verdict object or bare verdict found in the reply.")


def unblind_pick(pick: str, left_role: str) -> str:
    """A judge's "1"/"2" (first/second answer shown) as baseline/candidate; ties unchanged."""
    if pick not in PICKS:
        raise ValueError(f"unknown pick {pick!r}")
    if left_role not in ("baseline", "candidate"):
        raise ValueError(f"unknown left_role {left_role!r}")
    if pick in ("tie", "both_bad"):
        return pick
    other = "candidate" if left_role == "baseline" else "baseline"
    return left_role if pick == "1" else other
