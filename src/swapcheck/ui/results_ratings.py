"""Results page sections: ratings of all variants across linked studies, and LLM judges apart."""

from __future__ import annotations

import streamlit as st

from swapcheck.analysis import judge_summary
from swapcheck.judge import judge_agreement, set_judge_in_verdict
from swapcheck.ratings import linked_ratings
from swapcheck.report import ratings_figure
from swapcheck.stats_judge import judge_eligible_slices
from swapcheck.store.connection import Store
from swapcheck.store.judge import load_judge_config
from swapcheck.store.judgments import judgments_frame
from swapcheck.store.studies import Study
from swapcheck.ui.render import neutralise_markdown, user_errors


def ratings_section(store: Store, study: Study) -> None:
    """Bradley-Terry ratings when the studies linked to this one compare 3+ variants."""
    result = linked_ratings(store, study)
    if result is None:
        return
    st.subheader("All variants: Bradley-Terry ratings")
    st.caption(
        f"Pooled from the human judgments of {len(result.studies)} studies linked through shared "
        "variants. 1000 is the average; +100 means winning about 64% of comparisons against a "
        f"variant rated 100 lower; 95% intervals from {result.n_boot} bootstrap resamples. "
        "Pooling assumes the studies review the same kind of traffic."
    )
    if result.table is None:
        st.info(neutralise_markdown(f"No ratings yet: {result.problem}."))
        return
    st.plotly_chart(ratings_figure(result.table), width="stretch")
    number = st.column_config.NumberColumn(format="%.1f")
    st.dataframe(
        result.table,
        hide_index=True,
        column_config={c: number for c in ("rating", "ci_low", "ci_high", "wins")},
    )


def judges_section(store: Store, study: Study, judge_verdicts: int = 0) -> None:
    """LLM judges' verdicts on this study and the study judge's agreement with people."""
    judges = judge_summary(judgments_frame(store, study, reviewer_type="judge"))
    if judges.empty:
        return
    st.subheader("LLM judges")
    if judge_verdicts:
        st.caption(
            f"{judge_verdicts} judge verdicts stand in for missing human judgments in the "
            "slices an admin enabled (agreement proven there); every other figure comes from "
            "people. `swapcheck judge in-verdict --off` turns this off."
        )
    else:
        st.caption(
            "Verdicts of automatic judges on this study, for comparison only: every figure "
            "above comes from people."
        )
    percent = st.column_config.NumberColumn(format="percent")
    st.dataframe(
        judges,
        hide_index=True,
        column_config={c: percent for c in ("win_rate", "ci_low", "ci_high")},
    )
    if load_judge_config(store, study).variant is None:
        return
    by = st.selectbox("Judge against people, by", ["overall", *study.slice_columns], key="judge_by")
    table = judge_agreement(store, study, by=None if by == "overall" else by)
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            **{
                c: percent
                for c in (
                    "agreement", "agreement_no_ties", "judge_win_rate", "human_win_rate",
                    "inconsistent_share",
                )
            },
            **{
                c: st.column_config.NumberColumn(format="%+.3f")
                for c in ("gap", "gap_ci_low", "gap_ci_high")
            },
            "kappa": st.column_config.NumberColumn("κ vs majority", format="%.2f"),
        },
    )  # fmt: skip
    eligible = judge_eligible_slices(table)
    names = [f"{r.slice}={r.value}" for r in eligible.itertuples() if r.slice != "overall"]
    st.caption(
        "Agreement on pairs both judged; gap = judge − people in win rate with a paired 95% "
        "interval; inconsistent = different verdicts in the two presentation orders (a tie). "
        + (
            neutralise_markdown(
                "Agreement is proven (n ≥ 30, κ ≥ 0.6, the gap's interval within ±5 points) "
                f"in: {', '.join(names)}; an admin may let the judge stand in for missing "
                "human judgments there with `swapcheck judge in-verdict`."
            )
            if names
            else "No slice has proven agreement yet (n ≥ 30, κ ≥ 0.6, gap within ±5 points)."
        )
    )
    if by != "overall":
        _in_verdict_form(store, study, by, [str(v) for v in eligible["value"]])


def _in_verdict_form(store: Store, study: Study, column: str, eligible: list[str]) -> None:
    """Let an admin admit the judge's verdicts for missing human ones in proven slices."""
    current = load_judge_config(store, study).in_verdict
    chosen = list(current.values) if current and current.column == column else []
    with st.form(f"judge_in_verdict_{column}"):
        values = st.multiselect(
            f"Let the judge fill in missing human judgments for these {column} values",
            sorted(set(eligible) | set(chosen)),
            default=chosen,
            help="Only slices with proven agreement are accepted; pairs any person judged "
            "keep only the people's votes. Empty: the judge never enters the verdict.",
        )
        saved = st.form_submit_button("Save")
    if saved:
        with user_errors("The judge was not admitted"):
            set_judge_in_verdict(store, study, column if values else None, values)
            st.success(
                neutralise_markdown(
                    f"The judge now fills in missing human judgments for {column} = "
                    f"{', '.join(values)}; reload the page to see the figures with them."
                )
                if values
                else "The judge stays out of the verdict."
            )
