"""Helpers for Streamlit AppTest: open a page through the router, dump what reaches the browser."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_page(page: str, timeout: float = 120) -> AppTest:
    """Run the app and switch to ``app_pages/<page>.py``; fails on any exception element."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.run()
    at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert_no_exception(at)
    return at


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def browser_payload(at: AppTest) -> str:
    """Text of every element proto the browser would receive (labels, bodies, keys, options)."""
    chunks: list[str] = []

    def walk(node) -> None:  # type: ignore[no-untyped-def]
        proto = getattr(node, "proto", None)
        if proto is not None:
            chunks.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(chunks)
