"""PNG and SVG of plotly figures via kaleido and the system Chromium, one warm browser."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Literal

import plotly.graph_objects as go

from swapcheck.errors import ConfigError

CHROMIUM_ENV = "SWAPCHECK_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
START_TIMEOUT_S = 60.0
RENDER_TIMEOUT_S = 60.0
ImageFormat = Literal["png", "svg"]
FORMATS: tuple[str, ...] = ("png", "svg")


def find_chromium() -> Path:
    """The Chromium to render with: ``$SWAPCHECK_CHROMIUM``, else ``/usr/bin/chromium``.

    Raises ``ConfigError`` with the fix when neither is an executable file.
    """
    configured = os.environ.get(CHROMIUM_ENV, "").strip()
    candidates = [configured] if configured else [DEFAULT_CHROMIUM]
    if not configured:
        found = shutil.which("chromium") or shutil.which("chromium-browser")
        if found:
            candidates.append(found)
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file() and os.access(path, os.X_OK):
            return path
    where = f"${CHROMIUM_ENV}={configured!r}" if configured else DEFAULT_CHROMIUM
    raise ConfigError(
        f"No Chromium found at {where}; chart images (PNG/SVG) need one.",
        "Install it (apt-get install chromium) or set SWAPCHECK_CHROMIUM to the path of a "
        "Chrome/Chromium executable.",
    )


class ChartExporter:
    """One headless Chromium (a ``kaleido.Kaleido``) kept warm on a background event loop.

    The first export starts the browser (a second or two); later ones reuse it. Calls from
    several threads are serialised by a lock. ``close()`` stops the browser; the next export
    starts a new one.
    """

    def __init__(self, chromium: Path | None = None) -> None:
        self._chromium = chromium
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido: Any = None
        self.starts = 0
        """How many times a browser was started (1 while it stays warm)."""

    @property
    def running(self) -> bool:
        return self._kaleido is not None

    def _run(self, coro: Any, timeout: float) -> Any:
        assert self._loop is not None
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def _start(self) -> None:
        import kaleido

        chromium = self._chromium or find_chromium()
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="swapcheck-kaleido", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread

        async def open_browser() -> Any:
            # mathjax=False: no CDN script; plotly.js comes from the installed plotly package.
            browser = kaleido.Kaleido(path=str(chromium), mathjax=False)
            await browser.open()
            return browser

        try:
            self._kaleido = self._run(open_browser(), START_TIMEOUT_S)
        except Exception as exc:
            self._stop_loop()
            raise ConfigError(
                f"Chromium at {chromium} could not start for chart export ({exc}).",
                "Check that it runs headless (chromium --headless --version), or point "
                "SWAPCHECK_CHROMIUM at another Chrome/Chromium.",
            ) from exc
        self.starts += 1

    def _stop_loop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._loop is not None and not self._loop.is_running():
            self._loop.close()
        self._loop, self._thread = None, None

    def export(
        self,
        fig: go.Figure,
        fmt: ImageFormat = "png",
        *,
        width: int | None = None,
        height: int | None = None,
        scale: float = 1.0,
    ) -> bytes:
        """The figure as PNG or SVG bytes (default size: the figure's own, else 900 wide)."""
        if fmt not in FORMATS:
            raise ConfigError(f"Unknown image format {fmt!r}.", "Use png or svg.")
        layout = fig.layout
        opts = {
            "format": fmt,
            "width": width or layout.width or 900,
            "height": height or layout.height or 500,
            "scale": scale,
        }
        with self._lock:
            if self._kaleido is None:
                self._start()
            data = self._run(self._kaleido.calc_fig(fig, opts=opts), RENDER_TIMEOUT_S)
        return data if isinstance(data, bytes) else str(data).encode("utf-8")

    def close(self) -> None:
        """Stop the browser (if running) and its event loop."""
        with self._lock:
            if self._kaleido is not None:
                # a browser that already died must not block closing (or exiting)
                with contextlib.suppress(Exception):
                    self._run(self._kaleido.close(), 30.0)
                self._kaleido = None
            self._stop_loop()


_exporter: ChartExporter | None = None
_exporter_lock = threading.Lock()


def exporter() -> ChartExporter:
    """The process-wide exporter (its browser starts on first use and stays warm)."""
    global _exporter
    with _exporter_lock:
        if _exporter is None:
            _exporter = ChartExporter()
            atexit.register(_exporter.close)
        return _exporter


def figure_png(fig: go.Figure, **size: Any) -> bytes:
    """PNG bytes of a plotly figure, rendered by the warm browser."""
    return exporter().export(fig, "png", **size)


def figure_svg(fig: go.Figure, **size: Any) -> bytes:
    """SVG bytes (UTF-8 text) of a plotly figure, rendered by the warm browser."""
    return exporter().export(fig, "svg", **size)
