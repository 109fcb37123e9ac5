"""Anthropic Message Batches client: create, poll until ended, read the results JSONL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import httpx

from swapcheck.batch_http import (
    BatchHttp,
    BatchState,
    ItemResult,
    RetryPolicy,
    SubmittedBatch,
    error_text,
    jsonl_objects,
    require_key,
)
from swapcheck.models import VariantConfig
from swapcheck.providers.anthropic import messages_reply
from swapcheck.providers.http_common import int_or_none

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_KEY_ENV = "ANTHROPIC_API_KEY"
ANTHROPIC_VERSION = "2023-06-01"
MAX_REQUESTS_PER_BATCH = 100_000
MAX_BYTES_PER_BATCH = 256 * 1024 * 1024
_COUNT_KEYS = ("succeeded", "errored", "canceled", "expired")
_NO_ANSWER = {
    "canceled": "The request was canceled before it ran (the batch was cancelled).",
    "expired": "The batch expired (24h window) before this request ran.",
}


def api_root(base_url: str | None) -> str:
    """Base URL without a trailing ``/v1`` (paths below add it)."""
    root = (base_url or DEFAULT_BASE_URL).rstrip("/")
    return root.removesuffix("/v1")


class AnthropicBatchProtocol:
    """``POST/GET /v1/messages/batches[/{id}]`` and ``GET results_url``."""

    provider = "anthropic"

    def __init__(self, variant: VariantConfig, client: httpx.Client, retry: RetryPolicy) -> None:
        self.root = api_root(variant.base_url)
        self.batches_url = f"{self.root}/v1/messages/batches"
        key_env = variant.api_key_env or DEFAULT_KEY_ENV
        key = require_key(variant, key_env, self.root)
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if key:
            headers["x-api-key"] = key
        self.http = BatchHttp(
            client,
            key=key,
            auth_headers=headers,
            key_env=key_env,
            where=f"{variant.name} (Anthropic Message Batches at {self.root})",
            retry=retry,
        )

    @property
    def max_requests(self) -> int:
        return MAX_REQUESTS_PER_BATCH

    @property
    def max_bytes(self) -> int:
        return MAX_BYTES_PER_BATCH

    def entry(self, custom_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"custom_id": custom_id, "params": body}

    def submit(self, entries: list[dict[str, Any]]) -> SubmittedBatch:
        response = self.http.request(
            "POST", self.batches_url, creates=True, json={"requests": entries}
        )
        batch = self.http.json(response)
        status = str(batch.get("processing_status", "in_progress"))
        return SubmittedBatch(str(batch["id"]), status, batch)

    def poll(self, batch_id: str) -> BatchState:
        batch = self.http.json(self.http.request("GET", f"{self.batches_url}/{batch_id}"))
        status = str(batch.get("processing_status", "unknown"))
        counts = (
            batch.get("request_counts") if isinstance(batch.get("request_counts"), dict) else {}
        )
        finished = sum(int_or_none(counts.get(k)) or 0 for k in _COUNT_KEYS)
        return BatchState(
            batch_id=batch_id,
            status=status,
            ended=status == "ended",
            finished=finished,
            total=finished + (int_or_none(counts.get("processing")) or 0),
            detail=batch,
        )

    def results(self, state: BatchState) -> Iterable[ItemResult]:
        url = state.detail.get("results_url")
        if not url:
            return
        url = str(url)
        # The key goes only to the API's own origin, whatever a reply says.
        same_origin = httpx.URL(url).copy_with(path="/") == httpx.URL(self.root).copy_with(path="/")
        yield from self._parse_lines(self.http.request("GET", url, with_key=same_origin).text)

    def _parse_lines(self, text: str) -> Iterator[ItemResult]:
        for line in jsonl_objects(text):
            result = line.get("result") if line is not None else None
            if line is None or not isinstance(line.get("custom_id"), str):
                yield ItemResult(custom_id="", error="unreadable result line")
                continue
            custom_id = line["custom_id"]
            kind = result.get("type") if isinstance(result, dict) else None
            if kind == "succeeded":
                completion = messages_reply(result.get("message"))
                if completion is None:
                    yield ItemResult(custom_id, error="succeeded result without a message")
                else:
                    yield ItemResult(custom_id, completion=completion)
            elif kind == "errored":
                reason = error_text(result.get("error")) or "error without details"
                yield ItemResult(custom_id, error=self.http.redact(f"errored: {reason}"))
            elif kind in _NO_ANSWER:
                yield ItemResult(custom_id, error=_NO_ANSWER[str(kind)])
            else:
                yield ItemResult(custom_id, error=f"unknown result type {kind!r}")
