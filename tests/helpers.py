"""Small builders for test data: log files and ready-to-review studies."""

from __future__ import annotations

import json
from pathlib import Path

from swapcheck.ingest import ColumnMapping
from swapcheck.models import VariantConfig
from swapcheck.pipeline import generate_study, ingest_file
from swapcheck.store import Store
from swapcheck.store.studies import Study, create_study
from swapcheck.store.variants import save_variant


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def small_log_rows(n: int = 12) -> list[dict]:
    features = ["chat", "json", "summary"]
    locales = ["en-US", "de-DE"]
    return [
        {
            "id": f"r{i}",
            "prompt": f"Question number {i}: how do I reset my password on device {i % 5}?",
            "feature": features[i % len(features)],
            "locale": locales[i % len(locales)],
            "response": f"Logged answer {i}: open settings and choose reset.",
        }
        for i in range(n)
    ]


def simulated_study(
    store: Store, tmp_path: Path, n: int = 12, overlap: int = 1, name: str = "password reset check"
) -> Study:
    """Ingest a small log, answer it with two simulated variants and return the study."""
    log = write_jsonl(tmp_path / "small.jsonl", small_log_rows(n))
    report = ingest_file(
        store,
        log,
        mapping=ColumnMapping(
            prompt_column="prompt",
            id_column="id",
            response_column="response",
            slice_columns=("feature", "locale"),
        ),
    )
    save_variant(store, VariantConfig(name="base", provider="simulated", model="sim-a"))
    save_variant(store, VariantConfig(name="cand", provider="simulated", model="sim-b"))
    study = create_study(
        store, name, baseline="base", candidate="cand", sources=[report.source_id], overlap=overlap
    )
    generate_study(store, study)
    return study
