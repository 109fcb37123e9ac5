"""Ingested log files: their prompts, logged answers and quarantined rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from swapcheck.errors import NotFoundError
from swapcheck.models import LOGGED_VARIANT, sha256_hex
from swapcheck.store.connection import Store, first_row
from swapcheck.store.variants import ensure_logged_variant

if TYPE_CHECKING:
    from swapcheck.ingest import ParsedLog


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

    def summary(self) -> str:
        if self.already_ingested:
            return (
                f"{self.source_name}: already ingested (same file content as source "
                f"{self.source_id}); nothing added."
            )
        return (
            f"{self.source_name}: {self.rows_total} rows read, {self.rows_ingested} new prompts, "
            f"{self.rows_duplicate} duplicates, {self.rows_rejected} rejected, "
            f"{self.logged_responses} logged answers."
        )


def prompt_id_for(content_hash: str) -> str:
    return "p_" + content_hash[:20]


def source_id_for(file_hash: str) -> str:
    return "src_" + file_hash[:12]


def find_source_by_file_hash(store: Store, file_hash: str) -> IngestReport | None:
    """The report of a source with exactly these file bytes, marked ``already_ingested``."""
    with store.cursor() as cur:
        row = first_row(
            cur.execute(
                "SELECT source_id, name, rows_total FROM sources WHERE file_hash = ?", [file_hash]
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
    )


def save_parsed_log(store: Store, parsed: ParsedLog) -> IngestReport:
    """Store a parsed log in one transaction; re-saving the same file content adds nothing."""
    source_id = source_id_for(parsed.file_hash)
    known = find_source_by_file_hash(store, parsed.file_hash)
    if known is not None:
        return known

    prompts = parsed.prompts.copy()
    prompts["prompt_id"] = prompts["content_hash"].map(prompt_id_for)
    prompts["source_id"] = source_id
    has_logged = prompts["logged_response"].notna()
    if has_logged.any():
        ensure_logged_variant(store)
    rejects = parsed.rejects.copy()
    rejects["source_id"] = source_id
    rejects["source_name"] = parsed.source_name
    logged = prompts.loc[has_logged, ["prompt_id", "logged_response"]].copy()
    logged["variant"] = LOGGED_VARIANT
    logged["request_hash"] = logged["prompt_id"].map(lambda pid: sha256_hex(f"logged:{pid}"))

    with store.transaction() as cur:
        before = cur.execute("SELECT count(*) FROM prompts").fetchall()[0][0]
        cur.register("incoming_prompts", prompts)
        cur.execute(
            "INSERT INTO prompts (prompt_id, source_id, row_number, external_id, messages, "
            "prompt_text, metadata) SELECT prompt_id, source_id, row_number, external_id, "
            "messages, prompt_text, metadata FROM incoming_prompts ON CONFLICT DO NOTHING"
        )
        ingested = cur.execute("SELECT count(*) FROM prompts").fetchall()[0][0] - before
        cur.unregister("incoming_prompts")
        n_logged = 0
        if len(logged):
            cur.register("incoming_logged", logged)
            before_r = cur.execute("SELECT count(*) FROM responses").fetchall()[0][0]
            cur.execute(
                "INSERT INTO responses (prompt_id, variant, request_hash, text, finish_reason) "
                "SELECT prompt_id, variant, request_hash, logged_response, 'logged' "
                "FROM incoming_logged ON CONFLICT DO NOTHING"
            )
            n_logged = cur.execute("SELECT count(*) FROM responses").fetchall()[0][0] - before_r
            cur.unregister("incoming_logged")
        if len(rejects):
            cur.register("incoming_rejects", rejects)
            cur.execute(
                "INSERT INTO quarantine (source_id, source_name, row_number, reason, raw) "
                "SELECT source_id, source_name, row_number, reason, raw FROM incoming_rejects"
            )
            cur.unregister("incoming_rejects")
        duplicates = parsed.rows_duplicate + (len(prompts) - ingested)
        cur.execute(
            "INSERT INTO sources (source_id, name, file_hash, format, mapping, rows_total, "
            "rows_ingested, rows_duplicate, rows_rejected) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                source_id,
                parsed.source_name,
                parsed.file_hash,
                parsed.format,
                parsed.mapping.to_json(),
                parsed.rows_total,
                ingested,
                duplicates,
                len(rejects),
            ],
        )
    return IngestReport(
        source_id=source_id,
        source_name=parsed.source_name,
        file_hash=parsed.file_hash,
        rows_total=parsed.rows_total,
        rows_ingested=ingested,
        rows_duplicate=duplicates,
        rows_rejected=len(rejects),
        logged_responses=n_logged,
        rejects=parsed.rejects,
    )


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
    """Slice columns present in every one of the given sources' mappings."""
    import json

    with store.cursor() as cur:
        rows = cur.execute(
            "SELECT mapping FROM sources WHERE list_contains(?, source_id)", [source_ids]
        ).fetchall()
    sets = [set(json.loads(r[0]).get("slice_columns", [])) for r in rows]
    if not sets:
        return []
    common = set.intersection(*sets)
    first_order = json.loads(rows[0][0]).get("slice_columns", [])
    return [c for c in first_order if c in common]


def quarantine_frame(store: Store, source_id: str | None = None) -> pd.DataFrame:
    with store.cursor() as cur:
        if source_id:
            return cur.execute(
                "SELECT source_name, row_number, reason, raw FROM quarantine "
                "WHERE source_id = ? ORDER BY row_number",
                [source_id],
            ).df()
        return cur.execute(
            "SELECT source_name, row_number, reason, raw FROM quarantine "
            "ORDER BY created_at, source_name, row_number"
        ).df()
