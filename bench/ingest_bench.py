"""Ingest throughput benchmark: swapcheck's ingest versus DuckDB's raw readers on the same file.

Generates a synthetic prompt log (default 100 000 rows) as JSONL, CSV and Parquet: an ``id``,
a ``prompt`` of 200-800 characters, a logged ``response``, four slice columns (``feature``,
``locale``, ``tier``, ``channel``) and, in JSONL and CSV, about 0.1% unusable rows (malformed
JSON / stray quotes / too many values / empty prompts / invalid UTF-8). For each format it then
measures, each in a fresh child process so that peak memory is per measurement:

* ``raw count``  - DuckDB alone: ``SELECT count(*) FROM read_json/read_csv/read_parquet(...)``;
* ``raw full``   - DuckDB alone, touching every column of every row (``count(*)`` on Parquet is
  answered from the footer metadata, so it says nothing about decoding cost);
* ``parse_log``  - ``swapcheck.ingest.parse_log`` (read + validate + hash, no database);
* ``ingest``     - ``swapcheck.pipeline.ingest_file`` into a fresh DuckDB file (parse + store);
* ``re-ingest``  - ``ingest_file`` of the same file again (nothing is added: file-hash hit).

Peak RSS is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the child at the end of the
measurement (the process-wide high-water mark, including the ~150 MB of imported libraries,
which is printed separately as ``baseline``). The figure to watch is ``ingest / raw count``:
how many times slower swapcheck's ingest is than DuckDB reading the same file.

    /work/venv/bin/python bench/ingest_bench.py             # 100 000 rows, ~40-60 s
    /work/venv/bin/python bench/ingest_bench.py --rows 20000 --formats jsonl
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _table import print_table  # bench/ is on sys.path when run as a script

FORMATS = ("jsonl", "csv", "parquet")
FEATURES = ("billing", "shipping", "returns", "account", "tech_support", "sales", "onboarding")
LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "ja-JP", "pt-BR")
TIERS = ("free", "pro", "enterprise")
CHANNELS = ("web", "email", "chat", "api")
# fmt: off
WORDS = (
    "order", "invoice", "refund", "account", "password", "delivery", "package", "customer",
    "subscription", "plan", "upgrade", "cancel", "payment", "card", "charge", "address",
    "shipping", "tracking", "number", "support", "agent", "issue", "problem", "question",
    "help", "please", "thanks", "urgent", "again", "still", "since", "yesterday", "week",
    "month", "error", "message", "login", "settings", "email", "phone", "notification",
    "export", "report", "dashboard", "integration", "api", "key", "team",
)
# fmt: on


# --- data generation ------------------------------------------------------------------------


class _TextSource:
    """Random windows of one long word stream: realistic-looking, unique and fast to make."""

    def __init__(self, rng: random.Random, words: int = 600_000) -> None:
        self.rng = rng
        self.stream = " ".join(rng.choices(WORDS, k=words))

    def text(self, lo: int, hi: int, tag: str) -> str:
        length = self.rng.randint(lo, hi) - len(tag) - 2
        start = self.rng.randrange(0, len(self.stream) - length)
        body = self.stream[start : start + length].strip()
        # Realistic punctuation: quotes and commas, and the odd newline that CSV must quote.
        roll = self.rng.random()
        if roll < 0.2:
            body = body.replace(" again ", ', "again", ', 1)
        elif roll < 0.25:
            body = body.replace(" please ", "\nplease ", 1)
        return f"{body.capitalize()} ({tag})?"


def make_records(rows: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    source = _TextSource(rng)
    return [
        {
            "id": f"req-{i:08d}",
            "prompt": source.text(200, 800, f"ticket {i}"),
            "response": source.text(100, 600, f"ref {i}"),
            "feature": rng.choice(FEATURES),
            "locale": rng.choice(LOCALES),
            "tier": rng.choice(TIERS),
            "channel": rng.choice(CHANNELS),
        }
        for i in range(rows)
    ]


def _bad_positions(rows: int, rate: float, seed: int) -> set[int]:
    rng = random.Random(seed + 1)
    return set(rng.sample(range(rows), max(1, round(rows * rate)) if rows else 0))


def write_jsonl(path: Path, records: list[dict[str, Any]], bad: set[int]) -> None:
    with path.open("wb") as out:
        for i, rec in enumerate(records):
            line = json.dumps(rec, ensure_ascii=False).encode()
            if i in bad:
                kind = i % 4
                if kind == 0:
                    line = line[: len(line) // 2]  # truncated JSON
                elif kind == 1:
                    line = json.dumps({**rec, "prompt": "  "}).encode()  # empty prompt
                elif kind == 2:
                    line = line[:30] + b"\xff" + line[30:]  # invalid UTF-8 byte
                else:
                    line = b'["not", "an", "object"]'
            out.write(line + b"\n")


def write_csv(path: Path, records: list[dict[str, Any]], bad: set[int]) -> None:
    columns = list(records[0])
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for i, rec in enumerate(records):
            if i in bad:
                kind = i % 3
                if kind == 0:  # too many values
                    out.write(",".join(["x"] * (len(columns) + 2)) + "\r\n")
                    continue
                if kind == 1:  # empty prompt (readable row, rejected by swapcheck)
                    rec = {**rec, "prompt": ""}
                else:  # fewer values than the header
                    out.write(",".join(["y"] * (len(columns) - 3)) + "\r\n")
                    continue
            writer.writerow([rec[c] for c in columns])


def write_parquet(path: Path, records: list[dict[str, Any]]) -> None:
    import pandas as pd

    pd.DataFrame.from_records(records).to_parquet(path, index=False)


def make_files(directory: Path, rows: int, seed: int, formats: list[str]) -> dict[str, Path]:
    records = make_records(rows, seed)
    bad = _bad_positions(rows, 0.001, seed)
    paths: dict[str, Path] = {}
    for fmt in formats:
        path = directory / f"bench-{rows}.{fmt}"
        if fmt == "jsonl":
            write_jsonl(path, records, bad)
        elif fmt == "csv":
            write_csv(path, records, bad)
        else:
            write_parquet(path, records)
        paths[fmt] = path
    return paths


# --- measurements (run in a child process) --------------------------------------------------

RAW_COUNT_SQL = {
    "jsonl": "SELECT count(*) FROM read_json(?, format = 'newline_delimited', "
    "ignore_errors = true)",
    "csv": "SELECT count(*) FROM read_csv(?, header = true, all_varchar = true, "
    "ignore_errors = true)",
    "parquet": "SELECT count(*) FROM read_parquet(?)",
}
# Cast each whole row (a struct of all columns) to text: forces every column to be decoded.
RAW_FULL_SQL = {
    "jsonl": "SELECT count(*), sum(length(CAST(t AS VARCHAR))) FROM read_json(?, "
    "format = 'newline_delimited', ignore_errors = true) t",
    "csv": "SELECT count(*), sum(length(CAST(t AS VARCHAR))) FROM read_csv(?, header = true, "
    "all_varchar = true, ignore_errors = true) t",
    "parquet": "SELECT count(*), sum(length(CAST(t AS VARCHAR))) FROM read_parquet(?) t",
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def child_raw(path: Path, fmt: str, repeat: int) -> dict[str, Any]:
    import duckdb

    out: dict[str, Any] = {"baseline_mb": _peak_mb()}
    con = duckdb.connect()
    for name, sql in (("raw_count", RAW_COUNT_SQL[fmt]), ("raw_full", RAW_FULL_SQL[fmt])):
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            rows = con.execute(sql, [str(path)]).fetchall()
            best = min(best, time.perf_counter() - started)
        out[name + "_s"] = best
        out[name + "_rows"] = int(rows[0][0])
    con.close()
    out["peak_mb"] = _peak_mb()
    return out


def child_ingest(path: Path, db: Path) -> dict[str, Any]:
    """Time ``pipeline.ingest_file``; its ``parse_log`` call is timed through a wrapper."""
    import swapcheck.pipeline as pipeline
    from swapcheck.store import Store

    parse_stats: dict[str, Any] = {}
    real_parse_log = pipeline.parse_log

    def timed_parse_log(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        parsed = real_parse_log(*args, **kwargs)
        parse_stats["parse_s"] = time.perf_counter() - started
        parse_stats["parse_peak_mb"] = _peak_mb()
        parse_stats["rows_total"] = parsed.rows_total
        parse_stats["prompts"] = len(parsed.prompts)
        parse_stats["rejected"] = len(parsed.rejects)
        return parsed

    pipeline.parse_log = timed_parse_log  # type: ignore[assignment]
    store = Store(db, linger=0)  # like the CLI: release the file after each unit of work
    baseline = _peak_mb()
    started = time.perf_counter()
    report = pipeline.ingest_file(store, path)
    elapsed = time.perf_counter() - started
    first = dict(parse_stats)
    peak = _peak_mb()
    started = time.perf_counter()
    again = pipeline.ingest_file(store, path)
    reingest = time.perf_counter() - started
    store.close()
    return {
        **first,
        "baseline_mb": baseline,
        "ingest_s": elapsed,
        "peak_mb": peak,
        "reingest_s": reingest,
        "reingest_parse_s": parse_stats["parse_s"],
        "rows_ingested": report.rows_ingested,
        "rows_rejected": report.rows_rejected,
        "logged": report.logged_responses,
        "reingest_noop": again.already_ingested and again.rows_ingested == 0,
        "db_mb": db.stat().st_size / 1e6,
    }


def run_child(*args: str) -> dict[str, Any]:
    options = [a for a in args if a.startswith("--")]
    positional = [a for a in args if not a.startswith("--")]
    cmd = [sys.executable, os.path.abspath(__file__), *options, "--child", *positional]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- report ---------------------------------------------------------------------------------


def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}" if seconds > 0 else "inf"


def report(results: dict[str, dict[str, Any]], paths: dict[str, Path]) -> None:
    rows = []
    for fmt, res in results.items():
        raw, ing = res["raw"], res["ingest"]
        n = ing["rows_total"]
        rows.append(
            [
                fmt,
                f"{n:,}",
                f"{raw['raw_count_s']:.3f}",
                f"{raw['raw_full_s']:.3f}",
                f"{ing['parse_s']:.2f}",
                f"{ing['ingest_s']:.2f}",
                f"{ing['reingest_s']:.2f}",
                _rate(n, raw["raw_full_s"]),
                _rate(n, ing["parse_s"]),
                _rate(n, ing["ingest_s"]),
            ]
        )
    print_table(
        "Time (seconds) and throughput (rows/s; rows = data lines/records in the file)",
        [
            "format",
            "rows",
            "raw count",
            "raw full",
            "parse_log",
            "ingest_file",
            "re-ingest",
            "raw full rows/s",
            "parse rows/s",
            "ingest rows/s",
        ],
        rows,
    )

    rows = []
    for fmt, res in results.items():
        raw, ing = res["raw"], res["ingest"]
        rows.append(
            [
                fmt,
                f"{ing['ingest_s'] / raw['raw_count_s']:,.0f}x",
                f"{ing['ingest_s'] / raw['raw_full_s']:,.0f}x",
                f"{ing['parse_s'] / ing['ingest_s']:.0%}",
                f"{ing['reingest_s'] / ing['ingest_s']:.0%}",
                f"{ing['reingest_parse_s'] / ing['reingest_s']:.0%}",
            ]
        )
    print_table(
        "Ratios - the figure to watch is 'ingest / raw count' (swapcheck ingest time / raw DuckDB "
        "scan time)",
        [
            "format",
            "ingest / raw count",
            "ingest / raw full",
            "parse share of ingest",
            "re-ingest / ingest",
            "parse share of re-ingest",
        ],
        rows,
    )

    rows = []
    for fmt, res in results.items():
        raw, ing = res["raw"], res["ingest"]
        size = paths[fmt].stat().st_size / 1e6
        rows.append(
            [
                fmt,
                f"{size:.0f}",
                f"{raw['baseline_mb']:.0f}",
                f"{raw['peak_mb']:.0f}",
                f"{ing['baseline_mb']:.0f}",
                f"{ing['parse_peak_mb']:.0f}",
                f"{ing['peak_mb']:.0f}",
                f"{(ing['peak_mb'] - ing['baseline_mb']) / size:.1f}x",
                f"{ing['db_mb']:.0f}",
            ]
        )
    print_table(
        "Peak RSS in MB (resource.getrusage(RUSAGE_SELF).ru_maxrss of a fresh process per "
        "column pair)",
        [
            "format",
            "file MB",
            "python+duckdb",
            "raw scans",
            "swapcheck imported",
            "after parse_log",
            "after ingest_file",
            "ingest growth / file size",
            "db MB",
        ],
        rows,
    )

    print("\nCounts")
    for fmt, res in results.items():
        raw, ing = res["raw"], res["ingest"]
        print(
            f"  {fmt:8s} rows={ing['rows_total']:,} prompts={ing['prompts']:,} "
            f"rejected={ing['rejected']:,} ingested={ing['rows_ingested']:,} "
            f"logged={ing['logged']:,} raw count(*)={raw['raw_count_rows']:,} "
            f"re-ingest added nothing={ing['reingest_noop']}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=100_000, help="rows per file (100000)")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--seed", type=int, default=7, help="data generator seed (7)")
    parser.add_argument("--repeat", type=int, default=3, help="raw DuckDB scans: best of N (3)")
    parser.add_argument("--keep", metavar="DIR", help="write the files and databases here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, path, extra = args.child[0], Path(args.child[1]), args.child[2]
        if kind == "generate":
            formats = extra.split(",")
            made = make_files(path, args.rows, args.seed, formats)
            result = {fmt: str(p) for fmt, p in made.items()}
        elif kind == "raw":
            result = child_raw(path, extra, args.repeat)
        else:
            result = child_ingest(path, Path(extra))
        print(json.dumps(result))
        return 0

    with tempfile.TemporaryDirectory(prefix="swapcheck-bench-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        # In a child: this process must stay small, because a child started with fork/exec
        # inherits its parent's ru_maxrss high-water mark.
        made = run_child(
            "generate",
            str(work),
            ",".join(args.formats),
            f"--rows={args.rows}",
            f"--seed={args.seed}",
        )
        paths = {fmt: Path(p) for fmt, p in made.items()}
        print(f"generated {args.rows:,} rows per file in {time.perf_counter() - started:.1f}s")
        for fmt, path in paths.items():
            print(f"  {fmt:8s} {path.stat().st_size / 1e6:7.1f} MB  {path}")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs", flush=True)

        results: dict[str, dict[str, Any]] = {}
        for fmt, path in paths.items():
            db = work / f"bench-{fmt}.duckdb"
            for stale in (db, db.with_name(db.name + ".wal")):
                stale.unlink(missing_ok=True)
            started = time.perf_counter()
            raw = run_child("raw", str(path), fmt, f"--repeat={args.repeat}")
            ingest = run_child("ingest", str(path), str(db))
            results[fmt] = {"raw": raw, "ingest": ingest}
            print(f"  {fmt}: measured in {time.perf_counter() - started:.1f}s", flush=True)
        report(results, paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
