"""Variants: every way of answering a prompt; add, edit, delete, and import/export as TOML."""

import streamlit as st

from swapcheck.ui.auth import require_admin
from swapcheck.ui.context import get_store
from swapcheck.ui.variant_form import variants_page

require_admin()

st.title("Variants")
variants_page(get_store())
