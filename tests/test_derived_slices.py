"""Derived slices: the SQL agrees with its Python twin; buckets, windows and the stored slices."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swapcheck.derived_slices import (
    CLEAN_CONTEXT,
    LANGUAGE_CODES,
    LANGUAGE_MARKER_CHARS,
    LANGUAGE_WHOLE_BYTES,
    LANGUAGE_WINDOW_CHARS,
    LONGEST_BUCKET,
    OLD_MODEL_CONTEXT,
    STOP_WORDS,
    derived_slice_sql,
    detect_language,
    language_sql,
    length_bucket,
    time_granularity,
    time_window,
    turns_bucket,
)
from swapcheck.pipeline import ingest_file
from swapcheck.store import Store
from swapcheck.store.sources import slice_columns_of

SENTENCES = {
    "en": [
        "Hi, I can't log into my account since yesterday. Can you help me with this?",
        "What is the difference between the Pro plan and the Team plan?",
        "My order arrived damaged and I would like a refund for it please.",
    ],
    "de": [
        "Hallo, ich kann mich seit gestern nicht in mein Konto einloggen. Bitte helfen Sie mir.",
        "Meine Bestellung ist beschädigt angekommen und ich möchte eine Erstattung.",
        "Wie kann ich die Rechnung für den letzten Monat herunterladen?",
    ],
    "fr": [
        "Bonjour, je n'arrive pas à me connecter à mon compte depuis hier.",
        "Ma commande est arrivée endommagée et je voudrais un remboursement pour la facture.",
        "Comment est-ce que je peux télécharger les factures de l'année dernière ?",
    ],
    "es": [
        "Hola, no puedo entrar en mi cuenta desde ayer y el correo nunca llega.",
        "Mi pedido llegó dañado y quiero un reembolso, por favor.",
        "¿Cómo puedo descargar las facturas del año pasado en un solo archivo?",
    ],
    "pt": [
        "Olá, não consigo entrar na minha conta desde ontem e o e-mail não chega.",
        "O meu pedido chegou danificado e eu quero um reembolso.",
        "Como posso baixar todas as faturas do ano passado em um arquivo?",
    ],
    "it": [
        "Ciao, non riesco più ad accedere al mio account da ieri e la email non arriva.",
        "Il mio ordine è arrivato danneggiato e vorrei un rimborso per la mia spesa.",
        "Come posso scaricare tutte le fatture dell'anno scorso in un unico file?",
    ],
    "nl": [
        "Hallo, ik kan sinds gisteren niet meer inloggen op mijn account.",
        "Mijn bestelling is beschadigd aangekomen en ik wil graag mijn geld terug.",
        "Hoe kan ik al mijn facturen van vorig jaar in één bestand downloaden?",
    ],
    "ja": [
        "注文した商品がまだ届きません。",
        "パスワードを忘れました",
        "請求書はどこですか？ありがとう",
    ],
    "zh": ["我的订单还没有到", "如何取消订阅", "发票在哪里"],
    "ko": ["주문이 아직 도착하지 않았어요", "비밀번호를 잊어버렸어요", "환불해 주세요"],
    "ru": ["Здравствуйте, не могу войти в аккаунт", "Где мой заказ?", "Верните деньги"],
    "uk": ["Привіт, де моє замовлення? Їжа", "Я не можу увійти", "Дякую за допомогу, є питання"],
    "ar": ["أين طلبي؟", "لا أستطيع تسجيل الدخول", "أريد استرداد المبلغ"],
    "el": ["Πού είναι η παραγγελία μου;", "Δεν μπορώ να συνδεθώ", "Θέλω επιστροφή χρημάτων"],
    "he": ["איפה ההזמנה שלי?", "אני לא יכול להתחבר", "אני רוצה החזר"],
    "th": ["คำสั่งซื้อของฉันอยู่ที่ไหน", "ฉันเข้าสู่ระบบไม่ได้", "ขอเงินคืน"],
    "hi": ["मेरा ऑर्डर कहाँ है?", "मैं लॉग इन नहीं कर सकता", "मुझे धनवापसी चाहिए"],
}
UNSURE = ["ok", "12345", "", "   ", "?!", "gpt-4o vs claude", "thanks"]


def sql_values(expr_of: str, values: list[object], sql_type: str = "VARCHAR") -> list[object]:
    """Evaluate an expression over a column ``x`` holding ``values`` (bound, in order)."""
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TABLE t (i INTEGER, x {sql_type})")
        con.executemany("INSERT INTO t VALUES (?, ?)", [[i, v] for i, v in enumerate(values)])
        return [r[0] for r in con.execute(f"SELECT {expr_of} FROM t ORDER BY i").fetchall()]
    finally:
        con.close()


@pytest.mark.parametrize(("lang", "text"), [(k, t) for k, ts in SENTENCES.items() for t in ts])
def test_language_of_realistic_prompts(lang: str, text: str) -> None:
    assert detect_language(text) == lang
    assert sql_values(language_sql("x"), [text]) == [lang]


@pytest.mark.parametrize("text", UNSURE)
def test_short_or_letterless_text_is_undetermined(text: str) -> None:
    assert detect_language(text) == "und"
    assert sql_values(language_sql("x"), [text]) == ["und"]


def test_null_text_is_undetermined_and_huge_text_is_cheap() -> None:
    huge = "Hallo, ich kann mich nicht einloggen. " + "x" * 10_000_000
    assert sql_values(language_sql("x"), [None, huge]) == ["und", "de"]
    assert detect_language(huge) == "de"


_WORDS = sorted({w for ws in STOP_WORDS.values() for w in ws}) + [
    "order", "Konto", "café", "naïve", "ß", "1234", "e-mail", "l'année", "¿qué?", "ÉTÉ",
]  # fmt: skip
_PIECES = st.one_of(
    st.sampled_from(_WORDS),
    st.sampled_from([" ", "  ", "\n", "\t", ", ", ". ", "!", "?", "'", '"', "-"]),
    st.text(max_size=3),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_PIECES, max_size=60).map("".join), min_size=1, max_size=20))
def test_sql_language_matches_the_python_twin(texts: list[str]) -> None:
    assert sql_values(language_sql("x"), texts) == [detect_language(t) for t in texts]


@pytest.mark.parametrize(
    ("chars", "bucket"),
    [(0, "a: <100 chars"), (99, "a: <100 chars"), (100, "b: 100-499"), (499, "b: 100-499"),
     (500, "c: 500-1999"), (1999, "c: 500-1999"), (2000, "d: 2000-7999"),
     (7999, "d: 2000-7999"), (8000, LONGEST_BUCKET), (10**7, LONGEST_BUCKET)],
)  # fmt: skip
def test_length_buckets_at_their_edges(chars: int, bucket: str) -> None:
    expr = derived_slice_sql("x", "1", None, None)["prompt_length"]
    assert length_bucket(chars) == bucket
    assert sql_values(expr, ["a" * chars]) == [bucket]


def test_buckets_sort_in_size_order() -> None:
    labels = [length_bucket(n) for n in (1, 200, 1000, 5000, 9000)]
    assert labels == sorted(labels)


@pytest.mark.parametrize(
    ("turns", "bucket"), [(1, "1"), (2, "2"), (3, "3-5"), (5, "3-5"), (6, "6+"), (40, "6+")]
)
def test_turn_buckets(turns: int, bucket: str) -> None:
    expr = derived_slice_sql("'q'", "x", None, None)["turns"]
    assert turns_bucket(turns) == bucket
    assert sql_values(expr, [turns], "INTEGER") == [bucket]


@pytest.mark.parametrize(
    ("span", "moment", "expected"),
    [
        (3.0, datetime(2026, 10, 7, 23, 59), "2026-10-07"),
        (14.0, datetime(2026, 1, 1), "2026-01-01"),
        (30.0, datetime(2026, 10, 7), "2026-W41"),
        (100.0, datetime(2026, 12, 31), "2026-W53"),
        (100.0, datetime(2027, 1, 1), "2026-W53"),
        (100.0, datetime(2025, 12, 29), "2026-W01"),
        (400.0, datetime(2026, 2, 28), "2026-02"),
    ],
)
def test_time_windows_follow_the_span(span: float, moment: datetime, expected: str) -> None:
    expr = derived_slice_sql("'q'", "1", "x", span)["time_window"]
    assert time_window(moment, time_granularity(span)) == expected
    assert sql_values(expr, [moment, None], "TIMESTAMP") == [expected, None]


def test_no_time_window_without_timestamps_and_context_labels() -> None:
    exprs = derived_slice_sql("'q'", "1", None, None, "x")
    assert "time_window" not in exprs
    assert sql_values(exprs["context"], [True, False], "BOOLEAN") == [
        OLD_MODEL_CONTEXT,
        CLEAN_CONTEXT,
    ]


def test_ingest_stores_derived_slices_usable_as_study_slices(
    tmp_store: Store, tmp_path: Path
) -> None:
    rows = [
        {"messages": [{"role": "user", "content": SENTENCES["de"][0]}], "ts": "2026-10-01T08:00Z"},
        {
            "messages": [
                {"role": "user", "content": "Where is my order?"},
                {"role": "assistant", "content": "It ships today."},
                {"role": "user", "content": "It did not arrive, can you check the tracking?"},
            ],
            "ts": "2026-10-03T08:00:00Z",
        },
    ]
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    report = ingest_file(tmp_store, path)
    with tmp_store.cursor() as cur:
        stored = [
            json.loads(m)
            for (m,) in cur.execute("SELECT metadata FROM prompts ORDER BY row_number").fetchall()
        ]
    assert stored[0] == {
        "prompt_length": "b: 100-499" if len(SENTENCES["de"][0]) >= 100 else "a: <100 chars",
        "turns": "1",
        "context": CLEAN_CONTEXT,
        "language": "de",
        "time_window": "2026-10-01",
    }
    assert stored[1]["turns"] == "2" and stored[1]["context"] == OLD_MODEL_CONTEXT
    assert stored[1]["language"] == "en" and stored[1]["time_window"] == "2026-10-03"
    columns = slice_columns_of(tmp_store, [report.source_id])
    assert {"prompt_length", "turns", "context", "language", "time_window"} <= set(columns)


def test_a_log_column_wins_over_a_derived_slice_of_the_same_name(
    tmp_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps({"prompt": SENTENCES["fr"][0], "language": "fr-CA"}) + "\n")
    ingest_file(tmp_store, path)
    with tmp_store.cursor() as cur:
        (metadata,) = cur.execute("SELECT metadata FROM prompts").fetchall()[0]
    stored = json.loads(metadata)
    assert stored["language"] == "fr-CA" and stored["turns"] == "1"
    assert list(stored).count("language") == 1


# ---------------------------------------------------------------- language: rules and SQL twin


def test_stop_words_are_disjoint_lowercase_and_start_with_an_ascii_letter() -> None:
    words = [w for ws in STOP_WORDS.values() for w in ws]
    assert len(words) == len(set(words))
    assert all(w[0].isascii() and w[0].isalpha() and w == w.lower() for w in words)
    assert set(STOP_WORDS) | {"und"} <= set(LANGUAGE_CODES)


EDGE_CASES = [
    # a stray word of another language does not count: two hits are needed
    ("Per the docs, the API returns JSON for every request.", "en"),
    ("Bonjour ! Can you help me with my order please?", "en"),
    ("Hallo, ich habe eine Frage about my account", "de"),
    ("Solve for y: 2y + 3 = 7. What is y?", "en"),
    # acronyms (all capitals) are not stop words
    ("OS X and MIT DIE OS", "und"),
    # code, numbers and single words
    ("import os\nprint(os.getcwd())", "und"),
    ("SELECT * FROM users WHERE id = 1", "und"),
    ("Danke", "und"),
    # other scripts, also with Latin words inside
    ("iPhone 15 Proの画面が割れました。修理できますか？", "ja"),
    ("请帮我把这段话翻译成英文：Hello, how are you?", "zh"),
    ("Как дела? Мне нужна помощь с заказом", "ru"),
    ("Спасибо", "und"),  # too few letters
    ("你好", "und"),
    # a few foreign letters in Latin text leave the decision to the stop words
    ("Can you explain what the Greek letter π means in this formula?", "en"),
    # a third Cyrillic: mixed scripts; more than half: Russian
    ("Translate to English: Привет, как дела?", "und"),
    ("Please translate: Привет, как дела у тебя сегодня", "ru"),
]


@pytest.mark.parametrize(("text", "expected"), EDGE_CASES)
def test_language_edge_cases(text: str, expected: str) -> None:
    assert detect_language(text) == expected
    assert sql_values(language_sql("x"), [text]) == [expected]


def test_the_window_is_the_whole_text_up_to_600_bytes_else_300_characters() -> None:
    late = "x" * 290 + " the weather and the city"  # the stop words start after character 290
    assert len(late.encode()) <= LANGUAGE_WHOLE_BYTES
    padded = late + " " + "z" * (LANGUAGE_WHOLE_BYTES - len(late))  # 601 bytes: cut at 300 chars
    assert len(padded.encode()) == LANGUAGE_WHOLE_BYTES + 1
    texts = [late, padded]
    assert [detect_language(t) for t in texts] == ["en", "und"]
    assert sql_values(language_sql("x"), texts) == ["en", "und"]
    assert LANGUAGE_WINDOW_CHARS == 300


def test_kana_and_ukrainian_letters_count_in_the_first_100_characters_only() -> None:
    han = "我的订单还没有到" * 20  # 160 characters of Han
    cyrillic = "Здравствуйте я не могу войти в аккаунт " * 4
    texts = [
        "の" + han,  # kana first: Japanese
        han[:LANGUAGE_MARKER_CHARS] + "の" + han,  # kana only after 100 characters: Chinese
        "є " + cyrillic,
        cyrillic[:LANGUAGE_MARKER_CHARS] + " є",
    ]
    expected = ["ja", "zh", "uk", "ru"]
    assert [detect_language(t) for t in texts] == expected
    assert sql_values(language_sql("x"), texts) == expected


_SCRIPT_SNIPPETS = [s for lang, ss in SENTENCES.items() for s in ss] + [
    "😀", "🎉🎉", "→", "€", "’", "“", "—", "ß", "µ", "ё", "π", "Ω", "ー", "。", "、", "\u0301",
    "\x00", "\x01", "\n", "\t", "0123", "3.14",
]  # fmt: skip
_MIXED_PIECES = st.one_of(
    st.sampled_from(_WORDS),
    st.sampled_from([w.capitalize() for w in _WORDS] + [w.upper() for w in _WORDS[:40]]),
    st.sampled_from(_SCRIPT_SNIPPETS),
    st.sampled_from([" ", " ", ", ", ". ", "? ", "'", "-", "/", "(", ")"]),
    st.text(max_size=4),
    st.integers(0, 10_000).map(str),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_MIXED_PIECES, max_size=120).map("".join), min_size=1, max_size=12))
def test_sql_language_matches_the_python_twin_on_scripts_and_long_text(texts: list[str]) -> None:
    """Mixed languages, scripts, emoji, digits and random characters, also past the 300-character
    and 600-byte edges of the window (the texts go up to a few thousand characters)."""
    assert sql_values(language_sql("x"), texts) == [detect_language(t) for t in texts]


def test_language_sql_is_ascii_and_bounded_on_huge_prompts() -> None:
    sql = language_sql("x")
    assert sql.isascii() and "\x01" not in sql  # non-ASCII and control characters are escaped
    huge = ["Привет " * 2_000_000, "日本語の" * 3_000_000, "the and " * 1_500_000]
    assert [detect_language(t) for t in huge] == ["ru", "ja", "en"]
    assert sql_values(sql, huge) == ["ru", "ja", "en"]


def test_null_inputs_give_null_slices_except_language() -> None:
    exprs = derived_slice_sql("x", "y", "z", 3.0)
    con = duckdb.connect()
    try:
        row = con.execute(
            f"SELECT {exprs['prompt_length']}, {exprs['turns']}, {exprs['language']}, "
            f"{exprs['time_window']} FROM (SELECT NULL::VARCHAR x, NULL::INTEGER y, "
            "NULL::TIMESTAMP z)"
        ).fetchall()[0]
    finally:
        con.close()
    assert row == (None, None, "und", None)


@pytest.mark.parametrize(
    ("span", "moment", "expected"),
    [
        (None, datetime(2026, 10, 7, 0, 0), "2026-10-07"),
        (182.0, datetime(2024, 12, 30), "2025-W01"),
        (182.0, datetime(2027, 1, 3, 23, 59), "2026-W53"),
        (182.0, datetime(2027, 1, 4), "2027-W01"),
        (182.1, datetime(2026, 12, 31, 23, 59), "2026-12"),
    ],
)
def test_time_window_edges(span: float | None, moment: datetime, expected: str) -> None:
    expr = derived_slice_sql("'q'", "1", "x", span)["time_window"]
    assert time_window(moment, time_granularity(span)) == expected
    assert sql_values(expr, [moment], "TIMESTAMP") == [expected]
