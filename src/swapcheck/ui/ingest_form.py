"""Ingest page widgets: choose a file, map its columns, ingest with progress, show quarantine."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import streamlit as st

from swapcheck.ingest import sample_frame, sample_log
from swapcheck.ingest_files import EXTENSIONS, GZIP_SUFFIXES
from swapcheck.ingest_shapes import SHAPES, TURNS, ColumnMapping, guess_mapping
from swapcheck.models import LOGGED_VARIANT
from swapcheck.pipeline import ingest_file
from swapcheck.report import to_safe_csv
from swapcheck.store import Store
from swapcheck.store.sources import list_sources, quarantine_frame

IMPORT_DIR_ENV = "SWAPCHECK_IMPORT_DIR"
UPLOAD_TYPES = [e.lstrip(".") for e in EXTENSIONS] + [
    f"{e.lstrip('.')}{g}" for e in EXTENSIONS for g in GZIP_SUFFIXES
]
_NONE = "(none)"


def import_dir(store: Store) -> Path:
    """Server-side folder whose files can be ingested without uploading them."""
    configured = os.environ.get(IMPORT_DIR_ENV)
    return Path(configured) if configured else store.path.parent / "imports"


def choose_file(store: Store) -> tuple[Path, str] | None:
    """An uploaded file (staged on disk) or one from the import folder, with its name."""
    upload_tab, server_tab = st.tabs(["Upload", "File on the server"])
    with upload_tab:
        upload = st.file_uploader("Log file", type=None, key="ingest_upload")
        st.caption(
            "JSONL, JSON array, CSV, TSV or Parquet, optionally .gz. Files larger than the "
            "upload limit: put them in the server's import folder, or use "
            "`swapcheck ingest PATH_OR_URL`."
        )
    with server_tab:
        folder = import_dir(store)
        files = sorted(p.name for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
        st.caption(f"Files in `{folder}` (set `{IMPORT_DIR_ENV}` to use another folder).")
        picked = st.selectbox("Server file", [_NONE, *files], key="ingest_server_file")
    if upload is not None:
        return _staged_upload(upload), upload.name
    if picked and picked != _NONE:
        return folder / picked, picked
    return None


def _staged_upload(upload: st.runtime.uploaded_file_manager.UploadedFile) -> Path:
    digest = hashlib.sha256()
    for chunk in iter(lambda: upload.read(1 << 20), b""):
        digest.update(chunk)
    folder = Path(tempfile.gettempdir()) / "swapcheck-uploads" / digest.hexdigest()[:24]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(upload.name).name
    if not target.exists():
        upload.seek(0)
        with target.open("wb") as out:
            for chunk in iter(lambda: upload.read(1 << 20), b""):
                out.write(chunk)
    return target


def mapping_form(path: Path, name: str, store: Store) -> None:
    """Preview the file, let the user confirm or change the mapping, then ingest it."""
    sample = sample_log(path, limit=200)
    for note in sample.notes:
        st.info(note)
    st.dataframe(sample_frame(sample, limit=10), hide_index=True)
    guess = _previous_mapping(store, name, sample.columns) or guess_mapping(
        sample.columns, sample.records
    )
    st.caption(f"Recognised shape: **{SHAPES.get(guess.shape, guess.shape)}**.")
    options = [_NONE, *sample.columns]
    for value in guess.fields().values():
        if value not in options:  # nested paths such as body.messages
            options.append(value)

    def pick(label: str, value: str | None, key: str) -> str | None:
        chosen = st.selectbox(label, options, index=options.index(value) if value else 0, key=key)
        return None if chosen == _NONE else chosen

    c1, c2, c3 = st.columns(3)
    with c1:
        messages = pick("Messages (chat)", guess.messages_column, "map_msgs")
        prompt = pick("Prompt text", guess.prompt_column, "map_prompt")
    with c2:
        id_col = pick("Id", guess.id_column, "map_id")
        system = pick("System prompt", guess.system_column, "map_system")
        timestamp = pick("Timestamp", guess.timestamp_column, "map_time")
    with c3:
        response = pick("Answer", guess.response_column, "map_response")
        variant, model = _answer_variant_inputs(guess)
    used = {messages, prompt, id_col, system, response, timestamp}
    slices = st.multiselect(
        "Slice columns",
        [c for c in sample.columns if c not in used],
        default=[c for c in guess.slice_columns if c not in used and c in sample.columns],
    )
    c4, c5, c6 = st.columns(3)
    turn = c4.selectbox(
        "Turn under study (multi-turn logs)",
        TURNS,
        index=TURNS.index(guess.turn),
        help="'last' replays the conversation up to its last user turn; those pairs are marked "
        "when their context holds the old model's answers. 'first' studies only the opening "
        "turn, which is always a clean replay.",
    )
    near = c5.checkbox(
        "Collapse near-duplicates",
        help="Prompts equal up to case, whitespace and numbers are stored once; the count of log "
        "rows is kept as the prompt's weight.",
    )
    derived = c6.checkbox("Derived slices", value=True, help="prompt length, turns, language, "
                          "time window")  # fmt: skip
    if not st.button("Ingest", type="primary"):
        return
    mapping = ColumnMapping(
        prompt_column=None if messages else prompt,
        messages_column=messages,
        system_column=system,
        id_column=id_col,
        response_column=response,
        slice_columns=tuple(slices),
        timestamp_column=timestamp,
        turn=turn,
        shape=guess.shape,
        response_variant=variant,
        response_model=model,
    )
    bar = st.progress(0.0, text="starting")

    def progress(fraction: float, what: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=what)

    report = ingest_file(
        store, path, mapping=mapping, source_name=name, near_duplicates=near,
        derived_slices=derived, progress=progress,
    )  # fmt: skip
    bar.empty()
    (st.info if report.already_ingested else st.success)(report.summary())
    for note in report.notes:
        st.info(note)
    if len(report.rejects):
        st.warning(
            f"{len(report.rejects)} rows were rejected and kept in quarantine (below). Fix them "
            "in the file and ingest it again under the same name: the fixed rows are added."
        )


def _answer_variant_inputs(guess: ColumnMapping) -> tuple[str, str | None]:
    """Which variant the file's answers are stored as (default: the logged production answers),
    and an optional model label for a new one."""
    variant = st.text_input(
        "Answers are stored as variant",
        value=guess.response_variant,
        key="map_response_variant",
        help="'logged' = the answers your production system gave. Answers of another model (an "
        "offline eval run, a shadow deployment, another tool's export): give them their own "
        "name, e.g. gpt-4o-shadow; that answers-only variant is created and can be a study's "
        "baseline or candidate without generating anything.",
    )
    model = st.text_input(
        "Model label (optional)",
        value=guess.response_model or "",
        key="map_response_model",
        help="Model of a named answers variant, shown in variant lists (default: its name).",
    )
    return variant.strip() or LOGGED_VARIANT, model.strip() or None


def _previous_mapping(store: Store, name: str, columns: list[str]) -> ColumnMapping | None:
    """The mapping saved with an earlier version of this source, if its columns still exist."""
    sources = list_sources(store)
    match = sources[sources["name"] == name]
    if match.empty:
        return None
    mapping = ColumnMapping.from_json(match["mapping"].iloc[-1])
    tops = {v.split(".")[0].split("[")[0] for v in mapping.fields().values()}
    return mapping if tops <= set(columns) else None


def quarantine_view(store: Store) -> None:
    """Every rejected row with its source, row number, field, reason and raw text."""
    frame = quarantine_frame(store)
    st.subheader(f"Quarantine ({len(frame)} rows)")
    if not len(frame):
        st.caption("No rejected rows.")
        return
    names = sorted(frame["source_name"].unique())
    chosen = st.selectbox("Source", ["all sources", *names], key="quarantine_source")
    if chosen != "all sources":
        frame = frame[frame["source_name"] == chosen]
    st.dataframe(frame, hide_index=True)
    st.download_button(
        "Download rejected rows (CSV)",
        to_safe_csv(frame),
        file_name="swapcheck-quarantine.csv",
        mime="text/csv",
    )
