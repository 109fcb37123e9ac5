"""A real HTTP server on 127.0.0.1 speaking the OpenAI Batch and Anthropic Message Batches APIs."""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fake_openai_server import chat_completion


def answer_text(model: str, messages: list[dict[str, Any]]) -> str:
    """Deterministic answer: ``answer from {model}: {last user text}``."""
    last_user = next(
        (str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    return f"answer from {model}: {last_user}"


def word_count(messages: list[dict[str, Any]], system: str = "") -> int:
    """Input tokens the fake charges: whitespace-separated words of every message (+ system)."""
    return len(system.split()) + sum(len(str(m.get("content", "")).split()) for m in messages)


@dataclass
class SeenRequest:
    """One request as the server saw it (auth headers reduced to a flag, never stored)."""

    method: str
    path: str
    auth_present: bool
    anthropic_version: str | None


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-reply are expected in tests; stay quiet."""


class FakeBatchServer:
    """``with FakeBatchServer() as s``: ``s.openai_base_url`` / ``s.anthropic_base_url``.

    A batch ends on its ``polls_to_complete``-th poll. Faults: ``error_marker`` /
    ``expire_marker`` (an item whose last user text contains it errors / expires),
    ``poll_faults`` and ``submit_faults`` (``(status, retry_after)`` replies used up one per
    poll / batch create), ``fail_batches`` (OpenAI: status ``failed``; Anthropic: ends with no
    results), ``extra_result_ids`` (custom_ids added to every output). ``create_gate`` (an
    Event) holds every batch create until it is set; ``held_creates`` counts the ones waiting.
    """

    def __init__(self, *, polls_to_complete: int = 2, require_key: str | None = None) -> None:
        self.polls_to_complete = polls_to_complete
        self.require_key = require_key
        self.error_marker: str | None = None
        self.expire_marker: str | None = None
        self.poll_faults: list[tuple[int, str | None]] = []
        self.submit_faults: list[tuple[int, str | None]] = []
        self.fail_batches = False
        self.extra_result_ids: list[str] = []
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.inputs: dict[str, list[dict[str, Any]]] = {}
        """Per accepted batch id: its requests (OpenAI JSONL lines / Anthropic requests)."""
        self.submissions = 0
        self.online: list[dict[str, Any]] = []
        """Bodies of online (non-batch) chat completions, which the same base URL answers."""
        self.create_attempts = 0
        self.polls: Counter[str] = Counter()
        self.seen: list[SeenRequest] = []
        self.create_gate: threading.Event | None = None
        self.held_creates = 0
        self.lock = threading.Lock()
        self._httpd: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def root(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.root}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.root

    def start(self) -> FakeBatchServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeBatchServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- queries ----------------------------------------------------------------------------
    def submitted_requests(self) -> list[dict[str, Any]]:
        """Every request of every accepted batch, in submission order."""
        with self.lock:
            return [r for batch_id in self.batches for r in self.inputs[batch_id]]

    # -- behaviour --------------------------------------------------------------------------
    def item_outcome(self, messages: list[dict[str, Any]]) -> str:
        text = answer_text("", messages)
        if self.error_marker and self.error_marker in text:
            return "error"
        if self.expire_marker and self.expire_marker in text:
            return "expired"
        return "ok"

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{len(self.files) + len(self.batches) + 1:04d}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeBatchServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    # -- plumbing ---------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET", b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch("POST", self.rfile.read(length) if length else b"")

    def _dispatch(self, method: str, raw: bytes) -> None:
        fake = self.fake
        path = self.path.split("?")[0].rstrip("/")
        anthropic = path.startswith("/v1/messages/batches")
        sent = self.headers.get("x-api-key") if anthropic else self.headers.get("Authorization")
        with fake.lock:
            fake.seen.append(
                SeenRequest(method, path, sent is not None, self.headers.get("anthropic-version"))
            )
        if fake.require_key is not None:
            expected = fake.require_key if anthropic else f"Bearer {fake.require_key}"
            if sent != expected:
                # Like the real APIs, echo (part of) the key so clients must redact it.
                echoed = (sent or "").removeprefix("Bearer ")
                return self._error(401, f"Incorrect API key provided: {echoed}.", anthropic)
        parts = path.strip("/").split("/")
        gate = fake.create_gate
        if (
            gate is not None
            and method == "POST"
            and path in ("/v1/batches", "/v1/messages/batches")
        ):
            with fake.lock:
                fake.held_creates += 1
            gate.wait()
            with fake.lock:
                fake.held_creates -= 1
        with fake.lock:
            if anthropic:
                return self._anthropic(method, parts[3:], raw)
            return self._openai(method, parts[1:], raw)

    def _fault(self, faults: list[tuple[int, str | None]], anthropic: bool) -> bool:
        if not faults:
            return False
        status, retry_after = faults.pop(0)
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self._error(status, f"Injected HTTP {status}.", anthropic, headers)
        return True

    def _error(
        self, status: int, message: str, anthropic: bool, headers: dict[str, str] | None = None
    ) -> None:
        if anthropic:
            payload: Any = {"type": "error", "error": {"type": "api_error", "message": message}}
        else:
            payload = {"error": {"message": message, "type": "api_error", "code": None}}
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _json(self, payload: Any) -> None:
        self._send(200, json.dumps(payload).encode(), "application/json")

    def _send(
        self, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    # -- OpenAI -----------------------------------------------------------------------------
    def _openai(self, method: str, parts: list[str], raw: bytes) -> None:
        fake = self.fake
        if method == "POST" and parts == ["chat", "completions"]:  # an online request
            body = json.loads(raw)
            fake.online.append(body)
            return self._json(_chat_response(body)["body"])
        if method == "POST" and parts == ["files"]:
            fields = self._multipart(raw)
            if fields.get("purpose") != b"batch" or "file" not in fields:
                return self._error(400, "purpose=batch and a file are required.", False)
            file_id = fake.new_id("file")
            fake.files[file_id] = fields["file"]
            return self._json({"id": file_id, "object": "file", "purpose": "batch"})
        if method == "GET" and len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
            if parts[1] not in fake.files:
                return self._error(404, f"No such file {parts[1]}.", False)
            return self._send(200, fake.files[parts[1]], "application/jsonl")
        if method == "POST" and parts == ["batches"]:
            fake.create_attempts += 1
            if self._fault(fake.submit_faults, False):
                return None
            body = json.loads(raw)
            if body.get("completion_window") != "24h" or body.get("endpoint") != (
                "/v1/chat/completions"
            ):
                return self._error(400, "Unsupported endpoint or completion_window.", False)
            if body.get("input_file_id") not in fake.files:
                return self._error(400, "Unknown input_file_id.", False)
            lines = [json.loads(x) for x in fake.files[body["input_file_id"]].splitlines()]
            batch_id = fake.new_id("batch")
            fake.inputs[batch_id] = lines
            fake.batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": body["endpoint"],
                "input_file_id": body["input_file_id"],
                "completion_window": "24h",
                "status": "validating",
                "output_file_id": None,
                "error_file_id": None,
                "errors": None,
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            }
            fake.submissions += 1
            return self._json(fake.batches[batch_id])
        if method == "GET" and len(parts) == 2 and parts[0] == "batches":
            if self._fault(fake.poll_faults, False):
                return None
            batch = fake.batches.get(parts[1])
            if batch is None:
                return self._error(404, f"No such batch {parts[1]}.", False)
            fake.polls[parts[1]] += 1
            if batch["status"] in ("validating", "in_progress"):
                batch["status"] = "in_progress"
                if fake.polls[parts[1]] >= fake.polls_to_complete:
                    self._finish_openai(batch)
            return self._json(batch)
        return self._error(404, f"Unknown route {method} {self.path}", False)

    def _finish_openai(self, batch: dict[str, Any]) -> None:
        fake = self.fake
        if fake.fail_batches:
            batch["status"] = "failed"
            error = {"code": "invalid_request", "message": "Injected whole-batch failure."}
            batch["errors"] = {"object": "list", "data": [error]}
            return
        output, errors = [], []
        for line in fake.inputs[batch["id"]]:
            body, custom_id = line["body"], line["custom_id"]
            outcome = fake.item_outcome(body["messages"])
            if outcome == "error":
                err = {"message": "Injected item error.", "type": "invalid_request_error"}
                response = {"status_code": 400, "body": {"error": err}}
                errors.append({"custom_id": custom_id, "response": response, "error": None})
            elif outcome == "expired":
                message = "This request could not be executed before the window expired."
                error = {"code": "batch_expired", "message": message}
                errors.append({"custom_id": custom_id, "response": None, "error": error})
            else:
                output.append({"custom_id": custom_id, "response": _chat_response(body)})
        output += [
            {"custom_id": c, "response": _chat_response(_ANY)} for c in fake.extra_result_ids
        ]
        expired = any(e["error"] for e in errors)
        batch["status"] = "expired" if expired else "completed"
        batch["request_counts"].update(completed=len(output), failed=len(errors))
        for key, lines in (("output_file_id", output), ("error_file_id", errors)):
            if lines:
                file_id = fake.new_id("file")
                fake.files[file_id] = "".join(json.dumps(x) + "\n" for x in lines).encode()
                batch[key] = file_id

    def _multipart(self, raw: bytes) -> dict[str, bytes]:
        return _parse_multipart(raw, self.headers.get("Content-Type", ""))

    # -- Anthropic --------------------------------------------------------------------------
    def _anthropic(self, method: str, parts: list[str], raw: bytes) -> None:
        fake = self.fake
        if self.headers.get("anthropic-version") != "2023-06-01":
            return self._error(400, "anthropic-version header missing.", True)
        if method == "POST" and not parts:
            fake.create_attempts += 1
            if self._fault(fake.submit_faults, True):
                return None
            requests = json.loads(raw).get("requests")
            if not isinstance(requests, list) or not requests:
                return self._error(400, "requests: a non-empty list is required.", True)
            batch_id = fake.new_id("msgbatch")
            fake.inputs[batch_id] = requests
            fake.batches[batch_id] = {
                "id": batch_id,
                "type": "message_batch",
                "processing_status": "in_progress",
                "request_counts": {
                    "processing": len(requests),
                    "succeeded": 0,
                    "errored": 0,
                    "canceled": 0,
                    "expired": 0,
                },
                "results_url": None,
            }
            fake.submissions += 1
            return self._json(fake.batches[batch_id])
        batch = fake.batches.get(parts[0]) if parts else None
        if method != "GET" or batch is None:
            return self._error(404, f"Unknown route {method} {self.path}", True)
        if len(parts) == 2 and parts[1] == "results":
            return self._send(200, batch["_results"], "application/binary")
        if self._fault(fake.poll_faults, True):
            return None
        fake.polls[parts[0]] += 1
        if batch["processing_status"] == "in_progress" and (
            fake.polls[parts[0]] >= fake.polls_to_complete
        ):
            self._finish_anthropic(batch)
        return self._json({k: v for k, v in batch.items() if not k.startswith("_")})

    def _finish_anthropic(self, batch: dict[str, Any]) -> None:
        fake = self.fake
        batch["processing_status"] = "ended"
        counts = batch["request_counts"]
        counts["processing"] = 0
        if fake.fail_batches:
            counts["canceled"] = len(fake.inputs[batch["id"]])
            return
        lines = []
        for request in fake.inputs[batch["id"]]:
            params = request["params"]
            outcome = fake.item_outcome(params["messages"])
            if outcome == "error":
                inner = {"type": "invalid_request_error", "message": "Injected item error."}
                result: dict[str, Any] = {
                    "type": "errored",
                    "error": {"type": "error", "error": inner},
                }
                counts["errored"] += 1
            elif outcome == "expired":
                result = {"type": "expired"}
                counts["expired"] += 1
            else:
                result = {"type": "succeeded", "message": _anthropic_message(params)}
                counts["succeeded"] += 1
            lines.append({"custom_id": request["custom_id"], "result": result})
        lines += [
            {"custom_id": c, "result": {"type": "succeeded", "message": _anthropic_message(_ANY)}}
            for c in fake.extra_result_ids
        ]
        batch["_results"] = "".join(json.dumps(x) + "\n" for x in lines).encode()
        batch["results_url"] = f"{fake.root}/v1/messages/batches/{batch['id']}/results"


_ANY: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "?"}]}


def _chat_response(body: dict[str, Any]) -> dict[str, Any]:
    content = answer_text(body["model"], body["messages"])
    prompt_tokens, completion_tokens = word_count(body["messages"]), len(content.split())
    completion = chat_completion(
        "chatcmpl-fake", body["model"], content, prompt_tokens, completion_tokens
    )
    return {"status_code": 200, "request_id": "req-fake", "body": completion}


def _anthropic_message(params: dict[str, Any]) -> dict[str, Any]:
    content = answer_text(params["model"], params["messages"])
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": params["model"],
        "content": [{"type": "text", "text": content}],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": word_count(params["messages"], str(params.get("system", ""))),
            "output_tokens": len(content.split()),
        },
    }


def _parse_multipart(raw: bytes, content_type: str) -> dict[str, bytes]:
    """Fields of a ``multipart/form-data`` body (name → bytes)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
    )
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = part.get_payload(decode=True) or b""
    return fields
