"""Ratings of more than two variants: Bradley-Terry over the human judgments of related studies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from swapcheck.errors import StudyError
from swapcheck.stats_models import bradley_terry
from swapcheck.store.connection import Store
from swapcheck.store.ratings import study_comparisons
from swapcheck.store.studies import Study, list_studies

DEFAULT_BOOTSTRAP = 200


@dataclass
class VariantRatings:
    """Bradley-Terry ratings of the variants compared in ``studies``, or why there are none."""

    studies: list[Study]
    variants: list[str]
    table: pd.DataFrame | None = None
    """``variant, rating, ci_low, ci_high, wins, n`` (best first) when a fit exists."""
    problem: str | None = None
    n_comparisons: int = 0
    n_boot: int = DEFAULT_BOOTSTRAP
    n_boot_failed: int = 0
    per_study: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        table = self.table
        return {
            "studies": [s.name for s in self.studies],
            "variants": self.variants,
            "n_comparisons": self.n_comparisons,
            "n_boot": self.n_boot,
            "n_boot_failed": self.n_boot_failed,
            "problem": self.problem,
            "per_study": self.per_study,
            "ratings": [] if table is None else [_plain_row(r) for r in table.to_dict("records")],
        }


def _plain_row(row: dict[str, Any]) -> dict[str, Any]:
    """A table row as JSON-ready Python values (NaN → None)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        value = value.item() if hasattr(value, "item") else value
        out[key] = None if isinstance(value, float) and value != value else value
    return out


def connected_studies(store: Store, study: Study) -> list[Study]:
    """``study`` and every study linked to it through shared variants (transitively),
    in the order of ``list_studies``; the set a rating of all their variants is defined on."""
    studies = list_studies(store)
    reached = {study.study_id}
    variants = set(study.variants)
    grew = True
    while grew:
        grew = False
        for other in studies:
            if other.study_id not in reached and variants & set(other.variants):
                reached.add(other.study_id)
                variants |= set(other.variants)
                grew = True
    return [s for s in studies if s.study_id in reached]


def variant_ratings(
    store: Store,
    studies: Sequence[Study],
    *,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> VariantRatings:
    """Fit Bradley-Terry to the human judgments of ``studies`` (each judgment is one comparison
    of its study's baseline and candidate; ties and both-bad count half to each side).

    Pooling studies assumes they sample the same kind of traffic: a rating says how a variant
    fares against the others on the prompts those studies reviewed, nothing more. Without a
    finite fit (a variant never lost or never won, or the studies do not connect all
    variants) ``problem`` says why and ``table`` is None.
    """
    if not studies:
        raise StudyError("No study to rate.", "Name at least one study (--study NAME).")
    variants = sorted({v for s in studies for v in s.variants})
    comparisons = study_comparisons(store, [s.study_id for s in studies])
    counts = comparisons.groupby("study_id").size().to_dict() if len(comparisons) else {}
    result = VariantRatings(
        studies=list(studies),
        variants=variants,
        n_comparisons=len(comparisons),
        n_boot=n_boot,
        per_study=[
            {
                "study": s.name,
                "baseline": s.baseline_variant,
                "candidate": s.candidate_variant,
                "judgments": int(counts.get(s.study_id, 0)),
            }
            for s in studies
        ],
    )
    judged = {v for v in comparisons["variant_a"]} | {v for v in comparisons["variant_b"]}
    unjudged = [v for v in variants if v not in judged]
    if unjudged:
        result.problem = (
            f"no human judgment compares {', '.join(unjudged)} yet; review those studies first"
        )
        return result
    if not _linked(comparisons, variants):
        result.problem = (
            "the studies do not link every variant to every other through judged comparisons"
        )
        return result
    try:
        table = bradley_terry(comparisons, n_boot=n_boot, seed=seed)
    except ValueError as exc:
        result.problem = str(exc)
        return result
    result.table = table
    result.n_boot_failed = int(table.attrs.get("n_boot_failed", 0))
    return result


def linked_ratings(store: Store, study: Study) -> VariantRatings | None:
    """Ratings over ``study`` and its linked studies when they compare more than two
    variants (what the Results page and the report show); None otherwise."""
    linked = connected_studies(store, study)
    if len({v for s in linked for v in s.variants}) <= 2:
        return None
    return variant_ratings(store, linked)


def _linked(comparisons: pd.DataFrame, variants: list[str]) -> bool:
    """Whether the comparison graph (undirected) connects all ``variants``."""
    edges: dict[str, set[str]] = {v: set() for v in variants}
    for a, b in comparisons[["variant_a", "variant_b"]].drop_duplicates().itertuples(index=False):
        edges[a].add(b)
        edges[b].add(a)
    seen = {variants[0]}
    frontier = [variants[0]]
    while frontier:
        for nxt in edges[frontier.pop()] - seen:
            seen.add(nxt)
            frontier.append(nxt)
    return len(seen) == len(variants)
