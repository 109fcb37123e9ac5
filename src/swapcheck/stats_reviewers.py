"""Reviewer quality for admins: gold accuracy, left-pick bias, tie and both-bad rates, time."""

from __future__ import annotations

import math

import pandas as pd

from swapcheck.stats import _check_judgments, position_bias

QUALITY_COLUMNS: tuple[str, ...] = (
    "reviewer",
    "judgments",
    "gold_judged",
    "gold_accuracy",
    "left_pick_rate",
    "left_pick_low",
    "left_pick_high",
    "tie_rate",
    "both_bad_rate",
    "median_time_s",
)


def reviewer_quality(judgments: pd.DataFrame, gold: pd.DataFrame) -> pd.DataFrame:
    """One row per reviewer (sorted by name) from live judgments and the study's gold items.

    ``gold_accuracy``: share of the reviewer's judgments of gold pairs whose unblinded choice
    equals the expected verdict (NaN when they judged no gold pair). ``left_pick_rate``: share
    of decisive judgments (baseline or candidate) that picked the left side, with its 95%
    Wilson interval ``left_pick_low``/``left_pick_high`` (about 0.5 for an unbiased reviewer,
    since sides are randomised). ``tie_rate`` and ``both_bad_rate`` are shares of all their
    judgments; ``median_time_s`` is the median time on item in seconds (NaN when none was
    recorded).
    """
    _check_judgments(judgments, ("reviewer", "pair_id", "left_role", "time_on_item_ms"))
    if judgments.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in QUALITY_COLUMNS})
    expected = (
        dict(zip(gold["pair_id"].astype(object), gold["expected"].astype(object), strict=True))
        if gold is not None and not gold.empty
        else {}
    )
    rows = []
    for reviewer, group in judgments.groupby(judgments["reviewer"].astype(object), sort=True):
        choices = group["choice"].astype(object)
        on_gold = group["pair_id"].astype(object).map(expected)
        gold_mask = on_gold.notna()
        gold_judged = int(gold_mask.sum())
        bias = position_bias(group)
        times = pd.to_numeric(group["time_on_item_ms"], errors="coerce").dropna()
        rows.append(
            {
                "reviewer": reviewer,
                "judgments": int(len(group)),
                "gold_judged": gold_judged,
                "gold_accuracy": float((choices[gold_mask] == on_gold[gold_mask]).mean())
                if gold_judged
                else math.nan,
                "left_pick_rate": bias["left_pick_rate"],
                "left_pick_low": bias["ci_low"],
                "left_pick_high": bias["ci_high"],
                "tie_rate": float((choices == "tie").mean()),
                "both_bad_rate": float((choices == "both_bad").mean()),
                "median_time_s": float(times.median()) / 1000.0 if len(times) else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=list(QUALITY_COLUMNS))
