"""Real browser, real server: two reviewers grade blinded pairs with the keyboard only.

The app runs as ``streamlit run app.py`` on a loopback port against a demo database without
votes; headless Chromium (Playwright) opens ``/review`` in two browser contexts, "Ana" and "Ben".
Each signs in and grades 10 pairs by pressing 1/2/3/4, choosing the key from the two answers the
page shows. The database must then hold exactly those votes, unblinded correctly, and the page
(HTML and URL) must never have carried a variant, model or provider name.

Keyboard focus: Streamlit ignores button shortcuts while the focus is in a text field. After
signing in with Enter the name field is unmounted and the focus falls back to <body>, so the keys
work at once. Escape does *not* take the focus out of a Streamlit text input (the key then types
into the comment box); Tab does, as the comment box's placeholder says: it moves the focus to the
"Left is better" button, where the digit shortcuts still fire. ``leave_text_field`` therefore
presses Tab while a text field has the focus, and each reviewer writes one comment that way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from swapcheck.demo import seed_demo
from swapcheck.redact import DEFAULT_REDACTOR
from swapcheck.store import Store
from swapcheck.store.judgments import judgments_frame, pair_content
from swapcheck.store.studies import Study, list_studies
from swapcheck.store.variants import list_variants
from tests.browser_utils import (
    PAGE_TIMEOUT_MS,
    chromium,
    focus_is_editable,
    require_browser,
    streamlit_app,
    wait_app_idle,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

REVIEWERS = ("Ana", "Ben")
PAIRS_EACH = 10
COMMENT_AT = 2
"""Index of the press before which each reviewer types a comment (then leaves the box by Tab)."""
KEY_PICK = {"1": "left", "2": "right", "3": "tie", "4": "both_bad"}
ALWAYS_SECRET = ("baseline", "candidate", "simulated", "openai", "sim-baseline", "sim-candidate")


@dataclass(frozen=True)
class Press:
    reviewer: str
    left: str  # the answers as the page rendered them (inner text)
    right: str
    key: str
    comment: str | None
    html: str  # page.content() and URL just before the key press
    url: str


def choose_key(index: int, left: str, right: str) -> str:
    """A deterministic reviewer: tie twice, both bad once, otherwise the longer answer wins."""
    if index in (3, 7):
        return "3"
    if index == 5:
        return "4"
    return "1" if len(left) > len(right) else "2"


def judged_count(page: Any) -> int:
    caption = page.get_by_test_id("stCaptionContainer").filter(has_text="Signed in as")
    match = re.search(r"you judged (\d+) pairs?\b", caption.inner_text())
    assert match, caption.inner_text()
    return int(match.group(1))


def wait_judged(page: Any, n: int) -> None:
    """Wait until the progress caption says ``n`` and the script run that wrote it is over."""
    page.get_by_test_id("stCaptionContainer").filter(
        has_text=re.compile(rf"you judged {n} pairs?\b")
    ).wait_for()
    wait_app_idle(page)
    assert judged_count(page) == n


def answer_text(page: Any, title: str) -> str:
    """Inner text of the bordered container under the "Left" / "Right" heading."""
    heading = page.locator("h4").filter(has_text=re.compile(rf"^\s*{title}\s*$"))
    column = page.get_by_test_id("stColumn").filter(has=heading)
    return column.get_by_test_id("stLayoutWrapper").inner_text().strip()


def leave_text_field(page: Any) -> None:
    """Tab out of any text field (Escape would not), so the digit shortcuts reach the buttons."""
    for _ in range(5):
        if not focus_is_editable(page):
            return
        page.keyboard.press("Tab")
    raise AssertionError("keyboard focus is stuck in a text field")


def sign_in(page: Any, base_url: str, name: str) -> None:
    page.goto(f"{base_url}/review")
    box = page.get_by_role("textbox", name="Your name")
    box.fill(name)
    box.press("Enter")  # submits the sign-in form
    wait_judged(page, 0)


def grade_one(page: Any, reviewer: str, index: int) -> Press:
    left, right = answer_text(page, "Left"), answer_text(page, "Right")
    assert left and right, "both answers are shown"
    html, url = page.content(), page.url
    comment = None
    if index == COMMENT_AT:
        comment = f"{reviewer} typed this without a mouse"
        page.get_by_role("textbox", name="Comment (optional)").focus()
        page.keyboard.type(comment)
    leave_text_field(page)
    key = choose_key(index, left, right)
    before = judged_count(page)
    page.keyboard.press(key)
    wait_judged(page, before + 1)
    return Press(reviewer, left, right, key, comment, html, url)


def tokens(text: str) -> list[str]:
    """Words of a text, ignoring markdown code fences (rendered text has no fence lines)."""
    kept = [line for line in text.splitlines() if not re.match(r"\s*(```|~~~)", line)]
    return re.findall(r"\w+", "\n".join(kept).lower())


def expected_choice(key: str, left_role: str) -> str:
    pick = KEY_PICK[key]
    if pick == "left":
        return left_role
    if pick == "right":
        return "candidate" if left_role == "baseline" else "baseline"
    return pick


def secret_words(store: Store, study: Study) -> set[str]:
    words = {w.lower() for w in ALWAYS_SECRET} | {study.blind_salt.lower()}
    for variant in list_variants(store):
        words |= {v.lower() for v in (variant.name, variant.provider, variant.model) if v}
    return words


def assert_blind(press: Press, shown_content: str, secrets: set[str]) -> bool:
    """No secret word in the page or URL, except words the prompt or answers really contain
    (the demo has a customer who "logged into" an account). True when every word was checked."""
    html, url = press.html.lower(), press.url.lower()
    legit = {w for w in secrets if w in shown_content.lower()}
    for word in secrets - legit:
        assert word not in html, f"{word!r} reached {press.reviewer}'s review page"
        assert word not in url, f"{word!r} in {press.reviewer}'s URL {press.url}"
    return not legit


@pytest.fixture
def demo_without_votes(isolated_env: Path) -> Path:
    require_browser()  # skip before spending seconds on the seed
    store = Store(isolated_env, linger=0)
    seed_demo(store, judge=False, n_prompts=60)
    store.close()
    return isolated_env


def test_two_reviewers_grade_blind_with_the_keyboard(
    demo_without_votes: Path, tmp_path: Path
) -> None:
    presses: list[Press] = []
    with (
        streamlit_app(demo_without_votes, tmp_path / "streamlit.log") as app,
        chromium() as browser,
    ):
        pages = {}
        for name in REVIEWERS:
            context = browser.new_context()  # separate cookies = separate Streamlit sessions
            context.set_default_timeout(PAGE_TIMEOUT_MS)
            pages[name] = context.new_page()
            sign_in(pages[name], app.url, name)
        for index in range(PAIRS_EACH):  # the reviewers take turns on the same queue
            for name, page in pages.items():
                presses.append(grade_one(page, name, index))
        for name, page in pages.items():
            assert judged_count(page) == PAIRS_EACH, name

    store = Store(demo_without_votes, linger=0)
    try:
        study = list_studies(store)[0]
        frame = judgments_frame(store, study)
        contents = {p: pair_content(store, study, p) for p in frame.pair_id.unique()}
        secrets = secret_words(store, study)
    finally:
        store.close()

    assert len(frame) == len(REVIEWERS) * PAIRS_EACH
    assert frame.reviewer.value_counts().to_dict() == dict.fromkeys(REVIEWERS, PAIRS_EACH)
    assert not frame.duplicated(["pair_id", "reviewer"]).any(), "a reviewer judged a pair twice"
    assert frame.pair_id.value_counts().max() <= study.overlap

    fully_checked = dict.fromkeys(REVIEWERS, 0)
    for name in REVIEWERS:
        mine = frame[frame.reviewer == name].sort_values("created_at")
        pressed = [p for p in presses if p.reviewer == name]
        assert len(mine) == len(pressed)
        for press, row in zip(pressed, mine.itertuples(), strict=True):
            content = contents[row.pair_id]
            by_role = {
                "baseline": DEFAULT_REDACTOR.redact(content.baseline_text),
                "candidate": DEFAULT_REDACTOR.redact(content.candidate_text),
            }
            other = "candidate" if row.left_role == "baseline" else "baseline"
            # the page showed this pair, with the stored left_role's answer on the left
            # (sides that differ only by markdown rendering cannot be told apart, and need not)
            if tokens(by_role["baseline"]) != tokens(by_role["candidate"]):
                assert tokens(press.left) == tokens(by_role[row.left_role]), (press, row)
                assert tokens(press.right) == tokens(by_role[other]), (press, row)
            assert row.choice == expected_choice(press.key, row.left_role), (press.key, row)
            assert (row.comment if isinstance(row.comment, str) else None) == press.comment
            shown = "\n".join(
                [m["content"] for m in DEFAULT_REDACTOR.redact_messages(content.messages)]
                + list(by_role.values())
            )
            fully_checked[name] += assert_blind(press, shown, secrets)
    assert set(frame.choice) >= {"tie", "both_bad"}
    assert all(fully_checked.values()), f"no page state free of secret words: {fully_checked}"
