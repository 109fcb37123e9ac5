"""Review: grade blinded pairs, left vs right, with the keyboard (1 2 3 4, S skip, U undo)."""

import streamlit as st

from swapcheck.review import normalise_reviewer
from swapcheck.ui.auth import sign_in
from swapcheck.ui.context import choose_study, get_store
from swapcheck.ui.render import user_errors
from swapcheck.ui.review_view import render_review

st.title("Review")
user = sign_in()  # the router's sidebar shows who is signed in and the Sign out button
store = get_store()
study = choose_study(store, label="Study to review", key="review_study")
if study is not None:
    with user_errors("The review page hit a problem"):
        render_review(store, study, normalise_reviewer(user.name))
