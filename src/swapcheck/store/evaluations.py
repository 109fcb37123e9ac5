"""Stored evaluator scores and their baseline-vs-candidate summary per study."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd

from swapcheck.store.connection import Store
from swapcheck.store.jsonpath import metadata_path
from swapcheck.store.studies import Study


def run_evaluators(store: Store, variant: str, prompt_ids: Sequence[str]) -> int:
    """Score each successful answer of ``variant`` lacking a current score; return rows added."""
    from swapcheck.evaluators import load_builtin

    registry = load_builtin()
    with store.cursor() as cur:
        rows = cur.execute(
            "WITH ids AS (SELECT DISTINCT unnest(?::VARCHAR[]) AS prompt_id) "
            "SELECT r.prompt_id, q.messages, r.text, "
            "       list(e.evaluator || ':' || e.version) FILTER (WHERE e.evaluator IS NOT NULL) "
            "FROM ids JOIN responses r USING (prompt_id) JOIN prompts q USING (prompt_id) "
            "LEFT JOIN evaluations e ON e.prompt_id = r.prompt_id AND e.variant = r.variant "
            "WHERE r.variant = ? AND r.error IS NULL AND r.text IS NOT NULL "
            "GROUP BY r.prompt_id, q.messages, r.text",
            [list(prompt_ids), variant],
        ).fetchall()
    out: list[dict[str, object]] = []
    for prompt_id, messages_json, text, done in rows:
        done_set = set(done or [])
        messages = json.loads(messages_json)
        for ev in registry.values():
            if f"{ev.name}:{ev.version}" in done_set:
                continue
            result = ev.fn(messages, text)
            if result is None:
                continue
            out.append(
                {
                    "prompt_id": prompt_id,
                    "variant": variant,
                    "evaluator": ev.name,
                    "version": ev.version,
                    "value": result.value,
                    "label": result.label,
                }
            )
    if not out:
        return 0
    frame = pd.DataFrame(out)
    with store.transaction() as cur:
        cur.register("incoming_evals", frame)
        cur.execute(
            "INSERT INTO evaluations (prompt_id, variant, evaluator, version, value, label) "
            "SELECT prompt_id, variant, evaluator, version, value, label FROM incoming_evals "
            "ON CONFLICT (prompt_id, variant, evaluator) DO UPDATE SET version = excluded.version, "
            "value = excluded.value, label = excluded.label, created_at = now()"
        )
        cur.unregister("incoming_evals")
    return len(out)


def evaluation_summary(store: Store, study: Study, by: str | None = None) -> pd.DataFrame:
    """Per evaluator (and slice value): baseline vs candidate mean score over the study's pairs.

    Only prompts scored for both variants count, so the two rates are over the same prompts.
    """
    group = "json_extract_string(q.metadata, $path)" if by else "'all'"
    params: dict[str, object] = {
        "study_id": study.study_id,
        "baseline": study.baseline_variant,
        "candidate": study.candidate_variant,
    }
    if by:
        params["path"] = metadata_path(by)
    with store.cursor() as cur:
        frame = cur.execute(
            f"""
            SELECT coalesce({group}, '(missing)') AS value, b.evaluator,
                   count(*) AS n, avg(b.value) AS baseline_rate, avg(c.value) AS candidate_rate,
                   avg(c.value) - avg(b.value) AS difference
            FROM pairs p JOIN prompts q USING (prompt_id)
            JOIN evaluations b ON b.prompt_id = p.prompt_id AND b.variant = $baseline
            JOIN evaluations c ON c.prompt_id = p.prompt_id AND c.variant = $candidate
                 AND c.evaluator = b.evaluator
            WHERE p.study_id = $study_id
            GROUP BY ALL ORDER BY b.evaluator, difference DESC
            """,
            params,
        ).df()
    frame.insert(0, "slice", by or "overall")
    return frame


def flagged_answers(store: Store, study: Study, evaluator: str) -> pd.DataFrame:
    """The study's answers that ``evaluator`` scored above 0: ``pair_id, prompt_id, role,
    variant, leaks, label``, in the study's pair order (baseline before candidate)."""
    with store.cursor() as cur:
        return cur.execute(
            "SELECT p.pair_id, p.prompt_id, "
            "CASE WHEN e.variant = $baseline THEN 'baseline' ELSE 'candidate' END AS role, "
            "e.variant, e.value::BIGINT AS leaks, e.label "
            "FROM pairs p JOIN evaluations e ON e.prompt_id = p.prompt_id "
            "AND e.variant IN ($baseline, $candidate) AND e.evaluator = $evaluator "
            "WHERE p.study_id = $study_id AND e.value > 0 "
            "ORDER BY p.position, role",
            {
                "study_id": study.study_id,
                "baseline": study.baseline_variant,
                "candidate": study.candidate_variant,
                "evaluator": evaluator,
            },
        ).df()
