"""Every log format the ingest reads, and the row numbers it gives kept and rejected rows.

Row numbers: JSON Lines, CSV and TSV → the physical line (a CSV header is line 1 and a quoted
value with newlines advances the count), JSON array → the element (from 1), Parquet → the row
(from 1). Each ingest checks rows_total == ingested + duplicate + rejected (``ingest``).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from swapcheck.errors import IngestError
from swapcheck.ingest import preview, read_columns, sample_log, suggest_mapping
from swapcheck.store import Store
from tests.helpers import write_jsonl
from tests.test_ingest import ingest, rejected, source_row, sql, stored, user

# --- JSON Lines -------------------------------------------------------------------------------


def test_jsonl_row_numbers_with_blank_and_bad_lines(tmp_store: Store, tmp_path: Path) -> None:
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
        good[5],  # line 10
    ]
    path = tmp_path / "prod.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = ingest(tmp_store, path)
    assert (report.rows_total, report.rows_ingested, report.rows_rejected) == (9, 6, 3)
    assert report.file_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    rows = stored(tmp_store)
    assert [p["row"] for p in rows] == [1, 2, 5, 7, 9, 10]
    assert [p["id"] for p in rows] == ["0", "1", "2", "3", "4", "5"]
    assert rows[-1]["text"] == "question 5"
    bad = rejected(tmp_store, report.source_id)
    assert sorted(bad) == [3, 6, 8]
    assert bad[3][0] == "(line)"
    assert bad[3][1].startswith("prod.jsonl line 3, field '(line)': not valid JSON (")
    assert "fix the JSON on this line" in bad[3][1]
    assert bad[6] == (
        "prompt",
        "prod.jsonl line 6, field 'prompt': is empty — every row needs a prompt",
    )
    assert bad[8][1] == (
        "prod.jsonl line 8, field '(line)': not valid UTF-8 (byte 0xff at position 26) — "
        "re-encode the file as UTF-8"
    )
    raw = dict(sql(tmp_store, "SELECT row_number, raw FROM quarantine"))
    assert raw[3] == lines[2].decode()
    assert "caf\ufffd" in raw[8]


def test_jsonl_with_crlf_line_endings(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b'{"prompt": "a"}\r\n\r\n{"prompt": ""}\r\n{"prompt": "b"}\r\n')
    report = ingest(tmp_store, path)
    assert [(p["row"], p["text"]) for p in stored(tmp_store)] == [(1, "a"), (4, "b")]
    assert list(rejected(tmp_store, report.source_id)) == [3]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("mixed.jsonl", b'{"prompt": "a"}\n{"prompt": ""}\r\n{"prompt": "b"}\n{"prompt": "c"}\r\n'),
        ("mixed.csv", b'prompt\na\n""\r\nb\nc\r\n'),
    ],
    ids=["jsonl", "csv"],
)
def test_mixed_line_endings(tmp_store: Store, tmp_path: Path, name: str, data: bytes) -> None:
    """Logs appended to by different tools mix LF and CRLF line ends: still one row a line."""
    path = tmp_path / name
    path.write_bytes(data)
    report = ingest(tmp_store, path)
    first = 1 if name.endswith(".jsonl") else 2
    assert [(p["row"], p["text"]) for p in stored(tmp_store)] == [
        (first, "a"),
        (first + 2, "b"),
        (first + 3, "c"),
    ]
    assert list(rejected(tmp_store, report.source_id)) == [first + 1]


def test_jsonl_non_object_lines_and_raw_truncation(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    long_prompt = "x" * 5000
    path.write_text(
        '[1, 2]\nnull\n{"prompt": "ok"}\n' + json.dumps({"prompt": long_prompt})[:-1] + "\n",
        "utf-8",
    )
    report = ingest(tmp_store, path)
    assert source_row(tmp_store, report.source_id)["format"] == "jsonl"
    bad = rejected(tmp_store, report.source_id)
    assert sorted(bad) == [1, 2, 4]
    assert "expected a JSON object, got a list" in bad[1][1]
    assert "expected a JSON object, got null" in bad[2][1]
    assert "not valid JSON" in bad[4][1]
    assert sql(tmp_store, "SELECT max(length(raw)) FROM quarantine") == [(2000,)]
    assert [p["row"] for p in stored(tmp_store)] == [3]


def test_utf16_jsonl_is_converted(tmp_store: Store, tmp_path: Path) -> None:
    text = '{"prompt": "Grüße"}\n{"prompt": ""}\n{"prompt": "日本語"}\n'
    path = tmp_path / "wide.jsonl"
    path.write_bytes(text.encode("utf-16"))  # with a byte-order mark
    report = ingest(tmp_store, path)
    assert [(p["row"], p["text"]) for p in stored(tmp_store)] == [(1, "Grüße"), (3, "日本語")]
    assert list(rejected(tmp_store, report.source_id)) == [2]
    assert any("UTF-16" in note for note in report.notes)


# --- JSON (.json: an array, or JSON Lines) ----------------------------------------------------


def test_json_array_element_numbers(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "arr.json"
    path.write_text(
        '[\n  {"id": "a", "prompt": "one"},\n  {"id": "b", "prompt": ""},\n  5,\n'
        '  {"id": "d",\n   "prompt": "four\\nlines"}\n]\n',
        "utf-8",
    )
    report = ingest(tmp_store, path)
    assert (report.rows_total, report.rows_ingested, report.rows_rejected) == (4, 2, 2)
    assert source_row(tmp_store, report.source_id)["format"] == "json"
    assert [(p["row"], p["id"], p["text"]) for p in stored(tmp_store)] == [
        (1, "a", "one"),
        (4, "d", "four\nlines"),
    ]
    bad = rejected(tmp_store, report.source_id)
    assert bad[2] == (
        "prompt",
        "arr.json element 2, field 'prompt': is empty — every row needs a prompt",
    )
    assert bad[3][1].startswith("arr.json element 3, field '(line)': expected a JSON object")


def test_json_one_line_array(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps([{"prompt": "a"}, {"prompt": "b"}]), "utf-8")
    report = ingest(tmp_store, path)
    assert source_row(tmp_store, report.source_id)["format"] == "json"
    assert [(p["row"], p["text"]) for p in stored(tmp_store)] == [(1, "a"), (2, "b")]


def test_json_extension_holding_json_lines(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "lines.json"
    path.write_text('{"prompt": "one"}\n\n{"prompt": "two"}\n{bad\n', "utf-8")
    report = ingest(tmp_store, path)
    assert source_row(tmp_store, report.source_id)["format"] == "jsonl"
    assert [(p["row"], p["text"]) for p in stored(tmp_store)] == [(1, "one"), (3, "two")]
    bad = rejected(tmp_store, report.source_id)
    assert list(bad) == [4] and bad[4][1].startswith("lines.json line 4, field '(line)'")


# --- CSV / TSV --------------------------------------------------------------------------------

BOM_CSV = (
    "\ufeffprompt_id,Question,answer,locale\r\n"  # line 1
    '1,"line one\r\nline two, with comma",fine,de\r\n'  # lines 2-3
    '2,"say ""hi""",,en\r\n'  # line 4
    "\r\n"  # line 5: blank
    "3,plain,ok,\r\n"  # line 6
    "4,,no prompt,fr\r\n"  # line 7
    '5,"last\nrow",ok,en\r\n'  # lines 8-9
).encode()


def test_csv_bom_crlf_embedded_newlines_and_blank_line(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(BOM_CSV)
    report = ingest(tmp_store, path)
    assert (report.rows_total, report.rows_ingested, report.rows_rejected) == (5, 4, 1)
    assert report.logged_responses == 3
    mapping = source_row(tmp_store, report.source_id)["mapping"]
    assert (mapping["prompt_column"], mapping["id_column"], mapping["response_column"]) == (
        "Question",
        "prompt_id",
        "answer",
    )
    assert mapping["slice_columns"] == ["locale"]
    rows = stored(tmp_store)
    assert [p["row"] for p in rows] == [2, 4, 6, 8]
    assert rows[0]["text"] == "line one\r\nline two, with comma"
    assert rows[0]["logged"] == "fine" and rows[0]["metadata"] == {"locale": "de"}
    assert rows[1]["text"] == 'say "hi"' and rows[1]["logged"] is None
    assert rows[2]["metadata"] == {"locale": None}
    assert rows[3]["text"] == "last\nrow"
    bad = rejected(tmp_store, report.source_id)
    assert bad == {
        7: ("Question", "log.csv line 7, field 'Question': is empty — every row needs a prompt")
    }


def test_csv_reader_rejects_keep_physical_lines(tmp_store: Store, tmp_path: Path) -> None:
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
    report = ingest(tmp_store, path)
    assert (report.rows_total, report.rows_ingested, report.rows_rejected) == (6, 3, 3)
    assert [p["row"] for p in stored(tmp_store)] == [2, 3, 8]
    bad = rejected(tmp_store, report.source_id)
    assert sorted(bad) == [5, 6, 7]
    assert bad[5][1] == (
        "prod.csv line 5, field '(line)': not valid UTF-8 (byte 0xe9 at position 6) — "
        "re-encode the file as UTF-8"
    )
    assert bad[6][0] == "prompt"
    assert bad[7][1].startswith("prod.csv line 7, field '(line)': has more values than the header")
    raw = dict(sql(tmp_store, "SELECT row_number, raw FROM quarantine"))
    assert raw[7] == "5,too,many,values"


def test_tsv(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "log.tsv"
    path.write_bytes(b'id\tprompt\ttier\n1\t"multi\nline"\tfree\n2\t\tpro\n3\tthird, ok\tpro\n')
    report = ingest(tmp_store, path)
    assert source_row(tmp_store, report.source_id)["format"] == "tsv"
    assert [(p["row"], p["text"], p["metadata"]) for p in stored(tmp_store)] == [
        (2, "multi\nline", {"tier": "free"}),
        (5, "third, ok", {"tier": "pro"}),
    ]
    assert list(rejected(tmp_store, report.source_id)) == [4]


def test_semicolon_csv_columns_preview_and_rows(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_bytes(b'id;input;note\n1;"a;b\nc";x\n2;d;\n3;;y\n')
    assert read_columns(path) == ["id", "input", "note"]
    assert preview(path).to_dict("records") == [
        {"id": "1", "input": "a;b\nc", "note": "x"},
        {"id": "2", "input": "d", "note": None},
        {"id": "3", "input": None, "note": "y"},
    ]
    assert suggest_mapping(path).prompt_column == "input"
    report = ingest(tmp_store, path)
    assert [(p["row"], p["text"], p["metadata"]) for p in stored(tmp_store)] == [
        (2, "a;b\nc", {"note": "x"}),
        (4, "d", {"note": None}),
    ]
    assert list(rejected(tmp_store, report.source_id)) == [5]


def test_csv_messages_column_as_json_text(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "chat.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["conversation", "system_prompt"])
        writer.writerow([json.dumps([user("hi")]), "Be nice"])
        writer.writerow(["not json", ""])
        writer.writerow([json.dumps([user("a\nb"), {"role": "assistant", "content": "c"}]), ""])
    report = ingest(tmp_store, path)
    first, second = stored(tmp_store)
    assert first["messages"] == [{"role": "system", "content": "Be nice"}, user("hi")]
    assert second["row"] == 4 and second["messages"] == [user("a\nb")]
    assert second["logged"] == "c"
    bad = rejected(tmp_store, report.source_id)
    assert list(bad) == [3] and bad[3][0] == "conversation"
    assert "is not valid JSON" in bad[3][1]


# --- Parquet ----------------------------------------------------------------------------------


def test_parquet_struct_messages_and_typed_slices(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    table = pa.table(
        {
            "request_id": ["r1", "r2", "r3", "r4"],
            "messages": [
                [user("hello")],
                [{"role": "system", "content": "sys"}, user("q")],
                [],
                [user("   ")],
            ],
            "latency_bucket": [1.5, None, 3.0, 1.0],
            "flag": [True, False, None, True],
        }
    )
    pq.write_table(table, path)
    report = ingest(tmp_store, path)
    assert source_row(tmp_store, report.source_id)["format"] == "parquet"
    rows = stored(tmp_store)
    assert [(p["row"], p["id"]) for p in rows] == [(1, "r1"), (2, "r2")]
    assert rows[0]["metadata"] == {"latency_bucket": "1.5", "flag": "true"}
    assert rows[1]["metadata"] == {"latency_bucket": None, "flag": "false"}
    assert rows[1]["text"] == "q"
    bad = rejected(tmp_store, report.source_id)
    assert sorted(bad) == [3, 4]
    assert bad[3][1].startswith("log.parquet row 3, field 'messages': is an empty list")
    assert bad[4][0] == "messages[0].content"


def test_parquet_written_by_duckdb(tmp_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "log.pq"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT 'p' || i AS prompt, i AS id FROM range(5) t(i)) TO ? (FORMAT parquet)",
        [str(path)],
    )
    con.close()
    report = ingest(tmp_store, path, source_name="nightly export")
    assert report.source_name == "nightly export"
    assert [(p["row"], p["id"], p["text"]) for p in stored(tmp_store)] == [
        (i + 1, str(i), f"p{i}") for i in range(5)
    ]
    assert read_columns(path) == ["prompt", "id"]


# --- gzip -------------------------------------------------------------------------------------

_JSONL = b'{"prompt": "one"}\n{"prompt": ""}\n\n{"prompt": "three"}\n'
_ARRAY = b'[{"prompt": "one"},\n {"prompt": ""},\n {"prompt": "three"}]\n'


@pytest.mark.parametrize(
    ("name", "plain", "rows", "bad", "fmt"),
    [
        ("log.jsonl.gz", _JSONL, [1, 4], [2], "jsonl"),
        ("log.json.gz", _ARRAY, [1, 3], [2], "json"),
        ("log.csv.gz", BOM_CSV, [2, 4, 6, 8], [7], "csv"),
        ("log.ndjson.GZ", _JSONL, [1, 4], [2], "jsonl"),
    ],
    ids=["jsonl", "json", "csv", "ndjson-upper"],
)
def test_gzip_files(
    tmp_store: Store,
    tmp_path: Path,
    name: str,
    plain: bytes,
    rows: list[int],
    bad: list[int],
    fmt: str,
) -> None:
    path = tmp_path / name
    path.write_bytes(gzip.compress(plain))
    report = ingest(tmp_store, path)
    assert report.source_name == name
    assert report.file_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert source_row(tmp_store, report.source_id)["format"] == fmt
    assert [p["row"] for p in stored(tmp_store)] == rows
    reasons = rejected(tmp_store, report.source_id)
    assert list(reasons) == bad
    assert all(r.startswith(f"{name} ") for _f, r in reasons.values())


def test_gzip_and_plain_give_the_same_prompts(tmp_store: Store, tmp_path: Path) -> None:
    plain = tmp_path / "log.csv"
    plain.write_bytes(BOM_CSV)
    packed = tmp_path / "log.csv.gz"
    packed.write_bytes(gzip.compress(BOM_CSV))
    first = ingest(tmp_store, plain)
    second = ingest(tmp_store, packed)
    assert first.source_id != second.source_id
    assert (second.rows_ingested, second.rows_duplicate) == (0, first.rows_ingested)
    assert second.rows_rejected == first.rows_rejected == 1


# --- whole-file errors --------------------------------------------------------------------


def test_unreadable_files_raise_and_store_nothing(tmp_store: Store, tmp_path: Path) -> None:
    def fails(name: str, content: bytes | None, match: str) -> IngestError:
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(IngestError, match=match) as exc:
            ingest(tmp_store, path)
        assert exc.value.fix
        return exc.value

    error = fails("log.txt", b"prompt\nhi\n", r"log\.txt.*unsupported")
    assert ".jsonl" in str(error.fix) and ".parquet" in str(error.fix)
    fails("missing.csv", None, "does not exist")
    fails("empty.jsonl", b"", r"empty\.jsonl is empty")
    fails("blank.jsonl", b"\n \n\t\n", r"blank\.jsonl holds only whitespace")
    fails("binary.jsonl", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "binary")
    fails("fake.jsonl.gz", b'{"prompt": "x"}\n', "not gzip-compressed")
    fails("broken.parquet", b"not parquet at all", r"broken\.parquet could not be read as Parquet")
    fails("header.csv", b"id,prompt\n", r"header\.csv has no data rows")
    fails(
        "allbad.jsonl", b'{"prompt": ""}\n{oops\n', r"allbad\.jsonl: no usable rows \(2 rejected\)"
    )
    assert sql(tmp_store, "SELECT count(*) FROM sources") == [(0,)]
    assert sql(tmp_store, "SELECT count(*) FROM prompts") == [(0,)]
    assert sql(tmp_store, "SELECT count(*) FROM quarantine") == [(0,)]


# --- sample and preview -------------------------------------------------------------------


def test_sample_and_preview_keep_nested_values(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "x.jsonl", [{"body": "hi", "n": 1, "nested": {"k": [1]}}, {"body": "yo"}]
    )
    sample = sample_log(path)
    assert sample.format == "jsonl" and sample.columns == ["body", "n", "nested"]
    assert sample.records[0]["nested"] == {"k": [1]}
    assert preview(path, limit=1).to_dict("records") == [
        {"body": "hi", "n": "1", "nested": '{"k": [1]}'}
    ]


def test_sampling_a_big_log_reads_only_its_head(tmp_path: Path) -> None:
    import gzip

    from swapcheck.ingest import sample_log
    from swapcheck.ingest_files import open_log

    rows = [json.dumps({"prompt": f"question {i}", "feature": "x"}) for i in range(200_000)]
    plain = tmp_path / "big.jsonl"
    plain.write_text("\n".join(rows) + "\n")
    packed = tmp_path / "big.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        with open_log(path, head_bytes=4096) as log:
            assert log.file_hash == ""  # not hashed
            # plain: cut at the limit; gzip: stops after the 64 KiB block that passes it
            limit = 4096 if path == plain else plain.stat().st_size // 4
            assert log.path.stat().st_size <= limit and log.path.read_bytes().endswith(b"\n")
        sample = sample_log(path, limit=5)
        assert sample.columns == ["prompt", "feature"] and len(sample.records) == 5
    one_long_line = tmp_path / "long.jsonl"
    one_long_line.write_text(json.dumps({"prompt": "x" * 10_000}) + "\n")
    with open_log(one_long_line, head_bytes=4096) as log:  # longer than the head: read whole
        assert log.path.stat().st_size > 10_000
