"""Variants: every way of answering a prompt; add, edit, delete, and import/export as TOML."""

import streamlit as st

from swapcheck.ui.context import get_store
from swapcheck.ui.variant_form import variants_page

st.title("Variants")
variants_page(get_store())
