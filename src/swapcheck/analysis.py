"""Everything a sign-off needs, assembled from stored data only (no generation, no review)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

from swapcheck.errors import NotFoundError
from swapcheck.judge import judge_agreement
from swapcheck.models import VariantConfig, canonical_json, content_text
from swapcheck.ratings import VariantRatings, linked_ratings
from swapcheck.stats import (
    MISSING,
    WEIGHT_COLUMN,
    position_bias,
    slice_tables,
    wilson_interval,
)
from swapcheck.stats_agreement import (
    cohens_kappa,
    fleiss_kappa_report,
    pairwise_agreement,
    position_bias_by_reviewer,
)
from swapcheck.stats_decisions import decision_table, overall_verdict, reweighted_win_rate
from swapcheck.stats_drift import drift_table
from swapcheck.stats_models import length_controlled_win_rate
from swapcheck.stats_reviewers import reviewer_quality
from swapcheck.store.connection import Store
from swapcheck.store.evaluations import evaluation_frame
from swapcheck.store.gold import gold_frame
from swapcheck.store.judge import load_judge_config
from swapcheck.store.judgments import judgments_frame, pair_content
from swapcheck.store.responses import answer_lengths
from swapcheck.store.studies import Study, study_sample_frame
from swapcheck.store.variants import get_variant
from swapcheck.verdict_data import sign_off_judgments

WORST_PAIRS = 10
"""How many of the pairs with the most votes against the candidate the report shows."""
REDACTED = "[REDACTED]"
_HASHED_JUDGMENT_COLUMNS: tuple[str, ...] = (
    "judgment_id",
    "pair_id",
    "prompt_id",
    "reviewer",
    "left_role",
    "choice",
    "comment",
    "time_on_item_ms",
    "created_at",
    "criteria",
    "reason_tags",
)


@dataclass(frozen=True)
class WorstPair:
    """One pair the candidate lost most often, with its redacted prompt and both answers."""

    pair_id: str
    slices: dict[str, str]
    votes_against: int
    votes_for: int
    votes_other: int
    messages: list[dict[str, str]]
    baseline_text: str
    candidate_text: str
    comments: list[str]


@dataclass(frozen=True)
class StudyAnalysis:
    """The frozen facts of one study's sign-off (see ``analyse_study``)."""

    study: Study
    by: tuple[str, ...]
    min_n: int
    n_judgments: int
    n_reviewers: int
    verdict: dict[str, Any]
    decisions: pd.DataFrame
    reweighted: dict[str, Any] | None
    agreement: dict[str, Any]
    position_bias: dict[str, Any]
    position_bias_by_reviewer: pd.DataFrame
    roster: pd.DataFrame
    variants: list[dict[str, Any]]
    sample_design: dict[str, Any]
    worst_pairs: list[WorstPair] = field(default_factory=list)
    data_hash: str = ""
    length_controlled: dict[str, Any] | None = None
    """Win rate at equal answer length (``stats_models.length_controlled_win_rate``)."""
    ratings: VariantRatings | None = None
    """Bradley-Terry ratings when the studies linked to this one compare more than two
    variants (``ratings.variant_ratings``); None otherwise."""
    drift: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Behavioural drift per slice and evaluator (``stats_drift.drift_table``)."""
    judges: pd.DataFrame = field(default_factory=pd.DataFrame)
    """LLM judges' verdicts on this study: per judge ``reviewer, judgments, win_rate, ci_low,
    ci_high``."""
    judge_agreement: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The study's judge against the people, overall and per slice (``stats_judge``)."""
    judge_verdicts: int = 0
    """Judge verdicts standing in for missing human ones (an admin's choice, slices where
    agreement is proven; ``judge.verdict_judgments``); 0 unless enabled."""

    @property
    def overall(self) -> pd.Series | None:
        """The overall row of the decision table (None when there are no judgments)."""
        rows = self.decisions[self.decisions["slice"] == "overall"]
        return None if rows.empty else rows.iloc[0]


def safe_variant_config(variant: VariantConfig) -> dict[str, Any]:
    """A variant's exact configuration for a report, with nothing secret in it.

    Only the *name* of the key's environment variable is stored with a variant; still, a
    parameter named like a credential or shaped like a key, and a user:password or query
    string in ``base_url``, are replaced by ``[REDACTED]``.
    """
    from swapcheck.variants_toml import looks_like_secret_name, looks_like_secret_value

    def clean(value: Any, key: str = "") -> Any:
        if key and looks_like_secret_name(key):
            return REDACTED
        if isinstance(value, dict):
            return {str(k): clean(v, str(k)) for k, v in sorted(value.items())}
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, str) and looks_like_secret_value(value):
            return REDACTED
        return value

    base_url = variant.base_url
    if base_url:
        parts = urlsplit(base_url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        had_secret = "@" in parts.netloc or parts.query
        base_url = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        if had_secret:
            base_url += f" ({REDACTED} credentials)"
    return {
        "name": variant.name,
        "provider": variant.provider,
        "model": variant.model,
        "base_url": clean(base_url) if base_url else None,
        "api_key_env": variant.api_key_env,
        "params": clean(dict(variant.params)),
        "system_prompt": clean(variant.system_prompt),
        "price_input_per_mtok": variant.price_input_per_mtok,
        "price_output_per_mtok": variant.price_output_per_mtok,
        "max_concurrency": variant.max_concurrency,
        "requests_per_minute": variant.requests_per_minute,
        "tokens_per_minute": variant.tokens_per_minute,
    }


def _plain(value: Any) -> Any:
    """A JSON-stable form of one stored cell (timestamps as ISO text, NaN/NA as None)."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, dict | list):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    return value


def _answers(store: Store, study: Study) -> list[tuple[str, str, str | None, str | None]]:
    """(prompt_id, variant, text, error) of both variants over the study's prompts, sorted."""
    with store.cursor() as cur:
        return cur.execute(
            "SELECT r.prompt_id, r.variant, r.text, r.error FROM responses r "
            "WHERE r.variant IN (?, ?) AND r.prompt_id IN "
            "(SELECT prompt_id FROM pairs WHERE study_id = ?) "
            "ORDER BY r.prompt_id, r.variant",
            [study.baseline_variant, study.candidate_variant, study.study_id],
        ).fetchall()


def data_hash(
    store: Store,
    study: Study,
    judgments: pd.DataFrame,
    variants: list[dict[str, Any]],
    judges: pd.DataFrame | None = None,
    ratings: VariantRatings | None = None,
    drift: pd.DataFrame | None = None,
) -> str:
    """sha256 over the study's identity, live judgments, answers and variant configs, plus
    what the report shows beyond them (LLM judges' figures, ratings across linked studies,
    the evaluators' drift table).

    Canonical order: judgments by ``judgment_id``, answers by (prompt_id, variant), variants by
    name; each record is canonical JSON on its own line. Same stored data, same hash; any new,
    undone or changed judgment or answer, or a changed variant, gives another hash.
    """
    digest = hashlib.sha256()

    def line(record: Any) -> None:
        digest.update(canonical_json(record).encode("utf-8"))
        digest.update(b"\n")

    line(
        {
            "study_id": study.study_id,
            "baseline": study.baseline_variant,
            "candidate": study.candidate_variant,
        }
    )
    cols = [c for c in _HASHED_JUDGMENT_COLUMNS if c in judgments.columns]
    ordered = judgments.sort_values("judgment_id") if len(judgments) else judgments
    for record in ordered[cols].itertuples(index=False, name=None):
        line(["judgment", *(_plain(v) for v in record)])
    for answer in _answers(store, study):
        line(["answer", *answer])
    for variant in sorted(variants, key=lambda v: v["name"]):
        line(["variant", variant])
    if judges is not None and len(judges):
        for record in judges.itertuples(index=False, name=None):
            line(["judge", *(_plain(v) for v in record)])
    if ratings is not None:
        line(["ratings", _plain(ratings.to_dict())])
    if drift is not None and len(drift):
        for record in drift.itertuples(index=False, name=None):
            line(["drift", *(_plain(v) for v in record)])
    return digest.hexdigest()


def _agreement(judgments: pd.DataFrame) -> dict[str, Any]:
    reviewers = sorted(judgments["reviewer"].astype(str).unique()) if len(judgments) else []
    with_ties = pairwise_agreement(judgments)
    without_ties = pairwise_agreement(judgments, include_ties=False)
    result: dict[str, Any] = {
        "n_reviewers": len(reviewers),
        "with_ties": with_ties,
        "without_ties": without_ties,
        "kappa_kind": None,
        "kappa": math.nan,
    }
    if len(reviewers) == 2:
        result["kappa_kind"] = "Cohen"
        try:
            result["kappa"] = cohens_kappa(judgments, reviewers[0], reviewers[1])
        except ValueError:  # a reviewer judged a pair twice (imported data): not defined
            result["kappa"] = math.nan
    elif len(reviewers) > 2:
        report = fleiss_kappa_report(judgments)
        result["kappa_kind"] = "Fleiss"
        result["kappa"] = report["kappa"]
        result["fleiss"] = report
    return result


def traffic_reweighted(
    store: Store, study: Study, judgments: pd.DataFrame
) -> dict[str, Any] | None:
    """Win rate weighted to the traffic mix, when the pairs' traffic weights differ."""
    if judgments.empty:
        return None
    sample = study_sample_frame(store, study)
    traffic = sample["weight"].astype(float) / sample["inclusion_probability"].astype(float)
    weights = dict(zip(sample["pair_id"], traffic, strict=True))
    if len(set(weights.values())) <= 1:
        return None
    frame = judgments.assign(traffic_weight=judgments["pair_id"].map(weights).astype(float))
    if WEIGHT_COLUMN in frame.columns:  # a prioritised queue: selection weight × traffic weight
        frame["traffic_weight"] = frame["traffic_weight"] * frame[WEIGHT_COLUMN]
    frame = frame[frame["traffic_weight"].notna()]
    return reweighted_win_rate(frame, "traffic_weight")


def length_controlled(store: Store, study: Study, judgments: pd.DataFrame) -> dict[str, Any] | None:
    """The candidate's win rate at zero length difference, beside the raw one (None if empty)."""
    if judgments.empty or "prompt_id" not in judgments.columns:
        return None
    lengths = answer_lengths(store, study.variants, list(judgments["prompt_id"].unique()))
    by_variant = {
        variant: dict(zip(group["prompt_id"], group["length"], strict=True))
        for variant, group in lengths.groupby("variant")
    }
    baseline = judgments["prompt_id"].map(by_variant.get(study.baseline_variant, {}))
    candidate = judgments["prompt_id"].map(by_variant.get(study.candidate_variant, {}))
    result = length_controlled_win_rate(
        judgments, baseline.astype(float).to_numpy(), candidate.astype(float).to_numpy()
    )
    return result if result["n"] else None


def _sample_design(store: Store, study: Study) -> dict[str, Any]:
    population = study.population
    sample = study_sample_frame(store, study)
    design: dict[str, Any] = {
        "pairs": len(sample),
        "sources": list(study.source_ids),
        "slice_columns": list(study.slice_columns),
        "overlap": study.overlap,
        "margin": study.margin,
        "slice_minimum": study.slice_minimum,
    }
    if population is None:
        design["kind"] = "every prompt of the sources (inclusion probability 1)"
        return design
    design["kind"] = "filtered and stratified sample"
    design["filter"] = population.get("filter")
    design["plan"] = population.get("plan")
    design["population_size"] = population.get("population_size")
    design["population_log_rows"] = population.get("population_log_rows")
    design["sample_size"] = population.get("sample_size")
    design["strata"] = population.get("strata", [])
    return design


def _roster(store: Store, study: Study, judgments: pd.DataFrame) -> pd.DataFrame:
    """Quality figures of the people who judged (LLM judges are listed apart)."""
    return reviewer_quality(judgments, gold_frame(store, study))


def judge_summary(judge_judgments: pd.DataFrame) -> pd.DataFrame:
    """Per LLM judge: verdicts given and the candidate's win rate by that judge (ties ½)."""
    rows = []
    for reviewer, part in judge_judgments.groupby("reviewer", sort=True):
        wins = float((part["choice"] == "candidate").sum())
        half = float(part["choice"].isin(["tie", "both_bad"]).sum()) / 2
        low, high = wilson_interval(wins + half, len(part))
        rows.append(
            {
                "reviewer": str(reviewer),
                "judgments": int(len(part)),
                "win_rate": (wins + half) / len(part),
                "ci_low": low,
                "ci_high": high,
            }
        )
    return pd.DataFrame(rows, columns=["reviewer", "judgments", "win_rate", "ci_low", "ci_high"])


def _judge_agreement(store: Store, study: Study) -> pd.DataFrame:
    """Agreement of the study's configured judge with the people, overall and per slice."""
    if load_judge_config(store, study).variant is None:
        return pd.DataFrame()
    return judge_agreement(store, study, by=list(study.slice_columns))


def _worst_pairs(
    store: Store, study: Study, judgments: pd.DataFrame, decisions: pd.DataFrame, limit: int
) -> list[WorstPair]:
    """Pairs of red/amber slices with the most votes against the candidate."""
    from swapcheck.redaction_config import redactor_for

    flagged = decisions[(decisions["slice"] != "overall") & decisions["go"].isin(["red", "amber"])]
    if judgments.empty or flagged.empty:
        return []
    in_flagged = pd.Series(False, index=judgments.index)
    for row in flagged.itertuples():
        values = judgments[row.slice].astype(object)
        in_flagged |= values.where(values.notna(), MISSING).map(str) == row.value
    chosen = judgments[in_flagged]
    choice = chosen["choice"].astype(str)
    tally = (
        pd.DataFrame(
            {
                "pair_id": chosen["pair_id"].astype(str),
                "against": (choice == "baseline").astype(int),
                "pro": (choice == "candidate").astype(int),
                "other": (~choice.isin(["baseline", "candidate"])).astype(int),
            }
        )
        .groupby("pair_id", sort=True)
        .sum()
        .reset_index()
    )
    tally = tally[tally["against"] > 0].sort_values(
        ["against", "pro", "pair_id"], ascending=[False, True, True]
    )
    redactor = redactor_for(store)
    worst: list[WorstPair] = []
    for row in tally.head(limit).itertuples(index=False):
        pair_id = str(row.pair_id)
        votes = judgments[judgments["pair_id"].astype(str) == pair_id]
        first = votes.iloc[0]
        try:
            content = pair_content(store, study, pair_id)
        except NotFoundError:  # an answer was removed since it was judged: nothing to show
            continue
        shown = [
            {"role": str(m.get("role", "user")), "content": m.get("content")}
            for m in content.messages
        ]
        messages = [
            {"role": str(m["role"]), "content": content_text(m["content"])}
            for m in redactor.redact_messages(shown)
        ]
        comments = [str(c) for c in votes["comment"] if isinstance(c, str) and c.strip()]
        worst.append(
            WorstPair(
                pair_id=pair_id,
                slices={
                    c: str(first[c]) if pd.notna(first[c]) else MISSING for c in study.slice_columns
                },
                votes_against=int(row.against),
                votes_for=int(row.pro),
                votes_other=int(row.other),
                messages=messages,
                baseline_text=redactor.redact(content.baseline_text or ""),
                candidate_text=redactor.redact(content.candidate_text or ""),
                comments=[redactor.redact(c) for c in comments],
            )
        )
    return worst


def analyse_study(
    store: Store, study: Study, by: list[str] | None = None, min_n: int = 30
) -> StudyAnalysis:
    """Assemble a study's sign-off from stored data only: nothing is generated or re-judged.

    ``by`` picks the slice columns (default: all of the study's); ``min_n`` flags thin slices.
    """
    columns = tuple(study.chosen_slice_columns(by))
    judgments = sign_off_judgments(store, study)  # people, admitted judge verdicts, weights
    people = judgments[judgments["reviewer_type"] == "human"] if len(judgments) else judgments
    variants = [safe_variant_config(get_variant(store, n)) for n in study.variants]
    table = slice_tables(judgments, list(columns), min_n=min_n)
    decisions = decision_table(table, margin=study.margin) if len(table) else table
    if len(table):
        verdict = overall_verdict(decisions, margin=study.margin)
    else:
        verdict = {
            "verdict": "inconclusive",
            "red_slices": [],
            "amber_slices": [],
            "reason": "Inconclusive: no judgments yet.",
        }
    if "go" not in decisions.columns:
        decisions = decisions.assign(go=pd.Series(dtype=object), q_value=pd.Series(dtype=float))
    bias = position_bias(people) if len(people) else {"n_decisive": 0}
    judges = judge_summary(judgments_frame(store, study, reviewer_type="judge"))
    judge_agreement = _judge_agreement(store, study)
    ratings = linked_ratings(store, study)
    drift = drift_table(evaluation_frame(store, study), list(columns))
    return StudyAnalysis(
        study=study,
        by=columns,
        min_n=min_n,
        n_judgments=int(len(judgments)),
        n_reviewers=int(people["reviewer"].nunique()) if len(people) else 0,
        verdict=verdict,
        decisions=decisions,
        reweighted=traffic_reweighted(store, study, judgments),
        length_controlled=length_controlled(store, study, judgments),
        agreement=_agreement(people),
        position_bias=bias,
        position_bias_by_reviewer=position_bias_by_reviewer(people)
        if len(people)
        else pd.DataFrame(),
        roster=_roster(store, study, people),
        variants=variants,
        sample_design=_sample_design(store, study),
        worst_pairs=_worst_pairs(store, study, judgments, decisions, WORST_PAIRS),
        data_hash=data_hash(store, study, judgments, variants, judges, ratings, drift),
        ratings=ratings,
        drift=drift,
        judges=judges,
        judge_agreement=judge_agreement,
        judge_verdicts=int(len(judgments) - len(people)),
    )


def analysis_summary(analysis: StudyAnalysis) -> dict[str, Any]:
    """A JSON-ready digest (study, verdict, hash, counts) for the CLI."""
    return {
        "study": analysis.study.name,
        "verdict": str(analysis.verdict["verdict"]),
        "data_hash": analysis.data_hash,
        "judgments": analysis.n_judgments,
        "reviewers": analysis.n_reviewers,
        "worst_pairs": len(analysis.worst_pairs),
    }
