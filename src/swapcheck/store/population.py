"""The prompts a study may draw from: a filter applied in DuckDB, and slice values for the UI."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from swapcheck.sampling import MISSING, PromptFilter
from swapcheck.store.connection import Store, first_row
from swapcheck.store.jsonpath import metadata_path
from swapcheck.store.sources import prompts_of_sources


class _Params:
    """Numbered placeholders (``$1``, ``$2``...) for values bound as parameters, never inlined."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def __call__(self, value: object) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def escape_like(text: str) -> str:
    """``text`` as a literal LIKE pattern fragment under ``ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _slice_condition(bind: _Params, column: str, values: tuple[str, ...]) -> str:
    value = f"json_extract_string(metadata, {bind(metadata_path(column))})"
    present = [v for v in values if v != MISSING]
    parts = [f"list_contains({bind(present)}::VARCHAR[], {value})"] if present else []
    if MISSING in values:
        parts += [f"{value} IS NULL", f"{value} = {bind(MISSING)}"]
    return "(" + " OR ".join(parts) + ")"


def _where(bind: _Params, source_ids: list[str], flt: PromptFilter) -> str:
    """The WHERE clause of ``flt`` over the given sources (narrowed by ``flt.source_ids``)."""
    clauses = [prompts_of_sources(bind(list(source_ids)))]
    if flt.source_ids:
        clauses.append(prompts_of_sources(bind(list(flt.source_ids))))
    for column, values in flt.slice_values.items():
        if values:
            clauses.append(_slice_condition(bind, column, values))
    if flt.logged_from is not None:
        clauses.append(f"logged_at >= {bind(flt.logged_from)}")
    if flt.logged_to is not None:
        clauses.append(f"logged_at < {bind(flt.logged_to)}")
    if flt.text_search:
        pattern = "%" + escape_like(flt.text_search) + "%"
        clauses.append(f"prompt_text ILIKE {bind(pattern)} ESCAPE '\\'")
    return " AND ".join(clauses)


def population_frame(
    store: Store, source_ids: list[str], flt: PromptFilter, strata: tuple[str, ...] | list[str]
) -> pd.DataFrame:
    """Prompts of ``source_ids`` that pass ``flt``: ``prompt_id``, ``weight`` (log rows the
    prompt stands for, at least 1) and one column per stratum (its value, or None when absent),
    sorted by prompt_id."""
    bind = _Params()
    selects = [
        f"json_extract_string(metadata, {bind(metadata_path(col))}) AS s_{i}"
        for i, col in enumerate(strata)
    ]
    where = _where(bind, source_ids, flt)
    # weight: log rows the prompt stands for in the chosen sources together
    in_sources = bind(list(flt.source_ids or source_ids))
    sql = (
        "SELECT prompt_id, greatest(coalesce(ps.rows, 1), 1)::BIGINT AS weight"
        + "".join(", " + s for s in selects)
        + " FROM prompts JOIN (SELECT prompt_id, sum(weight) AS rows FROM prompt_sources "
        f"WHERE list_contains({in_sources}::VARCHAR[], source_id) GROUP BY prompt_id) ps "
        f"USING (prompt_id) WHERE {where} ORDER BY prompt_id"
    )
    with store.cursor() as cur:
        frame = cur.execute(sql, bind.values).df()
    frame = frame.rename(columns={f"s_{i}": col for i, col in enumerate(strata)})
    for col in strata:
        values = frame[col].astype(object)
        frame[col] = values.where(values.notna(), None)
    return frame


def slice_values(
    store: Store, source_ids: list[str], column: str, limit: int = 500
) -> list[tuple[str, int]]:
    """Values of slice ``column`` with their prompt counts, most frequent first (``MISSING``
    for absent or null), at most ``limit`` of them."""
    with store.cursor() as cur:
        rows = cur.execute(
            "SELECT coalesce(json_extract_string(metadata, $2), $3) AS value, count(*) AS n "
            f"FROM prompts WHERE {prompts_of_sources('$1')} "
            "GROUP BY value ORDER BY n DESC, value LIMIT $4",
            [list(source_ids), metadata_path(column), MISSING, int(limit)],
        ).fetchall()
    return [(str(value), int(n)) for value, n in rows]


def logged_time_range(
    store: Store, source_ids: list[str]
) -> tuple[datetime | None, datetime | None]:
    """Earliest and latest ``logged_at`` of the sources' prompts (None, None without any)."""
    with store.cursor() as cur:
        row = first_row(
            cur.execute(
                "SELECT min(logged_at), max(logged_at) FROM prompts "
                f"WHERE {prompts_of_sources('$1')}",
                [list(source_ids)],
            )
        )
    return (row[0], row[1]) if row else (None, None)
