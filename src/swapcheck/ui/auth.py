"""People and roles: sign-in (OIDC via st.login, or name + access code) and admin-only pages."""

from __future__ import annotations

import hmac
import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

import streamlit as st
from streamlit.errors import StreamlitAuthError

from swapcheck.errors import ReviewError
from swapcheck.review import normalise_reviewer
from swapcheck.ui.render import neutralise_markdown, user_errors

log = logging.getLogger("swapcheck.ui")

ACCESS_CODE_ENV = "SWAPCHECK_ACCESS_CODE"
ADMIN_CODE_ENV = "SWAPCHECK_ADMIN_CODE"
ADMINS_ENV = "SWAPCHECK_ADMINS"
MAX_WRONG_CODES = 5
LOCKOUT_SECONDS = 30.0
ADMIN = "admin"
REVIEWER = "reviewer"

_USER_KEY = "swapcheck_user"  # session state only: never a widget key, never sent to the browser
_FAILURES_KEY = "swapcheck_signin_failures"
_LOCKED_UNTIL_KEY = "swapcheck_signin_locked_until"
_now = time.monotonic  # tests replace it to pass the lockout without sleeping


@dataclass(frozen=True)
class User:
    """Who is using this session: a name (e-mail under OIDC), a role and how they signed in."""

    name: str
    role: str  # 'admin' | 'reviewer'
    via: str  # 'oidc' | 'name'

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


LOCAL_ADMIN = User(name="local admin", role=ADMIN, via="name")


def _setting(name: str) -> str | None:
    """A setting from the environment, else from st.secrets (as ``ui/context.py`` reads them)."""
    value = os.environ.get(name)
    if value:
        return value
    try:
        value = st.secrets.get(name)
    except Exception:  # no secrets.toml: nothing to look up
        return None
    return str(value) if value else None


def _auth_section() -> Mapping[str, object] | None:
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets.toml
        return None
    return section if isinstance(section, Mapping) and section else None


def auth_mode() -> str:
    """'oidc' when ``[auth]`` is configured, 'codes' when an access code is, else 'local'."""
    if _auth_section() is not None:
        return "oidc"
    if _setting(ACCESS_CODE_ENV) or _setting(ADMIN_CODE_ENV):
        return "codes"
    return "local"


def is_local_demo() -> bool:
    """No sign-in configured: everyone is an admin (the demo on one's own machine)."""
    return auth_mode() == "local"


def _same_secret(given: str, expected: str | None) -> bool:
    if not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def role_for_code(code: str, *, access_code: str | None, admin_code: str | None) -> str | None:
    """The role a code grants, or None for a wrong code (constant-time comparisons).

    The admin code makes an admin. With no codes at all (local demo) everyone is an admin. With
    a shared access code, it makes a reviewer; without one, reviewers need no code (and any code
    typed must then be the admin code).
    """
    is_admin_code = _same_secret(code, admin_code)
    is_access_code = _same_secret(code, access_code)
    if is_admin_code:
        return ADMIN
    if not access_code and not admin_code:
        return ADMIN
    if access_code:
        return REVIEWER if is_access_code else None
    return REVIEWER if not code else None


def _admin_emails(setting: str | None) -> set[str]:
    return {e.strip().lower() for e in (setting or "").split(",") if e.strip()}


def oidc_role(email: str, admins: str | None) -> str:
    """'admin' if the e-mail is in the comma-separated ``SWAPCHECK_ADMINS`` list, else reviewer."""
    return ADMIN if email.strip().lower() in _admin_emails(admins) else REVIEWER


def _oidc_user() -> User | None:
    if not st.user.get("is_logged_in", False):
        return None
    if st.user.get("email_verified") is False:  # an address anyone could have typed in
        return None
    email = str(st.user.get("email") or "").strip().lower()
    try:
        name = normalise_reviewer(email)
    except ReviewError:  # no e-mail claim, or one too long to be a reviewer name
        return None
    return User(name=name, role=oidc_role(email, _setting(ADMINS_ENV)), via="oidc")


def current_user() -> User | None:
    """The signed-in user of this session, or None (a local-demo visitor is not signed in)."""
    mode = auth_mode()
    if mode == "oidc":
        return _oidc_user()
    signed = st.session_state.get(_USER_KEY)
    if not signed or signed.get("mode") != mode:  # the configuration changed: sign in again
        return None
    return signed["user"]


def _locked_seconds_left() -> float:
    return max(0.0, st.session_state.get(_LOCKED_UNTIL_KEY, 0.0) - _now())


def _record_wrong_code() -> None:
    failures = st.session_state.get(_FAILURES_KEY, 0) + 1
    if failures >= MAX_WRONG_CODES:
        st.session_state[_LOCKED_UNTIL_KEY] = _now() + LOCKOUT_SECONDS
        failures = 0
    st.session_state[_FAILURES_KEY] = failures


def _sign_in_with_name(mode: str) -> None:
    access_code, admin_code = _setting(ACCESS_CODE_ENV), _setting(ADMIN_CODE_ENV)
    if mode == "local":
        st.info(
            "No access code is configured (local demo): everyone who signs in is an **admin**. "
            "See docs/ACCESS.md to let reviewers in."
        )
    with st.form("sign_in", clear_on_submit=True):
        name = st.text_input("Your name", max_chars=64, help="Your votes are stored under it.")
        code = ""
        if mode == "codes":
            code = st.text_input(
                "Access code" if access_code else "Admin code (reviewers leave it empty)",
                type="password",
                help="Ask whoever runs swapcheck for it.",
            )
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    left = _locked_seconds_left()
    if left > 0:
        st.error(f"Too many wrong codes. Wait {math.ceil(left)} s, then try again.")
        return
    with user_errors("Cannot sign in"):
        reviewer = normalise_reviewer(name)
        if mode == "codes" and access_code and not code:
            st.error("Enter the access code you were given.")
            return
        role = role_for_code(code, access_code=access_code, admin_code=admin_code)
        if role is None:
            _record_wrong_code()
            st.error("That code is not right. Check it with whoever runs swapcheck.")
            return
        st.session_state.pop(_FAILURES_KEY, None)
        st.session_state[_USER_KEY] = {"user": User(reviewer, role, "name"), "mode": mode}
        st.rerun()


def _provider_names(section: Mapping[str, object]) -> list[str | None]:
    named = [key for key, value in section.items() if isinstance(value, Mapping)]
    return list(named) if named else [None]


def _sign_in_with_oidc() -> None:
    section = _auth_section() or {}
    if st.user.get("is_logged_in", False):  # logged in, yet no e-mail to use as the name
        st.error(
            "Your sign-in provider did not share a usable e-mail address (none, unverified, or "
            "longer than 64 characters). **Fix:** sign in with an account whose e-mail address "
            'is verified, or ask whoever runs swapcheck to request the "email" scope.'
        )
        if st.button("Sign out"):
            st.logout()
        return
    st.write("Sign in with your organisation's account to continue.")
    for provider in _provider_names(section):
        label = f"Sign in with {provider.title()}" if provider else "Sign in with single sign-on"
        if st.button(label, type="primary", key=f"login_{provider or 'default'}"):
            try:
                st.login(provider)
            except StreamlitAuthError as exc:
                log.warning("st.login failed: %s", exc)
                st.error(
                    "Sign-in is configured but cannot start. **Fix:** install the sign-in "
                    'support with `pip install "streamlit[auth]"` and check the `[auth]` '
                    "section of `.streamlit/secrets.toml` (docs/ACCESS.md)."
                )


def sign_in() -> User:
    """The signed-in user; renders the sign-in and stops the script until someone signs in."""
    user = current_user()
    if user is not None:
        return user
    st.title("Sign in")
    mode = auth_mode()
    if mode == "oidc":
        _sign_in_with_oidc()
    else:
        _sign_in_with_name(mode)
    st.stop()
    raise AssertionError("unreachable: st.stop() ends the script run")


def require_admin() -> User:
    """The admin using this page; anyone else gets a clear message and the page stops."""
    user = current_user()
    if user is None and is_local_demo():
        return LOCAL_ADMIN
    if user is not None and user.is_admin:
        return user
    if user is None:
        st.warning("Sign in first: this page is for admins.")
    else:
        st.warning(
            "This page is for admins, and you are signed in as a reviewer "
            f"({neutralise_markdown(user.name)}). "
            "Grade pairs on the **Review** page. Ask whoever runs swapcheck if you need access."
        )
    st.stop()
    raise AssertionError("unreachable: st.stop() ends the script run")


def sign_out_button() -> None:
    """Who is signed in and a Sign out button (nothing when nobody is signed in)."""
    user = current_user()
    if user is None:
        return
    st.caption(f"Signed in as **{neutralise_markdown(user.name)}** ({user.role})")
    if not st.button("Sign out", key="sign_out"):
        return
    if user.via == "oidc":
        st.logout()
    else:
        st.session_state.pop(_USER_KEY, None)
        st.rerun()
