"""Open a log file for ingest: format from name and bytes, gzip and UTF-16 unwrapped, hashed."""

from __future__ import annotations

import codecs
import hashlib
import shutil
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from swapcheck.errors import IngestError

TEXT_FORMATS = ("jsonl", "json", "csv", "tsv")
FORMATS = (*TEXT_FORMATS, "parquet")
EXTENSIONS: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonlines": "jsonl",
    ".json": "json",  # a JSON array, or JSON Lines if the first value is an object
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
GZIP_SUFFIXES = (".gz", ".gzip")
_CHUNK = 8 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_UTF16_BOMS = {codecs.BOM_UTF32_LE: "utf-32", codecs.BOM_UTF32_BE: "utf-32",
               codecs.BOM_UTF16_LE: "utf-16", codecs.BOM_UTF16_BE: "utf-16"}  # fmt: skip
ROW_LABELS = {"jsonl": "line", "json": "element", "csv": "line", "tsv": "line", "parquet": "row"}
"""How reasons name a row of each format."""
SUPPORTED = "JSON Lines, JSON array, CSV, TSV or Parquet, optionally gzip-compressed"

ProgressFn = Callable[[float, str], None]
"""progress(fraction 0..1, what is happening)."""


@dataclass
class LogFile:
    """A log ready for DuckDB: a plain UTF-8 (or Parquet) file plus what was learnt opening it."""

    name: str
    source_path: Path
    path: Path  # the file DuckDB reads: the original, or a decompressed/transcoded copy
    format: str
    file_hash: str  # sha256 of the bytes as uploaded (compressed, if it was)
    size: int
    compression: str | None = None
    lines: int = 0  # physical lines in the text (0 for Parquet)
    has_blank_lines: bool = False
    truncated_after_line: int | None = None  # a damaged gzip stream ends after this line
    truncation_error: str | None = None
    truncation_raw: str = ""  # the incomplete line the damage cut off
    notes: list[str] = field(default_factory=list)
    workdir: Path | None = None  # scratch folder removed when the log is closed

    def with_unix_newlines(self) -> None:
        """Rewrite CRLF line ends as LF in a scratch copy (DuckDB's sniffer rejects mixed ones)."""
        if self.workdir is None:
            raise IngestError(f"{self.name}: no scratch folder.", "open the log with open_log")
        target = self.workdir / "lf"
        carry = b""
        with self.path.open("rb") as src, target.open("wb") as dst:
            while block := src.read(_CHUNK):
                block = carry + block
                carry = b"\r" if block.endswith(b"\r") else b""
                dst.write(block[: len(block) - len(carry)].replace(b"\r\n", b"\n"))
            dst.write(carry)
        self.path = target
        self.notes.append(f"{self.name}: mixed line endings (CRLF and LF) read as LF")


def format_for(path: str | Path) -> tuple[str, str | None]:
    """(format, compression) from the file name, e.g. ``x.csv.gz`` → ('csv', 'gzip')."""
    p = Path(path)
    suffixes = [s.lower() for s in p.suffixes]
    compression = None
    if suffixes and suffixes[-1] in GZIP_SUFFIXES:
        compression = "gzip"
        suffixes = suffixes[:-1]
    fmt = EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        shown = "".join(p.suffixes) or "(none)"
        raise IngestError(
            f"{p.name}: unsupported file extension {shown!r}.",
            "save the log as " + SUPPORTED + " (" + ", ".join(EXTENSIONS) + ", plus .gz)",
        )
    return fmt, compression


@contextmanager
def open_log(
    path: str | Path, progress: ProgressFn | None = None, *, head_bytes: int | None = None
) -> Iterator[LogFile]:
    """Check, hash and (if needed) unwrap ``path``; temporary copies are removed on exit.

    With ``head_bytes`` (previews, mapping guesses) the file is neither hashed nor read whole:
    a text log is cut to about its first ``head_bytes`` (at a line end), and ``file_hash`` is
    empty. JSON arrays, Parquet and UTF-16 files are still read whole.
    """
    p = Path(path)
    if not p.exists():
        raise IngestError(f"{p} does not exist.", "check the path and try again")
    if not p.is_file():
        raise IngestError(f"{p} is not a file.", "pass the path of a log file: " + SUPPORTED)
    fmt, compression = format_for(p)
    size = p.stat().st_size
    if size == 0:
        raise IngestError(f"{p.name} is empty (0 bytes).", "export the log again; it has no rows")
    with p.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(_GZIP_MAGIC):
        compression = "gzip"
    elif compression == "gzip":
        raise IngestError(
            f"{p.name} is named .gz but is not gzip-compressed.",
            "rename it without .gz, or compress it with gzip",
        )
    workdir = Path(tempfile.mkdtemp(prefix="swapcheck-ingest-"))
    try:
        log = LogFile(p.name, p, p, fmt, "", size, compression, workdir=workdir)
        whole = head_bytes is None or fmt in ("json", "parquet")
        hasher = _Hasher(p, size, progress) if head_bytes is None else None
        if compression == "gzip":
            _gunzip(log, workdir / "plain", progress, limit=None if whole else head_bytes)
        elif not whole and size > (head_bytes or 0) and not _has_wide_bom(p):
            _copy_head(log, workdir / "head", head_bytes or 0)
        if log.format == "parquet" or _starts_with(log.path, _PARQUET_MAGIC):
            log.format = "parquet"
        else:
            _to_utf8(log, workdir / "utf8")
            _check_text(log)
        if hasher is not None:
            log.file_hash = hasher.result()
        yield log
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class _Hasher:
    """sha256 of a file on a thread (hashlib releases the GIL), while the file is checked.

    Progress is reported from the calling thread only, in :meth:`result`.
    """

    def __init__(self, path: Path, size: int, progress: ProgressFn | None) -> None:
        self.digest = ""
        self.error: BaseException | None = None
        self.progress = progress
        self.thread = threading.Thread(target=self._run, args=(path, size), daemon=True)
        if progress:
            progress(0.0, "hashing the file")
        self.thread.start()

    def _run(self, path: Path, size: int) -> None:
        try:
            self.digest = _hash_file(path, size, None)
        except BaseException as exc:  # re-raised in the caller's thread
            self.error = exc

    def result(self) -> str:
        self.thread.join()
        if self.error is not None:
            raise self.error
        if self.progress:
            self.progress(0.1, "hashed the file")
        return self.digest


def _hash_file(path: Path, size: int, progress: ProgressFn | None) -> str:
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
            done += len(block)
            if progress:
                progress(0.1 * done / max(size, 1), "hashing the file")
    return digest.hexdigest()


def _starts_with(path: Path, magic: bytes) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(magic)) == magic


def _has_wide_bom(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(4)
    return any(head.startswith(bom) for bom in _UTF16_BOMS)


def _copy_head(log: LogFile, target: Path, limit: int) -> None:
    """Point ``log`` at a copy of its first ``limit`` bytes, cut after the last full line."""
    with log.path.open("rb") as src, target.open("wb") as dst:
        dst.write(src.read(limit))
    _cut_at_last_newline(target)
    if target.stat().st_size:  # else a single line is longer than the head: read it all
        log.path = target


def _gunzip(
    log: LogFile, target: Path, progress: ProgressFn | None, limit: int | None = None
) -> None:
    """Decompress to ``target``; a damaged stream keeps every complete line before the damage.

    With ``limit``, stop after about that many bytes, cut at the last full line.
    """
    written = 0
    problem: str | None = None
    with log.source_path.open("rb") as src, target.open("wb") as dst:
        inflater = zlib.decompressobj(wbits=31)
        while block := src.read(1 << 16):
            while block:
                try:
                    out = inflater.decompress(block)
                except zlib.error as exc:
                    problem = str(exc)
                    break
                dst.write(out)
                written += len(out)
                block = inflater.unused_data
                if block and inflater.eof:  # a multi-member gzip: start the next member
                    inflater = zlib.decompressobj(wbits=31)
                else:
                    block = b""
            if problem or (limit is not None and written >= limit):
                break
            if progress:
                progress(0.1, f"decompressing ({written >> 20} MB so far)")
        if limit is not None and written >= limit:
            _cut_at_last_newline(target)
            if not target.stat().st_size:  # one line longer than the head: decompress it all
                _gunzip(log, target, progress)
                return
            log.path = target
            return
        if problem is None and not inflater.eof:
            problem = "the stream ends before the end of the compressed data"
    if problem is not None:
        log.truncation_raw = _cut_at_last_newline(target)
        log.truncation_error = (
            f"the gzip file is damaged or truncated ({problem}); everything after this point "
            "is missing — compress or download the file again"
        )
        log.notes.append(f"{log.name}: gzip stream damaged; kept the complete lines before it")
    log.path = target


def _cut_at_last_newline(path: Path) -> str:
    """Drop the incomplete last line of ``path``; return it (clipped) for the quarantine."""
    size = path.stat().st_size
    with path.open("r+b") as handle:
        pos = size
        while pos > 0:
            step = min(_CHUNK, pos)
            handle.seek(pos - step)
            block = handle.read(step)
            cut = block.rfind(b"\n")
            if cut >= 0:
                handle.seek(pos - step + cut + 1)
                tail = handle.read(4000)
                handle.truncate(pos - step + cut + 1)
                return tail.decode("utf-8", errors="replace")
            pos -= step
        handle.seek(0)
        tail = handle.read(4000)
        handle.truncate(0)
        return tail.decode("utf-8", errors="replace")


def _to_utf8(log: LogFile, target: Path) -> None:
    """Transcode UTF-16/UTF-32 files (recognised by their byte-order mark) to UTF-8."""
    with log.path.open("rb") as handle:
        head = handle.read(4)
    encoding = next((enc for bom, enc in _UTF16_BOMS.items() if head.startswith(bom)), None)
    if encoding is None:
        return
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with log.path.open("rb") as src, target.open("w", encoding="utf-8", newline="") as dst:
            while block := src.read(_CHUNK):
                dst.write(decoder.decode(block))
            dst.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{log.name} starts with a {encoding.upper()} byte-order mark but byte "
            f"{exc.start + 1} is not valid {encoding.upper()}.",
            "re-export the log as UTF-8",
        ) from exc
    log.path = target
    log.notes.append(f"{log.name}: converted from {encoding.upper()} to UTF-8")


def _sniffs(path: Path) -> bool:
    """Whether DuckDB's CSV sniffer can read the file as it is."""
    con = duckdb.connect()
    try:
        con.execute("SELECT * FROM sniff_csv(?)", [str(path)]).fetchall()
    except duckdb.Error:
        return False
    finally:
        con.close()
    return True


def _line_feeds(lines: int, last: bytes) -> int:
    """Line feeds in a file of ``lines`` lines whose last byte is ``last``."""
    return lines if last == b"\n" else lines - 1


def _looks_binary(head: bytes) -> bool:
    """More than 10% NUL/control bytes or undecodable characters: not a text log."""
    if not head:
        return False
    text = head.decode("utf-8", errors="replace")
    bad = sum(1 for ch in text if ch == "\ufffd" or (ch < " " and ch not in "\t\r\n"))
    return bad > max(8, len(text) // 10)


def _check_text(log: LogFile) -> None:
    """Count lines, spot blank lines and binary content, and settle .json (array or lines).

    One pass of cheap scans per block (a line-feed count; two-byte searches only where they
    are needed): blank lines matter for CSV/TSV row numbers only, and CRLF only if the block
    holds a carriage return at all.
    """
    lines = crlf = 0
    blank = False
    want_blank = log.format in ("csv", "tsv")
    last = b"\n"
    first_char = b""
    with log.path.open("rb") as handle:
        head = handle.read(65536)
        if _looks_binary(head):
            raise IngestError(
                f"{log.name} looks like binary data, not text (control bytes and invalid "
                "UTF-8 in its first bytes).",
                "upload the log itself: " + SUPPORTED,
            )
        handle.seek(0)
        while block := handle.read(_CHUNK):
            lines += block.count(b"\n")
            if b"\r" in block:
                crlf += block.count(b"\r\n") + (last == b"\r" and block[:1] == b"\n")
            if want_blank and not blank:
                edge = last + block[:2]  # a blank line across the block boundary
                blank = b"\n\n" in block or b"\n\r\n" in block
                blank = blank or edge.startswith((b"\n\n", b"\n\r\n"))
            if not first_char:
                stripped = block.lstrip(b" \t\r\n\xef\xbb\xbf")
                first_char = stripped[:1]
            last = block[-1:]
    if last != b"\n":
        lines += 1
    if not first_char and log.truncation_error is not None:
        raise IngestError(
            f"{log.name}: {log.truncation_error.replace('after this point', 'of it')}",
            "compress or download the file again",
        )
    if not first_char:
        raise IngestError(
            f"{log.name} holds only whitespace.", "export the log again; it has no rows"
        )
    log.lines = lines
    log.has_blank_lines = blank
    if 0 < crlf < _line_feeds(lines, last) and (log.format == "jsonl" or not _sniffs(log.path)):
        log.with_unix_newlines()  # DuckDB's sniffer gives up on a mix of CRLF and LF
    if log.truncation_error is not None:
        log.truncated_after_line = lines
    if log.format == "json":
        log.format = "json" if first_char == b"[" else "jsonl"
    elif log.format == "jsonl" and first_char == b"[" and lines <= 1:
        log.format = "json"
