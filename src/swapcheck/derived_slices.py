"""Derived slices computed in DuckDB at ingest: prompt length, turns, language, time window."""

from __future__ import annotations

import re
from datetime import datetime

DERIVED_SLICES: tuple[str, ...] = ("prompt_length", "turns", "context", "language", "time_window")
DESCRIPTIONS: dict[str, str] = {
    "prompt_length": "characters in the prompt under study, in buckets",
    "turns": "user turns up to and including the one under study",
    "context": "whether the replayed context holds answers the old model wrote",
    "language": "language of the prompt (offline script and stop-word detector; 'und' = unsure)",
    "time_window": "day, ISO week or month of the logged timestamp, by the log's time span",
}
LENGTH_BUCKETS: tuple[tuple[int, str], ...] = (
    (100, "a: <100 chars"),
    (500, "b: 100-499"),
    (2000, "c: 500-1999"),
    (8000, "d: 2000-7999"),
)
LONGEST_BUCKET = "e: 8000+"
PREFIX = 120  # characters inspected by the language detector (cost grows with it)
MIN_HITS = 2
# Scripts that settle the language on their own, checked in this order.
SCRIPTS: tuple[tuple[str, str], ...] = (
    ("ja", "[\u3040-\u30ff]"),
    ("ko", "[\uac00-\ud7af]"),
    ("zh", "[\u4e00-\u9fff]"),
    ("uk", "[\u0456\u0457\u0454]"),
    ("ru", "[\u0400-\u04ff]"),
    ("ar", "[\u0600-\u06ff]"),
    ("he", "[\u0590-\u05ff]"),
    ("el", "[\u0370-\u03ff]"),
    ("th", "[\u0e00-\u0e7f]"),
    ("hi", "[\u0900-\u097f]"),
)
# Frequent function words of Latin-script languages; the language with most hits wins.
STOP_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("the", "and", "is", "you", "to", "of", "my", "it", "for", "can", "what", "how",
           "this", "with", "please", "not", "are", "have"),
    "de": ("der", "die", "das", "und", "ist", "ich", "nicht", "mit", "sie", "mein", "meine",
           "ein", "eine", "wie", "kann", "auf", "bitte", "für"),
    "fr": ("le", "la", "les", "et", "est", "je", "pas", "une", "des", "mon", "ma", "pour",
           "vous", "que", "dans", "comment", "avec", "du"),
    "es": ("el", "los", "las", "es", "y", "mi", "por", "para", "una", "que", "con", "cómo",
           "qué", "del", "puedo", "pero", "se", "lo"),
    "pt": ("o", "os", "as", "é", "e", "meu", "minha", "para", "uma", "não", "com", "como",
           "do", "da", "em", "que", "posso", "um"),
    "it": ("il", "gli", "è", "e", "mio", "mia", "per", "una", "non", "con", "come", "che",
           "di", "del", "della", "sono", "ho", "un"),
    "nl": ("de", "het", "een", "en", "is", "ik", "niet", "mijn", "met", "van", "voor", "hoe",
           "kan", "wat", "op", "dat", "je", "zijn"),
}  # fmt: skip
_LETTERS = "a-zà-öø-ÿ"


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# Word edges without \b (RE2 and Python disagree on non-ASCII letters): a stop word must have a
# non-letter on both sides; spaces are doubled first so that neighbouring words both get one.
_ALL_WORDS = sorted({w for words in STOP_WORDS.values() for w in words}, key=len, reverse=True)
_STOP_WORD_RE = f"[^{_LETTERS}]({'|'.join(re.escape(w) for w in _ALL_WORDS)})[^{_LETTERS}]"
_ANY_SCRIPT = "[" + "".join(pattern[1:-1] for _, pattern in SCRIPTS) + "]"
_LANGS = tuple(STOP_WORDS)


def language_sql(text_expr: str) -> str:
    """SQL for an ISO 639-1 code (or 'und') of the text in ``text_expr``.

    One regex finds every stop word in the prefix; each language's score is how many of them
    are its own, packed as ``score * 16 + index`` so one descending sort ranks them.
    """
    p = f"lower(left({text_expr}, {PREFIX}))"
    scripts = " ".join(
        f"WHEN regexp_matches({p}, {_sql_text(pattern)}) THEN '{lang}'" for lang, pattern in SCRIPTS
    )
    padded = f"(' ' || replace(regexp_replace({p}, '\\s+', ' ', 'g'), ' ', '  ') || ' ')"
    found = f"regexp_extract_all({padded}, {_sql_text(_STOP_WORD_RE)}, 1)"
    scores = ", ".join(
        f"len(list_filter(m, lambda v: v IN ({', '.join(map(_sql_text, words))}))) * 16 + {i}"
        for i, words in enumerate(STOP_WORDS.values())
    )
    names = "[" + ", ".join(map(_sql_text, _LANGS)) + "]"
    ranked = f"list_transform([{found}], lambda m: list_sort([{scores}], 'DESC'))[1]"
    latin = (
        f"list_transform([{ranked}], lambda r: CASE WHEN r[1] // 16 >= {MIN_HITS} "
        f"AND r[1] // 16 > r[2] // 16 THEN {names}[r[1] % 16 + 1] ELSE 'und' END)[1]"
    )
    return (
        f"CASE WHEN {text_expr} IS NULL THEN 'und' WHEN regexp_matches({p}, "
        f"{_sql_text(_ANY_SCRIPT)}) THEN CASE {scripts} ELSE 'und' END ELSE {latin} END"
    )


def detect_language(text: str) -> str:
    """Python twin of :func:`language_sql` (same rules; used by the UI and to test the SQL)."""
    p = text[:PREFIX].lower()
    for lang, pattern in SCRIPTS:
        if re.search(pattern, p):
            return lang
    padded = " " + re.sub(r"\s+", " ", p).replace(" ", "  ") + " "
    found = re.findall(_STOP_WORD_RE, padded)
    scores = sorted(
        ((sum(1 for w in found if w in STOP_WORDS[lang]), -i) for i, lang in enumerate(_LANGS)),
        reverse=True,
    )
    (best, idx), (second, _) = scores[0], scores[1]
    return _LANGS[-idx] if best >= MIN_HITS and best > second else "und"


def length_bucket(chars: int) -> str:
    for limit, label in LENGTH_BUCKETS:
        if chars < limit:
            return label
    return LONGEST_BUCKET


def turns_bucket(turns: int) -> str:
    return str(turns) if turns <= 2 else "3-5" if turns <= 5 else "6+"


def time_granularity(span_days: float | None) -> str:
    if span_days is None or span_days <= 14:
        return "day"
    return "week" if span_days <= 182 else "month"


def time_window(moment: datetime, granularity: str) -> str:
    if granularity == "day":
        return moment.strftime("%Y-%m-%d")
    if granularity == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return moment.strftime("%Y-%m")


CLEAN_CONTEXT = "clean replay"
OLD_MODEL_CONTEXT = "replays old-model answers"


def derived_slice_sql(
    prompt_text: str,
    user_turns: str,
    logged_at: str | None,
    span_days: float | None,
    context_has_model_output: str = "false",
) -> dict[str, str]:
    """Derived slice name → SQL expression (VARCHAR) over the given column expressions."""
    length = " ".join(
        f"WHEN length({prompt_text}) < {limit} THEN '{label}'" for limit, label in LENGTH_BUCKETS
    )
    out = {
        "prompt_length": f"CASE {length} ELSE '{LONGEST_BUCKET}' END",
        "turns": (
            f"CASE WHEN {user_turns} <= 2 THEN CAST({user_turns} AS VARCHAR) "
            f"WHEN {user_turns} <= 5 THEN '3-5' ELSE '6+' END"
        ),
        "context": (
            f"CASE WHEN {context_has_model_output} THEN '{OLD_MODEL_CONTEXT}' "
            f"ELSE '{CLEAN_CONTEXT}' END"
        ),
        "language": language_sql(prompt_text),
    }
    if logged_at is not None:
        granularity = time_granularity(span_days)
        fmt = {
            "day": f"strftime({logged_at}, '%Y-%m-%d')",
            "week": f"CAST(isoyear({logged_at}) AS VARCHAR) || '-W' || "
            f"lpad(CAST(weekofyear({logged_at}) AS VARCHAR), 2, '0')",
            "month": f"strftime({logged_at}, '%Y-%m')",
        }[granularity]
        out["time_window"] = f"CASE WHEN {logged_at} IS NULL THEN NULL ELSE {fmt} END"
    return out
