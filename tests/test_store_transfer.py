"""`store copy`: a whole study moves DuckDB -> PostgreSQL -> DuckDB with identical content."""

from __future__ import annotations

from pathlib import Path

import pytest

from swapcheck.errors import StoreError
from swapcheck.store import Store
from swapcheck.store.postgres import PostgresStore
from swapcheck.store.transfer import copy_store, store_digests


def test_demo_round_trips_duckdb_postgres_duckdb(
    demo_store: Store, pg_url: str, tmp_path: Path
) -> None:
    before = store_digests(demo_store)
    assert before["judgments"].rows > 0 and before["evaluation_scores"].rows > 0
    pg = PostgresStore(pg_url, linger=0, local_dir=tmp_path)
    copied = copy_store(demo_store, pg)
    assert {c.table: (c.rows, c.digest) for c in copied} == {
        t: (d.rows, d.digest) for t, d in before.items()
    }
    assert store_digests(pg) == before
    back = Store(tmp_path / "back.duckdb", linger=0)
    copy_store(pg, back)
    assert store_digests(back) == before
    pg.close()
    back.close()


def test_copy_refuses_a_destination_with_data(demo_store: Store, tmp_path: Path) -> None:
    other = Store(tmp_path / "other.duckdb", linger=0)
    copy_store(demo_store, other)
    with pytest.raises(StoreError, match="already holds data"):
        copy_store(demo_store, other)
    copy_store(demo_store, other, replace=True)
    assert store_digests(other) == store_digests(demo_store)
    other.close()
