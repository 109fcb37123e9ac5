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

ROLES = ("system", "user", "assistant", "tool", "developer")
RAW_LIMIT = 2000
MAX_LINE = 256 << 20  # bytes; DuckDB's default (2 MB) would reject long conversations
_TEXT_PART_TYPES = ("text", "input_text", "output_text")
_WS = "chr(32) || chr(9) || chr(10) || chr(13)"
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
) -> str:
    """CREATE TEMP TABLE staged AS the normalised rows (valid rows carry no ``code``)."""
    roles = {role: i + 1 for i, (role, _) in enumerate(field_roles(mapping))}

    def fld(role: str) -> str:
        return f"f[{roles[role]}]" if role in roles else "NULL::JSON"

    roles_sql = ", ".join(f"'{r}'" for r in ROLES)
    if mapping.messages_column:
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
    pick_user = (
        "list_position(list_transform(conv, lambda x: x.role = 'user'), true)"
        if mapping.turn == "first"
        else "len(conv) + 1 - list_position(list_reverse(list_transform(conv, "
        "lambda x: x.role = 'user')), true)"
    )
    ft = fld("timestamp")
    ts_text = f"trim({ft}->>'$', {_WS})"
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
    meta_pairs = [
        f"{key}, nullif(trim({fld('slice:' + col)}->>'$', {_WS}), '')"
        for key, col in zip(keys, mapping.slice_columns, strict=True)
    ]
    metadata = f"json_object({', '.join(meta_pairs)})" if meta_pairs else "'{}'::JSON"
    fr, fi = fld("response"), fld("id")
    return f"""
CREATE TEMP TABLE staged AS
WITH src AS ({reader_sql(log, mapping, columns, q)}),
a AS (SELECT *, {parse} FROM src),
b AS (SELECT *, {msgs} AS msgs, {system} AS system_text FROM a),
c AS (
  SELECT *, CASE WHEN system_text IS NOT NULL AND trim(system_text) <> ''
                  AND (msgs IS NULL OR len(msgs) = 0 OR msgs[1].role <> 'system')
             THEN list_prepend(struct_pack(role := 'system', content := system_text), msgs)
             ELSE msgs END AS conv
  FROM b),
d AS (SELECT *, {pick_user} AS u, {logged_at} AS logged_at FROM c),
e AS (
  SELECT *, CASE
    WHEN f IS NULL THEN CASE WHEN trim(raw, chr(9) || chr(13) || ' ') = '' THEN 'blank'
                        ELSE 'json' END
    WHEN NOT is_object THEN 'not_object'
    {checks}
    WHEN {fs} IS NOT NULL AND system_text IS NULL THEN 'system'
    WHEN u IS NULL OR u = 0 OR u > len(conv) THEN 'no_user'
    WHEN trim(conv[u].content, {_WS}) = '' THEN 'empty_prompt'
    WHEN {ft} IS NOT NULL AND json_type({ft}) <> 'NULL' AND {ts_text} <> ''
         AND logged_at IS NULL THEN 'timestamp'
    END AS code FROM d),
g AS (
  SELECT ord, code, f, CASE WHEN code IS NOT NULL THEN raw END AS raw,
    CASE WHEN code IS NULL THEN nullif(trim({fi}->>'$', {_WS}), '') END AS external_id,
    CASE WHEN code IS NULL THEN to_json(conv) END AS conv_json,
    CASE WHEN code IS NULL AND len(conv) > u THEN to_json(conv[1:u]) END AS prompt_json,
    CASE WHEN code IS NULL THEN conv[u].content END AS prompt_text,
    coalesce(nullif(trim(CASE json_type({fr}) WHEN 'VARCHAR' THEN {fr}->>'$' WHEN 'NULL' THEN NULL
                        ELSE CAST({fr} AS VARCHAR) END, {_WS}), ''),
             CASE WHEN code IS NULL AND len(conv) > u AND conv[u + 1].role = 'assistant'
                  THEN nullif(trim(conv[u + 1].content), '') END) AS logged_response,
    CASE WHEN code IS NULL THEN logged_at END AS logged_at,
    CASE WHEN code IS NULL THEN list_bool_or(list_transform(conv[1:u - 1],
         lambda x: x.role = 'assistant')) END AS context_has_model_output,
    CASE WHEN code IS NULL THEN len(list_filter(conv[1:u], lambda x: x.role = 'user'))
         END AS user_turns,
    {"nl" if log.format in ("csv", "tsv") else "0"} AS nl,
    conv
  FROM e),
h AS (SELECT *, CASE WHEN code IS NULL THEN {metadata} END AS metadata FROM g)
SELECT ord, code, raw, external_id, coalesce(prompt_json, conv_json) AS messages,
  CASE WHEN prompt_json IS NOT NULL THEN conv_json END AS conversation, prompt_text,
  metadata, logged_response, logged_at,
  coalesce(context_has_model_output, false) AS context_has_model_output, user_turns, nl,
  CASE WHEN code IS NULL THEN md5(conv_json || chr(31) || metadata || chr(31)
    || coalesce(logged_response, '')) END AS content_hash
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
