"""Model-based win rates: length-controlled logistic regression and Bradley-Terry ratings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from swapcheck.stats import CHOICE_SCORE, _check_judgments, _z

LengthInput = str | Sequence[float] | np.ndarray | pd.Series


def _expit(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def fit_logistic(
    x: np.ndarray, y: np.ndarray, *, tol: float = 1e-12, max_iter: int = 100
) -> dict[str, Any]:
    """Binomial GLM with logit link by IRLS (Newton's method); ``y`` may be fractional.

    Returns ``coef``, ``cov`` (inverse Fisher information ``(X' W X)^-1``, scale 1),
    ``se``, ``converged`` and ``iterations``. A fit that does not converge (separation) has
    ``converged=False`` and NaN ``coef``/``cov``/``se``.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    beta = np.zeros(x.shape[1])
    converged = False
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        p = _expit(x @ beta)
        w = p * (1.0 - p)
        info = x.T @ (x * w[:, None])
        try:
            step = np.linalg.solve(info, x.T @ (y - p))
        except np.linalg.LinAlgError:
            break
        beta = beta + step
        if not np.all(np.isfinite(beta)) or np.max(np.abs(beta)) > 50:
            break
        if np.max(np.abs(step)) < tol * (1.0 + np.max(np.abs(beta))):
            converged = True
            break
    if not converged:
        nan = np.full(x.shape[1], np.nan)
        cov_nan = np.full((x.shape[1], x.shape[1]), np.nan)
        return {
            "coef": nan,
            "cov": cov_nan,
            "se": nan,
            "converged": False,
            "iterations": iterations,
        }
    p = _expit(x @ beta)
    info = x.T @ (x * (p * (1.0 - p))[:, None])
    cov = np.linalg.inv(info)
    return {
        "coef": beta,
        "cov": cov,
        "se": np.sqrt(np.diag(cov)),
        "converged": True,
        "iterations": iterations,
    }


def _lengths(judgments: pd.DataFrame, value: LengthInput, name: str) -> np.ndarray:
    if isinstance(value, str):
        if value not in judgments.columns:
            raise ValueError(f"{name} column {value!r} not in judgments")
        arr = pd.to_numeric(judgments[value], errors="coerce").to_numpy(dtype=float)
    else:
        arr = np.asarray(value, dtype=float).reshape(-1)
    if arr.shape[0] != len(judgments):
        raise ValueError(f"{name} has {arr.shape[0]} values for {len(judgments)} judgments")
    if np.any(arr[~np.isnan(arr)] < 0):
        raise ValueError(f"{name} must be >= 0")
    return arr


def length_controlled_win_rate(
    judgments: pd.DataFrame,
    baseline_len: LengthInput,
    candidate_len: LengthInput,
    *,
    ties: Literal["half", "exclude"] = "half",
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Candidate win probability at equal answer length, from a logistic regression.

    Model: ``logit P(candidate preferred) = b0 + b1 * x`` with the length difference on the
    log scale, ``x = log(1 + len_c) - log(1 + len_b)``: scale free (a 100 -> 200 character
    change weighs like 1000 -> 2000), robust to long-tailed lengths, defined for empty
    answers, and 0 exactly when the lengths are equal, so ``expit(b0)`` is the win rate
    at zero length difference. ``baseline_len``/``candidate_len`` are column names or
    arrays aligned with the rows; rows with a missing length are dropped.

    ``ties='half'`` (default) keeps ties and both_bad as half a win, consistent with
    ``stats.win_rate_table``: the two-row trick (one win and one loss, weight 0.5 each),
    which has exactly the likelihood of a fractional response y = 0.5 used here.
    ``ties='exclude'`` fits decisive judgments only. Fitted by IRLS; standard errors are
    model based (scale 1), conservative with ties as for Wilson. The interval is the Wald
    interval ``b0 +- z * se(b0)`` mapped through ``expit`` (stays inside [0, 1]);
    ``se`` is the delta-method standard error ``p (1 - p) se(b0)`` of the probability.
    If the length difference does not vary, only the intercept is fitted (slope NaN).
    """
    if ties not in ("half", "exclude"):
        raise ValueError(f"ties must be 'half' or 'exclude', got {ties!r}")
    _check_judgments(judgments)
    z = _z(confidence)
    len_b = _lengths(judgments, baseline_len, "baseline_len")
    len_c = _lengths(judgments, candidate_len, "candidate_len")
    y = judgments["choice"].astype(object).map(CHOICE_SCORE).to_numpy(dtype=float)
    keep = ~(np.isnan(len_b) | np.isnan(len_c))
    if ties == "exclude":
        keep &= y != 0.5
    x = np.log1p(len_c[keep]) - np.log1p(len_b[keep])
    y = y[keep]
    n = int(keep.sum())
    nan = math.nan
    result: dict[str, Any] = {
        "win_rate": nan,
        "ci_low": nan,
        "ci_high": nan,
        "se": nan,
        "intercept": nan,
        "intercept_se": nan,
        "length_coef": nan,
        "length_coef_se": nan,
        "raw_win_rate": float(y.mean()) if n else nan,
        "n": n,
        "n_dropped": int(len(judgments) - n),
        "predictor": "log1p(len_candidate) - log1p(len_baseline)",
        "ties": ties,
        "converged": False,
    }
    if n == 0:
        return result
    with_slope = bool(np.ptp(x) > 0)
    design = np.column_stack([np.ones(n), x]) if with_slope else np.ones((n, 1))
    fit = fit_logistic(design, y)
    result["converged"] = fit["converged"]
    if not fit["converged"]:
        return result
    b0, se0 = float(fit["coef"][0]), float(fit["se"][0])
    p0 = float(_expit(np.array(b0)))
    result.update(
        win_rate=p0,
        ci_low=float(_expit(np.array(b0 - z * se0))),
        ci_high=float(_expit(np.array(b0 + z * se0))),
        se=p0 * (1.0 - p0) * se0,
        intercept=b0,
        intercept_se=se0,
    )
    if with_slope:
        result.update(length_coef=float(fit["coef"][1]), length_coef_se=float(fit["se"][1]))
    return result


_WINNER_A = {"a": 1.0, "b": 0.0, "tie": 0.5}


def _bt_counts(
    ia: np.ndarray, ib: np.ndarray, score_a: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """``wins[i, j]``: win credit of i over j (ties half); ``n = wins + wins.T``."""
    wins = np.bincount(ia * k + ib, weights=score_a, minlength=k * k).reshape(k, k)
    wins += np.bincount(ib * k + ia, weights=1.0 - score_a, minlength=k * k).reshape(k, k)
    return wins, wins + wins.T


def _strongly_connected(wins: np.ndarray) -> bool:
    """Hunter's condition for a finite MLE: the "has beaten" graph is strongly connected."""
    adj = wins > 0
    k = adj.shape[0]
    for graph in (adj, adj.T):
        reached = np.zeros(k, dtype=bool)
        reached[0] = True
        frontier = reached.copy()
        while frontier.any():
            new = graph[frontier].any(axis=0) & ~reached
            reached |= new
            frontier = new
        if not reached.all():
            return False
    return True


def _bt_mm_batch(
    wins: np.ndarray, gamma: np.ndarray, tol: float = 1e-12, max_iter: int = 100_000
) -> np.ndarray:
    """Hunter's (2004) MM iteration on a stack of win matrices ``(r, k, k)`` at once.

    ``gamma`` ``(r, k)`` is the starting point (a warm start converges in far fewer steps);
    each replicate stops when its largest change of log strength is below ``tol``. Returns
    natural-log strengths with mean 0 per replicate. Every matrix must be strongly connected.
    """
    n = wins + np.swapaxes(wins, 1, 2)
    w = wins.sum(axis=2)
    gamma = gamma.copy()
    active = np.arange(wins.shape[0])
    for _ in range(max_iter):
        if active.size == 0:
            break
        g = gamma[active]
        denom = (n[active] / (g[:, :, None] + g[:, None, :])).sum(axis=2)
        new = w[active] / denom
        log_new = np.log(new)
        log_new -= log_new.mean(axis=1, keepdims=True)
        change = np.max(np.abs(log_new - np.log(g)), axis=1)
        gamma[active] = np.exp(log_new)
        active = active[change >= tol]
    return np.log(gamma)


def _bt_newton(wins: np.ndarray, theta: np.ndarray, steps: int = 3) -> np.ndarray:
    """Polish natural-log strengths ``theta`` (mean 0) with Newton steps on the likelihood.

    MM converges linearly, so its stopping rule leaves an error of order ``tol / (1 - rate)``;
    two or three Newton steps from there reach the MLE to machine precision. The Hessian is a
    weighted graph Laplacian (singular along the all-ones direction), so the step is solved
    with the mean-zero constraint added as ``+ 1 1' / k``.
    """
    n = wins + wins.T
    k = theta.size
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))  # P(i beats j)
        grad = wins.sum(axis=1) - (n * p).sum(axis=1)
        weight = n * p * (1.0 - p)
        laplacian = np.diag(weight.sum(axis=1)) - weight
        try:
            step = np.linalg.solve(laplacian + np.ones((k, k)) / k, grad)
        except np.linalg.LinAlgError:
            return theta
        new = theta + step
        new -= new.mean()
        if not np.all(np.isfinite(new)):
            return theta
        theta = new
        if np.max(np.abs(step)) < 1e-15:
            break
    return theta


def _bt_mm(
    wins: np.ndarray, n: np.ndarray, tol: float = 1e-12, max_iter: int = 100_000
) -> np.ndarray | None:
    """Hunter's MM iteration, finished by Newton steps: log10 strengths (mean 0), or None."""
    if not _strongly_connected(wins):
        return None
    theta = _bt_mm_batch(wins[None], np.ones((1, wins.shape[0])), tol, max_iter)[0]
    return _bt_newton(wins, theta) / math.log(10.0)


_OUTCOMES = 3
"""Outcomes of one ordered comparison: a wins, b wins, tie (cells of the bootstrap)."""


def _bt_bootstrap(
    ia: np.ndarray,
    ib: np.ndarray,
    score_a: np.ndarray,
    k: int,
    log10_gamma: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Log10 strengths of each bootstrap resample that has a finite MLE.

    Resampling the m comparison rows with replacement only matters through how often each
    distinct (variant_a, variant_b, outcome) cell is drawn, and those counts are exactly
    Multinomial(m, observed cell shares). So the resampled win matrices are drawn as
    multinomial cell counts: the same bootstrap distribution as resampling rows, at a cost
    independent of m. Each resample's MM starts from the full-data fit.
    """
    if n_boot <= 0:
        return []
    m = len(ia)
    outcome = np.where(score_a == 1.0, 0, np.where(score_a == 0.0, 1, 2))
    cells = np.bincount((ia * k + ib) * _OUTCOMES + outcome, minlength=k * k * _OUTCOMES)
    used = np.flatnonzero(cells)
    draws = rng.multinomial(m, cells[used] / m, size=n_boot).astype(float)
    full = np.zeros((n_boot, k * k * _OUTCOMES))
    full[:, used] = draws
    c = full.reshape(n_boot, k, k, _OUTCOMES)
    wins = c[..., 0] + 0.5 * c[..., 2]
    wins = wins + np.swapaxes(c[..., 1] + 0.5 * c[..., 2], 1, 2)
    ok = np.array([_strongly_connected(w) for w in wins], dtype=bool)
    if not ok.any():
        return []
    start = np.tile(np.power(10.0, log10_gamma), (int(ok.sum()), 1))
    theta = _bt_mm_batch(wins[ok], start)
    return list(theta / math.log(10.0))


def bradley_terry(
    comparisons: pd.DataFrame, n_boot: int = 200, seed: int = 0, confidence: float = 0.95
) -> pd.DataFrame:
    """Bradley-Terry ratings of several variants on an Elo-like scale, with bootstrap intervals.

    ``comparisons`` has ``variant_a``, ``variant_b`` and ``winner`` in {a, b, tie}; a tie is
    half a win for each side. Strengths are the maximum-likelihood estimates found with
    Hunter's (2004) MM algorithm and Newton steps; ``rating = 1000 + 400 * log10(strength)``
    anchored so the ratings average 1000, so ``P(i beats j) = 1 / (1 + 10 ** ((r_j - r_i) / 400))``.
    The MLE exists only when the "has beaten" graph is strongly connected (every variant has
    both won and lost against the rest in every split); otherwise ``ValueError``.
    Intervals are bootstrap percentiles over ``n_boot`` resamples of the comparison rows,
    drawn as multinomial counts of the distinct (a, b, outcome) cells, which is the same
    distribution (``numpy.random.default_rng(seed)``, so results are deterministic for a seed);
    resamples without a finite MLE are skipped and counted in ``attrs['n_boot_failed']``.
    Columns: ``variant``, ``rating``, ``ci_low``, ``ci_high``, ``wins``, ``n``;
    sorted by rating, best first.
    """
    missing = [c for c in ("variant_a", "variant_b", "winner") if c not in comparisons.columns]
    if missing:
        raise ValueError(f"comparisons are missing column(s) {missing}")
    bad = sorted({str(v) for v in comparisons["winner"].unique()} - set(_WINNER_A))
    if bad:
        raise ValueError(f"unknown winner value(s) {bad}; expected a, b or tie")
    a = comparisons["variant_a"].astype(object).to_numpy()
    b = comparisons["variant_b"].astype(object).to_numpy()
    if np.any(a == b):
        raise ValueError("a variant cannot be compared with itself")
    variants = sorted({str(v) for v in a} | {str(v) for v in b})
    k = len(variants)
    if k < 2:
        raise ValueError("need comparisons between at least two variants")
    index = {v: i for i, v in enumerate(variants)}
    ia = np.array([index[str(v)] for v in a], dtype=np.int64)
    ib = np.array([index[str(v)] for v in b], dtype=np.int64)
    score_a = comparisons["winner"].astype(object).map(_WINNER_A).to_numpy(dtype=float)
    wins, n = _bt_counts(ia, ib, score_a, k)
    log_gamma = _bt_mm(wins, n)
    if log_gamma is None:
        raise ValueError(
            "no finite Bradley-Terry fit: some group of variants never lost (or never won) "
            "against the others"
        )
    rng = np.random.default_rng(seed)
    boots = [
        1000.0 + 400.0 * fit for fit in _bt_bootstrap(ia, ib, score_a, k, log_gamma, n_boot, rng)
    ]
    alpha = (1.0 - confidence) / 2.0
    if boots:
        draws = np.vstack(boots)
        ci_low = np.quantile(draws, alpha, axis=0)
        ci_high = np.quantile(draws, 1.0 - alpha, axis=0)
    else:
        ci_low = ci_high = np.full(k, np.nan)
    frame = pd.DataFrame(
        {
            "variant": pd.Series(variants, dtype=object),
            "rating": 1000.0 + 400.0 * log_gamma,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "wins": wins.sum(axis=1),
            "n": n.sum(axis=1).round().astype("int64"),
        }
    )
    frame = frame.sort_values(["rating", "variant"], ascending=[False, True], ignore_index=True)
    frame.attrs["n_boot"] = int(n_boot)
    frame.attrs["n_boot_failed"] = int(n_boot - len(boots))
    return frame
