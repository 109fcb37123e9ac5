"""``swapcheck generate`` and ``swapcheck runs``: estimate, budget, live or Batch API runs, and
listing or stopping runs of any process (the app's included)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any


def _store(args: argparse.Namespace) -> Any:
    from swapcheck.cli import _store as command_store

    return command_store(args)


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "generate",
        parents=[common],
        help="answer a study's missing prompts (resumable; prints a cost estimate first)",
    )
    p.add_argument("--study", required=True)
    p.add_argument("--variant", action="append", default=[], help="only this variant (repeatable)")
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight per variant")
    p.add_argument("--max-retries", type=int, default=5)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    p.add_argument(
        "--budget", type=float, help="hard cap in US$ for this command; stops cleanly when reached"
    )
    p.add_argument(
        "--estimate", action="store_true", help="print the cost estimate and send nothing"
    )
    p.add_argument(
        "--batch-api",
        action="store_true",
        help="use the provider's Batch API (OpenAI, Anthropic): half price, answers within 24 h",
    )
    p.add_argument("--poll-interval", type=float, default=30.0, help="Batch API: seconds")
    p.add_argument(
        "--max-wait",
        type=float,
        help="Batch API: stop waiting after this many seconds (batches stay open; run the "
        "command again to collect them)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable summary on stdout")
    p.set_defaults(func=cmd_generate)

    runs = sub.add_parser("runs", help="generation runs of every process").add_subparsers(
        dest="runs_command", required=True
    )
    p = runs.add_parser("list", parents=[common], help="newest first")
    p.add_argument("--study")
    p.add_argument("--active", action="store_true", help="only runs still going")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_runs_list)
    p = runs.add_parser("stop", parents=[common], help="ask a run (in any process) to stop")
    p.add_argument("run_id")
    p.set_defaults(func=cmd_runs_stop)


def _print_estimates(plans: dict[str, Any], budget: float | None) -> None:
    for name, plan in plans.items():
        est = plan.estimate
        upper = "" if est.cost_max is None else f", at most ${est.cost_max:.4f}"
        waiting = (
            f" ({plan.in_open_batches} more wait in open Batch API batches)"
            if plan.in_open_batches
            else ""
        )
        print(
            f"  {name}: {est.jobs} requests, ~{est.input_tokens:,} input + "
            f"~{est.output_tokens_typical:,} output tokens ({est.method}), "
            f"~${est.cost_typical:.4f}{upper}{waiting}",
            file=sys.stderr,
        )
    if budget is not None:
        print(f"  budget: ${budget:.2f} (hard cap)", file=sys.stderr)


def cmd_generate(args: argparse.Namespace) -> int:
    from swapcheck.generate import GenerationSettings
    from swapcheck.pipeline import generate_study, plan_study_generation
    from swapcheck.store.studies import get_study

    store = _store(args)
    study = get_study(store, args.study)
    plans = plan_study_generation(store, study, args.variant or None)
    print("estimate:", file=sys.stderr)
    _print_estimates(plans, args.budget)
    if args.estimate:
        if args.json:
            print(
                json.dumps(
                    {
                        k: {**asdict(p.estimate), "in_open_batches": p.in_open_batches}
                        for k, p in plans.items()
                    },
                    indent=2,
                )
            )
        return 0
    if args.batch_api:
        from swapcheck.pipeline import generate_study_batch

        batch = generate_study_batch(
            store,
            study,
            variants=args.variant or None,
            poll_interval_s=args.poll_interval,
            max_wait_s=args.max_wait,
        )
        print(batch.summary())
        return 0 if batch.complete else 4
    settings = GenerationSettings(
        concurrency=args.concurrency,
        max_retries=args.max_retries,
        timeout_s=args.timeout,
        budget=args.budget,
    )
    last: dict[str, int] = {}

    def progress(name: str, done: int, total: int) -> None:
        step = max(1, total // 20)
        if done == total or done - last.get(name, 0) >= step:
            last[name] = done
            print(f"  {name}: {done}/{total}", file=sys.stderr, flush=True)

    report = generate_study(
        store, study, variants=args.variant or None, settings=settings, progress=progress
    )
    if args.json:
        print(
            json.dumps(
                {
                    "runs": report.run_ids,
                    "recovered": report.recovered,
                    "reports": {k: asdict(v) for k, v in report.reports.items()},
                    "skipped": report.skipped,
                    "in_open_batches": report.in_open_batches,
                    "status": report.status,
                },
                indent=2,
            )
        )
    else:
        print(report.summary())
    failed = sum(r.failed for r in report.reports.values())
    unfinished = any(r.cancelled or r.budget_exhausted for r in report.reports.values())
    unfinished = unfinished or any(report.in_open_batches.values())  # answers still to come
    return 4 if failed or unfinished else 0


def cmd_runs_list(args: argparse.Namespace) -> int:
    from swapcheck.store.runs import list_runs
    from swapcheck.store.studies import get_study

    store = _store(args)
    study_id = get_study(store, args.study).study_id if args.study else None
    runs = list_runs(store, study_id=study_id, active_only=args.active)
    if args.json:
        print(json.dumps([asdict(r) for r in runs], indent=2, default=str))
        return 0
    for r in runs:
        print(
            f"{r.run_id}  {r.status:<15} {r.variant:<20} {r.done}/{r.total}  "
            f"failed {r.failed}  ${r.cost:.4f}  {r.origin}  {r.started_at:%Y-%m-%d %H:%M}"
        )
    if not runs:
        print("no runs")
    return 0


def cmd_runs_stop(args: argparse.Namespace) -> int:
    from swapcheck.errors import NotFoundError
    from swapcheck.store.runs import get_run, request_stop

    store = _store(args)
    if get_run(store, args.run_id) is None:
        raise NotFoundError(
            f"No run {args.run_id!r}.", "List runs with: swapcheck runs list --active"
        )
    if request_stop(store, args.run_id):
        print(f"{args.run_id}: stop requested; requests in flight finish and are saved")
        return 0
    print(f"{args.run_id} is not running")
    return 0
