"""Scan a log into temp table ``staged``: row numbering, physical row numbers, reader rejects."""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from swapcheck.errors import IngestError
from swapcheck.ingest_files import LogFile, ProgressFn
from swapcheck.ingest_reasons import UTF8_FIX, json_problem, utf8_problem
from swapcheck.ingest_sql import MAX_LINE, Query, raw_table_sql
from swapcheck.ingest_sql import RAW_LIMIT as MAX_RAW

_CSV_REASONS = {
    "TOO MANY COLUMNS": "has more values than the header — quote values that contain the delimiter",
    "MISSING COLUMNS": "has fewer values than the header — add the missing values or separators",
    "UNQUOTED VALUE": "has a stray quote — wrap the value in quotes and double any quote inside it",
    "LINE SIZE OVER MAXIMUM": f"is longer than {MAX_LINE >> 20} MB — shorten or split the row",
}


@dataclass
class ReaderReject:
    """A row the file reader could not split or decode, with its physical row number."""

    row_number: int
    field: str
    problem: str
    raw: str
    reader_line: int  # DuckDB's own count (lines for JSONL, records for CSV)
    byte_position: int


def run_scan(
    cur: duckdb.DuckDBPyConnection,
    log: LogFile,
    build: Callable[[Query], str],
    ncols: int,
    progress: ProgressFn | None = None,
) -> list[ReaderReject]:
    """Number the rows (pass 1), run ``build``'s CREATE TEMP TABLE staged (pass 2, parallel),
    then give ``staged.ord`` physical row numbers; returns the rows the reader itself rejected.

    Progress of pass 2 comes from DuckDB's own query progress, polled on a thread.
    """
    for table in ("staged", "ingest_raw", "ingest_reject_errors", "ingest_reject_scans"):
        cur.execute(f"DROP TABLE IF EXISTS {table}")
    first, second = Query(), Query()
    numbering = raw_table_sql(log, first)
    sql = build(second)
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.25):
            try:
                share = cur.query_progress()
            except duckdb.Error:
                return
            if progress and share >= 0:
                progress(0.1 + 0.75 * share / 100, f"reading {log.name}")

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        if numbering:
            cur.execute(numbering, first.params)
        cur.execute(sql, second.params)
        cur.execute("DROP TABLE IF EXISTS ingest_raw")
        cur.execute("DELETE FROM staged WHERE code = 'blank'")
    except duckdb.Error as exc:
        raise unreadable(log, exc) from exc
    finally:
        done.set()
        watcher.join()
    rejected = reader_rejects(cur, log)
    fix_row_numbers(cur, log, rejected, ncols)
    return rejected


def unreadable(log: LogFile, exc: Exception) -> IngestError:
    """The error for a file DuckDB could not read, naming the format it was read as."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    what = {"jsonl": "JSON Lines", "json": "a JSON array", "csv": "CSV", "tsv": "TSV"}.get(
        log.format, "Parquet"
    )
    return IngestError(
        f"{log.name} could not be read as {what}: {first}",
        f"check that the file really is {what} (open it in an editor or export it again)",
    )


def reader_rejects(cur: duckdb.DuckDBPyConnection, log: LogFile) -> list[ReaderReject]:
    """Lines (JSONL) or records (CSV/TSV) the reader rejected, with the reason worked out."""
    if log.format not in ("jsonl", "csv", "tsv"):
        return []
    try:
        rows = cur.execute(
            "SELECT line, min(line_byte_position), min(error_type), min(error_message) "
            "FROM ingest_reject_errors GROUP BY line ORDER BY line"
        ).fetchall()
    except duckdb.CatalogException:
        return []
    out = []
    with log.path.open("rb") as handle:
        for line, byte_pos, error_type, message in rows:
            handle.seek(max(int(byte_pos or 1) - 1, 0))  # DuckDB counts bytes from 1
            raw = handle.readline(MAX_LINE).rstrip(b"\r\n")
            if log.format == "jsonl":
                problem = utf8_problem(raw) or _line_problem(raw, str(error_type))
            else:
                problem = _CSV_REASONS.get(str(error_type), f"could not be read ({message})")
                if error_type == "INVALID ENCODING":
                    problem = utf8_problem(raw) or f"not valid UTF-8 — {UTF8_FIX}"
            text = raw.decode("utf-8", errors="replace")
            out.append(
                ReaderReject(int(line), "(line)", problem, text, int(line), int(byte_pos or 0))
            )
    return out


def _line_problem(raw: bytes, error_type: str) -> str:
    if error_type == "LINE SIZE OVER MAXIMUM":
        return _CSV_REASONS[error_type]
    return json_problem(raw.decode("utf-8", errors="replace"))


def fix_row_numbers(
    cur: duckdb.DuckDBPyConnection, log: LogFile, rejected: list[ReaderReject], ncols: int
) -> None:
    """Turn the reader's ordinal ``ord`` in ``staged`` into physical line numbers."""
    if log.format == "jsonl" and rejected:
        # The reader's ordinality skips rejected lines: add back those that came before.
        shifts = pd.DataFrame(
            {"before": [r.reader_line - i for i, r in enumerate(rejected, start=1)]}
        )
        cur.register("reader_shifts", shifts)
        cur.execute(
            "UPDATE staged SET ord = ord + (SELECT count(*) FROM reader_shifts s "
            "WHERE s.before < staged.ord)"
        )
        cur.unregister("reader_shifts")
    if log.format in ("csv", "tsv"):
        _csv_lines(cur, log, rejected, ncols)


def _csv_lines(
    cur: duckdb.DuckDBPyConnection, log: LogFile, rejected: list[ReaderReject], ncols: int
) -> None:
    total = cur.execute("SELECT count(*), coalesce(sum(1 + nl), 0) FROM staged").fetchall()[0]
    if not rejected and not log.has_blank_lines and 1 + int(total[1]) == log.lines:
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE staged AS SELECT * REPLACE (2 + coalesce(sum(1 + nl) "
            "OVER (ORDER BY ord ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS ord) "
            "FROM staged"
        )
        return
    # Blank lines, reader rejects or lone carriage returns: locate every record in the bytes.
    raw = log.path.read_bytes()
    delim, quote, escape = _dialect(cur, log)
    records = csv_records(raw, delim, quote, escape, max(ncols, 2))
    starts = [start for start, _end, _line in records]
    bad: set[int] = set()
    for reject in rejected:
        idx = max(bisect.bisect_right(starts, reject.byte_position) - 1, 1)
        bad.add(idx)
        reject.row_number = records[idx][2] if idx < len(records) else reject.reader_line
    lines = [line for i, (_s, _e, line) in enumerate(records) if i > 0 and i not in bad]
    if len(lines) != int(total[0]):
        cur.execute("UPDATE staged SET ord = ord + 1")  # no alignment: one line per record
        return
    mapping = pd.DataFrame({"ordinal": range(1, len(lines) + 1), "line": lines})
    cur.register("csv_line_map", mapping)
    cur.execute("UPDATE staged SET ord = m.line FROM csv_line_map m WHERE staged.ord = m.ordinal")
    cur.unregister("csv_line_map")


def _dialect(cur: duckdb.DuckDBPyConnection, log: LogFile) -> tuple[bytes, bytes, bytes]:
    row: Any = None
    try:
        row = cur.execute(
            "SELECT delimiter, quote, escape FROM ingest_reject_scans LIMIT 1"
        ).fetchall()
        row = row[0] if row else None
    except duckdb.Error:
        row = None
    if row is None:
        try:
            found = cur.execute(
                "SELECT Delimiter, Quote, Escape FROM sniff_csv(?, header = true, "
                "ignore_errors = true)",
                [str(log.path)],
            ).fetchall()
            row = found[0] if found else None
        except duckdb.Error:
            row = None
    default = ("\t" if log.format == "tsv" else ",", '"', "")
    values = ["" if v is None or v == "(empty)" else str(v) for v in (row if row else default)]
    return values[0].encode(), values[1].encode(), values[2].encode()


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


def original_lines(path: Path, spans: dict[int, int]) -> dict[int, str]:
    """The text of physical lines ``start .. start + count - 1`` for each ``start``, as written."""
    wanted: dict[int, list[bytes]] = {}
    last = max((start + count - 1 for start, count in spans.items()), default=0)
    open_spans: list[tuple[int, int]] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if number in spans:
                open_spans.append((number, number + spans[number] - 1))
                wanted[number] = []
            for start, end in open_spans:
                if start <= number <= end and sum(map(len, wanted[start])) < 4 * MAX_RAW:
                    wanted[start].append(line)
            open_spans = [(s, e) for s, e in open_spans if e > number]
            if number >= last:
                break
    return {
        start: b"".join(parts).rstrip(b"\r\n").decode("utf-8", errors="replace")[:MAX_RAW]
        for start, parts in wanted.items()
    }
