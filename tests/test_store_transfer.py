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


def _study_digests(store: Store, name: str) -> dict[str, tuple[int, str]]:
    """Rows and content hash of one study's rows per table, bookkeeping timestamps left out
    (a ``logged`` variant both stores created on their own differs only in ``created_at``)."""
    from swapcheck.store.studies import get_study
    from swapcheck.store.transfer import (
        BOOKKEEPING_COLUMNS,
        _study_params,
        _study_rows,
        digest_rows,
        table_columns,
        table_names,
    )

    params = _study_params(get_study(store, name).study_id)
    out = {}
    with store.cursor() as cur:
        for table in table_names(store):
            columns = [c for c in table_columns(store, table) if c not in BOOKKEEPING_COLUMNS]
            data = _study_rows(cur, table, columns, params)
            out[table] = (data.num_rows, digest_rows(data))
    return out


def test_one_study_moves_next_to_another_and_back(
    demo_store: Store, pg_url: str, tmp_path: Path
) -> None:
    from swapcheck.store.studies import list_studies
    from swapcheck.store.transfer import copy_study
    from tests.helpers import simulated_study

    demo = list_studies(demo_store)[0].name
    pg = PostgresStore(pg_url, linger=0, local_dir=tmp_path)
    other = simulated_study(pg, tmp_path, n=5, overlap=1, name="already here")
    copied = {c.table: c for c in copy_study(demo_store, pg, demo)}
    assert copied["judgments"].rows == copied["judgments"].added > 0
    assert {s.name for s in list_studies(pg)} == {demo, other.name}
    assert _study_digests(pg, demo) == _study_digests(demo_store, demo)
    with pytest.raises(StoreError, match="already holds a study"):
        copy_study(demo_store, pg, demo)
    back = Store(tmp_path / "back.duckdb", linger=0)
    copy_study(pg, back, demo)
    assert _study_digests(back, demo) == _study_digests(demo_store, demo)
    assert [s.name for s in list_studies(back)] == [demo]
    pg.close()
    back.close()


def test_a_conflicting_variant_stops_the_study_copy_and_changes_nothing(
    demo_store: Store, tmp_path: Path
) -> None:
    from swapcheck.models import VariantConfig
    from swapcheck.store.studies import list_studies
    from swapcheck.store.transfer import copy_study, store_digests
    from swapcheck.store.variants import save_variant

    study = list_studies(demo_store)[0]
    other = Store(tmp_path / "other.duckdb", linger=0)
    save_variant(
        other,
        VariantConfig(name=study.candidate_variant, provider="openai", model="something-else"),
    )
    before = store_digests(other)
    with pytest.raises(StoreError, match="variants"):
        copy_study(demo_store, other, study.name)
    assert store_digests(other) == before
    other.close()
