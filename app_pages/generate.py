"""Generate: define variants and answer the prompts a study still lacks, with live progress."""

import json
from dataclasses import asdict

import streamlit as st

from swapcheck.generate import GenerationSettings
from swapcheck.models import VariantConfig
from swapcheck.pipeline import generate_study
from swapcheck.providers import provider_names
from swapcheck.store.responses import failures, response_status
from swapcheck.store.studies import study_prompt_ids
from swapcheck.store.variants import list_variants, save_variant
from swapcheck.ui.context import choose_study, get_store
from swapcheck.ui.render import user_errors

st.title("Generate answers")
store = get_store()

st.subheader("Variants")
variants = list_variants(store)
st.dataframe(
    [{k: v for k, v in asdict(x).items()} | {"params": json.dumps(x.params)} for x in variants],
    hide_index=True,
)
with st.expander("Add or update a variant"), st.form("variant"):
    c1, c2 = st.columns(2)
    name = c1.text_input("Name", placeholder="gpt-candidate")
    provider = c2.selectbox("Provider", [p for p in provider_names() if p != "logged"])
    model = c1.text_input("Model", placeholder="gpt-4o-mini")
    base_url = c2.text_input(
        "Base URL (OpenAI-compatible)", placeholder="https://api.openai.com/v1"
    )
    key_env = c1.text_input(
        "API key environment variable",
        value="OPENAI_API_KEY",
        help="Only the variable's name is stored; the key stays in the environment or st.secrets.",
    )
    params_text = c2.text_input("Parameters (JSON)", value='{"temperature": 0}')
    price_in = c1.number_input("$ per 1M input tokens", 0.0, value=0.0)
    price_out = c2.number_input("$ per 1M output tokens", 0.0, value=0.0)
    if st.form_submit_button("Save variant"):
        with user_errors("Could not save the variant"):
            try:
                params = json.loads(params_text or "{}")
            except ValueError as exc:
                st.error(f'Parameters are not valid JSON ({exc}). Write e.g. {{"temperature": 0}}.')
                st.stop()
            save_variant(
                store,
                VariantConfig(
                    name=name.strip(),
                    provider=provider,
                    model=model.strip(),
                    base_url=base_url.strip() or None,
                    api_key_env=key_env.strip() or None,
                    params=params,
                    price_input_per_mtok=price_in,
                    price_output_per_mtok=price_out,
                ),
            )
            st.success(f"Variant {name} saved.")
            st.rerun()

st.subheader("Answers for a study")
study = choose_study(store)
if study is not None:
    prompt_ids = study_prompt_ids(store, study)
    status = {v: response_status(store, v, prompt_ids) for v in study.variants}
    st.dataframe([{"variant": v, **s} for v, s in status.items()], hide_index=True)
    concurrency = st.slider("Concurrent requests", 1, 64, 8)
    if st.button("Generate missing answers", type="primary", key="generate"):
        bars = {v: st.progress(0.0, text=f"{v}: waiting") for v in study.variants}

        def progress(name: str, done: int, total: int) -> None:
            bars[name].progress(done / total if total else 1.0, text=f"{name}: {done}/{total}")

        with user_errors("Generation failed"):
            report = generate_study(
                store,
                study,
                settings=GenerationSettings(concurrency=concurrency),
                progress=progress,
            )
            for name in study.variants:
                bars[name].progress(1.0, text=f"{name}: done")
            st.success(report.summary())
    for v in study.variants:
        failed = failures(store, v, prompt_ids)
        if len(failed):
            st.warning(f"{v}: {len(failed)} failed answers (re-run to retry them)")
            st.dataframe(failed, hide_index=True)
