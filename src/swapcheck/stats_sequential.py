"""Anytime-valid confidence sequences for a slice's win rate and the sequential stopping rule.

Outcomes are scores in [0, 1] (candidate 1, baseline 0, tie and both_bad 0.5), one per judged
pair: the mean of the pair's live judgments, counted once the pair has all its ``overlap``
judgments (so a counted value never changes), in the queue's order within its stratum.

**Confidence sequence per stratum**: the hedged betting sequence of Waudby-Smith & Ramdas
(2023, JRSS-B, "Estimating means of bounded random variables by betting", Theorem 3). For
X_1, X_2, ... in [0, 1] with E[X_i | X_1..X_{i-1}] = mu, and bets l_i chosen from the past only
(predictable) with ``0 <= l_i <= c / mu`` (resp. ``c / (1 - mu)``), c < 1, the capitals
``K+_t = prod(1 + l+_i (X_i - mu))`` and ``K-_t = prod(1 - l-_i (X_i - mu))`` are non-negative
martingales (each factor >= 1 - c > 0 and has conditional mean 1), and so is
``K_t = (K+_t + K-_t) / 2``; we use ``max(K+, K-) / 2 <= K_t``, which keeps the bound. Ville's
inequality: P(exists t: K_t(mu) >= 1/alpha) <= alpha. So ``C_t = {m : max(K+_t(m), K-_t(m)) / 2
< 1/alpha}`` contains mu at every t simultaneously with probability >= 1 - alpha, and so does
the running intersection over t, and stopping at a data-dependent time keeps the guarantee.
Bets: WSR's predictable plug-in ``lambda_t = sqrt(2 log(2/alpha) / (sigma2_{t-1} h))`` with
``sigma2_t = (1/4 + sum (X_i - mu_hat_i)^2) / (t + 1)``, ``mu_hat_t = (1/2 + sum X) / (t + 1)``,
truncated at ``c / m`` and ``c / (1 - m)`` with c = 3/4 (their suggested 1/2 or 3/4; 3/4 stops
earlier on lopsided slices). ``h`` = the stratum's number of pairs (tuning for the sample size
we expect, their Sec. 3.3; any predictable choice is valid), or WSR's ``t log(1 + t)``. The
set is evaluated on a grid of 400 means and widened to the neighbouring excluded grid points,
so the reported interval contains the exact one (an interval: WSR's Proposition 4).
:func:`confidence_sequence` is the closed-form
predictable plug-in empirical-Bernstein sequence (their Theorem 2), kept as a cross-check.

Why the pair outcomes have a common conditional mean: the study's pairs are a random sample of
traffic and the queue takes each (slice, stratum) in the study's salted random order, fixed
before any judgment; so the k-th judged pair of a stratum is a random draw independent of the
earlier ones and its expected score is the stratum's mean mu_h (a superpopulation mean: the
interval covers the win rate of the traffic, like the Results page's Wilson intervals). The
number of votes per pair is the study's overlap, fixed in advance, so it cannot depend on
outcomes. Undone judgments are the one exception (rare; the count simply shrinks).

**Slice interval** (stratified, combined conservatively). A slice's win rate is
``mu = sum_h p_h mu_h`` with known shares ``p_h = N_sh / N_s`` of its ready pairs. Stratum h
gets a sequence at level ``alpha_h = p_h * alpha`` (:func:`stratum_alphas`; a stratum without
data contributes [0, 1]); the split is fixed by the shares before any judgment and
``sum_h alpha_h = alpha``, so by the union bound all H cover at all times with probability
>= 1 - alpha, and whenever they do, the weighted sums ``[sum p_h low_h, sum p_h high_h]``
contain mu. Per-stratum sequences need no weights, whatever share of each stratum the
prioritised queue judged first. (The split by share replaced an equal alpha / H split: a small
stratum's width counts only p_h in the sum, so it gets less alpha. Measured on the demo,
averaged over salted orders: ~1% fewer judgments; one unstratified sequence over a uniform
order instead saves ~4% of the judgments at 360 prompts and nothing at 1,500; see
bench/efficiency.py for why no valid combination can reach the issue's 60% target there.)

**Stopping rules** (``review_priority.STOP_RULES``):

* ``bound`` (traffic target): decided ``go`` when the lower bound of the slice's sequence for
  the traffic win rate is >= 0.5 - margin, ``no-go`` when the upper bound is < 0.5 - margin
  (the bound and tie rule of ``stats_decisions.non_inferiority``); wrong with probability at
  most alpha however often it was looked at.
* ``full_review`` (the default; the verdict a full review would give): the target is the
  slice's win rate once *every* ready pair has its ``overlap`` judgments, M = sum_h p_h M_h,
  where M_h is the mean of the stratum's N_h pair outcomes. Treating each pair's outcome as
  fixed (the votes it would get), the queue draws a stratum's pairs without replacement in a
  random order, so the without-replacement betting sequence (``population=N_h``) covers M_h
  at all times, and the combination covers M with probability >= 1 - alpha. The full review's
  verdict is the Wilson colour of M over ``overlap * N_s`` votes, monotone in M (no-go,
  inconclusive, go); when both ends of the interval give the same verdict, that is the full
  review's verdict except with probability <= alpha, so the slice stops, *inconclusive*
  included (more of this study's pairs cannot change it). This rule stops later near a bound
  than ``bound`` does but also stops slices a full review would leave amber.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

LAMBDA_CAP = 0.5
"""Bet cap of the empirical-Bernstein sequence (lambda < 1 is required)."""
BET_CAP = 0.75
"""c of the betting sequence: bets are truncated at c / m and c / (1 - m)."""
Decision = Literal["go", "no-go"]
Verdict = Literal["go", "no-go", "inconclusive"]


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")


def _checked(outcomes: Sequence[float] | np.ndarray, target_n: int | None) -> np.ndarray:
    x = np.asarray(outcomes, dtype=float)
    if x.ndim != 1:
        raise ValueError("outcomes must be one-dimensional")
    if x.size and (not np.all(np.isfinite(x)) or x.min() < 0.0 or x.max() > 1.0):
        raise ValueError("outcomes must be finite and lie in [0, 1]")
    if target_n is not None and target_n < 1:
        raise ValueError(f"target_n must be at least 1, got {target_n!r}")
    return x


def confidence_sequence(
    outcomes: Sequence[float] | np.ndarray, alpha: float = 0.05, target_n: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds after each outcome (running intersection, clipped to [0, 1]).

    The predictable plug-in empirical-Bernstein confidence sequence described in the module
    docstring; ``target_n`` tunes lambda for that many outcomes (None: WSR's t·log(1+t)).
    """
    _check_alpha(alpha)
    x = _checked(outcomes, target_n)
    if x.size == 0:
        return np.empty(0), np.empty(0)
    t = np.arange(1, x.size + 1, dtype=float)
    mu_hat = (0.5 + np.cumsum(x)) / (t + 1)  # mu_hat_t, using X_1..X_t
    sigma2 = (0.25 + np.cumsum((x - mu_hat) ** 2)) / (t + 1)
    mu_prev = np.concatenate(([0.5], mu_hat[:-1]))  # predictable: mu_hat_{t-1}
    sigma2_prev = np.concatenate(([0.25], sigma2[:-1]))
    log_term = math.log(2.0 / alpha)
    horizon = t * np.log1p(t) if target_n is None else np.full_like(t, float(target_n))
    lam = np.minimum(LAMBDA_CAP, np.sqrt(2.0 * log_term / (sigma2_prev * horizon)))
    v = 4.0 * (x - mu_prev) ** 2
    psi = (-np.log1p(-lam) - lam) / 4.0
    lam_sum = np.cumsum(lam)
    centre = np.cumsum(lam * x) / lam_sum
    width = (log_term + np.cumsum(v * psi)) / lam_sum
    low = np.maximum.accumulate(np.clip(centre - width, 0.0, 1.0))
    high = np.minimum.accumulate(np.clip(centre + width, 0.0, 1.0))
    return low, high


GRID_SIZE = 400
"""Candidate means of the betting sequence: midpoints of 400 equal cells of [0, 1]."""
_CHUNK = 2048
BETTING_MAX_PAIRS = 5000
"""Larger strata use the O(n) empirical-Bernstein sequence (the grid costs O(n * 400))."""


def predictable_lambda(
    outcomes: np.ndarray, alpha: float, target_n: int | None = None
) -> np.ndarray:
    """WSR's predictable plug-in bet size ``sqrt(2 log(2/alpha) / (sigma2_{t-1} h_t))`` per t.

    ``h_t = target_n`` when given, else ``t log(1 + t)``; uncapped (callers cap it).
    """
    x = np.asarray(outcomes, dtype=float)
    t = np.arange(1, x.size + 1, dtype=float)
    mu_hat = (0.5 + np.cumsum(x)) / (t + 1)
    sigma2 = (0.25 + np.cumsum((x - mu_hat) ** 2)) / (t + 1)
    sigma2_prev = np.concatenate(([0.25], sigma2[:-1]))
    horizon = t * np.log1p(t) if target_n is None else np.full_like(t, float(target_n))
    return np.sqrt(2.0 * math.log(2.0 / alpha) / (sigma2_prev * horizon))


def hedged_log_capital(
    outcomes: Sequence[float] | np.ndarray,
    means: Sequence[float] | np.ndarray,
    alpha: float = 0.05,
    target_n: int | None = None,
) -> np.ndarray:
    """log K_t(m) of WSR's hedged capital process, shape (t, m), for candidate means ``m``.

    ``K_t(m) = max(K+_t(m), K-_t(m)) / 2`` with ``K+ = prod(1 + l+_i (X_i - m))``,
    ``K- = prod(1 - l-_i (X_i - m))``, ``l+ = min(lambda_i, c/m)``,
    ``l- = min(lambda_i, c/(1-m))``: both factors stay >= 1 - c, so each product is a
    non-negative martingale when m is the true mean, and so is their average.
    """
    x = np.asarray(outcomes, dtype=float)
    m = np.asarray(means, dtype=float)[None, :]
    lam = predictable_lambda(x, alpha, target_n)[:, None]
    up = np.log1p(np.minimum(lam, BET_CAP / m) * (x[:, None] - m))
    down = np.log1p(-np.minimum(lam, BET_CAP / (1.0 - m)) * (x[:, None] - m))
    return np.maximum(np.cumsum(up, axis=0), np.cumsum(down, axis=0)) + math.log(0.5)


def betting_confidence_sequence(
    outcomes: Sequence[float] | np.ndarray,
    alpha: float = 0.05,
    target_n: int | None = None,
    grid_size: int = GRID_SIZE,
    population: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds after each outcome of WSR's hedged betting sequence.

    ``{m : K_t(m) < 1/alpha}`` (their Theorem 3, with the predictable plug-in bets of
    :func:`predictable_lambda` truncated at ``c / m`` and ``c / (1 - m)``, c = 3/4), evaluated
    on a grid of means and widened to the neighbouring excluded grid points, so the reported
    interval contains the exact one; running intersection over t.

    ``population`` = N switches to sampling without replacement from N fixed values (WSR
    Sec. 6): m is their mean, the bet at step i is against the mean of the values not yet
    drawn, ``m_i = (N m - S_{i-1}) / (N - i + 1)`` (exactly X_i's conditional mean when m is
    right), a grid value with an impossible ``m_i`` is excluded, and the bounds are cut to
    ``[S_t / N, (S_t + N - t) / N]``, so the sequence closes on the mean once all are drawn.
    """
    _check_alpha(alpha)
    x = _checked(outcomes, target_n)
    if x.size == 0:
        return np.empty(0), np.empty(0)
    if population is not None and population < x.size:
        raise ValueError(f"population {population!r} is smaller than the {x.size} outcomes")
    grid = (np.arange(grid_size) + 0.5) / grid_size
    threshold = math.log(1.0 / alpha)
    lam = predictable_lambda(x, alpha, target_n)
    sums_before = np.concatenate(([0.0], np.cumsum(x)[:-1]))
    lows, highs = np.empty(x.size), np.empty(x.size)
    carry_up = np.zeros(grid_size)
    carry_down = np.zeros(grid_size)
    carry_impossible = np.zeros(grid_size, bool)
    for start in range(0, x.size, _CHUNK):
        stop = min(start + _CHUNK, x.size)
        if population is None:
            means = np.broadcast_to(grid, (stop - start, grid_size))
            impossible = np.zeros(means.shape, bool)
        else:
            left = population - np.arange(start, stop, dtype=float)  # N - i + 1 for i = start+1..
            means = (population * grid[None, :] - sums_before[start:stop, None]) / left[:, None]
            impossible = carry_impossible | np.logical_or.accumulate(
                (means < 0.0) | (means > 1.0), axis=0
            )
            carry_impossible = impossible[-1]
            means = np.clip(means, 0.0, 1.0)
        xs = x[start:stop, None] - means
        ls = lam[start:stop, None]
        with np.errstate(divide="ignore"):
            bet_up = np.minimum(ls, BET_CAP / means)
            bet_down = np.minimum(ls, BET_CAP / (1.0 - means))
        up = carry_up + np.cumsum(np.log1p(bet_up * xs), axis=0)
        down = carry_down + np.cumsum(np.log1p(-bet_down * xs), axis=0)
        carry_up, carry_down = up[-1], down[-1]
        kept = (np.maximum(up, down) + math.log(0.5) < threshold) & ~impossible
        any_kept = kept.any(axis=1)
        first = np.argmax(kept, axis=1)
        last = grid_size - 1 - np.argmax(kept[:, ::-1], axis=1)
        low = np.where(first > 0, grid[np.maximum(first - 1, 0)], 0.0)
        high = np.where(last < grid_size - 1, grid[np.minimum(last + 1, grid_size - 1)], 1.0)
        lows[start:stop] = np.where(any_kept, low, 0.0)
        highs[start:stop] = np.where(any_kept, high, 1.0)
    if population is not None:
        sums = np.cumsum(x)
        drawn = np.arange(1, x.size + 1)
        lows = np.maximum(lows, sums / population)
        highs = np.minimum(highs, (sums + population - drawn) / population)
    return np.maximum.accumulate(lows), np.minimum.accumulate(highs)


@dataclass(frozen=True)
class StratumData:
    """One stratum of a slice: its share of the slice's pairs and its outcomes in queue order."""

    share: float
    outcomes: Sequence[float] | np.ndarray
    size: int | None = None
    """Pairs in the stratum (tunes lambda); None uses WSR's default tuning."""


def stratum_alphas(shares: Sequence[float], alpha: float) -> list[float]:
    """Each live stratum's level: ``alpha`` split in proportion to the strata's shares.

    Fixed by the shares (known before any judgment) and summing to ``alpha``, so the union
    bound over the strata keeps the slice's level at ``alpha``.
    """
    total = float(sum(shares))
    if total <= 0 or any(share <= 0 for share in shares):
        raise ValueError("stratum shares must be positive")
    return [alpha * share / total for share in shares]


def stratified_interval(
    strata: Sequence[StratumData], alpha: float = 0.05, finite: bool = False
) -> tuple[float, float]:
    """Current anytime-valid interval of ``sum_h share_h * mean_h`` (shares must sum to 1).

    Each stratum with a positive share gets level ``share * alpha``; one without outcomes
    contributes [0, 1]. Strata of more than ``BETTING_MAX_PAIRS`` pairs use the closed-form
    empirical-Bernstein sequence (a choice fixed by the stratum's size before any data, so
    each stratum still has one valid sequence), the others the betting one. ``finite``: the
    target is the mean of the strata's ``size`` fixed values (sampling without replacement).
    """
    _check_alpha(alpha)
    live = [s for s in strata if s.share > 0]
    if not live:
        raise ValueError("at least one stratum needs a positive share")
    total = sum(s.share for s in live)
    if abs(total - 1.0) > 1e-9:
        raise ValueError(f"stratum shares must sum to 1, got {total!r}")
    low = high = 0.0
    for stratum, per_stratum in zip(
        live, stratum_alphas([s.share for s in live], alpha), strict=True
    ):
        large = stratum.size is not None and stratum.size > BETTING_MAX_PAIRS
        if finite:
            if stratum.size is None:
                raise ValueError("a finite-population interval needs every stratum's size")
            lows, highs = betting_confidence_sequence(
                stratum.outcomes, per_stratum, stratum.size, population=stratum.size
            )
        elif large:
            lows, highs = confidence_sequence(stratum.outcomes, per_stratum, stratum.size)
        else:
            lows, highs = betting_confidence_sequence(stratum.outcomes, per_stratum, stratum.size)
        low += stratum.share * (float(lows[-1]) if lows.size else 0.0)
        high += stratum.share * (float(highs[-1]) if highs.size else 1.0)
    return max(0.0, low), min(1.0, high)


def slice_decision(low: float, high: float, margin: float) -> Decision | None:
    """``go`` when ``low >= 0.5 - margin``, ``no-go`` when ``high < 0.5 - margin``, else None."""
    if not 0.0 <= margin < 0.5:
        raise ValueError(f"margin must lie in [0, 0.5), got {margin!r}")
    bound = 0.5 - margin
    if low >= bound:
        return "go"
    if high < bound:
        return "no-go"
    return None


def full_review_verdict(mean: float, n_votes: int, margin: float) -> Verdict:
    """The Results page's colour for a slice whose ``n_votes`` judgments average ``mean``.

    Wilson interval of the win rate against ``0.5 - margin`` (``stats_decisions``): green go,
    red no-go, amber inconclusive.
    """
    from swapcheck.stats import wilson_interval
    from swapcheck.stats_decisions import non_inferiority

    low, high = wilson_interval(mean * n_votes, n_votes)
    colour = non_inferiority(low, high, margin)
    return "go" if colour == "green" else "no-go" if colour == "red" else "inconclusive"


def predicted_full_review(low: float, high: float, n_votes: int, margin: float) -> Verdict | None:
    """The full review's verdict when it is the same for every final mean in [low, high].

    The verdict is monotone in the mean (no-go, then inconclusive, then go), so the two ends
    decide it; None while they differ.
    """
    at_low = full_review_verdict(low, n_votes, margin)
    return at_low if at_low == full_review_verdict(high, n_votes, margin) else None


__all__ = [
    "StratumData",
    "betting_confidence_sequence",
    "confidence_sequence",
    "full_review_verdict",
    "predicted_full_review",
    "hedged_log_capital",
    "predictable_lambda",
    "slice_decision",
    "stratified_interval",
    "stratum_alphas",
]
