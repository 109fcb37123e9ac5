"""Where the database lives and other process-wide settings, resolved from the environment."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DB_RELATIVE = Path("data") / "swapcheck.duckdb"
DB_ENV_VAR = "SWAPCHECK_DB"


POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def resolve_db_path(explicit: str | os.PathLike[str] | None = None) -> Path | str:
    """The store to use: ``--db``, else ``$SWAPCHECK_DB``, else ``data/swapcheck.duckdb``.

    A DuckDB file comes back as an absolute path, a ``postgresql://`` URL unchanged.
    """
    for given in (explicit, os.environ.get(DB_ENV_VAR)):
        if not given:
            continue
        if str(given).startswith(POSTGRES_SCHEMES):
            return str(given)
        return Path(given).expanduser().resolve()
    return (Path.cwd() / DEFAULT_DB_RELATIVE).resolve()
