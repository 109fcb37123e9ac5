"""Per-variant limiters for the generation engine: RPM/TPM buckets, AIMD concurrency, pauses."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Clock = Callable[[], float]
"""Seconds on a monotonic scale (``time.monotonic`` unless a test passes a fake clock)."""
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """A token bucket refilled at ``per_minute / 60`` per second, holding ``burst_s`` of refill.

    ``reserve(amount)`` takes the tokens at once, letting the balance go negative, and returns
    how long the caller must wait before sending: the time the refill needs to pay the debt back.
    Callers are thereby served in order, and in any window of ``w`` seconds at most
    ``capacity + rate * w`` tokens are spent. A request larger than the capacity still goes
    through (it waits for a full bucket first), so a single huge prompt cannot block a run.
    """

    def __init__(self, per_minute: float, *, burst_s: float = 1.0, clock: Clock = time.monotonic):
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.clock = clock
        self.tokens = self.capacity
        self.updated = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def reserve(self, amount: float) -> float:
        """Take ``amount`` tokens now; return the seconds to wait before using them."""
        self._refill()
        if amount > self.capacity:
            # Oversized: wait until the bucket is full, then go into debt for the rest.
            wait = max(0.0, (self.capacity - self.tokens) / self.rate)
            self.tokens -= amount
            return wait
        self.tokens -= amount
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def adjust(self, delta: float) -> None:
        """Reconcile a reservation: ``delta`` more tokens were used (negative: fewer)."""
        self._refill()
        self.tokens = min(self.capacity, self.tokens - delta)


class AdaptiveLimit:
    """AIMD concurrency limit: halve on a 429 (once per cooldown window), +1 after successes."""

    def __init__(
        self,
        maximum: int,
        *,
        increase_after: int = 20,
        cooldown_s: float = 2.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if maximum < 1:
            raise ValueError("maximum must be at least 1")
        self.maximum = maximum
        self.limit = maximum
        self.increase_after = max(1, increase_after)
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.in_flight = 0
        self.successes = 0
        self.decreases = 0
        self.last_decrease: float | None = None
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        """Wait (first come, first served) for a free slot under the current limit; take it."""
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # _wake() hands the slot over (in_flight already counts it)
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            self.in_flight += 1
            waiter.set_result(None)

    def on_success(self) -> None:
        self.successes += 1
        if self.successes >= self.increase_after and self.limit < self.maximum:
            self.limit += 1
            self.successes = 0
            self._wake()

    def on_rate_limited(self) -> bool:
        """A 429 arrived; halve the limit unless that already happened this cooldown window."""
        now = self.clock()
        self.successes = 0
        if self.last_decrease is not None and now - self.last_decrease < self.cooldown_s:
            return False
        self.last_decrease = now
        self.limit = max(1, self.limit // 2)
        self.decreases += 1
        return True


class PauseGate:
    """Holds every new request of a variant until a moment the server named (429, quota 0)."""

    def __init__(self, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.clock = clock
        self.sleep = sleep
        self.until = 0.0
        self.pauses = 0

    def pause_for(self, seconds: float) -> None:
        """Hold new requests for ``seconds`` from now (never shortens a longer pause)."""
        if seconds <= 0:
            return
        until = self.clock() + seconds
        if until > self.until:
            self.until = until
            self.pauses += 1

    def remaining(self) -> float:
        return max(0.0, self.until - self.clock())

    async def wait(self) -> None:
        """Return once no pause is in force (a pause extended meanwhile is waited out too)."""
        while (left := self.remaining()) > 0:
            await self.sleep(left)


@dataclass(frozen=True)
class LimitSettings:
    """How one variant's requests are paced (see ``VariantLimiter``)."""

    max_concurrency: int
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    bucket_burst_s: float = 1.0
    aimd_increase_after: int = 20
    aimd_cooldown_s: float = 2.0
    max_pause_s: float = 60.0
    """Longest variant-wide pause (a daily quota's reset hours away fails fast instead)."""


class VariantLimiter:
    """Everything that decides when one variant may send its next request."""

    def __init__(
        self,
        limits: LimitSettings,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.sleep = sleep
        self.concurrency = AdaptiveLimit(
            limits.max_concurrency,
            increase_after=limits.aimd_increase_after,
            cooldown_s=limits.aimd_cooldown_s,
            clock=clock,
        )
        self.pause = PauseGate(clock, sleep)
        self.max_pause_s = limits.max_pause_s
        burst = limits.bucket_burst_s
        rpm, tpm = limits.requests_per_minute, limits.tokens_per_minute
        self.requests = TokenBucket(rpm, burst_s=burst, clock=clock) if rpm else None
        self.tokens = TokenBucket(tpm, burst_s=burst, clock=clock) if tpm else None

    @property
    def needs_token_estimate(self) -> bool:
        return self.tokens is not None

    async def admit(self, estimated_tokens: int) -> None:
        """Wait for a pause to end, a concurrency slot and the rate buckets; holds a slot."""
        await self.pause.wait()
        await self.concurrency.acquire()
        try:
            wait = self.requests.reserve(1) if self.requests is not None else 0.0
            if self.tokens is not None:
                wait = max(wait, self.tokens.reserve(estimated_tokens))
            if wait > 0:
                await self.sleep(wait)
            await self.pause.wait()  # a 429 may have paused the variant meanwhile
        except BaseException:
            self.concurrency.release()
            raise

    def release(self) -> None:
        """Give back the concurrency slot ``admit`` took."""
        self.concurrency.release()

    def reconcile(self, estimated_tokens: int, used_tokens: int | None) -> None:
        """Correct the TPM reservation with the real usage (None: unknown, keep the estimate)."""
        if self.tokens is not None and used_tokens is not None:
            self.tokens.adjust(used_tokens - estimated_tokens)

    def observe(
        self, rate_limit: object | None, *, rate_limited: bool, retry_after: float | None
    ) -> None:
        """Learn from a reply: AIMD on a 429; pause the variant on retry-after or quota 0.

        Any retryable error with a retry-after pauses every new request (a 429, or a 503 saying
        when to come back): the server asked the client, not just this one request, to wait.
        """
        if rate_limited:
            self.concurrency.on_rate_limited()
        wait = max(retry_after or 0.0, exhausted_quota_wait(rate_limit))
        self.pause.pause_for(min(wait, self.max_pause_s))


def exhausted_quota_wait(rate_limit: object | None) -> float:
    """Seconds until a quota reported as used up (remaining = 0) resets; 0 when none is."""
    if rate_limit is None:
        return 0.0
    wait = 0.0
    for remaining, reset in (
        (getattr(rate_limit, "remaining_requests", None), "reset_requests_s"),
        (getattr(rate_limit, "remaining_tokens", None), "reset_tokens_s"),
    ):
        reset_s = getattr(rate_limit, reset, None)
        if remaining is not None and remaining <= 0 and reset_s is not None:
            wait = max(wait, float(reset_s))
    return wait
