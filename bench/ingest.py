"""Ingest benchmark: ``swapcheck ingest`` against DuckDB's bare ``read_json`` of the same file.

Builds a synthetic chat-messages log (default 1 000 000 rows of JSONL, 654 MB, 6-13 s) with DuckDB
itself (``--keep`` / ``--data-dir`` cache it across runs), then measures, each in a fresh child
process:

* ``duckdb full``   - ``CREATE TABLE t AS SELECT * FROM read_json(?)`` in an in-memory DuckDB,
  default threads: every column of every row is materialised. **This is the baseline.**
* ``duckdb count``  - ``SELECT count(*) FROM read_json(?)``: a cheaper reference only.
* ``duckdb file``   - the baseline's CREATE TABLE into a new database file (reference only: what
  writing to disk costs DuckDB itself).
* ``swapcheck ingest`` - the installed console script, ``swapcheck --db NEW.duckdb ingest FILE
  --json``, into a fresh database; its JSON counts are checked.
* ``re-ingest``     - the same command again on the same database (file-hash hit).
* start-up costs    - a child that only imports duckdb and connects, and ``swapcheck --help``
  (printed, not subtracted).

Wall time is measured around each child (start-up included on both sides); peak RSS and CPU time
are the child's own, from ``os.wait4`` (``ru_maxrss`` is KiB on Linux; MB here means MiB). The
ratio is swapcheck rows/s divided by DuckDB-full rows/s. Targets (printed, never asserted):
ratio >= 0.75 and swapcheck peak RSS <= 1.5 GiB. The last line printed is one JSON object.

    /work/venv/bin/python bench/ingest.py                 # 1 000 000 rows
    /work/venv/bin/python bench/ingest.py --rows 20000    # quick check
    /work/venv/bin/python bench/ingest.py --rows 100000 --formats jsonl csv parquet --keep
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _table import print_table  # bench/ is on sys.path when run as a script

FORMATS = ("jsonl", "csv", "parquet")
TARGET_RATIO = 0.75
TARGET_PEAK_RSS_MB = 1536.0  # 1.5 GiB
GENERATOR_VERSION = 3  # bump when the generated data changes: cached files are keyed on it
DEFAULT_BAD_RATE = 0.0001  # --bad-lines without a value: 0.01% of the lines
DEFAULT_DUP_RATE = 0.01  # exact repeats of an earlier line's messages and slices

# Slice values with a skewed distribution (weights in per mille; the last value of each is 0.5%).
FEATURES = (
    ("support_chat", 400),
    ("order_status", 250),
    ("returns", 150),
    ("billing", 100),
    ("tech_support", 60),
    ("onboarding", 35),
    ("legal_escalation", 5),
)
LOCALES = (
    ("en-US", 550),
    ("en-GB", 100),
    ("de-DE", 90),
    ("fr-FR", 80),
    ("es-ES", 70),
    ("ja-JP", 60),
    ("pt-BR", 45),
    ("fi-FI", 5),
)
TIERS = (("free", 700), ("pro", 245), ("team", 50), ("enterprise", 5))
SYSTEM_PROMPTS = {
    "support_chat": "You are Ava, the support assistant of an online shop. Be brief and kind.",
    "order_status": "You answer questions about order status. Never invent tracking numbers.",
    "returns": "You help customers return items. Follow the 30-day return policy strictly.",
    "billing": "You explain invoices and charges. Escalate disputes over 500 EUR to a human.",
    "tech_support": "You troubleshoot the mobile app and the web dashboard step by step.",
    "onboarding": "You welcome new business customers and explain the first three steps.",
    "legal_escalation": "You collect the facts of a legal complaint. Give no legal advice.",
}
# fmt: off
WORDS = (
    "order", "invoice", "refund", "account", "password", "delivery", "package", "customer",
    "subscription", "plan", "upgrade", "cancel", "payment", "card", "charge", "address",
    "shipping", "tracking", "number", "support", "agent", "issue", "problem", "question",
    "help", "please", "thanks", "urgent", "again", "still", "since", "yesterday", "week",
    "month", "error", "message", "login", "settings", "email", "phone", "notification",
    "export", "report", "dashboard", "integration", "api", "key", "team", "the", "my", "is",
    "and", "to", "it", "not", "can", "you", "why", "when", "where", "was", "I", "a", "for",
)
# fmt: on

# One row per line: ``id``, ``messages`` (system + user; ~5% user/assistant/user; ~10% with the
# user content as OpenAI text parts), ``feature``, ``locale``, ``tier`` and an ISO ``timestamp``
# over 30 days. Everything is derived from hash(i, seed, k), so a file is reproducible.
# ``{rows}`` (an int) is the only value formatted in; the others come from the one-row ``src``.
_WORDS_MACRO = """
CREATE TEMP MACRO words(s, start, n) AS
    -- a window of the word stream that starts and ends on whole words: about n - 10 characters
    regexp_replace(regexp_replace(substr(s, start, n), '^[^ ]* ', ''), ' [^ ]*$', '');
CREATE TEMP MACRO cap(x) AS upper(x[1]) || x[2:];
"""
_ROWS_SQL = """
WITH g AS (
    -- c: the row whose content line i carries. The last line of every block of dup_every lines
    -- repeats an earlier line of its block (same messages and slices; own id and timestamp).
    SELECT i, CASE WHEN dup_every > 1 AND i % dup_every = dup_every - 1
            THEN i - 1 - (hash(i, seed, 12) % (dup_every - 1))::BIGINT
            ELSE i END AS c
    FROM range({rows}) AS t(i), src
), r AS (
    SELECT i, c, src.*,
        hash(c, seed, 1) AS h1, hash(c, seed, 2) AS h2, hash(c, seed, 3) AS h3,
        hash(c, seed, 4) AS h4, hash(c, seed, 5) AS h5, hash(c, seed, 6) AS h6,
        hash(c, seed, 7) AS h7, hash(c, seed, 8) AS h8, hash(c, seed, 9) AS h9,
        1 + (hash(c, seed, 10) % 1000)::BIGINT AS fpick
    FROM g, src
), b AS (
    SELECT *, CASE
            WHEN h6 % 100 < 10 THEN replace(body0, ' again ', ', "again", ')
            WHEN h6 % 100 < 15 THEN replace(body0, ' please ', e'\\nplease ')
            ELSE body0
        END AS body1
    FROM (SELECT *, words(s, 1 + (h1 % span)::BIGINT, 110 + (h2 % 501)::BIGINT) AS body0 FROM r)
), m AS (
    SELECT *,
        cap(body1) || '? Ticket ' || (1000000 + c) || '.' AS body,  -- unique per c
        {{'role': 'system', 'content': to_json(system_by_pick[fpick])}} AS sys_msg
    FROM b
)
SELECT
    'req-' || lpad(i::VARCHAR, 8, '0') AS id,
    CASE WHEN h4 % 100 < 5 THEN [
            sys_msg,
            {{'role': 'user', 'content': to_json(
                cap(words(s, 1 + (h8 % span)::BIGINT, 50 + (h9 % 160)::BIGINT)) || '?')}},
            {{'role': 'assistant', 'content': to_json(
                'Sure, ' || words(s, 1 + (h9 % span)::BIGINT, 90 + (h8 % 320)::BIGINT) || '.')}},
            {{'role': 'user', 'content': to_json(body)}}
        ]
        ELSE [
            sys_msg,
            {{'role': 'user', 'content': CASE WHEN h3 % 100 < 10
                THEN to_json([{{'type': 'text', 'text': body}}])
                ELSE to_json(body) END}}
        ]
    END AS messages,
    feature_by_pick[fpick] AS feature,
    locale_by_pick[1 + (h5 % 1000)::BIGINT] AS locale,
    tier_by_pick[1 + (h7 % 1000)::BIGINT] AS tier,
    strftime(
        TIMESTAMP '2026-03-01 00:00:00'
            + to_milliseconds((i * 2592000000 // {rows_or_1}) + (hash(i, seed, 11) % 1000)::BIGINT),
        '%Y-%m-%dT%H:%M:%S.%gZ'
    ) AS timestamp
FROM m
"""

BASELINE_SQL = {
    "jsonl": "CREATE TABLE t AS SELECT * FROM read_json(?)",
    "csv": "CREATE TABLE t AS SELECT * FROM read_csv(?)",
    "parquet": "CREATE TABLE t AS SELECT * FROM read_parquet(?)",
}
BASELINE_SQL_IGNORE_ERRORS = "CREATE TABLE t AS SELECT * FROM read_json(?, ignore_errors = true)"
COUNT_SQL = {
    "jsonl": "SELECT count(*) FROM read_json(?)",
    "csv": "SELECT count(*) FROM read_csv(?)",
    "parquet": "SELECT count(*) FROM read_parquet(?)",
}
COUNT_SQL_IGNORE_ERRORS = "SELECT count(*) FROM read_json(?, ignore_errors = true)"


# --- data generation (runs in a child, so that this process stays small) --------------------


def _per_mille(weights: tuple[tuple[str, int], ...]) -> list[str]:
    """A 1000-entry lookup list: value v appears weight(v) times."""
    out = [value for value, weight in weights for _ in range(weight)]
    assert len(out) == 1000, weights
    return out


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def dup_every(rate: float) -> int:
    """Every how many lines one repeats an earlier one (0: never)."""
    return max(2, round(1 / rate)) if rate > 0 else 0


def generate(
    path: Path, fmt: str, rows: int, seed: int, bad_rate: float, dup_rate: float
) -> dict[str, Any]:
    import duckdb

    rng = random.Random(seed)
    stream = " ".join(rng.choices(WORDS, k=400_000))
    features = _per_mille(FEATURES)
    con = duckdb.connect()
    con.execute(
        "CREATE TEMP TABLE src AS SELECT ?::VARCHAR AS s, ?::BIGINT AS span, ?::BIGINT AS seed, "
        "?::VARCHAR[] AS feature_by_pick, ?::VARCHAR[] AS system_by_pick, "
        "?::VARCHAR[] AS locale_by_pick, ?::VARCHAR[] AS tier_by_pick, ?::BIGINT AS dup_every",
        [
            stream,
            len(stream) - 1000,
            seed,
            features,
            [SYSTEM_PROMPTS[f] for f in features],
            _per_mille(LOCALES),
            _per_mille(TIERS),
            dup_every(dup_rate),
        ],
    )
    con.execute(_WORDS_MACRO)
    query = _ROWS_SQL.format(rows=int(rows), rows_or_1=max(1, int(rows)))
    if fmt != "jsonl":  # CSV and Parquet cells hold the chat as JSON text
        cast = "CAST(to_json(messages) AS VARCHAR)"
        query = f"SELECT * REPLACE ({cast} AS messages) FROM ({query})"  # noqa: S608
    options = {"jsonl": "FORMAT JSON", "csv": "FORMAT CSV, HEADER", "parquet": "FORMAT PARQUET"}
    tmp = path.with_name(path.name + ".tmp")
    bad = 0
    # COPY takes no bound parameters: the path is quoted, the rest are constants and an int.
    con.execute(f"COPY ({query}) TO {_sql_path(tmp)} ({options[fmt]})")
    con.close()
    if fmt == "jsonl" and bad_rate > 0 and rows > 0:
        bad = _add_bad_lines(tmp, rows, seed, bad_rate)
    os.replace(tmp, path)
    return {"path": str(path), "bad_lines": bad, "duckdb": duckdb.__version__}


def _add_bad_lines(path: Path, rows: int, seed: int, rate: float) -> int:
    """Replace ~rate of the lines by unusable ones; the line count stays ``rows``."""
    positions = set(random.Random(seed + 1).sample(range(rows), max(1, round(rows * rate))))
    out_path = path.with_name(path.name + ".bad")
    with path.open("rb") as src, out_path.open("wb") as out:
        for i, line in enumerate(src):
            if i in positions:
                kind = i % 4
                if kind == 0:  # truncated JSON
                    line = line[: len(line) // 2] + b"\n"
                elif kind == 1:  # readable, but the last user message is blank
                    row = json.loads(line)
                    row["messages"][-1]["content"] = "  "
                    line = json.dumps(row).encode() + b"\n"
                elif kind == 2:  # an invalid UTF-8 byte inside the user's text
                    at = line.rfind(b'"content":') + 16
                    line = line[:at] + b"\xff" + line[at:]
                else:
                    line = b'["not", "an", "object"]\n'
            out.write(line)
    os.replace(out_path, path)
    return len(positions)


# --- DuckDB baseline (runs in a child) -------------------------------------------------------


def duckdb_child(mode: str, fmt: str, path: str, ignore_errors: bool) -> dict[str, Any]:
    import duckdb

    target = ":memory:"  # the baseline: in memory, default threads
    if mode == "file":  # reference only: the same CREATE TABLE into a new database file
        target = str(Path(tempfile.mkdtemp(prefix="swapcheck-bench-ref-")) / "ref.duckdb")
    con = duckdb.connect(target)
    started = time.perf_counter()
    if mode == "startup":
        return {"rows": 0}
    elif mode == "count":
        sql = COUNT_SQL_IGNORE_ERRORS if ignore_errors and fmt == "jsonl" else COUNT_SQL[fmt]
        rows = con.execute(sql, [path]).fetchone()[0]
    else:
        sql = BASELINE_SQL_IGNORE_ERRORS if ignore_errors and fmt == "jsonl" else BASELINE_SQL[fmt]
        con.execute(sql, [path])
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    elapsed = time.perf_counter() - started
    con.close()
    if target != ":memory:":
        for stale in Path(target).parent.iterdir():
            stale.unlink()
        Path(target).parent.rmdir()
    return {"rows": int(rows), "query_s": elapsed}


# --- child processes -------------------------------------------------------------------------


@dataclass
class Run:
    """One child process: wall time around it, and its own rusage."""

    wall_s: float
    cpu_s: float
    peak_mb: float
    stdout: str
    stderr: str
    code: int


def spawn(argv: list[str], scratch: Path) -> Run:
    """Start ``argv`` with posix_spawn, wait with ``os.wait4``: the rusage is that child's."""
    out, err = scratch / "child.out", scratch / "child.err"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(out), flags, 0o600),
        (os.POSIX_SPAWN_OPEN, 2, str(err), flags, 0o600),
    ]
    started = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    return Run(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_mb=usage.ru_maxrss / 1024.0,
        stdout=out.read_text(errors="replace"),
        stderr=err.read_text(errors="replace"),
        code=os.waitstatus_to_exitcode(status),
    )


def _check(run: Run, what: str) -> Run:
    if run.code != 0:
        raise SystemExit(f"{what} failed (exit {run.code}):\n{run.stdout}\n{run.stderr}")
    return run


def _self(*args: str) -> list[str]:
    return [sys.executable, os.path.abspath(__file__), *args]


@dataclass
class Best:
    """Best (lowest) wall time of N runs; peak RSS is the highest of the N."""

    runs: list[Run] = field(default_factory=list)
    payloads: list[Any] = field(default_factory=list)

    def add(self, run: Run, payload: Any = None) -> None:
        self.runs.append(run)
        self.payloads.append(payload)

    @property
    def best(self) -> Run:
        return min(self.runs, key=lambda r: r.wall_s)

    @property
    def payload(self) -> Any:
        return self.payloads[self.runs.index(self.best)]

    @property
    def wall_s(self) -> float:
        return self.best.wall_s

    @property
    def peak_mb(self) -> float:
        return max(r.peak_mb for r in self.runs)


def _last_json(text: str) -> Any:
    return json.loads(text.strip().splitlines()[-1])


def measure_format(fmt: str, path: Path, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    repeat = args.repeat
    bad = fmt == "jsonl" and args.bad_lines > 0
    swapcheck = str(Path(sys.executable).parent / "swapcheck")
    ignore = ["--ignore-errors"] if bad else []

    def duck(mode: str) -> list[str]:
        return _self("--child", "duckdb", mode, fmt, str(path), *ignore)

    keys = ("startup", "count", "full", "file", "ingest", "reingest")
    res: dict[str, Any] = {k: Best() for k in keys}
    res["db_mb"] = 0.0

    def step(key: str, label: str, argv: list[str]) -> Any:
        run = _check(spawn(argv, scratch), label)
        payload = json.loads(run.stdout)
        res[key].add(run, payload)
        print(
            f"  {fmt} run {r + 1}/{repeat}: {label}: {run.wall_s:.2f}s, "
            f"peak RSS {run.peak_mb:,.0f} MB",
            flush=True,
        )
        return payload

    for r in range(repeat):
        step("startup", "python + import duckdb", duck("startup"))
        step("count", "duckdb count(*)", duck("count"))
        step("full", "duckdb full read", duck("full"))
        step("file", "duckdb full read into a database file", duck("file"))
        db = scratch / f"ingest-{fmt}-{r}.duckdb"
        argv = [swapcheck, "--db", str(db), "ingest", str(path), "--json"]
        _check_counts(step("ingest", "swapcheck ingest", argv), args, fmt)
        again = step("reingest", "swapcheck re-ingest", argv)
        if not again.get("already_ingested") or again.get("rows_ingested"):
            raise SystemExit(f"re-ingest of {path} added rows: {again}")
        res["db_mb"] = sum(p.stat().st_size for p in scratch.glob(db.name + "*")) / 1e6
        for stale in scratch.glob(db.name + "*"):
            stale.unlink()
    return res


def expected_duplicates(args: argparse.Namespace) -> int:
    every = dup_every(args.duplicates)
    return args.rows // every if every else 0


def _check_counts(report: dict[str, Any], args: argparse.Namespace, fmt: str) -> None:
    rows = args.rows
    total = report["rows_total"]
    parts = report["rows_ingested"] + report["rows_duplicate"] + report["rows_rejected"]
    print(
        f"  {fmt}: rows_total={total:,} ingested={report['rows_ingested']:,} "
        f"duplicate={report['rows_duplicate']:,} rejected={report['rows_rejected']:,} "
        f"logged={report['logged_responses']:,} already_ingested={report['already_ingested']}",
        flush=True,
    )
    expected = expected_duplicates(args)
    if report["rows_duplicate"] != expected and not args.bad_lines:
        print(
            f"    (the file holds {expected:,} exact repeats of earlier lines, each with its own "
            f"id and timestamp; swapcheck counted {report['rows_duplicate']:,} duplicates)",
            flush=True,
        )
    for note in report.get("notes") or []:
        print(f"    note: {note}", flush=True)
    problems = []
    if report["already_ingested"]:
        problems.append("the first ingest reported already_ingested")
    if total != rows:
        problems.append(f"rows_total {total:,} != {rows:,} rows in the file")
    if parts != total:
        problems.append(f"ingested + duplicate + rejected = {parts:,} != rows_total {total:,}")
    if problems:
        raise SystemExit("swapcheck ingest counts are wrong: " + "; ".join(problems))


# --- report ----------------------------------------------------------------------------------


def _rate(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else float("inf")


def report(
    results: dict[str, dict[str, Any]], help_run: Best, paths: dict[str, Path], rows: int
) -> None:
    table = []
    for fmt, res in results.items():
        reader = {"jsonl": "read_json", "csv": "read_csv", "parquet": "read_parquet"}[fmt]
        lines: list[tuple[str, Best, int | None]] = [
            ("python + import duckdb (start-up, not subtracted)", res["startup"], None),
            (f"duckdb {reader} count(*) (reference only)", res["count"], rows),
            (f"duckdb {reader} -> CREATE TABLE (baseline)", res["full"], rows),
            (f"duckdb {reader} -> CREATE TABLE in a db file (reference)", res["file"], rows),
            ("swapcheck ingest", res["ingest"], rows),
            ("swapcheck re-ingest (file-hash hit)", res["reingest"], None),
        ]
        for name, best, n in lines:
            inner = best.payload.get("query_s") if isinstance(best.payload, dict) else None
            table.append(
                [
                    f"{fmt}: {name}",
                    f"{best.wall_s:.2f}",
                    f"{_rate(n, best.wall_s):,.0f}" if n else "",
                    f"{best.best.cpu_s:.2f}",
                    f"{best.peak_mb:,.0f}",
                    f"{inner:.2f}" if inner is not None else "",
                ]
            )
    table.append(
        [
            "swapcheck --help (start-up, not subtracted)",
            f"{help_run.wall_s:.2f}",
            "",
            f"{help_run.best.cpu_s:.2f}",
            f"{help_run.peak_mb:,.0f}",
            "",
        ]
    )
    print_table(
        f"{rows:,} rows; each line a fresh child process (best wall time of the runs, "
        "highest peak RSS)",
        ["measurement", "wall s", "rows/s", "CPU s", "peak RSS MB", "in-child query s"],
        table,
    )

    ratios = []
    for fmt, res in results.items():
        full, ingest = res["full"], res["ingest"]
        ratio = full.wall_s / ingest.wall_s
        size = paths[fmt].stat().st_size / 1e6
        ratios.append(
            [
                fmt,
                f"{size:,.0f}",
                f"{_rate(rows, ingest.wall_s):,.0f}",
                f"{_rate(rows, full.wall_s):,.0f}",
                f"{ratio:.2f} ({'ok' if ratio >= TARGET_RATIO else 'below'})",
                f"{res['count'].wall_s / ingest.wall_s:.2f}",
                f"{ingest.peak_mb:,.0f} "
                f"({'ok' if ingest.peak_mb <= TARGET_PEAK_RSS_MB else 'above'})",
                f"{full.peak_mb:,.0f}",
                f"{res['db_mb']:,.0f}",
            ]
        )
    print_table(
        f"Ratio = swapcheck rows/s / duckdb full-read rows/s (target >= {TARGET_RATIO}); "
        f"swapcheck peak RSS target <= {TARGET_PEAK_RSS_MB:,.0f} MB",
        [
            "format",
            "file MB",
            "swapcheck rows/s",
            "duckdb rows/s",
            "ratio",
            "ratio vs count(*)",
            "swapcheck peak MB",
            "duckdb peak MB",
            "db MB",
        ],
        ratios,
    )


def summary(
    results: dict[str, dict[str, Any]], help_run: Best, paths: dict[str, Path], args: Any
) -> dict[str, Any]:
    def one(fmt: str) -> dict[str, Any]:
        res = results[fmt]
        ingest, full = res["ingest"], res["full"]
        report_json = ingest.payload
        return {
            "ratio": round(full.wall_s / ingest.wall_s, 3),
            "rows_per_s": round(_rate(args.rows, ingest.wall_s)),
            "duckdb_rows_per_s": round(_rate(args.rows, full.wall_s)),
            "peak_rss_mb": round(ingest.peak_mb, 1),
            "duckdb_peak_rss_mb": round(full.peak_mb, 1),
            "duckdb_count_rows_per_s": round(_rate(args.rows, res["count"].wall_s)),
            "duckdb_file_rows_per_s": round(_rate(args.rows, res["file"].wall_s)),
            "ingest_s": round(ingest.wall_s, 3),
            "duckdb_s": round(full.wall_s, 3),
            "reingest_s": round(res["reingest"].wall_s, 3),
            "file_mb": round(paths[fmt].stat().st_size / 1e6, 1),
            "db_mb": round(res["db_mb"], 1),
            "rows_ingested": report_json["rows_ingested"],
            "rows_duplicate": report_json["rows_duplicate"],
            "rows_rejected": report_json["rows_rejected"],
        }

    primary = args.formats[0]
    out: dict[str, Any] = {**one(primary), "format": primary, "rows": args.rows}
    out["meets_targets"] = out["ratio"] >= TARGET_RATIO and out["peak_rss_mb"] <= TARGET_PEAK_RSS_MB
    out["targets"] = {"ratio_min": TARGET_RATIO, "peak_rss_mb_max": TARGET_PEAK_RSS_MB}
    out["swapcheck_help_s"] = round(help_run.wall_s, 3)
    out["repeat"] = args.repeat
    out["bad_lines_rate"] = args.bad_lines
    out["duplicates_rate"] = args.duplicates
    out["expected_duplicates"] = expected_duplicates(args)
    if len(args.formats) > 1:
        out["formats"] = {fmt: one(fmt) for fmt in args.formats}
    return out


# --- main ------------------------------------------------------------------------------------


def data_file(directory: Path, fmt: str, args: argparse.Namespace) -> Path:
    """The cached file's name carries every parameter of the generated data."""
    bad = f"-bad{args.bad_lines:g}" if fmt == "jsonl" and args.bad_lines > 0 else ""
    name = f"chat-{args.rows}-seed{args.seed}-dup{args.duplicates:g}{bad}-v{GENERATOR_VERSION}"
    return directory / f"{name}.{fmt}"


def _warm(path: Path) -> None:
    """Read the file once so that every measurement finds it in the page cache."""
    with path.open("rb") as f:
        while f.read(1 << 22):
            pass


def run_bench(args: argparse.Namespace, data_dir: Path, scratch: Path) -> dict[str, Any]:
    swapcheck = Path(sys.executable).parent / "swapcheck"
    if not swapcheck.exists():
        raise SystemExit(f"{swapcheck} not found: install the project (pip install -e .)")
    paths: dict[str, Path] = {}
    for fmt in args.formats:
        path = data_file(data_dir, fmt, args)
        if path.exists():
            print(f"reusing {path} ({path.stat().st_size / 1e6:,.1f} MB)", flush=True)
        else:
            child = [
                f"--rows={args.rows}",
                f"--seed={args.seed}",
                f"--bad-lines={args.bad_lines}",
                f"--duplicates={args.duplicates}",
            ]
            run = _check(
                spawn(_self(*child, "--child", "generate", fmt, str(path)), scratch), "generate"
            )
            made = _last_json(run.stdout)
            print(
                f"generated {path} ({path.stat().st_size / 1e6:,.1f} MB, "
                f"{made['bad_lines']} bad lines) in {run.wall_s:.1f}s",
                flush=True,
            )
        paths[fmt] = path

    help_run = Best()
    for _ in range(max(3, args.repeat)):
        help_run.add(_check(spawn([str(swapcheck), "--help"], scratch), "swapcheck --help"))

    results = {}
    for fmt, path in paths.items():
        _warm(path)
        results[fmt] = measure_format(fmt, path, args, scratch)
    report(results, help_run, paths, args.rows)
    return summary(results, help_run, paths, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows (1000000)")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs (1)")
    parser.add_argument(
        "--formats",
        nargs="+",
        choices=FORMATS,
        default=["jsonl"],
        help="file formats (jsonl); the final JSON line describes the first",
    )
    parser.add_argument("--seed", type=int, default=7, help="data generator seed (7)")
    parser.add_argument(
        "--bad-lines",
        type=float,
        nargs="?",
        const=DEFAULT_BAD_RATE,
        default=0.0,
        metavar="RATE",
        help=f"replace this share of JSONL lines by unusable ones (off; {DEFAULT_BAD_RATE:g} "
        "without a value); the DuckDB baseline then reads with ignore_errors",
    )
    parser.add_argument(
        "--duplicates",
        type=float,
        default=DEFAULT_DUP_RATE,
        metavar="RATE",
        help=f"share of lines that repeat an earlier line's messages and slices with their own "
        f"id and timestamp ({DEFAULT_DUP_RATE:g}; 0 for none)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the generated files in the cache dir and reuse them on later runs",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="cache dir for generated files (implies --keep; default "
        f"{Path(tempfile.gettempdir()) / 'swapcheck-bench-data'})",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--ignore-errors", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, *rest = args.child
        if kind == "generate":
            path, fmt = Path(rest[1]), rest[0]
            result = generate(path, fmt, args.rows, args.seed, args.bad_lines, args.duplicates)
        else:
            result = duckdb_child(rest[0], rest[1], rest[2], args.ignore_errors)
        print(json.dumps(result))
        return 0

    if args.rows <= 0 or args.repeat <= 0:
        parser.error("--rows and --repeat must be positive")
    if not 0 <= args.duplicates <= 0.5 or not 0 <= args.bad_lines <= 0.5:
        parser.error("--duplicates and --bad-lines take a share between 0 and 0.5")
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}, "
        f"swapcheck at {Path(sys.executable).parent / 'swapcheck'}",
        flush=True,
    )
    keep = args.keep or args.data_dir is not None
    with tempfile.TemporaryDirectory(prefix="swapcheck-bench-") as tmp:
        scratch = Path(tmp)
        if keep:
            data_dir = args.data_dir or Path(tempfile.gettempdir()) / "swapcheck-bench-data"
            data_dir.mkdir(parents=True, exist_ok=True)
        else:
            data_dir = scratch
        result = run_bench(args, data_dir, scratch)
    parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"\n(this parent process peaked at {parent_mb:.0f} MB; children start from it)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
