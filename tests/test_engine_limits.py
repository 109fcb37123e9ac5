"""Limiters (fake clock) and the engine under limits: RPM/TPM, concurrency, AIMD, pauses, budget."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from swapcheck.errors import ConfigError, RetryableProviderError
from swapcheck.generate import generate
from swapcheck.http_pool import ShardedClientPool
from swapcheck.models import ChatMessages, GenerationJob, ResponseRecord, VariantConfig
from swapcheck.providers import Completion, make_provider
from swapcheck.providers.base import RateLimitInfo
from swapcheck.rate_limits import (
    AdaptiveLimit,
    LimitSettings,
    PauseGate,
    TokenBucket,
    VariantLimiter,
    exhausted_quota_wait,
)
from tests.fault_server import FaultServer
from tests.test_generate import FAST


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


class Sink:
    def __init__(self) -> None:
        self.records: list[ResponseRecord] = []

    def __call__(self, batch: list[ResponseRecord]) -> None:
        self.records.extend(batch)

    def by_id(self) -> dict[str, ResponseRecord]:
        by_id = {r.prompt_id: r for r in self.records}
        assert len(by_id) == len(self.records), "a record reached the sink twice"
        return by_id


def make_jobs(n: int) -> list[GenerationJob]:
    return [
        GenerationJob(f"p{i}", [{"role": "user", "content": f"question #{i}."}]) for i in range(n)
    ]


def make_variant(server: FaultServer | None = None, **overrides: Any) -> VariantConfig:
    fields: dict[str, Any] = {
        "name": "cand",
        "provider": "openai",
        "model": "m-cand",
        "base_url": server.base_url if server else "http://127.0.0.1:9/v1",
    }
    fields.update(overrides)
    return VariantConfig(**fields)


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as fake:
        yield fake


# -- token buckets (fake clock) ---------------------------------------------------------------
def test_request_bucket_spaces_requests_at_the_rate_after_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, burst_s=2.0, clock=clock)  # 1 request/s, bursts of 2
    assert [bucket.reserve(1) for _ in range(5)] == [0.0, 0.0, 1.0, 2.0, 3.0]
    clock.now += 3.0  # the debt of 3 is paid back exactly
    assert bucket.reserve(1) == 1.0
    clock.now += 60.0  # refills to the burst size, not beyond
    assert [bucket.reserve(1) for _ in range(3)] == [0.0, 0.0, 1.0]


def test_request_bucket_never_exceeds_capacity_plus_rate_in_any_window() -> None:
    clock = FakeClock()
    bucket = TokenBucket(120, burst_s=1.0, clock=clock)  # 2/s, capacity 2
    send_times = []
    for _ in range(40):
        send_times.append(clock.now + bucket.reserve(1))
        clock.now += 0.01
    for start in send_times:
        in_window = sum(1 for t in send_times if start <= t < start + 5.0)
        assert in_window <= 2 + 2 * 5.0


def test_token_bucket_reserves_estimate_and_reconciles_with_usage() -> None:
    clock = FakeClock()
    bucket = TokenBucket(600, clock=clock)  # 10 tokens/s, capacity 10
    assert bucket.reserve(8) == 0.0
    assert bucket.reserve(8) == pytest.approx(0.6)  # balance -6
    bucket.adjust(2 - 8)  # the second request really used 2 tokens: 6 back, balance 0
    assert bucket.reserve(5) == pytest.approx(0.5)
    bucket.adjust(9 - 5)  # used more than estimated: the next one waits longer
    assert bucket.reserve(1) == pytest.approx(1.0)  # balance -10


def test_oversized_request_waits_for_a_full_bucket_only() -> None:
    clock = FakeClock()
    bucket = TokenBucket(600, clock=clock)  # capacity 10
    assert bucket.reserve(25) == 0.0  # full bucket: goes now, 15 in debt
    assert bucket.reserve(25) == pytest.approx(2.5)  # until full again (15 + 10) / 10


# -- AIMD and pauses (fake clock) -------------------------------------------------------------
def test_aimd_halves_once_per_burst_and_recovers_after_successes() -> None:
    clock = FakeClock()
    limit = AdaptiveLimit(16, increase_after=3, cooldown_s=2.0, clock=clock)
    assert [limit.on_rate_limited() for _ in range(10)] == [True] + [False] * 9
    assert limit.limit == 8
    clock.now += 1.0
    limit.on_rate_limited()
    assert limit.limit == 8  # same cooldown window
    clock.now += 1.5
    limit.on_rate_limited()
    assert limit.limit == 4
    for _ in range(9):
        limit.on_success()
    assert limit.limit == 7
    limit.on_success()
    limit.on_success()
    limit.on_rate_limited()  # within the window: no halving, but the run of successes restarts
    limit.on_success()
    assert limit.limit == 7
    for _ in range(100):
        limit.on_success()
    assert limit.limit == 16  # capped at the configured maximum
    for _ in range(10):
        clock.now += 2.0
        limit.on_rate_limited()
    assert limit.limit == 1  # floor


def test_adaptive_limit_blocks_beyond_the_limit_first_come_first_served() -> None:
    async def go() -> list[str]:
        limit = AdaptiveLimit(4, increase_after=1)
        limit.on_rate_limited()
        assert limit.limit == 2
        order: list[str] = []
        await limit.acquire()
        await limit.acquire()

        async def waiter(name: str) -> None:
            await limit.acquire()
            order.append(name)

        tasks = [asyncio.create_task(waiter(n)) for n in ("a", "b", "c")]
        await asyncio.sleep(0)
        assert order == [] and limit.in_flight == 2
        limit.release()
        await asyncio.sleep(0)
        assert order == ["a"] and limit.in_flight == 2
        limit.on_success()  # the limit grows to 3: wakes one more waiter
        await asyncio.sleep(0)
        assert order == ["a", "b"] and limit.in_flight == 3
        limit.on_success()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        assert limit.in_flight == 4
        return order

    assert asyncio.run(go()) == ["a", "b", "c"]


def test_pause_gate_holds_until_the_latest_reset() -> None:
    clock = FakeClock()
    gate = PauseGate(clock, clock.sleep)
    gate.pause_for(1.0)
    gate.pause_for(0.5)  # never shortens
    assert gate.remaining() == pytest.approx(1.0) and gate.pauses == 1
    start = clock.now
    asyncio.run(gate.wait())
    assert clock.now - start == pytest.approx(1.0) and gate.remaining() == 0


def test_pauses_are_capped_at_the_longest_backoff() -> None:
    clock = FakeClock()
    limiter = VariantLimiter(LimitSettings(max_concurrency=2, max_pause_s=5.0), clock=clock)
    limiter.observe(None, rate_limited=True, retry_after=3600.0)
    assert limiter.pause.remaining() == 5.0 and limiter.concurrency.limit == 1
    limiter.observe(
        RateLimitInfo(remaining_tokens=0, reset_tokens_s=2.0), rate_limited=False, retry_after=None
    )
    assert limiter.pause.remaining() == 5.0  # a shorter pause does not shorten it


def test_quota_at_zero_means_wait_for_its_reset() -> None:
    assert exhausted_quota_wait(None) == 0
    assert exhausted_quota_wait(RateLimitInfo(remaining_requests=3, reset_requests_s=9)) == 0
    info = RateLimitInfo(
        remaining_requests=0, reset_requests_s=0.5, remaining_tokens=0, reset_tokens_s=2.0
    )
    assert exhausted_quota_wait(info) == 2.0


# -- engine against real servers --------------------------------------------------------------
def test_variant_max_concurrency_overrides_settings(server: FaultServer) -> None:
    server.latency_s = 0.1
    variant = make_variant(server, max_concurrency=5)
    report = generate(variant, make_jobs(20), Sink(), settings=replace(FAST, concurrency=50))
    assert report.succeeded == 20
    assert 2 <= server.max_in_flight <= 5


def test_requests_per_minute_is_respected(server: FaultServer) -> None:
    # 1200/min = 20/s with a 1 s burst of 20: job 40 cannot be sent before 1 s has passed.
    variant = make_variant(server, requests_per_minute=1200)
    started = time.monotonic()
    report = generate(variant, make_jobs(40), Sink(), settings=replace(FAST, concurrency=40))
    assert report.succeeded == 40
    arrivals = sorted(r.received_at for r in server.snapshot())
    assert arrivals[-1] - started >= (40 - 20) / 20


def test_tokens_per_minute_reserves_estimates_and_counts_usage(server: FaultServer) -> None:
    # Estimate per request: 3 + 4 + ceil(12 / 4) = 10 input + max_tokens 10 = 20 tokens.
    # The server reports 10 used. 2400 TPM = 40 tokens/s, burst 40. Before the 8th request
    # goes out, 7 requests used >= 10 each and the 8th reserves 20: 90 tokens, 50 beyond the
    # burst, so it cannot arrive before 50 / 40 = 1.25 s.
    server.usage = (5, 5)
    variant = make_variant(server, tokens_per_minute=2400, params={"max_tokens": 10})
    started = time.monotonic()
    report = generate(variant, make_jobs(8), Sink(), settings=replace(FAST, concurrency=8))
    assert report.succeeded == 8 and report.input_tokens == 40
    arrivals = sorted(r.received_at for r in server.snapshot())
    assert arrivals[-1] - started >= 1.25


class SeenByClient:
    """Wraps the real provider; records when each call starts and when a 429 reached it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.starts: list[float] = []
        self.rate_limited_at: list[float] = []

    def build_body(self, messages: ChatMessages) -> dict[str, Any]:
        return dict(self.inner.build_body(messages))

    async def complete(self, messages: ChatMessages, client: httpx.AsyncClient) -> Completion:
        self.starts.append(time.monotonic())
        try:
            return await self.inner.complete(messages, client)
        except RetryableProviderError:
            self.rate_limited_at.append(time.monotonic())
            raise


def test_retry_after_pauses_the_whole_variant(server: FaultServer) -> None:
    server.latency_s = 0.02
    server.script(("429", 0.6))
    variant = make_variant(server)
    provider = SeenByClient(make_provider(variant))
    report = generate(
        variant,
        make_jobs(16),
        Sink(),
        settings=replace(FAST, concurrency=4, backoff_cap_s=1.0),
        provider=provider,
    )
    assert report.succeeded == 16 and report.retries == 1 and report.pauses == 1
    assert [r.outcome for r in server.snapshot()].count("429") == 1
    (seen,) = provider.rate_limited_at
    # Whatever was already on its way may finish; no request starts within the retry-after.
    later = [t for t in provider.starts if t > seen]
    assert later and min(later) >= seen + 0.6


class ScriptedProvider:
    """Answers from a script of outcomes and records calls and concurrency (no HTTP)."""

    def __init__(self, script: list[Any], delay_s: float = 0.005) -> None:
        self.script = list(script)
        self.delay_s = delay_s
        self.in_flight = 0
        self.calls: list[tuple[float, int]] = []
        """(start time, in flight including this one)."""
        self.returned: list[float] = []

    async def complete(self, messages: ChatMessages, client: httpx.AsyncClient) -> Completion:
        self.in_flight += 1
        self.calls.append((time.monotonic(), self.in_flight))
        outcome = self.script.pop(0) if self.script else "ok"
        try:
            await asyncio.sleep(self.delay_s)
            if outcome == "429":
                raise RetryableProviderError("HTTP 429", fix="wait", rate_limited=True)
            rate_limit = outcome if isinstance(outcome, RateLimitInfo) else None
            return Completion("fine", "stop", 1, 1, rate_limit=rate_limit)
        finally:
            self.in_flight -= 1
            self.returned.append(time.monotonic())


def test_aimd_halves_concurrency_on_a_429_burst_and_recovers() -> None:
    provider = ScriptedProvider(["429"] * 8, delay_s=0.05)  # calls overlap: slots are the limit
    settings = replace(FAST, concurrency=8, aimd_increase_after=10, aimd_cooldown_s=30.0)
    report = generate(make_variant(), make_jobs(120), Sink(), settings=settings, provider=provider)
    assert report.succeeded == 120 and report.retries == 8
    assert report.concurrency_decreases == 1  # a burst of 8 429s counts once
    levels = [n for _, n in provider.calls]
    assert max(levels[:8]) == 8  # before the burst: the full limit
    after = levels[8:]
    assert max(after[:10]) == 4  # halved (growth needs 10 successes first)...
    assert max(after) == 8  # ...and grown back one step per 10 successes


def test_rate_limit_headers_with_nothing_remaining_pause_every_request() -> None:
    empty = RateLimitInfo(remaining_requests=0, reset_requests_s=0.4)
    provider = ScriptedProvider([empty], delay_s=0.01)
    report = generate(
        make_variant(),
        make_jobs(12),
        Sink(),
        settings=replace(FAST, concurrency=3, backoff_cap_s=1.0),
        provider=provider,
    )
    assert report.succeeded == 12 and report.pauses == 1
    first_return = provider.returned[0]
    later = [t for t, _ in provider.calls if t > first_return]
    assert later and min(later) >= first_return + 0.4


# -- budget ------------------------------------------------------------------------------------
def budget_variant(server: FaultServer) -> VariantConfig:
    # 1000 $/Mtok both ways: the server's 10 + 10 tokens cost exactly $0.02 per answer, and the
    # estimate is 10 input (3 + 4 + ceil(12 / 4)) + 10 output (max_tokens) = $0.02 too.
    return make_variant(
        server,
        params={"max_tokens": 10},
        price_input_per_mtok=1000.0,
        price_output_per_mtok=1000.0,
    )


def test_budget_stops_the_run_before_the_cap_hand_checked(server: FaultServer) -> None:
    server.usage = (10, 10)
    sink = Sink()
    settings = replace(FAST, concurrency=1, budget=0.10)
    report = generate(budget_variant(server), make_jobs(10), sink, settings=settings)
    # $0.02 each: jobs 0-4 fit exactly into $0.10, job 5 would exceed it.
    assert report.budget_exhausted and not report.cancelled
    assert (report.succeeded, report.failed) == (5, 0)
    assert report.cost == pytest.approx(0.10) and report.cost <= 0.10 + 1e-12
    assert sorted(sink.by_id()) == [f"p{i}" for i in range(5)]
    assert len(server.snapshot()) == 5


def test_budget_with_concurrency_and_a_later_run_picks_up_the_rest(server: FaultServer) -> None:
    server.usage = (10, 10)
    server.latency_s = 0.01
    variant, jobs, sink = budget_variant(server), make_jobs(30), Sink()
    report = generate(variant, jobs, sink, settings=replace(FAST, concurrency=6, budget=0.25))
    assert report.budget_exhausted and report.cost <= 0.25 + 1e-12
    assert report.succeeded == 12  # $0.24 spent; a 13th answer would make $0.26
    assert len(server.snapshot()) == report.succeeded == len(sink.records)
    done = set(sink.by_id())
    rest = [j for j in jobs if j.prompt_id not in done]
    again = Sink()
    second = generate(variant, rest, again, settings=replace(FAST, concurrency=6))
    assert second.succeeded == 18 and not second.budget_exhausted
    assert done.isdisjoint(again.by_id()) and len(done | set(again.by_id())) == 30


def test_no_request_once_the_cap_is_reached(server: FaultServer) -> None:
    sink = Sink()
    report = generate(
        budget_variant(server), make_jobs(3), sink, settings=replace(FAST, budget=0.0)
    )
    assert report.budget_exhausted and report.succeeded == report.failed == 0
    assert server.snapshot() == [] and sink.records == []


# -- on_record hook ----------------------------------------------------------------------------
def test_on_record_sees_every_record_before_the_sink(server: FaultServer) -> None:
    server.script(("500", None), ("500", None), ("500", None), ("500", None))
    seen: list[str] = []
    in_sink_when_seen: list[bool] = []
    sink = Sink()

    def on_record(record: ResponseRecord) -> None:
        asyncio.get_running_loop()  # called in the event loop
        in_sink_when_seen.append(any(r.prompt_id == record.prompt_id for r in sink.records))
        seen.append(record.prompt_id)

    settings = replace(FAST, concurrency=1, max_retries=3)
    report = generate(
        make_variant(server), make_jobs(7), sink, settings=settings, on_record=on_record
    )
    assert report.failed == 1 and report.succeeded == 6  # 4 x 500 exhausts job 0's retries
    assert seen == [f"p{i}" for i in range(7)] == [r.prompt_id for r in sink.records]
    assert not any(in_sink_when_seen)


def test_failing_on_record_stops_the_run_like_a_failing_sink(server: FaultServer) -> None:
    sink = Sink()

    def on_record(record: ResponseRecord) -> None:
        if record.prompt_id == "p3":
            raise OSError("journal disk full")

    settings = replace(FAST, concurrency=1)
    with pytest.raises(OSError, match="journal disk full"):
        generate(make_variant(server), make_jobs(20), sink, settings=settings, on_record=on_record)
    assert [r.prompt_id for r in sink.records] == ["p0", "p1", "p2"]
    assert len(server.snapshot()) == 4


# -- sharded connection pool -------------------------------------------------------------------
def test_sharded_pool_splits_connections_and_leases_the_least_busy() -> None:
    async def go() -> None:
        pool = ShardedClientPool(100, 5.0, shard_connections=32)
        assert len(pool.clients) == 4 and pool.connections_per_shard == 25
        leased = [pool.acquire() for _ in range(8)]
        assert pool.busy == [2, 2, 2, 2]
        assert len({id(c) for c in leased}) == 4
        pool.release(leased[0])
        assert pool.acquire() is leased[0]
        await pool.aclose()
        assert all(c.is_closed for c in pool.clients)

    asyncio.run(go())
    default = ShardedClientPool(20, 1.0)  # 8 connections per shard by default
    assert len(default.clients) == 3 and default.connections_per_shard == 7


def test_engine_at_high_concurrency_uses_several_shards(server: FaultServer) -> None:
    server.latency_s = 1.0  # one round: all 80 requests overlap on the server
    settings = replace(FAST, concurrency=80, shard_connections=32)
    report = generate(make_variant(server), make_jobs(80), Sink(), settings=settings)
    assert report.succeeded == 80
    assert 32 < server.max_in_flight <= 80  # more than one shard's worth at once


def test_invalid_limits_and_budget_fail_before_any_request(server: FaultServer) -> None:
    with pytest.raises(ConfigError, match="budget"):
        generate(make_variant(server), make_jobs(1), Sink(), settings=replace(FAST, budget=-1))
    for field in ("max_concurrency", "requests_per_minute", "tokens_per_minute"):
        bad = make_variant(server, **{field: 0})
        with pytest.raises(ConfigError, match=field):
            generate(bad, make_jobs(1), Sink(), settings=FAST)
    assert server.snapshot() == []
