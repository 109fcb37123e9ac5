"""Error classes of both database backends, so callers catch one name whatever the store."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

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

WRITE_ATTEMPTS = 5
"""Tries of one unit of work that keeps losing to concurrent writers before giving up."""
T = TypeVar("T")


def retry_transient(unit: Callable[[], T], attempts: int = WRITE_ATTEMPTS) -> T:
    """Run ``unit`` (one whole transaction), again after a short jittered pause when a
    concurrent writer made it fail (:data:`TRANSIENT_ERRORS`); the last failure is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return unit()
        except TRANSIENT_ERRORS:
            if attempt == attempts:
                raise
            time.sleep(random.uniform(0.0, min(0.05 * 2**attempt, 1.0)))
    raise AssertionError("unreachable")  # pragma: no cover
