"""Ingest on PostgreSQL: a scratch DuckDB holding only the rows the ingest reads, merged back.

Ingest reads files with DuckDB's own readers, inside the database it writes to. On PostgreSQL
it runs against a scratch DuckDB store instead. The small tables (sources, variants, settings)
are copied whole; the big ones (prompts, their source links, quarantine, answers) start empty,
and the ingest pulls the rows it is about to read or change right before it does
(:func:`pull_for_ingest`: the prompts with the file's content hashes or ids, the answers of
those prompts under the ingest's variant, the links and quarantine of the source it replaces).
So the cost of an ingest follows the file, not the store. When the ingest succeeds, the rows it
added, changed or removed, among those pulled or new, are applied to PostgreSQL in one
transaction; an advisory lock keeps two ingests of one store from interleaving.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from swapcheck.store.advisory import advisory_key
from swapcheck.store.transfer import (
    insert_frame,
    primary_key,
    read_table,
    row_keys,
    select_arrow,
    table_columns,
)

COPIED_TABLES = ("sources", "variants", "settings")
"""Small tables an ingest reads in full: copied whole."""
PULLED_TABLES = ("prompts", "prompt_sources", "quarantine", "responses")
"""Big tables: only the rows the ingest asks for (``pull_for_ingest``) are copied."""


class _Stage:
    """The PostgreSQL store behind one staged ingest, and the rows pulled from it so far."""

    def __init__(self, origin: Any, scratch: Any) -> None:
        self.origin = origin
        self.columns = {t: table_columns(scratch, t) for t in PULLED_TABLES}
        self.pulled: dict[str, list[pa.Table]] = {t: [] for t in PULLED_TABLES}

    def pull(self, cur: Any, table: str, column: str, values: list[Any], where: str,
             params: Sequence[Any]) -> None:  # fmt: skip
        columns = self.columns[table]
        with self.origin.cursor() as origin:
            data = select_arrow(
                origin,
                table,
                columns,
                f'WHERE "{column}" IN (SELECT unnest(?::VARCHAR[])) {where}',
                [values, *params],
            )
        data = rows_not_in(data, self.before(table, data.schema))  # not pulled before
        if not data.num_rows:
            return
        self.pulled[table].append(data)
        insert_frame(cur, table, columns, data)

    def before(self, table: str, schema: pa.Schema) -> pa.Table:
        parts = self.pulled[table]
        if not parts:
            return schema.empty_table()
        return pa.concat_tables(parts, promote_options="default")  # e.g. an all-NULL column


_STAGE: ContextVar[_Stage | None] = ContextVar("swapcheck_ingest_stage", default=None)


def pull_for_ingest(
    cur: Any,
    table: str,
    column: str,
    values_sql: str,
    values_params: Sequence[Any] = (),
    *,
    where: str = "",
    params: Sequence[Any] = (),
) -> None:
    """Copy the PostgreSQL rows of ``table`` whose ``column`` is one of the values that
    ``values_sql`` returns on the ingest's cursor ``cur`` (further filtered by ``where``) into
    the scratch store, unless pulled already. Call it before a statement reads or changes those
    rows. Outside a staged ingest (a DuckDB store holds every row itself) it does nothing.
    """
    stage = _STAGE.get()
    if stage is None:
        return
    rows = cur.execute(values_sql, list(values_params)).fetchall()
    values = sorted({r[0] for r in rows} - {None})
    if values:
        stage.pull(cur, table, column, values, where, params)


@contextlib.contextmanager
def staged_on_duckdb(store: Any) -> Iterator[Any]:
    """A scratch DuckDB store for an ingest into the PostgreSQL ``store``, merged back after.

    A DuckDB ``store`` is yielded unchanged.
    """
    if getattr(store, "dialect", "duckdb") == "duckdb":
        yield store
        return
    from swapcheck.store.connection import Store

    with (
        store.cursor() as lock_cur,
        tempfile.TemporaryDirectory(prefix="swapcheck-stage-") as tmp,
    ):
        ingest_lock = advisory_key(store.schema, "ingest")
        lock_cur.raw.execute("SELECT pg_advisory_lock(%s)", [ingest_lock])
        try:
            scratch = Store(Path(tmp) / "stage.duckdb", linger=30.0)
            columns = {t: table_columns(scratch, t) for t in COPIED_TABLES}
            copied = {t: read_table(store, t, columns[t]) for t in COPIED_TABLES}
            with scratch.transaction() as cur:
                for table, data in copied.items():
                    if data.num_rows:
                        insert_frame(cur, table, columns[table], data)
            stage = _Stage(store, scratch)
            token = _STAGE.set(stage)
            try:
                yield scratch
            finally:
                _STAGE.reset(token)
            with store.transaction() as cur:
                for table in COPIED_TABLES:
                    after = read_table(scratch, table, columns[table])
                    _apply_difference(cur, table, columns[table], copied[table], after)
                for table in PULLED_TABLES:
                    after = read_table(scratch, table, stage.columns[table])
                    before = stage.before(table, after.schema)
                    _apply_difference(cur, table, stage.columns[table], before, after)
            scratch.close()
        finally:
            lock_cur.raw.execute("SELECT pg_advisory_unlock(%s)", [ingest_lock])


def _apply_difference(
    cur: Any, table: str, columns: list[str], before: pa.Table, after: pa.Table
) -> None:
    """Delete the rows of ``before`` missing from ``after``; insert the new rows of ``after``
    (all of them, uncompared, when nothing was pulled, e.g. on a first ingest)."""
    gone, added = rows_not_in(before, after), rows_not_in(after, before)
    if gone.num_rows:
        match = primary_key(cur, table) or columns
        cur.register("removed_rows", gone.select(match))
        condition = " AND ".join(f'"{table}"."{c}" IS NOT DISTINCT FROM r."{c}"' for c in match)
        cur.execute(f'DELETE FROM "{table}" USING removed_rows r WHERE {condition}')
        cur.unregister("removed_rows")
    if added.num_rows:
        insert_frame(cur, table, columns, added)


ANTI_JOIN_FROM_ROWS = 5_000
"""From this many rows on both sides together, ``rows_not_in`` hands the comparison to DuckDB
(about 20 ms to set up, then far faster than comparing Python rows)."""


def rows_not_in(rows: pa.Table, other: pa.Table) -> pa.Table:
    """The rows of ``rows`` equal to no row of ``other`` (same columns; NULL equals NULL),
    duplicates kept, in no particular order: compared as canonical rows in Python when the
    tables are small, by a hash anti-join in an in-memory DuckDB when they are not."""
    if not other.num_rows or not rows.num_rows:
        return rows
    if rows.num_rows + other.num_rows < ANTI_JOIN_FROM_ROWS:
        absent = set(row_keys(other))
        kept = [i for i, key in enumerate(row_keys(rows)) if key not in absent]
        return rows.take(pa.array(kept, pa.int64()))
    if other.schema != rows.schema:
        other = other.cast(rows.schema)
    same = " AND ".join(f'r."{c}" IS NOT DISTINCT FROM o."{c}"' for c in rows.column_names)
    with duckdb.connect() as con:
        con.register("rows_in", rows)
        con.register("other_rows", other)
        kept = con.sql(f"SELECT r.* FROM rows_in r ANTI JOIN other_rows o ON {same}")
        return kept.to_arrow_table().cast(rows.schema)
