"""One Batch API run: submit jobs in chunks, record them, poll, turn results into records."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from swapcheck.batch_http import BatchProtocol, BatchState, ItemResult, entry_size
from swapcheck.errors import ConfigError, ProviderError
from swapcheck.models import GenerationJob, ResponseRecord, VariantConfig, canonical_json
from swapcheck.providers import Provider
from swapcheck.store import provider_batches as batches_db
from swapcheck.store.claims import batch_submission_turn
from swapcheck.store.connection import Store
from swapcheck.store.responses import answered_requests

logger = logging.getLogger(__name__)

Sink = Callable[[list[ResponseRecord]], None]
Progress = Callable[[int, int], None]
ShouldStop = Callable[[], bool]
SINK_CHUNK = 1000
RequestKey = tuple[str, str]
"""``(prompt_id, request_hash)``."""


@dataclass
class BatchReport:
    """Totals of one call; ``still_open`` requests wait in open batches to be collected later."""

    submitted: int = 0
    collected: int = 0
    succeeded: int = 0
    failed: int = 0
    still_open: int = 0
    already_in_flight: int = 0
    """Jobs not submitted because an open batch already holds the same request."""
    already_answered: int = 0
    """Jobs not submitted because their answer was stored meanwhile (e.g. by another worker)."""
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    submitted_batches: list[str] = field(default_factory=list)
    collected_batches: list[str] = field(default_factory=list)
    open_batches: list[str] = field(default_factory=list)
    unknown_custom_ids: list[str] = field(default_factory=list)
    stopped: bool = False

    def summary(self) -> str:
        text = (
            f"{self.submitted} submitted in {len(self.submitted_batches)} batch(es), "
            f"{self.collected} collected ({self.succeeded} answered, {self.failed} failed), "
            f"${self.cost:.4f}"
        )
        if self.already_in_flight:
            text += f"; {self.already_in_flight} already in open batches (not resubmitted)"
        if self.already_answered:
            text += f"; {self.already_answered} answered meanwhile (not submitted)"
        if self.unknown_custom_ids:
            text += f"; {len(self.unknown_custom_ids)} results with unknown custom_id ignored"
        if self.still_open:
            text += (
                f"; {self.still_open} requests still open in {len(self.open_batches)} batch(es), "
                "collect them later (run again or collect_open_batches)"
            )
        return text


class BatchFlow:
    """State of one ``run_batches`` / ``collect_open_batches`` call."""

    def __init__(
        self,
        store: Store,
        variant: VariantConfig,
        protocol: BatchProtocol,
        builder: Provider,
        discount: float,
        sink: Sink,
        progress: Progress | None,
        should_stop: ShouldStop | None,
    ) -> None:
        self.store, self.variant, self.protocol, self.sink = store, variant, protocol, sink
        self.progress, self.should_stop = progress, should_stop
        self.builder, self.discount = builder, discount
        self.bodies: dict[RequestKey, str] = {}
        self.report = BatchReport()

    def stop_requested(self) -> bool:
        return self.should_stop is not None and bool(self.should_stop())

    def remember_bodies(self, jobs: Sequence[GenerationJob]) -> None:
        """Know the bodies of ``jobs`` so records of collected batches can carry them."""
        for job in jobs:
            key = (job.prompt_id, self.variant.request_hash(job.messages))
            try:
                self.bodies[key] = canonical_json(self.builder.build_body(job.messages))
            except ProviderError:
                continue

    # -- submit -----------------------------------------------------------------------------
    def submit(self, jobs: Sequence[GenerationJob], run_id: str | None) -> None:
        """Submit the jobs that are neither answered nor in an open batch, in chunks.

        Workers sharing a store take turns here (``batch_submission_turn``): what is in flight
        and what is answered is read after the turn starts, so a second worker does not pay
        again for what the first one submitted or collected.
        """
        with batch_submission_turn(self.store, self.variant.name):
            self._submit_unsent(jobs, run_id)

    def _submit_unsent(self, jobs: Sequence[GenerationJob], run_id: str | None) -> None:
        in_flight = batches_db.open_requests(self.store, self.variant.name)
        answered = answered_requests(self.store, self.variant.name, [j.prompt_id for j in jobs])
        chunk: list[tuple[GenerationJob, str, dict]] = []
        chunk_bytes = 0
        seen: set[RequestKey] = set()
        for job in jobs:
            request_hash = self.variant.request_hash(job.messages)
            key = (job.prompt_id, request_hash)
            if key in seen:
                continue  # the same request twice in ``jobs``
            seen.add(key)
            if key in answered:
                self.report.already_answered += 1
                continue
            try:
                body = self.builder.build_body(job.messages)
            except ProviderError as exc:  # e.g. a conversation this API cannot express
                self.deliver([self.failure(key, str(exc), run_id)])
                continue
            self.bodies[key] = canonical_json(body)
            if key in in_flight:
                self.report.already_in_flight += 1
                continue
            size = entry_size(self.protocol.entry(f"{request_hash[:16]}-{len(chunk)}", body))
            if size > self.protocol.max_bytes:
                message = "The request is larger than the provider's batch size limit."
                self.deliver([self.failure(key, message, run_id)])
                continue
            full = len(chunk) >= self.protocol.max_requests
            if chunk and (full or chunk_bytes + size > self.protocol.max_bytes):
                if self.stop_requested():
                    self.report.stopped = True
                    return
                self.submit_chunk(chunk, run_id)
                chunk, chunk_bytes = [], 0
            entry = self.protocol.entry(f"{request_hash[:16]}-{len(chunk)}", body)
            chunk.append((job, request_hash, entry))
            chunk_bytes += entry_size(entry)
        if chunk:
            if self.stop_requested():
                self.report.stopped = True
                return
            self.submit_chunk(chunk, run_id)

    def submit_chunk(
        self, chunk: list[tuple[GenerationJob, str, dict]], run_id: str | None
    ) -> None:
        accepted = self.protocol.submit([entry for _, _, entry in chunk])
        items = [
            batches_db.BatchItem(entry["custom_id"], job.prompt_id, request_hash)
            for job, request_hash, entry in chunk
        ]
        batches_db.record_batch(
            self.store,
            batch_id=accepted.batch_id,
            variant=self.variant.name,
            provider=self.protocol.provider,
            run_id=run_id,
            status=accepted.status,
            items=items,
            detail=accepted.detail,
        )
        self.report.submitted += len(items)
        self.report.submitted_batches.append(accepted.batch_id)
        logger.info("%s: batch %s accepted", self.variant.name, accepted.batch_id)

    # -- poll -------------------------------------------------------------------------------
    def watch(self, poll_interval_s: float, max_wait_s: float | None) -> None:
        deadline = None if max_wait_s is None else time.monotonic() + max_wait_s
        waiting = batches_db.open_batches(self.store, self.variant.name)
        for batch in waiting:
            if batch.provider != self.protocol.provider:
                raise ConfigError(
                    f"Open batch {batch.batch_id} of variant '{self.variant.name}' was sent to "
                    f"provider '{batch.provider}', but the variant now uses "
                    f"'{self.protocol.provider}'.",
                    fix="Restore the variant's provider to collect it, or abandon the batch.",
                )
        total = sum(b.request_count for b in waiting)
        finished: dict[str, int] = {}
        while waiting and not self.stop_requested():
            still_open = []
            for batch in waiting:
                state = self.protocol.poll(batch.batch_id)
                if state.ended:
                    self.collect(batch, state)
                    finished[batch.batch_id] = batch.request_count
                else:
                    if state.status != batch.status:
                        batches_db.update_batch(self.store, batch.batch_id, state.status)
                        batch = dataclasses.replace(batch, status=state.status)
                    finished[batch.batch_id] = min(state.finished, batch.request_count)
                    still_open.append(batch)
            waiting = still_open
            if self.progress is not None:
                self.progress(sum(finished.values()), total)
            if not waiting or (deadline is not None and time.monotonic() >= deadline):
                break
            self.pause(poll_interval_s, deadline)
        self.report.open_batches = [b.batch_id for b in waiting]
        self.report.still_open = sum(b.request_count for b in waiting)
        self.report.stopped = self.report.stopped or bool(waiting)

    def pause(self, seconds: float, deadline: float | None) -> None:
        """Sleep ``seconds`` (to the deadline at most), waking early when a stop is asked."""
        until = time.monotonic() + seconds
        if deadline is not None:
            until = min(until, deadline)
        while (left := until - time.monotonic()) > 0:
            time.sleep(min(left, 0.25))
            if self.stop_requested():
                return

    # -- collect ----------------------------------------------------------------------------
    def collect(self, batch: batches_db.StoredBatch, state: BatchState) -> None:
        items = {i.custom_id: i for i in batches_db.batch_items(self.store, batch.batch_id)}
        records: dict[str, ResponseRecord] = {}
        unknown: list[str] = []
        for result in self.protocol.results(state):
            item = items.get(result.custom_id)
            if item is None:
                unknown.append(result.custom_id or "<unreadable line>")
            elif result.custom_id not in records or not records[result.custom_id].ok:
                records[result.custom_id] = self.record(item, result, batch.run_id)
        if unknown:
            logger.warning(
                "%s: batch %s returned %d result(s) with unknown custom_id: %s",
                self.variant.name,
                batch.batch_id,
                len(unknown),
                ", ".join(unknown[:10]),
            )
        reason = state.failure or f"No result for this request (batch {state.status})."
        for custom_id, item in items.items():
            if custom_id not in records:
                key = (item.prompt_id, item.request_hash)
                records[custom_id] = self.failure(key, reason, batch.run_id)
        self.deliver(list(records.values()))
        detail = {"provider_status": state.status, "batch": state.detail}
        if unknown:
            detail["unknown_custom_ids"] = unknown
        batches_db.update_batch(self.store, batch.batch_id, batches_db.COLLECTED, detail)
        self.report.unknown_custom_ids.extend(unknown)
        self.report.collected_batches.append(batch.batch_id)

    def record(
        self, item: batches_db.BatchItem, result: ItemResult, run_id: str | None
    ) -> ResponseRecord:
        key = (item.prompt_id, item.request_hash)
        completion = result.completion
        if completion is None:
            return self.failure(key, result.error or "unknown error", run_id)
        cost = self.variant.cost(completion.input_tokens, completion.output_tokens)
        return ResponseRecord(
            prompt_id=item.prompt_id,
            variant=self.variant.name,
            request_hash=item.request_hash,
            text=completion.text,
            finish_reason=completion.finish_reason,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            cost=None if cost is None else cost * self.discount,
            request_body=self.bodies.get(key),
            run_id=run_id,
        )

    def failure(self, key: RequestKey, error: str, run_id: str | None) -> ResponseRecord:
        return ResponseRecord(
            prompt_id=key[0],
            variant=self.variant.name,
            request_hash=key[1],
            text=None,
            error=error,
            request_body=self.bodies.get(key),
            run_id=run_id,
        )

    def deliver(self, records: list[ResponseRecord]) -> None:
        for start in range(0, len(records), SINK_CHUNK):
            self.sink(records[start : start + SINK_CHUNK])
        report = self.report
        for r in records:
            report.collected += 1
            report.succeeded += r.ok
            report.failed += not r.ok
            report.input_tokens += r.input_tokens or 0
            report.output_tokens += r.output_tokens or 0
            report.cost += r.cost or 0.0
