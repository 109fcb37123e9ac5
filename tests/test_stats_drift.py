"""Drift table statistics checked against scipy/statsmodels and hand-written formulas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from swapcheck.stats import wilson_interval
from swapcheck.stats_drift import (
    DRIFT_COLUMNS,
    binomial_two_sided_p,
    drift_table,
    newcombe_paired,
    t_quantile,
    t_two_sided_p,
)


def _rate_frame(
    cells: dict[tuple[int, int], int], name: str = "refusal", **extra: object
) -> pd.DataFrame:
    """One response-rate evaluator; ``cells[(baseline, candidate)]`` = number of pairs."""
    rows = []
    for (b, c), count in cells.items():
        rows += [(float(b), float(c))] * count
    frame = pd.DataFrame(rows, columns=["baseline", "candidate"])
    frame["pair_id"] = [f"p{i}" for i in range(len(frame))]
    frame["prompt_id"] = frame["pair_id"]
    frame["evaluator"] = name
    frame["scope"] = "response"
    frame["kind"] = "rate"
    frame["higher_is"] = extra.get("higher_is", "worse")
    frame["value"] = np.nan
    return frame


def _newcombe_by_hand(a: int, b: int, c: int, d: int, conf: float = 0.95) -> tuple[float, float]:
    """Newcombe (1998) method 10, scalar, for p1 = (a+b)/n minus p2 = (a+c)/n."""
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson_interval(a + b, n, conf)
    l2, u2 = wilson_interval(a + c, n, conf)
    big_a = a * d - b * c
    if big_a > n / 2:
        numerator = big_a - n / 2
    elif big_a >= 0:
        numerator = 0.0
    else:
        numerator = big_a
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    phi = numerator / math.sqrt(margins) if margins else 0.0
    lower = (p1 - p2) - math.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    upper = (p1 - p2) + math.sqrt((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2)
    return max(-1.0, lower), min(1.0, upper)


@pytest.mark.parametrize(
    "cells",
    [(1, 1, 7, 12), (59, 6, 16, 80), (12, 9, 2, 27), (0, 5, 0, 5), (3, 0, 0, 0), (10, 0, 0, 10)],
)
def test_newcombe_matches_the_formula_written_out(cells: tuple[int, int, int, int]) -> None:
    a, b, c, d = cells
    low, high = newcombe_paired(np.array([a]), np.array([b]), np.array([c]), np.array([d]))
    exp_low, exp_high = _newcombe_by_hand(a, b, c, d)
    assert low[0] == pytest.approx(exp_low, abs=1e-12)
    assert high[0] == pytest.approx(exp_high, abs=1e-12)


def test_newcombe_hand_computed_case_without_correlation() -> None:
    # a=0, b=5, c=0, d=5, n=10: p1 = 0.5, p2 = 0, phi = 0 (margin a+c is empty).
    # Wilson(5/10): centre 0.5, half = 1.96*sqrt(0.025 + 1.96^2/400)/(1 + 1.96^2/10).
    z = 1.959963984540054
    half1 = z * math.sqrt(0.025 + z * z / 400) / (1 + z * z / 10)
    upper2 = (z * z / 20 + z * math.sqrt(z * z / 400)) / (1 + z * z / 10)  # Wilson(0/10) upper
    low, high = newcombe_paired(np.array([0]), np.array([5]), np.array([0]), np.array([5]))
    assert low[0] == pytest.approx(0.5 - math.sqrt(half1**2 + upper2**2), abs=1e-12)
    assert high[0] == pytest.approx(0.5 + half1, abs=1e-12)  # lower side of p2 = 0 is 0


@pytest.mark.parametrize(
    ("wins", "losses"),
    [(0, 0), (0, 1), (3, 9), (9, 3), (10, 10), (7, 40), (300, 360), (5000, 5400)],
)
def test_exact_mcnemar_equals_scipy_binomtest(wins: int, losses: int) -> None:
    mine = binomial_two_sided_p(np.array([wins]), np.array([losses]))[0]
    expected = 1.0 if wins + losses == 0 else sps.binomtest(wins, wins + losses, 0.5).pvalue
    assert mine == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_t_distribution_against_scipy() -> None:
    dfs = np.array([1, 2, 3, 4, 7, 10, 29, 120, 1000, 50_000], dtype=float)
    for conf in (0.8, 0.9, 0.95, 0.99):
        expected = sps.t.ppf(1 - (1 - conf) / 2, dfs)
        np.testing.assert_allclose(t_quantile(conf, dfs), expected, rtol=1e-10)
    for t in (0.05, 0.7, 1.96, 3.5, 12.0):
        np.testing.assert_allclose(
            t_two_sided_p(np.full(dfs.shape, t), dfs), 2 * sps.t.sf(t, dfs), rtol=1e-9
        )


def _mean_frame(base: np.ndarray, cand: np.ndarray, topic: list[str] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({"baseline": base, "candidate": cand})
    frame["pair_id"] = [f"p{i}" for i in range(len(frame))]
    frame["prompt_id"] = frame["pair_id"]
    frame["evaluator"] = "length_chars"
    frame["scope"] = "response"
    frame["kind"] = "mean"
    frame["higher_is"] = "neutral"
    frame["value"] = np.nan
    frame["topic"] = topic if topic is not None else ["x"] * len(frame)
    return frame


def test_paired_t_matches_ttest_rel_and_skips_one_sided_pairs() -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(400, 80, 60)
    cand = base + rng.normal(60, 40, 60)  # +15%: above the 10% default minimum
    base_with_gaps, cand_with_gaps = base.copy(), cand.copy()
    base_with_gaps[:5] = np.nan  # only the candidate scored: not a usable pair
    cand_with_gaps[5:8] = np.nan
    table = drift_table(_mean_frame(base_with_gaps, cand_with_gaps), ["topic"])
    row = table[table["slice"] == "overall"].iloc[0]
    b, c = base[8:], cand[8:]
    res = sps.ttest_rel(c, b)
    ci = res.confidence_interval(0.95)
    assert (row["n"], row["n_baseline"], row["n_candidate"]) == (52, 55, 57)
    assert row["difference"] == pytest.approx(float(np.mean(c - b)), rel=1e-12)
    assert row["baseline"] == pytest.approx(float(np.mean(b)), rel=1e-12)
    assert row["p_value"] == pytest.approx(res.pvalue, rel=1e-9)
    assert row["ci_low"] == pytest.approx(ci.low, rel=1e-9)
    assert row["ci_high"] == pytest.approx(ci.high, rel=1e-9)
    assert row["paired"] and row["flagged"] and row["direction"] == "changed"


def test_rate_row_uses_newcombe_and_mcnemar() -> None:
    cells = {(1, 1): 12, (0, 1): 9, (1, 0): 2, (0, 0): 27}
    table = drift_table(_rate_frame(cells), [])
    row = table.iloc[0]
    low, high = _newcombe_by_hand(12, 9, 2, 27)
    assert (row["slice"], row["value"], row["n"]) == ("overall", "all", 50)
    assert row["baseline"] == pytest.approx(14 / 50) and row["candidate"] == pytest.approx(21 / 50)
    assert row["difference"] == pytest.approx(7 / 50)
    assert row["ci_low"] == pytest.approx(low, abs=1e-12)
    assert row["ci_high"] == pytest.approx(high, abs=1e-12)
    assert row["p_value"] == pytest.approx(sps.binomtest(9, 11, 0.5).pvalue, rel=1e-9)
    assert list(table.columns) == list(DRIFT_COLUMNS)


def test_bh_q_values_match_statsmodels() -> None:
    rng = np.random.default_rng(3)
    n = 400
    topic = rng.choice(["a", "b", "c", "d", "e"], n).tolist()
    base = rng.normal(100, 10, n)
    shift = np.where(np.array(topic) == "a", 8.0, 0.0)
    cand = base + shift + rng.normal(0, 10, n)
    table = drift_table(_mean_frame(base, cand, topic), ["topic"], min_n=0)
    p = table["p_value"].to_numpy()
    _, expected, _, _ = multipletests(p, method="fdr_bh")
    np.testing.assert_allclose(table["q_value"].to_numpy(), expected, rtol=1e-12)
    # rows below min_n keep their p-value but leave the family
    small = drift_table(_mean_frame(base, cand, topic), ["topic"], min_n=10_000)
    assert small["q_value"].isna().all() and not small["flagged"].any()
    assert small["p_value"].notna().all()


def test_pair_evaluators_similarity_is_descriptive_and_length_ratio_tested() -> None:
    rng = np.random.default_rng(11)
    n = 80
    ratio = rng.normal(0.6, 0.5, n)
    sim = rng.uniform(0.5, 1.0, n)
    rows = []
    for name, higher, values in (("length_ratio", "neutral", ratio), ("semsim", "better", sim)):
        rows.append(
            pd.DataFrame(
                {
                    "pair_id": [f"p{i}" for i in range(n)],
                    "prompt_id": [f"p{i}" for i in range(n)],
                    "evaluator": name,
                    "scope": "pair",
                    "kind": "mean",
                    "higher_is": higher,
                    "baseline": np.nan,
                    "candidate": np.nan,
                    "value": values,
                }
            )
        )
    table = drift_table(pd.concat(rows, ignore_index=True), []).set_index("evaluator")
    lr = table.loc["length_ratio"]
    res = sps.ttest_1samp(ratio, 0.0)
    assert lr["p_value"] == pytest.approx(res.pvalue, rel=1e-9)
    assert lr["ci_low"] == pytest.approx(res.confidence_interval(0.95).low, rel=1e-9)
    assert lr["flagged"] and lr["direction"] == "changed" and lr["min_effect"] == 0.25
    assert not lr["paired"] and math.isnan(lr["baseline"])
    ss = table.loc["semsim"]
    assert math.isnan(ss["p_value"]) and not ss["flagged"]
    assert ss["difference"] == pytest.approx(float(sim.mean()))
    assert ss["ci_low"] < ss["difference"] < ss["ci_high"]


def test_min_effect_override_and_defaults() -> None:
    cells = {(0, 1): 40, (1, 0): 10, (0, 0): 950}  # +3 points, clearly significant
    table = drift_table(_rate_frame(cells), [])
    row = table.iloc[0]
    assert row["q_value"] < 0.01 and row["ci_low"] > 0
    assert row["min_effect"] == 0.05 and not row["flagged"]  # 3 points < 5 points
    table = drift_table(_rate_frame(cells), [], min_effect={"refusal": 0.02})
    assert table.iloc[0]["flagged"] and table.iloc[0]["direction"] == "worse"
    better = drift_table(_rate_frame(cells, higher_is="better"), [], min_effect={"refusal": 0.02})
    assert better.iloc[0]["direction"] == "better"


def test_degenerate_inputs() -> None:
    empty = drift_table(_rate_frame({}), [])
    assert empty.empty and list(empty.columns) == list(DRIFT_COLUMNS)
    same = drift_table(_mean_frame(np.ones(12), np.ones(12)), [])
    row = same.iloc[0]
    assert (row["difference"], row["ci_low"], row["ci_high"], row["p_value"]) == (0, 0, 0, 1)
    shifted = drift_table(_mean_frame(np.ones(12), np.full(12, 3.0)), []).iloc[0]
    assert (shifted["ci_low"], shifted["ci_high"], shifted["p_value"]) == (2, 2, 0)
    with pytest.raises(ValueError, match="missing column"):
        drift_table(_rate_frame({(0, 0): 3}), ["topic"])
    with pytest.raises(ValueError, match="confidence"):
        drift_table(_rate_frame({(0, 0): 3}), [], confidence=1.0)


counts = st.integers(min_value=0, max_value=40)


@settings(max_examples=150, deadline=None)
@given(counts, counts, counts, counts)
def test_swapping_sides_negates_the_difference(a: int, b: int, c: int, d: int) -> None:
    cells = {(1, 1): a, (0, 1): b, (1, 0): c, (0, 0): d}
    if a + b + c + d == 0:
        return
    forward = drift_table(_rate_frame(cells), [], min_n=0).iloc[0]
    swapped = {(y, x): k for (x, y), k in cells.items()}
    back = drift_table(_rate_frame(swapped), [], min_n=0).iloc[0]
    assert back["difference"] == pytest.approx(-forward["difference"], abs=1e-12)
    assert back["ci_low"] == pytest.approx(-forward["ci_high"], abs=1e-12)
    assert back["ci_high"] == pytest.approx(-forward["ci_low"], abs=1e-12)
    assert back["p_value"] == pytest.approx(forward["p_value"], rel=1e-12)
    assert back["flagged"] == forward["flagged"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-50, 50, allow_nan=False), min_size=3, max_size=30))
def test_swapping_sides_negates_a_paired_mean(diffs: list[float]) -> None:
    base = np.arange(len(diffs), dtype=float) * 10
    cand = base + np.array(diffs)
    forward = drift_table(_mean_frame(base, cand), [], min_n=0).iloc[0]
    back = drift_table(_mean_frame(cand, base), [], min_n=0).iloc[0]
    assert back["difference"] == pytest.approx(-forward["difference"], abs=1e-9)
    assert back["ci_low"] == pytest.approx(-forward["ci_high"], abs=1e-9)
    assert back["ci_high"] == pytest.approx(-forward["ci_low"], abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(counts, counts, counts, counts, st.integers(1, 200))
def test_adding_unchanged_pairs(a: int, b: int, c: int, d: int, extra: int) -> None:
    """Pairs scored the same on both sides carry no evidence of a change.

    For a rate: the McNemar p-value is unchanged (it only sees discordant pairs), the
    difference keeps its sign and does not grow, and a row that was not flagged does not
    become flagged (with min_n = 0, so the only change is the added concordant pairs).
    """
    if a + b + c + d == 0:
        return
    before_cells = {(1, 1): a, (0, 1): b, (1, 0): c, (0, 0): d}
    after_cells = {**before_cells, (0, 0): d + extra}
    before = drift_table(_rate_frame(before_cells), [], min_n=0).iloc[0]
    after = drift_table(_rate_frame(after_cells), [], min_n=0).iloc[0]
    assert after["p_value"] == before["p_value"]
    assert np.sign(after["difference"]) == np.sign(before["difference"])
    assert abs(after["difference"]) <= abs(before["difference"]) + 1e-15
    assert before["flagged"] or not after["flagged"]


def _planted_frame(seed: int) -> tuple[pd.DataFrame, set[tuple[str, str, str]]]:
    """24 topics, 3 with a planted change (refusal up, JSON validity down, 40% longer)."""
    rng = np.random.default_rng(seed)
    topics = [f"topic-{i:02d}" for i in range(24)]
    per_topic = 150
    topic = np.repeat(topics, per_topic)
    n = len(topic)
    pair_ids = [f"p{i}" for i in range(n)]
    locale = rng.choice(["de", "en", "fr", None], n)
    base_ref = (rng.random(n) < 0.08).astype(float)
    cand_ref = np.where(rng.random(n) < 0.9, base_ref, (rng.random(n) < 0.08).astype(float))
    cand_ref[(topic == "topic-03") & (rng.random(n) < 0.35)] = 1.0
    base_json = (rng.random(n) < 0.9).astype(float)
    cand_json = np.where(rng.random(n) < 0.9, base_json, (rng.random(n) < 0.9).astype(float))
    cand_json[(topic == "topic-11") & (rng.random(n) < 0.4)] = 0.0
    base_len = rng.lognormal(6, 0.4, n)
    cand_len = base_len * rng.lognormal(0, 0.1, n)
    cand_len[topic == "topic-19"] *= 1.4
    parts = []
    for name, kind, higher, b, c in (
        ("refusal", "rate", "worse", base_ref, cand_ref),
        ("json_valid", "rate", "better", base_json, cand_json),
        ("length_chars", "mean", "neutral", base_len, cand_len),
    ):
        parts.append(
            pd.DataFrame(
                {
                    "pair_id": pair_ids,
                    "prompt_id": pair_ids,
                    "evaluator": name,
                    "scope": "response",
                    "kind": kind,
                    "higher_is": higher,
                    "baseline": b,
                    "candidate": c,
                    "value": np.nan,
                    "topic": topic,
                    "locale": locale,
                }
            )
        )
    planted = {
        ("topic-03", "refusal", "worse"),
        ("topic-11", "json_valid", "worse"),
        ("topic-19", "length_chars", "changed"),
    }
    return pd.concat(parts, ignore_index=True), planted


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_changes_are_flagged_and_nothing_else_in_topics(seed: int) -> None:
    frame, planted = _planted_frame(seed)
    table = drift_table(frame, ["topic", "locale"])
    topics = table[table["slice"] == "topic"]
    flagged = {(r.value, r.evaluator, r.direction) for r in topics[topics["flagged"]].itertuples()}
    assert flagged == planted
    clean_topics = set(topics["value"]) - {v for v, _, _ in planted}
    assert len(clean_topics) >= 20
    assert set(table[table["slice"] == "locale"]["value"]) == {"de", "en", "fr", "(missing)"}
    assert len(table) == 3 * (1 + 24 + 4)


def test_overlapping_slices_are_explained_by_the_source_of_the_change() -> None:
    # 400 pairs: feature A/B/C/D crossed with locale x/y/z/w (25 each). The candidate refuses
    # every feature=A prompt and nothing else, so every locale holds 25 refusals out of 100.
    rng = np.random.default_rng(3)
    features = np.repeat(["A", "B", "C", "D"], 100)
    locales = np.tile(np.repeat(["x", "y", "z", "w"], 25), 4)
    frame = _rate_frame({(0, 0): 400})
    frame["feature"], frame["locale"] = features, locales
    frame.loc[frame["feature"] == "A", "candidate"] = 1.0
    frame = frame.sample(frac=1.0, random_state=int(rng.integers(1000))).reset_index(drop=True)
    raw = drift_table(frame, ["feature", "locale"], explain_overlaps=False)
    raw_flags = raw[raw["flagged"] & (raw["slice"] != "overall")]
    assert set(zip(raw_flags["slice"], raw_flags["value"], strict=True)) == {
        ("feature", "A"), ("locale", "x"), ("locale", "y"), ("locale", "z"), ("locale", "w")
    }  # fmt: skip
    table = drift_table(frame, ["feature", "locale"]).set_index(["slice", "value"])
    assert bool(table.loc[("feature", "A"), "flagged"])
    assert table.loc[("feature", "A"), "explained_by"] == ""
    for locale in "xyzw":
        row = table.loc[("locale", locale)]
        assert not row["flagged"] and row["direction"] == ""
        assert row["explained_by"] == "feature=A"
        assert row["difference"] == pytest.approx(0.25)  # the figures stay as measured
    assert bool(table.loc[("overall", "all"), "flagged"])  # never explained away


def test_two_independent_changes_in_two_columns_both_stay_flagged() -> None:
    # feature=A refuses and, independently, locale=x refuses: both are sources of their own.
    features = np.repeat(["A", "B", "C", "D"], 100)
    locales = np.tile(np.repeat(["x", "y", "z", "w"], 25), 4)
    frame = _rate_frame({(0, 0): 400})
    frame["feature"], frame["locale"] = features, locales
    frame.loc[(frame["feature"] == "A") | (frame["locale"] == "x"), "candidate"] = 1.0
    table = drift_table(frame, ["feature", "locale"])
    flagged = table[table["flagged"] & (table["slice"] != "overall")]
    assert set(zip(flagged["slice"], flagged["value"], strict=True)) == {
        ("feature", "A"), ("locale", "x")
    }  # fmt: skip
    explained = table[table["explained_by"] != ""]
    assert set(explained["explained_by"]) <= {"feature=A, locale=x", "locale=x, feature=A",
                                               "feature=A", "locale=x"}  # fmt: skip
