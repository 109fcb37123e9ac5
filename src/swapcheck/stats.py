"""Pure statistics over judgment DataFrames: win rates, Wilson intervals, sign tests, bias."""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

Z_95: float = 1.959963984540054
"""Two-sided 95% normal quantile (``NormalDist().inv_cdf(0.975)``), not the one-sided 1.645."""

MISSING = "(missing)"
"""Slice value used for None/NaN cells of a slice column."""

CHOICE_VALUES: tuple[str, ...] = ("baseline", "candidate", "tie", "both_bad")
ROLE_VALUES: tuple[str, ...] = ("baseline", "candidate")
CHOICE_SCORE: dict[str, float] = {"baseline": 0.0, "candidate": 1.0, "tie": 0.5, "both_bad": 0.5}
"""A judgment's score for the candidate: a win 1, a loss 0, a tie or both-bad ½ (win rate)."""

WEIGHT_COLUMN = "selection_weight"
"""A judgments column of inverse selection probabilities (a prioritised review queue, see
``review_priority.selection_weights``). When present, every win-rate table weighs each
judgment by it: rates are weighted means, intervals Wilson at Kish's effective size, and the
table gains ``n_eff``; counts stay the judgments as given."""

TABLE_COLUMNS: tuple[str, ...] = (
    "slice",
    "value",
    "n",
    "candidate_wins",
    "baseline_wins",
    "ties",
    "both_bad",
    "win_rate",
    "ci_low",
    "ci_high",
    "tie_rate",
    "both_bad_rate",
    "both_bad_ci_low",
    "both_bad_ci_high",
    "sign_test_p",
    "low_n",
    "verdict",
)

_TABLE_DTYPES: dict[str, str] = {
    "slice": "object",
    "value": "object",
    "n": "int64",
    "candidate_wins": "int64",
    "baseline_wins": "int64",
    "ties": "int64",
    "both_bad": "int64",
    "low_n": "bool",
    "verdict": "object",
}


def _z(confidence: float) -> float:
    """Two-sided normal quantile for ``confidence`` (e.g. 0.95 -> 1.96)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    if confidence == 0.95:
        return Z_95
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``successes / n``.

    ``successes`` may be fractional (a tie counted as half a win). ``n == 0`` gives
    ``(nan, nan)``. Bounds are clamped to ``[0, 1]``. The z value is derived from
    ``confidence`` (two-sided), so any level in (0, 1) works.
    """
    z = _z(confidence)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n!r}")
    if n == 0:
        return (math.nan, math.nan)
    if not 0.0 <= successes <= n:
        raise ValueError(f"successes must be within [0, n={n}], got {successes!r}")
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    center = (p + z2 / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, center - half)
    high = 1.0 if successes == n else min(1.0, center + half)
    return (low, high)


_EXACT_SIGN_TEST_MAX_N = 20_000
"""Above this many decisive judgments the tail is summed in log space (floats, not big ints)."""


def sign_test_p(wins: int, losses: int) -> float:
    """Exact two-sided binomial sign test of ``wins`` vs ``losses`` under p = 0.5.

    Ties are excluded by the caller. Returns 1.0 when there is nothing decisive.
    ``p = min(1, 2 * P(X <= min(k, n - k)))`` with X ~ Binomial(n, 0.5), summed term by
    term: with integer arithmetic (``math.comb`` recurrence) up to 20 000 decisive
    judgments, beyond that in log space (relative error ~1e-10, still no approximation
    of the distribution itself).
    """
    if wins < 0 or losses < 0:
        raise ValueError(f"counts must be >= 0, got wins={wins!r}, losses={losses!r}")
    n = int(wins) + int(losses)
    if n == 0:
        return 1.0
    k = min(int(wins), int(losses))
    if 2 * k == n:
        return 1.0
    if n <= _EXACT_SIGN_TEST_MAX_N:
        tail = 0
        term = 1  # C(n, 0)
        for i in range(k + 1):
            tail += term
            term = term * (n - i) // (i + 1)
        return min(1.0, (2 * tail) / (1 << n))
    # Sum C(n, i) / C(n, k) for i = k, k-1, ... until the terms no longer matter.
    log_top = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    total, term = 1.0, 1.0
    for i in range(k, 0, -1):
        term *= i / (n - i + 1)  # C(n, i-1) / C(n, i)
        total += term
        if term < total * 1e-17:
            break
    log_p = math.log(2.0) + log_top - n * math.log(2.0) + math.log(total)
    return min(1.0, math.exp(log_p))


def _verdict(ci_low: float, ci_high: float) -> str:
    if ci_high < 0.5:
        return "worse"
    if ci_low > 0.5:
        return "better"
    return "inconclusive"


def _empty_table() -> pd.DataFrame:
    frame = pd.DataFrame(
        {col: pd.Series(dtype=_TABLE_DTYPES.get(col, "float64")) for col in TABLE_COLUMNS}
    )
    return frame


def _check_judgments(judgments: pd.DataFrame, extra: Sequence[str] = ()) -> None:
    missing = [c for c in ("choice", *extra) if c not in judgments.columns]
    if missing:
        raise ValueError(
            f"judgments are missing column(s) {missing}; expected at least "
            "pair_id, reviewer, choice, left_role and the slice columns"
        )
    bad = sorted({str(v) for v in judgments["choice"].unique()} - set(CHOICE_VALUES))
    if bad:
        raise ValueError(f"unknown choice value(s) {bad}; expected one of {list(CHOICE_VALUES)}")


def _slice_values(column: pd.Series) -> pd.Series:
    """Slice values as strings, with None/NaN mapped to ``"(missing)"``."""
    values = column.astype(object)
    return values.where(values.notna(), MISSING).map(str)


def _slice_codes(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer code per row and the label of each code, as ``_slice_values`` would give them.

    Factorises first and stringifies only the distinct values, so a million-row column costs
    one hash pass; raw values with the same string (``1`` and ``"1"``) share one code.
    """
    raw_codes, uniques = pd.factorize(column, use_na_sentinel=True)
    labels = [str(v) for v in uniques]
    if (raw_codes < 0).any():
        labels.append(MISSING)
        raw_codes = np.where(raw_codes < 0, len(labels) - 1, raw_codes)
    label_codes, distinct = pd.factorize(np.array(labels, dtype=object))
    return label_codes[raw_codes].astype(np.int64), [str(v) for v in distinct]


def _choice_codes(judgments: pd.DataFrame) -> np.ndarray:
    """Index of each row's ``choice`` in ``CHOICE_VALUES`` (validated by ``_check_judgments``)."""
    codes, uniques = pd.factorize(judgments["choice"], use_na_sentinel=False)
    lookup = np.array([CHOICE_VALUES.index(str(v)) for v in uniques], dtype=np.int64)
    return lookup[codes]


def _row_from_counts(
    slice_name: str,
    value: str,
    counts: Sequence[int],
    min_n: int,
    confidence: float,
) -> dict[str, Any]:
    """One table row from the counts of baseline, candidate, tie and both_bad choices."""
    base, cand, ties, both_bad = (int(c) for c in counts)
    n = base + cand + ties + both_bad
    score = cand + 0.5 * (ties + both_bad)
    ci_low, ci_high = wilson_interval(score, n, confidence)
    bb_low, bb_high = wilson_interval(both_bad, n, confidence)
    return {
        "slice": slice_name,
        "value": value,
        "n": n,
        "candidate_wins": cand,
        "baseline_wins": base,
        "ties": ties,
        "both_bad": both_bad,
        "win_rate": score / n,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "tie_rate": ties / n,
        "both_bad_rate": both_bad / n,
        "both_bad_ci_low": bb_low,
        "both_bad_ci_high": bb_high,
        "sign_test_p": sign_test_p(cand, base),
        "low_n": n < min_n,
        "verdict": _verdict(ci_low, ci_high),
    }


def _weighted_row(
    row: dict[str, Any], wcounts: np.ndarray, w_squared: float, confidence: float
) -> dict[str, Any]:
    """Replace a row's rates, intervals and test by their selection-weighted versions.

    Counts stay the judgments as given; rates are weighted means; intervals are Wilson at
    Kish's effective size ``n_eff = (sum w)^2 / sum w^2`` (as ``reweighted_win_rate``); the
    sign test runs on the decisive counts scaled to ``n_eff`` and rounded.
    """
    base, cand, ties, both_bad = (float(c) for c in wcounts)
    total = base + cand + ties + both_bad
    n_eff = total * total / w_squared if w_squared > 0 else 0.0
    rate = min(1.0, (cand + 0.5 * (ties + both_bad)) / total)
    ci_low, ci_high = wilson_interval(rate * n_eff, n_eff, confidence)  # type: ignore[arg-type]
    bb_rate = both_bad / total
    bb_low, bb_high = wilson_interval(bb_rate * n_eff, n_eff, confidence)  # type: ignore[arg-type]
    scale = n_eff / total
    row.update(
        win_rate=rate,
        ci_low=ci_low,
        ci_high=ci_high,
        tie_rate=ties / total,
        both_bad_rate=bb_rate,
        both_bad_ci_low=bb_low,
        both_bad_ci_high=bb_high,
        sign_test_p=sign_test_p(round(cand * scale), round(base * scale)),
        verdict=_verdict(ci_low, ci_high),
        n_eff=n_eff,
    )
    return row


def _grouped_table(
    slice_name: str,
    codes: np.ndarray,
    labels: Sequence[str],
    choice_codes: np.ndarray,
    min_n: int,
    confidence: float,
    weights: np.ndarray | None = None,
) -> pd.DataFrame:
    """Table rows for each group code present in ``codes``, counted with one ``bincount``.

    With ``weights`` (selection weights, see ``WEIGHT_COLUMN``) rates and intervals are
    weighted and the table gains an ``n_eff`` column.
    """
    n_choices = len(CHOICE_VALUES)
    cells = codes * n_choices + choice_codes
    counts = np.bincount(cells, minlength=len(labels) * n_choices)
    counts = counts.reshape(len(labels), n_choices)
    present = [int(i) for i in np.flatnonzero(counts.sum(axis=1))]
    present.sort(key=lambda i: labels[i])
    rows = [_row_from_counts(slice_name, labels[i], counts[i], min_n, confidence) for i in present]
    columns = list(TABLE_COLUMNS)
    if weights is not None:
        wcounts = np.bincount(cells, weights=weights, minlength=len(labels) * n_choices)
        wcounts = wcounts.reshape(len(labels), n_choices)
        squares = np.bincount(codes, weights=weights * weights, minlength=len(labels))
        rows = [
            _weighted_row(row, wcounts[i], float(squares[i]), confidence)
            for row, i in zip(rows, present, strict=True)
        ]
        columns.append("n_eff")
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["win_rate", "value"], kind="mergesort", ignore_index=True)


def _weights(judgments: pd.DataFrame) -> np.ndarray | None:
    """The judgments' selection weights, or None when they carry none."""
    if WEIGHT_COLUMN not in judgments.columns:
        return None
    weights = judgments[WEIGHT_COLUMN].to_numpy(dtype=float)
    if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
        raise ValueError(f"{WEIGHT_COLUMN!r} must hold finite weights > 0")
    return weights


def win_rate_table(
    judgments: pd.DataFrame,
    by: str | None = None,
    *,
    min_n: int = 30,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Candidate win rate per value of slice column ``by`` (one ``overall``/``all`` row if None).

    ``win_rate = (candidate_wins + 0.5 * (ties + both_bad)) / n``: a tie and a "both bad"
    verdict are both non-preferences and count as half a win for each side, so 0.5 means
    parity. ``ci_low``/``ci_high`` are the Wilson interval on that fractional score; with
    ties the per-judgment variance is below ``p(1 - p)``, so Wilson is conservative (the
    interval is, if anything, too wide). ``both_bad_rate`` gets its own Wilson interval.
    ``sign_test_p`` is the exact two-sided binomial sign test on decisive judgments only
    (candidate vs baseline wins, p = 0.5; 1.0 if none are decisive). ``low_n`` flags
    ``n < min_n``. ``verdict`` is ``worse`` when ``ci_high < 0.5``, ``better`` when
    ``ci_low > 0.5``, else ``inconclusive``. None/NaN slice values become ``"(missing)"``.
    Rows are sorted by ``win_rate`` ascending (worst first). Empty input gives an empty
    frame with the same columns.
    """
    _check_judgments(judgments, () if by is None else (by,))
    if judgments.empty:
        return _empty_table()
    _z(confidence)
    choice_codes = _choice_codes(judgments)
    weights = _weights(judgments)
    if by is None:
        codes = np.zeros(len(judgments), dtype=np.int64)
        return _grouped_table("overall", codes, ["all"], choice_codes, min_n, confidence, weights)
    codes, labels = _slice_codes(judgments[by])
    return _grouped_table(by, codes, labels, choice_codes, min_n, confidence, weights)


COMBINATION_SEPARATOR = " × "
"""Joins the two column names (``slice``) and the two values (``value``) of a combination row."""


def combination_table(
    judgments: pd.DataFrame,
    first: str,
    second: str,
    *,
    min_n: int = 30,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """``win_rate_table`` for every combination of values of two slice columns.

    Rows have ``slice = "first × second"`` (e.g. ``"locale × tier"``) and
    ``value = "v1 × v2"`` (e.g. ``"de-DE × pro"``), plus the same columns and ``low_n`` flag as
    ``win_rate_table``; only combinations that occur are listed, worst win rate first. Missing
    values become ``"(missing)"`` on either side. Multiple-testing control across all rows is
    ``stats_decisions.combination_decisions``.
    """
    if first == second:
        raise ValueError(f"a slice combination needs two different columns, got {first!r} twice")
    _check_judgments(judgments, (first, second))
    if judgments.empty:
        return _empty_table()
    _z(confidence)
    codes_a, labels_a = _slice_codes(judgments[first])
    codes_b, labels_b = _slice_codes(judgments[second])
    codes = codes_a * len(labels_b) + codes_b
    labels = [f"{a}{COMBINATION_SEPARATOR}{b}" for a in labels_a for b in labels_b]
    name = f"{first}{COMBINATION_SEPARATOR}{second}"
    return _grouped_table(
        name, codes, labels, _choice_codes(judgments), min_n, confidence, _weights(judgments)
    )


def combination_tables(
    judgments: pd.DataFrame,
    slice_columns: Sequence[str],
    *,
    min_n: int = 30,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """``combination_table`` for every unordered pair of ``slice_columns``, concatenated.

    Pairs follow the order of ``slice_columns`` (``(a, b), (a, c), (b, c)``); fewer than two
    columns give an empty table.
    """
    columns = list(
        dict.fromkeys([slice_columns] if isinstance(slice_columns, str) else slice_columns)
    )
    parts = [
        combination_table(judgments, a, b, min_n=min_n, confidence=confidence)
        for i, a in enumerate(columns)
        for b in columns[i + 1 :]
    ]
    parts = [p for p in parts if not p.empty]
    if not parts:
        _check_judgments(judgments, tuple(columns))
        return _empty_table()
    return pd.concat(parts, ignore_index=True)


def slice_tables(
    judgments: pd.DataFrame,
    slice_columns: Sequence[str],
    *,
    min_n: int = 30,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The overall row (``slice='overall'``, ``value='all'``) followed by each slice's table."""
    if isinstance(slice_columns, str):
        slice_columns = [slice_columns]
    _check_judgments(judgments, tuple(slice_columns))
    if judgments.empty:
        return _empty_table()
    _z(confidence)
    choice_codes = _choice_codes(judgments)
    weights = _weights(judgments)
    overall = np.zeros(len(judgments), dtype=np.int64)
    parts = [_grouped_table("overall", overall, ["all"], choice_codes, min_n, confidence, weights)]
    for column in slice_columns:
        codes, labels = _slice_codes(judgments[column])
        parts.append(
            _grouped_table(column, codes, labels, choice_codes, min_n, confidence, weights)
        )
    return pd.concat(parts, ignore_index=True)


def position_bias(judgments: pd.DataFrame, confidence: float = 0.95) -> dict[str, Any]:
    """How often the chosen side was the left one, among decisive judgments.

    Returns ``n_decisive``, ``left_picks``, ``left_pick_rate`` (NaN when nothing is
    decisive) and its Wilson interval ``ci_low``/``ci_high``. Without position bias the
    rate is 0.5, whatever the candidate's quality, because sides are randomised.
    """
    _check_judgments(judgments, ("left_role",))
    decisive = judgments[judgments["choice"].isin(ROLE_VALUES)]
    bad_roles = sorted({str(v) for v in decisive["left_role"].unique()} - set(ROLE_VALUES))
    if bad_roles:
        raise ValueError(f"unknown left_role value(s) {bad_roles}; expected {list(ROLE_VALUES)}")
    n = int(len(decisive))
    left = int((decisive["choice"].astype(object) == decisive["left_role"].astype(object)).sum())
    ci_low, ci_high = wilson_interval(left, n, confidence)
    return {
        "n_decisive": n,
        "left_picks": left,
        "left_pick_rate": left / n if n else math.nan,
        "ci_low": ci_low,
        "ci_high": ci_high,
    }


def _plain(value: Any) -> Any:
    """Numpy scalars to Python, NaN to None, so the result is JSON-serialisable."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(k): _plain(v) for k, v in record.items()} for record in table.to_dict(orient="records")
    ]


def summarize(
    judgments: pd.DataFrame,
    slice_columns: Sequence[str],
    min_n: int = 30,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """JSON-serialisable summary: overall row, slice rows, position bias and counts.

    ``overall`` is None when there are no judgments; NaN floats become None.
    """
    overall = _records(win_rate_table(judgments, None, min_n=min_n, confidence=confidence))
    if isinstance(slice_columns, str):
        slice_columns = [slice_columns]
    slices = [
        record
        for col in slice_columns
        for record in _records(win_rate_table(judgments, col, min_n=min_n, confidence=confidence))
    ]
    bias = position_bias(judgments, confidence) if "left_role" in judgments.columns else None
    n_reviewers = int(judgments["reviewer"].nunique()) if "reviewer" in judgments.columns else 0
    return {
        "overall": overall[0] if overall else None,
        "slices": slices,
        "position_bias": None if bias is None else {k: _plain(v) for k, v in bias.items()},
        "n_judgments": int(len(judgments)),
        "n_reviewers": n_reviewers,
    }


def without_slices(judgments: pd.DataFrame, held_out: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """Judgments whose prompt lies in none of the ``(column, value)`` slices.

    Slices overlap, so one regression drags down every slice that shares its rows; holding the
    worst slices out shows whether anything is wrong with the rest of the traffic.
    """
    keep = pd.Series(True, index=judgments.index)
    for column, value in held_out:
        keep &= _slice_values(judgments[column]) != value
    return judgments[keep]
