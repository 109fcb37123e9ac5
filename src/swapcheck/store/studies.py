"""Studies (one migration question: baseline vs candidate over a set of prompts) and their pairs."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from swapcheck.errors import ConfigError, NotFoundError, StudyError
from swapcheck.models import LOGGED_VARIANT, canonical_json, sha256_hex
from swapcheck.sampling import PromptFilter, SamplePlan, allocation_table, stratified_sample
from swapcheck.store.connection import Store, first_row
from swapcheck.store.population import population_frame
from swapcheck.store.sources import prompts_of_sources, resolve_source_ids, slice_columns_of
from swapcheck.store.variants import get_variant

_COLUMNS = (
    "study_id, name, baseline_variant, candidate_variant, source_ids, slice_columns, "
    "overlap, margin, blind_salt, population, rubric, reason_tags, identity_policy, slice_minimum"
)
DEFAULT_RUBRIC: tuple[str, ...] = ("correctness", "format", "tone", "safety")
DEFAULT_REASON_TAGS: tuple[str, ...] = (
    "more accurate",
    "more complete",
    "better format",
    "more concise",
    "safer",
    "follows instructions",
    "wrong language",
    "refused",
)
IDENTITY_POLICIES: tuple[str, ...] = ("mask", "exclude", "warn")
DEFAULT_SLICE_MINIMUM = 30
MAX_LABEL = 40
MAX_LABELS = 20


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
    population: dict[str, Any] | None = None
    """How the prompts were chosen (filter, sample plan, N and n per stratum); None = every
    prompt of the sources."""
    rubric: tuple[str, ...] = ()
    """Criteria a reviewer may judge separately (each left/right/same)."""
    reason_tags: tuple[str, ...] = ()
    """Tags a reviewer may attach to a verdict."""
    identity_policy: str = "mask"
    """Answers that name their own model: 'mask' the phrase, 'exclude' the pair, or 'warn'."""
    slice_minimum: int = 30
    """Judgments each slice gets before the queue serves the rest in random order."""

    @property
    def variants(self) -> tuple[str, str]:
        return (self.baseline_variant, self.candidate_variant)

    def chosen_slice_columns(self, by: str | Sequence[str] | None) -> list[str]:
        """``by`` as a list of this study's slice columns (all of them when empty); a
        ``ConfigError`` names any column the study does not have."""
        columns = [by] if isinstance(by, str) else list(by or self.slice_columns)
        unknown = [c for c in columns if c not in self.slice_columns]
        if unknown:
            raise ConfigError(
                f"{', '.join(unknown)} is not a slice column of study {self.name!r}.",
                f"Use one of: {', '.join(self.slice_columns) or 'none'}.",
            )
        return columns


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
        population=json.loads(row[9]) if row[9] else None,
        rubric=tuple(json.loads(row[10])) if row[10] else (),
        reason_tags=tuple(json.loads(row[11])) if row[11] else (),
        identity_policy=row[12] or "mask",
        slice_minimum=DEFAULT_SLICE_MINIMUM if row[13] is None else int(row[13]),
    )


def _clean_labels(kind: str, labels: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Trimmed, de-duplicated labels (criteria or reason tags), each 1-40 characters."""
    cleaned: list[str] = []
    for label in labels:
        text = " ".join(str(label).split())
        if not text or len(text) > MAX_LABEL:
            raise StudyError(
                f"{kind} {label!r} is empty or longer than {MAX_LABEL} characters.",
                f"Give each {kind.lower()} a short name of 1-{MAX_LABEL} characters.",
            )
        if text not in cleaned:
            cleaned.append(text)
    if len(cleaned) > MAX_LABELS:
        raise StudyError(
            f"{len(cleaned)} {kind.lower()}s is too many.", f"Keep at most {MAX_LABELS}."
        )
    return tuple(cleaned)


def set_review_settings(
    store: Store,
    study: Study,
    *,
    rubric: tuple[str, ...] | list[str],
    reason_tags: tuple[str, ...] | list[str],
    identity_policy: str,
    slice_minimum: int,
) -> Study:
    """Validate and store a study's review settings; returns the updated study."""
    if identity_policy not in IDENTITY_POLICIES:
        raise StudyError(
            f"Unknown identity policy {identity_policy!r}.",
            f"Use one of: {', '.join(IDENTITY_POLICIES)}.",
        )
    if isinstance(slice_minimum, bool) or not isinstance(slice_minimum, int):
        raise StudyError(
            f"Slice minimum {slice_minimum!r} is not a whole number.", "Use a number 0-10000."
        )
    if not 0 <= slice_minimum <= 10_000:
        raise StudyError(f"Slice minimum {slice_minimum} is out of range.", "Use 0-10000.")
    updated = replace(
        study,
        rubric=_clean_labels("Criterion", rubric),
        reason_tags=_clean_labels("Reason tag", reason_tags),
        identity_policy=identity_policy,
        slice_minimum=slice_minimum,
    )
    with store.cursor() as cur:
        cur.execute(
            "UPDATE studies SET rubric = ?, reason_tags = ?, identity_policy = ?, "
            "slice_minimum = ? WHERE study_id = ?",
            [
                canonical_json(list(updated.rubric)),
                canonical_json(list(updated.reason_tags)),
                updated.identity_policy,
                updated.slice_minimum,
                study.study_id,
            ],
        )
    return updated


def _names_that_would_leak(store: Store, variant_names: list[str]) -> list[str]:
    words: list[str] = []
    for name in variant_names:
        variant = get_variant(store, name)
        if variant.name == LOGGED_VARIANT:  # imported answers' variants keep their names
            continue
        words += [variant.name, variant.model]
        if variant.provider != "simulated":
            words.append(variant.provider)
    return [w for w in words if w and len(w) >= 3]


def _check_columns(kind: str, columns: list[str], available: list[str]) -> None:
    unknown = [c for c in columns if c not in available]
    if unknown:
        raise StudyError(
            f"{kind} column(s) {', '.join(unknown)} are not slice columns of the chosen sources.",
            f"Pick from: {', '.join(available) or 'none (re-ingest with --slice COLUMN)'}.",
        )


def _effective_filter(flt: PromptFilter, source_ids: list[str]) -> PromptFilter:
    """``flt`` with its sources made explicit (recorded with the study)."""
    outside = [s for s in flt.source_ids if s not in source_ids]
    if outside:
        raise StudyError(
            f"The prompt filter names source(s) {', '.join(outside)} outside the study's sources.",
            "Filter on the study's own sources only.",
        )
    return replace(flt, source_ids=tuple(flt.source_ids or source_ids))


def _sampled_prompts(
    store: Store, source_ids: list[str], flt: PromptFilter, plan: SamplePlan
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The sample (prompt_id, stratum, inclusion_probability) and its population record."""
    population = population_frame(store, source_ids, flt, plan.strata)
    if population.empty:
        raise StudyError(
            "No prompt of the chosen sources matches the filter.",
            "Widen the filter: fewer slice values, a longer time range or another search text.",
        )
    table = allocation_table(population, plan)
    sample = stratified_sample(population, plan)
    record = {
        "filter": flt.to_dict(),
        "plan": plan.to_dict(),
        "population_size": len(population),
        "population_log_rows": int(population["weight"].sum()),
        "sample_size": len(sample),
        "strata": table[["stratum", "population", "sample"]].to_dict("records"),
    }
    return sample, record


def _all_prompts(store: Store, source_ids: list[str]) -> pd.DataFrame:
    with store.cursor() as cur:
        ids = [
            r[0]
            for r in cur.execute(
                f"SELECT prompt_id FROM prompts WHERE {prompts_of_sources('$1')}", [source_ids]
            ).fetchall()
        ]
    if not ids:
        raise StudyError(
            "The chosen sources hold no prompts.", "Ingest a log with valid rows first."
        )
    return pd.DataFrame({"prompt_id": ids, "stratum": None, "inclusion_probability": 1.0})


def _pairs_frame(study: Study, chosen: pd.DataFrame) -> pd.DataFrame:
    """Pairs of the chosen prompts laid out in the study's salted (blinded) order."""
    order = chosen.assign(
        _key=chosen["prompt_id"].map(lambda pid: sha256_hex(study.blind_salt + pid))
    ).sort_values("_key")
    return pd.DataFrame(
        {
            "pair_id": [
                "pr_" + sha256_hex(study.study_id + pid)[:16] for pid in order["prompt_id"]
            ],
            "study_id": study.study_id,
            "prompt_id": order["prompt_id"].to_numpy(),
            "position": range(len(order)),
            "stratum": order["stratum"].astype(object).to_numpy(),
            "inclusion_probability": order["inclusion_probability"].astype(float).to_numpy(),
        }
    )


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
    prompt_filter: PromptFilter | None = None,
    sample: SamplePlan | None = None,
) -> Study:
    """Create a study and lay out its pairs in a blinded order.

    Without ``prompt_filter`` and ``sample`` the study covers every prompt of ``sources``
    (inclusion probability 1, no stratum). With either, it covers the prompts that pass the
    filter, sampled by the plan (stratified, reproducible from its seed); each pair stores its
    stratum and inclusion probability, and ``Study.population`` records the filter, the plan,
    the population size and N/n per stratum.
    """
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
    _check_columns("Slice", chosen, available)
    with store.cursor() as cur:
        if first_row(cur.execute("SELECT 1 FROM studies WHERE name = ?", [name])):
            raise StudyError(f"A study named {name!r} already exists.", "Choose another name.")
    record: dict[str, Any] | None = None
    if prompt_filter is None and sample is None:
        prompts = _all_prompts(store, source_ids)
    else:
        flt = _effective_filter(prompt_filter or PromptFilter(), source_ids)
        plan = sample or SamplePlan()
        _check_columns("Filter", list(flt.slice_values), available)
        _check_columns("Stratify", list(plan.strata), available)
        prompts, record = _sampled_prompts(store, source_ids, flt, plan)
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
        population=record,
        rubric=DEFAULT_RUBRIC,
        reason_tags=DEFAULT_REASON_TAGS,
    )
    pairs = _pairs_frame(study, prompts)
    with store.transaction() as cur:
        cur.execute(
            f"INSERT INTO studies ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                canonical_json(record) if record is not None else None,
                canonical_json(list(study.rubric)),
                canonical_json(list(study.reason_tags)),
                study.identity_policy,
                study.slice_minimum,
            ],
        )
        cur.register("incoming_pairs", pairs)
        cur.execute(
            "INSERT INTO pairs (pair_id, study_id, prompt_id, position, stratum, "
            "inclusion_probability) SELECT pair_id, study_id, prompt_id, position, stratum, "
            "inclusion_probability FROM incoming_pairs"
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


def study_sample_frame(store: Store, study: Study) -> pd.DataFrame:
    """Per pair, in blinded order: ``pair_id``, ``prompt_id``, ``stratum``,
    ``inclusion_probability`` and the prompt's ``weight`` (log rows it stands for). Re-weight a
    result to the population with ``1 / inclusion_probability`` (prompts) or
    ``weight / inclusion_probability`` (log rows, i.e. the traffic mix)."""
    with store.cursor() as cur:
        return cur.execute(
            "SELECT p.pair_id, p.prompt_id, p.stratum, "
            "coalesce(p.inclusion_probability, 1.0) AS inclusion_probability, "
            "greatest(coalesce(q.weight, 1), 1)::BIGINT AS weight "
            "FROM pairs p JOIN prompts q ON q.prompt_id = p.prompt_id "
            "WHERE p.study_id = ? ORDER BY p.position",
            [study.study_id],
        ).df()
