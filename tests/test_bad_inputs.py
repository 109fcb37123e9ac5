"""Acceptance: every file of the bad-input corpus (tests/data/bad/) gets the outcome its manifest
records — a whole-file IngestError that stores nothing, or exact counts with every rejected row
named by file, row and field, kept in the quarantine, and every valid row in ``prompts``.

The corpus, ``expected.json`` and the README are made by ``tests/data/bad/make_corpus.py``; the
rules behind the numbers and the optional per-row checks of the manifest are in the README there.
A reported field may be more precise than the expected one (``messages[1].content[1]`` for
``messages[1].content``). Only the public API is used:
``pipeline.ingest_file``, ``store.sources.quarantine_frame`` and SQL on the store.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import json
import re
import sys
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

from swapcheck.errors import IngestError
from swapcheck.pipeline import ingest_file
from swapcheck.report import to_safe_csv
from swapcheck.store import Store
from swapcheck.store.sources import quarantine_frame

BAD = Path(__file__).resolve().parent / "data" / "bad"
MANIFEST: dict[str, dict[str, Any]] = json.loads((BAD / "expected.json").read_text("utf-8"))
NOT_CORPUS = {"README.md", "expected.json", "make_corpus.py"}
CORPUS = sorted(p.name for p in BAD.iterdir() if p.is_file() and p.name not in NOT_CORPUS)
ERROR_CASES = sorted(n for n, e in MANIFEST.items() if e["outcome"] == "error")
ROW_CASES = sorted(n for n, e in MANIFEST.items() if e["outcome"] == "rows")

RAW_MAX = 10_000
"""A quarantined raw line is clipped: present, but never the whole 1 MiB line."""
REASON_MAX = 2_000
"""A reason is a message for a person, not a dump of the row."""
TRACEBACK = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]*\", line \d+|\b[A-Z]\w*(Error|Exception)\b"
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
REJECT_COLUMNS = {"row_number", "field", "reason", "raw"}
QUARANTINE_COLUMNS = {"source_name", "row_number", "field", "reason", "raw"}


def label_for(name: str) -> str:
    """How reasons name a row: 'element' in JSON arrays, 'row' in Parquet, else 'line'."""
    base = name.removesuffix(".gz")
    if base.endswith(".json"):
        return "element"
    if base.endswith(".parquet"):
        return "row"
    return "line"


def field_matches(reported: str, expected: str) -> bool:
    """The reported field is the expected one or a more precise path inside it
    (``messages[1].content[1]`` for ``messages[1].content``)."""
    return reported == expected or reported.startswith((expected + "[", expected + "."))


def count(store: Store, table: str) -> int:
    with store.cursor() as cur:
        return int(cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def stored_prompts(store: Store) -> pd.DataFrame:
    with store.cursor() as cur:
        return cur.execute(
            "SELECT row_number, external_id, messages, prompt_text, metadata, weight "
            "FROM prompts ORDER BY row_number"
        ).df()


def logged_texts(store: Store) -> dict[int, str]:
    with store.cursor() as cur:
        rows = cur.execute(
            "SELECT p.row_number, r.text FROM responses r JOIN prompts p USING (prompt_id)"
        ).fetchall()
    return {int(n): t for n, t in rows}


def by_row(values: dict[str, Any]) -> dict[int, Any]:
    return {int(k): v for k, v in values.items()}


# --- the corpus itself ------------------------------------------------------------------------


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_corpus", BAD / "make_corpus.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_corpus_is_complete_and_every_file_has_an_expectation() -> None:
    assert len(CORPUS) >= 25
    assert sorted(MANIFEST) == CORPUS
    assert ERROR_CASES and ROW_CASES
    for name, spec in MANIFEST.items():
        assert (BAD / name).stat().st_size < 100_000, f"{name}: keep corpus files small"
        if spec["outcome"] == "rows":
            rejected, may = spec["rejected"], spec.get("may_reject", {})
            assert spec["rows_total"] == spec["kept"] + spec["duplicate"] + len(rejected), name
            assert len(spec["kept_rows"]) == spec["kept"], name
            assert not set(rejected) & set(may), name
            assert set(map(int, may)) <= set(spec["kept_rows"]), name


def test_corpus_files_are_what_the_generator_makes() -> None:
    """The committed files, manifest and README are exactly what make_corpus.py produces
    (gzip and Parquet compared by content: their bytes depend on the zlib/pyarrow version)."""
    generator = load_generator()
    made = generator.outputs(generator.build())
    assert sorted(set(made) - {"README.md", "expected.json"}) == CORPUS
    for name, data in made.items():
        committed = (BAD / name).read_bytes()
        if name.endswith(".parquet.gz"):
            assert _parquet_content(gzip.decompress(committed)) == _parquet_content(
                gzip.decompress(data)
            ), name
        elif name.endswith(".gz"):
            assert _inflate(committed) == _inflate(data), name
        elif name.endswith(".parquet"):
            assert _parquet_content(committed) == _parquet_content(data), name
        else:
            assert committed == data, f"{name} is stale: run tests/data/bad/make_corpus.py"


def _inflate(data: bytes) -> tuple[bytes, bool]:
    """Decompressed content of a possibly damaged gzip file, and whether it was complete."""
    inflate = zlib.decompressobj(31)
    try:
        out = inflate.decompress(data)
    except zlib.error:
        return b"", False
    return out, inflate.eof


def _parquet_content(data: bytes) -> Any:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(io.BytesIO(data)).to_pylist()
    except Exception:  # damaged on purpose (truncated, garbage)
        return "unreadable"


def test_huge_prompt_is_tiny_on_disk_but_ten_mebibytes_inside() -> None:
    path = BAD / "huge_prompt.jsonl.gz"
    assert path.stat().st_size < 100_000
    assert len(gzip.decompress(path.read_bytes())) > 10 * 1024 * 1024


# --- whole-file problems ----------------------------------------------------------------------


def assert_nothing_stored(store: Store) -> None:
    for table in ("sources", "prompts", "quarantine", "responses"):
        assert count(store, table) == 0, f"{table} is not empty after a refused file"


@pytest.mark.parametrize("name", ERROR_CASES)
def test_unreadable_file_is_refused_with_a_fix(tmp_store: Store, name: str) -> None:
    spec = MANIFEST[name]
    with pytest.raises(IngestError) as info:
        ingest_file(tmp_store, BAD / name)
    exc = info.value
    assert name in str(exc)
    assert isinstance(exc.fix, str) and exc.fix.strip()
    assert not TRACEBACK.search(str(exc)), str(exc)
    for text in spec.get("error_contains", []):
        assert text.lower() in str(exc).lower(), f"{text!r} not in {str(exc)!r}"
    assert_nothing_stored(tmp_store)


def test_missing_file_is_refused(tmp_store: Store) -> None:
    with pytest.raises(IngestError) as info:
        ingest_file(tmp_store, BAD / "does_not_exist.jsonl")
    assert "does_not_exist.jsonl" in str(info.value)
    assert info.value.fix and info.value.fix.strip()
    assert_nothing_stored(tmp_store)


# --- row-level problems -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ROW_CASES)
def test_bad_rows_are_named_and_quarantined_valid_rows_kept(tmp_store: Store, name: str) -> None:
    spec = MANIFEST[name]
    must = by_row(spec["rejected"])
    may = by_row(spec.get("may_reject", {}))

    report = ingest_file(tmp_store, BAD / name)

    rejects = report.rejects
    assert set(rejects.columns) >= REJECT_COLUMNS
    fields = {int(r): str(f) for r, f in zip(rejects["row_number"], rejects["field"], strict=True)}
    assert len(fields) == len(rejects), "one reject per row"
    assert set(must) <= set(fields) <= set(must) | set(may), (
        f"rejected rows {sorted(fields)}, expected {sorted(must)}"
        + (f" (+ optionally {sorted(may)})" if may else "")
        + f": {rejects[['row_number', 'field', 'reason']].to_dict('records')}"
    )
    for row, reported in fields.items():
        expected = must.get(row, may.get(row))
        assert expected is not None and field_matches(reported, expected), (
            f"row {row}: field {reported!r}, expected {expected!r}"
        )
    also_rejected = len(fields) - len(must)  # deep-nesting rows that chose to reject

    counts = {
        "rows_total": report.rows_total,
        "kept": report.rows_ingested,
        "duplicate": report.rows_duplicate,
        "rejected": report.rows_rejected,
        "logged_responses": report.logged_responses,
    }
    assert counts == {
        "rows_total": spec["rows_total"],
        "kept": spec["kept"] - also_rejected,
        "duplicate": spec["duplicate"],
        "rejected": len(must) + also_rejected,
        "logged_responses": spec["logged_responses"],
    }
    assert report.rows_total == report.rows_ingested + report.rows_duplicate + report.rows_rejected
    with tmp_store.cursor() as cur:
        recorded = cur.execute(
            "SELECT name, rows_total, rows_ingested, rows_duplicate, rows_rejected FROM sources"
        ).fetchall()
    assert [tuple(r) for r in recorded] == [
        (name, report.rows_total, report.rows_ingested, report.rows_duplicate, report.rows_rejected)
    ]

    label = label_for(name)
    for rec in rejects.to_dict("records"):
        row, field, reason, raw = int(rec["row_number"]), rec["field"], rec["reason"], rec["raw"]
        assert name in reason and f"{label} {row}" in reason and field in reason, reason
        assert reason.startswith(f"{name} {label} {row}, field '{field}': "), reason
        assert " — " in reason.split(": ", 1)[1], f"reason without a fix: {reason}"
        assert not TRACEBACK.search(reason), reason
        assert len(reason) <= REASON_MAX, reason[:300]
        assert isinstance(raw, str) and raw.strip(), f"row {row}: raw text missing"
        assert len(raw) <= RAW_MAX, f"row {row}: raw not clipped ({len(raw)} chars)"
    for row, needles in by_row(spec.get("reason_contains", {})).items():
        reason = rejects.loc[rejects["row_number"] == row, "reason"].iloc[0]
        for needle in needles:
            assert needle.lower() in reason.lower(), f"{needle!r} not in {reason!r}"
    for row, text in by_row(spec.get("raw_texts", {})).items():
        raw = rejects.loc[rejects["row_number"] == row, "raw"].iloc[0]
        assert raw == text, f"row {row}: raw {raw!r} is not the row as written in the file"

    quarantine = quarantine_frame(tmp_store)
    assert set(quarantine.columns) >= QUARANTINE_COLUMNS
    assert set(quarantine["source_name"]) <= {name}
    key = ["row_number", "field", "reason", "raw"]
    in_report = sorted(tuple(r) for r in rejects[key].astype(str).to_numpy().tolist())
    in_store = sorted(tuple(r) for r in quarantine[key].astype(str).to_numpy().tolist())
    assert in_store == in_report

    prompts = stored_prompts(tmp_store)
    kept_rows = [r for r in spec["kept_rows"] if r not in fields]
    assert sorted(int(r) for r in prompts["row_number"]) == kept_rows
    assert all(isinstance(t, str) and t.strip() for t in prompts["prompt_text"])
    stored = {int(r["row_number"]): r for r in prompts.to_dict("records")}
    check_stored_values(spec, stored, tmp_store)
    if spec.get("formula_export"):
        check_formula_export(tmp_store, quarantine)


def check_stored_values(spec: dict[str, Any], stored: dict[int, Any], store: Store) -> None:
    for row, text in by_row(spec.get("prompt_texts", {})).items():
        assert stored[row]["prompt_text"] == text, f"row {row}"
    for row, length in by_row(spec.get("prompt_lengths", {})).items():
        assert len(stored[row]["prompt_text"]) == length, f"row {row}"
    for row, external_id in by_row(spec.get("external_ids", {})).items():
        assert stored[row]["external_id"] == external_id, f"row {row}"
    for row, values in by_row(spec.get("metadata", {})).items():
        metadata = json.loads(stored[row]["metadata"])
        assert {k: metadata.get(k) for k in values} == values, f"row {row}: {metadata}"
    for row, roles in by_row(spec.get("roles", {})).items():
        messages = json.loads(stored[row]["messages"])
        assert [m["role"] for m in messages] == roles, f"row {row}: {messages}"
    for row, weight in by_row(spec.get("weights", {})).items():
        assert int(stored[row]["weight"]) == weight, f"row {row}"
    expected_logged = by_row(spec.get("logged_texts", {}))
    if expected_logged:
        actual = logged_texts(store)
        assert {r: actual.get(r) for r in expected_logged} == expected_logged


def check_formula_export(store: Store, quarantine: pd.DataFrame) -> None:
    """Rejected rows that start with a formula are neutralised when the quarantine is exported."""
    assert any(str(raw).startswith(FORMULA_START) for raw in quarantine["raw"])
    text = to_safe_csv(quarantine_frame(store)).decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    dangerous = [c for c in cells if c.lstrip(" ").startswith(FORMULA_START)]
    assert not dangerous, dangerous
    for raw in quarantine["raw"]:
        if str(raw).startswith(FORMULA_START):
            assert "'" + str(raw) in cells
