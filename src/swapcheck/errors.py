"""One exception hierarchy; every message says what went wrong and how to fix it."""

from __future__ import annotations

from typing import Any


class SwapcheckError(Exception):
    """Base of every error swapcheck raises on purpose.

    ``fix`` is a short imperative sentence telling the user what to do next; the
    UI and the CLI print it under the message instead of a traceback.
    """

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} Fix: {self.fix}" if self.fix else self.message


class ConfigError(SwapcheckError):
    """A setting, option or environment variable is missing or invalid."""


class StoreError(SwapcheckError):
    """The database could not be opened, migrated or written."""


class DatabaseLockedError(StoreError):
    """Another process holds the DuckDB file for longer than we were willing to wait."""


class NotFoundError(SwapcheckError):
    """A named study, variant, source or pair does not exist."""


class IngestError(SwapcheckError):
    """A log file cannot be read at all (single bad rows are quarantined instead)."""


class StudyError(SwapcheckError):
    """A study definition is invalid."""


class ReviewError(SwapcheckError):
    """A judgment cannot be recorded."""


class ProviderError(SwapcheckError):
    """A model provider failed to answer."""


class RetryableProviderError(ProviderError):
    """A transient provider failure (429, 5xx, timeout, reset): the engine retries it.

    ``retry_after`` is the server's requested wait in seconds; ``rate_limited`` marks a 429 (the
    engine lowers concurrency on repeated ones); ``rate_limit`` carries the parsed rate-limit
    headers (``swapcheck.providers.base.RateLimitInfo``) when the reply had any.
    """

    def __init__(
        self,
        message: str,
        fix: str | None = None,
        retry_after: float | None = None,
        *,
        rate_limited: bool = False,
        rate_limit: Any = None,
    ):
        super().__init__(message, fix)
        self.retry_after = retry_after
        self.rate_limited = rate_limited
        self.rate_limit = rate_limit


class PermanentProviderError(ProviderError):
    """A provider failure that retrying will not fix (400, 401, 404, malformed reply)."""
