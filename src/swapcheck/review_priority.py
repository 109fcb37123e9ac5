"""Prioritised review order: contested/uniform strata, their interleaving, and selection weights.

Within each queue slice the pairs split into two strata, *contested* (evaluators or an LLM
judge saw a difference) and the rest; each stratum keeps the study's salted random order, and
the queue interleaves them so that a share ``q`` of the next pairs is contested and at least
``1 - q`` (never under ``MIN_UNIFORM_SHARE``) comes from the rest, until one runs out. So in
every (slice, stratum) the judged pairs are a uniformly random prefix of a random order, and
the post-stratified mean ``sum_h (N_sh / N_s) mean_sh`` is unbiased for the slice;
:func:`selection_weights` gives each judgment the matching weight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from swapcheck.errors import ConfigError
from swapcheck.stats_sequential import (
    StratumData,
    Verdict,
    predicted_full_review,
    slice_decision,
    stratified_interval,
)

DEFAULT_CONTESTED_SHARE = 0.7
MIN_UNIFORM_SHARE = 0.2
"""The share of next pairs always drawn from the not-contested stratum (while it has pairs)."""

GROUP_BELOW_MINIMUM, GROUP_UNDECIDED, GROUP_DECIDED = 0, 1, 2
STOP_RULES: tuple[str, ...] = ("full_review", "bound")
"""``full_review``: stop when the verdict of judging every pair is known (finite-population
sequence, any colour); ``bound``: stop when the traffic win rate's sequence clears 0.5 - margin."""


@dataclass(frozen=True)
class PrioritySettings:
    """A study's prioritised-review setting (``review_priority.<study id>``)."""

    enabled: bool = False
    contested_share: float = DEFAULT_CONTESTED_SHARE
    stop_decided_slices: bool = True
    stop_rule: str = "full_review"

    def as_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "contested_share": self.contested_share,
            "stop_decided_slices": self.stop_decided_slices,
            "stop_rule": self.stop_rule,
        }


def parse_priority_settings(value: object) -> PrioritySettings:
    """Validate a stored setting (None: the default, disabled)."""
    if value is None:
        return PrioritySettings()
    fix = (
        'Store an object like {"enabled": true, "contested_share": 0.7, '
        '"stop_decided_slices": true}.'
    )
    if not isinstance(value, Mapping):
        raise ConfigError("The review priority setting is not a JSON object.", fix)
    keys = {"enabled", "contested_share", "stop_decided_slices", "stop_rule"}
    unknown = sorted(set(value) - keys)
    if unknown:
        raise ConfigError(f"Unknown review priority option {unknown[0]!r}.", fix)
    enabled = value.get("enabled", False)
    stop = value.get("stop_decided_slices", True)
    share = value.get("contested_share", DEFAULT_CONTESTED_SHARE)
    for name, flag in (("enabled", enabled), ("stop_decided_slices", stop)):
        if not isinstance(flag, bool):
            raise ConfigError(f"Review priority option {name!r} must be true or false.", fix)
    if isinstance(share, bool) or not isinstance(share, int | float):
        raise ConfigError("Review priority option 'contested_share' must be a number.", fix)
    if not 0.0 <= float(share) <= 1.0 - MIN_UNIFORM_SHARE:
        raise ConfigError(
            f"contested_share {share!r} is outside [0, {1.0 - MIN_UNIFORM_SHARE:g}].",
            f"Keep at least {MIN_UNIFORM_SHARE:.0%} of the queue uniform: use a share "
            f"between 0 and {1.0 - MIN_UNIFORM_SHARE:g}.",
        )
    rule = value.get("stop_rule", "full_review")
    if rule not in STOP_RULES:
        raise ConfigError(
            f"Unknown review priority stop_rule {rule!r}.", f"Use one of {', '.join(STOP_RULES)}."
        )
    return PrioritySettings(bool(enabled), float(share), bool(stop), str(rule))


def interleave_keys(contested: np.ndarray, share: float) -> np.ndarray:
    """A sort key per item (items given in the salted order) interleaving the two strata.

    The k-th contested item gets ``k / share`` and the j-th other item ``j / (1 - share)``;
    sorting by (key, contested first) serves contested items at rate ``share`` and the rest at
    ``1 - share``, each stratum in its given order, and a stratum that runs out leaves the
    other to continue. ``share = 0`` puts every contested item after the rest.
    """
    flags = np.asarray(contested, dtype=bool)
    rank_c = np.cumsum(flags) - 1
    rank_u = np.cumsum(~flags) - 1
    uniform_key = rank_u / (1.0 - share)
    after_all = float(flags.size) / (1.0 - share) + rank_c
    contested_key = rank_c / share if share > 0 else after_all
    return np.where(flags, contested_key, uniform_key)


def priority_order(
    slices: Sequence[object] | np.ndarray,
    contested: Sequence[bool] | np.ndarray,
    groups: Sequence[int] | np.ndarray,
    share: float,
) -> np.ndarray:
    """Row indices (rows given in the salted order) in prioritised queue order.

    ``groups`` ranks each row's slice (below minimum 0, undecided 1, decided 2); lower groups
    come first. Within a slice the strata are interleaved (:func:`interleave_keys`); slices of
    one group are merged by progress through their own order (rank / slice size), so each
    advances in proportion to its size, as in a random order.
    """
    labels = np.asarray(slices, dtype=object)
    flags = np.asarray(contested, dtype=bool)
    group = np.asarray(groups, dtype=np.int64)
    n = labels.size
    if not flags.size == group.size == n:
        raise ValueError("slices, contested and groups must have one entry per row")
    codes, _ = pd.factorize(labels, use_na_sentinel=False)
    progress = np.zeros(n, dtype=float)
    for code in np.unique(codes):
        rows = np.flatnonzero(codes == code)
        keys = interleave_keys(flags[rows], share)
        within = np.lexsort((rows, ~flags[rows], keys))  # key, contested first, salted order
        rank = np.empty(rows.size, dtype=float)
        rank[within] = np.arange(rows.size)
        progress[rows] = (rank + 0.5) / rows.size
    return np.lexsort((np.arange(n), progress, group)).astype(np.int64)


def slice_decisions(
    population: pd.DataFrame,
    outcomes: pd.DataFrame,
    margin: float,
    alpha: float = 0.05,
    rule: str = "full_review",
    overlap: int = 1,
) -> dict[str, Verdict | None]:
    """The stopping rule's decision per slice (``stats_sequential``), None while undecided.

    ``population``: one row per ready pair, ``slice`` and ``contested``. ``outcomes``: one row
    per fully judged pair, ``slice``, ``contested`` and ``score`` (its judgments' mean), in
    queue order within each stratum (the study's salted order). ``rule`` (``STOP_RULES``):
    ``full_review`` gives the verdict judging every pair ``overlap`` times would give
    (go / no-go / inconclusive) once the finite-population sequence pins it down; ``bound``
    gives go / no-go once the traffic win rate's sequence clears ``0.5 - margin``.
    """
    if rule not in STOP_RULES:
        raise ValueError(f"rule must be one of {STOP_RULES}, got {rule!r}")
    sizes = population.groupby(["slice", "contested"]).size()
    totals = population.groupby("slice").size()
    by_stratum = {
        key: group["score"].to_numpy(float)
        for key, group in outcomes.groupby(["slice", "contested"], sort=False)
    }
    decisions: dict[str, Verdict | None] = {}
    for slice_value, total in totals.items():
        strata = [
            StratumData(
                share=int(sizes.get((slice_value, flag), 0)) / int(total),
                outcomes=by_stratum.get((slice_value, flag), np.empty(0)),
                size=int(sizes.get((slice_value, flag), 0)) or None,
            )
            for flag in (True, False)
        ]
        finite = rule == "full_review"
        low, high = stratified_interval(strata, alpha, finite=finite)
        decisions[str(slice_value)] = (
            predicted_full_review(low, high, overlap * int(total), margin)
            if finite
            else slice_decision(low, high, margin)
        )
    return decisions


def selection_weights(judgments: pd.DataFrame, strata: pd.DataFrame) -> pd.Series:
    """Per judgment, the inverse of its pair's selection probability within its slice.

    ``strata`` has one row per ready pair: ``pair_id``, ``slice``, ``contested``. A judgment of
    pair p in slice s and stratum h weighs ``N_sh / (n_sh * k_p)``: N_sh pairs in the stratum,
    n_sh of them judged, k_p live judgments of p. A slice's weights sum to N_s, so the weighted
    mean is the post-stratified estimate ``sum_h (N_sh / N_s) mean_sh``.
    """
    missing = {"pair_id", "slice", "contested"} - set(strata.columns)
    if missing or "pair_id" not in judgments.columns:
        raise ValueError("strata needs pair_id, slice, contested; judgments needs pair_id")
    population = strata.drop_duplicates("pair_id").set_index("pair_id")
    known = judgments["pair_id"].isin(population.index)
    if not bool(known.all()):
        unknown = judgments.loc[~known, "pair_id"].iloc[0]
        raise ValueError(f"judged pair {unknown!r} is not among the strata's pairs")
    sizes = population.groupby(["slice", "contested"]).size()
    info = population.loc[judgments["pair_id"], ["slice", "contested"]].reset_index()
    info["k"] = judgments.groupby("pair_id")["pair_id"].transform("size").to_numpy()
    judged = info.drop_duplicates("pair_id").groupby(["slice", "contested"]).size()
    keys = pd.MultiIndex.from_frame(info[["slice", "contested"]])
    weights = sizes.reindex(keys).to_numpy(float) / judged.reindex(keys).to_numpy(float)
    return pd.Series(weights / info["k"].to_numpy(float), index=judgments.index, name="weight")


__all__ = [
    "DEFAULT_CONTESTED_SHARE",
    "GROUP_BELOW_MINIMUM",
    "GROUP_DECIDED",
    "GROUP_UNDECIDED",
    "MIN_UNIFORM_SHARE",
    "STOP_RULES",
    "PrioritySettings",
    "interleave_keys",
    "parse_priority_settings",
    "priority_order",
    "selection_weights",
    "slice_decisions",
]
