"""Storage: a DuckDB file (default) or PostgreSQL, named migrations and the typed queries."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from swapcheck.config import resolve_db_path
from swapcheck.store.connection import Store

if TYPE_CHECKING:
    from swapcheck.store.postgres import PostgresStore


def open_store(db: str | os.PathLike[str] | None = None, **kwargs: object) -> Store | PostgresStore:
    """Open (and migrate) the store chosen by ``db``, ``$SWAPCHECK_DB`` or the default path:
    a ``postgresql://`` URL opens PostgreSQL, anything else is a DuckDB file."""
    target = resolve_db_path(db)
    if isinstance(target, str):
        from swapcheck.store.postgres import PostgresStore

        return PostgresStore(target, **kwargs)  # type: ignore[arg-type]
    return Store(target, **kwargs)  # type: ignore[arg-type]


__all__ = ["Store", "open_store"]
