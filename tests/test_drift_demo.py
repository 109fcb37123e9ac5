"""Issue 7 acceptance: on the demo, the drift table flags each planted regression, nothing else."""

from __future__ import annotations

from swapcheck.demo_data import DEMO_PLANTED
from swapcheck.stats_drift import drift_table
from swapcheck.store import Store
from swapcheck.store.evaluations import evaluation_frame
from swapcheck.store.studies import list_studies

# What each planted quirk changes (see swapcheck.simulated_model.QUIRKS).
EXPECTED = {
    ("feature", "json_extract"): ("json_valid", "worse"),
    ("topic", "medical"): ("refusal", "worse"),
    ("locale", "ja-JP"): ("length_ratio", "changed"),
}


def test_demo_drift_flags_the_planted_regressions_and_nothing_in_the_other_slices(
    demo_store: Store,
) -> None:
    assert {tuple(k.split("=")) for k in DEMO_PLANTED} == set(EXPECTED)
    study = list_studies(demo_store)[0]
    frame = evaluation_frame(demo_store, study)
    assert {"json_valid", "refusal", "length_ratio", "language_mismatch"} <= set(
        frame["evaluator"]
    )  # the evaluators ran after the demo's generation
    table = drift_table(frame, list(study.slice_columns))
    flagged = table[table["flagged"] & (table["slice"] != "overall")]
    for (column, value), (evaluator, direction) in EXPECTED.items():
        row = flagged[
            (flagged["slice"] == column)
            & (flagged["value"] == value)
            & (flagged["evaluator"] == evaluator)
        ]
        assert len(row) == 1, f"{column}={value}: {evaluator} not flagged"
        assert row.iloc[0]["direction"] == direction
    slices = {(s, v) for s, v in zip(table["slice"], table["value"], strict=True) if s != "overall"}
    flagged_slices = set(zip(flagged["slice"], flagged["value"], strict=True))
    clean = slices - set(EXPECTED)
    assert len(clean) >= 20
    assert not (flagged_slices & clean), sorted(flagged_slices & clean)
    # Slices that share pairs with a planted one show the change, explained by its source.
    spill = table[(table["slice"] == "locale") & (table["value"] == "en-US")]
    json_row = spill[spill["evaluator"] == "json_valid"].iloc[0]
    assert json_row["difference"] < -0.5 and json_row["explained_by"] == "feature=json_extract"
