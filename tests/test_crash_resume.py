"""A CLI generation killed with SIGKILL mid-run resumes without losing or re-buying answers."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from swapcheck.cli import main
from swapcheck.journal import SUFFIX, journal_dir, read_journal
from swapcheck.store import Store
from swapcheck.store.runs import list_runs
from tests.fake_openai_server import FakeOpenAIServer
from tests.helpers import small_log_rows, write_jsonl
from tests.test_cli import console_script
from tests.waiting import wait_for

STUDY = "crash check"
PROMPTS = 120


def _journaled(directory: Path) -> int:
    if not directory.is_dir():
        return 0
    return sum(p.read_bytes().count(b"\n") for p in directory.glob(f"*{SUFFIX}"))


def _setup(capsys: pytest.CaptureFixture[str], tmp_path: Path, server: FakeOpenAIServer) -> None:
    log = write_jsonl(tmp_path / "prod.jsonl", small_log_rows(PROMPTS))
    steps = [
        ["ingest", str(log), "--quiet"],
        ["variant", "add", "cand", "--provider", "openai", "--model", "m-cand",
         "--base-url", server.base_url, "--price-in", "1", "--price-out", "2"],
        ["study", "create", STUDY, "--baseline", "logged", "--candidate", "cand",
         "--source", log.name],
    ]  # fmt: skip
    for argv in steps:
        assert main(argv) == 0, capsys.readouterr().err


def test_sigkill_mid_run_then_resume_stores_each_answer_once_and_buys_none_twice(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, isolated_env: Path
) -> None:
    with FakeOpenAIServer(latency_s=0.05) as server:
        _setup(capsys, tmp_path, server)
        child = subprocess.Popen(
            [*console_script(), "generate", "--study", STUDY, "--concurrency", "4"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        journals = journal_dir(isolated_env)
        try:
            wait_for(lambda: _journaled(journals) >= 30, "30 journaled answers", timeout=120)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
        assert child.returncode == -signal.SIGKILL
        # What the killed run had received and journaled (possibly not yet in the database).
        bought = {r.prompt_id for p in journals.glob(f"*{SUFFIX}") for r in read_journal(p) if r.ok}
        assert len(bought) >= 30
        assert len(bought) < PROMPTS, "the run finished before it was killed; slow the server"
        requests_before = len(server.requests)

        capsys.readouterr()
        assert main(["generate", "--study", STUDY]) == 0
        out = capsys.readouterr().out
        assert "recovered" in out

        store = Store(isolated_env, linger=0)
        try:
            with store.cursor() as cur:
                rows = cur.execute(
                    "SELECT p.prompt_id, p.prompt_text, count(r.prompt_id), "
                    "count(r.prompt_id) FILTER (WHERE r.error IS NULL AND r.text IS NOT NULL) "
                    "FROM prompts p LEFT JOIN responses r ON r.prompt_id = p.prompt_id "
                    "AND r.variant = 'cand' GROUP BY ALL"
                ).fetchall()
            runs = list_runs(store)
        finally:
            store.close()
    assert len(rows) == PROMPTS
    assert all(stored == 1 and ok == 1 for _, _, stored, ok in rows), "one answer per prompt"
    text_of = {prompt_id: text for prompt_id, text, _, _ in rows}
    asked_again = {r.last_user_text for r in server.requests[requests_before:]}
    assert not asked_again & {text_of[p] for p in bought}, "a journaled answer was bought again"
    missing = {text for prompt_id, text in text_of.items() if prompt_id not in bought}
    assert missing <= asked_again, "every prompt without an answer is asked on resume"
    statuses = sorted(r.status for r in runs)
    assert statuses == ["done", "interrupted"], statuses
    assert not list(journals.glob(f"*{SUFFIX}")), "journals are removed once replayed"
