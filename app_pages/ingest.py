"""Ingest: upload a prompt log (or pick one on the server), map its columns, see rejected rows."""

import streamlit as st

from swapcheck.store.sources import list_sources
from swapcheck.ui.auth import require_admin
from swapcheck.ui.context import get_store
from swapcheck.ui.ingest_form import choose_file, mapping_form, quarantine_view
from swapcheck.ui.render import user_errors

require_admin()

st.title("Ingest a prompt log")
st.caption(
    "One row per logged request: a prompt column, OpenAI chat `messages`, an OpenAI Batch API "
    "file or Anthropic Messages requests, plus metadata columns that become slices. Bad rows "
    "are quarantined with their row, field and reason; the rest is kept. Re-uploading the same "
    "file adds nothing; a fixed file under the same name adds the rows that now pass. "
    "Answers of another model (an eval run, a shadow deployment) can be stored as a variant of "
    "their own and compared without generating."
)
store = get_store()

chosen = choose_file(store)
if chosen is not None:
    path, name = chosen
    with user_errors(f"Cannot ingest {name}"):
        mapping_form(path, name, store)

st.subheader("Sources")
sources = list_sources(store)
if len(sources):
    st.dataframe(sources.drop(columns=["mapping"]), hide_index=True)
else:
    st.caption("Nothing ingested yet.")

quarantine_view(store)
