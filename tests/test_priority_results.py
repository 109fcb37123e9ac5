"""A prioritised queue's judgments are weighted by selection probability in every win rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from swapcheck.pipeline import study_results
from swapcheck.review import left_role_for, next_item, submit_judgment
from swapcheck.review_priority import PrioritySettings
from swapcheck.stats import WEIGHT_COLUMN, slice_tables
from swapcheck.stats_decisions import reweighted_win_rate
from swapcheck.store import Store
from swapcheck.store.priority import set_priority_settings
from swapcheck.store.studies import Study
from swapcheck.verdict_data import priority_strata, sign_off_judgments
from tests.helpers import simulated_study

pytestmark = pytest.mark.both_backends  # tmp_store: DuckDB and PostgreSQL


def test_weighted_tables_equal_the_independent_reweighted_rate_per_slice() -> None:
    rng = np.random.default_rng(5)
    n = 400
    frame = pd.DataFrame(
        {
            "choice": rng.choice(["baseline", "candidate", "tie", "both_bad"], n),
            "locale": rng.choice(["de", "en", "ja"], n),
            WEIGHT_COLUMN: rng.uniform(0.2, 5.0, n),
        }
    )
    table = slice_tables(frame, ["locale"], min_n=10)
    for row in table.itertuples():
        part = frame if row.slice == "overall" else frame[frame["locale"] == row.value]
        ref = reweighted_win_rate(part, WEIGHT_COLUMN)
        assert row.win_rate == pytest.approx(ref["win_rate"], abs=1e-12)
        assert (row.ci_low, row.ci_high) == pytest.approx((ref["ci_low"], ref["ci_high"]))
        assert row.n_eff == pytest.approx(ref["n_eff"], abs=1e-9)
        assert row.n == len(part)  # counts stay the judgments as given
        w = part[WEIGHT_COLUMN]
        assert row.tie_rate == pytest.approx(w[part["choice"] == "tie"].sum() / w.sum())
    # Equal weights give the unweighted table back (rates, intervals and sign test).
    equal = slice_tables(frame.assign(**{WEIGHT_COLUMN: 3.0}), ["locale"], min_n=10)
    plain = slice_tables(frame.drop(columns=WEIGHT_COLUMN), ["locale"], min_n=10)
    cols = ["win_rate", "ci_low", "ci_high", "tie_rate", "both_bad_rate", "sign_test_p"]
    np.testing.assert_allclose(equal[cols].to_numpy(float), plain[cols].to_numpy(float))
    assert (equal["n_eff"] == equal["n"]).all()
    with pytest.raises(ValueError, match="selection_weight"):
        slice_tables(frame.assign(**{WEIGHT_COLUMN: -1.0}), ["locale"])


def _contest(store: Store, study: Study, pair_ids: list[str]) -> None:
    """Make pairs contested: the refusal evaluator says only the candidate refused."""
    with store.cursor() as cur:
        for pair_id, variant, value in [
            (p, v, x) for p in pair_ids for v, x in ((study.baseline_variant, 0.0),
                                                     (study.candidate_variant, 1.0))
        ]:  # fmt: skip
            cur.execute(
                "INSERT INTO evaluation_scores (prompt_id, variant, evaluator, version, value) "
                "SELECT prompt_id, ?, 'refusal', 2, ? FROM pairs WHERE pair_id = ? "
                "ON CONFLICT DO UPDATE SET value = excluded.value",
                [variant, value, pair_id],
            )


def test_prioritised_study_results_are_weighted_by_selection_probability(
    tmp_store: Store, tmp_path: Path
) -> None:
    study = simulated_study(tmp_store, tmp_path, n=24)
    strata = priority_strata(tmp_store, study)
    contested = list(strata["pair_id"][:6])
    _contest(tmp_store, study, contested)
    set_priority_settings(tmp_store, study, PrioritySettings(enabled=True, contested_share=0.8))
    strata = priority_strata(tmp_store, study)
    assert set(contested) <= set(strata.loc[strata["contested"], "pair_id"])
    contested = list(strata.loc[strata["contested"], "pair_id"])  # plus what evaluators saw
    assert 6 <= len(contested) < len(strata)
    # One reviewer judges 10 pairs: the queue over-samples the contested ones, and she
    # prefers the candidate exactly on those.
    judged = []
    for _ in range(10):
        item = next_item(tmp_store, study, "ana")
        assert item is not None
        wins = item.pair_id in contested
        candidate_left = left_role_for(study, item.pair_id, "ana") == "candidate"
        pick = "left" if candidate_left == wins else "right"
        submit_judgment(tmp_store, study, reviewer="ana", pair_id=item.pair_id, pick=pick)
        judged.append(item.pair_id)
    n_contested = sum(p in contested for p in judged)
    # favoured: a larger share of the judged pairs is contested than of all pairs
    assert n_contested / len(judged) > len(contested) / len(strata)
    frame = sign_off_judgments(tmp_store, study)
    assert WEIGHT_COLUMN in frame.columns
    # Post-stratified by hand over the queue slices: sum_h N_sh / N_s * mean_sh.
    slices = strata.set_index("pair_id")
    frame = frame.assign(slice=frame["pair_id"].map(slices["slice"]),
                         contested=frame["pair_id"].map(slices["contested"]))  # fmt: skip
    frame["score"] = (frame["choice"] == "candidate").astype(float)
    sizes = strata.groupby(["slice", "contested"]).size()
    expected_total = 0.0
    for (slice_value, flag), part in frame.groupby(["slice", "contested"]):
        expected_total += sizes[(slice_value, flag)] * part["score"].mean()
    covered = sizes[
        [k for k in sizes.index if k in set(frame.groupby(["slice", "contested"]).groups)]
    ]
    result = study_results(tmp_store, study)
    assert result["selection_weighted"] is True
    overall = result["overall"]
    assert overall["win_rate"] == pytest.approx(expected_total / covered.sum(), abs=1e-12)
    unweighted = float(frame["score"].mean())
    assert overall["win_rate"] < unweighted  # the contested (candidate-won) pairs count less
    # Switched off, the same judgments count plainly again.
    set_priority_settings(tmp_store, study, PrioritySettings(enabled=False))
    plain = study_results(tmp_store, study)
    assert plain["selection_weighted"] is False
    assert plain["overall"]["win_rate"] == pytest.approx(unweighted, abs=1e-12)
