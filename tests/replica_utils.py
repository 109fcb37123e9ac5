"""Async Playwright reviewers for the replica test: sign in, vote by keyboard until nothing is left.

One event loop drives every reviewer (one Chromium, one browser context each), so twenty
sessions on two Streamlit servers press keys at the same time without one Playwright driver per
thread. Every wait is on a page condition with a bounded deadline; a timeout fails with the
text the page showed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from tests.browser_utils import _APP_IDLE_JS

NOTHING_LEFT = "Nothing left for you in this study"
KEYS = ("1", "2", "3", "4")
KEY_PICK = {"1": "left", "2": "right", "3": "tie", "4": "both_bad"}
MAX_VOTES = 200
"""Safety stop for one reviewer's loop (far above any queue this test builds)."""

# The progress caption's judged count, or -1 while it is missing or stale (a rerun is pending).
_JUDGED_JS = """
() => {
  for (const el of document.querySelectorAll('[data-testid="stCaptionContainer"]')) {
    if (el.closest('[data-stale="true"]')) continue;
    const m = el.innerText.match(/you judged (\\d+) pairs?\\b/);
    if (m) return Number(m[1]);
  }
  return -1;
}
"""

# Inner text of the bordered answer box under the "Left" / "Right" heading (null if absent).
_ANSWER_JS = """
(title) => {
  const heading = [...document.querySelectorAll('h4')].find(h => h.innerText.trim() === title);
  const column = heading && heading.closest('[data-testid="stColumn"]');
  const box = column && column.querySelector('[data-testid="stLayoutWrapper"]');
  return box ? box.innerText.trim() : null;
}
"""

_CONVERSATION_JS = """
() => [...document.querySelectorAll('[data-testid="stChatMessage"]')]
        .map(m => m.innerText.trim()).join('\\n')
"""


@dataclass(frozen=True)
class Vote:
    """One key press as the client saw it: what was on screen and which key it pressed."""

    conversation: str
    left: str
    right: str
    key: str
    seconds: float  # key press until the vote was counted and the next state rendered


@dataclass
class ReviewerRun:
    name: str
    server: int
    votes: list[Vote] = field(default_factory=list)
    finished: bool = False  # the page said there is nothing left


def tokens(text: str) -> list[str]:
    """Words of a text, ignoring markdown code fences (rendered text has no fence lines)."""
    kept = [line for line in text.splitlines() if not re.match(r"\s*(```|~~~)", line)]
    return re.findall(r"\w+", "\n".join(kept).lower())


def key_for(reviewer_index: int, vote_index: int) -> str:
    return KEYS[(reviewer_index + vote_index) % len(KEYS)]


async def _body_text(page: Any) -> str:
    try:
        return str(await page.locator("body").inner_text(timeout=5_000))
    except Exception as exc:  # the page itself may be what broke
        return f"(page text unavailable: {exc})"


async def _wait_settled(page: Any, judged: int, timeout_ms: float) -> None:
    """Wait until the caption shows ``judged`` and the script run that wrote it is over."""
    try:
        await page.wait_for_function(
            f"() => ({_JUDGED_JS})() === {judged} && ({_APP_IDLE_JS})()", timeout=timeout_ms
        )
    except Exception as exc:
        raise AssertionError(
            f"page never showed 'you judged {judged}' ({exc}); it shows:\n" + await _body_text(page)
        ) from exc


async def review_until_done(
    page: Any, base_url: str, run: ReviewerRun, reviewer_index: int, timeout_ms: float
) -> None:
    """Sign in as ``run.name`` on ``base_url`` and vote (keys 1-4) until nothing is left."""
    await page.goto(f"{base_url}/review")
    box = page.get_by_role("textbox", name="Your name")
    await box.fill(run.name)
    await box.press("Enter")  # submits the sign-in form; the focus falls back to <body>
    await _wait_settled(page, 0, timeout_ms)
    for index in range(MAX_VOTES):
        if await page.get_by_text(NOTHING_LEFT).count():
            run.finished = True
            return
        left = await page.evaluate(_ANSWER_JS, "Left")
        right = await page.evaluate(_ANSWER_JS, "Right")
        assert left and right, f"{run.name}: no pair and no 'nothing left':\n" + (
            await _body_text(page)
        )
        conversation = await page.evaluate(_CONVERSATION_JS)
        key = key_for(reviewer_index, index)
        started = time.monotonic()
        await page.keyboard.press(key)
        await _wait_settled(page, index + 1, timeout_ms)
        run.votes.append(Vote(conversation, left, right, key, time.monotonic() - started))
    raise AssertionError(f"{run.name} still had pairs after {MAX_VOTES} votes")
