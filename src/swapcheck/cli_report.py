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

    p = sub.add_parser(
        "ratings",
        parents=[common],
        help="Bradley-Terry ratings of every variant compared in related studies",
    )
    p.add_argument(
        "--study",
        action="append",
        default=[],
        help="a study to pool (repeatable; one study alone pulls in every study that shares "
        "a variant with it; default: all studies)",
    )
    p.add_argument("--boot", type=int, default=200, help="bootstrap resamples for the intervals")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    p.add_argument("--json", action="store_true", help="print the ratings as JSON")
    p.set_defaults(func=run_ratings)


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
    if args.what == "judgments":  # people and LLM judges, told apart by reviewer_type
        frame = judgments_frame(store, study, reviewer_type=None)
    else:
        frame = study_slice_table(store, study, args.by or None, min_n=args.min_n)
        if len(frame):
            frame = decision_table(frame, margin=study.margin)
    out = Path(args.out)
    data = to_safe_csv(frame) if args.format == "csv" else to_safe_parquet(frame)
    out.write_bytes(data)
    print(f"wrote {out} ({len(frame)} rows, {args.format})")
    return 0


def run_ratings(args: argparse.Namespace) -> int:
    from swapcheck.cli import _store
    from swapcheck.errors import ConfigError, StudyError
    from swapcheck.ratings import connected_studies, variant_ratings
    from swapcheck.store.studies import get_study, list_studies

    if args.boot < 0:
        raise ConfigError("--boot must be 0 or more.", "Pass e.g. --boot 200 (0: no intervals).")
    store = _store(args)
    if len(args.study) == 1:
        studies = connected_studies(store, get_study(store, args.study[0]))
    elif args.study:
        studies = [get_study(store, name) for name in args.study]
    else:
        studies = list_studies(store)
    if not studies:
        raise StudyError("There is no study yet.", "Create one with swapcheck study create.")
    result = variant_ratings(store, studies, n_boot=args.boot, seed=args.seed)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return 0 if result.table is not None else 3
    names = ", ".join(s.name for s in result.studies)
    print(
        f"{len(result.variants)} variants, {result.n_comparisons} human judgments "
        f"from {len(result.studies)} studies ({names})"
    )
    if result.table is None:
        print(f"no ratings: {result.problem}")
        return 3
    print(f"{'variant':<32} {'rating':>7}  {'95% interval':<17} {'n':>6}")
    for row in result.table.itertuples(index=False):
        interval = "–" if row.ci_low != row.ci_low else f"{row.ci_low:7.1f} – {row.ci_high:7.1f}"
        print(f"{row.variant:<32} {row.rating:7.1f}  {interval:<17} {row.n:>6}")
    print(
        "rating: 1000 on average; +100 means winning 64% of comparisons against a variant "
        f"rated 100 lower. Intervals: {result.n_boot} bootstrap resamples"
        + (f" ({result.n_boot_failed} without a finite fit)" if result.n_boot_failed else "")
    )
    return 0
