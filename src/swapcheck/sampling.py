"""Study sampling: prompt filters, stratified allocation and reproducible samples with their pi."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from swapcheck.errors import StudyError
from swapcheck.models import canonical_json

MISSING = "(missing)"
"""Label of an absent or null slice value, in filters, stratum labels and the UI.

A filter value ``MISSING`` (or ``None``) matches prompts whose slice value is absent or null; a
literal ``"(missing)"`` string in a log is indistinguishable from it and is treated the same.
"""
ALL_STRATUM = "all"
"""Stratum label of an unstratified sample (one stratum holding the whole population)."""
ALLOCATION_COLUMNS = ["stratum", "population", "sample", "inclusion_probability"]
RESERVED_COLUMNS = ("prompt_id", "weight", "stratum", "inclusion_probability")


def _naive_utc(value: datetime | str | None) -> datetime | None:
    """A naive UTC datetime (``logged_at`` is stored naive, in UTC); aware values are converted."""
    if value is None or value == "":
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


@dataclass(frozen=True)
class PromptFilter:
    """Which prompts a study may draw from; every condition is ANDed, an empty one matches all.

    * ``slice_values``: per slice column the accepted values (ORed within a column); the value
      ``MISSING`` (or ``None``) accepts prompts where the column is absent or null.
    * ``logged_from`` (inclusive) and ``logged_to`` (exclusive) bound ``prompts.logged_at``;
      once either is set, prompts without a ``logged_at`` are left out.
    * ``text_search``: case-insensitive substring of the prompt text, taken literally
      (``%`` and ``_`` are not wildcards).
    * ``source_ids``: narrows the study's sources; empty means all of them.
    """

    slice_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    logged_from: datetime | None = None
    logged_to: datetime | None = None
    text_search: str = ""
    source_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        values = {
            str(col): tuple(MISSING if v is None else str(v) for v in vals)
            for col, vals in self.slice_values.items()
        }
        object.__setattr__(self, "slice_values", values)
        object.__setattr__(self, "logged_from", _naive_utc(self.logged_from))
        object.__setattr__(self, "logged_to", _naive_utc(self.logged_to))
        object.__setattr__(self, "text_search", (self.text_search or "").strip())
        object.__setattr__(self, "source_ids", tuple(self.source_ids))
        if self.logged_from and self.logged_to and self.logged_from >= self.logged_to:
            raise StudyError(
                f"The time range {self.logged_from} to {self.logged_to} is empty.",
                "Pick a start before the end.",
            )

    @property
    def is_empty(self) -> bool:
        """True when the filter accepts every prompt of the sources."""
        return not (
            any(self.slice_values.values())
            or self.logged_from
            or self.logged_to
            or self.text_search
            or self.source_ids
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "slice_values": {col: list(vals) for col, vals in self.slice_values.items()},
            "logged_from": self.logged_from.isoformat() if self.logged_from else None,
            "logged_to": self.logged_to.isoformat() if self.logged_to else None,
            "text_search": self.text_search,
            "source_ids": list(self.source_ids),
        }

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptFilter:
        return cls(
            slice_values={c: tuple(v) for c, v in (data.get("slice_values") or {}).items()},
            logged_from=_naive_utc(data.get("logged_from")),
            logged_to=_naive_utc(data.get("logged_to")),
            text_search=data.get("text_search") or "",
            source_ids=tuple(data.get("source_ids") or ()),
        )

    @classmethod
    def from_json(cls, text: str) -> PromptFilter:
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class SamplePlan:
    """How many prompts to draw (``None`` = all), stratified by ``strata`` slice columns.

    Every stratum gets at least ``min(min_per_stratum, N_h)`` prompts, so each prompt has a
    positive inclusion probability and re-weighting by ``1 / pi`` recovers the population.
    Without ``strata`` the whole population is one stratum (``ALL_STRATUM``) and the minimum
    does not apply. Draws are reproducible from ``seed``.
    """

    size: int | None = None
    strata: tuple[str, ...] = ()
    min_per_stratum: int = 30
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "strata", tuple(self.strata))
        if self.size is not None and self.size < 1:
            raise StudyError(
                f"A sample size of {self.size} draws nothing.",
                "Give a positive sample size, or none to take every prompt.",
            )
        if self.min_per_stratum < 1:
            raise StudyError(
                f"A minimum of {self.min_per_stratum} per stratum could leave a stratum empty.",
                "Use a minimum of at least 1 so every prompt can be drawn.",
            )
        if self.seed < 0:
            raise StudyError(f"Seed {self.seed} is negative.", "Use a seed of 0 or more.")
        if len(set(self.strata)) != len(self.strata):
            raise StudyError("A stratify column is listed twice.", "Name each column once.")
        clash = [c for c in self.strata if c in RESERVED_COLUMNS]
        if clash:
            raise StudyError(
                f"Slice column {clash[0]!r} cannot be used to stratify (its name is reserved).",
                "Stratify by other columns, or re-ingest with the column renamed.",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "strata": list(self.strata),
            "min_per_stratum": self.min_per_stratum,
            "seed": self.seed,
        }

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplePlan:
        return cls(
            size=data.get("size"),
            strata=tuple(data.get("strata") or ()),
            min_per_stratum=int(data.get("min_per_stratum", 30)),
            seed=int(data.get("seed", 0)),
        )

    @classmethod
    def from_json(cls, text: str) -> SamplePlan:
        return cls.from_dict(json.loads(text))


def _floors(sizes: dict[str, int], minimum: int) -> dict[str, int]:
    return {h: min(minimum, n) for h, n in sizes.items()}


def _largest_workable_minimum(sizes: dict[str, int], size: int) -> int:
    """The largest per-stratum minimum whose floors fit in ``size`` (0 when none does)."""
    best = 0
    for candidate in range(1, max(sizes.values(), default=0) + 1):
        if sum(_floors(sizes, candidate).values()) > size:
            break
        best = candidate
    return best


def _check_floors_fit(sizes: dict[str, int], size: int, minimum: int) -> None:
    needed = sum(_floors(sizes, minimum).values())
    if needed <= size:
        return
    lower = _largest_workable_minimum(sizes, size)
    alternative = (
        f"or lower the minimum per stratum to {lower}"
        if lower >= 1
        else "or stratify by fewer columns"
    )
    raise StudyError(
        f"A sample of {size} cannot give each of the {len(sizes)} strata its minimum of "
        f"{minimum} prompts ({needed} needed).",
        f"Sample at least {needed} prompts, {alternative}.",
    )


def _round_largest_remainder(
    shares: dict[str, tuple[int, int]], total: int, denominator: int
) -> dict[str, int]:
    """Integer parts of exact shares ``numerator / denominator`` plus one for the largest
    remainders (ties by stratum label) until they add up to ``total``."""
    result = {h: num // denominator for h, (num, _) in shares.items()}
    left = total - sum(result.values())
    by_remainder = sorted(shares, key=lambda h: (-(shares[h][0] % denominator), h))
    for h in by_remainder[:left]:
        result[h] += 1
    return result


def allocate(stratum_sizes: dict[str, int], size: int | None, minimum: int) -> dict[str, int]:
    """Sample size per stratum: proportional to ``N_h`` (largest remainder), at least
    ``min(minimum, N_h)`` and at most ``N_h``; adds up to ``size`` (every prompt when ``size``
    is ``None`` or not below the population). Raises ``StudyError`` when the floors alone
    exceed ``size``."""
    if any(n < 0 for n in stratum_sizes.values()) or minimum < 0:
        raise ValueError("stratum sizes and the minimum must be >= 0")
    sizes = {h: int(n) for h, n in stratum_sizes.items()}
    total = sum(sizes.values())
    if size is None or size >= total:
        return dict(sizes)
    if size < 0:
        raise ValueError("sample size must be >= 0")
    _check_floors_fit(sizes, size, minimum)
    fixed = {h: f for h, f in _floors(sizes, minimum).items() if f == sizes[h]}
    while True:
        free = {h: n for h, n in sizes.items() if h not in fixed}
        left, free_total = size - sum(fixed.values()), sum(free.values())
        raised = {h: min(minimum, n) for h, n in free.items() if left * n < minimum * free_total}
        if not raised:
            break
        fixed.update(raised)
    if not free_total:
        return {h: fixed.get(h, 0) for h in sizes}
    shares = {h: (left * n, free_total) for h, n in free.items()}
    rounded = _round_largest_remainder(shares, left, free_total)
    return {h: min(sizes[h], fixed.get(h, rounded.get(h, 0))) for h in sizes}


def stratum_labels(frame: pd.DataFrame, strata: tuple[str, ...]) -> pd.Series:
    """``"col=value | col2=value2"`` per row (``MISSING`` for null); ``ALL_STRATUM`` if none."""
    if not strata:
        return pd.Series(ALL_STRATUM, index=frame.index, dtype=object)
    parts = [
        col + "=" + frame[col].astype(object).where(frame[col].notna(), MISSING).astype(str)
        for col in strata
    ]
    labels = parts[0]
    for part in parts[1:]:
        labels = labels + " | " + part
    return labels.astype(object)


def _stratum_rng(seed: int, label: str) -> np.random.Generator:
    """A generator per (seed, stratum): a stratum's draw does not depend on the others."""
    digest = hashlib.sha256(label.encode("utf-8")).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "big")])


def _check_population(population: pd.DataFrame, strata: tuple[str, ...]) -> None:
    missing = [c for c in ("prompt_id", *strata) if c not in population.columns]
    if missing:
        raise ValueError(f"population lacks column(s) {missing}")
    if population["prompt_id"].duplicated().any():
        raise ValueError("population has duplicate prompt_id values")


def _labelled(population: pd.DataFrame, plan: SamplePlan) -> pd.DataFrame:
    """``prompt_id`` and ``stratum`` label per prompt, sorted by prompt_id."""
    _check_population(population, plan.strata)
    frame = population.sort_values("prompt_id", kind="stable").reset_index(drop=True)
    return pd.DataFrame(
        {"prompt_id": frame["prompt_id"], "stratum": stratum_labels(frame, plan.strata)}
    )


def _allocation(labelled: pd.DataFrame, plan: SamplePlan) -> pd.DataFrame:
    sizes = labelled["stratum"].value_counts().sort_index()
    population = {str(h): int(n) for h, n in sizes.items()}
    minimum = plan.min_per_stratum if plan.strata else 1  # one stratum: no minimum to keep
    counts = allocate(population, plan.size, minimum)
    return pd.DataFrame(
        {
            "stratum": list(population),
            "population": list(population.values()),
            "sample": [counts[h] for h in population],
            "inclusion_probability": [counts[h] / n for h, n in population.items()],
        },
        columns=ALLOCATION_COLUMNS,
    )


def allocation_table(population: pd.DataFrame, plan: SamplePlan) -> pd.DataFrame:
    """Per stratum (sorted by label): ``population`` N_h, ``sample`` n_h and the
    ``inclusion_probability`` n_h / N_h that ``stratified_sample`` will use."""
    return _allocation(_labelled(population, plan), plan)


def _draw(members: np.ndarray, n: int, seed: int, label: str) -> np.ndarray:
    """``n`` of ``members`` (sorted) without replacement; all of them when ``n`` covers them."""
    if n >= len(members):
        return members
    picks = _stratum_rng(seed, label).choice(len(members), n, replace=False)
    return np.sort(members[picks])


def stratified_sample(population: pd.DataFrame, plan: SamplePlan) -> pd.DataFrame:
    """Simple random sample without replacement within each stratum, reproducible from
    ``plan.seed`` whatever the input row order. Columns: ``prompt_id``, ``stratum``,
    ``inclusion_probability`` (``n_h / N_h``); rows sorted by stratum, then prompt_id."""
    labelled = _labelled(population, plan)
    groups = dict(tuple(labelled.groupby("stratum", sort=True)["prompt_id"]))
    chosen = [
        pd.DataFrame(
            {
                "prompt_id": _draw(groups[h].to_numpy(), n_h, plan.seed, h),
                "stratum": h,
                "inclusion_probability": n_h / big_n,
            }
        )
        for h, big_n, n_h in _allocation(labelled, plan)[
            ["stratum", "population", "sample"]
        ].itertuples(index=False)
    ]
    if not chosen:
        return pd.DataFrame(
            {
                "prompt_id": pd.Series(dtype=object),
                "stratum": pd.Series(dtype=object),
                "inclusion_probability": pd.Series(dtype=float),
            }
        )
    return pd.concat(chosen, ignore_index=True)


def horvitz_thompson_total(sample: pd.DataFrame, value: str | None = None) -> float:
    """Horvitz-Thompson estimate of a population total: ``sum(value / pi)`` (count if no value)."""
    weights = 1.0 / sample["inclusion_probability"].to_numpy(dtype=float)
    values = np.ones(len(sample)) if value is None else sample[value].to_numpy(dtype=float)
    return float(np.sum(values * weights))


def parse_where(items: list[str] | tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """``["locale=de-DE", "locale=fr-FR", "tier=pro"]`` → ``{"locale": ("de-DE", "fr-FR"),
    "tier": ("pro",)}``: values of one column are ORed, columns ANDed."""
    values: dict[str, tuple[str, ...]] = {}
    for item in items:
        column, sep, value = item.partition("=")
        if not sep or not column.strip():
            raise StudyError(
                f"{item!r} is not COLUMN=VALUE.",
                f"Write e.g. locale=de-DE (use {MISSING} for prompts without a value).",
            )
        column = column.strip()
        if value not in values.get(column, ()):
            values[column] = (*values.get(column, ()), value)
    return values


def parse_time_bound(text: str, *, end: bool = False) -> datetime:
    """An ISO date or date-time; a bare date as an end bound means the end of that day
    (``logged_to`` is exclusive, so it becomes midnight of the next day)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None:
        start = datetime.combine(day, datetime.min.time())
        return start + timedelta(days=1) if end else start
    try:
        moment = _naive_utc(text.strip())
    except ValueError:
        moment = None
    if moment is None:
        raise StudyError(
            f"{text!r} is not an ISO date or time.", "Write e.g. 2024-05-01 or 2024-05-01T13:30."
        )
    return moment
