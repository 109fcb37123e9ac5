"""Prompt claims: generation workers sharing one PostgreSQL store split a variant's prompts.

A worker claims a prompt right before it sends the request and lets go once the answer (or the
failure) is committed. On PostgreSQL a claim is a session advisory lock on one connection the
run holds for its lifetime, keyed by (schema, variant, prompt): a claim held by another live
worker is skipped, and a dead worker's claims vanish with its connection, so nothing is ever
stuck. After taking the lock the worker reads the stored answer again: a prompt another worker
answered meanwhile (same request hash), or that a Batch API batch recorded meanwhile holds, is
let go and skipped, so no answer is paid for twice.

Provider Batch API runs hand a whole chunk of prompts to the provider at once, so instead of
per-prompt claims they take turns: ``batch_submission_turn`` admits one worker at a time to the
read-open-batches → submit → record step of a variant, and the next worker sees the requests
the first one put in flight (and the answers already collected) and does not submit them again.

A DuckDB file has one writing process at a time, so its runs of one variant never overlap
(``swapcheck.runs`` refuses a second one), every claim is granted and every turn is immediate.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any, Protocol

from swapcheck.store.advisory import advisory_key
from swapcheck.store.provider_batches import CLOSED_STATUSES

logger = logging.getLogger(__name__)


class PromptClaims(Protocol):
    """What a run needs: claim one prompt, let finished ones go, let everything go."""

    shared: bool
    """Several runs of one variant may work at once (they split the prompts)."""

    def try_claim(self, prompt_id: str, request_hash: str) -> bool: ...

    def release(self, prompt_ids: list[str]) -> None: ...

    def close(self) -> None: ...


class SoleWorkerClaims:
    """Every claim granted: the store admits one run per variant at a time (DuckDB)."""

    shared = False

    def try_claim(self, prompt_id: str, request_hash: str) -> bool:
        return True

    def release(self, prompt_ids: list[str]) -> None:
        return None

    def close(self) -> None:
        return None


class AdvisoryClaims:
    """Claims as PostgreSQL session advisory locks on a connection held for the whole run."""

    shared = True

    def __init__(self, store: Any, variant: str) -> None:
        self.variant = variant
        self.schema = store.schema
        self._lease = store.cursor()
        self._raw = self._lease.__enter__().raw  # plain psycopg: this SQL is PostgreSQL's own
        self._lock = threading.Lock()  # the engine claims from worker threads, the sink releases
        self._held: dict[str, int] = {}
        self.granted = self.refused = 0

    def try_claim(self, prompt_id: str, request_hash: str) -> bool:
        """Claim ``prompt_id`` unless another worker holds it or it already has this answer."""
        key = advisory_key(self.schema, "generation", self.variant, prompt_id)
        with self._lock:
            if prompt_id in self._held:
                return True
            self._raw.execute("SELECT pg_try_advisory_lock(%s)", [key])
            if not self._raw.fetchone()[0]:
                self.refused += 1
                return False
            self._raw.execute(
                "SELECT request_hash, error, text FROM responses "
                "WHERE prompt_id = %s AND variant = %s",
                [prompt_id, self.variant],
            )
            answered = _answered(self._raw.fetchone(), request_hash)  # by another worker
            if answered or self._in_open_batch(prompt_id, request_hash):
                self._raw.execute("SELECT pg_advisory_unlock(%s)", [key])
                self.refused += 1
                return False
            self._held[prompt_id] = key
            self.granted += 1
            return True

    def _in_open_batch(self, prompt_id: str, request_hash: str) -> bool:
        """Whether a Batch API batch recorded since the run chose its jobs holds this request."""
        self._raw.execute(
            "SELECT 1 FROM provider_batch_items i JOIN provider_batches b USING (batch_id) "
            "WHERE b.variant = %s AND i.prompt_id = %s AND i.request_hash = %s "
            "AND b.status NOT IN (%s, %s) LIMIT 1",
            [self.variant, prompt_id, request_hash, *CLOSED_STATUSES],
        )
        return self._raw.fetchone() is not None

    def release(self, prompt_ids: list[str]) -> None:
        """Let go of prompts whose outcome is committed."""
        with self._lock:
            for prompt_id in prompt_ids:
                key = self._held.pop(prompt_id, None)
                if key is not None:
                    self._raw.execute("SELECT pg_advisory_unlock(%s)", [key])

    def close(self) -> None:
        """Let go of every claim and hand the connection back to the pool."""
        with self._lock:
            if self._lease is None:
                return
            lease, self._lease = self._lease, None
            self._held.clear()
            try:
                self._raw.execute("SELECT pg_advisory_unlock_all()")
            finally:
                lease.__exit__(None, None, None)


def _answered(stored: tuple | None, request_hash: str) -> bool:
    """Whether a stored ``(request_hash, error, text)`` row is a success for this request."""
    if stored is None:
        return False
    stored_hash, error, text = stored
    return stored_hash == request_hash and error is None and text is not None


def open_claims(store: Any, variant: str) -> PromptClaims:
    """Claims for one run of ``variant``: advisory locks on PostgreSQL, none on DuckDB."""
    if getattr(store, "dialect", "duckdb") == "postgres":
        return AdvisoryClaims(store, variant)
    return SoleWorkerClaims()


@contextlib.contextmanager
def batch_submission_turn(store: Any, variant: str) -> Iterator[None]:
    """Wait until no other worker is submitting Batch API requests for ``variant``, hold the turn.

    On PostgreSQL the turn is a session advisory lock on a connection held for the block; a
    worker that dies mid-submit loses it with its connection. On DuckDB there is nobody to wait
    for.
    """
    if getattr(store, "dialect", "duckdb") != "postgres":
        yield
        return
    from psycopg.errors import LockNotAvailable  # only reached with the postgres extra

    key = advisory_key(store.schema, "batch-submit", variant)
    with store.cursor() as lease:
        raw = lease.raw  # plain psycopg: this SQL is PostgreSQL's own
        while True:  # each wait ends at the connection's lock_timeout: say so, wait again
            try:
                raw.execute("SELECT pg_advisory_lock(%s)", [key])
                break
            except LockNotAvailable:
                logger.info("%s: waiting for another worker's Batch API submission", variant)
        try:
            yield
        finally:
            raw.execute("SELECT pg_advisory_unlock(%s)", [key])
