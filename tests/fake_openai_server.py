"""A real OpenAI-compatible chat completions server on 127.0.0.1 with scripted faults, for tests."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Fault = tuple[Any, ...]
"""``("429", retry_after)``, ``("429ms", ms)``, ``("500",)``, ``("503",)``, ``("400", msg)``,
``("401",)``, ``("404", msg)``, any other ``(status, msg)``, ``("malformed",)``,
``("no_choices",)``, ``("hang", seconds)`` (sleep, then answer normally),
``("disconnect",)`` (close the connection without a reply), ``("truncated",)`` (a 200 whose
Content-Length announces more than the body sent, then close) or ``("reset",)`` (abort the
connection with SO_LINGER 0, so the client sees a connection reset)."""

SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "x-goog-api-key"})
"""Headers that carry keys in some provider protocol: never recorded, only their presence."""

Responder = Callable[[list[dict[str, Any]], str, dict[str, Any]], str]


def chat_completion(
    answer_id: str, model: str, content: str, prompt_tokens: int, completion_tokens: int
) -> dict[str, Any]:
    """An OpenAI chat completion body with one answer and its usage (shared by the fakes)."""
    return {
        "id": answer_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def echo_responder(messages: list[dict[str, Any]], model: str, body: dict[str, Any]) -> str:
    """Deterministic default answer: ``answer from {model}: {last user text}``."""
    last_user = next(
        (str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    return f"answer from {model}: {last_user}"


def prompt_key(messages: list[dict[str, Any]]) -> str:
    """Identity of a prompt across attempts (the full message list)."""
    return json.dumps(messages, sort_keys=True)


@dataclass
class RecordedRequest:
    """One request as the server saw it; key-bearing header values are never stored."""

    method: str
    path: str
    headers: dict[str, str]
    auth_present: bool
    body: Any
    received_at: float
    """``time.monotonic()`` when the request arrived."""
    responded_at: float = 0.0
    """``time.monotonic()`` when the reply was written (or the connection dropped)."""
    fault: Fault | None = None
    chat_messages: list[dict[str, Any]] | None = None
    """The request's conversation in OpenAI chat form, for servers of other protocols."""
    model_name: str | None = None
    """The model named outside the body (URL path), for servers of other protocols."""

    @property
    def model(self) -> str | None:
        if self.model_name is not None:
            return self.model_name
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        if self.chat_messages is not None:
            return self.chat_messages
        return self.body.get("messages", []) if isinstance(self.body, dict) else []

    @property
    def last_user_text(self) -> str:
        texts = [str(m.get("content", "")) for m in self.messages if m.get("role") == "user"]
        return texts[-1] if texts else ""


@dataclass
class FaultRule:
    """Inject ``fault`` into matching requests, ``times`` times (None = always)."""

    fault: Fault
    model: str | None = None
    prompt_contains: str | None = None
    times: int | None = None
    per_prompt: bool = False
    used: Counter[str] = field(default_factory=Counter)

    def take(self, model: str | None, messages: list[dict[str, Any]]) -> bool:
        if self.model is not None and model != self.model:
            return False
        if self.prompt_contains is not None and self.prompt_contains not in json.dumps(messages):
            return False
        key = prompt_key(messages) if self.per_prompt else ""
        if self.times is not None and self.used[key] >= self.times:
            return False
        self.used[key] += 1
        return True


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out and hang up mid-reply are expected here; stay quiet."""


class FakeOpenAIServer:
    """``with FakeOpenAIServer() as server: server.base_url  # http://127.0.0.1:PORT/v1``.

    Servers for other protocols subclass it with their own ``handler_class`` and ``base_url``.
    """

    handler_class: type[OpenAIHandler]

    def __init__(
        self,
        responder: Responder = echo_responder,
        *,
        latency_s: float = 0.0,
        require_key: str | None = None,
        known_models: set[str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> None:
        """``response_headers`` are added to every reply (e.g. rate-limit headers)."""
        self.responder = responder
        self.response_headers = dict(response_headers or {})
        self.latency_s = latency_s
        self.require_key = require_key
        self.known_models = known_models
        self.requests: list[RecordedRequest] = []
        self.rules: list[FaultRule] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    # -- fault scripting --------------------------------------------------------------------
    def script(self, *faults: Fault) -> None:
        """Apply ``faults`` one each, in order, to the next requests (whatever they are)."""
        with self._lock:
            self.rules.extend(FaultRule(fault=f, times=1) for f in faults)

    def add_fault(
        self,
        fault: Fault,
        *,
        model: str | None = None,
        prompt_contains: str | None = None,
        times: int | None = None,
        per_prompt: bool = False,
    ) -> None:
        """Fault every matching request (``times`` caps it, per prompt if ``per_prompt``)."""
        with self._lock:
            self.rules.append(FaultRule(fault, model, prompt_contains, times, per_prompt))

    def fail_first(
        self, n: int, fault: Fault = ("500",), prompt_contains: str | None = None
    ) -> None:
        """The first ``n`` attempts of every (matching) prompt get ``fault``."""
        self.add_fault(fault, prompt_contains=prompt_contains, times=n, per_prompt=True)

    def clear_faults(self) -> None:
        with self._lock:
            self.rules.clear()

    def _pick_fault(self, model: str | None, messages: list[dict[str, Any]]) -> Fault | None:
        with self._lock:
            for rule in self.rules:
                if rule.take(model, messages):
                    return rule.fault
        return None

    # -- queries ----------------------------------------------------------------------------
    def requests_for(self, text: str) -> list[RecordedRequest]:
        """Requests whose last user message contains ``text``, in arrival order."""
        with self._lock:
            return [r for r in self.requests if text in r.last_user_text]

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def root_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def start(self) -> FakeOpenAIServer:
        server = self
        handler = type("Handler", (self.handler_class,), {"fake": server})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()  # wakes "hang" faults
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class OpenAIHandler(BaseHTTPRequestHandler):
    """Speaks OpenAI chat completions; the hook methods let other protocols reuse the rest."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    fake: FakeOpenAIServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower() not in SECRET_HEADERS}
        record = RecordedRequest(
            method="POST",
            path=self.path,
            headers=headers,
            auth_present=bool(SECRET_HEADERS & {k.lower() for k in self.headers}),
            body=body,
            received_at=time.monotonic(),
        )
        self.describe(record)
        with fake._lock:
            fake.requests.append(record)
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
        try:
            self._serve(record)
        finally:
            record.responded_at = time.monotonic()
            with fake._lock:
                fake.in_flight -= 1

    def _serve(self, record: RecordedRequest) -> None:
        fake = self.fake
        if fake.latency_s:
            fake._closing.wait(fake.latency_s)
        if not self.path_ok():
            return self._error(404, f"Unknown path {self.path}", "not_found")
        problem = self.body_problem(record.body)
        if problem:
            return self._error(400, problem, "invalid_request")
        sent = self.sent_key()
        if fake.require_key is not None and sent != fake.require_key:
            # Like OpenAI, echo the offending key so tests can check that clients redact it.
            return self._error(401, f"Incorrect API key provided: {sent}.", "invalid_api_key")
        model = str(record.model or "")
        if fake.known_models is not None and model not in fake.known_models:
            return self._error(404, f"The model `{model}` does not exist.", "model_not_found")
        fault = fake._pick_fault(model, record.messages)
        record.fault = fault
        if fault is not None and self._apply_fault(fault):
            return None
        content = fake.responder(record.messages, model, record.body)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in record.messages)
        completion_tokens = len(content.split())
        return self._json(
            200, self.success_payload(model, content, prompt_tokens, completion_tokens)
        )

    # -- protocol hooks (overridden by the servers in tests/fake_providers.py) ----------------
    def describe(self, record: RecordedRequest) -> None:
        """Fill ``record.chat_messages`` / ``record.model_name`` for non-OpenAI protocols."""

    def path_ok(self) -> bool:
        return self.path.rstrip("/") == "/v1/chat/completions"

    def body_problem(self, body: Any) -> str | None:
        if not isinstance(body, dict) or "messages" not in body:
            return "Request body must be JSON with 'messages'."
        return None

    def sent_key(self) -> str:
        return self.headers.get("Authorization", "").removeprefix("Bearer ")

    def error_payload(self, status: int, message: str, code: str) -> Any:
        return {"error": {"message": message, "type": code, "param": None, "code": code}}

    def empty_payload(self) -> Any:
        """A well-formed reply with no answer in it (the ``no_choices`` fault)."""
        return {"id": "x", "object": "chat.completion", "choices": []}

    def success_payload(
        self, model: str, content: str, prompt_tokens: int, completion_tokens: int
    ) -> Any:
        return chat_completion(
            f"chatcmpl-{len(self.fake.requests)}", model, content, prompt_tokens, completion_tokens
        )

    def _apply_fault(self, fault: Fault) -> bool:
        """Send the fault's reply; False means 'carry on and answer normally'."""
        kind = str(fault[0])
        arg = fault[1] if len(fault) > 1 else None
        if kind == "hang":
            self.fake._closing.wait(float(arg or 3600))
            return False
        if kind == "disconnect":
            self.close_connection = True
            return True
        if kind == "reset":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return True
        if kind == "truncated":
            data = json.dumps(self.success_payload("m", "cut short", 1, 2)).encode()
            self.close_connection = True
            self._raw(200, data[: len(data) // 2], "application/json", length=len(data))
            return True
        if kind == "malformed":
            self._raw(200, b'{"choices": [ this is not json', "application/json")
            return True
        if kind == "no_choices":
            self._json(200, self.empty_payload())
            return True
        if kind == "429":
            headers = {"Retry-After": str(arg)} if arg is not None else {}
            self._error(429, "Rate limit reached.", "rate_limit_exceeded", headers)
            return True
        if kind == "429ms":
            headers = {"retry-after-ms": str(arg)}
            self._error(429, "Rate limit reached.", "rate_limit_exceeded", headers)
            return True
        status = int(kind)
        messages = {401: "Incorrect API key provided.", 404: "Not found."}
        self._error(status, str(arg) if arg is not None else messages.get(status, f"HTTP {status}"))
        return True

    def _error(
        self, status: int, message: str, code: str = "error", headers: dict[str, str] | None = None
    ) -> None:
        self._json(status, self.error_payload(status, message, code), headers)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._raw(status, json.dumps(payload).encode(), "application/json", headers)

    def _raw(
        self,
        status: int,
        data: bytes,
        ctype: str,
        headers: dict[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        """Reply; ``length`` overrides the announced Content-Length (the ``truncated`` fault)."""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        for key, value in {**self.fake.response_headers, **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


_Handler = OpenAIHandler
FakeOpenAIServer.handler_class = OpenAIHandler
