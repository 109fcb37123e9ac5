"""Ingest on PostgreSQL pulls only the rows of the file it reads, and ends where DuckDB ends."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swapcheck.ingest import ColumnMapping
from swapcheck.pipeline import ingest_file
from swapcheck.store import Store, ingest_stage
from swapcheck.store.postgres import PostgresStore
from swapcheck.store.transfer import read_table, row_keys, table_columns
from tests.helpers import small_log_rows, write_jsonl

MAPPING = ColumnMapping(
    prompt_column="prompt",
    id_column="id",
    response_column="response",
    slice_columns=("feature", "locale"),
)
CHECKED = ("sources", "prompts", "prompt_sources", "quarantine", "responses", "variants")
CLOCKS = {"ingested_at", "created_at", "updated_at", "logged"}
"""Bookkeeping timestamps: each store writes its own."""


def _write_lines(path: Path, rows: list[Any]) -> Path:
    """JSON lines, where a str row is written as it is (a broken line)."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ingest_sequence(store: Any, tmp_path: Path) -> list[tuple[int, int, int, int]]:
    """Every path of ingest that reads or changes stored rows, in one order."""
    rows = small_log_rows(40)
    first = _write_lines(tmp_path / "traffic.jsonl", [*rows[:30], '{"id": "broken', rows[5]])
    overlapping = write_jsonl(tmp_path / "other.jsonl", rows[25:40])  # 5 prompts in common
    fixed = write_jsonl(tmp_path / "traffic-v2.jsonl", rows[2:30])  # new version: 2 rows gone
    answers = write_jsonl(
        tmp_path / "export.jsonl",
        [{"request": f"r{i}", "output": f"export {i}"} for i in (1, 3, 5, 33)]
        + [{"request": "r404", "output": "unknown id"}],
    )
    more_answers = write_jsonl(  # another export: r1 is kept as first stored, r7 is new
        tmp_path / "export-2.jsonl",
        [{"request": "r1", "output": "export 1, again"}, {"request": "r7", "output": "export 7"}],
    )
    shadow = write_jsonl(
        tmp_path / "shadow.jsonl",
        [{**r, "response": f"shadow {r['id']}"} for r in rows[:12]],
    )
    reports = [
        ingest_file(store, first, mapping=MAPPING),
        ingest_file(store, overlapping, mapping=MAPPING),
        ingest_file(store, fixed, mapping=MAPPING, source_name="traffic.jsonl"),
        ingest_file(
            store,
            answers,
            mapping=ColumnMapping(
                id_column="request", response_column="output", response_variant="export"
            ),
        ),
        ingest_file(
            store,
            more_answers,
            mapping=ColumnMapping(
                id_column="request", response_column="output", response_variant="export"
            ),
        ),
        ingest_file(store, shadow, mapping=MAPPING.with_overrides(response_variant="shadow")),
        ingest_file(store, fixed, mapping=MAPPING, source_name="traffic.jsonl"),  # a no-op
    ]
    return [
        (r.rows_ingested, r.rows_duplicate, r.rows_rejected, r.logged_responses) for r in reports
    ]


def _content(store: Any, reference: Any) -> dict[str, list[str]]:
    out = {}
    for table in CHECKED:
        columns = [c for c in table_columns(reference, table) if c not in CLOCKS]
        out[table] = sorted(row_keys(read_table(store, table, columns)))
    return out


def test_staged_ingests_end_where_duckdb_ends(
    pg_url: str, tmp_path: Path, isolated_env: Path
) -> None:
    duck = Store(isolated_env, linger=0)
    pg = PostgresStore(pg_url, linger=0, local_dir=tmp_path / "pg")
    (tmp_path / "duck").mkdir()
    (tmp_path / "pg").mkdir()
    on_duckdb = _ingest_sequence(duck, tmp_path / "duck")
    on_postgres = _ingest_sequence(pg, tmp_path / "pg")
    assert on_postgres == on_duckdb
    assert on_duckdb[0][2] == 1 and on_duckdb[1][1] == 5 and on_duckdb[3] == (0, 0, 1, 4)
    want, got = _content(duck, duck), _content(pg, duck)
    for table in CHECKED:
        assert got[table] == want[table], table
    # 40 logged prompts and the shadow file's 12 (a logged answer is part of a prompt's
    # identity); v2 replaced v1's quarantined line, so only the export's unknown id is left
    assert len(want["prompts"]) == 52 and len(want["quarantine"]) == 1
    assert on_duckdb[4] == (0, 1, 0, 1) and on_duckdb[-1] == (0, 0, 0, 0)
    duck.close()
    pg.close()


def test_a_staged_ingest_pulls_the_rows_of_its_file_not_the_store(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg = PostgresStore(pg_url, linger=0, local_dir=tmp_path)
    rows = small_log_rows(300)
    ingest_file(pg, write_jsonl(tmp_path / "big.jsonl", rows[:295]), mapping=MAPPING)
    pulled: dict[str, int] = {}
    original = ingest_stage._Stage.pull

    def counting(self: Any, cur: Any, table: str, *args: Any) -> None:
        before = sum(t.num_rows for t in self.pulled[table])
        original(self, cur, table, *args)
        pulled[table] = pulled.get(table, 0) + sum(t.num_rows for t in self.pulled[table]) - before

    monkeypatch.setattr(ingest_stage._Stage, "pull", counting)
    small = write_jsonl(tmp_path / "small.jsonl", rows[293:300])  # 2 stored, 5 new
    report = ingest_file(pg, small, mapping=MAPPING)

    assert (report.rows_ingested, report.rows_duplicate) == (5, 2)
    assert pulled == {"prompts": 2, "responses": 2}, pulled
    with pg.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM prompts").fetchone()[0] == 300
        links = cur.execute(
            "SELECT count(*) FROM prompt_sources WHERE source_id = ?", [report.source_id]
        ).fetchone()[0]
    assert links == 7
    pg.close()


_rows = st.lists(
    st.tuples(
        st.sampled_from([None, "a", "b", ""]),
        st.sampled_from([None, 1, 2]),
        st.sampled_from([None, datetime(2026, 1, 1), datetime(2026, 1, 2, 3, 4, 5, 6)]),
    ),
    max_size=12,
)


def _table(rows: list[tuple[Any, ...]]) -> pa.Table:
    text, n, at = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [])
    return pa.table(
        {
            "text": pa.array(text, pa.string()),
            "n": pa.array(n, pa.int32()),
            "at": pa.array(at, pa.timestamp("us")),
        }
    )


@pytest.fixture(params=["python", "duckdb"])
def comparison(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways ``rows_not_in`` compares: rows in Python (small tables), DuckDB's anti-join."""
    monkeypatch.setattr(
        ingest_stage, "ANTI_JOIN_FROM_ROWS", 10**9 if request.param == "python" else 0
    )
    return str(request.param)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows, other=_rows)
def test_rows_not_in_is_the_difference_of_rows_as_values(
    comparison: str, rows: list[tuple[Any, ...]], other: list[tuple[Any, ...]]
) -> None:
    """Against a plain comparison of whole rows as values: NULL equals NULL, every duplicate
    of a row missing from ``other`` stays, types come back as they went in."""
    mine, theirs = _table(rows), _table(other)
    kept = ingest_stage.rows_not_in(mine, theirs)
    expected = [r for r in rows if r not in other]  # tuples: None == None, as in SQL's IS NOT
    got = [(r["text"], r["n"], r["at"]) for r in kept.to_pylist()]  # DISTINCT FROM
    assert sorted(map(repr, got)) == sorted(map(repr, expected))
    assert kept.schema == mine.schema
