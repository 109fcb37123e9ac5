"""Responses: one stored answer (or recorded failure) per prompt and variant."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict

import pandas as pd

from swapcheck.models import ChatMessages, GenerationJob, ResponseRecord, VariantConfig
from swapcheck.store.connection import Store, first_row

_IDS = "WITH ids AS (SELECT DISTINCT unnest(?::VARCHAR[]) AS prompt_id) "
"""The prompt ids of a query's first parameter, as table ``ids``."""

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
    """Upsert finished records. A failure never overwrites a stored success."""
    if not records:
        return
    frame = pd.DataFrame([asdict(r) for r in records], columns=list(_FIELDS))
    columns = ", ".join(_FIELDS)
    updates = ", ".join(f"{f} = excluded.{f}" for f in _FIELDS[2:])
    with store.transaction() as cur:
        cur.register("incoming_responses", frame)
        cur.execute(
            f"INSERT INTO responses ({columns}) SELECT {columns} FROM incoming_responses "
            f"ON CONFLICT (prompt_id, variant) DO UPDATE SET {updates}, "
            "created_at = now() "
            "WHERE excluded.error IS NULL OR responses.error IS NOT NULL "
            "OR responses.request_hash <> excluded.request_hash"
        )
        cur.unregister("incoming_responses")


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


def response_status(store: Store, variant: str, prompt_ids: Sequence[str]) -> dict[str, int]:
    """Counts of answered / failed / missing prompts for one variant."""
    with store.cursor() as cur:
        ok, failed = first_row(
            cur.execute(
                _IDS + "SELECT count(*) FILTER (WHERE error IS NULL AND text IS NOT NULL), "
                "count(*) FILTER (WHERE error IS NOT NULL) "
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
            "AND r.error IS NULL AND r.text IS NOT NULL",
            [list(prompt_ids), list(variants)],
        ).df()
