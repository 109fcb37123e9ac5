"""Semantic similarity with the offline WordLlama model bundled in the 'embeddings' extra."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

from swapcheck.errors import ConfigError
from swapcheck.evaluators import EvalValue, PairInput, get_evaluator

PROMPT = [{"role": "user", "content": "How do I reset my password?"}]


def test_missing_extra_raises_config_error_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from swapcheck.evaluators import similarity

    similarity.embedding_model.cache_clear()
    real_import = builtins.__import__

    def no_wordllama(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("wordllama"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_wordllama)
    with pytest.raises(ConfigError) as err:
        get_evaluator("semantic_similarity").build()
    assert "embeddings" in err.value.message
    assert err.value.fix == "pip install 'swapcheck[embeddings]'"
    similarity.embedding_model.cache_clear()


def test_paraphrases_score_higher_than_unrelated_answers() -> None:
    pytest.importorskip("wordllama")
    check = get_evaluator("semantic_similarity").build()

    def similar(baseline: str, candidate: str) -> float:
        result = check(PairInput(PROMPT, baseline, candidate))  # type: ignore[arg-type]
        assert result is not None and -1.0 <= result.value <= 1.0
        return result.value

    cases = [
        (
            "Open Settings, choose Security and press Reset password.",
            "Go to Settings, pick Security, then click Reset password.",
            "The weather in Paris is sunny with light wind today.",
        ),
        (
            "Öffnen Sie die Einstellungen und setzen Sie das Passwort zurück.",
            "Gehen Sie zu den Einstellungen und ändern Sie dort Ihr Passwort.",
            "Der Zug nach Berlin fährt um acht Uhr morgens ab.",
        ),
        (
            "設定を開いてパスワードをリセットしてください。",
            "設定画面からパスワードを再設定できます。",
            "今日は東京で一日中雨が降っています。",
        ),
    ]
    for answer, paraphrase, unrelated in cases:
        assert similar(answer, paraphrase) > similar(answer, unrelated), answer
    assert similar("Same answer.", "Same answer.") == pytest.approx(1.0, abs=1e-5)


def test_empty_answers_and_options() -> None:
    pytest.importorskip("wordllama")
    check = get_evaluator("semantic_similarity").build()
    assert check(PairInput(PROMPT, "", "  ")) == EvalValue(1.0, "empty")  # type: ignore[arg-type]
    assert check(PairInput(PROMPT, "Hi", "")) == EvalValue(0.0, "empty")  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as err:
        get_evaluator("semantic_similarity").build({"model": "other"})
    assert "model" in err.value.message


def test_model_is_loaded_once_per_process() -> None:
    pytest.importorskip("wordllama")
    from swapcheck.evaluators.similarity import embedding_model

    assert embedding_model() is embedding_model()
