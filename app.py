"""swapcheck app router: page config and the explicit list of pages."""

import streamlit as st

from swapcheck.ui.render import user_errors

st.set_page_config(page_title="swapcheck", page_icon="⚖️", layout="wide")

pages = [
    st.Page("pages/home.py", title="Overview", icon="🏠", default=True),
    st.Page("pages/ingest.py", title="Ingest", icon="📥"),
    st.Page("pages/studies.py", title="Studies", icon="🧪"),
    st.Page("pages/generate.py", title="Generate", icon="⚙️"),
    st.Page("pages/review.py", title="Review", icon="👀"),
    st.Page("pages/results.py", title="Results", icon="📊"),
]
with user_errors("This page hit a problem"):
    st.navigation(pages).run()
