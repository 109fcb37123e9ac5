"""Tests for swapcheck.stats_models against statsmodels, scipy and simulated truths."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.special import expit

from swapcheck.stats_models import bradley_terry, fit_logistic, length_controlled_win_rate

Z = 1.959963984540054


def _length_data(seed: int, n: int = 300, tie_rate: float = 0.2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    len_b = rng.integers(0, 2000, n)
    len_c = (len_b * rng.lognormal(0.2, 0.6, n)).round()
    x = np.log1p(len_c) - np.log1p(len_b)
    choice = np.where(rng.random(n) < expit(-0.3 + 0.9 * x), "candidate", "baseline")
    choice = np.where(rng.random(n) < tie_rate, "tie", choice)
    choice = np.where(rng.random(n) < tie_rate / 4, "both_bad", choice)
    return pd.DataFrame({"choice": choice, "len_b": len_b, "len_c": len_c, "x": x})


def _glm(y: np.ndarray, x: np.ndarray, **kwargs: object) -> object:
    model = sm.GLM(y, sm.add_constant(x), family=sm.families.Binomial(), **kwargs)
    return model.fit(tol=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_length_controlled_matches_glm_with_half_ties(seed: int) -> None:
    data = _length_data(seed)
    result = length_controlled_win_rate(data, "len_b", "len_c")
    y = data["choice"].map({"candidate": 1.0, "baseline": 0.0, "tie": 0.5, "both_bad": 0.5})
    fit = _glm(y.to_numpy(), data["x"].to_numpy())
    assert result["converged"] and result["n"] == len(data)
    assert result["intercept"] == pytest.approx(fit.params[0], abs=1e-6)
    assert result["length_coef"] == pytest.approx(fit.params[1], abs=1e-6)
    assert result["intercept_se"] == pytest.approx(fit.bse[0], abs=1e-6)
    assert result["length_coef_se"] == pytest.approx(fit.bse[1], abs=1e-6)
    low, high = fit.conf_int()[0]
    assert result["ci_low"] == pytest.approx(expit(low), abs=1e-6)
    assert result["ci_high"] == pytest.approx(expit(high), abs=1e-6)
    p = expit(fit.params[0])
    assert result["win_rate"] == pytest.approx(p, abs=1e-9)
    assert result["se"] == pytest.approx(p * (1 - p) * fit.bse[0], abs=1e-6)
    assert result["raw_win_rate"] == pytest.approx(y.mean())


def test_two_row_trick_equals_fractional_response() -> None:
    data = _length_data(4)
    result = length_controlled_win_rate(data, "len_b", "len_c")
    half = data["choice"].isin(["tie", "both_bad"]).to_numpy()
    y = np.where(data["choice"] == "candidate", 1.0, 0.0)
    x = data["x"].to_numpy()
    x2 = np.concatenate([x, x[half]])
    y2 = np.concatenate([np.where(half, 1.0, y), np.zeros(half.sum())])
    w2 = np.concatenate([np.where(half, 0.5, 1.0), np.full(half.sum(), 0.5)])
    fit = _glm(y2, x2, var_weights=w2)
    np.testing.assert_allclose(
        [result["intercept"], result["length_coef"]], fit.params, rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        [result["intercept_se"], result["length_coef_se"]], fit.bse, rtol=0, atol=1e-6
    )


@pytest.mark.parametrize("seed", [5, 6])
def test_exclude_ties_matches_logit(seed: int) -> None:
    data = _length_data(seed)
    result = length_controlled_win_rate(data, "len_b", "len_c", ties="exclude")
    decisive = data[data["choice"].isin(["candidate", "baseline"])]
    y = (decisive["choice"] == "candidate").to_numpy(float)
    fit = sm.Logit(y, sm.add_constant(decisive["x"].to_numpy())).fit(
        method="newton", tol=1e-14, disp=False
    )
    assert result["n"] == len(decisive) and result["n_dropped"] == len(data) - len(decisive)
    np.testing.assert_allclose(
        [result["intercept"], result["length_coef"]], fit.params, rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        [result["intercept_se"], result["length_coef_se"]], fit.bse, rtol=0, atol=1e-6
    )


def test_equal_lengths_fit_intercept_only_hand_computed() -> None:
    choice = ["candidate"] * 6 + ["baseline"] * 3 + ["tie"] * 2
    data = pd.DataFrame({"choice": choice})
    lengths = np.full(len(choice), 120.0)
    result = length_controlled_win_rate(data, lengths, lengths)
    p = 7 / 11  # intercept-only MLE is the mean score
    se0 = 1 / math.sqrt(11 * p * (1 - p))
    assert result["win_rate"] == pytest.approx(p, abs=1e-12)
    assert result["intercept_se"] == pytest.approx(se0, abs=1e-12)
    b0 = math.log(p / (1 - p))
    assert result["ci_low"] == pytest.approx(expit(b0 - Z * se0))
    assert result["ci_high"] == pytest.approx(expit(b0 + Z * se0))
    assert math.isnan(result["length_coef"])


def test_length_inputs_columns_arrays_and_missing() -> None:
    data = _length_data(7, n=80)
    by_name = length_controlled_win_rate(data, "len_b", "len_c")
    by_array = length_controlled_win_rate(data, data["len_b"].to_numpy(), list(data["len_c"]))
    assert by_name["intercept"] == pytest.approx(by_array["intercept"], abs=1e-12)
    with_nan = data.assign(len_b=data["len_b"].astype(float))
    with_nan.loc[with_nan.index[:5], "len_b"] = np.nan
    dropped = length_controlled_win_rate(with_nan, "len_b", "len_c")
    assert dropped["n"] == 75 and dropped["n_dropped"] == 5
    with pytest.raises(ValueError):
        length_controlled_win_rate(data, "nope", "len_c")
    with pytest.raises(ValueError):
        length_controlled_win_rate(data, [1.0, 2.0], "len_c")
    with pytest.raises(ValueError):
        length_controlled_win_rate(data, "len_b", "len_c", ties="drop")  # type: ignore[arg-type]
    empty = length_controlled_win_rate(data.iloc[:0], "len_b", "len_c")
    assert empty["n"] == 0 and math.isnan(empty["win_rate"])


def test_separation_reports_not_converged() -> None:
    data = pd.DataFrame({"choice": ["candidate"] * 5 + ["baseline"] * 5})
    len_b = np.full(10, 100.0)
    len_c = np.array([300.0] * 5 + [50.0] * 5)  # longer always wins
    result = length_controlled_win_rate(data, len_b, len_c)
    assert result["converged"] is False and math.isnan(result["win_rate"])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(30, 200))
def test_fit_logistic_matches_statsmodels_random(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = (rng.random(n) < expit(0.3 + x @ np.array([0.8, -0.5]))).astype(float)
    design = sm.add_constant(x)
    ours = fit_logistic(design, y)
    if not ours["converged"]:  # separation on tiny samples; statsmodels would fail too
        return
    fit = sm.GLM(y, design, family=sm.families.Binomial()).fit(tol=1e-14)
    np.testing.assert_allclose(ours["coef"], fit.params, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours["se"], fit.bse, rtol=0, atol=1e-6)


# --- bradley_terry ------------------------------------------------------------------------


def _simulate_bt(
    ratings: dict[str, float], n: int, seed: int, tie_rate: float = 0.1
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = list(ratings)
    rows = []
    for _ in range(n):
        a, b = rng.choice(names, 2, replace=False)
        p_a = 1 / (1 + 10 ** ((ratings[b] - ratings[a]) / 400))
        u = rng.random()
        winner = "tie" if u < tie_rate else ("a" if rng.random() < p_a else "b")
        rows.append((a, b, winner))
    return pd.DataFrame(rows, columns=["variant_a", "variant_b", "winner"])


def _bt_reference(comparisons: pd.DataFrame) -> dict[str, float]:
    """Independent MLE by direct minimisation of the BT negative log-likelihood."""
    names = sorted(set(comparisons["variant_a"]) | set(comparisons["variant_b"]))
    idx = {v: i for i, v in enumerate(names)}
    ia = comparisons["variant_a"].map(idx).to_numpy()
    ib = comparisons["variant_b"].map(idx).to_numpy()
    s = comparisons["winner"].map({"a": 1.0, "b": 0.0, "tie": 0.5}).to_numpy()

    def nll(theta: np.ndarray) -> float:
        full = np.append(theta, -theta.sum())
        d = full[ia] - full[ib]
        return float(-(s * -np.logaddexp(0, -d) + (1 - s) * -np.logaddexp(0, d)).sum())

    res = minimize(nll, np.zeros(len(names) - 1), method="BFGS", options={"gtol": 1e-10})
    full = np.append(res.x, -res.x.sum())
    return {v: 1000 + 400 * full[i] / math.log(10) for v, i in idx.items()}


def test_bradley_terry_recovers_known_strengths() -> None:
    truth = {"a": 850.0, "b": 950.0, "c": 1050.0, "d": 1150.0}
    out = bradley_terry(_simulate_bt(truth, 3000, seed=11), n_boot=100, seed=0)
    rated = out.set_index("variant")
    assert list(out["variant"]) == ["d", "c", "b", "a"]
    assert rated["rating"].mean() == pytest.approx(1000.0)
    for name, rating in truth.items():
        assert abs(rated.loc[name, "rating"] - rating) < 30
        assert rated.loc[name, "ci_low"] <= rated.loc[name, "rating"] <= rated.loc[name, "ci_high"]
    assert rated["n"].sum() == 2 * 3000
    assert out.attrs["n_boot_failed"] == 0


def test_bradley_terry_matches_direct_mle() -> None:
    data = _simulate_bt(
        {"x": 900.0, "y": 1000.0, "z": 1100.0, "w": 1000.0}, 400, seed=2, tie_rate=0.2
    )
    out = bradley_terry(data, n_boot=0).set_index("variant")
    reference = _bt_reference(data)
    for name, rating in reference.items():
        assert out.loc[name, "rating"] == pytest.approx(rating, abs=1e-4)
    assert out["ci_low"].isna().all()


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 10))
def test_bradley_terry_two_variants_agree_with_win_rate(wins: int, losses: int, ties: int) -> None:
    rows = [("base", "cand", "b")] * wins + [("cand", "base", "b")] * losses
    rows += [("base", "cand", "tie")] * ties
    data = pd.DataFrame(rows, columns=["variant_a", "variant_b", "winner"])
    out = bradley_terry(data, n_boot=0).set_index("variant")
    r_c, r_b = out.loc["cand", "rating"], out.loc["base", "rating"]
    p_cand = 1 / (1 + 10 ** ((r_b - r_c) / 400))
    assert p_cand == pytest.approx((wins + 0.5 * ties) / (wins + losses + ties), abs=1e-9)
    assert (r_c + r_b) / 2 == pytest.approx(1000.0)
    assert out.loc["cand", "wins"] == pytest.approx(wins + 0.5 * ties)


def test_bradley_terry_deterministic_for_seed() -> None:
    data = _simulate_bt({"a": 950.0, "b": 1000.0, "c": 1050.0}, 300, seed=5)
    first = bradley_terry(data, n_boot=50, seed=7)
    pd.testing.assert_frame_equal(first, bradley_terry(data, n_boot=50, seed=7))
    other = bradley_terry(data, n_boot=50, seed=8)
    pd.testing.assert_series_equal(first["rating"], other["rating"])
    assert not np.allclose(first["ci_low"], other["ci_low"])


def test_bradley_terry_validation() -> None:
    with pytest.raises(ValueError, match="no finite"):
        bradley_terry(
            pd.DataFrame({"variant_a": ["a", "a"], "variant_b": ["b", "c"], "winner": "a"})
        )
    with pytest.raises(ValueError):
        bradley_terry(pd.DataFrame({"variant_a": ["a"], "variant_b": ["a"], "winner": ["a"]}))
    with pytest.raises(ValueError):
        bradley_terry(pd.DataFrame({"variant_a": ["a"], "variant_b": ["b"], "winner": ["left"]}))
    with pytest.raises(ValueError):
        bradley_terry(pd.DataFrame({"variant_a": ["a"], "variant_b": ["b"]}))


def test_bradley_terry_skips_degenerate_resamples() -> None:
    data = pd.DataFrame({"variant_a": ["a", "a", "b"], "variant_b": ["b", "b", "a"], "winner": "a"})
    out = bradley_terry(data, n_boot=40, seed=1)
    assert 0 < out.attrs["n_boot_failed"] < 40
    assert out[["ci_low", "ci_high"]].notna().all().all()


def _random_connected_comparisons(seed: int, variants: int = 6, n: int = 600) -> pd.DataFrame:
    """Random comparisons plus a win and a loss around a cycle, so the set is strongly connected."""
    rng = np.random.default_rng(seed)
    names = [f"v{i}" for i in range(variants)]
    ratings = rng.normal(1000.0, 120.0, variants)
    a = rng.integers(0, variants, n)
    b = (a + rng.integers(1, variants, n)) % variants
    p_a = 1 / (1 + 10 ** ((ratings[b] - ratings[a]) / 400))
    winner = np.where(rng.random(n) < 0.15, "tie", np.where(rng.random(n) < p_a, "a", "b"))
    cycle = [(names[i], names[(i + 1) % variants], "a") for i in range(variants)]
    frame = pd.DataFrame(
        {"variant_a": np.array(names)[a], "variant_b": np.array(names)[b], "winner": winner}
    )
    return pd.concat(
        [frame, pd.DataFrame(cycle, columns=["variant_a", "variant_b", "winner"])],
        ignore_index=True,
    )


def _bt_glm_reference(comparisons: pd.DataFrame) -> dict[str, float]:
    """Bradley-Terry as a logit GLM: +1 for variant_a, -1 for variant_b, a tie is y = 0.5."""
    names = sorted(set(comparisons["variant_a"]) | set(comparisons["variant_b"]))
    design = np.zeros((len(comparisons), len(names)))
    rows = np.arange(len(comparisons))
    design[rows, comparisons["variant_a"].map(names.index).to_numpy()] = 1.0
    design[rows, comparisons["variant_b"].map(names.index).to_numpy()] = -1.0
    y = comparisons["winner"].map({"a": 1.0, "b": 0.0, "tie": 0.5}).to_numpy()
    # the first variant is the reference level (its column dropped), then ratings are centred
    fit = sm.GLM(y, design[:, 1:], family=sm.families.Binomial()).fit(tol=1e-15, maxiter=200)
    theta = np.concatenate([[0.0], fit.params])
    theta -= theta.mean()
    return {v: 1000.0 + 400.0 * theta[i] / math.log(10) for i, v in enumerate(names)}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_bradley_terry_matches_logit_glm_to_1e9(seed: int) -> None:
    data = _random_connected_comparisons(seed)
    out = bradley_terry(data, n_boot=0).set_index("variant")
    for name, rating in _bt_glm_reference(data).items():
        assert out.loc[name, "rating"] == pytest.approx(rating, abs=1e-9)


def test_bradley_terry_multinomial_bootstrap_matches_row_resampling() -> None:
    """The cell-count bootstrap gives the same intervals as resampling comparison rows."""
    data = _random_connected_comparisons(7, variants=4, n=1500)
    out = bradley_terry(data, n_boot=400, seed=3).set_index("variant")
    assert out.attrs["n_boot_failed"] == 0
    assert (out["ci_low"] < out["rating"]).all() and (out["rating"] < out["ci_high"]).all()
    rng = np.random.default_rng(11)
    draws = [
        bradley_terry(data.iloc[rng.integers(0, len(data), len(data))], n_boot=0).set_index(
            "variant"
        )["rating"]
        for _ in range(400)
    ]
    rows = pd.concat(draws, axis=1)
    for name in out.index:
        low, high = np.quantile(rows.loc[name], [0.025, 0.975])
        half = (high - low) / 2
        assert out.loc[name, "ci_low"] == pytest.approx(low, abs=0.25 * half)
        assert out.loc[name, "ci_high"] == pytest.approx(high, abs=0.25 * half)
