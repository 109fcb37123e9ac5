"""Move a whole store between backends (DuckDB file <-> PostgreSQL), verified by content hashes.

``copy_store`` reads every table of the source as Arrow, writes it into the (migrated, empty)
destination in one transaction, then compares each table's row count and content hash on both
sides. ``table_digest`` is backend-independent: rows are reduced to canonical text (JSON text
as stored, timestamps in ISO form, floats by ``repr``), sorted, and hashed, so the same data
has the same digest in DuckDB and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from swapcheck.errors import StoreError

SKIPPED_TABLES = frozenset({"_migrations"})


@dataclass(frozen=True)
class TableCopy:
    table: str
    rows: int
    digest: str


def table_names(store: Any) -> list[str]:
    """The store's tables by name (``_migrations`` left out)."""
    with store.cursor() as cur:
        rows = cur.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        ).fetchall()
    return sorted(r[0] for r in rows if r[0] not in SKIPPED_TABLES)


def table_columns(store: Any, table: str) -> list[str]:
    with store.cursor() as cur:
        rows = cur.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
    return [r[0] for r in rows]


def select_arrow(
    cur: Any, table: str, columns: list[str], where: str = "", params: Any = None
) -> pa.Table:
    """``columns`` of ``table`` (filtered by ``where``) as Arrow, in bulk on either backend."""
    listed = ", ".join(f'"{c}"' for c in columns)
    query = f'SELECT {listed} FROM "{table}" {where}'
    if getattr(cur, "dialect", "duckdb") == "duckdb":
        return cur.sql(query, params=params).to_arrow_table()  # no extra copy of the rows
    return cur.execute(query, params).to_arrow_table()


def read_table(store: Any, table: str, columns: list[str]) -> pa.Table:
    """Every row of ``table`` (``columns`` in order) as Arrow."""
    with store.cursor() as cur:
        return select_arrow(cur, table, columns)


def _canonical(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    return str(value)


def row_keys(data: pa.Table) -> list[str]:
    """Each row as one canonical line (the same on both backends)."""
    return ["\x1f".join(_canonical(v) for v in row.values()) for row in data.to_pylist()]


def digest_rows(data: pa.Table) -> str:
    """Order-independent SHA-256 of a table's rows (columns in the given order)."""
    lines = sorted(row_keys(data))
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8", "surrogatepass"))
        h.update(b"\x1e")
    return h.hexdigest()


def table_digest(store: Any, table: str, columns: list[str]) -> TableCopy:
    data = read_table(store, table, columns)
    return TableCopy(table, data.num_rows, digest_rows(data))


def store_digests(store: Any) -> dict[str, TableCopy]:
    """Row count and content hash of every table."""
    return {t: table_digest(store, t, table_columns(store, t)) for t in table_names(store)}


def copy_store(source: Any, destination: Any, *, replace: bool = False) -> list[TableCopy]:
    """Copy every table of ``source`` into ``destination``; verify counts and hashes.

    The destination must hold no swapcheck data unless ``replace`` (then its rows are
    deleted first, in the same transaction). Raises ``StoreError`` naming the first table
    whose count or hash differs after the copy.
    """
    tables = table_names(source)
    missing = sorted(set(tables) - set(table_names(destination)))
    if missing:
        raise StoreError(
            f"The destination store lacks the tables {', '.join(missing)}.",
            "Open the destination with the same swapcheck version (it migrates on open).",
        )
    with destination.cursor() as cur:
        busy = [t for t in tables if cur.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0]]
    if busy and not replace:
        raise StoreError(
            f"The destination already holds data (tables {', '.join(busy)}).",
            "Copy into an empty store, or pass --replace to overwrite it.",
        )
    expected: list[TableCopy] = []
    with destination.transaction() as cur:
        for table in tables:
            columns = table_columns(source, table)
            wanted = set(table_columns(destination, table))
            lost = [c for c in columns if c not in wanted]
            if lost:
                raise StoreError(
                    f"Table {table} of the source has columns {lost} the destination lacks.",
                    "Upgrade swapcheck where the destination is opened, then copy again.",
                )
            data = read_table(source, table, columns)
            expected.append(TableCopy(table, data.num_rows, digest_rows(data)))
            if replace:
                cur.execute(f'DELETE FROM "{table}"')
            if data.num_rows:
                insert_frame(cur, table, columns, data)
    if getattr(destination, "dialect", "duckdb") == "postgres":
        with destination.cursor() as cur:  # fresh statistics: the planner sees the new rows now
            for table in tables:
                cur.raw.execute(f'ANALYZE "{table}"')
    for want in expected:
        got = table_digest(destination, want.table, table_columns(source, want.table))
        if (got.rows, got.digest) != (want.rows, want.digest):
            raise StoreError(
                f"Table {want.table} differs after the copy: {want.rows} rows "
                f"({want.digest[:12]}) in the source, {got.rows} ({got.digest[:12]}) in the "
                "destination.",
                "Report this as a bug; the source is unchanged.",
            )
    return expected


def insert_frame(cur: Any, table: str, columns: list[str], data: pa.Table) -> None:
    listed = ", ".join(f'"{c}"' for c in columns)
    cur.register("copied_rows", data)
    cur.execute(f'INSERT INTO "{table}" ({listed}) SELECT {listed} FROM copied_rows')
    cur.unregister("copied_rows")


_STUDY_PROMPTS = "(SELECT prompt_id FROM pairs WHERE study_id = $study)"
_STUDY_VARIANTS = (
    "(SELECT baseline_variant FROM studies WHERE study_id = $study "
    "UNION SELECT candidate_variant FROM studies WHERE study_id = $study "
    "UNION SELECT judge_variant FROM judge_calls WHERE study_id = $study "
    "UNION SELECT variant FROM generation_runs WHERE study_id = $study)"
)
_STUDY_SOURCES = f"(SELECT source_id FROM prompt_sources WHERE prompt_id IN {_STUDY_PROMPTS})"
_STUDY_RUNS = "(SELECT run_id FROM generation_runs WHERE study_id = $study)"
STUDY_ROWS: dict[str, str] = {
    "studies": "study_id = $study",
    "pairs": "study_id = $study",
    "judgments": "study_id = $study",
    "reservations": "study_id = $study",
    "skips": "study_id = $study",
    "gold_items": "study_id = $study",
    "judge_calls": "study_id = $study",
    "generation_runs": "study_id = $study",
    "prompts": f"prompt_id IN {_STUDY_PROMPTS}",
    "prompt_sources": f"prompt_id IN {_STUDY_PROMPTS}",
    "sources": f"source_id IN {_STUDY_SOURCES}",
    "quarantine": f"source_id IN {_STUDY_SOURCES}",
    "variants": f"name IN {_STUDY_VARIANTS}",
    "responses": f"prompt_id IN {_STUDY_PROMPTS} AND variant IN {_STUDY_VARIANTS}",
    "evaluation_scores": f"prompt_id IN {_STUDY_PROMPTS} AND variant IN {_STUDY_VARIANTS}",
    "provider_batches": f"run_id IN {_STUDY_RUNS}",
    "provider_batch_items": (
        f"batch_id IN (SELECT batch_id FROM provider_batches WHERE run_id IN {_STUDY_RUNS})"
    ),
    "settings": "key IN ($k_evaluators, $k_judge, $k_priority) OR starts_with(key, $k_imports)",
}
"""Which rows of each table belong to one study (its prompts, sources, answers of its variants,
evaluator scores, runs, settings). Every table must be listed: a new one fails loudly."""


BOOKKEEPING_COLUMNS = frozenset({"created_at", "updated_at", "ingested_at"})
"""When a row the study needs already exists in the destination (the ``logged`` variant, a
source both stores ingested), it counts as the same row if only these differ."""


@dataclass(frozen=True)
class StudyTableCopy:
    table: str
    rows: int
    added: int
    digest: str


def _study_params(study_id: str) -> dict[str, str]:
    key = study_id.lower()
    return {
        "study": study_id,
        "k_evaluators": f"evaluators.{key}",
        "k_judge": f"judge.{key}",
        "k_priority": f"review_priority.{key}",
        "k_imports": f"judgment_import.{key}.",
    }


def primary_key(cur: Any, table: str) -> list[str]:
    rows = cur.execute(
        "SELECT kcu.column_name FROM information_schema.table_constraints tc "
        "JOIN information_schema.key_column_usage kcu "
        "ON kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name "
        "AND kcu.table_schema = tc.table_schema "
        "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_name = ? "
        "AND tc.table_schema = current_schema() ORDER BY kcu.ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def _study_rows(cur: Any, table: str, columns: list[str], params: dict[str, str]) -> pa.Table:
    where = STUDY_ROWS[table]
    used = {k: v for k, v in params.items() if f"${k}" in where}
    return select_arrow(cur, table, columns, f"WHERE {where}", used)


def copy_study(source: Any, destination: Any, study_name: str) -> list[StudyTableCopy]:
    """Copy one study and everything it refers to into ``destination``; verify, or change
    nothing.

    Rows the destination already holds identically (a shared prompt, source or variant) are
    kept; a row that exists there under the same key with other content (e.g. a variant of the
    same name with other settings) stops the copy, naming the table. Afterwards every copied
    row must be found verbatim in the destination (checked inside the transaction).
    """
    from swapcheck.store.studies import get_study

    study = get_study(source, study_name)
    with destination.cursor() as cur:
        taken = cur.execute(
            "SELECT name FROM studies WHERE study_id = ? OR name = ?",
            [study.study_id, study.name],
        ).fetchall()
    if taken:
        raise StoreError(
            f"The destination already holds a study named {taken[0][0]!r} (or with its id).",
            "Rename one of them, or copy the whole store with --replace.",
        )
    tables = table_names(source)
    unlisted = sorted(set(tables) - set(STUDY_ROWS))
    if unlisted:
        raise StoreError(
            f"swapcheck does not know which rows of {', '.join(unlisted)} belong to a study.",
            "Copy the whole store instead (without --study), and report this.",
        )
    params = _study_params(study.study_id)
    wanted: dict[str, tuple[list[str], pa.Table]] = {}
    with source.cursor() as cur:
        for table in tables:
            columns = table_columns(source, table)
            wanted[table] = (columns, _study_rows(cur, table, columns, params))
    copied: list[StudyTableCopy] = []
    with destination.transaction() as cur:
        # The filters follow pairs and studies, so count before and check after all inserts.
        before = {t: _study_rows(cur, t, c, params).num_rows for t, (c, _) in wanted.items()}
        for table, (columns, data) in wanted.items():
            if data.num_rows:
                _insert_missing(cur, table, columns, data, primary_key(cur, table))
        for table, (columns, data) in wanted.items():
            after = _study_rows(cur, table, columns, params)
            content = [c for c in columns if c not in BOOKKEEPING_COLUMNS]
            present = set(row_keys(after.select(content)))
            absent = [k for k in row_keys(data.select(content)) if k not in present]
            if absent:
                raise StoreError(
                    f"{len(absent)} row(s) of {table} exist in the destination under the same "
                    f"key with other content (e.g. a variant or prompt of the same name that "
                    "differs); nothing was copied.",
                    "Make the two agree (or rename the variant) in one store, then copy again.",
                )
            added = after.num_rows - before[table]
            copied.append(StudyTableCopy(table, data.num_rows, added, digest_rows(data)))
    return copied


def _insert_missing(
    cur: Any, table: str, columns: list[str], data: pa.Table, key: list[str]
) -> None:
    """Insert the rows of ``data`` the table lacks (by key, or whole row without one)."""
    listed = ", ".join(f'"{c}"' for c in columns)
    match = key or columns
    same = " AND ".join(f'x."{c}" IS NOT DISTINCT FROM r."{c}"' for c in match)
    cur.register("copied_rows", data)
    cur.execute(
        f'INSERT INTO "{table}" ({listed}) SELECT {listed} FROM copied_rows r '
        f'WHERE NOT EXISTS (SELECT 1 FROM "{table}" x WHERE {same})'
    )
    cur.unregister("copied_rows")
