"""Project-wide settings: one JSON value per key in the ``settings`` table (migration 0003)."""

from __future__ import annotations

import json
import re
from typing import Any, TypeAlias

from swapcheck.errors import ConfigError
from swapcheck.store.connection import Store, first_row

JSONValue: TypeAlias = None | bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"]
"""What a setting may hold: anything that round-trips through JSON unchanged."""

_KEY_RE = re.compile(r"[a-z][a-z0-9_.\-]{0,63}")


def validate_setting_key(key: str) -> str:
    """A setting key: 1-64 lower-case letters, digits, ``_ . -``, starting with a letter."""
    if not isinstance(key, str) or _KEY_RE.fullmatch(key) is None:
        raise ConfigError(
            f"Setting key {key!r} is not allowed.",
            "Use 1-64 lower-case letters, digits, '_', '.' or '-', starting with a letter.",
        )
    return key


def _encode(key: str, value: Any) -> str:
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"The value of setting {key!r} cannot be stored as JSON ({exc}).",
            "Store only strings, finite numbers, booleans, null, lists and objects.",
        ) from exc


def get_setting(store: Store, key: str, default: JSONValue = None) -> JSONValue:
    """The stored value of ``key``, or ``default`` when it was never set."""
    validate_setting_key(key)
    with store.cursor() as cur:
        row = first_row(cur.execute("SELECT value FROM settings WHERE key = ?", [key]))
    if row is None:
        return default
    return json.loads(row[0])


def set_setting(store: Store, key: str, value: JSONValue) -> None:
    """Create or replace ``key`` (``updated_at`` records when)."""
    validate_setting_key(key)
    text = _encode(key, value)
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?::JSON, now()) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            [key, text],
        )


def delete_setting(store: Store, key: str) -> bool:
    """Forget ``key``; True when it existed."""
    validate_setting_key(key)
    with store.transaction() as cur:
        gone = cur.execute("DELETE FROM settings WHERE key = ? RETURNING key", [key]).fetchall()
    return bool(gone)


def list_settings(store: Store) -> dict[str, JSONValue]:
    """Every stored setting, by key."""
    with store.cursor() as cur:
        rows = cur.execute("SELECT key, value FROM settings ORDER BY key").fetchall()
    return {key: json.loads(value) for key, value in rows}
