"""Results page exports: Parquet tables, the chart as PNG/SVG and the one-file sign-off report."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from swapcheck.errors import SwapcheckError
from swapcheck.report import to_safe_parquet
from swapcheck.store import Store
from swapcheck.store.studies import Study
from swapcheck.ui.render import user_errors

PARQUET = "application/vnd.apache.parquet"


def exports_section(
    store: Store,
    study: Study,
    table: pd.DataFrame,
    judgments: pd.DataFrame,
    figure: go.Figure,
    by: list[str],
    min_n: int,
) -> None:
    """Parquet at once; images and the HTML report built on request (they need Chromium)."""
    st.subheader("Exports")
    c1, c2 = st.columns(2)
    c1.download_button(
        "Slice table (Parquet)", to_safe_parquet(table), file_name="slice-table.parquet",
        mime=PARQUET,
    )  # fmt: skip
    c2.download_button(
        "All judgments (Parquet)", to_safe_parquet(judgments), file_name="judgments.parquet",
        mime=PARQUET,
    )  # fmt: skip
    key = f"exports-{study.study_id}-{','.join(by)}-{min_n}-{len(judgments)}"
    if st.button("Prepare the chart images and the sign-off report", key="prepare_exports"):
        st.session_state["results_exports"] = {
            "key": key,
            **_prepare(store, study, figure, by, min_n),
        }
    ready: dict[str, Any] | None = st.session_state.get("results_exports")
    if not ready or ready.get("key") != key:
        st.caption(
            "The sign-off report is one self-contained HTML file (charts included, no network "
            "needed to open it): verdict, slice table, agreement, reviewers, variants and their "
            "exact settings, sample design, worst examples and a hash of the data. The same "
            "file comes from `swapcheck report --study NAME --out FILE.html`."
        )
        return
    d1, d2, d3 = st.columns(3)
    if ready.get("html"):
        d1.download_button(
            "Sign-off report (HTML)", ready["html"], file_name="signoff-report.html",
            mime="text/html",
        )  # fmt: skip
    if ready.get("png"):
        d2.download_button("Chart (PNG)", ready["png"], file_name="win-rates.png", mime="image/png")
        d3.download_button(
            "Chart (SVG)", ready["svg"], file_name="win-rates.svg", mime="image/svg+xml"
        )
    if ready.get("image_problem"):
        st.warning(ready["image_problem"])


def _prepare(
    store: Store, study: Study, figure: go.Figure, by: list[str], min_n: int
) -> dict[str, Any]:
    from swapcheck.analysis import analyse_study
    from swapcheck.chart_export import figure_png, figure_svg
    from swapcheck.report_html import render_report

    out: dict[str, Any] = {}
    with user_errors("The sign-off report could not be built"):
        out["html"] = render_report(analyse_study(store, study, by, min_n)).encode("utf-8")
    try:
        with st.spinner("Rendering the chart images (headless Chromium)…"):
            out["png"], out["svg"] = figure_png(figure), figure_svg(figure)
    except SwapcheckError as exc:  # e.g. no Chromium on this machine: say how to get one
        out["image_problem"] = f"Chart images are not available: {exc}"
    except Exception as exc:  # the browser failed: say so, keep the report
        out["image_problem"] = (
            f"Chart images could not be rendered ({type(exc).__name__}); the HTML report "
            "holds the same charts."
        )
    return out
