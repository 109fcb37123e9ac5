"""The ``swapcheck`` command: the same operations as the app, for scripts and CI."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from swapcheck.errors import ConfigError, SwapcheckError

if TYPE_CHECKING:
    from swapcheck.store import Store


def _parse_param(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(
            f"--param {text!r} is not KEY=VALUE.", "Write e.g. --param temperature=0.2"
        )
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), value


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def _store(args: argparse.Namespace) -> Store:
    """The command's store: held across back-to-back queries, let go after 0.2 s idle (so a
    serving app gets its turn while this command waits on the network); closed on exit."""
    if getattr(args, "_store", None) is None:
        from swapcheck.store import open_store

        args._store = open_store(getattr(args, "db", None), linger=0.2)
    return args._store


def cmd_ingest(args: argparse.Namespace) -> int:
    from swapcheck import cli_ingest

    return cli_ingest.run(args, _store(args))


def cmd_sources(args: argparse.Namespace) -> int:
    from swapcheck.store.sources import list_sources

    frame = list_sources(_store(args))
    if args.json:
        _print_json(frame.to_dict("records"))
    else:
        print(
            frame.drop(columns=["mapping"]).to_string(index=False) if len(frame) else "no sources"
        )
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    from swapcheck.report import to_safe_csv
    from swapcheck.store.sources import quarantine_frame, resolve_source_ids

    store = _store(args)
    source_id = resolve_source_ids(store, [args.source])[0] if args.source else None
    frame = quarantine_frame(store, source_id)
    sys.stdout.buffer.write(to_safe_csv(frame))
    return 0


def _study_sampling(args: argparse.Namespace) -> tuple[Any, Any]:
    """The prompt filter and sample plan of ``study create`` (None, None when not asked for)."""
    from swapcheck.sampling import PromptFilter, SamplePlan, parse_time_bound, parse_where

    if not (args.where or args.logged_from or args.logged_to or args.search):
        flt = None
    else:
        flt = PromptFilter(
            slice_values=parse_where(args.where),
            logged_from=parse_time_bound(args.logged_from) if args.logged_from else None,
            logged_to=parse_time_bound(args.logged_to, end=True) if args.logged_to else None,
            text_search=args.search or "",
        )
    if args.sample is None and not args.stratify:
        plan = None
    else:
        plan = SamplePlan(
            size=args.sample,
            strata=tuple(args.stratify),
            min_per_stratum=args.min_per_stratum,
            seed=args.seed,
        )
    return flt, plan


def _print_allocation(population: dict[str, Any]) -> None:
    print(
        f"population: {population['population_size']} prompts "
        f"({population['population_log_rows']} log rows); sample: {population['sample_size']} "
        f"(seed {population['plan']['seed']})"
    )
    strata = population["strata"]
    width = max([len("stratum"), *(len(s["stratum"]) for s in strata)]) + 2
    print(f"{'stratum':<{width}}{'population':>11}{'sample':>8}{'inclusion p':>13}")
    for s in strata:
        p = s["sample"] / s["population"]
        print(f"{s['stratum']:<{width}}{s['population']:>11}{s['sample']:>8}{p:>13.4f}")


def cmd_study_create(args: argparse.Namespace) -> int:
    from swapcheck.store.studies import create_study

    prompt_filter, sample = _study_sampling(args)
    study = create_study(
        _store(args),
        args.name,
        baseline=args.baseline,
        candidate=args.candidate,
        sources=args.source,
        slice_columns=args.slice or None,
        overlap=args.overlap,
        margin=args.margin,
        prompt_filter=prompt_filter,
        sample=sample,
    )
    print(
        f"study {study.name} ({study.study_id}): {study.baseline_variant} vs "
        f"{study.candidate_variant}, slices: {', '.join(study.slice_columns) or 'none'}"
    )
    if study.population is not None:
        _print_allocation(study.population)
    return 0


def cmd_study_list(args: argparse.Namespace) -> int:
    from swapcheck.store.judgments import review_progress
    from swapcheck.store.studies import list_studies

    store = _store(args)
    rows = []
    for s in list_studies(store):
        progress = review_progress(store, s)
        rows.append(
            {
                "name": s.name,
                "baseline": s.baseline_variant,
                "candidate": s.candidate_variant,
                "slices": list(s.slice_columns),
                "overlap": s.overlap,
                **progress,
            }
        )
    if args.json:
        _print_json(rows)
    else:
        for r in rows:
            print(
                f"{r['name']}: {r['baseline']} vs {r['candidate']}; {r['pairs_ready']}/"
                f"{r['pairs_total']} pairs ready, {r['judgments_given']} judgments"
            )
    return 0


def _print_agreement(store: Store, study: Any, as_json: bool) -> int:
    from swapcheck.pipeline import study_agreement

    result = study_agreement(store, study)
    if as_json:
        _print_json(result)
        return 0

    def share(block: dict[str, Any]) -> str:
        value = block["agreement"]
        figure = "n/a" if value is None else f"{value:.3f}"
        return f"{figure} ({block['n_comparisons']} vote pairs on {block['n_items']} pairs)"

    fleiss = result["fleiss"]
    kappa = "n/a" if fleiss["kappa"] is None else f"{fleiss['kappa']:.3f}"
    print(f"{study.name}: {result['n_judgments']} judgments by {result['n_reviewers']} reviewers")
    print(f"  agreement, ties included: {share(result['with_ties'])}")
    print(f"  agreement, decisive votes only: {share(result['without_ties'])}")
    print(
        f"  Fleiss' kappa: {kappa} ({fleiss['n_items']} pairs with {fleiss['n_raters']} votes; "
        f"{fleiss['n_dropped']} pairs with another vote count left out)"
    )
    for c in result["cohen"]:
        value = "n/a" if c["kappa"] is None else f"{c['kappa']:.3f}"
        print(f"  Cohen's kappa {c['reviewer_a']} / {c['reviewer_b']}: {value} "
              f"({c['shared_pairs']} shared pairs)")  # fmt: skip
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from swapcheck.pipeline import study_results
    from swapcheck.store.studies import get_study

    store = _store(args)
    study = get_study(store, args.study)
    if args.agreement:
        return _print_agreement(store, study, args.json)
    result = study_results(
        store, study, by=args.by or None, min_n=args.min_n, majority=args.majority
    )
    if args.json:
        _print_json(result)
        return 0
    o = result["overall"]
    print(f"{study.name}: candidate {study.candidate_variant} vs baseline {study.baseline_variant}")
    if not o or not o.get("n"):
        print("no judgments yet")
        return 0
    print(f"{'slice':<28}{'n':>6}{'win':>8}{'95% CI':>17}{'ties':>7}{'both bad':>10}  verdict")
    for row in [o, *result["slices"]]:
        label = f"{row['slice']}={row['value']}" if row["slice"] != "overall" else "overall"
        print(
            f"{label[:27]:<28}{row['n']:>6}{row['win_rate']:>8.3f}  "
            f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]{row['tie_rate']:>7.2f}"
            f"{row['both_bad_rate']:>10.2f}  {row['verdict']}{' (low n)' if row['low_n'] else ''}"
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from swapcheck.demo import is_empty, seed_demo

    store = _store(args)
    if not is_empty(store) and not args.force:
        print(f"{store.display} already holds data; pass --force to add the demo anyway.")
        return 0
    study = seed_demo(store, judge=not args.no_votes)
    print(f"demo study '{study.name}' ready in {store.display}")
    return 0


def _print_redaction(config: Any) -> None:
    from swapcheck.redaction_config import describe

    info = describe(config)
    print("built-in detectors:")
    for d in info["detectors"]:
        state = "on" if d["enabled"] else "OFF"
        note = "" if d["can_be_disabled"] else " (always on)"
        print(f"  {d['kind']:<8} {state:<4} {d['detects']}{note}")
    print("custom patterns:" if info["custom_patterns"] else "custom patterns: none")
    for p in info["custom_patterns"]:
        print(f"  {p['kind']:<24} {p['regex']}")
    print(f"providers receive: {info['provider_text']} text")


def cmd_redaction(args: argparse.Namespace) -> int:
    from swapcheck import redaction_config as rc

    store = _store(args)
    action = args.redaction_command
    if action == "show":
        config = rc.load_redaction_config(store)
        if args.json:
            _print_json(rc.describe(config))
            return 0
    elif action == "add-pattern":
        config = rc.add_pattern(store, args.kind, args.regex)
    elif action == "remove-pattern":
        config = rc.remove_pattern(store, args.kind)
    elif action == "set-provider-text":
        config = rc.set_provider_text(store, args.choice)
    elif action in ("disable", "enable"):
        current = set(rc.load_redaction_config(store).disabled_kinds)
        kind = rc.normalise_kind(args.kind)
        kinds = current | {kind} if action == "disable" else current - {kind}
        config = rc.set_disabled_kinds(store, kinds)
    elif action == "reset":
        config = rc.reset_redaction_config(store)
    else:  # test
        redactor = rc.redactor_for(store)
        text = sys.stdin.read() if args.text == "-" else args.text
        if args.json:
            findings = [
                {"kind": f.kind, "start": f.start, "end": f.end} for f in redactor.find(text)
            ]
            _print_json({"redacted": redactor.redact(text), "findings": findings})
        else:
            print(redactor.redact(text))
        return 0
    _print_redaction(config)
    return 0


def _add_redaction_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    redaction = sub.add_parser(
        "redaction", help="what reviewers and model providers see of personal data"
    ).add_subparsers(dest="redaction_command", required=True)
    p = redaction.add_parser("show", parents=[common], help="detectors, patterns and policy")
    p.add_argument("--json", action="store_true")
    p = redaction.add_parser("add-pattern", parents=[common], help="mask a regex as [KIND]")
    p.add_argument("kind", metavar="KIND", help="placeholder name, e.g. TICKET")
    p.add_argument("regex", metavar="REGEX", help=r"Python regex, e.g. 'TCK-\d{6}'")
    p = redaction.add_parser("remove-pattern", parents=[common], help="forget a custom pattern")
    p.add_argument("kind", metavar="KIND")
    p = redaction.add_parser(
        "set-provider-text",
        parents=[common],
        help="send the original (default) or the redacted prompts to model providers",
    )
    p.add_argument("choice", choices=["original", "redacted"])
    for name, verb in (("disable", "turn off"), ("enable", "turn back on")):
        p = redaction.add_parser(
            name, parents=[common], help=f"{verb} a built-in detector (PHONE or IP only)"
        )
        p.add_argument("kind", metavar="KIND")
    redaction.add_parser("reset", parents=[common], help="back to the built-in detectors only")
    p = redaction.add_parser("test", parents=[common], help="print TEXT as reviewers see it")
    p.add_argument("text", metavar="TEXT", help="text to redact ('-' reads standard input)")
    p.add_argument("--json", action="store_true", help="also list the findings (kind, span)")
    for action in redaction.choices.values():
        action.set_defaults(func=cmd_redaction)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        default=argparse.SUPPRESS,
        help="DuckDB file or postgresql:// URL (default: $SWAPCHECK_DB or data/swapcheck.duckdb)",
    )
    parser = argparse.ArgumentParser(
        prog="swapcheck", parents=[common], description="Evidence before a model cutover."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    from swapcheck import cli_ingest

    p = cli_ingest.add_parser(sub, common)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("sources", parents=[common], help="list ingested sources")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("quarantine", parents=[common], help="rejected rows as CSV")
    p.add_argument("--source")
    p.set_defaults(func=cmd_quarantine)

    from swapcheck import cli_variants

    cli_variants.add_parsers(sub, common)

    study = sub.add_parser("study", help="create and list studies").add_subparsers(
        dest="study_command", required=True
    )
    p = study.add_parser("create", parents=[common])
    p.add_argument("name")
    p.add_argument("--baseline", required=True)
    p.add_argument("--candidate", required=True)
    p.add_argument("--source", action="append", required=True)
    p.add_argument("--slice", action="append", default=[])
    p.add_argument("--overlap", type=int, default=1, help="reviewers per pair")
    p.add_argument("--margin", type=float, default=0.05, help="non-inferiority margin")
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="COLUMN=VALUE",
        help="only prompts with this slice value (repeatable; values of one column are OR-ed; "
        "'(missing)' matches prompts without a value)",
    )
    p.add_argument("--from", dest="logged_from", help="logged at or after (ISO date/time)")
    p.add_argument("--to", dest="logged_to", help="logged before; a bare date includes that day")
    p.add_argument("--search", help="only prompts containing this text (case-insensitive)")
    p.add_argument("--sample", type=int, help="sample this many prompts (default: all)")
    p.add_argument("--stratify", action="append", default=[], metavar="COLUMN", help="slice column")
    p.add_argument("--min-per-stratum", type=int, default=30)
    p.add_argument("--seed", type=int, default=0, help="sampling seed (same seed, same sample)")
    p.set_defaults(func=cmd_study_create)
    p = study.add_parser("list", parents=[common])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_study_list)

    from swapcheck import cli_runs

    cli_runs.add_parsers(sub, common)
    from swapcheck import cli_import

    cli_import.add_parsers(sub, common)
    from swapcheck import cli_report

    cli_report.add_parsers(sub, common)
    from swapcheck import cli_evaluate, cli_judge

    cli_evaluate.add_parsers(sub, common)
    cli_judge.add_parsers(sub, common)

    p = sub.add_parser("stats", parents=[common], help="win rates by slice")
    p.add_argument("--study", required=True)
    p.add_argument("--by", action="append", default=[], help="slice column (repeatable)")
    p.add_argument("--min-n", type=int, default=30)
    p.add_argument(
        "--agreement", action="store_true", help="inter-reviewer agreement instead of win rates"
    )
    p.add_argument(
        "--majority",
        action="store_true",
        help="count each pair once, by its reviewers' majority vote (a split counts as a tie)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("demo", parents=[common], help="seed the demo study")
    p.add_argument("--force", action="store_true")
    p.add_argument("--no-votes", action="store_true", help="skip the simulated reviewers")
    p.set_defaults(func=cmd_demo)

    _add_redaction_parser(sub, common)

    from swapcheck import cli_store

    cli_store.add_parsers(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except SwapcheckError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.fix:
            print(f"fix: {exc.fix}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; finished answers are stored, re-run to continue.", file=sys.stderr)
        return 130
    finally:
        store = getattr(args, "_store", None)
        if store is not None:
            store.close()


if __name__ == "__main__":
    raise SystemExit(main())
