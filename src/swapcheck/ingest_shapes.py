"""Column mapping of a log, and recognition of the common log shapes without configuration."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from swapcheck.models import LOGGED_VARIANT, canonical_json

TURNS = ("last", "first")
SHAPES: dict[str, str] = {
    "prompt_column": "a plain prompt column",
    "openai_chat": "OpenAI chat `messages`",
    "anthropic_messages": "Anthropic Messages requests (`system` + `messages`)",
    "openai_batch_input": "OpenAI Batch API input (`custom_id`, `body.messages`)",
    "openai_batch": "OpenAI Batch API input joined with its output",
    "openai_batch_output": "OpenAI Batch API output (`custom_id`, `response.body.choices`)",
    "anthropic_batch": "Anthropic Message Batches (`custom_id`, `params`)",
    "custom": "columns chosen by hand",
}
BATCH_RESPONSE_PATH = "response.body.choices[0].message.content"

_MESSAGES_NAMES = ("messages", "conversation", "chat", "turns")
_PROMPT_NAMES = ("prompt", "input", "question", "query", "user_message", "text", "instruction")
_ID_NAMES = ("id", "prompt_id", "request_id", "custom_id", "uuid", "trace_id")
_RESPONSE_NAMES = ("response", "output", "completion", "answer", "logged_response", "assistant")
_SYSTEM_NAMES = ("system", "system_prompt", "instructions")
_TIME_NAMES = ("timestamp", "logged_at", "created_at", "created", "time", "ts", "datetime",
               "date", "request_time", "start_time")  # fmt: skip
# Request parameters of the provider APIs: never slices by default (still selectable by hand).
_API_KEYS = frozenset(
    [
        "model",
        "method",
        "url",
        "body",
        "params",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stream",
        "stop",
        "n",
        "tools",
        "tool_choice",
        "response_format",
        "seed",
        "logprobs",
        "user",
        "anthropic_version",
        "error",
        "object",
        "choices",
        "usage",
        "system_fingerprint",
    ]
)
_MAX_SLICE_VALUES = 50


@dataclass(frozen=True)
class ColumnMapping:
    """Which fields hold the prompt (text or chat messages), id, answer, time and slices.

    A field is a top-level column name or, in JSON logs, a dotted path such as
    ``body.messages`` or ``response.body.choices[0].message.content``. ``turn`` says which user
    turn of a multi-turn conversation is under study: the ``last`` (default) or the ``first``.
    ``response_variant`` names the answers-only variant the answers are stored under (default
    ``logged``, the production answers); ``response_model`` is that variant's model label.
    """

    prompt_column: str | None = None
    messages_column: str | None = None
    system_column: str | None = None
    id_column: str | None = None
    response_column: str | None = None
    slice_columns: tuple[str, ...] = ()
    timestamp_column: str | None = None
    turn: str = "last"
    shape: str = "custom"
    response_variant: str = LOGGED_VARIANT
    response_model: str | None = None

    def to_json(self) -> str:
        return canonical_json(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ColumnMapping:
        data = json.loads(text)
        data["slice_columns"] = tuple(data.get("slice_columns") or ())
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def fields(self) -> dict[str, str]:
        """Every mapped field by role (slices as ``slice:<name>``), in a stable order."""
        roles = {
            "messages": self.messages_column,
            "prompt": self.prompt_column,
            "system": self.system_column,
            "id": self.id_column,
            "response": self.response_column,
            "timestamp": self.timestamp_column,
        }
        out = {role: col for role, col in roles.items() if col}
        out.update({f"slice:{col}": col for col in self.slice_columns})
        return out

    def with_overrides(self, **changes: Any) -> ColumnMapping:
        return replace(self, **changes)


def recognise_shape(records: Sequence[dict[str, Any]]) -> str | None:
    """Name of a known API log shape if the sample records have it, else None."""
    objects = [r for r in records if isinstance(r, dict)]
    if not objects:
        return None

    def share(test: Any) -> float:
        return sum(1 for r in objects if test(r)) / len(objects)

    def nested(r: dict[str, Any], *keys: str) -> Any:
        for key in keys:
            r = r.get(key) if isinstance(r, dict) else None
        return r

    if share(lambda r: "custom_id" in r) >= 0.5:
        has_input = share(lambda r: isinstance(nested(r, "body", "messages"), list)) >= 0.5
        has_output = share(lambda r: isinstance(nested(r, "response", "body"), dict)) >= 0.5
        if has_input and has_output:
            return "openai_batch"
        if has_input:
            return "openai_batch_input"
        if has_output or share(lambda r: "response" in r or "error" in r) >= 0.5:
            return "openai_batch_output"
        if share(lambda r: isinstance(nested(r, "params", "messages"), list)) >= 0.5:
            return "anthropic_batch"
    if share(lambda r: isinstance(r.get("messages"), list)) >= 0.5:
        anthropic = (
            share(lambda r: "system" in r or ("max_tokens" in r and "model" in r)) >= 0.5
            or share(_has_content_blocks) >= 0.5
        )
        return "anthropic_messages" if anthropic and not share(_has_system_turn) else "openai_chat"
    return None


def _has_content_blocks(record: dict[str, Any]) -> bool:
    msgs = record.get("messages")
    return (
        isinstance(msgs, list)
        and any(isinstance(m, dict) and isinstance(m.get("content"), list) for m in msgs)
        and isinstance(record.get("system"), str | list)
    )


def _has_system_turn(record: dict[str, Any]) -> bool:
    msgs = record.get("messages")
    return isinstance(msgs, list) and any(
        isinstance(m, dict) and m.get("role") in ("system", "developer") for m in msgs
    )


def guess_mapping(
    columns: Sequence[str], records: Sequence[dict[str, Any]] | None = None
) -> ColumnMapping:
    """Guess the mapping from the shape of sample records, else from common column names.

    Slice guesses skip API request parameters, nested values and columns with more than
    50 distinct values in the sample (ids, free text); all of them can still be picked by hand.
    """
    records = list(records or [])
    shape = recognise_shape(records)
    by_lower: dict[str, str] = {}
    for col in columns:
        by_lower.setdefault(col.lower(), col)

    def pick(names: Sequence[str], taken: set[str]) -> str | None:
        for name in names:
            col = by_lower.get(name)
            if col is not None and col not in taken:
                taken.add(col)
                return col
        return None

    taken: set[str] = set()
    timestamp = pick(_TIME_NAMES, taken)
    if shape in ("openai_batch_input", "openai_batch", "openai_batch_output"):
        taken.update(c for c in ("custom_id", "body", "response", "error") if c in columns)
        mapping = ColumnMapping(
            messages_column="body.messages" if shape != "openai_batch_output" else None,
            id_column="custom_id",
            response_column=BATCH_RESPONSE_PATH if shape != "openai_batch_input" else None,
            timestamp_column=timestamp,
            shape=shape,
        )
    elif shape == "anthropic_batch":
        taken.update(c for c in ("custom_id", "params") if c in columns)
        mapping = ColumnMapping(
            messages_column="params.messages",
            system_column="params.system",
            id_column="custom_id",
            timestamp_column=timestamp,
            shape=shape,
        )
    else:
        messages = pick(_MESSAGES_NAMES, taken)
        prompt = None if messages else pick(_PROMPT_NAMES, taken)
        mapping = ColumnMapping(
            prompt_column=prompt,
            messages_column=messages,
            id_column=pick(_ID_NAMES, taken),
            response_column=pick(_RESPONSE_NAMES, taken),
            system_column=pick(_SYSTEM_NAMES, taken),
            timestamp_column=timestamp,
            shape=shape or ("prompt_column" if prompt else "custom"),
        )
    slices = tuple(c for c in columns if c not in taken and _good_slice(c, records))
    return replace(mapping, slice_columns=slices)


def _good_slice(column: str, records: Sequence[dict[str, Any]]) -> bool:
    if column.lower() in _API_KEYS or column.lower() in _ID_NAMES:
        return False
    values = [r.get(column) for r in records if isinstance(r, dict)]
    if any(isinstance(v, dict | list) for v in values):
        return False
    distinct = {json.dumps(v, sort_keys=True, default=str) for v in values if v is not None}
    return len(distinct) <= _MAX_SLICE_VALUES
