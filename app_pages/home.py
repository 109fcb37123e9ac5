"""Overview: what swapcheck does, what the demo contains, and where each step lives."""

import streamlit as st

from swapcheck.demo_data import DEMO_PLANTED
from swapcheck.store.judgments import review_progress
from swapcheck.store.sources import list_sources
from swapcheck.store.studies import list_studies
from swapcheck.ui.auth import require_admin
from swapcheck.ui.context import get_store
from swapcheck.ui.render import user_errors

require_admin()

st.title("swapcheck")
st.markdown(
    "**Evidence before a model cutover.** Replay your production prompts through the model you "
    "run today (*baseline*) and the one you want to switch to (*candidate*), let product "
    "reviewers grade blinded side-by-side pairs, and see per slice whether the candidate is at "
    "least as good, with honest intervals."
)

with user_errors("Could not open the database"):
    store = get_store()
    sources = list_sources(store)
    studies = list_studies(store)
    c1, c2, c3 = st.columns(3)
    c1.metric("Prompt sources", len(sources))
    c2.metric("Prompts", int(sources["rows_ingested"].sum()) if len(sources) else 0)
    c3.metric("Studies", len(studies))

    for study in studies:
        progress = review_progress(store, study)
        st.markdown(
            f"- **{study.name}**: {progress['pairs_ready']} of {progress['pairs_total']} pairs "
            f"ready, {progress['judgments_given']} judgments "
            f"(target {progress['judgments_target']}: {study.overlap} per pair)"
        )

st.subheader("How it works")
st.markdown(
    "1. **Ingest** a prompt log (JSONL, CSV or Parquet; a prompt column or OpenAI `messages`, "
    "metadata columns become slices, a logged answer column becomes the `logged` variant).\n"
    "2. **Studies**: pick the baseline and candidate variants, the prompts and the slices.\n"
    "3. **Generate** the answers the study still lacks (OpenAI-compatible APIs or the "
    "simulated demo models).\n"
    "4. **Review**: graders see two anonymous answers, left and right, and press 1–4.\n"
    "5. **Results**: candidate win rate per slice with 95% Wilson intervals, a chart and CSVs."
)

st.subheader("The demo")
st.markdown(
    "On first start with an empty database swapcheck seeds a demo: a synthetic log of support "
    "traffic (features, locales, customer tiers, topics) whose production answers form the "
    "`logged` baseline, answered again by a **simulated** candidate model (no API key, no "
    "network). The simulated candidate carries planted regressions confined to a few slices; "
    "three simulated reviewers have graded every pair once, blind. Open **Results** and see "
    "whether the slice table finds them, then grade a few pairs yourself on **Review**."
)
st.markdown("\n".join(f"- `{where}`: {what}" for where, what in DEMO_PLANTED.items()))
st.page_link("app_pages/results.py", label="See the demo results", icon=":material/insights:")
st.page_link("app_pages/review.py", label="Grade pairs", icon=":material/rate_review:")
