"""Blinded review: choose sides on the server, serve the next pair, record unblinded judgments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from swapcheck.errors import ConfigError, ReviewError
from swapcheck.models import content_text, sha256_hex
from swapcheck.redact import Redactor
from swapcheck.redaction_config import redactor_for
from swapcheck.store import Store
from swapcheck.store.judgments import append_judgment, pair_content, undo_last
from swapcheck.store.review_queue import (
    next_pair_id,
    record_skip,
    release_pair,
    reviewer_counts,
    study_counts,
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
    if cleaned.lower().startswith("judge:"):
        raise ReviewError(
            f"Reviewer name {cleaned!r} starts with 'judge:', which marks LLM judges.",
            "Sign in under your own name without the 'judge:' prefix.",
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
    """What a reviewer's page may show: the conversation and two anonymous answers.

    Nothing in it names a variant, model or provider, and a gold item looks like any other.
    """

    pair_id: str
    system: str | None
    messages: list[dict[str, str]]
    left_text: str
    right_text: str
    rubric: tuple[str, ...] = ()
    reason_tags: tuple[str, ...] = ()


MAX_LEAK_REJECTS = 50
"""Under 'exclude', leaking pairs not yet flagged by the evaluator that one call passes over."""


def next_item(
    store: Store, study: Study, reviewer: str, skip: tuple[str, ...] = ()
) -> ReviewItem | None:
    """Reserve the reviewer's next pair and return its blinded view (None: nothing left).

    ``skip`` (pair ids not to serve now) is kept for callers that track skips themselves; a
    recorded skip (:func:`skip_item`) already keeps a pair away for good.
    """
    exclude = tuple(skip)
    for _ in range(MAX_LEAK_REJECTS):
        pair_id = next_pair_id(store, study, reviewer, exclude=exclude)
        if pair_id is None:
            return None
        if study.identity_policy == "exclude" and _pair_leaks_identity(store, study, pair_id):
            release_pair(store, study, pair_id, reviewer)  # not flagged yet: drop it now
            exclude = (*exclude, pair_id)
            continue
        return item_for(store, study, pair_id, reviewer)
    return None


def _pair_leaks_identity(store: Store, study: Study, pair_id: str) -> bool:
    from swapcheck.identity_leaks import find_identity_leaks

    content = pair_content(store, study, pair_id)
    return any(
        find_identity_leaks(text or "") for text in (content.baseline_text, content.candidate_text)
    )


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
    turns = [
        {"role": m["role"], "content": content_text(m["content"])}
        for m in redactor.redact_messages(shown)
    ]
    system = [t["content"] for t in turns if t["role"] == "system"]
    left_text, right_text = redactor.redact(left or ""), redactor.redact(right or "")
    if study.identity_policy == "mask":
        from swapcheck.identity_leaks import mask_identity_leaks

        left_text, right_text = mask_identity_leaks(left_text), mask_identity_leaks(right_text)
    return ReviewItem(
        pair_id=pair_id,
        system="\n\n".join(system) if system else None,
        messages=[t for t in turns if t["role"] != "system"],
        left_text=left_text,
        right_text=right_text,
        rubric=study.rubric,
        reason_tags=study.reason_tags,
    )


SKIP_REASONS: tuple[str, ...] = (
    "can't judge this topic",
    "content problem",
    "answers identical",
    "other",
)
MAX_SKIP_REASON = 200
CRITERION_PICKS: dict[str, str] = {"left": "left", "right": "right", "same": "same"}


def skip_item(
    store: Store, study: Study, reviewer: str, pair_id: str, reason: str = "other"
) -> None:
    """Record that this reviewer skips the pair (never offered to them again) and release it.

    ``reason`` is one of ``SKIP_REASONS`` or free text of at most 200 characters (stored
    redacted, like comments).
    """
    reviewer = normalise_reviewer(reviewer)
    cleaned = " ".join((reason or "").split())
    if not cleaned:
        raise ReviewError("A skip needs a reason.", f"Pick one of: {'; '.join(SKIP_REASONS)}.")
    if len(cleaned) > MAX_SKIP_REASON:
        raise ReviewError(
            f"The skip reason is {len(cleaned)} characters long.",
            f"Shorten it to at most {MAX_SKIP_REASON} characters.",
        )
    if cleaned not in SKIP_REASONS:
        cleaned = reviewer_redactor(store).redact(cleaned)
    pair_content(store, study, pair_id)  # raises NotFoundError for a foreign or unready pair
    record_skip(store, study, pair_id, reviewer, cleaned)


def undo_last_judgment(store: Store, study: Study, reviewer: str) -> str | None:
    """Undo the reviewer's own latest live judgment in this study; returns its pair id.

    The judgment stays stored, marked undone (statistics ignore it); the pair is held for the
    reviewer again and is the next one they get. None when there is nothing to undo.
    """
    return undo_last(store, study, normalise_reviewer(reviewer))


def reviewer_progress(store: Store, study: Study, reviewer: str) -> dict[str, int]:
    """``mine``, ``skipped``, ``available_to_me`` for one reviewer (no win rates)."""
    return reviewer_counts(store, study, normalise_reviewer(reviewer))


def study_progress(store: Store, study: Study) -> dict[str, int]:
    """``pairs``, ``judgments_given``, ``judgments_target``, ``reviewers``,
    ``slices_below_minimum`` (no win rates)."""
    return study_counts(store, study)


def _unblind_criteria(
    study: Study, criteria: dict[str, str] | None, left_role: str
) -> dict[str, str] | None:
    """Per-criterion screen picks (left/right/same) as baseline/candidate/same."""
    if not criteria:
        return None
    unknown = [name for name in criteria if name not in study.rubric]
    if unknown:
        raise ReviewError(
            f"Unknown criterion {unknown[0]!r}.",
            f"Use the study's criteria: {', '.join(study.rubric) or 'none'}.",
        )
    out: dict[str, str] = {}
    for name, pick in criteria.items():
        if pick not in CRITERION_PICKS:
            raise ReviewError(f"Unknown choice {pick!r} for {name!r}.", "Use left, right or same.")
        out[name] = "same" if pick == "same" else unblind(pick, left_role)
    return out


def _check_reason_tags(study: Study, reason_tags: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    tags = tuple(dict.fromkeys(reason_tags))
    unknown = [t for t in tags if t not in study.reason_tags]
    if unknown:
        raise ReviewError(
            f"Unknown reason tag {unknown[0]!r}.",
            f"Use the study's tags: {', '.join(study.reason_tags) or 'none'}.",
        )
    return tags


def submit_judgment(
    store: Store,
    study: Study,
    *,
    reviewer: str,
    pair_id: str,
    pick: str,
    criteria: dict[str, str] | None = None,
    reason_tags: tuple[str, ...] | list[str] = (),
    comment: str | None = None,
    time_on_item_ms: int | None = None,
) -> str | None:
    """Record one verdict; returns the judgment id, or None if this reviewer already judged it.

    ``pick`` and ``criteria`` are what the reviewer saw (left/right); both are stored unblinded.
    """
    reviewer = normalise_reviewer(reviewer)
    comment = (comment or "").strip() or None
    if comment and len(comment) > MAX_COMMENT:
        raise ReviewError(
            f"The comment is {len(comment)} characters long.",
            f"Shorten it to at most {MAX_COMMENT} characters.",
        )
    if time_on_item_ms is not None and (
        isinstance(time_on_item_ms, bool)
        or not isinstance(time_on_item_ms, int)
        or time_on_item_ms < 0
    ):
        raise ReviewError(
            f"Time on item {time_on_item_ms!r} is not a non-negative whole number of ms.",
            "Pass the milliseconds the pair was on screen, or None.",
        )
    left_role = left_role_for(study, pair_id, reviewer)
    choice = unblind(pick, left_role)
    unblinded_criteria = _unblind_criteria(study, criteria, left_role)
    tags = _check_reason_tags(study, reason_tags)
    if comment:  # reviewers saw placeholders; a value they typed in stays out of the results
        comment = reviewer_redactor(store).redact(comment)
    pair_content(store, study, pair_id)  # raises NotFoundError for a foreign or unready pair
    return append_judgment(
        store,
        study,
        pair_id=pair_id,
        reviewer=reviewer,
        left_role=left_role,
        choice=choice,
        comment=comment,
        time_on_item_ms=time_on_item_ms,
        criteria=unblinded_criteria,
        reason_tags=tags,
    )
