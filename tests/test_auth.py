"""Sign-in and roles: code checks, OIDC roles, what reviewers and admins may open (AppTest)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from swapcheck.ui import auth
from swapcheck.ui.auth import User, oidc_role, role_for_code
from tests.apptest_utils import APP, assert_no_exception, browser_payload

ACCESS = "violet-harbour-17"
ADMIN = "granite-owl-42"
ADMIN_PAGES = (
    "home",
    "ingest",
    "studies",
    "variants",
    "generate",
    "results",
    "privacy",
    "review_admin",
)
PAGES_DIR = Path(APP).parent / "app_pages"
OIDC_SECRETS = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "cookie-secret-not-for-the-browser",
        "client_id": "swapcheck-client",
        "client_secret": "client-secret-not-for-the-browser",
        "server_metadata_url": "https://login.example.com/.well-known/openid-configuration",
    }
}


def listed_pages(at: AppTest) -> set[str]:
    """File stems of the pages st.navigation registered in the last run (AppTest internals)."""
    return {
        Path(str(info["script_path"])).stem
        for info in at._registered_pages.values()
        if info.get("script_path")
    }


def all_page_stems() -> set[str]:
    return {p.stem for p in PAGES_DIR.glob("*.py")}


@pytest.fixture
def codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWAPCHECK_ACCESS_CODE", ACCESS)
    monkeypatch.setenv("SWAPCHECK_ADMIN_CODE", ADMIN)


def sign_in_app(name: str, code: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert_no_exception(at)
    return submit(at, name, code)


def submit(at: AppTest, name: str, code: str) -> AppTest:
    at.text_input[0].input(name)
    at.text_input[1].input(code)
    at.form_submit_button[0].click().run()
    assert_no_exception(at)
    return at


# --- pure role logic ---------------------------------------------------------------------------


def test_codes_grant_roles_and_wrong_codes_grant_nothing() -> None:
    both = {"access_code": ACCESS, "admin_code": ADMIN}
    assert role_for_code(ADMIN, **both) == "admin"
    assert role_for_code(ACCESS, **both) == "reviewer"
    assert role_for_code("", **both) is None
    assert role_for_code(ACCESS + " ", **both) is None
    assert role_for_code(ADMIN[:-1], **both) is None
    only_admin = {"access_code": None, "admin_code": ADMIN}
    assert role_for_code("", **only_admin) == "reviewer"  # reviewers need no code
    assert role_for_code(ADMIN, **only_admin) == "admin"
    assert role_for_code("guess", **only_admin) is None
    only_access = {"access_code": ACCESS, "admin_code": None}
    assert role_for_code(ACCESS, **only_access) == "reviewer"
    assert role_for_code("", **only_access) is None
    assert role_for_code("", access_code=None, admin_code=None) == "admin"  # local demo


def test_oidc_admins_come_from_the_email_list() -> None:
    admins = " Boss@Example.com, ops@example.com ,"
    assert oidc_role("boss@example.com", admins) == "admin"
    assert oidc_role("OPS@example.com", admins) == "admin"
    assert oidc_role("intern@example.com", admins) == "reviewer"
    assert oidc_role("example.com", admins) == "reviewer"
    assert oidc_role("boss@example.com", None) == "reviewer"
    assert oidc_role("boss@example.com", "") == "reviewer"


# --- name + access code ------------------------------------------------------------------------


def test_nothing_but_the_sign_in_before_signing_in(codes: None) -> None:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert_no_exception(at)
    assert [t.value for t in at.title] == ["Sign in"]
    assert not at.metric and not at.dataframe
    assert not listed_pages(at) & all_page_stems()  # no page is offered before signing in
    assert at.text_input[1].proto.type == at.text_input[1].proto.PASSWORD


def test_a_reviewer_sees_only_the_review_page(codes: None, demo_db: Path) -> None:
    at = sign_in_app("  Rita   Q ", ACCESS)
    assert listed_pages(at) == {"review"}
    assert "Review" in [t.value for t in at.title]
    assert any("Signed in as **Rita Q** (reviewer)" in c.value for c in at.sidebar.caption)
    with pytest.raises(ValueError):  # Results is not a page of this session at all
        at.switch_page("app_pages/results.py")


def test_a_reviewer_on_a_results_url_never_gets_the_results(codes: None, demo_db: Path) -> None:
    at = sign_in_app("Ada", ADMIN)
    at.switch_page("app_pages/results.py").run()
    assert "Results" in [t.value for t in at.title]  # the admin gets the page
    at.session_state["swapcheck_user"] = {"user": User("Ada", "reviewer", "name"), "mode": "codes"}
    at.run()  # same session, same page requested, now as a reviewer
    assert_no_exception(at)
    assert "Results" not in [t.value for t in at.title]
    assert not at.dataframe and not at.get("plotly_chart")
    assert "win rate" not in browser_payload(at).lower()
    assert listed_pages(at) == {"review"}


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_every_admin_page_refuses_a_reviewer(page: str, codes: None, demo_db: Path) -> None:
    at = AppTest.from_file(str(PAGES_DIR / f"{page}.py"), default_timeout=120)
    at.session_state["swapcheck_user"] = {"user": User("Rita", "reviewer", "name"), "mode": "codes"}
    at.run()
    assert_no_exception(at)
    assert "This page is for admins" in at.warning[0].value
    assert not at.title and not at.metric and not at.dataframe and not at.button


@pytest.mark.parametrize("page", ("results", "home"))
def test_an_admin_page_refuses_a_visitor_who_has_not_signed_in(page: str, codes: None) -> None:
    at = AppTest.from_file(str(PAGES_DIR / f"{page}.py"), default_timeout=120).run()
    assert_no_exception(at)
    assert "Sign in first" in at.warning[0].value
    assert not at.title


def test_an_admin_sees_every_page_and_can_sign_out(codes: None, demo_db: Path) -> None:
    at = sign_in_app("Ada", ADMIN)
    assert listed_pages(at) == all_page_stems()
    metrics = {m.label: m.value for m in at.metric}  # the Overview is the admin's default page
    assert metrics["Studies"] == "1"
    assert any("Signed in as **Ada** (admin)" in c.value for c in at.sidebar.caption)
    at.sidebar.button(key="sign_out").click().run()
    assert_no_exception(at)
    assert [t.value for t in at.title] == ["Sign in"]
    assert not at.metric


def test_wrong_codes_are_refused_never_echoed_and_rate_limited(
    codes: None, demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(auth, "_now", lambda: clock[0])
    at = sign_in_app("Mallory", "hunter2-wrong-guess")
    assert "code is not right" in at.error[0].value
    assert "hunter2-wrong-guess" not in browser_payload(at)
    assert [t.value for t in at.title] == ["Sign in"]
    for n in range(2, auth.MAX_WRONG_CODES + 1):
        submit(at, "Mallory", f"guess-{n}")
        assert "code is not right" in at.error[0].value
    submit(at, "Mallory", ADMIN)  # right code, but the session is locked out
    assert "Too many wrong codes" in at.error[0].value and "Wait 30 s" in at.error[0].value
    assert [t.value for t in at.title] == ["Sign in"]
    clock[0] += auth.LOCKOUT_SECONDS - 1
    submit(at, "Mallory", ADMIN)
    assert "Too many wrong codes" in at.error[0].value and "Wait 1 s" in at.error[0].value
    clock[0] += 1.5
    submit(at, "Mallory", ADMIN)
    assert not at.error
    assert listed_pages(at) == all_page_stems()
    for widget in (*at.text_input, *at.button):
        assert ADMIN not in (widget.key or "")


def test_an_empty_name_or_missing_code_is_explained(codes: None) -> None:
    at = sign_in_app("   ", ACCESS)
    assert "Reviewer name is empty" in at.error[0].value and "Fix" in at.error[0].value
    submit(at, "Rita", "")
    assert "Enter the access code" in at.error[0].value
    assert [t.value for t in at.title] == ["Sign in"]


def test_with_only_an_admin_code_reviewers_need_just_a_name(
    monkeypatch: pytest.MonkeyPatch, demo_db: Path
) -> None:
    monkeypatch.setenv("SWAPCHECK_ADMIN_CODE", ADMIN)
    at = sign_in_app("Rita", "")
    assert listed_pages(at) == {"review"}


def test_codes_can_come_from_streamlit_secrets(demo_db: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["SWAPCHECK_ACCESS_CODE"] = ACCESS
    at.secrets["SWAPCHECK_ADMIN_CODE"] = ADMIN
    at.run()
    assert [t.value for t in at.title] == ["Sign in"]
    submit(at, "Rita", ACCESS)
    assert listed_pages(at) == {"review"}


# --- local demo --------------------------------------------------------------------------------


def test_the_local_demo_makes_everyone_admin_and_says_so(demo_db: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert_no_exception(at)
    assert listed_pages(at) == all_page_stems()
    assert {m.label: m.value for m in at.metric}["Studies"] == "1"
    assert "everyone is an admin" in at.sidebar.caption[0].value


def _sign_in_probe() -> None:
    import streamlit as st

    from swapcheck.ui.auth import sign_in

    user = sign_in()
    st.write(f"user={user.name}|{user.role}|{user.via}")


def test_local_sign_in_asks_only_a_name_and_makes_an_admin() -> None:
    at = AppTest.from_function(_sign_in_probe, default_timeout=60).run()
    assert_no_exception(at)
    assert len(at.text_input) == 1  # no code field when no code is configured
    assert "everyone who signs in is an **admin**" in at.info[0].value
    at.text_input[0].input("Dana")
    at.form_submit_button[0].click().run()
    assert_no_exception(at)
    assert at.markdown[0].value == "user=Dana|admin|name"


def test_configuring_codes_later_signs_the_local_admin_out(monkeypatch: pytest.MonkeyPatch) -> None:
    at = AppTest.from_function(_sign_in_probe, default_timeout=60).run()
    at.text_input[0].input("Dana")
    at.form_submit_button[0].click().run()
    assert at.markdown[0].value == "user=Dana|admin|name"
    monkeypatch.setenv("SWAPCHECK_ACCESS_CODE", ACCESS)
    at.run()
    assert [t.value for t in at.title] == ["Sign in"] and len(at.text_input) == 2


# --- OIDC --------------------------------------------------------------------------------------


def oidc_app(user: dict[str, object]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets.update(OIDC_SECRETS)
    at.user = user
    return at.run()


def test_oidc_offers_the_sign_in_button_and_keeps_secrets_server_side(demo_db: Path) -> None:
    at = oidc_app({"is_logged_in": False})
    assert_no_exception(at)
    assert [t.value for t in at.title] == ["Sign in"]
    assert [b.label for b in at.button] == ["Sign in with single sign-on"]
    assert not at.text_input  # no name or code form under OIDC
    at.button[0].click().run()  # st.login cannot reach a provider offline: a clear message
    assert_no_exception(at)
    assert "Fix" in at.error[0].value and "streamlit[auth]" in at.error[0].value
    payload = browser_payload(at)
    assert "client-secret-not-for-the-browser" not in payload
    assert "cookie-secret-not-for-the-browser" not in payload


def test_oidc_names_a_button_per_provider() -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "x",
        "google": {"client_id": "a", "client_secret": "b", "server_metadata_url": "c"},
        "okta": {"client_id": "a", "client_secret": "b", "server_metadata_url": "c"},
    }
    at.user = {"is_logged_in": False}
    at.run()
    assert_no_exception(at)
    assert [b.label for b in at.button] == ["Sign in with Google", "Sign in with Okta"]


def test_oidc_admin_by_email_list(monkeypatch: pytest.MonkeyPatch, demo_db: Path) -> None:
    monkeypatch.setenv("SWAPCHECK_ADMINS", "boss@example.com")
    at = oidc_app({"is_logged_in": True, "email": "Boss@Example.com", "name": "The Boss"})
    assert_no_exception(at)
    assert listed_pages(at) == all_page_stems()
    assert any("boss@example.com** (admin)" in c.value for c in at.sidebar.caption)


def test_oidc_reviewer_sees_only_review(monkeypatch: pytest.MonkeyPatch, demo_db: Path) -> None:
    monkeypatch.setenv("SWAPCHECK_ADMINS", "boss@example.com")
    at = oidc_app({"is_logged_in": True, "email": "intern@example.com"})
    assert_no_exception(at)
    assert listed_pages(at) == {"review"}
    assert any("intern@example.com** (reviewer)" in c.value for c in at.sidebar.caption)


@pytest.mark.parametrize(
    "claims",
    (
        {"name": "No Mail"},
        {"email": "boss@example.com", "email_verified": False},
        {"email": "a" * 60 + "@example.com"},
    ),
)
def test_oidc_without_a_usable_email_is_explained(
    claims: dict[str, object], monkeypatch: pytest.MonkeyPatch, demo_db: Path
) -> None:
    monkeypatch.setenv("SWAPCHECK_ADMINS", "boss@example.com")
    at = oidc_app({"is_logged_in": True, **claims})
    assert_no_exception(at)
    assert "e-mail" in at.error[0].value and "Fix" in at.error[0].value
    assert [b.label for b in at.button] == ["Sign out"]
    assert not at.metric and not listed_pages(at) & all_page_stems()
