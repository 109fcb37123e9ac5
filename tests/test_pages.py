"""AppTest smoke and behaviour tests for every page (demo database unless stated)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swapcheck.store import Store
from swapcheck.store.judgments import judgments_frame
from swapcheck.store.studies import get_study, list_studies
from tests.apptest_utils import assert_no_exception, browser_payload, open_page
from tests.helpers import small_log_rows


def test_overview_shows_counts_and_the_planted_regressions(demo_db: Path) -> None:
    at = open_page("home")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Studies"] == "1" and int(metrics["Prompts"]) >= 300
    assert any("ja-JP" in md.value for md in at.markdown)


def test_ingest_page_keeps_good_rows_and_names_rejected_ones(isolated_env: Path) -> None:
    ingest_page_round_trip()


def test_ingest_page_on_a_postgresql_store(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same upload with $SWAPCHECK_DB a PostgreSQL URL (ingest staged in DuckDB)."""
    monkeypatch.chdir(tmp_path)  # the store's local files (uploads, journals) go to ./data
    ingest_page_round_trip()
    from swapcheck.store.postgres import PostgresStore

    with PostgresStore(pg_url, linger=0, local_dir=tmp_path) as pg, pg.cursor() as cur:
        counts = [
            cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("prompts", "quarantine", "sources")
        ]
    assert counts == [6, 3, 1]


def ingest_page_round_trip() -> None:
    """Upload a log with 3 bad rows on the Ingest page, then the same bytes again."""
    rows = [json.dumps(r).encode() for r in small_log_rows(6)]
    rows.insert(2, b'{"prompt": "broken json", ')
    rows.insert(4, json.dumps({"id": "x", "prompt": "", "feature": "chat"}).encode())
    rows.insert(5, b'{"prompt": "bad byte \xff here"}')
    at = open_page("ingest")
    at.file_uploader[0].upload("prod.jsonl", b"\n".join(rows) + b"\n", "application/json")
    at.run()
    assert_no_exception(at)
    at.button[0].click().run()
    assert_no_exception(at)
    assert "6 new prompts" in at.success[0].value and "3 rejected" in at.success[0].value
    assert "3 rows were rejected" in at.warning[0].value
    rejected = at.dataframe[-1].value  # the quarantine table comes last
    assert list(rejected["row_number"]) == [3, 5, 6]
    assert list(rejected["field"]) == ["(line)", "prompt", "(line)"]
    assert all(r.startswith(f"prod.jsonl line {n}, field") for n, r in
               zip([3, 5, 6], rejected["reason"], strict=True))  # fmt: skip
    assert at.download_button, "quarantine CSV download is offered"
    # uploading the same bytes again adds nothing
    at.button[0].click().run()
    assert "already ingested" in at.info[0].value


def test_ingest_page_explains_an_unreadable_file(isolated_env: Path) -> None:
    at = open_page("ingest")
    at.file_uploader[0].upload("empty.csv", b"", "text/csv")
    at.run()
    assert_no_exception(at)
    assert at.error and "empty.csv" in at.error[0].value and "Fix" in at.error[0].value


def test_studies_page_creates_a_study(demo_db: Path) -> None:
    at = open_page("studies")
    at.text_input[0].input("second look")
    at.selectbox[0].select("sim-baseline")
    at.selectbox[1].select("sim-candidate")
    at.form_submit_button[0].click().run()
    assert_no_exception(at)
    assert "second look" in at.success[0].value
    store = Store(demo_db, linger=0)
    assert [s.name for s in list_studies(store)][-1] == "second look"
    store.close()


def test_studies_page_refuses_a_name_that_leaks_a_model(demo_db: Path) -> None:
    at = open_page("studies")
    at.text_input[0].input("sim-candidate trial")
    at.selectbox[0].select("sim-baseline")
    at.selectbox[1].select("sim-candidate")
    at.form_submit_button[0].click().run()
    assert_no_exception(at)
    assert "blinding" in at.error[0].value


def test_generate_page_runs_in_the_background_with_estimates_and_history(demo_db: Path) -> None:
    from swapcheck.store.responses import response_status
    from swapcheck.store.runs import list_runs
    from swapcheck.store.studies import create_study, study_prompt_ids
    from tests.waiting import wait_for

    store = Store(demo_db, linger=0)
    create_study(
        store,
        "replay both",
        baseline="sim-baseline",
        candidate="sim-candidate",
        sources=["demo_prompt_log.jsonl"],
    )
    study = get_study(store, "replay both")
    ids = study_prompt_ids(store, study)
    store.close()
    at = open_page("generate")
    at.selectbox(key="study").select("replay both").run()
    status = at.dataframe[0].value
    assert list(status["variant"]) == ["sim-baseline", "sim-candidate"]
    assert (status["to send"] + status["answered"] == len(ids)).all()
    assert status["to send"].max() > 0 and status["est. input tokens"].max() > 0
    submit = next(b for b in at.button if b.label == "Generate missing answers")
    submit.click().run()
    assert_no_exception(at)
    at.switch_page("app_pages/home.py").run()  # navigating away does not stop the run
    assert_no_exception(at)

    def finished() -> bool:
        with Store(demo_db, linger=0) as s:
            runs = list_runs(s, study_id=study.study_id)
            return len(runs) == 2 and not any(r.active for r in runs)

    wait_for(finished, "both background runs", timeout=120)
    at.switch_page("app_pages/generate.py").run()
    assert_no_exception(at)
    history = at.dataframe[-1].value
    assert sorted(history["variant"]) == ["sim-baseline", "sim-candidate"]
    assert set(history["status"]) == {"done"} and set(history["from"]) == {"app"}
    with Store(demo_db, linger=0) as s:
        for variant in ("sim-baseline", "sim-candidate"):
            assert response_status(s, variant, ids)["missing"] == 0
    at.selectbox(key="audit-variant").select("sim-baseline").run()
    assert_no_exception(at)
    sent = json.loads(at.json[0].value)
    assert sent["model"] == "sim-baseline"
    assert sent["messages"][-1]["role"] == "user"


def test_generate_page_counts_prompts_in_open_batches_out_of_what_it_would_send(
    demo_db: Path,
) -> None:
    from swapcheck.models import VariantConfig
    from swapcheck.pipeline import study_jobs
    from swapcheck.store import provider_batches as batches_db
    from swapcheck.store.studies import create_study
    from swapcheck.store.variants import save_variant

    with Store(demo_db, linger=0) as store:
        variant = VariantConfig(name="fresh", provider="simulated", model="sim-fresh")
        save_variant(store, variant)  # no answers yet: every prompt is to be sent
        study = create_study(
            store, "batch pending", baseline="sim-baseline", candidate="fresh",
            sources=["demo_prompt_log.jsonl"],
        )  # fmt: skip
        jobs = study_jobs(store, study, variant)
        items = [
            batches_db.BatchItem(f"c{i}", j.prompt_id, variant.request_hash(j.messages))
            for i, j in enumerate(jobs[:3])
        ]
        batches_db.record_batch(
            store, batch_id="batch_pending", variant="fresh", provider="openai",
            run_id=None, status="in_progress", items=items,
        )  # fmt: skip
    at = open_page("generate")
    at.selectbox(key="study").select("batch pending").run()
    assert_no_exception(at)
    status = at.dataframe[0].value.set_index("variant")
    assert len(jobs) > 3
    assert status.loc["fresh", "note"] == "3 in open Batch API batches: not sent again"
    assert status.loc["fresh", "to send"] == len(jobs) - 3
    assert status.loc["sim-baseline", "note"] == ""


def test_review_page_grades_blind_and_stores_unblinded(demo_db: Path) -> None:
    at = open_page("review")
    at.text_input[0].input("Dana")
    at.form_submit_button[0].click().run()
    assert_no_exception(at)
    payload = browser_payload(at)
    for leak in (
        "sim-candidate",
        "sim-baseline",
        "simulated",
        "baseline",
        "candidate",
        "left_role",
        "blind_salt",
    ):
        assert leak not in payload.lower(), leak
    for _ in range(3):
        at.button(key="pick_right").click().run()
        assert_no_exception(at)
    at.text_input[0].input("left one was clearer")
    at.button(key="pick_left").click().run()
    store = Store(demo_db, linger=0)
    frame = judgments_frame(store, list_studies(store)[0])
    mine = frame[frame.reviewer == "Dana"]
    assert len(mine) == 4
    assert mine.choice.tolist()[:3] == [
        ("candidate" if r == "baseline" else "baseline") for r in mine.left_role.tolist()[:3]
    ]
    assert mine.choice.tolist()[3] == mine.left_role.tolist()[3]
    assert mine.comment.tolist()[3] == "left one was clearer"
    store.close()
    assert "you judged 4 pairs" in at.caption[0].value


def test_results_page_finds_the_planted_regressions(demo_db: Path) -> None:
    at = open_page("results")
    assert_no_exception(at)
    worse = " ".join(e.value for e in at.error)
    assert "NO-GO" in worse  # the overall interval lies below the non-inferiority bound
    for planted in ("feature=json_extract", "topic=medical", "locale=ja-JP"):
        assert planted in worse
    table = at.dataframe[0].value
    assert {
        "slice",
        "value",
        "n",
        "win_rate",
        "ci_low",
        "ci_high",
        "verdict",
        "go",
        "q_value",
    } <= set(table.columns)
    assert at.get("plotly_chart"), "the win-rate chart is rendered"
    adjusted = " ".join(c.value for c in at.caption)
    assert "at equal answer length" in adjusted and "re-weighted to the traffic mix" in adjusted
    labels = [d.label for d in at.download_button]
    assert "Slice table (CSV)" in labels and "All judgments (CSV)" in labels

    # drill-down: a red slice, its worst pair, that pair's votes unblinded with reviewers
    drill = at.selectbox(key="drill_slice")
    red = next(i for i, o in enumerate(drill.options) if "feature=json_extract" in o)
    drill.select(drill.options[red]).run()
    assert_no_exception(at)
    worst = at.dataframe[-2].value
    assert list(worst.columns[:3]) == ["pair_id", "against", "for"]
    assert worst["against"].is_monotonic_decreasing and worst["against"].iloc[0] >= 1
    votes = at.dataframe[-1].value
    assert {"reviewer", "choice", "left_role", "comment", "undone"} <= set(votes.columns)
    assert set(votes["choice"]) <= {"baseline", "candidate", "tie", "both_bad"}
    payload = browser_payload(at)
    assert "`logged`" in payload and "`sim-candidate`" in payload  # admins see the variants
    at.toggle(key="combos").set_value(True).run()
    assert_no_exception(at)
    assert any("×" in str(v) for d in at.dataframe for v in d.value.get("slice", [])), (
        "a combination table is shown"
    )

    # exports: Parquet at once; the report (and chart images, with Chromium) on request
    labels = [d.label for d in at.download_button]
    assert "Slice table (Parquet)" in labels and "All judgments (Parquet)" in labels
    next(b for b in at.button if b.key == "prepare_exports").click().run()
    assert_no_exception(at)
    labels = [d.label for d in at.download_button]
    assert "Sign-off report (HTML)" in labels
    assert "Chart (PNG)" in labels or any("not available" in w.value for w in at.warning)


def test_an_unexpected_failure_shows_a_note_not_a_traceback(demo_db: Path, monkeypatch) -> None:
    import swapcheck.store.sources as sources

    def explode(store):  # type: ignore[no-untyped-def]
        raise RuntimeError("internal detail that must stay on the server")

    monkeypatch.setattr(sources, "list_sources", explode)
    at = open_page("home")
    assert not at.exception
    assert "unexpected error" in at.error[0].value
    assert "internal detail" not in browser_payload(at)


def test_holding_out_the_planted_slices_clears_the_rest(demo_db: Path) -> None:
    at = open_page("results")
    at.multiselect[1].set_value(["feature=json_extract", "topic=medical", "locale=ja-JP"]).run()
    assert_no_exception(at)
    assert not at.error, at.error[0].value if at.error else ""
    assert "No slice where the candidate is significantly worse" in at.success[0].value
    overall = at.dataframe[0].value.iloc[0]
    assert overall.ci_low < 0.5 < overall.ci_high


def test_review_page_never_shows_personal_data(isolated_env: Path, tmp_path: Path) -> None:
    from swapcheck.ingest import ColumnMapping
    from swapcheck.models import VariantConfig
    from swapcheck.pipeline import generate_study, ingest_file
    from swapcheck.store.studies import create_study
    from swapcheck.store.variants import save_variant
    from tests.helpers import write_jsonl

    secrets = (
        "jane.doe@example.com",
        "4111 1111 1111 1111",
        "+49 30 1234 5678",
        "DE89 3704 0044 0532 0130 00",
        "192.168.10.77",
    )
    prompt = (
        "Hi, I'm Jane (jane.doe@example.com, +49 30 1234 5678). My card 4111 1111 1111 "
        "1111 was charged twice; refund to DE89 3704 0044 0532 0130 00. Login from "
        "192.168.10.77 failed."
    )
    rows = [
        {
            "id": f"r{i}",
            "prompt": f"{prompt} Case {i}.",
            "feature": "billing",
            "response": "We wrote to jane.doe@example.com and refunded card 4111 1111 1111 1111.",
        }
        for i in range(3)
    ]
    store = Store(isolated_env, linger=0)
    report = ingest_file(
        store,
        write_jsonl(tmp_path / "pii.jsonl", rows),
        mapping=ColumnMapping(
            prompt_column="prompt",
            id_column="id",
            response_column="response",
            slice_columns=("feature",),
        ),
    )
    save_variant(store, VariantConfig(name="cand", provider="simulated", model="sim-b"))
    study = create_study(
        store, "refund handling", baseline="logged", candidate="cand", sources=[report.source_id]
    )
    generate_study(store, study)
    with store.cursor() as cur:  # the store keeps the original for generation
        assert (
            "jane.doe@example.com" in cur.execute("SELECT messages FROM prompts").fetchall()[0][0]
        )
    store.close()

    at = open_page("review")
    at.text_input[0].input("Dana")
    at.form_submit_button[0].click().run()
    assert_no_exception(at)
    payload = browser_payload(at)
    for secret in secrets:
        assert secret not in payload, secret
    assert "[EMAIL]" in payload and "[CARD]" in payload and "[IBAN]" in payload
