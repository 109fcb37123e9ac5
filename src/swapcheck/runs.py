"""Generation runs as the app and the CLI start them: journaled, tracked, stoppable, resumable.

Each variant of a ``generate_study`` call is one run: a ``generation_runs`` row that a heartbeat
thread updates every second with counters, tokens and spend (and reads the stop request from,
so a run started by the CLI can be stopped from the app and the other way round), plus an
:class:`~swapcheck.journal.AnswerJournal` that holds every finished answer until it is in the
database. Before any run starts, journals left by killed runs are replayed, and only prompts
without a successful answer for the exact request are sent: a resumed run never pays twice for
an answer it received. In the app, :func:`start_in_background` runs the same code on a daemon
thread, so the run keeps going while the user navigates away; its page polls the runs table.

On DuckDB one run per study and variant may be active; a second one is refused. On PostgreSQL
several workers (processes, machines) may run the same variant at once: each claims a prompt
right before sending it (``swapcheck.store.claims``), so they split the prompts and every
prompt ends with one stored answer, paid for once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from swapcheck.errors import ConfigError, StoreError, SwapcheckError
from swapcheck.generate import GenerationReport, GenerationSettings, generate
from swapcheck.journal import AnswerJournal, journal_dir, read_journal, recover_journals
from swapcheck.models import GenerationJob, ResponseRecord, VariantConfig
from swapcheck.store.claims import PromptClaims, open_claims
from swapcheck.store.connection import Store
from swapcheck.store.db_errors import DATABASE_ERRORS
from swapcheck.store.responses import answered_requests, write_responses
from swapcheck.store.runs import create_run, list_runs, update_run

logger = logging.getLogger(__name__)

HEARTBEAT_S = 1.0


def recover_interrupted_answers(store: Store) -> int:
    """Put answers that killed runs received (and journaled) into the database."""
    return recover_journals(journal_dir(store.path), lambda recs: write_responses(store, recs))


class RunTracker:
    """Counters of one run, its journal hook, its claims, its database sink and its heartbeat."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        journal: AnswerJournal,
        variant: VariantConfig,
        claims: PromptClaims,
    ) -> None:
        self.store, self.run_id, self.journal = store, run_id, journal
        self.variant, self.claims = variant, claims
        self.succeeded = self.failed = self.input_tokens = self.output_tokens = 0
        self.cost = 0.0
        self.answered: dict[str, str] = {}
        """prompt id -> request hash of every answer received (what the database must hold)."""
        self.stop_seen = threading.Event()
        self._quit = threading.Event()
        self._beat = threading.Thread(
            target=self._heartbeat, name=f"swapcheck-{run_id}-heartbeat", daemon=True
        )

    def start(self) -> None:
        self._beat.start()

    def on_record(self, record: ResponseRecord) -> None:
        """Journal first (survives a kill from here on), then count."""
        self.journal.append(record)
        if record.ok:
            self.answered[record.prompt_id] = record.request_hash
            self.succeeded += 1
        else:
            self.failed += 1
        self.input_tokens += record.input_tokens or 0
        self.output_tokens += record.output_tokens or 0
        self.cost += record.cost or 0.0

    def claim(self, job: GenerationJob) -> bool:
        return self.claims.try_claim(job.prompt_id, self.variant.request_hash(job.messages))

    def sink(self, records: list[ResponseRecord]) -> None:
        """Store the records, then let go of their claims (their outcome is committed)."""
        write_responses(self.store, [replace(r, run_id=self.run_id) for r in records])
        self.claims.release([r.prompt_id for r in records])

    def unsaved(self) -> list[ResponseRecord]:
        """Answers this run received that the database does not hold (normally none), read
        back from the journal: checked before the journal is deleted."""
        if not self.answered:
            return []
        stored = answered_requests(self.store, self.variant.name, list(self.answered))
        missing = {p for p, h in self.answered.items() if (p, h) not in stored}
        if not missing:
            return []
        return [r for r in read_journal(self.journal.path) if r.ok and r.prompt_id in missing]

    def should_stop(self) -> bool:
        return self.stop_seen.is_set()

    def _save(self, status: str | None = None, message: str | None = None) -> None:
        stop = update_run(
            self.store,
            self.run_id,
            succeeded=self.succeeded,
            failed=self.failed,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost=self.cost,
            status=status,
            message=message,
        )
        if stop:
            self.stop_seen.set()

    def _heartbeat(self) -> None:
        while not self._quit.wait(HEARTBEAT_S):
            try:
                self._save()
            except (SwapcheckError, *DATABASE_ERRORS) as exc:  # e.g. the file stayed locked,
                # or the PostgreSQL server restarted: try again next beat
                logger.warning("run %s: could not save progress: %s", self.run_id, exc)

    def finish(self, status: str, message: str | None = None) -> None:
        self._quit.set()
        if self._beat.is_alive():
            self._beat.join()
        self._save(status, message)


def run_variant(
    store: Store,
    variant: VariantConfig,
    jobs: list,
    *,
    study_id: str | None,
    settings: GenerationSettings,
    origin: str,
    estimated_cost: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    provider: object | None = None,
) -> tuple[str, GenerationReport]:
    """One journaled, tracked run of ``jobs`` for ``variant``; returns (run id, report).

    On a store whose runs share the work (PostgreSQL) a run beside another one of the same
    variant takes the prompts nobody has claimed; elsewhere it is refused.
    """
    claims = open_claims(store, variant.name)
    try:
        return _run_claimed(
            store, variant, jobs, claims, study_id=study_id, settings=settings, origin=origin,
            estimated_cost=estimated_cost, progress=progress, should_stop=should_stop,
            provider=provider,
        )  # fmt: skip
    finally:
        claims.close()


def _run_claimed(
    store: Store,
    variant: VariantConfig,
    jobs: list,
    claims: PromptClaims,
    *,
    study_id: str | None,
    settings: GenerationSettings,
    origin: str,
    estimated_cost: float | None,
    progress: Callable[[int, int], None] | None,
    should_stop: Callable[[], bool] | None,
    provider: object | None,
) -> tuple[str, GenerationReport]:
    if not claims.shared:
        active = list_runs(store, study_id=study_id, active_only=True)
        busy = [r for r in active if r.variant == variant.name]
        if busy:
            raise ConfigError(
                f"Variant {variant.name!r} is already being generated for this study by run "
                f"{busy[0].run_id} (started from the {busy[0].origin}).",
                "Wait for it to finish, or stop it first (Generate page, or swapcheck runs stop).",
            )
    run_id = create_run(
        store,
        study_id=study_id,
        variant=variant.name,
        origin=origin,
        total=len(jobs),
        estimated_cost=estimated_cost,
        budget=settings.budget,
    )
    journal = AnswerJournal(journal_dir(store.path), run_id)
    tracker = RunTracker(store, run_id, journal, variant, claims)
    tracker.start()

    def stop() -> bool:
        return tracker.should_stop() or bool(should_stop and should_stop())

    started = time.monotonic()
    try:
        report = generate(
            variant,
            jobs,
            tracker.sink,
            settings=settings,
            progress=progress,
            provider=provider,  # type: ignore[arg-type]
            should_stop=stop,
            on_record=tracker.on_record,
            claim=tracker.claim if claims.shared else None,
        )
        rewritten = _write_what_the_database_lacks(tracker)
    except BaseException as exc:
        journal.close(remove=False)  # whatever the database missed is replayed next time
        message = str(exc) if isinstance(exc, SwapcheckError) else type(exc).__name__
        tracker.finish("failed", message[:500])
        raise
    journal.close(remove=True)
    status, message = _outcome(report, time.monotonic() - started)
    if rewritten:
        message += f", {rewritten} answer(s) missing after their write were written again"
    tracker.finish(status, message)
    return run_id, report


def _write_what_the_database_lacks(tracker: RunTracker) -> int:
    """Compare the database with what the run received; write what it lacks from the journal.

    The journal is deleted only once the database holds every answer it has, so an answer
    lost on its way into the database (a failed write nobody noticed) is never lost for good.
    """
    unsaved = tracker.unsaved()
    if not unsaved:
        return 0
    logger.warning(
        "run %s: %d answer(s) were not in the database after their write; writing them again "
        "from the journal",
        tracker.run_id,
        len(unsaved),
    )
    tracker.sink(unsaved)
    still = tracker.unsaved()
    if still:
        raise StoreError(
            f"{len(still)} answer(s) did not reach the database; they stay in the run's "
            "journal and are written by the next run.",
            "Run the command again once the database accepts writes.",
        )
    return len(unsaved)


def _outcome(report: GenerationReport, elapsed_s: float) -> tuple[str, str]:
    if report.budget_exhausted:
        status = "budget reached"
    elif report.cancelled:
        status = "stopped"
    else:
        status = "done"
    parts = [f"{report.succeeded} answered", f"{report.failed} failed"]
    if report.skipped:
        parts.append(f"{report.skipped} left to another worker")
    if report.unstarted:
        parts.append(f"{report.unstarted} not started (run again to continue)")
    parts.append(f"{elapsed_s:.0f} s")
    return status, ", ".join(parts)


_BACKGROUND: dict[str, threading.Thread] = {}
_BACKGROUND_LOCK = threading.Lock()


def start_in_background(
    key: str, target: Callable[[], object], *, on_error: Callable[[BaseException], None]
) -> bool:
    """Run ``target`` on a daemon thread named by ``key`` unless one is still running."""
    with _BACKGROUND_LOCK:
        running = _BACKGROUND.get(key)
        if running is not None and running.is_alive():
            return False

        def body() -> None:
            try:
                target()
            except BaseException as exc:  # recorded on the run row; shown by the page
                logger.warning("background generation %s ended with %r", key, exc)
                on_error(exc)

        thread = threading.Thread(target=body, name=f"swapcheck-bg-{key}", daemon=True)
        _BACKGROUND[key] = thread
        thread.start()
        return True


def background_running(key: str) -> bool:
    with _BACKGROUND_LOCK:
        thread = _BACKGROUND.get(key)
        return thread is not None and thread.is_alive()
