"""LLM judge storage: its per-study setting, its calls (``judge_calls``) and its judgments."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from swapcheck.errors import ConfigError
from swapcheck.models import CHOICES, canonical_json
from swapcheck.store.advisory import advisory_key
from swapcheck.store.connection import Store
from swapcheck.store.settings import JSONValue, get_setting, set_setting
from swapcheck.store.studies import Study

JUDGE_PREFIX = "judge:"
"""Reviewer names of LLM judges: ``judge:<variant name>``."""
ROLES: tuple[str, ...] = ("baseline", "candidate")


def judge_reviewer(variant: str) -> str:
    return f"{JUDGE_PREFIX}{variant}"


def setting_key(study: Study) -> str:
    """Settings key of a study's judge configuration."""
    return f"judge.{study.study_id.lower()}"


@dataclass(frozen=True)
class InVerdict:
    """Slices whose judge verdicts may stand in for missing human ones in the sign-off verdict."""

    column: str
    values: tuple[str, ...]

    def to_json(self) -> dict[str, JSONValue]:
        return {"column": self.column, "values": list(self.values)}


@dataclass(frozen=True)
class JudgeConfig:
    """A study's judge: which variant judges, the rubric text (None: the default) and version."""

    variant: str | None = None
    rubric: str | None = None
    version: int = 1
    in_verdict: InVerdict | None = None

    def to_json(self) -> dict[str, JSONValue]:
        data: dict[str, JSONValue] = {
            "variant": self.variant,
            "rubric": self.rubric,
            "version": self.version,
        }
        if self.in_verdict is not None:
            data["in_verdict"] = self.in_verdict.to_json()
        return data


def _bad(key: str, what: str) -> ConfigError:
    return ConfigError(
        f"The judge setting {key!r} is invalid: {what}.",
        "Set it again with `swapcheck judge --study NAME --variant V [--rubric-file F]`.",
    )


def _parse_in_verdict(key: str, raw: Any) -> InVerdict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("column"), str):
        raise _bad(key, "in_verdict must be an object with a column and values")
    values = raw.get("values")
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _bad(key, "in_verdict values must be a list of strings")
    return InVerdict(raw["column"], tuple(values))


def load_judge_config(store: Store, study: Study) -> JudgeConfig:
    """The study's judge setting (defaults when none is stored); refuses a malformed one."""
    key = setting_key(study)
    raw = get_setting(store, key)
    if raw is None:
        return JudgeConfig()
    if not isinstance(raw, dict):
        raise _bad(key, "it is not a JSON object")
    variant, rubric, version = raw.get("variant"), raw.get("rubric"), raw.get("version", 1)
    if variant is not None and not isinstance(variant, str):
        raise _bad(key, "variant must be a name")
    if rubric is not None and not isinstance(rubric, str):
        raise _bad(key, "rubric must be text")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _bad(key, "version must be a whole number >= 1")
    return JudgeConfig(variant, rubric, version, _parse_in_verdict(key, raw.get("in_verdict")))


def save_judge_config(store: Store, study: Study, config: JudgeConfig) -> None:
    set_setting(store, setting_key(study), config.to_json())


# -- judge_calls --------------------------------------------------------------------------------


@dataclass
class JudgeCall:
    """One judge call on a pair in one presentation order (``left_role`` shown first)."""

    pair_id: str
    left_role: str
    verdict: str | None
    rationale: str | None = None
    raw_text: str | None = None
    error: str | None = None
    request_hash: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None


_CALL_COLUMNS = (
    "study_id, pair_id, judge_variant, rubric_hash, left_role, verdict, rationale, raw_text, "
    "error, request_hash, input_tokens, output_tokens, cost_usd, latency_ms"
)


def save_judge_calls(
    store: Store, study: Study, variant: str, rubric_hash: str, calls: Sequence[JudgeCall]
) -> None:
    """Insert the calls, replacing an earlier attempt of the same (pair, order) (a retry)."""
    if not calls:
        return
    for call in calls:
        if call.left_role not in ROLES:
            raise ValueError(f"left_role must be baseline or candidate, not {call.left_role!r}")
        if call.verdict is not None and call.verdict not in CHOICES:
            raise ValueError(f"unknown verdict {call.verdict!r}")
    rows = [
        [
            study.study_id,
            c.pair_id,
            variant,
            rubric_hash,
            c.left_role,
            c.verdict,
            c.rationale,
            c.raw_text,
            c.error,
            c.request_hash,
            c.input_tokens,
            c.output_tokens,
            c.cost_usd,
            c.latency_ms,
        ]
        for c in calls
    ]
    with store.transaction() as cur:
        cur.executemany(
            f"INSERT INTO judge_calls ({_CALL_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (study_id, pair_id, judge_variant, rubric_hash, left_role) DO UPDATE SET "
            "verdict = excluded.verdict, rationale = excluded.rationale, "
            "raw_text = excluded.raw_text, error = excluded.error, "
            "request_hash = excluded.request_hash, input_tokens = excluded.input_tokens, "
            "output_tokens = excluded.output_tokens, cost_usd = excluded.cost_usd, "
            "latency_ms = excluded.latency_ms, created_at = now()",
            rows,
        )


def judged_orders(
    store: Store, study: Study, variant: str, rubric_hash: str
) -> set[tuple[str, str]]:
    """(pair_id, left_role) already answered with a verdict by this judge and rubric."""
    with store.cursor() as cur:
        rows = cur.execute(
            "SELECT pair_id, left_role FROM judge_calls WHERE study_id = ? AND judge_variant = ? "
            "AND rubric_hash = ? AND verdict IS NOT NULL",
            [study.study_id, variant, rubric_hash],
        ).fetchall()
    return {(r[0], r[1]) for r in rows}


def judge_calls_frame(
    store: Store, study: Study, variant: str | None = None, rubric_hash: str | None = None
) -> pd.DataFrame:
    """Every stored judge call of the study (optionally one judge / one rubric), oldest first."""
    with store.cursor() as cur:
        return cur.execute(
            f"SELECT {_CALL_COLUMNS}, created_at FROM judge_calls WHERE study_id = $1 "
            "AND ($2::VARCHAR IS NULL OR judge_variant = $2) "
            "AND ($3::VARCHAR IS NULL OR rubric_hash = $3) "
            "ORDER BY created_at, pair_id, left_role",
            [study.study_id, variant, rubric_hash],
        ).df()


@dataclass(frozen=True)
class OrderedVerdicts:
    """A pair's two verdicts under one judge and rubric (by which answer was shown first)."""

    pair_id: str
    baseline_first: str
    candidate_first: str
    rationale_baseline_first: str
    rationale_candidate_first: str


def complete_pairs(
    store: Store, study: Study, variant: str, rubric_hash: str
) -> list[OrderedVerdicts]:
    """Pairs with a verdict in both orders under this judge and rubric."""
    with store.cursor() as cur:
        rows = cur.execute(
            "SELECT b.pair_id, b.verdict, c.verdict, coalesce(b.rationale, ''), "
            "coalesce(c.rationale, '') FROM judge_calls b JOIN judge_calls c "
            "ON c.study_id = b.study_id AND c.pair_id = b.pair_id "
            "AND c.judge_variant = b.judge_variant AND c.rubric_hash = b.rubric_hash "
            "AND c.left_role = 'candidate' "
            "WHERE b.study_id = ? AND b.judge_variant = ? AND b.rubric_hash = ? "
            "AND b.left_role = 'baseline' AND b.verdict IS NOT NULL AND c.verdict IS NOT NULL "
            "ORDER BY b.pair_id",
            [study.study_id, variant, rubric_hash],
        ).fetchall()
    return [OrderedVerdicts(*row) for row in rows]


# -- judge judgments ----------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeJudgment:
    """A live judge judgment of one pair."""

    judgment_id: str
    pair_id: str
    choice: str
    reason_tags: tuple[str, ...]
    comment: str | None


def live_judge_judgments(store: Store, study: Study, reviewer: str) -> dict[str, JudgeJudgment]:
    """This judge's live (not undone) judgments of the study, by pair."""
    with store.cursor() as cur:
        rows = cur.execute(
            "SELECT judgment_id, pair_id, choice, reason_tags, comment FROM judgments "
            "WHERE study_id = ? AND reviewer = ? AND reviewer_type = 'judge' "
            "AND undone_at IS NULL ORDER BY created_at, judgment_id",
            [study.study_id, reviewer],
        ).fetchall()
    return {
        r[1]: JudgeJudgment(r[0], r[1], r[2], tuple(json.loads(r[3]) if r[3] else ()), r[4])
        for r in rows
    }


@dataclass(frozen=True)
class NewJudgeJudgment:
    pair_id: str
    choice: str
    reason_tags: tuple[str, ...]
    comment: str


def write_judge_judgments(
    store: Store,
    study: Study,
    reviewer: str,
    new: Sequence[NewJudgeJudgment],
    undo_ids: Iterable[str] = (),
) -> dict[str, str]:
    """In one transaction: mark ``undo_ids`` undone, then append ``new`` (no review slot).

    Judgments are append-only: a replaced verdict stays stored with ``undone_at`` set. Two
    runs of one judge on one study may overlap (several workers on PostgreSQL, or two app
    sessions): writers take turns (a process lock, and on PostgreSQL a transaction advisory
    lock), and a pair that already has a live verdict of this judge not being undone keeps it,
    so a pair never holds two. Returns {pair id: judgment id} of the judgments appended.
    """
    if not reviewer.startswith(JUDGE_PREFIX):
        raise ValueError(f"judge reviewers are named {JUDGE_PREFIX}<variant>, not {reviewer!r}")
    for item in new:
        if item.choice not in CHOICES:
            raise ValueError(f"unknown choice {item.choice!r}")
    undo = list(undo_ids)
    ids = ["j_" + uuid.uuid4().hex for _ in new]
    rows = [
        [
            judgment_id,
            study.study_id,
            item.pair_id,
            reviewer,
            item.choice,
            item.comment,
            canonical_json(list(item.reason_tags)) if item.reason_tags else None,
        ]
        for judgment_id, item in zip(ids, new, strict=True)
    ]
    with _VERDICT_WRITERS, store.transaction() as cur:
        if getattr(cur, "dialect", "duckdb") == "postgres":  # other processes take turns too
            cur.raw.execute(  # type: ignore[attr-defined]
                "SELECT pg_advisory_xact_lock(%s)",
                [advisory_key(store.schema, "judge", study.study_id, reviewer)],
            )
        if undo:
            cur.execute(
                "UPDATE judgments SET undone_at = now() WHERE list_contains($1, judgment_id) "
                "AND study_id = $2 AND reviewer_type = 'judge' AND undone_at IS NULL",
                [undo, study.study_id],
            )
        live = {
            r[0]
            for r in cur.execute(
                "SELECT pair_id FROM judgments WHERE study_id = ? AND reviewer = ? "
                "AND reviewer_type = 'judge' AND undone_at IS NULL",
                [study.study_id, reviewer],
            ).fetchall()
        }
        rows = [r for r in rows if r[2] not in live]  # another run wrote it meanwhile
        if rows:
            cur.executemany(
                "INSERT INTO judgments (judgment_id, study_id, pair_id, reviewer, reviewer_type, "
                "left_role, choice, comment, reason_tags) "
                "VALUES (?, ?, ?, ?, 'judge', 'baseline', ?, ?, ?)",
                rows,
            )
    return {r[2]: r[0] for r in rows}


_VERDICT_WRITERS = threading.Lock()
