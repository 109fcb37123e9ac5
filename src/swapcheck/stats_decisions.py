"""Go/no-go decisions over slice tables: BH q-values, non-inferiority colours, reweighting."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from swapcheck.stats import (
    CHOICE_SCORE,
    _check_judgments,
    combination_tables,
    wilson_interval,
)

DEFAULT_MARGIN: float = 0.05
"""Non-inferiority margin: the candidate may lose at most this much win rate below parity."""

Colour = Literal["green", "amber", "red"]
Verdict = Literal["go", "no-go", "inconclusive"]


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order.

    ``q_(i) = min_{j >= i} min(1, m * p_(j) / j)`` over the ascending order of the p-values,
    so q-values are monotone in p (equal p-values get equal q-values) and capped at 1.
    NaN entries pass through as NaN and do not count towards the family size ``m``.
    Raises ``ValueError`` for p-values outside ``[0, 1]``.
    """
    p = np.asarray(p_values, dtype=float).reshape(-1)
    q = np.full(p.shape, np.nan)
    valid = ~np.isnan(p)
    pv = p[valid]
    if pv.size == 0:
        return q
    if np.any((pv < 0.0) | (pv > 1.0)):
        raise ValueError("p-values must lie in [0, 1]")
    m = pv.size
    order = np.argsort(pv, kind="mergesort")
    ranked = pv[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    out = np.empty(m)
    out[order] = adjusted
    q[valid] = out
    return q


def _check_margin(margin: float) -> None:
    if not 0.0 <= margin < 0.5:
        raise ValueError(f"margin must lie in [0, 0.5), got {margin!r}")


def non_inferiority(ci_low: float, ci_high: float, margin: float = DEFAULT_MARGIN) -> Colour:
    """Traffic-light colour of a win-rate interval against the bound ``0.5 - margin``.

    * ``green``: ``ci_low >= 0.5 - margin`` (non-inferiority shown; equality counts as green),
    * ``red``: ``ci_high < 0.5 - margin`` (inferiority shown: the whole interval is below),
    * ``amber``: otherwise, i.e. the interval straddles the bound, or it is NaN (no data).

    With the two-sided 95% Wilson interval of ``stats.win_rate_table`` green is a one-sided
    test at 2.5%. Since ``ci_low <= ci_high`` green and red exclude each other.
    """
    _check_margin(margin)
    bound = 0.5 - margin
    if math.isnan(ci_low) or math.isnan(ci_high):
        return "amber"
    if ci_low >= bound:
        return "green"
    if ci_high < bound:
        return "red"
    return "amber"


def decision_table(
    table: pd.DataFrame,
    margin: float = DEFAULT_MARGIN,
    *,
    family: Literal["all", "column"] = "all",
) -> pd.DataFrame:
    """``stats.slice_tables`` output plus ``q_value`` and ``go`` (a ``non_inferiority`` colour).

    ``q_value`` is the Benjamini-Hochberg adjustment of ``sign_test_p``. By default
    (``family='all'``) the family is every slice row of every slice column: a reviewer scans
    all rows of the report for a regression, so that is the set of claims being screened, and
    adding slice columns cannot inflate the false discovery rate the way per-column families
    (``family='column'``, one BH per ``slice`` value) would. The ``overall`` row is the single
    pre-specified primary test, a family of one, so its q-value is its own p-value.
    Colours use the table's unadjusted intervals. Rows keep their order; the input is not
    modified.
    """
    _check_margin(margin)
    missing = [c for c in ("slice", "ci_low", "ci_high", "sign_test_p") if c not in table.columns]
    if missing:
        raise ValueError(f"table is missing column(s) {missing}; pass a stats.slice_tables frame")
    if family not in ("all", "column"):
        raise ValueError(f"family must be 'all' or 'column', got {family!r}")
    out = table.copy()
    q = pd.Series(np.nan, index=out.index, dtype="float64")
    is_overall = out["slice"].astype(object) == "overall"
    q[is_overall] = out.loc[is_overall, "sign_test_p"].astype(float)
    slice_rows = out[~is_overall]
    groups = [slice_rows] if family == "all" else [g for _, g in slice_rows.groupby("slice")]
    for group in groups:
        if not group.empty:
            q[group.index] = benjamini_hochberg(group["sign_test_p"].astype(float).to_numpy())
    out["q_value"] = q
    out["go"] = pd.Series(
        [
            non_inferiority(float(lo), float(hi), margin)
            for lo, hi in zip(out["ci_low"], out["ci_high"], strict=True)
        ],
        index=out.index,
        dtype=object,
    )
    return out


def combination_decisions(
    judgments: pd.DataFrame,
    slice_columns: Sequence[str],
    margin: float = DEFAULT_MARGIN,
    *,
    min_n: int = 30,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """``stats.combination_tables`` for every pair of ``slice_columns``, with q-values and colours.

    One row per combination of values that occurs (``slice="locale × tier"``,
    ``value="de-DE × pro"``) with the ``win_rate_table`` columns, the ``low_n`` flag, a
    ``q_value`` from one Benjamini-Hochberg family over all combination rows of all column
    pairs together (they are screened together, so they are one family), and the ``go``
    colour of ``non_inferiority``.
    """
    _check_margin(margin)
    table = combination_tables(judgments, slice_columns, min_n=min_n, confidence=confidence)
    return decision_table(table, margin, family="all")


def _label(row: pd.Series) -> str:
    return f"{row['slice']}={row['value']}" if "value" in row.index else str(row["slice"])


def _describe(row: pd.Series) -> str:
    rate = f"{float(row['win_rate']):.3f} " if "win_rate" in row.index else ""
    return f"{rate}(95% CI {float(row['ci_low']):.3f}-{float(row['ci_high']):.3f})"


def overall_verdict(decisions: pd.DataFrame, margin: float = DEFAULT_MARGIN) -> dict[str, Any]:
    """Go/no-go from a slice table: ``verdict``, ``red_slices``, ``amber_slices``, ``reason``.

    Colours are recomputed from ``ci_low``/``ci_high`` with ``margin`` (any ``go`` column is
    ignored, so the verdict cannot disagree with the margin asked for). ``no-go`` when the
    overall row or any slice row is red; ``go`` when the overall row is green and no row is
    red (amber slices are listed but allowed); ``inconclusive`` otherwise. Slices are labelled
    ``"column=value"``. Requires exactly one ``overall`` row.
    """
    _check_margin(margin)
    missing = [c for c in ("slice", "ci_low", "ci_high") if c not in decisions.columns]
    if missing:
        raise ValueError(f"decisions are missing column(s) {missing}")
    is_overall = decisions["slice"].astype(object) == "overall"
    if int(is_overall.sum()) != 1:
        raise ValueError(f"expected exactly one overall row, found {int(is_overall.sum())}")
    overall = decisions[is_overall].iloc[0]
    bound = 0.5 - margin
    overall_colour = non_inferiority(float(overall["ci_low"]), float(overall["ci_high"]), margin)
    red: list[str] = []
    amber: list[str] = []
    for _, row in decisions[~is_overall].iterrows():
        colour = non_inferiority(float(row["ci_low"]), float(row["ci_high"]), margin)
        if colour == "red":
            red.append(_label(row))
        elif colour == "amber":
            amber.append(_label(row))
    summary = f"overall win rate {_describe(overall)} against the bound {bound:.3f}"
    verdict: Verdict
    if overall_colour == "red" or red:
        verdict = "no-go"
        parts = ["the overall interval lies below the bound"] if overall_colour == "red" else []
        if red:
            parts.append(f"{len(red)} slice(s) lie below it: {', '.join(red)}")
        reason = f"No-go: {' and '.join(parts)}; {summary}."
    elif overall_colour == "green":
        verdict = "go"
        extra = f"; {len(amber)} slice(s) still uncertain: {', '.join(amber)}" if amber else ""
        reason = f"Go: non-inferior overall and no slice below the bound; {summary}{extra}."
    else:
        verdict = "inconclusive"
        reason = f"Inconclusive: the overall interval straddles the bound; {summary}."
    return {"verdict": verdict, "red_slices": red, "amber_slices": amber, "reason": reason}


def reweighted_win_rate(
    judgments: pd.DataFrame, weight_column: str = "weight", confidence: float = 0.95
) -> dict[str, Any]:
    """Win rate weighted by inverse inclusion probabilities, with a Kish-Wilson interval.

    Each judgment scores 1 (candidate), 0 (baseline) or 0.5 (tie, both_bad), as in
    ``stats.win_rate_table``; ``win_rate = sum(w * score) / sum(w)``. The interval is the
    Wilson interval evaluated at Kish's effective sample size
    ``n_eff = sum(w)^2 / sum(w^2)`` with ``successes = win_rate * n_eff``: the size of an
    equally weighted sample whose mean has the same variance. It ignores clustering of
    several reviewers on one pair. Equal weights give the unweighted rate and interval.
    Weights must be finite and >= 0 with a positive sum. Returns ``win_rate``, ``ci_low``,
    ``ci_high``, ``n``, ``n_eff`` and ``unweighted_win_rate`` (NaNs and n 0 when empty).
    """
    _check_judgments(judgments, (weight_column,))
    n = int(len(judgments))
    if n == 0:
        nan = math.nan
        return {
            "win_rate": nan,
            "ci_low": nan,
            "ci_high": nan,
            "n": 0,
            "n_eff": 0.0,
            "unweighted_win_rate": nan,
        }
    w = judgments[weight_column].to_numpy(dtype=float)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"weights in {weight_column!r} must be finite and >= 0")
    total = float(w.sum())
    if total <= 0:
        raise ValueError(f"weights in {weight_column!r} sum to zero")
    score = judgments["choice"].astype(object).map(CHOICE_SCORE).to_numpy(dtype=float)
    rate = min(1.0, float(np.sum(w * score)) / total)
    n_eff = total * total / float(np.sum(w * w))
    ci_low, ci_high = wilson_interval(rate * n_eff, n_eff, confidence)  # type: ignore[arg-type]
    return {
        "win_rate": rate,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "n": n,
        "n_eff": n_eff,
        "unweighted_win_rate": float(score.mean()),
    }


__all__ = [
    "DEFAULT_MARGIN",
    "benjamini_hochberg",
    "combination_decisions",
    "decision_table",
    "non_inferiority",
    "overall_verdict",
    "reweighted_win_rate",
]
