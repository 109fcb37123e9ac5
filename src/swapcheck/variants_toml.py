"""Variants as TOML: validate a file as a whole (all-or-nothing), diff it, import it, export it.

Format (one table per variant; ``logged`` is built in and never appears)::

    [variants.gpt-candidate]
    provider = "openai"                 # one of swapcheck.providers.provider_names()
    model = "gpt-4o-mini"
    base_url = "https://api.openai.com/v1"   # optional
    api_key_env = "OPENAI_API_KEY"      # optional: the NAME of the variable, never the key
    system_prompt = "Be brief. {system}"     # optional: replaces the logged system prompt;
                                             # with {system} inside, wraps it
    price_input_per_mtok = 0.15         # $ per 1M input tokens (default 0)
    price_output_per_mtok = 0.6         # $ per 1M output tokens (default 0)
    max_concurrency = 8                 # optional, whole numbers >= 1
    requests_per_minute = 500           # optional
    tokens_per_minute = 200000          # optional

    [variants.gpt-candidate.params]     # optional: sent with every request
    temperature = 0                     # canonical: temperature, top_p, max_tokens, stop, seed
    max_tokens = 512
    stop = ["###"]
    api_version = "2024-06-01"          # provider-specific extras pass through as written

Import reads the whole file and checks every variant before anything is written; each problem
names the file, the variant and the field, and says how to fix it. Anything that looks like a
secret (a key named like ``api_key``/``token``/``secret``, or a value shaped like ``sk-…`` or
``AIza…``) is refused: keys live in the environment (or ``.streamlit/secrets.toml``) and a
variant only names the variable in ``api_key_env``. Export writes variants sorted by name with
a fixed field order, so ``export → import → export`` gives the same bytes.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import tomli_w

from swapcheck.errors import ConfigError, NotFoundError
from swapcheck.models import LOGGED_VARIANT, VariantConfig
from swapcheck.redact_detectors import find_secrets
from swapcheck.store import Store
from swapcheck.store.variants import list_variants, save_variants, validate_variant_name

TEXT_FIELDS = ("provider", "model", "base_url", "api_key_env", "system_prompt")
PRICE_FIELDS = ("price_input_per_mtok", "price_output_per_mtok")
LIMIT_FIELDS = ("max_concurrency", "requests_per_minute", "tokens_per_minute")
FIELDS = (*TEXT_FIELDS, *PRICE_FIELDS, *LIMIT_FIELDS, "params")
"""Keys of one ``[variants.NAME]`` table, in export order."""
CANONICAL_PARAMS = ("temperature", "top_p", "max_tokens", "stop", "seed")
MAX_LIMIT = 2**31 - 1  # the store keeps limits as 32-bit integers
KEY_FIX = (
    "Remove the key from the file: put it in an environment variable (or .streamlit/secrets.toml) "
    'and write only that variable\'s name in api_key_env, e.g. api_key_env = "OPENAI_API_KEY".'
)
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_WORDS = frozenset(
    {"key", "apikey", "token", "secret", "secrets", "password", "passwd", "credential",
     "credentials", "auth", "authorization", "bearer"}
)  # fmt: skip
_SECRET_GLUED = ("apikey", "secret", "password", "accesstoken", "authtoken", "bearer")
_KEY_SHAPE_RE = re.compile(r"(?<![A-Za-z0-9])(?:sk-[A-Za-z0-9_\-]{12,}|AIza[0-9A-Za-z_\-]{20,})")
_URL_SECRET_RE = re.compile(r"[?&](?:api[-_]?key|key|token|access_token|secret)=", re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a variant definition, with where it is and what to do."""

    source: str
    variant: str | None
    field: str | None
    message: str
    fix: str

    def __str__(self) -> str:
        where = self.source
        if self.variant is not None:
            where += f" [variants.{self.variant}]"
        if self.field:
            where += f" {self.field}"
        return f"{where}: {self.message} Fix: {self.fix}"


class VariantFileError(ConfigError):
    """Variant definitions with one or more problems; nothing was written."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        source = self.problems[0].source if self.problems else "variants"
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"{source}: {count} problem{'s' if count != 1 else ''}, nothing was saved:\n{lines}",
            "Correct each problem listed above (every line ends with its own fix), then try again.",
        )


@dataclass(frozen=True)
class Change:
    """What importing one variant would do: ``add``, ``update`` or ``unchanged``."""

    name: str
    action: str
    fields: list[tuple[str, Any, Any]] = field(default_factory=list)
    """(field, old value, new value) for every field an update changes."""

    def describe(self) -> str:
        if self.action != "update":
            return f"{self.action} {self.name}"
        parts = [f"{f}: {_short(old)} → {_short(new)}" for f, old, new in self.fields]
        return f"update {self.name}: " + "; ".join(parts)


# -- secrets -----------------------------------------------------------------------------------


def looks_like_secret_name(key: str) -> bool:
    """A key named like a credential (``api_key``, ``token``, ``client_secret``...)."""
    lowered = key.lower()
    words = [w for w in re.split(r"[^a-z0-9]+", lowered) if w]
    if words and words[-1] in ("env", "var", "variable"):
        return False  # the *name* of a variable, e.g. api_key_env
    glued = re.sub(r"[^a-z0-9]", "", lowered)
    return any(w in _SECRET_WORDS for w in words) or any(g in glued for g in _SECRET_GLUED)


def looks_like_secret_value(text: str) -> bool:
    """Text holding something shaped like an API key or token."""
    if _KEY_SHAPE_RE.search(text) or _URL_SECRET_RE.search(text):
        return True
    return next(iter(find_secrets(text)), None) is not None


def _strings_in(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings_in(v)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)


def _secret_keys_in(value: Any, prefix: str) -> Iterable[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            path = f"{prefix}.{k}"
            if looks_like_secret_name(str(k)):
                yield path
            yield from _secret_keys_in(v, path)
    elif isinstance(value, list):
        for item in value:
            yield from _secret_keys_in(item, prefix)


# -- validation --------------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_problem(value: Any, path: str) -> str | None:
    """Why ``value`` cannot be stored as a JSON parameter (None when it can)."""
    if value is None:
        return f"{path} is null; leave the parameter out instead"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path} is {value}; use a finite number"
    if isinstance(value, str | bool | int | float):
        return None
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _json_problem(item, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _json_problem(v, f"{path}.{k}")
            if found:
                return found
        return None
    return f"{path} is {_type_name(value)}; write it as a quoted string or a number"


class _Checker:
    """Collects the problems of one variant table."""

    def __init__(self, source: str, name: str, providers: Sequence[str]) -> None:
        self.source, self.name, self.providers = source, name, providers
        self.problems: list[Problem] = []

    def add(self, field_name: str | None, message: str, fix: str) -> None:
        self.problems.append(Problem(self.source, self.name, field_name, message, fix))

    def check(self, table: Any) -> VariantConfig | None:
        try:
            validate_variant_name(self.name)
        except ConfigError as exc:
            self.add(None, exc.message, exc.fix or "Rename the variant.")
        if self.name == LOGGED_VARIANT:
            self.add(
                None,
                f"'{LOGGED_VARIANT}' is the built-in variant holding the answers logged in "
                "production.",
                "Pick another name for this variant.",
            )
        if not isinstance(table, dict):
            self.add(
                None,
                f"must be a table of settings, got {_type_name(table)}.",
                f'Write it as [variants.{self.name}] with provider = "..." and model = "..." '
                "below.",
            )
            return None
        secret_fields = self._check_secrets(table)
        for key in table:
            if key not in FIELDS and key not in secret_fields:
                close = difflib.get_close_matches(key, FIELDS, n=1, cutoff=0.6)
                hint = f"Did you mean '{close[0]}'? " if close else ""
                self.add(
                    key,
                    "is not a variant setting.",
                    f"{hint}Known settings: {', '.join(FIELDS)}; model parameters go in "
                    f"[variants.{self.name}.params].",
                )
        self._check_texts(table, secret_fields)
        self._check_numbers(table)
        params = table.get("params", {})
        if not isinstance(params, dict):
            self.add(
                "params",
                f"must be a table, got {_type_name(params)}.",
                f"Write [variants.{self.name}.params] with one parameter per line.",
            )
            params = {}
        elif "params" not in secret_fields:
            self._check_params(params)
        if self.problems:
            return None
        return VariantConfig(
            name=self.name,
            provider=table["provider"],
            model=table["model"],
            base_url=table.get("base_url"),
            api_key_env=table.get("api_key_env"),
            params=dict(params),
            price_input_per_mtok=float(table.get("price_input_per_mtok", 0.0)),
            price_output_per_mtok=float(table.get("price_output_per_mtok", 0.0)),
            system_prompt=table.get("system_prompt"),
            max_concurrency=table.get("max_concurrency"),
            requests_per_minute=table.get("requests_per_minute"),
            tokens_per_minute=table.get("tokens_per_minute"),
        )

    def _check_secrets(self, table: dict[str, Any]) -> set[str]:
        """Report every secret-looking key or value; the fields involved skip further checks."""
        flagged: set[str] = set()
        for key, value in table.items():
            if key != "api_key_env" and looks_like_secret_name(key):
                self.add(key, "looks like an API key or token setting; keys are never stored.",
                         KEY_FIX)  # fmt: skip
                flagged.add(key)
                continue
            for path in _secret_keys_in(value, key):
                self.add(path, "looks like an API key or token setting; keys are never stored.",
                         KEY_FIX)  # fmt: skip
                flagged.add(key)
            if any(looks_like_secret_value(s) for s in _strings_in(value)):
                self.add(key, "holds a value that looks like an API key or token (not shown).",
                         KEY_FIX)  # fmt: skip
                flagged.add(key)
        return flagged

    def _check_texts(self, table: dict[str, Any], skip: set[str]) -> None:
        for key in TEXT_FIELDS:
            if key in skip:
                continue
            value = table.get(key)
            required = key in ("provider", "model")
            if value is None:
                if required:
                    self.add(key, "is missing.", f'Add {key} = "..." to [variants.{self.name}].')
                continue
            if not isinstance(value, str):
                self.add(key, f"must be a string, got {_type_name(value)}.",
                         f'Quote it: {key} = "...".')  # fmt: skip
                continue
            if required and not value.strip():
                self.add(key, "is empty.", f'Write the {key} name, e.g. {key} = "...".')
                continue
            if key == "provider" and value not in self.providers:
                self.add(key, f"'{value}' is not a known provider.",
                         f"Use one of: {', '.join(self.providers) or 'none'}.")  # fmt: skip
            elif key == "base_url" and not re.match(r"^https?://[^\s/@]+(/\S*)?$", value):
                self.add(key, "is not an http(s) URL without credentials.",
                         'Write e.g. base_url = "https://api.openai.com/v1" (keys go in an '
                         "environment variable named by api_key_env).")  # fmt: skip
            elif key == "api_key_env" and not _ENV_NAME_RE.match(value):
                self.add(key, "is not an environment variable name.",
                         'Write the variable\'s name, e.g. api_key_env = "OPENAI_API_KEY" '
                         "(letters, digits and _; not starting with a digit).")  # fmt: skip

    def _check_numbers(self, table: dict[str, Any]) -> None:
        for key in PRICE_FIELDS:
            value = table.get(key)
            if value is None:
                continue
            if not _is_number(value) or not math.isfinite(value):
                self.add(key, f"must be a number, got {_type_name(value)}.",
                         f"Write the price in $ per 1M tokens, e.g. {key} = 0.5.")  # fmt: skip
            elif value < 0:
                self.add(key, "is negative.", f"Use 0 or more, e.g. {key} = 0.5.")
        for key in LIMIT_FIELDS:
            value = table.get(key)
            if value is None:
                continue
            if not _is_whole(value):
                self.add(key, f"must be a whole number, got {_type_name(value)}.",
                         f"Write e.g. {key} = 10, or leave it out for no limit.")  # fmt: skip
            elif not 1 <= value <= MAX_LIMIT:
                self.add(key, f"must be between 1 and {MAX_LIMIT}, got {value}.",
                         f"Write e.g. {key} = 10, or leave it out for no limit.")  # fmt: skip

    def _check_params(self, params: dict[str, Any]) -> None:
        for key, value in params.items():
            where = f"params.{key}"
            found = _json_problem(value, where)
            if found:
                self.add(where, f"cannot be sent: {found}.", "Use a string, number, true/false, "
                         "list or table.")  # fmt: skip
                continue
            self._check_canonical(key, value, where)

    def _check_canonical(self, key: str, value: Any, where: str) -> None:
        if key == "temperature" and not (_is_number(value) and value >= 0):
            self.add(where, f"must be a number >= 0, got {_short(value)}.",
                     "Write e.g. temperature = 0.2.")  # fmt: skip
        elif key == "top_p" and not (_is_number(value) and 0 <= value <= 1):
            self.add(where, f"must be a number from 0 to 1, got {_short(value)}.",
                     "Write e.g. top_p = 0.9.")  # fmt: skip
        elif key == "max_tokens" and not (_is_whole(value) and value >= 1):
            self.add(where, f"must be a whole number >= 1, got {_short(value)}.",
                     "Write e.g. max_tokens = 512.")  # fmt: skip
        elif key == "seed" and not _is_whole(value):
            self.add(where, f"must be a whole number, got {_type_name(value)}.",
                     "Write e.g. seed = 7.")  # fmt: skip
        elif key == "stop" and not (
            isinstance(value, str)
            or (isinstance(value, list) and all(isinstance(s, str) for s in value))
        ):
            self.add(where, f"must be a string or a list of strings, got {_type_name(value)}.",
                     'Write e.g. stop = ["###", "END"].')  # fmt: skip


def _registered_providers(providers: Sequence[str] | None) -> list[str]:
    if providers is None:
        from swapcheck.providers import provider_names

        providers = provider_names()
    return [p for p in providers if p != LOGGED_VARIANT]


def variant_problems(
    name: str, table: Any, *, source: str, providers: Sequence[str] | None = None
) -> tuple[VariantConfig | None, list[Problem]]:
    """Check one ``[variants.NAME]`` table; the variant when it has no problem."""
    checker = _Checker(source, name, _registered_providers(providers))
    variant = checker.check(table)
    return variant, checker.problems


def check_variant(
    variant: VariantConfig, *, source: str = "form", providers: Sequence[str] | None = None
) -> VariantConfig:
    """The same checks as an import, for a variant built elsewhere (form, CLI); raises."""
    table = _table_for_check(variant)
    checked, problems = variant_problems(variant.name, table, source=source, providers=providers)
    if problems or checked is None:
        raise VariantFileError(problems)
    return checked


def _table_for_check(variant: VariantConfig) -> dict[str, Any]:
    table: dict[str, Any] = {
        "provider": variant.provider,
        "model": variant.model,
        "price_input_per_mtok": variant.price_input_per_mtok,
        "price_output_per_mtok": variant.price_output_per_mtok,
        "params": variant.params,
    }
    for key in ("base_url", "api_key_env", "system_prompt", *LIMIT_FIELDS):
        value = getattr(variant, key)
        if value is not None:
            table[key] = value
    return table


def parse_variants_toml(
    data: str | bytes, *, source: str = "variants.toml", providers: Sequence[str] | None = None
) -> list[VariantConfig]:
    """Every variant in a TOML text, or ``VariantFileError`` listing every problem."""
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise VariantFileError(
            [Problem(source, None, None, "is not UTF-8 text.", "Save the file as UTF-8.")]
        ) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise VariantFileError(
            [Problem(source, None, None, f"is not valid TOML ({exc}).",
                     "Correct the line named above; see docs/VARIANTS.md for the format.")]
        ) from None  # fmt: skip
    problems: list[Problem] = []
    for key in document:
        if key != "variants":
            problems.append(
                Problem(source, None, key, "is not allowed at the top of the file.",
                        f"Put every variant under [variants.NAME] (found '{key}').")
            )  # fmt: skip
    tables = document.get("variants", {})
    if not isinstance(tables, dict) or not tables:
        problems.append(
            Problem(source, None, "variants", "holds no variant.",
                    'Add at least one [variants.NAME] table with provider and model.')
        )  # fmt: skip
        raise VariantFileError(problems)
    variants: list[VariantConfig] = []
    known = _registered_providers(providers)
    for name, table in tables.items():
        variant, found = variant_problems(name, table, source=source, providers=known)
        problems.extend(found)
        if variant is not None:
            variants.append(variant)
    if problems:
        raise VariantFileError(problems)
    return variants


# -- diff and export ---------------------------------------------------------------------------


def _short(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _comparable(variant: VariantConfig) -> dict[str, Any]:
    return variant_to_table(variant) | {
        key: getattr(variant, key) for key in ("base_url", "api_key_env", "system_prompt")
    }


def plan_changes(
    current: Iterable[VariantConfig], incoming: Iterable[VariantConfig]
) -> list[Change]:
    """What saving ``incoming`` over ``current`` would change, variant by variant."""
    existing = {v.name: v for v in current}
    changes: list[Change] = []
    for new in incoming:
        old = existing.get(new.name)
        if old is None:
            changes.append(Change(new.name, "add"))
            continue
        before, after = _comparable(old), _comparable(new)
        diffs = [
            (key, before.get(key), after.get(key))
            for key in FIELDS
            if before.get(key) != after.get(key)
        ]
        changes.append(Change(new.name, "update" if diffs else "unchanged", diffs))
    return changes


def _sorted_params(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_params(value[k]) for k in sorted(value) if value[k] is not None}
    if isinstance(value, list):
        return [_sorted_params(v) for v in value]
    return value


def variant_to_table(variant: VariantConfig) -> dict[str, Any]:
    """One variant as its TOML table: fixed field order, unset fields left out.

    Parameters set to null (TOML has no null) are left out, like a parameter never set.
    """
    table: dict[str, Any] = {"provider": variant.provider, "model": variant.model}
    for key in ("base_url", "api_key_env", "system_prompt"):
        if getattr(variant, key) is not None:
            table[key] = getattr(variant, key)
    table["price_input_per_mtok"] = float(variant.price_input_per_mtok)
    table["price_output_per_mtok"] = float(variant.price_output_per_mtok)
    for key in LIMIT_FIELDS:
        if getattr(variant, key) is not None:
            table[key] = getattr(variant, key)
    params = _sorted_params(variant.params)
    if params:
        table["params"] = params
    return table


EXPORT_HEADER = (
    "# swapcheck variants: import with `swapcheck variants import FILE` or on the Variants page.\n"
    "# Keys are never written here: api_key_env names the environment variable holding one.\n\n"
)


def export_variants_toml(
    variants: Iterable[VariantConfig], names: Sequence[str] | None = None
) -> str:
    """TOML text of ``variants`` (or only ``names``), sorted by name; answers-only variants
    (``logged`` and those of imported answers) are left out: they generate nothing."""
    chosen = {v.name: v for v in variants if v.provider != LOGGED_VARIANT}
    if names:
        missing = [n for n in names if n not in chosen]
        if missing:
            raise NotFoundError(
                f"No variant to export named {', '.join(repr(n) for n in missing)}.",
                f"Export one of: {', '.join(sorted(chosen)) or 'none'} "
                f"(answers-only variants such as '{LOGGED_VARIANT}' are never exported).",
            )
        chosen = {n: chosen[n] for n in names}
    return EXPORT_HEADER + "\n".join(_variant_toml(chosen[n]) for n in sorted(chosen))


def _variant_toml(variant: VariantConfig) -> str:
    """One ``[variants.NAME]`` block; multi-line strings only where they read back exactly
    (a TOML reader turns the CR LF line ends of a multi-line string into LF)."""
    table = variant_to_table(variant)
    multiline = not any("\r" in s for s in _strings_in(table))
    return tomli_w.dumps({"variants": {variant.name: table}}, multiline_strings=multiline)


def import_variants(
    store: Store, data: str | bytes, *, source: str, dry_run: bool = False
) -> list[Change]:
    """Validate the whole file, then (unless ``dry_run``) save every variant in one transaction."""
    variants = parse_variants_toml(data, source=source)
    changes = plan_changes(list_variants(store), variants)
    if not dry_run:
        save_variants(store, variants)
    return changes
