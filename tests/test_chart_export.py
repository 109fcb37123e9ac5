"""Chart images through kaleido and the system Chromium: PNG, SVG, one warm browser."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from swapcheck import chart_export
from swapcheck.chart_export import ChartExporter, find_chromium
from swapcheck.errors import ConfigError
from swapcheck.report import win_rate_figure
from swapcheck.stats import slice_tables

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}"


def _require_chromium() -> None:
    try:
        find_chromium()
    except ConfigError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def exporter() -> Iterator[ChartExporter]:
    _require_chromium()
    warm = ChartExporter()
    yield warm
    warm.close()


@pytest.fixture
def figure():
    judgments = pd.DataFrame(
        {
            "choice": ["candidate", "baseline", "tie", "candidate"] * 10,
            "feature": ["chat", "json_extract"] * 20,
        }
    )
    return win_rate_figure(slice_tables(judgments, ["feature"], min_n=5), margin=0.05)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_png_has_the_signature_and_the_asked_size(exporter: ChartExporter, figure) -> None:
    data = exporter.export(figure, "png", width=640, height=360)
    assert data.startswith(PNG_SIGNATURE)
    assert _png_size(data) == (640, 360)
    assert len(data) > 5_000  # a drawn chart, not an empty canvas
    double = exporter.export(figure, "png", width=320, height=200, scale=2)
    assert _png_size(double) == (640, 400)


def test_svg_parses_and_holds_the_slice_labels(exporter: ChartExporter, figure) -> None:
    data = exporter.export(figure, "svg")
    root = ET.fromstring(data)
    assert root.tag == f"{SVG_NS}svg"
    texts = {"".join(el.itertext()) for el in root.iter(f"{SVG_NS}text")}
    assert {"overall = all", "feature = chat", "feature = json_extract"} <= texts
    assert "Candidate win rate by slice" in texts


def test_the_browser_stays_warm(exporter: ChartExporter, figure) -> None:
    exporter.export(figure, "png")
    exporter.export(figure, "svg")
    assert exporter.running and exporter.starts == 1


def test_close_then_export_starts_a_new_browser(figure) -> None:
    _require_chromium()
    fresh = ChartExporter()
    try:
        assert fresh.export(figure, "png").startswith(PNG_SIGNATURE)
        fresh.close()
        assert not fresh.running
        assert fresh.export(figure, "png").startswith(PNG_SIGNATURE)
        assert fresh.starts == 2
    finally:
        fresh.close()


def test_module_helpers_share_one_exporter(figure) -> None:
    _require_chromium()
    try:
        assert chart_export.figure_png(figure).startswith(PNG_SIGNATURE)
        assert chart_export.figure_svg(figure).lstrip().startswith(b"<svg")
        assert chart_export.exporter() is chart_export.exporter()
        assert chart_export.exporter().starts == 1
    finally:
        chart_export.exporter().close()


def test_unknown_format_is_refused(figure) -> None:
    with pytest.raises(ConfigError, match="png or svg"):
        ChartExporter(Path("/nonexistent")).export(figure, "jpeg")  # type: ignore[arg-type]


def test_missing_chromium_is_a_config_error_with_a_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, figure
) -> None:
    monkeypatch.setenv("SWAPCHECK_CHROMIUM", str(tmp_path / "no-such-chromium"))
    with pytest.raises(ConfigError) as caught:
        find_chromium()
    assert "no-such-chromium" in caught.value.message
    assert "SWAPCHECK_CHROMIUM" in (caught.value.fix or "")
    with pytest.raises(ConfigError):
        ChartExporter().export(figure, "png")


def test_env_variable_picks_the_browser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "my-chrome"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("SWAPCHECK_CHROMIUM", str(fake))
    assert find_chromium() == fake
    fake.chmod(0o644)  # not executable: refused
    with pytest.raises(ConfigError):
        find_chromium()
