"""Studies (one migration question: baseline vs candidate over a set of prompts) and their pairs."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass

import pandas as pd

from swapcheck.errors import NotFoundError, StudyError
from swapcheck.models import LOGGED_VARIANT, canonical_json, sha256_hex
from swapcheck.store.connection import Store, first_row
from swapcheck.store.sources import resolve_source_ids, slice_columns_of
from swapcheck.store.variants import get_variant

_COLUMNS = (
    "study_id, name, baseline_variant, candidate_variant, source_ids, slice_columns, "
    "overlap, margin, blind_salt"
)


@dataclass(frozen=True)
class Study:
    study_id: str
    name: str
    baseline_variant: str
    candidate_variant: str
    source_ids: tuple[str, ...]
    slice_columns: tuple[str, ...]
    overlap: int
    margin: float
    blind_salt: str
    """Server-side secret that decides sides per (pair, reviewer); never rendered."""

    @property
    def variants(self) -> tuple[str, str]:
        return (self.baseline_variant, self.candidate_variant)


def _row_to_study(row: tuple) -> Study:
    return Study(
        study_id=row[0],
        name=row[1],
        baseline_variant=row[2],
        candidate_variant=row[3],
        source_ids=tuple(json.loads(row[4])),
        slice_columns=tuple(json.loads(row[5])),
        overlap=row[6],
        margin=row[7],
        blind_salt=row[8],
    )


def _names_that_would_leak(store: Store, variant_names: list[str]) -> list[str]:
    words: list[str] = []
    for name in variant_names:
        variant = get_variant(store, name)
        if variant.provider == LOGGED_VARIANT:
            continue
        words += [variant.name, variant.model]
        if variant.provider != "simulated":
            words.append(variant.provider)
    return [w for w in words if w and len(w) >= 3]


def create_study(
    store: Store,
    name: str,
    *,
    baseline: str,
    candidate: str,
    sources: list[str],
    slice_columns: list[str] | None = None,
    overlap: int = 1,
    margin: float = 0.05,
) -> Study:
    """Create a study over every prompt of ``sources`` and lay out its pairs in a blinded order."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise StudyError(
            "A study needs a name of 1-100 characters.", "Give the study a short name."
        )
    if baseline == candidate:
        raise StudyError(
            f"Baseline and candidate are both {baseline!r}.",
            "Pick two different variants to compare.",
        )
    leaks = [
        w
        for w in _names_that_would_leak(store, [baseline, candidate])
        if re.search(re.escape(w), name, re.IGNORECASE)
    ]
    if leaks:
        raise StudyError(
            f"The study name {name!r} contains {leaks[0]!r}, which names a variant, model or "
            "provider; reviewers see study names, so this would break blinding.",
            "Name the study after the question (e.g. 'support-bot upgrade Q4'), not the models.",
        )
    if not 1 <= overlap <= 20:
        raise StudyError(f"Overlap {overlap} is out of range.", "Use 1-20 reviewers per pair.")
    if not 0 <= margin < 0.5:
        raise StudyError(f"Margin {margin} is out of range.", "Use a margin in [0, 0.5).")
    if not sources:
        raise StudyError("A study needs at least one source.", "Pass --source NAME (see sources).")
    source_ids = resolve_source_ids(store, sources)
    available = slice_columns_of(store, source_ids)
    chosen = list(slice_columns) if slice_columns is not None else available
    unknown = [c for c in chosen if c not in available]
    if unknown:
        raise StudyError(
            f"Slice column(s) {', '.join(unknown)} are not slice columns of the chosen sources.",
            f"Pick from: {', '.join(available) or 'none (re-ingest with --slice COLUMN)'}.",
        )
    with store.cursor() as cur:
        if first_row(cur.execute("SELECT 1 FROM studies WHERE name = ?", [name])):
            raise StudyError(f"A study named {name!r} already exists.", "Choose another name.")
    study = Study(
        study_id="st_" + uuid.uuid4().hex[:12],
        name=name,
        baseline_variant=baseline,
        candidate_variant=candidate,
        source_ids=tuple(source_ids),
        slice_columns=tuple(chosen),
        overlap=overlap,
        margin=margin,
        blind_salt=secrets.token_hex(16),
    )
    with store.transaction() as cur:
        cur.execute(
            f"INSERT INTO studies ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                study.study_id,
                study.name,
                study.baseline_variant,
                study.candidate_variant,
                canonical_json(list(study.source_ids)),
                canonical_json(list(study.slice_columns)),
                study.overlap,
                study.margin,
                study.blind_salt,
            ],
        )
        prompt_ids = [
            r[0]
            for r in cur.execute(
                "SELECT prompt_id FROM prompts WHERE list_contains(?, source_id)", [source_ids]
            ).fetchall()
        ]
        if not prompt_ids:
            raise StudyError(
                "The chosen sources hold no prompts.", "Ingest a log with valid rows first."
            )
        order = sorted(prompt_ids, key=lambda pid: sha256_hex(study.blind_salt + pid))
        pairs = pd.DataFrame(
            {
                "pair_id": ["pr_" + sha256_hex(study.study_id + pid)[:16] for pid in order],
                "study_id": study.study_id,
                "prompt_id": order,
                "position": range(len(order)),
            }
        )
        cur.register("incoming_pairs", pairs)
        cur.execute(
            "INSERT INTO pairs (pair_id, study_id, prompt_id, position) "
            "SELECT pair_id, study_id, prompt_id, position FROM incoming_pairs"
        )
        cur.unregister("incoming_pairs")
    return study


def get_study(store: Store, name_or_id: str) -> Study:
    with store.cursor() as cur:
        row = first_row(
            cur.execute(
                f"SELECT {_COLUMNS} FROM studies WHERE name = ? OR study_id = ?",
                [name_or_id, name_or_id],
            )
        )
        known = [r[0] for r in cur.execute("SELECT name FROM studies ORDER BY name").fetchall()]
    if row is None:
        raise NotFoundError(
            f"No study named {name_or_id!r}.",
            f"Create it first (swapcheck study create ...). Known studies: "
            f"{', '.join(known) or 'none'}.",
        )
    return _row_to_study(row)


def list_studies(store: Store) -> list[Study]:
    with store.cursor() as cur:
        rows = cur.execute(f"SELECT {_COLUMNS} FROM studies ORDER BY created_at").fetchall()
    return [_row_to_study(r) for r in rows]


def study_prompt_ids(store: Store, study: Study) -> list[str]:
    with store.cursor() as cur:
        rows = cur.execute(
            "SELECT prompt_id FROM pairs WHERE study_id = ? ORDER BY position", [study.study_id]
        ).fetchall()
    return [r[0] for r in rows]
