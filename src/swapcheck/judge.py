"""LLM judge: judge a study's pairs in both orders through the generation engine, and use it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from swapcheck.errors import ConfigError
from swapcheck.generate import GenerationReport, GenerationSettings, generate
from swapcheck.identity_leaks import find_identity_leaks
from swapcheck.judge_prompt import (
    VerdictParseError,
    build_judge_messages,
    default_rubric,
    parse_verdict,
    rubric_hash,
    unblind_pick,
)
from swapcheck.models import LOGGED_VARIANT, GenerationJob, ResponseRecord, VariantConfig
from swapcheck.review import item_for, left_role_for
from swapcheck.stats import MISSING
from swapcheck.stats_judge import INCONSISTENT_TAG, judge_agreement_table, judge_eligible_slices
from swapcheck.store import Store
from swapcheck.store.judge import (
    InVerdict,
    JudgeCall,
    JudgeConfig,
    NewJudgeJudgment,
    OrderedVerdicts,
    complete_pairs,
    judge_reviewer,
    judged_orders,
    live_judge_judgments,
    load_judge_config,
    save_judge_calls,
    save_judge_config,
    write_judge_judgments,
)
from swapcheck.store.judgments import judgments_frame, pair_content, ready_pair_ids
from swapcheck.store.studies import Study
from swapcheck.store.variants import get_variant

EXPECTED_VERDICT_TOKENS = 200
"""Typical reply length, for budget reservations when the judge variant sets no max_tokens."""
MAX_COMMENT_RATIONALE = 300
_RUBRIC_TAG_RE = re.compile(r"^rubric v\d+ ([0-9a-f]{16}):")
ORDERS: tuple[str, ...] = ("baseline", "candidate")


@dataclass(frozen=True)
class EffectiveJudge:
    """What a run uses: the judge variant, the rubric text, its version and hash."""

    variant: VariantConfig
    rubric: str
    version: int
    rubric_hash: str


@dataclass
class JudgeReport:
    """Outcome of one ``judge_study`` call."""

    study: str
    variant: str
    rubric_version: int
    rubric_hash: str
    pairs_ready: int = 0
    pairs_excluded: int = 0
    """Ready pairs skipped because an answer names its model (identity policy 'exclude')."""
    pairs_pending: int = 0
    """Pairs that still lacked a verdict in some order before this run (after ``limit``)."""
    calls_sent: int = 0
    calls_failed: int = 0
    """Calls that failed or whose reply held no readable verdict (stored with ``error``)."""
    judgments_written: int = 0
    inconsistent_written: int = 0
    judgments_replaced: int = 0
    stale_undone: int = 0
    """Live verdicts of this judge under an older rubric withdrawn (their pair awaits judging)."""
    pairs_judged: int = 0
    """Pairs with a live verdict of this judge under this rubric after the run."""
    cost: float = 0.0
    budget_exhausted: bool = False
    cancelled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        lines = [
            f"judge {self.variant} (rubric v{self.rubric_version} {self.rubric_hash}) on study "
            f"{self.study}: {self.calls_sent} call(s), {self.calls_failed} failed, "
            f"${self.cost:.4f}",
            f"  {self.judgments_written} verdict(s) written ({self.inconsistent_written} "
            f"inconsistent: the two orders disagreed, stored as ties), "
            f"{self.judgments_replaced} replaced, {self.stale_undone} withdrawn (older rubric)",
            f"  {self.pairs_judged} of {self.pairs_ready} ready pair(s) judged"
            + (f"; {self.pairs_excluded} excluded (identity leak)" if self.pairs_excluded else ""),
        ]
        if self.budget_exhausted:
            lines.append("  budget reached: run again with a larger --budget to finish")
        if self.calls_failed:
            lines.append("  failed calls are retried by the next run")
        return "\n".join(lines)


# -- configuration ------------------------------------------------------------------------------


def _judge_variant(store: Store, name: str) -> VariantConfig:
    variant = get_variant(store, name)
    if variant.provider == LOGGED_VARIANT:
        raise ConfigError(
            f"Variant {name!r} holds logged answers and cannot judge.",
            "Pick a variant that calls a model (swapcheck variants list).",
        )
    return variant


def configure_judge(
    store: Store, study: Study, *, variant: str | None = None, rubric: str | None = None
) -> JudgeConfig:
    """Store the study's judge variant and/or rubric text; a changed rubric bumps the version."""
    config = load_judge_config(store, study)
    if variant is not None:
        _judge_variant(store, variant)
        config = dataclasses.replace(config, variant=variant)
    if rubric is not None:
        text = rubric.strip()
        if not text:
            raise ConfigError("The rubric is empty.", "Write the judging criteria in the file.")
        if text != config.rubric:
            version = config.version + 1 if config.rubric is not None else config.version
            config = dataclasses.replace(config, rubric=text, version=version)
    save_judge_config(store, study, config)
    return config


def effective_judge(store: Store, study: Study, variant: str | None = None) -> EffectiveJudge:
    """The judge a run uses: ``variant`` or the configured one, the rubric or the default."""
    config = load_judge_config(store, study)
    name = variant or config.variant
    if not name:
        raise ConfigError(
            f"Study {study.name!r} has no judge variant.",
            f"Pass one: swapcheck judge --study {study.name!r} --variant NAME.",
        )
    rubric = config.rubric or default_rubric(study.rubric)
    return EffectiveJudge(
        _judge_variant(store, name), rubric, config.version, rubric_hash(rubric, config.version)
    )


# -- judging ------------------------------------------------------------------------------------


def _leaks(store: Store, study: Study, pair_id: str) -> bool:
    content = pair_content(store, study, pair_id)
    return any(
        find_identity_leaks(t or "") for t in (content.baseline_text, content.candidate_text)
    )


def _jobs_for_pair(
    store: Store, study: Study, judge: EffectiveJudge, pair_id: str, orders: list[str]
) -> list[tuple[GenerationJob, str]]:
    """The judge's requests for one pair, from the reviewers' redacted, masked view."""
    reviewer = judge_reviewer(judge.variant.name)
    item = item_for(store, study, pair_id, reviewer)
    if left_role_for(study, pair_id, reviewer) == "baseline":
        texts = {"baseline": item.left_text, "candidate": item.right_text}
    else:
        texts = {"baseline": item.right_text, "candidate": item.left_text}
    jobs = []
    for first in orders:
        second = "candidate" if first == "baseline" else "baseline"
        messages = build_judge_messages(
            judge.rubric, item.system, item.messages, texts[first], texts[second]
        )
        jobs.append((GenerationJob(prompt_id=f"{pair_id}:{first}", messages=messages), first))
    return jobs


def _call_from_record(record: ResponseRecord, pair_id: str, left_role: str) -> JudgeCall:
    call = JudgeCall(
        pair_id=pair_id,
        left_role=left_role,
        verdict=None,
        raw_text=record.text,
        error=record.error,
        request_hash=record.request_hash,
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        cost_usd=record.cost,
        latency_ms=record.latency_ms,
    )
    if not record.ok:
        return call
    try:
        parsed = parse_verdict(record.text)
    except VerdictParseError as exc:
        call.error = f"Unreadable verdict: {exc}"
        return call
    call.verdict = unblind_pick(parsed.pick, left_role)
    call.rationale = parsed.rationale
    return call


def _short(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= MAX_COMMENT_RATIONALE:
        return text
    return text[: MAX_COMMENT_RATIONALE - 1] + "…"


def pair_verdict(verdicts: OrderedVerdicts, judge: EffectiveJudge) -> NewJudgeJudgment:
    """The pair's judge verdict: both orders' verdict when they agree, else a flagged tie."""
    consistent = verdicts.baseline_first == verdicts.candidate_first
    comment = (
        f"rubric v{judge.version} {judge.rubric_hash}: "
        f"baseline first ({verdicts.baseline_first}): {_short(verdicts.rationale_baseline_first)}"
        f" | candidate first ({verdicts.candidate_first}): "
        f"{_short(verdicts.rationale_candidate_first)}"
    )
    return NewJudgeJudgment(
        pair_id=verdicts.pair_id,
        choice=verdicts.baseline_first if consistent else "tie",
        reason_tags=() if consistent else (INCONSISTENT_TAG,),
        comment=comment,
    )


def _store_judgments(
    store: Store, study: Study, judge: EffectiveJudge, report: JudgeReport
) -> None:
    reviewer = judge_reviewer(judge.variant.name)
    live = live_judge_judgments(store, study, reviewer)
    new: list[NewJudgeJudgment] = []
    undo: list[str] = []
    complete = complete_pairs(store, study, judge.variant.name, judge.rubric_hash)
    for verdicts in complete:
        wanted = pair_verdict(verdicts, judge)
        old = live.get(verdicts.pair_id)
        if old is not None:
            if (old.choice, old.reason_tags, old.comment) == (
                wanted.choice,
                wanted.reason_tags,
                wanted.comment,
            ):
                continue
            undo.append(old.judgment_id)
            report.judgments_replaced += 1
        new.append(wanted)
    done = {v.pair_id for v in complete}
    for pair_id, old in live.items():
        tag = _RUBRIC_TAG_RE.match(old.comment or "")
        if pair_id not in done and tag is not None and tag.group(1) != judge.rubric_hash:
            undo.append(old.judgment_id)
            report.stale_undone += 1
    written = write_judge_judgments(store, study, reviewer, new, undo)
    report.judgments_written = len(written)
    report.inconsistent_written = sum(
        INCONSISTENT_TAG in n.reason_tags for n in new if n.pair_id in written
    )
    report.pairs_judged = len(done)


def judge_study(
    store: Store,
    study: Study,
    *,
    variant: str | None = None,
    limit: int | None = None,
    budget: float | None = None,
    settings: GenerationSettings | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> JudgeReport:
    """Judge the study's ready pairs in both presentation orders and store the verdicts.

    Only (pair, order) calls without a verdict under this judge and rubric are sent (a failed
    or unreadable call is sent again); ``limit`` caps the pairs judged, ``budget`` (US$) the
    spend. Each call is stored in ``judge_calls``; each pair with verdicts in both orders gets
    one judgment ``judge:<variant>`` (a tie tagged ``judge_inconsistent`` when the orders
    disagree), replacing the judge's earlier verdict of the pair if it differs. Verdicts of
    an older rubric of the same judge are withdrawn (undone), so the judge's live verdicts
    always come from one rubric.
    """
    if limit is not None and limit < 0:
        raise ConfigError("--limit cannot be negative.", "Pass a number of pairs >= 0.")
    judge = effective_judge(store, study, variant)
    settings = dataclasses.replace(
        settings or GenerationSettings(expected_output_tokens=EXPECTED_VERDICT_TOKENS),
        budget=budget if budget is not None else (settings.budget if settings else None),
    )
    report = JudgeReport(study.name, judge.variant.name, judge.version, judge.rubric_hash)
    done = judged_orders(store, study, judge.variant.name, judge.rubric_hash)
    ready = ready_pair_ids(store, study)
    report.pairs_ready = len(ready)
    jobs: list[GenerationJob] = []
    keys: dict[str, tuple[str, str]] = {}
    for pair_id in ready:
        missing = [order for order in ORDERS if (pair_id, order) not in done]
        if not missing:
            continue
        if study.identity_policy == "exclude" and _leaks(store, study, pair_id):
            report.pairs_excluded += 1
            continue
        if limit is not None and report.pairs_pending >= limit:
            continue
        report.pairs_pending += 1
        for job, first in _jobs_for_pair(store, study, judge, pair_id, missing):
            jobs.append(job)
            keys[job.prompt_id] = (pair_id, first)

    def sink(records: list[ResponseRecord]) -> None:
        calls = [_call_from_record(r, *keys[r.prompt_id]) for r in records]
        save_judge_calls(store, study, judge.variant.name, judge.rubric_hash, calls)
        report.calls_failed += sum(c.verdict is None for c in calls)

    if jobs:
        generation: GenerationReport = generate(
            judge.variant, jobs, sink, settings=settings, should_stop=should_stop
        )
        report.calls_sent = generation.succeeded + generation.failed
        report.cost = generation.cost
        report.budget_exhausted = generation.budget_exhausted
        report.cancelled = generation.cancelled
    _store_judgments(store, study, judge, report)
    return report


# -- agreement and the sign-off verdict ---------------------------------------------------------


def _judge_frame(store: Store, study: Study, variant: str) -> pd.DataFrame:
    frame = judgments_frame(store, study, reviewer_type="judge")
    return frame[frame["reviewer"] == judge_reviewer(variant)].reset_index(drop=True)


def judge_agreement(
    store: Store,
    study: Study,
    by: str | Sequence[str] | None = None,
    variant: str | None = None,
) -> pd.DataFrame:
    """Judge vs human agreement table of the study (see ``stats_judge``): overall, then per
    value of each slice column in ``by`` (none: overall only)."""
    columns = study.chosen_slice_columns(by) if by else []
    name = variant or load_judge_config(store, study).variant
    if not name:
        raise ConfigError(
            f"Study {study.name!r} has no judge variant.",
            f"Run swapcheck judge --study {study.name!r} --variant NAME first.",
        )
    human = judgments_frame(store, study, reviewer_type="human")
    return judge_agreement_table(human, _judge_frame(store, study, name), columns)


def _eligible_values(table: pd.DataFrame, column: str) -> list[str]:
    eligible = judge_eligible_slices(table)
    return sorted(eligible.loc[eligible["slice"] == column, "value"].astype(str))


def set_judge_in_verdict(
    store: Store, study: Study, column: str | None, values: list[str] | tuple[str, ...] = ()
) -> JudgeConfig:
    """Let judge verdicts fill in missing human ones for ``values`` of ``column`` (admin only).

    Refuses any value where the judge's agreement with humans is not proven
    (``stats_judge.judge_eligible_slices``). ``column=None`` or no values turns it off.
    """
    config = load_judge_config(store, study)
    if column is None or not values:
        config = dataclasses.replace(config, in_verdict=None)
        save_judge_config(store, study, config)
        return config
    eligible = _eligible_values(judge_agreement(store, study, by=column), column)
    refused = [v for v in values if v not in eligible]
    if refused:
        raise ConfigError(
            f"The judge's agreement with humans is not proven on {column}={refused[0]!r} "
            "(it needs >= 30 pairs judged by both, kappa >= 0.6 and the win-rate gap's 95% "
            "interval within ±0.05).",
            f"Enable only proven slices ({', '.join(eligible) or 'none yet'}), or get more "
            "human judgments there first (swapcheck judge agreement --by "
            f"{column}).",
        )
    config = dataclasses.replace(config, in_verdict=InVerdict(column, tuple(dict.fromkeys(values))))
    save_judge_config(store, study, config)
    return config


def verdict_judgments(store: Store, study: Study) -> pd.DataFrame:
    """The judgments the sign-off verdict reads: every human one, plus judge verdicts that
    stand in for missing human ones.

    A judge verdict is added only for a pair without any live human judgment, in a slice an
    admin enabled (``set_judge_in_verdict``) that is *still* eligible now; it keeps
    ``reviewer_type = 'judge'`` so results can show it apart. Without an enabled slice this is
    ``judgments_frame(store, study)`` unchanged.
    """
    human = judgments_frame(store, study, reviewer_type="human")
    config = load_judge_config(store, study)
    allowed = config.in_verdict
    if config.variant is None or allowed is None or allowed.column not in study.slice_columns:
        return human
    judge = _judge_frame(store, study, config.variant)
    table = judge_agreement_table(human, judge, allowed.column)
    usable = set(allowed.values) & set(_eligible_values(table, allowed.column))
    if not usable or judge.empty:
        return human
    values = judge[allowed.column].astype(object)
    labels = values.where(values.notna(), MISSING).map(str)
    extra = judge[labels.isin(usable) & ~judge["pair_id"].isin(set(human["pair_id"]))]
    if extra.empty:
        return human
    return pd.concat([human, extra], ignore_index=True)
