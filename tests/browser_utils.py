"""Real-browser test helpers: the app as a Streamlit subprocess, headless Chromium, wait helpers.

Everything here waits on a condition with a bounded deadline (no fixed sleeps), so a test that
uses it either passes quickly or fails with a message instead of hanging.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.waiting import poll_until

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
SERVER_START_S = 60.0
"""Deadline for the Streamlit server to answer its health check."""
PAGE_TIMEOUT_MS = 30_000
"""Default deadline of every Playwright wait and action."""


def require_browser() -> None:
    """Skip (with the reason) when the Playwright package or Debian's Chromium is missing."""
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("the playwright Python package is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StreamlitApp:
    """``streamlit run app.py`` on a free loopback port, output in a log file."""

    def __init__(self, db: Path | str, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {**os.environ, "SWAPCHECK_DB": str(db), "SWAPCHECK_NO_DEMO": "1"}
        args = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(APP),
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ]
        with open(log_path, "wb") as log:  # a file, not a pipe: the server can never block on it
            self.proc = subprocess.Popen(
                args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    def wait_healthy(self, timeout: float = SERVER_START_S) -> None:
        def healthy() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"streamlit exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:
                    return reply.read().strip() == b"ok"
            except OSError:
                return False  # not listening yet

        if not poll_until(healthy, timeout, interval=0.1):
            pytest.fail(f"streamlit not healthy after {timeout:.0f} s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@contextmanager
def streamlit_app(db: Path, log_path: Path) -> Iterator[StreamlitApp]:
    """The running app; always stopped. Its log is printed at teardown, which pytest shows
    (as "Captured stdout teardown") only when the test failed."""
    app = StreamlitApp(db, log_path)
    try:
        app.wait_healthy()
        yield app
    finally:
        app.stop()
        print(f"----- streamlit log (exit code {app.proc.returncode}) -----\n{app.log()}")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian Chromium driven by Playwright's sync API."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# True once the app finished its script run, nothing from the previous run is still shown and no
# lazily loaded part (e.g. the code-block highlighter behind a code fence) still shows its
# placeholder. Streamlit marks the root with data-test-script-state, leftovers of an earlier run
# with data-stale="true" and Suspense placeholders with data-testid="stSkeleton"; a version
# without these attributes only loses the matching guard.
_APP_IDLE_JS = """
() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return false;
  const state = app.dataset.testScriptState;
  if (state !== undefined && state !== 'notRunning') return false;
  const link = app.dataset.testConnectionState;
  if (link !== undefined && link !== 'CONNECTED') return false;
  return document.querySelector('[data-stale="true"], [data-testid="stSkeleton"]') === null;
}
"""


def wait_app_idle(page: Any) -> None:
    page.wait_for_function(_APP_IDLE_JS)


def focus_is_editable(page: Any) -> bool:
    """Whether keystrokes would go into a text field (where Streamlit ignores shortcuts)."""
    return page.evaluate(
        """() => {
          const el = document.activeElement;
          if (!el) return false;
          const tag = el.tagName.toLowerCase();
          return tag === 'input' || tag === 'textarea' || tag === 'select' || el.isContentEditable;
        }"""
    )
