"""An LLM judge on the Results page and in the report: apart by default, admitted by an admin."""

from __future__ import annotations

from pathlib import Path

import pytest

from swapcheck.analysis import analyse_study
from swapcheck.errors import ConfigError
from swapcheck.import_judgments import import_judgments
from swapcheck.ingest import ColumnMapping
from swapcheck.judge import configure_judge, set_judge_in_verdict
from swapcheck.models import VariantConfig
from swapcheck.pipeline import ingest_file, study_results
from swapcheck.report_html import render_report
from swapcheck.store import Store
from swapcheck.store.studies import Study, create_study
from swapcheck.store.variants import save_variant
from tests.helpers import write_jsonl

pytestmark = pytest.mark.both_backends  # tmp_store: DuckDB and PostgreSQL

N_A, HUMAN_A, N_B = 40, 35, 20


def _winner(i: int) -> str:
    return "model_b" if i % 3 else "model_a"  # a mix, so kappa is defined


@pytest.fixture
def study(tmp_store: Store, tmp_path: Path) -> Study:
    rows = [
        {"id": f"r{i}", "prompt": f"Question {i}: where is my parcel?",
         "feature": "a" if i < N_A else "b"}
        for i in range(N_A + N_B)
    ]  # fmt: skip
    report = ingest_file(
        tmp_store,
        write_jsonl(tmp_path / "log.jsonl", rows),
        mapping=ColumnMapping(prompt_column="prompt", id_column="id", slice_columns=("feature",)),
        derived_slices=False,
    )
    for name in ("base", "cand", "grader"):
        save_variant(tmp_store, VariantConfig(name=name, provider="simulated", model=f"m-{name}"))
    made = create_study(
        tmp_store, "judge check", baseline="base", candidate="cand", sources=[report.source_id]
    )
    configure_judge(tmp_store, made, variant="grader")
    people = [
        {"prompt_id": f"r{i}", "model_a": "base", "model_b": "cand", "winner": _winner(i),
         "reviewer": "ana"}
        for i in [*range(HUMAN_A), *range(N_A, N_A + N_B)]
    ]  # fmt: skip
    # The judge agrees with ana on every "a" prompt and contradicts her on every "b" one.
    judge = [
        {"prompt_id": f"r{i}", "model_a": "base", "model_b": "cand",
         "winner": _winner(i) if i < N_A else ("model_a" if i % 3 else "model_b"),
         "reviewer": "grader", "reviewer_type": "judge"}
        for i in range(N_A + N_B)
    ]  # fmt: skip
    for name, data in (("people", people), ("judge", judge)):
        done = import_judgments(tmp_store, write_jsonl(tmp_path / f"{name}.jsonl", data), made)
        assert done.rejected == []
    return made


def test_judge_verdicts_stay_apart_until_an_admin_admits_a_proven_slice(
    tmp_store: Store, study: Study
) -> None:
    before = study_results(tmp_store, study, by=["feature"])
    assert before["overall"]["n"] == HUMAN_A + N_B and before["judge_verdicts"] == 0
    with pytest.raises(ConfigError, match="not proven"):
        set_judge_in_verdict(tmp_store, study, "feature", ["b"])  # the judge disagrees there
    set_judge_in_verdict(tmp_store, study, "feature", ["a"])
    after = study_results(tmp_store, study, by=["feature"])
    # The 5 "a" pairs no person judged now carry the judge's verdict; nothing else changes.
    assert after["judge_verdicts"] == N_A - HUMAN_A
    rows = {r["value"]: r for r in after["slices"]}
    assert rows["a"]["n"] == N_A and rows["b"]["n"] == N_B
    analysis = analyse_study(tmp_store, study)
    assert analysis.judge_verdicts == N_A - HUMAN_A and analysis.n_reviewers == 1
    agreement = analysis.judge_agreement.set_index(["slice", "value"])
    assert agreement.loc[("feature", "a"), "agreement"] == 1.0
    assert agreement.loc[("feature", "a"), "n_pairs"] == HUMAN_A
    assert agreement.loc[("feature", "b"), "agreement"] == 0.0
    html = render_report(analysis)
    assert 'id="judge-in-verdict"' in html and "Judge against people" in html
    set_judge_in_verdict(tmp_store, study, None)
    assert study_results(tmp_store, study)["judge_verdicts"] == 0


def test_an_admin_admits_the_judge_on_the_results_page(tmp_store: Store, study: Study) -> None:
    from tests.apptest_utils import assert_no_exception, open_page

    tmp_store.close()
    at = open_page("results")
    at.selectbox(key="judge_by").select("feature").run()
    form_pick = next(m for m in at.multiselect if m.label.startswith("Let the judge fill in"))
    assert form_pick.options == ["a"]  # only the slice with proven agreement is offered
    form_pick.select("a")
    next(b for b in at.button if b.label == "Save").click().run()
    assert_no_exception(at)
    assert any("fills in missing human judgments" in s.value for s in at.success)
    assert study_results(tmp_store, study)["judge_verdicts"] == N_A - HUMAN_A


def test_results_page_shows_the_judge_against_people(tmp_store: Store, study: Study) -> None:
    from tests.apptest_utils import browser_payload, open_page

    set_judge_in_verdict(tmp_store, study, "feature", ["a"])
    tmp_store.close()
    at = open_page("results")
    assert "LLM judges" in [h.value for h in at.subheader]
    captions = " ".join(c.value for c in at.caption)
    assert f"{N_A - HUMAN_A} judge verdicts stand in" in captions
    assert "No slice has proven agreement yet" in captions  # overall only, so far
    frames = [d.value for d in at.dataframe]
    table = next(f for f in frames if "kappa" in f.columns)
    assert table.iloc[0]["slice"] == "overall"
    at.selectbox(key="judge_by").select("feature").run()
    table = next(d.value for d in at.dataframe if "kappa" in d.value.columns)
    assert list(table["value"]) == ["all", "a", "b"]
    captions = " ".join(c.value for c in at.caption)
    assert "Agreement is proven" in captions and "feature=a" in captions
    assert at.metric[3].value == "1"  # reviewers: people only
    assert "Traceback" not in browser_payload(at)
