"""Where a log comes from: an http(s) URL for the CLI, the server import folder for the page."""

from __future__ import annotations

import gzip
import http.server
import json
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from swapcheck.cli import main
from swapcheck.store import Store
from tests.apptest_utils import assert_no_exception, open_page
from tests.helpers import small_log_rows

pytestmark = pytest.mark.both_backends  # tmp_store: DuckDB and PostgreSQL


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A static HTTP server on 127.0.0.1 serving ``tmp_path / 'served'``."""
    root = tmp_path / "served"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_cli_ingests_a_gzipped_log_from_a_url(
    file_server: tuple[str, Path], capsys: pytest.CaptureFixture[str], isolated_env: Path
) -> None:
    base, root = file_server
    lines = "".join(json.dumps(r) + "\n" for r in small_log_rows(5))
    (root / "prod.jsonl.gz").write_bytes(gzip.compress(lines.encode()))
    code = main(["ingest", f"{base}/prod.jsonl.gz", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["source"] == "prod.jsonl.gz" and out["rows_ingested"] == 5
    store = Store(isolated_env, linger=0)
    with store.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM prompts").fetchall()[0][0] == 5
    store.close()


def test_cli_names_a_url_that_cannot_be_downloaded(
    file_server: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, _root = file_server
    code = main(["ingest", f"{base}/missing.jsonl"])
    err = capsys.readouterr().err
    assert code != 0
    assert "missing.jsonl" in err and "404" in err and "Traceback" not in err


def test_ingest_page_takes_a_file_from_the_import_folder_and_a_fixed_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    folder = tmp_path / "imports"
    folder.mkdir()
    monkeypatch.setenv("SWAPCHECK_IMPORT_DIR", str(folder))
    rows = small_log_rows(4)
    broken = [json.dumps(r) for r in rows]
    broken[1] = json.dumps({**rows[1], "prompt": ""})
    (folder / "nightly.jsonl").write_text("\n".join(broken) + "\n")
    at = open_page("ingest")
    at.selectbox(key="ingest_server_file").select("nightly.jsonl").run()
    assert_no_exception(at)
    at.button[0].click().run()
    assert_no_exception(at)
    assert "3 new prompts" in at.success[0].value and "1 rejected" in at.success[0].value
    assert "field 'prompt'" in " ".join(at.dataframe[-1].value["reason"])

    (folder / "nightly.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    at.run()
    at.button[0].click().run()
    assert_no_exception(at)
    assert "new version" in at.success[0].value and "1 new prompts" in at.success[0].value
    assert any("No rejected rows" in c.value for c in at.caption)
