"""Identity-leak check: does the answer name its own model, vendor or training? Stored flags."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from swapcheck.evaluators import EvalValue, ResponseFn, ResponseInput, evaluator
from swapcheck.evaluators._text import reject_unknown
from swapcheck.identity_leaks import find_identity_leaks
from swapcheck.store.connection import Store
from swapcheck.store.studies import Study, study_prompt_ids

NAME = "identity_leak"


@evaluator(
    NAME,
    version=2,
    scope="response",
    kind="rate",
    higher_is="worse",
    description="Answer names its own model, vendor or training (1) or not (0); "
    "label: the flagged phrases as a JSON list.",
)
def identity_leak(options: Mapping[str, Any]) -> ResponseFn:
    """Answer names its own model, vendor or training."""
    reject_unknown(options, (), NAME)

    def check(item: ResponseInput) -> EvalValue:
        leaks = find_identity_leaks(item.text)
        if not leaks:
            return EvalValue(0.0, None)
        return EvalValue(1.0, json.dumps([leak.phrase for leak in leaks], ensure_ascii=False))

    return check


def leak_phrases(label: str | None) -> list[str]:
    """The flagged phrases stored in an ``identity_leak`` evaluation's label."""
    if not label:
        return []
    try:
        phrases = json.loads(label)
    except ValueError:
        return [label]
    return [str(p) for p in phrases] if isinstance(phrases, list) else [str(phrases)]


def identity_flags(store: Store, study: Study) -> pd.DataFrame:
    """Answers of the study's pairs that leak their identity, one row per (pair, variant).

    Answers not yet checked by the current evaluator version are checked first and their
    scores stored (so the 'exclude' policy sees them too). Columns: ``pair_id``, ``prompt_id``,
    ``role`` (baseline/candidate), ``variant``, ``leaks`` (count) and ``phrases`` (list), in the
    study's pair order.
    """
    from swapcheck.store.evaluations import flagged_answers, run_evaluators

    prompt_ids = study_prompt_ids(store, study)
    for variant in study.variants:
        run_evaluators(store, variant, prompt_ids)
    frame = flagged_answers(store, study, NAME)
    frame["phrases"] = [leak_phrases(label) for label in frame.pop("label")]
    frame["leaks"] = [len(phrases) for phrases in frame["phrases"]]  # the value is 0/1 now
    return frame
