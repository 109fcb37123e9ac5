"""Results: candidate win rate overall and per slice, with intervals, chart, checks and CSVs."""

import streamlit as st

from swapcheck.report import to_safe_csv, win_rate_figure
from swapcheck.stats import position_bias, slice_tables
from swapcheck.store.evaluations import evaluation_summary
from swapcheck.store.judgments import judgments_frame
from swapcheck.ui.context import choose_study, get_store
from swapcheck.ui.render import user_errors

st.title("Results")
store = get_store()
study = choose_study(store)
if study is None:
    st.stop()
st.caption(
    f"Candidate **{study.candidate_variant}** vs baseline **{study.baseline_variant}**. "
    "Win rate = share of judgments preferring the candidate, ties and both-bad counted "
    "as half; 95% Wilson intervals. Below 0.5 the candidate is worse."
)

with user_errors("Could not compute the results"):
    judgments = judgments_frame(store, study)
    if judgments.empty:
        st.info("No judgments yet. Grade some pairs on the Review page.")
        st.stop()
    by = st.multiselect(
        "Break down by", list(study.slice_columns), default=list(study.slice_columns)
    )
    min_n = st.number_input("Warn below n =", 5, 1000, 30)
    table = slice_tables(judgments, by, min_n=int(min_n))
    overall = table.iloc[0]
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric("Candidate win rate", f"{overall.win_rate:.1%}")
    c2.metric("95% interval", f"{overall.ci_low:.1%} – {overall.ci_high:.1%}")
    c3.metric("Judgments", int(overall.n))
    c4.metric("Reviewers", judgments["reviewer"].nunique())
    c5.metric("Both bad", f"{overall.both_bad_rate:.1%}")
    worse = table[(table["slice"] != "overall") & (table["verdict"] == "worse")]
    if len(worse):
        st.error(
            "Slices where the candidate is worse (interval entirely below 0.5): "
            + ", ".join(f"{r.slice}={r.value}" for r in worse.itertuples())
        )
    else:
        st.success("No slice where the candidate is significantly worse.")
    if judgments["reviewer"].str.startswith("demo-reviewer-").any():
        st.caption("Judgments by `demo-reviewer-*` come from the demo's simulated reviewers.")

    st.plotly_chart(win_rate_figure(table), width="stretch")
    st.subheader("Slice table")
    shown = table[
        [
            "slice",
            "value",
            "n",
            "win_rate",
            "ci_low",
            "ci_high",
            "tie_rate",
            "both_bad_rate",
            "sign_test_p",
            "verdict",
            "low_n",
        ]
    ]
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            c: st.column_config.NumberColumn(format="%.3f")
            for c in ("win_rate", "ci_low", "ci_high", "tie_rate", "both_bad_rate", "sign_test_p")
        },
    )
    d1, d2 = st.columns(2)
    d1.download_button(
        "Slice table (CSV)", to_safe_csv(table), file_name="slice-table.csv", mime="text/csv"
    )
    d2.download_button(
        "All judgments (CSV)", to_safe_csv(judgments), file_name="judgments.csv", mime="text/csv"
    )

    bias = position_bias(judgments)
    if bias.get("n_decisive"):
        st.caption(
            f"Position check: the left answer won {bias['left_pick_rate']:.1%} of decisive "
            f"judgments (95% CI {bias['ci_low']:.1%}–{bias['ci_high']:.1%})."
        )

    st.subheader("Behaviour checks")
    st.caption(
        "Share of answers flagged by automatic evaluators, baseline vs candidate, on the "
        "same prompts."
    )
    check_by = st.selectbox("Checks by", ["overall", *study.slice_columns])
    checks = evaluation_summary(store, study, None if check_by == "overall" else check_by)
    st.dataframe(
        checks,
        hide_index=True,
        column_config={
            c: st.column_config.NumberColumn(format="%.3f")
            for c in ("baseline_rate", "candidate_rate", "difference")
        },
    )
