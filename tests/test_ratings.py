"""Bradley-Terry ratings across studies: comparisons from stored judgments, hand-computed fits."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from swapcheck.cli import main
from swapcheck.import_judgments import import_judgments
from swapcheck.ingest import ColumnMapping
from swapcheck.models import VariantConfig
from swapcheck.pipeline import ingest_file
from swapcheck.ratings import connected_studies, variant_ratings
from swapcheck.store import Store
from swapcheck.store.studies import Study, create_study
from swapcheck.store.variants import save_variant
from tests.helpers import write_jsonl

pytestmark = pytest.mark.both_backends  # tmp_store: DuckDB and PostgreSQL

# Outcomes per study, as (model_a wins, model_b wins, ties, both bad) over ten prompts.
AB = ("A", "B", ["model_a"] * 6 + ["model_b"] * 3 + ["tie"])
BC = ("B", "C", ["model_a"] * 5 + ["model_b"] * 4 + ["both_bad"])


@pytest.fixture
def studies(tmp_store: Store, tmp_path: Path) -> dict[str, Study]:
    rows = [{"id": f"r{i}", "prompt": f"Question {i}: where is my parcel?"} for i in range(10)]
    report = ingest_file(
        tmp_store,
        write_jsonl(tmp_path / "log.jsonl", rows),
        mapping=ColumnMapping(prompt_column="prompt", id_column="id"),
        derived_slices=False,
    )
    for name in ("A", "B", "C", "D", "E"):
        save_variant(tmp_store, VariantConfig(name=name, provider="simulated", model=f"m-{name}"))
    made = {}
    for base, cand in (("A", "B"), ("B", "C"), ("D", "E")):
        made[base + cand] = create_study(
            tmp_store, f"{base} vs {cand}", baseline=base, candidate=cand,
            sources=[report.source_id],
        )  # fmt: skip
    return made


def _import(store: Store, tmp_path: Path, study: Study, spec: tuple, reviewer: str = "ana",
            reviewer_type: str = "human") -> None:  # fmt: skip
    a, b, winners = spec
    rows = [
        {"prompt_id": f"r{i}", "model_a": a, "model_b": b, "winner": w, "reviewer": reviewer,
         "reviewer_type": reviewer_type}
        for i, w in enumerate(winners)
    ]  # fmt: skip
    path = write_jsonl(tmp_path / f"{study.study_id}-{reviewer}.jsonl", rows)
    report = import_judgments(store, path, study)
    assert report.rejected == []


def test_a_chain_of_two_studies_gives_the_hand_computed_ratings(
    tmp_store: Store, tmp_path: Path, studies: dict[str, Study]
) -> None:
    _import(tmp_store, tmp_path, studies["AB"], AB)
    _import(tmp_store, tmp_path, studies["BC"], BC)
    # An LLM judge that hates A: judges never enter the ratings.
    _import(tmp_store, tmp_path, studies["AB"], ("A", "B", ["model_b"] * 10), "g", "judge")
    assert [s.name for s in connected_studies(tmp_store, studies["AB"])] == ["A vs B", "B vs C"]
    result = variant_ratings(tmp_store, connected_studies(tmp_store, studies["BC"]), n_boot=50)
    assert result.problem is None and result.n_comparisons == 20
    # On a tree of comparisons the MLE reproduces each edge's win credit ratio exactly:
    # A over B 6.5 : 3.5, B over C 5.5 : 4.5 (ties and both-bad count half to each side).
    d_ab = 400 * math.log10(6.5 / 3.5)
    d_bc = 400 * math.log10(5.5 / 4.5)
    r_b = 1000 - (d_ab - d_bc) / 3  # ratings average 1000
    ratings = result.table.set_index("variant")
    assert ratings.loc["A", "rating"] == pytest.approx(r_b + d_ab, abs=1e-6)
    assert ratings.loc["B", "rating"] == pytest.approx(r_b, abs=1e-6)
    assert ratings.loc["C", "rating"] == pytest.approx(r_b - d_bc, abs=1e-6)
    assert list(result.table["variant"]) == ["A", "B", "C"]
    assert ratings["n"].to_dict() == {"A": 10, "B": 20, "C": 10}
    assert ratings.loc["B", "wins"] == pytest.approx(3.5 + 5.5)
    assert (ratings["ci_low"] <= ratings["rating"]).all()
    assert (ratings["rating"] <= ratings["ci_high"]).all()


def test_missing_or_one_sided_comparisons_are_explained(
    tmp_store: Store, tmp_path: Path, studies: dict[str, Study]
) -> None:
    linked = connected_studies(tmp_store, studies["AB"])
    _import(tmp_store, tmp_path, studies["AB"], AB)
    result = variant_ratings(tmp_store, linked, n_boot=0)
    assert result.table is None and "C" in (result.problem or "")
    _import(tmp_store, tmp_path, studies["BC"], ("B", "C", ["model_a"] * 10))
    result = variant_ratings(tmp_store, linked, n_boot=0)
    assert result.table is None and "never lost" in (result.problem or "")
    # Two studies with no variant in common cannot be placed on one scale.
    _import(tmp_store, tmp_path, studies["DE"], ("D", "E", ["model_a", "model_b"] * 5))
    apart = variant_ratings(tmp_store, [studies["AB"], studies["DE"]], n_boot=0)
    assert apart.table is None and "link" in (apart.problem or "")


def test_ratings_cli_text_and_json(
    tmp_store: Store, tmp_path: Path, studies: dict[str, Study],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _import(tmp_store, tmp_path, studies["AB"], AB)
    _import(tmp_store, tmp_path, studies["BC"], BC)
    db = tmp_store.location
    capsys.readouterr()
    assert main(["ratings", "--db", db, "--study", "A vs B", "--boot", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["studies"] == ["A vs B", "B vs C"]
    assert [r["variant"] for r in out["ratings"]] == ["A", "B", "C"]
    assert out["per_study"][0] == {
        "study": "A vs B", "baseline": "A", "candidate": "B", "judgments": 10
    }  # fmt: skip
    assert main(["ratings", "--db", db, "--study", "A vs B", "--study", "D vs E"]) == 3
    assert "no ratings:" in capsys.readouterr().out
    assert main(["ratings", "--db", db, "--study", "B vs C"]) == 0
    text = capsys.readouterr().out
    assert "3 variants, 20 human judgments from 2 studies" in text
    assert "A " in text and "bootstrap" in text


def test_report_shows_ratings_of_linked_studies_and_judges_apart(
    tmp_store: Store, tmp_path: Path, studies: dict[str, Study]
) -> None:
    from swapcheck.analysis import analyse_study
    from swapcheck.report_html import render_report

    _import(tmp_store, tmp_path, studies["AB"], AB)
    _import(tmp_store, tmp_path, studies["BC"], BC)
    _import(tmp_store, tmp_path, studies["AB"], ("A", "B", ["model_b"] * 10), "<g>", "judge")
    analysis = analyse_study(tmp_store, studies["AB"])
    assert analysis.n_judgments == 10 and analysis.n_reviewers == 1  # people only
    assert analysis.ratings is not None and analysis.ratings.table is not None
    assert list(analysis.ratings.table["variant"]) == ["A", "B", "C"]
    judges = analysis.judges.set_index("reviewer")
    assert judges.loc["judge:<g>", "judgments"] == 10
    assert judges.loc["judge:<g>", "win_rate"] == 1.0  # the judge always picked the candidate
    html = render_report(analysis)
    assert 'id="ratings"' in html and 'id="chart-ratings"' in html
    assert "<h2>LLM judges</h2>" in html and "for comparison only" in html
    assert "judge:&lt;g&gt;" in html and "judge:<g>" not in html
    # Another judgment in a linked study changes the ratings, and so the report's data hash.
    before = analysis.data_hash
    _import(tmp_store, tmp_path, studies["BC"], ("B", "C", ["model_b"] * 10), "bo")
    assert analyse_study(tmp_store, studies["AB"]).data_hash != before
    # A study whose linked studies compare only its own two variants has no ratings section.
    assert analyse_study(tmp_store, studies["DE"]).ratings is None


def test_results_page_shows_ratings_and_judges_apart(
    tmp_store: Store, tmp_path: Path, studies: dict[str, Study]
) -> None:
    from tests.apptest_utils import browser_payload, open_page

    _import(tmp_store, tmp_path, studies["AB"], AB)
    _import(tmp_store, tmp_path, studies["BC"], BC)
    _import(tmp_store, tmp_path, studies["AB"], ("A", "B", ["model_b"] * 10), "gpt", "judge")
    tmp_store.close()
    at = open_page("results")
    at.selectbox(key="study").select("A vs B").run()
    headers = [h.value for h in at.subheader]
    assert "All variants: Bradley-Terry ratings" in headers
    assert "LLM judges" in headers
    assert at.metric[2].value == "10"  # judgments: people only, the judge's 10 are apart
    frames = [d.value for d in at.dataframe]
    ratings = next(f for f in frames if "rating" in f.columns)
    assert list(ratings["variant"]) == ["A", "B", "C"]
    judges = next(f for f in frames if "judgments" in f.columns and "reviewer" in f.columns)
    assert judges["reviewer"].tolist() == ["judge:gpt"]
    # Imported judgments come without answers: the drill-down shows the votes and says so.
    assert any("answers of this pair are not stored" in i.value for i in at.info)
    assert "Traceback" not in browser_payload(at)
