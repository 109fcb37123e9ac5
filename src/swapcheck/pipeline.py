"""Operations shared by the CLI and the pages: ingest a file, generate a study, compute stats."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from swapcheck.batch_api import batch_discount, run_batches
from swapcheck.batch_flow import BatchReport
from swapcheck.cost_estimate import CostEstimate, estimate_cost
from swapcheck.errors import ConfigError, SwapcheckError
from swapcheck.evaluate import evaluate_study
from swapcheck.generate import GenerationReport, GenerationSettings
from swapcheck.ingest import ColumnMapping, IngestOptions, ingest_log
from swapcheck.ingest_files import ProgressFn as IngestProgressFn
from swapcheck.models import LOGGED_VARIANT, ChatMessages, GenerationJob, VariantConfig
from swapcheck.providers import make_provider
from swapcheck.redaction_config import load_redaction_config
from swapcheck.runs import recover_interrupted_answers, run_variant
from swapcheck.stats import WEIGHT_COLUMN, slice_tables, summarize, wilson_interval
from swapcheck.stats_agreement import (
    cohens_kappa,
    fleiss_kappa_report,
    majority_vote,
    pairwise_agreement,
)
from swapcheck.stats_decisions import decision_table, overall_verdict
from swapcheck.store import Store
from swapcheck.store import provider_batches as batches_db
from swapcheck.store.db_errors import DATABASE_ERRORS
from swapcheck.store.judgments import judgments_frame
from swapcheck.store.responses import pending_jobs, response_status, write_responses
from swapcheck.store.runs import create_run, update_run
from swapcheck.store.sources import IngestReport
from swapcheck.store.studies import Study, study_prompt_ids
from swapcheck.store.variants import get_variant
from swapcheck.verdict_data import sign_off_judgments

ProgressFn = Callable[[str, int, int], None]
"""progress(variant_name, done, total)."""


def ingest_file(
    store: Store,
    path: str | os.PathLike[str],
    mapping: ColumnMapping | None = None,
    source_name: str | None = None,
    *,
    near_duplicates: bool = False,
    derived_slices: bool = True,
    progress: IngestProgressFn | None = None,
) -> IngestReport:
    """Stream a log file through DuckDB into the store; bad rows go to quarantine.

    A file whose exact bytes were ingested before is recognised by its hash before parsing.
    """
    options = IngestOptions(source_name, near_duplicates, derived_slices)
    return ingest_log(store, path, mapping, options, progress)


@dataclass
class StudyGenerationReport:
    """Per-variant generation outcome for one study."""

    reports: dict[str, GenerationReport] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    status: dict[str, dict[str, int]] = field(default_factory=dict)
    run_ids: dict[str, str] = field(default_factory=dict)
    in_open_batches: dict[str, int] = field(default_factory=dict)
    """Per variant: prompts not sent because an open Batch API batch holds the same request."""
    recovered: int = 0
    evaluation: str | None = None
    """The evaluators' run after generation (``evaluate.evaluate_study``), or why it failed."""

    @property
    def cost(self) -> float:
        return float(sum(r.cost for r in self.reports.values()))

    def summary(self) -> str:
        lines = []
        if self.recovered:
            lines.append(f"recovered {self.recovered} answer(s) journaled by an interrupted run")
        for name, rep in self.reports.items():
            note = " (budget reached)" if rep.budget_exhausted else ""
            note = note or (" (stopped)" if rep.cancelled else "")
            lines.append(
                f"{name}: {rep.succeeded} answered, {rep.failed} failed{note}, "
                f"{rep.retries} retries, {rep.input_tokens + rep.output_tokens} tokens, "
                f"${rep.cost:.4f}"
            )
        for name, waiting in self.in_open_batches.items():
            if waiting:
                lines.append(
                    f"{name}: {waiting} prompt(s) wait in open Batch API batches and were not "
                    "sent again (collect them: swapcheck generate --batch-api)"
                )
        for name, why in self.skipped.items():
            lines.append(f"{name}: {why}")
        if self.evaluation:
            lines.append(f"evaluators: {self.evaluation}")
        return "\n".join(lines)


def evaluate_after_generation(store: Store, study: Study) -> str:
    """Score new answers and pairs with the study's evaluators; a broken evaluator setup is
    reported, never a reason to lose the generation that just succeeded."""
    try:
        return evaluate_study(store, study).summary()
    except SwapcheckError as exc:
        return f"not run: {exc} (fix: {exc.fix}; then run swapcheck evaluate)"
    except DATABASE_ERRORS as exc:  # e.g. a concurrent worker kept winning the same rows
        return f"not run: {exc} (fix: run swapcheck evaluate)"


def study_jobs(store: Store, study: Study, variant: VariantConfig) -> list[GenerationJob]:
    """The study's prompts this variant has no successful answer for, as it would send them.

    The project's redaction policy decides whether original or redacted text goes out, then
    the variant's system prompt override applies; the request hash covers the result.
    """
    redact = load_redaction_config(store).provider_messages()

    def prepare(messages: ChatMessages) -> ChatMessages:
        return variant.prepare_messages(redact(messages) if redact else messages)

    return pending_jobs(store, variant, study_prompt_ids(store, study), prepare=prepare)


def without_open_batches(
    store: Store, variant: VariantConfig, jobs: list[GenerationJob]
) -> tuple[list[GenerationJob], int]:
    """The jobs whose exact request no open Batch API batch of ``variant`` holds, and how many
    it holds: their answers arrive when the batch is collected, so sending them online too
    would pay twice."""
    in_flight = batches_db.open_requests(store, variant.name)
    if not in_flight:
        return jobs, 0
    kept = [j for j in jobs if (j.prompt_id, variant.request_hash(j.messages)) not in in_flight]
    return kept, len(jobs) - len(kept)


@dataclass(frozen=True)
class SendPlan:
    """What generating one variant's missing answers would send, and what it leaves to
    open Batch API batches."""

    estimate: CostEstimate
    in_open_batches: int


def plan_study_generation(
    store: Store, study: Study, variants: list[str] | None = None
) -> dict[str, SendPlan]:
    """Per generated variant (logged ones send nothing): the cost estimate of the requests a
    run would send, and how many missing prompts wait in open batches instead."""
    out: dict[str, SendPlan] = {}
    for name in variants or list(study.variants):
        variant = get_variant(store, name)
        if variant.provider != LOGGED_VARIANT:
            jobs, waiting = without_open_batches(store, variant, study_jobs(store, study, variant))
            out[name] = SendPlan(estimate_cost(variant, jobs), waiting)
    return out


def generate_study(
    store: Store,
    study: Study,
    *,
    variants: list[str] | None = None,
    settings: GenerationSettings | None = None,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    origin: str = "cli",
) -> StudyGenerationReport:
    """Answer every prompt of the study that lacks a successful answer, for each variant.

    Each variant is one tracked, journaled run (``swapcheck.runs``); ``settings.budget`` caps
    the spend of the whole call.
    """
    settings = settings or GenerationSettings()
    result = StudyGenerationReport(recovered=recover_interrupted_answers(store))
    prompt_ids = study_prompt_ids(store, study)
    for name in variants or list(study.variants):
        if name not in study.variants:
            raise ConfigError(
                f"Variant {name!r} is not part of study {study.name!r}.",
                f"Use one of: {', '.join(study.variants)}.",
            )
        variant = get_variant(store, name)
        if variant.provider == LOGGED_VARIANT:
            status = response_status(store, name, prompt_ids)
            result.status[name] = status
            result.skipped[name] = (
                f"logged answers are taken from the log ({status['answered']} present, "
                f"{status['missing']} prompts have none and cannot be paired)"
            )
            continue
        jobs, result.in_open_batches[name] = without_open_batches(
            store, variant, study_jobs(store, study, variant)
        )
        provider = make_provider(variant)
        run_settings = settings
        if settings.budget is not None:
            run_settings = replace(settings, budget=max(0.0, settings.budget - result.cost))

        def report_progress(done: int, total: int, _name: str = name) -> None:
            if progress:
                progress(_name, done, total)

        result.run_ids[name], result.reports[name] = run_variant(
            store,
            variant,
            jobs,
            study_id=study.study_id,
            settings=run_settings,
            origin=origin,
            estimated_cost=estimate_cost(variant, jobs).cost_typical if jobs else 0.0,
            progress=report_progress,
            should_stop=should_stop,
            provider=provider,
        )
        result.status[name] = response_status(store, name, prompt_ids)
    result.evaluation = evaluate_after_generation(store, study)
    return result


@dataclass
class StudyBatchReport:
    """Per-variant outcome of a Batch API generation for one study."""

    reports: dict[str, BatchReport] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    run_ids: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every submitted request collected and answered."""
        return all(not r.still_open and not r.failed for r in self.reports.values())

    def summary(self) -> str:
        lines = [f"{name}: {rep.summary()}" for name, rep in self.reports.items()]
        lines += [f"{name}: {why}" for name, why in self.skipped.items()]
        return "\n".join(lines)


def generate_study_batch(
    store: Store,
    study: Study,
    *,
    variants: list[str] | None = None,
    poll_interval_s: float = 30.0,
    max_wait_s: float | None = None,
    origin: str = "cli",
) -> StudyBatchReport:
    """Answer the study's missing prompts through the providers' Batch APIs.

    Batches are recorded before they are polled; a call that stops waiting (``max_wait_s``)
    leaves them open and the next call collects them instead of submitting again.
    """
    result = StudyBatchReport()
    for name in variants or list(study.variants):
        variant = get_variant(store, name)
        if variant.provider == LOGGED_VARIANT:
            result.skipped[name] = "logged answers are taken from the log"
            continue
        jobs = study_jobs(store, study, variant)
        run_id = create_run(
            store,
            study_id=study.study_id,
            variant=name,
            origin=f"{origin} (batch API)",
            total=len(jobs),
            estimated_cost=estimate_cost(variant, jobs).cost_typical * batch_discount(variant),
        )
        try:
            report = run_batches(
                store,
                variant,
                jobs,
                lambda records: write_responses(store, records),
                poll_interval_s=poll_interval_s,
                max_wait_s=max_wait_s,
                run_id=run_id,
            )
        except BaseException as exc:
            message = str(exc) if isinstance(exc, SwapcheckError) else type(exc).__name__
            update_run(store, run_id, succeeded=0, failed=0, input_tokens=0, output_tokens=0,
                       cost=0.0, status="failed", message=message[:500])  # fmt: skip
            raise
        update_run(
            store,
            run_id,
            succeeded=report.succeeded,
            failed=report.failed,
            input_tokens=report.input_tokens,
            output_tokens=report.output_tokens,
            cost=report.cost,
            status="batch open" if report.still_open else "done",
            message=report.summary()[:500],
        )
        result.reports[name], result.run_ids[name] = report, run_id
    evaluate_after_generation(store, study)
    return result


def study_results(
    store: Store,
    study: Study,
    by: list[str] | None = None,
    min_n: int = 30,
    *,
    majority: bool = False,
) -> dict[str, Any]:
    """JSON-ready results of a study: overall and per-slice win rates with intervals.

    With ``majority`` each pair counts once, with its reviewers' majority choice (a split
    vote counts as a tie); ``n`` is then the number of pairs. The judgments are the people's,
    plus an LLM judge's verdicts only where an admin let them stand in for missing human ones
    (``judge.verdict_judgments``; ``judge_verdicts`` counts them), weighted by selection
    probability when the review queue is prioritised (``verdict_data.sign_off_judgments``).
    """
    frame = sign_off_judgments(store, study)
    judge_verdicts = int((frame["reviewer_type"] == "judge").sum()) if len(frame) else 0
    if majority and not frame.empty:
        per_pair = frame.drop_duplicates("pair_id").set_index("pair_id")
        voted = majority_vote(frame)
        slices = per_pair.loc[voted["pair_id"], list(study.slice_columns)].reset_index(drop=True)
        frame = pd.concat([voted[["pair_id", "choice"]], slices], axis=1).assign(
            reviewer="majority"
        )
    columns = study.chosen_slice_columns(by)
    result = summarize(frame, columns, min_n=min_n)
    result["study"] = study.name
    result["baseline"] = study.baseline_variant
    result["candidate"] = study.candidate_variant
    result["margin"] = study.margin
    result["aggregation"] = "majority vote per pair" if majority else "every judgment"
    result["judge_verdicts"] = judge_verdicts
    result["selection_weighted"] = bool(WEIGHT_COLUMN in frame.columns)
    result["decision"] = None
    if result["overall"] is not None:
        decisions = decision_table(slice_tables(frame, columns, min_n=min_n), study.margin)
        extra = {
            (row.slice, None if row.slice == "overall" else str(row.value)): (row.q_value, row.go)
            for row in decisions.itertuples()
        }
        for row in [result["overall"], *result["slices"]]:
            key = (row["slice"], None if row["slice"] == "overall" else str(row["value"]))
            q_value, go = extra[key]
            row["q_value"] = None if q_value != q_value else float(q_value)  # NaN -> None
            row["go"] = go
            row.update(_decisive_rate(row))
        verdict = overall_verdict(decisions, study.margin)
        result["decision"] = {
            k: verdict[k] for k in ("verdict", "red_slices", "amber_slices", "reason")
        }
    return result


def _decisive_rate(row: dict[str, Any]) -> dict[str, float | None]:
    """Win rate with ties and both-bad left out (decisive votes only), with its Wilson interval."""
    wins, losses = int(row["candidate_wins"]), int(row["baseline_wins"])
    if wins + losses == 0:
        return {"win_rate_decisive": None, "decisive_ci_low": None, "decisive_ci_high": None}
    low, high = wilson_interval(wins, wins + losses)
    return {
        "win_rate_decisive": wins / (wins + losses),
        "decisive_ci_low": low,
        "decisive_ci_high": high,
    }


def study_agreement(store: Store, study: Study) -> dict[str, Any]:
    """Inter-reviewer agreement of a study's live judgments (JSON-ready; NaN becomes None).

    Pairwise agreement with and without ties, Fleiss' kappa over pairs with the most common
    number of votes, and Cohen's kappa for every two reviewers who share at least two pairs.
    """
    frame = judgments_frame(store, study)

    def plain(value: Any) -> Any:
        return None if isinstance(value, float) and value != value else value

    cohen = []
    if not frame.empty:
        reviewers = sorted(frame["reviewer"].unique())
        pairs_of = {r: set(frame.loc[frame["reviewer"] == r, "pair_id"]) for r in reviewers}
        for i, a in enumerate(reviewers):
            for b in reviewers[i + 1 :]:
                shared = len(pairs_of[a] & pairs_of[b])
                if shared >= 2:
                    kappa = cohens_kappa(frame, a, b)
                    cohen.append({"reviewer_a": a, "reviewer_b": b, "shared_pairs": shared,
                                  "kappa": plain(kappa)})  # fmt: skip
    return {
        "study": study.name,
        "n_judgments": int(len(frame)),
        "n_reviewers": int(frame["reviewer"].nunique()) if not frame.empty else 0,
        "with_ties": {k: plain(v) for k, v in pairwise_agreement(frame, True).items()},
        "without_ties": {k: plain(v) for k, v in pairwise_agreement(frame, False).items()},
        "fleiss": {k: plain(v) for k, v in fleiss_kappa_report(frame).items()},
        "cohen": cohen,
    }


def study_slice_table(
    store: Store, study: Study, by: list[str] | None = None, min_n: int = 30
) -> pd.DataFrame:
    frame = judgments_frame(store, study)
    return slice_tables(frame, list(by) if by else list(study.slice_columns), min_n=min_n)
