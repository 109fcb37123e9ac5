"""Error classes of both database backends, so callers catch one name whatever the store."""

from __future__ import annotations

import duckdb

try:
    import psycopg
    from psycopg import errors as pg_errors
except ImportError:  # the postgres extra is not installed: only DuckDB errors can occur
    psycopg = None  # type: ignore[assignment]
    pg_errors = None  # type: ignore[assignment]

if pg_errors is not None:
    DATABASE_ERRORS: tuple[type[BaseException], ...] = (duckdb.Error, psycopg.Error)
    TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
        duckdb.TransactionException,
        duckdb.ConstraintException,
        pg_errors.SerializationFailure,
        pg_errors.DeadlockDetected,
        pg_errors.UniqueViolation,
        pg_errors.LockNotAvailable,
    )
    CONSTRAINT_ERRORS: tuple[type[BaseException], ...] = (
        duckdb.ConstraintException,
        pg_errors.IntegrityError,
    )
else:
    DATABASE_ERRORS = (duckdb.Error,)
    TRANSIENT_ERRORS = (duckdb.TransactionException, duckdb.ConstraintException)
    CONSTRAINT_ERRORS = (duckdb.ConstraintException,)
"""Worth retrying the whole unit of work: a concurrent writer got there first (DuckDB's
optimistic conflicts; PostgreSQL's serialization failures, deadlocks, lock timeouts and
unique violations of a concurrent insert)."""
