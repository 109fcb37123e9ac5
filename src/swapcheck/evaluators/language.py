"""Language mismatch: is the answer in another language than the user wrote (or asked for)?"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from swapcheck.errors import ConfigError
from swapcheck.evaluators import EvalValue, ResponseFn, ResponseInput, evaluator
from swapcheck.evaluators._text import (
    is_strict_json,
    last_user_text,
    option,
    reject_unknown,
    without_code,
)

NAME = "language_mismatch"
MIN_LETTERS = 20
"""Texts with fewer letters than this (a Chinese/Japanese character counts as 3) are too short
to tell their language reliably: the check returns None for them."""
CLOSE_CALL = 0.5
"""An answer is in the expected language when that language's probability is at least half the
most likely language's."""
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_TRANSLATE_RE = re.compile(
    r"translat|übersetz|traduis|tradui[rst]|traduc|traduz|tradurr|翻訳|翻译|번역", re.IGNORECASE
)
_LANGUAGE_NAMES: dict[str, tuple[str, ...]] = {
    "en": (
        "english",
        "englisch",
        "englische",
        "englischen",
        "anglais",
        "inglés",
        "ingles",
        "inglese",
        "inglês",
        "英語",
        "英语",
    ),
    "de": (
        "german",
        "deutsch",
        "deutsche",
        "deutschen",
        "allemand",
        "alemán",
        "aleman",
        "tedesco",
        "alemão",
        "ドイツ語",
        "德语",
    ),
    "fr": (
        "french",
        "französisch",
        "französische",
        "französischen",
        "français",
        "francais",
        "francés",
        "frances",
        "francese",
        "francês",
        "フランス語",
        "法语",
    ),
    "es": (
        "spanish",
        "spanisch",
        "spanische",
        "spanischen",
        "espagnol",
        "español",
        "espanol",
        "spagnolo",
        "espanhol",
        "スペイン語",
        "西班牙语",
    ),
    "pt": (
        "portuguese",
        "portugiesisch",
        "portugiesische",
        "portugiesischen",
        "portugais",
        "portugués",
        "portugues",
        "portoghese",
        "português",
        "ポルトガル語",
        "葡萄牙语",
    ),
    "it": (
        "italian",
        "italienisch",
        "italienische",
        "italienischen",
        "italien",
        "italiano",
        "イタリア語",
        "意大利语",
    ),
    "ja": (
        "japanese",
        "japanisch",
        "japanische",
        "japanischen",
        "japonais",
        "japonés",
        "japones",
        "giapponese",
        "japonês",
        "日本語",
        "日语",
    ),
    "zh": (
        "chinese",
        "chinesisch",
        "chinesische",
        "chinesischen",
        "chinois",
        "chino",
        "cinese",
        "chinês",
        "中国語",
        "中文",
        "汉语",
    ),
    "ko": ("korean", "koreanisch", "koreanische", "coréen", "coreano", "韓国語", "한국어"),
    "nl": (
        "dutch",
        "niederländisch",
        "niederländische",
        "néerlandais",
        "neerlandés",
        "olandese",
        "holandês",
        "オランダ語",
    ),
    "ru": ("russian", "russisch", "russische", "russe", "ruso", "russo", "ロシア語", "俄语"),
    "pl": ("polish", "polnisch", "polnische", "polonais", "polaco", "polacco", "ポーランド語"),
}
_NAME_TO_CODE = {name: code for code, names in _LANGUAGE_NAMES.items() for name in names}
_TARGET_RE = re.compile(
    r"(?:\b(?:into|to|ins|in|auf|en|al|a|para|pro|nell'|in lingua)\s+(?:the\s+)?"
    r"(?P<word>[^\W\d_]+))|(?P<cjk>[\u3040-\u30ff\u4e00-\u9fff]+[語语文])",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _identifier() -> Any:
    """py3langid's bundled model (about 0.5 s to load, read-only afterwards), once per process."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def known_languages() -> list[str]:
    """ISO 639-1 codes the bundled model can tell apart."""
    return list(_identifier().labels)


def letter_weight(text: str) -> int:
    """Letters in ``text``; a Chinese/Japanese/Korean character counts as 3."""
    return sum(3 if _CJK_RE.match(ch) else 1 for ch in text if ch.isalpha())


def language_scores(
    text: str, languages: Sequence[str] | None = None
) -> list[tuple[str, float]] | None:
    """(ISO code, probability) for the prose in ``text``, most likely first; None when it is
    too short or a bare JSON object or array (keys and values are not prose)."""
    if is_strict_json(text):
        return None
    prose = without_code(text)
    if letter_weight(prose) < MIN_LETTERS:
        return None
    ranked = [(code, float(score)) for code, score in _identifier().rank(prose)]
    if languages:
        ranked = [(code, score) for code, score in ranked if code in languages]
    return ranked or None


def detect_language(text: str, languages: Sequence[str] | None = None) -> str | None:
    """The most likely language (ISO code) of the prose in ``text``, or None (see above)."""
    ranked = language_scores(text, languages)
    return ranked[0][0] if ranked else None


def answer_language(text: str, expected: str, languages: Sequence[str] | None) -> str | None:
    """The answer's language, taken to be ``expected`` when that scores at least
    ``CLOSE_CALL`` of the top language (close relatives such as pt/gl or es/ca on short texts
    are not called a mismatch)."""
    ranked = language_scores(text, languages)
    if ranked is None:
        return None
    top_code, top_score = ranked[0]
    expected_score = dict(ranked).get(expected, 0.0)
    return expected if expected_score >= CLOSE_CALL * top_score else top_code


def translation_target(prompt: str) -> tuple[bool, str | None]:
    """(is a translation request, target language code or None when it cannot be told)."""
    if not _TRANSLATE_RE.search(prompt):
        return False, None
    for match in _TARGET_RE.finditer(prompt):
        word = (match.group("word") or match.group("cjk") or "").lower()
        if word in _NAME_TO_CODE:
            return True, _NAME_TO_CODE[word]
        if match.group("cjk"):  # a run like "この文を英語": the language name ends it
            for name in sorted(_NAME_TO_CODE, key=len, reverse=True):
                if word.endswith(name):
                    return True, _NAME_TO_CODE[name]
    return True, None


def _languages_option(options: Mapping[str, Any]) -> list[str] | None:
    languages = option(options, "languages", list, NAME)
    if languages is None:
        return None
    known = set(known_languages())
    unknown = [code for code in languages if code not in known]
    if not languages or unknown:
        raise ConfigError(
            f"Evaluator {NAME!r}: option 'languages' holds unknown codes {unknown or '[]'}.",
            'List ISO 639-1 codes the detector knows, e.g. ["en", "de", "fr"].',
        )
    return [str(code) for code in languages]


@evaluator(
    NAME,
    version=1,
    scope="response",
    kind="rate",
    higher_is="worse",
    description="Answer is in another language (1) than the last user turn, or than the target "
    "of a 'translate ... into X' prompt; None when either text has under 20 letters outside "
    "code (a CJK character counts as 3), is bare JSON, or a translation prompt's target is "
    "unclear. The answer counts as the expected language when that scores at least half the top "
    "language (close relatives such as pt/gl on short texts). Offline py3langid.",
    options_doc='Optional: "languages": ["en", "de", ...] restricts detection to these ISO codes.',
)
def language_mismatch(options: Mapping[str, Any]) -> ResponseFn:
    """Answer language differs from the prompt's (or the requested translation target)."""
    reject_unknown(options, ("languages",), NAME)
    languages = _languages_option(options)
    _identifier()  # load the model now, not on the first answer

    def check(item: ResponseInput) -> EvalValue | None:
        prompt = last_user_text(item.messages)
        is_translation, target = translation_target(prompt)
        if is_translation and target is None:
            return None
        expected = target if is_translation else detect_language(prompt, languages)
        if expected is None:
            return None
        answer = answer_language(item.text, expected, languages)
        if answer is None:
            return None
        label = f"{'target' if is_translation else 'prompt'}={expected} answer={answer}"
        return EvalValue(float(expected != answer), label)

    return check
