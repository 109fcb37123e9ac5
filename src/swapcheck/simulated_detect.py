"""Text heuristics the simulated model and reviewer use: language, task, topic, refusals."""

from __future__ import annotations

import re

LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "pt", "it", "ja")

_JAPANESE = re.compile(r"[\u3040-\u309f\u30a0-\u30ff\u4e00-\u9fff\uff66-\uff9f]")

_STOPWORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": "the and is to my i you please for of this with what how can it was",
        "de": "der die das und ist ich nicht bitte mit für meine mein ein eine wie sie zu",
        "fr": "le les et est je pas pour mon ma une des vous avec ce cette du au",
        "es": "el los las y es mi para por con una un no cómo qué del este esta también tu lo",
        "pt": "o os e é meu minha com um uma não do da você vocês pelo pela aqui como este "
        "esta também seu sua isso ao",
        "it": "il lo gli è mio mia per con un una non che del della come questo tua tuo ti "
        "di ho nel alla",
    }.items()
}
_MARK_CHARS: dict[str, str] = {"de": "ßäöü", "fr": "àçœù", "es": "ñ¿¡", "pt": "ãõç", "it": "ìò"}

_MEDICAL = re.compile(
    r"\b(?:medic|médic|medik|medizin|symptom|sympt|síntom|sintom|dosage|dose|dosis|dosier|"
    r"posolog|fever|fieber|fièvre|fiebre|febre|febbre|headache|kopfschmerz|migraine|"
    r"arzt|ärzt|doctor|médecin|farmac|pharmac|ibuprofen|paracetamol|aspirin|"
    r"blood pressure|blutdruck|tension artérielle|presión arterial|pressão arterial|"
    r"pressione|side effect|nebenwirkung|effets? secondaires?|efectos? secundarios?|"
    r"efeitos? colatera|effetti collaterali|prescri|remédio|remedio|health|gesundheit|"
    r"santé|salud|saúde|mg\b)",
    re.IGNORECASE,
)
_MEDICAL_JA = re.compile(r"薬|症状|服用|用量|発熱|熱が|副作用|医師|頭痛|血圧|めまい")

_JSON_WORD = re.compile(r"(?<![A-Za-z])json(?![A-Za-z])", re.IGNORECASE)

_TASK_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("translate", re.compile(r"translat|übersetz|tradu|翻訳", re.I)),
    (
        "code",
        re.compile(
            r"```|traceback|exception|keyerror|typeerror|stack trace|python|javascript|\bsql\b|"
            r"\bdef |function|funktion|fonction|función|função|funzione|関数|コード",
            re.I,
        ),
    ),
    ("summarize", re.compile(r"summar|zusammenfass|\bfasse\b|résum|resum|riassum|要約", re.I)),
    ("classify", re.compile(r"classif|klassifizier|clasific|categori[sz]e|kategoris|分類", re.I)),
    (
        "email",
        re.compile(
            r"\bdraft|write (?:an?|the) (?:e-?mail|reply)|entwirf|rédige|redacta|escreva|"
            r"scrivi|メールの下書き|メールを作成",
            re.I,
        ),
    ),
)

_TARGETS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("en", re.compile(r"english|englisch|anglais|ingl[eéê]s|inglese|英語", re.I)),
    ("de", re.compile(r"german|deutsch|allemand|alem[aá]n|alemão|tedesco|ドイツ語", re.I)),
    ("fr", re.compile(r"french|französisch|français|franc[eê]s|francese|フランス語", re.I)),
    ("es", re.compile(r"spanish|spanisch|espagnol|español|espanhol|spagnolo|スペイン語", re.I)),
    ("pt", re.compile(r"portugu|portoghese|ポルトガル語", re.I)),
    ("it", re.compile(r"italian|italien|italiano|イタリア語", re.I)),
    ("ja", re.compile(r"japanese|japanisch|japonais|japon[eéê]s|giapponese|日本語", re.I)),
)

TOPIC_KEYWORDS: dict[str, tuple[str, ...]] = {
    "billing": (
        "charged",
        "invoice",
        "payment",
        "abgebucht",
        "rechnung",
        "zahlung",
        "factur",
        "prélev",
        "paiement",
        "cobr",
        "pago",
        "fatura",
        "pagamento",
        "addebit",
        "fattura",
        "請求",
        "支払",
    ),
    "account": (
        "log in",
        "login",
        "password",
        "profile",
        "anmeld",
        "passwort",
        "konto",
        "mot de passe",
        "compte",
        "contraseña",
        "cuenta",
        "senha",
        "minha conta",
        "accedere",
        "アカウント",
        "ログイン",
        "パスワード",
    ),
    "shipping": (
        "tracking",
        "parcel",
        "delivery",
        "paket",
        "lieferung",
        "sendung",
        "colis",
        "livraison",
        "paquete",
        "envío",
        "entrega",
        "pacote",
        "pacco",
        "consegna",
        "spedizione",
        "配送",
        "荷物",
    ),
    "product": (
        "blender",
        "charger",
        "mixer",
        "ladegerät",
        "mixeur",
        "chargeur",
        "licuadora",
        "cargador",
        "liquidificador",
        "carregador",
        "frullatore",
        "caricatore",
        "ミキサー",
        "充電器",
    ),
    "legal": (
        "gdpr",
        "dsgvo",
        "rgpd",
        "lgpd",
        "warranty",
        "garantie",
        "garantía",
        "garantia",
        "garanzia",
        "個人情報",
        "保証",
    ),
    "security": (
        "phishing",
        "two-factor",
        "unknown device",
        "zwei-faktor",
        "hameçonnage",
        "double authentification",
        "dos factores",
        "dois fatores",
        "due fattori",
        "不審",
        "二段階",
        "フィッシング",
    ),
    "returns": (
        "send back",
        "sent back",
        "return the",
        "rücksend",
        "zurückschick",
        "retourn",
        "renvoy",
        "devolu",
        "devolv",
        " reso",
        "restituire",
        "返品",
        "返送",
    ),
}


def has_japanese(text: str) -> bool:
    """True when the text contains Hiragana, Katakana or Kanji."""
    return bool(_JAPANESE.search(text))


def detect_language(text: str) -> str:
    """Best-guess language code (``en`` ``de`` ``fr`` ``es`` ``pt`` ``it`` ``ja``) of a text."""
    if has_japanese(text):
        return "ja"
    text = re.sub(r"```.*?(```|$)", " ", text, flags=re.S)
    tokens = re.findall(r"[\wÀ-ÿ]+", text.lower())
    scores = {lang: sum(t in words for t in tokens) for lang, words in _STOPWORDS.items()}
    for lang, chars in _MARK_CHARS.items():
        scores[lang] += 2 * sum(text.count(c) for c in chars)
    best = max(scores, key=lambda lang: (scores[lang], lang == "en"))
    return best if scores[best] > 0 else "en"


def is_medical(text: str) -> bool:
    """True when the text is about medical or health topics (symptoms, medication, dosage)."""
    return bool(_MEDICAL.search(text) or _MEDICAL_JA.search(text))


def asks_for_json(text: str) -> bool:
    """True when a prompt asks for JSON output (mentions JSON and is not a code question)."""
    return bool(_JSON_WORD.search(text)) and "```" not in text


def detect_task(text: str) -> str:
    """Task of a prompt: json, translate, code, summarize, classify, email or support."""
    if asks_for_json(text):
        return "json"
    for task, pattern in _TASK_PATTERNS:
        if pattern.search(text):
            return task
    return "support"


def translation_target(text: str, source: str) -> str:
    """Language a translation prompt asks for (first named language other than the source)."""
    hits = [(m.start(), lang) for lang, pat in _TARGETS for m in [pat.search(text)] if m]
    for _, lang in sorted(hits):
        if lang != source:
            return lang
    return "en" if source != "en" else "es"


def payload(text: str) -> str:
    """The material a prompt is about: the text after its last blank line, if any."""
    parts = [p for p in text.split("\n\n") if p.strip()]
    return parts[-1] if parts else text


def detect_topic(text: str) -> tuple[str, str]:
    """(topic, matched keyword) of a customer message; ``("general", "")`` when unclear."""
    low = text.lower()
    if is_medical(text):
        match = _MEDICAL.search(text) or _MEDICAL_JA.search(text)
        return "medical", match.group(0) if match else ""
    best, best_kw, best_n = "general", "", 0
    for topic, words in TOPIC_KEYWORDS.items():
        found = [w for w in words if w in low]
        if len(found) > best_n:
            best, best_kw, best_n = topic, found[0], len(found)
    return best, best_kw


_REFUSAL = re.compile(
    r"i'?m sorry, but i can(?:'|no)t|i can(?:'|no)t help with|unable to help|"
    r"consult a healthcare professional|kann ich nicht helfen|nicht weiterhelfen|"
    r"je ne peux pas vous aider|no puedo ayudar|não posso ajudar|non posso aiutar|"
    r"お答えできません",
    re.IGNORECASE,
)


def looks_like_refusal(text: str) -> bool:
    """True when an answer declines to help."""
    return bool(_REFUSAL.search(text))
