"""A throwaway PostgreSQL cluster on 127.0.0.1 for the tests (or the one named in the env).

``$SWAPCHECK_TEST_POSTGRES`` (a ``postgresql://`` URL, e.g. the cluster ``.ci/run`` starts)
wins; otherwise, when Debian's server binaries are installed, a cluster is created under a
temporary directory with ``initdb``, started on a free port, and removed at the end of the
session. As root the server runs as the ``postgres`` user (PostgreSQL refuses root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

ENV_URL = "SWAPCHECK_TEST_POSTGRES"


def server_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *cmd]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(cmd)]


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a cluster (trust auth, 127.0.0.1 only, no fsync); yield its URL; stop and delete."""
    binaries = server_binaries()
    if binaries is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="swapcheck-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = _free_port()
    subprocess.run(
        _as_server_user(
            [str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "swapcheck",
             "-E", "UTF8", "--no-sync"]
        ),
        check=True,
        capture_output=True,
    )  # fmt: skip
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    )
    subprocess.run(
        _as_server_user(
            [str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l",
             str(root / "server.log"), "-w", "start"]
        ),
        check=True,
        capture_output=True,
    )  # fmt: skip
    try:
        yield f"postgresql://swapcheck@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def fresh_schema_url(base: str) -> str:
    """A URL for a new, empty schema of the test database (one swapcheck store each)."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}schema=t_{uuid.uuid4().hex[:12]}"


def drop_schema(url: str) -> None:
    import psycopg

    from swapcheck.store.postgres import _split_schema

    conninfo, schema = _split_schema(url)
    if not schema:
        return
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # the test's store is closed by now; a straggling connection's lock is waited for
        conn.execute("SET lock_timeout = '30s'")
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextlib.contextmanager
def given_or_throwaway(url: str | None) -> Iterator[str]:
    """``url`` when given, else a throwaway cluster's (for the bench scripts)."""
    if url:
        yield url
        return
    with throwaway_cluster() as started:
        yield started
