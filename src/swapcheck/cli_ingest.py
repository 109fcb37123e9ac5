"""`swapcheck ingest`: a log file (local path or http(s) URL) into the store, with progress."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlparse

import httpx

from swapcheck.errors import IngestError
from swapcheck.ingest_shapes import TURNS, ColumnMapping

_MAPPING_OPTIONS = (
    "prompt_column", "messages_column", "system_column", "id_column", "response_column",
    "timestamp_column",
)  # fmt: skip


def add_parser(sub: Any, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "ingest",
        parents=[common],
        help="load a prompt log: JSONL, JSON array, CSV, TSV or Parquet (also .gz), or a URL",
    )
    p.add_argument("file", help="path on this machine, or an http(s):// URL to download")
    p.add_argument("--name", help="source name (default: file name); same name = new version")
    p.add_argument("--prompt-column", help="plain-text prompt column")
    p.add_argument("--messages-column", help="chat messages column or path, e.g. body.messages")
    p.add_argument("--system-column", help="system prompt column (text or text blocks)")
    p.add_argument("--id-column")
    p.add_argument(
        "--response-column",
        help="answer column: the logged production answer (variant 'logged'), or the answers "
        "of the variant named by --response-variant",
    )
    p.add_argument(
        "--response-variant",
        metavar="NAME",
        help="store the answers as this answers-only variant (created if missing), e.g. "
        "gpt-4o-shadow; default: logged",
    )
    p.add_argument(
        "--response-model",
        metavar="MODEL",
        help="model label of a new --response-variant (default: its name)",
    )
    p.add_argument("--timestamp-column", help="when the request was logged (ISO 8601 or epoch)")
    p.add_argument("--slice", action="append", default=[], help="metadata column (repeatable)")
    p.add_argument(
        "--turn", choices=TURNS, default=None, help="user turn under study in multi-turn logs"
    )
    p.add_argument(
        "--near-duplicates",
        action="store_true",
        help="collapse prompts equal up to case, whitespace and numbers (count kept as weight)",
    )
    p.add_argument("--no-derived", action="store_true", help="skip the derived slices")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--strict", action="store_true", help="exit 3 when any row was rejected")
    return p


def build_mapping(args: argparse.Namespace, path: Path) -> ColumnMapping | None:
    """The guessed mapping with every option the user gave on top (None: guess everything)."""
    from swapcheck.ingest import suggest_mapping

    given = {name: getattr(args, name) for name in _MAPPING_OPTIONS if getattr(args, name)}
    answers_to = _answer_options(args)
    if not given and not args.slice and not args.turn and not answers_to:
        return None
    guessed = suggest_mapping(path).with_overrides(**answers_to)
    if "prompt_column" in given:
        guessed = guessed.with_overrides(messages_column=None)
    if "messages_column" in given:
        guessed = guessed.with_overrides(prompt_column=None)
    changes: dict[str, Any] = dict(given)
    if args.slice:
        changes["slice_columns"] = tuple(args.slice)
    if args.turn:
        changes["turn"] = args.turn
    return guessed.with_overrides(shape="custom" if given else guessed.shape, **changes)


def _answer_options(args: argparse.Namespace) -> dict[str, str]:
    """The --response-variant / --response-model the user gave (as mapping fields)."""
    out = {}
    if getattr(args, "response_variant", None) is not None:
        out["response_variant"] = args.response_variant
    if getattr(args, "response_model", None) is not None:
        out["response_model"] = args.response_model
    return out


def run(args: argparse.Namespace, store: Any) -> int:
    from swapcheck.pipeline import ingest_file

    show = _progress_printer(sys.stderr) if not (args.quiet or args.json) else None
    try:
        with _local_copy(args.file, show) as path:
            report = ingest_file(
                store,
                path,
                mapping=build_mapping(args, path),
                source_name=args.name or (Path(urlparse(args.file).path).name or None),
                near_duplicates=args.near_duplicates,
                derived_slices=not args.no_derived,
                progress=show,
            )
    finally:
        if show:  # end the progress line, also before an error message
            print(file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {
                    "source_id": report.source_id,
                    "source": report.source_name,
                    "already_ingested": report.already_ingested,
                    "new_version": report.replaced_version,
                    "rows_total": report.rows_total,
                    "rows_ingested": report.rows_ingested,
                    "rows_duplicate": report.rows_duplicate,
                    "rows_rejected": report.rows_rejected,
                    "logged_responses": report.logged_responses,
                    "response_variant": report.response_variant,
                    "notes": report.notes,
                    "rejects": report.rejects[["row_number", "field", "reason"]].to_dict("records")
                    if len(report.rejects)
                    else [],
                },
                indent=2,
                default=str,
            )
        )
    else:
        print(report.summary())
        for note in report.notes:
            print(f"  note: {note}")
        for row in report.rejects.head(50).itertuples():
            print(f"  rejected: {row.reason}", file=sys.stderr)
        if len(report.rejects) > 50:
            print(
                f"  … and {len(report.rejects) - 50} more: swapcheck quarantine --source "
                f"{report.source_name!r}",
                file=sys.stderr,
            )
    return 3 if args.strict and report.rows_rejected else 0


def _progress_printer(stream: TextIO) -> Any:
    last = [0.0]

    def show(fraction: float, what: str) -> None:
        now = time.monotonic()
        if now - last[0] < 0.2 and fraction < 1:
            return
        last[0] = now
        filled = int(30 * max(0.0, min(fraction, 1.0)))
        stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%} {what[:40]:<40}")
        stream.flush()

    return show


@contextmanager
def _local_copy(location: str, show: Any) -> Iterator[Path]:
    """A local path as is; an http(s) URL downloaded (streamed) into a temporary directory."""
    scheme = urlparse(location).scheme
    if scheme not in ("http", "https"):
        yield Path(location)
        return
    name = Path(urlparse(location).path).name or "download.jsonl"
    with tempfile.TemporaryDirectory(prefix="swapcheck-download-") as tmp:
        target = Path(tmp) / name
        try:
            with httpx.stream("GET", location, follow_redirects=True, timeout=60) as response:
                response.raise_for_status()
                total = int(response.headers.get("content-length") or 0)
                done = 0
                with target.open("wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
                        done += len(chunk)
                        if show:
                            show(done / total * 0.1 if total else 0.0, f"downloading {name}")
        except httpx.HTTPError as exc:
            raise IngestError(
                f"could not download {location}: {exc}",
                "check the URL (and that this machine can reach it), or download the file and "
                "pass its path",
            ) from exc
        yield target
