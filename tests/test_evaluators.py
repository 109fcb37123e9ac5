"""Built-in evaluators: registry, refusal and strict-JSON checks, storage and study summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from swapcheck.evaluators import REGISTRY, evaluator, load_builtin
from swapcheck.store import Store
from swapcheck.store.evaluations import evaluation_summary, run_evaluators
from swapcheck.store.studies import study_prompt_ids

USER = [{"role": "user", "content": "Extract the order. Return JSON with fields id and city."}]
PROSE = [{"role": "user", "content": "How do I reset my password?"}]


def test_builtins_register_by_name_with_versions() -> None:
    registry = load_builtin()
    assert {"refusal", "json_invalid"} <= set(registry)
    assert all(ev.version >= 1 and ev.description for ev in registry.values())


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("I'm sorry, but I can't help with medical questions. Please consult a doctor.", True),
        ("I cannot assist with that request.", True),
        ("申し訳ありませんが、その質問にはお答えできません。", True),
        ("", True),
        ("Open Settings, choose Security and press Reset password.", False),
        ("Sorry for the wait! Here is how to reset it: open Settings.", False),
    ],
)
def test_refusal(text: str, flagged: bool) -> None:
    result = load_builtin()["refusal"].fn(PROSE, text)
    assert (result.value == 1.0) is flagged


def test_json_invalid_only_applies_when_json_was_asked_for() -> None:
    check = load_builtin()["json_invalid"].fn
    assert check(PROSE, "not json") is None
    assert check(USER, '{"id": 7, "city": "Lyon"}').value == 0.0
    fenced = check(USER, 'Sure! Here it is:\n```json\n{"id": 7}\n```')
    assert fenced.value == 1.0 and fenced.label == "fenced"
    assert check(USER, "{id: 7}").label == "invalid"


def test_registering_a_custom_evaluator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("swapcheck.evaluators.REGISTRY", dict(REGISTRY))
    from swapcheck import evaluators

    @evaluator("shouting", version=2)
    def shouting(messages, text):  # type: ignore[no-untyped-def]
        """Answer is all caps."""
        return evaluators.EvalResult(float(text.isupper()))

    assert evaluators.REGISTRY["shouting"].version == 2
    assert evaluators.REGISTRY["shouting"].description == "Answer is all caps."


def test_scores_are_stored_once_and_summarised_per_study(tmp_store: Store, tmp_path: Path) -> None:
    from tests.helpers import simulated_study

    study = simulated_study(tmp_store, tmp_path, n=9)  # generation already ran the evaluators
    ids = study_prompt_ids(tmp_store, study)
    assert run_evaluators(tmp_store, "cand", ids) == 0  # nothing new: idempotent
    with tmp_store.cursor() as cur:
        cur.execute("DELETE FROM evaluations WHERE variant = 'cand'")
    # refusal and identity_leak apply to all 9 answers, JSON validity to none
    assert run_evaluators(tmp_store, "cand", ids) == 18
    summary = evaluation_summary(tmp_store, study)
    refusal = summary[summary.evaluator == "refusal"].iloc[0]
    assert refusal.n == 9 and refusal.slice == "overall"
    by_feature = evaluation_summary(tmp_store, study, "feature")
    assert set(by_feature.value) == {"chat", "json", "summary"}
    assert by_feature[by_feature.evaluator == "refusal"].n.sum() == 9
