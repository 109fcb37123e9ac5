"""Review queue: hand each reviewer their next pair (cached ready pairs, order, reservations)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from swapcheck.errors import ConfigError, ReviewError
from swapcheck.review_priority import (
    GROUP_BELOW_MINIMUM,
    GROUP_DECIDED,
    GROUP_UNDECIDED,
    priority_order,
    slice_decisions,
)
from swapcheck.store.connection import Store, first_row
from swapcheck.store.db_errors import DATABASE_ERRORS
from swapcheck.store.jsonpath import metadata_path
from swapcheck.store.judgments import (
    _CLAIM_ATTEMPTS,
    _TRANSIENT,
    LIVE,
    LIVE_J,
    _reserve,
    _slice_sql,
    _study_params,
)
from swapcheck.store.priority import (
    complete_pair_scores,
    contested_pair_ids,
    read_priority_settings,
    signals_signature,
)
from swapcheck.store.responses import succeeded
from swapcheck.store.studies import Study


def _queue_params(study: Study, reviewer: str, exclude: tuple[str, ...] = ()) -> dict[str, object]:
    return {
        "study_id": study.study_id,
        "reviewer": reviewer,
        "overlap": study.overlap,
        "exclude": list(exclude),
    }


@dataclass
class _QueueState:
    """Per-process hints for one study's queue; every one is re-checked against the database.

    ``ready``: ready pairs (pair_id, position, slice) by position, valid while ``signature``
    (answers, and identity-leak flags under 'exclude') is unchanged. ``satisfied``: slices seen
    at or above the slice minimum (only an undo lowers a count; undo clears it). ``order`` /
    ``order_below``: the search order for the current below-minimum slices. ``full_prefix``:
    how many leading pairs of ``order`` had all their slots judged at ``full_checked``; skipped
    for up to ``FULL_PREFIX_TTL_S`` (judged slots never expire; an undo or release in this
    process resets it, one in another process is noticed within that time).

    Prioritised review only (see ``_priority_plan``): ``contested`` per ready row, rebuilt when
    the evaluator/judge signature changes (checked every ``SIGNALS_TTL_S``); ``decided``
    slices of the stopping rule, recomputed when the live judgment count moved.
    """

    signature: tuple
    ready: pa.Table
    satisfied: set[str] = field(default_factory=set)
    order_below: frozenset[str] | None = None
    order_plan: tuple | None = None
    order: pa.Array | None = None
    full_prefix: int = 0
    full_checked: float = 0.0
    slotless: bool | None = None
    contested: np.ndarray | None = None
    signals: tuple | None = None
    signals_checked: float = 0.0
    decided: frozenset[str] = frozenset()
    decided_count: int | None = None
    population: pd.DataFrame | None = None
    slice_decisions: dict[str, str | None] = field(default_factory=dict)
    slice_counts: dict[str, int] = field(default_factory=dict)
    decided_rule: str = ""
    decided_checked: float = 0.0


FULL_PREFIX_TTL_S = 30.0
_FIRST_WINDOW = 512
_queue_states: dict[tuple[str, str, str, int], _QueueState] = {}
_ready_lock = threading.Lock()
_READY_CACHE_SIZE = 16


def _state_key(store: Store, study: Study) -> tuple[str, str, str, int]:
    return (str(store.path), study.study_id, study.identity_policy, study.slice_minimum)


def forget_queue_hints(store: Store, study: Study) -> None:
    """Drop the slice and full-prefix hints (after an undo or a release lowered a count)."""
    with _ready_lock:
        for key, state in _queue_states.items():
            if key[:2] == _state_key(store, study)[:2]:
                state.satisfied.clear()
                state.order_below, state.order, state.full_prefix = None, None, 0
                state.decided_count = None


def _queue_state(store: Store, cur: duckdb.DuckDBPyConnection, study: Study) -> _QueueState:
    """Ready pairs of the study (pair_id, position, slice), cached per process.

    Joining 100,000 pairs with both answers and reading each prompt's slice costs tens of ms,
    and only changes when answers (or, under 'exclude', identity-leak flags) are added, so the
    result is kept until a cheap signature of those tables changes.
    """
    exclude_leaks = study.identity_policy == "exclude"
    variants = [study.baseline_variant, study.candidate_variant]
    signature = first_row(
        cur.execute(
            "SELECT count(*), max(created_at) FROM responses r WHERE list_contains($v, variant) "
            f"AND {succeeded('r')}",
            {"v": variants},
        )
    )
    if exclude_leaks:
        signature = (
            *signature,
            *first_row(
                cur.execute(
                    "SELECT count(*), max(created_at) FROM evaluation_scores "
                    "WHERE evaluator = 'identity_leak' AND against = '' "
                    "AND list_contains($v, variant)",
                    {"v": variants},
                )
            ),
        )
    key = _state_key(store, study)
    with _ready_lock:
        cached = _queue_states.get(key)
    if cached is not None and cached.signature == signature:
        return cached
    join, slice_expr = _slice_sql(study)
    leak_filter = ""
    if exclude_leaks:
        leak_filter = (
            "AND NOT EXISTS (SELECT 1 FROM evaluation_scores e WHERE e.prompt_id = p.prompt_id "
            "AND e.variant IN ($baseline, $candidate) AND e.against = '' "
            "AND e.evaluator = 'identity_leak' AND e.config_hash = '' AND e.value > 0)"
        )
    params: dict[str, object] = _study_params(study)
    if study.slice_columns:
        params["slice_path"] = metadata_path(study.slice_columns[0])
    frame = cur.sql(
        f"""
        SELECT p.pair_id, p.position, {slice_expr} AS slice
        FROM pairs p {join}
        JOIN responses b ON b.prompt_id = p.prompt_id AND b.variant = $baseline
             AND {succeeded("b")}
        JOIN responses c ON c.prompt_id = p.prompt_id AND c.variant = $candidate
             AND {succeeded("c")}
        WHERE p.study_id = $study_id {leak_filter}
        ORDER BY p.position
        """,
        params=params,
    ).to_arrow_table()  # Arrow: DuckDB scans it without converting Python strings
    state = _QueueState(signature=signature, ready=frame)
    with _ready_lock:
        if len(_queue_states) >= _READY_CACHE_SIZE:
            _queue_states.pop(next(iter(_queue_states)))
        _queue_states[key] = state
    return state


@contextlib.contextmanager
def _queue_cursor(
    store: Store, study: Study
) -> Iterator[tuple[duckdb.DuckDBPyConnection, _QueueState]]:
    """A cursor on which ``queue_ready`` names the study's ready pairs (see ``_queue_ctes``)."""
    with store.cursor() as cur:
        state = _queue_state(store, cur, study)
        cur.register("queue_ready", state.ready)
        try:
            yield cur, state
        finally:
            with contextlib.suppress(*DATABASE_ERRORS):
                cur.unregister("queue_ready")


def _queue_ctes() -> str:
    """CTEs shared by the queue and the progress counts (on a ``_queue_cursor``).

    ``open_pairs``: ready pairs this reviewer has not judged (live), skipped or reserved, whose
    live judgments plus unexpired open reservations stay below the overlap, with their slot
    numbers in use and their slice.
    """
    return f"""
        ready AS (SELECT pair_id, position, slice FROM queue_ready),
        live AS (
            SELECT pair_id, reviewer FROM judgments WHERE study_id = $study_id AND {LIVE}
        ),
        judged AS (
            SELECT pair_id, count(*) AS n, bool_or(reviewer = $reviewer) AS mine
            FROM live GROUP BY pair_id
        ),
        held AS (
            SELECT pair_id, list(slot) AS slots, bool_or(reviewer = $reviewer) AS mine,
                   count(*) FILTER (WHERE NOT judged) AS n_open
            FROM reservations
            WHERE study_id = $study_id AND (judged OR expires_at > now())
            GROUP BY pair_id
        ),
        skipped AS (
            SELECT pair_id FROM skips WHERE study_id = $study_id AND reviewer = $reviewer
        ),
        open_pairs AS (
            SELECT r.pair_id, r.position, r.slice, coalesce(h.slots, []) AS slots
            FROM ready r LEFT JOIN judged j USING (pair_id) LEFT JOIN held h USING (pair_id)
            WHERE NOT coalesce(j.mine, false) AND NOT coalesce(h.mine, false)
              AND coalesce(j.n, 0) + coalesce(h.n_open, 0) < $overlap
              AND r.pair_id NOT IN (SELECT pair_id FROM skipped)
        )
    """


def _held_pair(cur: duckdb.DuckDBPyConnection, params: dict[str, object]) -> str | None:
    """The newest pair this reviewer holds (a pair just undone is newest), if any."""
    row = first_row(
        cur.execute(
            "SELECT pair_id FROM reservations WHERE study_id = $study_id AND reviewer = $reviewer "
            "AND NOT judged AND expires_at > now() "
            "AND NOT list_contains($exclude::VARCHAR[], pair_id) "
            "ORDER BY reserved_at DESC, pair_id LIMIT 1",
            {k: params[k] for k in ("study_id", "reviewer", "exclude")},
        )
    )
    return row[0] if row else None


def _below_minimum(
    cur: duckdb.DuckDBPyConnection, study: Study, state: _QueueState
) -> frozenset[str]:
    """Slices with fewer than ``slice_minimum`` live judgments (counting only unsettled ones)."""
    slices = set(state.ready.column("slice").unique().to_pylist())
    unsettled = sorted(slices - state.satisfied)
    if not unsettled or study.slice_minimum <= 0:
        return frozenset()
    counts = dict(
        cur.execute(
            f"SELECT r.slice, count(*) FROM judgments j JOIN queue_ready r USING (pair_id) "
            f"WHERE j.study_id = $study_id AND {LIVE_J} AND list_contains($slices, r.slice) "
            "GROUP BY r.slice",
            {"study_id": study.study_id, "slices": unsettled},
        ).fetchall()
    )
    reached = {s for s in unsettled if counts.get(s, 0) >= study.slice_minimum}
    with _ready_lock:
        state.satisfied |= reached
    return frozenset(set(unsettled) - reached)


def _search_order(state: _QueueState, below: frozenset[str], plan: tuple | None = None) -> pa.Array:
    """Row indices of ``state.ready``: below-minimum slices first, then the rest, by position.

    With a priority ``plan`` (contested share, decided slices, contested version): below-minimum
    slices, then undecided, then decided ones, each with its strata interleaved
    (``review_priority.priority_order``).
    """
    with _ready_lock:
        if state.order is not None and state.order_below == below and state.order_plan == plan:
            return state.order
    slices = state.ready.column("slice")
    if plan is None:
        first = pc.is_in(slices, value_set=pa.array(sorted(below), pa.string()))
        indices = pa.array(range(state.ready.num_rows), pa.int64())
        first = first.combine_chunks() if isinstance(first, pa.ChunkedArray) else first
        order = pa.concat_arrays([pc.filter(indices, first), pc.filter(indices, pc.invert(first))])
    else:
        share, decided, _version = plan
        labels = np.asarray(slices.to_pylist(), dtype=object)
        groups = np.full(labels.size, GROUP_UNDECIDED, dtype=np.int64)
        groups[np.isin(labels, list(decided))] = GROUP_DECIDED
        groups[np.isin(labels, list(below))] = GROUP_BELOW_MINIMUM
        contested = state.contested if state.contested is not None else np.zeros(0, bool)
        order = pa.array(priority_order(labels, contested, groups, share), pa.int64())
    with _ready_lock:
        state.order_below, state.order_plan, state.order, state.full_prefix = (
            below,
            plan,
            order,
            0,
        )
    return order


SIGNALS_TTL_S = 5.0
"""How often a prioritised queue checks for new evaluator scores or judge verdicts."""
DECIDED_TTL_S = 2.0


def _priority_plan(
    cur: duckdb.DuckDBPyConnection, study: Study, state: _QueueState
) -> tuple | None:
    """(contested share, decided slices, contested version) when prioritised review is on.

    None (the plain queue) when the study's ``review_priority`` setting is off or unreadable:
    a broken setting falls back to the uniform order, which is always unbiased.
    """
    try:
        settings = read_priority_settings(cur, study)
    except ConfigError:
        return None
    if not settings.enabled:
        return None
    now = time.monotonic()
    if state.contested is None or now - state.signals_checked >= SIGNALS_TTL_S:
        signature = signals_signature(cur, study)
        if state.contested is None or signature != state.signals:
            contested_ids = contested_pair_ids(cur, study)
            flags = pc.is_in(
                state.ready.column("pair_id"),
                value_set=pa.array(sorted(contested_ids), pa.string()),
            )
            with _ready_lock:
                state.contested = np.asarray(flags.to_numpy(zero_copy_only=False), dtype=bool)
                state.signals, state.decided_count = signature, None
                state.population = None
        state.signals_checked = now
    decided = (
        _decided_slices(cur, study, state, settings.stop_rule)
        if settings.stop_decided_slices
        else frozenset()
    )
    return (settings.contested_share, decided, state.signals)


def _decided_slices(
    cur: duckdb.DuckDBPyConnection, study: Study, state: _QueueState, rule: str
) -> frozenset[str]:
    """Slices the sequential stopping rule has decided, recomputed when judgments changed."""
    live = first_row(
        cur.execute(
            f"SELECT count(*) FROM judgments WHERE study_id = ? AND {LIVE}", [study.study_id]
        )
    )[0]
    step = max(1, state.ready.num_rows // 2000)
    if rule != state.decided_rule:
        state.decided_count, state.decided_rule = None, rule
    fresh = state.decided_count is not None and (
        live == state.decided_count
        or (
            abs(live - state.decided_count) < step
            and time.monotonic() - state.decided_checked < DECIDED_TTL_S
        )
    )
    if fresh:
        return state.decided
    assert state.contested is not None
    if state.population is None:
        state.population = pd.DataFrame(
            {
                "pair_id": state.ready.column("pair_id").to_pylist(),
                "slice": state.ready.column("slice").to_pylist(),
                "contested": state.contested,
            }
        )
    population = state.population
    scores = complete_pair_scores(cur, study)
    outcomes = scores.merge(population, on="pair_id", how="inner", sort=False)
    counts = outcomes.groupby("slice").size().to_dict()
    known = state.slice_decisions if state.decided_count is not None else {}
    changed = {s for s in population["slice"].unique() if s not in known}
    changed |= {s for s, n in counts.items() if n != state.slice_counts.get(s, 0)}
    if changed:
        fresh = slice_decisions(
            population.loc[population["slice"].isin(changed), ["slice", "contested"]],
            outcomes[outcomes["slice"].isin(changed)],
            study.margin,
            rule=rule,
            overlap=study.overlap,
        )
        known = {**known, **fresh}
    decided = frozenset(s for s, d in known.items() if d is not None)
    with _ready_lock:
        state.slice_decisions, state.slice_counts = known, counts
        state.decided, state.decided_count = decided, live
        state.decided_checked = time.monotonic()
    return decided


def _window_sql(with_judgments: bool) -> str:
    """Per pair of ``queue_window``: slots in use, full for everyone, ruled out for the reviewer.

    Every judgment stored by this module holds a judged reservation, so reservations alone
    give the counts; judgments are read too only for a study holding judgments stored without
    one (older databases).
    """
    judged_cte = (
        f"""judged AS (
            SELECT pair_id, count(*) AS n, bool_or(reviewer = $reviewer) AS mine FROM judgments
            WHERE study_id = $study_id AND {LIVE} AND pair_id IN (SELECT pair_id FROM win)
            GROUP BY pair_id
        ),"""
        if with_judgments
        else "judged AS (SELECT NULL::VARCHAR AS pair_id, 0 AS n, false AS mine LIMIT 0),"
    )
    used = "coalesce(j.n, 0) + coalesce(h.n_open, 0)" if with_judgments else "coalesce(h.n, 0)"
    settled = (
        "greatest(coalesce(j.n, 0), coalesce(h.n_judged, 0))"
        if with_judgments
        else "coalesce(h.n_judged, 0)"
    )
    return f"""
    WITH win AS (SELECT pair_id, ord FROM queue_window),
    {judged_cte}
    held AS (
        SELECT pair_id, list(slot) AS slots, bool_or(reviewer = $reviewer) AS mine,
               count(*) AS n, count(*) FILTER (WHERE NOT judged) AS n_open,
               count(*) FILTER (WHERE judged) AS n_judged
        FROM reservations
        WHERE study_id = $study_id AND (judged OR expires_at > now())
          AND pair_id IN (SELECT pair_id FROM win)
        GROUP BY pair_id
    ),
    skipped AS (
        SELECT pair_id FROM skips WHERE study_id = $study_id AND reviewer = $reviewer
    )
    SELECT w.ord, w.pair_id, coalesce(h.slots, []) AS slots, {used} >= $overlap AS full,
           {settled} >= $overlap AS settled,
           coalesce(j.mine, false) OR coalesce(h.mine, false)
             OR w.pair_id IN (SELECT pair_id FROM skipped)
             OR list_contains($exclude::VARCHAR[], w.pair_id) AS mine
    FROM win w LEFT JOIN judged j USING (pair_id) LEFT JOIN held h USING (pair_id)
    ORDER BY w.ord
    """


def _has_slotless_judgments(
    cur: duckdb.DuckDBPyConnection, study: Study, state: _QueueState
) -> bool:
    """Whether live judgments without a judged reservation exist (checked once per process)."""
    if state.slotless is None:
        row = first_row(
            cur.execute(
                f"SELECT count(*) FROM judgments j WHERE j.study_id = $s AND {LIVE_J} "
                "AND NOT EXISTS (SELECT 1 FROM reservations r WHERE r.study_id = $s "
                "AND r.pair_id = j.pair_id AND r.reviewer = j.reviewer AND r.judged)",
                {"s": study.study_id},
            )
        )
        state.slotless = bool(row and row[0])
    return state.slotless


def next_pair_id(
    store: Store, study: Study, reviewer: str, exclude: tuple[str, ...] = ()
) -> str | None:
    """Reserve and return the next pair for this reviewer.

    A reviewer keeps the pair they hold until they judge or skip it, or the reservation expires
    (``RESERVATION_TTL_MINUTES``); the newest hold first, so a pair just undone comes back
    first. Otherwise: pairs of slices with fewer than ``study.slice_minimum`` live judgments
    first, then the rest, each in the study's salted order (``pairs.position``); never a pair
    the reviewer judged (undone excepted), skipped or holds, and a pair is handed out to at
    most ``overlap`` reviewers at once.

    For speed at 100,000 pairs the search walks that order in growing windows and aggregates
    judgments and reservations of the window's pairs only (see ``_QueueState``).
    """
    params = _queue_params(study, reviewer, exclude)
    with _queue_cursor(store, study) as (cur, state):
        held = _held_pair(cur, params)
        if held:
            return held
        for _attempt in range(_CLAIM_ATTEMPTS):
            outcome = _claim_in_order(cur, study, reviewer, params, state)
            if outcome is not False:
                return outcome
        raise ReviewError(
            "Too many reviewers are taking pairs at this moment.",
            "Reload the page in a few seconds.",
        )


def _claim_in_order(
    cur: duckdb.DuckDBPyConnection,
    study: Study,
    reviewer: str,
    params: dict[str, object],
    state: _QueueState,
) -> str | None | bool:
    """One pass over the search order: the pair reserved, None if none is open, False if every
    open pair seen was taken by a concurrent reviewer first (the caller tries again)."""
    below = _below_minimum(cur, study, state)
    order = _search_order(state, below, _priority_plan(cur, study, state))
    start = 0
    with _ready_lock:
        if time.monotonic() - state.full_checked < FULL_PREFIX_TTL_S:
            start = min(state.full_prefix, len(order))
    size, lost, leading_full, prefix = _FIRST_WINDOW, False, True, start
    slotless = _has_slotless_judgments(cur, study, state)
    while start < len(order):
        indices = order[start : start + size]
        window = (
            state.ready.take(indices)
            .select(["pair_id"])
            .append_column("ord", pa.array(range(start, start + len(indices)), pa.int64()))
        )
        cur.register("queue_window", window)
        rows = cur.execute(_window_sql(slotless), params).fetchall()
        cur.unregister("queue_window")
        for ordinal, pair_id, slots, full, settled, mine in rows:
            if leading_full and settled:
                prefix = ordinal + 1
            else:
                leading_full = False
            if full or mine:
                continue
            free = next((s for s in range(study.overlap) if s not in slots), None)
            if free is not None and _reserve(cur, study, pair_id, free, reviewer):
                _remember_prefix(state, prefix)
                return pair_id
            lost = True
        start += len(indices)
        size *= 2
    _remember_prefix(state, prefix)
    return False if lost else None


def _remember_prefix(state: _QueueState, prefix: int) -> None:
    with _ready_lock:
        state.full_prefix, state.full_checked = prefix, time.monotonic()


def release_pair(store: Store, study: Study, pair_id: str, reviewer: str) -> None:
    """Give back a pair the reviewer holds, so someone else can take it."""
    forget_queue_hints(store, study)
    with store.cursor() as cur:
        _retry(
            cur,
            "DELETE FROM reservations WHERE study_id = ? AND pair_id = ? AND reviewer = ? "
            "AND NOT judged",
            [study.study_id, pair_id, reviewer],
        )


def _retry(cur: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> list[tuple]:
    """Run one auto-committed statement, again when a concurrent writer made it conflict."""
    for attempt in range(50):
        try:
            return cur.execute(sql, params).fetchall()
        except _TRANSIENT:
            if attempt == 49:
                raise
    return []


def record_skip(store: Store, study: Study, pair_id: str, reviewer: str, reason: str) -> None:
    """Remember the skip (the pair is never offered to this reviewer again) and release it."""
    with store.cursor() as cur:
        _retry(
            cur,
            "INSERT INTO skips (study_id, pair_id, reviewer, reason) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (study_id, pair_id, reviewer) DO UPDATE SET reason = excluded.reason, "
            "created_at = now()",
            [study.study_id, pair_id, reviewer, reason],
        )
    release_pair(store, study, pair_id, reviewer)


def reviewer_counts(store: Store, study: Study, reviewer: str) -> dict[str, int]:
    """This reviewer's live judgments, skips, and pairs still judgeable by them."""
    params = _queue_params(study, reviewer)
    del params["exclude"]
    with _queue_cursor(store, study) as (cur, _state):
        mine, skipped, available = first_row(
            cur.execute(
                f"""
                WITH {_queue_ctes()}
                SELECT (SELECT count(*) FROM live WHERE reviewer = $reviewer),
                       (SELECT count(*) FROM skipped),
                       (SELECT count(*) FROM open_pairs) + (
                           SELECT count(*) FROM reservations x JOIN ready r USING (pair_id)
                           WHERE x.study_id = $study_id AND x.reviewer = $reviewer
                             AND NOT x.judged AND x.expires_at > now()
                             AND x.pair_id NOT IN (SELECT pair_id FROM skipped))
                """,
                params,
            )
        )
    return {"mine": mine, "skipped": skipped, "available_to_me": available}


def study_counts(store: Store, study: Study) -> dict[str, int]:
    """Ready pairs, live judgments given and needed, reviewers, slices below the minimum."""
    params = _queue_params(study, "")
    del params["exclude"]
    with _queue_cursor(store, study) as (cur, _state):
        pairs, given, reviewers, below = first_row(
            cur.execute(
                f"""
                WITH {_queue_ctes()},
                slice_counts AS (
                    SELECT r.slice, count(l.pair_id) AS n
                    FROM ready r LEFT JOIN live l USING (pair_id) GROUP BY r.slice
                )
                SELECT (SELECT count(*) FROM ready), (SELECT count(*) FROM live),
                       (SELECT count(DISTINCT reviewer) FROM live),
                       (SELECT count(*) FROM slice_counts WHERE n < $slice_minimum)
                """,
                {**params, "slice_minimum": study.slice_minimum},
            )
        )
    return {
        "pairs": pairs,
        "judgments_given": given,
        "judgments_target": pairs * study.overlap,
        "reviewers": reviewers,
        "slices_below_minimum": below,
    }
