"""`swapcheck report` (one-file HTML sign-off) and `swapcheck export` (CSV/Parquet tables)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

EXPORT_WHAT: tuple[str, ...] = ("judgments", "slices")
EXPORT_FORMATS: tuple[str, ...] = ("csv", "parquet")


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "report",
        parents=[common],
        help="write the one-file HTML sign-off report of a study (see docs/REPORT.md)",
    )
    p.add_argument("--study", required=True)
    p.add_argument("--out", required=True, help="the HTML file to write")
    p.add_argument("--by", action="append", default=[], help="slice column (repeatable)")
    p.add_argument("--min-n", type=int, default=30, help="warn below this many judgments")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=run_report)

    p = sub.add_parser(
        "export", parents=[common], help="judgments or the slice table as CSV or Parquet"
    )
    p.add_argument("--study", required=True)
    p.add_argument("--what", choices=EXPORT_WHAT, required=True)
    p.add_argument("--format", choices=EXPORT_FORMATS, required=True)
    p.add_argument("--out", required=True, help="the file to write")
    p.add_argument("--by", action="append", default=[], help="slice column (slices only)")
    p.add_argument("--min-n", type=int, default=30)
    p.set_defaults(func=run_export)


def run_report(args: argparse.Namespace) -> int:
    from swapcheck.analysis import analyse_study, analysis_summary
    from swapcheck.cli import _store
    from swapcheck.report_html import write_report
    from swapcheck.store.studies import get_study

    store = _store(args)
    analysis = analyse_study(store, get_study(store, args.study), args.by or None, args.min_n)
    path = write_report(analysis, args.out)
    summary = {**analysis_summary(analysis), "out": str(path)}
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print(
            f"wrote {path} ({summary['verdict']}, {summary['judgments']} judgments, "
            f"data hash {summary['data_hash'][:16]}…)"
        )
    return 0


def run_export(args: argparse.Namespace) -> int:
    from swapcheck.cli import _store
    from swapcheck.pipeline import study_slice_table
    from swapcheck.report import to_safe_csv, to_safe_parquet
    from swapcheck.stats_decisions import decision_table
    from swapcheck.store.judgments import judgments_frame
    from swapcheck.store.studies import get_study

    store = _store(args)
    study = get_study(store, args.study)
    if args.what == "judgments":
        frame = judgments_frame(store, study)
    else:
        frame = study_slice_table(store, study, args.by or None, min_n=args.min_n)
        if len(frame):
            frame = decision_table(frame, margin=study.margin)
    out = Path(args.out)
    data = to_safe_csv(frame) if args.format == "csv" else to_safe_parquet(frame)
    out.write_bytes(data)
    print(f"wrote {out} ({len(frame)} rows, {args.format})")
    return 0
