"""The DuckDB file as a shared resource: a short-held lock so the app and the CLI can take turns.

DuckDB lets only one process open a file read-write. swapcheck therefore never holds the file
for longer than a unit of work: ``Store.cursor()`` opens the database on first use, hands every
thread (each Streamlit session) its own cursor of that one connection, and closes the connection
once nobody has used it for ``linger`` seconds. Another process that finds the file locked
retries until ``lock_timeout`` runs out, so a CLI run and a serving app interleave instead of
failing. While a process waits, it leaves a marker file next to the database; a holder that sees
the marker closes as soon as it is idle instead of lingering.

DuckDB's own lock is a POSIX record lock, and POSIX drops every such lock a process holds on a
file as soon as that process closes *any* descriptor of the file, so it can vanish while the
database is still open, and a second process then opens the file too. Two processes writing
one file lose committed transactions (the later checkpoint wins). ``Store`` therefore also
holds an ``flock`` on a sidecar ``<db>.lock`` file for exactly as long as its connection is
open; ``flock`` belongs to its own open file, so nothing else can release it.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from swapcheck.errors import DatabaseLockedError, StoreError

try:  # POSIX; elsewhere DuckDB's own lock is the only one
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

_LOCK_MARKERS = ("Could not set lock", "Conflicting lock")
YIELD_TO_WAITER_S = 1.0
"""How long a process that wants the file lets an already waiting process go first."""


def _is_lock_conflict(exc: BaseException) -> bool:
    return any(marker in str(exc) for marker in _LOCK_MARKERS)


class Store:
    """Handle to one swapcheck database file, safe to share between threads."""

    dialect = "duckdb"

    @property
    def location(self) -> str:
        """What ``--db`` / ``$SWAPCHECK_DB`` takes to open this store again."""
        return str(self.path)

    @property
    def display(self) -> str:
        """The store as messages name it."""
        return str(self.path)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lock_timeout: float = 60.0,
        linger: float = 0.5,
        migrate: bool = True,
    ) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.linger = linger
        self._guard = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._file_lock: int | None = None  # fd of the flocked sidecar while _con is open
        self._users = 0
        self._last_release = 0.0
        self._closer: threading.Timer | None = None
        # Close before interpreter teardown: a DuckDB connection (or a linger timer) still
        # alive while Python shuts down can abort the process.
        atexit.register(_close_at_exit, weakref.ref(self))
        if migrate:
            from swapcheck.store.migrations import migrate as run_migrations

            with self.cursor() as cur:
                run_migrations(cur)

    # -- connection lifecycle -------------------------------------------------------------
    @property
    def waiting_marker(self) -> Path:
        return self.path.with_name(self.path.name + ".waiting")

    @property
    def lock_file(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _try_lock_file(self) -> bool:
        """Take the sidecar ``flock`` without waiting; False while another holder has it."""
        if fcntl is None:
            return True
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._file_lock = fd
        return True

    def _unlock_file(self) -> None:
        if self._file_lock is not None:
            os.close(self._file_lock)  # closing the descriptor releases its flock
            self._file_lock = None

    def _connect(self) -> duckdb.DuckDBPyConnection | None:
        """Open the database under both locks, or None while another process holds one."""
        if not self._try_lock_file():
            return None
        try:
            return duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            self._unlock_file()
            if _is_lock_conflict(exc):  # a process that does not take the sidecar lock
                return None
            raise StoreError(
                f"Cannot open the database {self.path}: {exc}",
                "Check that the path is writable and is a swapcheck DuckDB file.",
            ) from exc
        except BaseException:
            self._unlock_file()
            raise

    def _open(self) -> duckdb.DuckDBPyConnection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A process that is already waiting gets the file first: a busy holder that reconnected
        # at once would otherwise starve it (the waiter only polls every few milliseconds).
        yield_until = time.monotonic() + YIELD_TO_WAITER_S
        while self._someone_waits() and time.monotonic() < yield_until:
            time.sleep(0.005)
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.005
        me = str(os.getpid())
        try:
            while True:
                con = self._connect()
                if con is not None:
                    return con
                if time.monotonic() >= deadline:
                    raise DatabaseLockedError(
                        f"The database {self.path} stayed locked by another process for "
                        f"{self.lock_timeout:.0f}s.",
                        "Wait for the other swapcheck command to finish, or point this one at "
                        "another file with --db / SWAPCHECK_DB.",
                    )
                if self._marker_owner() is None:  # (re)announce: someone may have taken it
                    with contextlib.suppress(OSError):
                        self.waiting_marker.write_text(me)
                time.sleep(delay)
                delay = min(delay * 1.5, 0.05)
        finally:
            if self._marker_owner() == me:
                with contextlib.suppress(OSError):
                    self.waiting_marker.unlink()

    def _marker_owner(self) -> str | None:
        """pid named in the waiting marker, or None (a marker of a dead process is removed)."""
        try:
            pid_text = self.waiting_marker.read_text().strip()
        except OSError:
            return None
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                self.waiting_marker.unlink()
            return None
        except (ValueError, PermissionError, OSError):
            pass
        return pid_text

    def _someone_waits(self) -> bool:
        owner = self._marker_owner()
        return owner is not None and owner != str(os.getpid())

    def _schedule_close(self) -> None:
        if self._closer is not None:
            self._closer.cancel()
            self._closer = None
        if self.linger <= 0 or self._someone_waits():
            self._close_now()
            return
        self._closer = threading.Timer(self.linger, self._close_if_idle)
        self._closer.daemon = True
        self._closer.start()

    def _close_if_idle(self) -> None:
        with self._guard:
            if self._users == 0:
                self._close_now()

    def _close_now(self) -> None:
        if self._con is not None:
            try:
                self._con.close()  # checkpoints: the file is complete before others open it
            except duckdb.Error as exc:  # say so: a failed close is how writes could go missing
                logger.warning("closing %s failed: %s", self.path, exc)
            self._con = None
        self._unlock_file()

    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of the shared connection for the calling thread, for one unit of work."""
        with self._guard:
            if self._closer is not None:
                self._closer.cancel()
                self._closer = None
            if self._con is None:
                self._con = self._open()
            cur = self._con.cursor()
            self._users += 1
        try:
            yield cur
        finally:
            with contextlib.suppress(duckdb.Error):
                cur.close()
            with self._guard:
                self._users -= 1
                if self._users == 0:
                    self._schedule_close()

    def transaction(self) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A cursor inside BEGIN/COMMIT; rolled back if the block raises."""
        return transaction_on(self)

    def close(self) -> None:
        """Release the file now (waits for nothing: call when no cursor is in use)."""
        with self._guard:
            if self._closer is not None:
                self._closer.cancel()
                self._closer = None
            self._close_now()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def transaction_on(store: Any) -> Iterator[Any]:
    """A cursor of ``store`` (either backend) inside BEGIN/COMMIT; rolled back if the block
    raises."""
    from swapcheck.store.db_errors import DATABASE_ERRORS

    with store.cursor() as cur:
        cur.execute("BEGIN TRANSACTION")
        try:
            yield cur
        except BaseException:
            with contextlib.suppress(*DATABASE_ERRORS):
                cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")


def _close_at_exit(ref: weakref.ref[Store]) -> None:
    store = ref()
    if store is not None:
        store.close()


def first_row(result: duckdb.DuckDBPyConnection) -> tuple | None:
    """The first row of a query, with the result fully consumed.

    DuckDB 2 keeps a partly fetched result open and refuses other work (``register``) on that
    cursor until it is drained, so never use ``fetchone()`` on a shared cursor.
    """
    rows = result.fetchall()
    return rows[0] if rows else None
