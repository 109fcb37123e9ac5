"""Blinded review: choose sides on the server, serve the next pair, record unblinded judgments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from swapcheck.errors import ConfigError, ReviewError
from swapcheck.models import sha256_hex
from swapcheck.redact import Redactor
from swapcheck.redaction_config import redactor_for
from swapcheck.store import Store
from swapcheck.store.judgments import (
    append_judgment,
    has_judged,
    next_pair_id,
    pair_content,
    release_pair,
)
from swapcheck.store.studies import Study

Pick = Literal["left", "right", "tie", "both_bad"]
PICKS: tuple[str, ...] = ("left", "right", "tie", "both_bad")
MAX_REVIEWER_NAME = 64
MAX_COMMENT = 4000


def normalise_reviewer(name: str | None) -> str:
    """A reviewer's display name, trimmed; rejects empty or overlong names with a fix."""
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise ReviewError("Reviewer name is empty.", "Type the name you want your votes under.")
    if len(cleaned) > MAX_REVIEWER_NAME:
        raise ReviewError(
            f"Reviewer name is {len(cleaned)} characters long.",
            f"Use at most {MAX_REVIEWER_NAME} characters.",
        )
    return cleaned


def left_role_for(study: Study, pair_id: str, reviewer: str) -> str:
    """Which variant this reviewer sees on the left for this pair, from a server-side secret.

    A keyed hash of (pair, reviewer) makes the side unpredictable from anything on the page and
    close to 50/50 per reviewer, yet stable across reruns, so the server never has to trust the
    browser about what it showed.
    """
    digest = sha256_hex(f"{study.blind_salt}\x00{pair_id}\x00{reviewer}")
    return "candidate" if int(digest[:8], 16) % 2 else "baseline"


def unblind(pick: str, left_role: str) -> str:
    """Turn a reviewer's on-screen pick into the stored choice (baseline/candidate/tie/both_bad)."""
    if pick not in PICKS:
        raise ReviewError(f"Unknown choice {pick!r}.", f"Use one of {', '.join(PICKS)}.")
    if pick in ("tie", "both_bad"):
        return pick
    right_role = "baseline" if left_role == "candidate" else "candidate"
    return left_role if pick == "left" else right_role


@dataclass(frozen=True)
class ReviewItem:
    """What a reviewer's page may show: the conversation and two anonymous answers."""

    pair_id: str
    messages: list[dict[str, str]]
    left_text: str
    right_text: str


def next_item(
    store: Store, study: Study, reviewer: str, skip: tuple[str, ...] = ()
) -> ReviewItem | None:
    pair_id = next_pair_id(store, study, reviewer, exclude=skip)
    if pair_id is None:
        return None
    return item_for(store, study, pair_id, reviewer)


def reviewer_redactor(store: Store) -> Redactor:
    """The configured redactor; a broken configuration stops the review instead of leaking.

    The reason is not shown to the reviewer (a custom pattern may itself spell out a value).
    """
    try:
        return redactor_for(store)
    except ConfigError as exc:
        raise ReviewError(
            "The redaction settings are invalid, so no pair can be shown.",
            "Ask the study owner to fix them on the Privacy page (swapcheck redaction show).",
        ) from exc


def item_for(store: Store, study: Study, pair_id: str, reviewer: str) -> ReviewItem:
    """The blinded view of one pair for one reviewer, with personal data and secrets masked.

    The stored prompt and answers keep the original text (generation may need it); reviewers
    only ever get this copy, redacted with the project's configured redactor: every turn of the
    conversation (system prompt and earlier turns included) and both answers, since models echo
    what the prompt contained. Messages keep only ``role`` and ``content``, so no other field of
    a logged message can reach the page.
    """
    redactor = reviewer_redactor(store)
    content = pair_content(store, study, pair_id)
    if left_role_for(study, pair_id, reviewer) == "candidate":
        left, right = content.candidate_text, content.baseline_text
    else:
        left, right = content.baseline_text, content.candidate_text
    shown = [
        {"role": str(m.get("role", "user")), "content": m.get("content")} for m in content.messages
    ]
    return ReviewItem(
        pair_id=pair_id,
        messages=[
            {"role": m["role"], "content": _as_text(m["content"])}
            for m in redactor.redact_messages(shown)
        ],
        left_text=redactor.redact(left or ""),
        right_text=redactor.redact(right or ""),
    )


def _as_text(content: object) -> str:
    """Redacted message content as one string (text parts joined; nothing else is shown)."""
    if content is None:
        return ""
    if isinstance(content, list):
        texts = [p.get("text") if isinstance(p, dict) else p for p in content]
        return "\n".join(t for t in texts if isinstance(t, str))
    return str(content)


def skip_item(store: Store, study: Study, reviewer: str, pair_id: str) -> None:
    """Hand a pair back to the queue (this reviewer will not be offered it again this session)."""
    release_pair(store, study, pair_id, reviewer)


def submit_judgment(
    store: Store,
    study: Study,
    *,
    reviewer: str,
    pair_id: str,
    pick: str,
    comment: str | None = None,
    time_on_item_ms: int | None = None,
) -> str | None:
    """Record one verdict; returns the judgment id, or None if this reviewer already judged it."""
    reviewer = normalise_reviewer(reviewer)
    comment = (comment or "").strip() or None
    if comment and len(comment) > MAX_COMMENT:
        raise ReviewError(
            f"The comment is {len(comment)} characters long.",
            f"Shorten it to at most {MAX_COMMENT} characters.",
        )
    if comment:  # reviewers saw placeholders; a value they typed in stays out of the results
        comment = reviewer_redactor(store).redact(comment)
    pair_content(store, study, pair_id)  # raises NotFoundError for a foreign or unready pair
    if has_judged(store, study, pair_id, reviewer):
        return None
    left_role = left_role_for(study, pair_id, reviewer)
    return append_judgment(
        store,
        study,
        pair_id=pair_id,
        reviewer=reviewer,
        left_role=left_role,
        choice=unblind(pick, left_role),
        comment=comment,
        time_on_item_ms=time_on_item_ms,
    )
