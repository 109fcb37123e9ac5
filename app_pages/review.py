"""Review: grade blinded pairs, left vs right, with the keyboard (1 2 3 4)."""

import time

import streamlit as st

from swapcheck.review import item_for, next_item, normalise_reviewer, skip_item, submit_judgment
from swapcheck.store.judgments import review_progress
from swapcheck.ui.context import choose_study, get_store
from swapcheck.ui.render import show_untrusted, user_errors

st.title("Review")
store = get_store()
state = st.session_state

if "reviewer" not in state:
    with st.form("sign_in"):
        name = st.text_input("Your name", max_chars=64, help="Your votes are stored under it.")
        if st.form_submit_button("Start reviewing", type="primary"):
            with user_errors("Cannot start"):
                state["reviewer"] = normalise_reviewer(name)
                st.rerun()
    st.stop()

reviewer = state["reviewer"]
study = choose_study(store, label="Study to review", key="review_study")
if study is None:
    st.stop()
if state.get("review_study_id") != study.study_id:
    state.update(review_study_id=study.study_id, review_item=None, review_skipped=())


def load_next() -> None:
    state["review_item"] = next_item(store, study, reviewer, skip=state["review_skipped"])
    state["review_shown_at"] = time.monotonic()
    state["review_count"] = state.get("review_count", 0) + 1


def record(pick: str) -> None:
    item = state.get("review_item")
    if item is None:
        return
    with user_errors("Your vote was not saved"):
        submit_judgment(
            store,
            study,
            reviewer=reviewer,
            pair_id=item.pair_id,
            pick=pick,
            comment=state.get(f"comment_{state['review_count']}"),
            time_on_item_ms=int((time.monotonic() - state["review_shown_at"]) * 1000),
        )
        load_next()


def skip() -> None:
    item = state.get("review_item")
    if item is not None:
        state["review_skipped"] = (*state["review_skipped"], item.pair_id)
        skip_item(store, study, reviewer, item.pair_id)
    load_next()


if state.get("review_item") is None:
    load_next()
item = state["review_item"]
if item is not None:  # redact again on every run: a policy change applies to the pair on screen
    item = item_for(store, study, item.pair_id, reviewer)
progress = review_progress(store, study, reviewer)
st.caption(
    f"Signed in as **{reviewer}** · you judged {progress['mine']} "
    f"pair{'' if progress['mine'] == 1 else 's'} · "
    f"{progress['judgments_given']} of {progress['judgments_target']} judgments collected"
)
if item is None:
    st.success("Nothing left for you in this study. Thank you!")
    st.stop()

for message in item.messages:
    if message["role"] == "system":
        with st.expander("System prompt"):
            show_untrusted(message["content"])
    else:
        with st.chat_message("user" if message["role"] == "user" else "assistant"):
            show_untrusted(message["content"])

left, right = st.columns(2, gap="medium")
for column, title, text in ((left, "Left", item.left_text), (right, "Right", item.right_text)):
    with column:
        st.markdown(f"#### {title}")
        with st.container(height=420, border=True):
            show_untrusted(text)

st.text_input(
    "Comment (optional)",
    key=f"comment_{state['review_count']}",
    placeholder="What made the difference? (press Tab to leave the box)",
)
VERDICTS = (  # (pick, label, key, style)
    ("left", "Left is better", "1", "primary"),
    ("right", "Right is better", "2", "primary"),
    ("tie", "Tie", "3", "secondary"),
    ("both_bad", "Both bad", "4", "secondary"),
)
*verdict_columns, skip_column = st.columns(len(VERDICTS) + 1)
for column, (pick, label, shortcut, style) in zip(verdict_columns, VERDICTS, strict=True):
    column.button(
        label,
        shortcut=shortcut,
        on_click=record,
        args=(pick,),
        key=f"pick_{pick}",
        type=style,
        width="stretch",
    )
skip_column.button("Skip", shortcut="S", on_click=skip, key="pick_skip", width="stretch")
st.caption(
    "Keyboard: "
    + " · ".join(f"**{k}** {label.lower()}" for _, label, k, _ in VERDICTS)
    + " · **S** skip"
)
