"""Behaviour of the DuckDB ingest: shapes, mappings, multi-turn logs, timestamps, dedupe,
re-ingest, progress, metadata, the ``swapcheck ingest`` command and a property test.

Everything goes through ``pipeline.ingest_file`` (or ``cli.main``) and is checked with SQL on
the store. File formats and row numbers are in ``test_ingest_formats.py``.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swapcheck.cli import main
from swapcheck.errors import IngestError
from swapcheck.ingest import ColumnMapping, guess_mapping
from swapcheck.pipeline import ingest_file
from swapcheck.store import Store
from swapcheck.store.sources import IngestReport, quarantine_frame
from tests.helpers import write_jsonl

pytestmark = pytest.mark.both_backends  # tmp_store: DuckDB and PostgreSQL

# --- helpers (also used by test_ingest_formats.py) ------------------------------------------


def ingest(
    store: Store, path: Path, mapping: ColumnMapping | None = None, **kw: Any
) -> IngestReport:
    """``ingest_file`` without derived slices (tested elsewhere); checks the counts."""
    kw.setdefault("derived_slices", False)
    report = ingest_file(store, path, mapping, **kw)
    assert_counts(report)
    return report


def assert_counts(report: IngestReport) -> None:
    assert report.rows_total == (
        report.rows_ingested + report.rows_duplicate + report.rows_rejected
    )
    assert report.rows_rejected == len(report.rejects)


def sql(store: Store, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with store.cursor() as cur:
        return cur.execute(query, list(params)).fetchall()


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def stored(store: Store, source_id: str | None = None) -> list[dict[str, Any]]:
    """Stored prompts (JSON columns parsed) with their logged answer, in source/row order."""
    rows = sql(
        store,
        "SELECT p.row_number, p.external_id, p.messages, p.prompt_text, p.metadata, "
        "p.conversation, p.logged_at, p.weight, p.context_has_model_output, r.text "
        "FROM prompts p LEFT JOIN responses r ON r.prompt_id = p.prompt_id "
        "AND r.variant = 'logged' WHERE ? IS NULL OR p.source_id = ? "
        "ORDER BY p.source_id, p.row_number",
        [source_id, source_id],
    )
    keys = ("row", "id", "messages", "text", "metadata", "conversation", "logged_at", "weight",
            "context", "logged")  # fmt: skip
    out = []
    for row in rows:
        record = dict(zip(keys, row, strict=True))
        for key in ("messages", "metadata", "conversation"):
            record[key] = _loads(record[key])
        out.append(record)
    return out


def rejected(store: Store, source_id: str) -> dict[int, tuple[str, str]]:
    """Quarantined rows of a source: row number → (field, reason)."""
    rows = sql(
        store,
        "SELECT row_number, field, reason FROM quarantine WHERE source_id = ? ORDER BY 1",
        [source_id],
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def source_row(store: Store, source_id: str) -> dict[str, Any]:
    cols = ("name", "format", "mapping", "rows_total", "rows_ingested", "rows_duplicate",
            "rows_rejected", "slice_columns", "options", "file_hash")  # fmt: skip
    row = sql(store, f"SELECT {', '.join(cols)} FROM sources WHERE source_id = ?", [source_id])
    record = dict(zip(cols, row[0], strict=True))
    for key in ("mapping", "slice_columns", "options"):
        record[key] = _loads(record[key])
    return record


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(content: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


def system(content: Any) -> dict[str, Any]:
    return {"role": "system", "content": content}


# --- shapes recognised without configuration -----------------------------------------------


def test_plain_prompt_column_with_id_response_and_slices(tmp_store: Store, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "log.jsonl",
        [
            {"id": 7, "prompt": "Hi there", "response": "Hello!", "locale": " de ", "tier": 2},
            {"id": "b", "prompt": "Bye", "response": "  ", "locale": "", "tier": True},
            {"id": "c", "prompt": "No answer field", "locale": "fr", "tier": 2.5},
        ],
    )
    report = ingest(tmp_store, path)
    assert (report.rows_total, report.rows_ingested, report.logged_responses) == (3, 3, 1)
    assert report.source_name == "log.jsonl"
    src = source_row(tmp_store, report.source_id)
    assert src["format"] == "jsonl"
    assert ColumnMapping.from_json(json.dumps(src["mapping"])) == ColumnMapping(
        prompt_column="prompt",
        id_column="id",
        response_column="response",
        slice_columns=("locale", "tier"),
        shape="prompt_column",
    )
    first, second, third = stored(tmp_store)
    assert first["id"] == "7" and first["text"] == "Hi there"
    assert first["messages"] == [user("Hi there")]
    assert first["metadata"] == {"locale": "de", "tier": "2"}
    assert first["logged"] == "Hello!"
    assert first["weight"] == 1 and first["conversation"] is None
    assert first["context"] is False and first["logged_at"] is None
    assert second["metadata"] == {"locale": None, "tier": "true"}
    assert second["logged"] is None  # a blank answer is no answer
    assert third["metadata"] == {"locale": "fr", "tier": "2.5"}
    assert third["logged"] is None


def test_openai_chat_messages_string_and_content_parts(tmp_store: Store, tmp_path: Path) -> None:
    parts = [{"type": "text", "text": "part 1"}, {"type": "input_text", "text": "part 2"}]
    rows = [
        {
            "model": "gpt-4o",
            "temperature": 0.2,
            "messages": [system("Be brief."), user("Q1"), assistant("A1"), user(parts)],
        },
        {"model": "gpt-4o", "messages": [{"role": "developer", "content": "Dev"}, user("Hi")]},
        {"model": "gpt-4o", "messages": [user([{"type": "image_url", "image_url": {}}])]},
        {"model": "gpt-4o", "messages": [{"role": "wizard", "content": "x"}, user("y")]},
    ]
    report = ingest(tmp_store, write_jsonl(tmp_path / "chat.jsonl", rows))
    src = source_row(tmp_store, report.source_id)
    assert src["mapping"]["shape"] == "openai_chat"
    assert src["mapping"]["messages_column"] == "messages"
    assert src["slice_columns"] == []  # model/temperature are request parameters, not slices
    first, second = stored(tmp_store)
    assert first["messages"] == [system("Be brief."), user("Q1"), assistant("A1"),
                                 user("part 1\npart 2")]  # fmt: skip
    assert first["text"] == "part 1\npart 2"
    assert first["context"] is True and first["conversation"] is None
    assert second["messages"] == [system("Dev"), user("Hi")]  # developer is a system turn
    assert second["context"] is False
    bad = rejected(tmp_store, report.source_id)
    assert sorted(bad) == [3, 4]
    assert bad[3][0] == "messages[0].content[0]"
    assert "'image_url'" in bad[3][1] and "only text parts" in bad[3][1]
    assert bad[4][0] == "messages[0].role"
    assert "'wizard' is not one of system/user/assistant/tool/developer" in bad[4][1]
    assert bad[4][1].startswith("chat.jsonl line 4, field 'messages[0].role': ")


def test_anthropic_messages_requests(tmp_store: Store, tmp_path: Path) -> None:
    text = lambda t: {"type": "text", "text": t}  # noqa: E731
    rows = [
        {
            "model": "claude-sonnet",
            "max_tokens": 512,
            "system": "You are terse.",
            "messages": [user([text("Hello"), text("again")])],
        },
        {
            "model": "claude-sonnet",
            "max_tokens": 512,
            "system": [text("Sys A"), text("Sys B")],
            "messages": [user("Q1"), {"role": "assistant", "content": [text("A1")]}, user("Q2")],
        },
        {"model": "claude-sonnet", "max_tokens": 512, "messages": [user("no system")]},
        {"model": "claude-sonnet", "max_tokens": 9, "system": 5, "messages": [user("bad sys")]},
    ]
    report = ingest(tmp_store, write_jsonl(tmp_path / "anthropic.jsonl", rows))
    mapping = source_row(tmp_store, report.source_id)["mapping"]
    assert mapping["shape"] == "anthropic_messages"
    assert (mapping["messages_column"], mapping["system_column"]) == ("messages", "system")
    first, second, third = stored(tmp_store)
    assert first["messages"] == [system("You are terse."), user("Hello\nagain")]
    assert second["messages"] == [system("Sys A\nSys B"), user("Q1"), assistant("A1"), user("Q2")]
    assert second["context"] is True
    assert third["messages"] == [user("no system")]
    bad = rejected(tmp_store, report.source_id)
    assert list(bad) == [4]
    assert bad[4][0] == "system" and "must be text or a list of text parts" in bad[4][1]


def _batch_request(i: int, question: str) -> dict[str, Any]:
    return {
        "custom_id": f"req-{i}",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [system("Sys"), user(question)]},
    }


def test_openai_batch_input_lines(tmp_store: Store, tmp_path: Path) -> None:
    rows = [_batch_request(1, "First?"), _batch_request(2, "Second?")]
    report = ingest(tmp_store, write_jsonl(tmp_path / "batch_input.jsonl", rows))
    mapping = source_row(tmp_store, report.source_id)["mapping"]
    assert mapping["shape"] == "openai_batch_input"
    assert mapping["messages_column"] == "body.messages" and mapping["id_column"] == "custom_id"
    assert [(p["id"], p["messages"]) for p in stored(tmp_store)] == [
        ("req-1", [system("Sys"), user("First?")]),
        ("req-2", [system("Sys"), user("Second?")]),
    ]
    assert report.logged_responses == 0


def test_openai_batch_input_joined_with_output(tmp_store: Store, tmp_path: Path) -> None:
    def joined(i: int, answer: str | None) -> dict[str, Any]:
        message = {"role": "assistant", "content": answer}
        body = {"id": f"chatcmpl-{i}", "choices": [{"index": 0, "message": message}]}
        response = {"status_code": 200, "request_id": f"r{i}", "body": body}
        return {**_batch_request(i, f"Question {i}?"), "response": response, "error": None}

    failed = {**_batch_request(3, "Question 3?"), "response": None,
              "error": {"code": "server_error", "message": "try again"}}  # fmt: skip
    rows = [joined(1, "Answer one."), joined(2, "Answer two."), failed]
    report = ingest(tmp_store, write_jsonl(tmp_path / "batch_joined.jsonl", rows))
    mapping = source_row(tmp_store, report.source_id)["mapping"]
    assert mapping["shape"] == "openai_batch"
    assert mapping["response_column"] == "response.body.choices[0].message.content"
    assert report.logged_responses == 2
    got = [(p["id"], p["text"], p["logged"]) for p in stored(tmp_store)]
    assert got == [
        ("req-1", "Question 1?", "Answer one."),
        ("req-2", "Question 2?", "Answer two."),
        ("req-3", "Question 3?", None),
    ]
    variants = sql(tmp_store, "SELECT DISTINCT variant FROM responses")
    assert variants == [("logged",)]


def test_null_logged_answer_is_no_answer(tmp_store: Store, tmp_path: Path) -> None:
    """A JSON null answer (e.g. a tool-call reply, whose content is null) is not the text 'null'."""
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": None}}]}
    batch = {**_batch_request(1, "Call a tool?"), "response": {"status_code": 200, "body": body}}
    report = ingest(tmp_store, write_jsonl(tmp_path / "tool_call.jsonl", [batch]))
    plain = [{"prompt": "Q", "response": None}, {"prompt": "R", "response": "answer"}]
    report2 = ingest(tmp_store, write_jsonl(tmp_path / "null.jsonl", plain))
    assert (report.logged_responses, report2.logged_responses) == (0, 1)
    assert sql(tmp_store, "SELECT text FROM responses") == [("answer",)]


def test_anthropic_message_batches(tmp_store: Store, tmp_path: Path) -> None:
    rows = [
        {
            "custom_id": "a-1",
            "params": {
                "model": "claude-haiku",
                "max_tokens": 1024,
                "system": [{"type": "text", "text": "Batch system"}],
                "messages": [user("Hello, world")],
            },
        },
        {
            "custom_id": "a-2",
            "params": {"model": "claude-haiku", "max_tokens": 10, "messages": [user("Hi")]},
        },
    ]
    report = ingest(tmp_store, write_jsonl(tmp_path / "anthropic_batch.jsonl", rows))
    mapping = source_row(tmp_store, report.source_id)["mapping"]
    assert mapping["shape"] == "anthropic_batch"
    assert (mapping["messages_column"], mapping["system_column"]) == (
        "params.messages",
        "params.system",
    )
    assert [(p["id"], p["messages"]) for p in stored(tmp_store)] == [
        ("a-1", [system("Batch system"), user("Hello, world")]),
        ("a-2", [user("Hi")]),
    ]


# --- mapping by hand, mapping errors ----------------------------------------------------------


def test_guess_mapping_from_column_names_and_values() -> None:
    m = guess_mapping(["Text", "Prompt", "ID", "Output", "System_Prompt", "locale"])
    assert m == ColumnMapping(
        prompt_column="Prompt",
        id_column="ID",
        response_column="Output",
        system_column="System_Prompt",
        slice_columns=("Text", "locale"),
        shape="prompt_column",
    )
    chat = guess_mapping(["chat", "uuid", "assistant", "tier"])
    assert (chat.messages_column, chat.prompt_column, chat.id_column) == ("chat", None, "uuid")
    assert chat.response_column == "assistant" and chat.slice_columns == ("tier",)
    none = guess_mapping(["a", "b"])
    assert none.prompt_column is None and none.messages_column is None
    # slices skip request parameters, nested values and columns with more than 50 values
    records = [{"prompt": f"p{i}", "note": f"n{i}", "model": "x", "meta": {"a": 1},
                "tier": i % 3} for i in range(60)]  # fmt: skip
    assert guess_mapping(list(records[0]), records).slice_columns == ("tier",)
    m = ColumnMapping(messages_column="q", slice_columns=("a", "b"), turn="first")
    assert ColumnMapping.from_json(m.to_json()) == m


def test_hand_mapping_case_insensitive_and_saved(tmp_store: Store, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "x.jsonl",
        [{"Body": "hi", "N": 1, "nested": {"k": [1]}}, {"Body": "yo", "N": None}],
    )
    mapping = ColumnMapping(prompt_column="body", slice_columns=("n",))
    report = ingest(tmp_store, path, mapping, source_name="by hand")
    assert report.source_name == "by hand"
    saved = ColumnMapping.from_json(json.dumps(source_row(tmp_store, report.source_id)["mapping"]))
    assert saved == ColumnMapping(prompt_column="Body", slice_columns=("N",))
    assert [(p["text"], p["metadata"]) for p in stored(tmp_store)] == [
        ("hi", {"N": "1"}),
        ("yo", {"N": None}),
    ]
    assert sql(tmp_store, "SELECT slice_columns FROM sources") == [('["N"]',)]


def test_hand_mapping_nested_paths(tmp_store: Store, tmp_path: Path) -> None:
    rows = [
        {
            "request": {"input": {"messages": [user("Nested question")]}},
            "meta": {"trace": "t-1"},
            "result": {"choices": [{"text": "Nested answer"}]},
            "team": "search",
        },
        {"request": {"input": {}}, "meta": {"trace": "t-2"}, "team": "search"},
    ]
    mapping = ColumnMapping(
        messages_column="request.input.messages",
        id_column="meta.trace",
        response_column="result.choices[0].text",
        slice_columns=("team",),
    )
    report = ingest(tmp_store, write_jsonl(tmp_path / "nested.jsonl", rows), mapping)
    (row,) = stored(tmp_store)
    assert (row["id"], row["text"], row["logged"]) == ("t-1", "Nested question", "Nested answer")
    assert row["metadata"] == {"team": "search"}
    bad = rejected(tmp_store, report.source_id)
    assert list(bad) == [2] and bad[2][0] == "request.input.messages"
    assert "missing" in bad[2][1]


def test_mapping_errors_name_the_column_and_list_found_columns(
    tmp_store: Store, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "cols.jsonl", [{"a": 1, "b": "x", "c": 3}])
    with pytest.raises(IngestError) as exc:
        ingest(tmp_store, path)
    assert "cols.jsonl" in exc.value.message and "no prompt or messages column" in exc.value.message
    assert exc.value.fix is not None and "a, b, c" in exc.value.fix
    with pytest.raises(IngestError) as exc:
        ingest(tmp_store, path, ColumnMapping(prompt_column="b", slice_columns=("nope",)))
    assert "'nope'" in exc.value.message and "slice" in exc.value.message
    assert exc.value.fix is not None and "a, b, c" in exc.value.fix
    csv_path = tmp_path / "cols.csv"
    csv_path.write_text("question,team\nhello,x\n", "utf-8")
    with pytest.raises(IngestError) as exc:
        ingest(tmp_store, csv_path, ColumnMapping(prompt_column="prompt"))
    assert "'prompt'" in exc.value.message
    assert exc.value.fix is not None and "question, team" in exc.value.fix
    with pytest.raises(IngestError, match="turn"):
        ingest(tmp_store, csv_path, ColumnMapping(prompt_column="question", turn="middle"))
    assert sql(tmp_store, "SELECT count(*) FROM sources") == [(0,)]
    assert sql(tmp_store, "SELECT count(*) FROM prompts") == [(0,)]


# --- multi-turn --------------------------------------------------------------------------------

CONVERSATIONS = [
    [system("S"), user("u1"), assistant("a1"), user("u2"), assistant("a2")],
    [user("only")],
    [user("q1"), assistant("r1"), user("q2")],
    [user("ask"), assistant("reply")],
    [assistant("greeting"), user("after greeting")],
]


def test_multi_turn_last_user_turn(tmp_store: Store, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "turns.jsonl", [{"messages": m} for m in CONVERSATIONS])
    report = ingest(tmp_store, path)
    assert report.logged_responses == 2
    full, only, open_end, pair, greeted = stored(tmp_store)
    assert full["messages"] == CONVERSATIONS[0][:4]
    assert full["text"] == "u2"
    assert full["conversation"] == CONVERSATIONS[0]
    assert full["logged"] == "a2" and full["context"] is True
    assert only["conversation"] is None and only["context"] is False and only["logged"] is None
    assert open_end["messages"] == CONVERSATIONS[2] and open_end["conversation"] is None
    assert open_end["context"] is True and open_end["logged"] is None
    assert pair["messages"] == [user("ask")] and pair["conversation"] == CONVERSATIONS[3]
    assert pair["logged"] == "reply" and pair["context"] is False
    assert greeted["messages"] == CONVERSATIONS[4] and greeted["context"] is True


def test_multi_turn_first_user_turn(tmp_store: Store, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "turns.jsonl", [{"messages": m} for m in CONVERSATIONS])
    report = ingest(tmp_store, path, ColumnMapping(messages_column="messages", turn="first"))
    assert source_row(tmp_store, report.source_id)["mapping"]["turn"] == "first"
    full, only, open_end, pair, greeted = stored(tmp_store)
    assert full["messages"] == [system("S"), user("u1")] and full["text"] == "u1"
    assert full["conversation"] == CONVERSATIONS[0]
    assert full["logged"] == "a1" and full["context"] is False
    assert only["messages"] == [user("only")] and only["conversation"] is None
    assert open_end["messages"] == [user("q1")] and open_end["conversation"] == CONVERSATIONS[2]
    assert open_end["logged"] == "r1" and open_end["context"] is False
    assert pair["logged"] == "reply"
    assert greeted["messages"] == CONVERSATIONS[4] and greeted["context"] is True


def test_multi_turn_without_user_turn_is_rejected(tmp_store: Store, tmp_path: Path) -> None:
    rows = [{"messages": [user("fine")]}, {"messages": [system("S"), assistant("A")]}]
    report = ingest(tmp_store, write_jsonl(tmp_path / "nouser.jsonl", rows))
    bad = rejected(tmp_store, report.source_id)
    assert list(bad) == [2] and bad[2][0] == "messages" and "no user message" in bad[2][1]


def test_same_question_different_context_are_different_prompts(
    tmp_store: Store, tmp_path: Path
) -> None:
    rows = [
        {"messages": [user("q")]},
        {"messages": [user("hello"), assistant("hi"), user("q")]},
        {"messages": [user("q"), assistant("x")]},  # same replayed prompt, other logged answer
    ]
    report = ingest(tmp_store, write_jsonl(tmp_path / "ctx.jsonl", rows))
    assert report.rows_ingested == 3 and report.rows_duplicate == 0


# --- timestamps -------------------------------------------------------------------------------


def test_timestamps_iso_offsets_naive_and_epoch(tmp_store: Store, tmp_path: Path) -> None:
    noon = datetime(2024, 5, 1, 12, 0, 0)
    values: list[tuple[Any, datetime | None]] = [
        ("2024-05-01T12:00:00Z", noon),
        ("2024-05-01T14:00:00+02:00", noon),
        ("2024-05-01T07:00:00-05:00", noon),
        ("2024-05-01 12:00:00", noon),
        ("2024-05-01T12:00:00.250Z", datetime(2024, 5, 1, 12, 0, 0, 250000)),
        (1714564800, noon),
        (1714564800000, noon),
        (1714564800.5, datetime(2024, 5, 1, 12, 0, 0, 500000)),
        (None, None),
        ("", None),
    ]
    rows = [{"prompt": f"question {i}", "timestamp": v} for i, (v, _) in enumerate(values)]
    rows.append({"prompt": "when?", "timestamp": "yesterday at noon"})
    report = ingest(tmp_store, write_jsonl(tmp_path / "times.jsonl", rows))
    assert source_row(tmp_store, report.source_id)["mapping"]["timestamp_column"] == "timestamp"
    got = {p["text"]: p["logged_at"] for p in stored(tmp_store)}
    assert got == {f"question {i}": want for i, (_, want) in enumerate(values)}
    bad = rejected(tmp_store, report.source_id)
    assert list(bad) == [len(values) + 1]
    field, reason = bad[len(values) + 1]
    assert field == "timestamp"
    assert "'yesterday at noon' is not a date and time" in reason


def test_timestamps_in_csv(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "times.csv"
    path.write_text(
        "prompt,created_at\n"
        "a,2024-05-01T12:00:00Z\n"
        "b,2024-05-01 14:00:00+02:00\n"
        "c,2024-05-01 12:00:00\n"
        "d,\n"
        "e,not a time\n",
        "utf-8",
    )
    report = ingest(tmp_store, path)
    noon = datetime(2024, 5, 1, 12)
    assert {p["text"]: p["logged_at"] for p in stored(tmp_store)} == {
        "a": noon,
        "b": noon,
        "c": noon,
        "d": None,
    }
    bad = rejected(tmp_store, report.source_id)
    assert list(bad) == [6] and bad[6][0] == "created_at"


def test_epoch_timestamps_as_text(tmp_store: Store, tmp_path: Path) -> None:
    """CSV values (and quoted JSON values) are text: epoch seconds/milliseconds are still times."""
    path = tmp_path / "epoch.csv"
    path.write_text("prompt,timestamp\nsec,1714564800\nms,1714564800000\n", "utf-8")
    report = ingest(tmp_store, path)
    assert report.rows_rejected == 0, report.rejects["reason"].tolist()
    quoted = [{"prompt": "quoted", "timestamp": "1714564800"}]
    report = ingest(tmp_store, write_jsonl(tmp_path / "epoch.jsonl", quoted))
    assert report.rows_rejected == 0, report.rejects["reason"].tolist()
    noon = datetime(2024, 5, 1, 12)
    got = {p["text"]: p["logged_at"] for p in stored(tmp_store)}
    assert got == {"sec": noon, "ms": noon, "quoted": noon}


# --- dedupe -----------------------------------------------------------------------------------


def test_exact_duplicates_stored_once_with_weight(tmp_store: Store, tmp_path: Path) -> None:
    rows = [
        {"id": "a", "prompt": "same", "locale": "en"},
        {"id": "b", "prompt": "same", "locale": "en"},  # other id: still the same content
        {"id": "c", "prompt": "same", "locale": "fr"},  # other metadata: not a duplicate
        {"id": "d", "prompt": "same", "locale": "en"},
        {"id": "e", "prompt": "same", "locale": "en", "response": "answered"},  # other answer
        {"id": "f", "prompt": "Same", "locale": "en"},  # other case: only a near duplicate
    ]
    report = ingest(tmp_store, write_jsonl(tmp_path / "d.jsonl", rows))
    assert (report.rows_total, report.rows_ingested, report.rows_duplicate) == (6, 4, 2)
    got = [(p["id"], p["row"], p["weight"]) for p in stored(tmp_store)]
    assert got == [("a", 1, 3), ("c", 3, 1), ("e", 5, 1), ("f", 6, 1)]
    assert source_row(tmp_store, report.source_id)["rows_duplicate"] == 2


def test_duplicates_across_two_sources(tmp_store: Store, tmp_path: Path) -> None:
    one = ingest(tmp_store, write_jsonl(tmp_path / "one.jsonl", [{"prompt": "x"}, {"prompt": "y"}]))
    two = ingest(tmp_store, write_jsonl(tmp_path / "two.jsonl", [{"prompt": "y"}, {"prompt": "z"}]))
    assert (one.rows_ingested, one.rows_duplicate) == (2, 0)
    assert (two.rows_ingested, two.rows_duplicate, two.replaced_version) == (1, 1, False)
    assert one.source_id != two.source_id
    assert sql(tmp_store, "SELECT count(*), count(DISTINCT prompt_text) FROM prompts") == [(3, 3)]
    assert sql(tmp_store, "SELECT count(*) FROM sources") == [(2,)]
    assert source_row(tmp_store, two.source_id)["rows_duplicate"] == 1


NEAR = [
    {"prompt": "What is 2+2?", "team": "a"},
    {"prompt": "what  is 3+3?", "team": "a"},
    {"prompt": "WHAT IS 10+10?", "team": "a"},
    {"prompt": "What\nis\t7+7?", "team": "a"},
    {"prompt": "What is 2+2?", "team": "b"},  # other slice value: its own cluster
    {"prompt": "Something else", "team": "a"},
]


def test_near_duplicates_collapse_within_slice(tmp_store: Store, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "near.jsonl", NEAR)
    report = ingest(tmp_store, path, near_duplicates=True)
    assert (report.rows_total, report.rows_ingested, report.rows_duplicate) == (6, 3, 3)
    got = [(p["row"], p["text"], p["metadata"]["team"], p["weight"]) for p in stored(tmp_store)]
    assert got == [(1, "What is 2+2?", "a", 4), (5, "What is 2+2?", "b", 1),
                   (6, "Something else", "a", 1)]  # fmt: skip
    assert source_row(tmp_store, report.source_id)["options"]["near_duplicates"] is True


def test_near_duplicates_ignore_leading_and_trailing_whitespace(
    tmp_store: Store, tmp_path: Path
) -> None:
    rows = [{"prompt": "What is 2+2?"}, {"prompt": "What is 2+2? "}, {"prompt": "  what is 5+5?\n"}]
    report = ingest(tmp_store, write_jsonl(tmp_path / "ends.jsonl", rows), near_duplicates=True)
    assert (report.rows_ingested, report.rows_duplicate) == (1, 2)
    assert [(p["text"], p["weight"]) for p in stored(tmp_store)] == [("What is 2+2?", 3)]


def test_near_duplicates_off_keeps_variants(tmp_store: Store, tmp_path: Path) -> None:
    report = ingest(tmp_store, write_jsonl(tmp_path / "near.jsonl", NEAR))
    assert (report.rows_ingested, report.rows_duplicate) == (6, 0)
    assert {p["weight"] for p in stored(tmp_store)} == {1}


# --- re-ingest --------------------------------------------------------------------------------


def test_reingest_fixed_file_under_same_name(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "prod.jsonl"
    lines = [json.dumps({"id": i, "prompt": f"question {i}"}) for i in range(5)]
    broken = list(lines)
    broken[1] = '{"id": 1, "prompt": "question 1"'  # truncated JSON
    broken[3] = json.dumps({"id": 3, "prompt": "  "})
    path.write_text("\n".join(broken) + "\n", "utf-8")
    first = ingest(tmp_store, path, source_name="prod")
    assert (first.rows_ingested, first.rows_rejected) == (3, 2)
    assert sorted(rejected(tmp_store, first.source_id)) == [2, 4]
    assert len(quarantine_frame(tmp_store, first.source_id)) == 2

    path.write_text("\n".join(lines) + "\n", "utf-8")
    second = ingest(tmp_store, path, source_name="prod")
    assert second.replaced_version and not second.already_ingested
    assert second.source_id == first.source_id
    assert (second.rows_total, second.rows_ingested, second.rows_duplicate) == (5, 2, 3)
    assert second.rows_rejected == 0
    assert sql(tmp_store, "SELECT count(*) FROM sources") == [(1,)]
    assert rejected(tmp_store, first.source_id) == {}
    assert quarantine_frame(tmp_store).empty
    rows = stored(tmp_store)
    assert sorted(p["text"] for p in rows) == [f"question {i}" for i in range(5)]
    assert {p["weight"] for p in rows} == {1}
    src = source_row(tmp_store, first.source_id)
    assert (src["rows_total"], src["rows_ingested"], src["rows_rejected"]) == (5, 5, 0)
    assert src["file_hash"] == second.file_hash != first.file_hash

    again = ingest_file(tmp_store, path, source_name="prod", derived_slices=False)
    assert again.already_ingested and again.source_id == first.source_id
    assert again.rows_ingested == 0
    assert "already ingested" in again.summary()
    assert sql(tmp_store, "SELECT count(*) FROM prompts") == [(5,)]
    assert sql(tmp_store, "SELECT count(*) FROM sources") == [(1,)]


def test_reingest_updates_weights_of_prompts_already_stored(
    tmp_store: Store, tmp_path: Path
) -> None:
    """A fixed row equal to a stored prompt adds no prompt, but the prompt now stands for more
    log rows: weight keeps counting the rows of the current version of the source."""
    path = tmp_path / "w.jsonl"
    path.write_text('{"prompt": "A"}\n{"prompt": ""}\n{"prompt": "A"}\n', "utf-8")
    ingest(tmp_store, path, source_name="w")
    assert [(p["text"], p["weight"]) for p in stored(tmp_store)] == [("A", 2)]
    path.write_text('{"prompt": "A"}\n{"prompt": "A"}\n{"prompt": "A"}\n', "utf-8")
    report = ingest(tmp_store, path, source_name="w")
    assert (report.rows_ingested, report.rows_duplicate, report.rows_rejected) == (0, 3, 0)
    assert [(p["text"], p["weight"]) for p in stored(tmp_store)] == [("A", 3)]


def test_same_bytes_under_another_name_is_already_ingested(
    tmp_store: Store, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"prompt": "p"}])
    first = ingest(tmp_store, path)
    copy = tmp_path / "b.jsonl"
    copy.write_bytes(path.read_bytes())
    again = ingest_file(tmp_store, copy, derived_slices=False)
    assert again.already_ingested and again.source_id == first.source_id
    assert again.source_name == "a.jsonl"


# --- progress ---------------------------------------------------------------------------------


def test_progress_fractions_end_at_one(tmp_store: Store, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": f"q{i}"} for i in range(50)])
    calls: list[tuple[float, str]] = []
    ingest(tmp_store, path, progress=lambda f, what: calls.append((f, what)))
    assert calls and calls[-1][0] == 1.0
    assert all(0.0 <= f <= 1.0 and isinstance(w, str) for f, w in calls)
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions)


def test_progress_ends_at_one_for_already_ingested_file(tmp_store: Store, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "q"}])
    ingest(tmp_store, path)
    calls: list[float] = []
    report = ingest_file(
        tmp_store, path, derived_slices=False, progress=lambda f, _w: calls.append(f)
    )
    assert report.already_ingested
    assert calls and all(0.0 <= f <= 1.0 for f in calls)
    assert calls[-1] == 1.0


# --- metadata ---------------------------------------------------------------------------------


def test_metadata_values_as_text(tmp_store: Store, tmp_path: Path) -> None:
    rows = [
        {"prompt": "p1", "s": "  padded  ", "i": 3, "f": 0.25, "b": False, "e": "", "n": None},
        {"prompt": "p2", "s": "x", "i": -1, "f": 1e3, "b": True, "e": "   ", "n": "set"},
        {"prompt": "p3"},
    ]
    mapping = ColumnMapping(prompt_column="prompt", slice_columns=("s", "i", "f", "b", "e", "n"))
    ingest(tmp_store, write_jsonl(tmp_path / "meta.jsonl", rows), mapping)
    metas = [p["metadata"] for p in stored(tmp_store)]
    assert metas[0] == {"s": "padded", "i": "3", "f": "0.25", "b": "false", "e": None, "n": None}
    assert metas[1]["s"] == "x" and metas[1]["i"] == "-1" and metas[1]["b"] == "true"
    assert float(metas[1]["f"]) == 1000.0
    assert metas[1]["e"] is None and metas[1]["n"] == "set"
    assert metas[2] == dict.fromkeys(("s", "i", "f", "b", "e", "n"))


def test_whitespace_only_prompts_are_rejected(tmp_store: Store, tmp_path: Path) -> None:
    rows = [{"prompt": "kept"}, {"prompt": "\n\t \r\n"}, {"prompt": "   "}]
    report = ingest(tmp_store, write_jsonl(tmp_path / "ws.jsonl", rows))
    bad = rejected(tmp_store, report.source_id)
    assert list(bad) == [2, 3] and all("is empty" in reason for _f, reason in bad.values())
    chat = [{"messages": [user("ok")]}, {"messages": [user("\n\n")]}, {"messages": [user("\t")]}]
    report = ingest(tmp_store, write_jsonl(tmp_path / "ws_chat.jsonl", chat))
    bad = rejected(tmp_store, report.source_id)
    assert list(bad) == [2, 3] and bad[2][0] == "messages[0].content"


def test_slice_values_trimmed_of_tabs_and_newlines(tmp_store: Store, tmp_path: Path) -> None:
    rows = [{"prompt": "a", "team": "\t search \n"}, {"prompt": "b", "team": "\n\t"}]
    mapping = ColumnMapping(prompt_column="prompt", slice_columns=("team",))
    ingest(tmp_store, write_jsonl(tmp_path / "tabs.jsonl", rows), mapping)
    assert [p["metadata"] for p in stored(tmp_store)] == [{"team": "search"}, {"team": None}]


def test_slices_from_csv_are_guessed_and_trimmed(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "request_id,prompt,feature,locale,free_text\n"
        + "".join(f"r{i},q{i}, {['chat', 'search'][i % 2]} ,,note {i}\n" for i in range(60)),
        "utf-8",
    )
    report = ingest(tmp_store, path)
    mapping = source_row(tmp_store, report.source_id)["mapping"]
    # free_text has more distinct values than a slice should; request_id is an id
    assert mapping["slice_columns"] == ["feature", "locale"]
    assert mapping["id_column"] == "request_id"
    metas = [p["metadata"] for p in stored(tmp_store)]
    assert metas[0] == {"feature": "chat", "locale": None}
    assert metas[1] == {"feature": "search", "locale": None}


# --- derived slices (need swapcheck.derived_slices) -------------------------------------------


def test_derived_slices_are_added_to_metadata(tmp_store: Store, tmp_path: Path) -> None:
    rows = [
        {"prompt": f"Question number {i}?", "team": "a", "timestamp": f"2024-05-0{i + 1}T10:00:00Z"}
        for i in range(5)
    ]
    report = ingest_file(tmp_store, write_jsonl(tmp_path / "derived.jsonl", rows))
    assert_counts(report)
    src = source_row(tmp_store, report.source_id)
    assert src["options"]["derived_slices"] is True
    assert src["slice_columns"][0] == "team" and len(src["slice_columns"]) > 1
    for row in stored(tmp_store):
        assert set(row["metadata"]) == set(src["slice_columns"])
        assert row["metadata"]["team"] == "a"


def test_cli_ingest_with_derived_slices(isolated_env: Path, tmp_path: Path, capsys: Any) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "hello", "team": "a"}])
    assert main(["ingest", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows_ingested"] == 1
    with Store(isolated_env, linger=0) as store:
        options, slices = sql(store, "SELECT options, slice_columns FROM sources")[0]
    assert json.loads(options)["derived_slices"] is True
    assert len(json.loads(slices)) > 1


# --- the swapcheck ingest command -------------------------------------------------------------


def test_cli_ingest_options(isolated_env: Path, tmp_path: Path, capsys: Any) -> None:
    conv = [user("first q"), assistant("a"), user("second q")]
    rows = [{"Body": "Hello there", "conv": conv, "when": "2024-05-01T12:00:00Z", "team": "x",
             "tier": 1}]  # fmt: skip
    rows.append({**rows[0], "team": "y"})
    rows.append({**rows[0], "Body": "HELLO   there", "conv": [user("FIRST Q")]})
    path = write_jsonl(tmp_path / "cli.jsonl", rows)
    argv = ["ingest", str(path), "--prompt-column", "body", "--timestamp-column", "when", "--slice",
            "team", "--slice", "TIER", "--no-derived", "--json", "--name", "cli log"]  # fmt: skip
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["source"] == "cli log" and out["already_ingested"] is False
    assert (out["rows_total"], out["rows_ingested"], out["rows_rejected"]) == (3, 3, 0)
    assert out["rejects"] == []

    path2 = write_jsonl(tmp_path / "cli2.jsonl", [{**r, "v": 2} for r in rows])
    argv = ["ingest", str(path2), "--messages-column", "conv", "--turn", "first",
            "--near-duplicates", "--no-derived", "--json", "--slice", "team"]  # fmt: skip
    assert main(argv) == 0
    out2 = json.loads(capsys.readouterr().out)
    assert out2["source"] == "cli2.jsonl"
    assert (out2["rows_total"], out2["rows_ingested"], out2["rows_duplicate"]) == (3, 2, 1)

    with Store(isolated_env, linger=0) as store:
        first = source_row(store, out["source_id"])
        second = source_row(store, out2["source_id"])
        texts = sql(
            store,
            "SELECT prompt_text, logged_at, weight FROM prompts WHERE source_id = ? "
            "ORDER BY row_number",
            [out2["source_id"]],
        )
        logged_at = sql(store, "SELECT DISTINCT logged_at FROM prompts WHERE source_id = ?",
                        [out["source_id"]])  # fmt: skip
    assert first["mapping"]["prompt_column"] == "Body"
    assert first["mapping"]["messages_column"] is None
    assert first["mapping"]["timestamp_column"] == "when"
    assert first["mapping"]["slice_columns"] == ["team", "tier"]
    assert first["options"] == {"derived_slices": False, "near_duplicates": False}
    assert first["slice_columns"] == ["team", "tier"]
    assert logged_at == [(datetime(2024, 5, 1, 12),)]
    assert second["mapping"]["messages_column"] == "conv"
    assert second["mapping"]["prompt_column"] is None
    assert second["mapping"]["turn"] == "first"
    assert second["options"]["near_duplicates"] is True
    # rows 1 and 3 differ only by case (near duplicates, team x); row 2 has team y
    assert texts == [("first q", None, 2), ("first q", None, 1)]  # "when" is no known time name


def test_cli_turn_alone_keeps_the_guessed_mapping(
    isolated_env: Path, tmp_path: Path, capsys: Any
) -> None:
    rows = [{"model": "m", "messages": [user("q1"), assistant("a1"), user("q2")]}]
    path = write_jsonl(tmp_path / "chat.jsonl", rows)
    assert main(["ingest", str(path), "--turn", "first", "--no-derived", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    with Store(isolated_env, linger=0) as store:
        mapping = source_row(store, out["source_id"])["mapping"]
        (row,) = stored(store)
    assert (mapping["shape"], mapping["messages_column"], mapping["turn"]) == (
        "openai_chat",
        "messages",
        "first",
    )
    assert row["messages"] == [user("q1")] and row["logged"] == "a1"


def test_cli_ingest_text_output_strict_and_errors(
    isolated_env: Path, tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "ok"}\n{"prompt": ""}\n', "utf-8")
    assert main(["ingest", str(path), "--no-derived", "--quiet", "--strict"]) == 3
    captured = capsys.readouterr()
    assert "bad.jsonl: 2 rows read, 1 new prompts, 0 duplicates, 1 rejected" in captured.out
    assert "rejected: bad.jsonl line 2, field 'prompt'" in captured.err
    assert main(["ingest", str(path), "--no-derived", "--quiet"]) == 0
    assert "already ingested" in capsys.readouterr().out

    other = write_jsonl(tmp_path / "other.jsonl", [{"q": "x", "tag": "t"}])
    assert main(["ingest", str(other), "--prompt-column", "question", "--no-derived"]) == 1
    err = capsys.readouterr().err
    assert "error: other.jsonl: column 'question'" in err
    assert "fix: pick one of the columns found: q, tag" in err
    assert main(["ingest", str(tmp_path / "missing.jsonl"), "--no-derived"]) == 1
    assert "does not exist" in capsys.readouterr().err


# --- property: every row is either stored or quarantined, with its row number ----------------

_CHARS = st.text(
    st.one_of(
        st.sampled_from(list("\"',;\n\r\t \\{}[]")),
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    ),
    max_size=20,
)
_PROMPT = _CHARS.filter(lambda s: s.strip() != "")
_VALID = st.one_of(
    st.builds(lambda p: [user(p)], _PROMPT),
    st.builds(lambda s, p: [system(s), user(p)], _PROMPT, _PROMPT),
    st.builds(lambda a, p: [user("earlier"), assistant(a), user(p)], _PROMPT, _PROMPT),
    st.builds(lambda p: [user([{"type": "text", "text": p}])], _PROMPT),
)
_INVALID = st.one_of(
    st.builds(lambda p: [{"role": "wizard", "content": p}], _PROMPT),
    st.builds(lambda p: {"role": "user", "content": p}, _PROMPT),
    st.just([]),
    st.builds(lambda p: [user([{"type": "image_url", "image_url": {"url": p}}])], _PROMPT),
    st.builds(lambda p: [assistant(p)], _PROMPT),
    st.sampled_from([[user("   ")], [user("")], None]),
)
# A note (a slice) padded with spaces around a core that starts and ends with no whitespace:
# stored trimmed, or null when only spaces are left.
_NOTE = st.builds(
    lambda left, core, right: " " * left + core + " " * right,
    st.integers(0, 2),
    _CHARS.filter(lambda s: s == s.strip()),
    st.integers(0, 2),
)
_ROW = st.tuples(st.booleans(), _VALID, _INVALID, _NOTE)


def _prompt_of(messages: list[dict[str, Any]]) -> str:
    content = messages[-1]["content"]
    return content if isinstance(content, str) else content[0]["text"]


_RUNS = itertools.count()


@pytest.fixture
def lingering_store(tmp_path: Path) -> Iterator[Store]:
    """A store that keeps its connection open between calls (many small ingests)."""
    with Store(tmp_path / "property.duckdb", linger=60) as store:
        yield store


def _check_ingested(
    store: Store, path: Path, table: list[tuple[bool, Any, str]], lines: list[int], run: str
) -> None:
    """Every valid row stored (exact text, note, first row number, weight); the rest rejected."""
    mapping = ColumnMapping(messages_column="messages", slice_columns=("note", "run"))
    report = ingest(store, path, mapping)
    assert report.rows_total == len(table)
    invalid = [line for line, (ok, _m, _n) in zip(lines, table, strict=True) if not ok]
    assert report.rows_rejected == len(invalid)
    bad = rejected(store, report.source_id)
    assert sorted(bad) == invalid, run
    for line, (_field, reason) in bad.items():
        assert reason.startswith(f"{path.name} line {line}, field '"), reason
    expected: dict[tuple[str, str | None], tuple[int, int]] = {}
    for line, (ok, messages, note) in zip(lines, table, strict=True):
        if ok:
            key = (json.dumps(messages), note.strip(" ") or None)
            first, count = expected.get(key, (line, 0))
            expected[key] = (first, count + 1)
    got = {p["row"]: p for p in stored(store, report.source_id)}
    assert len(got) == len(expected) == report.rows_ingested, run
    for (messages_json, note), (line, count) in expected.items():
        row = got[line]
        assert row["text"] == _prompt_of(json.loads(messages_json)), run
        assert row["metadata"] == {"note": note, "run": run}, run
        assert row["weight"] == count, run


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(_ROW, min_size=1, max_size=8), blank_after=st.sets(st.integers(0, 7)))
def test_property_rows_stored_or_quarantined(
    lingering_store: Store,
    tmp_path: Path,
    rows: list[tuple[bool, Any, Any, str]],
    blank_after: set[int],
) -> None:
    # One store for all examples: a unique "run" slice keeps their prompts apart.
    run = next(_RUNS)
    table = [(ok, good if ok else bad, note) for ok, good, bad, note in rows]
    if not any(ok for ok, _, _ in table):
        table[0] = (True, [user("always one valid row")], "")
    # JSON Lines, with some blank lines in between
    jsonl_lines, text, line = [], "", 0
    for i, (_ok, messages, note) in enumerate(table):
        line += 1
        jsonl_lines.append(line)
        row = {"messages": messages, "note": note, "run": f"{run}-jsonl"}
        text += json.dumps(row, ensure_ascii=False) + "\n"
        if i in blank_after:
            line += 1
            text += "\n"
    jsonl = tmp_path / f"prop{run}.jsonl"
    jsonl.write_text(text, "utf-8")
    _check_ingested(lingering_store, jsonl, table, jsonl_lines, f"{run}-jsonl")
    # CSV: messages as JSON text, the note may hold quotes, commas and newlines
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)  # Excel style: CRLF, values with CR/LF/quotes/commas quoted
    writer.writerow(["messages", "note", "run"])
    csv_lines = []
    for _ok, messages, note in table:
        csv_lines.append(buffer.getvalue().count("\n") + 1)
        writer.writerow([json.dumps(messages, ensure_ascii=False), note, f"{run}-csv"])
    path = tmp_path / f"prop{run}.csv"
    path.write_text(buffer.getvalue(), "utf-8", newline="")
    _check_ingested(lingering_store, path, table, csv_lines, f"{run}-csv")


def test_long_rejected_row_gets_its_real_reason_and_a_clipped_raw(
    tmp_store: Store, tmp_path: Path
) -> None:
    long_text = "word " * 5000  # far longer than the raw text kept in quarantine
    path = write_jsonl(
        tmp_path / "long.jsonl",
        [
            {"messages": [{"role": "user", "content": "fine"}]},
            {"messages": [{"role": "robot", "content": long_text}]},
        ],
    )
    report = ingest(tmp_store, path)
    (reject,) = report.rejects.to_dict("records")
    assert reject["field"] == "messages[0].role" and "'robot'" in reject["reason"]
    assert len(reject["raw"]) == 2000 and reject["raw"].startswith('{"messages"')


def test_a_prompt_in_two_sources_belongs_to_both(tmp_store: Store, tmp_path: Path) -> None:
    from swapcheck.models import VariantConfig
    from swapcheck.store.studies import create_study, study_prompt_ids
    from swapcheck.store.variants import save_variant

    monday = write_jsonl(tmp_path / "monday.jsonl", [{"prompt": "shared"}, {"prompt": "mon"}])
    tuesday = write_jsonl(
        tmp_path / "tuesday.jsonl", [{"prompt": "shared"}, {"prompt": "shared"}, {"prompt": "tue"}]
    )
    ingest(tmp_store, monday)
    second = ingest(tmp_store, tuesday)
    assert (second.rows_ingested, second.rows_duplicate) == (1, 2)
    with tmp_store.cursor() as cur:
        links = cur.execute(
            "SELECT p.prompt_text, s.name, ps.weight FROM prompt_sources ps "
            "JOIN prompts p USING (prompt_id) JOIN sources s ON s.source_id = ps.source_id "
            "ORDER BY s.name, p.prompt_text"
        ).fetchall()
    assert links == [
        ("mon", "monday.jsonl", 1),
        ("shared", "monday.jsonl", 1),
        ("shared", "tuesday.jsonl", 2),
        ("tue", "tuesday.jsonl", 1),
    ]
    for name in ("a", "b"):
        save_variant(tmp_store, VariantConfig(name=name, provider="simulated", model=f"m-{name}"))
    study = create_study(
        tmp_store, "tuesday only", baseline="a", candidate="b", sources=["tuesday.jsonl"]
    )
    assert len(study_prompt_ids(tmp_store, study)) == 2  # 'shared' and 'tue'
