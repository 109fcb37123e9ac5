"""A deterministic SIMULATED LLM for demos and tests: canned answers, optional planted quirks."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from swapcheck.errors import ConfigError
from swapcheck.models import canonical_json
from swapcheck.simulated_detect import (
    detect_language,
    detect_task,
    detect_topic,
    has_japanese,
    is_medical,
    payload,
    translation_target,
)
from swapcheck.simulated_phrases import CODE_SNIPPETS, PHRASES, TOPIC_NOUNS

SIMULATED_NOTICE = "Simulated model: deterministic canned answers for demos and tests, not an LLM."

QUIRKS: dict[str, str] = {
    "fence_json": "When the prompt asks for JSON, wraps it in a ```json fenced block after a "
    "chatty preamble ('Sure! Here is the JSON you asked for:'), which breaks strict parsers.",
    "refuse_medical": "Refuses about 70% of prompts on medical topics (symptoms, medication, "
    "dosage) and tells the user to consult a healthcare professional.",
    "terse_japanese": "Answers prompts written in Japanese with one very short Japanese sentence "
    "(at most 15 characters), still with finish_reason 'stop'.",
}
REFUSE_MEDICAL_RATE = 0.7

_NAME_CUES = re.compile(
    r"(?:this is|I'm|I am|my name is|hier ist|ich bin|c'est|je suis|soy|me llamo|aqui é|"
    r"sou|sono|mi chiamo)\s+([A-ZÀ-Ý][\w'-]+(?:\s[A-ZÀ-Ý][\w'-]+)?)"
)
_NAME_JA = re.compile(r"([\u4e00-\u9fff\u3040-\u30ff]{2,6}?)と申します")
_ORDER = re.compile(r"#\d{4,}|\b[A-Z]{1,3}-\d{3,}\b")
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*")
_GREETING = re.compile(
    r"^(hi|hello|hey|hallo|guten tag|bonjour|hola|olá|oi|ciao|buongiorno|こんにちは)\b", re.I
)
_CUSTOMER = re.compile(r"^(customer|kunde|client|cliente|お客様)\s*[:：]\s*", re.I | re.M)
_AGENT_LINE = re.compile(r"^(agent|agente|atendente|operatore|担当者)\s*[:：].*$", re.I | re.M)
_NAME_FALLBACK = {
    "en": "customer",
    "de": "Kundin, Kunde",
    "fr": "client",
    "es": "cliente",
    "pt": "cliente",
    "it": "cliente",
    "ja": "お客",
}


@dataclass(frozen=True)
class SimulatedAnswer:
    """One simulated completion (the text is canned, never produced by a real model)."""

    text: str
    finish_reason: str
    input_tokens: int
    output_tokens: int


def estimate_tokens(text: str) -> int:
    """Deterministic token estimate: about 1.3 per word, CJK characters count 0.7 each."""
    cjk = len(re.findall(r"[\u3040-\u30ff\u4e00-\u9fff]", text))
    words = len(re.sub(r"[\u3040-\u30ff\u4e00-\u9fff]", " ", text).split())
    return max(1, round(1.3 * words + 0.7 * cjk))


def _rng(*parts: Any) -> random.Random:
    digest = hashlib.sha256(canonical_json(list(parts)).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass
class _Ctx:
    user: str
    body: str
    lang: str
    topic: str
    kw: str
    name: str | None
    order: str | None
    quality: str
    rng: random.Random

    def pick(self, key: str, lang: str | None = None) -> str:
        return self.rng.choice(PHRASES[lang or self.lang][key])

    def noun(self, lang: str | None = None) -> str:
        return TOPIC_NOUNS[lang or self.lang][self.topic]

    def sentences(self) -> list[str]:
        text = _CUSTOMER.sub("", _AGENT_LINE.sub("", self.body))
        parts = [p.strip() for p in _SENTENCE.split(text) if len(p.strip()) > 12]
        useful = [p for p in parts if not _GREETING.match(p) and "申します" not in p]
        return useful or parts or [self.body.strip()[:80]]

    def ref(self) -> str:
        first = self.sentences()[0].rstrip(".!?。！？")
        if self.lang == "ja":
            return first if len(first) <= 24 else first[:24] + "…"
        words = first.split()
        return " ".join(words[:8]) + ("…" if len(words) > 8 else "")


def _clause(sentence: str, lang: str, limit: int = 14) -> str:
    text = sentence.rstrip(".!?。！？ ")
    if lang == "ja":
        return text[:40]
    words = text.split()[:limit]
    if words and lang != "de" and words[0] not in {"I", "I'm", "I've", "I'd"}:
        words[0] = words[0][:1].lower() + words[0][1:]
    return " ".join(words)


def _join(parts: list[str], lang: str) -> str:
    return ("" if lang == "ja" else " ").join(p for p in parts if p)


def _json_value(field: str, ctx: _Ctx) -> Any:
    f = field.lower()
    if "name" in f:
        return ctx.name
    if "order" in f or f.endswith("_id") or f == "id":
        return ctx.order
    if f in {"topic", "category", "issue_type", "label", "intent"}:
        return ctx.topic
    if f in {"urgency", "priority"}:
        return ctx.rng.choice(["high", "medium", "medium", "low"])
    if f == "sentiment":
        return ctx.rng.choice(["negative", "negative", "neutral", "mixed"])
    if f in {"language", "locale", "lang"}:
        return ctx.lang
    if "email" in f:
        match = re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", ctx.body)
        return match.group(0) if match else None
    if f in {"amount", "price", "total"}:
        match = re.search(r"\d+(?:[.,]\d+)?", ctx.body.replace(ctx.order or "\0", ""))
        return float(match.group(0).replace(",", ".")) if match else None
    limit = 10 if f in {"summary", "issue", "request", "question"} else 6
    return _clause(ctx.rng.choice(ctx.sentences()[:2]), ctx.lang, limit)


def _json_object(ctx: _Ctx) -> dict[str, Any]:
    fields = re.findall(r"`([A-Za-z_]\w*)`", ctx.user) or re.findall(
        r"\b[a-z]+_[a-z_]+\b", ctx.user
    )
    fields = list(dict.fromkeys(fields)) or ["summary", "category"]
    obj = {f: _json_value(f, ctx) for f in fields}
    if ctx.quality == "weak" and len(fields) > 1:
        obj[ctx.rng.choice(fields)] = None
    return obj


def _answer_json(ctx: _Ctx) -> str:
    seps = ctx.rng.choice([(", ", ": "), (",", ":")])
    return json.dumps(_json_object(ctx), ensure_ascii=False, separators=seps)


def _answer_support(ctx: _Ctx) -> str:
    n_body = {"weak": 0, "normal": 2, "rich": 3}[ctx.quality]
    ref = ctx.ref()
    openers = [o for o in PHRASES[ctx.lang]["open"] if ref or "{ref}" not in o]
    parts = [ctx.rng.choice(openers).format(ref=ref, topic=ctx.noun())]
    if ctx.order and ctx.quality != "weak":
        parts.append(ctx.pick("order").format(order=ctx.order))
    parts += ctx.rng.sample(PHRASES[ctx.lang]["body"], n_body)
    parts.append(ctx.pick("close"))
    return _join(parts, ctx.lang)


def _answer_summary(ctx: _Ctx) -> str:
    sents = ctx.sentences()
    s1 = _clause(sents[0], ctx.lang)
    s2 = _clause(ctx.rng.choice(sents[1:]) if len(sents) > 1 else sents[0], ctx.lang, 10)
    text = ctx.pick("summary").format(s1=s1, s2=s2, topic=ctx.noun())
    if ctx.quality == "weak":
        text = re.split(r"(?<=[.。])\s*", text)[0]
    return text


def _answer_code(ctx: _Ctx) -> str:
    low = ctx.user.lower()
    lang = (
        "sql"
        if "sql" in low or "select " in low
        else ("javascript" if "javascript" in low or "node" in low else "python")
    )
    intro = PHRASES[ctx.lang]["code_intro"]
    parts = [intro[0].format(ref=ctx.ref()) if ctx.rng.random() < 0.5 else ctx.rng.choice(intro)]
    if ctx.quality == "rich":
        parts.append(ctx.rng.choice(intro[1:]))
    code = ctx.rng.choice(CODE_SNIPPETS[lang])
    text = f"{_join(parts, ctx.lang)}\n\n```{lang}\n{code}\n```"
    if ctx.quality != "weak":
        text += "\n\n" + ctx.pick("code_after")
    return text


def _answer_translate(ctx: _Ctx) -> str:
    target = translation_target(ctx.user, ctx.lang)
    hello, about, order, please = PHRASES[target]["translate"]
    parts = [hello.format(name=ctx.name)] if ctx.name else []
    parts.append(about.format(topic=ctx.noun(target)))
    if ctx.order and ctx.quality != "weak":
        parts.append(order.format(order=ctx.order))
    thanks = PHRASES[target]["thanks"][0]
    parts += ctx.rng.choice([[please], [thanks], [please, thanks]])
    return _join(parts, target)


def _answer_classify(ctx: _Ctx) -> str:
    labels = [t for t in TOPIC_NOUNS["en"] if t != "general"]
    label = ctx.topic if ctx.topic != "general" else ctx.rng.choice(labels)
    if ctx.quality == "weak" and ctx.rng.random() < 0.5:
        label = ctx.rng.choice(labels)
    reason = ctx.rng.choice([ctx.kw, ctx.ref()]) if ctx.kw else ctx.ref()
    return ctx.pick("classify").format(label=label, kw=reason)


def _answer_email(ctx: _Ctx) -> str:
    head = ctx.pick("email").format(topic=ctx.noun(), name=ctx.name or _NAME_FALLBACK[ctx.lang])
    body = [ctx.pick("order").format(order=ctx.order)] if ctx.order else []
    body += ctx.rng.sample(PHRASES[ctx.lang]["body"], 1 if ctx.quality == "weak" else 2)
    return f"{head}\n\n{_join(body, ctx.lang)}\n\n{ctx.pick('close')}\n\n{ctx.pick('signoff')}"


_BUILDERS = {
    "json": _answer_json,
    "support": _answer_support,
    "summarize": _answer_summary,
    "code": _answer_code,
    "translate": _answer_translate,
    "classify": _answer_classify,
    "email": _answer_email,
}


def _context(user: str, lang: str, rng: random.Random) -> _Ctx:
    without_code = re.sub(r"```.*?(?:```|$)", " ", user, flags=re.S).strip()
    body = payload(without_code or user)
    topic, kw = detect_topic(body)
    name_match = _NAME_JA.search(user) if lang == "ja" else _NAME_CUES.search(user)
    order_match = _ORDER.search(user)
    roll = rng.random()
    quality = "weak" if roll < 0.2 else ("rich" if roll > 0.8 else "normal")
    return _Ctx(
        user=user,
        body=body,
        lang=lang,
        topic=topic,
        kw=kw,
        name=name_match.group(1) if name_match else None,
        order=order_match.group(0) if order_match else None,
        quality=quality,
        rng=rng,
    )


def _apply_quirks(text: str, ctx: _Ctx, task: str, quirks: Sequence[str], key: list[Any]) -> str:
    refuse = _rng("refuse_medical", *key).random() < REFUSE_MEDICAL_RATE
    if "refuse_medical" in quirks and is_medical(ctx.user) and refuse:
        return PHRASES[ctx.lang]["refusal"][0]
    if "terse_japanese" in quirks and has_japanese(ctx.user):
        return _rng("terse_japanese", *key).choice(PHRASES["ja"]["terse"])
    if "fence_json" in quirks and task == "json":
        pretty = json.dumps(json.loads(text), ensure_ascii=False, indent=2)
        return f"{PHRASES[ctx.lang]['fence'][0]}\n\n```json\n{pretty}\n```"
    return text


def simulate_answer(
    messages: list[dict[str, str]],
    model: str,
    *,
    quirks: Sequence[str] = (),
    seed: int = 0,
) -> SimulatedAnswer:
    """Answer a chat deterministically from (messages, model, quirks, seed); no real model.

    Quirks change the answer only on matching prompts; on any other prompt the answer is
    the same as without quirks.
    """
    unknown = sorted(set(quirks) - set(QUIRKS))
    if unknown:
        raise ConfigError(
            f"Unknown simulated-model quirk(s): {', '.join(unknown)}.",
            fix=f"Use only these quirk names: {', '.join(QUIRKS)}.",
        )
    user = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
    instructions = "\n\n".join(
        m.get("content") or "" for m in messages if m.get("role") in {"system", "user"}
    )
    key: list[Any] = [messages, model, seed]
    ctx = _context(user, detect_language(user), _rng("answer", *key))
    task = detect_task(instructions)
    text = _apply_quirks(_BUILDERS[task](ctx), ctx, task, quirks, key)
    input_tokens = sum(estimate_tokens(m.get("content") or "") + 4 for m in messages)
    return SimulatedAnswer(
        text=text,
        finish_reason="stop",
        input_tokens=input_tokens,
        output_tokens=estimate_tokens(text),
    )
