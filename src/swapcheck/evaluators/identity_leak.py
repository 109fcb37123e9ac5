"""Identity-leak check: does the answer name its own model, vendor or training? Stored flags."""

from __future__ import annotations

import json

import pandas as pd

from swapcheck.evaluators import ChatMessages, EvalResult, evaluator
from swapcheck.identity_leaks import find_identity_leaks
from swapcheck.store.connection import Store
from swapcheck.store.studies import Study, study_prompt_ids

NAME = "identity_leak"


@evaluator(
    NAME,
    version=1,
    description="Number of phrases in which the answer names its own model, vendor or training "
    "(label: the phrases as a JSON list).",
)
def identity_leak(messages: ChatMessages, text: str) -> EvalResult:
    leaks = find_identity_leaks(text)
    if not leaks:
        return EvalResult(0.0, None)
    return EvalResult(float(len(leaks)), json.dumps([leak.phrase for leak in leaks]))


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
    return frame
