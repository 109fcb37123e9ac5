"""Importing judgments made elsewhere: statistics on a hand-made file, codes, rejects, reruns."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from swapcheck.cli import main
from swapcheck.errors import ConfigError, IngestError
from swapcheck.import_judgments import import_judgments, parse_winner_map
from swapcheck.ingest import ColumnMapping
from swapcheck.models import VariantConfig
from swapcheck.pipeline import ingest_file, study_results
from swapcheck.stats import position_bias
from swapcheck.stats_agreement import cohens_kappa, fleiss_kappa, pairwise_agreement
from swapcheck.store import Store
from swapcheck.store.judgments import judgments_frame
from swapcheck.store.settings import list_settings
from swapcheck.store.studies import Study, create_study
from swapcheck.store.variants import save_variant
from tests.helpers import write_jsonl

pytestmark = pytest.mark.both_backends  # tmp_store: DuckDB and PostgreSQL

DATA = Path(__file__).parent / "data" / "judgments"
THREE_REVIEWERS = DATA / "three_reviewers.jsonl"
CODES = "1=model_a,2=model_b,0=tie,3=both_bad"


def prompt_text(i: int) -> str:
    feature = "chat" if i < 4 else "json"
    return f"Question {i} about {feature}: how do I reset my password?"


@pytest.fixture
def study(tmp_store: Store, tmp_path: Path) -> Study:
    """Eight prompts r0-r7 (external ids), slice feature: chat for r0-r3, json for r4-r7."""
    rows = [
        {"id": f"r{i}", "prompt": prompt_text(i), "feature": "chat" if i < 4 else "json"}
        for i in range(8)
    ]
    report = ingest_file(
        tmp_store,
        write_jsonl(tmp_path / "log.jsonl", rows),
        mapping=ColumnMapping(prompt_column="prompt", id_column="id", slice_columns=("feature",)),
        derived_slices=False,
    )
    assert report.rows_ingested == 8
    save_variant(tmp_store, VariantConfig(name="base", provider="simulated", model="sim-a"))
    save_variant(tmp_store, VariantConfig(name="cand", provider="simulated", model="sim-b"))
    return create_study(
        tmp_store, "import check", baseline="base", candidate="cand", sources=[report.source_id]
    )


def choices_by_reviewer(frame: pd.DataFrame, reviewer: str) -> list[str]:
    """The reviewer's unblinded choices ordered r0..r7 (by the prompt's external id)."""
    mine = frame[frame["reviewer"] == reviewer].sort_values("external_id")
    return [c[0].upper() if c != "both_bad" else "X" for c in mine["choice"]]


def with_external_ids(store: Store, study: Study) -> pd.DataFrame:
    """The study's judgments with each prompt's external id (r0..r7)."""
    frame = judgments_frame(store, study)
    with store.cursor() as cur:
        ids = dict(cur.execute("SELECT prompt_id, external_id FROM prompts").fetchall())
    return frame.assign(external_id=frame["prompt_id"].map(ids))


def test_hand_made_file_gives_hand_computed_agreement_kappa_and_slice_rates(
    tmp_store: Store, study: Study
) -> None:
    report = import_judgments(tmp_store, THREE_REVIEWERS, study, source_name="round 1")
    assert (report.rows_total, report.imported, report.rejected) == (24, 24, [])
    assert report.ignored_columns == ["feature"]  # slices come from the prompts
    frame = with_external_ids(tmp_store, study)
    # The file, unblinded (B baseline, C candidate, T tie, X both bad); three people:
    #        r0 r1 r2 r3 | r4 r5 r6 r7     (r0-r3 chat, r4-r7 json)
    # alice  C  C  B  T  | C  B  T  C
    # bob    C  B  B  T  | C  C  B  C
    # carol  C  C  B  C  | T  B  X  C
    assert choices_by_reviewer(frame, "alice") == list("CCBTCBTC")
    assert choices_by_reviewer(frame, "bob") == list("CBBTCCBC")
    assert choices_by_reviewer(frame, "carol") == list("CCBCTBXC")
    assert sorted(frame["reviewer"].unique()) == ["alice", "bob", "carol"]
    comment = frame.loc[frame["comment"].notna(), ["reviewer", "external_id", "comment"]]
    assert comment.values.tolist() == [["alice", "r6", "both fine, same content"]]
    assert sorted(frame["time_on_item_ms"].unique()) == list(range(1000, 1800, 100))

    # Pairwise agreement with ties: 3 vote pairs per prompt, 24 in all. Agreeing pairs:
    # r0 3, r1 1 (C-C), r2 3, r3 1 (T-T), r4 1 (C-C), r5 1 (B-B), r6 0, r7 3 → 13 / 24.
    agree = pairwise_agreement(frame, include_ties=True)
    assert agree["n_comparisons"] == 24
    assert agree["agreement"] == pytest.approx(13 / 24, abs=1e-12)
    # Without ties (only decisive B/C votes compared): decisive votes per prompt
    # r0 CCC (3 pairs, 3 agree), r1 CBC (3, 1), r2 BBB (3, 3), r3 C (0), r4 CC (1, 1),
    # r5 BCB (3, 1), r6 B (0), r7 CCC (3, 3) → 12 agreeing of 16.
    decisive = pairwise_agreement(frame, include_ties=False)
    assert decisive["n_comparisons"] == 16
    assert decisive["agreement"] == pytest.approx(12 / 16, abs=1e-12)

    # Cohen's kappa alice vs bob: same answer on r0 r2 r3 r4 r7 → p_o = 5/8.
    # Marginals alice C4 B2 T2, bob C4 B3 T1 → p_e = (4*4 + 2*3 + 2*1) / 64 = 24/64.
    # kappa = (5/8 - 3/8) / (1 - 3/8) = 0.4.
    assert cohens_kappa(frame, "alice", "bob") == pytest.approx(0.4, abs=1e-12)

    # Fleiss' kappa, 8 prompts x 3 votes. Category totals B 7, C 12, T 4, X 1 (of 24):
    # P_e = (49 + 144 + 16 + 1) / 576 = 210/576. Per prompt P_i = (sum n_ij^2 - 3) / 6:
    # 1, 1/3, 1, 1/3, 1/3, 1/3, 0, 1 → mean 13/24 = 312/576.
    # kappa = (312 - 210) / (576 - 210) = 102/366 = 17/61.
    assert fleiss_kappa(frame) == pytest.approx(17 / 61, abs=1e-12)

    # Left picks: decisive votes where the winner was model_a (the side shown first).
    # alice 3 of 6 (r1 r2 r7), bob 3 of 7 (r0 r1 r4), carol 4 of 6 (r0 r1 r3 r7) → 10 / 19.
    bias = position_bias(frame)
    assert (bias["left_picks"], bias["n_decisive"]) == (10, 19)

    # Win rate = (candidate wins + half of ties and both-bad) / n, per slice of the prompts:
    # chat (r0-r3): C 3+2+0+1 = 6, B 0+1+3+0 = 4, T 2, X 0 → (6 + 1) / 12
    # json (r4-r7): C 2+1+0+3 = 6, B 0+2+1+0 = 3, T 2, X 1 → (6 + 1.5) / 12
    # overall: C 12, B 7, T 4, X 1 → (12 + 2.5) / 24
    result = study_results(tmp_store, study, by=["feature"], min_n=30)
    overall = result["overall"]
    assert (overall["n"], overall["candidate_wins"], overall["baseline_wins"]) == (24, 12, 7)
    assert (overall["ties"], overall["both_bad"]) == (4, 1)
    assert overall["win_rate"] == pytest.approx(14.5 / 24, abs=1e-12)
    assert result["n_reviewers"] == 3
    rows = {r["value"]: r for r in result["slices"]}
    assert set(rows) == {"chat", "json"}
    chat, json_slice = rows["chat"], rows["json"]
    assert (chat["n"], chat["candidate_wins"], chat["baseline_wins"], chat["ties"]) == (
        12, 6, 4, 2
    )  # fmt: skip
    assert chat["win_rate"] == pytest.approx(7 / 12, abs=1e-12)
    assert chat["tie_rate"] == pytest.approx(2 / 12, abs=1e-12)
    assert chat["both_bad_rate"] == 0
    assert json_slice["win_rate"] == pytest.approx(7.5 / 12, abs=1e-12)
    assert json_slice["both_bad_rate"] == pytest.approx(1 / 12, abs=1e-12)
    # Wilson 95% interval of 7 successes in 12, by hand: z = 1.959964, centre
    # (7/12 + z^2/24) / (1 + z^2/12), half-width z*sqrt(p(1-p)/12 + z^2/576) / (1 + z^2/12).
    z = 1.959963984540054
    p = 7 / 12
    centre = (p + z * z / 24) / (1 + z * z / 12)
    half = z * math.sqrt(p * (1 - p) / 12 + z * z / 576) / (1 + z * z / 12)
    assert (chat["ci_low"], chat["ci_high"]) == pytest.approx((centre - half, centre + half))

    # Where the judgments came from is recorded.
    records = [v for k, v in list_settings(tmp_store).items() if k.startswith("judgment_import.")]
    assert [(r["source_name"], r["imported"], len(r["judgment_ids"])) for r in records] == [
        ("round 1", 24, 24)
    ]


def test_reimport_is_idempotent_and_dry_run_writes_nothing(tmp_store: Store, study: Study) -> None:
    dry = import_judgments(tmp_store, THREE_REVIEWERS, study, dry_run=True)
    assert (dry.dry_run, dry.imported, dry.already_imported) == (True, 24, 0)
    assert "dry run" in dry.summary()
    assert judgments_frame(tmp_store, study).empty
    assert not any(k.startswith("judgment_import.") for k in list_settings(tmp_store))

    first = import_judgments(tmp_store, THREE_REVIEWERS, study)
    again = import_judgments(tmp_store, THREE_REVIEWERS, study)
    assert (first.imported, first.already_imported) == (24, 0)
    assert (again.imported, again.already_imported, again.rejected) == (0, 24, [])
    assert len(judgments_frame(tmp_store, study)) == 24
    # Each judgment holds a judged review slot, so the review queue counts it.
    with tmp_store.cursor() as cur:
        slots = cur.execute(
            "SELECT count(*), count(DISTINCT (pair_id, slot)) FROM reservations "
            "WHERE study_id = ? AND judged",
            [study.study_id],
        ).fetchall()[0]
    assert slots == (24, 24)
    # A dry run after the import sees everything as already imported.
    dry_again = import_judgments(tmp_store, THREE_REVIEWERS, study, dry_run=True)
    assert (dry_again.imported, dry_again.already_imported) == (0, 24)


def test_csv_codes_mapped_and_prompts_matched_by_id_external_id_or_text(
    tmp_store: Store, study: Study
) -> None:
    report = import_judgments(
        tmp_store, DATA / "codes.csv", study, winner_map=parse_winner_map(CODES)
    )
    assert (report.imported, report.rejected) == (6, [])
    assert report.ignored_columns == ["locale"]
    frame = with_external_ids(tmp_store, study).sort_values("external_id")
    # codes.csv: r0 base|cand 1 → model_a = base; r1 cand|base 1 → cand; r2 (by prompt text)
    # base|cand 2 → cand; r3 0 → tie; r4 3 → both bad; r5 base|cand "2.0" → cand.
    assert frame["external_id"].tolist() == [f"r{i}" for i in range(6)]
    assert frame["choice"].tolist() == [
        "baseline", "candidate", "candidate", "tie", "both_bad", "candidate"
    ]  # fmt: skip
    assert frame["left_role"].tolist() == [
        "baseline", "candidate", "baseline", "candidate", "baseline", "baseline"
    ]  # fmt: skip
    # The same codes are rejected without the map; the fix names --winner-map.
    unmapped = import_judgments(tmp_store, DATA / "codes.csv", study, dry_run=True)
    assert [r.field for r in unmapped.rejected] == ["winner"] * 6
    assert "--winner-map" in unmapped.rejected[0].fix


def test_swapcheck_prompt_id_and_judge_type_option(
    tmp_store: Store, study: Study, tmp_path: Path
) -> None:
    with tmp_store.cursor() as cur:
        internal = cur.execute("SELECT prompt_id FROM prompts WHERE external_id = 'r7'").fetchall()
    rows = [
        {"prompt_id": internal[0][0], "model_a": "cand", "model_b": "base", "winner": "model_b",
         "reviewer": "grader-1"},
        {"prompt_id": "r6", "model_a": "base", "model_b": "cand", "winner": "tie",
         "reviewer": "frank", "reviewer_type": "human"},
    ]  # fmt: skip
    path = write_jsonl(tmp_path / "judge.jsonl", rows)
    report = import_judgments(tmp_store, path, study, reviewer_type="judge")
    assert (report.imported, report.rejected) == (2, [])
    both = judgments_frame(tmp_store, study, reviewer_type=None).sort_values("pair_id")
    got = {
        tuple(r) for r in both[["reviewer", "reviewer_type", "left_role", "choice"]].values.tolist()
    }
    assert got == {
        ("frank", "human", "baseline", "tie"),
        ("judge:grader-1", "judge", "candidate", "baseline"),
    }
    # The judge's verdict is kept apart: human statistics and the review queue never see it.
    assert judgments_frame(tmp_store, study)["reviewer"].tolist() == ["frank"]
    assert judgments_frame(tmp_store, study, reviewer_type="judge")["reviewer"].tolist() == [
        "judge:grader-1"
    ]
    with tmp_store.cursor() as cur:
        slots = cur.execute(
            "SELECT reviewer FROM reservations WHERE study_id = ? AND judged", [study.study_id]
        ).fetchall()
    assert slots == [("frank",)]
    assert study_results(tmp_store, study)["overall"]["n"] == 1


def test_every_rejection_reason_is_listed_and_good_rows_are_kept(
    tmp_store: Store, study: Study
) -> None:
    import_judgments(tmp_store, THREE_REVIEWERS, study)
    report = import_judgments(
        tmp_store, DATA / "bad_rows.jsonl", study, winner_map=parse_winner_map(CODES)
    )
    assert report.rows_total == 15
    assert report.imported == 2  # rows 5 and 14 (erin on r0 and r1)
    got = {(r.row_number, r.field) for r in report.rejected}
    assert got == {
        (1, "prompt_id"),  # r99 is no prompt of the study
        (2, "model_a"),  # gpt-x is not a variant of the study
        (3, "winner"),  # code 7 is not in the map
        (4, "reviewer"),  # empty reviewer
        (6, "reviewer"),  # erin judged r0 in row 5 already
        (7, "(line)"),  # not JSON
        (8, "reviewer_type"),  # robot
        (9, "model_b"),  # base on both sides
        (10, "time_on_item_ms"),  # "fast"
        (11, "reviewer"),  # alice has a stored judgment of r0
        (12, "prompt_id"),  # empty
        (13, "reviewer"),  # a human named judge:x
        (15, "(line)"),  # a JSON array, not an object
    }
    by_row = {r.row_number: r for r in report.rejected}
    assert "matches no prompt" in by_row[1].problem
    assert "'gpt-x' is not in the study" in by_row[2].problem and "'base'" in by_row[2].fix
    assert "row 5" in by_row[6].problem
    assert "already has a stored judgment" in by_row[11].problem
    for row in report.rejected:
        assert row.fix and row.describe().startswith(f"bad_rows.jsonl row {row.row_number}, ")
    frame = with_external_ids(tmp_store, study)
    erin = frame[frame["reviewer"] == "erin"].sort_values("external_id")
    assert erin[["external_id", "choice"]].values.tolist() == [
        ["r0", "baseline"], ["r1", "candidate"]
    ]  # fmt: skip
    assert len(frame) == 26


def test_file_level_problems_raise_with_a_fix(
    tmp_store: Store, study: Study, tmp_path: Path
) -> None:
    no_winner = write_jsonl(
        tmp_path / "x.jsonl", [{"prompt_id": "r0", "model_a": "base", "model_b": "cand",
                                "reviewer": "a"}]
    )  # fmt: skip
    with pytest.raises(IngestError) as err:
        import_judgments(tmp_store, no_winner, study)
    assert "winner" in err.value.message and err.value.fix
    with pytest.raises(IngestError):
        import_judgments(tmp_store, tmp_path / "missing.jsonl", study)
    with pytest.raises(ConfigError):
        parse_winner_map("1=left")
    assert parse_winner_map(" 1 = MODEL_A , 0=tie ") == {"1": "model_a", "0": "tie"}


def test_cli_import_judgments(
    tmp_store: Store, study: Study, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_store.location
    tmp_store.close()
    argv = ["import-judgments", str(DATA / "codes.csv"), "--study", "import check", "--db", db]
    assert main([*argv, "--dry-run"]) == 0  # codes without --winner-map: all rejected
    assert "would import 0, already imported 0, rejected 6" in capsys.readouterr().out
    assert main([*argv, "--dry-run", "--winner-map", CODES]) == 0
    assert "would import 6" in capsys.readouterr().out
    assert main([*argv, "--winner-map", CODES, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["imported"], out["rejected"], out["dry_run"]) == (6, [], False)
    bad = ["import-judgments", str(DATA / "bad_rows.jsonl"), "--study", "import check"]
    assert main([*bad, "--db", db, "--winner-map", CODES, "--strict"]) == 3
    captured = capsys.readouterr()
    assert "imported 3" in captured.out  # alice is no reviewer here: row 11 is kept
    assert captured.err.count("rejected: bad_rows.jsonl row ") == 12
    assert main([*bad, "--db", db, "--winner-map", "1=left"]) == 1
    assert "fix: " in capsys.readouterr().err


def test_stats_cli_gives_agreement_decisive_rates_and_decisions_for_the_hand_made_file(
    tmp_store: Store, study: Study, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from swapcheck.cli import main

    import_judgments(tmp_store, THREE_REVIEWERS, study, source_name="round 1")
    capsys.readouterr()
    assert main(["stats", "--study", study.name, "--agreement", "--json"]) == 0
    agreement = json.loads(capsys.readouterr().out)
    # the same hand counts as the test above: 13 / 24 with ties, 12 / 16 decisive only
    assert agreement["with_ties"]["agreement"] == pytest.approx(13 / 24, abs=1e-12)
    assert agreement["without_ties"]["agreement"] == pytest.approx(12 / 16, abs=1e-12)
    assert agreement["fleiss"]["kappa"] == pytest.approx(17 / 61, abs=1e-12)
    assert agreement["fleiss"]["n_items"] == 8 and agreement["fleiss"]["n_raters"] == 3
    cohen = {(c["reviewer_a"], c["reviewer_b"]): c for c in agreement["cohen"]}
    assert set(cohen) == {("alice", "bob"), ("alice", "carol"), ("bob", "carol")}
    assert cohen[("alice", "bob")]["kappa"] == pytest.approx(0.4, abs=1e-12)
    assert all(c["shared_pairs"] == 8 for c in cohen.values())
    assert main(["stats", "--study", study.name, "--agreement"]) == 0
    text = capsys.readouterr().out
    assert "ties included: 0.542 (24 vote pairs on 8 pairs)" in text
    assert "Cohen's kappa alice / bob: 0.400 (8 shared pairs)" in text

    assert main(["stats", "--study", study.name, "--by", "feature", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    overall = result["overall"]
    # ties left out: candidate 12, baseline 7 → 12 / 19; chat 6 / 10; json 6 / 9
    assert overall["win_rate_decisive"] == pytest.approx(12 / 19, abs=1e-12)
    rows = {r["value"]: r for r in result["slices"]}
    assert rows["chat"]["win_rate_decisive"] == pytest.approx(6 / 10, abs=1e-12)
    assert rows["json"]["win_rate_decisive"] == pytest.approx(6 / 9, abs=1e-12)
    assert overall["decisive_ci_low"] < 12 / 19 < overall["decisive_ci_high"]
    # The overall row is its own family of one: q = p. Its Wilson interval of 14.5 / 24 is
    # about (0.41, 0.77): it straddles 0.5 - 0.05, so amber; so are both slices (n = 12).
    assert overall["q_value"] == pytest.approx(overall["sign_test_p"])
    assert overall["go"] == "amber" and {r["go"] for r in rows.values()} == {"amber"}
    assert result["decision"]["verdict"] == "inconclusive"
    assert result["decision"]["red_slices"] == []
    assert sorted(result["decision"]["amber_slices"]) == ["feature=chat", "feature=json"]


def test_majority_vote_counts_each_pair_once(
    tmp_store: Store, study: Study, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from swapcheck.cli import main

    import_judgments(tmp_store, THREE_REVIEWERS, study, source_name="round 1")
    capsys.readouterr()
    assert main(["stats", "--study", study.name, "--by", "feature", "--majority", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    # Majority per prompt (alice, bob, carol): r0 CCC→C, r1 CBC→C, r2 BBB→B, r3 TTC→T,
    # r4 CCT→C, r5 BCB→B, r6 TBX→split→tie, r7 CCC→C. Overall C4 B2 T2 → (4 + 1) / 8;
    # chat r0-r3 C2 B1 T1 → 2.5 / 4; json r4-r7 C2 B1 T1 → 2.5 / 4.
    assert result["aggregation"] == "majority vote per pair"
    overall = result["overall"]
    assert (overall["n"], overall["candidate_wins"], overall["baseline_wins"]) == (8, 4, 2)
    assert overall["ties"] == 2 and overall["win_rate"] == pytest.approx(5 / 8, abs=1e-12)
    rows = {r["value"]: r for r in result["slices"]}
    assert rows["chat"]["n"] == rows["json"]["n"] == 4
    assert rows["chat"]["win_rate"] == rows["json"]["win_rate"] == pytest.approx(0.625)
    assert result["n_judgments"] == 8
