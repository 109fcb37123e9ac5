"""Batch API flow against a real local server: round trips, crash-safe resume, splits, failures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest

from swapcheck import batch_anthropic, batch_openai
from swapcheck.batch_api import (
    BatchReport,
    collect_open_batches,
    run_batches,
)
from swapcheck.batch_http import RetryPolicy, entry_size
from swapcheck.errors import ConfigError, PermanentProviderError
from swapcheck.models import GenerationJob, ResponseRecord, VariantConfig, canonical_json
from swapcheck.providers import make_provider
from swapcheck.store import Store
from swapcheck.store import provider_batches as batches_db
from swapcheck.store.responses import write_responses
from tests.fake_batch_server import FakeBatchServer

KEY_ENV = "SWAPCHECK_TEST_BATCH_KEY"
KEY = "sk-planted-SECRET-batch-key-4242"
FAST = RetryPolicy(max_retries=3, backoff_base_s=0.01, backoff_cap_s=0.05)
PROVIDERS = ("openai", "anthropic")
# Per job: "be brief" (2 words) + "question number N" (3) in; "answer from MODEL: question
# number N" (6 words) out. Prices 2 and 8 per Mtok, batch discount 0.5 by default.
TOKENS_IN, TOKENS_OUT = 5, 6
FULL_PRICE = (TOKENS_IN * 2.0 + TOKENS_OUT * 8.0) / 1_000_000


class SimulatedCrash(BaseException):
    """Stands for SIGKILL / the app being closed right after a batch was accepted."""


class Collector:
    """The sink: keeps every record and writes it to the store like the app does."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.records: list[ResponseRecord] = []

    def __call__(self, records: list[ResponseRecord]) -> None:
        self.records.extend(records)
        write_responses(self.store, records)

    def by_prompt(self) -> dict[str, ResponseRecord]:
        return {r.prompt_id: r for r in self.records}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBatchServer]:
    monkeypatch.setenv(KEY_ENV, KEY)
    with FakeBatchServer(polls_to_complete=2, require_key=KEY) as fake:
        yield fake


def make_variant(server: FakeBatchServer, provider: str, **params: Any) -> VariantConfig:
    if provider == "openai":
        base_url, model, defaults = server.openai_base_url, "gpt-test", {"temperature": 0}
    else:
        base_url, model, defaults = server.anthropic_base_url, "claude-test", {"max_tokens": 64}
    return VariantConfig(
        name=f"{provider}-batch",
        provider=provider,
        model=model,
        base_url=base_url,
        api_key_env=KEY_ENV,
        params={**defaults, **params},
        price_input_per_mtok=2.0,
        price_output_per_mtok=8.0,
    )


def make_jobs(*texts: str) -> list[GenerationJob]:
    return [
        GenerationJob(
            f"p{i}",
            [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}],
        )
        for i, text in enumerate(texts)
    ]


def numbered_jobs(n: int) -> list[GenerationJob]:
    return make_jobs(*(f"question number {i}" for i in range(n)))


def run(
    store: Store, variant: VariantConfig, jobs: list[GenerationJob], sink: Collector, **kwargs: Any
) -> BatchReport:
    return run_batches(store, variant, jobs, sink, poll_interval_s=0.01, retry=FAST, **kwargs)


def module_protocol(module: Any) -> Any:
    return getattr(module, "OpenAIBatchProtocol", None) or module.AnthropicBatchProtocol


def sent_body(server_request: dict[str, Any]) -> dict[str, Any]:
    """The request body inside one submitted batch entry (either protocol)."""
    return server_request.get("body") or server_request["params"]


def all_table_text(store: Store) -> str:
    with store.cursor() as cur:
        tables = [r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return "\n".join(
            repr(cur.execute(f'SELECT * FROM "{t}"').fetchall()) for t in sorted(tables)
        )


# -- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_round_trip_sends_build_body_and_records_answers(
    tmp_store: Store, server: FakeBatchServer, provider: str
) -> None:
    discount = 0.5 if provider == "openai" else 0.25
    params = {} if provider == "openai" else {"batch_discount": discount}
    variant = make_variant(server, provider, **params)
    jobs = numbered_jobs(3)
    sink = Collector(tmp_store)
    seen_progress: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen_progress.append((done, total))

    report = run(tmp_store, variant, jobs, sink, run_id="run-1", progress=progress)

    assert (report.submitted, report.collected, report.succeeded, report.failed) == (3, 3, 3, 0)
    assert report.still_open == 0 and not report.stopped and len(report.submitted_batches) == 1
    assert seen_progress[-1] == (3, 3)
    # Bodies are exactly what the live provider builds (batch_discount is never sent).
    builder = make_provider(make_variant(server, provider))
    submitted = server.submitted_requests()
    assert [sent_body(r) for r in submitted] == [builder.build_body(j.messages) for j in jobs]
    custom_ids = [r["custom_id"] for r in submitted]
    assert len(set(custom_ids)) == 3 and all(len(c) <= 64 and KEY not in c for c in custom_ids)
    if provider == "openai":
        assert {(r["method"], r["url"]) for r in submitted} == {("POST", "/v1/chat/completions")}
        assert sent_body(submitted[0])["temperature"] == 0
    else:
        assert sent_body(submitted[0])["system"] == "be brief"
        assert "batch_discount" not in sent_body(submitted[0])
        assert {s.anthropic_version for s in server.seen} == {"2023-06-01"}
    assert all(s.auth_present for s in server.seen)

    records = sink.by_prompt()
    model = variant.model
    for i, job in enumerate(jobs):
        record = records[job.prompt_id]
        assert record.text == f"answer from {model}: question number {i}"
        assert (record.input_tokens, record.output_tokens) == (TOKENS_IN, TOKENS_OUT)
        assert record.cost == pytest.approx(FULL_PRICE * discount)
        assert record.request_body == canonical_json(builder.build_body(job.messages))
        assert record.request_hash == variant.request_hash(job.messages)
        assert record.run_id == "run-1" and record.error is None
    assert records["p0"].finish_reason == ("stop" if provider == "openai" else "end_turn")
    assert report.cost == pytest.approx(3 * FULL_PRICE * discount)

    [batch_id] = report.submitted_batches
    stored = batches_db.get_batch(tmp_store, batch_id)
    assert stored is not None and stored.status == batches_db.COLLECTED
    assert (stored.provider, stored.run_id, stored.request_count) == (provider, "run-1", 3)
    items = batches_db.batch_items(tmp_store, batch_id)
    assert sorted(i.prompt_id for i in items) == ["p0", "p1", "p2"]
    with tmp_store.cursor() as cur:
        rows = cur.execute(
            "SELECT count(*) FROM responses WHERE variant = ? AND text IS NOT NULL "
            "AND request_body IS NOT NULL",
            [variant.name],
        ).fetchall()
    assert rows[0][0] == 3


# -- persistence before polling, resume -----------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_crash_after_submit_resumes_by_collecting_without_resubmitting(
    tmp_store: Store, server: FakeBatchServer, provider: str
) -> None:
    variant = make_variant(server, provider)
    jobs = numbered_jobs(3)
    sink = Collector(tmp_store)
    persisted_at_stop: list[int] = []

    def crash_once_persisted() -> bool:
        open_now = batches_db.open_batches(tmp_store, variant.name)
        if open_now:
            persisted_at_stop.append(len(batches_db.batch_items(tmp_store, open_now[0].batch_id)))
            raise SimulatedCrash
        return False

    with pytest.raises(SimulatedCrash):
        run(tmp_store, variant, jobs, sink, run_id="run-1", should_stop=crash_once_persisted)
    # Recorded with every item before the first poll; nothing collected yet.
    assert persisted_at_stop == [3]
    assert server.submissions == 1 and sum(server.polls.values()) == 0
    assert sink.records == []

    report = run(tmp_store, variant, jobs, sink, run_id="run-2")

    assert server.submissions == 1, "the resumed run paid for the same prompts again"
    assert (report.submitted, report.already_in_flight, report.collected) == (0, 3, 3)
    assert report.succeeded == 3 and report.collected_batches == list(server.batches)
    records = sink.by_prompt()
    assert sorted(records) == ["p0", "p1", "p2"]
    builder = make_provider(variant)
    for job in jobs:
        assert records[job.prompt_id].run_id == "run-1"  # the run that submitted (and paid)
        assert records[job.prompt_id].request_body == canonical_json(
            builder.build_body(job.messages)
        )
    assert batches_db.open_batches(tmp_store, variant.name) == []


def test_jobs_answered_meanwhile_are_not_submitted(
    tmp_store: Store, server: FakeBatchServer
) -> None:
    """Jobs listed before another worker stored their answer are not paid for again."""
    variant = make_variant(server, "openai")
    jobs = numbered_jobs(4)
    first = Collector(tmp_store)
    run(tmp_store, variant, jobs[:2], first)
    assert len(server.submitted_requests()) == 2

    report = run(tmp_store, variant, jobs, Collector(tmp_store))

    sent = [r["body"]["messages"][-1]["content"] for r in server.submitted_requests()]
    assert sent[2:] == ["question number 2", "question number 3"], sent
    assert (report.submitted, report.already_answered, report.succeeded) == (2, 2, 2)
    assert "2 answered meanwhile (not submitted)" in report.summary()
    # a changed request (another model) is not an answer to it: it is submitted again
    changed = replace(variant, model="gpt-test-2")
    again = run(tmp_store, changed, jobs[:1], Collector(tmp_store))
    assert (again.submitted, again.already_answered) == (1, 0)


def test_stop_or_max_wait_leaves_batches_open_for_collect_open_batches(
    tmp_store: Store, server: FakeBatchServer
) -> None:
    variant = make_variant(server, "openai")
    jobs = numbered_jobs(3)
    sink = Collector(tmp_store)
    server.polls_to_complete = 1_000_000

    def submitted() -> bool:
        return bool(batches_db.open_batches(tmp_store, variant.name))

    stopped = run(tmp_store, variant, jobs, sink, should_stop=submitted)
    assert stopped.stopped and stopped.still_open == 3 and stopped.submitted == 3
    assert sum(server.polls.values()) == 0 and "still open" in stopped.summary()

    waited = run(tmp_store, variant, jobs, sink, max_wait_s=0)
    assert waited.stopped and waited.still_open == 3 and waited.submitted == 0
    assert waited.open_batches == stopped.submitted_batches
    [open_batch] = batches_db.open_batches(tmp_store, variant.name)
    assert open_batch.status == "in_progress"  # the provider's status, kept up to date
    assert sink.records == [] and server.submissions == 1

    server.polls_to_complete = 1
    collected = collect_open_batches(
        tmp_store, variant, sink, jobs=jobs, poll_interval_s=0.01, retry=FAST
    )
    assert (collected.collected, collected.succeeded, collected.still_open) == (3, 3, 0)
    assert not collected.stopped and server.submissions == 1
    assert all(r.request_body for r in sink.records)


# -- limits --------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_jobs_above_the_per_batch_limits_are_split(
    tmp_store: Store,
    server: FakeBatchServer,
    provider: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = batch_openai if provider == "openai" else batch_anthropic
    variant = make_variant(server, provider)
    sink = Collector(tmp_store)
    monkeypatch.setattr(module, "MAX_REQUESTS_PER_BATCH", 2)

    report = run(tmp_store, variant, numbered_jobs(5), sink)

    assert [len(server.inputs[b]) for b in report.submitted_batches] == [2, 2, 1]
    assert server.submissions == 3 and report.succeeded == 5
    bodies = [canonical_json(sent_body(r)) for r in server.submitted_requests()]
    assert len(bodies) == len(set(bodies)) == 5
    assert sorted(r.prompt_id for r in sink.records) == [f"p{i}" for i in range(5)]

    # By size: room for two ordinary entries; a request bigger than the limit is refused.
    monkeypatch.setattr(module, "MAX_REQUESTS_PER_BATCH", 1000)
    builder = make_provider(variant)
    one = numbered_jobs(1)[0]
    with httpx.Client() as unused:
        protocol = module_protocol(module)(variant, unused, FAST)
        line = entry_size(protocol.entry("x" * 18, builder.build_body(one.messages)))
    monkeypatch.setattr(module, "MAX_BYTES_PER_BATCH", int(line * 2.6))
    jobs = [GenerationJob(f"sized-{j.prompt_id}", j.messages) for j in numbered_jobs(3)]
    jobs.append(GenerationJob("huge", make_jobs("filler " * 200)[0].messages))
    before = server.submissions
    sized = run(tmp_store, variant, jobs, sink)
    assert [len(server.inputs[b]) for b in sized.submitted_batches] == [2, 1]
    assert server.submissions - before == 2
    assert "larger than" in (sink.by_prompt()["huge"].error or "")
    assert (sized.succeeded, sized.failed) == (3, 1)


# -- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_item_failures_are_recorded_with_reasons_and_resubmitted_later(
    tmp_store: Store, server: FakeBatchServer, provider: str
) -> None:
    variant = make_variant(server, provider)
    server.error_marker, server.expire_marker = "BAD", "LATE"
    server.extra_result_ids = ["zz-not-ours-0"]
    jobs = make_jobs("question number 0", "a BAD question", "a LATE one", "question number 3")
    sink = Collector(tmp_store)

    report = run(tmp_store, variant, jobs, sink)

    assert (report.succeeded, report.failed) == (2, 2)
    assert report.unknown_custom_ids == ["zz-not-ours-0"]
    errors = {r.prompt_id: r.error for r in sink.records}
    assert errors["p0"] is None and errors["p3"] is None
    assert "Injected item error." in (errors["p1"] or "")
    if provider == "openai":
        assert (errors["p1"] or "").startswith("HTTP 400")
        assert "batch_expired" in (errors["p2"] or "")
    else:
        assert (errors["p1"] or "").startswith("errored: invalid_request_error")
        assert "expired" in (errors["p2"] or "")
    failed = [r for r in sink.records if not r.ok]
    assert all(r.request_body and r.cost is None and r.text is None for r in failed)
    [batch_id] = report.submitted_batches
    stored = batches_db.get_batch(tmp_store, batch_id)
    assert stored is not None and stored.detail["unknown_custom_ids"] == ["zz-not-ours-0"]

    # Their batch ended without an answer for them: a later run may submit them again.
    server.error_marker = server.expire_marker = None
    retry = run(tmp_store, variant, [jobs[1], jobs[2]], sink)
    assert retry.submitted == 2 and retry.succeeded == 2 and server.submissions == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_batch_failing_as_a_whole_fails_every_item_with_the_reason(
    tmp_store: Store, server: FakeBatchServer, provider: str
) -> None:
    variant = make_variant(server, provider)
    server.fail_batches = True
    sink = Collector(tmp_store)

    report = run(tmp_store, variant, numbered_jobs(3), sink)

    assert (report.collected, report.failed, report.still_open) == (3, 3, 0)
    errors = {r.error for r in sink.records}
    if provider == "openai":
        assert errors == {
            "The batch failed as a whole: invalid_request: Injected whole-batch failure."
        }
    else:
        assert errors == {"No result for this request (batch ended)."}
    assert batches_db.open_batches(tmp_store, variant.name) == []


@dataclass(frozen=True)
class RecordingRetry(RetryPolicy):
    """A fast policy that notes the server-requested waits it was given."""

    max_retries: int = 3
    backoff_base_s: float = 0.01
    backoff_cap_s: float = 0.05
    asked: list[float | None] = field(default_factory=list)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        self.asked.append(retry_after)
        return super().delay(attempt, retry_after)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_500_on_submit_and_429_on_poll_are_retried_honouring_retry_after(
    tmp_store: Store, server: FakeBatchServer, provider: str
) -> None:
    variant = make_variant(server, provider)
    server.submit_faults = [(500, None)]
    server.poll_faults = [(429, "0.05")]
    policy = RecordingRetry()
    sink = Collector(tmp_store)

    report = run_batches(
        tmp_store, variant, numbered_jobs(2), sink, poll_interval_s=0.01, retry=policy
    )

    assert report.succeeded == 2
    assert server.create_attempts == 2 and server.submissions == 1
    assert policy.asked == [None, 0.05]
    assert policy.delay(1, 0.05) >= 0.05
    with tmp_store.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM provider_batches").fetchall() == [(1,)]


def test_4xx_on_submit_is_permanent_with_a_fix_and_records_nothing(
    tmp_store: Store, server: FakeBatchServer
) -> None:
    variant = make_variant(server, "openai")
    server.submit_faults = [(400, None)]

    with pytest.raises(PermanentProviderError) as caught:
        run(tmp_store, variant, numbered_jobs(2), Collector(tmp_store))

    assert "HTTP 400" in str(caught.value) and caught.value.fix
    assert server.create_attempts == 1 and server.submissions == 0
    assert batches_db.open_batches(tmp_store, variant.name) == []


# -- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_wrong_key_is_redacted_and_no_key_reaches_the_store(
    tmp_store: Store, server: FakeBatchServer, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = make_variant(server, provider)
    wrong = "sk-wrong-planted-key-9876"
    monkeypatch.setenv(KEY_ENV, wrong)
    with pytest.raises(PermanentProviderError) as caught:
        run(tmp_store, variant, numbered_jobs(1), Collector(tmp_store))
    assert "HTTP 401" in str(caught.value) and "***" in str(caught.value)
    assert wrong not in str(caught.value) and wrong not in repr(caught.value)
    assert KEY_ENV in (caught.value.fix or "")

    monkeypatch.setenv(KEY_ENV, KEY)
    server.error_marker = "BAD"
    report = run(tmp_store, variant, make_jobs("fine", "BAD one"), Collector(tmp_store))
    assert (report.succeeded, report.failed) == (1, 1)
    text = all_table_text(tmp_store)
    assert "answer from" in text and "Injected item error." in text  # the dump has the data
    assert KEY not in text and wrong not in text
    tmp_store.close()
    raw = tmp_store.path.read_bytes()
    assert KEY.encode() not in raw and wrong.encode() not in raw


@pytest.mark.parametrize("provider", PROVIDERS)
def test_missing_key_for_a_remote_url_is_a_config_error_naming_the_variable(
    tmp_store: Store, provider: str
) -> None:
    remote = "https://llm.example.invalid/v1"  # not local, so a key is required; never contacted
    variant = VariantConfig(
        name="remote",
        provider=provider,
        model="m",
        base_url=remote,
        api_key_env="SWAPCHECK_TEST_UNSET_KEY",
        params={"max_tokens": 8} if provider == "anthropic" else {},
    )
    with pytest.raises(ConfigError) as caught:
        run(tmp_store, variant, numbered_jobs(1), Collector(tmp_store))
    assert "SWAPCHECK_TEST_UNSET_KEY" in str(caught.value)


def test_local_server_without_key_sends_no_auth(tmp_store: Store) -> None:
    with FakeBatchServer(polls_to_complete=1) as fake:
        variant = VariantConfig(
            name="local",
            provider="openai",
            model="llm",
            base_url=fake.openai_base_url,
            api_key_env="SWAPCHECK_TEST_UNSET_KEY",
        )
        report = run(tmp_store, variant, numbered_jobs(2), Collector(tmp_store))
    assert report.succeeded == 2 and not any(s.auth_present for s in fake.seen)


def test_provider_without_batch_api_and_bad_discount_are_config_errors(
    tmp_store: Store, server: FakeBatchServer
) -> None:
    simulated = VariantConfig(name="sim", provider="simulated", model="sim")
    with pytest.raises(ConfigError, match="no Batch API"):
        run(tmp_store, simulated, numbered_jobs(1), Collector(tmp_store))
    bad = make_variant(server, "openai", batch_discount=2)
    with pytest.raises(ConfigError, match="batch_discount"):
        run(tmp_store, bad, numbered_jobs(1), Collector(tmp_store))
    assert server.submissions == 0 and server.files == {}
