"""Behavioural drift table: evaluator scores of baseline vs candidate per slice, with FDR flags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from swapcheck.stats import _slice_codes, _slice_values, _z
from swapcheck.stats_decisions import benjamini_hochberg
from swapcheck.stats_special import (
    binomial_two_sided_p,
    t_quantile,
    t_two_sided_p,
)

DRIFT_COLUMNS: tuple[str, ...] = (
    "slice",
    "value",
    "evaluator",
    "kind",
    "higher_is",
    "n",
    "n_baseline",
    "n_candidate",
    "baseline",
    "candidate",
    "difference",
    "ci_low",
    "ci_high",
    "p_value",
    "q_value",
    "paired",
    "method",
    "flagged",
    "direction",
    "scope",
    "min_effect",
    "explained_by",
)
"""The drift table's columns; ``scope``, ``min_effect`` and ``explained_by`` follow the agreed
ones."""

_INT_COLUMNS = ("n", "n_baseline", "n_candidate")
_TEXT_COLUMNS = (
    "slice", "value", "evaluator", "kind", "higher_is", "method", "direction", "scope",
    "explained_by",
)  # fmt: skip
_FRAME_COLUMNS = ("evaluator", "scope", "kind", "higher_is", "baseline", "candidate", "value")

MIN_EFFECT_RATE = 0.05
"""Default practical minimum for rates: 5 percentage points, absolute."""
MIN_EFFECT_RELATIVE = 0.10
"""Default practical minimum for response means: 10% of the baseline mean's magnitude."""
MIN_EFFECT_PAIR_NEUTRAL = 0.25
"""Default practical minimum for neutral pair means (log2 length ratio): 0.25, i.e. ~19%."""

METHOD_MCNEMAR = "paired rate: Newcombe score interval, exact McNemar"
METHOD_PAIRED_T = "paired mean: t interval and test"
METHOD_PAIR_T = "pair mean vs 0: t interval and test"
METHOD_PAIR_MEAN = "pair mean: t interval, not tested"
METHOD_PAIR_RATE = "pair rate: Wilson interval, not tested"


def wilson_bounds(
    successes: np.ndarray, n: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised Wilson score interval (as ``stats.wilson_interval``); NaN where ``n == 0``."""
    z = _z(confidence)
    s, n = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / n
        z2 = z * z
        denom = 1.0 + z2 / n
        centre = (p + z2 / (2.0 * n)) / denom
        half = z * np.sqrt(np.maximum(p * (1.0 - p) / n + z2 / (4.0 * n * n), 0.0)) / denom
    low = np.where(s == 0, 0.0, np.maximum(0.0, centre - half))
    high = np.where(s == n, 1.0, np.minimum(1.0, centre + half))
    empty = n <= 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def newcombe_paired(
    both: np.ndarray,
    only_candidate: np.ndarray,
    only_baseline: np.ndarray,
    neither: np.ndarray,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe (1998) method 10 interval for ``p_candidate - p_baseline`` over paired 0/1 scores.

    Counts per pair: ``both`` (1 on each side), ``only_candidate``, ``only_baseline``,
    ``neither``. Square-and-add of the two Wilson intervals, with the correlation
    ``phi = C / sqrt(product of the four margins)`` where ``A = both*neither -
    only_candidate*only_baseline`` and ``C = A - n/2`` if ``A > n/2``, ``0`` if
    ``0 <= A <= n/2``, ``A`` if ``A < 0`` (``phi = 0`` when a margin is empty).
    """
    a, b, c, d = (
        np.asarray(v, dtype=float) for v in (both, only_candidate, only_baseline, neither)
    )
    n = a + b + c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson_bounds(a + b, n, confidence)
    l2, u2 = wilson_bounds(a + c, n, confidence)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    corrected = np.where(cross > n / 2.0, cross - n / 2.0, np.where(cross >= 0, 0.0, cross))
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(margins > 0, corrected / np.sqrt(np.where(margins > 0, margins, 1.0)), 0.0)
    theta = p1 - p2
    dl1, du1, dl2, du2 = p1 - l1, u1 - p1, p2 - l2, u2 - p2
    delta = np.sqrt(np.maximum(dl1**2 - 2.0 * phi * dl1 * du2 + du2**2, 0.0))
    eps = np.sqrt(np.maximum(du1**2 - 2.0 * phi * du1 * dl2 + dl2**2, 0.0))
    return np.maximum(theta - delta, -1.0), np.minimum(theta + eps, 1.0)


def _empty_table() -> pd.DataFrame:
    dtypes = {c: "int64" for c in _INT_COLUMNS}
    dtypes.update({c: "object" for c in _TEXT_COLUMNS})
    dtypes.update({"paired": "bool", "flagged": "bool"})
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "float64")) for c in DRIFT_COLUMNS})


def _check_frame(frame: pd.DataFrame, slice_columns: Sequence[str]) -> None:
    missing = [c for c in (*_FRAME_COLUMNS, *slice_columns) if c not in frame.columns]
    if missing:
        raise ValueError(
            f"evaluation frame is missing column(s) {missing}; pass store.evaluations."
            "evaluation_frame(store, study) and slice columns it has"
        )
    checks = (("scope", {"response", "pair"}), ("kind", {"rate", "mean"}))
    checks += (("higher_is", {"worse", "better", "neutral"}),)
    for column, allowed in checks:
        bad = sorted({str(v) for v in frame[column].unique()} - allowed)
        if bad:
            raise ValueError(f"unknown {column} value(s) {bad}; expected one of {sorted(allowed)}")


class _Scores:
    """Per-row arrays of one evaluation frame, computed once for every slice column."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.eval_codes, evaluators = pd.factorize(frame["evaluator"].astype(object))
        self.evaluators = [str(e) for e in evaluators]
        first = pd.Series(np.arange(len(frame))).groupby(self.eval_codes).first().to_numpy()
        meta = frame.iloc[first]
        self.scope = meta["scope"].astype(str).to_numpy()
        self.kind = meta["kind"].astype(str).to_numpy()
        self.higher_is = meta["higher_is"].astype(str).to_numpy()
        is_pair = (self.scope == "pair")[self.eval_codes]
        base = frame["baseline"].to_numpy(dtype=float)
        cand = frame["candidate"].to_numpy(dtype=float)
        pair_value = frame["value"].to_numpy(dtype=float)
        response_used = ~is_pair & ~np.isnan(base) & ~np.isnan(cand)
        self.has_base = (~is_pair & ~np.isnan(base)).astype(float)
        self.has_cand = (~is_pair & ~np.isnan(cand)).astype(float)
        self.used = np.where(is_pair, ~np.isnan(pair_value), response_used)
        self.x = np.where(self.used, np.where(is_pair, pair_value, cand - base), 0.0)
        self.base = np.where(response_used, base, 0.0)
        self.cand = np.where(response_used, cand, 0.0)
        self.only_cand = (response_used & (cand > base)).astype(float)
        self.only_base = (response_used & (base > cand)).astype(float)
        self.both = (response_used & (base > 0.5) & (cand > 0.5)).astype(float)


def _group_sums(scores: _Scores, codes: np.ndarray, n_values: int) -> dict[str, np.ndarray]:
    """Sums per (slice value, evaluator) group with one ``bincount`` per statistic."""
    n_eval = len(scores.evaluators)
    key = codes * n_eval + scores.eval_codes
    size = n_values * n_eval

    def total(weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(key, weights=weights, minlength=size)

    sums = {
        "rows": total(),
        "n": total(scores.used.astype(float)),
        "n_baseline": total(scores.has_base),
        "n_candidate": total(scores.has_cand),
        "sum_x": total(scores.x),
        "sum_base": total(scores.base),
        "sum_cand": total(scores.cand),
        "only_cand": total(scores.only_cand),
        "only_base": total(scores.only_base),
        "both": total(scores.both),
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(sums["n"] > 0, sums["sum_x"] / sums["n"], 0.0)
    centred = np.where(scores.used, scores.x - mean[key], 0.0)
    sums["ss"] = total(centred * centred)
    return sums


def _slice_part(
    scores: _Scores, name: str, codes: np.ndarray, labels: Sequence[str]
) -> pd.DataFrame:
    sums = _group_sums(scores, codes, len(labels))
    n_eval = len(scores.evaluators)
    present = np.flatnonzero(sums["rows"] > 0)
    order = sorted(present, key=lambda g: (labels[g // n_eval], scores.evaluators[g % n_eval]))
    idx = np.asarray(order, dtype=np.int64)
    part = {k: v[idx] for k, v in sums.items()}
    eval_idx = idx % n_eval
    part["slice"] = np.full(len(idx), name, dtype=object)
    part["value"] = np.array([labels[g // n_eval] for g in idx], dtype=object)
    part["eval_idx"] = eval_idx
    return pd.DataFrame(part)


def _statistics(groups: pd.DataFrame, scores: _Scores, confidence: float) -> dict[str, np.ndarray]:
    """Estimates, intervals and p-values for every group row, vectorised over rows."""
    e = groups["eval_idx"].to_numpy()
    scope, kind, higher = scores.scope[e], scores.kind[e], scores.higher_is[e]
    n = groups["n"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_x = np.where(n > 0, groups["sum_x"].to_numpy() / n, np.nan)
        sd = np.sqrt(groups["ss"].to_numpy() / (n - 1.0))
        base_mean = np.where(n > 0, groups["sum_base"].to_numpy() / n, np.nan)
        cand_mean = np.where(n > 0, groups["sum_cand"].to_numpy() / n, np.nan)
    is_pair = scope == "pair"
    paired_rate = ~is_pair & (kind == "rate")
    pair_rate = is_pair & (kind == "rate")
    tested_t = (~is_pair & (kind == "mean")) | (is_pair & (kind == "mean") & (higher == "neutral"))

    # t intervals and tests (means); a zero spread gives a point interval and p 0 or 1.
    df = np.where(n >= 2, n - 1.0, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):  # n = 0: no interval (NaN)
        se = sd / np.sqrt(n)
    crit = t_quantile(confidence, np.nan_to_num(df, nan=0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        t_low, t_high = mean_x - crit * se, mean_x + crit * se
        t_stat = np.where(se > 0, mean_x / se, np.where(mean_x == 0, 0.0, np.inf))
    t_p = t_two_sided_p(t_stat, np.nan_to_num(df, nan=0.0))

    only_cand = groups["only_cand"].to_numpy()
    only_base = groups["only_base"].to_numpy()
    both = groups["both"].to_numpy()
    nc_low, nc_high = newcombe_paired(
        both, only_cand, only_base, n - both - only_cand - only_base, confidence
    )
    mcnemar = binomial_two_sided_p(only_cand, only_base)
    rate_sum = groups["sum_x"].to_numpy()
    w_low, w_high = wilson_bounds(rate_sum, n, confidence)

    low = np.select([paired_rate, pair_rate], [nc_low, w_low], t_low)
    high = np.select([paired_rate, pair_rate], [nc_high, w_high], t_high)
    p = np.select([paired_rate, tested_t], [mcnemar, t_p], np.nan)
    p = np.where(n > 0, p, np.nan)
    method = np.select(
        [paired_rate, pair_rate, ~is_pair, higher == "neutral"],
        [METHOD_MCNEMAR, METHOD_PAIR_RATE, METHOD_PAIRED_T, METHOD_PAIR_T],
        METHOD_PAIR_MEAN,
    ).astype(object)
    return {
        "scope": scope.astype(object),
        "kind": kind.astype(object),
        "higher_is": higher.astype(object),
        "baseline": np.where(is_pair, np.nan, base_mean),
        "candidate": np.where(is_pair, np.nan, cand_mean),
        "difference": mean_x,
        "ci_low": low,
        "ci_high": high,
        "p_value": p,
        "paired": ~is_pair,
        "method": method,
    }


def _min_effects(table: pd.DataFrame, overrides: Mapping[str, float]) -> np.ndarray:
    scope, kind = table["scope"].to_numpy(), table["kind"].to_numpy()
    base = np.abs(table["baseline"].to_numpy(dtype=float))
    default = np.select(
        [kind == "rate", scope == "response", table["higher_is"].to_numpy() == "neutral"],
        [MIN_EFFECT_RATE, MIN_EFFECT_RELATIVE * base, MIN_EFFECT_PAIR_NEUTRAL],
        np.nan,
    )
    custom = table["evaluator"].map(dict(overrides)).to_numpy(dtype=float)
    return np.where(np.isnan(custom), default, custom)


def _first_row_per_pair(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Pair code of each row and the first row of each pair, or None without ``pair_id``."""
    if "pair_id" not in frame.columns:
        return None
    pair_codes, pairs = pd.factorize(frame["pair_id"])
    if (pair_codes < 0).any():
        return None
    first = np.empty(len(pairs), dtype=np.int64)
    first[pair_codes[::-1]] = np.arange(len(frame) - 1, -1, -1)
    return pair_codes, first


def _column_codes(
    values: pd.Series, pairs: tuple[np.ndarray, np.ndarray] | None
) -> tuple[np.ndarray, list[str]]:
    """``stats._slice_codes`` of a slice column, factorised once per pair (not per score row)."""
    if pairs is None:
        return _slice_codes(values)
    pair_codes, first = pairs
    codes, labels = _slice_codes(values.iloc[first].reset_index(drop=True))
    return codes[pair_codes], labels


def drift_table(
    frame: pd.DataFrame,
    slice_columns: Sequence[str],
    *,
    confidence: float = 0.95,
    fdr: float = 0.05,
    min_effect: Mapping[str, float] | None = None,
    min_n: int = 10,
    explain_overlaps: bool = True,
) -> pd.DataFrame:
    """Baseline vs candidate per slice and evaluator instance over an evaluation frame.

    One row per (slice column, slice value) that occurs, after an ``overall``/``all`` row, and
    per evaluator instance, in that order (values and evaluators sorted); None slice values
    become ``"(missing)"``. Columns are ``DRIFT_COLUMNS``.

    Response evaluators are paired: only pairs where both answers were scored count (``n``);
    ``n_baseline``/``n_candidate`` count the scored answers on each side. ``baseline`` and
    ``candidate`` are the rates or means over those ``n`` pairs and ``difference`` is
    candidate minus baseline.

    * rates (0/1): Newcombe (1998) method 10 score interval for the paired difference and the
      exact McNemar test (two-sided binomial test on the discordant pairs, p = 1/2);
    * means: paired t interval and t test on the per-pair differences;
    * pair evaluators (``value`` only; ``baseline``/``candidate`` NaN, ``difference`` holds
      the mean value): the t interval of the mean; only neutral means (log2 length ratio) are
      tested against 0. Others (similarity: no natural null) and pair rates (Wilson interval)
      are descriptive: ``p_value`` NaN, never flagged.

    With no spread (every difference equal) a mean's interval is that point and p is 1 when
    it is 0, else 0. ``q_value`` is the Benjamini-Hochberg adjustment over every tested row
    with ``n >= min_n`` (all slices, the overall rows and all evaluators form one family);
    rows below ``min_n`` keep their p-value but cannot be flagged, so leaving them out of the
    family is a filter fixed before the outcome is seen.

    ``flagged`` = ``q_value <= fdr`` and the interval excludes 0 and ``|difference| >=
    min_effect`` and ``n >= min_n``. The practical minimum effect (column ``min_effect``)
    defaults to 0.05 absolute for rates (5 points), 10% of the baseline mean for response
    means (e.g. answers 10% longer), and 0.25 for neutral pair means (a log2 length ratio of
    0.25 is about 19% longer); ``min_effect={"<instance>": x}`` sets an absolute minimum per
    evaluator instance (names not in the frame are ignored). ``direction`` of a flagged row is
    ``worse``/``better`` by the evaluator's ``higher_is`` and ``changed`` when neutral; ''
    otherwise.

    Slices overlap (a locale holds prompts of every feature), so one real change shows up in
    every slice that shares its pairs. With ``explain_overlaps`` (default) the flagged slices
    of each evaluator are peeled greedily: the strongest (smallest p, then largest change)
    becomes a *source*, its pairs are set aside, the table is recomputed, and the next
    strongest still-flagged slice follows, until none is left. A slice flagged at first but
    not once the sources' pairs are set aside is not flagged; ``explained_by`` names the
    sources that share its pairs (e.g. ``feature=json_extract``). Its own figures stay as
    measured. The overall row is never explained away.

    All sums come from one ``bincount`` per statistic and slice column; only the final
    per-row tests loop. Empty input gives an empty table with the same columns.
    """
    columns = [slice_columns] if isinstance(slice_columns, str) else list(slice_columns)
    columns = list(dict.fromkeys(columns))
    _check_frame(frame, columns)
    _z(confidence)
    if not 0.0 < fdr <= 1.0:
        raise ValueError(f"fdr must lie in (0, 1], got {fdr!r}")
    if min_n < 0:
        raise ValueError(f"min_n must be >= 0, got {min_n!r}")
    if frame.empty:
        return _empty_table()
    frame = frame.reset_index(drop=True)
    scores = _Scores(frame)
    pairs = _first_row_per_pair(frame)
    parts = [_slice_part(scores, "overall", np.zeros(len(frame), dtype=np.int64), ["all"])]
    for column in columns:
        codes, labels = _column_codes(frame[column], pairs)
        parts.append(_slice_part(scores, column, codes, labels))
    groups = pd.concat(parts, ignore_index=True)
    stats = _statistics(groups, scores, confidence)
    table = pd.DataFrame(
        {
            "slice": groups["slice"].to_numpy(dtype=object),
            "value": groups["value"].to_numpy(dtype=object),
            "evaluator": np.array(scores.evaluators, dtype=object)[groups["eval_idx"].to_numpy()],
            "n": groups["n"].to_numpy().round().astype(np.int64),
            "n_baseline": groups["n_baseline"].to_numpy().round().astype(np.int64),
            "n_candidate": groups["n_candidate"].to_numpy().round().astype(np.int64),
            **stats,
        }
    )
    enough = table["n"].to_numpy() >= min_n
    p = table["p_value"].to_numpy(dtype=float)
    q = np.full(len(table), np.nan)
    family = enough & ~np.isnan(p)
    q[family] = benjamini_hochberg(p[family])
    table["q_value"] = q
    table["min_effect"] = _min_effects(table, min_effect or {})
    diff = table["difference"].to_numpy(dtype=float)
    low, high = table["ci_low"].to_numpy(dtype=float), table["ci_high"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        flagged = (
            family
            & (q <= fdr)
            & ((low > 0) | (high < 0))
            & (np.abs(diff) >= table["min_effect"].to_numpy(dtype=float))
        )
    table["flagged"] = flagged
    higher = table["higher_is"].to_numpy()
    direction = np.select(
        [higher == "neutral", (higher == "worse") == (diff > 0)], ["changed", "worse"], "better"
    )
    table["direction"] = np.where(flagged, direction, "").astype(object)
    table["explained_by"] = ""
    if explain_overlaps:
        options = {"confidence": confidence, "fdr": fdr, "min_effect": min_effect, "min_n": min_n}
        table = _explain_overlaps(frame, table, columns, options)
    return table[list(DRIFT_COLUMNS)]


def _explain_overlaps(
    frame: pd.DataFrame, table: pd.DataFrame, columns: list[str], options: dict[str, Any]
) -> pd.DataFrame:
    """Unflag slices whose change disappears once stronger flagged slices are set aside."""
    flagged = table[table["flagged"].astype(bool) & (table["slice"] != "overall")]
    values = {c: _slice_values(frame[c]) for c in columns}
    for evaluator, rows in flagged.groupby("evaluator", sort=False):
        if rows["slice"].nunique() < 2:
            continue  # changes in one column only: slices of one column never overlap
        mine = (frame["evaluator"] == evaluator).to_numpy()
        flagged_keys = {(str(r.slice), str(r.value)) for r in rows.itertuples()}
        sources: list[tuple[str, str]] = []
        set_aside = np.zeros(len(frame), dtype=bool)
        current = rows
        while True:
            open_rows = current[
                [(str(r.slice), str(r.value)) in flagged_keys - set(sources)
                 for r in current.itertuples()]
            ]  # fmt: skip
            if open_rows.empty:
                break
            order = open_rows.assign(_size=-open_rows["difference"].abs()).sort_values(
                ["p_value", "_size"], kind="mergesort"
            )
            best = order.iloc[0]
            sources.append((str(best["slice"]), str(best["value"])))
            set_aside |= (values[str(best["slice"])] == str(best["value"])).to_numpy()
            rest = frame[mine & ~set_aside]
            if rest.empty:
                break
            again = drift_table(rest, columns, explain_overlaps=False, **options)
            current = again[again["flagged"].astype(bool) & (again["slice"] != "overall")]
        for key in flagged_keys - set(sources):
            in_slice = mine & (values[key[0]] == key[1]).to_numpy()
            causes = [
                f"{column}={value}"
                for column, value in sources
                if column != key[0] and (in_slice & (values[column] == value).to_numpy()).any()
            ]
            at = (
                (table["evaluator"] == evaluator)
                & (table["slice"] == key[0])
                & (table["value"] == key[1])
            )
            table.loc[at, "flagged"] = False
            table.loc[at, "direction"] = ""
            table.loc[at, "explained_by"] = ", ".join(causes) or "stronger overlapping slices"
    return table


__all__ = [
    "DRIFT_COLUMNS",
    "MIN_EFFECT_PAIR_NEUTRAL",
    "MIN_EFFECT_RATE",
    "MIN_EFFECT_RELATIVE",
    "drift_table",
    "binomial_two_sided_p",
    "newcombe_paired",
    "t_quantile",
    "t_two_sided_p",
    "wilson_bounds",
]
