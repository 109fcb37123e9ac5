"""An asyncio OpenAI-compatible chat server on 127.0.0.1 that injects seeded random faults."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tests.fake_openai_server import chat_completion

OUTCOMES = ("429", "500", "503", "hang", "malformed", "truncated", "reset")
"""Faults, besides ``ok``: 429 with Retry-After, 500, 503, a hang beyond the client timeout,
200 with malformed JSON, a body shorter than its Content-Length, a connection reset (RST)."""


@dataclass(frozen=True)
class FaultRates:
    """Probability of each fault per request (the rest are answered normally)."""

    rate_limited: float = 0.0
    server_error: float = 0.0
    """Split evenly between 500 and 503."""
    hang: float = 0.0
    malformed: float = 0.0
    truncated: float = 0.0
    reset: float = 0.0

    def pick(self, rng: random.Random) -> str:
        roll = rng.random()
        for outcome, rate in (
            ("429", self.rate_limited),
            ("500", self.server_error / 2),
            ("503", self.server_error / 2),
            ("hang", self.hang),
            ("malformed", self.malformed),
            ("truncated", self.truncated),
            ("reset", self.reset),
        ):
            if roll < rate:
                return outcome
            roll -= rate
        return "ok"


@dataclass
class ServedRequest:
    """One request and what the server did with it."""

    seq: int
    prompt: str
    """The last user message (identifies the job)."""
    body: Any
    received_at: float
    """``time.monotonic()`` when the request was read."""
    outcome: str = "ok"
    retry_after: float | None = None
    answer_id: str | None = None
    """``ans-<seq>`` for an ``ok`` answer; it is also inside the answer text."""
    delivered: bool = False
    """The ``ok`` answer was written out completely (the client may still have given up)."""
    responded_at: float = 0.0
    usage: tuple[int, int] | None = None


@dataclass
class FaultServer:
    """``with FaultServer(FaultRates(rate_limited=0.2), seed=1) as server: server.base_url``."""

    rates: FaultRates = field(default_factory=FaultRates)
    seed: int = 0
    latency_s: float = 0.0
    retry_after_max_s: float = 0.2
    hang_s: float = 2.0
    usage: tuple[int, int] | None = None
    """Fixed (prompt_tokens, completion_tokens); None: word counts of prompt and answer."""
    answer_headers: dict[str, str] = field(default_factory=dict)
    """Extra headers on every ``ok`` answer (e.g. rate-limit headers)."""

    def __post_init__(self) -> None:
        self.requests: list[ServedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._rng = random.Random(self.seed)
        self._scripted: deque[tuple[str, float | None]] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._port = 0
        self._closing: asyncio.Event | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    # -- control ----------------------------------------------------------------------------
    def script(self, *outcomes: tuple[str, float | None]) -> None:
        """Force these outcomes (with a retry-after for ``429``) on the next requests."""
        with self._lock:
            self._scripted.extend(outcomes)

    def set_rates(self, rates: FaultRates) -> None:
        with self._lock:
            self.rates = rates

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def snapshot(self) -> list[ServedRequest]:
        with self._lock:
            return list(self.requests)

    def delivered_answers(self) -> dict[str, ServedRequest]:
        """Fully written ``ok`` answers by answer id."""
        return {r.answer_id: r for r in self.snapshot() if r.delivered and r.answer_id}

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> FaultServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._open())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._close())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fault-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fault server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _open(self) -> None:
        self._closing = asyncio.Event()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        self._port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        assert self._server is not None and self._closing is not None
        self._closing.set()
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    # -- HTTP -------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            keep_open = True
            while keep_open:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                raw = await reader.readexactly(length) if length else b""
                keep_open = await self._answer(raw, writer)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._handlers.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    def _next_outcome(self) -> tuple[str, float | None]:
        with self._lock:
            if self._scripted:
                return self._scripted.popleft()
            outcome = self.rates.pick(self._rng)
            retry_after = None
            if outcome == "429":
                retry_after = round(self._rng.uniform(0.0, self.retry_after_max_s), 3)
            return outcome, retry_after

    async def _answer(self, raw: bytes, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False closes the connection."""
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        messages = body.get("messages", []) if isinstance(body, dict) else []
        users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
        with self._lock:
            record = ServedRequest(len(self.requests), users[-1] if users else "", body, 0.0)
            record.received_at = time.monotonic()
            self.requests.append(record)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._respond(record, messages, writer)
        finally:
            record.responded_at = time.monotonic()
            with self._lock:
                self.in_flight -= 1

    async def _respond(
        self, record: ServedRequest, messages: list[Any], writer: asyncio.StreamWriter
    ) -> bool:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if not isinstance(record.body, dict):
            record.outcome = "bad_request"
            return await _send(writer, 400, _error("Body must be JSON."))
        record.outcome, record.retry_after = self._next_outcome()
        outcome = record.outcome
        if outcome == "429":
            extra = {}
            if record.retry_after is not None:
                extra["Retry-After"] = f"{record.retry_after:g}"
            return await _send(writer, 429, _error("Rate limit reached."), extra)
        if outcome in ("500", "503"):
            return await _send(writer, int(outcome), _error(f"Injected HTTP {outcome}."))
        if outcome == "hang":
            assert self._closing is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.hang_s)
            return False
        if outcome == "malformed":
            return await _send(writer, 200, b'{"choices": [ this is not json')
        if outcome == "truncated":
            data = json.dumps(self._completion(record, messages)).encode()
            writer.write(_head(200, len(data) + 64) + data[: len(data) // 2])
            await writer.drain()
            return False
        if outcome == "reset":
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        data = json.dumps(self._completion(record, messages)).encode()
        await _send(writer, 200, data, self.answer_headers)
        record.delivered = True
        return True

    def _completion(self, record: ServedRequest, messages: list[Any]) -> dict[str, Any]:
        record.answer_id = f"ans-{record.seq}"
        content = f"[{record.answer_id}] answer to: {record.prompt}"
        if self.usage is not None:
            prompt_tokens, completion_tokens = self.usage
        else:
            prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
            completion_tokens = len(content.split())
        record.usage = (prompt_tokens, completion_tokens)
        model = str(record.body.get("model", "")) if isinstance(record.body, dict) else ""
        return chat_completion(record.answer_id, model, content, prompt_tokens, completion_tokens)


_REASONS = {200: "OK", 400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error"}


def _head(status: int, length: int, extra: dict[str, str] | None = None) -> bytes:
    reason = _REASONS.get(status, "Service Unavailable")
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: application/json",
        f"Content-Length: {length}",
        *(f"{k}: {v}" for k, v in (extra or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _error(message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "injected", "code": None}}).encode()


async def _send(
    writer: asyncio.StreamWriter, status: int, data: bytes, extra: dict[str, str] | None = None
) -> bool:
    writer.write(_head(status, len(data), extra) + data)
    await writer.drain()
    return True
