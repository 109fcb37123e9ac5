"""Responses: one stored answer (or recorded failure) per prompt and variant."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict

import pandas as pd

from swapcheck.models import ChatMessages, GenerationJob, ResponseRecord, VariantConfig
from swapcheck.store.connection import Store, first_row
from swapcheck.store.db_errors import retry_transient

_IDS = "WITH ids AS (SELECT DISTINCT unnest(?::VARCHAR[]) AS prompt_id) "
"""The prompt ids of a query's first parameter, as table ``ids``."""


def succeeded(alias: str) -> str:
    """SQL condition: the ``responses`` row called ``alias`` is a successful answer (no error,
    a text). Every query that needs a usable answer says it this way."""
    return f"{alias}.error IS NULL AND {alias}.text IS NOT NULL"


_FIELDS = (
    "prompt_id",
    "variant",
    "request_hash",
    "text",
    "finish_reason",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cost",
    "error",
    "attempts",
    "request_body",
    "run_id",
)


def write_responses(store: Store, records: Sequence[ResponseRecord]) -> None:
    """Upsert finished records, safe for several workers writing at once.

    A stored success for the same request stays (the first answer wins; the same record again
    is a no-op), a failure never overwrites it, a success replaces a failure, and a record for a
    different request (the variant or the prompt changed) replaces whatever was stored. Rows are
    written in key order, so concurrent writers on PostgreSQL cannot deadlock; a transaction
    that still loses to a concurrent one is retried.
    """
    rows = _one_per_key(records)
    if not rows:
        return
    frame = pd.DataFrame([asdict(r) for r in rows], columns=list(_FIELDS))
    columns = ", ".join(_FIELDS)
    updates = ", ".join(f"{f} = excluded.{f}" for f in _FIELDS[2:])
    statement = (
        f"INSERT INTO responses ({columns}) SELECT {columns} FROM incoming_responses "
        "ORDER BY prompt_id, variant "
        f"ON CONFLICT (prompt_id, variant) DO UPDATE SET {updates}, created_at = now() "
        "WHERE responses.request_hash IS DISTINCT FROM excluded.request_hash "
        "OR responses.error IS NOT NULL "
        "OR (responses.text IS NULL AND excluded.error IS NULL)"
    )

    def write() -> None:
        with store.transaction() as cur:
            cur.register("incoming_responses", frame)
            cur.execute(statement)
            cur.unregister("incoming_responses")

    retry_transient(write)


def _one_per_key(records: Sequence[ResponseRecord]) -> list[ResponseRecord]:
    """One record per (prompt, variant), in key order: the first success, else the last one."""
    chosen: dict[tuple[str, str], ResponseRecord] = {}
    for record in records:
        key = (record.prompt_id, record.variant)
        kept = chosen.get(key)
        if kept is None or not (kept.ok and kept.request_hash == record.request_hash):
            chosen[key] = record
    return [chosen[key] for key in sorted(chosen)]


def pending_jobs(
    store: Store,
    variant: VariantConfig,
    prompt_ids: Sequence[str],
    prepare: Callable[[ChatMessages], ChatMessages] | None = None,
) -> list[GenerationJob]:
    """Jobs for the prompts that have no successful answer for this exact request yet.

    ``prepare`` turns stored messages into the messages to send (e.g. redacted); the jobs carry
    the prepared messages and the request hash is compared over them, so an answer counts as
    done only for the text that was actually sent.
    """
    if not prompt_ids:
        return []
    with store.cursor() as cur:
        rows = cur.execute(
            _IDS + "SELECT p.prompt_id, p.messages, r.request_hash, r.error, r.text "
            "FROM ids JOIN prompts p USING (prompt_id) LEFT JOIN responses r "
            "  ON r.prompt_id = p.prompt_id AND r.variant = ? "
            "ORDER BY p.prompt_id",
            [list(prompt_ids), variant.name],
        ).fetchall()
    jobs: list[GenerationJob] = []
    for prompt_id, messages_json, stored_hash, error, text in rows:
        messages = json.loads(messages_json)
        if prepare is not None:
            messages = prepare(messages)
        done = text is not None and error is None and stored_hash == variant.request_hash(messages)
        if not done:
            jobs.append(GenerationJob(prompt_id=prompt_id, messages=messages))
    return jobs


def answered_requests(
    store: Store, variant: str, prompt_ids: Sequence[str]
) -> set[tuple[str, str]]:
    """``(prompt_id, request_hash)`` of the successful answers ``variant`` has for these prompts."""
    if not prompt_ids:
        return set()
    with store.cursor() as cur:
        rows = cur.execute(
            _IDS + "SELECT r.prompt_id, r.request_hash FROM ids JOIN responses r USING (prompt_id) "
            f"WHERE r.variant = ? AND {succeeded('r')}",
            [list(prompt_ids), variant],
        ).fetchall()
    return {(prompt_id, request_hash) for prompt_id, request_hash in rows}


def response_status(store: Store, variant: str, prompt_ids: Sequence[str]) -> dict[str, int]:
    """Counts of answered / failed / missing prompts for one variant."""
    with store.cursor() as cur:
        ok, failed = first_row(
            cur.execute(
                _IDS + f"SELECT count(*) FILTER (WHERE {succeeded('r')}), "
                "count(*) FILTER (WHERE r.error IS NOT NULL) "
                "FROM ids JOIN responses r USING (prompt_id) WHERE r.variant = ?",
                [list(prompt_ids), variant],
            )
        )
    total = len(set(prompt_ids))
    return {"answered": ok, "failed": failed, "missing": total - ok - failed}


def failures(
    store: Store, variant: str, prompt_ids: Sequence[str], limit: int = 50
) -> pd.DataFrame:
    with store.cursor() as cur:
        return cur.execute(
            _IDS + "SELECT r.prompt_id, r.error, r.attempts, r.created_at FROM ids "
            "JOIN responses r USING (prompt_id) WHERE r.variant = ? AND r.error IS NOT NULL "
            "ORDER BY r.created_at DESC LIMIT ?",
            [list(prompt_ids), variant, limit],
        ).df()


def request_bodies(
    store: Store, variant: str, prompt_ids: Sequence[str], limit: int = 20
) -> pd.DataFrame:
    """The exact bodies last sent for these prompts (audit; they never hold a secret)."""
    with store.cursor() as cur:
        return cur.execute(
            _IDS + "SELECT r.prompt_id, r.request_body, r.run_id, r.created_at FROM ids "
            "JOIN responses r USING (prompt_id) WHERE r.variant = ? "
            "AND r.request_body IS NOT NULL ORDER BY r.created_at DESC, r.prompt_id LIMIT ?",
            [list(prompt_ids), variant, limit],
        ).df()


def answer_lengths(
    store: Store, variants: Sequence[str], prompt_ids: Sequence[str]
) -> pd.DataFrame:
    """Character length of each stored successful answer: ``prompt_id, variant, length``."""
    with store.cursor() as cur:
        return cur.execute(
            _IDS + "SELECT r.prompt_id, r.variant, length(r.text) AS length FROM ids "
            "JOIN responses r USING (prompt_id) WHERE list_contains(?, r.variant) "
            f"AND {succeeded('r')}",
            [list(prompt_ids), list(variants)],
        ).df()
