"""Why a row was rejected: the field and a fix-it reason, worked out for rejected rows only."""

from __future__ import annotations

import json
import re
from typing import Any

from swapcheck.ingest_shapes import ColumnMapping

ROLES = ("system", "user", "assistant", "tool", "developer")
TEXT_PART_TYPES = ("text", "input_text", "output_text")
UTF8_FIX = "re-encode the file as UTF-8"
_INDEX = re.compile(r"^([^\[\]]+)((?:\[\d+\])*)$")


class Problem(Exception):
    """A row problem: ``field`` (as the user names it) and what is wrong plus the fix."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


def explain(code: str, raw: str, mapping: ColumnMapping) -> tuple[str, str]:
    """(field, reason) for a row the SQL normaliser rejected with ``code``."""
    if code == "json":
        return "(line)", json_problem(raw)
    try:
        record = json.loads(raw)
    except json.JSONDecodeError:
        return "(line)", json_problem(raw)
    if not isinstance(record, dict):
        return "(line)", f"expected a JSON object, got {_kind(record)} — write one object per row"
    try:
        _check(record, mapping, code)
    except Problem as problem:
        return problem.field, problem.problem
    return "(row)", f"could not be used (check {code!r}) — compare it with a row that was kept"


def json_problem(raw: str) -> str:
    try:
        json.loads(raw)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg} at column {exc.colno}) — fix the JSON on this line"
    except RecursionError:
        return "JSON nested too deeply to read — flatten the value"
    return "not valid JSON — fix the JSON on this line"


def utf8_problem(raw: bytes) -> str | None:
    """Describe the first invalid UTF-8 byte of one line (1-based position), or None."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start]
        return f"not valid UTF-8 (byte 0x{bad:02x} at position {exc.start + 1}) — {UTF8_FIX}"
    return None


def lookup(record: dict[str, Any], name: str) -> Any:
    """The value of a mapped field: a top-level key, else a dotted path with [i] indexes."""
    if name in record:
        return record[name]
    value: Any = record
    for segment in name.split("."):
        match = _INDEX.match(segment)
        if match is None or not isinstance(value, dict):
            return None
        value = value.get(match.group(1))
        for index in re.findall(r"\[(\d+)\]", match.group(2)):
            if not isinstance(value, list) or int(index) >= len(value):
                return None
            value = value[int(index)]
    return value


def _check(record: dict[str, Any], m: ColumnMapping, code: str) -> None:
    if m.messages_column:
        messages = _messages(lookup(record, m.messages_column), m.messages_column)
    else:
        col = m.prompt_column or "prompt"
        prompt = lookup(record, col)
        if isinstance(prompt, dict | list):
            raise Problem(col, "holds JSON, not text — map it as the messages column instead")
        if prompt is None or not str(prompt).strip():
            raise Problem(col, "is empty — every row needs a prompt")
        messages = [{"role": "user", "content": str(prompt)}]
    if m.system_column:
        system = lookup(record, m.system_column)
        if system is not None:
            _content(system, m.system_column)
    users = [i for i, msg in enumerate(messages) if msg["role"] == "user"]
    col = m.messages_column or m.prompt_column or "prompt"
    if not users:
        raise Problem(col, "has no user message — a conversation needs at least one user turn")
    turn = users[0] if m.turn == "first" else users[-1]
    if not messages[turn]["content"].strip():
        raise Problem(f"{col}[{turn}].content", "the user prompt is empty — remove the row")
    if m.timestamp_column and code == "timestamp":
        value = lookup(record, m.timestamp_column)
        if value is not None and str(value).strip():
            raise Problem(
                m.timestamp_column,
                f"{str(value)[:40]!r} is not a date and time — use ISO 8601 such as "
                "2026-10-07T12:00:00Z, or epoch seconds",
            )


def _messages(value: Any, col: str) -> list[dict[str, str]]:
    if isinstance(value, str):
        if not value.strip():
            raise Problem(col, "is empty — every row needs a prompt")
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise Problem(
                col,
                f"is not valid JSON ({exc.msg}) — store a JSON list of {{role, content}} objects",
            ) from exc
    if value is None:
        raise Problem(col, "is missing — every row needs a prompt")
    if not isinstance(value, list):
        raise Problem(
            col, f"must be a list of {{role, content}} objects, got {_kind(value)} — wrap it in []"
        )
    if not value:
        raise Problem(col, "is an empty list — every row needs at least one user message")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise Problem(
                f"{col}[{i}]",
                f"must be an object with role and content, got {_kind(item)} — write it as "
                '{"role": "user", "content": "..."}',
            )
        role = item.get("role")
        if role not in ROLES:
            shown = "missing" if role is None else repr(role)
            raise Problem(
                f"{col}[{i}].role",
                f"{shown} is not one of {'/'.join(ROLES)} — fix the role",
            )
        content = item.get("content")
        text = "" if content is None else _content(content, f"{col}[{i}].content")
        out.append({"role": "system" if role == "developer" else str(role), "content": text})
    return out


def _content(content: Any, field: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for j, part in enumerate(content):
            if isinstance(part, str):
                texts.append(part)
                continue
            kind = part.get("type") if isinstance(part, dict) else _kind(part)
            if kind in TEXT_PART_TYPES and isinstance(part.get("text"), str):
                texts.append(part["text"])
                continue
            if kind in TEXT_PART_TYPES:
                raise Problem(
                    f"{field}[{j}]", "is a text part without text — add its text or remove it"
                )
            raise Problem(
                f"{field}[{j}]",
                f"has type {kind!r}; only text parts are supported — remove non-text parts "
                "(images, audio, files, tool calls)",
            )
        return "\n".join(texts)
    raise Problem(
        field,
        f"must be text or a list of text parts, got {_kind(content)} — store the text as a string",
    )


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), "a number"
    )
