"""Results: candidate win rate overall and per slice, with intervals, chart, checks and CSVs."""

import streamlit as st

from swapcheck.analysis import length_controlled, traffic_reweighted
from swapcheck.report import to_safe_csv, win_rate_figure
from swapcheck.stats import WEIGHT_COLUMN, position_bias, slice_tables, without_slices
from swapcheck.stats_agreement import pairwise_agreement
from swapcheck.stats_decisions import combination_decisions, decision_table, overall_verdict
from swapcheck.stats_drift import drift_table
from swapcheck.store.evaluations import evaluation_frame
from swapcheck.ui.auth import require_admin
from swapcheck.ui.context import choose_study, get_store
from swapcheck.ui.results_drift import render_drift
from swapcheck.ui.results_drilldown import go_colour, regressions_and_drilldown
from swapcheck.ui.results_exports import exports_section
from swapcheck.ui.results_ratings import judges_section, ratings_section
from swapcheck.verdict_data import sign_off_judgments

require_admin()

st.title("Results")
store = get_store()
study = choose_study(store)
if study is None:
    st.stop()
st.caption(
    f"Candidate **{study.candidate_variant}** vs baseline **{study.baseline_variant}**. "
    "Win rate = share of judgments preferring the candidate, ties and both-bad counted as half, "
    "with 95% Wilson intervals. Below 0.5 the candidate is worse; a slice is flagged *worse* "
    "only when its whole interval lies below 0.5."
)
judgments = sign_off_judgments(store, study)  # people, admitted judge verdicts, weights
if judgments.empty:
    st.info("No judgments yet. Grade some pairs on the Review page.")
    st.stop()

c1, c2, c3 = st.columns([2, 2, 1])
by = c1.multiselect("Break down by", list(study.slice_columns), default=list(study.slice_columns))
full = slice_tables(judgments, by)
slice_rows = full[full["slice"] != "overall"]
labels = {f"{r.slice}={r.value}": (r.slice, r.value) for r in slice_rows.itertuples()}
held = c2.multiselect(
    "Hold out slices",
    list(labels),
    help="Slices overlap: one regression drags down every slice that shares its rows. Hold the "
    "worst slices out to see whether the rest of the traffic is fine.",
)
min_n = int(c3.number_input("Warn below n", 5, 1000, 30))
shown = without_slices(judgments, [labels[h] for h in held])
table = slice_tables(shown, by, min_n=min_n)
if table.empty:
    st.warning("Every judgment lies in a held-out slice.")
    st.stop()

table = decision_table(table, margin=study.margin)
overall = table.iloc[0]
verdict = overall_verdict(table, margin=study.margin)
banner = {"go": st.success, "no-go": st.error, "inconclusive": st.warning}[verdict["verdict"]]
banner(
    f"**{verdict['verdict'].upper()}** (non-inferiority margin {study.margin:.2f}): "
    f"{verdict['reason']}"
)

m1, m2, m3, m4, m5 = st.columns(5)
m1.metric("Candidate win rate", f"{overall.win_rate:.1%}")
m2.metric("95% interval", f"{overall.ci_low:.0%}–{overall.ci_high:.0%}")
m3.metric("Judgments", int(overall.n))
people = shown[shown["reviewer_type"] == "human"]  # agreement, bias and counts: people only
m4.metric("Reviewers", people["reviewer"].nunique())
m5.metric("Both bad", f"{overall.both_bad_rate:.1%}")

slices_only = table[table["slice"] != "overall"]
worse = slices_only[(slices_only["verdict"] == "worse") & (slices_only["q_value"] < 0.05)]
worse = worse.sort_values("win_rate")
if len(worse):
    listed = ", ".join(
        f"**{r.slice}={r.value}** ({r.win_rate:.0%}, n={r.n})" for r in worse.head(6).itertuples()
    )
    more = f" and {len(worse) - 6} more" if len(worse) > 6 else ""
    st.error(
        f"Candidate significantly worse in {len(worse)} slices (interval below 0.5 and "
        f"Benjamini-Hochberg q < 0.05 across all slices), worst first: {listed}{more}."
    )
else:
    st.success(
        "No slice where the candidate is significantly worse (after multiple-testing control)."
    )
if shown["reviewer"].str.startswith("demo-reviewer-").any():
    st.caption("Judgments by `demo-reviewer-*` come from the demo's simulated reviewers.")

adjusted = []
reweighted = traffic_reweighted(store, study, shown)
if reweighted:
    adjusted.append(
        f"re-weighted to the traffic mix **{reweighted['win_rate']:.1%}** "
        f"({reweighted['ci_low']:.0%}–{reweighted['ci_high']:.0%}, effective n "
        f"{reweighted['n_eff']:.0f})"
    )
at_equal_length = length_controlled(store, study, shown)
if at_equal_length and at_equal_length["win_rate"] == at_equal_length["win_rate"]:
    adjusted.append(
        f"at equal answer length **{at_equal_length['win_rate']:.1%}** "
        f"({at_equal_length['ci_low']:.0%}–{at_equal_length['ci_high']:.0%}; a gap to the raw "
        "rate means length, not content, drives the preference)"
    )
if adjusted:
    st.caption("Candidate win rate " + "; ".join(adjusted) + ".")
if WEIGHT_COLUMN in shown.columns:
    st.caption(
        "The review queue is prioritised (Review admin → Queue priority): every rate and "
        "interval weighs each judgment by the inverse of its pair's selection probability, so "
        "over-sampled contested pairs do not bias them; `n_eff` is the effective sample size."
    )
agreement, decisive = pairwise_agreement(people, True), pairwise_agreement(people, False)
if agreement["n_comparisons"]:
    st.caption(
        f"Reviewer agreement on pairs judged more than once: {agreement['agreement']:.0%} of "
        f"vote pairs ({agreement['n_comparisons']}), {decisive['agreement']:.0%} among decisive "
        "votes; Cohen's and Fleiss' κ: `swapcheck stats --agreement`."
        if decisive["n_comparisons"]
        else f"Reviewer agreement: {agreement['agreement']:.0%} of {agreement['n_comparisons']} "
        "vote pairs."
    )

figure = win_rate_figure(table, margin=study.margin)
st.plotly_chart(figure, width="stretch")
st.subheader("Slice table")
number = st.column_config.NumberColumn(format="%.3f")
st.dataframe(
    table[
        [
            "slice",
            "value",
            "n",
            "win_rate",
            "ci_low",
            "ci_high",
            "go",
            "verdict",
            "q_value",
            "sign_test_p",
            "tie_rate",
            "both_bad_rate",
            "low_n",
            *(["n_eff"] if "n_eff" in table.columns else []),
        ]
    ].style.map(go_colour, subset=["go"]),
    hide_index=True,
    column_config={
        c: number
        for c in (
            "win_rate",
            "ci_low",
            "ci_high",
            "q_value",
            "sign_test_p",
            "tie_rate",
            "both_bad_rate",
        )
    },
)
if len(by) >= 2 and st.toggle("Also combinations of two slice columns", key="combos"):
    combos = combination_decisions(shown, by, study.margin, min_n=min_n)
    st.caption(
        "Every pair of values that occurs (e.g. locale × tier), with q-values from one "
        "Benjamini-Hochberg family over all these rows."
    )
    st.dataframe(
        combos[
            ["slice", "value", "n", "win_rate", "ci_low", "ci_high", "go", "q_value", "low_n"]
        ].style.map(go_colour, subset=["go"]),
        hide_index=True,
        column_config={c: number for c in ("win_rate", "ci_low", "ci_high", "q_value")},
    )
d1, d2 = st.columns(2)
d1.download_button(
    "Slice table (CSV)", to_safe_csv(table), file_name="slice-table.csv", mime="text/csv"
)
d2.download_button(
    "All judgments (CSV)", to_safe_csv(judgments), file_name="judgments.csv", mime="text/csv"
)

bias = position_bias(people)
if bias.get("n_decisive"):
    st.caption(
        f"Position check: the left answer won {bias['left_pick_rate']:.1%} of decisive "
        f"judgments (95% CI {bias['ci_low']:.1%}–{bias['ci_high']:.1%}); near 50% means "
        "reviewers were not swayed by position."
    )

st.subheader("Behaviour drift")
st.caption(
    "Automatic evaluators on both answers of every pair of the study (judged or not): baseline "
    "vs candidate per slice, paired where the metric allows, with 95% intervals; a change is "
    "flagged when it is significant after Benjamini-Hochberg control across all rows and at "
    "least the minimum effect. `swapcheck evaluate` scores new answers."
)
render_drift(drift_table(evaluation_frame(store, study), list(study.slice_columns)), key="drift")

regressions_and_drilldown(store, study, table, shown)
judges_section(store, study, int((judgments["reviewer_type"] == "judge").sum()))
ratings_section(store, study)
exports_section(store, study, table, judgments, figure, by, min_n)
