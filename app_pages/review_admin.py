"""Review admin: review settings, identity flags, gold items and reviewer quality (admins only)."""

import streamlit as st

from swapcheck.ui.auth import require_admin
from swapcheck.ui.context import choose_study, get_store
from swapcheck.ui.render import user_errors
from swapcheck.ui.review_admin import (
    gold_section,
    identity_flags_section,
    progress_section,
    quality_section,
    settings_section,
)
from swapcheck.ui.review_priority_admin import priority_section

admin = require_admin()
st.title("Review admin")
store = get_store()
study = choose_study(store, key="admin_study")
if study is None:
    st.stop()

with user_errors("The review progress could not be shown"):
    progress_section(store, study)
settings_tab, queue_tab, flags_tab, gold_tab, quality_tab = st.tabs(
    ["Review settings", "Queue priority", "Identity flags", "Gold items", "Reviewer quality"]
)
with settings_tab, user_errors("The review settings could not be shown"):
    study = settings_section(store, study)
with queue_tab, user_errors("The queue priority could not be shown"):
    priority_section(store, study)
with flags_tab, user_errors("The identity flags could not be checked"):
    identity_flags_section(store, study)
with gold_tab, user_errors("The gold items could not be shown"):
    gold_section(store, study, admin)
with quality_tab, user_errors("Reviewer quality could not be computed"):
    quality_section(store, study)
