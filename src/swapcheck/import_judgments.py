"""Import judgments made elsewhere (past review rounds, other tools, LLM judges) into a study."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from swapcheck.errors import ConfigError, IngestError
from swapcheck.models import canonical_json
from swapcheck.store.connection import Store
from swapcheck.store.db_errors import retry_transient
from swapcheck.store.settings import set_setting
from swapcheck.store.studies import Study, get_study

WINNERS: tuple[str, ...] = ("model_a", "model_b", "tie", "both_bad")
REVIEWER_TYPES: tuple[str, ...] = ("human", "judge")
JUDGE_PREFIX = "judge:"
"""Reviewer names of LLM judges start with this, so a judge is never mistaken for a person."""
IMPORTED_ID_PREFIX = "ji_"
"""Judgment ids of imported rows: this prefix and a hash of the row, so re-imports are no-ops."""
PROMPT_KEYS: tuple[str, ...] = ("prompt_id", "external_id", "prompt")
KNOWN_COLUMNS: frozenset[str] = frozenset(
    {*PROMPT_KEYS, "model_a", "model_b", "winner", "reviewer", "reviewer_type", "comment",
     "time_on_item_ms"}
)  # fmt: skip
_WRITE_ATTEMPTS = 50  # an import may lose often to live reviewers; jittered pauses, <= 1 s
_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
_CSV_SUFFIXES = (".csv", ".tsv", ".txt")
_SCHEMA_FIX = (
    "Give the file the columns model_a, model_b, winner, reviewer and one of prompt_id, "
    "external_id or prompt (see docs/IMPORT.md)."
)


@dataclass(frozen=True)
class RejectedRow:
    """One row that was not imported: where it is, which field is wrong, and how to fix it."""

    file: str
    row_number: int
    field: str
    problem: str
    fix: str

    def describe(self) -> str:
        return (
            f"{self.file} row {self.row_number}, field '{self.field}': {self.problem} — {self.fix}"
        )


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    study: str
    file: str
    source_name: str
    dry_run: bool
    rows_total: int = 0
    imported: int = 0
    already_imported: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    judgment_ids: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        return (
            f"{self.file} → study {self.study!r}: {self.rows_total} rows, {verb} "
            f"{self.imported}, already imported {self.already_imported}, "
            f"rejected {len(self.rejected)}"
            + (" (dry run: nothing written)" if self.dry_run else "")
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "file": self.file,
            "source_name": self.source_name,
            "dry_run": self.dry_run,
            "rows_total": self.rows_total,
            "imported": self.imported,
            "already_imported": self.already_imported,
            "rejected": [r.__dict__ for r in self.rejected],
            "ignored_columns": self.ignored_columns,
        }


@dataclass(frozen=True)
class _StudyPrompt:
    pair_id: str
    prompt_id: str


@dataclass(frozen=True)
class _Judgment:
    judgment_id: str
    pair_id: str
    reviewer: str
    left_role: str
    choice: str
    comment: str | None
    time_on_item_ms: int | None
    reviewer_type: str = "human"


class _Rejected(Exception):
    def __init__(self, field_name: str, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.field, self.problem, self.fix = field_name, problem, fix


def parse_winner_map(text: str | None) -> dict[str, str]:
    """``"1=model_a,2=model_b,0=tie"`` → ``{"1": "model_a", ...}``; targets must be winners."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        code, sep, target = part.partition("=")
        code, target = code.strip().lower(), target.strip().lower()
        if not sep or not code or target not in WINNERS:
            raise ConfigError(
                f"--winner-map entry {part.strip()!r} is not CODE=WINNER.",
                f"Write e.g. --winner-map 1=model_a,2=model_b,0=tie,3=both_bad (winners: "
                f"{', '.join(WINNERS)}).",
            )
        mapping[code] = target
    return mapping


def _text(value: Any) -> str | None:
    """A cell as trimmed text (None when empty); integral floats lose their '.0'."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    text = str(value).strip()
    return text or None


def _file_kind(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(_JSON_SUFFIXES):
        return "json"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    raise IngestError(
        f"{path.name} is neither JSON lines nor CSV.",
        "Save the judgments as .jsonl, .json, .csv or .tsv (optionally .gz).",
    )


def _json_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(row number, object or None, problem) per line; a JSON array file is read as a whole."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig") as handle:  # type: ignore[operator]
        text = handle.read()
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise IngestError(
                f"{path.name} starts like a JSON array but is not valid JSON ({exc}).",
                "Fix the JSON, or write one judgment object per line (JSON lines).",
            ) from exc
        for i, item in enumerate(items, start=1):
            yield (i, item, "") if isinstance(item, dict) else (i, None, "is not a JSON object")
        return
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            yield i, None, f"is not valid JSON ({exc.args[0] if exc.args else exc})"
            continue
        yield (i, item, "") if isinstance(item, dict) else (i, None, "is not a JSON object")


def _csv_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any] | None, str]]]:
    """Header and (data row number, row, '') per row, read by DuckDB as text."""
    con = duckdb.connect()
    try:
        cur = con.execute(
            "SELECT * FROM read_csv(?, all_varchar = true, header = true)", [str(path)]
        )
        columns = [d[0] for d in cur.description or []]
        rows = cur.fetchall()
    except duckdb.Error as exc:
        raise IngestError(
            f"{path.name} cannot be read as CSV: {str(exc).splitlines()[0]}",
            "Check the delimiter, quoting and header line, or export the judgments as JSON lines.",
        ) from exc
    finally:
        con.close()
    return columns, [(i, dict(zip(columns, r, strict=True)), "") for i, r in enumerate(rows, 1)]


def read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any] | None, str]]]:
    """Columns seen and every row of a judgments file as (row number, record or None, problem)."""
    if not path.is_file():
        raise IngestError(f"{path} does not exist.", "Pass the path of the judgments file.")
    if _file_kind(path) == "csv":
        return _csv_rows(path)
    rows = list(_json_rows(path))
    columns: list[str] = []
    for _, record, _problem in rows:
        for key in record or {}:
            if key not in columns:
                columns.append(key)
    return columns, rows


def _check_columns(path: Path, columns: list[str]) -> None:
    missing = [c for c in ("model_a", "model_b", "winner", "reviewer") if c not in columns]
    if not any(k in columns for k in PROMPT_KEYS):
        missing.append("prompt_id (or external_id / prompt)")
    if missing:
        raise IngestError(
            f"{path.name} has no column {', '.join(missing)} (columns: {', '.join(columns)}).",
            _SCHEMA_FIX,
        )


class _Resolver:
    """Turns a raw row into a judgment of the study, or raises ``_Rejected``."""

    def __init__(
        self, store: Store, study: Study, winner_map: dict[str, str], reviewer_type: str
    ) -> None:
        self.study, self.winner_map, self.default_type = study, winner_map, reviewer_type
        with store.cursor() as cur:
            prompts = cur.execute(
                "SELECT p.pair_id, p.prompt_id, q.external_id, q.prompt_text FROM pairs p "
                "JOIN prompts q USING (prompt_id) WHERE p.study_id = ?",
                [study.study_id],
            ).fetchall()
        self.by_id: dict[str, _StudyPrompt] = {}
        self.by_external: dict[str, list[_StudyPrompt]] = {}
        self.by_text: dict[str, list[_StudyPrompt]] = {}
        for pair_id, prompt_id, external_id, prompt_text in prompts:
            item = _StudyPrompt(pair_id, prompt_id)
            self.by_id[prompt_id] = item
            if external_id:
                self.by_external.setdefault(str(external_id).strip(), []).append(item)
            self.by_text.setdefault(" ".join(str(prompt_text).split()), []).append(item)

    def _one(self, found: list[_StudyPrompt], key: str, value: str) -> _StudyPrompt:
        if not found:
            raise _Rejected(
                key,
                f"{value[:80]!r} matches no prompt of study {self.study.name!r}",
                "ingest that prompt's log and create the study from it, or drop the row",
            )
        if len({f.prompt_id for f in found}) > 1:
            raise _Rejected(
                key,
                f"{value[:80]!r} matches {len(found)} prompts of the study",
                "identify the prompt by its swapcheck prompt_id instead",
            )
        return found[0]

    def prompt(self, record: dict[str, Any]) -> _StudyPrompt:
        for key in PROMPT_KEYS:
            value = _text(record.get(key))
            if value is None:
                continue
            if key == "prompt_id":
                exact = self.by_id.get(value)
                return exact or self._one(self.by_external.get(value, []), key, value)
            if key == "external_id":
                return self._one(self.by_external.get(value, []), key, value)
            return self._one(self.by_text.get(" ".join(value.split()), []), key, value)
        raise _Rejected(
            "prompt_id", "is empty", "give the prompt's id (or its external_id or prompt text)"
        )

    def roles(self, record: dict[str, Any]) -> dict[str, str]:
        """{'model_a': role, 'model_b': role} with roles baseline/candidate."""
        role_of = {
            self.study.baseline_variant: "baseline",
            self.study.candidate_variant: "candidate",
        }
        roles: dict[str, str] = {}
        for key in ("model_a", "model_b"):
            name = _text(record.get(key))
            if name not in role_of:
                raise _Rejected(
                    key,
                    f"variant {name!r} is not in the study",
                    f"use the study's variant names {self.study.baseline_variant!r} and "
                    f"{self.study.candidate_variant!r}",
                )
            roles[key] = role_of[name]
        if roles["model_a"] == roles["model_b"]:
            raise _Rejected(
                "model_b",
                "names the same variant as model_a",
                "put the study's other variant in model_b",
            )
        return roles

    def winner(self, record: dict[str, Any]) -> str:
        raw = _text(record.get("winner"))
        code = (raw or "").lower()
        try:
            number = float(code)
            code = str(int(number)) if number.is_integer() else code
        except ValueError:
            pass
        winner = self.winner_map.get(code, code)
        if winner not in WINNERS:
            mapped = f" or a code of --winner-map ({', '.join(self.winner_map)})"
            raise _Rejected(
                "winner",
                f"unknown winner {raw!r}",
                f"use one of {', '.join(WINNERS)}{mapped if self.winner_map else ''}, or map "
                "codes with --winner-map 1=model_a,2=model_b,0=tie,3=both_bad",
            )
        return winner

    def reviewer(self, record: dict[str, Any]) -> str:
        name = _text(record.get("reviewer"))
        if name is None:
            raise _Rejected("reviewer", "is empty", "give every row the id of its reviewer")
        kind = (_text(record.get("reviewer_type")) or self.default_type).lower()
        if kind not in REVIEWER_TYPES:
            raise _Rejected(
                "reviewer_type", f"unknown reviewer type {kind!r}", "use 'human' or 'judge'"
            )
        if kind == "judge":
            return name if name.startswith(JUDGE_PREFIX) else JUDGE_PREFIX + name
        if name.startswith(JUDGE_PREFIX):
            raise _Rejected(
                "reviewer",
                f"human reviewer {name!r} starts with {JUDGE_PREFIX!r}, which marks LLM judges",
                "set reviewer_type to 'judge', or rename the reviewer",
            )
        return name

    def judgment(self, record: dict[str, Any]) -> _Judgment:
        item = self.prompt(record)
        roles = self.roles(record)
        winner = self.winner(record)
        reviewer = self.reviewer(record)
        raw_time = _text(record.get("time_on_item_ms"))
        time_ms: int | None = None
        if raw_time is not None:
            try:
                number = float(raw_time)
            except ValueError:
                number = -1.0
            if not (number >= 0 and number.is_integer()):
                raise _Rejected(
                    "time_on_item_ms",
                    f"{raw_time!r} is not a whole number of milliseconds",
                    "give a non-negative integer or leave it empty",
                )
            time_ms = int(number)
        choice = roles.get(winner, winner)
        comment = _text(record.get("comment"))
        digest = hashlib.sha256(
            canonical_json(
                [self.study.study_id, item.prompt_id, reviewer, roles["model_a"], choice,
                 comment, time_ms]
            ).encode()
        ).hexdigest()  # fmt: skip
        return _Judgment(
            judgment_id=IMPORTED_ID_PREFIX + digest[:32],
            pair_id=item.pair_id,
            reviewer=reviewer,
            left_role=roles["model_a"],
            choice=choice,
            comment=comment,
            time_on_item_ms=time_ms,
            reviewer_type="judge" if reviewer.startswith(JUDGE_PREFIX) else "human",
        )


def _existing(store: Store, study: Study) -> tuple[set[str], set[tuple[str, str]]]:
    """Ids of the study's stored judgments and (pair, reviewer) of its live ones."""
    with store.cursor() as cur:
        rows = cur.execute(
            "SELECT judgment_id, pair_id, reviewer, undone_at IS NULL FROM judgments "
            "WHERE study_id = ?",
            [study.study_id],
        ).fetchall()
    return {r[0] for r in rows}, {(r[1], r[2]) for r in rows if r[3]}


def _write(store: Store, study: Study, judgments: list[_Judgment]) -> None:
    """Insert the judgments and a judged review slot for each (so the queue counts them) in
    one transaction, retried after a short pause when a concurrent reviewer's write conflicts
    with it."""

    def unit() -> None:
        with store.transaction() as cur:
            _insert(cur, study, judgments)

    retry_transient(unit, attempts=_WRITE_ATTEMPTS)


def _insert(cur: duckdb.DuckDBPyConnection, study: Study, judgments: list[_Judgment]) -> None:
    stored = {
        r[0]
        for r in cur.execute(
            "SELECT judgment_id FROM judgments WHERE study_id = ? AND judgment_id LIKE 'ji_%'",
            [study.study_id],
        ).fetchall()
    }
    judgments = [j for j in judgments if j.judgment_id not in stored]  # a concurrent import
    if not judgments:
        return
    used: dict[str, set[int]] = {}
    for pair_id, slot in cur.execute(
        "SELECT pair_id, slot FROM reservations WHERE study_id = ?", [study.study_id]
    ).fetchall():
        used.setdefault(pair_id, set()).add(slot)
    slots: list[int | None] = []
    for j in judgments:
        if j.reviewer_type != "human":  # a judge never takes a person's review slot
            slots.append(None)
            continue
        taken = used.setdefault(j.pair_id, set())
        slots.append(next(s for s in range(len(taken) + 1) if s not in taken))
        taken.add(slots[-1])
    frame = pd.DataFrame(
        {
            "judgment_id": [j.judgment_id for j in judgments],
            "pair_id": [j.pair_id for j in judgments],
            "reviewer": [j.reviewer for j in judgments],
            "reviewer_type": [j.reviewer_type for j in judgments],
            "left_role": [j.left_role for j in judgments],
            "choice": [j.choice for j in judgments],
            "comment": pd.Series([j.comment for j in judgments], dtype=object),
            "time_on_item_ms": pd.Series([j.time_on_item_ms for j in judgments], dtype="Int64"),
            "slot": pd.Series(slots, dtype="Int64"),
        }
    )
    cur.register("imported_judgments", frame)
    try:
        params = [study.study_id]
        cur.execute(
            "INSERT INTO judgments (judgment_id, study_id, pair_id, reviewer, reviewer_type, "
            "left_role, choice, comment, time_on_item_ms) SELECT judgment_id, ?, pair_id, "
            "reviewer, reviewer_type, left_role, choice, comment, time_on_item_ms "
            "FROM imported_judgments",
            params,
        )
        cur.execute(
            "INSERT INTO reservations (study_id, pair_id, slot, reviewer, reserved_at, "
            "expires_at, judged) SELECT ?, pair_id, slot, reviewer, now(), now(), true "
            "FROM imported_judgments WHERE slot IS NOT NULL",
            params,
        )
    finally:
        cur.unregister("imported_judgments")


def import_judgments(
    store: Store,
    path: Path | str,
    study: Study | str,
    *,
    source_name: str | None = None,
    winner_map: dict[str, str] | None = None,
    reviewer_type: str = "human",
    dry_run: bool = False,
) -> ImportReport:
    """Check every row of a judgments file and store the good ones as judgments of ``study``.

    Each row is rejected with its reason (never dropped) or becomes one judgment, unblinded to
    baseline/candidate/tie/both_bad with ``left_role`` the role of ``model_a``. A row already
    imported (same study, prompt, reviewer, sides, winner, comment and time) is counted in
    ``already_imported`` and not stored again. ``dry_run`` checks without writing.
    """
    path = Path(path)
    if reviewer_type not in REVIEWER_TYPES:
        raise ConfigError(
            f"Unknown reviewer type {reviewer_type!r}.", "Use --reviewer-type human or judge."
        )
    study = get_study(store, study) if isinstance(study, str) else study
    columns, rows = read_rows(path)
    _check_columns(path, columns)
    report = ImportReport(
        study=study.name,
        file=path.name,
        source_name=source_name or path.name,
        dry_run=dry_run,
        rows_total=len(rows),
        ignored_columns=[c for c in columns if c not in KNOWN_COLUMNS],
    )
    resolver = _Resolver(store, study, winner_map or {}, reviewer_type)
    stored_ids, live = _existing(store, study)
    seen: dict[tuple[str, str], int] = {}
    accepted: list[_Judgment] = []
    for row_number, record, problem in rows:
        try:
            if record is None:
                raise _Rejected("(line)", problem, "write one JSON object per line")
            judgment = resolver.judgment(record)
            if judgment.judgment_id in stored_ids:
                report.already_imported += 1
                continue
            key = (judgment.pair_id, judgment.reviewer)
            if key in seen:
                raise _Rejected(
                    "reviewer",
                    f"{judgment.reviewer!r} already judged this pair in row {seen[key]}",
                    "keep one judgment per reviewer and prompt",
                )
            if key in live:
                raise _Rejected(
                    "reviewer",
                    f"{judgment.reviewer!r} already has a stored judgment of this pair",
                    "drop the row, or have the reviewer undo the stored judgment first",
                )
        except _Rejected as bad:
            report.rejected.append(
                RejectedRow(path.name, row_number, bad.field, bad.problem, bad.fix)
            )
            continue
        seen[key] = row_number
        accepted.append(judgment)
    report.imported = len(accepted)
    report.judgment_ids = [j.judgment_id for j in accepted]
    if not dry_run and accepted:
        _write(store, study, accepted)
        _record_import(store, study, path, report)
    return report


def _record_import(store: Store, study: Study, path: Path, report: ImportReport) -> None:
    """Keep where the judgments came from (source name, file hash, ids) as a setting."""
    file_hash = hashlib.sha256(path.read_bytes()).hexdigest()
    run = hashlib.sha256((file_hash + ",".join(report.judgment_ids)).encode()).hexdigest()
    key = f"judgment_import.{study.study_id.lower()}.{run[:16]}"
    record = {**report.to_dict(), "file_sha256": file_hash, "judgment_ids": report.judgment_ids}
    set_setting(store, key, record)
