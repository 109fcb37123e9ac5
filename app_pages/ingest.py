"""Ingest: upload a prompt log, map its columns, store it; see rejected rows."""

import tempfile
from pathlib import Path

import streamlit as st

from swapcheck.ingest import ColumnMapping, guess_mapping, preview, read_columns
from swapcheck.models import sha256_hex
from swapcheck.pipeline import ingest_file
from swapcheck.report import to_safe_csv
from swapcheck.store.sources import list_sources, quarantine_frame
from swapcheck.ui.context import get_store
from swapcheck.ui.render import user_errors

st.title("Ingest a prompt log")
st.caption(
    "JSONL, CSV or Parquet. One row per logged request: a prompt column or OpenAI-style "
    "`messages`, optional id and logged answer, and metadata columns that become slices. "
    "Bad rows are quarantined with their row number and reason; the rest is kept. "
    "Re-uploading the same file adds nothing."
)
store = get_store()

upload = st.file_uploader("Log file", type=["jsonl", "ndjson", "json", "csv", "parquet", "pq"])
if upload is not None:
    with user_errors(f"Cannot read {upload.name}"):
        data = upload.getvalue()
        staging = Path(tempfile.gettempdir()) / "swapcheck-uploads" / sha256_hex(data)[:24]
        staging.mkdir(parents=True, exist_ok=True)
        staging = staging / Path(upload.name).name
        if not staging.exists():
            staging.write_bytes(data)
        columns = read_columns(staging)
        st.dataframe(preview(staging, limit=10), hide_index=True)
        guess = guess_mapping(columns)
        none = "(none)"
        options = [none, *columns]

        def pick(label: str, value: str | None, key: str) -> str | None:
            chosen = st.selectbox(
                label, options, index=options.index(value) if value else 0, key=key
            )
            return None if chosen == none else chosen

        c1, c2, c3 = st.columns(3)
        with c1:
            messages_col = pick("Messages column (OpenAI chat)", guess.messages_column, "map_msgs")
            prompt_col = pick("Prompt text column", guess.prompt_column, "map_prompt")
        with c2:
            id_col = pick("Id column", guess.id_column, "map_id")
            system_col = pick("System prompt column", guess.system_column, "map_system")
        with c3:
            response_col = pick("Logged answer column", guess.response_column, "map_response")
        used = {messages_col, prompt_col, id_col, system_col, response_col}
        slices = st.multiselect(
            "Slice columns",
            [c for c in columns if c not in used],
            default=[c for c in guess.slice_columns if c not in used],
        )
        if st.button("Ingest", type="primary"):
            mapping = ColumnMapping(
                prompt_column=None if messages_col else prompt_col,
                messages_column=messages_col,
                system_column=system_col,
                id_column=id_col,
                response_column=response_col,
                slice_columns=tuple(slices),
            )
            report = ingest_file(store, staging, mapping=mapping, source_name=upload.name)
            (st.info if report.already_ingested else st.success)(report.summary())
            if len(report.rejects):
                st.warning(f"{len(report.rejects)} rows were rejected and kept in quarantine:")
                st.dataframe(report.rejects[["row_number", "reason"]], hide_index=True)

st.subheader("Sources")
sources = list_sources(store)
if len(sources):
    st.dataframe(sources.drop(columns=["mapping"]), hide_index=True)
else:
    st.caption("Nothing ingested yet.")

quarantine = quarantine_frame(store)
st.subheader(f"Quarantine ({len(quarantine)} rows)")
if len(quarantine):
    st.dataframe(quarantine, hide_index=True)
    st.download_button(
        "Download rejected rows (CSV)",
        to_safe_csv(quarantine),
        file_name="swapcheck-quarantine.csv",
        mime="text/csv",
    )
