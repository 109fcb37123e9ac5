"""Time issue 6: slice table, Bradley-Terry bootstrap, HTML sign-off report, warm PNG export.

Run from the repository root: ``python bench/stats.py`` (``--help`` for options). Synthetic
data only; the report study lives in a temporary DuckDB file (deleted afterwards), the PNG is
drawn by the system Chromium (``$SWAPCHECK_CHROMIUM`` or /usr/bin/chromium), and nothing leaves
the machine. Prints a table, then as its very last line one JSON object with ``slice_table_s``,
``bt_bootstrap_s``, ``report_html_s`` and ``png_warm_s`` (``null`` when no Chromium is found).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

try:
    import swapcheck  # noqa: F401
except ImportError:  # a clean checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _table import print_table  # bench/ is on sys.path when run as a script

from swapcheck.errors import ConfigError
from swapcheck.stats import slice_tables
from swapcheck.stats_decisions import decision_table
from swapcheck.stats_models import bradley_terry

TARGETS = {"slice_table_s": 1.0, "bt_bootstrap_s": 5.0, "report_html_s": 5.0, "png_warm_s": 0.5}
NO_CHROMIUM = "no Chromium (set SWAPCHECK_CHROMIUM)"


def _skewed(rng: np.random.Generator, prefix: str, values: int, rows: int) -> np.ndarray:
    """``rows`` labels drawn from ``values`` labels with Zipf-like shares (1 / rank)."""
    shares = 1.0 / np.arange(1, values + 1)
    labels = np.array([f"{prefix}-{i:03d}" for i in range(values)], dtype=object)
    return labels[rng.choice(values, size=rows, p=shares / shares.sum())]


def judgments(rows: int, slices: tuple[int, ...], seed: int) -> pd.DataFrame:
    """Synthetic judgments: one column per entry of ``slices`` with that many values."""
    rng = np.random.default_rng(seed)
    choices = np.array(["baseline", "candidate", "tie", "both_bad"], dtype=object)
    frame = pd.DataFrame(
        {
            "pair_id": np.arange(rows) // 2,
            "reviewer": rng.integers(0, 50, size=rows),
            "choice": choices[rng.choice(4, size=rows, p=[0.4, 0.44, 0.12, 0.04])],
            "left_role": np.array(["baseline", "candidate"], dtype=object)[
                rng.integers(0, 2, size=rows)
            ],
        }
    )
    for i, values in enumerate(slices):
        frame[f"slice{i}"] = _skewed(rng, f"s{i}", values, rows)
    return frame


def comparisons(rows: int, variants: int, seed: int) -> pd.DataFrame:
    """Synthetic comparisons between ``variants`` variants with spread-out true ratings."""
    rng = np.random.default_rng(seed)
    ratings = np.linspace(900.0, 1100.0, variants)
    a = rng.integers(0, variants, size=rows)
    b = (a + rng.integers(1, variants, size=rows)) % variants
    p_a = 1.0 / (1.0 + 10.0 ** ((ratings[b] - ratings[a]) / 400.0))
    u = rng.random(rows)
    winner = np.where(u < 0.1, "tie", np.where(rng.random(rows) < p_a, "a", "b"))
    names = np.array([f"v{i:02d}" for i in range(variants)], dtype=object)
    return pd.DataFrame({"variant_a": names[a], "variant_b": names[b], "winner": winner})


def best_of(repeat: int, work: Any) -> tuple[float, Any]:
    """Fastest wall time of ``repeat`` calls of ``work()`` and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="judgments (1,000,000)")
    parser.add_argument(
        "--slices",
        type=int,
        nargs="+",
        default=[150, 40, 10],
        help="values per slice column; their sum is the number of slice rows (150 40 10 = 200)",
    )
    parser.add_argument("--comparisons", type=int, default=100_000, help="BT comparisons")
    parser.add_argument("--variants", type=int, default=10, help="BT variants (10)")
    parser.add_argument("--boot", type=int, default=200, help="BT bootstrap rounds (200)")
    parser.add_argument("--report-pairs", type=int, default=5_000, help="report study pairs")
    parser.add_argument(
        "--report-judgments", type=int, default=15_000, help="report study judgments"
    )
    parser.add_argument("--repeat", type=int, default=3, help="report the fastest of N runs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    data = judgments(args.rows, tuple(args.slices), args.seed)
    columns = [c for c in data.columns if c.startswith("slice")]

    def slice_work() -> pd.DataFrame:
        return decision_table(slice_tables(data, columns))

    slice_s, table = best_of(args.repeat, slice_work)
    n_slice_rows = int((table["slice"] != "overall").sum())

    comps = comparisons(args.comparisons, args.variants, args.seed)
    bt_s, ratings = best_of(args.repeat, lambda: bradley_terry(comps, n_boot=args.boot, seed=1))

    report_s, report_info, png_s, png_cold_s, figure = report_and_png(args)

    result: dict[str, Any] = {
        "slice_table_s": round(slice_s, 4),
        "bt_bootstrap_s": round(bt_s, 4),
        "report_html_s": round(report_s, 4),
        "png_warm_s": None if png_s is None else round(png_s, 4),
    }
    png_cell = NO_CHROMIUM if png_s is None else f"{png_s:.3f}"
    rows = [
        [
            f"slice table + q-values + colours: {args.rows:,} judgments, {n_slice_rows} slices",
            f"{slice_s:.3f}",
            f"{TARGETS['slice_table_s']:.1f}",
        ],
        [
            f"Bradley-Terry + {args.boot} bootstrap rounds: {args.variants} variants, "
            f"{args.comparisons:,} comparisons ({ratings.attrs['n_boot_failed']} failed)",
            f"{bt_s:.3f}",
            f"{TARGETS['bt_bootstrap_s']:.1f}",
        ],
        [
            f"HTML sign-off report: {args.report_pairs:,} pairs, {args.report_judgments:,} "
            f"judgments, {report_info['reviewers']} reviewers, {report_info['mb']:.1f} MB file",
            f"{report_s:.3f}",
            f"{TARGETS['report_html_s']:.1f}",
        ],
        [
            f"PNG export, warm browser ({figure}; cold start "
            f"{'n/a' if png_cold_s is None else f'{png_cold_s:.2f} s'})",
            png_cell,
            f"{TARGETS['png_warm_s']:.1f}",
        ],
    ]
    print_table(
        f"swapcheck statistics (fastest of {args.repeat})",
        ["what", "seconds", "target s"],
        rows,
    )
    timed = {k: v for k, v in result.items() if v is not None}
    meets = all(v <= TARGETS[k] for k, v in timed.items())
    missing = "" if png_s is not None else f"; png_warm_s: {NO_CHROMIUM}"
    print(f"\nmeets targets (measured ones): {meets}{missing}")
    print(json.dumps(result))
    return 0


def report_and_png(
    args: argparse.Namespace,
) -> tuple[float, dict[str, Any], float | None, float | None, str]:
    """Fastest HTML report over a bulk-filled study, and the fastest warm PNG of its chart."""
    from review import fill  # bench/review.py: one study filled with bulk SQL

    from swapcheck.analysis import analyse_study
    from swapcheck.chart_export import ChartExporter
    from swapcheck.report import win_rate_figure
    from swapcheck.report_html import write_report
    from swapcheck.store import Store
    from swapcheck.store.studies import get_study

    with tempfile.TemporaryDirectory(prefix="swapcheck-bench-report-") as tmp:
        store = Store(Path(tmp) / "bench.duckdb", linger=5.0)
        try:
            fill(store, args.report_pairs, args.report_judgments)
            study = get_study(store, "bench study")
            out = Path(tmp) / "report.html"

            def report_work() -> Any:
                analysis = analyse_study(store, study)
                write_report(analysis, out)
                return analysis

            report_s, analysis = best_of(args.repeat, report_work)
            info = {"reviewers": analysis.n_reviewers, "mb": out.stat().st_size / 1e6}
        finally:
            store.close()
    fig = win_rate_figure(analysis.decisions, margin=study.margin)
    label = f"{len(analysis.decisions)}-row forest plot"
    exporter = ChartExporter()
    try:
        start = time.perf_counter()
        exporter.export(fig, "png")
        cold_s = time.perf_counter() - start
        png_s, _ = best_of(args.repeat, lambda: exporter.export(fig, "png"))
    except ConfigError as exc:
        print(f"PNG export skipped: {exc}", file=sys.stderr)
        return report_s, info, None, None, label
    finally:
        exporter.close()
    return report_s, info, png_s, cold_s, label


if __name__ == "__main__":
    sys.exit(main())
