"""Rewrite the store's DuckDB SQL for PostgreSQL: sqlglot for syntax, a few rules for the rest.

The store's queries are written once, in DuckDB's dialect. On PostgreSQL each statement is
parsed with sqlglot (DuckDB dialect) and generated for PostgreSQL, with these extra rules for
what a syntax transpiler cannot know:

* ``INSERT OR REPLACE`` becomes ``ON CONFLICT (<primary key>) DO UPDATE SET`` every other
  inserted column, and ``INSERT OR IGNORE`` ``ON CONFLICT DO NOTHING`` (the key is read from
  the catalog, see ``Catalog``);
* ``CREATE OR REPLACE TABLE`` becomes ``DROP TABLE IF EXISTS`` then ``CREATE TABLE``;
* ``json_extract_string(doc, <parameter>)`` stays a call of the compatibility function of that
  name (``postgres_compat.sql``), which reads DuckDB's JSON paths; literal paths are transpiled;
* ``? IS NULL`` casts the parameter to text (PostgreSQL must know a parameter's type);
* an empty list literal ``[]`` becomes ``'{}'`` (PostgreSQL cannot type ``ARRAY[]``);
* with parameters, ``%`` in string literals is doubled (psycopg's placeholder syntax);
* DuckDB-only settings (``SET memory_limit`` ...) are dropped.

``?`` placeholders become ``%s`` and ``$name`` ``%(name)s``, so callers keep passing a list or a
dict. Each statement is translated once per process and cached.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import NamedTuple

import sqlglot
from sqlglot import exp

DUCKDB_ONLY_SETTINGS = frozenset(
    {"memory_limit", "preserve_insertion_order", "threads", "temp_directory", "enable_progress_bar"}
)


_PARAM_CAST = re.compile(r"(\?|\$[A-Za-z_]\w*)::([A-Za-z_]\w*(?:\[\])?)")
"""``?::VARCHAR[]``: sqlglot cannot parse a cast of a bare placeholder; spelled CAST(...)."""


class Translated(NamedTuple):
    statements: list[str]
    read: bool
    """One statement that only reads (a SELECT or set operation without DML or locks), so it
    may run when its result is asked for, and through ``COPY (...) TO STDOUT``."""


class TableInfo(NamedTuple):
    key: list[str]
    columns: list[str]
    types: dict[str, str]


class Catalog:
    """Primary keys, columns and column types of the tables, read once per table."""

    def __init__(self, lookup: Callable[[str], TableInfo]) -> None:
        self._lookup = lookup
        self._tables: dict[str, TableInfo] = {}
        self._lock = threading.Lock()

    def table(self, name: str) -> TableInfo:
        """Key, columns and types of ``name`` (empty when there is no such table)."""
        with self._lock:
            known = self._tables.get(name)
        if known is None:
            known = self._lookup(name)
            with self._lock:
                self._tables[name] = known
        return known

    def forget(self) -> None:
        with self._lock:
            self._tables.clear()


class Translator:
    """DuckDB statement text -> the PostgreSQL statements to run (cached)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._cache: dict[tuple[str, bool], Translated] = {}
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Drop cached translations (after a migration changed the tables)."""
        with self._lock:
            self._cache.clear()
        self.catalog.forget()

    def translate(self, sql: str, with_params: bool) -> list[str]:
        return self.prepare(sql, with_params).statements

    def prepare(self, sql: str, with_params: bool) -> Translated:
        """The statements to run, and whether the text is one read (parsed once, cached)."""
        key = (sql, with_params)
        with self._lock:
            done = self._cache.get(key)
        if done is None:
            done = self._translate(sql, with_params)
            with self._lock:
                self._cache[key] = done
        return done

    def _translate(self, sql: str, with_params: bool) -> Translated:
        trees = [
            t for t in sqlglot.parse(_PARAM_CAST.sub(r"CAST(\1 AS \2)", sql), read="duckdb") if t
        ]
        read = len(trees) == 1 and _only_reads(trees[0])
        statements = [s for tree in trees for s in self._statement(tree, with_params)]
        return Translated(statements, read and len(statements) == 1)

    def _statement(self, tree: exp.Expression, with_params: bool) -> list[str]:
        if isinstance(tree, exp.Set) and _duckdb_setting(tree):
            return []
        if isinstance(tree, exp.Transaction):
            return ["BEGIN"]
        if isinstance(tree, exp.Commit):
            return ["COMMIT"]
        if isinstance(tree, exp.Rollback):
            return ["ROLLBACK"]
        before: list[str] = []
        tree = tree.transform(_portable_node)
        if isinstance(tree, exp.Create) and tree.args.get("replace"):
            kind = str(tree.args.get("kind") or "").upper()
            if kind == "TABLE":
                target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
                before.append(f"DROP TABLE IF EXISTS {target.sql(dialect='postgres')}")
                tree.set("replace", False)
        if isinstance(tree, exp.Insert):
            self._cast_inserts(tree)
            if tree.args.get("alternative"):
                self._on_conflict(tree)
            self._conflict_target(tree)
        if with_params:
            for literal in tree.find_all(exp.Literal):
                if literal.is_string and "%" in literal.this:
                    literal.set("this", literal.this.replace("%", "%%"))
        return [*before, tree.sql(dialect="postgres")]

    def _conflict_target(self, insert: exp.Insert) -> None:
        """``ON CONFLICT DO UPDATE`` without columns means the primary key in DuckDB."""
        conflict = insert.args.get("conflict")
        if conflict is None or conflict.args.get("conflict_keys"):
            return
        if "UPDATE" not in str(conflict.args.get("action") or "").upper():
            return
        target = insert.this
        table = target.this if isinstance(target, exp.Schema) else target
        key = self.catalog.table(table.name).key
        conflict.set(
            "conflict_keys", [exp.Ordered(this=exp.column(c), nulls_first=False) for c in key]
        )

    def _on_conflict(self, insert: exp.Insert) -> None:
        alternative = str(insert.args.get("alternative")).upper()
        insert.set("alternative", None)
        if alternative == "IGNORE":
            insert.set("conflict", exp.OnConflict(action=exp.var("DO NOTHING")))
            return
        if alternative != "REPLACE":
            raise ValueError(f"INSERT OR {alternative} has no PostgreSQL form")
        target = insert.this
        table = target.this if isinstance(target, exp.Schema) else target
        key, columns, _ = self.catalog.table(table.name)
        if not key:
            raise ValueError(f"INSERT OR REPLACE into {table.name}, which has no primary key")
        if isinstance(target, exp.Schema):
            columns = [c.name for c in target.expressions]
        updates = [
            exp.EQ(
                this=exp.column(c),
                expression=exp.column(c, table="excluded"),
            )
            for c in columns
            if c not in key
        ]
        conflict_keys = [exp.Ordered(this=exp.column(c), nulls_first=False) for c in key]
        if updates:
            insert.set(
                "conflict",
                exp.OnConflict(
                    conflict_keys=conflict_keys, action=exp.var("DO UPDATE"), expressions=updates
                ),
            )
        else:
            insert.set(
                "conflict",
                exp.OnConflict(conflict_keys=conflict_keys, action=exp.var("DO NOTHING")),
            )

    def _cast_inserts(self, insert: exp.Insert) -> None:
        """``INSERT INTO t (c, ...) SELECT x, ...``: each ``x`` cast to its column's type.

        DuckDB converts on assignment (text to JSON, an all-NULL frame column to any type);
        PostgreSQL does so only for literals and parameters, not for columns of a registered
        frame. A cast to the type the value already has costs nothing.
        """
        target, select = insert.this, insert.expression
        if not isinstance(target, exp.Schema) or not isinstance(select, exp.Select):
            return
        info = self.catalog.table(target.this.name)
        if not info.types:
            return
        wanted = [c.name for c in target.expressions]
        projections = select.expressions
        if len(projections) != len(wanted) or any(isinstance(p, exp.Star) for p in projections):
            return
        for column, projection in zip(wanted, projections, strict=True):
            kind = info.types.get(column)
            if kind is None:
                continue
            value = projection.this if isinstance(projection, exp.Alias) else projection
            cast = exp.Cast(this=value.copy(), to=exp.DataType.build(kind, dialect="postgres"))
            projection.replace(
                exp.alias_(cast, column) if isinstance(projection, exp.Alias) else cast
            )


def _only_reads(tree: exp.Expression) -> bool:
    return isinstance(tree, exp.Query) and not any(
        tree.find(kind) for kind in (exp.Insert, exp.Update, exp.Delete, exp.Lock)
    )


def _duckdb_setting(tree: exp.Set) -> bool:
    names = []
    for item in tree.expressions:
        inner = item.this
        if isinstance(inner, exp.EQ):
            names.append(inner.this.name.lower())
    return bool(names) and all(n in DUCKDB_ONLY_SETTINGS for n in names)


def _portable_node(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Group) and node.args.get("all"):
        return _group_by_ordinals(node)
    if (
        isinstance(node, exp.Subquery)
        and not node.alias
        and isinstance(node.parent, exp.From | exp.Join)
    ):
        node.set("alias", exp.TableAlias(this=exp.to_identifier(f"_sub{id(node) % 10**8}")))
        return node
    if isinstance(node, exp.JSONExtractScalar) and not isinstance(node.expression, exp.JSONPath):
        return exp.Anonymous(this="json_extract_string", expressions=[node.this, node.expression])
    if isinstance(node, exp.Placeholder) and isinstance(node.parent, exp.Is):
        # ``? IS NULL``: PostgreSQL cannot type a bare parameter (any type would do)
        return exp.cast(node.copy(), "text")
    if isinstance(node, exp.Array) and not node.expressions:
        return exp.Literal.string("{}")
    return node


def _group_by_ordinals(group: exp.Group) -> exp.Expression:
    """``GROUP BY ALL``: the positions of the select list's non-aggregate expressions."""
    select = group.parent
    if not isinstance(select, exp.Select):
        return group
    positions = [
        exp.Literal.number(i + 1)
        for i, projection in enumerate(select.expressions)
        if not projection.find(exp.AggFunc, exp.Window)
        and not isinstance(projection.unalias(), exp.Literal)
    ]
    if not positions:
        return None  # type: ignore[return-value]  # only aggregates: one group, no GROUP BY
    return exp.Group(expressions=positions)
