"""Time a small ingest into a PostgreSQL store that already holds many prompts, against DuckDB.

On PostgreSQL an ingest runs in a scratch DuckDB that pulls only the rows the file touches
(``store/ingest_stage.py``), so its cost should follow the file, not the store. This builds a
synthetic JSONL log of ``--stored`` prompts and ingests it into a fresh DuckDB file and a fresh
PostgreSQL schema (``--url``, else a throwaway cluster started from Debian's server binaries, as
the tests do), then times ingesting ``--rows`` more rows (a few of them already stored) into
each, ``--repeat`` times with new rows each time, and reports the medians.

Last line: one JSON object ``stored``, ``rows``, ``duckdb_small_ingest_s``,
``postgres_small_ingest_s``, ``ratio`` (PostgreSQL / DuckDB; target <= 3, printed, never
asserted), ``duckdb_bulk_ingest_s``, ``postgres_bulk_ingest_s`` (the ``--stored`` prompts into an
empty store) and ``duckdb_overlap_ingest_s``, ``postgres_overlap_ingest_s`` (then a file as big,
half of it already stored: the merge compares every row it pulled).

    python bench/postgres_ingest.py                       # 100,000 stored prompts, 100-row files
    python bench/postgres_ingest.py --stored 1000000 --url postgresql://me@127.0.0.1/swapcheck
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
try:
    import swapcheck  # noqa: F401
except ImportError:  # a clean checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from swapcheck.ingest import ColumnMapping  # noqa: E402
from swapcheck.pipeline import ingest_file  # noqa: E402
from swapcheck.store import Store  # noqa: E402
from swapcheck.store.postgres import PostgresStore  # noqa: E402
from tests.postgres_cluster import given_or_throwaway  # noqa: E402

TARGET_RATIO = 3.0
MAPPING = ColumnMapping(prompt_column="prompt", id_column="id", slice_columns=("feature", "locale"))
FEATURES, LOCALES = ("chat", "json", "summary", "translate"), ("en-US", "de-DE", "ja-JP")


def write_log(path: Path, start: int, count: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for i in range(start, start + count):
            record = {
                "id": f"req-{i}",
                "prompt": f"Customer {i}: where is my order #{i * 7}? It was due last week and "
                "I need it for a trip on Friday.",
                "feature": FEATURES[i % len(FEATURES)],
                "locale": LOCALES[i % len(LOCALES)],
            }
            out.write(json.dumps(record) + "\n")
    return path


def timed(store: Any, path: Path) -> float:
    started = time.perf_counter()
    ingest_file(store, path, mapping=MAPPING, source_name=path.name)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=100_000, help="prompts already stored")
    parser.add_argument("--rows", type=int, default=100, help="rows of each small file")
    parser.add_argument("--repeat", type=int, default=5, help="small ingests per backend")
    parser.add_argument("--url", help="postgresql:// URL of a server to use (a new schema)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swapcheck-pg-ingest-") as tmp:
        folder = Path(tmp)
        bulk = write_log(folder / "stored.jsonl", 0, args.stored)
        # each small file: 10% rows already stored, the rest new (fresh per repeat)
        overlap = max(1, args.rows // 10)
        smalls = []
        for k in range(args.repeat):
            start = args.stored + k * args.rows
            smalls.append(write_log(folder / f"small-{k}.jsonl", start - overlap, args.rows))
        half = args.stored // 2
        overlapping = write_log(folder / "overlapping.jsonl", half, args.stored)
        duck = Store(folder / "bench.duckdb", linger=30)
        duck_bulk = timed(duck, bulk)
        duck_runs = [timed(duck, path) for path in smalls]
        duck_overlap = timed(duck, overlapping)
        duck.close()
        with given_or_throwaway(args.url) as base:
            sep = "&" if "?" in base else "?"
            url = f"{base}{sep}schema=bench_{uuid.uuid4().hex[:8]}"
            pg = PostgresStore(url, linger=30, local_dir=folder)
            pg_bulk = timed(pg, bulk)
            pg_runs = [timed(pg, path) for path in smalls]
            pg_overlap = timed(pg, overlapping)
            with pg.cursor() as cur:
                cur.raw.execute(f'DROP SCHEMA "{pg.schema}" CASCADE')
            pg.close()
    duck_s, pg_s = statistics.median(duck_runs), statistics.median(pg_runs)
    ratio = pg_s / duck_s
    print(f"stored prompts: {args.stored}; bulk ingest DuckDB {duck_bulk:.2f} s, "
          f"PostgreSQL {pg_bulk:.2f} s")  # fmt: skip
    print(f"then {args.stored} rows, half of them stored: DuckDB {duck_overlap:.2f} s, "
          f"PostgreSQL {pg_overlap:.2f} s")  # fmt: skip
    print("small ingests (s): DuckDB " + ", ".join(f"{t:.2f}" for t in duck_runs))
    print("small ingests (s): PostgreSQL " + ", ".join(f"{t:.2f}" for t in pg_runs))
    print(
        f"{args.rows}-row ingest median: DuckDB {duck_s:.3f} s, PostgreSQL {pg_s:.3f} s, "
        f"ratio {ratio:.2f} (target <= {TARGET_RATIO})"
    )
    print(
        json.dumps(
            {
                "stored": args.stored,
                "rows": args.rows,
                "duckdb_small_ingest_s": round(duck_s, 3),
                "postgres_small_ingest_s": round(pg_s, 3),
                "ratio": round(ratio, 3),
                "duckdb_bulk_ingest_s": round(duck_bulk, 2),
                "postgres_bulk_ingest_s": round(pg_bulk, 2),
                "duckdb_overlap_ingest_s": round(duck_overlap, 2),
                "postgres_overlap_ingest_s": round(pg_overlap, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
