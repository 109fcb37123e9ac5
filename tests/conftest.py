"""Shared fixtures: isolated paths and environment, a fresh store, a seeded demo database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from swapcheck.store import Store

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


@pytest.fixture
def tmp_store(isolated_env: Path) -> Iterator[Store]:
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
