"""Special functions for the statistics, vectorised in numpy: regularised incomplete beta,
Student t tail probabilities and quantiles, exact two-sided binomial p-values.

Kept here (not scipy) because scipy is a test-only dependency; every function is checked
against scipy in the tests (tests/test_stats_drift.py).
"""

from __future__ import annotations

import math

import numpy as np

from swapcheck.stats import _z

_EPS = 1e-15
_TINY = 1e-300


def _lgamma(values: np.ndarray) -> np.ndarray:
    return np.array([math.lgamma(float(v)) for v in values.reshape(-1)]).reshape(values.shape)


def _stirling_tail(x: np.ndarray) -> np.ndarray:
    return 1 / (12 * x) - 1 / (360 * x**3) + 1 / (1260 * x**5) - 1 / (1680 * x**7)


def _log_gamma_ratio_half(a: np.ndarray) -> np.ndarray:
    """``log(Gamma(a + 1/2) / Gamma(a))`` without the cancellation of two large lgammas.

    Below 20 the lgammas are small enough to subtract; above, the difference of the two
    Stirling series (truncation error below 1e-16 there).
    """
    a = np.asarray(a, dtype=float)
    small = a < 20.0
    out = np.empty_like(a)
    if small.any():
        out[small] = _lgamma(a[small] + 0.5) - _lgamma(a[small])
    big = a[~small]
    out[~small] = (
        0.5 * np.log(big)
        + big * np.log1p(0.5 / big)
        - 0.5
        + _stirling_tail(big + 0.5)
        - _stirling_tail(big)
    )
    return out


def _log_beta_half(a: np.ndarray) -> np.ndarray:
    """``log B(a, 1/2)``, accurate for large ``a`` (Student t has one shape parameter 1/2)."""
    return 0.5 * math.log(math.pi) - _log_gamma_ratio_half(a)


def _betacf(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Continued fraction of the incomplete beta function (modified Lentz), element-wise."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = 1.0 / np.where(np.abs(d) < _TINY, _TINY, d)
    h = d.copy()
    for m in range(1, 100_000):
        m2 = 2.0 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / np.where(np.abs(d) < _TINY, _TINY, d)
            c = 1.0 + aa / c
            c = np.where(np.abs(c) < _TINY, _TINY, c)
            delta = d * c
            h = h * delta
        if np.all(np.abs(delta - 1.0) < _EPS):
            break
    return h


def _betainc(
    a: np.ndarray, b: np.ndarray, x: np.ndarray, one_minus_x: np.ndarray, log_beta: np.ndarray
) -> np.ndarray:
    """Regularised incomplete beta ``I_x(a, b)``, given ``log B(a, b)``.

    ``one_minus_x`` is ``1 - x`` computed without rounding.
    """
    out = np.where(x <= 0.0, 0.0, 1.0)
    inner = (x > 0.0) & (one_minus_x > 0.0)
    if not inner.any():
        return out
    a, b, x, y = a[inner], b[inner], x[inner], one_minus_x[inner]
    log_beta = log_beta[inner]
    with np.errstate(divide="ignore"):  # np.where evaluates both branches
        log_x = np.where(x > 0.5, np.log1p(-y), np.log(x))
        log_y = np.where(y > 0.5, np.log1p(-x), np.log(y))
    log_front = a * log_x + b * log_y - log_beta
    front = np.exp(log_front)
    direct = x < (a + 1.0) / (a + b + 2.0)
    value = np.empty_like(x)
    if direct.any():
        value[direct] = front[direct] * _betacf(a[direct], b[direct], x[direct]) / a[direct]
    flip = ~direct
    if flip.any():
        value[flip] = 1.0 - front[flip] * _betacf(b[flip], a[flip], y[flip]) / b[flip]
    out[inner] = value
    return out


def t_two_sided_p(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided p-value ``P(|T| >= |t|)`` of Student's t with ``df`` degrees of freedom."""
    t = np.abs(np.asarray(t, dtype=float))
    df = np.asarray(df, dtype=float)
    t, df = np.broadcast_arrays(t, df)
    out = np.full(t.shape, np.nan)
    ok = (df > 0) & ~np.isnan(t)
    out[ok & np.isinf(t)] = 0.0
    ok &= np.isfinite(t)
    if ok.any():
        tt, nu = t[ok], df[ok]
        t2 = tt * tt
        half = nu / 2.0
        x, y = nu / (nu + t2), t2 / (nu + t2)
        out[ok] = _betainc(half, np.full_like(nu, 0.5), x, y, _log_beta_half(half))
    return out


def binomial_two_sided_p(successes: np.ndarray, failures: np.ndarray) -> np.ndarray:
    """Exact two-sided binomial test of p = 1/2 (the sign test), element-wise.

    ``p = min(1, 2 * P(X <= min(k, n - k)))`` with X ~ Binomial(n, 1/2), as
    ``stats.sign_test_p`` but vectorised: the tail is ``I_{1/2}(n - k, k + 1)``. NaN where
    there is nothing to test (no discordant pair gives 1.0, as in the scalar version).
    """
    s = np.asarray(successes, dtype=float)
    f = np.asarray(failures, dtype=float)
    n, k = s + f, np.minimum(s, f)
    out = np.ones(n.shape)
    tested = 2.0 * k < n
    if tested.any():
        a, b = n[tested] - k[tested], k[tested] + 1.0
        log_beta = _lgamma(a) + _lgamma(b) - _lgamma(a + b)
        half = np.full(a.shape, 0.5)
        out[tested] = np.minimum(1.0, 2.0 * _betainc(a, b, half, half, log_beta))
    return out


def _t_log_pdf(t: np.ndarray, nu: np.ndarray) -> np.ndarray:
    return (
        _log_gamma_ratio_half(nu / 2.0)
        - 0.5 * np.log(nu * math.pi)
        - (nu + 1.0) / 2.0 * np.log1p(t * t / nu)
    )


def t_quantile(confidence: float, df: np.ndarray) -> np.ndarray:
    """Critical ``t`` with ``P(|T| <= t) = confidence`` for each ``df`` (NaN below 1).

    Computed once per distinct ``df`` (see ``_t_quantile_distinct``).
    """
    df = np.asarray(df, dtype=float)
    distinct, inverse = np.unique(df, return_inverse=True)
    return _t_quantile_distinct(confidence, distinct)[inverse].reshape(df.shape)


def _t_quantile_distinct(confidence: float, df: np.ndarray) -> np.ndarray:
    """Critical ``t`` with ``P(|T| <= t) = confidence`` for each ``df`` (NaN below 1).

    Exact for 1 and 2 degrees of freedom; otherwise a Cornish-Fisher start refined by Newton
    steps on the tail probability until it no longer moves.
    """
    z = _z(confidence)
    alpha = 1.0 - confidence
    df = np.asarray(df, dtype=float)
    out = np.full(df.shape, np.nan)
    one, two = df == 1, df == 2
    out[one] = 1.0 / math.tan(math.pi * alpha / 2.0)
    out[two] = math.sqrt(2.0 / (alpha * (2.0 - alpha)) - 2.0)
    rest = df > 2
    if not rest.any():
        return out
    nu = df[rest]
    t = (
        z
        + (z**3 + z) / (4 * nu)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * nu**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * nu**3)
    )
    active = np.ones(t.shape, dtype=bool)
    for _ in range(30):
        ta, na = t[active], nu[active]
        tail = t_two_sided_p(ta, na) / 2.0
        step = (tail - alpha / 2.0) / np.exp(_t_log_pdf(ta, na))
        t[active] = np.maximum(ta + step, ta / 2.0)
        active[active] = np.abs(step) > 1e-13 * ta
        if not active.any():
            break
    out[rest] = t
    return out
