"""Results page, admins only: the pairs behind a regressing slice, and one pair unblinded with
every judgment and comment it received."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from swapcheck.errors import NotFoundError
from swapcheck.review import content_text, reviewer_redactor
from swapcheck.stats import MISSING
from swapcheck.store import Store
from swapcheck.store.judgments import pair_content, pair_judgments
from swapcheck.store.studies import Study
from swapcheck.ui.render import show_untrusted

WORST_SHOWN = 25
GO_COLOURS = {"green": "#d8f0dc", "amber": "#fdebc8", "red": "#f8d3d0"}


def go_colour(value: object) -> str:
    """CSS for a non-inferiority colour cell (green / amber / red)."""
    colour = GO_COLOURS.get(str(value))
    return f"background-color: {colour}" if colour else ""


def worst_pairs(judgments: pd.DataFrame, slice_name: str, value: str) -> pd.DataFrame:
    """Pairs of one slice ordered by votes against the candidate (baseline wins + both bad),
    then by fewest votes for it; one row per pair with its vote counts."""
    if slice_name == "overall":
        rows = judgments
    else:
        column = judgments[slice_name].astype(object).where(judgments[slice_name].notna(), MISSING)
        rows = judgments[column.astype(str) == str(value)]
    if rows.empty:
        return pd.DataFrame(
            columns=["pair_id", "against", "for", "baseline", "candidate", "tie", "both_bad"]
        )
    counts = pd.crosstab(rows["pair_id"], rows["choice"])
    for choice in ("baseline", "candidate", "tie", "both_bad"):
        if choice not in counts.columns:
            counts[choice] = 0
    counts["against"] = counts["baseline"] + counts["both_bad"]
    counts["for"] = counts["candidate"]
    comments = rows.groupby("pair_id")["comment"].apply(lambda c: int(c.notna().sum()))
    counts["comments"] = comments.reindex(counts.index).fillna(0).astype(int)
    ordered = counts.sort_values(["against", "for"], ascending=[False, True], kind="stable")
    return ordered.reset_index()[
        ["pair_id", "against", "for", "baseline", "candidate", "tie", "both_bad", "comments"]
    ]


def regressions_and_drilldown(
    store: Store, study: Study, table: pd.DataFrame, judgments: pd.DataFrame
) -> None:
    """Red and amber slices worst first; their pairs; one pair with all its judgments."""
    st.subheader("Regressions and the pairs behind them")
    flagged = table[(table["slice"] != "overall") & table["go"].isin(["red", "amber"])]
    flagged = flagged.sort_values("win_rate")
    options = [("overall", "")] + [(str(r.slice), str(r.value)) for r in flagged.itertuples()]
    labels = ["all judged pairs"] + [
        f"{r.slice}={r.value} · {r.go} · win {r.win_rate:.0%} (n={r.n})"
        for r in flagged.itertuples()
    ]
    if flagged.empty:
        st.caption("No slice is red or amber; the pairs with most votes against the candidate:")
    chosen = st.selectbox(
        "Slice", range(len(options)), format_func=labels.__getitem__, key="drill_slice"
    )
    slice_name, value = options[chosen]
    pairs = worst_pairs(judgments, slice_name, value).head(WORST_SHOWN)
    if pairs.empty:
        st.info("No judged pair in this slice.")
        return
    st.dataframe(pairs, hide_index=True)
    pair_id = st.selectbox("Open a pair", list(pairs["pair_id"]), key="drill_pair")
    _show_pair(store, study, pair_id)


def _show_pair(store: Store, study: Study, pair_id: str) -> None:
    """The conversation and both answers, labelled with their variants, plus every vote."""
    redactor = reviewer_redactor(store)
    try:
        content = pair_content(store, study, pair_id)
    except NotFoundError:  # judgments imported for prompts whose answers were never stored
        st.info(
            "The answers of this pair are not stored (its judgments were imported without "
            "them); only the votes are shown."
        )
        st.dataframe(pair_judgments(store, study, pair_id), hide_index=True)
        return
    with st.expander("Conversation", expanded=True):
        for message in redactor.redact_messages(
            [{"role": m.get("role", "user"), "content": m.get("content")} for m in content.messages]
        ):
            st.caption(str(message["role"]))
            show_untrusted(content_text(message["content"]))
    left, right = st.columns(2)
    for column, role, variant, text in (
        (left, "baseline", study.baseline_variant, content.baseline_text),
        (right, "candidate", study.candidate_variant, content.candidate_text),
    ):
        with column:
            st.markdown(f"**{role}** · `{variant}`")
            with st.container(height=320, border=True):
                show_untrusted(redactor.redact(text or ""))
    votes = pair_judgments(store, study, pair_id)
    st.dataframe(votes, hide_index=True)
    st.caption(
        "choice is unblinded (what the reviewer preferred); left_role is the answer they saw on "
        "the left; undone votes are listed but count nowhere."
    )
