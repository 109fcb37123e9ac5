"""`swapcheck store copy|digest`: move a store between DuckDB and PostgreSQL, and verify it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    store = sub.add_parser(
        "store", help="copy a whole store between backends; content hashes (docs/SCALING.md)"
    ).add_subparsers(dest="store_command", required=True)
    p = store.add_parser(
        "copy",
        help="copy a store (or one study) from one backend to another, then verify",
    )
    p.add_argument("--from", dest="source", required=True, help="DuckDB file or postgresql:// URL")
    p.add_argument("--to", dest="destination", required=True, help="DuckDB file or postgresql://")
    p.add_argument(
        "--study",
        metavar="NAME",
        help="copy only this study and what it refers to (prompts, sources, answers of its "
        "variants, scores, runs, settings) into a store that may hold others",
    )
    p.add_argument(
        "--replace",
        action="store_true",
        help="whole-store copy: delete what the destination holds first",
    )
    p.add_argument("--json", action="store_true", help="print the verified tables as JSON")
    p.set_defaults(func=run_copy)
    p = store.add_parser(
        "digest", parents=[common], help="row count and content hash of every table"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_digest)


def run_copy(args: argparse.Namespace) -> int:
    from swapcheck.errors import ConfigError
    from swapcheck.store import open_store
    from swapcheck.store.transfer import copy_store, copy_study

    if args.source == args.destination:
        raise ConfigError(
            "--from and --to name the same store.", "Give the destination store as --to."
        )
    if args.study and args.replace:
        raise ConfigError(
            "--replace empties the whole destination; it does not go with --study.",
            "Drop --replace: a study is added next to what the destination holds.",
        )
    source = open_store(args.source, linger=0)
    try:
        destination = open_store(args.destination, linger=0)
        try:
            if args.study:
                copied: list[Any] = copy_study(source, destination, args.study)
            else:
                copied = copy_store(source, destination, replace=args.replace)
        finally:
            destination.close()
    finally:
        source.close()
    rows = [
        {"table": c.table, "rows": c.rows, "sha256": c.digest}
        | ({"added": c.added} if args.study else {})
        for c in copied
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        added = f"  ({row['added']} new)" if args.study else ""
        print(f"  {row['table']:<22} {row['rows']:>9} rows  sha256 {row['sha256'][:16]}{added}")
    total = sum(r["rows"] for r in rows)
    what = f"study {args.study!r}: " if args.study else ""
    print(
        f"copied {what}{total} rows in {len(rows)} tables from {source.display} to "
        f"{destination.display}; row counts and content hashes verified",
        file=sys.stderr,
    )
    return 0


def run_digest(args: argparse.Namespace) -> int:
    from swapcheck.cli import _store
    from swapcheck.store.transfer import store_digests

    digests = store_digests(_store(args))
    rows = [{"table": t, "rows": d.rows, "sha256": d.digest} for t, d in digests.items()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"  {row['table']:<22} {row['rows']:>9} rows  sha256 {row['sha256']}")
    return 0
