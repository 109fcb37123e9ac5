"""Strict JSON check: when the prompt asks for JSON, is the answer bare valid JSON (on schema)?"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from swapcheck.errors import ConfigError
from swapcheck.evaluators import ChatMessages, EvalValue, ResponseFn, ResponseInput, evaluator
from swapcheck.evaluators._text import (
    FENCE_RE,
    matches_when,
    option,
    reject_unknown,
    turns_text,
    when_filter,
)

NAME = "json_valid"
MAX_JSON_STARTS = 50
"""JSON embedded in prose is looked for from the first 50 '{' or '[' only (bounds the work)."""
_ASKS_FOR_JSON = re.compile(r"\bjson\b", re.IGNORECASE)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def asks_for_json(messages: ChatMessages) -> bool:
    """True when a system or user turn mentions JSON."""
    return any(_ASKS_FOR_JSON.search(t) for t in turns_text(messages, ("system", "user")))


def _parse(text: str) -> tuple[bool, Any]:
    try:
        return True, _DECODER.decode(text)
    except ValueError:
        return False, None


def _embedded_json(text: str) -> tuple[str, Any] | None:
    """(label, value) for JSON that is present but not bare: fenced, after prose, before prose."""
    for match in FENCE_RE.finditer(text):
        ok, value = _parse(match.group("body").strip())
        if ok:
            return "fenced", value
    starts = [m.start() for m in re.finditer(r"[{\[]", text)][:MAX_JSON_STARTS]
    for start in starts:
        try:
            value, _end = _DECODER.raw_decode(text, start)
        except ValueError:
            continue
        if not isinstance(value, dict | list) or not value:
            continue  # "[1]" in prose is not a JSON answer
        return ("preamble" if text[:start].strip() else "trailing"), value
    return None


def _load_schema(options: Mapping[str, Any]) -> dict[str, Any] | None:
    schema = option(options, "schema", dict, NAME)
    path = option(options, "schema_path", str, NAME)
    if schema is not None and path is not None:
        raise ConfigError(
            f"Evaluator {NAME!r}: set either 'schema' or 'schema_path', not both.",
            "Remove one of the two options.",
        )
    if path is not None:
        try:
            schema = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"Evaluator {NAME!r}: option 'schema_path' ({path}) cannot be read as JSON: {exc}",
                "Point 'schema_path' to a readable JSON Schema file.",
            ) from exc
        if not isinstance(schema, dict):
            raise ConfigError(
                f"Evaluator {NAME!r}: the file in 'schema_path' ({path}) is not a JSON object.",
                'A JSON Schema is a JSON object such as {"type": "object", ...}.',
            )
    return schema


def _schema_checker(schema: dict[str, Any]) -> Any:
    from jsonschema import validators
    from jsonschema.exceptions import SchemaError

    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = exc.json_path if hasattr(exc, "json_path") else "/".join(map(str, exc.path))
        raise ConfigError(
            f"Evaluator {NAME!r}: option 'schema' is not a valid JSON Schema "
            f"({exc.message} at {where}).",
            "Fix the schema (check it with any JSON Schema validator) and save it again.",
        ) from exc
    return cls(schema)


def _first_schema_error(checker: Any, value: Any) -> str | None:
    from jsonschema.exceptions import best_match

    error = best_match(checker.iter_errors(value))
    return None if error is None else error.json_path


@evaluator(
    NAME,
    version=1,
    scope="response",
    kind="rate",
    higher_is="better",
    description="Prompt asks for JSON: the answer is bare valid JSON (1) or not (0; labels "
    "fenced, preamble, trailing, invalid, or 'schema: <path>' when a schema is set).",
    options_doc='Optional: "schema": {JSON Schema} or "schema_path": "file.json" (the answer must '
    'also validate); "when": {"<metadata column>": value or [values]} limits the check.',
)
def json_valid(options: Mapping[str, Any]) -> ResponseFn:
    """Prompt asks for JSON: 1 when the answer is bare valid JSON (and matches the schema)."""
    reject_unknown(options, ("schema", "schema_path", "when"), NAME)
    schema = _load_schema(options)
    checker = _schema_checker(schema) if schema is not None else None
    when = when_filter(options, NAME)

    def check(item: ResponseInput) -> EvalValue | None:
        if not asks_for_json(item.messages) or not matches_when(when, item.metadata):
            return None
        stripped = item.text.strip()
        ok, value = _parse(stripped)
        if not ok:
            embedded = _embedded_json(stripped)
            return EvalValue(0.0, embedded[0] if embedded else "invalid")
        if checker is not None:
            path = _first_schema_error(checker, value)
            if path is not None:
                return EvalValue(0.0, f"schema: {path}")
        return EvalValue(1.0, None)

    return check
