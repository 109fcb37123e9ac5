"""Answers-only logs (e.g. OpenAI Batch API output): attach logged answers to stored prompts."""

from __future__ import annotations

import duckdb
import pandas as pd

from swapcheck.ingest_files import ROW_LABELS, LogFile
from swapcheck.ingest_lines import run_scan
from swapcheck.ingest_reasons import json_problem
from swapcheck.ingest_shapes import ColumnMapping
from swapcheck.ingest_sql import RAW_LIMIT, answers_sql
from swapcheck.store.ingest_stage import pull_for_ingest
from swapcheck.store.sources import IngestReport, save_answers


def attach_answers(
    cur: duckdb.DuckDBPyConnection,
    log: LogFile,
    name: str,
    mapping: ColumnMapping,
    columns: list[str],
) -> IngestReport:
    """Store each row's answer as the answer of ``mapping.response_variant`` (default
    ``logged``) for the prompt with the same id.

    Rows whose id matches no ingested prompt, that carry no answer (a failed request) or that
    cannot be read are quarantined with the reason; nothing is dropped silently.
    """
    from_reader = run_scan(cur, log, lambda q: answers_sql(log, mapping, columns, q), len(columns))
    pull_for_ingest(
        cur, "prompts", "external_id", "SELECT external_id FROM staged WHERE code IS NULL"
    )
    cur.execute(
        "UPDATE staged SET code = 'unmatched' WHERE code IS NULL AND "
        "external_id NOT IN (SELECT external_id FROM prompts WHERE external_id IS NOT NULL)"
    )
    rows = cur.execute(
        "SELECT ord, code, external_id, raw, error_detail FROM staged "
        "WHERE code IS NOT NULL ORDER BY ord"
    ).fetchall()
    label = ROW_LABELS[log.format]
    records = []
    for ord_, code, external_id, raw, detail in rows:
        field, problem = _reason(code, external_id, raw or "", detail, mapping)
        text = f"{log.name} {label} {ord_}, field '{field}': {problem}"
        records.append((int(ord_), field, text, (raw or "")[:RAW_LIMIT]))
    for r in from_reader:
        records.append((r.row_number, r.field, f"{log.name} {label} {r.row_number}, field "
                        f"'{r.field}': {r.problem}", r.raw[:RAW_LIMIT]))  # fmt: skip
    rejects = pd.DataFrame(records, columns=["row_number", "field", "reason", "raw"])
    rejects = rejects.sort_values("row_number", kind="stable").reset_index(drop=True)
    report = save_answers(cur, log, name, mapping, rejects)
    cur.execute("DROP TABLE IF EXISTS staged")
    return report


def _reason(
    code: str, external_id: str | None, raw: str, detail: str | None, m: ColumnMapping
) -> tuple[str, str]:
    id_col, answer_col = m.id_column or "id", m.response_column or "response"
    if code == "json":
        return "(line)", json_problem(raw)
    if code == "id_missing":
        return id_col, "is empty — every answer needs the id of the request it answers"
    if code == "answer_missing":
        why = f" (the request failed: {detail})" if detail else ""
        return answer_col, f"holds no answer{why} — re-run the failed requests or drop the row"
    return id_col, (
        f"{external_id!r} matches no ingested prompt — ingest the requests (e.g. the Batch "
        "input file) first, then this file again"
    )
