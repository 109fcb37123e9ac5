"""Real browser, real server: two reviewers grade blind with the keyboard; hostile text is inert.

The app runs as ``streamlit run app.py`` on a loopback port against a demo database without
votes; headless Chromium (Playwright) opens ``/review`` in two browser contexts, "Ana" and "Ben".
Each signs in and grades 10 pairs by pressing 1/2/3/4 (interleaved: Ana, Ben, Ana, …), choosing
the key from the two answers the page shows; then Ana presses U (undo), gets her last pair back
and votes on it again. The database must then hold exactly those votes,
unblinded with the side each reviewer was shown (``left_role_for``), and neither the page (HTML,
URL) nor any websocket frame the browser received may carry a variant, model or provider name.
The key-press-to-next-pair-visible time is measured in the browser and its median printed.

Keyboard focus: Streamlit ignores button shortcuts while the focus is in a text field. After
signing in with Enter the name field is unmounted and the focus falls back to <body>, so the keys
work at once. Escape does *not* take the focus out of a Streamlit text input; Tab does, as the
comment box's placeholder says: it moves the focus to the "Left is better" button, where the
digit shortcuts still fire. ``leave_text_field`` therefore presses Tab while a text field has the
focus, and each reviewer writes one comment that way. The rubric criteria are buttons
(segmented controls), so once one of them is chosen with Tab + Enter the digits work at once;
each reviewer sets one criterion that way.

The XSS test stores prompts, a system prompt and answers full of ``<script>``, ``onerror``
images, ``javascript:`` links and raw HTML, then checks in the browser that they show as text, no
dialog opens, no injected element exists and ``window.__pwned`` stays undefined, with and
without the word-diff highlight.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from swapcheck.demo import seed_demo
from swapcheck.review import item_for, left_role_for
from swapcheck.store import Store
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

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

REVIEWERS = ("Ana", "Ben")
PAIRS_EACH = 10
COMMENT_AT = 2
"""Index of the press before which each reviewer types a comment (then leaves the box by Tab)."""
CRITERION_AT = 4
"""Index of the press before which each reviewer picks the first criterion by keyboard."""
KEY_PICK = {"1": "left", "2": "right", "3": "tie", "4": "both_bad"}
ALWAYS_SECRET = ("baseline", "candidate", "simulated", "openai", "sim-baseline", "sim-candidate")
MUST_CHECK = ("sim-baseline", "sim-candidate", "simulated")
"""Demo variant/model names and provider: never legitimately in the text, so always checked."""


@dataclass(frozen=True)
class Press:
    reviewer: str
    left: str  # the answers as the page rendered them (inner text)
    right: str
    key: str
    comment: str | None
    html: str  # page.content() and URL just before the key press
    url: str
    latency_ms: float | None  # key press to the next pair's text in the DOM


def choose_key(index: int, left: str, right: str) -> str:
    """A deterministic reviewer: tie twice, both bad once, otherwise the longer answer wins."""
    if index in (3, 7):
        return "3"
    if index == 5:
        return "4"
    return "1" if len(left) > len(right) else "2"


def progress_caption(page: Any) -> Any:
    return page.get_by_test_id("stCaptionContainer").filter(has_text="you judged")


def judged_count(page: Any) -> int:
    text = progress_caption(page).inner_text()
    match = re.search(r"you judged (\d+) pairs?\b", text)
    assert match, text
    return int(match.group(1))


def wait_judged(page: Any, n: int) -> None:
    """Wait until the progress caption says ``n`` and the script run that wrote it is over."""
    page.get_by_test_id("stCaptionContainer").filter(
        has_text=re.compile(rf"you judged {n} pairs?\b")
    ).wait_for()
    wait_app_idle(page)
    assert judged_count(page) == n


# The inner text of the bordered box under the "Left" heading, as the browser shows it now.
_LEFT_TEXT_JS = """
() => {
  const heading = [...document.querySelectorAll('h4')].find(h => h.innerText.trim() === 'Left');
  const column = heading && heading.closest('[data-testid="stColumn"]');
  const box = column && column.querySelector('[data-testid="stLayoutWrapper"]');
  if (!box || box.closest('[data-stale="true"]')) return null;
  return box.innerText.trim();
}
"""

# Arms a timer: the first keydown starts it, the first DOM change after which the left answer
# shows a text other than ``previous`` stops it (the next pair is visible).
_ARM_TIMER_JS = (
    """
(previous) => {
  const leftText = """
    + _LEFT_TEXT_JS
    + """;
  window.__swapT0 = null;
  window.__swapT1 = null;
  document.addEventListener('keydown', () => {
    if (window.__swapT0 === null) window.__swapT0 = performance.now();
  }, {capture: true, once: true});
  const observer = new MutationObserver(() => {
    if (window.__swapT0 === null) return;
    const now = leftText();
    if (now && now !== previous) {
      window.__swapT1 = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true,
                                   attributes: true, attributeFilter: ['data-stale']});
}
"""
)


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


def choose_first_criterion_by_keyboard(page: Any) -> None:
    """Tab from the page to the first criterion's "Left" button and press Enter."""
    page.evaluate("document.activeElement && document.activeElement.blur()")  # Tab from the top
    first = page.get_by_test_id("stButtonGroup").first.locator("button").first
    for _ in range(60):
        page.keyboard.press("Tab")
        if first.evaluate("el => el === document.activeElement"):
            break
    else:
        raise AssertionError("Tab never reached the first criterion")
    page.keyboard.press("Enter")
    wait_app_idle(page)


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
    if index == CRITERION_AT:
        choose_first_criterion_by_keyboard(page)
    if index == COMMENT_AT:
        comment = f"{reviewer} typed this without a mouse"
        page.get_by_role("textbox", name="Comment (optional)").focus()
        page.keyboard.type(comment)
    leave_text_field(page)
    key = choose_key(index, left, right)
    before = judged_count(page)
    page.evaluate(_ARM_TIMER_JS, page.evaluate(_LEFT_TEXT_JS))
    page.keyboard.press(key)
    wait_judged(page, before + 1)
    t0, t1 = page.evaluate("[window.__swapT0, window.__swapT1]")
    latency = t1 - t0 if t0 is not None and t1 is not None else None
    return Press(reviewer, left, right, key, comment, html, url, latency)


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


def assert_blind(where: str, texts: list[str], shown_content: str, secrets: set[str]) -> bool:
    """No secret word in ``texts``, except words the prompt or answers really contain (the demo
    has a customer who "logged into" an account). True when every word was checked."""
    lowered = [t.lower() for t in texts]
    legit = {w for w in secrets if w in shown_content.lower()}
    assert not legit & set(MUST_CHECK), f"a demo text contains a variant name: {legit}"
    for word in secrets - legit:
        for text in lowered:
            assert word not in text, f"{word!r} reached {where}"
    return not legit


def by_last_vote(rows: list[tuple], reviewer: str) -> str:
    """The pair of the reviewer's latest live judgment (rows are ordered by time)."""
    return [r[0] for r in rows if r[1] == reviewer][-1]


def frame_text(payload: str | bytes) -> str:
    return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else payload


@pytest.fixture
def demo_without_votes(isolated_env: Path) -> Path:
    require_browser()  # skip before spending seconds on the seed
    store = Store(isolated_env, linger=0)
    seed_demo(store, judge=False, n_prompts=60)
    store.close()
    return isolated_env


def test_two_reviewers_grade_blind_with_the_keyboard(
    demo_without_votes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    presses: list[Press] = []
    frames: dict[str, list[str]] = {name: [] for name in REVIEWERS}
    with (
        streamlit_app(demo_without_votes, tmp_path / "streamlit.log") as app,
        chromium() as browser,
    ):
        pages = {}
        for name in REVIEWERS:
            context = browser.new_context()  # separate cookies = separate Streamlit sessions
            context.set_default_timeout(PAGE_TIMEOUT_MS)
            page = context.new_page()
            page.on(
                "websocket",
                lambda ws, name=name: ws.on(
                    "framereceived", lambda payload: frames[name].append(frame_text(payload))
                ),
            )
            pages[name] = page
            sign_in(page, app.url, name)
        for index in range(PAIRS_EACH):  # the reviewers take turns on the same queue
            for name, page in pages.items():
                presses.append(grade_one(page, name, index))
        for name, page in pages.items():
            assert judged_count(page) == PAIRS_EACH, name
        # Ana takes back her last vote with U: that pair comes back, and she votes again
        ana, last = pages[REVIEWERS[0]], presses[-2]
        leave_text_field(ana)
        ana.keyboard.press("U")
        wait_judged(ana, PAIRS_EACH - 1)
        assert tokens(answer_text(ana, "Left")) == tokens(last.left)
        ana.keyboard.press(last.key)
        wait_judged(ana, PAIRS_EACH)

    store = Store(demo_without_votes, linger=0)
    try:
        study = list_studies(store)[0]
        with store.cursor() as cur:
            rows = cur.execute(
                "SELECT pair_id, reviewer, left_role, choice, comment, criteria, created_at "
                "FROM judgments WHERE study_id = ? AND undone_at IS NULL ORDER BY created_at",
                [study.study_id],
            ).fetchall()
            undone = cur.execute(
                "SELECT pair_id, reviewer FROM judgments WHERE undone_at IS NOT NULL"
            ).fetchall()
            # every pair a page rendered: the judged ones plus the one each page shows at the
            # end, which its websocket carried too (the reviewer holds a reservation for each)
            reserved = cur.execute(
                "SELECT DISTINCT reviewer, pair_id FROM reservations WHERE study_id = ?",
                [study.study_id],
            ).fetchall()
        shown = {(r[1], r[0]): item_for(store, study, r[0], r[1]) for r in rows}
        rendered = {(who, pair): item_for(store, study, pair, who) for who, pair in reserved}
        secrets = secret_words(store, study)
    finally:
        store.close()

    assert len(rows) == len(REVIEWERS) * PAIRS_EACH
    assert undone == [(by_last_vote(rows, REVIEWERS[0]), REVIEWERS[0])], "U undid the last vote"
    by_reviewer = {name: [r for r in rows if r[1] == name] for name in REVIEWERS}
    assert {name: len(mine) for name, mine in by_reviewer.items()} == dict.fromkeys(
        REVIEWERS, PAIRS_EACH
    )
    assert len({(r[0], r[1]) for r in rows}) == len(rows), "a reviewer judged a pair twice"
    per_pair = [sum(r[0] == p for r in rows) for p in {r[0] for r in rows}]
    assert max(per_pair) <= study.overlap

    fully_checked = dict.fromkeys(REVIEWERS, 0)
    for name in REVIEWERS:
        pressed = [p for p in presses if p.reviewer == name]
        for index, (press, row) in enumerate(zip(pressed, by_reviewer[name], strict=True)):
            pair_id, _, left_role, choice, comment, criteria, _ = row
            # the side this reviewer was shown, recomputed from the server-side secret
            assert left_role == left_role_for(study, pair_id, name), row
            item = shown[(name, pair_id)]
            # the page showed this pair as the server's blinded view (left and right)
            if tokens(item.left_text) != tokens(item.right_text):
                assert tokens(press.left) == tokens(item.left_text), (press, row)
                assert tokens(press.right) == tokens(item.right_text), (press, row)
            assert choice == expected_choice(press.key, left_role), (press.key, row)
            assert (comment if isinstance(comment, str) else None) == press.comment
            expected_criteria = (
                {study.rubric[0]: left_role} if index == CRITERION_AT and study.rubric else None
            )
            assert (json.loads(criteria) if criteria else None) == expected_criteria
            content = "\n".join(
                [item.system or ""]
                + [m["content"] for m in item.messages]
                + [item.left_text, item.right_text]
            )
            fully_checked[name] += assert_blind(
                f"{name}'s page", [press.html, press.url], content, secrets
            )
    assert {r[3] for r in rows} >= {"tie", "both_bad"}
    assert all(fully_checked.values()), f"no page state free of secret words: {fully_checked}"

    assert set(shown) <= set(rendered), "a judged pair has no reservation"
    for name in REVIEWERS:  # every websocket frame the browser received
        assert any("you judged" in f for f in frames[name]), f"no readable frame for {name}"
        mine = [it for (who, _), it in rendered.items() if who == name]
        assert len(mine) > PAIRS_EACH, f"the pair {name}'s page shows at the end is reserved"
        everything_shown = "\n".join(
            [it.system or "" for it in mine]
            + [m["content"] for it in mine for m in it.messages]
            + [t for it in mine for t in (it.left_text, it.right_text)]
        )
        assert_blind(f"{name}'s websocket", frames[name], everything_shown, secrets)

    latencies = sorted(p.latency_ms for p in presses if p.latency_ms is not None)
    with capsys.disabled():
        p50 = f"{statistics.median(latencies):.0f} ms" if latencies else "n/a"
        print(
            f"\nclick-to-next-pair-visible p50: {p50} "
            f"(n={len(latencies)} of {len(presses)}, target <= 300 ms)"
        )


# --- XSS -----------------------------------------------------------------------------------

HOSTILE_PARTS = (
    "<script>window.__pwned = 'script'</script>",
    "<img src=x onerror=\"window.__pwned = 'img'\">",
    "[click me](javascript:window.__pwned='link')",
    '<a href="javascript:window.__pwned=\'anchor\'" id="injected-anchor">raw link</a>',
    '<iframe id="injected-frame" srcdoc="<script>parent.__pwned=\'frame\'</script>"></iframe>',
    '<svg onload="window.__pwned=\'svg\'"><circle r="5"/></svg>',
    '<div id="injected-div" onmouseover="window.__pwned=\'hover\'">hover me</div>',
    '<b id="injected-bold">raw bold</b> <style>body{display:none}</style>',
    "![pixel](x\" onerror=\"window.__pwned='md-img')",
    "<details open ontoggle=\"window.__pwned='details'\"><summary>s</summary></details>",
    "<script>alert('xss')</script> <img src=x onerror=alert(1)>",
)
HOSTILE = "\n\n".join(HOSTILE_PARTS)

# Elements or attributes that only exist if hostile markup became DOM.
_INJECTED_JS = """
() => {
  const found = [];
  const sel = ['#injected-anchor', '#injected-frame', '#injected-div', '#injected-bold',
               'img[src="x"]', 'svg circle[r="5"]', 'details[ontoggle]', '[onerror]',
               '[onload]', '[onmouseover]', '[ontoggle]', 'iframe[srcdoc]'];
  for (const s of sel) if (document.querySelector(s)) found.push(s);
  for (const a of document.querySelectorAll('a[href]'))
    if (/^\\s*javascript:/i.test(a.getAttribute('href'))) found.push('javascript: href');
  for (const s of document.querySelectorAll('script'))
    if (s.textContent.includes('__pwned') || s.textContent.includes("alert('xss')"))
      found.push('script element');
  for (const st of document.querySelectorAll('style'))
    if (st.textContent.includes('body{display:none}')) found.push('style element');
  return found;
}
"""


@pytest.fixture
def hostile_study(isolated_env: Path) -> Path:
    require_browser()
    store = Store(isolated_env, linger=0)
    study = seed_demo(store, judge=False, n_prompts=4)
    messages = [
        {"role": "system", "content": f"System says: {HOSTILE}"},
        {"role": "user", "content": f"Earlier turn: {HOSTILE}"},
        {"role": "assistant", "content": f"Earlier answer: {HOSTILE}"},
        {"role": "user", "content": f"Last question: {HOSTILE}"},
    ]
    with store.cursor() as cur:
        cur.execute(
            "UPDATE prompts SET messages = ?::JSON, prompt_text = ? WHERE prompt_id IN "
            "(SELECT prompt_id FROM pairs WHERE study_id = ?)",
            [json.dumps(messages), HOSTILE, study.study_id],
        )
        cur.execute(  # the two sides differ in one word, so the diff view has a highlight
            "UPDATE responses SET text = ? || CASE WHEN variant = ? THEN 'alpha' ELSE 'beta' END",
            [f"Answer: {HOSTILE}\n\nVerdict ", study.baseline_variant],
        )
    store.close()
    return isolated_env


def assert_inert(page: Any, dialogs: list[str]) -> None:
    """Nothing hostile became DOM or ran, also after the mouse sweeps over the whole page."""
    wait_app_idle(page)
    assert page.evaluate(_INJECTED_JS) == []
    for y in range(0, 1400, 100):  # would fire any onmouseover handler that slipped through
        page.mouse.move(640, y)
        page.mouse.move(200, y)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == [], dialogs


def test_hostile_prompts_and_answers_render_as_text(hostile_study: Path, tmp_path: Path) -> None:
    dialogs: list[str] = []
    with streamlit_app(hostile_study, tmp_path / "streamlit.log") as app, chromium() as browser:
        context = browser.new_context()
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        sign_in(page, app.url, "Eve")
        assert_inert(page, dialogs)

        body = page.locator("body").inner_text()
        for literal in ("<script>window.__pwned", "<img src=x onerror=", "raw link</a>"):
            assert literal in body, f"{literal!r} is not shown as text"
        left = answer_text(page, "Left")
        assert "<script>window.__pwned = 'script'</script>" in left

        page.get_by_test_id("stExpander").get_by_text("System prompt").click()
        expander = page.get_by_test_id("stExpander")
        assert "System says: <script>" in expander.inner_text()
        assert_inert(page, dialogs)

        for link in page.get_by_role("link", name="click me").all():  # rendered, but inert
            link.click()
        assert_inert(page, dialogs)

        page.get_by_role("button", name=re.compile("Word differences")).click()  # HTML path
        page.locator("mark").first.wait_for()
        assert_inert(page, dialogs)
        left = answer_text(page, "Left")
        assert "<img src=x onerror=\"window.__pwned = 'img'\">" in left
        assert page.locator("mark").all_inner_texts() in (["alpha", "beta"], ["beta", "alpha"])

        page.keyboard.press("1")  # the diff button keeps shortcuts working; next pair, diff on
        wait_judged(page, 1)
        assert_inert(page, dialogs)
