"""Inter-reviewer agreement: pairwise agreement, Cohen's and Fleiss' kappa, majority votes."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from swapcheck.stats import CHOICE_VALUES, ROLE_VALUES, _check_judgments, position_bias


def _votes(judgments: pd.DataFrame, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Validated ``pair_id``/``choice`` (+ extra) columns with plain object values."""
    _check_judgments(judgments, ("pair_id", *extra))
    cols = ["pair_id", "choice", *extra]
    return judgments[cols].astype(object).reset_index(drop=True)


def _counts(votes: pd.DataFrame) -> pd.DataFrame:
    """Items x categories matrix of vote counts, columns in ``CHOICE_VALUES`` order."""
    counts = pd.crosstab(votes["pair_id"], votes["choice"])
    return counts.reindex(columns=list(CHOICE_VALUES), fill_value=0).astype("int64")


def pairwise_agreement(judgments: pd.DataFrame, include_ties: bool = True) -> dict[str, Any]:
    """Share of agreeing vote pairs among all unordered pairs of votes on the same pair_id.

    Votes are compared on the unblinded ``choice`` (storage already aligned the sides), so a
    left/right swap between reviewers does not matter. Pairs with fewer than two votes
    contribute nothing. With ``include_ties=False`` only vote pairs where both votes are
    decisive (baseline/candidate) are compared. Returns ``agreement`` (NaN when there is no
    comparison), ``n_comparisons`` and ``n_items`` (pair_ids with >= 1 comparison).
    """
    votes = _votes(judgments)
    if votes.empty:
        return {"agreement": math.nan, "n_comparisons": 0, "n_items": 0}
    counts = _counts(votes)
    if not include_ties:
        counts = counts[list(ROLE_VALUES)]
    c = counts.to_numpy(dtype=np.int64)
    n = c.sum(axis=1)
    per_item = n * (n - 1) // 2
    total = int(per_item.sum())
    agree = int((c * (c - 1) // 2).sum())
    return {
        "agreement": agree / total if total else math.nan,
        "n_comparisons": total,
        "n_items": int((per_item > 0).sum()),
    }


def _kappa_from_table(table: np.ndarray) -> float:
    """Cohen's kappa from a square contingency table; NaN if empty or chance agreement is 1."""
    n = float(table.sum())
    if n == 0:
        return math.nan
    p_o = float(np.trace(table)) / n
    p_e = float(table.sum(axis=1) @ table.sum(axis=0)) / (n * n)
    if math.isclose(p_e, 1.0):
        return math.nan
    return (p_o - p_e) / (1.0 - p_e)


def agreement_table(judgments: pd.DataFrame, rater_a: str, rater_b: str) -> pd.DataFrame:
    """4x4 contingency table (rows ``rater_a``, columns ``rater_b``) over pairs both judged.

    Raises ``ValueError`` if either reviewer judged a pair more than once.
    """
    votes = _votes(judgments, ("reviewer",))
    picked = []
    for rater in (rater_a, rater_b):
        mine = votes[votes["reviewer"] == rater]
        dup = mine["pair_id"].duplicated()
        if dup.any():
            example = mine.loc[dup, "pair_id"].iloc[0]
            raise ValueError(f"reviewer {rater!r} judged pair {example!r} more than once")
        picked.append(mine.set_index("pair_id")["choice"])
    both = pd.concat(picked, axis=1, keys=["a", "b"], join="inner")
    index = {c: i for i, c in enumerate(CHOICE_VALUES)}
    table = np.zeros((len(CHOICE_VALUES), len(CHOICE_VALUES)), dtype=np.int64)
    np.add.at(table, (both["a"].map(index).to_numpy(int), both["b"].map(index).to_numpy(int)), 1)
    frame = pd.DataFrame(table, index=list(CHOICE_VALUES), columns=list(CHOICE_VALUES))
    frame.index.name, frame.columns.name = rater_a, rater_b
    return frame


def cohens_kappa(judgments: pd.DataFrame, rater_a: str, rater_b: str) -> float:
    """Cohen's kappa between two reviewers on the pairs both judged.

    Categories are the four choices. ``kappa = (p_o - p_e) / (1 - p_e)`` with ``p_e`` from the
    two reviewers' marginals. NaN when they share no pair or ``p_e == 1`` (both always gave the
    same single answer, so kappa is undefined).
    """
    return _kappa_from_table(agreement_table(judgments, rater_a, rater_b).to_numpy(dtype=float))


def fleiss_kappa_report(judgments: pd.DataFrame) -> dict[str, Any]:
    """Fleiss' kappa with bookkeeping: ``kappa``, ``n_items``, ``n_raters``, ``n_dropped``.

    Fleiss' kappa needs the same number of votes per item. The number used is the most common
    vote count among pairs with at least two votes (ties broken towards more votes); pairs with
    a different count, including single-vote pairs, are dropped and counted in ``n_dropped``.
    Each vote is one rating, whoever gave it. ``kappa`` is NaN when no pair qualifies or
    expected agreement is 1.
    """
    votes = _votes(judgments)
    counts = _counts(votes) if not votes.empty else pd.DataFrame(columns=list(CHOICE_VALUES))
    n_votes = counts.sum(axis=1).astype("int64")
    eligible = n_votes[n_votes >= 2]
    if eligible.empty:
        return {"kappa": math.nan, "n_items": 0, "n_raters": 0, "n_dropped": int(len(counts))}
    freq = eligible.value_counts()
    n_raters = int(max(freq.index[freq == freq.max()]))
    keep = counts[n_votes == n_raters].to_numpy(dtype=float)
    n_items = keep.shape[0]
    p_j = keep.sum(axis=0) / (n_items * n_raters)
    p_i = ((keep * keep).sum(axis=1) - n_raters) / (n_raters * (n_raters - 1))
    p_bar, p_e = float(p_i.mean()), float(p_j @ p_j)
    kappa = math.nan if math.isclose(p_e, 1.0) else (p_bar - p_e) / (1.0 - p_e)
    return {
        "kappa": kappa,
        "n_items": int(n_items),
        "n_raters": n_raters,
        "n_dropped": int(len(counts) - n_items),
    }


def fleiss_kappa(judgments: pd.DataFrame) -> float:
    """Fleiss' kappa over pairs with the modal number of votes (see ``fleiss_kappa_report``).

    Dropped pairs are reported with a ``UserWarning`` naming how many were dropped.
    """
    report = fleiss_kappa_report(judgments)
    if report["n_dropped"]:
        warnings.warn(
            f"fleiss_kappa: dropped {report['n_dropped']} pair(s) without exactly "
            f"{report['n_raters']} votes; kappa uses {report['n_items']} pair(s)",
            UserWarning,
            stacklevel=2,
        )
    return float(report["kappa"])


def majority_vote(judgments: pd.DataFrame) -> pd.DataFrame:
    """One row per ``pair_id``: the majority ``choice``, ``n_votes`` and ``n_majority``.

    When two or more choices share the top count the pair's choice is ``tie`` (the reviewers
    disagree, so no side is preferred); ``n_majority`` is then that shared top count.
    Rows are sorted by ``pair_id``.
    """
    columns = ["pair_id", "choice", "n_votes", "n_majority"]
    votes = _votes(judgments)
    if votes.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=object if c in columns[:2] else "int64") for c in columns}
        )
    counts = _counts(votes)
    c = counts.to_numpy(dtype=np.int64)
    top = c.max(axis=1)
    n_top = (c == top[:, None]).sum(axis=1)
    winner = np.array(CHOICE_VALUES, dtype=object)[c.argmax(axis=1)]
    choice = np.where(n_top > 1, "tie", winner).astype(object)
    return pd.DataFrame(
        {
            "pair_id": counts.index.to_numpy(dtype=object),
            "choice": choice,
            "n_votes": c.sum(axis=1).astype("int64"),
            "n_majority": top.astype("int64"),
        },
        columns=columns,
    )


def position_bias_by_reviewer(judgments: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per reviewer: left-pick rate on decisive votes with its Wilson interval.

    Columns ``reviewer``, ``n`` (decisive votes), ``left_picks``, ``left_pick_rate`` (NaN if
    ``n == 0``), ``ci_low``, ``ci_high``; one row per reviewer, sorted by reviewer. Computed
    with ``stats.position_bias`` on each reviewer's judgments.
    """
    _check_judgments(judgments, ("reviewer", "left_role"))
    rows = []
    for reviewer, group in judgments.groupby(judgments["reviewer"].astype(object), sort=True):
        bias = position_bias(group, confidence)
        rows.append(
            {
                "reviewer": reviewer,
                "n": bias["n_decisive"],
                "left_picks": bias["left_picks"],
                "left_pick_rate": bias["left_pick_rate"],
                "ci_low": bias["ci_low"],
                "ci_high": bias["ci_high"],
            }
        )
    columns = ["reviewer", "n", "left_picks", "left_pick_rate", "ci_low", "ci_high"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype(
        {
            "reviewer": object,
            "n": "int64",
            "left_picks": "int64",
            "left_pick_rate": float,
            "ci_low": float,
            "ci_high": float,
        }
    )
