"""Text evaluators: markdown structure, length, language mismatch, assertions, reference match."""

from __future__ import annotations

import math
from typing import Any

import pytest

from swapcheck.errors import ConfigError
from swapcheck.evaluators import EvalValue, PairInput, get_evaluator
from swapcheck.evaluators.language import detect_language
from swapcheck.evaluators.length import word_count
from tests.evaluator_utils import scorer

PROSE = [{"role": "user", "content": "How do I reset my password on the website?"}]


score = scorer(PROSE)


def flags(name: str, text: str) -> bool:
    result = score(name, text)
    assert result is not None and result.value in (0.0, 1.0)
    return result.value == 1.0


def config_error(name: str, options: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        get_evaluator(name).build(options)
    assert err.value.fix, "every ConfigError tells the user what to do"
    return err.value


# --- markdown ------------------------------------------------------------------------------

FENCED_SHELL = "Run this:\n```bash\n# install the tool\npip install x\n```\nDone."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# Reset your password\nOpen Settings.", True),
        ("Intro\n\n### Schritt 1\nÖffnen Sie die Einstellungen.", True),
        ("パスワードの再設定\n==========\n設定を開きます。", True),  # setext h1
        ("Steps\n-----\nOpen Settings.", True),  # setext h2
        ("Open Settings.\n\n---\n\nThat's it.", False),  # thematic break, not a heading
        ("#hashtag is not a heading", False),
        ("Use issue #42 for this.", False),
        (FENCED_SHELL, False),  # '# install' is a comment inside a fence
        ("~~~\n# not a heading\n~~~", False),
        ("    # indented code, not a heading", False),
    ],
)
def test_markdown_headings(text: str, expected: bool) -> None:
    assert flags("markdown_headings", text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Do this:\n- open Settings\n- press Reset", True),
        ("* eins\n* zwei", True),
        ("1. Einstellungen öffnen\n2. Passwort zurücksetzen", True),
        ("1) 設定を開く\n2) リセットを押す", True),
        ("Open Settings, then press Reset.", False),
        ("*Important*: open Settings.", False),  # emphasis, not a bullet
        ("Text\n\n***\n\nmore", False),  # thematic break
        ("```\n- not a list\n- inside a fence\n```", False),
    ],
)
def test_markdown_lists(text: str, expected: bool) -> None:
    assert flags("markdown_lists", text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (FENCED_SHELL, True),
        ("~~~python\nprint(1)\n~~~", True),
        ("```\nunclosed fence runs to the end", True),
        ("Use `pip install x` inline.", False),
        ("No code here.", False),
    ],
)
def test_code_fences(text: str, expected: bool) -> None:
    assert flags("code_fences", text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("| Plan | Preis |\n|------|------:|\n| Basic | 5 € |", True),
        ("Plan | Price\n--- | ---\nBasic | 5", True),
        ("| プラン | 価格 |\n| :--- | :---: |\n| 基本 | 500円 |", True),
        ("| not | a table |\nno delimiter row", False),
        ("a | b\n\n---", False),  # a blank line is not a header row
        ("```\n| a | b |\n|---|---|\n```", False),  # inside a fence
    ],
)
def test_markdown_tables(text: str, expected: bool) -> None:
    assert flags("markdown_tables", text) is expected


def test_markdown_label_counts_the_constructs() -> None:
    text = "# A\ntext\n## B\n```\n# c\n```"
    assert score("markdown_headings", text) == EvalValue(1.0, "count=2")
    assert score("code_fences", text) == EvalValue(1.0, "count=1")
    assert score("markdown_tables", text) == EvalValue(0.0, None)


# --- length --------------------------------------------------------------------------------


def test_length_chars_and_words() -> None:
    assert score("length_chars", "  Hallo Welt!\n") == EvalValue(11.0)
    assert score("length_words", "Open Settings, then press Reset - done.") == EvalValue(6.0)
    assert score("length_chars", "") == EvalValue(0.0)
    assert score("length_words", "") == EvalValue(0.0)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("パスワードをリセット", 10),  # Katakana and Hiragana: one word per character
        ("设置密码", 4),  # Han
        ("設定を開いて、OK を押す。", 10),  # 9 Japanese characters + "OK"; 、。 are no words
        ("Step 2: 設定", 4),  # 'Step', '2:', 2 Han characters
        ("비밀번호를 재설정하세요", 2),  # Korean is spaced: counted by its spaces
        ("Größe – 42 €", 2),  # a dash or currency sign alone is no word
    ],
)
def test_words_count_cjk_characters_as_words(text: str, words: int) -> None:
    assert word_count(text) == words


def test_length_ratio_is_log2_with_lengths_floored_at_one() -> None:
    check = get_evaluator("length_ratio").build()

    def ratio(baseline: str, candidate: str) -> float:
        result = check(PairInput(PROSE, baseline, candidate))  # type: ignore[arg-type]
        assert result is not None
        return result.value

    assert ratio("abcd", "abcdefgh") == 1.0
    assert ratio("abcdefgh", "abcd") == -1.0  # halving mirrors doubling
    assert ratio("abc", " abc ") == 0.0
    assert ratio("", "") == 0.0
    assert ratio("", "abcd") == 2.0  # empty counts as one character
    assert math.isclose(ratio("ab", "abc"), math.log2(1.5))
    assert get_evaluator("length_ratio").scope == "pair"


# --- language ------------------------------------------------------------------------------


def user(text: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": text},
    ]


DE_PROMPT = user("Wie kann ich mein Passwort auf der Webseite zurücksetzen?")
JA_PROMPT = user("ウェブサイトでパスワードをリセットするにはどうすればいいですか？")
EN_ANSWER = "Open the settings page, choose Security and press the reset button."
DE_ANSWER = "Öffnen Sie die Einstellungen, wählen Sie Sicherheit und klicken Sie auf Zurücksetzen."
JA_ANSWER = "設定ページを開き、セキュリティを選んでリセットボタンを押してください。"


@pytest.mark.parametrize(
    ("messages", "answer", "expected"),
    [
        (PROSE, EN_ANSWER, EvalValue(0.0, "prompt=en answer=en")),
        (DE_PROMPT, DE_ANSWER, EvalValue(0.0, "prompt=de answer=de")),
        (DE_PROMPT, EN_ANSWER, EvalValue(1.0, "prompt=de answer=en")),
        (JA_PROMPT, JA_ANSWER, EvalValue(0.0, "prompt=ja answer=ja")),
        (JA_PROMPT, EN_ANSWER, EvalValue(1.0, "prompt=ja answer=en")),
        (PROSE, DE_ANSWER, EvalValue(1.0, "prompt=en answer=de")),
        # code is not language: the prose around it decides
        (
            DE_PROMPT,
            "```python\nreset_password(user)\n```\n" + DE_ANSWER,
            EvalValue(0.0, "prompt=de answer=de"),
        ),
    ],
)
def test_language_mismatch(
    messages: list[dict[str, str]], answer: str, expected: EvalValue
) -> None:
    assert score("language_mismatch", answer, messages) == expected


def test_language_mismatch_uses_the_last_user_turn() -> None:
    messages = [
        {"role": "user", "content": "Wie kann ich mein Passwort auf der Webseite zurücksetzen?"},
        {"role": "assistant", "content": DE_ANSWER},
        {"role": "user", "content": "Please answer in English from now on, thank you very much."},
    ]
    assert score("language_mismatch", EN_ANSWER, messages) == EvalValue(0.0, "prompt=en answer=en")


def test_language_json_answers_and_close_relatives() -> None:
    json_answer = '{"kategorie": "Rechnung", "begründung": "Der Kunde fragt nach einer Rechnung."}'
    assert score("language_mismatch", json_answer, DE_PROMPT) is None  # keys are not prose
    fenced = 'Hier ist das Ergebnis für Sie:\n```json\n{"category": "billing"}\n```'
    assert score("language_mismatch", fenced, DE_PROMPT) == EvalValue(0.0, "prompt=de answer=de")
    # a short Portuguese answer with English words that the model ranks Galician first
    prompt = user(
        "Classifique este ticket de suporte por tema. Responda com um rótulo e um motivo."
    )
    answer = "Rótulo: medical\nMotivo: o cliente fala sobre “ibuprofen”."
    assert detect_language(answer) != "pt"  # what makes the close call necessary
    assert score("language_mismatch", answer, prompt) == EvalValue(0.0, "prompt=pt answer=pt")


@pytest.mark.parametrize(
    ("prompt", "answer"),
    [
        ("Hallo!", DE_ANSWER),  # prompt under 20 letters
        ("How do I reset my password on the website?", "OK, done."),  # answer too short
        ("How do I reset my password on the website?", "```\nreset --all --force\n```"),
        ("こんにちは", JA_ANSWER),  # 5 kana = 15 weighted letters
        ("How do I translate my app's strings for other markets?", DE_ANSWER),  # no target
    ],
)
def test_language_mismatch_is_not_applicable_to_short_texts(prompt: str, answer: str) -> None:
    assert score("language_mismatch", answer, user(prompt)) is None


@pytest.mark.parametrize(
    ("prompt", "answer", "expected"),
    [
        (
            "Translate into German: Open the settings page and press reset.",
            DE_ANSWER,
            EvalValue(0.0, "target=de answer=de"),
        ),
        (
            "Translate into German: Open the settings page and press reset.",
            EN_ANSWER,
            EvalValue(1.0, "target=de answer=en"),
        ),
        (
            "Übersetze bitte ins Englische: Öffnen Sie die Einstellungen.",
            EN_ANSWER,
            EvalValue(0.0, "target=en answer=en"),
        ),
        (
            "次の文を英語に翻訳してください：設定を開いてください。",
            EN_ANSWER,
            EvalValue(0.0, "target=en answer=en"),
        ),
        (
            "Traduis en japonais : ouvrez les paramètres et appuyez sur réinitialiser.",
            DE_ANSWER,
            EvalValue(1.0, "target=ja answer=de"),
        ),
    ],
)
def test_translation_prompts_compare_with_the_target(
    prompt: str, answer: str, expected: EvalValue
) -> None:
    assert score("language_mismatch", answer, user(prompt)) == expected


def test_language_options() -> None:
    restricted = {"languages": ["en", "de"]}
    assert score("language_mismatch", DE_ANSWER, DE_PROMPT, restricted) == EvalValue(
        0.0, "prompt=de answer=de"
    )
    assert "languages" in config_error("language_mismatch", {"languages": ["xx"]}).message
    assert "languages" in config_error("language_mismatch", {"languages": "en"}).message
    assert "target" in config_error("language_mismatch", {"target": "en"}).message


# --- assertions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "text", "expected"),
    [
        ({"type": "contains", "pattern": "Settings"}, "Open settings.", EvalValue(0.0)),
        (
            {"type": "contains", "pattern": "Settings", "case_sensitive": True},
            "Open settings.",
            EvalValue(1.0, "missing"),
        ),
        (
            {"type": "not_contains", "pattern": "Sehr geehrte"},
            "Sehr geehrte Kundin, ...",
            EvalValue(1.0, "found: Sehr geehrte"),
        ),
        ({"type": "not_contains", "pattern": "Sehr geehrte"}, "Hallo!", EvalValue(0.0)),
        ({"type": "regex", "pattern": r"\bTICKET-\d{4}\b"}, "See ticket-1234.", EvalValue(0.0)),
        (
            {"type": "regex", "pattern": r"\bTICKET-\d{4}\b"},
            "See TICKET-12.",
            EvalValue(1.0, "missing"),
        ),
        (
            {"type": "not_regex", "pattern": r"お問い合わせ(?:ください|下さい)"},
            "サポートにお問い合わせください。",
            EvalValue(1.0, "found: お問い合わせください"),
        ),
        ({"type": "not_regex", "pattern": r"as an ai"}, "Open settings.", EvalValue(0.0)),
        ({"type": "contains", "pattern": "a.b"}, "axb", EvalValue(1.0, "missing")),  # literal
    ],
)
def test_assertion_value_is_one_when_violated(
    options: dict[str, Any], text: str, expected: EvalValue
) -> None:
    assert score("assertion", text, options=options) == expected


def test_assertion_when_filters_by_metadata() -> None:
    options = {"type": "contains", "pattern": "€", "when": {"locale": ["de-DE", "fr-FR"]}}
    assert score("assertion", "5 dollars", options=options, metadata={"locale": "en-US"}) is None
    assert score("assertion", "5 dollars", options=options, metadata={}) is None
    assert score("assertion", "5 Dollar", options=options, metadata={"locale": "de-DE"}) == (
        EvalValue(1.0, "missing")
    )
    single = {"type": "contains", "pattern": "€", "when": {"tier": 2}}
    assert score("assertion", "5 €", options=single, metadata={"tier": 2}) == EvalValue(0.0)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({}, "type"),
        ({"type": "startswith", "pattern": "x"}, "type"),
        ({"type": "regex"}, "pattern"),
        ({"type": "regex", "pattern": ""}, "pattern"),
        ({"type": "regex", "pattern": "(unclosed"}, "pattern"),
        ({"type": "regex", "pattern": "(a+)+$"}, "pattern"),  # catastrophic backtracking
        ({"type": "regex", "pattern": r"(\w+\s?)*x"}, "pattern"),
        ({"type": "contains", "pattern": "x", "case_sensitive": "yes"}, "case_sensitive"),
        ({"type": "contains", "pattern": "x", "when": ["locale"]}, "when"),
        ({"type": "contains", "pattern": "x", "when": {"locale": []}}, "when"),
        ({"type": "contains", "pattern": "x", "flags": "i"}, "flags"),
    ],
)
def test_assertion_option_errors_name_the_option(options: dict[str, Any], named: str) -> None:
    assert named in config_error("assertion", options).message


def test_safe_nested_patterns_are_accepted() -> None:
    for pattern in [r"(ab|cd)+", r"(\d{1,3}\.){3}\d{1,3}", r"(?:foo)?bar+", r"^\s*\{.*\}\s*$"]:
        get_evaluator("assertion").build({"type": "regex", "pattern": pattern})


# --- reference match -----------------------------------------------------------------------


def test_reference_exact_match_ignores_case_and_whitespace() -> None:
    options = {"column": "expected"}
    meta = {"expected": "Paris"}
    assert score("reference_match", " paris\n", options=options, metadata=meta) == EvalValue(1.0)
    assert score("reference_match", "Lyon", options=options, metadata=meta) == EvalValue(0.0)
    assert score("reference_match", "東京", options=options, metadata={"expected": "東京"}) == (
        EvalValue(1.0)
    )
    assert score("reference_match", "42", options=options, metadata={"expected": 42}) == (
        EvalValue(1.0)
    )


@pytest.mark.parametrize("metadata", [{}, {"expected": None}, {"expected": "  "}])
def test_reference_match_not_applicable_without_a_reference(metadata: dict[str, Any]) -> None:
    assert score("reference_match", "x", options={"column": "expected"}, metadata=metadata) is None


def test_reference_fuzzy_match_is_a_token_set_ratio() -> None:
    options = {"column": "expected", "method": "fuzzy"}

    def fuzzy(answer: str, reference: str) -> float:
        result = score("reference_match", answer, options=options, metadata={"expected": reference})
        assert result is not None
        return result.value

    assert fuzzy("Die Hauptstadt ist Berlin.", "Berlin") == 1.0  # all reference words present
    assert fuzzy("berlin, die hauptstadt", "Die Hauptstadt: Berlin") == 1.0  # order, punctuation
    assert fuzzy("Munich", "Berlin") < 0.5
    close, far = fuzzy("Öffnen Sie Einstellungen", "Öffne die Einstellungen"), fuzzy("Hallo", "x")
    assert 0.5 < close < 1.0 and far < close


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({}, "column"),
        ({"column": 3}, "column"),
        ({"column": "r", "method": "bleu"}, "method"),
        ({"column": "r", "threshold": 0.5}, "threshold"),
    ],
)
def test_reference_option_errors(options: dict[str, Any], named: str) -> None:
    assert named in config_error("reference_match", options).message
