"""The fast JSONL path (typed read_json) stores exactly what the robust line-by-line path stores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

import swapcheck.ingest as ingest
from swapcheck.ingest import IngestOptions, ingest_log
from swapcheck.ingest_fast import fast_path_applies, fast_stage
from swapcheck.ingest_files import open_log
from swapcheck.ingest_shapes import ColumnMapping
from swapcheck.store import Store

CHAT = ColumnMapping(
    messages_column="messages",
    id_column="id",
    slice_columns=("feature", "locale"),
    timestamp_column="ts",
    response_column="answer",
)


def _user(text: Any) -> dict[str, Any]:
    return {"role": "user", "content": text}


def varied_rows() -> list[dict[str, Any]]:
    """Chat rows covering every normalisation branch, plus rows each check rejects."""
    sys_msg = {"role": "system", "content": "Be brief."}
    parts = [{"type": "text", "text": "part one"}, "loose", {"type": "input_text", "text": "two"}]
    rows: list[dict[str, Any]] = [
        {
            "id": "a1",
            "messages": [sys_msg, _user("Hello  there ")],
            "feature": "chat",
            "locale": "en",
            "ts": "2026-03-01T10:00:00Z",
        },
        {
            "id": 7,
            "messages": [_user(parts)],
            "feature": " billing\t",
            "locale": None,
            "ts": "2026-03-02 11:30:00",
        },
        {
            "id": "a3",
            "messages": [
                _user("first q"),
                {"role": "assistant", "content": "ans"},
                _user("second q"),
            ],
            "feature": "chat",
            "ts": 1772400000,
        },
        {
            "id": "a4",
            "messages": [
                {"role": "developer", "content": "dev rules"},
                _user("Bonjour, je ne peux pas me connecter"),
            ],
            "feature": 42,
            "locale": "fr",
            "ts": "1772400000123",
        },
        {
            "id": "a5",
            "messages": [
                _user("q1"),
                {"role": "assistant", "content": "a1"},
                _user("q2"),
                {"role": "assistant", "content": " final "},
            ],
            "feature": "",
            "locale": {"nested": [1, 2.5]},
            "ts": "2026-03-03T09:00:00+02:00",
        },
        {
            "id": "  ",
            "messages": [_user("Hello  there ")],
            "feature": "chat",
            "locale": "en",
            "ts": None,
            "answer": "logged answer",
        },
        {"id": "a7", "messages": [_user("with answer object")], "answer": {"text": "x"}},
        {
            "id": "a8",
            "messages": [_user("Wie kann ich mein Passwort ändern? Ich habe es")],
            "feature": "chat",
            "locale": "de",
            "ts": " 2026-03-04T00:00:00Z\n",
        },
        {"id": "a9", "messages": [_user("ключ не работает, помогите пожалуйста")]},
        {
            "id": "a10",
            "messages": [_user("Hello  there ")],
            "feature": "chat",
            "locale": "en",
            "ts": "2026-03-05T10:00:00Z",
        },  # an exact duplicate of a1's user turn, other metadata
        {"id": "a11", "messages": [_user("HELLO there 12")], "feature": "chat", "locale": "en"},
        {"id": "a12", "messages": [_user("hello there 99")], "feature": "chat", "locale": "en"},
        {"id": "a13", "messages": [_user("hello there 99")], "feature": "chat", "locale": "en"},
        {
            "id": "a14",
            "messages": [_user("numbers everywhere")],
            "feature": 100000.0,
            "locale": 12345678901234567890,
            "answer": {"score": -0.0, "big": 1e300, "n": [1, 2.50]},
        },
        # rejected rows: each validation code once
        {"id": "r1", "messages": [{"role": "wizard", "content": "x"}]},
        {"id": "r2", "messages": []},
        {"id": "r3", "feature": "no messages"},
        {"id": "r4", "messages": None},
        {"id": "r5", "messages": [_user(" \n\t ")]},
        {"id": "r6", "messages": [{"role": "assistant", "content": "only the model"}]},
        {"id": "r7", "messages": [_user([{"type": "image_url", "image_url": "x"}])]},
        {"id": "r8", "messages": [_user("bad time")], "ts": "next tuesday"},
        {"id": "r9", "messages": [{"content": "no role"}]},
    ]
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]], newline: str = "\n") -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + newline for r in rows))
    return path


def _tables(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row an ingest writes, minus wall-clock columns, in a stable order."""
    queries = {
        "prompts": "SELECT prompt_id, source_id, row_number, external_id, messages::VARCHAR, "
        "prompt_text, metadata::VARCHAR, conversation::VARCHAR, logged_at, weight, "
        "context_has_model_output FROM prompts ORDER BY prompt_id",
        "prompt_sources": "SELECT * FROM prompt_sources ORDER BY ALL",
        "responses": "SELECT prompt_id, variant, request_hash, text, finish_reason FROM responses "
        "ORDER BY ALL",
        "quarantine": "SELECT source_id, source_name, row_number, field, reason, raw "
        "FROM quarantine ORDER BY ALL",
        "sources": "SELECT source_id, name, file_hash, format, mapping::VARCHAR, rows_total, "
        "rows_ingested, rows_duplicate, rows_rejected, slice_columns::VARCHAR, "
        "options::VARCHAR FROM sources ORDER BY ALL",
    }
    with store.cursor() as cur:
        return {name: cur.execute(sql).fetchall() for name, sql in queries.items()}


def _force_robust(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "fast_path_applies", lambda *args: False)


def _forbid_robust(monkeypatch: pytest.MonkeyPatch) -> None:
    def robust(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("this file should have taken the fast path")

    monkeypatch.setattr(ingest, "run_scan", robust)


def _ingest_both(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    files: list[Path],
    mapping: ColumnMapping | None,
    options: IngestOptions,
    expect_fast: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ingest ``files`` in order into two fresh stores, through each path; their tables."""
    results = []
    for robust in (False, True):
        with monkeypatch.context() as patch:
            if robust:
                _force_robust(patch)
            elif expect_fast:
                _forbid_robust(patch)
            store = Store(tmp_path / f"{'robust' if robust else 'fast'}.duckdb", linger=0)
            try:
                for path in files:
                    ingest_log(store, path, mapping, options)
                results.append(_tables(store))
            finally:
                store.close()
    return results[0], results[1]


@pytest.mark.parametrize(
    "mapping, options",
    [
        (CHAT, IngestOptions()),
        (CHAT.with_overrides(turn="first"), IngestOptions()),
        (CHAT, IngestOptions(near_duplicates=True)),
        (CHAT, IngestOptions(derived_slices=False)),
        (CHAT.with_overrides(system_column="sys"), IngestOptions()),
        (None, IngestOptions(source_name="guessed")),  # the mapping guessed from the sample
    ],
    ids=["last-turn", "first-turn", "near-duplicates", "no-derived", "system-column", "guessed"],
)
def test_fast_path_stores_exactly_what_the_robust_path_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mapping: ColumnMapping | None,
    options: IngestOptions,
) -> None:  # fmt: skip
    rows = varied_rows()
    for i, row in enumerate(rows):
        if i % 3 == 0:
            row["sys"] = f"system prompt {i % 2}"
        if i == 4:
            row["sys"] = ["sys part", {"type": "text", "text": "two"}]
    log = write_jsonl(tmp_path / "chat.jsonl", rows)
    fast, robust = _ingest_both(tmp_path, monkeypatch, [log], mapping, options)
    assert fast == robust
    assert fast["prompts"] and fast["quarantine"]  # both kinds of rows were compared
    if mapping is CHAT and options == IngestOptions():
        assert len(fast["quarantine"]) == 9
        assert {r[2] for r in fast["quarantine"]} == set(range(15, 24))  # physical lines
        assert any("wizard" in r[4] for r in fast["quarantine"])


def test_fast_path_keeps_dedupe_and_versions_working_across_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file taken fast, then a fixed version taken robustly (a blank line forces it), and a
    third file with new rows: the same tables as with the robust path throughout."""
    rows = varied_rows()
    first = write_jsonl(tmp_path / "day1.jsonl", rows)
    fixed = tmp_path / "day1-fixed.jsonl"
    fixed.write_text(first.read_text() + "\n" + json.dumps({"id": "n", "messages": [_user("n")]}))
    extra = write_jsonl(tmp_path / "day2.jsonl", rows[:7] + [{"id": "z", "messages": [_user("z")]}])
    same_name = IngestOptions(source_name="app-log")
    results = []
    for robust in (False, True):
        with monkeypatch.context() as patch:
            if robust:
                _force_robust(patch)
            store = Store(tmp_path / f"{robust}.duckdb", linger=0)
            try:
                one = ingest_log(store, first, CHAT, same_name)
                two = ingest_log(store, fixed, CHAT, same_name)
                three = ingest_log(store, extra, CHAT)
                counts = [(r.rows_ingested, r.rows_duplicate, r.rows_rejected) for r in
                          (one, two, three)]  # fmt: skip
                results.append((counts, _tables(store)))
            finally:
                store.close()
    assert results[0] == results[1]
    counts = results[0][0]
    assert counts[1][0] == 1 and counts[2][0] == 1  # only the new prompts were added


def test_prompt_column_logs_take_the_fast_path_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        {"prompt": "What is my balance?", "team": "a", "when": "2026-01-01T00:00:00Z"},
        {"prompt": 12345, "team": "b"},
        {"prompt": {"not": "text"}, "team": "c"},
        {"prompt": "   ", "team": "d"},
        {"team": "e"},
        {"prompt": "What is my balance?", "team": "a", "when": "2026-01-02T00:00:00Z"},
    ]
    log = write_jsonl(tmp_path / "prompts.jsonl", rows, newline="\r\n")
    with log.open("a", encoding="utf-8", newline="") as out:  # escapes, as json.dumps writes
        out.write(json.dumps({"prompt": 'caf\u00e9 \U0001f600 "q"\\', "team": "\u00e9"}) + "\r\n")
    mapping = ColumnMapping(prompt_column="prompt", slice_columns=("team",),
                            timestamp_column="when")  # fmt: skip
    fast, robust = _ingest_both(tmp_path, monkeypatch, [log], mapping, IngestOptions())
    assert fast == robust
    assert len(fast["prompts"]) == 3 and len(fast["quarantine"]) == 3  # line 6 repeats line 1
    assert any(row[5] == 'café 😀 "q"\\' for row in fast["prompts"])


@pytest.mark.parametrize(
    "damage",
    [
        "blank line",
        "whitespace line",
        "malformed JSON",
        "invalid UTF-8",
        "not an object",
        "null line",
        "two objects on a line",
        "messages as JSON text",
        "message not an object",
        "duplicate key",
        "byte-order mark",
    ],
)
def test_files_the_fast_path_cannot_be_sure_of_go_the_robust_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    good = [json.dumps(r).encode() for r in varied_rows()[:8]]
    bad = {
        "blank line": b"",
        "whitespace line": b"   \t",
        "malformed JSON": b'{"id": "x", "messages": [',
        "invalid UTF-8": b'{"id": "x", "messages": [{"role": "user", "content": "caf\xe9"}]}',
        "not an object": b'[{"role": "user", "content": "x"}]',
        "null line": b" null",
        "two objects on a line": good[0] + b" " + good[1],
        "messages as JSON text": json.dumps(
            {"id": "x", "messages": json.dumps([_user("inside a string")])}
        ).encode(),
        "message not an object": b'{"id": "x", "messages": ["just text"]}',
        "duplicate key": b'{"id": "x", "id": "y", "messages": [{"role": "user", "content": "d"}]}',
        "byte-order mark": None,
    }[damage]
    lines = good[:3] + ([bad] if bad is not None else []) + good[3:]
    data = b"\n".join(lines) + b"\n"
    if damage == "byte-order mark":
        data = b"\xef\xbb\xbf" + data
    log = tmp_path / "damaged.jsonl"
    log.write_bytes(data)
    columns = ["id", "messages", "feature", "locale", "ts", "answer"]
    with open_log(log) as opened:
        con = duckdb.connect()
        try:
            usable = fast_path_applies(opened, CHAT, columns) and fast_stage(
                con, opened, CHAT, columns
            )
            leftover = con.execute(
                "SELECT count(*) FROM duckdb_tables() "
                "WHERE table_name IN ('staged', 'ingest_fast_raw')"
            ).fetchall()[0][0]
        finally:
            con.close()
    assert not usable and leftover == 0
    fast, robust = _ingest_both(tmp_path, monkeypatch, [log], CHAT, IngestOptions(),
                                expect_fast=False)  # fmt: skip
    assert fast == robust
    assert fast["prompts"]


def test_a_reader_error_leaves_the_store_usable(tmp_path: Path) -> None:
    """The fast read fails outside the ingest transaction: the robust path then succeeds."""
    log = tmp_path / "mixed.jsonl"
    log.write_bytes(json.dumps({"messages": [_user("ok")]}).encode() + b"\n{broken\n")
    store = Store(tmp_path / "s.duckdb", linger=0)
    try:
        report = ingest_log(store, log, ColumnMapping(messages_column="messages"))
        assert (report.rows_ingested, report.rows_rejected) == (1, 1)
        assert "line 2" in report.rejects["reason"][0]
        with store.cursor() as cur:
            temp = cur.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall()[
                0
            ][0]
        assert temp == 0
    finally:
        store.close()
