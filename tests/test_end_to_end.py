"""End to end: log file → DuckDB → two variants over real HTTP → blind grading in the Review page →
the Results page names the planted regressions with intervals that exclude parity."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from swapcheck.demo_data import demo_records, side_blind_choice
from swapcheck.ingest import ColumnMapping
from swapcheck.models import VariantConfig
from swapcheck.pipeline import generate_study, ingest_file
from swapcheck.simulated_model import QUIRKS, simulate_answer
from swapcheck.stats import win_rate_table
from swapcheck.store import Store
from swapcheck.store.judgments import judgments_frame, review_progress
from swapcheck.store.studies import create_study, get_study
from swapcheck.store.variants import save_variant
from tests.apptest_utils import assert_no_exception, browser_payload, open_page
from tests.fake_openai_server import FakeOpenAIServer

pytestmark = pytest.mark.e2e

BASE_MODEL, CAND_MODEL = "acme-chat-2", "acme-chat-3-preview"


def model_server_answer(messages: list[dict], model: str, body: dict) -> str:
    """The fake provider: the candidate model carries the planted quirks, the baseline none."""
    quirks = tuple(QUIRKS) if model == CAND_MODEL else ()
    return simulate_answer(messages, model, quirks=quirks, seed=int(body.get("seed", 0))).text


def write_log(path: Path, n: int) -> Path:
    lines = []
    for record in demo_records(n=n, seed=11):
        record.pop("response")  # this log has no production answers: both sides are generated
        lines.append(json.dumps(record, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def grade_visible_pair(at) -> None:  # type: ignore[no-untyped-def]
    """Read the page like a reviewer (prompt and the two answers as rendered) and press a key.

    The reviewer votes side-blind with its noise seeded by what is on screen
    (``demo_data.side_blind_choice``), so each pair gets the same verdict whichever side and
    turn it comes in: the study's random pair ids, which decide sides and turns, then cannot
    change the outcome, and the test is repeatable.
    """
    prompt = "\n".join(m.value for block in at.chat_message for m in block.markdown)
    left = "\n".join(m.value for m in at.columns[0].markdown[1:])
    right = "\n".join(m.value for m in at.columns[1].markdown[1:])
    rng = random.Random("\x00".join((prompt, *sorted((left, right)))))
    pick = side_blind_choice([{"role": "user", "content": prompt}], left, right, rng)
    at.button(key=f"pick_{pick}").click().run()
    assert_no_exception(at)


def test_log_to_slice_verdicts(tmp_path: Path, isolated_env: Path) -> None:
    store = Store(isolated_env, linger=0.5)
    report = ingest_file(
        store,
        write_log(tmp_path / "support-traffic.jsonl", n=240),
        mapping=ColumnMapping(
            messages_column="messages",
            id_column="request_id",
            slice_columns=("feature", "locale", "tier", "topic"),
        ),
    )
    assert report.rows_rejected == 0
    assert report.rows_ingested + report.rows_duplicate == 240  # exact repeats are counted once
    n = report.rows_ingested

    with FakeOpenAIServer(responder=model_server_answer) as server:
        server.add_fault(("429", 0.05), times=3)  # the engine must ride out rate limiting
        server.add_fault(("500",), times=2)
        for name, model in (("incumbent-v7", BASE_MODEL), ("challenger-v8", CAND_MODEL)):
            save_variant(
                store,
                VariantConfig(
                    name=name,
                    provider="openai",
                    model=model,
                    base_url=server.base_url,
                    params={"temperature": 0, "seed": 3},
                ),
            )
        study = create_study(
            store,
            "support traffic, november",
            baseline="incumbent-v7",
            candidate="challenger-v8",
            sources=[report.source_id],
        )
        with store.cursor() as cur:  # a fixed secret makes the sides, and so the test, repeatable
            cur.execute(
                "UPDATE studies SET blind_salt = 'e2e-fixed-salt' WHERE study_id = ?",
                [study.study_id],
            )
        study = get_study(store, study.study_id)
        result = generate_study(store, study)
        assert {n: (r.succeeded, r.failed) for n, r in result.reports.items()} == {
            "incumbent-v7": (n, 0),
            "challenger-v8": (n, 0),
        }
        models_called = {r.model for r in server.requests}
        assert models_called == {BASE_MODEL, CAND_MODEL}
        # a re-run finds nothing missing and sends nothing
        sent = len(server.requests)
        generate_study(store, study)
        assert len(server.requests) == sent
    assert review_progress(store, study)["pairs_ready"] == n
    store.close()

    reviewers = {name: open_page("review") for name in ("ana", "ben")}
    for name, at in reviewers.items():
        at.text_input[0].input(name)
        at.form_submit_button[0].click().run()
        assert_no_exception(at)
        payload = browser_payload(at).lower()
        for secret in (
            BASE_MODEL,
            CAND_MODEL,
            "incumbent-v7",
            "challenger-v8",
            "openai",
            "baseline",
            "candidate",
            "127.0.0.1",
        ):
            assert secret not in payload, f"{secret!r} reached the review page"
    done = False
    while not done:  # the two reviewers take turns until the queue is empty
        done = True
        for at in reviewers.values():
            if at.success and "Nothing left" in at.success[0].value:
                continue
            done = False
            grade_visible_pair(at)

    store = Store(isolated_env, linger=0)
    judged = judgments_frame(store, study)
    store.close()
    assert len(judged) == n and judged.pair_id.is_unique
    assert set(judged.reviewer) == {"ana", "ben"}

    results = open_page("results")
    table = results.dataframe[0].value
    by_slice = table.set_index(["slice", "value"])
    for planted in (("feature", "json_extract"), ("topic", "medical"), ("locale", "ja-JP")):
        row = by_slice.loc[planted]
        assert row.ci_high < 0.5, (planted, row.to_dict())
        assert row.verdict == "worse"
        assert f"{planted[0]}={planted[1]}" in " ".join(e.value for e in results.error)
    # where nothing was planted, the same statistics must not invent a regression
    clean = judged[
        (judged.feature != "json_extract")
        & (judged.topic != "medical")
        & (judged.locale != "ja-JP")
    ]
    clean_row = win_rate_table(clean).iloc[0]
    assert clean_row.n >= 60 and clean_row.ci_low < 0.5 < clean_row.ci_high, clean_row.to_dict()
