"""API keys by variable name: the environment first, then any registered source (st.secrets)."""

from __future__ import annotations

import os
from collections.abc import Callable

KeySource = Callable[[str], str | None]
_SOURCES: list[KeySource] = []


def register_key_source(source: KeySource) -> None:
    """Add a lookup consulted after the environment (the app registers ``st.secrets``)."""
    if source not in _SOURCES:
        _SOURCES.append(source)


def lookup_key(name: str) -> str | None:
    """The key held in variable ``name``; never logged, stored or shown by swapcheck."""
    value = os.environ.get(name)
    if value:
        return value
    for source in _SOURCES:
        try:
            value = source(name)
        except Exception:  # a broken secrets file must not hide the environment's answer
            value = None
        if value:
            return str(value)
    return None
