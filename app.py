"""swapcheck app router: page config and the explicit list of pages.

The page files live in ``app_pages/`` rather than ``pages/`` so that Streamlit's legacy
automatic page discovery never lists them before ``st.navigation`` runs.
"""

import streamlit as st

from swapcheck.ui.render import user_errors

st.set_page_config(page_title="swapcheck", page_icon=":material/compare_arrows:", layout="wide")

pages = [
    st.Page("app_pages/home.py", title="Overview", icon=":material/home:", default=True),
    st.Page("app_pages/ingest.py", title="Ingest", icon=":material/upload_file:"),
    st.Page("app_pages/studies.py", title="Studies", icon=":material/science:"),
    st.Page("app_pages/variants.py", title="Variants", icon=":material/tune:"),
    st.Page("app_pages/generate.py", title="Generate", icon=":material/bolt:"),
    st.Page("app_pages/review.py", title="Review", icon=":material/rate_review:"),
    st.Page("app_pages/results.py", title="Results", icon=":material/insights:"),
    st.Page("app_pages/privacy.py", title="Privacy", icon=":material/shield:"),
]
with user_errors("This page hit a problem"):
    st.navigation(pages).run()
