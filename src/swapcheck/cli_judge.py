"""`swapcheck judge`: judge a study's pairs with an LLM, and check the judge against humans."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from swapcheck.errors import ConfigError


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "judge",
        parents=[common],
        help="judge pairs with an LLM in both orders (see docs/JUDGE.md)",
        description="Without a subcommand: judge the study's pairs not yet judged.",
    )
    p.add_argument("--study", help="study name or id")
    p.add_argument("--variant", help="judge variant (stored as the study's judge)")
    p.add_argument(
        "--rubric-file", type=Path, help="text file with the rubric (stored; bumps its version)"
    )
    p.add_argument("--limit", type=int, help="judge at most this many pairs")
    p.add_argument("--budget", type=float, help="stop before spending more than this (US$)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run_judge)
    actions = p.add_subparsers(dest="judge_command", required=False)

    a = actions.add_parser(
        "agreement", parents=[common], help="judge vs human agreement, kappa and win-rate gap"
    )
    a.add_argument("--study", default=argparse.SUPPRESS, help="study name or id")
    a.add_argument("--by", help="slice column")
    a.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    a.set_defaults(func=run_agreement)

    v = actions.add_parser(
        "in-verdict",
        parents=[common],
        help="let judge verdicts fill missing human ones in proven slices (admins)",
    )
    v.add_argument("--study", default=argparse.SUPPRESS, help="study name or id")
    v.add_argument("--column", help="slice column")
    v.add_argument("--value", action="append", default=[], help="slice value (repeatable)")
    v.add_argument("--off", action="store_true", help="judge verdicts never enter the verdict")
    v.set_defaults(func=run_in_verdict)


def _study(args: argparse.Namespace) -> Any:
    from swapcheck.cli import _store
    from swapcheck.store.studies import get_study

    if not getattr(args, "study", None):
        raise ConfigError("No study given.", "Pass --study NAME (swapcheck study list).")
    return get_study(_store(args), args.study)


def run_judge(args: argparse.Namespace) -> int:
    from swapcheck.cli import _store
    from swapcheck.judge import configure_judge, judge_study

    store, study = _store(args), _study(args)
    rubric = None
    if args.rubric_file is not None:
        try:
            rubric = args.rubric_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"Cannot read the rubric file {str(args.rubric_file)!r}: {exc.strerror}.",
                "Pass a readable UTF-8 text file to --rubric-file.",
            ) from exc
    if args.variant is not None or rubric is not None:
        configure_judge(store, study, variant=args.variant, rubric=rubric)
    report = judge_study(store, study, limit=args.limit, budget=args.budget)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(report.summary())
    return 0


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def run_agreement(args: argparse.Namespace) -> int:
    from swapcheck.cli import _store
    from swapcheck.judge import judge_agreement

    table = judge_agreement(_store(args), _study(args), by=args.by)
    if getattr(args, "json", False):
        rows = [{k: _plain(v) for k, v in row.items()} for row in table.to_dict("records")]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


def run_in_verdict(args: argparse.Namespace) -> int:
    from swapcheck.cli import _store
    from swapcheck.judge import set_judge_in_verdict

    if args.off:
        set_judge_in_verdict(_store(args), _study(args), None)
        print("judge verdicts no longer enter the sign-off verdict")
        return 0
    if not args.column or not args.value:
        raise ConfigError(
            "Name the slice column and at least one value.",
            "Pass --column COLUMN --value VALUE (or --off).",
        )
    config = set_judge_in_verdict(_store(args), _study(args), args.column, args.value)
    assert config.in_verdict is not None
    print(
        f"judge verdicts fill missing human ones for {config.in_verdict.column} = "
        f"{', '.join(config.in_verdict.values)}"
    )
    return 0
