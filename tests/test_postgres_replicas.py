"""Two app replicas, one PostgreSQL study, 20 browser reviewers racing for the last pairs.

A fresh study (50 pairs, overlap 2, no judgments yet: 100 free slots) is built in DuckDB the way
the other review tests build one and copied into a PostgreSQL schema (``copy_store``). Two
``streamlit run app.py`` servers on different loopback ports serve it (``SWAPCHECK_DB`` = that
schema's URL). One headless Chromium with 20 browser contexts (one event loop, Playwright's async
API) signs in 10 reviewers on each server at once; each votes with the keys 1-4 until the page
says nothing is left for them, so the 20 reviewers exhaust the queue together and the last pairs
are contested by both replicas. The page shows no pair id, so the client records what it saw
(conversation and both answers) and the key it pressed; afterwards PostgreSQL must hold exactly
those votes: one live judgment per (pair, reviewer), no pair above the overlap, every pair at
exactly the overlap, each reviewer's votes in order matching the pairs they were shown, both
servers' reviewers represented, and no traceback in either server's log.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from swapcheck.review import item_for, left_role_for
from swapcheck.store import Store
from swapcheck.store.judgments import ready_pair_ids
from swapcheck.store.postgres import PostgresStore
from swapcheck.store.studies import Study, list_studies
from swapcheck.store.transfer import copy_store
from tests.browser_utils import CHROMIUM, CHROMIUM_ARGS, StreamlitApp, require_browser
from tests.helpers import simulated_study
from tests.replica_utils import KEY_PICK, ReviewerRun, review_until_done, tokens

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SERVERS = 2
REVIEWERS_PER_SERVER = 10
PAIRS = 50
OVERLAP = 2
WAIT_MS = 180_000
"""Deadline of one page wait: 20 sessions share two CPU cores with other work."""


@pytest.fixture
def pg_study(pg_url: str, tmp_path: Path) -> tuple[str, Study, list[str]]:
    """The study on PostgreSQL (built fresh in DuckDB, no judgments, copied over with
    ``swapcheck store copy``'s verified copy) and its ready pairs (the same on both)."""
    require_browser()  # skip before spending seconds on the seed
    seed = Store(tmp_path / "seed.duckdb", linger=0)
    try:
        study = simulated_study(seed, tmp_path, n=PAIRS, overlap=OVERLAP, name="replica race")
        ready = ready_pair_ids(seed, study)
        assert len(ready) == PAIRS
        pg = PostgresStore(pg_url, linger=0, local_dir=tmp_path)
        try:
            copy_store(seed, pg)
            assert list_studies(pg) == [study]
            assert ready_pair_ids(pg, study) == ready  # the queue's view on PostgreSQL
        finally:
            pg.close()
    finally:
        seed.close()
    return pg_url, study, ready


@contextmanager
def replicas(db_url: str, tmp_path: Path) -> Iterator[list[StreamlitApp]]:
    """Start every server before waiting for any; always stop all and print their logs."""
    with ExitStack() as stack:
        apps: list[StreamlitApp] = []
        for n in range(SERVERS):
            app = StreamlitApp(db_url, tmp_path / f"streamlit-{n}.log")
            apps.append(app)
            stack.callback(_stop_and_show, app, n)
        for app in apps:
            app.wait_healthy()
        yield apps


def _stop_and_show(app: StreamlitApp, n: int) -> None:
    app.stop()  # pytest shows this output only when the test failed
    print(f"----- streamlit {n} log (exit code {app.proc.returncode}) -----\n{app.log()}")


async def drive_reviewers(apps: list[StreamlitApp]) -> tuple[list[ReviewerRun], float]:
    """All reviewers at once in one Chromium; returns their runs and the wall time in s."""
    from playwright.async_api import async_playwright

    runs = [
        ReviewerRun(name=f"s{server}-reviewer-{r:02d}", server=server)
        for server in range(len(apps))
        for r in range(REVIEWERS_PER_SERVER)
    ]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            pages = []
            for _ in runs:
                context = await browser.new_context()  # own cookies = own Streamlit session
                context.set_default_timeout(WAIT_MS)
                pages.append(await context.new_page())
            started = time.monotonic()
            results = await asyncio.gather(
                *(
                    review_until_done(page, apps[run.server].url, run, i, WAIT_MS)
                    for i, (page, run) in enumerate(zip(pages, runs, strict=True))
                ),
                return_exceptions=True,
            )
            wall = time.monotonic() - started
        finally:
            await browser.close()
    errors = [(run.name, r) for run, r in zip(runs, results, strict=True) if r is not None]
    assert not errors, "\n\n".join(f"{name}: {exc!r}" for name, exc in errors)
    return runs, wall


def stored_judgments(
    db_url: str, tmp_path: Path, study: Study
) -> tuple[list[tuple], int, dict[tuple[str, str], Any]]:
    """Every judgment of the study (oldest first), the reservations' judged count, and the
    blinded view of each (reviewer, pair) as the server would have rendered it."""
    pg = PostgresStore(db_url, linger=0, local_dir=tmp_path)
    try:
        with pg.cursor() as cur:
            rows = cur.execute(
                "SELECT pair_id, reviewer, left_role, choice, undone_at IS NULL "
                "FROM judgments WHERE study_id = ? ORDER BY created_at, judgment_id",
                [study.study_id],
            ).fetchall()
            judged_slots = cur.execute(
                "SELECT count(*) FROM reservations WHERE study_id = ? AND judged",
                [study.study_id],
            ).fetchall()[0][0]
        shown = {(r[1], r[0]): item_for(pg, study, r[0], r[1]) for r in rows}
    finally:
        pg.close()
    return rows, judged_slots, shown


def expected_choice(key: str, left_role: str) -> str:
    pick = KEY_PICK[key]
    if pick in ("tie", "both_bad"):
        return pick
    right_role = "candidate" if left_role == "baseline" else "baseline"
    return left_role if pick == "left" else right_role


def test_two_replicas_twenty_reviewers_exhaust_one_postgres_study(
    pg_study: tuple[str, Study, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_url, study, ready = pg_study
    with replicas(db_url, tmp_path) as apps:
        runs, wall = asyncio.run(drive_reviewers(apps))
        logs = [app.log() for app in apps]

    rows, judged_slots, shown = stored_judgments(db_url, tmp_path, study)
    submitted = sum(len(run.votes) for run in runs)
    live = [r for r in rows if r[4]]

    # every judgment stored once: as many live rows as key presses, none undone, none doubled
    assert len(rows) == len(live) == submitted
    per_pair_reviewer = Counter((r[0], r[1]) for r in live)
    assert max(per_pair_reviewer.values()) == 1, "a reviewer judged a pair twice"
    assert judged_slots == submitted  # every judgment holds exactly one judged slot
    # no pair over its overlap; the queue was exhausted, so every pair is exactly at it
    per_pair = Counter(r[0] for r in live)
    assert max(per_pair.values()) <= study.overlap
    assert all(run.finished for run in runs)
    assert per_pair == dict.fromkeys(ready, study.overlap)
    assert submitted == PAIRS * OVERLAP
    # both replicas served judgments: each server's reviewers stored some
    server_of = {run.name: run.server for run in runs}
    assert {r[1] for r in live} <= set(server_of), "a judgment under an unknown reviewer"
    by_server = Counter(server_of[r[1]] for r in live)
    assert by_server == Counter(run.server for run in runs for _ in run.votes)
    assert set(by_server) == set(range(SERVERS)), by_server

    # each reviewer's stored votes, in order, are the pairs their page showed and the keys pressed
    for run in runs:
        mine = [r for r in live if r[1] == run.name]
        assert len(mine) == len(run.votes), run.name
        seen = [(v.conversation, v.left, v.right) for v in run.votes]
        assert len(set(seen)) == len(seen), f"{run.name} was shown a pair twice"
        for vote, row in zip(run.votes, mine, strict=True):
            pair_id, reviewer, left_role, choice, _ = row
            item = shown[(reviewer, pair_id)]
            assert left_role == left_role_for(study, pair_id, reviewer), row
            assert tokens(vote.left) == tokens(item.left_text), (run.name, row)
            assert tokens(vote.right) == tokens(item.right_text), (run.name, row)
            assert choice == expected_choice(vote.key, left_role), (vote.key, row)

    for n, log in enumerate(logs):
        assert "Traceback" not in log, f"server {n} logged a traceback:\n{log}"

    seconds = sorted(v.seconds for run in runs for v in run.votes)
    per_reviewer = sorted(len(run.votes) for run in runs)
    last = Counter(server_of[r[1]] for r in live[-SERVERS * REVIEWERS_PER_SERVER :])
    with capsys.disabled():
        print(
            f"\n{SERVERS} replicas x {REVIEWERS_PER_SERVER} browser reviewers on PostgreSQL: "
            f"{submitted} judgments ({PAIRS} pairs x overlap {OVERLAP}) in {wall:.1f} s wall "
            f"= {submitted / wall:.2f} judgments/s overall; per server {dict(by_server)}; "
            f"key press to next pair rendered p50 {statistics.median(seconds):.2f} s, "
            f"p90 {seconds[int(0.9 * (len(seconds) - 1))]:.2f} s, max {seconds[-1]:.2f} s; "
            f"votes per reviewer {per_reviewer[0]}-{per_reviewer[-1]}; "
            f"servers of the last {sum(last.values())} judgments stored {dict(last)}"
        )
