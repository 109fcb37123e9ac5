"""Provider Batch API bookkeeping: submitted batches and their items, so nothing is paid twice."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from swapcheck.store.connection import Store

COLLECTED = "collected"
"""Local status of a batch whose results were handed to the sink (no longer open)."""
ABANDONED = "abandoned"
"""Local status of a batch given up on by the user (its prompts may be submitted again)."""
CLOSED_STATUSES = (COLLECTED, ABANDONED)


@dataclass(frozen=True)
class BatchItem:
    """One request of a submitted batch."""

    custom_id: str
    prompt_id: str
    request_hash: str


@dataclass(frozen=True)
class StoredBatch:
    """One batch the provider accepted, as recorded in ``provider_batches``."""

    batch_id: str
    variant: str
    provider: str
    run_id: str | None
    request_count: int
    status: str
    detail: dict[str, Any]


def record_batch(
    store: Store,
    *,
    batch_id: str,
    variant: str,
    provider: str,
    run_id: str | None,
    status: str,
    items: Sequence[BatchItem],
    detail: dict[str, Any] | None = None,
) -> None:
    """Record an accepted batch and every item in one transaction (before any polling)."""
    frame = pd.DataFrame(
        {
            "batch_id": [batch_id] * len(items),
            "custom_id": [i.custom_id for i in items],
            "prompt_id": [i.prompt_id for i in items],
            "request_hash": [i.request_hash for i in items],
        }
    )
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO provider_batches (batch_id, variant, provider, run_id, request_count, "
            "status, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [batch_id, variant, provider, run_id, len(items), status, json.dumps(detail or {})],
        )
        cur.register("incoming_batch_items", frame)
        cur.execute(
            "INSERT INTO provider_batch_items (batch_id, custom_id, prompt_id, request_hash) "
            "SELECT batch_id, custom_id, prompt_id, request_hash FROM incoming_batch_items"
        )
        cur.unregister("incoming_batch_items")


def update_batch(
    store: Store, batch_id: str, status: str, detail: dict[str, Any] | None = None
) -> None:
    """Set a batch's status (and detail, when given)."""
    with store.cursor() as cur:
        if detail is None:
            cur.execute(
                "UPDATE provider_batches SET status = ?, updated_at = now() WHERE batch_id = ?",
                [status, batch_id],
            )
        else:
            cur.execute(
                "UPDATE provider_batches SET status = ?, detail = ?, updated_at = now() "
                "WHERE batch_id = ?",
                [status, json.dumps(detail), batch_id],
            )


def _batch(row: tuple[Any, ...]) -> StoredBatch:
    batch_id, variant, provider, run_id, count, status, detail = row
    return StoredBatch(
        batch_id=batch_id,
        variant=variant,
        provider=provider,
        run_id=run_id,
        request_count=int(count),
        status=status,
        detail=json.loads(detail) if detail else {},
    )


_BATCH_COLUMNS = "batch_id, variant, provider, run_id, request_count, status, detail"


def open_batches(store: Store, variant: str) -> list[StoredBatch]:
    """Batches of ``variant`` whose results were not collected yet, oldest first."""
    with store.cursor() as cur:
        rows = cur.execute(
            f"SELECT {_BATCH_COLUMNS} FROM provider_batches "
            "WHERE variant = ? AND status NOT IN (?, ?) ORDER BY submitted_at, batch_id",
            [variant, *CLOSED_STATUSES],
        ).fetchall()
    return [_batch(row) for row in rows]


def get_batch(store: Store, batch_id: str) -> StoredBatch | None:
    with store.cursor() as cur:
        rows = cur.execute(
            f"SELECT {_BATCH_COLUMNS} FROM provider_batches WHERE batch_id = ?", [batch_id]
        ).fetchall()
    return _batch(rows[0]) if rows else None


def batch_items(store: Store, batch_id: str) -> list[BatchItem]:
    """Every item of one batch, in custom_id order."""
    with store.cursor() as cur:
        rows = cur.execute(
            "SELECT custom_id, prompt_id, request_hash FROM provider_batch_items "
            "WHERE batch_id = ? ORDER BY custom_id",
            [batch_id],
        ).fetchall()
    return [BatchItem(*row) for row in rows]


def open_requests(store: Store, variant: str) -> set[tuple[str, str]]:
    """``(prompt_id, request_hash)`` of every item in a not-yet-collected batch of ``variant``."""
    with store.cursor() as cur:
        rows = cur.execute(
            "SELECT DISTINCT i.prompt_id, i.request_hash FROM provider_batch_items i "
            "JOIN provider_batches b USING (batch_id) "
            "WHERE b.variant = ? AND b.status NOT IN (?, ?)",
            [variant, *CLOSED_STATUSES],
        ).fetchall()
    return {(prompt_id, request_hash) for prompt_id, request_hash in rows}
