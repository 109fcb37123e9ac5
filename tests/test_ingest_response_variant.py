"""Answers of other models ingested under a named answers-only variant (``--response-variant``).

Covers prompt+answer logs and answers-only files, the variant they create, request hashes,
studies that pair two imported variants without generating, refusals (a real variant's name,
bad or key-shaped names) and re-ingest behaviour (same file: no-op; other answers: first kept).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from swapcheck.cli import main
from swapcheck.errors import ConfigError, IngestError
from swapcheck.ingest import ColumnMapping
from swapcheck.models import VariantConfig
from swapcheck.pipeline import generate_study, ingest_file
from swapcheck.store import Store
from swapcheck.store.judgments import pair_content, ready_pair_ids
from swapcheck.store.studies import create_study
from swapcheck.store.variants import get_variant, save_variant
from tests.helpers import write_jsonl
from tests.test_ingest import ingest, sql

PROMPTS = ["How do I reset my password?", "Where is my invoice?", "Cancel my plan", "Hi"]
SHADOW = "gpt-4o-shadow"
EXPORT = "claude-export"


def _shadow_log(tmp_path: Path, name: str = "shadow.jsonl", tag: str = "shadow") -> Path:
    rows = [
        {"id": f"r{i}", "prompt": p, "response": f"{tag} answer {i}"} for i, p in enumerate(PROMPTS)
    ]
    return write_jsonl(tmp_path / name, rows)


def _answers(store: Store, variant: str) -> dict[str, str]:
    """external id → answer text of ``variant``."""
    rows = sql(
        store,
        "SELECT p.external_id, r.text FROM responses r JOIN prompts p USING (prompt_id) "
        "WHERE r.variant = ?",
        [variant],
    )
    return dict(rows)


def _hashes(store: Store, variant: str) -> dict[str, str]:
    """prompt id → stored request hash of ``variant``."""
    return dict(
        sql(store, "SELECT prompt_id, request_hash FROM responses WHERE variant = ?", [variant])
    )


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _cli_json(capsys: Any, args: list[str]) -> dict[str, Any]:
    assert main(["ingest", *args, "--no-derived", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


# --- prompt+answer logs and answers-only files --------------------------------------------


def test_cli_prompt_answer_log_into_named_variant(
    isolated_env: Path, tmp_path: Path, capsys: Any
) -> None:
    path = _shadow_log(tmp_path)
    out = _cli_json(
        capsys,
        [str(path), "--response-column", "response", "--response-variant", SHADOW,
         "--response-model", "gpt-4o-2024-08-06"],
    )  # fmt: skip
    assert (out["rows_ingested"], out["logged_responses"]) == (4, 4)
    assert out["response_variant"] == SHADOW
    with Store(isolated_env, linger=0) as store:
        assert _answers(store, SHADOW) == {f"r{i}": f"shadow answer {i}" for i in range(4)}
        assert _answers(store, "logged") == {}
        variant = get_variant(store, SHADOW)
        assert (variant.provider, variant.model) == ("logged", "gpt-4o-2024-08-06")
        hashes = _hashes(store, SHADOW)
        assert hashes == {pid: _sha(f"logged:{SHADOW}:{pid}") for pid in hashes}
        mapping = json.loads(sql(store, "SELECT mapping FROM sources")[0][0])
        assert mapping["response_variant"] == SHADOW
    assert main(["ingest", str(path), "--response-variant", SHADOW, "--no-derived"]) == 0
    text = capsys.readouterr().out
    assert "already ingested" in text


def test_text_summary_names_the_variant(isolated_env: Path, tmp_path: Path, capsys: Any) -> None:
    path = _shadow_log(tmp_path)
    assert main(["ingest", str(path), "--response-variant", SHADOW, "--no-derived", "--quiet"]) == 0
    assert "4 answers stored as variant 'gpt-4o-shadow'." in capsys.readouterr().out


def test_two_imported_variants_make_a_study_without_generation(
    tmp_store: Store, tmp_path: Path
) -> None:
    """Prompt+answer log into one variant, an answers-only file (by id) into another."""
    shadow = ingest(
        tmp_store, _shadow_log(tmp_path), ColumnMapping(
            prompt_column="prompt", id_column="id", response_column="response",
            response_variant=SHADOW,
        ),
    )  # fmt: skip
    answers = write_jsonl(
        tmp_path / "export.jsonl",
        [{"request": "r0", "output": "export 0"}, {"request": "r2", "output": "export 2"},
         {"request": "r3", "output": "export 3"}, {"request": "r9", "output": "unknown id"}],
    )  # fmt: skip
    export = ingest_file(  # answers-only reports count attached answers apart
        tmp_store, answers,
        ColumnMapping(id_column="request", response_column="output", response_variant=EXPORT),
    )  # fmt: skip
    assert (export.logged_responses, export.rows_rejected) == (3, 1)
    assert export.response_variant == EXPORT
    assert any("answers of variant 'claude-export'" in n for n in export.notes)
    variant = get_variant(tmp_store, EXPORT)
    assert (variant.provider, variant.model) == ("logged", EXPORT)  # model label = the name
    assert _answers(tmp_store, EXPORT) == {"r0": "export 0", "r2": "export 2", "r3": "export 3"}
    hashes = _hashes(tmp_store, EXPORT)
    assert hashes == {pid: _sha(f"logged:{EXPORT}:{pid}") for pid in hashes}
    assert not set(hashes.values()) & set(_hashes(tmp_store, SHADOW).values())

    study = create_study(
        tmp_store, "support upgrade", baseline=SHADOW, candidate=EXPORT,
        sources=[shadow.source_name],
    )  # fmt: skip
    ready = ready_pair_ids(tmp_store, study)
    assert len(ready) == 3  # r1 has no export answer
    contents = {
        c.baseline_text: c.candidate_text
        for c in (pair_content(tmp_store, study, p) for p in ready)
    }
    assert contents == {f"shadow answer {i}": f"export {i}" for i in (0, 2, 3)}
    result = generate_study(tmp_store, study)
    assert result.reports == {} and result.cost == 0
    assert set(result.skipped) == {SHADOW, EXPORT}
    assert result.status[EXPORT] == {"answered": 3, "failed": 0, "missing": 1}


def test_two_eval_runs_with_prompts_share_the_prompts(tmp_store: Store, tmp_path: Path) -> None:
    """A named variant's answer is not part of the prompt's identity: two runs pair up."""
    run_a = ingest(
        tmp_store, _shadow_log(tmp_path, "run_a.jsonl", "A"),
        ColumnMapping(prompt_column="prompt", response_column="response", response_variant="a"),
    )  # fmt: skip
    run_b = ingest(
        tmp_store, _shadow_log(tmp_path, "run_b.jsonl", "B"),
        ColumnMapping(prompt_column="prompt", response_column="response", response_variant="b"),
    )  # fmt: skip
    assert (run_a.rows_ingested, run_b.rows_ingested, run_b.rows_duplicate) == (4, 0, 4)
    assert sql(tmp_store, "SELECT count(*) FROM prompts") == [(4,)]
    study = create_study(
        tmp_store, "eval rerun", baseline="a", candidate="b", sources=["run_a.jsonl"]
    )
    assert len(ready_pair_ids(tmp_store, study)) == 4


def test_named_variant_without_answers_says_so(tmp_store: Store, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": p} for p in PROMPTS])
    report = ingest(tmp_store, path, ColumnMapping(prompt_column="prompt", response_variant=SHADOW))
    assert (report.rows_ingested, report.logged_responses) == (4, 0)
    assert any("no answers found for variant 'gpt-4o-shadow'" in n for n in report.notes)
    assert sql(tmp_store, "SELECT count(*) FROM variants WHERE name = ?", [SHADOW]) == [(0,)]


# --- `logged` unchanged ---------------------------------------------------------------------


def test_default_and_explicit_logged_keep_the_old_hash(tmp_store: Store, tmp_path: Path) -> None:
    first = ingest(tmp_store, _shadow_log(tmp_path, "prod.jsonl", "prod"))
    assert first.response_variant == "logged"
    assert "4 logged answers." in first.summary()
    hashes = _hashes(tmp_store, "logged")
    assert len(hashes) == 4 and hashes == {pid: _sha(f"logged:{pid}") for pid in hashes}
    # The production answer stays part of the prompt's identity: other answers = other prompts.
    second = ingest(
        tmp_store, _shadow_log(tmp_path, "prod2.jsonl", "prod2"),
        ColumnMapping(prompt_column="prompt", id_column="id", response_column="response",
                      response_variant="logged"),
    )  # fmt: skip
    assert (second.rows_ingested, second.logged_responses) == (4, 4)
    assert get_variant(tmp_store, "logged").model == "production log"


# --- refusals -------------------------------------------------------------------------------


def test_name_of_a_real_variant_is_refused_before_anything_is_stored(
    tmp_store: Store, tmp_path: Path
) -> None:
    save_variant(tmp_store, VariantConfig(name="gpt-4o", provider="simulated", model="sim-4o"))
    mapping = ColumnMapping(prompt_column="prompt", response_column="response",
                            response_variant="gpt-4o")  # fmt: skip
    with pytest.raises(IngestError) as err:
        ingest(tmp_store, _shadow_log(tmp_path), mapping)
    assert "already exists as a simulated variant" in err.value.message
    assert "--response-variant" in (err.value.fix or "")
    assert "gpt-4o-imported" in (err.value.fix or "")
    assert sql(tmp_store, "SELECT count(*) FROM sources") == [(0,)]
    assert sql(tmp_store, "SELECT count(*) FROM responses") == [(0,)]
    assert get_variant(tmp_store, "gpt-4o").provider == "simulated"


def test_imported_variant_cannot_become_a_model_variant(tmp_store: Store, tmp_path: Path) -> None:
    mapping = ColumnMapping(prompt_column="prompt", response_column="response",
                            response_variant=SHADOW)  # fmt: skip
    ingest(tmp_store, _shadow_log(tmp_path), mapping)
    with pytest.raises(ConfigError, match="holds imported answers") as err:
        save_variant(tmp_store, VariantConfig(name=SHADOW, provider="simulated", model="x"))
    assert "another name" in (err.value.fix or "")
    assert get_variant(tmp_store, SHADOW).provider == "logged"


@pytest.mark.parametrize("name", ["bad name", "-leading-dash", "x" * 65, "a/b"])
def test_bad_variant_names_are_refused(tmp_store: Store, tmp_path: Path, name: str) -> None:
    mapping = ColumnMapping(prompt_column="prompt", response_column="response",
                            response_variant=name)  # fmt: skip
    with pytest.raises(IngestError) as err:
        ingest(tmp_store, _shadow_log(tmp_path), mapping)
    assert "--response-variant" in err.value.message
    assert "letters, digits" in (err.value.fix or "")
    assert sql(tmp_store, "SELECT count(*) FROM sources") == [(0,)]


def test_key_shaped_variant_name_is_refused_and_not_echoed(
    isolated_env: Path, tmp_path: Path, capsys: Any
) -> None:
    key = "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vW7"
    path = _shadow_log(tmp_path)
    assert main(["ingest", str(path), "--response-variant", key, "--no-derived"]) == 1
    captured = capsys.readouterr()
    assert "--response-variant value looks like an API key" in captured.err
    assert key not in captured.err + captured.out
    assert main(["ingest", str(path), "--response-variant", "ok-name", "--response-model", key,
                 "--no-derived"]) == 1  # fmt: skip
    captured = capsys.readouterr()
    assert "--response-model value looks like an API key" in captured.err
    assert key not in captured.err + captured.out


def test_model_label_needs_a_named_variant(tmp_store: Store, tmp_path: Path) -> None:
    mapping = ColumnMapping(prompt_column="prompt", response_column="response",
                            response_model="gpt-4o")  # fmt: skip
    with pytest.raises(IngestError, match="--response-model only labels"):
        ingest(tmp_store, _shadow_log(tmp_path), mapping)


# --- re-ingest -------------------------------------------------------------------------------


def test_other_answers_for_the_same_variant_keep_the_first(
    tmp_store: Store, tmp_path: Path
) -> None:
    mapping = ColumnMapping(prompt_column="prompt", id_column="id", response_column="response",
                            response_variant=SHADOW)  # fmt: skip
    ingest(tmp_store, _shadow_log(tmp_path), mapping)
    again = ingest_file(tmp_store, _shadow_log(tmp_path), mapping)  # counts nothing new
    assert again.already_ingested and again.logged_responses == 0
    later = ingest(tmp_store, _shadow_log(tmp_path, "shadow2.jsonl", "later"), mapping)
    assert (later.rows_ingested, later.rows_duplicate, later.logged_responses) == (0, 4, 0)
    assert any("4 prompt(s) already had an answer of variant 'gpt-4o-shadow'" in n
               for n in later.notes)  # fmt: skip
    fix = write_jsonl(tmp_path / "fix.jsonl", [{"id": "r1", "response": "answers-only retry"}])
    answers_only = ingest_file(
        tmp_store, fix,
        ColumnMapping(id_column="id", response_column="response", response_variant=SHADOW),
    )  # fmt: skip
    assert (answers_only.logged_responses, answers_only.rows_duplicate) == (0, 1)
    assert _answers(tmp_store, SHADOW) == {f"r{i}": f"shadow answer {i}" for i in range(4)}


def test_same_file_under_another_named_variant_is_explained(
    tmp_store: Store, tmp_path: Path
) -> None:
    path = _shadow_log(tmp_path)
    ingest(tmp_store, path)  # into `logged` first, by mistake
    mapping = ColumnMapping(prompt_column="prompt", response_column="response",
                            response_variant=SHADOW)  # fmt: skip
    with pytest.raises(IngestError) as err:
        ingest(tmp_store, path, mapping)
    assert "stored as variant 'logged'" in err.value.message
    assert "nothing was stored as variant 'gpt-4o-shadow'" in err.value.message
    assert "gzip -k" in (err.value.fix or "")
    assert _answers(tmp_store, SHADOW) == {}
    # Without a named variant the same file again is the usual no-op.
    assert ingest_file(tmp_store, path, ColumnMapping(prompt_column="prompt")).already_ingested


# --- the Ingest page -----------------------------------------------------------------------


def test_ingest_page_stores_answers_under_the_named_variant(
    isolated_env: Path, tmp_path: Path
) -> None:
    from tests.apptest_utils import assert_no_exception, open_page

    at = open_page("ingest")
    body = _shadow_log(tmp_path).read_bytes()
    at.file_uploader[0].upload("shadow.jsonl", body, "application/json")
    at.run()
    assert_no_exception(at)
    assert at.text_input(key="map_response_variant").value == "logged"
    at.text_input(key="map_response_variant").input(SHADOW)
    at.text_input(key="map_response_model").input("gpt-4o")
    at.button[0].click().run()
    assert_no_exception(at)
    assert "4 answers stored as variant 'gpt-4o-shadow'" in at.success[0].value
    with Store(isolated_env, linger=0) as store:
        assert _answers(store, SHADOW) == {f"r{i}": f"shadow answer {i}" for i in range(4)}
        assert get_variant(store, SHADOW).model == "gpt-4o"


def test_imported_variants_are_not_exported_and_their_names_may_not_leak(
    tmp_store: Store, tmp_path: Path
) -> None:
    from swapcheck.errors import StudyError
    from swapcheck.store.variants import list_variants
    from swapcheck.variants_toml import export_variants_toml

    mapping = ColumnMapping(
        prompt_column="prompt", id_column="id", response_column="response",
        response_variant=SHADOW, response_model="gpt-4o",
    )  # fmt: skip
    report = ingest_file(tmp_store, _shadow_log(tmp_path), mapping=mapping, derived_slices=False)
    save_variant(tmp_store, VariantConfig(name="cand", provider="simulated", model="sim-b"))
    # Answers-only variants generate nothing, so a variants file never carries them.
    assert SHADOW not in export_variants_toml(list_variants(tmp_store))
    # Reviewers see the study name: it may not name the imported variant or its model.
    with pytest.raises(StudyError):
        create_study(
            tmp_store, "gpt-4o vs cand", baseline=SHADOW, candidate="cand",
            sources=[report.source_id],
        )  # fmt: skip
