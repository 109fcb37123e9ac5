"""Tracked generation runs: background runs with live counters, stop requests across processes,
interrupted runs, budgets across variants, a CLI run beside an app run, and no key anywhere."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from swapcheck.cli import main
from swapcheck.errors import StoreError
from swapcheck.generate import GenerationSettings
from swapcheck.journal import journal_dir
from swapcheck.models import VariantConfig
from swapcheck.pipeline import generate_study, ingest_file
from swapcheck.runs import background_running, start_in_background
from swapcheck.store import Store
from swapcheck.store.responses import response_status
from swapcheck.store.runs import create_run, get_run, list_runs, request_stop
from swapcheck.store.studies import Study, create_study, study_prompt_ids
from swapcheck.store.variants import save_variant
from tests.fake_openai_server import FakeOpenAIServer, echo_responder
from tests.helpers import small_log_rows, write_jsonl
from tests.test_cli import console_script
from tests.waiting import wait_for


def _study(
    store: Store, tmp_path: Path, server: FakeOpenAIServer, n: int, **prices: float
) -> Study:
    log = write_jsonl(tmp_path / "prod.jsonl", small_log_rows(n))
    report = ingest_file(store, log)
    for name, model in (("base", "m-base"), ("cand", "m-cand")):
        save_variant(
            store,
            VariantConfig(
                name=name,
                provider="openai",
                model=model,
                base_url=server.base_url,
                price_input_per_mtok=prices.get("price_in", 0.0),
                price_output_per_mtok=prices.get("price_out", 0.0),
            ),
        )
    return create_study(
        store, "runs check", baseline="base", candidate="cand", sources=[report.source_id]
    )


class AnswersAfterGate:
    """Answers the first ``free`` requests at once; later ones wait until ``gate`` opens, so a
    run cannot finish before the test lets it (at most 60 s, never a hang)."""

    def __init__(self, free: int) -> None:
        self.free, self.seen = free, 0
        self.gate = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, messages: list[dict[str, Any]], model: str, body: dict[str, Any]) -> str:
        with self._lock:
            self.seen += 1
            held = self.seen > self.free
        if held:
            self.gate.wait(60)
        return echo_responder(messages, model, body)


def test_background_run_reports_progress_stops_on_request_and_resumes(
    tmp_store: Store, tmp_path: Path
) -> None:
    answers = AnswersAfterGate(free=10)
    with FakeOpenAIServer(answers, latency_s=0.05) as server:
        study = _study(tmp_store, tmp_path, server, 80)
        settings = GenerationSettings(concurrency=2)
        outcome: list[BaseException] = []
        started = start_in_background(
            "t1",
            lambda: generate_study(tmp_store, study, variants=["cand"], settings=settings),
            on_error=outcome.append,
        )
        assert started and background_running("t1")
        assert not start_in_background("t1", lambda: None, on_error=outcome.append)

        def running_with_progress() -> bool:
            if outcome:
                raise outcome[0]
            runs = list_runs(tmp_store, active_only=True)
            return bool(runs) and runs[0].succeeded >= 5

        wait_for(running_with_progress, "live counters of the running run", timeout=60)
        run = list_runs(tmp_store, active_only=True)[0]
        assert run.variant == "cand" and run.total == 80 and run.origin == "cli"
        assert request_stop(tmp_store, run.run_id)
        asked = get_run(tmp_store, run.run_id)
        assert asked is not None and asked.status == "stopping"

        def heartbeat_since_the_request() -> bool:  # its update returned the stop flag
            now = get_run(tmp_store, run.run_id)
            return now is not None and now.updated_at > asked.updated_at

        # the requests after the 10th are held, so the run is still going when it sees the stop
        wait_for(heartbeat_since_the_request, "a heartbeat of the run", timeout=60)
        answers.gate.set()
        wait_for(lambda: not background_running("t1"), "the run to stop", timeout=60)
        assert outcome == []
        stopped = get_run(tmp_store, run.run_id)
        assert stopped is not None and stopped.status == "stopped"
        # the held requests finish; a job started in the instant between the heartbeat's
        # commit and the run noticing the stop would be the most that could follow them
        assert 10 <= stopped.succeeded <= 10 + 2 * settings.concurrency
        assert stopped.finished_at is not None
        assert "not started" in (stopped.message or "")
        ids = study_prompt_ids(tmp_store, study)
        assert response_status(tmp_store, "cand", ids)["answered"] == stopped.succeeded
        assert not request_stop(tmp_store, run.run_id), "a finished run cannot be stopped"

        sent_before = len(server.requests)
        report = generate_study(tmp_store, study, variants=["cand"], settings=settings)
        assert report.reports["cand"].total == 80 - stopped.succeeded
        assert len(server.requests) - sent_before == 80 - stopped.succeeded
        assert response_status(tmp_store, "cand", ids) == {
            "answered": 80,
            "failed": 0,
            "missing": 0,
        }
    statuses = [r.status for r in list_runs(tmp_store)]
    assert statuses == ["done", "stopped"]


def test_a_run_whose_process_died_is_marked_interrupted(tmp_store: Store) -> None:
    run_id = create_run(tmp_store, study_id="s", variant="cand", origin="cli", total=3)
    with tmp_store.cursor() as cur:  # pretend a process that has exited owned it
        cur.execute("UPDATE generation_runs SET pid = 2147483646 WHERE run_id = ?", [run_id])
    [row] = list_runs(tmp_store)
    assert row.status == "interrupted" and "start the run again" in (row.message or "")
    mine = create_run(tmp_store, study_id="s", variant="base", origin="app", total=1)
    assert get_run(tmp_store, mine) is not None
    assert [r.run_id for r in list_runs(tmp_store, active_only=True)] == [mine]


def test_a_second_run_of_the_same_variant_and_study_is_refused(
    tmp_store: Store, tmp_path: Path
) -> None:
    from swapcheck.errors import ConfigError

    with FakeOpenAIServer() as server:
        study = _study(tmp_store, tmp_path, server, 4)
        create_run(tmp_store, study_id=study.study_id, variant="cand", origin="app", total=4)
        with pytest.raises(ConfigError, match="already being generated"):
            generate_study(tmp_store, study, variants=["cand"])
        assert server.requests == []


def test_budget_caps_the_whole_call_across_variants(tmp_store: Store, tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        # $1 per 1M tokens each way; the fake server reports usage for every answer
        study = _study(tmp_store, tmp_path, server, 40, price_in=1000.0, price_out=1000.0)
        budget = 0.5
        report = generate_study(
            tmp_store, study, settings=GenerationSettings(concurrency=2, budget=budget)
        )
    assert report.cost <= budget
    assert any(r.budget_exhausted for r in report.reports.values())
    assert sum(r.succeeded for r in report.reports.values()) < 80
    runs = list_runs(tmp_store)
    assert "budget reached" in {r.status for r in runs}
    assert sum(r.cost for r in runs) == pytest.approx(report.cost)


def test_cli_run_and_app_background_run_share_the_database(
    tmp_path: Path, isolated_env: Path
) -> None:
    """The CLI answers one variant while the app's background thread answers the other."""
    with FakeOpenAIServer(latency_s=0.02) as server:
        store = Store(isolated_env, linger=0.5)
        study = _study(store, tmp_path, server, 60)
        errors: list[BaseException] = []
        assert start_in_background(
            "both",
            lambda: generate_study(store, study, variants=["base"], origin="app"),
            on_error=errors.append,
        )
        cli = subprocess.run(
            [*console_script(), "generate", "--study", study.name, "--variant", "cand"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        wait_for(lambda: not background_running("both"), "the app's run", timeout=300)
        assert cli.returncode == 0, cli.stderr
        assert errors == []
        ids = study_prompt_ids(store, study)
        for variant in ("base", "cand"):
            assert response_status(store, variant, ids)["answered"] == 60
        origins = sorted((r.variant, r.origin, r.status) for r in list_runs(store))
        assert origins == [("base", "app", "done"), ("cand", "cli", "done")]
        store.close()


def test_no_api_key_reaches_the_database_journal_logs_or_messages(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = "sk-planted-0123456789abcdefSECRET"
    monkeypatch.setenv("PLANTED_KEY", key)
    log = write_jsonl(tmp_path / "prod.jsonl", small_log_rows(6))
    with FakeOpenAIServer(require_key="another-key") as server:  # rejects ours and echoes it
        for argv in (
            ["ingest", str(log), "--quiet"],
            ["variant", "add", "cand", "--provider", "openai", "--model", "m", "--base-url",
             server.base_url, "--api-key-env", "PLANTED_KEY"],
            ["study", "create", "keys", "--baseline", "logged", "--candidate", "cand",
             "--source", log.name],
            ["generate", "--study", "keys"],
            ["variant", "list", "--json"],
            ["variants", "export"],
            ["quarantine"],
            ["stats", "--study", "keys", "--json"],
        ):  # fmt: skip
            main(argv)
        assert server.requests and all(r.auth_present for r in server.requests)
    out, err = capsys.readouterr()
    assert "6 failed" in out and "HTTP 401" in caplog.text
    texts = [out, err, caplog.text]
    store = Store(isolated_env, linger=0)
    with store.cursor() as cur:
        for (table,) in cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall():
            texts.append(cur.execute(f'SELECT * FROM "{table}"').df().to_csv())
        cur.execute("CHECKPOINT")
    store.close()
    raw = isolated_env.read_bytes()
    assert key.encode() not in raw
    journals = journal_dir(isolated_env)
    if journals.exists():
        texts += [p.read_text() for p in journals.iterdir()]
    assert all(key not in text for text in texts)
    assert any("***" in text for text in texts), "the echoed key was redacted, not dropped"


def test_answers_missing_after_their_write_are_written_again_from_the_journal(
    tmp_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that the database does not keep (a write lost on the way) is noticed before the
    journal is deleted and written again from it: the run ends with every answer stored."""
    import swapcheck.runs as runs

    real_write, dropped = runs.write_responses, []

    def loses_the_first_batch(store: Store, records: list) -> None:
        if not dropped:
            dropped.extend(records)
            return
        real_write(store, records)

    monkeypatch.setattr(runs, "write_responses", loses_the_first_batch)
    with FakeOpenAIServer() as server:
        study = _study(tmp_store, tmp_path, server, 30)
        report = generate_study(tmp_store, study, variants=["cand"])
    assert dropped and report.reports["cand"].succeeded == 30
    ids = study_prompt_ids(tmp_store, study)
    assert response_status(tmp_store, "cand", ids) == {"answered": 30, "failed": 0, "missing": 0}
    [run] = list_runs(tmp_store)
    assert run.status == "done"
    assert f"{len(dropped)} answer(s) missing after their write were written again" in (
        run.message or ""
    )
    assert not list(journal_dir(tmp_store.path).glob("*.jsonl")), "journal deleted once safe"


def test_a_run_whose_answers_do_not_reach_the_database_fails_and_keeps_its_journal(
    tmp_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import swapcheck.runs as runs

    monkeypatch.setattr(runs, "write_responses", lambda store, records: None)
    with FakeOpenAIServer() as server:
        study = _study(tmp_store, tmp_path, server, 5)
        with pytest.raises(StoreError, match="5 answer\\(s\\) did not reach the database"):
            generate_study(tmp_store, study, variants=["cand"])
        [run] = list_runs(tmp_store)
        assert run.status == "failed" and "stay in the run's journal" in (run.message or "")
        assert len(server.requests) == 5
        monkeypatch.undo()  # the next run replays the journal: nothing is paid for twice
        report = generate_study(tmp_store, study, variants=["cand"])
        assert len(server.requests) == 5 and report.recovered == 5
    ids = study_prompt_ids(tmp_store, study)
    assert response_status(tmp_store, "cand", ids)["answered"] == 5
