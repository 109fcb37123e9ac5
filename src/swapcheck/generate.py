"""Batch generation engine: bounded concurrency, retries with backoff, incremental sink, cost."""

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

from swapcheck.errors import ConfigError, ProviderError, RetryableProviderError
from swapcheck.models import (
    ChatMessages,
    GenerationJob,
    ResponseRecord,
    VariantConfig,
    canonical_json,
)
from swapcheck.providers import Provider, make_provider

logger = logging.getLogger(__name__)

Sink = Callable[[list[ResponseRecord]], None]
Progress = Callable[[int, int], None]
ShouldStop = Callable[[], bool]


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


@dataclass
class GenerationReport:
    """Totals of one run; ``total - succeeded - failed`` jobs were not started (cancelled)."""

    total: int
    succeeded: int
    failed: int
    retries: int
    input_tokens: int
    output_tokens: int
    cost: float
    elapsed_s: float
    cancelled: bool


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
    ) -> None:
        self.variant, self.jobs, self.sink, self.settings = variant, list(jobs), sink, settings
        self.provider, self.progress, self.should_stop = provider, progress, should_stop
        self.next_index = 0
        self.done = 0
        self.retries = 0
        self.records: list[ResponseRecord] = []
        self.pending: list[ResponseRecord] = []
        self.cancelled = False
        self.abort_error: BaseException | None = None
        self.sink_failed = False
        self.finished = False
        self.wake = asyncio.Event()
        self.sink_lock = threading.Lock()

    # -- scheduling -------------------------------------------------------------------------
    def stop_requested(self) -> bool:
        if self.abort_error is not None or self.cancelled:
            return True
        if self.should_stop is not None:
            try:
                self.cancelled = bool(self.should_stop())
            except BaseException as exc:  # e.g. a UI stop signal: stop, save, then re-raise
                self.abort_error = exc
                return True
        return self.cancelled

    async def worker(self, client: httpx.AsyncClient) -> None:
        while self.next_index < len(self.jobs) and not self.stop_requested():
            job = self.jobs[self.next_index]
            self.next_index += 1
            self.finish(await self.run_job(job, client))
            # A provider that never awaits (the simulated one) would otherwise starve the
            # flusher, and a crash would lose every finished answer.
            await asyncio.sleep(0)

    def finish(self, record: ResponseRecord) -> None:
        self.records.append(record)
        self.pending.append(record)
        self.done += 1
        if len(self.pending) >= self.settings.flush_every:
            self.wake.set()
        if self.progress is not None:
            try:
                self.progress(self.done, len(self.jobs))
            except BaseException as exc:  # e.g. a UI stop signal: stop, save, then re-raise
                self.abort_error = self.abort_error or exc

    # -- one job ----------------------------------------------------------------------------
    async def run_job(self, job: GenerationJob, client: httpx.AsyncClient) -> ResponseRecord:
        request_hash = self.variant.request_hash(job.messages)
        request_body = _request_body(self.provider, job.messages)
        attempts = 0
        while True:
            attempts += 1
            started = time.perf_counter()
            try:
                completion = await self.provider.complete(job.messages, client)
            except RetryableProviderError as exc:
                if attempts > self.settings.max_retries:
                    return self.failure(job, request_hash, str(exc), attempts)
                if self.stop_requested():
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
    async def execute(self, client: httpx.AsyncClient) -> GenerationReport:
        started = time.perf_counter()
        flusher = asyncio.create_task(self.flusher())
        n_workers = min(self.settings.concurrency, len(self.jobs))
        workers = [asyncio.create_task(self.worker(client)) for _ in range(n_workers)]
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
        return GenerationReport(
            total=len(self.jobs),
            succeeded=len(ok),
            failed=len(self.records) - len(ok),
            retries=self.retries,
            input_tokens=sum(r.input_tokens or 0 for r in self.records),
            output_tokens=sum(r.output_tokens or 0 for r in self.records),
            cost=float(sum(r.cost or 0.0 for r in self.records)),
            elapsed_s=elapsed_s,
            cancelled=self.cancelled and len(self.records) < len(self.jobs),
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
) -> GenerationReport:
    """Answer every job with ``variant`` and hand finished records to ``sink`` in batches.

    Failed jobs become ``ResponseRecord``s with ``error`` set. Only a failing ``sink``,
    ``progress`` or ``should_stop`` callback makes this raise: no new job starts, jobs in
    flight finish and are saved (unless the sink itself failed), then the error is re-raised.
    """
    settings = settings or GenerationSettings()
    settings.validate()
    provider = provider if provider is not None else make_provider(variant)
    run = _Run(variant, jobs, sink, settings, provider, progress, should_stop)
    if client is not None:
        return await run.execute(client)
    limits = httpx.Limits(
        max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
    )
    async with httpx.AsyncClient(timeout=httpx.Timeout(settings.timeout_s), limits=limits) as own:
        return await run.execute(own)


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
            )
        )

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    # Called from inside a running loop (e.g. a notebook): run on a private thread.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="swapcheck-generate") as pool:
        return pool.submit(run).result()
