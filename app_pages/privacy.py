"""Privacy: what is masked before reviewers see a prompt, and what model providers receive."""

import streamlit as st

from swapcheck.redaction_config import load_redaction_config
from swapcheck.ui.auth import require_admin
from swapcheck.ui.context import get_store
from swapcheck.ui.privacy import (
    render_custom_patterns,
    render_detectors,
    render_provider_text,
    render_try_it,
    show_flash,
)
from swapcheck.ui.render import user_errors

require_admin()

st.title("Privacy")
st.caption(
    "Personal data and secrets are masked before any reviewer sees a prompt or an answer; the "
    "store keeps the original text."
)
store = get_store()
show_flash()
with user_errors("The redaction settings cannot be read"):
    config = load_redaction_config(store)
    render_detectors(store, config)
    render_custom_patterns(store, config)
    render_provider_text(store, config)
    render_try_it(config)
