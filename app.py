"""swapcheck app router: page config, sign-in, and the pages each role may open.

The page files live in ``app_pages/`` rather than ``pages/`` so that Streamlit's legacy
automatic page discovery never lists them before ``st.navigation`` runs. Reviewers are offered
only the pages in ``REVIEWER_PAGES``; every other page is for admins (and calls
``require_admin()`` itself, so a typed URL is refused too). See docs/ACCESS.md.
"""

import streamlit as st

from swapcheck.ui.auth import current_user, is_local_demo, sign_in, sign_out_button
from swapcheck.ui.render import user_errors

st.set_page_config(page_title="swapcheck", page_icon=":material/compare_arrows:", layout="wide")

pages = [
    st.Page("app_pages/home.py", title="Overview", icon=":material/home:", default=True),
    st.Page("app_pages/ingest.py", title="Ingest", icon=":material/upload_file:"),
    st.Page("app_pages/studies.py", title="Studies", icon=":material/science:"),
    st.Page("app_pages/variants.py", title="Variants", icon=":material/tune:"),
    st.Page("app_pages/generate.py", title="Generate", icon=":material/bolt:"),
    st.Page("app_pages/review.py", title="Review", icon=":material/rate_review:"),
    st.Page("app_pages/review_admin.py", title="Review admin", icon=":material/fact_check:"),
    st.Page("app_pages/results.py", title="Results", icon=":material/insights:"),
    st.Page("app_pages/privacy.py", title="Privacy", icon=":material/shield:"),
]
REVIEWER_PAGES = {"Review"}  # by title; any page not named here is admin-only

user = current_user()
if user is None and not is_local_demo():
    user = sign_in()  # renders the sign-in and stops this run until someone signs in
if user is not None and not user.is_admin:
    pages = [page for page in pages if page.title in REVIEWER_PAGES]
with st.sidebar:
    if user is None:
        st.caption(
            "Local demo: no sign-in is configured, so everyone is an admin (docs/ACCESS.md)."
        )
    sign_out_button()
with user_errors("This page hit a problem"):
    st.navigation(pages).run()
