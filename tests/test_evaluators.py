"""Built-in evaluators: registry, refusal, JSON validity/schema, identity leaks; storage summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from swapcheck.errors import ConfigError
from swapcheck.evaluators import (
    REGISTRY,
    EvalValue,
    ResponseInput,
    evaluator,
    get_evaluator,
    load_builtin,
)
from tests.evaluator_utils import scorer

USER = [{"role": "user", "content": "Extract the order. Return JSON with fields id and city."}]
PROSE = [{"role": "user", "content": "How do I reset my password?"}]
SYSTEM_JSON = [
    {"role": "system", "content": "Always answer in json."},
    {"role": "user", "content": "Give me the order id and city."},
]
ORDER_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "city": {"type": "string"}},
    "required": ["id", "city"],
}


score = scorer(PROSE)


def test_builtins_register_by_name_with_versions() -> None:
    registry = load_builtin()
    assert {
        "refusal",
        "json_valid",
        "identity_leak",
        "markdown_headings",
        "markdown_lists",
        "code_fences",
        "markdown_tables",
        "length_chars",
        "length_words",
        "length_ratio",
        "language_mismatch",
        "assertion",
        "reference_match",
        "semantic_similarity",
    } <= set(registry)
    assert "json_invalid" not in registry  # replaced by json_valid (higher is better)
    assert all(ev.version >= 1 and ev.description for ev in registry.values())
    assert all(
        ev.kind in ("rate", "mean") and ev.scope in ("response", "pair") for ev in registry.values()
    )
    assert {ev.name for ev in registry.values() if ev.needs_options} == {
        "assertion",
        "reference_match",
    }
    assert registry["semantic_similarity"].extra == "embeddings"
    assert (registry["refusal"].higher_is, registry["json_valid"].higher_is) == ("worse", "better")


def test_options_are_checked_by_name() -> None:
    with pytest.raises(ConfigError) as err:
        get_evaluator("refusal").build({"threshold": 2})
    assert "threshold" in err.value.message and err.value.fix
    with pytest.raises(ConfigError) as err:
        get_evaluator("no_such_check")
    assert "no_such_check" in err.value.message and "refusal" in (err.value.fix or "")


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I'm sorry, but I can't help with medical questions. Please consult a doctor.", "refusal"),
        ("I cannot assist with that request.", "refusal"),
        ("申し訳ありませんが、その質問にはお答えできません。", "refusal"),
        ("", "empty"),
        ("   \n ", "empty"),
        ("Open Settings, choose Security and press Reset password.", None),
        ("Sorry for the wait! Here is how to reset it: open Settings.", None),
        # other languages
        ("Es tut mir leid, aber ich kann Ihnen dabei nicht helfen.", "refusal"),
        ("Leider kann ich Ihnen hierzu keine Auskunft geben.", "refusal"),
        ("Je suis désolé, mais je ne peux pas répondre à cette question.", "refusal"),
        ("Lo siento, pero no puedo ayudarte con eso.", "refusal"),
        ("Desculpe, mas não posso ajudar com isso.", "refusal"),
        ("Mi dispiace, ma non posso fornire questa informazione.", "refusal"),
        ("その件についてはお答えできません。", "refusal"),
        # deflections: sent elsewhere instead of an answer
        ("For questions about your dosage, please consult your doctor.", "deflection"),
        ("Please contact our customer support team about refunds.", "deflection"),
        ("Bitte wenden Sie sich an Ihren Arzt.", "deflection"),
        ("Für Erstattungen kontaktieren Sie bitte unseren Kundenservice.", "deflection"),
        ("Veuillez consulter un médecin.", "deflection"),
        ("Consultez la documentation pour la liste complète.", None),
        ("詳しくは医師にご相談ください。", "deflection"),
        ("サポート窓口にお問い合わせください。", "deflection"),
        # helpful answers that merely mention support, or apologise, stay 0
        ("Open Settings > Security and press Reset. If that fails, contact support.", None),
        ("Es tut mir leid, dass es nicht geklappt hat. Öffnen Sie die Einstellungen.", None),
        ("Öffnen Sie die Einstellungen und wählen Sie Passwort zurücksetzen.", None),
        ("設定を開いて「パスワードをリセット」を押してください。", None),
        ("Lo siento por la espera. Abre Ajustes y pulsa Restablecer.", None),
        ("No puedo creer lo fácil que es: abre Ajustes y pulsa Restablecer.", None),
    ],
)
def test_refusal(text: str, label: str | None) -> None:
    result = score("refusal", text)
    assert result is not None
    assert (result.value, result.label) == ((1.0, label) if label else (0.0, None))


def test_long_helpful_answer_ending_with_a_referral_is_not_a_deflection() -> None:
    steps = "\n".join(f"{i}. Step {i}: open the menu and choose option {i}." for i in range(1, 12))
    text = f"Please contact support only after these steps.\n{steps}"
    assert len(text) > 500
    assert score("refusal", text) == EvalValue(0.0, None)


def test_json_valid_only_applies_when_json_was_asked_for() -> None:
    assert score("json_valid", "not json", PROSE) is None
    assert score("json_valid", '{"id": 7, "city": "Lyon"}', USER) == EvalValue(1.0, None)
    assert score("json_valid", "  [1, 2]\n", SYSTEM_JSON) == EvalValue(1.0, None)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ('```json\n{"id": 7, "city": "Lyon"}\n```', "fenced"),
        ('Sure! Here it is:\n```json\n{"id": 7}\n```', "fenced"),
        ('~~~\n{"id": 7}\n~~~', "fenced"),
        ('Here is the order: {"id": 7, "city": "Lyon"}', "preamble"),
        ('Voici la commande :\n{"id": 7, "city": "Lyon"}', "preamble"),
        ('{"id": 7, "city": "Lyon"}\nHope this helps!', "trailing"),
        ("{id: 7}", "invalid"),
        ('{"id": NaN}', "invalid"),
        ('```json\n{"id": 7,}\n```', "invalid"),
        ("Die Bestellung hat die Nummer 7 und geht nach Lyon.", "invalid"),
        ("", "invalid"),
    ],
)
def test_json_valid_labels_what_is_wrong(text: str, label: str) -> None:
    assert score("json_valid", text, USER) == EvalValue(0.0, label)


def test_json_schema_adherence() -> None:
    options = {"schema": ORDER_SCHEMA}
    assert score("json_valid", '{"id": 7, "city": "Lyon"}', USER, options) == EvalValue(1.0)
    assert score("json_valid", '{"id": "7", "city": "Lyon"}', USER, options) == EvalValue(
        0.0, "schema: $.id"
    )
    assert score("json_valid", '{"id": 7}', USER, options) == EvalValue(0.0, "schema: $")
    # a fenced answer stays 'fenced' even when its content matches the schema
    assert score("json_valid", '```\n{"id": 7, "city": "Lyon"}\n```', USER, options) == (
        EvalValue(0.0, "fenced")
    )


def test_json_schema_from_a_file_and_bad_schemas(tmp_path: Path) -> None:
    path = tmp_path / "order.schema.json"
    path.write_text(json.dumps(ORDER_SCHEMA), encoding="utf-8")
    options = {"schema_path": str(path)}
    assert score("json_valid", '{"id": 1, "city": "Graz"}', USER, options) == EvalValue(1.0)
    assert score("json_valid", '{"id": 1, "city": 5}', USER, options) == EvalValue(
        0.0, "schema: $.city"
    )
    bad_options: list[tuple[dict[str, Any], str]] = [
        ({"schema": {"type": "banana"}}, "schema"),
        ({"schema": ["not", "an", "object"]}, "schema"),
        ({"schema_path": str(tmp_path / "missing.json")}, "schema_path"),
        ({"schema": ORDER_SCHEMA, "schema_path": str(path)}, "schema_path"),
        ({"schemas": ORDER_SCHEMA}, "schemas"),
    ]
    for options, named in bad_options:
        with pytest.raises(ConfigError) as err:
            get_evaluator("json_valid").build(options)
        assert named in err.value.message and err.value.fix, options


def test_json_when_limits_the_check_to_matching_rows() -> None:
    options = {"when": {"feature": ["json", "extract"]}}
    assert score("json_valid", "nope", USER, options, {"feature": "chat"}) is None
    assert score("json_valid", "nope", USER, options, {}) is None
    assert score("json_valid", "nope", USER, options, {"feature": "json"}) == EvalValue(
        0.0, "invalid"
    )


def test_identity_leak_is_a_rate_with_the_phrases_as_label() -> None:
    leak = score("identity_leak", "GPT-4 here. Meine Trainingsdaten reichen bis 2023.")
    assert leak is not None and leak.value == 1.0
    assert json.loads(leak.label or "") == ["GPT-4 here", "Meine Trainingsdaten"]
    assert score("identity_leak", "Open Settings and choose Reset.") == EvalValue(0.0, None)


def test_registering_a_custom_evaluator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("swapcheck.evaluators.REGISTRY", dict(REGISTRY))
    from swapcheck import evaluators

    @evaluator("shouting", version=2)
    def shouting(options):  # type: ignore[no-untyped-def]
        """Answer is all caps."""
        return lambda item: evaluators.EvalValue(float(item.text.isupper()))

    registered = evaluators.REGISTRY["shouting"]
    assert registered.version == 2 and registered.description == "Answer is all caps."
    assert registered.build()(ResponseInput(PROSE, "HELLO")) == EvalValue(1.0)
