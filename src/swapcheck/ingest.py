"""Parse JSONL/CSV/Parquet prompt logs into validated, de-duplicated prompts plus rejected rows."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from swapcheck.errors import IngestError
from swapcheck.ingest_formats import RAW_LIMIT, RawRow, read_bytes, read_table
from swapcheck.ingest_formats import detect_format as _detect_format
from swapcheck.models import ChatMessages, canonical_json, sha256_hex

ROLES = ("system", "user", "assistant", "tool")
PROMPT_COLUMNS = (
    "row_number",
    "external_id",
    "messages",
    "prompt_text",
    "metadata",
    "logged_response",
    "content_hash",
)
REJECT_COLUMNS = ("row_number", "reason", "raw")

_MESSAGES_NAMES = ("messages", "conversation", "chat")
_PROMPT_NAMES = ("prompt", "input", "question", "query", "user_message", "text", "instruction")
_ID_NAMES = ("id", "prompt_id", "request_id", "custom_id", "uuid")
_RESPONSE_NAMES = ("response", "output", "completion", "answer", "logged_response", "assistant")
_SYSTEM_NAMES = ("system", "system_prompt")


@dataclass(frozen=True)
class ColumnMapping:
    """Which file columns hold the prompt, id, logged answer, system prompt and slices."""

    prompt_column: str | None = None
    messages_column: str | None = None
    system_column: str | None = None
    id_column: str | None = None
    response_column: str | None = None
    slice_columns: tuple[str, ...] = ()

    def to_json(self) -> str:
        return canonical_json(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ColumnMapping:
        data = json.loads(text)
        data["slice_columns"] = tuple(data.get("slice_columns") or ())
        return cls(**data)


@dataclass
class ParsedLog:
    """Result of parsing one log file; nothing is dropped silently (see ``rows_total``)."""

    source_name: str
    file_hash: str
    format: str
    columns: list[str]
    mapping: ColumnMapping
    rows_total: int
    prompts: pd.DataFrame
    rejects: pd.DataFrame
    rows_duplicate: int = 0


class _RowError(Exception):
    """One row is unusable; the message is the reason shown to the user."""


def detect_format(path: str | Path) -> str:
    """'jsonl' (.jsonl/.ndjson/.jsonlines/.json), 'csv' (.csv) or 'parquet' (.parquet/.pq)."""
    return _detect_format(path)


def read_columns(path: str | Path, fmt: str | None = None) -> list[str]:
    """Column names found in the file (for JSONL: every key seen, in first-seen order)."""
    fmt = fmt or detect_format(path)
    return read_table(path, fmt, read_bytes(path), limit=0).columns


def preview(path: str | Path, limit: int = 20, fmt: str | None = None) -> pd.DataFrame:
    """The first ``limit`` readable rows, every value rendered as a string (None for null)."""
    fmt = fmt or detect_format(path)
    table = read_table(path, fmt, read_bytes(path), limit=limit)
    records = [
        {col: as_text((row.values or {}).get(col)) for col in table.columns}
        for row in table.rows[:limit]
    ]
    return pd.DataFrame(records, columns=table.columns, dtype=object)


def guess_mapping(columns: list[str]) -> ColumnMapping:
    """Guess roles from common column names (case-insensitive); the rest become slices."""
    by_lower: dict[str, str] = {}
    for col in columns:
        by_lower.setdefault(col.lower(), col)

    def pick(names: tuple[str, ...], taken: set[str]) -> str | None:
        for name in names:
            col = by_lower.get(name)
            if col is not None and col not in taken:
                return col
        return None

    taken: set[str] = set()
    messages = pick(_MESSAGES_NAMES, taken)
    prompt = None if messages else pick(_PROMPT_NAMES, taken)
    taken.update(c for c in (messages, prompt) if c)
    id_col = pick(_ID_NAMES, taken)
    taken.update(c for c in (id_col,) if c)
    response = pick(_RESPONSE_NAMES, taken)
    taken.update(c for c in (response,) if c)
    system = pick(_SYSTEM_NAMES, taken)
    taken.update(c for c in (system,) if c)
    slices = tuple(c for c in columns if c not in taken)
    return ColumnMapping(prompt, messages, system, id_col, response, slices)


def parse_log(
    path: str | Path, mapping: ColumnMapping | None = None, source_name: str | None = None
) -> ParsedLog:
    """Read, validate and de-duplicate a log file.

    Row numbers: JSONL → the 1-based physical line; CSV → the 1-based physical line of the
    row's first line (the header is line 1, so the first data row is line 2, and a row with an
    embedded newline advances the count by its extra lines); Parquet → the 1-based row index.
    If both ``messages_column`` and ``system_column`` are set and a row's messages already start
    with a system message, the messages' own system prompt wins and the column is ignored.
    """
    p = Path(path)
    fmt = detect_format(p)
    raw = read_bytes(p)
    table = read_table(p, fmt, raw)
    used = _resolve(mapping or guess_mapping(table.columns), table.columns, p.name)
    prompts: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    seen: set[str] = set()
    duplicates = 0
    for row in table.rows:
        try:
            record = _build(row, used)
        except _RowError as exc:
            reason = f"{table.label} {row.row_number}: {exc}"
            rejects.append({"row_number": row.row_number, "reason": reason, "raw": row.raw})
            continue
        if record["content_hash"] in seen:
            duplicates += 1
            continue
        seen.add(record["content_hash"])
        prompts.append(record)
    return ParsedLog(
        source_name=source_name or p.name,
        file_hash=sha256_hex(raw),
        format=fmt,
        columns=table.columns,
        mapping=used,
        rows_total=len(table.rows),
        prompts=_frame(prompts, PROMPT_COLUMNS),
        rejects=_frame(rejects, REJECT_COLUMNS),
        rows_duplicate=duplicates,
    )


def _frame(records: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=list(columns), dtype=object)
    frame["row_number"] = frame["row_number"].astype("int64")
    return frame


def _resolve(mapping: ColumnMapping, columns: list[str], name: str) -> ColumnMapping:
    """Check every mapped column exists (case-insensitive fallback) and one prompt source."""
    found = ", ".join(columns) or "(none)"

    def real(col: str | None, option: str) -> str | None:
        if col is None or col in columns:
            return col
        matches = [c for c in columns if c.lower() == col.lower()]
        if len(matches) == 1:
            return matches[0]
        raise IngestError(
            f"{name}: column {col!r} (given as {option}) is not in the file.",
            f"pick one of the columns found: {found}",
        )

    resolved = ColumnMapping(
        prompt_column=real(mapping.prompt_column, "--prompt-column"),
        messages_column=real(mapping.messages_column, "--messages-column"),
        system_column=real(mapping.system_column, "--system-column"),
        id_column=real(mapping.id_column, "--id-column"),
        response_column=real(mapping.response_column, "--response-column"),
        slice_columns=tuple(str(real(c, "--slice-column")) for c in mapping.slice_columns),
    )
    if not resolved.prompt_column and not resolved.messages_column:
        raise IngestError(
            f"{name}: no prompt or messages column found.",
            f"pass --prompt-column or --messages-column; columns found: {found}",
        )
    return resolved


def as_text(value: Any) -> str | None:
    """Render a cell as a string: bools as true/false, structures as canonical JSON."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return canonical_json(value if not isinstance(value, tuple) else list(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _stripped(value: Any) -> str | None:
    text = as_text(value)
    return text.strip() or None if text is not None else None


def _build(row: RawRow, m: ColumnMapping) -> dict[str, Any]:
    if row.values is None:
        raise _RowError(row.error or "could not be read")
    values = row.values
    if m.messages_column:
        messages = _messages(values.get(m.messages_column), m.messages_column)
    else:
        prompt = values.get(m.prompt_column or "")
        if isinstance(prompt, dict | list):
            raise _RowError(
                f"prompt column '{m.prompt_column}' holds JSON, not text — "
                "map it with --messages-column or store plain text"
            )
        text = as_text(prompt)
        if text is None or not text.strip():
            raise _RowError(
                f"prompt column '{m.prompt_column}' is empty — every row needs a prompt"
            )
        messages = [{"role": "user", "content": text}]
    if m.system_column:
        system = as_text(values.get(m.system_column))
        if system and system.strip() and messages[0]["role"] != "system":
            messages.insert(0, {"role": "system", "content": system})
    metadata = {col: _stripped(values.get(col)) for col in m.slice_columns}
    response = as_text(values.get(m.response_column)) if m.response_column else None
    response = response if response and response.strip() else None
    content = {"messages": messages, "metadata": metadata, "logged_response": response}
    return {
        "row_number": row.row_number,
        "external_id": _stripped(values.get(m.id_column)) if m.id_column else None,
        "messages": canonical_json(messages),
        "prompt_text": messages[-1]["content"],
        "metadata": canonical_json(metadata),
        "logged_response": response,
        "content_hash": sha256_hex(canonical_json(content)),
    }


def _messages(value: Any, column: str) -> ChatMessages:
    """Normalise an OpenAI-style chat (JSON text or list of dicts) to string-content messages."""
    if isinstance(value, str):
        if not value.strip():
            raise _RowError(f"messages column '{column}' is empty — every row needs a prompt")
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise _RowError(
                f"messages column '{column}' is not valid JSON ({exc.msg}) — "
                "store a JSON list of {role, content} objects"
            ) from exc
    if value is None:
        raise _RowError(f"messages column '{column}' is empty — every row needs a prompt")
    if not isinstance(value, list | tuple) or not value:
        raise _RowError(
            f"messages column '{column}' must be a non-empty list of {{role, content}} objects"
        )
    messages = [_message(i, item) for i, item in enumerate(value)]
    if messages[-1]["role"] != "user":
        raise _RowError(
            f"last message must come from the user (got '{messages[-1]['role']}') "
            "— drop the trailing turn or log the request before the answer"
        )
    if not messages[-1]["content"].strip():
        raise _RowError(
            f"messages[{len(messages) - 1}] (the user prompt) is empty — every row needs a prompt"
        )
    return messages


def _message(i: int, item: Any) -> dict[str, str]:
    if not isinstance(item, dict):
        raise _RowError(f"messages[{i}] must be an object with role and content")
    role = item.get("role")
    if role not in ROLES:
        raise _RowError(
            f"messages[{i}].role {role!r} is not one of {'/'.join(ROLES)} — fix the role"
        )
    content = item.get("content")
    if content is None and role == "assistant":
        content = ""  # assistant turns that only made tool calls have null content
    if isinstance(content, list | tuple):
        content = "\n".join(_part(i, j, part) for j, part in enumerate(content))
    if not isinstance(content, str):
        raise _RowError(f"messages[{i}].content must be text or a list of text parts")
    return {"role": str(role), "content": content}


def _part(i: int, j: int, part: Any) -> str:
    if isinstance(part, str):
        return part
    kind = part.get("type") if isinstance(part, dict) else type(part).__name__
    if kind == "text" and isinstance(part.get("text"), str):
        return str(part["text"])
    raise _RowError(
        f"messages[{i}].content[{j}] has type {kind!r}; only text parts are "
        "supported — remove non-text parts (images, audio, files)"
    )


__all__ = [
    "RAW_LIMIT",
    "ColumnMapping",
    "ParsedLog",
    "detect_format",
    "guess_mapping",
    "parse_log",
    "preview",
    "read_columns",
]
