"""The answer journal: records survive a kill, torn lines are skipped, live journals are left."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from swapcheck.journal import SUFFIX, AnswerJournal, journal_dir, read_journal, recover_journals
from swapcheck.models import ResponseRecord


def record(i: int, ok: bool = True) -> ResponseRecord:
    return ResponseRecord(
        prompt_id=f"p{i}",
        variant="cand",
        request_hash=f"h{i}",
        text=f"answer {i} — ünïcode" if ok else None,
        error=None if ok else "HTTP 500",
        input_tokens=10 + i,
        output_tokens=5,
        cost=0.001 * i,
        request_body=json.dumps({"messages": [{"role": "user", "content": f"q{i}"}]}),
    )


def test_journal_dir_sits_next_to_the_database(tmp_path: Path) -> None:
    assert journal_dir(tmp_path / "x.duckdb") == tmp_path / "x.duckdb.journal"


def test_appended_records_read_back_equal(tmp_path: Path) -> None:
    records = [record(i, ok=i % 3 != 0) for i in range(7)]
    with AnswerJournal(tmp_path, "run-a") as journal:
        for r in records:
            journal.append(r)
        assert journal.count == 7
    assert read_journal(tmp_path / f"run-a{SUFFIX}") == records


def test_torn_last_line_is_skipped_and_the_rest_kept(tmp_path: Path) -> None:
    with AnswerJournal(tmp_path, "run-b") as journal:
        journal.append(record(1))
        journal.append(record(2))
    path = tmp_path / f"run-b{SUFFIX}"
    with path.open("ab") as handle:
        handle.write(b'{"prompt_id": "p3", "variant": "ca')  # killed mid-write
    assert [r.prompt_id for r in read_journal(path)] == ["p1", "p2"]


def test_recovery_replays_and_deletes_only_unheld_journals(tmp_path: Path) -> None:
    with AnswerJournal(tmp_path, "dead") as journal:
        journal.append(record(1))
        journal.append(record(2, ok=False))
    live = AnswerJournal(tmp_path, "live")
    live.append(record(9))
    replayed: list[ResponseRecord] = []
    try:
        assert recover_journals(tmp_path, replayed.extend) == 2
        assert [r.prompt_id for r in replayed] == ["p1", "p2"]
        assert not (tmp_path / f"dead{SUFFIX}").exists()
        assert (tmp_path / f"live{SUFFIX}").exists()  # its run is still going
    finally:
        live.close(remove=False)
    assert recover_journals(tmp_path, replayed.extend) == 1
    assert replayed[-1].prompt_id == "p9"
    assert recover_journals(tmp_path / "missing", replayed.extend) == 0


def test_a_journal_written_by_a_killed_process_is_complete(tmp_path: Path) -> None:
    """The child journals 50 records and is SIGKILLed without closing anything."""
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from swapcheck.journal import AnswerJournal\n"
        "from tests.test_journal import record\n"
        f"j = AnswerJournal(Path({str(tmp_path)!r}), 'killed')\n"
        "for i in range(50):\n"
        "    j.append(record(i))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", script], cwd=root, timeout=60, check=False)
    assert proc.returncode == -9
    replayed: list[ResponseRecord] = []
    assert recover_journals(tmp_path, replayed.extend) == 50
    assert replayed == [record(i) for i in range(50)]
    assert os.listdir(tmp_path) == []
