"""Generate: answer the prompts a study still lacks, in the background, with live progress."""

import streamlit as st

from swapcheck.ui.auth import require_admin
from swapcheck.ui.context import choose_study, get_store
from swapcheck.ui.generation import (
    answer_status,
    failed_answers,
    live_runs,
    sent_requests,
    start_form,
)

require_admin()

st.title("Generate answers")
st.caption(
    "Variants (provider, model, parameters, prices, limits) are defined on the **Variants** page."
)
store = get_store()
study = choose_study(store)
if study is not None:
    answer_status(store, study)
    start_form(store, study)
    live_runs(store, study)
    failed_answers(store, study)
    sent_requests(store, study)
