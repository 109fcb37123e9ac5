"""The vectorised ingest: DuckDB SQL that reads a log file and normalises every row in one pass.

The reader yields ``ord`` (physical line, array element or Parquet row), ``raw`` and ``f``: the
mapped fields as a list of JSON values, in the order of :func:`field_roles`. The normaliser
turns those into chat messages, metadata and a content hash, and classifies unusable rows with
a short ``code``; the precise, human reason for each rejected row is worked out in Python
(``ingest_reasons``) for those rows only. Every user-supplied name or path is a bound
parameter or a quoted identifier, never SQL text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from swapcheck.ingest_files import LogFile
from swapcheck.ingest_shapes import ColumnMapping
from swapcheck.models import LOGGED_VARIANT

ROLES = ("system", "user", "assistant", "tool", "developer")
RAW_LIMIT = 2000
MAX_LINE = 256 << 20  # bytes; DuckDB's default (2 MB) would reject long conversations
FAST_MAX_LINE = 16 << 20  # bytes; the fast path's typed reader (longer lines: robust path)
_TEXT_PART_TYPES = ("text", "input_text", "output_text")
_WS = "chr(32) || chr(9) || chr(10) || chr(13)"
STORED_TEXTS = {
    "messages": "to_json({s}.conv[1:{s}.u])",  # the prompt replayed: up to the turn under study
    "conversation": "CASE WHEN len({s}.conv) > {s}.u THEN to_json({s}.conv) END",
    "prompt_text": "{s}.conv[{s}.u].content",
}
"""SQL of the stored texts of a ``staged`` row, with ``{s}`` its table alias."""
SLICE_VALUE = "slice_value_"
"""Prefix of ``staged``'s per-slice text columns (1-based, in ``slice_columns`` order)."""
_SEGMENT = re.compile(r"^([^.\[\]]+)((?:\[\d+\])*)$")


@dataclass
class Query:
    """Named parameters collected while SQL text is built."""

    params: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return "$" + name


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def json_path(name: str, top_level: set[str]) -> str:
    """JSONPath for a mapped field: a top-level key as is, else ``a.b[0].c`` walked down."""
    if name in top_level or "." not in name and "[" not in name:
        return '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    parts = []
    for segment in name.split("."):
        match = _SEGMENT.match(segment)
        if match is None:
            return '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        key, indexes = match.groups()
        parts.append('."' + key.replace('"', '\\"') + '"' + indexes)
    return "$" + "".join(parts)


def field_roles(mapping: ColumnMapping) -> list[tuple[str, str]]:
    """(role, field name) in the order their values appear in the reader's ``f`` list."""
    return list(mapping.fields().items())


def raw_table_sql(log: LogFile, q: Query) -> str | None:
    """CREATE TEMP TABLE ingest_raw: the file's rows numbered in file order (None for Parquet).

    Numbering needs an order-preserving scan, which DuckDB runs on one thread; doing only
    that in this first pass lets the expensive normalising pass run on every core.
    """
    path = q.bind(str(log.path))
    rejects = (
        "store_rejects = true, rejects_table = 'ingest_reject_errors', "
        f"rejects_scan = 'ingest_reject_scans', max_line_size = {MAX_LINE}, "
        f"buffer_size = {MAX_LINE}"
    )
    if log.format == "jsonl":
        source = (
            f"read_csv({path}, columns = {{'line': 'VARCHAR'}}, delim = chr(1), quote = '', "
            f"escape = '', header = false, {rejects})"
        )
    elif log.format == "json":
        source = (
            f"read_json({path}, format = 'array', records = false, "
            f"columns = {{'line': 'JSON'}}, maximum_object_size = {MAX_LINE})"
        )
    elif log.format in ("csv", "tsv"):
        delim = f"delim = {q.bind(chr(9))}, " if log.format == "tsv" else ""
        source = f"read_csv({path}, all_varchar = true, header = true, {delim}{rejects})"
    else:
        return None
    return f"CREATE TEMP TABLE ingest_raw AS SELECT * FROM {source} WITH ORDINALITY"


def reader_sql(log: LogFile, mapping: ColumnMapping, columns: list[str], q: Query) -> str:
    """SELECT ord, raw, is_object, f[, nl] over ``ingest_raw`` (or the Parquet file)."""
    fields = [name for _, name in field_roles(mapping)]
    if log.format in ("jsonl", "json"):
        paths = q.bind([json_path(name, set(columns)) for name in fields])
        return (
            f"SELECT ordinality AS ord, line AS raw, "
            f"starts_with(ltrim(line, chr(9) || chr(13) || ' '), '{{') AS is_object, "
            f"try(json_extract(line, {paths})) AS f FROM ingest_raw WHERE line IS NOT NULL"
        )
    values = ", ".join(f"to_json({quote_ident(name)})" for name in fields)
    if log.format == "parquet":
        path = q.bind(str(log.path))
        return (
            f"SELECT file_row_number + 1 AS ord, to_json(t) AS raw, true AS is_object, "
            f"[{values}] AS f FROM read_parquet({path}, file_row_number = true) AS t"
        )
    raw = ", ".join(f"{q.bind(c)}, {quote_ident(c)}" for c in columns)
    newlines = " + ".join(
        f"coalesce(length({c}) - length(replace({c}, chr(10), '')), 0)"
        for c in map(quote_ident, columns)
    )
    return (
        f"SELECT ordinality AS ord, json_object({raw}) AS raw, true AS is_object, "
        f"[{values}] AS f, {newlines or '0'} AS nl FROM ingest_raw"
    )


def fast_read_sql(log: LogFile, types: dict[str, str], q: Query) -> str:
    """CREATE TEMP TABLE ingest_fast_raw: the mapped top-level fields of a JSONL file, typed by
    DuckDB's parallel ``read_json`` (run it with insertion order kept: row id + 1 = line).

    Lines longer than ``FAST_MAX_LINE`` make the reader fail (the robust path takes over): a
    larger object size would make every reader thread reserve that much memory.
    """
    return (
        f"CREATE TEMP TABLE ingest_fast_raw AS SELECT * FROM read_json({q.bind(str(log.path))}, "
        f"format = 'newline_delimited', records = true, columns = {q.bind(types)}, "
        f"maximum_object_size = {FAST_MAX_LINE})"
    )


def fast_reader_sql(mapping: ColumnMapping, typed: str | None) -> str:
    """The reader over ``ingest_fast_raw``: ``f`` holds the mapped fields as JSON, like
    :func:`reader_sql`; the ``typed`` messages field comes as ``messages_typed`` instead."""
    items = [
        "NULL::JSON" if name == typed else quote_ident(name) for _, name in field_roles(mapping)
    ]
    extra = f", {quote_ident(typed)} AS messages_typed" if typed else ""
    return (
        "SELECT rowid + 1 AS ord, NULL::VARCHAR AS raw, true AS is_object, "
        f"[{', '.join(items)}]::JSON[] AS f{extra} FROM ingest_fast_raw"
    )


def _trim_ws(column: str) -> str:
    """``trim(column, <space, tab, LF, CR>)``, computed only for values that start or end with
    one of them: DuckDB's trim with a character set decodes the whole string (10x slower).
    Give it a column, not an expression: the expression would be evaluated nine times."""
    ends = " OR ".join(
        f"{test}({column}, chr({code}))"
        for test in ("starts_with", "ends_with")
        for code in (32, 9, 10, 13)
    )
    return f"CASE WHEN {ends} THEN trim({column}, {_WS}) ELSE {column} END"


def _text_of(json_expr: str) -> str:
    """Text of a JSON string or a list of text parts (NULL when a part is not text)."""
    types = ", ".join(f"'{t}'" for t in _TEXT_PART_TYPES)
    part = (
        f"CASE json_type(p) WHEN 'VARCHAR' THEN p->>'$' WHEN 'OBJECT' THEN "
        f"CASE WHEN p->>'type' IN ({types}) THEN p->>'text' END END"
    )
    parts = f"list_transform(CAST({json_expr} AS JSON[]), lambda p: {part})"
    return (
        f"CASE json_type({json_expr}) WHEN 'VARCHAR' THEN {json_expr}->>'$' "
        f"WHEN 'NULL' THEN '' WHEN 'ARRAY' THEN CASE WHEN list_bool_or(list_transform({parts}, "
        f"lambda t: t IS NULL)) THEN NULL ELSE array_to_string({parts}, chr(10)) END END"
    )


def normalise_sql(
    log: LogFile,
    mapping: ColumnMapping,
    columns: list[str],
    q: Query,
    *,
    reader: str | None = None,
    typed_messages: bool = False,
) -> str:
    """CREATE TEMP TABLE staged AS the normalised rows (valid rows carry no ``code``).

    A valid row keeps its conversation as a list (``conv``) and the index ``u`` of the turn
    under study: the stored JSON texts are made from them for the rows kept only
    (:data:`STORED_TEXTS`), which halves the size of ``staged``.

    ``reader`` replaces :func:`reader_sql` (the fast path's typed read); with
    ``typed_messages`` its messages field is already ``STRUCT(role, content JSON)[]``, NULL
    when missing, so it is not re-parsed.
    """
    roles = {role: i + 1 for i, (role, _) in enumerate(field_roles(mapping))}

    def fld(role: str) -> str:
        return f"f[{roles[role]}]" if role in roles else "NULL::JSON"

    roles_sql = ", ".join(f"'{r}'" for r in ROLES)
    if mapping.messages_column and typed_messages:
        parse = "NULL AS mj, messages_typed AS m0"
        msgs = (
            "list_transform(m0, lambda x: struct_pack(role := CASE x.role WHEN 'developer' "
            f"THEN 'system' ELSE x.role END, content := {_text_of('x.content')}))"
        )
        checks = (
            "WHEN m0 IS NULL THEN 'messages_missing' "
            "WHEN len(m0) = 0 THEN 'messages_empty' "
            f"WHEN list_bool_or(list_transform(msgs, lambda x: x.content IS NULL OR x.role IS NULL "
            f"OR x.role NOT IN ({roles_sql}))) THEN 'message' "
        )
    elif mapping.messages_column:
        fm = fld("messages")
        mj = (
            f"CASE WHEN json_type({fm}) = 'VARCHAR' THEN try(CAST({fm}->>'$' AS JSON)) "
            f"ELSE {fm} END"
        )
        parse = (
            f'{mj} AS mj, try(json_transform({mj}, \'[{{"role":"VARCHAR","content":"JSON"}}]\'))'
            f" AS m0"
        )
        msgs = (
            "list_transform(m0, lambda x: struct_pack(role := CASE x.role WHEN 'developer' "
            f"THEN 'system' ELSE x.role END, content := {_text_of('x.content')}))"
        )
        checks = (
            "WHEN mj IS NULL OR json_type(mj) = 'NULL' THEN 'messages_missing' "
            "WHEN m0 IS NULL THEN 'messages_shape' "
            "WHEN len(m0) = 0 THEN 'messages_empty' "
            # one pass for roles and contents; the reason names which (ingest_reasons)
            f"WHEN list_bool_or(list_transform(msgs, lambda x: x.content IS NULL OR x.role IS NULL "
            f"OR x.role NOT IN ({roles_sql}))) THEN 'message' "
        )
    else:
        fp = fld("prompt")
        parse = "NULL AS mj, NULL AS m0"
        msgs = (
            f"CASE WHEN json_type({fp}) = 'VARCHAR' THEN [struct_pack(role := 'user', "
            f"content := {fp}->>'$')] WHEN json_type({fp}) NOT IN ('OBJECT', 'ARRAY', 'NULL') "
            f"THEN [struct_pack(role := 'user', content := CAST({fp} AS VARCHAR))] END"
        )
        checks = (
            f"WHEN {fp} IS NULL OR json_type({fp}) = 'NULL' THEN 'prompt_missing' "
            f"WHEN json_type({fp}) IN ('OBJECT', 'ARRAY') THEN 'prompt_json' "
        )
    fs = fld("system")
    system = f"CASE WHEN {fs} IS NULL THEN NULL ELSE {_text_of(fs)} END"
    conv = (
        "CASE WHEN system_text IS NOT NULL AND trim(system_text) <> '' "
        "AND (msgs IS NULL OR len(msgs) = 0 OR msgs[1].role <> 'system') "
        "THEN list_prepend(struct_pack(role := 'system', content := system_text), msgs) "
        "ELSE msgs END"
        if "system" in roles
        else "msgs"  # no system column: a CASE would copy every list
    )
    pick_user = (
        "list_position(list_transform(conv, lambda x: x.role = 'user'), true)"
        if mapping.turn == "first"
        else "len(conv) + 1 - list_position(list_reverse(list_transform(conv, "
        "lambda x: x.role = 'user')), true)"
    )
    ft = fld("timestamp")
    ts_text = "ts_text"  # trimmed once in stage b
    logged_at = (
        f"CASE WHEN {ft} IS NULL OR json_type({ft}) = 'NULL' OR {ts_text} = '' THEN NULL "
        f"WHEN json_type({ft}) IN ('UBIGINT', 'BIGINT', 'DOUBLE') "
        f"OR regexp_full_match({ts_text}, '[0-9]{{9,13}}([.][0-9]+)?') THEN "
        f"try(make_timestamp(CAST(CAST({ts_text} AS DOUBLE) * CASE WHEN CAST({ts_text} AS "
        f"DOUBLE) > 1e11 THEN 1000 ELSE 1000000 END AS BIGINT))) "
        f"ELSE coalesce(try(CAST(CAST({ts_text} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP)),"
        f" try(CAST({ts_text} AS TIMESTAMP))) END"
    )
    keys = [q.bind(col) for col in mapping.slice_columns]
    slice_texts = "".join(
        f", {fld('slice:' + col)}->>'$' AS slice_text_{i}"
        for i, col in enumerate(mapping.slice_columns, start=1)
    )
    slice_values = "".join(
        f", nullif({_trim_ws(f'slice_text_{i}')}, '') AS {SLICE_VALUE}{i}"
        for i in range(1, len(keys) + 1)
    )
    meta_pairs = [f"{key}, {SLICE_VALUE}{i}" for i, key in enumerate(keys, start=1)]
    metadata = f"json_object({', '.join(meta_pairs)})" if meta_pairs else "'{}'::JSON"
    # A production answer is part of the logged event (same prompt, other answer = another
    # event); another model's answer is not: its prompts are the same prompts, de-duplicated.
    answer_in_hash = (
        "coalesce(logged_response, '')" if mapping.response_variant == LOGGED_VARIANT else "''"
    )
    fr, fi = fld("response"), fld("id")
    texts = (
        f"{ft}->>'$' AS ts_raw, {fi}->>'$' AS id_text, CASE json_type({fr}) WHEN 'VARCHAR' "
        f"THEN {fr}->>'$' WHEN 'NULL' THEN NULL ELSE CAST({fr} AS VARCHAR) END AS response_text"
        f"{slice_texts}"
    )
    return f"""
CREATE TEMP TABLE staged AS
WITH src AS ({reader or reader_sql(log, mapping, columns, q)}),
a AS (SELECT *, {parse}, {texts} FROM src),
b AS (SELECT *, {msgs} AS msgs, {system} AS system_text, {_trim_ws("ts_raw")} AS ts_text FROM a),
c AS (SELECT *, {conv} AS conv FROM b),
d AS (SELECT *, {pick_user} AS u, {logged_at} AS logged_at FROM c),
e AS (
  SELECT *, CASE
    WHEN f IS NULL THEN CASE WHEN trim(raw, chr(9) || chr(13) || ' ') = '' THEN 'blank'
                        ELSE 'json' END
    WHEN NOT is_object THEN 'not_object'
    {checks}
    WHEN {fs} IS NOT NULL AND system_text IS NULL THEN 'system'
    WHEN u IS NULL OR u = 0 OR u > len(conv) THEN 'no_user'
    WHEN NOT regexp_matches(conv[u].content, '[^ \t\n\r]') THEN 'empty_prompt'
    WHEN {ft} IS NOT NULL AND json_type({ft}) <> 'NULL' AND {ts_text} <> ''
         AND logged_at IS NULL THEN 'timestamp'
    END AS code FROM d),
g AS (
  SELECT ord, code, f, CASE WHEN code IS NOT NULL THEN raw END AS raw,
    CASE WHEN code IS NULL THEN nullif({_trim_ws("id_text")}, '') END AS external_id,
    CASE WHEN code IS NULL THEN to_json(conv) END AS conv_json,
    coalesce(nullif({_trim_ws("response_text")}, ''),
             CASE WHEN code IS NULL AND len(conv) > u AND conv[u + 1].role = 'assistant'
                  THEN nullif(trim(conv[u + 1].content), '') END) AS logged_response,
    CASE WHEN code IS NULL THEN logged_at END AS logged_at,
    CASE WHEN code IS NULL THEN list_bool_or(list_transform(conv[1:u - 1],
         lambda x: x.role = 'assistant')) END AS context_has_model_output,
    CASE WHEN code IS NULL THEN len(list_filter(conv[1:u], lambda x: x.role = 'user'))
         END AS user_turns,
    {"nl" if log.format in ("csv", "tsv") else "0"} AS nl,
    conv, u{slice_values}
  FROM e),
h AS (SELECT *, CASE WHEN code IS NULL THEN {metadata} END AS metadata FROM g)
SELECT ord, code, raw, external_id, conv, u,
  metadata, logged_response, logged_at,
  coalesce(context_has_model_output, false) AS context_has_model_output, user_turns, nl,
  {", ".join(f"{SLICE_VALUE}{i}" for i in range(1, len(keys) + 1)) + "," if keys else ""}
  CASE WHEN code IS NULL THEN md5(conv_json || chr(31) || metadata || chr(31)
    || {answer_in_hash}) END AS content_hash
FROM h
"""


def answers_sql(log: LogFile, mapping: ColumnMapping, columns: list[str], q: Query) -> str:
    """CREATE TEMP TABLE staged: id + logged answer per row of an answers-only log
    (e.g. OpenAI Batch API output), with a ``code`` for rows that cannot be attached."""
    reader = reader_sql(log, mapping, columns, q)
    roles = {role: i + 1 for i, (role, _) in enumerate(field_roles(mapping))}
    fi, fr = f"f[{roles['id']}]", f"f[{roles['response']}]"
    error = q.bind(["$.error.message", "$.response.body.error.message"])
    return f"""
CREATE TEMP TABLE staged AS
WITH src AS ({reader}),
a AS (
  SELECT *, nullif(trim({fi}->>'$'), '') AS external_id,
    nullif(trim(CASE json_type({fr}) WHEN 'VARCHAR' THEN {fr}->>'$' WHEN 'NULL' THEN NULL
                ELSE CAST({fr} AS VARCHAR) END, {_WS}), '') AS answer
  FROM src)
SELECT ord, external_id, answer, {"nl" if log.format in ("csv", "tsv") else "0"} AS nl,
  CASE WHEN f IS NULL THEN CASE WHEN trim(raw, chr(9) || chr(13) || ' ') = '' THEN 'blank'
                           ELSE 'json' END
       WHEN external_id IS NULL THEN 'id_missing'
       WHEN answer IS NULL THEN 'answer_missing' END AS code,
  raw,
  CASE WHEN answer IS NULL AND f IS NOT NULL THEN
    try(list_filter(json_extract_string(raw, {error}), lambda x: x IS NOT NULL)[1])
  END AS error_detail
FROM a
"""
