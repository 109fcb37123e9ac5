"""Operations shared by the CLI and the pages: ingest a file, generate a study, compute stats."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from swapcheck.errors import ConfigError
from swapcheck.generate import GenerationReport, GenerationSettings, generate
from swapcheck.ingest import ColumnMapping, IngestOptions, ingest_log
from swapcheck.ingest_files import ProgressFn as IngestProgressFn
from swapcheck.models import LOGGED_VARIANT
from swapcheck.providers import make_provider
from swapcheck.redaction_config import load_redaction_config
from swapcheck.stats import slice_tables, summarize
from swapcheck.store import Store
from swapcheck.store.evaluations import run_evaluators
from swapcheck.store.judgments import judgments_frame
from swapcheck.store.responses import pending_jobs, response_status, write_responses
from swapcheck.store.sources import IngestReport
from swapcheck.store.studies import Study, study_prompt_ids
from swapcheck.store.variants import get_variant

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

    def summary(self) -> str:
        lines = []
        for name, rep in self.reports.items():
            lines.append(
                f"{name}: {rep.succeeded} answered, {rep.failed} failed"
                f"{' (cancelled)' if rep.cancelled else ''}, {rep.retries} retries, "
                f"{rep.input_tokens + rep.output_tokens} tokens, ${rep.cost:.4f}"
            )
        for name, why in self.skipped.items():
            lines.append(f"{name}: {why}")
        return "\n".join(lines)


def generate_study(
    store: Store,
    study: Study,
    *,
    variants: list[str] | None = None,
    settings: GenerationSettings | None = None,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> StudyGenerationReport:
    """Answer every prompt of the study that lacks a successful answer, for each variant."""
    settings = settings or GenerationSettings()
    prompt_ids = study_prompt_ids(store, study)
    # original or redacted text, as the project's redaction policy says (hashed as sent)
    prepare = load_redaction_config(store).provider_messages()
    result = StudyGenerationReport()
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
        jobs = pending_jobs(store, variant, prompt_ids, prepare=prepare)
        provider = make_provider(variant)

        def report_progress(done: int, total: int, _name: str = name) -> None:
            if progress:
                progress(_name, done, total)

        result.reports[name] = generate(
            variant,
            jobs,
            lambda records: write_responses(store, records),
            settings=settings,
            progress=report_progress,
            provider=provider,
            should_stop=should_stop,
        )
        run_evaluators(store, name, prompt_ids)
        result.status[name] = response_status(store, name, prompt_ids)
    return result


def study_results(
    store: Store, study: Study, by: list[str] | None = None, min_n: int = 30
) -> dict[str, Any]:
    """JSON-ready results of a study: overall and per-slice win rates with intervals."""
    frame = judgments_frame(store, study)
    columns = list(by) if by else list(study.slice_columns)
    unknown = [c for c in columns if c not in study.slice_columns]
    if unknown:
        raise ConfigError(
            f"{', '.join(unknown)} is not a slice column of study {study.name!r}.",
            f"Use one of: {', '.join(study.slice_columns) or 'none'}.",
        )
    result = summarize(frame, columns, min_n=min_n)
    result["study"] = study.name
    result["baseline"] = study.baseline_variant
    result["candidate"] = study.candidate_variant
    return result


def study_slice_table(
    store: Store, study: Study, by: list[str] | None = None, min_n: int = 30
) -> pd.DataFrame:
    frame = judgments_frame(store, study)
    return slice_tables(frame, list(by) if by else list(study.slice_columns), min_n=min_n)
