"""Priority signals per pair (evaluators, LLM judge, length) and a study's priority setting."""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from swapcheck.review_priority import PrioritySettings, parse_priority_settings
from swapcheck.store.connection import Store, first_row
from swapcheck.store.judgments import LIVE, LIVE_J
from swapcheck.store.responses import succeeded
from swapcheck.store.settings import get_setting, set_setting
from swapcheck.store.studies import Study

LENGTH_LOG2_RATIO = 1.0
"""A pair is contested when one answer is at least 2**this times longer than the other."""


def priority_setting_key(study: Study) -> str:
    return f"review_priority.{study.study_id.lower()}"


def get_priority_settings(store: Store, study: Study) -> PrioritySettings:
    """The study's prioritised-review setting (disabled unless an admin turned it on)."""
    return parse_priority_settings(get_setting(store, priority_setting_key(study)))


def set_priority_settings(store: Store, study: Study, settings: PrioritySettings) -> None:
    """Validate and store the study's prioritised-review setting."""
    checked = parse_priority_settings(settings.as_json())
    set_setting(store, priority_setting_key(study), checked.as_json())


def read_priority_settings(cur: duckdb.DuckDBPyConnection, study: Study) -> PrioritySettings:
    """Like :func:`get_priority_settings` on an open cursor (the queue's)."""
    row = first_row(
        cur.execute("SELECT value FROM settings WHERE key = ?", [priority_setting_key(study)])
    )
    return parse_priority_settings(json.loads(row[0]) if row else None)


def rate_evaluator_names(configured: object) -> list[str] | None:
    """Instance names of rate evaluators (registered ones and the study's configured instances).

    None when the evaluator registry cannot be loaded; callers then treat any evaluator whose
    two values are 0 and 1 as a rate.
    """
    try:
        from swapcheck.evaluators import load_builtin

        registry = load_builtin()
    except Exception:  # a broken evaluator module must not stop the review queue
        return None
    names = {name for name, ev in registry.items() if ev.kind == "rate" and ev.scope == "response"}
    instances = configured.get("instances", []) if isinstance(configured, dict) else []
    for instance in instances if isinstance(instances, list) else []:
        if not isinstance(instance, dict):
            continue
        ev = registry.get(str(instance.get("evaluator")))
        if ev is not None and ev.kind == "rate" and ev.scope == "response":
            names.add(str(instance.get("name")))
    return sorted(names)


def signals_signature(cur: duckdb.DuckDBPyConnection, study: Study) -> tuple:
    """Changes whenever an evaluator score, judge verdict or judge call of the study changes."""
    return (
        first_row(
            cur.execute(
                """
            SELECT (SELECT count(*) FROM evaluation_scores
                    WHERE variant IN ($baseline, $candidate)),
                   (SELECT max(created_at) FROM evaluation_scores
                    WHERE variant IN ($baseline, $candidate)),
                   (SELECT count(*) FROM judgments WHERE study_id = $study_id
                    AND reviewer_type = 'judge' AND undone_at IS NULL),
                   (SELECT max(created_at) FROM judgments WHERE study_id = $study_id
                    AND reviewer_type = 'judge'),
                   (SELECT count(*) FROM judge_calls WHERE study_id = $study_id),
                   (SELECT max(created_at) FROM judge_calls WHERE study_id = $study_id)
            """,
                {
                    "study_id": study.study_id,
                    "baseline": study.baseline_variant,
                    "candidate": study.candidate_variant,
                },
            )
        )
        or ()
    )


def contested_pair_ids(cur: duckdb.DuckDBPyConnection, study: Study) -> set[str]:
    """Pairs where the evaluators or an LLM judge see a difference between the two answers.

    Contested: a rate evaluator scores the two answers differently; one answer is at least
    twice as long as the other (characters); a judge's two presentation orders disagree; or a
    judge verdict favours the baseline. Works (returns fewer pairs) when none are stored.
    """
    evaluators_row = first_row(
        cur.execute(
            "SELECT value FROM settings WHERE key = ?",
            [f"evaluators.{study.study_id.lower()}"],
        )
    )
    configured = json.loads(evaluators_row[0]) if evaluators_row else None
    rate_names = rate_evaluator_names(configured)
    rate_filter = "list_contains($rate_names, b.evaluator)" if rate_names is not None else "true"
    params: dict[str, object] = {
        "study_id": study.study_id,
        "baseline": study.baseline_variant,
        "candidate": study.candidate_variant,
        "ratio": LENGTH_LOG2_RATIO,
    }
    if rate_names is not None:
        params["rate_names"] = rate_names
    rows = cur.execute(
        f"""
        WITH sp AS (SELECT pair_id, prompt_id FROM pairs WHERE study_id = $study_id),
        evaluators_disagree AS (
            SELECT sp.pair_id FROM sp
            JOIN evaluation_scores b ON b.prompt_id = sp.prompt_id AND b.variant = $baseline
                 AND b.against = ''
            JOIN evaluation_scores c ON c.prompt_id = sp.prompt_id AND c.variant = $candidate
                 AND c.against = '' AND c.evaluator = b.evaluator
                 AND c.config_hash = b.config_hash
            WHERE {rate_filter} AND b.value IN (0, 1) AND c.value IN (0, 1)
              AND b.value <> c.value
        ),
        length_differs AS (
            SELECT sp.pair_id FROM sp
            JOIN responses b ON b.prompt_id = sp.prompt_id AND b.variant = $baseline
                 AND {succeeded("b")}
            JOIN responses c ON c.prompt_id = sp.prompt_id AND c.variant = $candidate
                 AND {succeeded("c")}
            WHERE abs(log2(greatest(length(c.text), 1) / greatest(length(b.text), 1)))
                  >= $ratio
        ),
        judge_prefers_baseline AS (
            SELECT pair_id FROM judgments WHERE study_id = $study_id
              AND reviewer_type = 'judge' AND undone_at IS NULL AND choice = 'baseline'
        ),
        judge_inconsistent AS (
            SELECT pair_id FROM judge_calls WHERE study_id = $study_id AND verdict IS NOT NULL
            GROUP BY pair_id, judge_variant, rubric_hash
            HAVING count(DISTINCT verdict) > 1
        )
        SELECT pair_id FROM evaluators_disagree UNION SELECT pair_id FROM length_differs
        UNION SELECT pair_id FROM judge_prefers_baseline
        UNION SELECT pair_id FROM judge_inconsistent
        """,
        params,
    ).fetchall()
    return {r[0] for r in rows}


def contested_for_study(store: Store, study: Study) -> set[str]:
    """:func:`contested_pair_ids` on a fresh cursor."""
    with store.cursor() as cur:
        return contested_pair_ids(cur, study)


def human_votes_per_pair(store: Store, study: Study) -> pd.DataFrame:
    """``pair_id``, ``votes``: live human judgments of each judged pair of the study."""
    with store.cursor() as cur:
        return cur.execute(
            f"SELECT pair_id, count(*) AS votes FROM judgments WHERE study_id = ? AND {LIVE} "
            "GROUP BY pair_id",
            [study.study_id],
        ).df()


def complete_scores_of(store: Store, study: Study, pair_ids: list[str]) -> pd.DataFrame:
    """:func:`complete_pair_scores` of ``pair_ids`` (ready pairs, in queue order) on a fresh
    cursor: the admin's view counts a pair complete exactly as the queue does."""
    ready = pd.DataFrame({"pair_id": pair_ids, "position": range(len(pair_ids))})
    with store.cursor() as cur:
        cur.register("queue_ready", ready)
        try:
            return complete_pair_scores(cur, study)
        finally:
            cur.unregister("queue_ready")


def complete_pair_scores(cur: duckdb.DuckDBPyConnection, study: Study) -> pd.DataFrame:
    """``pair_id``, ``score`` (judgments' mean) of the pairs with all ``overlap`` live human
    judgments, by position.

    Run on a queue cursor (``queue_ready`` registered), so only ready pairs count.
    """
    return cur.execute(
        f"""
        SELECT j.pair_id, avg(CASE j.choice WHEN 'candidate' THEN 1.0 WHEN 'baseline' THEN 0.0
                               ELSE 0.5 END) AS score
        FROM judgments j JOIN queue_ready r USING (pair_id)
        WHERE j.study_id = $study_id AND {LIVE_J}
        GROUP BY j.pair_id, r.position HAVING count(*) >= $overlap
        ORDER BY r.position
        """,
        {"study_id": study.study_id, "overlap": study.overlap},
    ).df()
