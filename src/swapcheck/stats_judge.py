"""Pure statistics of an LLM judge against humans: agreement, kappa, win-rate gap, eligibility."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from swapcheck.stats import CHOICE_SCORE, CHOICE_VALUES, MISSING, ROLE_VALUES
from swapcheck.stats_agreement import cohens_kappa, majority_vote
from swapcheck.stats_special import t_quantile

"""A verdict as a candidate score: a win 1, a loss 0, a tie or both bad half (as win rates)."""
INCONSISTENT_TAG = "judge_inconsistent"

AGREEMENT_COLUMNS: tuple[str, ...] = (
    "slice",
    "value",
    "n_pairs",
    "n_comparisons",
    "agreement",
    "n_decisive_comparisons",
    "agreement_no_ties",
    "kappa",
    "judge_win_rate",
    "human_win_rate",
    "gap",
    "gap_ci_low",
    "gap_ci_high",
    "n_judge_pairs",
    "inconsistent_share",
)
_INT_COLUMNS = ("n_pairs", "n_comparisons", "n_decisive_comparisons", "n_judge_pairs")


def _check(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in ("pair_id", "choice", *columns) if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} judgments are missing column(s) {missing}")
    bad = sorted({str(v) for v in frame["choice"].unique()} - set(CHOICE_VALUES))
    if bad:
        raise ValueError(f"unknown choice value(s) {bad} in {name} judgments")


def mean_difference_interval(
    differences: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Mean of paired differences and its Student-t interval: ``(mean, low, high)``.

    ``mean ± t_{(1+confidence)/2, n-1} · s / √n`` with ``s`` the sample standard deviation.
    NaN interval for fewer than two differences; a zero spread gives ``(mean, mean)``.
    """
    d = np.asarray(differences, dtype=float)
    n = len(d)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(d.mean())
    if n < 2:
        return (mean, math.nan, math.nan)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return (mean, mean, mean)
    crit = float(t_quantile(confidence, np.array([n - 1.0]))[0])  # no scipy at run time
    half = crit * sd / math.sqrt(n)
    return (mean, mean - half, mean + half)


def _judge_by_pair(judge: pd.DataFrame) -> pd.DataFrame:
    """One judge verdict per pair (``choice``, ``inconsistent``), indexed by pair_id."""
    if judge["pair_id"].duplicated().any():
        example = judge.loc[judge["pair_id"].duplicated(), "pair_id"].iloc[0]
        raise ValueError(
            f"the judge frame holds several verdicts for pair {example!r}; pass one judge's "
            "live judgments"
        )
    out = pd.DataFrame(
        {"choice": judge["choice"].astype(object).to_numpy()},
        index=pd.Index(judge["pair_id"].astype(object), name="pair_id"),
    )
    if "reason_tags" in judge.columns:
        out["inconsistent"] = [
            isinstance(tags, list | tuple | np.ndarray) and INCONSISTENT_TAG in list(tags)
            for tags in judge["reason_tags"]
        ]
    else:
        out["inconsistent"] = np.nan
    return out


def _row(human: pd.DataFrame, judge: pd.DataFrame, confidence: float) -> dict[str, Any]:
    """Statistics over one group: ``human`` votes and ``judge`` (one verdict per pair)."""
    both = sorted(set(human["pair_id"]) & set(judge.index))
    votes = human[human["pair_id"].isin(both)]
    judge_choice = votes["pair_id"].map(judge["choice"])
    human_choice = votes["choice"].astype(object)
    equal = (judge_choice.to_numpy() == human_choice.to_numpy()).astype(float)
    decisive = (judge_choice.isin(ROLE_VALUES) & human_choice.isin(ROLE_VALUES)).to_numpy()
    scored = votes.assign(score=human_choice.map(CHOICE_SCORE))
    human_mean = scored.groupby("pair_id")["score"].mean()
    judge_score = judge.loc[both, "choice"].map(CHOICE_SCORE)
    diff = judge_score.to_numpy(dtype=float) - human_mean.reindex(both).to_numpy(dtype=float)
    gap, low, high = mean_difference_interval(diff, confidence)
    kappa = math.nan
    if both:
        majority = majority_vote(votes)
        pairs = pd.concat(
            [
                pd.DataFrame(
                    {"pair_id": both, "choice": judge.loc[both, "choice"].to_numpy()}
                ).assign(reviewer="judge"),
                majority[["pair_id", "choice"]].assign(reviewer="humans"),
            ],
            ignore_index=True,
        )
        kappa = cohens_kappa(pairs, "judge", "humans")
    inconsistent = judge["inconsistent"]
    return {
        "n_pairs": len(both),
        "n_comparisons": len(equal),
        "agreement": float(equal.mean()) if len(equal) else math.nan,
        "n_decisive_comparisons": int(decisive.sum()),
        "agreement_no_ties": float(equal[decisive].mean()) if decisive.any() else math.nan,
        "kappa": kappa,
        "judge_win_rate": float(judge_score.mean()) if both else math.nan,
        "human_win_rate": float(human_mean.mean()) if both else math.nan,
        "gap": gap,
        "gap_ci_low": low,
        "gap_ci_high": high,
        "n_judge_pairs": len(judge),
        "inconsistent_share": (
            float(inconsistent.astype(float).mean())
            if len(judge) and inconsistent.notna().all()
            else math.nan
        ),
    }


def _labels(values: pd.Series) -> pd.Series:
    values = values.astype(object)
    return values.where(values.notna(), MISSING).map(str)


def judge_agreement_table(
    human: pd.DataFrame,
    judge: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Judge vs humans overall (``slice='overall'``, ``value='all'``) and per value of ``by``.

    ``human``: human votes (``pair_id``, ``choice`` + slice columns); ``judge``: one judge's
    verdicts, one per pair (``pair_id``, ``choice``, optionally ``reason_tags``). On the pairs
    both judged (``n_pairs``): ``agreement`` compares the judge's verdict with every human vote
    on the pair (``n_comparisons``; with ties), ``agreement_no_ties`` only the comparisons in
    which both are decisive; ``kappa`` is Cohen's kappa (four choices) of the judge against the
    humans' majority per pair (a split majority is a tie); ``judge_win_rate`` the mean of the
    judge's scores and ``human_win_rate`` the mean over pairs of the humans' mean score (win 1,
    tie or both bad 0.5); ``gap`` = judge − human win rate with a paired Student-t interval
    (:func:`mean_difference_interval` over the per-pair differences). ``n_judge_pairs`` and
    ``inconsistent_share`` cover every judge verdict of the group (tag ``judge_inconsistent``;
    NaN without a ``reason_tags`` column). A pair's slice value comes from either frame; None
    becomes ``"(missing)"``.
    """
    columns = [by] if isinstance(by, str) else list(by or [])
    _check(human, "human", columns)
    _check(judge, "judge", columns)
    verdicts = _judge_by_pair(judge)
    rows = [{"slice": "overall", "value": "all", **_row(human, verdicts, confidence)}]
    for column in columns:
        slice_of = pd.concat(
            [judge[["pair_id", column]], human[["pair_id", column]]], ignore_index=True
        ).drop_duplicates("pair_id")
        labels = pd.Series(_labels(slice_of[column]).to_numpy(), index=slice_of["pair_id"])
        human_labels = human["pair_id"].map(labels)
        judge_labels = pd.Series(verdicts.index.map(labels), index=verdicts.index)
        for value in sorted(set(labels)):
            part = _row(
                human[human_labels == value],
                verdicts[judge_labels == value],
                confidence,
            )
            rows.append({"slice": column, "value": value, **part})
    table = pd.DataFrame(rows, columns=list(AGREEMENT_COLUMNS))
    return table.astype({c: "int64" for c in _INT_COLUMNS})


def judge_eligible_slices(
    table: pd.DataFrame,
    min_pairs: int = 30,
    min_kappa: float = 0.6,
    max_abs_gap: float = 0.05,
) -> pd.DataFrame:
    """Rows of a :func:`judge_agreement_table` where the judge's agreement is proven.

    All of: ``n_pairs >= min_pairs``, ``kappa >= min_kappa``, and the gap's whole interval
    inside ``[-max_abs_gap, max_abs_gap]`` (bounds included). A NaN kappa or interval never
    qualifies.
    """
    kappa = table["kappa"].astype(float)
    low, high = table["gap_ci_low"].astype(float), table["gap_ci_high"].astype(float)
    mask = (
        (table["n_pairs"] >= min_pairs)
        & (kappa >= min_kappa)
        & (low >= -max_abs_gap)
        & (high <= max_abs_gap)
    )
    return table[mask.fillna(False)].reset_index(drop=True)
