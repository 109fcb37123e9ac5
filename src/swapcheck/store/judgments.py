"""The append-only judgments table: store a judgment in its review slot, undo it, read them."""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass

import duckdb
import pandas as pd

from swapcheck.errors import NotFoundError, ReviewError
from swapcheck.models import canonical_json
from swapcheck.store.connection import Store, first_row
from swapcheck.store.db_errors import TRANSIENT_ERRORS
from swapcheck.store.jsonpath import metadata_path
from swapcheck.store.responses import succeeded
from swapcheck.store.studies import Study

READY_PAIRS_SQL = f"""
    SELECT p.pair_id, p.prompt_id, p.position
    FROM pairs p
    JOIN responses b ON b.prompt_id = p.prompt_id AND b.variant = $baseline AND {succeeded("b")}
    JOIN responses c ON c.prompt_id = p.prompt_id AND c.variant = $candidate AND {succeeded("c")}
    WHERE p.study_id = $study_id
"""
"""A study's ready pairs (both answers successful): ``pair_id, prompt_id, position``;
parameters ``$study_id``, ``$baseline``, ``$candidate``."""


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
_CLAIM_ATTEMPTS = 200
"""Rounds of (query candidates, try to reserve); each lost round means another reviewer won."""
_TRANSIENT = TRANSIENT_ERRORS
LIVE = "undone_at IS NULL AND reviewer_type = 'human'"
"""A judgment that counts for the review queue and human statistics: not undone, by a person."""
LIVE_J = "j.undone_at IS NULL AND j.reviewer_type = 'human'"
REVIEWER_TYPES: tuple[str, ...] = ("human", "judge")


def _slice_sql(study: Study) -> tuple[str, str]:
    """(join, expression) giving each pair its queue slice: stratum, first slice column, or ''."""
    if study.slice_columns:
        return (
            "JOIN prompts q ON q.prompt_id = p.prompt_id",
            "coalesce(p.stratum, json_extract_string(q.metadata, $slice_path), '')",
        )
    return "", "coalesce(p.stratum, '')"


def _reserve(
    cur: duckdb.DuckDBPyConnection,
    study: Study,
    pair_id: str,
    slot: int,
    reviewer: str,
    *,
    judged: bool = False,
    in_transaction: bool = False,
) -> bool:
    """Take a free or expired slot; False when another reviewer got there first.

    Inside an explicit transaction a write conflict aborts the transaction, so it is raised
    for the caller to retry the whole unit instead of being read as "slot taken".
    """
    if getattr(cur, "dialect", "duckdb") == "postgres":
        return _reserve_on_postgres(cur, study, pair_id, slot, reviewer, judged)
    try:
        taken = cur.execute(
            _RESERVE_SQL, [study.study_id, pair_id, slot, reviewer, judged]
        ).fetchall()
    except _TRANSIENT:
        if in_transaction:
            raise
        return False  # a concurrent session wrote the same slot
    return bool(taken)


_RESERVE_SQL = (
    "INSERT INTO reservations "
    "(study_id, pair_id, slot, reviewer, reserved_at, expires_at, judged) "
    f"VALUES (?, ?, ?, ?, now(), now() + INTERVAL {RESERVATION_TTL_MINUTES} MINUTE, ?) "
    "ON CONFLICT (study_id, pair_id, slot) DO UPDATE SET reviewer = excluded.reviewer, "
    "reserved_at = excluded.reserved_at, expires_at = excluded.expires_at, "
    "judged = excluded.judged "
    "WHERE NOT reservations.judged AND reservations.expires_at <= now() "
    "RETURNING pair_id"
)
_LOCK_PAIR_SKIP = "SELECT 1 FROM pairs WHERE study_id = %s AND pair_id = %s FOR UPDATE SKIP LOCKED"
_LOCK_PAIR_WAIT = "SELECT 1 FROM pairs WHERE study_id = %s AND pair_id = %s FOR UPDATE"


def _reserve_on_postgres(
    cur: duckdb.DuckDBPyConnection,
    study: Study,
    pair_id: str,
    slot: int,
    reviewer: str,
    judged: bool,
) -> bool:
    """PostgreSQL: lock the pair's row, then take the slot (see :func:`_reserve`).

    Handing out (no transaction open): ``FOR UPDATE SKIP LOCKED``, so a replica never waits for
    a pair another replica is assigning this instant; it moves on to the next pair. Inside a
    judgment's transaction: ``FOR UPDATE`` (a verdict must not be skipped), which serialises
    the pair's slot accounting; a conflict is raised for the caller to retry the unit.
    """
    own = not cur.in_transaction  # type: ignore[attr-defined]
    raw = cur.raw  # type: ignore[attr-defined]  # row locks are PostgreSQL's own SQL
    if not own:
        raw.execute(_LOCK_PAIR_WAIT, [study.study_id, pair_id])
        return bool(
            cur.execute(_RESERVE_SQL, [study.study_id, pair_id, slot, reviewer, judged]).fetchall()
        )
    cur.execute("BEGIN")
    try:
        raw.execute(_LOCK_PAIR_SKIP, [study.study_id, pair_id])
        if not raw.fetchall():
            cur.execute("ROLLBACK")
            return False  # another session is assigning this pair right now
        taken = cur.execute(
            _RESERVE_SQL, [study.study_id, pair_id, slot, reviewer, judged]
        ).fetchall()
        cur.execute("COMMIT")
    except _TRANSIENT:
        cur.execute("ROLLBACK")
        return False
    except BaseException:
        with contextlib.suppress(Exception):
            cur.execute("ROLLBACK")
        raise
    return bool(taken)


def ready_pair_ids(store: Store, study: Study) -> list[str]:
    """Pairs whose two answers both exist, in the study's blinded order."""
    with store.cursor() as cur:
        rows = cur.execute(
            f"SELECT pair_id FROM ({READY_PAIRS_SQL}) ORDER BY position", _study_params(study)
        ).fetchall()
    return [r[0] for r in rows]


def pair_content(store: Store, study: Study, pair_id: str) -> PairContent:
    """The prompt and both answers of one pair (point lookups: fast at any study size)."""
    missing = NotFoundError(
        f"Pair {pair_id} is not part of this study or has no answers yet.",
        "Reload the review page to get the next pair.",
    )
    with store.cursor() as cur:
        row = first_row(
            cur.execute(
                "SELECT prompt_id FROM pairs WHERE pair_id = ? AND study_id = ?",
                [pair_id, study.study_id],
            )
        )
        if row is None:
            raise missing
        prompt_id = row[0]
        messages = first_row(
            cur.execute("SELECT messages FROM prompts WHERE prompt_id = ?", [prompt_id])
        )
        texts = dict(
            cur.execute(
                "SELECT variant, text FROM responses WHERE prompt_id = ? AND variant IN (?, ?)",
                [prompt_id, study.baseline_variant, study.candidate_variant],
            ).fetchall()
        )
    baseline, candidate = texts.get(study.baseline_variant), texts.get(study.candidate_variant)
    if messages is None or baseline is None or candidate is None:
        raise missing
    return PairContent(pair_id, prompt_id, json.loads(messages[0]), baseline, candidate)


def has_judged(store: Store, study: Study, pair_id: str, reviewer: str) -> bool:
    """Whether this reviewer has a live (not undone) judgment of the pair."""
    with store.cursor() as cur:
        return _has_live(cur, study, pair_id, reviewer)


def _has_live(cur: duckdb.DuckDBPyConnection, study: Study, pair_id: str, reviewer: str) -> bool:
    return (
        first_row(
            cur.execute(
                f"SELECT 1 FROM judgments WHERE study_id = ? AND pair_id = ? AND reviewer = ? "
                f"AND {LIVE}",
                [study.study_id, pair_id, reviewer],
            )
        )
        is not None
    )


def _claim_slot_for_judgment(
    cur: duckdb.DuckDBPyConnection, study: Study, pair_id: str, reviewer: str
) -> None:
    """Turn the reviewer's reservation into a judged slot, or take a free one; else refuse.

    A reviewer whose reservation expired and was taken over (or who never reserved, like the
    demo) still gets a slot if the pair is below its overlap, so no pair ever exceeds it.
    """
    if cur.execute(
        "UPDATE reservations SET judged = true WHERE study_id = ? AND pair_id = ? "
        "AND reviewer = ? AND NOT judged RETURNING slot",
        [study.study_id, pair_id, reviewer],
    ).fetchall():
        return
    used, slots = first_row(
        cur.execute(
            f"SELECT (SELECT count(*) FROM judgments WHERE study_id = $s AND pair_id = $p "
            f"AND {LIVE}) + (SELECT count(*) FROM reservations WHERE study_id = $s "
            "AND pair_id = $p AND NOT judged AND expires_at > now()), "
            "(SELECT coalesce(list(slot), []) FROM reservations WHERE study_id = $s "
            "AND pair_id = $p AND (judged OR expires_at > now()))",
            {"s": study.study_id, "p": pair_id},
        )
    )
    free = next((s for s in range(study.overlap) if s not in slots), None)
    if (
        used >= study.overlap
        or free is None
        or not _reserve(cur, study, pair_id, free, reviewer, judged=True)
    ):
        raise ReviewError(
            "This pair already has all the judgments it needs (your hold on it expired).",
            "Your verdict was not stored; go on with the next pair.",
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
    criteria: dict[str, str] | None = None,
    reason_tags: tuple[str, ...] = (),
) -> str | None:
    """Store one judgment and mark its review slot judged; None if the reviewer already has one.

    One transaction, retried when a concurrent session's write conflicts with it.
    """
    judgment_id = "j_" + uuid.uuid4().hex
    for attempt in range(_CLAIM_ATTEMPTS):
        try:
            with store.transaction() as cur:
                if _has_live(cur, study, pair_id, reviewer):
                    return None
                _claim_slot_for_judgment(cur, study, pair_id, reviewer)
                cur.execute(
                    "INSERT INTO judgments (judgment_id, study_id, pair_id, reviewer, left_role, "
                    "choice, comment, time_on_item_ms, criteria, reason_tags) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        judgment_id,
                        study.study_id,
                        pair_id,
                        reviewer,
                        left_role,
                        choice,
                        comment,
                        time_on_item_ms,
                        canonical_json(criteria) if criteria else None,
                        canonical_json(list(reason_tags)) if reason_tags else None,
                    ],
                )
            return judgment_id
        except _TRANSIENT:
            if attempt == _CLAIM_ATTEMPTS - 1:
                raise
    return None


def undo_last(store: Store, study: Study, reviewer: str) -> str | None:
    """Mark the reviewer's newest live judgment in the study undone and hold its pair again.

    Returns the pair id, or None when the reviewer has nothing to undo. The reopened
    reservation is the reviewer's newest, so the queue serves that pair first.
    """
    # Deferred: review_queue imports this module; undo must drop its in-process hints.
    from swapcheck.store.review_queue import forget_queue_hints

    for attempt in range(_CLAIM_ATTEMPTS):
        try:
            with store.transaction() as cur:
                row = first_row(
                    cur.execute(
                        f"SELECT judgment_id, pair_id FROM judgments WHERE study_id = ? "
                        f"AND reviewer = ? AND {LIVE} "
                        "ORDER BY created_at DESC, judgment_id DESC LIMIT 1",
                        [study.study_id, reviewer],
                    )
                )
                if row is None:
                    return None
                judgment_id, pair_id = row
                forget_queue_hints(store, study)
                cur.execute(
                    "UPDATE judgments SET undone_at = now() WHERE judgment_id = ?", [judgment_id]
                )
                reopened = cur.execute(
                    "UPDATE reservations SET judged = false, reserved_at = now(), "
                    f"expires_at = now() + INTERVAL {RESERVATION_TTL_MINUTES} MINUTE "
                    "WHERE study_id = ? AND pair_id = ? AND reviewer = ? AND judged "
                    "RETURNING slot",
                    [study.study_id, pair_id, reviewer],
                ).fetchall()
                if not reopened:  # a judgment stored without a slot: hold a free one if any
                    slots = first_row(
                        cur.execute(
                            "SELECT coalesce(list(slot), []) FROM reservations "
                            "WHERE study_id = ? AND pair_id = ? AND (judged OR expires_at > now())",
                            [study.study_id, pair_id],
                        )
                    )[0]
                    free = next((s for s in range(study.overlap) if s not in slots), None)
                    if free is not None:
                        _reserve(cur, study, pair_id, free, reviewer, in_transaction=True)
            return pair_id
        except _TRANSIENT:
            if attempt == _CLAIM_ATTEMPTS - 1:
                raise
    return None


def review_progress(store: Store, study: Study, reviewer: str | None = None) -> dict[str, int]:
    """Pairs ready, judgments needed and given (live); plus this reviewer's count when named."""
    with store.cursor() as cur:
        ready, total = first_row(
            cur.execute(
                f"SELECT (SELECT count(*) FROM ({READY_PAIRS_SQL})), "
                "(SELECT count(*) FROM pairs WHERE study_id = $study_id)",
                _study_params(study),
            )
        )
        given = cur.execute(
            f"SELECT count(*) FROM judgments WHERE study_id = ? AND {LIVE}", [study.study_id]
        ).fetchall()[0][0]
        mine = 0
        if reviewer:
            mine = cur.execute(
                f"SELECT count(*) FROM judgments WHERE study_id = ? AND reviewer = ? AND {LIVE}",
                [study.study_id, reviewer],
            ).fetchall()[0][0]
    return {
        "pairs_total": total,
        "pairs_ready": ready,
        "judgments_given": given,
        "judgments_target": ready * study.overlap,
        "mine": mine,
    }


def judgments_frame(
    store: Store, study: Study, reviewer_type: str | None = "human"
) -> pd.DataFrame:
    """Live (not undone) unblinded judgments of a study with the prompt's slice values.

    ``reviewer_type`` picks people (``human``, the default: every verdict and human statistic
    reads only these), LLM judges (``judge``) or both (None). Admins only. ``criteria`` is a
    dict {criterion: baseline|candidate|same} or None, ``reason_tags`` a list (empty when none).
    """
    slice_selects = "".join(
        f", json_extract_string(q.metadata, ${i}) AS slice_{i}"
        for i, _ in enumerate(study.slice_columns, start=2)
    )
    params: list[object] = [study.study_id] + [metadata_path(c) for c in study.slice_columns]
    if reviewer_type is None:
        type_filter = "true"
    elif reviewer_type in REVIEWER_TYPES:
        type_filter = f"j.reviewer_type = ${len(params) + 1}"
        params.append(reviewer_type)
    else:
        raise ValueError(f"reviewer_type must be one of {REVIEWER_TYPES} or None")
    with store.cursor() as cur:
        frame = cur.execute(
            "SELECT j.judgment_id, j.pair_id, p.prompt_id, j.reviewer, j.reviewer_type, "
            "j.left_role, j.choice, j.comment, j.time_on_item_ms, j.created_at, j.criteria, "
            f"j.reason_tags{slice_selects} "
            "FROM judgments j JOIN pairs p USING (pair_id) "
            "JOIN prompts q ON q.prompt_id = p.prompt_id "
            "WHERE j.study_id = $1 AND j.undone_at IS NULL "
            f"AND {type_filter} ORDER BY j.created_at, j.judgment_id",
            params,
        ).df()
    frame["criteria"] = [json.loads(v) if isinstance(v, str) else None for v in frame["criteria"]]
    frame["reason_tags"] = [
        json.loads(v) if isinstance(v, str) else [] for v in frame["reason_tags"]
    ]
    return frame.rename(
        columns={f"slice_{i}": col for i, col in enumerate(study.slice_columns, start=2)}
    )


def queue_slices(store: Store, study: Study) -> pd.DataFrame:
    """``pair_id, slice`` of every ready pair: the slice the review queue files it under
    (its sample stratum, else its first slice column's value, else '')."""
    join, slice_expr = _slice_sql(study)
    params: dict[str, object] = _study_params(study)
    if study.slice_columns:
        params["slice_path"] = metadata_path(study.slice_columns[0])
    with store.cursor() as cur:
        return cur.execute(
            f"SELECT p.pair_id, {slice_expr} AS slice FROM ({READY_PAIRS_SQL}) r "
            f"JOIN pairs p USING (pair_id) {join} ORDER BY p.position",
            params,
        ).df()


def pair_judgments(store: Store, study: Study, pair_id: str) -> pd.DataFrame:
    """Every judgment of one pair, undone ones included (flagged), oldest first. Admins only."""
    with store.cursor() as cur:
        frame = cur.execute(
            "SELECT reviewer, reviewer_type, choice, left_role, criteria, reason_tags, comment, "
            "time_on_item_ms, created_at, undone_at IS NOT NULL AS undone "
            "FROM judgments WHERE study_id = ? AND pair_id = ? "
            "ORDER BY created_at, judgment_id",
            [study.study_id, pair_id],
        ).df()
    frame["criteria"] = [json.loads(v) if isinstance(v, str) else None for v in frame["criteria"]]
    frame["reason_tags"] = [
        json.loads(v) if isinstance(v, str) else [] for v in frame["reason_tags"]
    ]
    return frame
