"""Derived slices computed in DuckDB at ingest: prompt length, turns, language, time window."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import NamedTuple

DERIVED_SLICES: tuple[str, ...] = ("prompt_length", "turns", "context", "language", "time_window")
DESCRIPTIONS: dict[str, str] = {
    "prompt_length": "characters in the prompt under study, in buckets",
    "turns": "user turns up to and including the one under study",
    "context": "whether the replayed context holds answers the old model wrote",
    "language": "language of the prompt: ISO 639-1 code from its writing system and common words "
    "(offline guess; 'und' = undetermined)",
    "time_window": "day, ISO week or month of the logged timestamp, by the log's time span",
}

# Upper bounds (exclusive) and labels; the letter prefix keeps them in size order when sorted as
# strings (chart legends, GROUP BY ... ORDER BY).
LENGTH_BUCKETS: tuple[tuple[int, str], ...] = (
    (100, "a: <100 chars"),
    (500, "b: 100-499"),
    (2000, "c: 500-1999"),
    (8000, "d: 2000-7999"),
)
LONGEST_BUCKET = "e: 8000+"
# Turn buckets sort as strings too: "1" < "2" < "3-5" < "6+".
TURN_BUCKETS: tuple[str, ...] = ("1", "2", "3-5", "6+")
CLEAN_CONTEXT = "clean replay"
OLD_MODEL_CONTEXT = "replays old-model answers"
DAY_SPAN_DAYS = 14.0  # a log spanning at most two weeks is sliced by day ("2026-10-07")
WEEK_SPAN_DAYS = 182.0  # at most half a year: by ISO week ("2026-W41"); longer: by month


def length_bucket(chars: int) -> str:
    """Bucket of a prompt of ``chars`` characters (the Python twin of the SQL)."""
    for limit, label in LENGTH_BUCKETS:
        if chars < limit:
            return label
    return LONGEST_BUCKET


def turns_bucket(turns: int) -> str:
    """Bucket of the number of user turns up to and including the one under study."""
    return str(turns) if turns <= 2 else "3-5" if turns <= 5 else "6+"


def time_granularity(span_days: float | None) -> str:
    """'day', 'week' or 'month' for a log whose timestamps span ``span_days`` (None: day)."""
    if span_days is None or span_days <= DAY_SPAN_DAYS:
        return "day"
    return "week" if span_days <= WEEK_SPAN_DAYS else "month"


def time_window(moment: datetime | date, granularity: str) -> str:
    """Window label of one timestamp: "2026-10-07", "2026-W41" (ISO week) or "2026-10"."""
    if granularity == "day":
        return moment.strftime("%Y-%m-%d")
    if granularity == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return moment.strftime("%Y-%m")


# ----------------------------------------------------------------------------------- language
#
# Offline and cheap enough for DuckDB to run over a million prompts in well under a second. The
# detector reads a bounded window: the whole prompt if it takes at most 600 bytes of UTF-8, else
# its first 300 characters (so a 10 MB prompt costs no more than a short one).
#
# 1. Writing system. If the window holds letters of a non-Latin script, the script of the first
#    one is the candidate. Its letter count f is estimated from the UTF-8 size (those scripts take
#    2 or 3 bytes a letter; emoji and symbols add bytes too): f = extra bytes // (bytes per
#    letter - 1), at most the window's length. Han, kana and Hangul weigh 3 (a character is about
#    a syllable), other scripts 1: share = weight * f, total = chars - f + share.
#    * 2 * share > total: the script dominates. Fewer than 4 (Han, kana, Hangul) or 8 letters:
#      'und'. Else Hangul: ko; Han or kana: ja if kana occur in the first 100 characters, else zh;
#      Cyrillic: uk if і/ї/є/ґ occur in the first 100 characters, else ru; Arabic: ar,
#      Hebrew: he, Greek: el, Thai: th, Devanagari: hi.
#    * 4 * share >= total: mixed scripts, 'und'.
#    * otherwise (a few such letters in Latin text): step 2.
# 2. Latin script. Stop words (below) count as whole ASCII-delimited words, lower case or with a
#    capital first letter (so "OS" or "MIT" in English text do not count). Among the languages
#    with at least two hits, the one whose first hit comes first wins; none: 'und' (too short,
#    code, numbers, other languages).
#
# Step 2 is a rule one regular-expression scan can decide, mostly after a few dozen characters
# (counting every stop word would mean extracting them all, several times slower in DuckDB).
# Step 1 is skipped without any scan when 6 * extra bytes < chars: no script can then reach a
# quarter of the window. ``detect_language`` and ``language_sql`` agree on every input.

LANGUAGE_WHOLE_BYTES = 600
LANGUAGE_WINDOW_CHARS = 300
LANGUAGE_MARKER_CHARS = 100  # kana (ja, not zh) or і/ї/є/ґ (uk, not ru) are looked for in these
UNDETERMINED = "und"

# A handful of frequent function words per language, disjoint across languages and chosen to be
# rare in the others' text (so "de", "la", "que", "per", "non", "posso", "die", "dit" are out).
_STOP_WORDS: dict[str, str] = {
    "en": "the and you your my to it this that with for have has not can what how please are does "
    "be from would should could there they when why which where if or but about been any our "
    "need want get just",
    "de": "der und ist nicht ich sie mit ein eine einen auf für den dem zu mein meine kann bitte "
    "wir haben habe noch auch wird sind oder aber warum wenn nach bei von hat mich mir dass kein "
    "keine nur ihr sich werden schon jetzt immer können möchte",
    "fr": "les et est une vous pas pour qui dans sur avec mon ce cette elle nous au aux votre "
    "pourquoi peux veux suis sont avez merci bonjour depuis tout fait faire leur moi très déjà où",
    "es": "el los las y pero muy puedo quiero tengo hola gracias cuando donde hay estoy usted "
    "necesito tiene hasta ya yo ella eso esto puede han mucho también mis ayuda cuenta cómo más "
    "qué",
    "pt": "não nao ele ela eu meu minha seu isso isto obrigado obrigada pode quero tenho estou tem "
    "foi são também na ao em ano pela pelo muito onde voce você uma ainda agora preciso consigo já "
    "até",
    "it": "gli della di che sono ho mio mia dei nel nella questo questa grazie ciao voglio anche "
    "ancora alla hai essere sul sulla dal dalla degli delle vorrei riesco aiuto dello nei nelle "
    "suo hanno tutto tutti tutte dell perché però può già",
    "nl": "het een van niet ik dat op voor zijn mijn hoe wat kan kunt wil graag bedankt maar ook "
    "bij naar deze geen nog heb heeft wordt worden uw jullie ons waarom hebben moet wij zou "
    "kunnen omdat",
}
STOP_WORDS: dict[str, tuple[str, ...]] = {lang: tuple(w.split()) for lang, w in _STOP_WORDS.items()}
LATIN_LANGUAGES: tuple[str, ...] = tuple(STOP_WORDS)

_KANA = ((0x3041, 0x3096), (0x309D, 0x309F), (0x30A1, 0x30FA), (0x30FC, 0x30FF), (0x31F0, 0x31FF))
_KANA += ((0xFF66, 0xFF9D),)  # half-width katakana
_HAN = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
_UKRAINIAN = "іїєґІЇЄҐ"


class _Script(NamedTuple):
    """A non-Latin writing system and how much of the window it must fill."""

    code: str  # language code, or "cjk" (ja/zh) and "cyrillic" (ru/uk)
    ranges: tuple[tuple[int, int], ...]  # code points (all of them 2 or 3 bytes in UTF-8)
    weight: int  # 3 for Han, kana and Hangul (a character is about a syllable), else 1
    minimum: int  # fewer letters than this: 'und'
    width: int  # UTF-8 bytes per letter

    @property
    def chars(self) -> str:
        return "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in self.ranges)


_SCRIPTS: tuple[_Script, ...] = (
    _Script("ko", ((0x1100, 0x11FF), (0x3131, 0x318E), (0xAC00, 0xD7A3)), 3, 4, 3),
    _Script("cjk", _KANA + _HAN, 3, 4, 3),  # ja or zh
    _Script("cyrillic", ((0x0400, 0x04FF),), 1, 8, 2),  # ru or uk
    _Script("ar", ((0x0600, 0x06FF), (0x0750, 0x077F)), 1, 8, 2),
    _Script("he", ((0x0590, 0x05FF),), 1, 8, 2),
    _Script("el", ((0x0370, 0x03FF),), 1, 8, 2),
    _Script("th", ((0x0E00, 0x0E7F),), 1, 8, 3),
    _Script("hi", ((0x0900, 0x097F),), 1, 8, 3),
)
_FOREIGN_CHARS = "".join(script.chars for script in _SCRIPTS)
_KANA_CHARS = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _KANA)

LANGUAGE_CODES: tuple[str, ...] = (
    *LATIN_LANGUAGES, "ja", "zh", "ko", "ru", "uk", "ar", "he", "el", "th", "hi", UNDETERMINED
)  # fmt: skip


def _word_pattern(word: str) -> str:
    """One stop word: either case for the first letter, ASCII word boundaries around it."""
    head = f"[{word[0]}{word[0].upper()}]"
    return rf"\b{head}{word[1:]}" + (r"\b" if word[-1].isascii() else "")


def _words_pattern(words: Iterable[str]) -> str:
    return "(?:" + "|".join(_word_pattern(w) for w in words) + ")"


_STOP_PATTERN = _words_pattern(w for words in STOP_WORDS.values() for w in words)
_WORD_LANGUAGE = {w: lang for lang, words in STOP_WORDS.items() for w in words}
_LONGEST_STOP_WORD = max(len(w) for w in _WORD_LANGUAGE)
# re.ASCII: \b is an ASCII word boundary, exactly as in RE2 (DuckDB's regex engine).
_STOP_RE = re.compile(_STOP_PATTERN, re.ASCII)
_FOREIGN_RE = re.compile(f"[{_FOREIGN_CHARS}]")
_KANA_RE = re.compile(f"[{_KANA_CHARS}]")
_UKRAINIAN_RE = re.compile(f"[{_UKRAINIAN}]")


def _window(text: str) -> str:
    """The whole text if it takes at most 600 bytes of UTF-8, else its first 300 characters."""
    if len(text) <= LANGUAGE_WHOLE_BYTES and _utf8_len(text) <= LANGUAGE_WHOLE_BYTES:
        return text
    return text[:LANGUAGE_WINDOW_CHARS]


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _script_language(window: str) -> str:
    """Step 1: a language code, 'und', or '' when the window counts as Latin script."""
    chars = len(window)
    extra = _utf8_len(window) - chars
    if 6 * extra < chars:  # shortcut: no script can reach a quarter of the window
        return ""
    first = _FOREIGN_RE.search(window)
    if first is None:
        return ""
    point = ord(first.group())
    script = next(s for s in _SCRIPTS if any(lo <= point <= hi for lo, hi in s.ranges))
    letters = min(extra // (script.width - 1), chars)
    share = script.weight * letters
    total = chars - letters + share
    if 2 * share > total:
        if letters < script.minimum:
            return UNDETERMINED
        if script.code == "cjk":
            return "ja" if _KANA_RE.search(window[:LANGUAGE_MARKER_CHARS]) else "zh"
        if script.code == "cyrillic":
            return "uk" if _UKRAINIAN_RE.search(window[:LANGUAGE_MARKER_CHARS]) else "ru"
        return script.code
    return UNDETERMINED if 4 * share >= total else ""


def _latin_language(window: str) -> str:
    """Step 2: the language whose stop words occur twice and appear first, else 'und'."""
    seen: dict[str, int] = {}
    for word in _STOP_RE.findall(window):
        lang = _WORD_LANGUAGE[word[0].lower() + word[1:]]
        seen[lang] = seen.get(lang, 0) + 1
    repeated = [lang for lang, hits in seen.items() if hits >= 2]  # dicts keep first-seen order
    return repeated[0] if repeated else UNDETERMINED


def detect_language(text: str) -> str:
    """ISO 639-1 code of ``text`` or 'und' (the pure-Python reference of ``language_sql``)."""
    window = _window(text)
    return _script_language(window) or _latin_language(window)


# SQL: the same rules. DuckDB shares a sub-expression between its uses only when it also appears
# in the first WHEN of the outer CASE (the window, its length and byte count), regular
# expressions inside lambdas are recompiled for every vector, and every copy of an expression in
# the SQL text costs planning time: so no lambdas, and the step 2 scan appears once, where it runs
# only for rows that step 1 leaves to it.


def _re2(pattern: str) -> str:
    """``pattern`` with every non-ASCII character written as \\x{...} (keeps the SQL ASCII)."""
    return "".join(c if ord(c) < 128 else f"\\x{{{ord(c):x}}}" for c in pattern)


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _rx(pattern: str) -> str:
    return _lit(_re2(pattern))


def language_sql(text_expr: str) -> str:
    """SQL evaluating to ``detect_language(text_expr)`` (VARCHAR; NULL text gives 'und')."""
    text = f"coalesce({text_expr}, '')"
    window = (
        f"CASE WHEN strlen({text}) <= {LANGUAGE_WHOLE_BYTES} THEN {text} "
        f"ELSE left({text}, {LANGUAGE_WINDOW_CHARS}) END"
    )
    chars = f"length({window})"
    extra = f"(strlen({window}) - {chars})"
    return (
        f"CASE WHEN {chars} + {extra} < 0 THEN NULL "
        f"ELSE coalesce({_script_sql(window, chars, extra)}, {_latin_sql(window)}) END"
    )


def _script_sql(window: str, chars: str, extra: str) -> str:
    """Step 1: a language code, 'und', or NULL when the window counts as Latin script."""
    marker_window = f"left({window}, {LANGUAGE_MARKER_CHARS})"
    whens = []
    for script in _SCRIPTS:
        letters = f"least({extra} // {script.width - 1}, {chars})"
        if script.code == "cjk":
            kana = _rx(f"[{_KANA_CHARS}]")
            code = f"CASE WHEN regexp_matches({marker_window}, {kana}) THEN 'ja' ELSE 'zh' END"
        elif script.code == "cyrillic":
            ukrainian = _rx(f"[{_UKRAINIAN}]")
            code = f"CASE WHEN regexp_matches({marker_window}, {ukrainian}) THEN 'uk' ELSE 'ru' END"
        else:
            code = _lit(script.code)
        # With share = weight * f and total = chars - f + share: 2 * share > total is
        # (weight + 1) * f > chars, and 4 * share >= total is (3 * weight + 1) * f >= chars.
        whens.append(
            f"WHEN regexp_matches({window}, {_rx(f'^[^{_FOREIGN_CHARS}]*[{script.chars}]')}) THEN "
            f"CASE WHEN {script.weight + 1} * {letters} > {chars} THEN "
            f"CASE WHEN {letters} < {script.minimum} THEN 'und' ELSE {code} END "
            f"WHEN {3 * script.weight + 1} * {letters} >= {chars} THEN 'und' END"
        )
    return (
        f"CASE WHEN 6 * {extra} < {chars} THEN NULL "
        f"WHEN NOT regexp_matches({window}, {_rx(f'[{_FOREIGN_CHARS}]')}) THEN NULL "
        f"{' '.join(whens)} END"
    )


def _latin_sql(window: str) -> str:
    """Step 2 in one scan: the shortest prefix of the window that ends in the second hit of the
    language whose repeated stop words start earliest (leftmost-first matching prefers the
    earliest start, then the shortest gap); the stop word it ends with names the language."""
    pairs = "|".join(f"{_own(lang)}(?s:.*?){_own(lang)}" for lang in LATIN_LANGUAGES)
    prefix = f"regexp_extract({window}, {_rx(f'^(?s:.*?)(?:{pairs})')})"
    # Its last characters (one more than the longest stop word, to keep the boundary before it),
    # then \x01 and the digits 0..6: alternative i matches a stop word of language i, the \x01
    # and the digits up to i, so the last character of the match is the language's index.
    digits = "".join(str(i) for i in range(len(LATIN_LANGUAGES)))
    tail = f"right({prefix}, {_LONGEST_STOP_WORD + 1}) || chr(1) || '{digits}'"
    named = "|".join(
        f"{_own(lang)}\\x01{digits[: i + 1]}" for i, lang in enumerate(LATIN_LANGUAGES)
    )
    index = f"TRY_CAST(right(regexp_extract({tail}, {_rx(named)}), 1) AS INTEGER)"
    names = "[" + ", ".join(_lit(lang) for lang in LATIN_LANGUAGES) + "]"
    return f"coalesce({names}[{index} + 1], 'und')"


def _own(lang: str) -> str:
    return _words_pattern(STOP_WORDS[lang])


# ----------------------------------------------------------------------------------------- API

_STRFTIME = {"day": "%Y-%m-%d", "week": "%G-W%V", "month": "%Y-%m"}


def derived_slice_sql(
    prompt_text: str,
    user_turns: str,
    logged_at: str | None,
    span_days: float | None,
    context_has_model_output: str = "false",
) -> dict[str, str]:
    """Derived slice name → SQL expression (VARCHAR) over the caller's column expressions.

    ``prompt_text`` is the prompt under study, ``user_turns`` the number of user turns up to and
    including it, ``logged_at`` a TIMESTAMP expression (None when the log has no timestamps: no
    time_window then), ``span_days`` the span of ``logged_at`` over the file (day/week/month) and
    ``context_has_model_output`` a BOOLEAN expression. NULL inputs give NULL, except language
    ('und').
    """
    length = " ".join(
        f"WHEN length({prompt_text}) < {limit} THEN {_lit(label)}"
        for limit, label in LENGTH_BUCKETS
    )
    out = {
        # length() in the first WHEN: DuckDB then computes it once per row
        "prompt_length": f"CASE WHEN length({prompt_text}) IS NULL THEN NULL {length} "
        f"ELSE {_lit(LONGEST_BUCKET)} END",
        "turns": (
            f"CASE WHEN {user_turns} IS NULL THEN NULL "
            f"WHEN {user_turns} <= 2 THEN CAST({user_turns} AS VARCHAR) "
            f"WHEN {user_turns} <= 5 THEN '3-5' ELSE '6+' END"
        ),
        "context": (
            f"CASE WHEN {context_has_model_output} THEN {_lit(OLD_MODEL_CONTEXT)} "
            f"ELSE {_lit(CLEAN_CONTEXT)} END"
        ),
        "language": language_sql(prompt_text),
    }
    if logged_at is not None:
        fmt = _STRFTIME[time_granularity(span_days)]
        out["time_window"] = f"strftime(CAST({logged_at} AS TIMESTAMP), {_lit(fmt)})"
    return out
