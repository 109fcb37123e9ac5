"""Behavioural drift section of the one-file HTML sign-off report (escaped, offline)."""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

_HEADERS: tuple[str, ...] = (
    "slice",
    "value",
    "evaluator",
    "baseline",
    "candidate",
    "difference",
    "95% interval",
    "BH q",
    "p",
    "pairs",
    "direction",
    "explained by",
    "method",
)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def drift_number(value: Any, is_rate: bool, signed: bool = False) -> str:
    """A drift figure as text: rates in %, differences of rates in points, means to 3
    significant digits, ``n/a`` when missing (the Results page uses the same)."""
    if _missing(value):
        return "n/a"
    sign = "+" if signed else ""
    if is_rate:  # a difference of two rates is in percentage points
        return f"{float(value) * 100:{sign}.1f}" + (" pts" if signed else "%")
    return f"{float(value):{sign}.3g}"


def _p(value: Any) -> str:
    if _missing(value):
        return "n/a"
    return "<0.0001" if float(value) < 1e-4 else f"{float(value):.4f}"


def _row(row: pd.Series) -> str:
    rate = row["kind"] == "rate" and row.get("scope", "response") != "pair"
    text = [_e(row["slice"]), _e(row["value"]), _e(row["evaluator"])]
    nums = [
        drift_number(row["baseline"], rate),
        drift_number(row["candidate"], rate),
        drift_number(row["difference"], rate, signed=True),
        f"{drift_number(row['ci_low'], rate, True)} – {drift_number(row['ci_high'], rate, True)}",
        _p(row["q_value"]),
        _p(row["p_value"]),
        str(int(row["n"])),
    ]
    cells = "".join(f"<td>{t}</td>" for t in text)
    cells += "".join(f'<td class="num">{_e(n)}</td>' for n in nums)
    cells += (
        f"<td>{_e(row['direction'])}</td><td>{_e(row.get('explained_by', ''))}</td>"
        f"<td>{_e(row['method'])}</td>"
    )
    css = f' class="drift-{_e(row["direction"])}"' if row["direction"] else ""
    return f"<tr{css}>{cells}</tr>"


def _table(rows: pd.DataFrame) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in _HEADERS)
    body = "".join(_row(row) for _, row in rows.iterrows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def drift_section_html(table: pd.DataFrame | None) -> str:
    """``<section id="drift">``: flagged rows, then every row in a collapsed ``<details>``.

    Every value is ``html.escape``d; rates are shown in % (differences in points), means with
    three significant digits. An empty or missing table says there are no evaluator scores.
    """
    intro = (
        '<section id="drift"><h2>Behavioural drift</h2>'
        '<p class="note">Automatic evaluators on both answers of each prompt. Rates: '
        "Newcombe paired interval and exact McNemar test; means: paired t. Flagged when the "
        "Benjamini-Hochberg q-value (all slices and evaluators together) is within the FDR, "
        "the interval excludes 0 and the change reaches the practical minimum.</p>"
    )
    if table is None or table.empty:
        return (
            intro
            + "<p>No evaluator scores: run the evaluators to see behavioural drift.</p>"
            + ("</section>")
        )
    flagged = table[table["flagged"].astype(bool)].sort_values("q_value", kind="mergesort")
    if flagged.empty:
        top = f"<p>No behaviour change flagged across {len(table)} evaluator rows.</p>"
    else:
        noun = "change" if len(flagged) == 1 else "changes"
        top = f"<p><b>{len(flagged)} behaviour {noun} flagged.</b></p>{_table(flagged)}"
    every = f"<details><summary>All rows ({len(table)})</summary>{_table(table)}</details>"
    return f"{intro}{top}{every}</section>"
