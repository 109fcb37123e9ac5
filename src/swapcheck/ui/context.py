"""Per-process store (seeded with the demo on first start) and per-session choices."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import streamlit as st

from swapcheck.config import resolve_db_path
from swapcheck.keys import register_key_source
from swapcheck.store import Store, open_store
from swapcheck.store.studies import Study, list_studies

if TYPE_CHECKING:
    from swapcheck.store.postgres import PostgresStore

log = logging.getLogger("swapcheck.ui")
NO_DEMO_ENV = "SWAPCHECK_NO_DEMO"


@st.cache_resource(show_spinner="Opening the database (seeding the demo on first start)…")
def _store_for(path: str, seed_demo: bool) -> Store | PostgresStore:
    store = open_store(path, linger=0.5)
    if seed_demo:
        from swapcheck.demo import ensure_demo

        ensure_demo(store)
    return store


def _secret(name: str) -> str | None:
    try:
        return st.secrets.get(name)
    except Exception:  # no secrets.toml: nothing to look up
        return None


register_key_source(_secret)


def get_store() -> Store | PostgresStore:
    """The process-wide store; each session's queries run on their own cursor of it."""
    seed = os.environ.get(NO_DEMO_ENV, "") in ("", "0", "false")
    return _store_for(str(resolve_db_path()), seed)


def choose_study(store: Store, *, label: str = "Study", key: str = "study") -> Study | None:
    """A study picker that remembers the choice for the session; None when there are none."""
    studies = list_studies(store)
    if not studies:
        st.info("No study yet. Create one on the **Studies** page.")
        return None
    names = [s.name for s in studies]
    remembered = st.session_state.get("chosen_study")
    index = names.index(remembered) if remembered in names else len(names) - 1
    name = st.selectbox(label, names, index=index, key=key)
    st.session_state["chosen_study"] = name
    return next(s for s in studies if s.name == name)
