"""Crash-safe answer journal: each finished answer reaches the OS before the database sees it.

The engine hands finished answers to the database in batches (one transaction per second or
per 25 answers), so a process killed between two batches would lose answers that were already
paid for. Every finished record is therefore first appended, as one JSON line, to a journal
file of its run with a single unbuffered ``write`` (the kernel owns it from then on; a SIGKILL
cannot take it back). The run holds an exclusive ``flock`` on its journal while it lives. Any
later run (CLI or app) first replays the journals nobody holds into the database and deletes
them, so a resumed run neither loses those answers nor pays for them again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, fields
from pathlib import Path

from swapcheck.models import ResponseRecord

try:  # POSIX; elsewhere journals are written but only replayed when their run is finished
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

SUFFIX = ".answers.jsonl"
_FIELDS = {f.name for f in fields(ResponseRecord)}


def journal_dir(database: Path) -> Path:
    """Where the journals of a database live: ``<db file>.journal/`` next to it."""
    return database.with_name(database.name + ".journal")


class AnswerJournal:
    """Append-only journal of one run; ``with AnswerJournal(dir, run_id) as j: j.append(rec)``."""

    def __init__(self, directory: Path, run_id: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{run_id}{SUFFIX}"
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.count = 0

    def append(self, record: ResponseRecord) -> None:
        """Write one record as one line; returns once the kernel has it."""
        if self._fd is None:
            raise ValueError(f"journal {self.path.name} is closed")
        line = json.dumps(asdict(record), ensure_ascii=False, separators=(",", ":")) + "\n"
        data = line.encode("utf-8")
        written = 0
        while written < len(data):
            written += os.write(self._fd, data[written:])
        self.count += 1

    def close(self, *, remove: bool) -> None:
        """Release the lock; ``remove`` once every record is safely in the database."""
        if self._fd is None:
            return
        if remove:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> AnswerJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(remove=False)


def read_journal(path: Path) -> list[ResponseRecord]:
    """Every complete record of a journal; a torn last line (killed mid-write) is skipped."""
    records: list[ResponseRecord] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                logger.warning("%s: line %d is incomplete and was skipped", path.name, number)
                break
            try:
                values = json.loads(raw)
            except ValueError:
                logger.warning("%s: line %d is not JSON and was skipped", path.name, number)
                continue
            if isinstance(values, dict):
                records.append(ResponseRecord(**{k: v for k, v in values.items() if k in _FIELDS}))
    return records


@contextlib.contextmanager
def _unheld(path: Path) -> Iterator[bool]:
    """True when no live run holds ``path`` (its lock is taken for the duration)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        yield False
        return
    try:
        if fcntl is None:
            yield True
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def recover_journals(directory: Path, sink: Callable[[list[ResponseRecord]], None]) -> int:
    """Replay every journal no live run holds into ``sink``, then delete it; returns records."""
    if not directory.is_dir():
        return 0
    recovered = 0
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        with _unheld(path) as free:
            if not free:
                continue
            records = read_journal(path)
            if records:
                sink(records)
            path.unlink()
            recovered += len(records)
    if recovered:
        logger.info("recovered %d answer(s) from interrupted runs", recovered)
    return recovered
