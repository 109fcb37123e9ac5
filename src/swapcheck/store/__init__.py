"""DuckDB storage: connection handling, named migrations and the typed queries every stage uses."""

from __future__ import annotations

import os

from swapcheck.config import resolve_db_path
from swapcheck.store.connection import Store


def open_store(db: str | os.PathLike[str] | None = None, **kwargs: object) -> Store:
    """Open (and migrate) the database chosen by ``db``, ``$SWAPCHECK_DB`` or the default path."""
    return Store(resolve_db_path(db), **kwargs)  # type: ignore[arg-type]


__all__ = ["Store", "open_store"]
