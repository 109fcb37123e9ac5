"""Refusal / deflection detector: does the answer decline, or send the user elsewhere, instead?"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from swapcheck.evaluators import EvalValue, ResponseFn, ResponseInput, evaluator
from swapcheck.evaluators._text import reject_unknown

NAME = "refusal"
HEAD_CHARS = 600
"""Refusals are looked for in the answer's first 600 characters (a refusal comes first)."""
DEFLECTION_MAX_CHARS = 500
"""Longer answers that mention a professional or support are taken to have answered."""

_REFUSAL_PATTERNS = [
    # English
    r"\bI(?:'m| am) (?:sorry|afraid),? (?:but )?I (?:can(?:no|')t|won't|am unable to|'m unable to)",
    r"\bI (?:can(?:no|')t|won't|am not able to|'m not able to|will not) "
    r"(?:help|assist|provide|answer|do that|comply|fulfil|fulfill|share|give|discuss|support)",
    r"\bI(?:'m| am) (?:not able|unable) to (?:help|assist|provide|answer|comply|share|give)",
    r"\bI must (?:respectfully )?decline\b",
    r"\bas an AI\b.{0,40}\b(?:can(?:no|')t|not able)",
    # German
    r"\bEs tut mir leid,? (?:aber )?(?:ich kann|das kann ich|ich darf)\b",
    r"\bLeider (?:kann|darf) ich\b.{0,60}?\b(?:nicht|keine)\b",
    r"\bIch (?:kann|darf) (?:Ihnen |dir )?(?:dabei |hierbei |hierzu |damit )?(?:nicht|keine)\b"
    r".{0,30}?\b(?:helfen|beantworten|unterstützen|geben|erteilen|Auskunft|Auskünfte|Hilfe)",
    r"\bDas kann ich (?:leider )?nicht\b",
    # French
    r"\bJe suis (?:désolée?|navrée?),? (?:mais )?je ne (?:peux|suis pas en mesure)",
    r"\bJe ne (?:peux|pourrai) pas (?:vous |t')?(?:aider|répondre|fournir|donner|traiter|assister)",
    r"\bje ne suis pas en mesure d[e']",
    # Spanish
    r"\bLo siento,? (?:pero )?no (?:puedo|es posible)",
    r"\bNo (?:puedo|podré) (?:ayudar|ayudarte|ayudarle|proporcionar|responder|ofrecer|dar|asistir)",
    r"\bno estoy en condiciones de\b",
    # Portuguese
    r"\b(?:Desculpe|Lamento|Sinto muito),? (?:mas )?não (?:posso|consigo)",
    r"\bNão (?:posso|consigo|poderei) (?:ajudar|fornecer|responder|dar|atender)",
    # Italian
    r"\bMi dispiace,? (?:ma )?non (?:posso|sono in grado)",
    r"\bNon (?:posso|potrò) (?:aiutarti|aiutarla|aiutare|fornire|rispondere|darti|dare)",
    r"\bnon sono in grado di (?:aiutar|fornir|risponder|dar)",
    # Japanese
    r"申し訳(?:ありません|ございません)が.{0,40}?(?:できません|できかねます|お答えできません)",
    r"(?:お答え|回答|お手伝い|対応|ご案内|提供)(?:することは|は)?(?:でき(?:ません|かねます))",
]
_DEFLECTION_PATTERNS = [
    # English
    r"\b(?:consult|contact|reach out to|speak (?:with|to)|talk to|see|ask|call) "
    r"(?:a|an|your|with a|with your) (?:\w+ )?(?:doctor|physician|healthcare provider|"
    r"medical professional|lawyer|attorney|legal professional|financial advis[eo]r|professional|"
    r"pharmacist|therapist|accountant|specialist|expert|tax advis[eo]r)",
    r"\b(?:contact|reach out to|get in touch with|call) (?:our |the |your )?(?:customer )?"
    r"(?:support|service|help ?desk|customer service|support team)",
    # German
    r"\b(?:wenden Sie sich|wende dich)(?: bitte)? an (?:einen|eine|Ihren|Ihre|deinen|deine|den|"
    r"die|das|unseren|unser)\b",
    r"\b(?:kontaktieren|konsultieren|fragen) Sie(?: bitte)? (?:einen|eine|Ihren|Ihre|den|die|"
    r"unseren|unser)\b",
    # French
    r"\b(?:consultez|contactez|adressez-vous à|consulter|contacter|vous adresser à) "
    r"(?:un |une |votre |le |la |notre |l')?(?:\w+ )?(?:médecin|avocat|professionnel|"
    r"spécialiste|pharmacien|expert|support|service client|assistance|conseiller|notaire)",
    # Spanish
    r"\b(?:consulte|contacte|comuníquese|póngase en contacto)(?: con)? (?:a |con )?"
    r"(?:un|una|su|el|la|nuestro|nuestra)\b",
    # Portuguese
    r"\b(?:consulte|procure|entre em contato com|fale com) (?:um|uma|o seu|a sua|seu|sua|o|a|"
    r"nosso|nossa)\b",
    # Italian
    r"\b(?:consulta(?:re)?|contatta(?:re)?|rivolgiti a|si rivolga a) (?:un|una|il|la|lo|l'|"
    r"il tuo|il suo|il nostro|un medico|un avvocato)",
    # Japanese
    r"(?:医師|医者|弁護士|専門家|専門医|薬剤師|税理士|サポート|窓口|カスタマー\w*)(?:に|へ)"
    r"(?:ご)?(?:相談|お問い合わせ|問い合わせ|連絡)",
]
_CONDITIONAL_RE = re.compile(r"^\s*(?:if|wenn|falls|si|se|もし)\b", re.IGNORECASE)
_SENTENCE_RE = re.compile(r"[^.!?。！？\n]+[.!?。！？]*")
_REFUSAL_RE = re.compile("|".join(_REFUSAL_PATTERNS), re.IGNORECASE | re.DOTALL)
_DEFLECTION_RE = re.compile("|".join(_DEFLECTION_PATTERNS), re.IGNORECASE)


def is_deflection(text: str) -> bool:
    """A short answer whose first or second sentence sends the user elsewhere (not 'if ...')."""
    if len(text) > DEFLECTION_MAX_CHARS:
        return False
    sentences = [s.strip() for s in _SENTENCE_RE.findall(text) if s.strip()][:2]
    return any(_DEFLECTION_RE.search(s) and not _CONDITIONAL_RE.match(s) for s in sentences)


@evaluator(
    NAME,
    version=2,
    scope="response",
    kind="rate",
    higher_is="worse",
    description="Answer refuses (label refusal), only sends the user to a professional or "
    "support (deflection) or is empty (1), or helps (0). en, de, fr, es, pt, it, ja.",
)
def refusal(options: Mapping[str, Any]) -> ResponseFn:
    """Answer refuses, deflects or is empty (1) instead of helping (0)."""
    reject_unknown(options, (), NAME)

    def check(item: ResponseInput) -> EvalValue:
        text = item.text.strip()
        if not text:
            return EvalValue(1.0, "empty")
        if _REFUSAL_RE.search(text[:HEAD_CHARS]):
            return EvalValue(1.0, "refusal")
        if is_deflection(text):
            return EvalValue(1.0, "deflection")
        return EvalValue(0.0, None)

    return check
