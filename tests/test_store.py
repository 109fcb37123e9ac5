"""Store: migrations from a blank file, lock sharing between processes, typed queries."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pytest

from swapcheck.errors import DatabaseLockedError, NotFoundError
from swapcheck.models import LOGGED_VARIANT, ResponseRecord, VariantConfig
from swapcheck.store import Store, open_store
from swapcheck.store.migrations import MIGRATIONS, applied_migrations, migrate
from swapcheck.store.responses import pending_jobs, response_status, write_responses
from swapcheck.store.variants import get_variant, list_variants, save_variant
from tests.helpers import small_log_rows, write_jsonl
from tests.waiting import wait_for

pytestmark = pytest.mark.both_backends  # tmp_store: DuckDB and PostgreSQL


def test_migrations_from_blank_database_create_every_table(tmp_path: Path) -> None:
    store = Store(tmp_path / "blank.duckdb", linger=0)
    with store.cursor() as cur:
        tables = {r[0] for r in cur.execute("SHOW TABLES").fetchall()}
        assert applied_migrations(cur) == [name for name, _ in MIGRATIONS]
        assert migrate(cur) == []  # idempotent: nothing left to apply
    assert {
        "prompts",
        "variants",
        "responses",
        "studies",
        "pairs",
        "judgments",
        "quarantine",
        "sources",
        "evaluation_scores",
        "judge_calls",
        "_migrations",
    } <= tables
    assert "evaluations" not in tables  # replaced by evaluation_scores (0007)


def test_open_store_honours_env_and_explicit_path(tmp_path: Path, isolated_env: Path) -> None:
    assert open_store().path == isolated_env
    explicit = tmp_path / "other.duckdb"
    assert open_store(explicit).path == explicit


def test_variants_round_trip_and_never_store_a_key(tmp_store: Store, monkeypatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-secret-value-123")
    variant = VariantConfig(
        name="cand",
        provider="openai",
        model="m",
        api_key_env="MY_KEY",
        params={"temperature": 0.3},
        price_input_per_mtok=1.5,
    )
    save_variant(tmp_store, variant)
    assert get_variant(tmp_store, "cand") == variant
    with tmp_store.cursor() as cur:
        dump = str(cur.execute("SELECT * FROM variants").fetchall())
    assert "sk-secret-value-123" not in dump
    with pytest.raises(NotFoundError, match="Known variants: cand"):
        get_variant(tmp_store, "nope")
    assert [v.name for v in list_variants(tmp_store)] == ["cand"]


def test_failure_never_overwrites_success_and_pending_jobs_skip_done(
    tmp_store: Store, tmp_path
) -> None:
    from swapcheck.pipeline import ingest_file

    ingest_file(tmp_store, write_jsonl(tmp_path / "l.jsonl", small_log_rows(4)))
    variant = VariantConfig(name="v", provider="simulated", model="x")
    save_variant(tmp_store, variant)
    with tmp_store.cursor() as cur:
        ids = [r[0] for r in cur.execute("SELECT prompt_id FROM prompts ORDER BY 1").fetchall()]
    jobs = pending_jobs(tmp_store, variant, ids)
    assert len(jobs) == 4
    ok = ResponseRecord(ids[0], "v", variant.request_hash(jobs[0].messages), "fine")
    bad = ResponseRecord(ids[0], "v", ok.request_hash, None, error="HTTP 500")
    failed = ResponseRecord(ids[1], "v", variant.request_hash(jobs[1].messages), None, error="x")
    write_responses(tmp_store, [ok, failed])
    write_responses(tmp_store, [bad])
    assert response_status(tmp_store, "v", ids) == {"answered": 1, "failed": 1, "missing": 2}
    assert sorted(j.prompt_id for j in pending_jobs(tmp_store, variant, ids)) == sorted(ids[1:])
    # a changed variant definition makes the old answer stale
    changed = VariantConfig(name="v", provider="simulated", model="x", params={"temperature": 1})
    assert len(pending_jobs(tmp_store, changed, ids)) == 4


def test_logged_answers_become_the_logged_variant(tmp_store: Store, tmp_path) -> None:
    from swapcheck.pipeline import ingest_file

    report = ingest_file(tmp_store, write_jsonl(tmp_path / "l.jsonl", small_log_rows(5)))
    assert report.logged_responses == 5
    assert get_variant(tmp_store, LOGGED_VARIANT).provider == LOGGED_VARIANT


_HOLDER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("CREATE TABLE IF NOT EXISTS held (x INT)")
    print("locked", flush=True)
    sys.stdin.readline()  # holds the file until the test writes a line (or closes stdin)
    con.close()
    print("released", flush=True)
    """
)


def _hold_lock(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def _release_when_waited_for(holder: subprocess.Popen[str], marker: Path) -> threading.Thread:
    """Let the holder go once a waiting process has left its ``.waiting`` marker."""

    def release() -> None:
        wait_for(marker.exists, "the store to wait for the lock", timeout=30)
        assert holder.stdin is not None
        holder.stdin.write("go\n")
        holder.stdin.close()

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    return thread


def test_waits_for_another_process_then_proceeds(tmp_path: Path) -> None:
    path = tmp_path / "shared.duckdb"
    Store(path, linger=0).close()
    holder = _hold_lock(path)
    releaser = _release_when_waited_for(holder, path.with_name(path.name + ".waiting"))
    store = Store(path, linger=0, lock_timeout=30, migrate=False)
    with store.cursor() as cur:  # blocks until the holder releases, then works
        assert cur.execute("SELECT count(*) FROM held").fetchone() == (0,)
    releaser.join(timeout=30)
    assert holder.wait(timeout=30) == 0
    assert holder.stdout.read().strip() == "released"


def test_gives_up_with_a_fix_when_the_lock_never_frees(tmp_path: Path) -> None:
    path = tmp_path / "busy.duckdb"
    holder = _hold_lock(path)
    try:
        with pytest.raises(DatabaseLockedError, match="stayed locked") as info:
            Store(path, linger=0, lock_timeout=0.3)
        assert "--db" in (info.value.fix or "")
    finally:
        holder.kill()
        holder.wait()


def test_idle_store_releases_the_file_for_other_processes(tmp_path: Path) -> None:
    path = tmp_path / "linger.duckdb"
    store = Store(path, linger=0.2)
    with store.cursor() as cur:
        cur.execute("SELECT 1")
    deadline = time.monotonic() + 10
    while True:  # after the linger period the connection is closed and another process may open it
        probe = subprocess.run(
            [sys.executable, "-c", f"import duckdb; duckdb.connect({str(path)!r})"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 or time.monotonic() > deadline:
            break
    assert probe.returncode == 0, probe.stderr


def test_threads_share_one_connection_with_their_own_cursors(tmp_store: Store) -> None:
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(20):
                with tmp_store.cursor() as cur:
                    assert cur.execute("SELECT ?", [i]).fetchone() == (i,)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert tmp_store.dialect in ("duckdb", "postgres") and duckdb is not None


def test_reingest_is_recognised_by_file_hash_before_parsing(
    tmp_store: Store, tmp_path, monkeypatch
) -> None:
    import swapcheck.ingest as ingest
    import swapcheck.pipeline as pipeline

    log = write_jsonl(tmp_path / "l.jsonl", small_log_rows(3))
    first = pipeline.ingest_file(tmp_store, log)

    def no_parse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("a known file must not be parsed again")

    monkeypatch.setattr(ingest, "run_scan", no_parse)
    monkeypatch.setattr(ingest, "_sample", no_parse)
    again = pipeline.ingest_file(tmp_store, log)
    assert again.already_ingested and again.source_id == first.source_id
    assert again.rows_ingested == 0 and again.rows_total == 3


def test_migration_0007_keeps_old_scores_and_sets_judges_apart(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    applied_migrations(con)
    for name, fn in MIGRATIONS[: [n for n, _ in MIGRATIONS].index("0007_judges_and_evaluators")]:
        fn(con)
        con.execute("INSERT INTO _migrations (name) VALUES (?)", [name])
    con.execute(
        "INSERT INTO evaluations (prompt_id, variant, evaluator, version, value, label) "
        "VALUES ('p1', 'cand', 'refusal', 1, 1.0, 'refusal')"
    )
    for reviewer in ("ana", "judge:gpt"):
        con.execute(
            "INSERT INTO judgments (judgment_id, study_id, pair_id, reviewer, left_role, choice) "
            "VALUES (?, 's', 'pr1', ?, 'baseline', 'candidate')",
            [f"j-{reviewer}", reviewer],
        )
        con.execute(
            "INSERT INTO reservations (study_id, pair_id, slot, reviewer, reserved_at, "
            "expires_at, judged) VALUES ('s', 'pr1', ?, ?, now(), now(), true)",
            [0 if reviewer == "ana" else 1, reviewer],
        )
    con.close()
    store = Store(path, linger=0)  # opening migrates the rest
    with store.cursor() as cur:
        scores = cur.execute(
            "SELECT prompt_id, variant, against, evaluator, config_hash, version, value, label "
            "FROM evaluation_scores"
        ).fetchall()
        kinds = dict(cur.execute("SELECT reviewer, reviewer_type FROM judgments").fetchall())
        slots = cur.execute("SELECT reviewer FROM reservations").fetchall()
    store.close()
    assert scores == [("p1", "cand", "", "refusal", "", 1, 1.0, "refusal")]
    assert kinds == {"ana": "human", "judge:gpt": "judge"}
    assert slots == [("ana",)]  # a judge never holds a person's review slot
