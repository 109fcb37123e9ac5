"""The app and the CLI use one DuckDB file at the same time; neither fails on the lock.

DuckDB allows one read-write process per file. ``Store`` holds the file only per unit of work,
retries on a lock conflict and leaves a ``.waiting`` marker so an idle holder lets go. These tests
run real processes against one file and check that every one of them finishes its work.

The last two tests pin the fairness rules of the marker: a holder that keeps working still
lets a waiting process in (it yields before reconnecting), and a second waiter stays visible
after the first one got the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from swapcheck.demo import DEMO_SOURCE, DEMO_STUDY, seed_demo
from swapcheck.models import VariantConfig
from swapcheck.store import Store
from swapcheck.store.judgments import judgments_frame
from swapcheck.store.responses import response_status
from swapcheck.store.studies import create_study, get_study, study_prompt_ids
from swapcheck.store.variants import save_variant
from tests.apptest_utils import assert_no_exception, open_page
from tests.fake_openai_server import FakeOpenAIServer, echo_responder
from tests.waiting import poll_until, wait_for

DEADLINE_S = 90.0
"""Upper bound for any wait below; reaching it fails the test instead of hanging it."""

GENERATE_STUDY = "shared file replay"
VOTE_EVERY = 4
"""The app casts a vote each time the CLI has sent this many more requests."""
GATED_TAIL = 8
"""The last requests of the run wait until the app has done its share of work meanwhile."""


def console_script() -> list[str]:
    beside = Path(sys.executable).with_name("swapcheck")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "swapcheck.cli"]


def spawn(args: list[str], db: Path, out_dir: Path, label: str) -> subprocess.Popen[bytes]:
    """Start a process with its output in files (no pipe can fill up and block it) and a stdin
    pipe on which ``tell_go`` wakes it (the child blocks on it: no polling)."""
    env = {**os.environ, "SWAPCHECK_DB": str(db)}
    with (
        open(out_dir / f"{label}.out", "wb") as stdout,
        open(out_dir / f"{label}.err", "wb") as stderr,
    ):
        return subprocess.Popen(args, env=env, stdin=subprocess.PIPE, stdout=stdout, stderr=stderr)


def tell_go(proc: subprocess.Popen[bytes]) -> None:
    """Wake a child blocked on ``sys.stdin.readline()`` (harmless if it has exited)."""
    if proc.stdin is None or proc.stdin.closed:
        return
    with contextlib.suppress(BrokenPipeError, OSError):
        proc.stdin.write(b"go\n")
        proc.stdin.close()


def outputs(out_dir: Path, label: str) -> tuple[str, str]:
    return (
        (out_dir / f"{label}.out").read_text("utf-8"),
        (out_dir / f"{label}.err").read_text("utf-8"),
    )


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def assert_app_ok(at: Any) -> None:
    assert_no_exception(at)
    assert not at.error, [e.value for e in at.error]


def test_cli_generate_and_stats_run_while_the_app_reviews(
    isolated_env: Path, tmp_path: Path
) -> None:
    db = isolated_env
    gate = threading.Event()
    fake = FakeOpenAIServer(latency_s=0.02)
    total = 0

    def gated(messages: list[dict[str, Any]], model: str, body: dict[str, Any]) -> str:
        # The tail of the run waits until the test has seen the app work during generation.
        if len(fake.requests) > total - GATED_TAIL:
            gate.wait(timeout=DEADLINE_S / 2)
        return echo_responder(messages, model, body)

    fake.responder = gated
    generate_proc = stats_proc = None
    with fake:
        # seed: demo log (logged baseline + simulated candidate, no votes) and a study to generate
        store = Store(db, linger=0)
        seed_demo(store, judge=False)
        save_variant(
            store,
            VariantConfig(name="remote", provider="openai", model="mdl-x", base_url=fake.base_url),
        )
        study = create_study(
            store, GENERATE_STUDY, baseline="logged", candidate="remote", sources=[DEMO_SOURCE]
        )
        total = len(study_prompt_ids(store, study))
        assert total >= 100
        store.close()

        # the app: sign in on the Review page and pick the demo study
        at = open_page("review")
        at.text_input[0].input("Sam Shared")
        at.form_submit_button[0].click().run()
        assert_app_ok(at)
        at.selectbox(key="review_study").select(DEMO_STUDY).run()
        assert_app_ok(at)
        assert at.button(key="pick_left")

        try:
            generate_proc = spawn(
                [*console_script(), "generate", "--study", GENERATE_STUDY, "--concurrency", "4"],
                db,
                tmp_path,
                "generate",
            )
            picks = ["pick_left", "pick_right", "pick_tie", "pick_both_bad"]
            clicks = clicks_while_generating = 0

            def stats_done_and_voted() -> bool:
                return (
                    stats_proc is not None
                    and stats_proc.poll() is not None
                    and clicks_while_generating >= 5
                )

            deadline = time.monotonic() + DEADLINE_S
            while generate_proc.poll() is None:
                assert time.monotonic() < deadline, "generate did not finish in time"
                key = picks[clicks % len(picks)]
                assert key in {b.key for b in at.button}, "the review queue ran dry"
                at.button(key=key).click().run()
                assert_app_ok(at)
                clicks += 1
                clicks_while_generating += 1
                if stats_proc is None and len(fake.requests) >= total // 3:
                    stats_proc = spawn(
                        [*console_script(), "stats", "--study", DEMO_STUDY, "--json"],
                        db,
                        tmp_path,
                        "stats",
                    )
                if not gate.is_set() and stats_done_and_voted():
                    gate.set()
                # take turns: vote again once the CLI has moved on (see the module docstring)
                seen = len(fake.requests)
                wait_for(
                    lambda seen=seen: (
                        generate_proc.poll() is not None
                        or len(fake.requests) >= seen + VOTE_EVERY
                        or (not gate.is_set() and stats_done_and_voted())
                        # the CLI waits at the gate for the app's votes: vote again
                        or (not gate.is_set() and len(fake.requests) > total - GATED_TAIL)
                    ),
                    "the CLI to make progress",
                    timeout=DEADLINE_S,
                )
            gate.set()
            # one more vote after the run, when the file is free again
            at.button(key="pick_left").click().run()
            assert_app_ok(at)
            clicks += 1
            generate_proc.wait(timeout=DEADLINE_S)
            assert stats_proc is not None
            stats_proc.wait(timeout=DEADLINE_S)
        finally:
            gate.set()
            stop(generate_proc)
            stop(stats_proc)

    out, err = outputs(tmp_path, "generate")
    assert generate_proc.returncode == 0, out + err
    assert f"remote: {total} answered, 0 failed" in out, out
    assert "Traceback" not in err

    out, err = outputs(tmp_path, "stats")
    assert stats_proc.returncode == 0, out + err
    stats = json.loads(out)
    assert stats["study"] == DEMO_STUDY
    assert 0 <= stats["n_judgments"] <= clicks

    assert clicks_while_generating >= 5
    assert f"you judged {clicks} pairs" in at.caption[0].value

    store = Store(db, linger=0)
    try:
        answered = response_status(store, "remote", study_prompt_ids(store, study))
        assert answered == {"answered": total, "failed": 0, "missing": 0}
        votes = judgments_frame(store, get_study(store, DEMO_STUDY))
        mine = votes[votes.reviewer == "Sam Shared"]
        assert len(mine) == clicks
        assert mine.pair_id.is_unique
    finally:
        store.close()
    assert not store.waiting_marker.exists()


APPEND_SCRIPT = """
import sys
from pathlib import Path
from swapcheck.store import Store

db, who, flags = sys.argv[1], sys.argv[2], Path(sys.argv[3])
store = Store(db, linger=0)
(flags / ("ready-" + who)).write_text("ok")
if sys.stdin.readline().strip() != "go":  # blocks until the test says go (EOF: it gave up)
    sys.exit("never told to go")
for i in range(50):
    with store.cursor() as cur:
        cur.execute("INSERT INTO shared_rows VALUES (?, ?)", [who, i])
store.close()
print("done", who)
"""


def test_three_processes_append_to_one_file(isolated_env: Path, tmp_path: Path) -> None:
    db = isolated_env
    store = Store(db, linger=0.5)  # lingers like the app does
    with store.cursor() as cur:
        cur.execute("CREATE TABLE shared_rows (who VARCHAR, i INTEGER)")
    store.close()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for who in ("a", "b"):
            procs.append(
                spawn(
                    [sys.executable, "-c", APPEND_SCRIPT, str(db), who, str(tmp_path)],
                    db,
                    tmp_path,
                    who,
                )
            )
        wait_for(
            lambda: (
                all((tmp_path / f"ready-{w}").exists() for w in ("a", "b"))
                or any(p.poll() is not None for p in procs)
            ),
            "both writers to start",
            timeout=DEADLINE_S,
        )
        for proc in procs:
            tell_go(proc)
        for i in range(50):
            with store.cursor() as cur:
                cur.execute("INSERT INTO shared_rows VALUES (?, ?)", ["main", i])
        store.close()
        for proc in procs:
            proc.wait(timeout=DEADLINE_S)
    finally:
        for proc in procs:
            stop(proc)

    for who, proc in zip(("a", "b"), procs, strict=True):
        out, err = outputs(tmp_path, who)
        assert proc.returncode == 0, out + err
        assert f"done {who}" in out
    store = Store(db, linger=0)
    try:
        with store.cursor() as cur:
            rows = cur.execute(
                "SELECT who, count(*), count(DISTINCT i) FROM shared_rows GROUP BY who ORDER BY who"
            ).fetchall()
    finally:
        store.close()
    assert rows == [("a", 50, 50), ("b", 50, 50), ("main", 50, 50)]
    assert not store.waiting_marker.exists()


BUSY_CHILD = """
import sys
from swapcheck.store import Store

# a starved child still fails (after 30 s of never getting in); a slow one on a loaded machine
# does not
store = Store(sys.argv[1], linger=0, lock_timeout=30)
for i in range(20):
    with store.cursor() as cur:
        cur.execute("INSERT INTO shared_rows VALUES ('child', ?)", [i])
store.close()
print("done")
"""


def test_a_busy_holder_does_not_starve_a_waiting_process(
    isolated_env: Path, tmp_path: Path
) -> None:
    db = isolated_env
    store = Store(db, linger=0.5)
    with store.cursor() as cur:
        cur.execute("CREATE TABLE shared_rows (who VARCHAR, i INTEGER)")
    child = spawn([sys.executable, "-c", BUSY_CHILD, str(db)], db, tmp_path, "child")
    try:
        deadline = time.monotonic() + DEADLINE_S
        while child.poll() is None:  # the holder never pauses between units of work
            assert time.monotonic() < deadline
            with store.cursor() as cur:
                cur.execute("SELECT count(*) FROM shared_rows").fetchall()
    finally:
        stop(child)
        store.close()
    out, err = outputs(tmp_path, "child")
    assert child.returncode == 0, err[-500:]


WAITER = """
import sys
from pathlib import Path
from swapcheck.store import Store

db, flags, who = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
connect = Store._connect


def connect_and_tell(self):
    con = connect(self)
    if con is None:
        (flags / ("waiting-" + who)).write_text("ok")  # this process met the lock
    return con


Store._connect = connect_and_tell
store = Store(db, linger=0, lock_timeout=60, migrate=False)
with store.cursor() as cur:  # waits while another process holds the file
    (flags / ("got-" + who)).write_text("ok")
    sys.stdin.readline()  # holds the file until the test says go (or gives up: EOF)
    cur.execute("SELECT 1").fetchall()
store.close()
print("done", who)
"""


def test_a_second_waiter_stays_visible_after_the_first_gets_in(
    isolated_env: Path, tmp_path: Path
) -> None:
    db = isolated_env
    marker = db.with_name(db.name + ".waiting")

    holder = Store(db, linger=0)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with holder.cursor():
            for who in ("a", "b"):
                proc = spawn(
                    [sys.executable, "-c", WAITER, str(db), str(tmp_path), who], db, tmp_path, who
                )
                procs.append(proc)
                wait_for(
                    lambda who=who: (tmp_path / f"waiting-{who}").exists(),
                    f"{who} to meet the lock",
                    timeout=DEADLINE_S,
                )
        holder.close()
        wait_for(
            lambda: any((tmp_path / f"got-{w}").exists() for w in ("a", "b")),
            "one waiter to get in",
            timeout=DEADLINE_S,
        )
        loser_visible = poll_until(marker.exists, timeout=10.0)
        for proc in procs:
            tell_go(proc)
        for proc in procs:
            proc.wait(timeout=DEADLINE_S)
    finally:
        for proc in procs:
            tell_go(proc)
        for proc in procs:
            stop(proc)
        holder.close()
    for who, proc in zip(("a", "b"), procs, strict=True):
        out, err = outputs(tmp_path, who)
        assert proc.returncode == 0, out + err
    assert loser_visible, "a process still waited for the file but no .waiting marker was left"


OPENER = """
import sys
from swapcheck.errors import DatabaseLockedError
from swapcheck.store import Store

store = Store(sys.argv[1], linger=0, lock_timeout=1, migrate=False)
try:
    with store.cursor() as cur:
        cur.execute("INSERT INTO shared_rows VALUES ('other', 1)")
except DatabaseLockedError:
    print("locked out")
else:
    print("opened")
store.close()
"""


def _other_process_opens(db: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", OPENER, str(db)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-800:]
    return done.stdout.strip()


def test_the_file_stays_locked_when_the_holder_closes_another_descriptor_of_it(
    isolated_env: Path,
) -> None:
    """DuckDB's lock is a POSIX record lock, which the holder loses as soon as it closes any
    descriptor of the file (a backup, a checksum); the sidecar flock keeps a second writer out
    until the connection really closes, so no committed transaction can be overwritten."""
    store = Store(isolated_env, linger=60)
    with store.cursor() as cur:
        cur.execute("CREATE TABLE shared_rows (who VARCHAR, i INTEGER)")
        with open(isolated_env, "rb"):
            pass  # drops this process's POSIX locks on the file
        assert _other_process_opens(isolated_env) == "locked out"
        cur.execute("INSERT INTO shared_rows VALUES ('holder', 1)")
    store.close()
    assert _other_process_opens(isolated_env) == "opened"
    with Store(isolated_env, linger=0) as store, store.cursor() as cur:
        rows = cur.execute("SELECT who FROM shared_rows ORDER BY who").fetchall()
    assert rows == [("holder",), ("other",)], "both writes kept"
