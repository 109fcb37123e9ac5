"""Where the database lives and other process-wide settings, resolved from the environment."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DB_RELATIVE = Path("data") / "swapcheck.duckdb"
DB_ENV_VAR = "SWAPCHECK_DB"


def resolve_db_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The DuckDB file to use: ``--db``, else ``$SWAPCHECK_DB``, else ``data/swapcheck.duckdb``."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    from_env = os.environ.get(DB_ENV_VAR)
    if from_env:
        return Path(from_env).expanduser().resolve()
    return (Path.cwd() / DEFAULT_DB_RELATIVE).resolve()
