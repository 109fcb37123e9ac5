"""Batch generation engine: paced concurrency, retries, budget cap, incremental sink, cost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from swapcheck.cost_estimate import message_tokens, reserved_output_tokens
from swapcheck.errors import ConfigError, ProviderError, RetryableProviderError
from swapcheck.http_pool import SHARD_CONNECTIONS, ClientLease, ShardedClientPool, SingleClient
from swapcheck.models import (
    ChatMessages,
    GenerationJob,
    ResponseRecord,
    VariantConfig,
    canonical_json,
)
from swapcheck.providers import Completion, Provider, make_provider
from swapcheck.rate_limits import LimitSettings, VariantLimiter

logger = logging.getLogger(__name__)

Sink = Callable[[list[ResponseRecord]], None]
Progress = Callable[[int, int], None]
ShouldStop = Callable[[], bool]
OnRecord = Callable[[ResponseRecord], None]
Claim = Callable[[GenerationJob], bool]
"""Called (on a worker thread) right before a job is sent; False: skip it, another worker
answers it or already has (``swapcheck.store.claims``)."""


@dataclass
class GenerationSettings:
    """Knobs of one generation run."""

    concurrency: int = 8
    max_retries: int = 5
    timeout_s: float = 60.0
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    flush_every: int = 25
    flush_interval_s: float = 1.0
    budget: float | None = None
    """Hard cap in US$ on the run's cost (see ``generate_async``); None: no cap."""
    expected_output_tokens: int | None = None
    """Typical answer length for budget/TPM reservations when the variant sets no max_tokens."""
    aimd_increase_after: int = 20
    """Successes in a row before the adaptive concurrency limit grows by one."""
    aimd_cooldown_s: float = 2.0
    """429s within this window of a halving count as the same burst (no second halving)."""
    rate_burst_s: float = 1.0
    """RPM/TPM buckets hold this many seconds of allowance (the largest burst)."""
    shard_connections: int = SHARD_CONNECTIONS
    """Connections per httpx client when the engine builds its own pool."""

    def validate(self) -> None:
        if self.concurrency < 1:
            raise ConfigError("concurrency must be at least 1.", fix="Set concurrency >= 1.")
        if self.max_retries < 0:
            raise ConfigError("max_retries cannot be negative.", fix="Set max_retries >= 0.")
        if self.flush_every < 1:
            raise ConfigError("flush_every must be at least 1.", fix="Set flush_every >= 1.")
        if min(self.timeout_s, self.flush_interval_s) <= 0 or self.backoff_base_s < 0:
            raise ConfigError(
                "timeout_s and flush_interval_s must be positive, backoff_base_s not negative.",
                fix="Use positive durations in seconds.",
            )
        if self.budget is not None and self.budget < 0:
            raise ConfigError("budget cannot be negative.", fix="Set a budget in US$ >= 0.")
        if self.aimd_increase_after < 1 or self.shard_connections < 1 or self.rate_burst_s <= 0:
            raise ConfigError(
                "aimd_increase_after and shard_connections must be at least 1, "
                "rate_burst_s positive.",
                fix="Use the defaults unless you know why not.",
            )


def _validate_variant_limits(variant: VariantConfig) -> None:
    for name in ("max_concurrency", "requests_per_minute", "tokens_per_minute"):
        value = getattr(variant, name)
        if value is not None and value < 1:
            raise ConfigError(
                f"Variant '{variant.name}': {name} must be at least 1 (got {value}).",
                fix=f"Set {name} to a positive number, or leave it empty for no limit.",
            )


@dataclass
class GenerationReport:
    """Totals of one run; ``unstarted`` jobs were not started and ``skipped`` ones were left to
    another worker.

    They were not started because the run was cancelled or (``budget_exhausted``) because the
    budget could not cover them; ``cost`` is what the run spent.
    """

    total: int
    succeeded: int
    failed: int
    retries: int
    input_tokens: int
    output_tokens: int
    cost: float
    elapsed_s: float
    cancelled: bool
    budget_exhausted: bool = False
    concurrency_decreases: int = 0
    """Times a 429 halved the adaptive concurrency limit."""
    pauses: int = 0
    """Times the whole variant was paused (429 with retry-after, or a quota at 0)."""
    skipped: int = 0
    """Jobs not sent because another worker claimed or answered them (``claim``)."""

    @property
    def unstarted(self) -> int:
        """Jobs neither answered, failed nor left to another worker (stop or budget)."""
        return self.total - self.succeeded - self.failed - self.skipped


def backoff_delay(
    attempt: int,
    settings: GenerationSettings,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Capped exponential backoff with full jitter; a server's ``retry_after`` is a floor."""
    ceiling = min(settings.backoff_cap_s, settings.backoff_base_s * 2 ** max(0, attempt - 1))
    delay = (rng or random).uniform(0.0, ceiling)
    if retry_after is not None:
        delay = max(retry_after, delay)
    return min(delay, settings.backoff_cap_s)


def _request_body(provider: Provider, messages: ChatMessages) -> str | None:
    """Canonical JSON of the body ``provider`` sends for ``messages`` (kept for audit)."""
    build = getattr(provider, "build_body", None)
    if build is None:
        return None
    try:
        return canonical_json(build(messages))
    except Exception:  # a body that cannot be built fails in complete() with its own reason
        return None


class _Budget:
    """Spent and reserved US$ against a hard cap; a job starts only once its estimate fits."""

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.spent = 0.0
        self.reserved = 0.0
        self.exhausted = False
        self._changed = asyncio.Event()

    async def reserve(self, amount: float) -> bool:
        """Reserve ``amount``; waits while in-flight reservations may still free room."""
        while not self.exhausted:
            if self.spent + self.reserved + amount <= self.cap * (1 + 1e-12):
                self.reserved += amount
                return True
            if self.reserved <= 0 or self.spent >= self.cap:
                self.exhausted = True
                break
            changed = self._changed
            await changed.wait()
        return False

    def settle(self, reserved: float, actual: float) -> None:
        self.reserved = max(0.0, self.reserved - reserved)
        self.spent += actual
        if self.spent >= self.cap:
            self.exhausted = True
        self._changed.set()
        self._changed = asyncio.Event()

    @property
    def reached(self) -> bool:
        return self.spent >= self.cap


@dataclass(frozen=True)
class _Estimate:
    tokens: int
    cost: float


def _spent(record: ResponseRecord | None, estimate: _Estimate) -> float:
    """What a finished job cost; an answer without usage counts as its estimate."""
    if record is None:
        return 0.0
    if record.cost is not None:
        return record.cost
    return estimate.cost if record.ok else 0.0


class _Run:
    """State of one ``generate_async`` call (workers, pending records, counters)."""

    def __init__(
        self,
        variant: VariantConfig,
        jobs: Sequence[GenerationJob],
        sink: Sink,
        settings: GenerationSettings,
        provider: Provider,
        progress: Progress | None,
        should_stop: ShouldStop | None,
        on_record: OnRecord | None = None,
        claim: Claim | None = None,
    ) -> None:
        self.variant, self.jobs, self.sink, self.settings = variant, list(jobs), sink, settings
        self.provider, self.progress, self.should_stop = provider, progress, should_stop
        self.on_record, self.claim = on_record, claim
        self.skipped = 0
        self.concurrency = variant.max_concurrency or settings.concurrency
        self.limiter = VariantLimiter(
            LimitSettings(
                max_concurrency=self.concurrency,
                requests_per_minute=variant.requests_per_minute,
                tokens_per_minute=variant.tokens_per_minute,
                bucket_burst_s=settings.rate_burst_s,
                aimd_increase_after=settings.aimd_increase_after,
                aimd_cooldown_s=settings.aimd_cooldown_s,
                max_pause_s=settings.backoff_cap_s,
            )
        )
        self.budget = _Budget(settings.budget) if settings.budget is not None else None
        self.needs_estimate = self.budget is not None or self.limiter.needs_token_estimate
        self.output_reserve = reserved_output_tokens(variant, settings.expected_output_tokens)
        self.next_index = 0
        self.done = 0
        self.retries = 0
        self.records: list[ResponseRecord] = []
        self.pending: list[ResponseRecord] = []
        self.cancelled = False
        self.abort_error: BaseException | None = None
        self.sink_failed = False
        self.hook_failed = False
        self.finished = False
        self.wake = asyncio.Event()
        self.sink_lock = threading.Lock()

    # -- scheduling -------------------------------------------------------------------------
    def stop_requested(self) -> bool:
        """No new job may start (stop, failure or budget)."""
        if self.budget is not None and self.budget.exhausted:
            return True
        return self.stop_or_failure()

    def stop_or_failure(self) -> bool:
        """A stop request or a failed callback: jobs in flight do not retry either."""
        if self.abort_error is not None or self.cancelled:
            return True
        if self.should_stop is not None:
            try:
                self.cancelled = bool(self.should_stop())
            except BaseException as exc:  # e.g. a UI stop signal: stop, save, then re-raise
                self.abort_error = exc
                return True
        return self.cancelled

    def estimate(self, job: GenerationJob) -> _Estimate:
        if not self.needs_estimate:
            return _Estimate(0, 0.0)
        input_tokens = message_tokens(job.messages)
        cost = self.variant.cost(input_tokens, self.output_reserve) or 0.0
        return _Estimate(input_tokens + self.output_reserve, cost)

    async def worker(self, clients: ClientLease) -> None:
        while self.next_index < len(self.jobs) and not self.stop_requested():
            job = self.jobs[self.next_index]
            self.next_index += 1
            estimate = self.estimate(job)
            if self.budget is not None and not await self.budget.reserve(estimate.cost):
                return  # not started, not recorded: a later run picks it up
            if self.stop_requested():  # e.g. stopped while waiting for budget room
                if self.budget is not None:
                    self.budget.settle(estimate.cost, 0.0)
                return
            if not await self.claimed(job):
                if self.budget is not None:
                    self.budget.settle(estimate.cost, 0.0)
                continue
            record: ResponseRecord | None = None
            try:
                record = await self.run_job(job, clients, estimate)
            finally:
                if self.budget is not None:
                    self.budget.settle(estimate.cost, _spent(record, estimate))
            self.finish(record)
            # A provider that never awaits (the simulated one) would otherwise starve the
            # flusher, and a crash would lose every finished answer.
            await asyncio.sleep(0)

    async def claimed(self, job: GenerationJob) -> bool:
        """Whether this run sends ``job``; a failing claim stops the run like a failing sink."""
        if self.claim is None:
            return True
        try:
            granted = await asyncio.to_thread(self.claim, job)
        except Exception as exc:
            self.abort_error = self.abort_error or exc
            return False
        if not granted:
            self.skipped += 1
            self.report_progress()
        return granted

    def report_progress(self) -> None:
        if self.progress is None:
            return
        try:
            self.progress(self.done + self.skipped, len(self.jobs))
        except BaseException as exc:  # e.g. a UI stop signal: stop, save, then re-raise
            self.abort_error = self.abort_error or exc

    def finish(self, record: ResponseRecord) -> None:
        if self.hook_failed:
            return  # the journal hook is broken: keep nothing it has not seen
        if self.on_record is not None:
            try:
                self.on_record(record)
            except BaseException as exc:  # stops the run like a failing sink
                self.hook_failed = True
                self.abort_error = self.abort_error or exc
                return
        self.records.append(record)
        self.pending.append(record)
        self.done += 1
        if len(self.pending) >= self.settings.flush_every:
            self.wake.set()
        self.report_progress()

    # -- one job ----------------------------------------------------------------------------
    async def attempt(
        self, job: GenerationJob, clients: ClientLease, estimate: _Estimate
    ) -> Completion:
        """One request under the variant's limits; teaches the limiter what the reply said."""
        await self.limiter.admit(estimate.tokens)
        client = clients.acquire()
        try:
            completion = await self.provider.complete(job.messages, client)
        except BaseException as exc:
            self.limiter.reconcile(estimate.tokens, 0)  # a failed request used no tokens
            if isinstance(exc, RetryableProviderError):
                self.limiter.observe(
                    exc.rate_limit, rate_limited=exc.rate_limited, retry_after=exc.retry_after
                )
            raise
        finally:
            clients.release(client)
            self.limiter.release()
        if completion.input_tokens is not None and completion.output_tokens is not None:
            self.limiter.reconcile(
                estimate.tokens, completion.input_tokens + completion.output_tokens
            )
        self.limiter.concurrency.on_success()
        self.limiter.observe(completion.rate_limit, rate_limited=False, retry_after=None)
        return completion

    async def run_job(
        self, job: GenerationJob, clients: ClientLease, estimate: _Estimate
    ) -> ResponseRecord:
        request_hash = self.variant.request_hash(job.messages)
        request_body = _request_body(self.provider, job.messages)
        attempts = 0
        last_error = ""
        while True:
            attempts += 1
            if attempts > 1 and self.budget is not None and self.budget.reached:
                note = f"Budget of ${self.budget.cap:g} reached before retrying: {last_error}"
                return self.failure(job, request_hash, note, attempts - 1)
            started = time.perf_counter()
            try:
                completion = await self.attempt(job, clients, estimate)
            except RetryableProviderError as exc:
                last_error = str(exc)
                if attempts > self.settings.max_retries:
                    return self.failure(job, request_hash, last_error, attempts)
                if self.stop_or_failure():
                    note = f"Stopped before retrying: {exc}"
                    return self.failure(job, request_hash, note, attempts)
                self.retries += 1
                await asyncio.sleep(backoff_delay(attempts, self.settings, exc.retry_after))
                continue
            except ProviderError as exc:
                return self.failure(job, request_hash, str(exc), attempts)
            except Exception as exc:
                logger.exception("Unexpected error generating prompt %s", job.prompt_id)
                message = f"Unexpected {type(exc).__name__}: {exc}"
                return self.failure(job, request_hash, message, attempts)
            return ResponseRecord(
                prompt_id=job.prompt_id,
                variant=self.variant.name,
                request_hash=request_hash,
                text=completion.text,
                finish_reason=completion.finish_reason,
                latency_ms=(time.perf_counter() - started) * 1000.0,
                input_tokens=completion.input_tokens,
                output_tokens=completion.output_tokens,
                cost=self.variant.cost(completion.input_tokens, completion.output_tokens),
                attempts=attempts,
                request_body=request_body,
            )

    def failure(
        self, job: GenerationJob, request_hash: str, error: str, attempts: int
    ) -> ResponseRecord:
        logger.warning(
            "%s: prompt %s failed after %d attempt(s): %s",
            self.variant.name,
            job.prompt_id,
            attempts,
            error,
        )
        return ResponseRecord(
            prompt_id=job.prompt_id,
            variant=self.variant.name,
            request_hash=request_hash,
            text=None,
            error=error or "unknown error",
            attempts=attempts,
            request_body=_request_body(self.provider, job.messages),
        )

    # -- sink -------------------------------------------------------------------------------
    def call_sink(self, batch: list[ResponseRecord]) -> None:
        with self.sink_lock:  # one sink call at a time, even across a cancelled to_thread
            self.sink(batch)

    async def flush(self) -> None:
        if not self.pending or self.sink_failed:
            return
        batch, self.pending = self.pending, []
        try:
            await asyncio.to_thread(self.call_sink, batch)
        except Exception as exc:
            self.sink_failed = True
            self.abort_error = exc

    async def flusher(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.settings.flush_interval_s)
            self.wake.clear()
            await self.flush()
            if self.finished and (not self.pending or self.sink_failed):
                return

    # -- whole run --------------------------------------------------------------------------
    async def execute(self, clients: ClientLease) -> GenerationReport:
        started = time.perf_counter()
        flusher = asyncio.create_task(self.flusher())
        n_workers = min(self.concurrency, len(self.jobs))
        workers = [asyncio.create_task(self.worker(clients)) for _ in range(n_workers)]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            # Cancelled from outside: stop everything, then save what already finished.
            for task in (*workers, flusher):
                task.cancel()
            if self.pending and not self.sink_failed:
                self.call_sink(self.pending)
                self.pending = []
            raise
        self.finished = True
        self.wake.set()
        await flusher
        if self.abort_error is not None:
            raise self.abort_error
        return self.report(time.perf_counter() - started)

    def report(self, elapsed_s: float) -> GenerationReport:
        ok = [r for r in self.records if r.ok]
        unfinished = len(self.records) + self.skipped < len(self.jobs)
        budget_exhausted = self.budget is not None and self.budget.exhausted and unfinished
        if budget_exhausted:
            logger.warning(
                "%s: budget of $%g reached after spending $%.6f; %d job(s) not started.",
                self.variant.name,
                self.settings.budget,
                self.budget.spent if self.budget else 0.0,
                len(self.jobs) - len(self.records) - self.skipped,
            )
        return GenerationReport(
            total=len(self.jobs),
            succeeded=len(ok),
            failed=len(self.records) - len(ok),
            retries=self.retries,
            input_tokens=sum(r.input_tokens or 0 for r in self.records),
            output_tokens=sum(r.output_tokens or 0 for r in self.records),
            cost=float(sum(r.cost or 0.0 for r in self.records)),
            elapsed_s=elapsed_s,
            cancelled=self.cancelled and unfinished,
            budget_exhausted=budget_exhausted,
            concurrency_decreases=self.limiter.concurrency.decreases,
            pauses=self.limiter.pause.pauses,
            skipped=self.skipped,
        )


async def generate_async(
    variant: VariantConfig,
    jobs: Sequence[GenerationJob],
    sink: Sink,
    *,
    settings: GenerationSettings | None = None,
    progress: Progress | None = None,
    client: httpx.AsyncClient | None = None,
    provider: Provider | None = None,
    should_stop: ShouldStop | None = None,
    on_record: OnRecord | None = None,
    claim: Claim | None = None,
) -> GenerationReport:
    """Answer every job with ``variant`` and hand finished records to ``sink`` in batches.

    Failed jobs become ``ResponseRecord``s with ``error`` set. Only a failing ``sink``,
    ``on_record``, ``progress`` or ``should_stop`` callback makes this raise: no new job starts,
    jobs in flight finish and are saved (unless the sink or ``on_record`` failed), then the error
    is re-raised.

    Pacing: at most ``variant.max_concurrency`` (else ``settings.concurrency``) requests in
    flight, adapted by AIMD on 429s; ``variant.requests_per_minute`` / ``tokens_per_minute``
    token buckets; a 429 with retry-after, or rate-limit headers with nothing remaining, pause
    every new request of the variant until the reset (at most ``backoff_cap_s``, the same cap
    a retry's wait has). Without ``client`` the engine uses a
    sharded pool of httpx clients (``swapcheck.http_pool``); with it, that client as is.

    ``on_record`` is called synchronously, in the event loop, for every finished record before
    it is queued for ``sink``. ``claim(job)`` runs on a worker thread right before a job is
    sent; a job it refuses is skipped (``report.skipped``): several workers split a variant's
    prompts this way. ``settings.budget`` caps the cost in US$: each job reserves its
    estimated cost (``swapcheck.cost_estimate``) before it starts; a job that would push
    spent + reserved over the cap is not started and not recorded, and the report says
    ``budget_exhausted``.
    """
    settings = settings or GenerationSettings()
    settings.validate()
    _validate_variant_limits(variant)
    provider = provider if provider is not None else make_provider(variant)
    run = _Run(variant, jobs, sink, settings, provider, progress, should_stop, on_record, claim)
    if client is not None:
        return await run.execute(SingleClient(client))
    pool = ShardedClientPool(
        run.concurrency, settings.timeout_s, shard_connections=settings.shard_connections
    )
    try:
        return await run.execute(pool)
    finally:
        await pool.aclose()


def generate(
    variant: VariantConfig,
    jobs: Sequence[GenerationJob],
    sink: Sink,
    *,
    settings: GenerationSettings | None = None,
    progress: Progress | None = None,
    client: httpx.AsyncClient | None = None,
    provider: Provider | None = None,
    should_stop: ShouldStop | None = None,
    on_record: OnRecord | None = None,
    claim: Claim | None = None,
) -> GenerationReport:
    """Blocking ``generate_async``: works in any thread, with or without a running loop."""

    def run() -> GenerationReport:
        return asyncio.run(
            generate_async(
                variant,
                jobs,
                sink,
                settings=settings,
                progress=progress,
                client=client,
                provider=provider,
                should_stop=should_stop,
                on_record=on_record,
                claim=claim,
            )
        )

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    # Called from inside a running loop (e.g. a notebook): run on a private thread.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="swapcheck-generate") as pool:
        return pool.submit(run).result()
