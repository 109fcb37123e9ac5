"""`swapcheck import-judgments`: judgments from past review rounds or other tools into a study."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "import-judgments",
        parents=[common],
        help="import judgments (JSONL or CSV) made elsewhere into a study; see docs/IMPORT.md",
    )
    p.add_argument("file", help="JSON lines (.jsonl/.json) or CSV (.csv/.tsv), optionally .gz")
    p.add_argument("--study", required=True, help="study whose prompts the judgments are about")
    p.add_argument("--source-name", help="where the judgments come from (default: file name)")
    p.add_argument(
        "--winner-map",
        metavar="CODE=WINNER,...",
        help="map winner codes, e.g. 1=model_a,2=model_b,0=tie,3=both_bad",
    )
    p.add_argument(
        "--reviewer-type",
        choices=("human", "judge"),
        default="human",
        help="for rows without a reviewer_type column value (judges are stored as 'judge:NAME')",
    )
    p.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--strict", action="store_true", help="exit 3 when any row was rejected")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from swapcheck.cli import _store
    from swapcheck.import_judgments import import_judgments, parse_winner_map

    winner_map = parse_winner_map(args.winner_map)
    report = import_judgments(
        _store(args),
        args.file,
        args.study,
        source_name=args.source_name,
        winner_map=winner_map,
        reviewer_type=args.reviewer_type,
        dry_run=args.dry_run,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(report.summary())
        if report.ignored_columns:
            print(f"  ignored columns: {', '.join(report.ignored_columns)}")
        for row in report.rejected:
            print(f"  rejected: {row.describe()}", file=sys.stderr)
    return 3 if args.strict and report.rejected else 0
