"""OpenAI Batch API client: JSONL upload, batch create, poll, output and error file download."""

from __future__ import annotations

import json
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
from swapcheck.providers.http_common import int_or_none
from swapcheck.providers.openai_chat import chat_completion

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
ENDPOINT = "/v1/chat/completions"
MAX_REQUESTS_PER_BATCH = 50_000
MAX_BYTES_PER_BATCH = 200 * 1024 * 1024
ENDED_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})
_NO_ANSWER = {
    "expired": "The batch expired (24h window) before this request ran.",
    "cancelled": "The batch was cancelled before this request ran.",
}


class OpenAIBatchProtocol:
    """``POST /files`` + ``POST /batches``, ``GET /batches/{id}``, ``GET /files/{id}/content``."""

    provider = "openai"

    def __init__(self, variant: VariantConfig, client: httpx.Client, retry: RetryPolicy) -> None:
        self.base_url = (variant.base_url or DEFAULT_BASE_URL).rstrip("/")
        key_env = variant.api_key_env or DEFAULT_KEY_ENV
        key = require_key(variant, key_env, self.base_url)
        self.http = BatchHttp(
            client,
            key=key,
            auth_headers={"Authorization": f"Bearer {key}"} if key else {},
            key_env=key_env,
            where=f"{variant.name} (OpenAI Batch API at {self.base_url})",
            retry=retry,
        )

    @property
    def max_requests(self) -> int:
        return MAX_REQUESTS_PER_BATCH

    @property
    def max_bytes(self) -> int:
        return MAX_BYTES_PER_BATCH

    def entry(self, custom_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}

    def submit(self, entries: list[dict[str, Any]]) -> SubmittedBatch:
        data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries).encode("utf-8")
        upload = self.http.request(
            "POST",
            f"{self.base_url}/files",
            data={"purpose": "batch"},
            files={"file": ("swapcheck-batch.jsonl", data, "application/jsonl")},
        )
        file_id = self.http.json(upload).get("id")
        created = self.http.json(
            self.http.request(
                "POST",
                f"{self.base_url}/batches",
                creates=True,
                json={"input_file_id": file_id, "endpoint": ENDPOINT, "completion_window": "24h"},
            )
        )
        return SubmittedBatch(str(created["id"]), str(created.get("status", "validating")), created)

    def poll(self, batch_id: str) -> BatchState:
        batch = self.http.json(self.http.request("GET", f"{self.base_url}/batches/{batch_id}"))
        status = str(batch.get("status", "unknown"))
        counts = (
            batch.get("request_counts") if isinstance(batch.get("request_counts"), dict) else {}
        )
        failure = None
        if status == "failed":
            errors = batch.get("errors")
            data = errors.get("data") if isinstance(errors, dict) else None
            texts = [error_text(e) for e in data or [] if isinstance(e, dict)]
            reason = "; ".join(t for t in texts if t) or "no reason given"
            failure = self.http.redact(f"The batch failed as a whole: {reason}")
        elif status in _NO_ANSWER:
            failure = _NO_ANSWER[status]
        return BatchState(
            batch_id=batch_id,
            status=status,
            ended=status in ENDED_STATUSES,
            finished=(int_or_none(counts.get("completed")) or 0)
            + (int_or_none(counts.get("failed")) or 0),
            total=int_or_none(counts.get("total")) or 0,
            detail=batch,
            failure=failure,
        )

    def results(self, state: BatchState) -> Iterable[ItemResult]:
        for key in ("output_file_id", "error_file_id"):
            file_id = state.detail.get(key)
            if file_id:
                url = f"{self.base_url}/files/{file_id}/content"
                yield from self._parse_lines(self.http.request("GET", url).text)

    def _parse_lines(self, text: str) -> Iterator[ItemResult]:
        for line in jsonl_objects(text):
            if line is None or not isinstance(line.get("custom_id"), str):
                yield ItemResult(custom_id="", error="unreadable result line")
                continue
            yield self._item(line["custom_id"], line)

    def _item(self, custom_id: str, line: dict[str, Any]) -> ItemResult:
        response = line.get("response") if isinstance(line.get("response"), dict) else {}
        status = response.get("status_code")
        body = response.get("body")
        if line.get("error"):
            reason = error_text(line["error"]) or "error without details"
            return ItemResult(custom_id, error=self.http.redact(reason))
        if status != 200:
            reason = error_text(body.get("error") if isinstance(body, dict) else body)
            text = f"HTTP {status}: {reason or 'no details'}"
            return ItemResult(custom_id, error=self.http.redact(text))
        completion = chat_completion(body)
        if completion is None:
            return ItemResult(custom_id, error="HTTP 200 answer without choices")
        return ItemResult(custom_id, completion=completion)
