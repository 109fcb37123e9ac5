"""Provider Batch APIs (OpenAI, Anthropic): submit, persist, poll and collect, never paying twice.

Every accepted batch and its items are written to the store before the first poll, so a run
that is stopped, killed or crashes is resumed by collecting its open batches; prompts in a
batch that is still open are never submitted again.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence

import httpx

from swapcheck.batch_anthropic import AnthropicBatchProtocol
from swapcheck.batch_flow import BatchFlow, BatchReport, Progress, ShouldStop, Sink
from swapcheck.batch_http import BatchProtocol, RetryPolicy
from swapcheck.batch_openai import OpenAIBatchProtocol
from swapcheck.errors import ConfigError
from swapcheck.models import GenerationJob, VariantConfig
from swapcheck.providers import make_provider
from swapcheck.store import provider_batches as batches_db
from swapcheck.store.connection import Store

__all__ = [
    "BatchReport",
    "RetryPolicy",
    "abandon_batch",
    "batch_discount",
    "collect_open_batches",
    "run_batches",
]

DEFAULT_BATCH_DISCOUNT = 0.5
BATCH_ONLY_PARAMS = ("batch_discount",)
"""Variant params read by swapcheck for batches and never sent to the provider."""
_PROTOCOLS: dict[str, type[OpenAIBatchProtocol] | type[AnthropicBatchProtocol]] = {
    "openai": OpenAIBatchProtocol,
    "anthropic": AnthropicBatchProtocol,
}


def batch_discount(variant: VariantConfig) -> float:
    """Price factor of batch requests: ``params["batch_discount"]``, 0.5 by default."""
    value = variant.params.get("batch_discount", DEFAULT_BATCH_DISCOUNT)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(
            f"Variant '{variant.name}': batch_discount must be a number from 0 to 1, "
            f"not {value!r}.",
            fix="Set params.batch_discount to the price factor of batch requests (e.g. 0.5).",
        )
    return float(value)


def _api_variant(variant: VariantConfig) -> VariantConfig:
    params = {k: v for k, v in variant.params.items() if k not in BATCH_ONLY_PARAMS}
    return dataclasses.replace(variant, params=params)


def _protocol(variant: VariantConfig, client: httpx.Client, retry: RetryPolicy) -> BatchProtocol:
    cls = _PROTOCOLS.get(variant.provider)
    if cls is None:
        raise ConfigError(
            f"Variant '{variant.name}' uses provider '{variant.provider}', which has no Batch API.",
            fix=f"Use the live engine, or a variant of provider {' or '.join(_PROTOCOLS)}.",
        )
    return cls(variant, client, retry)


@contextlib.contextmanager
def _http_client(client: httpx.Client | None) -> Iterator[httpx.Client]:
    if client is not None:
        yield client
        return
    with httpx.Client(timeout=httpx.Timeout(120.0, connect=15.0, write=600.0)) as own:
        yield own


def _flow(
    store: Store,
    variant: VariantConfig,
    http: httpx.Client,
    sink: Sink,
    progress: Progress | None,
    should_stop: ShouldStop | None,
    retry: RetryPolicy | None,
) -> BatchFlow:
    protocol = _protocol(variant, http, retry or RetryPolicy())
    discount = batch_discount(variant)
    builder = make_provider(_api_variant(variant))
    return BatchFlow(store, variant, protocol, builder, discount, sink, progress, should_stop)


def run_batches(
    store: Store,
    variant: VariantConfig,
    jobs: Sequence[GenerationJob],
    sink: Sink,
    *,
    poll_interval_s: float = 30.0,
    max_wait_s: float | None = None,
    client: httpx.Client | None = None,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    run_id: str | None = None,
    retry: RetryPolicy | None = None,
) -> BatchReport:
    """Submit ``jobs`` through the provider's Batch API and hand the answers to ``sink``.

    Jobs whose request is already in an open batch of ``variant`` are not submitted again;
    those batches are polled and collected with the new ones. A stop (``should_stop`` or
    ``max_wait_s``) leaves unfinished batches open in the store for a later call.
    """
    with _http_client(client) as http:
        flow = _flow(store, variant, http, sink, progress, should_stop, retry)
        flow.submit(jobs, run_id)
        flow.watch(poll_interval_s, max_wait_s)
        return flow.report


def collect_open_batches(
    store: Store,
    variant: VariantConfig,
    sink: Sink,
    *,
    jobs: Sequence[GenerationJob] = (),
    poll_interval_s: float = 30.0,
    max_wait_s: float | None = None,
    client: httpx.Client | None = None,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    retry: RetryPolicy | None = None,
) -> BatchReport:
    """Poll and collect the open batches of ``variant`` without submitting anything.

    ``jobs`` (optional) lets the records carry the request bodies of the collected prompts.
    """
    with _http_client(client) as http:
        flow = _flow(store, variant, http, sink, progress, should_stop, retry)
        flow.remember_bodies(jobs)
        flow.watch(poll_interval_s, max_wait_s)
        return flow.report


def abandon_batch(store: Store, batch_id: str) -> None:
    """Stop tracking a batch the provider no longer knows (its prompts become submittable)."""
    batches_db.update_batch(store, batch_id, batches_db.ABANDONED)
