"""Identity-leak detector: phrases flagged with exact offsets, mere mentions left alone, masking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swapcheck.evaluators import ResponseInput, load_builtin
from swapcheck.evaluators.identity_leak import identity_flags, leak_phrases
from swapcheck.identity_leaks import (
    IDENTITY_MASK,
    IdentityLeak,
    find_identity_leaks,
    mask_identity_leaks,
)
from swapcheck.store import Store
from swapcheck.store.evaluations import run_evaluators
from swapcheck.store.studies import study_prompt_ids

pytestmark = pytest.mark.both_backends  # tmp_store: DuckDB and PostgreSQL

# (text, the one flagged phrase, its kind)
POSITIVES = [
    ("As an AI developed by OpenAI, I cannot browse.", "As an AI developed by OpenAI", "vendor"),
    ("Sure. I'm Claude, an AI assistant made by Anthropic.",
     "I'm Claude, an AI assistant made by Anthropic", "model"),
    ("GPT-4 here! How can I help?", "GPT-4 here", "model"),
    ("I am a large language model trained by Google.",
     "I am a large language model trained by Google", "vendor"),
    ("As Gemini, I can help with that.", "As Gemini", "model"),
    ("Llama 3 here. Ask away.", "Llama 3 here", "model"),
    ("I am ChatGPT, a large language model trained by OpenAI.",
     "I am ChatGPT, a large language model trained by OpenAI", "model"),
    ("Hi, Claude here: happy to help.", "Claude here", "model"),
    ("I'm Grok, built by xAI.", "I'm Grok, built by xAI", "model"),
    ("Good question! I'm powered by GPT-4o mini.", "I'm powered by GPT-4o mini", "model"),
    ("I was trained by Google DeepMind.", "I was trained by Google DeepMind", "vendor"),
    ("My training data only goes up to 2023.", "My training data", "training"),
    ("As of my last knowledge update in 2023, the law was different.",
     "As of my last knowledge update", "training"),
    ("My knowledge cutoff is April 2024.", "My knowledge cutoff", "training"),
    ("I am Qwen2.5, created by Alibaba Cloud.", "I am Qwen2.5, created by Alibaba Cloud",
     "model"),
    ("Hello. I'm DeepSeek-V3.", "I'm DeepSeek-V3", "model"),
    ("I am Mistral Large, by Mistral AI.", "I am Mistral Large, by Mistral AI", "model"),
    ("I'm an AI assistant called Claude 3.5 Sonnet.",
     "I'm an AI assistant called Claude 3.5 Sonnet", "model"),
    ("Command R+ here, ready.", "Command R+ here", "model"),
    ("I'm Mixtral 8x7B.", "I'm Mixtral 8x7B", "model"),
    ("As a language model created by Meta, I stay neutral.",
     "As a language model created by Meta", "vendor"),
    ("My name is Gemini.", "My name is Gemini", "model"),
    ("You are talking to Claude.", "You are talking to Claude", "model"),
    ("I'm a large language model by Google.", "I'm a large language model by Google", "vendor"),
    ("I am PaLM 2.", "I am PaLM 2", "model"),
    ("I'm Bard, your creative partner.", "I'm Bard", "model"),
    ("I am Phi-3, a small model from Microsoft.", "I am Phi-3, a small model from Microsoft",
     "model"),
    ("I was created by the team at Cohere.", "I was created by the team at Cohere", "vendor"),
    # German
    ("Als KI-Modell von OpenAI kann ich das nicht.", "Als KI-Modell von OpenAI", "vendor"),
    ("Als KI-Modell, das von OpenAI entwickelt wurde, kann ich das nicht.",
     "Als KI-Modell, das von OpenAI entwickelt wurde", "vendor"),
    ("Ich bin Claude, ein KI-Assistent von Anthropic.",
     "Ich bin Claude, ein KI-Assistent von Anthropic", "model"),
    ("Ich wurde von Google entwickelt.", "Ich wurde von Google entwickelt", "vendor"),
    ("Meine Trainingsdaten reichen bis 2023.", "Meine Trainingsdaten", "training"),
    # French
    ("En tant qu'IA développée par OpenAI, je ne peux pas.",
     "En tant qu'IA développée par OpenAI", "vendor"),
    ("Je suis un grand modèle de langage entraîné par Google.",
     "Je suis un grand modèle de langage entraîné par Google", "vendor"),
    ("Bonjour ! Je suis Claude.", "Je suis Claude", "model"),
    ("J'ai été conçu par Anthropic.", "J'ai été conçu par Anthropic", "vendor"),
    ("Selon mes données d'entraînement, non.", "mes données d'entraînement", "training"),
    # Spanish
    ("Como modelo de lenguaje entrenado por OpenAI, no puedo.",
     "Como modelo de lenguaje entrenado por OpenAI", "vendor"),
    ("Soy Gemini, un modelo de Google.", "Soy Gemini, un modelo de Google", "model"),
    ("Fui creado por Meta.", "Fui creado por Meta", "vendor"),
    ("Según mis datos de entrenamiento, sí.", "mis datos de entrenamiento", "training"),
]  # fmt: skip

NEGATIVES = [
    "Google Maps shows the fastest route.",
    "The OpenAI API returns a JSON object with a choices array.",
    "Claude Monet painted water lilies at Giverny.",
    "Llama wool is warm and light.",
    "A mistral wind blew through the valley.",
    "Create a GPT partition table with gdisk.",
    "I'm a Gemini, so I love talking.",
    "As Claude Monet said, colour is my obsession.",
    "I'm Claude Monet's great-grandson.",
    "Add meta tags to the HTML head.",
    "I am using Google Sheets for this.",
    "Use ChatGPT here if you like.",
    "My training plan for the marathon starts Monday.",
    "The model was trained by OpenAI on public data.",
    "GPT-4 is a large language model trained by OpenAI.",
    "As an AI, I cannot browse the web.",
    "I work at Microsoft in Redmond.",
    "Phi is the golden ratio, about 1.618.",
    "Qwen is a model family from Alibaba.",
    "Tools such as Gemini, Claude and GPT-4 can summarise text.",
    "I'm a developer at Google.",
    "Ich bin Anna und arbeite bei Google.",
    "Als Entwickler bei Google kenne ich das.",
    "Je suis allé chez Google hier.",
    "En tant que développeur chez Microsoft, je conseille Azure.",
    "Soy un desarrollador de Microsoft.",
    "Como cliente de Google, uso Gmail.",
    "Command R is a model by Cohere.",
    "The xAI team released Grok last year.",
    "I'm Claudia, your support agent.",
    "The anthropic principle is about observers.",
    "I'm happy to compare Claude and GPT-4 for you.",
    "Your training data should be deduplicated.",
    "I am an assistant made by a small team.",
    "I'm sure Meta will release it.",
    "Mistral AI is based in Paris.",
    "",
]


@pytest.mark.parametrize(("text", "phrase", "kind"), POSITIVES)
def test_self_identification_is_flagged_with_exact_offsets(
    text: str, phrase: str, kind: str
) -> None:
    start = text.index(phrase)
    assert find_identity_leaks(text) == [IdentityLeak(start, start + len(phrase), phrase, kind)]
    assert mask_identity_leaks(text) == text[:start] + IDENTITY_MASK + text[start + len(phrase) :]


@pytest.mark.parametrize("text", NEGATIVES)
def test_mere_mentions_are_not_flagged(text: str) -> None:
    assert find_identity_leaks(text) == []
    assert mask_identity_leaks(text) == text


def test_every_leak_in_a_long_answer_is_found_in_order() -> None:
    text = (
        "Hi! GPT-4 here.\n\nThe OpenAI API returns JSON.\n"
        "As an AI developed by OpenAI, I note my training cutoff is 2023. Claude Monet? A painter."
    )
    leaks = find_identity_leaks(text)
    assert [(leak.phrase, leak.kind) for leak in leaks] == [
        ("GPT-4 here", "model"),
        ("As an AI developed by OpenAI", "vendor"),
        ("my training cutoff", "training"),
    ]
    assert [leak.start for leak in leaks] == [4, 46, 83]  # counted by hand
    assert all(text[leak.start : leak.end] == leak.phrase for leak in leaks)
    assert mask_identity_leaks(text) == (
        f"Hi! {IDENTITY_MASK}.\n\nThe OpenAI API returns JSON.\n"
        f"{IDENTITY_MASK}, I note {IDENTITY_MASK} is 2023. Claude Monet? A painter."
    )


def test_model_names_are_case_sensitive_but_phrasing_is_not() -> None:
    assert [leak.phrase for leak in find_identity_leaks("i'm ChatGPT.")] == ["i'm ChatGPT"]
    assert find_identity_leaks("I'm chatgpt-curious and I am mistral-prone.") == []


FRAGMENTS = (
    [phrase for _, phrase, _ in POSITIVES]
    + NEGATIVES
    + [
        " ",
        "\n",
        ". ",
        ", ",
        "Thanks",
        "ünïcödé ✓",
        "<b>x</b>",
        IDENTITY_MASK,
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12))
def test_masking_replaces_only_the_flagged_phrases(fragments: list[str]) -> None:
    text = "".join(fragments)
    leaks = find_identity_leaks(text)
    # leaks are ordered, non-overlapping and exact slices of the text
    assert all(a.end <= b.start for a, b in zip(leaks, leaks[1:], strict=False))
    assert all(text[leak.start : leak.end] == leak.phrase and leak.phrase for leak in leaks)
    masked = mask_identity_leaks(text)
    # everything outside the flagged phrases is byte-identical, in order
    expected, last = "", 0
    for leak in leaks:
        expected += text[last : leak.start] + IDENTITY_MASK
        last = leak.end
    assert masked == expected + text[last:]
    assert masked.encode() == (expected + text[last:]).encode()
    # masking is idempotent and leaves nothing to flag
    assert mask_identity_leaks(masked) == masked
    assert find_identity_leaks(masked) == []


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_masks_idempotently(text: str) -> None:
    masked = mask_identity_leaks(text)
    assert mask_identity_leaks(masked) == masked
    if not find_identity_leaks(text):
        assert masked == text


def test_evaluator_flags_leaks_and_keeps_the_phrases() -> None:
    evaluator = load_builtin()["identity_leak"]
    assert (evaluator.kind, evaluator.higher_is) == ("rate", "worse") and evaluator.description
    check = evaluator.build()
    result = check(ResponseInput([], "GPT-4 here. My training data ends in 2023."))
    assert result is not None and result.value == 1.0  # a rate: 1 however many phrases
    assert leak_phrases(result.label) == ["GPT-4 here", "My training data"]
    clean = check(ResponseInput([], "Open Settings and choose Reset."))
    assert clean is not None
    assert clean.value == 0.0 and clean.label is None and leak_phrases(clean.label) == []


def test_flags_are_stored_per_answer_and_listed_per_pair(tmp_store: Store, tmp_path: Path) -> None:
    from tests.helpers import simulated_study

    study = simulated_study(tmp_store, tmp_path, n=6)
    ids = study_prompt_ids(tmp_store, study)
    with tmp_store.cursor() as cur:  # generation stored a clean score for every answer
        stored = cur.execute(
            "SELECT variant, count(*), sum(value) FROM evaluation_scores "
            "WHERE evaluator = 'identity_leak' GROUP BY variant ORDER BY variant"
        ).fetchall()
        assert stored == [("base", 6, 0.0), ("cand", 6, 0.0)]
        cur.execute(
            "UPDATE responses SET text = 'As an AI developed by OpenAI, I think so; "
            "the Claude here is a painter. My training data agrees.' "
            "WHERE prompt_id = ? AND variant = 'cand'",
            [ids[1]],
        )
        cur.execute(
            "DELETE FROM evaluation_scores WHERE prompt_id = ? AND variant = 'cand'", [ids[1]]
        )
    flags = identity_flags(tmp_store, study)  # the missing score is computed and stored
    assert len(flags) == 1
    row = flags.iloc[0]
    assert (row.prompt_id, row.role, row.variant, row.leaks) == (ids[1], "candidate", "cand", 2)
    # "the Claude here is" is a mere mention
    assert row.phrases == ["As an AI developed by OpenAI", "My training data"]
    with tmp_store.cursor() as cur:
        value, label = cur.execute(
            "SELECT value, label FROM evaluation_scores WHERE prompt_id = ? AND variant = 'cand' "
            "AND evaluator = 'identity_leak'",
            [ids[1]],
        ).fetchall()[0]
    # the stored value is a rate (1 = leaks); the label keeps every phrase
    assert value == 1.0 and json.loads(label) == [
        "As an AI developed by OpenAI",
        "My training data",
    ]
    assert run_evaluators(tmp_store, "cand", ids) == 0  # re-running adds nothing
