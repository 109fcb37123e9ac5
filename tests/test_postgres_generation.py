"""Generation on PostgreSQL: idempotent answer writes, prompt claims, and two worker processes
splitting one study's variant with exactly one stored answer (and one paid request) per prompt."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from swapcheck.batch_api import BatchReport
from swapcheck.models import ResponseRecord, VariantConfig
from swapcheck.pipeline import ingest_file
from swapcheck.store import Store
from swapcheck.store import provider_batches as batches_db
from swapcheck.store.claims import AdvisoryClaims, open_claims
from swapcheck.store.postgres import PostgresStore
from swapcheck.store.responses import write_responses
from swapcheck.store.runs import list_runs
from swapcheck.store.studies import create_study, get_study, study_prompt_ids
from swapcheck.store.transfer import copy_store
from swapcheck.store.variants import save_variant
from tests import test_batch_api as batch_tests
from tests.fake_batch_server import FakeBatchServer
from tests.fake_openai_server import FakeOpenAIServer, echo_responder
from tests.helpers import small_log_rows, write_jsonl
from tests.test_cli import console_script
from tests.waiting import wait_for

STUDY = "two workers"
PROMPTS = 48
CONCURRENCY = 3


def _record(
    prompt_id: str, *, text: str | None, error: str | None = None, hash_: str = "h1"
) -> ResponseRecord:
    return ResponseRecord(
        prompt_id=prompt_id, variant="cand", request_hash=hash_, text=text, error=error
    )


def _stored(store: Any) -> dict[str, tuple]:
    with store.cursor() as cur:
        rows = cur.execute(
            "SELECT prompt_id, request_hash, text, error, attempts FROM responses "
            "WHERE variant = 'cand' ORDER BY prompt_id"
        ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


@pytest.mark.both_backends
def test_answer_writes_are_idempotent_and_a_failure_never_replaces_a_success(
    tmp_store: Store,
) -> None:
    first = _record("p1", text="first answer")
    write_responses(tmp_store, [first])
    write_responses(tmp_store, [first])
    assert _stored(tmp_store) == {"p1": ("h1", "first answer", None, 1)}

    # a second worker's answer to the same request, then a failure: the first answer stays
    write_responses(tmp_store, [_record("p1", text="second answer")])
    write_responses(tmp_store, [_record("p1", text=None, error="HTTP 500")])
    assert _stored(tmp_store) == {"p1": ("h1", "first answer", None, 1)}

    # a failure first: a later failure updates it, a success replaces it
    write_responses(tmp_store, [_record("p2", text=None, error="HTTP 500")])
    write_responses(tmp_store, [replace(_record("p2", text=None, error="timeout"), attempts=3)])
    assert _stored(tmp_store)["p2"] == ("h1", None, "timeout", 3)
    write_responses(tmp_store, [_record("p2", text="late answer")])
    assert _stored(tmp_store)["p2"] == ("h1", "late answer", None, 1)

    # a different request (the variant changed) replaces the stale answer, even as a failure
    write_responses(tmp_store, [_record("p1", text=None, error="HTTP 400", hash_="h2")])
    assert _stored(tmp_store)["p1"] == ("h2", None, "HTTP 400", 1)

    # one batch holding the same prompt twice keeps the first success
    write_responses(
        tmp_store,
        [
            _record("p3", text="kept"),
            _record("p3", text=None, error="HTTP 500"),
            _record("p3", text="dropped"),
        ],
    )
    assert _stored(tmp_store)["p3"] == ("h1", "kept", None, 1)
    assert len(_stored(tmp_store)) == 3


def test_concurrent_writers_of_the_same_prompts_keep_one_answer_each(
    pg_url: str, tmp_path: Path
) -> None:
    """Eight threads upsert the same 60 prompts in opposite orders: no error, first one wins."""
    store = PostgresStore(pg_url, linger=0, local_dir=tmp_path)
    ids = [f"p{i:03d}" for i in range(60)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        order = ids if n % 2 else list(reversed(ids))
        batch = [_record(p, text=f"answer {n}") for p in order]
        if n == 7:
            batch = [_record(p, text=None, error="HTTP 500") for p in order]
        try:
            start.wait(timeout=30)
            for chunk in range(0, len(batch), 7):
                write_responses(store, batch[chunk : chunk + 7])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    stored = _stored(store)
    assert sorted(stored) == ids
    assert all(text is not None and error is None for _, text, error, _ in stored.values())
    store.close()


@pytest.mark.both_backends
def test_claims_split_prompts_between_runs_on_postgres_only(tmp_store: Any) -> None:
    first, second = open_claims(tmp_store, "cand"), open_claims(tmp_store, "cand")
    try:
        assert first.try_claim("p1", "h1") and first.try_claim("p1", "h1"), "held: still mine"
        if tmp_store.dialect == "duckdb":
            assert not first.shared and second.try_claim("p1", "h1"), "DuckDB grants all"
            return
        assert isinstance(first, AdvisoryClaims) and first.shared
        assert not second.try_claim("p1", "h1"), "claimed by a live run"
        assert second.try_claim("p2", "h1") and not first.try_claim("p2", "h1")
        write_responses(tmp_store, [_record("p1", text="answer")])
        first.release(["p1"])
        assert not second.try_claim("p1", "h1"), "answered meanwhile: nothing left to do"
        assert second.try_claim("p1", "h2"), "a different request is still to be sent"
        second.close()  # a finished (or dead) run lets go of everything
        assert first.try_claim("p2", "h1")
        other = open_claims(tmp_store, "base")
        assert other.try_claim("p2", "h1"), "claims are per variant"
        other.close()
    finally:
        first.close()
        second.close()


@pytest.mark.both_backends
def test_a_claim_skips_a_request_that_an_open_batch_holds(tmp_store: Any) -> None:
    """A Batch API batch recorded after an online run chose its jobs: the run's workers do not
    send those requests too (the batch's answers arrive when it is collected)."""
    claims = open_claims(tmp_store, "cand")
    try:
        batches_db.record_batch(
            tmp_store, batch_id="batch_1", variant="cand", provider="openai", run_id=None,
            status="in_progress", items=[batches_db.BatchItem("c1", "p1", "h1")],
        )  # fmt: skip
        if tmp_store.dialect == "duckdb":
            # one run per variant at a time; the run leaves such jobs out when it starts
            assert claims.try_claim("p1", "h1")
            return
        assert not claims.try_claim("p1", "h1"), "the open batch will answer it"
        assert claims.try_claim("p1", "h2"), "a different request is not in the batch"
        assert claims.try_claim("p2", "h1")
        other = open_claims(tmp_store, "base")
        assert other.try_claim("p1", "h1"), "batches are per variant"
        other.close()
        batches_db.update_batch(tmp_store, "batch_1", batches_db.ABANDONED)
        assert claims.try_claim("p1", "h1"), "an abandoned batch answers nothing"
    finally:
        claims.close()


class OverlapGate:
    """Holds the first requests until more are in flight than one worker may send at once.

    Each worker sends at most ``CONCURRENCY`` requests at a time, so ``CONCURRENCY + 1``
    requests in flight prove that both workers are generating at the same moment.
    """

    def __init__(self) -> None:
        self.server: FakeOpenAIServer | None = None
        self.opened = threading.Event()

    def __call__(self, messages: list[dict[str, Any]], model: str, body: dict[str, Any]) -> str:
        assert self.server is not None
        if self.server.in_flight > CONCURRENCY:
            self.opened.set()
        self.opened.wait(timeout=60)
        return echo_responder(messages, model, body)


def _seed_postgres(pg_url: str, tmp_path: Path, base_url: str) -> PostgresStore:
    """Ingest and create the study in DuckDB, then copy the whole store into PostgreSQL."""
    seed = Store(tmp_path / "seed.duckdb", linger=0)
    report = ingest_file(seed, write_jsonl(tmp_path / "prod.jsonl", small_log_rows(PROMPTS)))
    save_variant(
        seed,
        VariantConfig(name="cand", provider="openai", model="m-cand", base_url=base_url),
    )
    create_study(seed, STUDY, baseline="logged", candidate="cand", sources=[report.source_id])
    pg = PostgresStore(pg_url, linger=0, local_dir=tmp_path)
    copy_store(seed, pg)
    seed.close()
    return pg


def test_two_worker_processes_finish_a_variant_with_one_answer_per_prompt(
    pg_url: str, tmp_path: Path, isolated_env: Path
) -> None:
    gate = OverlapGate()
    with FakeOpenAIServer(gate, latency_s=0.05) as server:
        gate.server = server
        pg = _seed_postgres(pg_url, tmp_path, server.base_url)
        argv = [
            *console_script(), "generate", "--study", STUDY, "--variant", "cand",
            "--db", pg_url, "--concurrency", str(CONCURRENCY), "--timeout", "120", "--json",
        ]  # fmt: skip
        env = {**os.environ, "SWAPCHECK_DB": pg_url}
        started = time.monotonic()
        workers = [
            subprocess.Popen(
                argv,
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [w.communicate(timeout=300) for w in workers]
        wall_s = time.monotonic() - started
        sent = len(server.requests)
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    assert gate.opened.is_set(), "the two workers never had requests in flight together"

    reports = [json.loads(out)["reports"]["cand"] for out, _ in outputs]
    per_worker = [r["succeeded"] + r["failed"] + r["retries"] for r in reports]
    print(
        f"\ntwo workers, {PROMPTS} prompts: {sent} requests in total, per worker {per_worker}, "
        f"skipped {[r['skipped'] for r in reports]}, wall {wall_s:.1f} s"
    )
    assert all(n > 0 for n in per_worker), "both workers answered prompts"
    assert sum(per_worker) == sent == PROMPTS, "every prompt was paid for exactly once"
    assert [r["skipped"] + r["succeeded"] for r in reports] == [PROMPTS, PROMPTS]

    study = get_study(pg, STUDY)
    ids = study_prompt_ids(pg, study)
    with pg.cursor() as cur:
        rows = cur.execute(
            "SELECT prompt_id, count(*), count(*) FILTER (WHERE error IS NOT NULL), "
            "min(run_id) FROM responses WHERE variant = 'cand' GROUP BY prompt_id"
        ).fetchall()
    assert sorted(r[0] for r in rows) == sorted(ids) and len(ids) == PROMPTS
    assert all(count == 1 and errors == 0 for _, count, errors, _ in rows)
    runs = [r for r in list_runs(pg, study_id=study.study_id) if r.variant == "cand"]
    assert sorted(r.status for r in runs) == ["done", "done"]
    answered_by_run = {r.run_id: r.succeeded for r in runs}
    stored_by_run: dict[str, int] = {}
    for _, _, _, run_id in rows:
        stored_by_run[run_id] = stored_by_run.get(run_id, 0) + 1
    assert stored_by_run == answered_by_run
    assert all("left to another worker" in (r.message or "") for r in runs)
    pg.close()


def test_two_batch_api_workers_submit_each_request_once(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two Batch API workers on one variant: the second waits for the first one's submission,
    then finds every request in flight and pays for none; both collect the same answers."""
    monkeypatch.setenv(batch_tests.KEY_ENV, batch_tests.KEY)
    jobs = batch_tests.numbered_jobs(12)
    stores = [PostgresStore(pg_url, linger=0, local_dir=tmp_path) for _ in range(2)]
    reports: dict[int, BatchReport] = {}
    errors: list[BaseException] = []
    with FakeBatchServer(polls_to_complete=2, require_key=batch_tests.KEY) as server:
        server.create_gate = threading.Event()
        variant = batch_tests.make_variant(server, "openai")

        def worker(i: int) -> None:
            try:
                sink = batch_tests.Collector(stores[i])  # type: ignore[arg-type]
                reports[i] = batch_tests.run(stores[i], variant, jobs, sink)  # type: ignore[arg-type]
            except BaseException as exc:  # handed to the test thread
                errors.append(exc)

        def advisory_waiters() -> int:
            with stores[0].cursor() as cur:
                cur.raw.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                )
                return int(cur.raw.fetchone()[0])

        first = threading.Thread(target=worker, args=(0,), daemon=True)
        second = threading.Thread(target=worker, args=(1,), daemon=True)
        first.start()
        try:
            wait_for(lambda: server.held_creates == 1, "the first worker's batch create", 30)
            second.start()
            wait_for(
                lambda: advisory_waiters() > 0 or server.held_creates > 1,
                "the second worker to queue behind the first (or to submit too)",
                30,
            )
            assert server.held_creates == 1, "the second worker submitted while the first did"
        finally:
            server.create_gate.set()
        for thread in (first, second):
            thread.join(timeout=60)
            assert not thread.is_alive(), "a worker did not finish"
    assert errors == []
    sent = [r["body"]["messages"][-1]["content"] for r in server.submitted_requests()]
    assert sorted(sent) == sorted(j.messages[-1]["content"] for j in jobs), "each paid once"
    assert server.submissions == 1
    assert (reports[0].submitted, reports[1].submitted) == (12, 0)
    assert reports[1].already_in_flight + reports[1].already_answered == 12
    with stores[0].cursor() as cur:
        rows = cur.execute(
            "SELECT prompt_id, count(*) FROM responses WHERE variant = ? AND error IS NULL "
            "GROUP BY prompt_id",
            [variant.name],
        ).fetchall()
    assert sorted(rows) == sorted((j.prompt_id, 1) for j in jobs)
    for store in stores:
        store.close()
