"""Study sampling: allocation by hand, sampling properties, the skewed-log acceptance case."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swapcheck import stats
from swapcheck.errors import StudyError
from swapcheck.sampling import (
    ALL_STRATUM,
    MISSING,
    PromptFilter,
    SamplePlan,
    allocate,
    allocation_table,
    horvitz_thompson_total,
    parse_time_bound,
    parse_where,
    stratified_sample,
    stratum_labels,
)
from swapcheck.stats_decisions import reweighted_win_rate

# -- allocation, hand-computed ---------------------------------------------------------------


def test_exactly_proportional_allocation() -> None:
    assert allocate({"a": 50, "b": 150, "c": 300}, 100, 10) == {"a": 10, "b": 30, "c": 60}


def test_largest_remainder_rounding() -> None:
    # shares 3.33 and 6.67: the larger remainder gets the spare unit
    assert allocate({"x": 10, "y": 20}, 10, 1) == {"x": 3, "y": 7}
    # equal remainders: ties go to the first labels, deterministically
    assert allocate({"c": 1, "a": 1, "b": 1}, 2, 0) == {"c": 0, "a": 1, "b": 1}


def test_small_strata_are_taken_whole_and_the_minimum_is_topped_up() -> None:
    # a (5 <= 30) is taken whole; b's share 95*100/1100 = 8.6 is raised to 30; c gets the rest
    assert allocate({"a": 5, "b": 100, "c": 1000}, 100, 30) == {"a": 5, "b": 30, "c": 65}


def test_raising_one_stratum_can_push_another_below_its_minimum() -> None:
    # shares 73 / 22 / 5: c is raised to 20, which leaves b 80*220/950 = 18.5 < 20, so b is too
    assert allocate({"a": 730, "b": 220, "c": 50}, 100, 20) == {"a": 60, "b": 20, "c": 20}


def test_all_when_size_is_none_or_covers_the_population() -> None:
    sizes = {"a": 3, "b": 7}
    assert allocate(sizes, None, 30) == sizes
    assert allocate(sizes, 10, 30) == sizes
    assert allocate(sizes, 500, 30) == sizes


def test_floors_that_do_not_fit_name_the_smallest_size_and_a_lower_minimum() -> None:
    with pytest.raises(StudyError) as info:
        allocate({"a": 100, "b": 100, "c": 100}, 50, 30)
    assert "90 needed" in info.value.message
    # 3 * 16 = 48 <= 50 < 51 = 3 * 17
    assert info.value.fix == "Sample at least 90 prompts, or lower the minimum per stratum to 16."
    # the sizes it names do work
    assert sum(allocate({"a": 100, "b": 100, "c": 100}, 90, 30).values()) == 90
    assert sum(allocate({"a": 100, "b": 100, "c": 100}, 50, 16).values()) == 50


def test_more_strata_than_sample_suggests_fewer_strata() -> None:
    with pytest.raises(StudyError) as info:
        allocate({"a": 5, "b": 5, "c": 5}, 2, 1)
    assert info.value.fix == "Sample at least 3 prompts, or stratify by fewer columns."


def test_floor_counts_small_strata_at_their_size() -> None:
    # floors are min(30, N_h) = 2 + 30 = 32
    assert allocate({"tiny": 2, "big": 1000}, 32, 30) == {"tiny": 2, "big": 30}
    with pytest.raises(StudyError, match="32 needed"):
        allocate({"tiny": 2, "big": 1000}, 31, 30)


# -- allocation and sampling, properties -----------------------------------------------------

sizes_strategy = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=3), st.integers(1, 300), min_size=1, max_size=8
)


@given(sizes=sizes_strategy, minimum=st.integers(0, 40), data=st.data())
@settings(max_examples=300, deadline=None)
def test_allocation_properties(sizes: dict[str, int], minimum: int, data: st.DataObject) -> None:
    total = sum(sizes.values())
    size = data.draw(st.integers(1, total))
    floors = {h: min(minimum, n) for h, n in sizes.items()}
    if sum(floors.values()) > size:
        with pytest.raises(StudyError):
            allocate(sizes, size, minimum)
        return
    counts = allocate(sizes, size, minimum)
    assert set(counts) == set(sizes)
    assert sum(counts.values()) == size
    for h, n in sizes.items():
        assert floors[h] <= counts[h] <= n


def population_of(sizes: dict[str, int]) -> pd.DataFrame:
    rows = [(f"p_{h}_{i:04d}", h) for h, n in sizes.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["prompt_id", "tier"])


@given(sizes=sizes_strategy, minimum=st.integers(1, 40), seed=st.integers(0, 2**32), data=st.data())
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_sample_properties(
    sizes: dict[str, int], minimum: int, seed: int, data: st.DataObject
) -> None:
    population = population_of(sizes)
    big_n = len(population)
    floors = {f"tier={h}": min(minimum, n) for h, n in sizes.items()}
    size = data.draw(st.integers(sum(floors.values()), big_n))
    plan = SamplePlan(size=size, strata=("tier",), min_per_stratum=minimum, seed=seed)
    sample = stratified_sample(population, plan)
    assert len(sample) == size
    assert sample["prompt_id"].is_unique
    assert set(sample["prompt_id"]) <= set(population["prompt_id"])
    per_stratum = sample["stratum"].value_counts()
    for label, floor in floors.items():
        n_h = sizes[label.removeprefix("tier=")]
        assert floor <= per_stratum[label] <= n_h
        got = sample.loc[sample["stratum"] == label, "inclusion_probability"]
        assert np.allclose(got, per_stratum[label] / n_h)
    assert abs((1.0 / sample["inclusion_probability"]).sum() - big_n) < 1e-9
    # same seed, same sample, whatever the input order
    shuffled = population.sample(frac=1.0, random_state=seed % 1000).reset_index(drop=True)
    assert stratified_sample(shuffled, plan).equals(sample)


def test_different_seeds_usually_give_different_samples() -> None:
    population = population_of({"a": 600, "b": 400})
    samples = {
        tuple(stratified_sample(population, SamplePlan(100, ("tier",), 30, seed))["prompt_id"])
        for seed in range(10)
    }
    assert len(samples) == 10


def test_a_strata_draw_does_not_depend_on_the_other_strata() -> None:
    small = stratified_sample(population_of({"a": 100, "b": 100}), SamplePlan(60, ("tier",), 5, 4))
    more = stratified_sample(
        population_of({"a": 100, "b": 100, "c": 100}), SamplePlan(90, ("tier",), 5, 4)
    )
    pick_a = small.loc[small.stratum == "tier=a", "prompt_id"].tolist()
    assert pick_a == more.loc[more.stratum == "tier=a", "prompt_id"].tolist()


# -- acceptance: a skewed log ----------------------------------------------------------------


def skewed_log() -> pd.DataFrame:
    """10 000 prompts: enterprise 0.5 %, pro 19.5 %, free 80 %."""
    tiers = ["enterprise"] * 50 + ["pro"] * 1950 + ["free"] * 8000
    rng = np.random.default_rng(11)
    order = rng.permutation(len(tiers))
    return pd.DataFrame(
        {"prompt_id": [f"p{i:05d}" for i in range(len(tiers))], "tier": np.array(tiers)[order]}
    )


def test_skewed_log_gives_the_rare_stratum_its_minimum_and_reweights_exactly() -> None:
    population = skewed_log()
    plan = SamplePlan(size=400, strata=("tier",), min_per_stratum=30, seed=0)
    sample = stratified_sample(population, plan)
    counts = sample["stratum"].value_counts().to_dict()
    # proportional would give enterprise 2; the floor lifts it to 30 and the other 370 are shared
    # 1950:8000, i.e. 72.51 and 297.49, rounded by largest remainder
    assert counts == {"tier=enterprise": 30, "tier=pro": 73, "tier=free": 297}
    assert len(sample) == 400
    assert horvitz_thompson_total(sample) == pytest.approx(10_000, abs=1e-9)
    # per-stratum totals and so the traffic mix are recovered exactly
    for tier, n_h in {"enterprise": 50, "pro": 1950, "free": 8000}.items():
        part = sample[sample["stratum"] == f"tier={tier}"]
        assert horvitz_thompson_total(part) == pytest.approx(n_h, abs=1e-9)


def test_reweighting_recovers_the_population_win_rate() -> None:
    """The candidate wins on every enterprise prompt only: 0.5 % of the traffic, 7.5 % of the
    sample. Weighting by 1 / pi gives back the population rate."""
    sample = stratified_sample(skewed_log(), SamplePlan(400, ("tier",), 30, 0))
    judgments = pd.DataFrame(
        {
            "choice": np.where(sample["stratum"] == "tier=enterprise", "candidate", "baseline"),
            "weight": 1.0 / sample["inclusion_probability"],
        }
    )
    result = reweighted_win_rate(judgments)
    assert result["unweighted_win_rate"] == pytest.approx(30 / 400)
    assert result["win_rate"] == pytest.approx(50 / 10_000, abs=1e-12)


def test_allocation_table_matches_the_sample() -> None:
    population = skewed_log()
    plan = SamplePlan(400, ("tier",), 30, 5)
    table = allocation_table(population, plan)
    assert table.columns.tolist() == ["stratum", "population", "sample", "inclusion_probability"]
    assert table["stratum"].tolist() == ["tier=enterprise", "tier=free", "tier=pro"]
    assert table["population"].sum() == 10_000 and table["sample"].sum() == 400
    sample = stratified_sample(population, plan)
    assert sample.groupby("stratum").size().to_dict() == dict(
        zip(table["stratum"], table["sample"], strict=True)
    )


# -- strata labels and edge cases ------------------------------------------------------------


def test_labels_join_columns_and_show_missing() -> None:
    frame = pd.DataFrame({"locale": ["de", None, "fr"], "tier": ["pro", "free", None]})
    labels = stratum_labels(frame, ("locale", "tier"))
    assert labels.tolist() == [
        "locale=de | tier=pro",
        "locale=(missing) | tier=free",
        "locale=fr | tier=(missing)",
    ]
    assert stratum_labels(frame, ()).tolist() == [ALL_STRATUM] * 3
    assert stats.MISSING == MISSING  # the Results page shows the same label


def test_unstratified_sample_and_sample_of_everything() -> None:
    population = population_of({"a": 30, "b": 70})
    srs = stratified_sample(population, SamplePlan(size=10, seed=1))
    assert len(srs) == 10 and set(srs["stratum"]) == {ALL_STRATUM}
    assert srs["inclusion_probability"].tolist() == [0.1] * 10  # no strata: no minimum of 30
    everything = stratified_sample(population, SamplePlan(strata=("tier",)))
    assert len(everything) == 100 and set(everything["inclusion_probability"]) == {1.0}


def test_empty_population_gives_an_empty_sample() -> None:
    empty = pd.DataFrame({"prompt_id": pd.Series(dtype=object), "tier": pd.Series(dtype=object)})
    sample = stratified_sample(empty, SamplePlan(10, ("tier",)))
    assert sample.empty and sample.columns.tolist() == [
        "prompt_id",
        "stratum",
        "inclusion_probability",
    ]


def test_duplicate_prompts_or_missing_columns_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        stratified_sample(pd.DataFrame({"prompt_id": ["a", "a"]}), SamplePlan())
    with pytest.raises(ValueError, match="tier"):
        stratified_sample(pd.DataFrame({"prompt_id": ["a"]}), SamplePlan(strata=("tier",)))


@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({"size": 0}, "positive sample size"),
        ({"min_per_stratum": 0}, "at least 1"),
        ({"seed": -1}, "0 or more"),
        ({"strata": ("a", "a")}, "each column once"),
        ({"strata": ("weight",)}, "renamed"),
    ],
)
def test_invalid_plans_say_how_to_fix_them(kwargs: dict, fix: str) -> None:
    with pytest.raises(StudyError) as info:
        SamplePlan(**kwargs)
    assert fix in (info.value.fix or "")


# -- filter and plan records -----------------------------------------------------------------


def test_filter_and_plan_round_trip_through_json() -> None:
    flt = PromptFilter(
        slice_values={"locale": ("de-DE", None), "tier": ["pro"]},  # type: ignore[dict-item]
        logged_from=datetime(2024, 5, 1, 12, tzinfo=timezone(timedelta(hours=2))),
        logged_to=datetime(2024, 6, 1),
        text_search="  refund ",
        source_ids=("src_a",),
    )
    assert flt.slice_values == {"locale": ("de-DE", MISSING), "tier": ("pro",)}
    assert flt.logged_from == datetime(2024, 5, 1, 10)  # stored naive, in UTC
    assert flt.text_search == "refund"
    assert PromptFilter.from_json(flt.to_json()) == flt
    plan = SamplePlan(size=400, strata=("tier", "locale"), min_per_stratum=25, seed=9)
    assert SamplePlan.from_json(plan.to_json()) == plan
    assert PromptFilter().is_empty and not flt.is_empty
    assert PromptFilter(slice_values={"tier": ()}).is_empty


def test_an_empty_time_range_is_refused() -> None:
    with pytest.raises(StudyError, match="empty"):
        PromptFilter(logged_from=datetime(2024, 2, 1), logged_to=datetime(2024, 1, 1))


def test_parse_where_ors_values_of_one_column() -> None:
    assert parse_where(["tier=pro", "locale=de=DE", "tier=free", "tier=pro", "x="]) == {
        "tier": ("pro", "free"),
        "locale": ("de=DE",),
        "x": ("",),
    }
    with pytest.raises(StudyError, match="COLUMN=VALUE"):
        parse_where(["tier"])


def test_parse_time_bound() -> None:
    assert parse_time_bound("2024-05-01") == datetime(2024, 5, 1)
    assert parse_time_bound("2024-05-01", end=True) == datetime(2024, 5, 2)
    assert parse_time_bound("2024-05-01T13:30") == datetime(2024, 5, 1, 13, 30)
    assert parse_time_bound("2024-05-01T13:30+00:00", end=True) == datetime(2024, 5, 1, 13, 30)
    assert parse_time_bound("2024-05-01T13:30Z").tzinfo is None
    for bad in ("yesterday", "", "2024-13-01"):
        with pytest.raises(StudyError, match="ISO"):
            parse_time_bound(bad)
    assert math.isclose(datetime(2024, 5, 1, tzinfo=UTC).timestamp(), 1714521600)
