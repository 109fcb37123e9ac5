"""Shared fixtures: isolated paths and environment, a fresh store, a seeded demo database."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from swapcheck.store import Store
from tests.postgres_cluster import (
    ENV_URL,
    drop_schema,
    fresh_schema_url,
    server_binaries,
    throwaway_cluster,
)

# Property tests never assert wall-clock time (no per-example deadline: a loaded CI machine
# is not a bug). Under CI they draw the same examples every run, seeded by each test's source,
# so a red CI is always reproducible; locally they keep exploring new examples.
settings.register_profile("local", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "local")

_ISOLATED_ENV = (
    "SWAPCHECK_DB",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "SWAPCHECK_ACCESS_CODE",
    "SWAPCHECK_ADMIN_CODE",
    "SWAPCHECK_ADMINS",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own database path and no real keys or proxies."""
    for name in _ISOLATED_ENV:
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "swapcheck.duckdb"
    monkeypatch.setenv("SWAPCHECK_DB", str(db))
    monkeypatch.setenv("SWAPCHECK_NO_DEMO", "1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return db


BACKENDS = ("duckdb", "postgres")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``both_backends`` that use ``tmp_store`` run on DuckDB and PostgreSQL."""
    if "tmp_store" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_backends"
    ):
        metafunc.parametrize("store_backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for the tests: ``$SWAPCHECK_TEST_POSTGRES`` or a throwaway cluster.

    Without one, PostgreSQL tests are skipped locally but fail under CI (CI must cover them).
    """
    if os.environ.get(ENV_URL):
        yield os.environ[ENV_URL]
        return
    if server_binaries() is None:
        message = "PostgreSQL is not installed (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run the PostgreSQL store tests")
        pytest.skip(message)
    with throwaway_cluster() as url:
        yield url


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    """``both_backends`` tests get each backend; the rest DuckDB, or ``$SWAPCHECK_TEST_BACKEND``
    (``postgres`` runs every tmp_store test on PostgreSQL, for a full check by hand)."""
    return str(getattr(request, "param", os.environ.get("SWAPCHECK_TEST_BACKEND", "duckdb")))


@pytest.fixture
def pg_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh schema of the test PostgreSQL database, set as this test's SWAPCHECK_DB."""
    url = fresh_schema_url(request.getfixturevalue("postgres_url"))
    monkeypatch.setenv("SWAPCHECK_DB", url)
    yield url
    drop_schema(url)


@pytest.fixture
def tmp_store(
    isolated_env: Path, store_backend: str, request: pytest.FixtureRequest
) -> Iterator[Store]:
    """An empty store: a DuckDB file, or (``both_backends`` tests) a PostgreSQL schema too."""
    if store_backend == "postgres":
        from swapcheck.store.postgres import PostgresStore

        url = request.getfixturevalue("pg_url")
        pg = PostgresStore(url, linger=0, local_dir=isolated_env.parent)
        yield pg  # type: ignore[misc]
        pg.close()
        return
    store = Store(isolated_env, linger=0)
    yield store
    store.close()


@pytest.fixture(scope="session")
def demo_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo database seeded once per test session (copied per test by ``demo_store``)."""
    from swapcheck.demo import seed_demo

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    store = Store(path, linger=0)
    seed_demo(store)
    store.close()
    return path


@pytest.fixture
def demo_db(demo_db_template: Path, isolated_env: Path) -> Path:
    """A private copy of the seeded demo database at this test's SWAPCHECK_DB path."""
    shutil.copy(demo_db_template, isolated_env)
    return isolated_env


@pytest.fixture
def demo_store(demo_db: Path) -> Iterator[Store]:
    store = Store(demo_db, linger=0)
    yield store
    store.close()
