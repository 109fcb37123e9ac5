"""PostgreSQL-only behaviour: locked pairs are skipped, SQL translation rules, store copy CLI."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from swapcheck.cli import main
from swapcheck.review import next_item, submit_judgment
from swapcheck.store import Store
from swapcheck.store.advisory import advisory_key
from swapcheck.store.judgments import ready_pair_ids
from swapcheck.store.postgres import PostgresStore, _split_schema, redacted_url
from swapcheck.store.sql_postgres import Catalog, TableInfo, Translator
from swapcheck.store.transfer import store_digests
from tests.helpers import simulated_study
from tests.waiting import wait_for


@pytest.fixture
def pg(pg_url: str, tmp_path: Path) -> PostgresStore:
    store = PostgresStore(pg_url, linger=0, local_dir=tmp_path)
    yield store
    store.close()


def test_a_pair_being_assigned_elsewhere_is_skipped_not_waited_for(
    pg: PostgresStore, tmp_path: Path
) -> None:
    """Another replica holds the first pair's row lock: the queue hands out the next pair at
    once (FOR UPDATE SKIP LOCKED), and the first pair again once the lock is gone."""
    study = simulated_study(pg, tmp_path, n=6, overlap=1)
    first, second = ready_pair_ids(pg, study)[:2]
    conninfo, schema = _split_schema(pg.url)
    with psycopg.connect(conninfo, autocommit=True) as other:
        other.execute(f'SET search_path TO "{schema}"')
        other.execute("BEGIN")
        other.execute("SELECT 1 FROM pairs WHERE pair_id = %s FOR UPDATE", [first])
        served: list[str | None] = []
        worker = threading.Thread(
            target=lambda: served.append(getattr(next_item(pg, study, "ana"), "pair_id", None))
        )
        worker.start()
        worker.join(timeout=20)  # lock_timeout is 30 s: finishing here means it did not wait
        assert not worker.is_alive()
        other.execute("ROLLBACK")
    assert served != [first] and served[0] is not None
    assert next_item(pg, study, "ben").pair_id == first
    assert second in ready_pair_ids(pg, study)


def test_the_last_slot_goes_to_exactly_one_of_many_racing_reviewers(
    pg: PostgresStore, tmp_path: Path
) -> None:
    study = simulated_study(pg, tmp_path, n=1, overlap=1)
    barrier = threading.Barrier(8)
    got: list[str] = []

    def race(name: str) -> None:
        barrier.wait()
        item = next_item(pg, study, name)
        if item is not None:
            got.append(name)
            submit_judgment(pg, study, reviewer=name, pair_id=item.pair_id, pick="left")

    threads = [threading.Thread(target=race, args=(f"r{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 1
    with pg.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM judgments").fetchall() == [(1,)]


def _translator(key: list[str], types: dict[str, str]) -> Translator:
    return Translator(Catalog(lambda _table: TableInfo(key, list(types), types)))


def test_translation_rules_by_hand() -> None:
    t = _translator(["a"], {"a": "text", "b": "json", "c": "double precision"})
    assert t.translate("INSERT OR REPLACE INTO t (a, b) VALUES (?, ?)", True) == [
        "INSERT INTO t (a, b) VALUES (%s, %s) ON CONFLICT(a) DO UPDATE SET b = excluded.b"
    ]
    assert t.translate("INSERT OR IGNORE INTO t SELECT * FROM x", False) == [
        "INSERT INTO t SELECT * FROM x ON CONFLICT DO NOTHING"
    ]
    assert t.translate("INSERT INTO t (a, b) SELECT x, y FROM f", False) == [
        "INSERT INTO t (a, b) SELECT CAST(x AS TEXT), CAST(y AS JSON) FROM f"
    ]
    assert t.translate("SELECT a, count(*) FROM t GROUP BY ALL", False) == [
        "SELECT a, COUNT(*) FROM t GROUP BY 1"
    ]
    assert t.translate("CREATE OR REPLACE TEMP TABLE k AS SELECT 1", False) == [
        "DROP TABLE IF EXISTS k",
        "CREATE TEMPORARY TABLE k AS SELECT 1",
    ]
    assert t.translate("SELECT * FROM t WHERE ? IS NULL OR a LIKE '%x'", True) == [
        "SELECT * FROM t WHERE CAST(%s AS TEXT) IS NULL OR a LIKE '%%x'"
    ]
    assert t.translate("SELECT json_extract_string(m, $p) FROM t", True) == [
        "SELECT JSON_EXTRACT_STRING(m, %(p)s) FROM t"
    ]
    assert t.translate("SET memory_limit = '1GB'", False) == []
    (sub,) = t.translate("SELECT x FROM (SELECT 1 AS x) ORDER BY x", False)
    assert sub.startswith("SELECT x FROM (SELECT 1 AS x) AS _sub")


def test_json_paths_and_log_behave_as_in_duckdb(pg: PostgresStore, tmp_path: Path) -> None:
    duck = Store(tmp_path / "d.duckdb", linger=0)
    sql = (
        "SELECT json_extract_string(?, '$.\"odd key\"'), json_extract_string(?, ?), "
        "round(log2(8), 9), round(log(100), 9)"
    )
    doc = '{"odd key": "x", "n": {"k": 3}}'
    params = [doc, doc, "$.n.k"]  # the store extracts scalars (slice values) only
    with duck.cursor() as d, pg.cursor() as p:
        assert p.execute(sql, params).fetchall() == d.execute(sql, params).fetchall()
    duck.close()


def test_store_copy_cli_round_trips_the_demo_with_identical_hashes(
    demo_db: Path, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    back = tmp_path / "back.duckdb"
    assert main(["store", "copy", "--from", str(demo_db), "--to", pg_url]) == 0
    assert main(["store", "copy", "--from", pg_url, "--to", str(back), "--json"]) == 0
    assert main(["store", "copy", "--from", str(demo_db), "--to", pg_url]) == 1
    err = capsys.readouterr().err
    assert "already holds data" in err and "--replace" in err
    source, copy = Store(demo_db, linger=0), Store(back, linger=0)
    assert store_digests(copy) == store_digests(source)
    source.close()
    copy.close()


def test_passwords_never_appear_in_what_is_shown() -> None:
    url = "postgresql://ana:s3cret@db.example.invalid:5432/review?schema=q4"
    assert "s3cret" not in redacted_url(url)
    assert _split_schema(url)[1] == "q4"
    with pytest.raises(Exception, match="plain identifier"):
        _split_schema("postgresql://db.example.invalid/x?schema=a;drop")


def test_store_copy_cli_moves_one_study(
    demo_db: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    name = "Demo: support assistant upgrade"
    args = ["store", "copy", "--from", str(demo_db), "--to", pg_url, "--study", name]
    assert main([*args, "--replace"]) == 1
    assert "does not go with --study" in capsys.readouterr().err
    assert main([*args, "--json"]) == 0
    rows = {r["table"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["studies"] == {**rows["studies"], "rows": 1, "added": 1}
    assert rows["judgments"]["rows"] == rows["judgments"]["added"] > 0
    assert main(args) == 1
    assert "already holds a study" in capsys.readouterr().err


def test_a_serialization_failure_is_retried_and_the_judgment_stored_once(
    pg: PostgresStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL aborts a transaction with SQLSTATE 40001 when a concurrent one got in the
    way; the whole unit (claim the slot, append the judgment) runs again."""
    from swapcheck.store import postgres

    study = simulated_study(pg, tmp_path, n=3, overlap=1)
    item = next_item(pg, study, "ana")
    failures = []
    real_execute = postgres.PgCursor.execute

    def flaky(self, sql, params=None):  # type: ignore[no-untyped-def]
        if sql.startswith("INSERT INTO judgments") and not failures:
            failures.append(sql)
            raise psycopg.errors.SerializationFailure("could not serialize access")
        return real_execute(self, sql, params)

    monkeypatch.setattr(postgres.PgCursor, "execute", flaky)
    assert submit_judgment(pg, study, reviewer="ana", pair_id=item.pair_id, pick="left")
    assert len(failures) == 1
    with pg.cursor() as cur:
        rows = cur.execute("SELECT reviewer, pair_id FROM judgments").fetchall()
        slots = cur.execute("SELECT count(*) FROM reservations WHERE judged").fetchall()
    assert rows == [("ana", item.pair_id)] and slots == [(1,)]


def test_judge_verdicts_of_another_process_are_waited_for_then_kept(
    pg: PostgresStore, tmp_path: Path
) -> None:
    """Another process is writing this judge's verdicts (holds the advisory lock, its row not
    committed yet): the writer waits, then sees the committed verdict and adds no second one."""
    from swapcheck.store.judge import NewJudgeJudgment, judge_reviewer, write_judge_judgments

    study = simulated_study(pg, tmp_path, n=3, overlap=1)
    pair = ready_pair_ids(pg, study)[0]
    reviewer = judge_reviewer("judge-model")
    conninfo, schema = _split_schema(pg.url)
    written: list[dict[str, str]] = []
    with psycopg.connect(conninfo, autocommit=True) as other:
        other.execute(f'SET search_path TO "{schema}"')
        other.execute("BEGIN")
        other.execute(
            "SELECT pg_advisory_xact_lock(%s)",
            [advisory_key(schema, "judge", study.study_id, reviewer)],
        )
        other.execute(
            "INSERT INTO judgments (judgment_id, study_id, pair_id, reviewer, reviewer_type, "
            "left_role, choice) VALUES ('j_other', %s, %s, %s, 'judge', 'baseline', 'tie')",
            [study.study_id, pair, reviewer],
        )
        verdict = NewJudgeJudgment(pair, "candidate", (), "mine")
        worker = threading.Thread(
            target=lambda: written.append(write_judge_judgments(pg, study, reviewer, [verdict]))
        )
        worker.start()

        def writer_waits_on_the_lock() -> bool:
            waiting = other.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ).fetchone()
            return bool(waiting and waiting[0])

        wait_for(writer_waits_on_the_lock, "the verdict writer to queue on the lock", 30)
        assert worker.is_alive() and not written
        other.execute("COMMIT")
        worker.join(timeout=30)
    assert written == [{}]
    with pg.cursor() as cur:
        live = cur.execute(
            "SELECT judgment_id FROM judgments WHERE reviewer = ? AND undone_at IS NULL", [reviewer]
        ).fetchall()
    assert live == [("j_other",)]


def test_an_unreachable_server_is_named_with_its_reason_and_no_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://ana:hunter2@127.0.0.1:{port}/review?schema=q4"
    assert main(["study", "list", "--db", url]) == 1
    err = capsys.readouterr().err
    assert "Cannot connect to the PostgreSQL store" in err and "refused" in err
    assert "ana:***@127.0.0.1" in err and "hunter2" not in err
    assert "fix:" in err


def test_bulk_reads_through_copy_keep_every_value_and_type(pg: PostgresStore) -> None:
    """Frames come through COPY … TO STDOUT parsed by Arrow; they must equal the row-by-row
    read exactly: NULL vs '', quotes, commas, newlines, unicode, booleans, ints, shortest
    floats, numerics, timestamps with and without fractions, JSON text."""
    with pg.cursor() as cur:
        cur.execute(
            "CREATE TABLE odd (t VARCHAR, b BOOLEAN, i INTEGER, g BIGINT, f DOUBLE, "
            "n DECIMAL(10, 4), ts TIMESTAMP, j JSON)"
        )
        cur.executemany(
            "INSERT INTO odd VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ['a,"b"\nc', True, 1, 2**40, 0.1, 1.5, "2026-11-26 06:21:11.123456", '{"k": 1}'],
                ["", False, -3, 0, 1e-300, 0, "2026-11-26 06:21:11", "[]"],
                [None, None, None, None, None, None, None, None],
                ["日本語 ✓ \\N", True, 0, -1, -2.5, -0.0001, "1999-01-01 00:00:00.5", "null"],
            ],
        )
        query = "SELECT *, t IS NULL AS t_null FROM odd WHERE i IS NULL OR i > ? ORDER BY i"
        fast = cur.execute(query, [-10]).to_arrow_table()
        rows = cur.execute(query, [-10]).fetchall()
        empty = cur.execute("SELECT * FROM odd WHERE false").df()
    assert fast.num_rows == 4 and [tuple(r.values()) for r in fast.to_pylist()] == [
        tuple(float(v) if i == 5 and v is not None else v for i, v in enumerate(row))
        for row in rows
    ]
    assert fast.schema.field("ts").type == pa.timestamp("us")
    assert fast.schema.field("b").type == pa.bool_() and fast.column("t")[0].as_py() == ""
    assert list(empty.columns) == ["t", "b", "i", "g", "f", "n", "ts", "j"] and empty.empty


def test_bulk_reads_keep_rows_longer_than_the_csv_block(pg: PostgresStore) -> None:
    """A value over Arrow's 1 MB CSV block (a huge prompt) still comes back whole."""
    huge = 'word, "quoted"\nline ' * 200_000  # 4.2 MB
    with pg.cursor() as cur:
        cur.execute("CREATE TABLE big (k INTEGER, t VARCHAR)")
        cur.executemany("INSERT INTO big VALUES (?, ?)", [[1, "small"], [2, huge], [3, ""]])
        frame = cur.execute("SELECT k, t FROM big ORDER BY k").df()
    assert frame["k"].tolist() == [1, 2, 3]
    assert frame["t"].tolist() == ["small", huge, ""]
