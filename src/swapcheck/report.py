"""Plotly figures and spreadsheet-safe CSV exports built from stats tables."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import numbers
from typing import Any

import pandas as pd
import plotly.graph_objects as go

VERDICT_COLORS: dict[str, str] = {
    "worse": "#d62728",
    "better": "#2ca02c",
    "inconclusive": "#7f7f7f",
}
"""Marker and error-bar colour per verdict (red = regression, green = improvement)."""

_VERDICT_ORDER: tuple[str, ...] = ("worse", "inconclusive", "better")
_FIGURE_COLUMNS: tuple[str, ...] = ("slice", "value", "n", "win_rate", "ci_low", "ci_high")
_MAX_LABEL_CHARS = 80
_FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\n")


def plain_text(value: Any) -> str:
    """User data as plain text for plotly labels: ``<``/``>`` become ``‹``/``›``.

    Plotly renders a subset of HTML tags (``<b>``, ``<a href>``, ``<br>``...) in text,
    so angle brackets from user data must never reach it.
    """
    return str(value).replace("<", "‹").replace(">", "›")


def _short(label: str) -> str:
    if len(label) <= _MAX_LABEL_CHARS:
        return label
    return label[: _MAX_LABEL_CHARS - 1] + "…"


def _row_label(row: pd.Series) -> str:
    label = _short(f"{plain_text(row['slice'])} = {plain_text(row['value'])}")
    if bool(row.get("low_n", False)):
        label += f" (low n={int(row['n'])})"
    return label


def _hover(row: pd.Series) -> str:
    def pct(x: Any) -> str:
        return "n/a" if pd.isna(x) else f"{float(x):.1%}"

    lines = [
        f"{plain_text(row['slice'])} = {plain_text(row['value'])}",
        f"win rate {pct(row['win_rate'])} (CI {pct(row['ci_low'])} – {pct(row['ci_high'])})",
        f"n = {int(row['n'])}",
    ]
    if "ties" in row.index:
        lines.append(f"ties = {int(row['ties'])}")
    if "both_bad_rate" in row.index:
        lines.append(f"both bad = {pct(row['both_bad_rate'])}")
    if "sign_test_p" in row.index and not pd.isna(row["sign_test_p"]):
        lines.append(f"sign test p = {float(row['sign_test_p']):.3g}")
    if "verdict" in row.index:
        lines.append(f"verdict: {plain_text(row['verdict'])}")
    if bool(row.get("low_n", False)):
        lines.append("few judgments: treat with care")
    return "<br>".join(lines)


def win_rate_figure(
    table: pd.DataFrame,
    title: str = "Candidate win rate by slice",
    margin: float | None = None,
) -> go.Figure:
    """Forest plot of a ``stats.win_rate_table``/``slice_tables`` frame, one row per slice value.

    With ``margin``, a dotted line marks the non-inferiority bound ``0.5 - margin``.

    Each row is a marker at ``win_rate`` with asymmetric error bars to ``ci_low``/``ci_high``,
    coloured by ``verdict`` (one trace per verdict, so the legend explains the colours).
    Rows flagged ``low_n`` get a hollow marker and a "(low n=…)" suffix. Rows keep the table
    order top to bottom, on numeric y positions so identical labels never merge. All text
    from the table is passed through :func:`plain_text`.
    """
    missing = [c for c in _FIGURE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"table is missing column(s) {missing}; pass a stats.win_rate_table")
    rows = table.reset_index(drop=True)
    verdicts = (
        rows["verdict"].astype(object).fillna("inconclusive")
        if "verdict" in rows.columns
        else pd.Series(["inconclusive"] * len(rows), dtype=object)
    )
    labels = [_row_label(row) for _, row in rows.iterrows()]

    fig = go.Figure()
    for verdict in _VERDICT_ORDER:
        idx = [i for i, v in enumerate(verdicts) if v == verdict]
        if not idx:
            continue
        part = rows.iloc[idx]
        low_n = (
            part["low_n"].astype(bool).tolist() if "low_n" in part.columns else [False] * len(idx)
        )
        color = VERDICT_COLORS[verdict]
        fig.add_trace(
            go.Scatter(
                x=part["win_rate"].astype(float).tolist(),
                y=idx,
                mode="markers",
                name=verdict,
                marker={
                    "color": color,
                    "size": 10,
                    "symbol": ["circle-open" if low else "circle" for low in low_n],
                    "line": {"color": color, "width": 2},
                },
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (part["ci_high"] - part["win_rate"]).astype(float).tolist(),
                    "arrayminus": (part["win_rate"] - part["ci_low"]).astype(float).tolist(),
                    "color": color,
                    "thickness": 2,
                    "width": 4,
                },
                hovertext=[_hover(row) for _, row in part.iterrows()],
                hoverinfo="text",
            )
        )

    fig.add_vline(
        x=0.5,
        line_dash="dash",
        line_color="#444444",
        annotation_text="parity",
        annotation_position="top",
    )
    if margin is not None:
        fig.add_vline(
            x=0.5 - margin,
            line_dash="dot",
            line_color="#d62728",
            annotation_text=f"bound {0.5 - margin:.2f}",
            annotation_position="bottom",
        )
    if rows.empty:
        fig.add_annotation(
            text="no judgments yet", x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False
        )
    fig.update_layout(
        title={"text": plain_text(title)},
        xaxis={
            "title": {"text": "candidate win rate (ties = ½)"},
            "range": [0, 1],
            "tickformat": ".0%",
            "zeroline": False,
        },
        yaxis={
            "tickmode": "array",
            "tickvals": list(range(len(labels))),
            "ticktext": labels,
            "autorange": "reversed",
            "title": None,
        },
        height=max(260, 140 + 30 * len(labels)),
        legend={"title": {"text": "verdict"}},
        margin={"l": 10, "r": 10, "t": 70, "b": 50},
        hovermode="closest",
    )
    return fig


def ratings_figure(
    table: pd.DataFrame, title: str = "Variant ratings (Bradley-Terry)"
) -> go.Figure:
    """Ratings of ``ratings.variant_ratings`` with their bootstrap 95% intervals, best on top;
    a dashed line marks the average (1000). Variant names pass through :func:`plain_text`."""
    rows = table.reset_index(drop=True)
    has_ci = rows["ci_low"].notna() & rows["ci_high"].notna()
    fig = go.Figure(
        go.Scatter(
            x=rows["rating"].astype(float).tolist(),
            y=list(range(len(rows))),
            mode="markers",
            marker={"color": "#1f77b4", "size": 10},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (rows["ci_high"] - rows["rating"]).where(has_ci, 0).astype(float).tolist(),
                "arrayminus": (rows["rating"] - rows["ci_low"])
                .where(has_ci, 0)
                .astype(float)
                .tolist(),
                "thickness": 2,
                "width": 4,
            },
            hovertext=[
                plain_text(
                    f"{r.variant}: {r.rating:.0f}"
                    + (f" (95% CI {r.ci_low:.0f} – {r.ci_high:.0f})" if ok else "")
                    + f", {int(r.n)} comparisons"
                )
                for r, ok in zip(rows.itertuples(index=False), has_ci, strict=True)
            ],
            hoverinfo="text",
            showlegend=False,
        )
    )
    fig.add_vline(x=1000, line_dash="dash", line_color="#444444")
    fig.update_layout(
        title=plain_text(title),
        xaxis_title="rating (1000 = average; +100 ≈ wins 64% against the lower one)",
        yaxis={
            "tickmode": "array",
            "tickvals": list(range(len(rows))),
            "ticktext": [_short(plain_text(v)) for v in rows["variant"]],
            "autorange": "reversed",
        },
        height=max(220, 60 + 36 * len(rows)),
        margin={"l": 10, "r": 10, "t": 50, "b": 50},
        template="plotly_white",
    )
    return fig


def neutralise_cell(value: Any) -> Any:
    """Prefix a string that a spreadsheet could run as a formula with ``'``; others unchanged.

    Follows OWASP CSV-injection guidance: cells starting with ``= + - @``, tab, carriage
    return (or line feed) are neutralised, also after leading spaces, which some
    spreadsheets skip before looking for a formula.
    """
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(_FORMULA_PREFIXES) or value.lstrip(" ").startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def _safe_object(value: Any) -> Any:
    """Neutralise a cell of an object column; other objects (dicts, lists) via their text."""
    if isinstance(value, str):
        return neutralise_cell(value)
    if value is None or isinstance(
        value, numbers.Number | dt.date | dt.time | dt.timedelta | decimal.Decimal
    ):
        return value
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return value
    return neutralise_cell(str(value))


def _is_text_column(series: pd.Series) -> bool:
    """Whether a column can hold text (object, string or categorical), so may need neutralising."""
    return (
        pd.api.types.is_object_dtype(series)
        or pd.api.types.is_string_dtype(series)
        or isinstance(series.dtype, pd.CategoricalDtype)
    )


def to_safe_csv(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV (with BOM, so Excel detects the encoding) safe to open in a spreadsheet.

    Every string cell and header that could start a formula gets a leading ``'``
    (:func:`neutralise_cell`); numeric, boolean and missing cells are written unchanged.
    The index is not written. Fields are quoted as needed by the ``csv`` module, so commas,
    quotes and newlines inside text cannot start a new cell.
    """
    safe = df.copy()
    for col in safe.columns:
        series = safe[col]
        if not _is_text_column(series):
            continue
        safe[col] = series.astype(object).map(_safe_object)
    safe.columns = [neutralise_cell(c) for c in safe.columns]
    buffer = io.StringIO()
    safe.to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    return buffer.getvalue().encode("utf-8-sig")


def _parquet_object(value: Any) -> Any:
    """An object cell for Parquet: text neutralised, dicts/lists as JSON text, others kept."""
    if isinstance(value, dict | list | tuple):
        return neutralise_cell(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str))
    return _safe_object(value)


def to_safe_parquet(df: pd.DataFrame) -> bytes:
    """Parquet bytes of ``df`` with the same formula neutralising as :func:`to_safe_csv`.

    Spreadsheets and BI tools import Parquet too, so every text cell and column name that
    could start a formula gets a leading ``'``. Object columns holding dicts or lists (a
    judgment's ``criteria``, ``reason_tags``) are written as JSON text; numbers, booleans,
    timestamps and missing values keep their types. The index is not written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    safe = df.copy()
    for col in safe.columns:
        series = safe[col]
        if not _is_text_column(series):
            continue
        cells = series.astype(object).map(_parquet_object)
        kinds = {type(v) for v in cells if v is not None and not (isinstance(v, float) and v != v)}
        if len(kinds) > 1:  # mixed text and numbers: one Parquet type, so all as text
            cells = cells.map(lambda v: v if v is None or isinstance(v, str) else str(v))
        safe[col] = cells
    safe.columns = [str(neutralise_cell(str(c))) for c in safe.columns]
    table = pa.Table.from_pandas(safe, preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()
