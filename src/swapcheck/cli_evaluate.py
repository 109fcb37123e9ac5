"""`swapcheck evaluate` and `swapcheck evaluators list|config`: run and configure evaluators."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "evaluate",
        parents=[common],
        help="score a study's answers and pairs with its evaluators; see docs/EVALUATORS.md",
    )
    p.add_argument("--study", required=True, help="study name or id")
    p.add_argument(
        "--only",
        nargs="+",
        action="extend",
        metavar="INSTANCE",
        help="run only these evaluator instances",
    )
    p.add_argument(
        "--rerun", action="store_true", help="score again even where current scores exist"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run_evaluate)

    evaluators = sub.add_parser("evaluators", help="list and configure evaluators").add_subparsers(
        dest="evaluators_command", required=True
    )
    p = evaluators.add_parser(
        "list", parents=[common], help="registered evaluators (and a study's instances)"
    )
    p.add_argument("--study", help="also show this study's effective instances")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_list)

    p = evaluators.add_parser(
        "config", parents=[common], help="validate and save a study's evaluator instances"
    )
    p.add_argument("--study", required=True, help="study name or id")
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--file", help="configuration file (.toml or .json)")
    action.add_argument("--show", action="store_true", help="print the saved configuration")
    p.set_defaults(func=run_config)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def run_evaluate(args: argparse.Namespace) -> int:
    from swapcheck.cli import _store
    from swapcheck.evaluate import evaluate_study
    from swapcheck.store.studies import get_study

    store = _store(args)
    report = evaluate_study(store, get_study(store, args.study), only=args.only, rerun=args.rerun)
    if args.json:
        _print_json(report.to_dict())
        return 0
    print(report.summary())
    for outcome in report.outcomes.values():
        print(
            f"  {outcome.name:<24} {outcome.scope:<8} scored {outcome.scored}, "
            f"n/a {outcome.not_applicable}, up to date {outcome.up_to_date}, "
            f"failed {outcome.failed}"
        )
        if outcome.first_error:
            print(f"  {outcome.name}: first error: {outcome.first_error}", file=sys.stderr)
    return 0


def evaluator_rows() -> list[dict[str, Any]]:
    """Every registered evaluator with what it scores and how to configure it."""
    from swapcheck.evaluation_config import extra_installed
    from swapcheck.evaluators import load_builtin

    return [
        {
            "name": ev.name,
            "version": ev.version,
            "scope": ev.scope,
            "kind": ev.kind,
            "higher_is": ev.higher_is,
            "needs_options": ev.needs_options,
            "extra": ev.extra,
            "installed": ev.extra is None or extra_installed(ev.extra),
            "description": ev.description,
            "options_doc": ev.options_doc,
        }
        for ev in sorted(load_builtin().values(), key=lambda e: e.name)
    ]


def run_list(args: argparse.Namespace) -> int:
    rows = evaluator_rows()
    instances: list[dict[str, Any]] | None = None
    if args.study:
        from swapcheck.cli import _store
        from swapcheck.evaluation_config import study_instances
        from swapcheck.store.studies import get_study

        store = _store(args)
        effective = study_instances(store, get_study(store, args.study))
        instances = [{**i.to_dict(), "config_hash": i.config_hash} for i in effective]
    if args.json:
        _print_json({"evaluators": rows, "instances": instances} if args.study else rows)
        return 0
    for row in rows:
        notes = [row["scope"], row["kind"], f"higher is {row['higher_is']}", f"v{row['version']}"]
        if row["needs_options"]:
            notes.append("needs options")
        if row["extra"]:
            state = "installed" if row["installed"] else "not installed"
            notes.append(f"extra {row['extra']} ({state})")
        print(f"{row['name']}: {row['description']} [{', '.join(notes)}]")
        if row["options_doc"]:
            print(f"    options: {row['options_doc']}")
    if instances is not None:
        print(f"\nEffective instances of {args.study}:")
        for inst in instances:
            options = json.dumps(inst["options"], ensure_ascii=False) if inst["options"] else ""
            print(f"  {inst['name']} = {inst['evaluator']} {options}".rstrip())
    return 0


def run_config(args: argparse.Namespace) -> int:
    from swapcheck.cli import _store
    from swapcheck.evaluation_config import read_config_file, set_study_instances, stored_config
    from swapcheck.store.studies import get_study

    store = _store(args)
    study = get_study(store, args.study)
    if args.show:
        _print_json(stored_config(store, study))
        return 0
    config = read_config_file(args.file)
    effective = set_study_instances(store, study, config["instances"], config["disabled"])
    print(
        f"saved {len(config['instances'])} instance(s), {len(config['disabled'])} disabled; "
        f"{study.name} now runs: {', '.join(i.name for i in effective) or 'nothing'}"
    )
    print(f"score them: swapcheck evaluate --study {study.name!r}")
    return 0
