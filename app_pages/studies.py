"""Studies: define baseline vs candidate over chosen sources and slices; see their progress."""

import streamlit as st

from swapcheck.store.judgments import review_progress
from swapcheck.store.sources import list_sources, slice_columns_of
from swapcheck.store.studies import create_study, list_studies
from swapcheck.store.variants import list_variants
from swapcheck.ui.auth import require_admin
from swapcheck.ui.context import get_store
from swapcheck.ui.prompt_choice import (
    allocation_preview,
    prompt_choice_inputs,
    recorded_allocation,
    show_allocation,
)
from swapcheck.ui.render import user_errors

require_admin()

st.title("Studies")
st.caption(
    "A study asks one migration question: is the candidate at least as good as the baseline on "
    "these prompts, slice by slice? Reviewers see the study name, so do not put model names in it."
)
store = get_store()

studies = list_studies(store)
if studies:
    rows = []
    for s in studies:
        p = review_progress(store, s)
        rows.append(
            {
                "study": s.name,
                "baseline": s.baseline_variant,
                "candidate": s.candidate_variant,
                "slices": ", ".join(s.slice_columns),
                "reviewers per pair": s.overlap,
                "margin": s.margin,
                "sample": (
                    f"{s.population['sample_size']} of {s.population['population_size']}"
                    if s.population
                    else "all"
                ),
                "pairs": p["pairs_total"],
                "ready": p["pairs_ready"],
                "judgments": p["judgments_given"],
            }
        )
    st.dataframe(rows, hide_index=True)

st.subheader("New study")
sources = list_sources(store)
variants = [v.name for v in list_variants(store)]
if not len(sources) or len(variants) < 2:
    st.info("Ingest a log and define at least two variants (a log with answers gives `logged`).")
else:
    source_names = dict(zip(sources["name"], sources["source_id"], strict=True))
    chosen_sources = st.multiselect(
        "Prompts from sources", list(source_names), default=list(source_names)[-1:]
    )
    chosen_ids = [source_names[n] for n in chosen_sources]
    available = slice_columns_of(store, chosen_ids)
    with st.form("new_study"):
        name = st.text_input("Study name", placeholder="support-bot upgrade, November")
        c1, c2 = st.columns(2)
        baseline = c1.selectbox("Baseline (today's model)", variants)
        candidate = c2.selectbox(
            "Candidate (the replacement)", variants, index=min(1, len(variants) - 1)
        )
        slices = st.multiselect("Slice columns", available, default=available)
        c3, c4 = st.columns(2)
        overlap = c3.number_input("Reviewers per pair", 1, 20, 1)
        margin = c4.number_input("Non-inferiority margin", 0.0, 0.45, 0.05, step=0.01)
        with st.expander("Choose prompts"):
            choice = prompt_choice_inputs(store, chosen_ids, available)
        preview_area = st.container()
        b1, b2 = st.columns(2)
        create = b1.form_submit_button("Create study", type="primary")
        preview = b2.form_submit_button("Preview sample")
        if preview:
            with preview_area, user_errors("Could not plan the sample"):
                show_allocation(allocation_preview(store, chosen_ids, *choice.build()))
        if create:
            with user_errors("Could not create the study"):
                prompt_filter, sample = choice.build()
                study = create_study(
                    store,
                    name,
                    baseline=baseline,
                    candidate=candidate,
                    sources=chosen_ids,
                    slice_columns=slices,
                    overlap=int(overlap),
                    margin=float(margin),
                    prompt_filter=prompt_filter,
                    sample=sample,
                )
                st.success(f"Study '{study.name}' created. Generate its missing answers next.")
                if study.population:
                    show_allocation(recorded_allocation(study.population))
                st.page_link(
                    "app_pages/generate.py", label="Go to Generate", icon=":material/bolt:"
                )
