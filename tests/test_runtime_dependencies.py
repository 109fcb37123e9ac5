"""The package runs on its runtime dependencies alone: test-only libraries are never imported."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "swapcheck"
TEST_ONLY = ("scipy", "statsmodels", "hypothesis", "pytest", "playwright")
OPTIONAL = ("wordllama", "psycopg", "psycopg_pool", "sqlglot")
"""Extras (`embeddings`, `postgres`): imported lazily, only when used."""
NEEDS_EXTRA = ("swapcheck.store.sql_postgres",)
"""The one module that is the `postgres` extra's SQL translation; imported only by a
PostgresStore."""

_BLOCKER = f"""
import importlib.abc, importlib.util, pkgutil, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {TEST_ONLY + OPTIONAL!r}:
            raise ImportError(f"{{name}} is not a runtime dependency")
        return None

sys.meta_path.insert(0, Block())
import swapcheck
failed = []
for info in pkgutil.walk_packages(swapcheck.__path__, "swapcheck."):
    if info.name in {NEEDS_EXTRA!r}:
        continue
    try:
        importlib.import_module(info.name)
    except ImportError as exc:
        failed.append(f"{{info.name}}: {{exc}}")
print("\\n".join(failed))
"""


def test_every_module_imports_without_test_only_or_optional_libraries() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _BLOCKER], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", done.stdout


def test_no_module_imports_a_test_only_library_even_lazily() -> None:
    pattern = re.compile(rf"^\s*(?:from|import)\s+({'|'.join(TEST_ONLY)})\b", re.MULTILINE)
    offenders = [
        f"{path.relative_to(SRC)}: {match.group(0).strip()}"
        for path in SRC.rglob("*.py")
        for match in pattern.finditer(path.read_text("utf-8"))
    ]
    assert offenders == []
