"""Engine tests against a real fake OpenAI server: retries, concurrency, sink, cancel, resume."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from swapcheck.errors import ConfigError, RetryableProviderError
from swapcheck.generate import (
    GenerationReport,
    GenerationSettings,
    backoff_delay,
    generate,
    generate_async,
)
from swapcheck.models import ChatMessages, GenerationJob, ResponseRecord, VariantConfig
from swapcheck.providers import Completion
from tests.fake_openai_server import FakeOpenAIServer

FAST = GenerationSettings(
    concurrency=4,
    max_retries=3,
    timeout_s=5.0,
    backoff_base_s=0.01,
    backoff_cap_s=0.05,
    flush_every=5,
    flush_interval_s=0.05,
)


class CollectingSink:
    """Stands in for the DuckDB writer; records every batch and the thread it ran on."""

    def __init__(self) -> None:
        self.batches: list[list[ResponseRecord]] = []
        self.ran_inside_event_loop = False
        self._active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def __call__(self, batch: list[ResponseRecord]) -> None:
        with self._lock:
            self._active += 1
            self.max_active = max(self.max_active, self._active)
        try:
            asyncio.get_running_loop()
            self.ran_inside_event_loop = True
        except RuntimeError:
            pass
        self.batches.append(list(batch))
        with self._lock:
            self._active -= 1

    @property
    def records(self) -> list[ResponseRecord]:
        return [r for batch in self.batches for r in batch]

    def by_id(self) -> dict[str, ResponseRecord]:
        records = self.records
        by_id = {r.prompt_id: r for r in records}
        assert len(by_id) == len(records), "a record reached the sink twice"
        return by_id


def make_jobs(n: int) -> list[GenerationJob]:
    return [
        GenerationJob(f"p{i}", [{"role": "user", "content": f"question #{i}."}]) for i in range(n)
    ]


def make_variant(server: FakeOpenAIServer, **overrides: Any) -> VariantConfig:
    fields: dict[str, Any] = {
        "name": "candidate",
        "provider": "openai",
        "model": "m-cand",
        "base_url": server.base_url,
        "params": {"temperature": 0},
        "price_input_per_mtok": 2.0,
        "price_output_per_mtok": 8.0,
    }
    fields.update(overrides)
    return VariantConfig(**fields)


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def test_all_jobs_succeed_and_reach_the_sink_once(server: FakeOpenAIServer) -> None:
    variant, jobs, sink = make_variant(server), make_jobs(23), CollectingSink()
    report = generate(variant, jobs, sink, settings=FAST)

    assert report.total == report.succeeded == 23
    assert (report.failed, report.retries, report.cancelled) == (0, 0, False)
    by_id = sink.by_id()
    assert set(by_id) == {j.prompt_id for j in jobs}
    for job in jobs:
        record = by_id[job.prompt_id]
        assert record.ok and record.error is None and record.attempts == 1
        assert record.text == f"answer from m-cand: {job.messages[0]['content']}"
        assert record.variant == "candidate" and record.finish_reason == "stop"
        assert record.request_hash == variant.request_hash(job.messages)
        assert record.latency_ms is not None and record.latency_ms > 0
        assert record.input_tokens == 2 and record.output_tokens == 5
        assert record.cost == variant.cost(2, 5)
    assert report.input_tokens == 23 * 2 and report.output_tokens == 23 * 5
    assert report.cost == pytest.approx(23 * variant.cost(2, 5))
    assert len(sink.batches) >= 2, "records should be flushed in batches, not only at the end"
    assert not sink.ran_inside_event_loop and sink.max_active == 1
    assert len(server.requests) == 23


@pytest.mark.parametrize(("fault", "wait_s"), [(("429", 1), 1.0), (("429ms", 300), 0.3)])
def test_rate_limit_retry_waits_at_least_retry_after(
    server: FakeOpenAIServer, fault: tuple[Any, ...], wait_s: float
) -> None:
    server.add_fault(fault, prompt_contains="#3.", times=1)
    sink = CollectingSink()
    settings = replace(FAST, backoff_cap_s=5.0)
    report = generate(make_variant(server), make_jobs(6), sink, settings=settings)

    assert report.succeeded == 6 and report.retries == 1
    first, second = server.requests_for("#3.")
    assert first.fault == fault and second.fault is None
    # The client could not send the retry before the server's 429 had been sent + retry_after.
    assert second.received_at - first.received_at >= wait_s
    record = sink.by_id()["p3"]
    assert record.ok and record.attempts == 2


def test_retry_after_is_capped_by_backoff_cap() -> None:
    settings = replace(FAST, backoff_cap_s=0.5)
    assert backoff_delay(1, settings, retry_after=60) == 0.5
    assert backoff_delay(1, settings, retry_after=0.2) >= 0.2
    for attempt in range(1, 12):
        assert 0 <= backoff_delay(attempt, settings) <= min(0.5, 0.01 * 2 ** (attempt - 1))


def test_persistent_500_fails_one_job_only(server: FakeOpenAIServer) -> None:
    server.add_fault(("500",), prompt_contains="#2.")
    sink = CollectingSink()
    report = generate(make_variant(server), make_jobs(8), sink, settings=FAST)

    assert (report.succeeded, report.failed, report.retries) == (7, 1, FAST.max_retries)
    by_id = sink.by_id()
    failed = by_id["p2"]
    assert failed.text is None and not failed.ok
    assert failed.error is not None and "HTTP 500" in failed.error
    assert failed.attempts == FAST.max_retries + 1
    assert len(server.requests_for("#2.")) == FAST.max_retries + 1
    assert failed.request_hash == make_variant(server).request_hash(make_jobs(8)[2].messages)
    assert all(r.ok and r.attempts == 1 for pid, r in by_id.items() if pid != "p2")


def test_401_fails_immediately_without_retries(server: FakeOpenAIServer) -> None:
    server.add_fault(("401",), model="m-cand")
    sink = CollectingSink()
    report = generate(make_variant(server), make_jobs(5), sink, settings=FAST)

    assert (report.succeeded, report.failed, report.retries) == (0, 5, 0)
    assert len(server.requests) == 5
    for record in sink.records:
        assert record.attempts == 1
        assert record.error is not None and "HTTP 401" in record.error
        assert "OPENAI_API_KEY" in record.error  # the fix hint travels with the record


def test_concurrency_bound_is_honoured(server: FakeOpenAIServer) -> None:
    server.latency_s = 0.03
    server.fail_first(1, ("503",), prompt_contains="#1")  # retries must not exceed it either
    settings = replace(FAST, concurrency=3)
    report = generate(make_variant(server), make_jobs(24), CollectingSink(), settings=settings)

    assert report.succeeded == 24 and report.retries >= 1
    assert 2 <= server.max_in_flight <= 3


def test_progress_reaches_total(server: FakeOpenAIServer) -> None:
    calls: list[tuple[int, int]] = []
    generate(
        make_variant(server),
        make_jobs(9),
        CollectingSink(),
        settings=FAST,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(i, 9) for i in range(1, 10)]


def test_should_stop_cancels_cleanly(server: FakeOpenAIServer) -> None:
    server.latency_s = 0.01
    done: list[int] = []
    sink = CollectingSink()
    settings = replace(FAST, concurrency=2)
    report = generate(
        make_variant(server),
        make_jobs(20),
        sink,
        settings=settings,
        progress=lambda d, t: done.append(d),
        should_stop=lambda: len(done) >= 5,
    )
    assert report.cancelled is True and report.total == 20
    # No job starts once the stop is seen; at most `concurrency - 1` were already in flight.
    assert 5 <= report.succeeded <= 6 and report.failed == 0
    assert len(sink.by_id()) == report.succeeded == len(server.requests)


def test_should_stop_before_anything_starts(server: FakeOpenAIServer) -> None:
    sink = CollectingSink()
    report = generate(
        make_variant(server), make_jobs(4), sink, settings=FAST, should_stop=lambda: True
    )
    assert report.cancelled and report.succeeded == report.failed == 0
    assert server.requests == [] and sink.records == []


def test_rerun_of_failed_jobs_fills_them_in(server: FakeOpenAIServer) -> None:
    variant, jobs = make_variant(server), make_jobs(10)
    server.add_fault(("503",), prompt_contains="#4.")
    server.add_fault(("400", "context length exceeded"), prompt_contains="#7.")
    first = CollectingSink()
    generate(variant, jobs, first, settings=replace(FAST, max_retries=1))
    failed_ids = {r.prompt_id for r in first.records if not r.ok}
    assert failed_ids == {"p4", "p7"}
    assert "context length exceeded" in (first.by_id()["p7"].error or "")

    server.clear_faults()
    second = CollectingSink()
    retry_jobs = [j for j in jobs if j.prompt_id in failed_ids]
    report = generate(variant, retry_jobs, second, settings=FAST)
    assert report.total == report.succeeded == 2
    for pid in failed_ids:
        assert second.by_id()[pid].ok
        assert second.by_id()[pid].request_hash == first.by_id()[pid].request_hash


def test_unexpected_exception_fails_only_that_job(server: FakeOpenAIServer) -> None:
    class Flaky:
        async def complete(self, messages: ChatMessages, client: httpx.AsyncClient) -> Completion:
            if "#1." in messages[-1]["content"]:
                raise ValueError("bug in provider")
            return Completion("fine", "stop", 1, 1)

    sink = CollectingSink()
    report = generate(make_variant(server), make_jobs(4), sink, settings=FAST, provider=Flaky())
    assert (report.succeeded, report.failed) == (3, 1)
    assert "ValueError: bug in provider" in (sink.by_id()["p1"].error or "")


def test_timeouts_are_retried(server: FakeOpenAIServer) -> None:
    # the timeout is far from a normal reply (milliseconds) even on a loaded machine, and the
    # hang far beyond it; stopping the server wakes the hung request
    server.fail_first(1, ("hang", 30), prompt_contains="#0.")
    sink = CollectingSink()
    report = generate(
        make_variant(server), make_jobs(2), sink, settings=replace(FAST, timeout_s=2.0)
    )
    assert report.succeeded == 2
    assert sink.by_id()["p0"].attempts == 2


def test_injected_client_is_not_closed(server: FakeOpenAIServer) -> None:
    async def go() -> tuple[GenerationReport, bool]:
        async with httpx.AsyncClient() as client:
            report = await generate_async(
                make_variant(server), make_jobs(3), CollectingSink(), settings=FAST, client=client
            )
            return report, client.is_closed

    report, closed = asyncio.run(go())
    assert report.succeeded == 3 and closed is False


def test_sync_wrapper_works_from_plain_thread_and_running_loop(server: FakeOpenAIServer) -> None:
    results: list[GenerationReport] = []
    thread = threading.Thread(
        target=lambda: results.append(
            generate(make_variant(server), make_jobs(3), CollectingSink(), settings=FAST)
        )
    )
    thread.start()
    thread.join(timeout=30)
    assert results and results[0].succeeded == 3

    async def inside_a_loop() -> GenerationReport:
        return generate(make_variant(server), make_jobs(2), CollectingSink(), settings=FAST)

    assert asyncio.run(inside_a_loop()).succeeded == 2


def test_failing_sink_stops_the_run_and_raises(server: FakeOpenAIServer) -> None:
    def sink(batch: list[ResponseRecord]) -> None:
        raise RuntimeError("database is gone")

    settings = replace(FAST, concurrency=2, flush_every=2)
    with pytest.raises(RuntimeError, match="database is gone"):
        generate(make_variant(server), make_jobs(40), sink, settings=settings)
    assert len(server.requests) < 40


def test_retryable_error_with_zero_retries(server: FakeOpenAIServer) -> None:
    class AlwaysBusy:
        async def complete(self, messages: ChatMessages, client: httpx.AsyncClient) -> Completion:
            raise RetryableProviderError("busy", retry_after=0.0)

    sink = CollectingSink()
    report = generate(
        make_variant(server),
        make_jobs(2),
        sink,
        settings=replace(FAST, max_retries=0),
        provider=AlwaysBusy(),
    )
    assert report.failed == 2 and report.retries == 0
    assert all(r.attempts == 1 and r.error == "busy" for r in sink.records)


def test_empty_job_list(server: FakeOpenAIServer) -> None:
    sink = CollectingSink()
    report = generate(make_variant(server), [], sink, settings=FAST)
    assert (report.total, report.succeeded, report.cancelled) == (0, 0, False)
    assert sink.batches == []


def test_invalid_settings_and_missing_key_fail_before_any_request(
    server: FakeOpenAIServer,
) -> None:
    with pytest.raises(ConfigError, match="concurrency"):
        generate(
            make_variant(server),
            make_jobs(1),
            CollectingSink(),
            settings=replace(FAST, concurrency=0),
        )
    remote = make_variant(server, base_url="https://llm.example.invalid/v1")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        generate(remote, make_jobs(1), CollectingSink(), settings=FAST)
    assert server.requests == []


def test_simulated_variant_end_to_end() -> None:
    pytest.importorskip("swapcheck.simulated_model", reason="simulated_model not landed yet")
    variant = VariantConfig(name="sim", provider="simulated", model="sim-a", params={"seed": 2})
    sink = CollectingSink()
    report = generate(variant, make_jobs(5), sink, settings=FAST)
    assert report.succeeded == 5
    again = CollectingSink()
    generate(variant, make_jobs(5), again, settings=FAST)
    assert {r.prompt_id: r.text for r in sink.records} == {
        r.prompt_id: r.text for r in again.records
    }


class StopSignal(BaseException):
    """Like Streamlit's StopException: raised from a UI callback, not an Exception."""


def test_raising_progress_stops_saves_finished_and_reraises(server: FakeOpenAIServer) -> None:
    sink = CollectingSink()

    def progress(done: int, total: int) -> None:
        if done == 3:
            raise StopSignal

    settings = replace(FAST, concurrency=2)
    with pytest.raises(StopSignal):
        generate(make_variant(server), make_jobs(20), sink, settings=settings, progress=progress)
    assert 3 <= len(sink.by_id()) == len(server.requests) <= 4


def test_cancelling_the_task_still_saves_finished_records(server: FakeOpenAIServer) -> None:
    server.add_fault(("hang", 30), prompt_contains="#0.")
    sink = CollectingSink()

    async def go() -> None:
        done = asyncio.Event()

        def progress(d: int, total: int) -> None:
            if d == 4:
                done.set()

        task = asyncio.create_task(
            generate_async(
                make_variant(server), make_jobs(5), sink, settings=FAST, progress=progress
            )
        )
        await asyncio.wait_for(done.wait(), timeout=10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert set(sink.by_id()) == {"p1", "p2", "p3", "p4"}
