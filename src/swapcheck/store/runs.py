"""Generation runs: one row per (run, variant) with live progress, spend and a stop request."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from swapcheck.store.connection import Store, first_row

ACTIVE = ("starting", "running", "stopping")
STALE_AFTER_S = 30.0
"""A running row whose process is gone, or silent this long on another host, is interrupted."""

_COLUMNS = (
    "run_id, study_id, variant, origin, status, total, succeeded, failed, input_tokens, "
    "output_tokens, cost, estimated_cost, budget, cancel_requested, pid, host, message, "
    "started_at, updated_at, finished_at"
)


@dataclass(frozen=True)
class RunRow:
    """A generation run as stored."""

    run_id: str
    study_id: str | None
    variant: str
    origin: str
    status: str
    total: int
    succeeded: int
    failed: int
    input_tokens: int
    output_tokens: int
    cost: float
    estimated_cost: float | None
    budget: float | None
    cancel_requested: bool
    pid: int | None
    host: str | None
    message: str | None
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def done(self) -> int:
        return self.succeeded + self.failed


def new_run_id() -> str:
    return "run-" + uuid.uuid4().hex[:12]


def create_run(
    store: Store,
    *,
    study_id: str | None,
    variant: str,
    origin: str,
    total: int,
    estimated_cost: float | None = None,
    budget: float | None = None,
    run_id: str | None = None,
) -> str:
    """Record a run that is about to start in this process; returns its id."""
    run_id = run_id or new_run_id()
    with store.cursor() as cur:
        cur.execute(
            "INSERT INTO generation_runs (run_id, study_id, variant, origin, status, total, "
            "estimated_cost, budget, pid, host) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
            [
                run_id,
                study_id,
                variant,
                origin,
                total,
                estimated_cost,
                budget,
                os.getpid(),
                socket.gethostname(),
            ],
        )
    return run_id


def update_run(
    store: Store,
    run_id: str,
    *,
    succeeded: int,
    failed: int,
    input_tokens: int,
    output_tokens: int,
    cost: float,
    status: str | None = None,
    message: str | None = None,
) -> bool:
    """Store the run's counters (a heartbeat too); returns whether a stop was requested."""
    finished = status is not None and status not in ACTIVE
    with store.cursor() as cur:
        row = first_row(
            cur.execute(
                "UPDATE generation_runs SET succeeded = ?, failed = ?, input_tokens = ?, "
                "output_tokens = ?, cost = ?, status = coalesce(?, status), "
                "message = coalesce(?, message), updated_at = now()::TIMESTAMP, "
                "finished_at = CASE WHEN ? THEN now()::TIMESTAMP ELSE finished_at END "
                "WHERE run_id = ? RETURNING cancel_requested",
                [
                    succeeded,
                    failed,
                    input_tokens,
                    output_tokens,
                    cost,
                    status,
                    message,
                    finished,
                    run_id,
                ],
            )
        )
    return bool(row and row[0])


def request_stop(store: Store, run_id: str) -> bool:
    """Ask a run (in any process) to stop; False when it is not running."""
    with store.cursor() as cur:
        row = first_row(
            cur.execute(
                "UPDATE generation_runs SET cancel_requested = true, status = 'stopping', "
                "updated_at = now()::TIMESTAMP WHERE run_id = ? AND status IN "
                "('starting', 'running', 'stopping') RETURNING run_id",
                [run_id],
            )
        )
    return row is not None


def stop_requested(store: Store, run_id: str) -> bool:
    with store.cursor() as cur:
        row = first_row(
            cur.execute("SELECT cancel_requested FROM generation_runs WHERE run_id = ?", [run_id])
        )
    return bool(row and row[0])


def get_run(store: Store, run_id: str) -> RunRow | None:
    with store.cursor() as cur:
        row = first_row(
            cur.execute(f"SELECT {_COLUMNS} FROM generation_runs WHERE run_id = ?", [run_id])
        )
    return RunRow(*row) if row else None


def list_runs(
    store: Store, *, study_id: str | None = None, limit: int = 50, active_only: bool = False
) -> list[RunRow]:
    """Newest first; interrupted runs (process gone) are marked so before listing."""
    mark_interrupted(store)
    where, params = [], []
    if study_id is not None:
        where.append("study_id = ?")
        params.append(study_id)
    if active_only:
        where.append("status IN ('starting', 'running', 'stopping')")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    with store.cursor() as cur:
        rows = cur.execute(
            f"SELECT {_COLUMNS} FROM generation_runs {clause} "
            "ORDER BY started_at DESC, run_id LIMIT ?",
            [*params, limit],
        ).fetchall()
    return [RunRow(*r) for r in rows]


def runs_frame(runs: list[RunRow]) -> pd.DataFrame:
    """A display table of runs (no secrets: runs never hold any)."""
    return pd.DataFrame(
        [
            {
                "run": r.run_id,
                "variant": r.variant,
                "status": r.status,
                "done": f"{r.done}/{r.total}",
                "failed": r.failed,
                "tokens": r.input_tokens + r.output_tokens,
                "spend $": round(r.cost, 4),
                "budget $": r.budget,
                "from": r.origin,
                "started": r.started_at,
                "note": r.message or "",
            }
            for r in runs
        ]
    )


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_interrupted(store: Store) -> int:
    """Runs still marked active whose process died (or went silent) become 'interrupted'."""
    host = socket.gethostname()
    with store.cursor() as cur:
        rows = cur.execute(
            "SELECT run_id, pid, host, epoch(now()::TIMESTAMP - updated_at) FROM generation_runs "
            "WHERE status IN ('starting', 'running', 'stopping')"
        ).fetchall()
        dead = [
            run_id
            for run_id, pid, run_host, silent_s in rows
            if (run_host == host and not _alive(pid))
            or (run_host != host and float(silent_s or 0) > STALE_AFTER_S)
        ]
        if dead:
            cur.execute(
                "UPDATE generation_runs SET status = 'interrupted', finished_at = "
                "now()::TIMESTAMP, message = coalesce(message, 'the process running it ended "
                "before it finished; start the run again to resume') "
                "WHERE list_contains(?, run_id)",
                [dead],
            )
    return len(dead)
