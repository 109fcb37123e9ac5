"""Variants: named ways of answering (provider + model + parameters, or the logged answers)."""

from __future__ import annotations

import json
import re

import duckdb

from swapcheck.errors import ConfigError, NotFoundError
from swapcheck.models import LOGGED_VARIANT, VariantConfig, canonical_json
from swapcheck.store.connection import Store, first_row

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_COLUMNS = (
    "name, provider, model, base_url, api_key_env, params, "
    "price_input_per_mtok, price_output_per_mtok, system_prompt, max_concurrency, "
    "requests_per_minute, tokens_per_minute"
)


def validate_variant_name(name: str) -> str:
    if not _NAME_RE.match(name or ""):
        raise ConfigError(
            f"Variant name {name!r} is not allowed.",
            "Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    return name


def _row_to_variant(row: tuple) -> VariantConfig:
    return VariantConfig(
        name=row[0],
        provider=row[1],
        model=row[2],
        base_url=row[3],
        api_key_env=row[4],
        params=json.loads(row[5]) if row[5] else {},
        price_input_per_mtok=row[6],
        price_output_per_mtok=row[7],
        system_prompt=row[8],
        max_concurrency=row[9],
        requests_per_minute=row[10],
        tokens_per_minute=row[11],
    )


def save_variant(store: Store, variant: VariantConfig, *, replace: bool = True) -> None:
    """Create or (when ``replace``) update a variant. Only the key's *variable name* is stored."""
    with store.cursor() as cur:
        _save_on(cur, variant, replace=replace)


def save_variants(store: Store, variants: list[VariantConfig]) -> None:
    """Create or update several variants in one transaction: all of them are saved, or none."""
    for variant in variants:
        _check_name(variant)
    with store.transaction() as cur:
        for variant in variants:
            _save_on(cur, variant, replace=True)


def _check_name(variant: VariantConfig) -> None:
    validate_variant_name(variant.name)
    if variant.name == LOGGED_VARIANT and variant.provider != LOGGED_VARIANT:
        raise ConfigError(
            f"'{LOGGED_VARIANT}' is reserved for the answers logged in production.",
            "Pick another name for this variant.",
        )


def _save_on(cur: duckdb.DuckDBPyConnection, variant: VariantConfig, *, replace: bool) -> None:
    _check_name(variant)
    exists = first_row(cur.execute("SELECT provider FROM variants WHERE name = ?", [variant.name]))
    if exists and not replace:
        raise ConfigError(
            f"A variant named {variant.name!r} already exists.",
            "Choose another name, or update the existing variant.",
        )
    if exists and exists[0] == LOGGED_VARIANT and variant.provider != LOGGED_VARIANT:
        raise ConfigError(
            f"Variant {variant.name!r} holds imported answers (an answers-only variant); "
            "giving it a model provider would mix generated answers with them.",
            "Save the model variant under another name.",
        )
    values = [
        variant.name,
        variant.provider,
        variant.model,
        variant.base_url,
        variant.api_key_env,
        canonical_json(variant.params),
        variant.price_input_per_mtok,
        variant.price_output_per_mtok,
        variant.system_prompt,
        variant.max_concurrency,
        variant.requests_per_minute,
        variant.tokens_per_minute,
    ]
    cur.execute(
        f"INSERT INTO variants ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET provider = excluded.provider, "
        "model = excluded.model, base_url = excluded.base_url, "
        "api_key_env = excluded.api_key_env, params = excluded.params, "
        "price_input_per_mtok = excluded.price_input_per_mtok, "
        "price_output_per_mtok = excluded.price_output_per_mtok, "
        "system_prompt = excluded.system_prompt, max_concurrency = excluded.max_concurrency, "
        "requests_per_minute = excluded.requests_per_minute, "
        "tokens_per_minute = excluded.tokens_per_minute",
        values,
    )


def delete_variant(store: Store, name: str) -> None:
    """Remove a variant nobody depends on; refuses when answers or a study use it."""
    if name == LOGGED_VARIANT:
        raise ConfigError(
            f"'{LOGGED_VARIANT}' is built in (the answers logged in production).",
            "Leave it; it costs nothing when unused.",
        )
    with store.transaction() as cur:
        if first_row(cur.execute("SELECT 1 FROM variants WHERE name = ?", [name])) is None:
            raise NotFoundError(
                f"No variant named {name!r}.", "Check the name with: swapcheck variants list"
            )
        studies = [
            r[0]
            for r in cur.execute(
                "SELECT name FROM studies WHERE baseline_variant = ? OR candidate_variant = ? "
                "ORDER BY name",
                [name, name],
            ).fetchall()
        ]
        if studies:
            raise ConfigError(
                f"Variant {name!r} is used by the studies {', '.join(map(repr, studies))}.",
                "Keep it (studies need their variants), or define a new variant under another "
                "name instead of changing this one.",
            )
        answers = first_row(cur.execute("SELECT count(*) FROM responses WHERE variant = ?", [name]))
        if answers and answers[0]:
            raise ConfigError(
                f"Variant {name!r} has {answers[0]} stored answers.",
                "Keep it so those answers stay explained, or save a changed copy under another "
                "name.",
            )
        cur.execute("DELETE FROM variants WHERE name = ?", [name])


def ensure_logged_variant(store: Store) -> VariantConfig:
    """The built-in ``logged`` variant (answers taken from the ingested log)."""
    with store.cursor() as cur:
        return ensure_logged_variant_on(cur)


def ensure_logged_variant_on(cur: duckdb.DuckDBPyConnection) -> VariantConfig:
    """Same as :func:`ensure_logged_variant`, inside the caller's transaction."""
    variant = VariantConfig(name=LOGGED_VARIANT, provider=LOGGED_VARIANT, model="production log")
    cur.execute(
        "INSERT INTO variants (name, provider, model, params) VALUES (?, ?, ?, '{}') "
        "ON CONFLICT (name) DO NOTHING",
        [variant.name, variant.provider, variant.model],
    )
    return variant


def check_answers_variant_on(cur: duckdb.DuckDBPyConnection, name: str) -> None:
    """Refuse to store imported answers under a variant that generates its own answers."""
    row = first_row(cur.execute("SELECT provider, model FROM variants WHERE name = ?", [name]))
    if row is None or row[0] == LOGGED_VARIANT:
        return
    raise ConfigError(
        f"Variant {name!r} already exists as a {row[0]} variant (model {row[1]!r}); imported "
        "answers stored under it would be mixed with the answers it generates (and replaced "
        "by them at its next generation).",
        "Store the imported answers under a new name (--response-variant, or 'Answers are "
        f"stored as variant' on the Ingest page), e.g. {name[:55]}-imported.",
    )


def ensure_answers_variant_on(
    cur: duckdb.DuckDBPyConnection, name: str, model: str | None = None
) -> VariantConfig:
    """The answers-only variant ``name`` (provider ``logged``), created when missing.

    Its model label is ``model``, else the name; a given ``model`` relabels an existing one.
    Inside the caller's transaction; refuses a variant with a real provider.
    """
    if name == LOGGED_VARIANT:
        return ensure_logged_variant_on(cur)
    validate_variant_name(name)
    check_answers_variant_on(cur, name)
    label = model or name
    cur.execute(
        "INSERT INTO variants (name, provider, model, params) VALUES (?, ?, ?, '{}') "
        "ON CONFLICT (name) DO NOTHING",
        [name, LOGGED_VARIANT, label],
    )
    if model:
        cur.execute("UPDATE variants SET model = ? WHERE name = ?", [model, name])
    row = first_row(cur.execute("SELECT model FROM variants WHERE name = ?", [name]))
    return VariantConfig(name=name, provider=LOGGED_VARIANT, model=row[0] if row else label)


def get_variant(store: Store, name: str) -> VariantConfig:
    with store.cursor() as cur:
        row = first_row(cur.execute(f"SELECT {_COLUMNS} FROM variants WHERE name = ?", [name]))
        known = [r[0] for r in cur.execute("SELECT name FROM variants ORDER BY name").fetchall()]
    if row is None:
        raise NotFoundError(
            f"No variant named {name!r}.",
            f"Create it first (swapcheck variant add {name} ...). Known variants: "
            f"{', '.join(known) or 'none'}.",
        )
    return _row_to_variant(row)


def list_variants(store: Store) -> list[VariantConfig]:
    with store.cursor() as cur:
        rows = cur.execute(f"SELECT {_COLUMNS} FROM variants ORDER BY name").fetchall()
    return [_row_to_variant(r) for r in rows]
