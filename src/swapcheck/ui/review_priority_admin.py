"""Review admin: turn the prioritised queue on or off and see which slices are decided."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from swapcheck.review_priority import (
    MIN_UNIFORM_SHARE,
    STOP_RULES,
    PrioritySettings,
    slice_decisions,
)
from swapcheck.store import Store
from swapcheck.store.priority import (
    complete_scores_of,
    get_priority_settings,
    human_votes_per_pair,
    set_priority_settings,
)
from swapcheck.store.studies import Study
from swapcheck.ui.render import user_errors
from swapcheck.verdict_data import priority_strata

STOP_RULE_HELP = {
    "full_review": "stop a slice once the verdict a full review would give (go, no-go or "
    "inconclusive) is known with 95% confidence",
    "bound": "stop a slice once its win rate clears 0.5 − margin (go) or falls below it "
    "(no-go) with 95% confidence; slices that would end inconclusive never stop",
}


def priority_status(store: Store, study: Study, settings: PrioritySettings) -> pd.DataFrame:
    """Per queue slice: pairs, contested pairs, human votes, fully judged pairs and the
    stopping decision."""
    strata = priority_strata(store, study)
    if strata.empty:
        columns = ["slice", "pairs", "contested", "votes", "fully judged", "decided"]
        return pd.DataFrame(columns=columns)
    scores = complete_scores_of(store, study, list(strata["pair_id"]))  # in queue order
    outcomes = scores.merge(strata, on="pair_id", how="inner", sort=False)
    decisions = slice_decisions(
        strata, outcomes, study.margin, rule=settings.stop_rule, overlap=study.overlap
    )
    table = strata.groupby("slice").agg(pairs=("pair_id", "size"), contested=("contested", "sum"))
    votes = human_votes_per_pair(store, study).merge(strata, on="pair_id", how="inner")
    table["votes"] = votes.groupby("slice")["votes"].sum().reindex(table.index).fillna(0)
    table["fully judged"] = outcomes.groupby("slice").size().reindex(table.index).fillna(0)
    table["decided"] = [decisions.get(str(s)) or "not yet" for s in table.index]
    counts = {"contested": "int64", "votes": "int64", "fully judged": "int64"}
    return table.reset_index().astype(counts)


def priority_section(store: Store, study: Study) -> None:
    """The prioritised-queue settings form and the decided slices."""
    settings = get_priority_settings(store, study)
    st.caption(
        "The queue can favour pairs the evaluators or the LLM judge mark as different or "
        f"contested, while at least {MIN_UNIFORM_SHARE:.0%} of the next pairs in every slice "
        "stay uniform random; the Results page then weighs each judgment by the inverse of "
        "its selection probability, so win rates stay unbiased. Slices whose verdict is "
        "already certain (an anytime-valid interval) move to the end of the queue."
    )
    with st.form("review_priority"):
        enabled = st.toggle("Prioritise contested pairs", value=settings.enabled)
        share = st.slider(
            "Share of contested pairs in the queue",
            0.0,
            1.0 - MIN_UNIFORM_SHARE,
            float(settings.contested_share),
            0.05,
        )
        stop = st.checkbox(
            "Move decided slices to the end of the queue", value=settings.stop_decided_slices
        )
        rule = st.radio(
            "A slice is decided when",
            STOP_RULES,
            index=STOP_RULES.index(settings.stop_rule),
            captions=[STOP_RULE_HELP[r] for r in STOP_RULES],
        )
        saved = st.form_submit_button("Save queue settings", type="primary")
    if saved:
        with user_errors("The queue settings were not saved"):
            settings = PrioritySettings(bool(enabled), float(share), bool(stop), str(rule))
            set_priority_settings(store, study, settings)
            st.success(
                "Prioritised queue on." if settings.enabled else "Plain random queue (default)."
            )
    st.dataframe(
        priority_status(store, study, settings),
        hide_index=True,
        column_config={
            "contested": st.column_config.NumberColumn(
                help="Pairs the evaluators or the LLM judge mark as different or contested."
            ),
            "votes": st.column_config.NumberColumn(
                help="Live human votes on the slice's pairs so far (undone ones and LLM judge "
                "verdicts left out)."
            ),
            "fully judged": st.column_config.NumberColumn(
                help=f"Pairs with all {study.overlap} human votes this study asks for; only "
                "these count towards a slice's decision."
            ),
        },
    )
