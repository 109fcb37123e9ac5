"""`swapcheck variants` (alias `variant`): add, list, delete, import and export variants."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from swapcheck.errors import ConfigError


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Register ``variants`` (and its old name ``variant``) with its sub-commands."""
    variants = sub.add_parser(
        "variants", aliases=["variant"], help="define the ways of answering (also from TOML)"
    )
    commands = variants.add_subparsers(dest="variant_command", required=True)

    p = commands.add_parser("add", parents=[common], help="create or update one variant")
    p.add_argument("name")
    p.add_argument("--provider", required=True, help="a registered provider, e.g. openai")
    p.add_argument("--model", required=True)
    p.add_argument("--base-url")
    p.add_argument("--api-key-env", help="environment variable holding the key (never the key)")
    p.add_argument("--param", action="append", default=[], help="KEY=VALUE (JSON values)")
    p.add_argument("--price-in", type=float, default=0.0, help="$ per 1M input tokens")
    p.add_argument("--price-out", type=float, default=0.0, help="$ per 1M output tokens")
    p.add_argument(
        "--system-prompt", help="replaces the logged system prompt; {system} inside wraps it"
    )
    p.add_argument("--max-concurrency", type=int, help="requests in flight at once")
    p.add_argument("--rpm", type=int, help="requests per minute")
    p.add_argument("--tpm", type=int, help="tokens per minute")
    p.set_defaults(func=cmd_add)

    p = commands.add_parser("list", parents=[common], help="all variants (keys: set or not set)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = commands.add_parser(
        "delete", parents=[common], help="remove a variant no study or answer uses"
    )
    p.add_argument("name")
    p.set_defaults(func=cmd_delete)

    p = commands.add_parser(
        "import", parents=[common], help="add or update the variants of a TOML file"
    )
    p.add_argument("file", help="TOML file with [variants.NAME] tables (see docs/VARIANTS.md)")
    p.add_argument("--dry-run", action="store_true", help="print what would change; save nothing")
    p.set_defaults(func=cmd_import)

    p = commands.add_parser("export", parents=[common], help="variants as TOML")
    p.add_argument("file", nargs="?", help="write here (default: standard output)")
    p.add_argument("--name", action="append", default=[], help="only this variant (repeatable)")
    p.set_defaults(func=cmd_export)
    return variants


def _store(args: argparse.Namespace) -> Any:
    from swapcheck.cli import _store as command_store

    return command_store(args)


def cmd_add(args: argparse.Namespace) -> int:
    from swapcheck.cli import _parse_param
    from swapcheck.models import VariantConfig
    from swapcheck.store.variants import save_variant
    from swapcheck.variants_toml import check_variant

    variant = VariantConfig(
        name=args.name,
        provider=args.provider,
        model=args.model,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        params=dict(_parse_param(p) for p in args.param),
        price_input_per_mtok=args.price_in,
        price_output_per_mtok=args.price_out,
        system_prompt=args.system_prompt,
        max_concurrency=args.max_concurrency,
        requests_per_minute=args.rpm,
        tokens_per_minute=args.tpm,
    )
    save_variant(_store(args), check_variant(variant, source="command line"))
    print(f"variant {variant.name}: {variant.provider} / {variant.model}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from swapcheck.keys import lookup_key
    from swapcheck.store.variants import list_variants

    rows = []
    for variant in list_variants(_store(args)):
        row = asdict(variant)
        env = variant.api_key_env
        row["api_key_set"] = bool(env and lookup_key(env))  # whether, never what
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for v in rows:
        key = f"{v['api_key_env']} ({'set' if v['api_key_set'] else 'not set'})"
        print(
            f"{v['name']:<24} {v['provider']:<10} {v['model']:<28} "
            f"{key if v['api_key_env'] else '-':<32} {json.dumps(v['params'])}"
        )
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from swapcheck.store.variants import delete_variant

    delete_variant(_store(args), args.name)
    print(f"deleted variant {args.name}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from swapcheck.variants_toml import import_variants

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"Cannot read {path}: {exc.strerror or exc}.",
            "Check the path; export a template with: swapcheck variants export variants.toml",
        ) from None
    changes = import_variants(_store(args), data, source=str(path), dry_run=args.dry_run)
    if args.dry_run:
        print(f"dry run: nothing saved; importing {path} would:")
    for change in changes:
        print(f"  {change.describe()}" if args.dry_run else change.describe())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import sys

    from swapcheck.models import LOGGED_VARIANT
    from swapcheck.store.variants import list_variants
    from swapcheck.variants_toml import export_variants_toml

    variants = list_variants(_store(args))
    text = export_variants_toml(variants, args.name or None)
    if not args.file:
        sys.stdout.write(text)
        return 0
    path = Path(args.file)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"Cannot write {path}: {exc.strerror or exc}.",
            "Choose a writable path, or leave FILE out to print the TOML.",
        ) from None
    count = len(args.name) if args.name else sum(v.provider != LOGGED_VARIANT for v in variants)
    print(f"exported {count} variants to {path}")
    return 0
