"""Run evaluator instances over a study's answers and pairs, storing what is missing or stale."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from swapcheck.errors import ConfigError
from swapcheck.evaluation_config import Instance, default_instances, study_instances
from swapcheck.evaluators import EvalValue, PairInput, ResponseInput
from swapcheck.store.connection import Store
from swapcheck.store.evaluations import (
    current_score_keys,
    study_answers,
    variant_answers,
    write_scores,
)
from swapcheck.store.studies import Study

log = logging.getLogger(__name__)
BATCH_ROWS = 20_000
"""Score rows written per transaction."""
MAX_ERROR = 300


@dataclass
class InstanceOutcome:
    """What one instance did in a run."""

    name: str
    evaluator: str
    scope: str
    scored: int = 0
    not_applicable: int = 0
    failed: int = 0
    up_to_date: int = 0
    """Answers (or pairs) skipped because a current score was already stored."""
    first_error: str | None = None

    def fail(self, message: str, count: int = 1) -> None:
        self.failed += count
        if self.first_error is None:
            self.first_error = message[:MAX_ERROR]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "evaluator": self.evaluator,
            "scope": self.scope,
            "scored": self.scored,
            "not_applicable": self.not_applicable,
            "failed": self.failed,
            "up_to_date": self.up_to_date,
            "first_error": self.first_error,
        }


@dataclass
class EvaluationReport:
    """Per-instance counts of one evaluation run and the rows it stored."""

    study: str
    outcomes: dict[str, InstanceOutcome] = field(default_factory=dict)
    stored: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return sum(o.failed for o in self.outcomes.values())

    def summary(self) -> str:
        scored = sum(o.scored for o in self.outcomes.values())
        skipped = sum(o.up_to_date for o in self.outcomes.values())
        na = sum(o.not_applicable for o in self.outcomes.values())
        text = (
            f"{self.study}: {len(self.outcomes)} evaluators, {scored} scores, "
            f"{na} not applicable, {skipped} already up to date, {self.failed} failed; "
            f"{self.stored} rows stored in {self.seconds:.1f} s"
        )
        failing = [o for o in self.outcomes.values() if o.failed]
        if failing:
            text += (
                " (failures: "
                + "; ".join(f"{o.name} x{o.failed}: {o.first_error}" for o in failing)
                + ")"
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "stored": self.stored,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "instances": [o.to_dict() for o in self.outcomes.values()],
        }


@dataclass(frozen=True)
class _Item:
    """One thing to score: an answer (``against`` '') or a pair (``against`` the baseline)."""

    prompt_id: str
    variant: str
    against: str
    payload: ResponseInput | PairInput


class _Writer:
    """Collects score rows and writes them in batches, one transaction each."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows: list[tuple] = []
        self.stored = 0

    def add(self, item: _Item, instance: Instance, version: int, result: EvalValue | None):
        value = None if result is None else result.value
        label = None if result is None else result.label
        self.rows.append(
            (
                item.prompt_id,
                item.variant,
                item.against,
                instance.name,
                instance.config_hash,
                version,
                value,
                label,
            )
        )
        if len(self.rows) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        frame = pd.DataFrame(
            self.rows,
            columns=[
                "prompt_id",
                "variant",
                "against",
                "evaluator",
                "config_hash",
                "version",
                "value",
                "label",
            ],
        )
        self.rows = []
        self.stored += write_scores(self.store, frame)


def _checked(result: object, kind: str) -> EvalValue | None:
    """The evaluator's result, or ValueError when it is not a finite EvalValue (0/1 for rates)."""
    if result is None:
        return None
    if not isinstance(result, EvalValue):
        raise ValueError(f"returned {type(result).__name__}, not EvalValue or None")
    value = float(result.value)
    if not math.isfinite(value):
        raise ValueError(f"returned a non-finite value {value}")
    if kind == "rate" and value not in (0.0, 1.0):
        raise ValueError(f"is a rate but returned {value} (must be 0 or 1)")
    label = None if result.label is None else str(result.label)
    return EvalValue(value, label)


def _score_instance(
    instance: Instance,
    items: Sequence[_Item],
    done: set[tuple[str, str, str, str]],
    writer: _Writer,
    rerun: bool,
) -> InstanceOutcome:
    try:
        spec = instance.spec
    except ConfigError as exc:
        outcome = InstanceOutcome(instance.name, instance.evaluator, "?")
        outcome.fail(exc.message, len(items))
        return outcome
    outcome = InstanceOutcome(instance.name, spec.name, spec.scope)
    todo = [
        item
        for item in items
        if rerun or (instance.name, item.prompt_id, item.variant, item.against) not in done
    ]
    outcome.up_to_date = len(items) - len(todo)
    if not todo:
        return outcome
    try:
        fn: Callable[[Any], object] = spec.build(instance.options)
    except Exception as exc:  # a factory that cannot be built fails every item, not the run
        outcome.fail(f"cannot build: {type(exc).__name__}: {exc}", len(todo))
        return outcome
    for item in todo:
        try:
            result = _checked(fn(item.payload), spec.kind)
        except Exception as exc:  # one bad answer must not lose the other scores
            outcome.fail(f"{item.prompt_id} ({item.variant}): {type(exc).__name__}: {exc}")
            continue
        if result is None:
            outcome.not_applicable += 1
        else:
            outcome.scored += 1
        writer.add(item, instance, spec.version, result)
    return outcome


def _run(
    store: Store,
    label: str,
    instances: Sequence[Instance],
    items_by_scope: dict[str, list[_Item]],
    prompt_ids: Sequence[str],
    variants: Sequence[str],
    rerun: bool,
) -> EvaluationReport:
    started = time.perf_counter()
    report = EvaluationReport(study=label)
    done = set() if rerun else current_score_keys(store, instances, prompt_ids, variants)
    writer = _Writer(store)
    for instance in instances:
        items = items_by_scope.get(_scope(instance), [])
        outcome = _score_instance(instance, items, done, writer, rerun)
        report.outcomes[instance.name] = outcome
    writer.flush()
    report.stored = writer.stored
    report.seconds = time.perf_counter() - started
    return report


def _parse(messages_json: str, metadata_json: str | None) -> tuple[list, dict]:
    messages = json.loads(messages_json)
    metadata = json.loads(metadata_json) if metadata_json else {}
    return messages, metadata if isinstance(metadata, dict) else {}


def _select(instances: list[Instance], only: Sequence[str] | None, study: Study) -> list[Instance]:
    if not only:
        return instances
    by_name = {i.name: i for i in instances}
    unknown = [name for name in only if name not in by_name]
    if unknown:
        raise ConfigError(
            f"Study {study.name!r} has no evaluator instance {', '.join(map(repr, unknown))}.",
            f"Use one of: {', '.join(by_name) or 'none'} (swapcheck evaluators list --study).",
        )
    return [by_name[name] for name in dict.fromkeys(only)]


def evaluate_study(
    store: Store, study: Study, *, only: Sequence[str] | None = None, rerun: bool = False
) -> EvaluationReport:
    """Score the study's successful answers and complete pairs with its effective instances.

    Scores already stored with the same version and options are kept unless ``rerun``. An
    instance that fails on an answer is counted (with its first error) and the run goes on.
    """
    instances = _select(study_instances(store, study), only, study)
    responses: list[_Item] = []
    pairs: list[_Item] = []
    prompt_ids: list[str] = []
    base, cand = study.baseline_variant, study.candidate_variant
    for prompt_id, messages_json, metadata_json, base_text, cand_text in study_answers(
        store, study
    ):
        prompt_ids.append(prompt_id)
        if base_text is None and cand_text is None:
            continue
        messages, metadata = _parse(messages_json, metadata_json)
        for variant, text in ((base, base_text), (cand, cand_text)):
            if text is not None:
                responses.append(
                    _Item(prompt_id, variant, "", ResponseInput(messages, text, metadata))
                )
        if base_text is not None and cand_text is not None:
            payload = PairInput(messages, base_text, cand_text, metadata)
            pairs.append(_Item(prompt_id, cand, base, payload))
    return _run(
        store,
        study.name,
        instances,
        {"response": responses, "pair": pairs},
        prompt_ids,
        [base, cand],
        rerun,
    )


def score_variant_answers(
    store: Store, variant: str, prompt_ids: Iterable[str], *, rerun: bool = False
) -> EvaluationReport:
    """Score one variant's answers with the default response instances (after generation)."""
    ids = list(dict.fromkeys(prompt_ids))
    instances = [i for i in default_instances() if _scope(i) == "response"]
    items = []
    for prompt_id, messages_json, metadata_json, text in variant_answers(store, variant, ids):
        messages, metadata = _parse(messages_json, metadata_json)
        items.append(_Item(prompt_id, variant, "", ResponseInput(messages, text, metadata)))
    report = _run(store, variant, instances, {"response": items}, ids, [variant], rerun)
    if report.failed:
        log.warning("evaluators on %s: %s", variant, report.summary())
    return report


def _scope(instance: Instance) -> str:
    try:
        return instance.spec.scope
    except ConfigError:
        return "response"
