"""Tests for swapcheck.ingest: parsing JSONL/CSV/Parquet logs into prompts and rejects."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swapcheck.errors import IngestError
from swapcheck.ingest import (
    ColumnMapping,
    ParsedLog,
    detect_format,
    guess_mapping,
    parse_log,
    preview,
    read_columns,
)
from swapcheck.models import canonical_json, sha256_hex

PROMPT_COLUMNS = [
    "row_number",
    "external_id",
    "messages",
    "prompt_text",
    "metadata",
    "logged_response",
    "content_hash",
]


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def assert_invariant(parsed: ParsedLog) -> None:
    assert parsed.rows_total == len(parsed.prompts) + len(parsed.rejects) + parsed.rows_duplicate
    assert list(parsed.prompts.columns) == PROMPT_COLUMNS
    assert list(parsed.rejects.columns) == ["row_number", "reason", "raw"]


def reasons_by_row(parsed: ParsedLog) -> dict[int, str]:
    return dict(zip(parsed.rejects["row_number"], parsed.rejects["reason"], strict=True))


# --- JSONL ----------------------------------------------------------------------------------


def test_jsonl_plain_prompt_with_slices_and_response(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "log.jsonl",
        [
            {"id": 7, "prompt": "Hi there", "response": "Hello!", "locale": " de ", "tier": 2},
            {"id": "b", "prompt": "Bye", "response": None, "locale": "", "tier": True},
        ],
    )
    parsed = parse_log(path)
    assert_invariant(parsed)
    assert parsed.format == "jsonl"
    assert parsed.source_name == "log.jsonl"
    assert parsed.file_hash == sha256_hex(path.read_bytes())
    assert parsed.columns == ["id", "prompt", "response", "locale", "tier"]
    assert parsed.mapping == ColumnMapping(
        prompt_column="prompt",
        id_column="id",
        response_column="response",
        slice_columns=("locale", "tier"),
    )
    first, second = parsed.prompts.to_dict("records")
    assert first["row_number"] == 1
    assert first["external_id"] == "7"
    assert json.loads(first["messages"]) == [{"role": "user", "content": "Hi there"}]
    assert first["prompt_text"] == "Hi there"
    assert json.loads(first["metadata"]) == {"locale": "de", "tier": "2"}
    assert first["logged_response"] == "Hello!"
    assert json.loads(second["metadata"]) == {"locale": None, "tier": "true"}
    assert second["logged_response"] is None
    expected = canonical_json(
        {
            "messages": [{"role": "user", "content": "Hi there"}],
            "metadata": {"locale": "de", "tier": "2"},
            "logged_response": "Hello!",
        }
    )
    assert first["content_hash"] == sha256_hex(expected)


def test_jsonl_messages_with_parts_and_system(tmp_path: Path) -> None:
    chat = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "part 1"}, {"type": "text", "text": "part 2"}],
        },
    ]
    path = write_jsonl(
        tmp_path / "chat.ndjson",
        [
            {"messages": chat, "system": "ignored: messages bring their own"},
            {"messages": json.dumps([{"role": "user", "content": "as a string"}]), "system": "S"},
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            {"messages": [{"role": "wizard", "content": "x"}, {"role": "user", "content": "y"}]},
            {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]},
        ],
    )
    parsed = parse_log(path)
    assert_invariant(parsed)
    assert parsed.mapping.messages_column == "messages"
    assert parsed.mapping.system_column == "system"
    rows = parsed.prompts.to_dict("records")
    assert [r["row_number"] for r in rows] == [1, 2]
    own = json.loads(rows[0]["messages"])
    assert own[0] == {"role": "system", "content": "Be brief."}
    assert own[-1] == {"role": "user", "content": "part 1\npart 2"}
    assert rows[0]["prompt_text"] == "part 1\npart 2"
    assert json.loads(rows[1]["messages"]) == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "as a string"},
    ]
    reasons = reasons_by_row(parsed)
    assert "line 3:" in reasons[3] and "'image_url'" in reasons[3] and "text parts" in reasons[3]
    assert "messages[0].role 'wizard' is not one of system/user/assistant/tool" in reasons[4]
    assert "last message must come from the user" in reasons[5]


def test_jsonl_acceptance_bad_lines_are_quarantined(tmp_path: Path) -> None:
    good = [json.dumps({"id": i, "prompt": f"question {i}"}).encode() for i in range(6)]
    lines = [
        good[0],  # line 1
        good[1],  # line 2
        b'{"id": 99, "prompt": "oops" "x"}',  # line 3: malformed JSON
        b"",  # line 4: blank, not a row
        good[2],  # line 5
        b'{"id": 98, "prompt": "   "}',  # line 6: no prompt
        good[3],  # line 7
        b'{"id": 97, "prompt": "caf\xff"}',  # line 8: invalid UTF-8
        good[4],  # line 9
        good[5] + b"\r",  # line 10 (CRLF ending)
    ]
    path = tmp_path / "prod.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    parsed = parse_log(path)
    assert_invariant(parsed)
    assert parsed.rows_total == 9
    assert list(parsed.prompts["row_number"]) == [1, 2, 5, 7, 9, 10]
    assert list(parsed.prompts["external_id"]) == ["0", "1", "2", "3", "4", "5"]
    reasons = reasons_by_row(parsed)
    assert sorted(reasons) == [3, 6, 8]
    assert reasons[3].startswith("line 3: not valid JSON (")
    assert "fix the JSON on this line" in reasons[3]
    assert reasons[6] == "line 6: prompt column 'prompt' is empty — every row needs a prompt"
    assert reasons[8] == (
        "line 8: not valid UTF-8 (byte 0xff at position 26) — re-encode the file as UTF-8"
    )
    raw = dict(zip(parsed.rejects["row_number"], parsed.rejects["raw"], strict=True))
    assert raw[3] == lines[2].decode()
    assert "caf\ufffd" in raw[8]


def test_jsonl_non_object_lines_and_raw_truncation(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    long_prompt = "x" * 5000
    path.write_text(
        '[1, 2]\nnull\n{"prompt": "ok"}\n' + json.dumps({"prompt": long_prompt})[:-1] + "\n",
        "utf-8",
    )
    parsed = parse_log(path)
    assert_invariant(parsed)
    reasons = reasons_by_row(parsed)
    assert "expected a JSON object, got an array" in reasons[1]
    assert "expected a JSON object, got null" in reasons[2]
    assert "not valid JSON" in reasons[4]
    assert parsed.rejects["raw"].str.len().max() == 2000
    assert list(parsed.prompts["row_number"]) == [3]


def test_duplicates_are_counted_not_kept(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "prompt": "same", "locale": "en"},
        {"id": "b", "prompt": "same", "locale": "en"},  # same content, other id
        {"id": "c", "prompt": "same", "locale": "fr"},  # other metadata → not a duplicate
        {"id": "a", "prompt": "same", "locale": "en"},
    ]
    parsed = parse_log(write_jsonl(tmp_path / "d.jsonl", rows))
    assert_invariant(parsed)
    assert parsed.rows_duplicate == 2
    assert list(parsed.prompts["external_id"]) == ["a", "c"]
    hashes = list(parsed.prompts["content_hash"])
    assert len(set(hashes)) == 2


def test_content_hash_is_deterministic(tmp_path: Path) -> None:
    rows = [{"prompt": "hello", "feature": "search"}]
    one = parse_log(write_jsonl(tmp_path / "a.jsonl", rows))
    two = parse_log(write_jsonl(tmp_path / "b.jsonl", rows))
    other = parse_log(write_jsonl(tmp_path / "c.jsonl", [{"prompt": "hello", "feature": "chat"}]))
    assert one.prompts["content_hash"][0] == two.prompts["content_hash"][0]
    assert one.prompts["content_hash"][0] != other.prompts["content_hash"][0]
    assert one.file_hash == two.file_hash


# --- CSV ------------------------------------------------------------------------------------


def test_csv_bom_multiline_and_response(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(
        "\ufeffprompt_id,Question,answer,locale\r\n"
        '1,"line one\r\nline two, with comma",fine,de\r\n'
        '2,"say ""hi""",,en\r\n'
        "\r\n"
        "3,plain,ok,\r\n".encode()
    )
    parsed = parse_log(path)
    assert_invariant(parsed)
    assert parsed.format == "csv"
    assert parsed.columns == ["prompt_id", "Question", "answer", "locale"]
    assert parsed.mapping == ColumnMapping(
        prompt_column="Question",
        id_column="prompt_id",
        response_column="answer",
        slice_columns=("locale",),
    )
    rows = parsed.prompts.to_dict("records")
    assert [r["row_number"] for r in rows] == [2, 4, 6]
    assert rows[0]["prompt_text"] == "line one\r\nline two, with comma"
    assert rows[0]["logged_response"] == "fine"
    assert rows[1]["prompt_text"] == 'say "hi"'
    assert rows[1]["logged_response"] is None
    assert json.loads(rows[2]["metadata"]) == {"locale": None}


def test_csv_acceptance_bad_byte_and_missing_prompt(tmp_path: Path) -> None:
    path = tmp_path / "prod.csv"
    path.write_bytes(
        b"id,prompt,tier\n"  # line 1
        b"1,hello,free\n"  # line 2
        b'2,"two\nlines",pro\n'  # lines 3-4
        b"3,caf\xe9 au lait,free\n"  # line 5: Latin-1 byte
        b"4,,pro\n"  # line 6: no prompt
        b"5,too,many,values\n"  # line 7: extra column
        b"6,last,pro\n"  # line 8
    )
    parsed = parse_log(path)
    assert_invariant(parsed)
    assert parsed.rows_total == 6
    assert list(parsed.prompts["row_number"]) == [2, 3, 8]
    reasons = reasons_by_row(parsed)
    assert sorted(reasons) == [5, 6, 7]
    assert reasons[5] == (
        "line 5: not valid UTF-8 (byte 0xe9 at position 6) — re-encode the file as UTF-8"
    )
    assert reasons[6] == "line 6: prompt column 'prompt' is empty — every row needs a prompt"
    assert reasons[7].startswith("line 7: has more values than the header")
    raw = dict(zip(parsed.rejects["row_number"], parsed.rejects["raw"], strict=True))
    assert raw[7] == "5,too,many,values"


def test_csv_messages_column_as_json_text(tmp_path: Path) -> None:
    path = tmp_path / "chat.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["conversation", "system_prompt"])
        writer.writerow([json.dumps([{"role": "user", "content": "hi"}]), "Be nice"])
        writer.writerow(["not json", ""])
    parsed = parse_log(path)
    assert_invariant(parsed)
    assert json.loads(parsed.prompts["messages"][0]) == [
        {"role": "system", "content": "Be nice"},
        {"role": "user", "content": "hi"},
    ]
    assert "messages column 'conversation' is not valid JSON" in parsed.rejects["reason"][0]


# --- Parquet --------------------------------------------------------------------------------


def test_parquet_with_struct_messages(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    table = pa.table(
        {
            "request_id": ["r1", "r2", "r3"],
            "messages": [
                [{"role": "user", "content": "hello"}],
                [{"role": "system", "content": "sys"}, {"role": "user", "content": "q"}],
                [],
            ],
            "latency_bucket": [1.5, None, 3.0],
            "flag": [True, False, None],
        }
    )
    pq.write_table(table, path)
    parsed = parse_log(path)
    assert_invariant(parsed)
    assert parsed.format == "parquet"
    assert parsed.mapping.messages_column == "messages"
    assert parsed.mapping.id_column == "request_id"
    rows = parsed.prompts.to_dict("records")
    assert [r["row_number"] for r in rows] == [1, 2]
    assert json.loads(rows[0]["metadata"]) == {"latency_bucket": "1.5", "flag": "true"}
    assert json.loads(rows[1]["metadata"]) == {"latency_bucket": None, "flag": "false"}
    assert rows[1]["prompt_text"] == "q"
    assert parsed.rejects["reason"][0].startswith("row 3: messages column 'messages' must be")


def test_parquet_written_by_duckdb_copy(tmp_path: Path) -> None:
    path = tmp_path / "log.pq"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT 'p' || i AS prompt, i AS id FROM range(5) t(i)) TO ? (FORMAT parquet)",
        [str(path)],
    )
    parsed = parse_log(path, source_name="nightly export")
    assert_invariant(parsed)
    assert parsed.source_name == "nightly export"
    assert list(parsed.prompts["external_id"]) == ["0", "1", "2", "3", "4"]
    assert read_columns(path) == ["prompt", "id"]


# --- mapping, preview, errors ---------------------------------------------------------------


def test_guess_mapping_cases() -> None:
    m = guess_mapping(["Text", "Prompt", "ID", "Output", "System_Prompt", "locale"])
    assert m == ColumnMapping(
        prompt_column="Prompt",
        id_column="ID",
        response_column="Output",
        system_column="System_Prompt",
        slice_columns=("Text", "locale"),
    )
    chat = guess_mapping(["chat", "uuid", "assistant", "tier"])
    assert chat.messages_column == "chat" and chat.prompt_column is None
    assert chat.response_column == "assistant" and chat.id_column == "uuid"
    assert chat.slice_columns == ("tier",)
    none = guess_mapping(["a", "b"])
    assert none.prompt_column is None and none.messages_column is None
    assert none.slice_columns == ("a", "b")


def test_mapping_json_round_trip() -> None:
    m = ColumnMapping(prompt_column="q", slice_columns=("a", "b"))
    assert ColumnMapping.from_json(m.to_json()) == m


def test_explicit_mapping_and_preview(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "x.jsonl", [{"body": "hi", "n": 1, "nested": {"k": [1]}}, {"body": "yo"}]
    )
    parsed = parse_log(path, ColumnMapping(prompt_column="BODY", slice_columns=("n",)))
    assert parsed.mapping.prompt_column == "body"
    assert json.loads(parsed.prompts["metadata"][1]) == {"n": None}
    frame = preview(path, limit=1)
    assert frame.to_dict("records") == [{"body": "hi", "n": "1", "nested": '{"k":[1]}'}]


def test_errors_for_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"log\.txt.*unsupported") as exc:
        detect_format(tmp_path / "log.txt")
    assert ".jsonl" in str(exc.value.fix) and ".parquet" in str(exc.value.fix)
    with pytest.raises(IngestError, match="does not exist"):
        parse_log(tmp_path / "missing.csv")
    (tmp_path / "empty.jsonl").write_text("\n\n", "utf-8")
    with pytest.raises(IngestError, match=r"empty\.jsonl is empty"):
        parse_log(tmp_path / "empty.jsonl")
    path = write_jsonl(tmp_path / "cols.jsonl", [{"a": 1, "b": 2, "c": 3}])
    with pytest.raises(IngestError) as exc:
        parse_log(path)
    assert "cols.jsonl" in exc.value.message
    assert exc.value.fix == "pass --prompt-column or --messages-column; columns found: a, b, c"
    with pytest.raises(IngestError, match="'nope'") as exc:
        parse_log(path, ColumnMapping(prompt_column="a", slice_columns=("nope",)))
    assert "a, b, c" in str(exc.value.fix)
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(IngestError, match=r"broken\.parquet could not be read as Parquet"):
        parse_log(tmp_path / "broken.parquet")


# --- properties -----------------------------------------------------------------------------

_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1
).filter(lambda s: s.strip() != "")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(prompts=st.lists(_TEXT, min_size=1, max_size=5))
def test_unicode_prompts_round_trip(tmp_path: Path, prompts: list[str]) -> None:
    jpath = write_jsonl(tmp_path / "p.jsonl", [{"prompt": p} for p in prompts])
    cpath = tmp_path / "p.csv"
    with cpath.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL)
        writer.writerow(["prompt"])
        writer.writerows([p] for p in prompts)
    for path in (jpath, cpath):
        parsed = parse_log(path)
        assert_invariant(parsed)
        assert parsed.rejects.empty
        assert list(dict.fromkeys(prompts)) == list(parsed.prompts["prompt_text"])


def test_csv_semicolon_dialect_columns_and_preview(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_bytes(b'id;input;note\n1;"a;b\nc";x\n2;d;\n')
    assert read_columns(path) == ["id", "input", "note"]
    assert preview(path).to_dict("records") == [
        {"id": "1", "input": "a;b\nc", "note": "x"},
        {"id": "2", "input": "d", "note": None},
    ]
    parsed = parse_log(path)
    assert_invariant(parsed)
    assert parsed.mapping.prompt_column == "input"
    assert list(parsed.prompts["row_number"]) == [2, 4]
