"""Safe rendering of untrusted text (prompts, model output) and friendly error display."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator

import streamlit as st

from swapcheck.errors import SwapcheckError

log = logging.getLogger("swapcheck.ui")

_IMAGE = re.compile(r"!\[")
_HTML_CHARS = str.maketrans({"<": "&lt;", ">": "&gt;"})
_FENCE = re.compile(r"^(\s*)(```|~~~)")
_INLINE_CODE = re.compile(r"(`+)(?:.+?)\1")


def _neutralise_prose(segment: str) -> str:
    segment = segment.translate(_HTML_CHARS)
    segment = _IMAGE.sub(r"!\\[", segment)
    return segment.replace("$", r"\$")


def _neutralise_line(line: str) -> str:
    parts: list[str] = []
    last = 0
    for match in _INLINE_CODE.finditer(line):
        parts.append(_neutralise_prose(line[last : match.start()]))
        parts.append(match.group(0))
        last = match.end()
    parts.append(_neutralise_prose(line[last:]))
    return "".join(parts)


def neutralise_markdown(text: str) -> str:
    """Markdown that shows untrusted text as written: no HTML, no remote images, no LaTeX.

    Streamlit already refuses raw HTML unless ``unsafe_allow_html`` is set (it never is for
    untrusted text); on top of that, angle brackets are escaped outside code blocks, image syntax
    becomes a plain link (no request to a remote host when a reviewer opens the page), and ``$``
    is escaped so prices are not typeset as formulas.
    """
    out: list[str] = []
    in_code = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_code = not in_code
            out.append(line)
            continue
        if in_code:
            out.append(line)
            continue
        out.append(_neutralise_line(line))
    return "\n".join(out)


def show_untrusted(text: str) -> None:
    """Render model output or uploaded text as escaped markdown."""
    if not text.strip():
        st.caption("(empty answer)")
        return
    st.markdown(neutralise_markdown(text))


@contextlib.contextmanager
def user_errors(what: str = "That did not work") -> Iterator[None]:
    """Show swapcheck errors as message + fix, anything else as a generic note; no traceback."""
    try:
        yield
    except SwapcheckError as exc:
        # Messages quote file names, column names and values from uploads: untrusted text.
        fix = f"\n\n**Fix:** {neutralise_markdown(exc.fix)}" if exc.fix else ""
        st.error(f"{what}: {neutralise_markdown(exc.message)}{fix}")
    except Exception:  # the browser must never see a traceback
        log.exception("unexpected error in page")
        st.error(f"{what}: an unexpected error occurred; the details are in the server log.")
