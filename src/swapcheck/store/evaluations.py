"""Stored evaluator scores (``evaluation_scores``): reads, batched writes and per-study frames."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from swapcheck.store.connection import Store
from swapcheck.store.db_errors import retry_transient
from swapcheck.store.jsonpath import metadata_path
from swapcheck.store.judgments import READY_PAIRS_SQL
from swapcheck.store.responses import succeeded
from swapcheck.store.studies import Study

if TYPE_CHECKING:
    from swapcheck.evaluation_config import Instance

SCORE_COLUMNS = ("prompt_id", "variant", "against", "evaluator", "config_hash", "version")
"""Columns of a frame given to :func:`write_scores`, followed by ``value`` and ``label``."""
FRAME_COLUMNS = (
    "pair_id",
    "prompt_id",
    "evaluator",
    "scope",
    "kind",
    "higher_is",
    "baseline",
    "candidate",
    "value",
)
_INSTANCE_COLUMNS = ("evaluator", "config_hash", "version", "scope", "kind", "higher_is")


def run_evaluators(store: Store, variant: str, prompt_ids: Sequence[str]) -> int:
    """Score ``variant``'s successful answers to ``prompt_ids`` with the default response
    instances (no study configuration); returns the score rows stored. Never raises for an
    evaluator's own error (generation must not fail because of a check)."""
    from swapcheck.evaluate import score_variant_answers

    return score_variant_answers(store, variant, prompt_ids).stored


def _instances_frame(instances: Sequence[Instance]) -> pd.DataFrame:
    """One row per instance: name (as ``evaluator``), hash, version, scope, kind, direction."""
    rows = []
    for inst in instances:
        spec = inst.spec
        rows.append(
            (inst.name, inst.config_hash, spec.version, spec.scope, spec.kind, spec.higher_is)
        )
    frame = pd.DataFrame(rows, columns=list(_INSTANCE_COLUMNS))
    return frame.astype({"version": "int64"})


def study_answers(store: Store, study: Study) -> list[tuple]:
    """The study's pairs in order: ``prompt_id, messages, metadata, baseline_text,
    candidate_text`` (JSON strings; a text is None unless that answer succeeded)."""
    with store.cursor() as cur:
        return cur.execute(
            "SELECT p.prompt_id, q.messages, q.metadata, b.text, c.text "
            "FROM pairs p JOIN prompts q ON q.prompt_id = p.prompt_id "
            "LEFT JOIN responses b ON b.prompt_id = p.prompt_id AND b.variant = $baseline "
            f"     AND {succeeded('b')} "
            "LEFT JOIN responses c ON c.prompt_id = p.prompt_id AND c.variant = $candidate "
            f"     AND {succeeded('c')} "
            "WHERE p.study_id = $study_id ORDER BY p.position",
            {
                "study_id": study.study_id,
                "baseline": study.baseline_variant,
                "candidate": study.candidate_variant,
            },
        ).fetchall()


def variant_answers(store: Store, variant: str, prompt_ids: Sequence[str]) -> list[tuple]:
    """``prompt_id, messages, metadata, text`` of ``variant``'s successful answers."""
    with store.cursor() as cur:
        return cur.execute(
            "WITH ids AS (SELECT DISTINCT unnest(?::VARCHAR[]) AS prompt_id) "
            "SELECT r.prompt_id, q.messages, q.metadata, r.text "
            "FROM ids JOIN responses r USING (prompt_id) JOIN prompts q USING (prompt_id) "
            f"WHERE r.variant = ? AND {succeeded('r')} "
            "ORDER BY r.prompt_id",
            [list(prompt_ids), variant],
        ).fetchall()


def current_score_keys(
    store: Store,
    instances: Sequence[Instance],
    prompt_ids: Sequence[str],
    variants: Sequence[str],
) -> set[tuple[str, str, str, str]]:
    """``(evaluator, prompt_id, variant, against)`` of stored scores that are up to date: same
    instance name, config hash and evaluator version."""
    if not instances or not prompt_ids:
        return set()
    wanted = _instances_frame(instances)
    with store.cursor() as cur:
        cur.register("wanted_instances", wanted)
        try:
            rows = cur.execute(
                "WITH ids AS (SELECT DISTINCT unnest($ids::VARCHAR[]) AS prompt_id) "
                "SELECT s.evaluator, s.prompt_id, s.variant, s.against "
                "FROM evaluation_scores s JOIN ids USING (prompt_id) "
                "JOIN wanted_instances w ON w.evaluator = s.evaluator "
                "     AND w.config_hash = s.config_hash AND w.version = s.version "
                "WHERE list_contains($variants, s.variant)",
                {"ids": list(prompt_ids), "variants": list(variants)},
            ).fetchall()
        finally:
            cur.unregister("wanted_instances")
    return {tuple(r) for r in rows}  # type: ignore[misc]


def write_scores(store: Store, frame: pd.DataFrame) -> int:
    """Store score rows in one transaction; returns how many were written.

    ``frame`` has :data:`SCORE_COLUMNS` + ``value`` (NULL = not applicable) + ``label``. A
    stored row for the same answer and instance with another config hash is deleted (the
    instance's options changed); one with the same hash is updated in place.
    """
    if frame.empty:
        return 0
    incoming = (
        frame[[*SCORE_COLUMNS, "value", "label"]]
        .astype({"version": "int64", "value": "float64", "label": "object"})
        .sort_values(list(SCORE_COLUMNS))  # one lock order for concurrent writers
    )
    # another worker may score the same answers at the same time
    retry_transient(lambda: _write_scores_once(store, incoming))
    return len(incoming)


def _write_scores_once(store: Store, incoming: pd.DataFrame) -> None:
    with store.transaction() as cur:
        cur.register("incoming_scores", incoming)
        try:
            cur.execute(
                "DELETE FROM evaluation_scores s USING incoming_scores i "
                "WHERE s.prompt_id = i.prompt_id AND s.variant = i.variant "
                "AND s.against = i.against AND s.evaluator = i.evaluator "
                "AND s.config_hash <> i.config_hash"
            )
            cur.execute(
                "INSERT INTO evaluation_scores "
                "(prompt_id, variant, against, evaluator, config_hash, version, value, label) "
                "SELECT prompt_id, variant, against, evaluator, config_hash, version, value, "
                "label FROM incoming_scores ORDER BY prompt_id, variant, against, evaluator, "
                "config_hash "
                "ON CONFLICT (prompt_id, variant, against, evaluator, config_hash) DO UPDATE SET "
                "version = excluded.version, value = excluded.value, label = excluded.label, "
                "created_at = now()"
            )
        finally:
            cur.unregister("incoming_scores")


def evaluation_frame(store: Store, study: Study) -> pd.DataFrame:
    """One row per (pair whose two answers succeeded, effective evaluator instance).

    Columns :data:`FRAME_COLUMNS` + one per study slice column (string or None). ``baseline``
    and ``candidate`` are response evaluators' values (NaN when not applicable or not scored
    with the current version and options); ``value`` is a pair evaluator's value.
    """
    from swapcheck.evaluation_config import study_instances

    instances = _instances_frame(study_instances(store, study))
    slice_selects = "".join(
        f", json_extract_string(q.metadata, $slice_{i}) AS slice_{i}"
        for i, _ in enumerate(study.slice_columns)
    )
    params: dict[str, object] = {
        "study_id": study.study_id,
        "baseline": study.baseline_variant,
        "candidate": study.candidate_variant,
    }
    params.update({f"slice_{i}": metadata_path(c) for i, c in enumerate(study.slice_columns)})

    def score_join(alias: str, scope: str, variant: str, against: str) -> str:
        return (
            f"LEFT JOIN evaluation_scores {alias} ON i.scope = '{scope}' "
            f"AND {alias}.prompt_id = r.prompt_id AND {alias}.variant = {variant} "
            f"AND {alias}.against = {against} AND {alias}.evaluator = i.evaluator "
            f"AND {alias}.config_hash = i.config_hash AND {alias}.version = i.version "
        )

    with store.cursor() as cur:
        cur.register("frame_instances", instances)
        try:
            frame = cur.execute(
                f"WITH ready AS ({READY_PAIRS_SQL}) "
                "SELECT r.pair_id, r.prompt_id, i.evaluator, i.scope, i.kind, i.higher_is, "
                "sb.value::DOUBLE AS baseline, sc.value::DOUBLE AS candidate, "
                f"sp.value::DOUBLE AS value{slice_selects} "
                "FROM ready r CROSS JOIN frame_instances i "
                "JOIN prompts q ON q.prompt_id = r.prompt_id "
                + score_join("sb", "response", "$baseline", "''")
                + score_join("sc", "response", "$candidate", "''")
                + score_join("sp", "pair", "$candidate", "$baseline")
                + "ORDER BY r.position, i.evaluator",
                params,
            ).df()
        finally:
            cur.unregister("frame_instances")
    return frame.rename(columns={f"slice_{i}": c for i, c in enumerate(study.slice_columns)})


def flagged_answers(store: Store, study: Study, evaluator: str) -> pd.DataFrame:
    """The study's answers that the default instance ``evaluator`` scored above 0: ``pair_id,
    prompt_id, role, variant, leaks, label``, in the study's pair order (baseline first)."""
    with store.cursor() as cur:
        return cur.execute(
            "SELECT p.pair_id, p.prompt_id, "
            "CASE WHEN e.variant = $baseline THEN 'baseline' ELSE 'candidate' END AS role, "
            "e.variant, e.value::BIGINT AS leaks, e.label "
            "FROM pairs p JOIN evaluation_scores e ON e.prompt_id = p.prompt_id "
            "AND e.variant IN ($baseline, $candidate) AND e.against = '' "
            "AND e.evaluator = $evaluator AND e.config_hash = '' "
            "WHERE p.study_id = $study_id AND e.value > 0 "
            "ORDER BY p.position, role",
            {
                "study_id": study.study_id,
                "baseline": study.baseline_variant,
                "candidate": study.candidate_variant,
                "evaluator": evaluator,
            },
        ).df()
