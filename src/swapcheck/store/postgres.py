"""PostgreSQL as the store: a pool of connections behind the same cursor API as DuckDB's.

``PostgresStore`` is chosen by a ``postgresql://`` URL (``open_store``). Every process (app
replica, CLI, generation worker) keeps a small psycopg pool; ``cursor()`` lends one
auto-committing connection for a unit of work and ``transaction()`` wraps it in BEGIN/COMMIT,
exactly as the DuckDB store does. ``PgCursor`` speaks the subset of DuckDB's cursor API the
store uses (``execute`` with ``?``/``$name`` parameters, ``fetchall``, ``df``, ``arrow``,
``register`` of a DataFrame or Arrow table as a temporary table), translating each statement
with ``sql_postgres.Translator``. Results come back as Arrow (column types from the result's
type OIDs), bulk reads of big results through ``COPY ... TO STDOUT``.

``?schema=NAME`` in the URL keeps one swapcheck store in its own schema of a shared database
(the tests use one schema per test). Migrations run under an advisory lock, so replicas that
start together migrate once.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from swapcheck.errors import ConfigError, StoreError
from swapcheck.store.advisory import DATABASE_WIDE, advisory_key

if TYPE_CHECKING:
    from swapcheck.store.sql_postgres import TableInfo

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
DEFAULT_POOL_SIZE = 12
PROBE_TIMEOUT_S = 10
LOCK_WAIT = "30s"
"""A statement waiting longer than this for a row lock fails (and is retried) instead of hanging."""
NUL_STAND_IN = "\u2400"
"""PostgreSQL text cannot hold U+0000; frames written to it show the character as the visible
symbol for NUL instead (only quarantined raw lines ever carry one)."""
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

_ARROW_OF_OID: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int64(),
    23: pa.int32(),
    700: pa.float64(),
    701: pa.float64(),
    1700: pa.float64(),
    18: pa.string(),
    19: pa.string(),
    25: pa.string(),
    114: pa.string(),
    1043: pa.string(),
    3802: pa.string(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
    1082: pa.date32(),
}
_PG_OF_ARROW = (
    (pa.types.is_boolean, "BOOLEAN"),
    (pa.types.is_integer, "BIGINT"),
    (pa.types.is_floating, "DOUBLE PRECISION"),
    (pa.types.is_timestamp, "TIMESTAMP"),
    (pa.types.is_date, "DATE"),
    (pa.types.is_string, "TEXT"),
    (pa.types.is_large_string, "TEXT"),
)


def is_postgres_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(POSTGRES_SCHEMES)


def redacted_url(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[-1]}"))


def _psycopg() -> Any:
    """psycopg, after checking the whole `postgres` extra (driver, pool, SQL translator)."""
    try:
        import psycopg
        import psycopg_pool  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the extra is part of [test]
        raise ConfigError(
            f"A postgresql:// store needs the `postgres` extra ({exc.name} is not installed).",
            "pip install 'swapcheck[postgres]' (or -e '.[postgres]' in a checkout)",
        ) from exc
    return psycopg


def _configure_loaders(conn: Any) -> None:
    from psycopg.adapt import Loader
    from psycopg.types.string import TextLoader

    class NumericLoader(Loader):
        """numeric -> int when integral, else float (DuckDB gives ints and doubles)."""

        def load(self, data: Any) -> int | float:
            text = bytes(data).decode()
            if text.lstrip("-").isdigit():
                return int(text)
            return float(text)

    conn.adapters.register_loader("json", TextLoader)
    conn.adapters.register_loader("jsonb", TextLoader)
    conn.adapters.register_loader("numeric", NumericLoader)


class PostgresStore:
    """Handle to one swapcheck store in a PostgreSQL database, safe to share between threads."""

    dialect = "postgres"

    def __init__(
        self,
        url: str,
        *,
        lock_timeout: float = 60.0,
        linger: float = 0.5,
        migrate: bool = True,
        pool_size: int = DEFAULT_POOL_SIZE,
        local_dir: str | Path | None = None,
    ) -> None:
        _psycopg()
        self.url = url
        self.display = redacted_url(url)
        self.conninfo, self.schema = _split_schema(url)
        self.lock_timeout = lock_timeout
        self.linger = linger
        self.pool_size = pool_size
        parts = urlsplit(self.conninfo)
        label = "-".join(
            str(p) for p in (parts.hostname or "local", parts.port or 5432, parts.path.strip("/"))
        )
        base = Path(local_dir) if local_dir else Path.cwd() / "data"
        # Local side files (answer journals, the demo's log, uploads) live next to this name.
        self.path = base / f"postgres-{label}-{self.schema or 'public'}"
        self._guard = threading.Lock()
        self._pool: Any = None
        from swapcheck.store.sql_postgres import Catalog, Translator  # the postgres extra

        self.translator = Translator(Catalog(self._table_info))
        if migrate:
            self.migrate()

    @property
    def location(self) -> str:
        """What ``--db`` / ``$SWAPCHECK_DB`` takes to open this store again."""
        return self.url

    # -- connections ----------------------------------------------------------------------
    def _configure(self, conn: Any) -> None:
        _configure_loaders(conn)
        with conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            cur.execute(f"SET lock_timeout = '{LOCK_WAIT}'")
            if self.schema:
                cur.execute(f'SET search_path TO "{self.schema}"')

    def _get_pool(self) -> Any:
        with self._guard:
            if self._pool is None:
                from psycopg_pool import ConnectionPool

                self._probe()
                pool = ConnectionPool(
                    self.conninfo,
                    min_size=1,
                    max_size=self.pool_size,
                    kwargs={"autocommit": True},
                    configure=self._configure,
                    max_idle=max(self.linger, 60.0),
                    timeout=self.lock_timeout,
                    open=False,
                )
                try:
                    pool.open(wait=True, timeout=min(self.lock_timeout, 30.0))
                except Exception as exc:
                    with contextlib.suppress(Exception):
                        pool.close()
                    raise StoreError(
                        f"Cannot connect to the PostgreSQL store {self.display}: {exc}",
                        "Check the URL (host, port, database, user) and that the server runs; "
                        "the password goes in the URL or in PGPASSWORD.",
                    ) from exc
                self._pool = pool
            return self._pool

    def _probe(self) -> None:
        """One direct connection first: a wrong URL or a stopped server fails in seconds with
        the server's own reason, not after the pool's timeout."""
        psycopg = _psycopg()
        try:
            psycopg.connect(self.conninfo, connect_timeout=PROBE_TIMEOUT_S).close()
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())
            raise StoreError(
                f"Cannot connect to the PostgreSQL store {self.display}: {reason}",
                "Check the URL (host, port, database, user) and that the server runs and "
                "accepts this host; the password goes in the URL or in PGPASSWORD.",
            ) from exc

    @contextlib.contextmanager
    def cursor(self) -> Iterator[PgCursor]:
        """A pooled connection for one unit of work, auto-committing each statement."""
        psycopg = _psycopg()
        try:
            lease = self._get_pool().connection()
            conn = lease.__enter__()
        except psycopg.Error as exc:
            raise StoreError(
                f"No connection to the PostgreSQL store {self.display}: {exc}",
                "Check that the server runs and accepts connections from this host.",
            ) from exc
        cur = PgCursor(self, conn)
        failure: BaseException | None = None
        try:
            yield cur
        except BaseException as exc:
            failure = exc
            raise
        finally:
            cur.close()
            if failure is None:
                lease.__exit__(None, None, None)
            else:
                lease.__exit__(type(failure), failure, failure.__traceback__)

    def transaction(self) -> contextlib.AbstractContextManager[PgCursor]:
        """A cursor inside BEGIN/COMMIT; rolled back if the block raises."""
        from swapcheck.store.connection import transaction_on

        return transaction_on(self)

    def close(self) -> None:
        """Close the pool (the next cursor opens a new one)."""
        with self._guard:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Create the schema, the DuckDB-compatible functions and apply pending migrations."""
        from swapcheck.store.migrations import migrate as run_migrations

        with self.cursor() as cur:
            raw = cur.raw
            # database-wide: every schema's store (re)creates the same compat functions
            migration_lock = advisory_key(DATABASE_WIDE, "migrate")
            raw.execute("SELECT pg_advisory_lock(%s)", [migration_lock])
            try:
                if self.schema:
                    raw.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                raw.execute(compat_sql())
                applied = run_migrations(cur)
            finally:
                raw.execute("SELECT pg_advisory_unlock(%s)", [migration_lock])
        self.translator.forget()
        return applied

    def _table_info(self, table: str) -> TableInfo:
        with self.cursor() as cur:
            raw = cur.raw
            raw.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                "WHERE i.indrelid = to_regclass(%s) AND i.indisprimary "
                "ORDER BY array_position(i.indkey, a.attnum)",
                [table],
            )
            key = [r[0] for r in raw.fetchall()]
            raw.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped "
                "ORDER BY attnum",
                [table],
            )
            types = dict(raw.fetchall())
        from swapcheck.store.sql_postgres import TableInfo

        return TableInfo(key, list(types), types)


def _split_schema(url: str) -> tuple[str, str | None]:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = [(k, v) for k, v in query if k != "schema"]
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise ConfigError(
            f"The schema name {schema!r} in the store URL is not a plain identifier.",
            "Use letters, digits and underscores, starting with a letter (e.g. ?schema=team_a).",
        )
    scheme = "postgresql" if parts.scheme == "postgres" else parts.scheme
    return urlunsplit(parts._replace(scheme=scheme, query=urlencode(rest))), schema


def compat_sql() -> str:
    """DuckDB functions the store's SQL uses that PostgreSQL lacks (created idempotently)."""
    return (Path(__file__).with_name("postgres_compat.sql")).read_text(encoding="utf-8")


class PgCursor:
    """The DuckDB cursor API the store uses, over one psycopg connection."""

    dialect = "postgres"

    def __init__(self, store: PostgresStore, conn: Any) -> None:
        self._store = store
        self._conn = conn
        self.raw = conn.cursor()
        self._registered: set[str] = set()
        self._frames: dict[str, pa.Table] = {}
        self._deferred: tuple[str, Any] | None = None
        self._empty = False

    @property
    def in_transaction(self) -> bool:
        """Inside an explicit BEGIN (psycopg: not idle)."""
        return bool(self._conn.info.transaction_status != 0)

    # -- statements -----------------------------------------------------------------------
    def execute(
        self, sql: str, params: Sequence[object] | dict[str, object] | None = None
    ) -> PgCursor:
        statements, read = self._store.translator.prepare(sql, params is not None)
        self._deferred = None
        if not statements:
            self._empty = True
            return self
        self._empty = False
        self._materialise(sql)
        bound = _bind(statements[-1], params)
        if read:
            # A read runs when its result is asked for: through COPY if as a frame.
            self._deferred = (statements[0], bound)
            return self
        try:
            for statement in statements[:-1]:
                self.raw.execute(statement)
            self.raw.execute(statements[-1], bound)
        except Exception as exc:
            raise _with_statement(exc, statements[-1]) from None
        return self

    def sql(
        self, query: str, params: Sequence[object] | dict[str, object] | None = None
    ) -> PgCursor:
        """DuckDB's relation API as far as the store uses it: run now, read with to_arrow_table."""
        return self.execute(query, params)

    def executemany(
        self, sql: str, rows: Sequence[Sequence[object] | dict[str, object]]
    ) -> PgCursor:
        statements = self._store.translator.translate(sql, True)
        (statement,) = statements
        if not rows:
            return self
        self._materialise(sql)
        bound = [_bind(statement, r) for r in rows]
        try:
            self.raw.executemany(statement, bound)
        except Exception as exc:
            raise _with_statement(exc, statement) from None
        self._empty = True
        return self

    # -- results --------------------------------------------------------------------------
    def _run_pending(self) -> None:
        pending, self._deferred = self._deferred, None
        if pending is None:
            return
        statement, bound = pending
        try:
            self.raw.execute(statement, bound)
        except Exception as exc:
            raise _with_statement(exc, statement) from None

    def fetchall(self) -> list[tuple]:
        self._run_pending()
        if getattr(self, "_empty", False):
            return []
        if self.raw.description is None:
            return [(self.raw.rowcount,)]
        return self.raw.fetchall()

    def fetchone(self) -> tuple | None:
        rows = self.fetchall()
        return rows[0] if rows else None

    @property
    def description(self) -> Any:
        self._run_pending()
        return self.raw.description

    def to_arrow_table(self) -> pa.Table:
        """The result as Arrow: a pending read in bulk through ``COPY ... TO STDOUT`` (CSV
        parsed by Arrow, types from the result's OIDs), else row by row."""
        pending = self._deferred
        if pending is not None:
            statement, bound = pending
            try:
                table = _copy_out(self.raw, self._conn, statement, bound)
            except Exception as exc:
                self._deferred = None
                raise _with_statement(exc, statement) from None
            if table is not None:
                self._deferred = None
                return table
        self._run_pending()
        description = self.raw.description
        if description is None:
            return pa.table({})
        rows = self.raw.fetchall()
        names = [d.name for d in description]
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        arrays = []
        for d, values in zip(description, columns, strict=True):
            kind = _ARROW_OF_OID.get(d.type_code)
            try:
                arrays.append(pa.array(list(values), type=kind))
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                arrays.append(pa.array([None if v is None else str(v) for v in values]))
        return pa.Table.from_arrays(arrays, names=_unique(names))

    def df(self) -> pd.DataFrame:
        frame = self.to_arrow_table().to_pandas()
        # As DuckDB: text columns of an empty result, or holding only NULLs, are plain objects.
        plain = [c for c in frame.columns if frame[c].dtype == "str" and frame[c].isna().all()]
        return frame.astype(dict.fromkeys(plain, object)) if plain else frame

    fetchdf = fetch_df = df

    # -- frames as temporary tables -------------------------------------------------------
    def register(self, name: str, data: pd.DataFrame | pa.Table) -> None:
        """Make ``data`` queryable as ``name`` for this unit of work (a temporary table).

        Uploaded lazily: only when a statement names it (the review queue registers its ready
        pairs on every call but reads them only until each slice has its minimum).
        """
        if isinstance(data, pa.Table):
            table = data
        else:
            table = pa.Table.from_pandas(data, preserve_index=False)
        self.unregister(name)
        self._frames[name] = table

    def _materialise(self, sql: str) -> None:
        for name in [n for n in self._frames if re.search(rf"\b{re.escape(n)}\b", sql)]:
            table = self._frames.pop(name)
            columns = ", ".join(f'"{f.name}" {_pg_type(f.type)}' for f in table.schema)
            self.raw.execute(f'CREATE TEMPORARY TABLE "{name}" ({columns})')
            self._registered.add(name)
            if table.num_rows:
                _copy_in(self.raw, name, table)
            # Temporary tables are never auto-analysed; without statistics the planner picks
            # nested loops over them (35 s instead of 0.3 s for the evaluation frame).
            self.raw.execute(f'ANALYZE "{name}"')

    def unregister(self, name: str) -> None:
        self._frames.pop(name, None)
        if name in self._registered:
            self.raw.execute(f'DROP TABLE IF EXISTS pg_temp."{name}"')
            self._registered.discard(name)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self._conn.info.transaction_status == 0:  # idle: clean up our temp tables
                for name in list(self._registered):
                    self.unregister(name)
        with contextlib.suppress(Exception):
            self.raw.close()


_MAX_BLOCK = 2**31 - 1
"""Arrow's largest CSV block: a read whose rows do not fit 1 MB blocks is parsed as one."""


def _copy_out(raw: Any, conn: Any, statement: str, bound: Any) -> pa.Table | None:
    """Run a read with ``COPY (...) TO STDOUT (FORMAT csv)`` and parse it with Arrow; None
    when a column's type has no exact CSV form here (arrays, ...): the caller reads rows."""
    import psycopg

    raw.execute(f"SELECT * FROM ({statement}) AS _described LIMIT 0", bound)
    description = raw.description
    names = [d.name for d in description]
    if len(set(names)) != len(names):
        return None
    types: dict[str, pa.DataType] = {}
    stamps: dict[str, pa.DataType] = {}
    for d in description:
        kind = _ARROW_OF_OID.get(d.type_code)
        if kind is None:
            return None
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            stamps[d.name] = kind  # PostgreSQL drops zero fractions: parsed below
            kind = pa.string()
        types[d.name] = kind
    literal = psycopg.ClientCursor(conn).mogrify(statement, bound)
    with raw.copy(f"COPY ({literal}) TO STDOUT WITH (FORMAT csv)") as copy:
        data = b"".join(bytes(chunk) for chunk in copy)
    if not data:
        return pa.table({n: pa.array([], type=stamps.get(n, types[n])) for n in names})
    convert = pa_csv.ConvertOptions(
        column_types=types,
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,  # NULL is unquoted, '' is ""
        null_values=[""],
        true_values=["t"],
        false_values=["f"],
    )
    parse = pa_csv.ParseOptions(newlines_in_values=True)
    try:  # parallel parse in 1 MB blocks ...
        table = pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(column_names=names),
            parse_options=parse,
            convert_options=convert,
        )
    except pa.ArrowInvalid as exc:  # ... unless one row is longer than a block (a huge prompt)
        if "straddl" not in str(exc) or len(data) >= _MAX_BLOCK:
            raise
        table = pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(column_names=names, block_size=len(data) + 1),
            parse_options=parse,
            convert_options=convert,
        )
    for name, kind in stamps.items():
        index = names.index(name)
        text = table.column(index).to_pandas()
        parsed = pd.to_datetime(text, format="ISO8601", utc=bool(getattr(kind, "tz", None)))
        table = table.set_column(index, name, pa.array(parsed, type=kind))
    return table


def _bind(statement: str, params: Sequence[object] | dict[str, object] | None) -> Any:
    if params is None:
        return None
    if isinstance(params, dict):
        return params
    if "%(1)s" in statement:
        return {str(i + 1): value for i, value in enumerate(params)}  # sqlglot's %(1)s
    return list(params)


def _with_statement(exc: Exception, statement: str) -> Exception:
    """psycopg errors keep their class (callers retry on them); add the statement for context."""
    with contextlib.suppress(Exception):
        exc.add_note(f"PostgreSQL statement: {statement[:500]}")
    return exc


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        out.append(name if count == 0 else f"{name}_{count}")
        seen[name] = count + 1
    return out


def _pg_type(kind: pa.DataType) -> str:
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _pg_type(kind.value_type) + "[]"
    if pa.types.is_dictionary(kind):
        return _pg_type(kind.value_type)
    for test, name in _PG_OF_ARROW:
        if test(kind):
            return name
    return "TEXT"


def _copy_in(raw: Any, name: str, table: pa.Table) -> None:
    """Bulk-load ``table`` with COPY: CSV for flat tables, row by row when it holds lists."""
    names = ", ".join(f'"{f.name}"' for f in table.schema)
    nested = any(pa.types.is_list(f.type) or pa.types.is_large_list(f.type) for f in table.schema)
    if nested:
        with raw.copy(f'COPY "{name}" ({names}) FROM STDIN') as copy:
            for row in table.to_pylist():
                copy.write_row(tuple(row.values()))
        return
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            column = pc.replace_substring(column, "\x00", NUL_STAND_IN)
        elif pa.types.is_timestamp(field.type):
            column = column.cast(pa.timestamp("us", tz=field.type.tz))
        elif pa.types.is_dictionary(field.type):
            column = column.cast(field.type.value_type)
        elif not (
            pa.types.is_boolean(field.type)
            or pa.types.is_integer(field.type)
            or pa.types.is_floating(field.type)
            or pa.types.is_string(field.type)
            or pa.types.is_large_string(field.type)
            or pa.types.is_date(field.type)
        ):
            column = column.cast(pa.string())
        columns.append(column)
    flat = pa.Table.from_arrays(columns, names=table.column_names)
    buffer = io.BytesIO()
    pa_csv.write_csv(
        flat, buffer, pa_csv.WriteOptions(include_header=False, quoting_style="all_valid")
    )
    with raw.copy(f'COPY "{name}" ({names}) FROM STDIN WITH (FORMAT csv)') as copy:
        copy.write(buffer.getvalue())
