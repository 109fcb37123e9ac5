"""Tests of the ``swapcheck`` command, in-process through ``main`` and as a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from swapcheck.cli import main
from swapcheck.review import left_role_for, submit_judgment, unblind
from swapcheck.store import Store
from swapcheck.store.judgments import pair_content, ready_pair_ids
from swapcheck.store.studies import get_study, list_studies
from tests.fake_openai_server import FakeOpenAIServer
from tests.helpers import small_log_rows, write_jsonl

STUDY = "cli upgrade check"
CAND_MODEL = "sim-candidate"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "prod.jsonl", small_log_rows(12))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def console_script() -> list[str]:
    """The installed ``swapcheck`` entry point (next to this interpreter, else on PATH)."""
    beside = Path(sys.executable).with_name("swapcheck")
    found = str(beside) if beside.exists() else shutil.which("swapcheck")
    assert found, "the swapcheck console script is not installed"
    return [found]


def add_candidate_variant(
    capsys: pytest.CaptureFixture[str], server: FakeOpenAIServer
) -> tuple[int, str, str]:
    """``swapcheck variant add cand`` pointed at the fake server."""
    return run(
        capsys,
        "variant",
        "add",
        "cand",
        "--provider",
        "openai",
        "--model",
        CAND_MODEL,
        "--base-url",
        server.base_url,
        "--param",
        "temperature=0",
    )


def setup_study(
    capsys: pytest.CaptureFixture[str], log_file: Path, server: FakeOpenAIServer
) -> None:
    """ingest → variant add → study create, all through the CLI."""
    code, out, _ = run(capsys, "ingest", str(log_file), "--json")
    assert code == 0, out
    code, out, err = add_candidate_variant(capsys, server)
    assert code == 0, err
    code, out, err = run(
        capsys,
        "study",
        "create",
        STUDY,
        "--baseline",
        "logged",
        "--candidate",
        "cand",
        "--source",
        log_file.name,
    )
    assert code == 0, err


def assert_user_error(err: str) -> None:
    lines = err.strip().splitlines()
    assert any(line.startswith("error: ") for line in lines), err
    assert any(line.startswith("fix: ") for line in lines), err
    assert "Traceback" not in err


# --- the whole scriptable path ----------------------------------------------------------------


def test_whole_path_ingest_variant_study_generate_stats(
    capsys: pytest.CaptureFixture[str], log_file: Path, server: FakeOpenAIServer, isolated_env: Path
) -> None:
    code, out, err = run(capsys, "ingest", str(log_file), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["source"] == "prod.jsonl"
    assert report["rows_total"] == 12 and report["rows_ingested"] == 12
    assert report["rows_rejected"] == 0 and report["rejects"] == []
    assert report["logged_responses"] == 12 and report["already_ingested"] is False

    code, out, err = add_candidate_variant(capsys, server)
    assert code == 0, err
    assert "cand" in out and CAND_MODEL in out
    code, out, _ = run(capsys, "variant", "list", "--json")
    variants = {v["name"]: v for v in json.loads(out)}
    assert variants["cand"]["params"] == {"temperature": 0}
    assert variants["cand"]["base_url"] == server.base_url

    code, out, err = run(
        capsys,
        "study",
        "create",
        STUDY,
        "--baseline",
        "logged",
        "--candidate",
        "cand",
        "--source",
        "prod.jsonl",
        "--overlap",
        "2",  # some pairs get a second reviewer below
    )
    assert code == 0, err
    assert STUDY in out and "feature" in out and "locale" in out

    code, out, err = run(capsys, "generate", "--study", STUDY)
    assert code == 0, err
    assert "cand: 12 answered, 0 failed" in out
    assert "logged" in out  # the logged baseline is skipped, not generated
    assert len(server.requests) == 12
    assert {r.model for r in server.requests} == {CAND_MODEL}
    assert all(r.body["temperature"] == 0 for r in server.requests)
    asked = sorted(r.last_user_text for r in server.requests)
    assert asked == sorted(row["prompt"] for row in small_log_rows(12))

    code, out, _ = run(capsys, "study", "list", "--json")
    (listed,) = json.loads(out)
    assert listed["name"] == STUDY and listed["pairs_ready"] == 12

    code, out, err = run(capsys, "stats", "--study", STUDY, "--by", "feature", "--json")
    assert code == 0, err
    empty = json.loads(out)
    assert empty["n_judgments"] == 0 and empty["overall"] is None and empty["slices"] == []

    # cast judgments as two reviewers and count the outcome by hand
    feature_of = {row["prompt"]: row["feature"] for row in small_log_rows(12)}
    picks = ["left", "right", "tie", "both_bad", "left", "left", "right"]
    expected: dict[str, Counter[str]] = {}
    store = Store(isolated_env, linger=0)
    try:
        study = get_study(store, STUDY)
        for i, pair_id in enumerate(ready_pair_ids(store, study)):
            for reviewer in ("ann", "bob")[: 1 + i % 2]:
                pick = picks[(i + len(reviewer)) % len(picks)]
                assert submit_judgment(store, study, reviewer=reviewer, pair_id=pair_id, pick=pick)
                choice = unblind(pick, left_role_for(study, pair_id, reviewer))
                prompt = pair_content(store, study, pair_id).messages[-1]["content"]
                expected.setdefault(feature_of[prompt], Counter())[choice] += 1
    finally:
        store.close()

    code, out, err = run(capsys, "stats", "--study", STUDY, "--by", "feature", "--json")
    assert code == 0, err
    result = json.loads(out)
    total = sum(sum(c.values()) for c in expected.values())
    assert result["n_judgments"] == total == 18
    assert result["n_reviewers"] == 2
    assert result["overall"]["n"] == total
    assert {row["slice"] for row in result["slices"]} == {"feature"}
    by_value = {row["value"]: row for row in result["slices"]}
    assert set(by_value) == set(expected)
    for value, counts in expected.items():
        row = by_value[value]
        n = sum(counts.values())
        assert row["n"] == n
        assert row["candidate_wins"] == counts["candidate"]
        assert row["baseline_wins"] == counts["baseline"]
        assert row["ties"] == counts["tie"]
        assert row["both_bad"] == counts["both_bad"]
        win = (counts["candidate"] + 0.5 * (counts["tie"] + counts["both_bad"])) / n
        assert row["win_rate"] == pytest.approx(win)
        assert row["ci_low"] <= row["win_rate"] <= row["ci_high"]
        assert row["low_n"] is True

    # the human-readable table names every slice value
    code, out, err = run(capsys, "stats", "--study", STUDY, "--by", "feature")
    assert code == 0, err
    for value in expected:
        assert f"feature={value}" in out


def test_db_option_beats_the_environment_variable(
    capsys: pytest.CaptureFixture[str], log_file: Path, tmp_path: Path, isolated_env: Path
) -> None:
    assert os.environ["SWAPCHECK_DB"] == str(isolated_env)
    chosen = tmp_path / "chosen.duckdb"
    code, _, err = run(capsys, "ingest", str(log_file), "--db", str(chosen))
    assert code == 0, err
    # --db is also accepted before the sub-command
    code, out, err = run(capsys, "--db", str(chosen), "sources", "--json")
    assert code == 0, err
    assert [s["name"] for s in json.loads(out)] == ["prod.jsonl"]
    code, out, _ = run(capsys, "sources", "--json")  # SWAPCHECK_DB: untouched
    assert json.loads(out) == []


# --- ingest acceptance case ---------------------------------------------------------------------


def write_dirty_log(path: Path) -> Path:
    """Six good rows plus a malformed line (3), a row without prompt (5) and a bad byte (6)."""
    rows = [json.dumps(r).encode() for r in small_log_rows(6)]
    rows.insert(2, b'{"prompt": "broken json", ')
    rows.insert(4, json.dumps({"id": "x", "prompt": "", "feature": "chat"}).encode())
    rows.insert(5, b'{"prompt": "bad byte \xff here"}')
    path.write_bytes(b"\n".join(rows) + b"\n")
    return path


def read_csv(text: str) -> list[dict[str, str]]:
    """Rows of the quarantine CSV (UTF-8 with a BOM for spreadsheets)."""
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_dirty_log_is_ingested_with_rejects_reported_and_quarantined(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dirty = write_dirty_log(tmp_path / "dirty.jsonl")
    code, out, err = run(capsys, "ingest", str(dirty))
    assert code == 0
    assert "6 new prompts" in out and "3 rejected" in out
    rejected = [line for line in err.splitlines() if "rejected" in line]
    assert len(rejected) == 3, err
    for number, line in zip((3, 5, 6), rejected, strict=True):
        assert f"dirty.jsonl line {number}, field '" in line
        assert line.split("': ", 1)[1].strip(), "a reason follows the row and field"
    assert "JSON" in rejected[0]
    assert "Traceback" not in err

    code, out, err = run(capsys, "quarantine")
    assert code == 0, err
    records = read_csv(out)
    assert [int(r["row_number"]) for r in records] == [3, 5, 6]
    assert {r["source_name"] for r in records} == {"dirty.jsonl"}
    assert all(r["reason"] for r in records)
    assert "broken json" in records[0]["raw"]

    code, out, _ = run(capsys, "quarantine", "--source", "dirty.jsonl")
    assert len(read_csv(out)) == 3

    # --strict turns rejected rows into exit code 3 (fresh database: the file is new there)
    code, out, err = run(capsys, "ingest", str(dirty), "--strict", "--db", str(tmp_path / "s.db"))
    assert code == 3
    assert "3 rejected" in out and err.count("dirty.jsonl") == 3

    code, out, _ = run(capsys, "ingest", str(dirty), "--json", "--db", str(tmp_path / "j.db"))
    assert code == 0
    report = json.loads(out)
    assert report["rows_rejected"] == 3
    assert [r["row_number"] for r in report["rejects"]] == [3, 5, 6]


def test_reingesting_the_same_file_adds_nothing(
    capsys: pytest.CaptureFixture[str], log_file: Path
) -> None:
    code, out, _ = run(capsys, "ingest", str(log_file), "--json")
    first = json.loads(out)
    code, out, _ = run(capsys, "ingest", str(log_file), "--json")
    assert code == 0
    again = json.loads(out)
    assert again["already_ingested"] is True and again["rows_ingested"] == 0
    assert again["source_id"] == first["source_id"]
    code, out, _ = run(capsys, "ingest", str(log_file))
    assert "already ingested" in out
    code, out, _ = run(capsys, "sources", "--json")
    assert len(json.loads(out)) == 1


# --- generate: resume after failures ----------------------------------------------------------


def test_generate_rerun_fills_only_the_missing_answers(
    capsys: pytest.CaptureFixture[str], log_file: Path, server: FakeOpenAIServer, isolated_env: Path
) -> None:
    setup_study(capsys, log_file, server)
    failing = [r["prompt"] for r in small_log_rows(12) if "device 3?" in r["prompt"]]
    assert len(failing) == 2
    server.add_fault(("500",), prompt_contains="device 3?")  # persistent

    code, out, err = run(capsys, "generate", "--study", STUDY, "--max-retries", "1")
    assert code == 4
    assert "cand: 10 answered, 2 failed" in out
    assert "Traceback" not in err
    for prompt in failing:
        assert len(server.requests_for(prompt)) == 2  # first attempt + one retry
    assert len(server.requests) == 12 + 2

    code, out, _ = run(capsys, "study", "list", "--json")
    assert json.loads(out)[0]["pairs_ready"] == 10

    server.clear_faults()
    before = len(server.requests)
    code, out, err = run(capsys, "generate", "--study", STUDY, "--max-retries", "1")
    assert code == 0, err
    assert "cand: 2 answered, 0 failed" in out
    again = server.requests[before:]
    assert sorted(r.last_user_text for r in again) == sorted(failing)

    code, out, _ = run(capsys, "study", "list", "--json")
    assert json.loads(out)[0]["pairs_ready"] == 12

    before = len(server.requests)
    code, out, _ = run(capsys, "generate", "--study", STUDY)
    assert code == 0
    assert "cand: 0 answered, 0 failed" in out
    assert len(server.requests) == before


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ("stats", "--study", "no such study"),
        ("generate", "--study", "no such study"),
        ("stats", "--study", "no such study", "--json"),
    ],
)
def test_unknown_study_is_a_user_error_without_traceback(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert_user_error(err)
    assert "no such study" in err
    assert out == ""


def test_unknown_slice_and_bad_param_are_user_errors(
    capsys: pytest.CaptureFixture[str], log_file: Path, server: FakeOpenAIServer
) -> None:
    setup_study(capsys, log_file, server)
    code, _, err = run(capsys, "stats", "--study", STUDY, "--by", "colour")
    assert code == 1
    assert_user_error(err)
    assert "colour" in err
    code, _, err = run(
        capsys, "variant", "add", "x", "--provider", "openai", "--model", "m", "--param", "oops"
    )
    assert code == 1
    assert_user_error(err)
    code, _, err = run(capsys, "variant", "add", "x", "--provider", "nope", "--model", "m")
    assert code == 1
    assert_user_error(err)


def test_missing_api_key_names_the_variable_and_never_a_key(
    capsys: pytest.CaptureFixture[str],
    log_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    server: FakeOpenAIServer,
) -> None:
    secret = "sk-test-DO-NOT-PRINT-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)  # present, but not the variable the variant names
    monkeypatch.delenv("SWAPCHECK_TEST_REMOTE_KEY", raising=False)
    run(capsys, "ingest", str(log_file))
    code, _, err = run(
        capsys,
        "variant",
        "add",
        "remote",
        "--provider",
        "openai",
        "--model",
        "gpt-remote",
        "--base-url",
        "https://api.example.invalid/v1",
        "--api-key-env",
        "SWAPCHECK_TEST_REMOTE_KEY",
    )
    assert code == 0, err
    assert (
        main(
            [
                "study",
                "create",
                "offsite trial",
                "--baseline",
                "logged",
                "--candidate",
                "remote",
                "--source",
                "prod.jsonl",
            ]
        )
        == 0
    )
    code, out, err = run(capsys, "generate", "--study", "offsite trial")
    assert code == 1
    assert_user_error(err)
    assert "SWAPCHECK_TEST_REMOTE_KEY" in err and "not set" in err
    assert secret not in out + err
    assert server.requests == []

    # a wrong key that the server echoes back never reaches the output or the database
    wrong = "sk-wrong-SECRET-9876543210"
    monkeypatch.setenv("SWAPCHECK_TEST_REMOTE_KEY", wrong)
    with FakeOpenAIServer(require_key="sk-right") as strict:
        run(
            capsys,
            "variant",
            "add",
            "keyed",
            "--provider",
            "openai",
            "--model",
            "m",
            "--base-url",
            strict.base_url,
            "--api-key-env",
            "SWAPCHECK_TEST_REMOTE_KEY",
        )
        assert (
            main(
                [
                    "study",
                    "create",
                    "second trial",
                    "--baseline",
                    "logged",
                    "--candidate",
                    "keyed",
                    "--source",
                    "prod.jsonl",
                ]
            )
            == 0
        )
        code, out, err = run(capsys, "generate", "--study", "second trial", "--max-retries", "0")
        assert code == 4
        assert strict.requests and all(r.auth_present for r in strict.requests)
    assert wrong not in out + err
    _, listed, _ = run(capsys, "variant", "list", "--json")
    assert wrong not in listed and secret not in listed
    assert "SWAPCHECK_TEST_REMOTE_KEY" in listed
    db = Path(os.environ["SWAPCHECK_DB"])
    assert wrong.encode() not in db.read_bytes()


# --- demo ---------------------------------------------------------------------------------------


def test_demo_seeds_an_empty_database(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "demo", "--no-votes")
    assert code == 0, err
    assert "ready" in out
    code, out, _ = run(capsys, "study", "list", "--json")
    (study,) = json.loads(out)
    assert study["name"].startswith("Demo") and study["pairs_ready"] >= 300
    code, out, _ = run(capsys, "variant", "list", "--json")
    assert {"sim-baseline", "sim-candidate"} <= {v["name"] for v in json.loads(out)}


def test_demo_leaves_a_non_empty_database_alone_without_force(
    capsys: pytest.CaptureFixture[str], log_file: Path, isolated_env: Path
) -> None:
    run(capsys, "ingest", str(log_file))
    code, out, err = run(capsys, "demo")
    assert code == 0, err
    assert "already holds data" in out and "--force" in out
    store = Store(isolated_env, linger=0)
    try:
        assert list_studies(store) == []
    finally:
        store.close()
    code, out, err = run(capsys, "demo", "--force", "--no-votes")
    assert code == 0, err
    code, out, _ = run(capsys, "sources", "--json")
    assert len(json.loads(out)) == 2


# --- the installed console script ---------------------------------------------------------------


def test_console_script_runs_against_swapcheck_db(log_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "sub.duckdb"
    env = {**os.environ, "SWAPCHECK_DB": str(db)}
    cmd = console_script()

    done = subprocess.run(
        [*cmd, "ingest", str(log_file), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows_ingested"] == 12
    assert db.exists()

    done = subprocess.run(
        [*cmd, "stats", "--study", "missing"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert_user_error(done.stderr)

    done = subprocess.run(
        [sys.executable, "-m", "swapcheck.cli", "sources", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert [s["name"] for s in json.loads(done.stdout)] == ["prod.jsonl"]

    store = Store(db, linger=0)
    try:
        with store.cursor() as cur:
            assert cur.execute("SELECT count(*) FROM prompts").fetchall()[0][0] == 12
    finally:
        store.close()
