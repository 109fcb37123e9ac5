"""DuckDB-backed readers for JSONL, CSV and Parquet logs that keep each row's line number."""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from swapcheck.errors import IngestError

EXTENSIONS: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonlines": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
RAW_LIMIT = 2000
_JSON_WS = b" \t\r\n"
_MAX_JSON_OBJECT = 268_435_456  # 256 MiB; DuckDB's default (16 MiB) would reject long chats
_UTF8_FIX = "re-encode the file as UTF-8"


@dataclass
class RawRow:
    """One data row as read from the file, before any mapping is applied."""

    row_number: int
    values: dict[str, Any] | None  # None when the row could not be read at all
    raw: str
    error: str | None = None  # why the row could not be read (no "line N:" prefix)


@dataclass
class RawTable:
    """Everything a reader found in a file: its columns and its rows, in file order."""

    format: str
    columns: list[str]
    rows: list[RawRow]
    label: str  # how row numbers are named in reasons: 'line' or 'row'


def detect_format(path: str | Path) -> str:
    """Map the file extension to 'jsonl', 'csv' or 'parquet'."""
    p = Path(path)
    fmt = EXTENSIONS.get(p.suffix.lower())
    if fmt is None:
        raise IngestError(
            f"{p.name}: unsupported file extension {p.suffix or '(none)'!r}.",
            "save the log as one of " + ", ".join(EXTENSIONS) + " (JSON Lines, CSV or Parquet)",
        )
    return fmt


def read_bytes(path: str | Path) -> bytes:
    """Raw file bytes, or IngestError when the file is missing, a directory or empty."""
    p = Path(path)
    if not p.exists():
        raise IngestError(f"{p} does not exist.", "check the path and try again")
    if not p.is_file():
        raise IngestError(f"{p} is not a file.", "pass the path of a .jsonl, .csv or .parquet log")
    data = p.read_bytes()
    if not data.strip():
        raise IngestError(f"{p.name} is empty.", "export the log again; the file has no rows")
    return data


def read_table(path: str | Path, fmt: str, raw: bytes, limit: int | None = None) -> RawTable:
    """Read a whole file (or its first ``limit`` rows, without line mapping) with DuckDB."""
    if fmt == "jsonl":
        table = _read_jsonl(Path(path), raw)
        if limit is not None:
            table.rows = [r for r in table.rows if r.values is not None][:limit]
        return table
    if fmt == "csv":
        return _read_csv(Path(path), raw, limit)
    if fmt == "parquet":
        return _read_parquet(Path(path), limit)
    raise IngestError(f"unknown format {fmt!r}.", "use one of: jsonl, csv, parquet")


def _clip(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")[:RAW_LIMIT]


def utf8_problem(raw: bytes) -> str | None:
    """Describe the first invalid UTF-8 byte of one line (1-based position), or None."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start]
        return f"not valid UTF-8 (byte 0x{bad:02x} at position {exc.start + 1}) — {_UTF8_FIX}"
    return None


def _duck_error(path: Path, what: str, exc: Exception) -> IngestError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return IngestError(
        f"{path.name} could not be read as {what}: {first}",
        f"check that the file really is {what} (open it in an editor or re-export it)",
    )


# --- JSONL --------------------------------------------------------------------------------


def _read_jsonl(path: Path, raw: bytes) -> RawTable:
    """JSON Lines: DuckDB's read_json parses every non-blank line into one value (NULL when
    the line is not valid JSON); we pair those values with the physical lines in order.

    read_json cannot report *which* line failed or *why*, and silently yields NULL for lines
    with invalid UTF-8, so the per-line reasons (bad byte, JSON error text) are worked out in
    Python for those rejected lines only.
    """
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]
    numbered = [(i, line) for i, line in enumerate(lines, start=1) if line.strip(_JSON_WS)]
    con = duckdb.connect()
    try:
        parsed = con.execute(
            "SELECT json FROM read_json(?, format = 'newline_delimited', records = 'false', "
            "columns = {'json': 'JSON'}, ignore_errors = true, maximum_object_size = ?)",
            [str(path), _MAX_JSON_OBJECT],
        ).fetchall()
        values: list[str | None] = [row[0] for row in parsed]
    except duckdb.Error:
        # DuckDB gave up on the file as a whole; fall back to judging every line in Python.
        values = []
    finally:
        con.close()
    if len(values) != len(numbered):
        # DuckDB's idea of a line differs from ours (e.g. a lone '\r'); keep exact physical
        # line numbers by judging each line in Python instead of guessing an alignment.
        values = [None] * len(numbered)
    rows: list[RawRow] = []
    columns: dict[str, None] = {}
    for (number, line), value in zip(numbered, values, strict=True):
        rows.append(_jsonl_row(number, line, value))
        if rows[-1].values is not None:
            columns.update(dict.fromkeys(rows[-1].values))
    return RawTable("jsonl", list(columns), rows, "line")


def _jsonl_row(number: int, line: bytes, value: str | None) -> RawRow:
    text = line.rstrip(b"\r")
    bad_utf8 = utf8_problem(text)
    if bad_utf8:
        return RawRow(number, None, _clip(text), bad_utf8)
    decoded = text.decode("utf-8")
    try:
        obj = json.loads(value if value is not None else decoded)
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON ({exc.msg} at column {exc.colno}) — fix the JSON on this line"
        return RawRow(number, None, decoded[:RAW_LIMIT], reason)
    if not isinstance(obj, dict):
        kind = {list: "an array", str: "a string", type(None): "null"}.get(type(obj), "a number")
        reason = f"expected a JSON object, got {kind} — write one JSON object per line"
        return RawRow(number, None, decoded[:RAW_LIMIT], reason)
    return RawRow(number, obj, decoded[:RAW_LIMIT])


# --- CSV ----------------------------------------------------------------------------------

_CSV_REASONS = {
    "TOO MANY COLUMNS": "has more values than the header — quote values that contain the delimiter",
    "MISSING COLUMNS": "has fewer values than the header — add the missing values or separators",
    "UNQUOTED VALUE": "has a stray quote — wrap the value in quotes and double any quote inside it",
    "LINE SIZE OVER MAXIMUM": "is longer than the maximum line size — shorten or split the row",
}


def _read_csv(path: Path, raw: bytes, limit: int | None) -> RawTable:
    """CSV with a header row, read by DuckDB's read_csv with a reject table.

    DuckDB's reject table numbers records, not physical lines, and gives no line number for
    good rows, so record boundaries are located in the raw bytes with the dialect DuckDB
    sniffed; a row's number is the physical line its first line is on (header = line 1).
    """
    con = duckdb.connect()
    try:
        sql = (
            "SELECT * FROM read_csv(?, all_varchar = true, header = true, store_rejects = true, "
            "rejects_table = 'ingest_rejects', rejects_scan = 'ingest_scans')"
        )
        params: list[Any] = [str(path)]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        cur = con.execute(sql, params)
        columns = [d[0] for d in cur.description or []]
        good = cur.fetchall()
        if limit is not None:
            rows = [RawRow(i, dict(zip(columns, r, strict=True)), "") for i, r in enumerate(good)]
            return RawTable("csv", columns, rows, "line")
        # The scan table only has a row when something was rejected; otherwise ask the sniffer.
        scan = con.execute("SELECT delimiter, quote, escape FROM ingest_scans LIMIT 1").fetchone()
        scan = scan or _sniff(con, path)
        errors = con.execute(
            "SELECT line_byte_position, error_type, error_message FROM ingest_rejects "
            "ORDER BY line_byte_position"
        ).fetchall()
    except duckdb.Error as exc:
        raise _duck_error(path, "CSV", exc) from exc
    finally:
        con.close()
    delim, quote, escape = (",", '"', "") if scan is None else [_dialect(v) for v in scan]
    records = csv_records(raw, delim.encode(), quote.encode(), escape.encode(), len(columns))
    starts = [start for start, _end, _line in records]
    bad: dict[int, str] = {}
    for byte_pos, error_type, message in errors:
        idx = max(bisect.bisect_right(starts, int(byte_pos)) - 1, 1)
        if idx in bad:
            continue
        start, end, _line = records[idx]
        detail = _CSV_REASONS.get(str(error_type), f"could not be read ({message})")
        if error_type == "INVALID ENCODING":
            detail = utf8_problem(raw[start:end]) or f"not valid UTF-8 — {_UTF8_FIX}"
        bad[idx] = detail
    data_idx = [i for i in range(1, len(records)) if i not in bad]
    aligned = len(data_idx) == len(good)
    out: list[RawRow] = []
    for i, detail in bad.items():
        start, end, line = records[i]
        out.append(RawRow(line, None, _clip(raw[start:end]), detail))
    for n, values in enumerate(good):
        # Fallback when our boundary scan disagrees with DuckDB: count one line per record.
        i = data_idx[n] if aligned else n + 1
        line = records[i][2] if aligned else n + 2
        start, end = (records[i][0], records[i][1]) if aligned else (0, 0)
        row = dict(zip(columns, values, strict=True))
        out.append(RawRow(line, row, _clip(raw[start:end]) if aligned else _clip_row(row)))
    out.sort(key=lambda r: r.row_number)
    return RawTable("csv", columns, out, "line")


def _sniff(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[Any, ...] | None:
    try:
        return con.execute(
            "SELECT Delimiter, Quote, Escape "
            "FROM sniff_csv(?, header = true, ignore_errors = true)",
            [str(path)],
        ).fetchone()
    except duckdb.Error:
        return None  # keep the default dialect; row numbers then use the fallback count


def _dialect(value: object) -> str:
    return "" if value is None or value == "(empty)" else str(value)


def _clip_row(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, default=str)[:RAW_LIMIT]


def csv_records(
    raw: bytes, delim: bytes, quote: bytes, escape: bytes, ncols: int
) -> list[tuple[int, int, int]]:
    """(start byte, end byte, 1-based first line) of every CSV record, header first.

    Blank lines are skipped like DuckDB does (except in one-column files, where they are rows).
    """
    tokens = [re.escape(b"\n")] + [re.escape(t) for t in (quote, escape) if t]
    pattern = re.compile(b"|".join(tokens))
    records: list[tuple[int, int, int]] = []
    start = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    line = start_line = 1
    in_quotes = False
    skip_to = -1
    for match in pattern.finditer(raw, start):
        pos, tok = match.start(), match.group()
        if pos < skip_to:
            continue
        if tok == b"\n":
            if in_quotes:
                line += 1
                continue
            body = raw[start:pos].rstrip(b"\r")
            if body or ncols == 1:
                records.append((start, pos, start_line))
            line += 1
            start, start_line = pos + 1, line
        elif in_quotes and escape and escape != quote and tok == escape:
            skip_to = pos + len(escape) + 1
        elif tok == quote and in_quotes:
            if raw[pos + len(quote) : pos + 2 * len(quote)] == quote:
                skip_to = pos + 2 * len(quote)  # a doubled quote inside a quoted value
            else:
                in_quotes = False
        elif tok == quote:
            in_quotes = pos == start or raw[pos - len(delim) : pos] == delim
    if raw[start:].rstrip(b"\r\n"):
        records.append((start, len(raw), start_line))
    return records


# --- Parquet ------------------------------------------------------------------------------


def _read_parquet(path: Path, limit: int | None) -> RawTable:
    """Parquet via DuckDB's read_parquet; the row number is the 1-based row index."""
    con = duckdb.connect()
    try:
        sql = "SELECT * FROM read_parquet(?)"
        params: list[Any] = [str(path)]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        cur = con.execute(sql, params)
        columns = [d[0] for d in cur.description or []]
        fetched = cur.fetchall()
    except duckdb.Error as exc:
        raise _duck_error(path, "Parquet", exc) from exc
    finally:
        con.close()
    rows = []
    for i, values in enumerate(fetched, start=1):
        row = dict(zip(columns, values, strict=True))
        rows.append(RawRow(i, row, _clip_row(row)))
    return RawTable("parquet", columns, rows, "row")
