"""Fast path of a clean JSON Lines log: a parallel typed ``read_json``, then the shared SQL.

The robust scan (``ingest_lines.run_scan``) reads every line as text on one thread, then
re-parses each line in SQL. When a JSONL file is clean, DuckDB's ``read_json`` can decode the
mapped fields into typed columns in parallel instead: the normalising SQL (``normalise_sql``,
shared with the robust path, so valid rows come out byte for byte the same) then runs on those
columns. The fast path gives up, leaving nothing behind, whenever it cannot be sure that record
*i* of the reader is physical line *i*, or that a rejected row gets the robust path's reason:
blank or whitespace-only lines, a byte-order mark, a damaged gzip stream, nested field paths, a
``null`` line, or any reader error (malformed JSON, a non-object line, invalid UTF-8, duplicate
keys, a line over 16 MB, a value of an unexpected type such as messages given as text).
Rows it reads but cannot use get the same ``code`` as on the robust path; their text is read
back from the file for the reasons.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pandas as pd

from swapcheck.ingest_files import LogFile, ProgressFn
from swapcheck.ingest_shapes import ColumnMapping
from swapcheck.ingest_sql import (
    Query,
    fast_read_sql,
    fast_reader_sql,
    field_roles,
    normalise_sql,
)

_MESSAGE_TYPE = "STRUCT(role VARCHAR, content JSON)[]"
_BOM = b"\xef\xbb\xbf"


def fast_path_applies(log: LogFile, mapping: ColumnMapping, columns: list[str]) -> bool:
    """Whether ``log`` may go through the fast path (the reader may still refuse it later)."""
    if log.format != "jsonl" or log.has_blank_lines or log.truncation_error is not None:
        return False
    if log.lines <= 0 or not mapping.fields():
        return False
    top = set(columns)
    if any(name not in top for name in mapping.fields().values()):
        return False  # a nested path (body.messages) or a field missing from the sample
    with log.path.open("rb") as handle:
        return handle.read(len(_BOM)) != _BOM


def fast_stage(
    cur: duckdb.DuckDBPyConnection,
    log: LogFile,
    mapping: ColumnMapping,
    columns: list[str],
    progress: ProgressFn | None = None,
) -> bool:
    """CREATE TEMP TABLE staged from a typed, parallel ``read_json`` of the file; False (and no
    table left) when the file has to take the robust path instead.

    Two statements: the read keeps file order (so row id + 1 is the line number), the
    normalising SQL then runs without order on every core. Reading and normalising in one
    order-keeping statement ran on one thread under the ingest's memory cap.
    Run it outside a transaction: a reader error would abort the caller's transaction.
    """
    drop_staged(cur)
    typed = _typed(mapping)
    types = {name: (_MESSAGE_TYPE if name == typed else "JSON") for name in _names(mapping)}
    q = Query()
    read = fast_read_sql(log, types, q)
    try:
        with _watch(cur, log, progress, 0.1, 0.3), _insertion_order(cur):
            cur.execute(read, q.params)
        rows = int(cur.execute("SELECT count(*) FROM ingest_fast_raw").fetchall()[0][0])
        if rows != log.lines:  # a whitespace-only line, or an object spread over lines
            drop_staged(cur)
            return False
        q = Query()
        reader = fast_reader_sql(mapping, typed)
        sql = normalise_sql(log, mapping, columns, q, reader=reader, typed_messages=bool(typed))
        with _watch(cur, log, progress, 0.4, 0.45):
            cur.execute(sql, q.params)
        cur.execute("DROP TABLE ingest_fast_raw")
        if not _fill_raw(cur, log):  # a `null` line: the reader took it for an empty object
            drop_staged(cur)
            return False
    except (duckdb.Error, UnicodeDecodeError):  # the latter: a message quoting invalid UTF-8
        drop_staged(cur)
        return False
    return True


def drop_staged(cur: duckdb.DuckDBPyConnection) -> None:
    """Remove ``staged`` and the fast path's raw table (after an error, or before a scan)."""
    cur.execute("DROP TABLE IF EXISTS staged")
    cur.execute("DROP TABLE IF EXISTS ingest_fast_raw")


def _names(mapping: ColumnMapping) -> list[str]:
    return list(dict.fromkeys(name for _, name in field_roles(mapping)))


def _typed(mapping: ColumnMapping) -> str | None:
    """The messages field, read as typed messages unless it is mapped to another role too."""
    names = [name for _, name in field_roles(mapping)]
    col = mapping.messages_column
    return col if col and names.count(col) == 1 else None


@contextmanager
def _insertion_order(cur: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Keep insertion order for one statement (the ingest runs with it off)."""
    old = cur.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    cur.execute("SET preserve_insertion_order = true")
    try:
        yield
    finally:
        cur.execute(f"SET preserve_insertion_order = {str(old).lower() == 'true'}")


@contextmanager
def _watch(
    cur: duckdb.DuckDBPyConnection,
    log: LogFile,
    progress: ProgressFn | None,
    start: float,
    share: float,
) -> Iterator[None]:
    """Report DuckDB's query progress on a thread, scaled into [start, start + share]."""
    if progress is None:
        yield
        return
    done = threading.Event()

    def run() -> None:
        while not done.wait(0.25):
            try:
                value = cur.query_progress()
            except duckdb.Error:
                return
            if value >= 0:
                progress(start + share * value / 100, f"reading {log.name}")

    watcher = threading.Thread(target=run, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def _fill_raw(cur: duckdb.DuckDBPyConnection, log: LogFile) -> bool:
    """Put the text of each rejected line in ``staged.raw`` (the reasons are built from it);
    False if one of them is not a JSON object (``read_json`` reads a ``null`` line as a record
    of NULLs, where the robust path says "not an object")."""
    wanted = {
        int(r[0]) for r in cur.execute("SELECT ord FROM staged WHERE code IS NOT NULL").fetchall()
    }
    if not wanted:
        return True
    found: dict[int, str] = {}
    last = max(wanted)
    with log.path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if number in wanted:
                if not line.lstrip(b" \t\r").startswith(b"{"):
                    return False
                found[number] = line.rstrip(b"\r\n").decode("utf-8", errors="replace")
            if number >= last:
                break
    frame = pd.DataFrame({"ord": list(found), "raw": list(found.values())})
    cur.register("ingest_fast_raw_lines", frame)
    cur.execute(
        "UPDATE staged SET raw = r.raw FROM ingest_fast_raw_lines r WHERE staged.ord = r.ord"
    )
    cur.unregister("ingest_fast_raw_lines")
    return True
