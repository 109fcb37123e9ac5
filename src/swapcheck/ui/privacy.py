"""Privacy page sections: built-in detectors, custom patterns, provider text, a try-it box."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from swapcheck import redaction_config as rc
from swapcheck.redact import DISABLEABLE_KINDS
from swapcheck.redaction_config import BUILTIN_DETECTORS, RedactionConfig
from swapcheck.store import Store
from swapcheck.ui.render import show_untrusted, user_errors

_FLASH = "privacy_flash"
_PROVIDER_CHOICES = {
    "original": "Original text (default)",
    "redacted": "Redacted text",
}


def _saved(message: str) -> None:
    """Remember a confirmation and rerun, so every section shows the stored configuration."""
    st.session_state[_FLASH] = message
    st.rerun()


def show_flash() -> None:
    message = st.session_state.pop(_FLASH, None)
    if message:
        st.success(message)


def _state(kind: str, config: RedactionConfig) -> str:
    if kind not in DISABLEABLE_KINDS:
        return "always on"
    return "off" if kind in config.disabled_kinds else "on"


def render_detectors(store: Store, config: RedactionConfig) -> None:
    st.subheader("Built-in detectors")
    st.caption(
        "Run on every prompt, system prompt, earlier turn and answer before a reviewer sees it; "
        "a match is replaced by its kind in brackets. The examples use made-up values."
    )
    rows = [
        {
            "kind": kind,
            "detects": what,
            "example": example,
            "reviewers see": config.redactor.redact(example),
            "state": _state(kind, config),
        }
        for kind, (what, example) in BUILTIN_DETECTORS.items()
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    with st.expander("Turn off a detector"), st.form("privacy_disabled"):
        st.markdown(
            "Only **PHONE** and **IP** can be turned off, for products where those values are not "
            "about people (server addresses in an ops tool, hotline or order numbers that look "
            "like phones) and the placeholders would hide what reviewers need to judge. E-mails, "
            "IBANs, card numbers and secrets are always masked. Turning a detector off shows "
            "those values to every reviewer: make it a conscious, documented choice."
        )
        chosen = st.multiselect(
            "Detectors turned off",
            list(DISABLEABLE_KINDS),
            default=list(config.disabled_kinds),
            key="privacy_disabled_kinds",
        )
        if st.form_submit_button("Save detectors"):
            with user_errors("Could not change the detectors"):
                rc.set_disabled_kinds(store, chosen)
                _saved("Detectors saved: " + (", ".join(chosen) or "none") + " turned off.")


def render_custom_patterns(store: Store, config: RedactionConfig) -> None:
    st.subheader("Custom patterns")
    st.caption(
        "Your own identifiers (ticket, customer or contract numbers, internal host names): a "
        "kind (letters, digits, _) and a Python regular expression. Keep patterns simple: they "
        "run on every text shown to reviewers (avoid nested repeats such as `(a+)+`)."
    )
    if config.custom_patterns:
        st.dataframe(
            pd.DataFrame(config.custom_patterns, columns=["kind", "regex"]), hide_index=True
        )
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        kind = c1.selectbox(
            "Pattern to remove", [k for k, _ in config.custom_patterns], key="privacy_remove"
        )
        if c2.button("Remove pattern", key="privacy_remove_button"):
            with user_errors("Could not remove the pattern"):
                rc.remove_pattern(store, kind)
                _saved(f"Removed pattern {kind}.")
    else:
        st.caption("No custom pattern yet.")
    with st.form("privacy_add_pattern", clear_on_submit=False):
        c1, c2 = st.columns([1, 3])
        kind = c1.text_input("Kind", placeholder="TICKET", key="privacy_new_kind")
        regex = c2.text_input("Regex", placeholder=r"TCK-\d{6}", key="privacy_new_regex")
        if st.form_submit_button("Add pattern"):
            with user_errors("Could not add the pattern"):
                config = rc.add_pattern(store, kind, regex)
                _saved(f"Added pattern {config.custom_patterns[-1][0]}.")


def render_provider_text(store: Store, config: RedactionConfig) -> None:
    st.subheader("What model providers receive")
    st.markdown(
        "Reviewers always see redacted text. Generation can send the providers either the "
        "**original** prompts (the default: the model needs the real text to answer as it would "
        "in production, e.g. to use the customer's e-mail in a reply) or the **redacted** ones, "
        "for teams whose policy forbids sending personal data to a new vendor. Redacted prompts "
        "change what the candidate is evaluated on: generate both variants under the same "
        "choice, and expect a redacted candidate to lose against the `logged` baseline (answered "
        "on the original text) wherever the masked values matter. Switching makes the next "
        "generation run answer again every prompt whose text changes."
    )
    with st.form("privacy_provider_text"):
        choice = st.radio(
            "Send to providers",
            list(_PROVIDER_CHOICES),
            index=list(_PROVIDER_CHOICES).index(config.provider_text),
            format_func=_PROVIDER_CHOICES.__getitem__,
            horizontal=True,
            key="privacy_provider_choice",
        )
        if st.form_submit_button("Save"):
            with user_errors("Could not save the choice"):
                rc.set_provider_text(store, choice)
                _saved(f"Providers now receive the {choice} text.")


def render_try_it(config: RedactionConfig) -> None:
    st.subheader("Try it")
    text = st.text_area(
        "Text to redact",
        placeholder="Paste a prompt or an answer to see what reviewers would see.",
        key="privacy_try",
        max_chars=20_000,
    )
    if text:
        findings = config.redactor.find(text)
        kinds = sorted({f.kind for f in findings})
        st.caption(
            f"{len(findings)} finding{'' if len(findings) == 1 else 's'}"
            + (f": {', '.join(kinds)}" if kinds else "")
            + ". Reviewers see:"
        )
        with st.container(border=True):
            show_untrusted(config.redactor.redact(text))
