"""Results page: the behavioural drift table (evaluator scores, baseline vs candidate)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from swapcheck.report_drift import drift_number
from swapcheck.ui.render import neutralise_markdown

_SUMMARY_ITEMS = 5


def _arrow(row: pd.Series) -> str:
    """↑/↓ for the score going up or down (the direction column says worse or better)."""
    return "↑" if float(row["difference"]) > 0 else "↓"


def drift_summary(table: pd.DataFrame) -> str:
    """One line: how many changes are flagged and the first few, e.g. ``refusal ↑ in topic=x``.

    Plain text (slice values are untrusted); callers pass it through ``neutralise_markdown``.
    """
    flagged = table[table["flagged"].astype(bool)] if len(table) else table
    if flagged.empty:
        return f"No behaviour change flagged across {len(table)} evaluator rows."
    flagged = flagged.sort_values("q_value", kind="mergesort")
    items = []
    for _, row in flagged.head(_SUMMARY_ITEMS).iterrows():
        where = "overall" if row["slice"] == "overall" else f"{row['slice']}={row['value']}"
        is_rate = row["kind"] == "rate" and row["scope"] != "pair"
        diff = drift_number(row["difference"], is_rate, True)
        items.append(f"{row['evaluator']} {_arrow(row)} in {where} ({diff}, {row['direction']})")
    more = len(flagged) - len(items)
    tail = f" and {more} more" if more > 0 else ""
    noun = "change" if len(flagged) == 1 else "changes"
    return f"{len(flagged)} behaviour {noun} flagged: {'; '.join(items)}{tail}."


def drift_display(table: pd.DataFrame, flagged_only: bool = False) -> pd.DataFrame:
    """The table as shown: flagged rows first (then by q-value), rates in %, interval as text."""
    rows = table[table["flagged"].astype(bool)] if flagged_only else table
    rows = rows.assign(_order=~rows["flagged"].astype(bool)).sort_values(
        ["_order", "q_value", "p_value"], kind="mergesort", na_position="last"
    )
    is_rate = (rows["kind"] == "rate") & (rows["scope"] != "pair")
    scale = is_rate.map({True: 100.0, False: 1.0}).astype(float)
    interval = [
        f"{drift_number(lo, r, True)} – {drift_number(hi, r, True)}"
        for lo, hi, r in zip(rows["ci_low"], rows["ci_high"], is_rate, strict=True)
    ]
    return pd.DataFrame(
        {
            "flagged": rows["flagged"].astype(bool).to_numpy(),
            "direction": rows["direction"].to_numpy(dtype=object),
            "explained_by": (
                rows["explained_by"]
                if "explained_by" in rows.columns
                else pd.Series([""] * len(rows))
            ).to_numpy(dtype=object),
            "slice": rows["slice"].to_numpy(dtype=object),
            "value": rows["value"].astype(str).to_numpy(dtype=object),
            "evaluator": rows["evaluator"].to_numpy(dtype=object),
            "unit": is_rate.map({True: "%", False: "mean"}).to_numpy(dtype=object),
            "baseline": (rows["baseline"] * scale).to_numpy(dtype=float),
            "candidate": (rows["candidate"] * scale).to_numpy(dtype=float),
            "difference": (rows["difference"] * scale).to_numpy(dtype=float),
            "interval": interval,
            "q_value": rows["q_value"].to_numpy(dtype=float),
            "p_value": rows["p_value"].to_numpy(dtype=float),
            "n": rows["n"].to_numpy(),
            "method": rows["method"].to_numpy(dtype=object),
        }
    )


_COLUMN_CONFIG = {
    "flagged": st.column_config.CheckboxColumn(
        "flagged", help="q ≤ FDR, interval excludes 0, effect ≥ practical minimum, enough pairs"
    ),
    "unit": st.column_config.TextColumn("unit", help="% for rates (percentage points), else mean"),
    "explained_by": st.column_config.TextColumn(
        "explained by",
        help="changed here only through pairs it shares with these flagged slices",
    ),
    "baseline": st.column_config.NumberColumn("baseline", format="%.3g"),
    "candidate": st.column_config.NumberColumn("candidate", format="%.3g"),
    "difference": st.column_config.NumberColumn(
        "difference", format="%+.3g", help="candidate − baseline (points for rates)"
    ),
    "interval": st.column_config.TextColumn("95% interval"),
    "q_value": st.column_config.NumberColumn("BH q", format="%.4f"),
    "p_value": st.column_config.NumberColumn("p", format="%.4f"),
    "n": st.column_config.NumberColumn("pairs", format="%d"),
}


def render_drift(table: pd.DataFrame, key: str = "drift") -> pd.DataFrame | None:
    """Show the drift table with a one-line summary and a "flagged only" toggle.

    Returns the frame shown (None when there are no scores). Slice values and evaluator names
    are untrusted: the summary goes through ``neutralise_markdown``; ``st.dataframe`` shows
    cells as text.
    """
    if table is None or table.empty:
        st.info("No evaluator scores yet: run the evaluators to see behavioural drift.")
        return None
    st.markdown(neutralise_markdown(drift_summary(table)))
    flagged_only = st.toggle("Flagged only", key=f"{key}_flagged_only")
    shown = drift_display(table, flagged_only)
    st.dataframe(shown, column_config=_COLUMN_CONFIG, hide_index=True, key=f"{key}_table")
    st.caption(
        "Rates in %, differences in percentage points; response evaluators compare the two "
        "answers of the same prompt (paired). Flagged: Benjamini-Hochberg q ≤ FDR across all "
        "rows, the interval excludes 0 and the change is at least the practical minimum. A "
        "slice whose change disappears once stronger flagged slices are set aside is not "
        "flagged; *explained by* names them."
    )
    return shown
