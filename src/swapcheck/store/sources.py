"""Ingested log files: their prompts, logged answers and quarantined rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from swapcheck.errors import IngestError, NotFoundError
from swapcheck.ingest_sql import SLICE_VALUE, STORED_TEXTS
from swapcheck.models import LOGGED_VARIANT, canonical_json
from swapcheck.store.connection import Store, first_row
from swapcheck.store.ingest_stage import pull_for_ingest
from swapcheck.store.variants import ensure_answers_variant_on

if TYPE_CHECKING:
    from swapcheck.ingest_files import LogFile
    from swapcheck.ingest_shapes import ColumnMapping


@dataclass
class IngestReport:
    """What one ingest did: counts that always add up to ``rows_total``, and the rejected rows."""

    source_id: str
    source_name: str
    file_hash: str
    rows_total: int
    rows_ingested: int
    rows_duplicate: int
    rows_rejected: int
    logged_responses: int
    already_ingested: bool = False
    rejects: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    replaced_version: bool = False  # a re-ingest of a source with this name (e.g. a fixed file)
    response_variant: str = LOGGED_VARIANT  # the variant the file's answers are stored under

    def summary(self) -> str:
        if self.already_ingested:
            return (
                f"{self.source_name}: already ingested (same file content as source "
                f"{self.source_id}); nothing added."
            )
        again = " (new version of this source)" if self.replaced_version else ""
        answers = (
            "logged answers"
            if self.response_variant == LOGGED_VARIANT
            else f"answers stored as variant '{self.response_variant}'"
        )
        return (
            f"{self.source_name}{again}: {self.rows_total} rows read, {self.rows_ingested} new "
            f"prompts, {self.rows_duplicate} duplicates, {self.rows_rejected} rejected, "
            f"{self.logged_responses} {answers}."
        )


# Prompts equal after lower-casing, digits → 0 and collapsing whitespace (also the \n, \t and
# \r escapes inside the JSON text), within the same metadata, are one near-duplicate cluster.
NEAR_DUPLICATE_KEY = (
    "md5(regexp_replace(regexp_replace(regexp_replace(lower("
    + STORED_TEXTS["messages"].format(s="staged")
    + "), '[0-9]+', '0', 'g'), "
    "'(\\s|\\\\n|\\\\t|\\\\r)+', ' ', 'g'), ' ?\" ?', '\"', 'g') || metadata)"
)


def prompts_of_sources(ids_param: str) -> str:
    """SQL condition: ``prompt_id`` occurs in one of the sources bound as ``ids_param``."""
    return (
        "prompt_id IN (SELECT prompt_id FROM prompt_sources "
        f"WHERE list_contains({ids_param}::VARCHAR[], source_id))"
    )


def prompt_id_for(content_hash: str) -> str:
    return "p_" + content_hash[:20]


def source_id_for(file_hash: str) -> str:
    return "src_" + file_hash[:12]


def find_source_by_file_hash(store: Store, file_hash: str) -> IngestReport | None:
    """The report of a source with exactly these file bytes, marked ``already_ingested``
    (``response_variant``: the variant its answers were stored under)."""
    with store.cursor() as cur:
        row = first_row(
            cur.execute(
                "SELECT source_id, name, rows_total, mapping->>'response_variant' FROM sources "
                "WHERE file_hash = ?",
                [file_hash],
            )
        )
    if row is None:
        return None
    return IngestReport(
        source_id=row[0],
        source_name=row[1],
        file_hash=file_hash,
        rows_total=row[2],
        rows_ingested=0,
        rows_duplicate=0,
        rows_rejected=0,
        logged_responses=0,
        already_ingested=True,
        response_variant=row[3] or LOGGED_VARIANT,
    )


def imported_request_hash(variant: str, prompt_column: str) -> tuple[str, list[Any]]:
    """SQL (and its parameters) for the request hash of an imported answer.

    ``logged`` keeps ``sha256('logged:' || prompt_id)`` (stored databases stay valid); any other
    variant's name is part of the hash, so imported answers never share a hash across variants.
    """
    if variant == LOGGED_VARIANT:
        return f"sha256('logged:' || {prompt_column})", []
    return f"sha256('logged:' || ? || ':' || {prompt_column})", [variant]


def _kept_note(variant: str, offered: int, stored: int) -> list[str]:
    """For a named variant: how many answers were not stored because one was there already."""
    kept = offered - stored
    if variant == LOGGED_VARIANT or kept <= 0:
        return []
    return [
        f"{kept} prompt(s) already had an answer of variant '{variant}'; the answer stored "
        "first was kept (imported answers are never replaced)"
    ]


def _count(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    return int(cur.execute(sql, params or []).fetchall()[0][0])


def save_staged(
    cur: duckdb.DuckDBPyConnection,
    log: LogFile,
    name: str,
    mapping: ColumnMapping,
    rejects: pd.DataFrame,
    *,
    near_duplicates: bool = False,
    derived: bool = True,
) -> IngestReport:
    """Store the rows in temp table ``staged`` (inside the caller's transaction).

    Exact duplicates (same conversation, metadata and logged answer) are stored once; with
    ``near_duplicates`` prompts equal after normalising case, whitespace and digits are too.
    Either way ``weight`` counts the log rows a stored prompt stands for. A source with the
    same name is a new version of it (e.g. the file after fixing rejected rows): its
    quarantine is replaced and only prompts not stored yet are added.
    """
    valid = _count(cur, "SELECT count(*) FROM staged WHERE code IS NULL")
    rows_total = valid + len(rejects)  # rejects: staged rows, reader rejects, a truncation
    if rows_total == 0:
        raise IngestError(
            f"{log.name} has no data rows (only a header, or blank lines).",
            "export the log again with its rows; nothing was stored",
        )
    if valid == 0:
        shown = "; ".join(rejects["reason"].head(3)) if len(rejects) else "the file has no rows"
        raise IngestError(
            f"{log.name}: no usable rows ({len(rejects)} rejected). First problems: {shown}",
            "fix the rows (or the column mapping) and ingest again; nothing was stored",
        )
    previous = first_row(cur.execute("SELECT source_id FROM sources WHERE name = ?", [name]))
    source_id = previous[0] if previous else source_id_for(log.file_hash)
    key = NEAR_DUPLICATE_KEY if near_duplicates else "content_hash"
    # One small table of representatives (first row of each key) instead of a second copy.
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE keep AS SELECT min(ord) AS ord, count(*) AS weight "
        f"FROM staged WHERE code IS NULL GROUP BY {key}"
    )
    texts = ", ".join(f"{sql.format(s='s')} AS {name}" for name, sql in STORED_TEXTS.items())
    cur.execute(
        "CREATE OR REPLACE TEMP VIEW chosen AS SELECT s.*, 'p_' || s.content_hash[1:20] AS "
        f"prompt_id, k.weight, {texts} FROM staged s JOIN keep k USING (ord)"
    )
    derived_cols = _derived_columns(cur) if derived else {}
    # A column of the log wins over a derived slice of the same name (it is never overwritten).
    derived_cols = {k: v for k, v in derived_cols.items() if k not in mapping.slice_columns}
    # The log's slices, then the derived ones: built in one json_object from the slice texts
    # kept in ``staged`` (the same bytes as ``metadata`` with the derived keys appended).
    slice_values = [f"c.{SLICE_VALUE}{i}" for i in range(1, len(mapping.slice_columns) + 1)]
    pairs = [f"?, {value}" for value in slice_values + list(derived_cols.values())]
    patch = f"json_object({', '.join(pairs)})" if derived_cols else "c.metadata"
    keys = [*mapping.slice_columns, *derived_cols] if derived_cols else []
    pull_for_ingest(cur, "prompts", "prompt_id", "SELECT prompt_id FROM chosen")
    before = _count(cur, "SELECT count(*) FROM prompts")
    cur.execute(
        "INSERT INTO prompts (prompt_id, source_id, row_number, external_id, messages, "
        "prompt_text, metadata, conversation, logged_at, weight, context_has_model_output) "
        f"SELECT c.prompt_id, ?, c.ord, c.external_id, c.messages, c.prompt_text, {patch}, "
        "c.conversation, c.logged_at, c.weight, c.context_has_model_output FROM chosen c "
        "ANTI JOIN prompts p ON p.prompt_id = c.prompt_id",
        [source_id, *keys],
    )
    ingested = _count(cur, "SELECT count(*) FROM prompts") - before
    if previous:  # a new version of this source: its prompts stand for the new row counts
        cur.execute(
            "UPDATE prompts SET weight = c.weight FROM chosen c "
            "WHERE prompts.prompt_id = c.prompt_id AND prompts.source_id = ?",
            [source_id],
        )
        pull_for_ingest(cur, "prompt_sources", "source_id", "SELECT ?", [source_id])
        cur.execute("DELETE FROM prompt_sources WHERE source_id = ?", [source_id])
    # Every prompt of this file belongs to this source, also those stored by an earlier one.
    cur.execute(
        "INSERT INTO prompt_sources (prompt_id, source_id, weight) "
        "SELECT prompt_id, ?, weight FROM chosen",
        [source_id],
    )
    logged, variant = 0, mapping.response_variant
    offered = _count(cur, "SELECT count(*) FROM chosen WHERE logged_response IS NOT NULL")
    if offered:
        ensure_answers_variant_on(cur, variant, mapping.response_model)
        pull_for_ingest(
            cur,
            "responses",
            "prompt_id",
            "SELECT prompt_id FROM chosen WHERE logged_response IS NOT NULL",
            where="AND variant = ?",
            params=[variant],
        )
        before_r = _count(cur, "SELECT count(*) FROM responses")
        hash_sql, hash_params = imported_request_hash(variant, "prompt_id")
        cur.execute(
            "INSERT INTO responses (prompt_id, variant, request_hash, text, finish_reason) "
            f"SELECT prompt_id, ?, {hash_sql}, logged_response, 'logged' "
            "FROM chosen WHERE logged_response IS NOT NULL ON CONFLICT DO NOTHING",
            [variant, *hash_params],
        )
        logged = _count(cur, "SELECT count(*) FROM responses") - before_r
    slices = list(mapping.slice_columns) + [
        c for c in derived_cols if c not in mapping.slice_columns
    ]
    options = canonical_json({"near_duplicates": near_duplicates, "derived_slices": derived})
    counts = [log.file_hash, log.format, mapping.to_json(), rows_total, ingested,
              valid - ingested, len(rejects), canonical_json(slices), options]  # fmt: skip
    _record_source(cur, previous is not None, source_id, name, counts, rejects)
    cur.execute("DROP VIEW IF EXISTS chosen")
    cur.execute("DROP TABLE IF EXISTS keep")
    return IngestReport(
        source_id=source_id,
        source_name=name,
        file_hash=log.file_hash,
        rows_total=rows_total,
        rows_ingested=ingested,
        rows_duplicate=valid - ingested,
        rows_rejected=len(rejects),
        logged_responses=logged,
        rejects=rejects,
        notes=[*log.notes, *_missing_note(variant, offered), *_kept_note(variant, offered, logged)],
        replaced_version=previous is not None,
        response_variant=variant,
    )


def _missing_note(variant: str, offered: int) -> list[str]:
    if variant == LOGGED_VARIANT or offered:
        return []
    return [
        f"no answers found for variant '{variant}': map the answer column (--response-column) "
        "or give conversations that end with the assistant's answer"
    ]


def _derived_columns(cur: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Derived slice name → SQL over ``c`` (the chosen rows), e.g. language, prompt length."""
    from swapcheck.derived_slices import derived_slice_sql

    span = cur.execute(
        "SELECT date_diff('second', min(logged_at), max(logged_at)) / 86400.0, "
        "count(logged_at) FROM chosen"
    ).fetchall()[0]
    has_time = bool(span[1])
    exprs = derived_slice_sql(
        "c.prompt_text", "c.user_turns", "c.logged_at" if has_time else None,
        float(span[0]) if has_time and span[0] is not None else None,
        "c.context_has_model_output",
    )  # fmt: skip
    return exprs


def list_sources(store: Store) -> pd.DataFrame:
    with store.cursor() as cur:
        return cur.execute(
            "SELECT source_id, name, format, rows_total, rows_ingested, rows_duplicate, "
            "rows_rejected, ingested_at, mapping FROM sources ORDER BY ingested_at"
        ).df()


def resolve_source_ids(store: Store, names_or_ids: list[str]) -> list[str]:
    """Map source names or ids to ids, failing with the list of known sources."""
    known = list_sources(store)
    resolved: list[str] = []
    for key in names_or_ids:
        match = known[(known["source_id"] == key) | (known["name"] == key)]
        if match.empty:
            names = ", ".join(known["name"].tolist()) or "none"
            raise NotFoundError(
                f"No ingested source named {key!r}.",
                f"Ingest the file first (swapcheck ingest FILE). Known sources: {names}.",
            )
        resolved.extend(match["source_id"].tolist())
    return list(dict.fromkeys(resolved))


def slice_columns_of(store: Store, source_ids: list[str]) -> list[str]:
    """Slice columns (metadata and derived) present in every one of the given sources."""
    import json

    with store.cursor() as cur:
        rows = cur.execute(
            "SELECT coalesce(slice_columns, mapping->'slice_columns') FROM sources "
            "WHERE list_contains(?, source_id) ORDER BY ingested_at",
            [source_ids],
        ).fetchall()
    lists = [json.loads(r[0]) if r[0] else [] for r in rows]
    if not lists:
        return []
    common = set.intersection(*(set(x) for x in lists))
    return [c for c in lists[0] if c in common]


def quarantine_frame(store: Store, source_id: str | None = None) -> pd.DataFrame:
    with store.cursor() as cur:
        if source_id:
            return cur.execute(
                "SELECT source_name, row_number, field, reason, raw FROM quarantine "
                "WHERE source_id = ? ORDER BY row_number",
                [source_id],
            ).df()
        return cur.execute(
            "SELECT source_name, row_number, field, reason, raw FROM quarantine "
            "ORDER BY created_at, source_name, row_number"
        ).df()


def save_answers(
    cur: duckdb.DuckDBPyConnection,
    log: LogFile,
    name: str,
    mapping: ColumnMapping,
    rejects: pd.DataFrame,
) -> IngestReport:
    """Store the answers in temp table ``staged`` as answers of ``mapping.response_variant``
    (default ``logged``; one per prompt; answers already stored are kept) and record the file
    as a source."""
    ok = _count(cur, "SELECT count(*) FROM staged WHERE code IS NULL")
    rows_total = ok + len(rejects)
    if ok == 0:
        shown = "; ".join(rejects["reason"].head(3)) if len(rejects) else "the file has no rows"
        raise IngestError(
            f"{log.name}: no answer could be attached ({len(rejects)} rejected). First "
            f"problems: {shown}",
            "ingest the requests first, or check the id and answer columns; nothing was stored",
        )
    variant = mapping.response_variant
    ensure_answers_variant_on(cur, variant, mapping.response_model)
    pull_for_ingest(
        cur,
        "responses",
        "prompt_id",
        "SELECT p.prompt_id FROM staged a JOIN prompts p ON p.external_id = a.external_id "
        "WHERE a.code IS NULL",
        where="AND variant = ?",
        params=[variant],
    )
    before = _count(cur, "SELECT count(*) FROM responses")
    hash_sql, hash_params = imported_request_hash(variant, "p.prompt_id")
    cur.execute(
        "INSERT INTO responses (prompt_id, variant, request_hash, text, finish_reason) "
        f"SELECT p.prompt_id, ?, {hash_sql}, any_value(a.answer), 'logged' "
        "FROM staged a JOIN prompts p ON p.external_id = a.external_id "
        "WHERE a.code IS NULL GROUP BY p.prompt_id ON CONFLICT DO NOTHING",
        [variant, *hash_params],
    )
    logged = _count(cur, "SELECT count(*) FROM responses") - before
    previous = first_row(cur.execute("SELECT source_id FROM sources WHERE name = ?", [name]))
    source_id = previous[0] if previous else source_id_for(log.file_hash)
    kind = "logged answers" if variant == LOGGED_VARIANT else f"answers of variant '{variant}'"
    values = [log.file_hash, log.format, mapping.to_json(), rows_total, 0, ok - logged,
              len(rejects), "[]", canonical_json({"answers_only": True})]  # fmt: skip
    _record_source(cur, previous is not None, source_id, name, values, rejects)
    return IngestReport(
        source_id=source_id,
        source_name=name,
        file_hash=log.file_hash,
        rows_total=rows_total,
        rows_ingested=0,
        rows_duplicate=ok - logged,
        rows_rejected=len(rejects),
        logged_responses=logged,
        rejects=rejects,
        notes=[*log.notes, f"{log.name}: answers only; {logged} attached as {kind}"],
        replaced_version=previous is not None,
        response_variant=variant,
    )


def _record_source(
    cur: duckdb.DuckDBPyConnection,
    new_version: bool,
    source_id: str,
    name: str,
    values: list[Any],
    rejects: pd.DataFrame,
) -> None:
    """Insert the source row, or update it for a new version (whose quarantine replaces the
    old one); ``values`` = file hash, format, mapping, total, ingested, duplicate, rejected,
    slice columns, options."""
    if new_version:
        pull_for_ingest(cur, "quarantine", "source_id", "SELECT ?", [source_id])
        cur.execute("DELETE FROM quarantine WHERE source_id = ?", [source_id])
        cur.execute(
            "UPDATE sources SET file_hash = ?, format = ?, mapping = ?, rows_total = ?, "
            "rows_ingested = rows_ingested + ?, rows_duplicate = ?, rows_rejected = ?, "
            "slice_columns = ?, options = ?, updated_at = current_timestamp WHERE source_id = ?",
            [*values, source_id],
        )
    else:
        cur.execute(
            "INSERT INTO sources (file_hash, format, mapping, rows_total, rows_ingested, "
            "rows_duplicate, rows_rejected, slice_columns, options, source_id, name) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [*values, source_id, name],
        )
    _store_rejects(cur, rejects, source_id, name)


def _store_rejects(
    cur: duckdb.DuckDBPyConnection, rejects: pd.DataFrame, source_id: str, name: str
) -> None:
    if not len(rejects):
        return
    incoming = rejects.assign(source_id=source_id, source_name=name)
    cur.register("incoming_rejects", incoming)
    cur.execute(
        "INSERT INTO quarantine (source_id, source_name, row_number, field, reason, raw) "
        "SELECT source_id, source_name, row_number, field, reason, raw FROM incoming_rejects"
    )
    cur.unregister("incoming_rejects")
