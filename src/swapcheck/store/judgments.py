"""Review queue queries and the append-only judgments table."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import duckdb
import pandas as pd

from swapcheck.errors import NotFoundError
from swapcheck.store.connection import Store, first_row
from swapcheck.store.jsonpath import metadata_path
from swapcheck.store.studies import Study

_READY_PAIRS = """
    SELECT p.pair_id, p.prompt_id, p.position
    FROM pairs p
    JOIN responses b ON b.prompt_id = p.prompt_id AND b.variant = $baseline
         AND b.error IS NULL AND b.text IS NOT NULL
    JOIN responses c ON c.prompt_id = p.prompt_id AND c.variant = $candidate
         AND c.error IS NULL AND c.text IS NOT NULL
    WHERE p.study_id = $study_id
"""


@dataclass(frozen=True)
class PairContent:
    pair_id: str
    prompt_id: str
    messages: list[dict[str, str]]
    baseline_text: str
    candidate_text: str


def _study_params(study: Study) -> dict[str, str]:
    return {
        "study_id": study.study_id,
        "baseline": study.baseline_variant,
        "candidate": study.candidate_variant,
    }


RESERVATION_TTL_MINUTES = 15


def _held_pair(cur: duckdb.DuckDBPyConnection, params: dict[str, object]) -> str | None:
    row = first_row(
        cur.execute(
            "SELECT pair_id FROM reservations WHERE study_id = $study_id AND reviewer = $reviewer "
            "AND NOT judged AND expires_at > now() "
            "AND NOT list_contains($exclude::VARCHAR[], pair_id) ORDER BY reserved_at LIMIT 1",
            {k: params[k] for k in ("study_id", "reviewer", "exclude")},
        )
    )
    return row[0] if row else None


def next_pair_id(
    store: Store, study: Study, reviewer: str, exclude: tuple[str, ...] = ()
) -> str | None:
    """Reserve and return the next ready pair for this reviewer, fewest judgments first.

    A reviewer keeps the pair they hold until they judge or skip it, or the reservation expires
    (``RESERVATION_TTL_MINUTES``); a pair is handed out to at most ``overlap`` reviewers at once.
    """
    params = {
        **_study_params(study),
        "reviewer": reviewer,
        "overlap": study.overlap,
        "exclude": list(exclude),
    }
    with store.cursor() as cur:
        held = _held_pair(cur, params)
        if held:
            return held
        for _attempt in range(5):
            candidates = cur.execute(
                f"""
                WITH ready AS ({_READY_PAIRS}),
                judged AS (
                    SELECT pair_id, count(*) AS n, bool_or(reviewer = $reviewer) AS mine
                    FROM judgments WHERE study_id = $study_id GROUP BY pair_id
                ),
                held AS (
                    SELECT pair_id, list(slot) AS slots, bool_or(reviewer = $reviewer) AS mine,
                           count(*) FILTER (WHERE NOT judged) AS n_open
                    FROM reservations
                    WHERE study_id = $study_id AND (judged OR expires_at > now())
                    GROUP BY pair_id
                )
                SELECT r.pair_id, coalesce(h.slots, []) AS slots
                FROM ready r LEFT JOIN judged j USING (pair_id) LEFT JOIN held h USING (pair_id)
                WHERE NOT coalesce(j.mine, false) AND NOT coalesce(h.mine, false)
                  AND coalesce(j.n, 0) + coalesce(h.n_open, 0) < $overlap
                  AND NOT list_contains($exclude::VARCHAR[], r.pair_id)
                ORDER BY coalesce(j.n, 0) + coalesce(h.n_open, 0), hash($reviewer || r.pair_id),
                         r.position
                LIMIT 8
                """,
                params,
            ).fetchall()
            if not candidates:
                return None
            for pair_id, slots in candidates:
                free = next((s for s in range(study.overlap) if s not in slots), None)
                if free is not None and _reserve(cur, study, pair_id, free, reviewer):
                    return pair_id
        return None


def _reserve(
    cur: duckdb.DuckDBPyConnection, study: Study, pair_id: str, slot: int, reviewer: str
) -> bool:
    """Take a free or expired slot; False when another reviewer got there first."""
    try:
        taken = cur.execute(
            "INSERT INTO reservations (study_id, pair_id, slot, reviewer, reserved_at, expires_at) "
            f"VALUES (?, ?, ?, ?, now(), now() + INTERVAL {RESERVATION_TTL_MINUTES} MINUTE) "
            "ON CONFLICT (study_id, pair_id, slot) DO UPDATE SET reviewer = excluded.reviewer, "
            "reserved_at = excluded.reserved_at, expires_at = excluded.expires_at "
            "WHERE NOT reservations.judged AND reservations.expires_at <= now() "
            "RETURNING pair_id",
            [study.study_id, pair_id, slot, reviewer],
        ).fetchall()
    except duckdb.TransactionException:
        return False  # a concurrent session wrote the same slot
    return bool(taken)


def release_pair(store: Store, study: Study, pair_id: str, reviewer: str) -> None:
    """Give back a pair the reviewer skipped, so someone else can take it."""
    with store.cursor() as cur:
        cur.execute(
            "DELETE FROM reservations WHERE study_id = ? AND pair_id = ? AND reviewer = ? "
            "AND NOT judged",
            [study.study_id, pair_id, reviewer],
        )


def ready_pair_ids(store: Store, study: Study) -> list[str]:
    """Pairs whose two answers both exist, in the study's blinded order."""
    with store.cursor() as cur:
        rows = cur.execute(
            f"SELECT pair_id FROM ({_READY_PAIRS}) ORDER BY position", _study_params(study)
        ).fetchall()
    return [r[0] for r in rows]


def pair_content(store: Store, study: Study, pair_id: str) -> PairContent:
    with store.cursor() as cur:
        row = first_row(
            cur.execute(
                """
            SELECT p.pair_id, p.prompt_id, q.messages, b.text, c.text
            FROM pairs p JOIN prompts q USING (prompt_id)
            JOIN responses b ON b.prompt_id = p.prompt_id AND b.variant = $baseline
            JOIN responses c ON c.prompt_id = p.prompt_id AND c.variant = $candidate
            WHERE p.study_id = $study_id AND p.pair_id = $pair_id
            """,
                {**_study_params(study), "pair_id": pair_id},
            )
        )
    if row is None:
        raise NotFoundError(
            f"Pair {pair_id} is not part of this study or has no answers yet.",
            "Reload the review page to get the next pair.",
        )
    return PairContent(row[0], row[1], json.loads(row[2]), row[3], row[4])


def has_judged(store: Store, study: Study, pair_id: str, reviewer: str) -> bool:
    with store.cursor() as cur:
        return (
            first_row(
                cur.execute(
                    "SELECT 1 FROM judgments WHERE study_id = ? AND pair_id = ? AND reviewer = ?",
                    [study.study_id, pair_id, reviewer],
                )
            )
            is not None
        )


def append_judgment(
    store: Store,
    study: Study,
    *,
    pair_id: str,
    reviewer: str,
    left_role: str,
    choice: str,
    comment: str | None,
    time_on_item_ms: int | None,
) -> str:
    judgment_id = "j_" + uuid.uuid4().hex
    with store.transaction() as cur:
        cur.execute(
            "UPDATE reservations SET judged = true "
            "WHERE study_id = ? AND pair_id = ? AND reviewer = ?",
            [study.study_id, pair_id, reviewer],
        )
        cur.execute(
            "INSERT INTO judgments (judgment_id, study_id, pair_id, reviewer, left_role, choice, "
            "comment, time_on_item_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                judgment_id,
                study.study_id,
                pair_id,
                reviewer,
                left_role,
                choice,
                comment,
                time_on_item_ms,
            ],
        )
    return judgment_id


def review_progress(store: Store, study: Study, reviewer: str | None = None) -> dict[str, int]:
    """Pairs ready, judgments needed and given; plus this reviewer's count when named."""
    with store.cursor() as cur:
        ready, total = first_row(
            cur.execute(
                f"SELECT (SELECT count(*) FROM ({_READY_PAIRS})), "
                "(SELECT count(*) FROM pairs WHERE study_id = $study_id)",
                _study_params(study),
            )
        )
        given = cur.execute(
            "SELECT count(*) FROM judgments WHERE study_id = ?", [study.study_id]
        ).fetchall()[0][0]
        mine = 0
        if reviewer:
            mine = cur.execute(
                "SELECT count(*) FROM judgments WHERE study_id = ? AND reviewer = ?",
                [study.study_id, reviewer],
            ).fetchall()[0][0]
    return {
        "pairs_total": total,
        "pairs_ready": ready,
        "judgments_given": given,
        "judgments_target": ready * study.overlap,
        "mine": mine,
    }


def judgments_frame(store: Store, study: Study) -> pd.DataFrame:
    """Unblinded judgments of a study joined with the prompt's slice values (admins only)."""
    slice_selects = "".join(
        f", json_extract_string(q.metadata, ${i}) AS slice_{i}"
        for i, _ in enumerate(study.slice_columns, start=2)
    )
    params: list[object] = [study.study_id] + [metadata_path(c) for c in study.slice_columns]
    with store.cursor() as cur:
        frame = cur.execute(
            "SELECT j.judgment_id, j.pair_id, p.prompt_id, j.reviewer, j.left_role, j.choice, "
            f"j.comment, j.time_on_item_ms, j.created_at{slice_selects} "
            "FROM judgments j JOIN pairs p USING (pair_id) "
            "JOIN prompts q ON q.prompt_id = p.prompt_id "
            "WHERE j.study_id = $1 ORDER BY j.created_at",
            params,
        ).df()
    return frame.rename(
        columns={f"slice_{i}": col for i, col in enumerate(study.slice_columns, start=2)}
    )
