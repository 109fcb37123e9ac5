"""Review benchmark: server-side time from recording a judgment to having the next pair ready.

Fills a fresh DuckDB file with one study of ``--pairs`` pairs (default 100,000; both answers
present, a skewed ``feature`` slice with one rare value below the slice minimum) and
``--judgments`` live judgments (default 300,000, each with its judged review slot), all with bulk
SQL (a few seconds). Then, for each of ``--reviewers`` reviewers (some with thousands of earlier
judgments, some new), it repeats ``--iterations`` times: take the pair on screen, call
``submit_judgment`` and then ``next_item`` (queue query, reservation, redaction, identity mask),
and measures the wall time of that sequence in this process. It prints a table per reviewer
and overall, and as its last line one JSON object with ``next_pair_p50_ms`` and
``next_pair_p95_ms`` (target p95 <= 100 ms, printed, never asserted).

    /work/venv/bin/python bench/review.py
    /work/venv/bin/python bench/review.py --pairs 20000 --judgments 60000 --iterations 50
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from _table import print_table  # bench/ is on sys.path when run as a script

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from swapcheck.review import next_item, submit_judgment
from swapcheck.store import Store
from swapcheck.store.studies import get_study

TARGET_P95_MS = 100.0
EARLIER_REVIEWERS = 100
OVERLAP = 5


def fill(store: Store, pairs: int, judgments: int) -> None:
    """One study with ``pairs`` ready pairs and ``judgments`` live judgments (bulk SQL)."""
    per_pair = -(-judgments // pairs)
    if per_pair >= OVERLAP:
        raise SystemExit(f"--judgments must be below {OVERLAP} x --pairs (overlap {OVERLAP}).")
    with store.cursor() as cur:
        cur.execute(
            """
            INSERT INTO variants (name, provider, model, params)
            VALUES ('base', 'simulated', 'sim-a', '{}'), ('cand', 'simulated', 'sim-b', '{}');
            INSERT INTO sources (source_id, name, file_hash, format, mapping, rows_total,
                                 rows_ingested, rows_duplicate, rows_rejected, slice_columns)
            VALUES ('src_bench', 'bench.jsonl', 'hash', 'jsonl', '{}', 0, 0, 0, 0, '["feature"]');
            """
        )
        cur.execute(
            """
            INSERT INTO prompts (prompt_id, source_id, row_number, messages, prompt_text, metadata)
            SELECT 'p' || i, 'src_bench', i,
                   json_array(json_object('role', 'system', 'content', 'Support agent.'),
                              json_object('role', 'user', 'content',
                                          'Question ' || i || ': ' || repeat('how do I? ', 30))),
                   'Question ' || i,
                   json_object('feature', CASE WHEN i < 20 THEN 'rare'
                                               WHEN i % 10 < 5 THEN 'chat'
                                               WHEN i % 10 < 8 THEN 'billing' ELSE 'returns' END)
            FROM range($n) t(i)
            """,
            {"n": pairs},
        )
        cur.execute(
            "INSERT INTO prompt_sources SELECT prompt_id, source_id, 1 FROM prompts; "
            "INSERT INTO responses (prompt_id, variant, request_hash, text) "
            "SELECT prompt_id, v, 'h', 'Answer of ' || v || ' to ' || prompt_id || ': ' "
            "|| repeat('open settings, choose reset. ', 20) "
            "FROM prompts, (VALUES ('base'), ('cand')) t(v)"
        )
        cur.execute(
            """
            INSERT INTO studies (study_id, name, baseline_variant, candidate_variant, source_ids,
                                 slice_columns, overlap, margin, blind_salt, rubric, reason_tags,
                                 identity_policy, slice_minimum)
            VALUES ('st_bench', 'bench study', 'base', 'cand', '["src_bench"]', '["feature"]',
                    $overlap, 0.05, 'bench-salt', '["correctness"]', '["more accurate"]',
                    'mask', 30)
            """,
            {"overlap": OVERLAP},
        )
        cur.execute(
            """
            INSERT INTO pairs (pair_id, study_id, prompt_id, position)
            SELECT 'pr_' || md5(prompt_id), 'st_bench', prompt_id,
                   row_number() OVER (ORDER BY md5('bench-salt' || prompt_id)) - 1
            FROM prompts
            """
        )
        # judgment k of pair i (k < per_pair) by earlier reviewer (i + k) mod R, in slot k;
        # the rare slice stays unjudged so the queue's slice-minimum tier is exercised
        cur.execute(
            """
            CREATE TEMP TABLE bench_j AS
            SELECT p.pair_id, k AS slot,
                   'earlier-' || lpad(((p.position + k) % $reviewers)::VARCHAR, 3, '0')
                       AS reviewer,
                   row_number() OVER () AS n
            FROM pairs p JOIN prompts q USING (prompt_id), range($per_pair) t(k)
            WHERE json_extract_string(q.metadata, '$.feature') <> 'rare'
            LIMIT $judgments
            """,
            {"reviewers": EARLIER_REVIEWERS, "per_pair": per_pair, "judgments": judgments},
        )
        cur.execute(
            """
            INSERT INTO judgments (judgment_id, study_id, pair_id, reviewer, left_role, choice,
                                   time_on_item_ms, created_at)
            SELECT 'j_' || n, 'st_bench', pair_id, reviewer,
                   CASE WHEN n % 2 = 0 THEN 'baseline' ELSE 'candidate' END,
                   CASE n % 4 WHEN 0 THEN 'baseline' WHEN 1 THEN 'candidate'
                              WHEN 2 THEN 'tie' ELSE 'both_bad' END,
                   10000, now() - INTERVAL 1 DAY + n * INTERVAL 1 MILLISECOND
            FROM bench_j;
            INSERT INTO reservations (study_id, pair_id, slot, reviewer, reserved_at, expires_at,
                                      judged)
            SELECT 'st_bench', pair_id, slot, reviewer, now() - INTERVAL 1 DAY,
                   now() - INTERVAL 1 DAY, true
            FROM bench_j;
            DROP TABLE bench_j;
            """
        )
        cur.execute("CHECKPOINT")


def measure(store: Store, reviewers: list[str], iterations: int) -> dict[str, list[float]]:
    """Per reviewer: ms from submit_judgment of the pair on screen to next_item's next pair."""
    study = get_study(store, "bench study")
    times: dict[str, list[float]] = {}
    for reviewer in reviewers:
        item = next_item(store, study, reviewer)
        laps: list[float] = []
        for i in range(iterations):
            if item is None:
                break
            start = time.perf_counter()
            submit_judgment(
                store,
                study,
                reviewer=reviewer,
                pair_id=item.pair_id,
                pick=("left", "right", "tie")[i % 3],
                time_on_item_ms=5000,
            )
            item = next_item(store, study, reviewer)
            laps.append((time.perf_counter() - start) * 1000)
        times[reviewer] = laps
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--judgments", type=int, default=300_000)
    parser.add_argument("--reviewers", type=int, default=4, help="measured reviewers")
    parser.add_argument("--iterations", type=int, default=75, help="judgments per reviewer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swapcheck-bench-review-") as tmp:
        store = Store(Path(tmp) / "bench.duckdb", linger=5.0)
        started = time.perf_counter()
        fill(store, args.pairs, args.judgments)
        fill_s = time.perf_counter() - started
        # half the measured reviewers have thousands of earlier judgments, half are new
        reviewers = [
            f"earlier-{i:03d}" if i % 2 == 0 else f"new-{i}" for i in range(args.reviewers)
        ]
        times = measure(store, reviewers, args.iterations)
        store.close()
    every = [t for laps in times.values() for t in laps]
    rows = [
        [r, str(len(laps)), f"{pct(laps, 0.5):.1f}", f"{pct(laps, 0.95):.1f}", f"{max(laps):.1f}"]
        for r, laps in times.items()
        if laps
    ]
    p50, p95 = pct(every, 0.5), pct(every, 0.95)
    rows.append(["all", str(len(every)), f"{p50:.1f}", f"{p95:.1f}", f"{max(every):.1f}"])
    print(
        f"{args.pairs:,} pairs, {args.judgments:,} judgments, filled in {fill_s:.1f} s; "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs (shared machine: figures are noisy)"
    )
    print_table("submit_judgment -> next_item (ms)", ["reviewer", "n", "p50", "p95", "max"], rows)
    print(f"\ntarget p95 <= {TARGET_P95_MS:.0f} ms: {'met' if p95 <= TARGET_P95_MS else 'MISSED'}")
    result = {
        "next_pair_p50_ms": round(p50, 2),
        "next_pair_p95_ms": round(p95, 2),
        "pairs": args.pairs,
        "judgments": args.judgments,
        "iterations": len(every),
        "fill_s": round(fill_s, 2),
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": p95 <= TARGET_P95_MS,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
