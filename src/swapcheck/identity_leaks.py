"""Identity-leak detector: answers that name their own model, vendor or training, and masking."""

from __future__ import annotations

import re
from dataclasses import dataclass

IDENTITY_MASK = "[model identity removed]"


@dataclass(frozen=True)
class IdentityLeak:
    """One self-identifying phrase: ``text[start:end] == phrase``; kind model/vendor/training."""

    start: int
    end: int
    phrase: str
    kind: str


# A phrase starts after a non-word character that is not the end of a mask, so masking a leak
# glued to the next phrase ("...dataAs an AI...") never uncovers a new one: idempotent masking.
_MASK = re.escape(IDENTITY_MASK)
_START = rf"(?<!\w)(?<!{_MASK})"

# Model and vendor names are proper nouns: matched case-sensitively (``(?-i:...)``) so that
# "a mistral wind" or "llama wool" never count; the surrounding phrasing is case-insensitive.
_MODEL_NAMES = (
    r"ChatGPT|GPT(?:-?\d+(?:\.\d+)?o?|-?o\d)?|Claude|Gemini|Gemma|Bard|PaLM(?:\s?2)?"
    r"|Llama\d?|LLaMA\d?|Mistral|Mixtral|Codestral|Qwen(?:\d+(?:\.\d+)?)?|DeepSeek|Deepseek"
    r"|Command[ -]R\+?|Grok|Phi|Copilot"
)
_MODEL_SUFFIX = (
    r"(?:[ -](?:\d+(?:\.\d+)?[bBo]?|\d+x\d+[bB]|Pro|Ultra|Flash|Nano|Advanced|Sonnet|Opus"
    r"|Haiku|Instant|Large|Medium|Small|Turbo|turbo|mini|Mini|Max|Plus|Coder|Chat|Instruct"
    r"|V\d+(?:\.\d+)?|R1|Vision|Omni))*"
)
_MODEL = rf"(?-i:(?:{_MODEL_NAMES}){_MODEL_SUFFIX})(?![\w+-])(?!['’]s\b)"
# "I'm Claude Monet": a capitalised word after the name makes it a person (the mask counts as
# one, so masking a later leak never turns an earlier mention into a leak).
_NOT_A_SURNAME = rf"(?!\s+(?:(?-i:[A-Z][a-z])|{_MASK}))"
_VENDOR = (
    r"(?-i:OpenAI|Anthropic|Google(?:\s+DeepMind)?|DeepMind|Meta(?:\s+AI)?|Mistral\s+AI"
    r"|Mistral|Alibaba(?:\s+Cloud)?|Cohere|xAI|Microsoft)(?![\w-])"
)
_BY_VENDOR = (
    r"(?:by|from)\s+(?:the\s+(?:team|people|researchers|engineers)\s+(?:at|of)\s+)?" + _VENDOR
)
_SENTENCE_START = (
    r"(?:^|(?<=[.!?]\s)|(?<=[.!?][\"')]\s)|(?<=\bHi,\s)|(?<=\bHey,\s)|(?<=\bHello,\s))"
)
# "I'm Claude, an AI assistant made by Anthropic" is one leak, not two.
_VENDOR_TAIL = rf"(?:\s*,\s*[^.!?\n]{{0,80}}?\b(?:by|from|von|par|por|de)\s+{_VENDOR})?"

# English
_I_AM = _START + r"I(?:['’]m|\s+am)\s+"
_AI_NOUN_EN = (
    r"(?:an?\s+)?(?:large\s+)?(?:AI(?:\s+(?:language\s+model|model|assistant|chatbot|system))?"
    r"|language\s+model|LLM|(?:virtual\s+)?assistant|chatbot|model)"
)
_MADE_EN = r"(?:developed|created|trained|made|built|designed|programmed|released)"
_ENGLISH_MODEL = (
    rf"{_I_AM}(?:{_AI_NOUN_EN}\s+(?:called|named)\s+)?{_MODEL}{_NOT_A_SURNAME}{_VENDOR_TAIL}",
    rf"{_I_AM}(?:powered\s+by|based\s+on|built\s+on|running\s+on|a\s+version\s+of"
    rf"|an?\s+instance\s+of)\s+(?:the\s+)?{_MODEL}",
    rf"{_START}my\s+name\s+is\s+{_MODEL}{_NOT_A_SURNAME}{_VENDOR_TAIL}",
    rf"{_START}you(?:['’]re|\s+are)\s+(?:talking|chatting|speaking)\s+(?:to|with)\s+{_MODEL}"
    rf"{_NOT_A_SURNAME}",
    rf"{_SENTENCE_START}{_MODEL}\s+here\b(?=\s*(?:[,.!:;…—–-]|$))",
    rf"{_SENTENCE_START}as\s+{_MODEL}{_NOT_A_SURNAME}(?=\s*,|\s+I\b)",
)
_ENGLISH_VENDOR = (
    rf"(?:{_START}as\s+|{_I_AM}){_AI_NOUN_EN}(?:\s*,)?\s+(?:{_MADE_EN}\s+)?{_BY_VENDOR}",
    rf"{_START}I(?:['’]m|\s+am|\s+was|\s+have\s+been)\s+{_MADE_EN}\s+{_BY_VENDOR}",
    rf"{_I_AM}powered\s+by\s+{_VENDOR}",
)
_ENGLISH_TRAINING = (
    rf"{_START}my\s+(?:training\s+(?:data(?:set)?|cut-?off|set|corpus)|knowledge\s+cut-?off)",
    rf"{_START}I\s+was\s+trained\s+on\s+data\s+(?:up\s+to|until|through)",
    rf"{_START}as\s+of\s+my\s+last\s+(?:training|knowledge)\s+update",
)

# German
_AI_NOUN_DE = (
    r"(?:ein(?:e|em)?\s+)?(?:großes?\s+)?(?:KI(?:-[A-Za-zäöüß]+)?|Sprachmodell|Chatbot"
    r"|künstliche\s+Intelligenz|Assistent(?:in)?)"
)
_MADE_DE = r"(?:entwickelt|trainiert|erstellt|programmiert|gebaut|geschaffen)"
_GERMAN = {
    "model": (rf"{_START}ich\s+bin\s+{_MODEL}{_NOT_A_SURNAME}{_VENDOR_TAIL}",),
    "vendor": (
        rf"{_START}(?:als|ich\s+bin)\s+{_AI_NOUN_DE}(?:\s*,\s*(?:das|der|die)\b)?\s+"
        rf"(?:{_MADE_DE}\s+)?von\s+{_VENDOR}(?:\s+{_MADE_DE}(?:\s+wurde)?)?",
        rf"{_START}ich\s+wurde\s+von\s+{_VENDOR}\s+{_MADE_DE}",
    ),
    "training": (rf"{_START}meine[nr]?\s+Trainingsdaten",),
}

# French
_AI_NOUN_FR = (
    r"(?:une?\s+)?(?:grand\s+)?(?:IA|intelligence\s+artificielle"
    r"|modèle\s+(?:de\s+langage|d['’]IA|linguistique)|assistante?(?:\s+(?:IA|virtuelle?))?"
    r"|chatbot)"
)
_MADE_FR = r"(?:développée?|créée?|entraînée?|conçue?|formée?)"
_FRENCH = {
    "model": (rf"{_START}je\s+suis\s+{_MODEL}{_NOT_A_SURNAME}{_VENDOR_TAIL}",),
    "vendor": (
        rf"(?:{_START}en\s+tant\s+qu(?:e\s+|['’]\s*)|{_START}je\s+suis\s+){_AI_NOUN_FR}(?:\s*,)?\s+"
        rf"(?:{_MADE_FR}\s+)?par\s+{_VENDOR}",
        rf"{_START}j['’]ai\s+été\s+{_MADE_FR}\s+par\s+{_VENDOR}",
    ),
    "training": (rf"{_START}mes\s+données\s+d['’]entraînement",),
}

# Spanish
_AI_NOUN_ES = (
    r"(?:una?\s+)?(?:gran\s+)?(?:IA|inteligencia\s+artificial"
    r"|modelo\s+(?:de\s+lenguaje|de\s+IA|lingüístico)(?:\s+grande)?"
    r"|asistente(?:\s+(?:de\s+IA|virtual))?|chatbot)"
)
_MADE_ES = r"(?:desarrollad[oa]|entrenad[oa]|cread[oa]|diseñad[oa]|programad[oa])"
_SPANISH = {
    "model": (rf"{_START}(?:yo\s+)?soy\s+{_MODEL}{_NOT_A_SURNAME}{_VENDOR_TAIL}",),
    "vendor": (
        rf"(?:{_START}como\s+|{_START}(?:yo\s+)?soy\s+){_AI_NOUN_ES}(?:\s*,)?\s+(?:{_MADE_ES}\s+)?"
        rf"por\s+{_VENDOR}",
        rf"{_START}fui\s+{_MADE_ES}\s+por\s+{_VENDOR}",
    ),
    "training": (rf"{_START}mis\s+datos\s+de\s+entrenamiento",),
}

_PATTERNS: dict[str, tuple[str, ...]] = {
    "model": _ENGLISH_MODEL + _GERMAN["model"] + _FRENCH["model"] + _SPANISH["model"],
    "vendor": _ENGLISH_VENDOR + _GERMAN["vendor"] + _FRENCH["vendor"] + _SPANISH["vendor"],
    "training": _ENGLISH_TRAINING
    + _GERMAN["training"]
    + _FRENCH["training"]
    + _SPANISH["training"],
}
# One alternation, compiled once: ``finditer`` yields leftmost, non-overlapping leaks, and the
# named group tells the kind.
_LEAK_RE = re.compile(
    "|".join(f"(?P<{kind}>{'|'.join(patterns)})" for kind, patterns in _PATTERNS.items()),
    re.IGNORECASE | re.MULTILINE,
)


def find_identity_leaks(text: str) -> list[IdentityLeak]:
    """Phrases in which an answer names its own model, vendor or training, in text order."""
    if not text:
        return []
    return [
        IdentityLeak(m.start(), m.end(), m.group(0), m.lastgroup or "model")
        for m in _LEAK_RE.finditer(text)
        if m.end() > m.start()
    ]


def mask_identity_leaks(text: str) -> str:
    """``text`` with each leak replaced by ``IDENTITY_MASK``; every other character unchanged."""
    parts: list[str] = []
    last = 0
    for leak in find_identity_leaks(text):
        parts += [text[last : leak.start], IDENTITY_MASK]
        last = leak.end
    parts.append(text[last:])
    return "".join(parts)
