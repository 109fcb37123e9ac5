"""Anytime-valid confidence sequence: hand-computed steps, coverage by simulation, stopping rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from swapcheck.stats_sequential import (
    StratumData,
    betting_confidence_sequence,
    confidence_sequence,
    full_review_verdict,
    hedged_log_capital,
    predictable_lambda,
    predicted_full_review,
    slice_decision,
    stratified_interval,
    stratum_alphas,
)


def test_four_wins_match_the_hand_computed_sequence() -> None:
    # alpha = 0.9: log(2/alpha) = 0.798508; target_n = 1 keeps lambda at its cap 0.5, so
    # psi(0.5) = (log 2 - 0.5) / 4 = 0.0482868. mu_hat: 0.5, 0.75, 0.8333, 0.875, so
    # v = 4 (1 - mu_hat_{t-1})^2 = 1, 0.25, 0.1111, 0.0625; centre = 1;
    # width_t = (0.798508 + psi * sum v) / (0.5 t):
    # t=1 1.69359 -> low 0; t=2 0.858867 -> 0.141133; t=3 0.576155 -> 0.423845;
    # t=4 0.433625 -> 0.566375.
    low, high = confidence_sequence([1, 1, 1, 1], alpha=0.9, target_n=1)
    assert low == pytest.approx([0.0, 0.141133, 0.423845, 0.566375], abs=1e-5)
    assert high == pytest.approx([1.0, 1.0, 1.0, 1.0])


def test_hedged_capital_hand_case() -> None:
    # one win then one loss, alpha 0.05, target_n 4: lambda_1 = sqrt(2 ln 40 / (0.25 * 4))
    # = 2.7162 and lambda_2 = sqrt(2 ln 40 / (0.15625 * 4)) = 3.4358 (sigma2_1 =
    # (0.25 + 0.25^2) / 2). At m = 0.5 both are cut to c / m = 1.5:
    # K+ = (1 + 1.5 * 0.5)(1 - 1.5 * 0.5) = 0.4375, K- = (1 - 0.75)(1 + 0.75) = 0.4375.
    # At m = 0.25: l+ = min(., 3) -> 2.7162, 3; l- = min(., 1) -> 1, 1:
    # K+ = (1 + 2.7162 * 0.75)(1 - 3 * 0.25) = 0.75929, K- = (1 - 0.75)(1 + 0.25) = 0.3125.
    lam = predictable_lambda(np.array([1.0, 0.0]), 0.05, 4)
    assert lam == pytest.approx([2.716203, 3.435755], abs=1e-5)
    log_k = hedged_log_capital([1.0, 0.0], [0.5, 0.25], alpha=0.05, target_n=4)
    assert np.exp(log_k[-1]) == pytest.approx([0.4375 / 2, 0.759288 / 2], abs=1e-5)
    assert np.exp(log_k[0]) == pytest.approx([1.75 / 2, (1 + 2.716203 * 0.75) / 2], abs=1e-5)


def test_betting_sequence_is_the_set_of_means_with_small_capital() -> None:
    rng = np.random.default_rng(9)
    x = rng.choice([0.0, 0.5, 1.0], size=120, p=[0.6, 0.1, 0.3])
    low, high = betting_confidence_sequence(x, 0.05, target_n=120)
    grid = (np.arange(400) + 0.5) / 400
    kept = hedged_log_capital(x, grid, 0.05, 120) < math.log(20)
    inside = grid[kept.all(axis=0)]  # kept at every time: the running intersection
    assert low[-1] <= inside.min() and inside.max() <= high[-1]
    assert low[-1] >= inside.min() - 2 / 400 and high[-1] <= inside.max() + 2 / 400
    assert 0.2 < low[-1] < x.mean() < high[-1] < 0.55


def test_mirror_image_outcomes_give_mirror_bounds() -> None:
    rng = np.random.default_rng(3)
    x = rng.choice([0.0, 0.5, 1.0], size=200, p=[0.5, 0.1, 0.4])
    low, high = confidence_sequence(x, 0.05, target_n=200)
    low_m, high_m = confidence_sequence(1.0 - x, 0.05, target_n=200)
    assert low == pytest.approx(1.0 - high_m)
    assert high == pytest.approx(1.0 - low_m)
    assert np.all(np.diff(low) >= 0) and np.all(np.diff(high) <= 0)  # running intersection


@pytest.mark.parametrize(
    ("method", "target_n"),
    [
        (confidence_sequence, None),
        (confidence_sequence, 300),
        (betting_confidence_sequence, None),
        (betting_confidence_sequence, 300),
    ],
)
def test_the_sequence_covers_the_mean_at_all_times_in_95_percent_of_runs(
    method: object, target_n: int | None
) -> None:
    runs, n, true_mean = 400, 300, 0.45  # outcomes 0 / 0.5 / 1 with p 0.5 / 0.1 / 0.4
    rng = np.random.default_rng(2024)
    misses = 0
    widths = []
    for _ in range(runs):
        x = rng.choice([0.0, 0.5, 1.0], size=n, p=[0.5, 0.1, 0.4])
        low, high = method(x, 0.05, target_n=target_n)  # type: ignore[operator]
        misses += bool(np.any(low > true_mean) or np.any(high < true_mean))
        widths.append(high[-1] - low[-1])
    standard_error = math.sqrt(0.05 * 0.95 / runs)
    assert misses / runs <= 0.05 + 2.5 * standard_error
    assert float(np.mean(widths)) < 0.35  # not vacuous: it narrows with the data


def test_stratified_interval_covers_the_weighted_mean_in_95_percent_of_runs() -> None:
    runs, rng = 300, np.random.default_rng(7)
    shares, means = (0.3, 0.7), (0.1, 0.55)
    true_mean = shares[0] * means[0] + shares[1] * means[1]
    misses = 0
    for _ in range(runs):
        outcomes = [
            rng.binomial(1, m, size=k).astype(float) for m, k in zip(means, (60, 40), strict=True)
        ]
        strata = [StratumData(s, o, size=100) for s, o in zip(shares, outcomes, strict=True)]
        # look at every prefix (the queue looks after every judgment)
        for t in range(5, 41, 5):
            looked = [StratumData(s.share, np.asarray(s.outcomes)[:t], s.size) for s in strata]
            low, high = stratified_interval(looked, 0.05)
            if not low <= true_mean <= high:
                misses += 1
                break
    assert misses / runs <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / runs)


def test_stratified_interval_splits_alpha_and_weights_by_share() -> None:
    x = [1.0, 1.0, 1.0, 1.0]
    alone = stratified_interval([StratumData(1.0, x, 1)], alpha=0.9)
    assert alone == (betting_confidence_sequence(x, 0.9, 1)[0][-1], 1.0)
    low_half, _ = betting_confidence_sequence(x, alpha=0.45, target_n=1)
    combined = stratified_interval([StratumData(0.5, x, 1), StratumData(0.5, [], 4)], 0.9)
    assert combined == pytest.approx((0.5 * low_half[-1], 1.0))  # no data: [0, 1]
    # a stratum with share 0 is ignored (no alpha spent on it)
    assert stratified_interval([StratumData(1.0, x, 1), StratumData(0.0, [], 0)], 0.9) == alone
    with pytest.raises(ValueError, match="sum to 1"):
        stratified_interval([StratumData(0.5, x, 1)], 0.9)


def test_alpha_is_split_in_proportion_to_the_shares() -> None:
    assert stratum_alphas([0.25, 0.75], 0.9) == pytest.approx([0.225, 0.675])
    with pytest.raises(ValueError, match="positive"):
        stratum_alphas([1.0, 0.0], 0.05)
    x, y = [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0]
    low_x, _ = betting_confidence_sequence(x, alpha=0.225, target_n=4)  # share 0.25
    _, high_y = betting_confidence_sequence(y, alpha=0.675, target_n=3)  # share 0.75
    low, high = stratified_interval([StratumData(0.25, x, 4), StratumData(0.75, y, 3)], 0.9)
    assert low == pytest.approx(0.25 * low_x[-1])
    assert high == pytest.approx(0.25 * 1.0 + 0.75 * high_y[-1])


def test_finite_stratified_interval_covers_the_full_review_mean_at_every_look() -> None:
    # one slice of 100 fixed pair outcomes, 25 contested (share 0.25, alpha 0.0125) and 75 not
    # (alpha 0.0375), drawn in the prioritised queue's interleaved order, looked at every 5
    # pairs. The same simulation catches an invalid rule: a 95% normal interval peeked at
    # the same looks misses the mean in most runs.
    from swapcheck.review_priority import interleave_keys

    rng = np.random.default_rng(13)
    sizes, shares = (25, 75), (0.25, 0.75)
    values = [
        rng.choice([0.0, 0.5, 1.0], size=25, p=[0.7, 0.2, 0.1]),
        rng.choice([0.0, 0.5, 1.0], size=75, p=[0.4, 0.1, 0.5]),
    ]
    mean = float(np.concatenate(values).mean())
    flags = np.array([True] * 25 + [False] * 75)
    order = np.lexsort((np.arange(100), ~flags, interleave_keys(flags, 0.7)))
    seen = np.cumsum(flags[order]), np.cumsum(~flags[order])
    runs, misses, naive_misses, widths = 200, 0, 0, []
    for _ in range(runs):
        drawn = [rng.permutation(v) for v in values]
        missed = naive_missed = False
        for t in range(5, 101, 5):
            k = (int(seen[0][t - 1]), int(seen[1][t - 1]))
            strata = [
                StratumData(share, d[:n], size)
                for share, d, n, size in zip(shares, drawn, k, sizes, strict=True)
            ]
            low, high = stratified_interval(strata, 0.05, finite=True)
            missed |= not low - 1e-12 <= mean <= high + 1e-12
            if min(k) >= 2 and t < 100:
                parts = list(zip(shares, drawn, k, sizes, strict=True))
                estimate = sum(share * d[:n].mean() for share, d, n, _ in parts)
                variance = sum(
                    share**2 * d[:n].var(ddof=1) * (1 / n - 1 / size) for share, d, n, size in parts
                )
                naive_missed |= abs(estimate - mean) > 1.96 * math.sqrt(variance) + 1e-12
            if t == 60:
                widths.append(high - low)
        misses += missed
        naive_misses += naive_missed
    standard_error = math.sqrt(0.05 * 0.95 / runs)
    assert misses / runs <= 0.05 + 2.5 * standard_error
    assert naive_misses / runs > 0.05 + 2.5 * standard_error  # the check has teeth
    assert float(np.mean(widths)) < 0.3  # not vacuous after 60 of 100 pairs


def test_slice_decision_uses_the_non_inferiority_bound() -> None:
    assert slice_decision(0.45, 0.9, 0.05) == "go"  # equality counts as go
    assert slice_decision(0.10, 0.4499, 0.05) == "no-go"
    assert slice_decision(0.30, 0.45, 0.05) is None
    assert slice_decision(0.49, 0.7, 0.0) is None
    with pytest.raises(ValueError):
        slice_decision(0.1, 0.2, 0.5)


def test_bad_outcomes_are_refused() -> None:
    with pytest.raises(ValueError):
        confidence_sequence([0.2, 1.5])
    with pytest.raises(ValueError):
        confidence_sequence([0.2], alpha=0.0)
    low, high = confidence_sequence([])
    assert low.size == high.size == 0


def test_without_replacement_covers_the_population_mean_and_closes_on_it() -> None:
    rng = np.random.default_rng(21)
    values = rng.choice([0.0, 0.5, 1.0], size=150, p=[0.55, 0.1, 0.35])
    mean = float(values.mean())
    runs, misses = 300, 0
    for _ in range(runs):
        low, high = betting_confidence_sequence(rng.permutation(values), 0.05, 150, population=150)
        misses += bool(np.any(low > mean + 1e-12) or np.any(high < mean - 1e-12))
    assert misses / runs <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / runs)
    assert low[-1] == pytest.approx(mean) and high[-1] == pytest.approx(mean)
    # after 100 of 150 it is narrower than the traffic (with-replacement) sequence
    low_iid, high_iid = betting_confidence_sequence(values[:100], 0.05, 150)
    low_wor, high_wor = betting_confidence_sequence(values[:100], 0.05, 150, population=150)
    assert high_wor[-1] - low_wor[-1] < high_iid[-1] - low_iid[-1]
    with pytest.raises(ValueError, match="smaller"):
        betting_confidence_sequence(values, 0.05, population=10)


def test_predicted_full_review_verdict_hand_cases() -> None:
    # Wilson(55 of 100) = [0.4524, 0.6442]: green against 0.45; Wilson(45 of 100) straddles;
    # Wilson(30 of 100) = [0.2189, 0.3958]: red
    assert full_review_verdict(0.55, 100, 0.05) == "go"
    assert full_review_verdict(0.45, 100, 0.05) == "inconclusive"
    assert full_review_verdict(0.30, 100, 0.05) == "no-go"
    assert predicted_full_review(0.55, 0.9, 100, 0.05) == "go"
    assert predicted_full_review(0.20, 0.30, 100, 0.05) == "no-go"
    assert predicted_full_review(0.44, 0.46, 100, 0.05) == "inconclusive"
    assert predicted_full_review(0.40, 0.70, 100, 0.05) is None
