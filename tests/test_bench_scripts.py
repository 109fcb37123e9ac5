"""Every benchmark script still imports and parses its options (``--help``), so a renamed
library name cannot leave a bench/ script broken until someone runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))


def test_there_are_bench_scripts() -> None:
    assert {p.name for p in SCRIPTS} >= {"efficiency.py", "review.py", "stats.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bench_script_imports_and_shows_its_help(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage" in done.stdout.lower()


# ---------------------------------------------------------------- efficiency bench helpers


def _efficiency() -> Any:
    """bench/efficiency.py as a module (registered so its dataclasses resolve)."""
    import importlib.util

    name = "bench_efficiency"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / "efficiency.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_oracle_hand_case_alternating_outcomes() -> None:
    import numpy as np

    eff = _efficiency()
    # 200 pairs alternating 1, 0 (overlap 1): M = 0.5, Wilson(100 of 200) = [0.431, 0.569]
    # straddles 0.45, so the full review is inconclusive, for any M in [0.3811, 0.5189].
    # S^2 = 0.25 * 200 / 199; after an even n the interval is 0.5 +- 1.96 S sqrt(1/n - 1/200):
    # half-width 0.01906 at n = 186 (0.5191 > 0.5189: not yet), 0.01755 at n = 188 (fits);
    # odd n have mean (n + 1) / 2n > 0.5 and miss too, so the oracle needs 188 pairs.
    scores = np.tile([1.0, 0.0], 100)
    assert eff.oracle_pairs(scores, np.zeros(200, bool), 0.05, 1) == 188


def test_oracle_counts_an_unseen_stratum_as_unknown() -> None:
    import numpy as np

    eff = _efficiency()
    # contested pairs all lose (0), the rest all win (1), 20 each, overlap 2: M = 0.5 over 80
    # votes, inconclusive. No spread within a stratum, so once both strata are seen the
    # interval is the point 0.5; before that the unseen half contributes [0, 0.5].
    interleaved = np.array([True, False] * 20)
    assert eff.oracle_pairs(np.where(interleaved, 0.0, 1.0), interleaved, 0.05, 2) == 2
    blocked = np.array([True] * 20 + [False] * 20)
    assert eff.oracle_pairs(np.where(blocked, 0.0, 1.0), blocked, 0.05, 2) == 21


def test_per_slice_stop_replay_matches_slice_decisions_prefix_by_prefix() -> None:
    import numpy as np
    import pandas as pd

    from swapcheck.review_priority import slice_decisions

    eff = _efficiency()
    rng = np.random.default_rng(4)
    for _ in range(3):
        n = 70
        contested = rng.random(n) < 0.4
        scores = np.where(contested, rng.choice([0.0, 0.5], n), rng.choice([0.0, 0.5, 1.0], n))
        order = eff.slice_queue_order(contested, 0.7)
        x, c = scores[order], contested[order]
        population = pd.DataFrame({"slice": "s", "contested": contested})
        expected = (n, None)
        for k in range(1, n + 1):
            outcomes = pd.DataFrame({"slice": "s", "contested": c[:k], "score": x[:k]})
            decided = slice_decisions(population, outcomes, 0.05, rule="full_review", overlap=2)
            if decided["s"] is not None:
                expected = (k, decided["s"])
                break
        assert eff.sequential_stop_pairs(x, c, 0.05, 2) == expected
        # the generous oracle never needs more than the valid rule
        assert eff.oracle_pairs(x, c, 0.05, 2) <= expected[0]


def test_summary_line_says_when_the_target_is_out_of_reach() -> None:
    eff = _efficiency()
    assert eff.summary_line(0.55, 0.4, 0.4, 0.5).startswith("target met")
    assert "out of reach for any valid stop rule" in eff.summary_line(0.8, 0.65, 0.62, 0.7)
    assert "out of reach on average" in eff.summary_line(0.8, 0.55, 0.62, 0.7)
    assert "out of reach in this order" in eff.summary_line(0.8, 0.64, 0.58, 0.75)
    assert "does not rule it out" in eff.summary_line(0.8, 0.55, 0.58, 0.75)
