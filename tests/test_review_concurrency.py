"""Many reviewers at once: no judgment lost, none doubled, no pair above its overlap."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from swapcheck.review import next_item, submit_judgment
from swapcheck.store import Store
from swapcheck.store.studies import Study
from tests.helpers import simulated_study

pytestmark = pytest.mark.both_backends  # tmp_store: DuckDB and PostgreSQL

PICKS = ("left", "right", "tie", "both_bad")


def run_reviewers(
    store_for: Callable[[int], Store], study: Study, reviewers: int, per_reviewer: int
) -> tuple[list[str], list[BaseException]]:
    """Start every reviewer thread at once; each takes and judges ``per_reviewer`` pairs."""
    start = threading.Barrier(reviewers)
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def review(n: int) -> None:
        try:
            store = store_for(n)
            start.wait(timeout=120)
            for i in range(per_reviewer):
                item = next_item(store, study, f"reviewer-{n:02d}")
                assert item is not None, f"reviewer-{n:02d} found nothing after {i} judgments"
                judgment = submit_judgment(
                    store,
                    study,
                    reviewer=f"reviewer-{n:02d}",
                    pair_id=item.pair_id,
                    pick=PICKS[(n + i) % 4],
                    time_on_item_ms=1000 + i,
                )
                assert judgment is not None
                with lock:
                    ids.append(judgment)
        except BaseException as exc:  # reported by the main thread
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=review, args=(n,)) for n in range(reviewers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    assert not any(t.is_alive() for t in threads), "a reviewer thread hung"
    return ids, errors


def another_handle(store: Store) -> Store:
    """A second handle on the same store, as another process would open it."""
    if store.dialect == "postgres":
        from swapcheck.store.postgres import PostgresStore

        return PostgresStore(store.url, linger=0, migrate=False)  # type: ignore[attr-defined,return-value]
    return Store(store.path, linger=0, migrate=False)


def assert_consistent(store: Store, study: Study, expected: int) -> None:
    with store.cursor() as cur:
        total, live = cur.execute(
            "SELECT count(*), count(*) FILTER (WHERE undone_at IS NULL) FROM judgments "
            "WHERE study_id = ?",
            [study.study_id],
        ).fetchall()[0]
        doubled = cur.execute(
            "SELECT count(*) FROM (SELECT 1 FROM judgments WHERE study_id = ? "
            "GROUP BY pair_id, reviewer HAVING count(*) > 1)",
            [study.study_id],
        ).fetchall()[0][0]
        above = cur.execute(
            "SELECT count(*) FROM (SELECT 1 FROM judgments WHERE study_id = ? "
            "GROUP BY pair_id HAVING count(*) > ?)",
            [study.study_id, study.overlap],
        ).fetchall()[0][0]
        judged_slots = cur.execute(
            "SELECT count(*) FROM reservations WHERE study_id = ? AND judged", [study.study_id]
        ).fetchall()[0][0]
    assert (total, live) == (expected, expected)
    assert doubled == 0 and above == 0
    assert judged_slots == expected  # every judgment holds exactly one judged slot


@pytest.mark.timeout(1200)
def test_twenty_reviewers_fifty_judgments_each_on_one_shared_store(
    tmp_store: Store, tmp_path: Path
) -> None:
    study = simulated_study(tmp_store, tmp_path, n=600, overlap=2)
    ids, errors = run_reviewers(lambda _n: tmp_store, study, reviewers=20, per_reviewer=50)
    assert errors == []
    assert len(ids) == 1000 and len(set(ids)) == 1000
    assert_consistent(tmp_store, study, 1000)


@pytest.mark.timeout(600)
def test_reviewers_with_their_own_store_handles(tmp_store: Store, tmp_path: Path) -> None:
    study = simulated_study(tmp_store, tmp_path, n=60, overlap=2)
    stores = [another_handle(tmp_store) for _ in range(6)]
    try:
        ids, errors = run_reviewers(lambda n: stores[n], study, reviewers=6, per_reviewer=15)
    finally:
        for store in stores:
            store.close()
    assert errors == []
    assert len(set(ids)) == 90
    assert_consistent(tmp_store, study, 90)
