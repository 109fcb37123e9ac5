"""``swapcheck generate`` options (estimate, budget, Batch API) and ``swapcheck runs``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swapcheck.store import Store
from swapcheck.store.responses import response_status
from swapcheck.store.studies import get_study, study_prompt_ids
from tests.fake_batch_server import FakeBatchServer
from tests.fake_openai_server import FakeOpenAIServer
from tests.helpers import small_log_rows, write_jsonl
from tests.test_cli import run

STUDY = "generate options"


def _setup(capsys: pytest.CaptureFixture[str], tmp_path: Path, base_url: str, n: int) -> None:
    log = write_jsonl(tmp_path / "prod.jsonl", small_log_rows(n))
    for argv in (
        ["ingest", str(log), "--quiet"],
        ["variant", "add", "cand", "--provider", "openai", "--model", "m-cand",
         "--base-url", base_url, "--price-in", "1000", "--price-out", "1000",
         "--param", "max_tokens=100"],
        ["study", "create", STUDY, "--baseline", "logged", "--candidate", "cand",
         "--source", log.name],
    ):  # fmt: skip
        code, _, err = run(capsys, *argv)
        assert code == 0, err


def _submit_and_stop_waiting(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``generate --batch-api`` that submits and returns at once, leaving the batch open."""
    code, out, _ = run(
        capsys, "generate", "--study", STUDY, "--batch-api", "--max-wait", "0",
        "--poll-interval", "0.05",
    )  # fmt: skip
    return code, out


def _answered(db: Path) -> int:
    with Store(db, linger=0) as store:
        ids = study_prompt_ids(store, get_study(store, STUDY))
        return response_status(store, "cand", ids)["answered"]


def test_estimate_prints_tokens_and_cost_and_sends_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, isolated_env: Path
) -> None:
    with FakeOpenAIServer() as server:
        _setup(capsys, tmp_path, server.base_url, 10)
        code, out, err = run(capsys, "generate", "--study", STUDY, "--estimate", "--json")
        assert server.requests == []
    assert code == 0
    assert "cand: 10 requests" in err and "at most $" in err
    estimate = json.loads(out)["cand"]
    assert estimate["jobs"] == 10 and estimate["output_tokens_max"] == 1000
    # $1000 per 1M tokens = $0.001 per token
    assert estimate["cost_max"] == pytest.approx((estimate["input_tokens"] + 1000) / 1000)


def test_budget_stops_the_command_and_a_rerun_continues(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, isolated_env: Path
) -> None:
    with FakeOpenAIServer() as server:
        _setup(capsys, tmp_path, server.base_url, 30)
        code, out, err = run(
            capsys, "generate", "--study", STUDY, "--budget", "0.3", "--concurrency", "2",
            "--json",
        )  # fmt: skip
        assert code == 4, "an unfinished run is not a success"
        report = json.loads(out)["reports"]["cand"]
        assert report["budget_exhausted"] and report["cost"] <= 0.3
        first = _answered(isolated_env)
        assert 0 < first < 30
        code, out, err = run(capsys, "generate", "--study", STUDY)
        assert code == 0, err
    assert _answered(isolated_env) == 30
    code, out, _ = run(capsys, "runs", "list", "--json")
    statuses = [r["status"] for r in json.loads(out)]
    assert statuses == ["done", "budget reached"]


def test_batch_api_submits_collects_and_records_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, isolated_env: Path
) -> None:
    with FakeBatchServer(polls_to_complete=2) as server:
        _setup(capsys, tmp_path, server.openai_base_url, 8)
        code, out, err = run(
            capsys, "generate", "--study", STUDY, "--batch-api", "--poll-interval", "0.05"
        )
        assert code == 0, err
        assert server.submissions == 1 and len(server.submitted_requests()) == 8
        assert "8 submitted in 1 batch(es), 8 collected (8 answered, 0 failed)" in out
        code, out, err = run(
            capsys, "generate", "--study", STUDY, "--batch-api", "--poll-interval", "0.05"
        )
        assert code == 0 and server.submissions == 1, "nothing left to submit"
    assert _answered(isolated_env) == 8
    code, out, _ = run(capsys, "runs", "list", "--json")
    runs = json.loads(out)
    assert runs[-1]["origin"] == "cli (batch API)" and runs[-1]["status"] == "done"
    assert runs[-1]["succeeded"] == 8


def test_batch_api_that_stops_waiting_leaves_the_batch_for_the_next_call(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, isolated_env: Path
) -> None:
    with FakeBatchServer(polls_to_complete=3) as server:
        _setup(capsys, tmp_path, server.openai_base_url, 5)
        code, out = _submit_and_stop_waiting(capsys)
        assert code == 4 and "still open" in out
        assert _answered(isolated_env) == 0
        code, out, err = run(
            capsys, "generate", "--study", STUDY, "--batch-api", "--poll-interval", "0.05"
        )
        assert code == 0, err
        assert server.submissions == 1, "the open batch was collected, not submitted again"
    assert _answered(isolated_env) == 5


def test_online_generation_does_not_pay_again_for_prompts_in_open_batches(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, isolated_env: Path
) -> None:
    with FakeBatchServer(polls_to_complete=3) as server:
        _setup(capsys, tmp_path, server.openai_base_url, 6)
        code, out = _submit_and_stop_waiting(capsys)
        assert code == 4 and len(server.submitted_requests()) == 6
        # an online run while the batch is open: nothing to send, and it says why
        code, out, err = run(capsys, "generate", "--study", STUDY, "--estimate", "--json")
        assert code == 0 and json.loads(out)["cand"]["jobs"] == 0
        assert json.loads(out)["cand"]["in_open_batches"] == 6
        assert "cand: 0 requests" in err and "(6 more wait in open Batch API batches)" in err
        code, out, err = run(capsys, "generate", "--study", STUDY, "--json")
        assert code == 4, "answers are still to come: not a finished generation"
        assert json.loads(out)["in_open_batches"] == {"cand": 6}
        code, out, err = run(capsys, "generate", "--study", STUDY)
        assert "cand: 6 prompt(s) wait in open Batch API batches" in out
        assert server.online == [], "an online request for a prompt the batch will answer"
        code, out, err = run(
            capsys, "generate", "--study", STUDY, "--batch-api", "--poll-interval", "0.05"
        )
        assert code == 0, err
        assert _answered(isolated_env) == 6
        # collected: the batch no longer holds them, so nothing waits and nothing is missing
        code, out, err = run(capsys, "generate", "--study", STUDY, "--json")
        assert code == 0 and json.loads(out)["in_open_batches"] == {"cand": 0}
    assert server.online == [] and server.submissions == 1


def test_runs_stop_of_an_unknown_run_is_a_user_error(
    capsys: pytest.CaptureFixture[str], isolated_env: Path
) -> None:
    code, _, err = run(capsys, "runs", "stop", "run-nope")
    assert code != 0 and "No run 'run-nope'" in err and "fix:" in err
    code, out, _ = run(capsys, "runs", "list")
    assert code == 0 and "no runs" in out
