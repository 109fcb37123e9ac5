"""Review page body: the blinded pair, the keyboard-driven judgment form, undo and skip."""

from __future__ import annotations

import time

import streamlit as st

from swapcheck.review import (
    SKIP_REASONS,
    ReviewItem,
    next_item,
    reviewer_progress,
    skip_item,
    submit_judgment,
    undo_last_judgment,
)
from swapcheck.store import Store
from swapcheck.store.studies import Study
from swapcheck.ui.render import neutralise_markdown, show_untrusted, user_errors
from swapcheck.word_diff import spans_to_html, word_diff

VERDICTS = (  # (pick, label, shortcut, style)
    ("left", "Left is better", "1", "primary"),
    ("right", "Right is better", "2", "primary"),
    ("tie", "Tie", "3", "secondary"),
    ("both_bad", "Both bad", "4", "secondary"),
)
SKIP_SHORTCUT = "S"
UNDO_SHORTCUT = "U"
DIFF_SHORTCUT = "D"
CRITERION_LABELS = {"left": "Left", "right": "Right", "same": "Same"}
ANSWER_HEIGHT_PX = 420
"""Fixed height of each answer box: long answers scroll inside it, the buttons stay in view."""
MAX_SKIP_REASON = 200
SHORTCUT_HELP = (
    "Keyboard: "
    + " · ".join(f"**{key}** {label.lower()}" for _, label, key, _ in VERDICTS)
    + f" · **{SKIP_SHORTCUT}** skip · **{UNDO_SHORTCUT}** undo your last vote · "
    f"**{DIFF_SHORTCUT}** word differences on/off · "
    "**Tab** / **Shift+Tab** move between fields and leave the comment box · "
    "**Space** / **Enter** choose the focused criterion side or reason tag"
)

# Session-state keys. Widget keys are positional (item sequence number, criterion index),
# never derived from a variant, model, provider or pair.
_STUDY = "review_study_id"
_PAIR = "review_pair_id"
_SHOWN_AT = "review_shown_at"
_SEQ = "review_seq"
_NOTICE = "review_notice"
_DIFF = "review_diff"


def _key(name: str) -> str:
    """The widget key of ``name`` for the item on screen (fresh widgets for every new item)."""
    return f"review_{name}_{st.session_state.get(_SEQ, 0)}"


def _criterion_key(index: int) -> str:
    return _key(f"criterion_{index}")


def _elapsed_ms() -> int:
    shown_at = st.session_state.get(_SHOWN_AT) or time.monotonic()
    return int((time.monotonic() - shown_at) * 1000)


def chosen_criteria(rubric: tuple[str, ...]) -> dict[str, str] | None:
    """The per-criterion choices the reviewer made (criteria left blank are not sent)."""
    state = st.session_state
    chosen = {
        name: state[_criterion_key(i)]
        for i, name in enumerate(rubric)
        if state.get(_criterion_key(i)) in CRITERION_LABELS
    }
    return chosen or None


def _record(store: Store, study: Study, reviewer: str, pick: str, rubric: tuple[str, ...]) -> None:
    state = st.session_state
    pair_id = state.get(_PAIR)
    if pair_id is None:
        return
    with user_errors("Your vote was not saved"):
        submit_judgment(
            store,
            study,
            reviewer=reviewer,
            pair_id=pair_id,
            pick=pick,
            criteria=chosen_criteria(rubric),
            reason_tags=tuple(state.get(_key("tags")) or ()),
            comment=state.get(_key("comment")),
            time_on_item_ms=_elapsed_ms(),
        )
        state[_PAIR] = None  # the next run fetches the next pair


def _skip(store: Store, study: Study, reviewer: str) -> None:
    state = st.session_state
    pair_id = state.get(_PAIR)
    if pair_id is None:
        return
    reason = state.get(_key("skip_reason")) or SKIP_REASONS[0]
    other = (state.get(_key("skip_other")) or "").strip()
    if reason == "other" and other:
        reason = other[:MAX_SKIP_REASON]
    with user_errors("The pair was not skipped"):
        skip_item(store, study, reviewer, pair_id, reason)
        state[_PAIR] = None
        state[_NOTICE] = "Skipped. That pair will not be offered to you again."


def _undo(store: Store, study: Study, reviewer: str) -> None:
    state = st.session_state
    with user_errors("Nothing was undone"):
        undone = undo_last_judgment(store, study, reviewer)
        if undone is None:
            state[_NOTICE] = "There is no vote of yours to undo."
        else:
            state[_PAIR] = None
            state[_NOTICE] = "Your last vote was undone: that pair is back on screen."


def _flip_diff() -> None:
    st.session_state[_DIFF] = not st.session_state.get(_DIFF)


def _track(item: ReviewItem | None) -> None:
    """Remember the pair on screen; a new pair gets fresh widgets and a fresh timer."""
    state = st.session_state
    pair_id = item.pair_id if item else None
    if pair_id != state.get(_PAIR) or _SHOWN_AT not in state:
        state[_PAIR] = pair_id
        state[_SHOWN_AT] = time.monotonic()
        state[_SEQ] = state.get(_SEQ, 0) + 1


def show_progress(store: Store, study: Study, reviewer: str) -> None:
    """The reviewer's own progress only: no totals of others, no win rates."""
    progress = reviewer_progress(store, study, reviewer)
    mine, name = progress["mine"], neutralise_markdown(reviewer)
    st.caption(
        f"Reviewing as **{name}** · you judged {mine} pair{'' if mine == 1 else 's'} · "
        f"skipped {progress['skipped']} · {progress['available_to_me']} left for you"
    )


def show_conversation(item: ReviewItem) -> None:
    if item.system:
        with st.expander("System prompt"):
            show_untrusted(item.system)
    for message in item.messages:
        with st.chat_message("user" if message["role"] == "user" else "assistant"):
            show_untrusted(message["content"])


def show_answers(item: ReviewItem, highlight: bool) -> None:
    """Both answers side by side, equal width, each scrolling inside a fixed-height box."""
    diff = word_diff(item.left_text, item.right_text) if highlight else None
    if diff is not None and not diff.compared:
        st.caption("These answers are too long to compare word by word.")
        diff = None
    left, right = st.columns(2, gap="medium")
    sides = ((left, "Left", item.left_text), (right, "Right", item.right_text))
    for index, (column, title, text) in enumerate(sides):
        with column:
            st.markdown(f"#### {title}")
            with st.container(height=ANSWER_HEIGHT_PX, border=True):
                if diff is None:
                    show_untrusted(text)
                else:  # escaped text, only our own <div>/<mark> tags (see word_diff)
                    st.html(spans_to_html(diff.left if index == 0 else diff.right))


def judgment_form(store: Store, study: Study, reviewer: str, item: ReviewItem) -> None:
    """Rubric, reason tags, comment, the four verdicts, skip and undo; all keyboard-driven."""
    if item.rubric:
        st.markdown("**Per criterion** (optional): which side is better?")
        for column, (index, name) in zip(
            st.columns(len(item.rubric)), enumerate(item.rubric), strict=True
        ):
            column.segmented_control(  # buttons, not inputs: the 1-4 shortcuts keep working
                name.capitalize(),
                options=tuple(CRITERION_LABELS),
                format_func=CRITERION_LABELS.__getitem__,
                selection_mode="single",
                key=_criterion_key(index),
            )
    if item.reason_tags:
        st.pills(
            "Reasons (optional)",
            options=item.reason_tags,
            selection_mode="multi",
            key=_key("tags"),
        )
    st.text_input(
        "Comment (optional)",
        key=_key("comment"),
        placeholder="What made the difference? (press Tab to leave the box)",
    )
    args = (store, study, reviewer)
    *verdict_columns, skip_column, undo_column = st.columns(len(VERDICTS) + 2)
    for column, (pick, label, shortcut, style) in zip(verdict_columns, VERDICTS, strict=True):
        column.button(
            label,
            shortcut=shortcut,
            on_click=_record,
            args=(*args, pick, item.rubric),
            key=f"pick_{pick}",
            type=style,
            width="stretch",
        )
    skip_column.button(
        "Skip",
        shortcut=SKIP_SHORTCUT,
        on_click=_skip,
        args=args,
        key="pick_skip",
        width="stretch",
    )
    undo_column.button(
        "Undo last",
        shortcut=UNDO_SHORTCUT,
        on_click=_undo,
        args=args,
        key="review_undo",
        width="stretch",
    )
    reason_column, other_column = st.columns(2)
    reason_column.selectbox("Skip reason", SKIP_REASONS, key=_key("skip_reason"))
    other_column.text_input(
        "Other skip reason (optional)", max_chars=MAX_SKIP_REASON, key=_key("skip_other")
    )
    st.caption(SHORTCUT_HELP)


def render_review(store: Store, study: Study, reviewer: str) -> None:
    """The whole review flow for one signed-in reviewer and one study."""
    state = st.session_state
    if state.get(_STUDY) != study.study_id:
        state[_STUDY], state[_PAIR] = study.study_id, None
    if notice := state.pop(_NOTICE, None):
        st.toast(notice)
    item = next_item(store, study, reviewer)  # the pair this reviewer holds, or a new one
    _track(item)
    show_progress(store, study, reviewer)
    if item is None:
        st.success("Nothing left for you in this study. Thank you!")
        if st.button("Undo last", shortcut=UNDO_SHORTCUT, key="review_undo"):
            _undo(store, study, reviewer)
            st.rerun()
        return
    show_conversation(item)
    highlight = bool(state.get(_DIFF))
    st.button(  # a button, not a checkbox: the shortcuts keep working while it has the focus
        "Word differences: " + ("shown" if highlight else "hidden"),
        icon=":material/difference:",
        shortcut=DIFF_SHORTCUT,
        on_click=_flip_diff,
        key="review_diff_button",
        type="tertiary",
        help="Highlight the words one answer has and the other has not (plain text view).",
    )
    show_answers(item, highlight)
    judgment_form(store, study, reviewer, item)
