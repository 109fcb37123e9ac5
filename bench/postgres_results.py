"""Time the Results page on PostgreSQL against DuckDB for the same study (target: within 2x).

Seeds the demo (``--prompts`` prompts, simulated votes) in a temporary DuckDB file, copies it
with ``swapcheck store copy``'s ``copy_store`` into a PostgreSQL schema (``--url``, else a
throwaway cluster started from Debian's server binaries, as the tests do), then renders the
Results page with Streamlit's AppTest against each store ``--repeat`` times and reports the
median of the warm runs (the first run of each also fills the process caches). Also times the
bulk read of the judgments (``judgments_frame``) on each backend.

Last line: one JSON object ``duckdb_results_s``, ``postgres_results_s``, ``ratio`` (warm
medians), ``cold_ratio`` (first runs),
``duckdb_judgments_read_s``, ``postgres_judgments_read_s``, ``judgments`` (target ratio <= 2;
printed, never asserted).

    python bench/postgres_results.py                 # 2,000-prompt demo, throwaway cluster
    python bench/postgres_results.py --url postgresql://me@127.0.0.1/swapcheck --prompts 5000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    import swapcheck  # noqa: F401
except ImportError:  # a clean checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from swapcheck.demo import seed_demo  # noqa: E402
from swapcheck.store import Store  # noqa: E402
from swapcheck.store.judgments import judgments_frame  # noqa: E402
from swapcheck.store.postgres import PostgresStore  # noqa: E402
from swapcheck.store.studies import list_studies  # noqa: E402
from swapcheck.store.transfer import copy_store  # noqa: E402
from tests.postgres_cluster import given_or_throwaway  # noqa: E402

TARGET_RATIO = 2.0


def results_page_seconds(db: str, repeat: int) -> list[float]:
    """Wall time of each full Results page run in AppTest (first run included)."""
    from streamlit.testing.v1 import AppTest

    os.environ["SWAPCHECK_DB"] = db
    os.environ["SWAPCHECK_NO_DEMO"] = "1"
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.run()
    at.switch_page("app_pages/results.py")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
        if at.exception:
            raise SystemExit(f"the Results page failed on {db}: {at.exception[0].value}")
    return times


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=2000, help="demo size (default 2000)")
    parser.add_argument("--repeat", type=int, default=4, help="Results page runs per backend")
    parser.add_argument("--url", help="postgresql:// URL of a server to use (a new schema)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swapcheck-pg-bench-") as tmp:
        started = time.perf_counter()
        duck_path = Path(tmp) / "bench.duckdb"
        duck = Store(duck_path, linger=0)
        seed_demo(duck, n_prompts=args.prompts)
        study = list_studies(duck)[0]
        seeded = time.perf_counter() - started
        with given_or_throwaway(args.url) as base:
            sep = "&" if "?" in base else "?"
            url = f"{base}{sep}schema=bench_{uuid.uuid4().hex[:8]}"
            pg = PostgresStore(url, linger=0, local_dir=tmp)
            started = time.perf_counter()
            copy_store(duck, pg)
            copied = time.perf_counter() - started
            judgments = len(judgments_frame(duck, study))
            duck_read = best_of(3, lambda: judgments_frame(duck, study))
            pg_read = best_of(3, lambda: judgments_frame(pg, study))
            duck.close()
            duck_runs = results_page_seconds(str(duck_path), args.repeat)
            pg_runs = results_page_seconds(url, args.repeat)
            with pg.cursor() as cur:
                cur.raw.execute(f'DROP SCHEMA "{pg.schema}" CASCADE')
            pg.close()
    duck_s = statistics.median(duck_runs[1:] or duck_runs)
    pg_s = statistics.median(pg_runs[1:] or pg_runs)
    ratio = pg_s / duck_s
    cold_ratio = pg_runs[0] / duck_runs[0]
    print(
        f"demo: {args.prompts} prompts, {judgments} judgments; seeded in {seeded:.0f} s, "
        f"copied to PostgreSQL in {copied:.1f} s"
    )
    print(f"judgments_frame: DuckDB {duck_read:.3f} s, PostgreSQL {pg_read:.3f} s")
    print("Results page runs (s): DuckDB " + ", ".join(f"{t:.2f}" for t in duck_runs))
    print("Results page runs (s): PostgreSQL " + ", ".join(f"{t:.2f}" for t in pg_runs))
    print(
        f"Results page warm median: DuckDB {duck_s:.2f} s, PostgreSQL {pg_s:.2f} s, "
        f"ratio {ratio:.2f}; first (cold) run ratio {cold_ratio:.2f} (target <= {TARGET_RATIO})"
    )
    print(
        json.dumps(
            {
                "duckdb_results_s": round(duck_s, 3),
                "postgres_results_s": round(pg_s, 3),
                "ratio": round(ratio, 3),
                "cold_ratio": round(cold_ratio, 3),
                "duckdb_judgments_read_s": round(duck_read, 4),
                "postgres_judgments_read_s": round(pg_read, 4),
                "judgments": judgments,
            }
        )
    )


if __name__ == "__main__":
    main()
