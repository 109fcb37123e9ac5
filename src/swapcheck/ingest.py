"""Ingest a prompt log into the store: inspect it, guess its mapping, stream it through DuckDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from swapcheck.errors import ConfigError, IngestError
from swapcheck.ingest_answers import attach_answers
from swapcheck.ingest_fast import drop_staged, fast_path_applies, fast_stage
from swapcheck.ingest_files import ROW_LABELS, LogFile, ProgressFn, open_log
from swapcheck.ingest_lines import ReaderReject, original_lines, run_scan, unreadable
from swapcheck.ingest_reasons import explain
from swapcheck.ingest_shapes import TURNS, ColumnMapping, guess_mapping
from swapcheck.ingest_sql import RAW_LIMIT, normalise_sql
from swapcheck.models import LOGGED_VARIANT
from swapcheck.store import Store
from swapcheck.store.ingest_stage import staged_on_duckdb
from swapcheck.store.sources import IngestReport, find_source_by_file_hash, save_staged
from swapcheck.store.variants import check_answers_variant_on, validate_variant_name

SAMPLE_ROWS = 500
MAX_MODEL_LABEL = 200
SAMPLE_HEAD_BYTES = 16 << 20
INGEST_MEMORY_LIMIT = "1GB"


@dataclass
class LogSample:
    """The first rows of a log, for previews and for guessing its mapping."""

    format: str
    columns: list[str]
    records: list[dict[str, Any]]
    notes: list[str]


@dataclass(frozen=True)
class IngestOptions:
    """How to ingest: the source name, near-duplicate collapse and derived slices."""

    source_name: str | None = None
    near_duplicates: bool = False
    derived_slices: bool = True


def sample_log(path: str | Path, limit: int = SAMPLE_ROWS) -> LogSample:
    """Columns and the first ``limit`` readable records (nested values kept as Python objects).

    Reads only the head of a text log (no hash, no full decompression): cheap on every rerun
    of the Ingest page, whatever the file size.
    """
    with open_log(path, head_bytes=SAMPLE_HEAD_BYTES) as log:
        return _sample(log, limit)


def _sample(log: LogFile, limit: int) -> LogSample:
    records: list[dict[str, Any]] = []
    con = duckdb.connect()
    try:
        if log.format == "jsonl":
            with log.path.open("rb") as handle:
                for raw in handle:
                    if len(records) >= limit:
                        break
                    try:
                        value = json.loads(raw.decode("utf-8").lstrip("\ufeff"))
                    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                        continue
                    if isinstance(value, dict):
                        records.append(value)
        else:
            reader = {
                "json": "read_json(?, format = 'array', records = false, "
                "columns = {'value': 'JSON'}, maximum_object_size = 268435456)",
                "csv": "read_csv(?, all_varchar = true, header = true, ignore_errors = true)",
                "tsv": "read_csv(?, all_varchar = true, header = true, delim = '\t', "
                "ignore_errors = true)",
                "parquet": "read_parquet(?)",
            }[log.format]
            select = "value" if log.format == "json" else "to_json(t)"
            rows = con.execute(
                f"SELECT {select} FROM {reader} AS t LIMIT {int(limit)}", [str(log.path)]
            ).fetchall()
            records = [v for (raw,) in rows if isinstance(v := json.loads(raw), dict)]
            if log.format in ("csv", "tsv", "parquet"):
                cur = con.execute(f"SELECT * FROM {reader} AS t LIMIT 0", [str(log.path)])
                return LogSample(
                    log.format, [d[0] for d in cur.description or []], records, log.notes
                )
    except duckdb.Error as exc:
        raise unreadable(log, exc) from exc
    finally:
        con.close()
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    return LogSample(log.format, list(columns), records, log.notes)


def read_columns(path: str | Path) -> list[str]:
    return sample_log(path).columns


def preview(path: str | Path, limit: int = 20) -> pd.DataFrame:
    """The first ``limit`` readable rows, each value as text (nested values as JSON)."""
    return sample_frame(sample_log(path, limit), limit)


def sample_frame(sample: LogSample, limit: int = 20) -> pd.DataFrame:
    """A sample's first ``limit`` records as a frame of text (nested values as JSON)."""
    return pd.DataFrame(
        [{c: _as_text(r.get(c)) for c in sample.columns} for r in sample.records[:limit]],
        columns=sample.columns,
        dtype=object,
    )


def suggest_mapping(path: str | Path) -> ColumnMapping:
    sample = sample_log(path)
    return guess_mapping(sample.columns, sample.records)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def ingest_log(
    store: Store,
    path: str | Path,
    mapping: ColumnMapping | None = None,
    options: IngestOptions | None = None,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Read, validate, de-duplicate and store a log; rejected rows go to quarantine.

    Row numbers: JSONL/CSV/TSV → the 1-based physical line (a CSV header is line 1; a quoted
    value with newlines advances the count), JSON array → element index, Parquet → row index.
    """
    if getattr(store, "dialect", "duckdb") != "duckdb":
        # PostgreSQL: DuckDB's readers work inside DuckDB, so ingest into a scratch DuckDB
        # holding the rows it reads, and merge the changes back (store.ingest_stage).
        with staged_on_duckdb(store) as scratch:
            return ingest_log(scratch, path, mapping, options, progress)
    options = options or IngestOptions()
    if mapping is not None:
        mapping = check_response_variant(mapping)
        with store.cursor() as cur:  # before reading the file: fail fast
            _refuse_generating_variant(cur, mapping.response_variant)
    with open_log(path, progress) as log:
        known = find_source_by_file_hash(store, log.file_hash)
        if known is not None:
            _refuse_other_variant(known, mapping)
            if progress:
                progress(1.0, "already ingested")
            return known
        sample = _sample(log, SAMPLE_ROWS)
        if sample.records or mapping is not None:
            guess = mapping or guess_mapping(sample.columns, sample.records)
            used = resolve_mapping(guess, sample, log)
        else:  # not one readable row in the sample: read on, so every row gets its reason
            used = ColumnMapping(prompt_column="prompt")
        name = options.source_name or log.name
        with store.cursor() as cur, _ingest_settings(cur), _staged_dropped(cur):
            fast = (
                bool(used.prompt_column or used.messages_column)
                and fast_path_applies(log, used, sample.columns)
                and fast_stage(cur, log, used, sample.columns, progress)  # outside: see there
            )
            with _transaction(cur):
                return _ingest_rows(cur, log, name, used, sample, options, fast, progress)


def check_response_variant(mapping: ColumnMapping) -> ColumnMapping:
    """The mapping with a checked response variant name and model label (trimmed).

    Refuses names that are not variant names and anything shaped like an API key (the value is
    never echoed then).
    """
    from swapcheck.variants_toml import looks_like_secret_value

    name = (mapping.response_variant or "").strip() or LOGGED_VARIANT
    model = (mapping.response_model or "").strip() or None
    for option, value in (("--response-variant", name), ("--response-model", model)):
        if value is not None and looks_like_secret_value(value):
            raise IngestError(
                f"The {option} value looks like an API key or token (not shown); nothing was "
                "stored.",
                f"Give {option} a plain label such as gpt-4o-shadow. Keys never go into "
                "swapcheck options; if that was a real key, rotate it.",
            )
    try:
        validate_variant_name(name)
    except ConfigError as exc:
        raise IngestError(
            f"--response-variant {name[:80]!r} is not a usable variant name.",
            "Use 1-64 letters, digits, '.', '_' or '-' starting with a letter or digit, e.g. "
            "--response-variant gpt-4o-shadow.",
        ) from exc
    if model is not None and name == LOGGED_VARIANT:
        raise IngestError(
            "--response-model only labels a named response variant; 'logged' is the built-in "
            "variant of the production answers.",
            "Add --response-variant NAME (e.g. gpt-4o-shadow) to store the answers under their "
            "own variant, or drop --response-model.",
        )
    if model is not None and (len(model) > MAX_MODEL_LABEL or not model.isprintable()):
        raise IngestError(
            "--response-model is too long or holds control characters.",
            f"Use a short model label (at most {MAX_MODEL_LABEL} printable characters), "
            "e.g. gpt-4o-2024-08-06.",
        )
    return mapping.with_overrides(response_variant=name, response_model=model)


def _refuse_generating_variant(cur: duckdb.DuckDBPyConnection, name: str) -> None:
    try:
        check_answers_variant_on(cur, name)
    except ConfigError as exc:
        raise IngestError(exc.message, exc.fix) from exc


def _refuse_other_variant(known: IngestReport, mapping: ColumnMapping | None) -> None:
    """Same bytes asked to go under another named variant: say why nothing is stored.

    Without a named variant (the default ``logged``) the same file again is the usual no-op.
    """
    wanted = mapping.response_variant if mapping is not None else LOGGED_VARIANT
    if wanted in (LOGGED_VARIANT, known.response_variant):
        return
    raise IngestError(
        f"This file was already ingested as source {known.source_name!r} with its answers "
        f"stored as variant {known.response_variant!r}; the same file is ingested once, so "
        f"nothing was stored as variant {wanted!r}.",
        f"Use variant {known.response_variant!r} for these answers (a study can take it as "
        "baseline or candidate); to store them under another variant as well, ingest a "
        "compressed copy (gzip -k FILE, then FILE.gz with another --name).",
    )


def _ingest_rows(
    cur: duckdb.DuckDBPyConnection,
    log: LogFile,
    name: str,
    used: ColumnMapping,
    sample: LogSample,
    options: IngestOptions,
    fast: bool,
    progress: ProgressFn | None,
) -> IngestReport:
    """Scan (fast or robust path), reject, de-duplicate and store, in the caller's transaction."""
    if not used.prompt_column and not used.messages_column:
        report = attach_answers(cur, log, name, used, sample.columns)
        if progress:
            progress(1.0, "done")
        return report
    from_reader: list[ReaderReject] = []
    if not fast:
        from_reader = run_scan(
            cur,
            log,
            lambda q: normalise_sql(log, used, sample.columns, q),
            len(sample.columns),
            progress,
        )
    rejects = _rejects(cur, log, used, from_reader)
    if progress:
        progress(0.85, "storing prompts")
    report = save_staged(
        cur, log, name, used, rejects, near_duplicates=options.near_duplicates,
        derived=options.derived_slices,
    )  # fmt: skip
    cur.execute("DROP TABLE IF EXISTS staged")
    if progress:
        progress(1.0, "done")
    return report


@contextmanager
def _staged_dropped(cur: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Whatever happens, no ``staged`` table is left (the fast path makes it outside the
    ingest transaction, so a rollback would not remove it)."""
    try:
        yield
    finally:
        with suppress(duckdb.Error):
            drop_staged(cur)


@contextmanager
def _transaction(cur: duckdb.DuckDBPyConnection) -> Iterator[None]:
    cur.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        with suppress(duckdb.Error):
            cur.execute("ROLLBACK")
        raise
    cur.execute("COMMIT")


@contextmanager
def _ingest_settings(cur: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """UTC for naive timestamps; a memory cap so big files spill to disk instead of RAM."""
    old = cur.execute(
        "SELECT current_setting('memory_limit'), current_setting('preserve_insertion_order')"
    ).fetchall()[0]
    cur.execute("SET TimeZone = 'UTC'")
    cur.execute(f"SET memory_limit = '{INGEST_MEMORY_LIMIT}'")
    cur.execute("SET preserve_insertion_order = false")  # rows carry their own number
    try:
        yield
    finally:
        cur.execute("SET memory_limit = ?", [old[0]])
        cur.execute("SET preserve_insertion_order = ?", [old[1]])


def resolve_mapping(mapping: ColumnMapping, sample: LogSample, log: LogFile) -> ColumnMapping:
    """Check every mapped field exists (case-insensitive fallback) and one prompt source."""
    found = ", ".join(sample.columns) or "(none)"
    top = set(sample.columns)

    def real(col: str | None, option: str) -> str | None:
        if col is None or col in top:
            return col
        head = col.split(".")[0].split("[")[0]
        if log.format in ("jsonl", "json") and head in top and head != col:
            return col  # a nested path such as body.messages
        matches = [c for c in sample.columns if c.lower() == col.lower()]
        if len(matches) == 1:
            return matches[0]
        raise IngestError(
            f"{log.name}: column {col!r} (given as {option}) is not in the file.",
            f"pick one of the columns found: {found}",
        )

    if mapping.turn not in TURNS:
        raise IngestError(f"turn {mapping.turn!r} is not one of {TURNS}.", "use last or first")
    resolved = ColumnMapping(
        prompt_column=None if mapping.messages_column else real(mapping.prompt_column, "prompt"),
        messages_column=real(mapping.messages_column, "messages"),
        system_column=real(mapping.system_column, "system"),
        id_column=real(mapping.id_column, "id"),
        response_column=real(mapping.response_column, "response"),
        slice_columns=tuple(str(real(c, "slice")) for c in mapping.slice_columns),
        timestamp_column=real(mapping.timestamp_column, "timestamp"),
        turn=mapping.turn,
        shape=mapping.shape,
        response_variant=mapping.response_variant,
        response_model=mapping.response_model,
    )
    answers_only = bool(resolved.id_column and resolved.response_column)
    if not resolved.prompt_column and not resolved.messages_column and not answers_only:
        raise IngestError(
            f"{log.name}: no prompt or messages column found.",
            f"map the prompt (--prompt-column) or chat messages (--messages-column); "
            f"columns found: {found}",
        )
    return resolved


def _rejects(
    cur: duckdb.DuckDBPyConnection,
    log: LogFile,
    mapping: ColumnMapping,
    from_reader: list[ReaderReject],
) -> pd.DataFrame:
    """Rejected rows with physical row numbers, field and reason (reasons built in Python)."""
    rows = cur.execute(
        "SELECT ord, code, raw, nl FROM staged WHERE code IS NOT NULL ORDER BY ord"
    ).fetchall()
    label = ROW_LABELS[log.format]
    originals: dict[int, str] = {}
    if log.format in ("csv", "tsv") and rows:
        originals = original_lines(log.path, {int(r[0]): int(r[3] or 0) + 1 for r in rows})
    records = []
    for ord_, code, raw, _nl in rows:
        field, problem = explain(code, raw or "", mapping)
        records.append((int(ord_), field, problem, originals.get(int(ord_), raw or "")))
    records += [(r.row_number, r.field, r.problem, r.raw) for r in from_reader]
    if log.truncation_error is not None:
        records.append((log.lines + 1, "(file)", log.truncation_error, log.truncation_raw))
    frame = pd.DataFrame(records, columns=["row_number", "field", "problem", "raw"])
    frame = frame.sort_values("row_number", kind="stable").reset_index(drop=True)
    frame["reason"] = [
        f"{log.name} {label} {n}, field '{f}': {p}"
        for n, f, p in zip(frame["row_number"], frame["field"], frame["problem"], strict=True)
    ]
    frame["raw"] = frame["raw"].map(lambda r: r[:RAW_LIMIT])
    return frame[["row_number", "field", "reason", "raw"]]


__all__ = [
    "ColumnMapping",
    "IngestOptions",
    "LogSample",
    "guess_mapping",
    "ingest_log",
    "preview",
    "read_columns",
    "resolve_mapping",
    "sample_log",
    "suggest_mapping",
]
