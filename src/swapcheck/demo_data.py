"""Synthetic production prompt log with planted regressions, plus a simulated blind reviewer."""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from swapcheck.demo_prompts import CODE_SNIPPETS, FEATURES, LOCALE_LANGUAGE, MESSAGES, NAMES
from swapcheck.evaluators._text import is_strict_json
from swapcheck.simulated_detect import asks_for_json, looks_like_refusal
from swapcheck.simulated_model import simulate_answer

DEMO_SLICE_COLUMNS: tuple[str, ...] = ("feature", "locale", "tier", "topic")
DEMO_BASELINE_MODEL = "sim-baseline"
DEMO_CANDIDATE_MODEL = "sim-candidate"
DEMO_CANDIDATE_QUIRKS: tuple[str, ...] = ("fence_json", "refuse_medical", "terse_japanese")
DEMO_PLANTED: dict[str, str] = {
    "feature=json_extract": "candidate wraps JSON in markdown fences with a chatty preamble",
    "topic=medical": "candidate refuses most medical questions",
    "locale=ja-JP": "candidate answers Japanese prompts far too briefly",
}

# Share of rows per slice value; quotas are exact (largest remainder), so every planted slice
# has at least 35 rows at n=360 whatever the seed.
DEMO_WEIGHTS: dict[str, dict[str, float]] = {
    "feature": {
        "support_chat": 0.26,
        "json_extract": 0.13,
        "summarize": 0.12,
        "search_answer": 0.11,
        "email_draft": 0.10,
        "code_help": 0.10,
        "classify": 0.09,
        "translate": 0.09,
    },
    "locale": {
        "en-US": 0.34,
        "ja-JP": 0.12,
        "en-GB": 0.10,
        "de-DE": 0.10,
        "fr-FR": 0.09,
        "es-ES": 0.09,
        "pt-BR": 0.08,
        "it-IT": 0.08,
    },
    "tier": {"free": 0.55, "pro": 0.32, "enterprise": 0.13},
    "topic": {
        "billing": 0.20,
        "account": 0.16,
        "shipping": 0.14,
        "product": 0.13,
        "medical": 0.11,
        "returns": 0.10,
        "security": 0.08,
        "legal": 0.08,
    },
}
SYSTEM_PROMPTS: dict[str, str] = {
    "support_chat": "You are Acme's friendly customer support assistant. Reply in the "
    "customer's language.",
    "json_extract": "You are a data extraction service. Output only valid JSON, no prose.",
    "code_help": "You are a senior engineer helping Acme's internal developers.",
    "classify": "You route Acme support tickets to the right queue.",
    "search_answer": "Answer using Acme's help center articles. Be concise and accurate.",
}

SERVICES: dict[str, str] = {
    "billing": "invoice_sync",
    "account": "login_service",
    "shipping": "tracking_updates",
    "product": "catalog_import",
    "medical": "dosage_reminder",
    "legal": "gdpr_export",
    "security": "two_factor_auth",
    "returns": "returns_portal",
}
FIELD_SETS: list[list[str]] = [
    ["customer_name", "order_id", "topic", "urgency"],
    ["customer_name", "order_id", "sentiment"],
    ["order_id", "issue", "priority"],
]
TRANSLATE_TARGETS: list[str] = ["Spanish", "French", "German", "Italian", "Portuguese"]
_START = datetime(2026, 11, 1, tzinfo=UTC)
_SPAN_SECONDS = 14 * 24 * 3600

ReviewerChoice = Literal["left", "right", "tie", "both_bad"]


def _quota(weights: dict[str, float], n: int, rng: random.Random) -> list[str]:
    """Exactly apportioned values (largest remainder), shuffled."""
    raw = {k: w * n for k, w in weights.items()}
    counts = {k: int(v) for k, v in raw.items()}
    by_remainder = sorted(weights, key=lambda k: raw[k] - counts[k], reverse=True)
    for k in by_remainder[: n - sum(counts.values())]:
        counts[k] += 1
    values = [k for k, c in counts.items() for _ in range(c)]
    rng.shuffle(values)
    return values


def _messages(feature: str, locale: str, topic: str, rng: random.Random) -> list[dict[str, str]]:
    lang = LOCALE_LANGUAGE[locale]
    sep = "、" if lang == "ja" else ", "
    msg = rng.choice(MESSAGES[lang][topic]).format(
        name=rng.choice(NAMES[locale]), order=f"#{rng.randint(100000, 999999)}"
    )
    user = rng.choice(FEATURES[lang][feature]).format(
        msg=msg,
        fields=sep.join(f"`{f}`" for f in rng.choice(FIELD_SETS)),
        svc=SERVICES[topic],
        code=rng.choice(CODE_SNIPPETS),
        target=rng.choice(TRANSLATE_TARGETS),
    )
    messages = (
        [{"role": "system", "content": SYSTEM_PROMPTS[feature]}]
        if (feature in SYSTEM_PROMPTS)
        else []
    )
    return [*messages, {"role": "user", "content": user}]


def demo_records(n: int = 360, seed: int = 7) -> list[dict[str, Any]]:
    """The synthetic prompt log as dicts; deterministic for (n, seed)."""
    rng = random.Random(seed)
    columns = {col: _quota(DEMO_WEIGHTS[col], n, rng) for col in DEMO_SLICE_COLUMNS}
    offsets = sorted(rng.randrange(_SPAN_SECONDS) for _ in range(n))
    records: list[dict[str, Any]] = []
    for i in range(n):
        row = {col: columns[col][i] for col in DEMO_SLICE_COLUMNS}
        messages = _messages(row["feature"], row["locale"], row["topic"], rng)
        timestamp = _START + timedelta(seconds=offsets[i])
        records.append(
            {
                "request_id": f"req-{i + 1:06d}",
                "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
                "messages": messages,
                **row,
                "response": simulate_answer(messages, DEMO_BASELINE_MODEL, seed=seed).text,
            }
        )
    return records


def write_demo_log(path: str | os.PathLike[str], n: int = 360, seed: int = 7) -> Path:
    """Write the synthetic prompt log as JSONL (one record per line) and return its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as handle:
        for record in demo_records(n=n, seed=seed):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return target


def _flaws(prompt: str, text: str, other: str) -> int:
    """Count visible problems of one answer relative to the other one."""
    flaws = 0
    if looks_like_refusal(text) and not looks_like_refusal(other):
        flaws += 1
    if asks_for_json(prompt) and is_strict_json(other) and not is_strict_json(text):
        flaws += 1
    if len(text.strip()) < 0.25 * len(other.strip()):
        flaws += 1
    return flaws


def simulated_reviewer_choice(
    messages: list[dict[str, str]], left: str, right: str, rng: random.Random
) -> ReviewerChoice:
    """A heuristic blind reviewer: sees only the prompt and the two texts, never model names.

    It penalises a refusal when the other side answered, non-strict JSON when the prompt
    asked for JSON and the other side is clean, and an answer under a quarter of the other's
    length; otherwise it votes noise (45% left, 45% right, 7% tie, 3% both bad).
    """
    prompt = "\n\n".join(m.get("content", "") for m in messages if m.get("role") != "assistant")
    left_flaws, right_flaws = _flaws(prompt, left, right), _flaws(prompt, right, left)
    roll = rng.random()
    if bool(left_flaws) != bool(right_flaws):
        better: ReviewerChoice = "right" if left_flaws else "left"
        worse: ReviewerChoice = "left" if left_flaws else "right"
        if roll < 0.92:
            return better
        return "tie" if roll < 0.96 else ("both_bad" if roll < 0.98 else worse)
    if left_flaws and right_flaws and roll < 0.3:
        return "both_bad"
    roll = rng.random()
    if roll < 0.45:
        return "left"
    if roll < 0.90:
        return "right"
    return "tie" if roll < 0.97 else "both_bad"


def side_blind_choice(
    messages: list[dict[str, str]], left: str, right: str, rng: random.Random
) -> ReviewerChoice:
    """:func:`simulated_reviewer_choice` reading the two answers in text order, mapped back to
    the screen's sides, so a vote does not depend on which side each answer landed on; two
    identical answers are a tie (or both bad), as a person would call them."""
    first, second = sorted((left, right))
    pick = simulated_reviewer_choice(messages, first, second, rng)
    if pick not in ("left", "right"):
        return pick
    if first == second:
        return "tie"
    chosen = first if pick == "left" else second
    return "left" if chosen == left else "right"
