"""Variants page under AppTest: add, edit, list, delete, TOML export/import; keys never shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from swapcheck.models import VariantConfig
from swapcheck.store import Store
from swapcheck.store.variants import get_variant, list_variants, save_variant
from swapcheck.variants_toml import export_variants_toml, parse_variants_toml
from tests.apptest_utils import assert_no_exception, browser_payload, open_page

NEW = "vf_(new variant)_"
PLANTED_KEY = "sk-proj-PLANTED0a1b2c3d4e5f6g7h8i9j"


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[bytes, str, str | None]]]:
    """Every (data, mimetype, file name) the page hands to a download button."""
    seen: list[tuple[bytes, str, str | None]] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self: Any, data: Any, mimetype: str, kind: Any, filename: str | None = None) -> str:
        if isinstance(data, bytes):
            seen.append((data, mimetype, filename))
        return original(self, data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    yield seen


def stored(db: Path) -> list[VariantConfig]:
    store = Store(db, linger=0)
    try:
        return list_variants(store)
    finally:
        store.close()


def fill_new_variant(at: AppTest) -> None:
    at.text_input(key=NEW + "name").input("cand")
    at.selectbox(key=NEW + "provider").select("simulated")
    at.text_input(key=NEW + "model").input("sim-1")
    at.text_input(key=NEW + "api_key_env").input("CAND_KEY")
    at.number_input(key=NEW + "temperature").set_value(0.3)
    at.number_input(key=NEW + "max_tokens").set_value(256)
    at.text_area(key=NEW + "stop").input("###\nEND")
    at.text_area(key=NEW + "extra_params").input('{"seed": 7}')
    at.radio(key=NEW + "prompt_mode").set_value("Wrap it (template with {system})")
    at.text_area(key=NEW + "system_prompt").input("Be brief.\n{system}")
    at.number_input(key=NEW + "price_in").set_value(0.5)
    at.number_input(key=NEW + "rpm").set_value(60)


def test_add_edit_list_and_delete_a_variant(isolated_env: Path) -> None:
    at = open_page("variants")
    assert "No variant yet" in at.info[0].value
    providers = at.selectbox(key=NEW + "provider").options
    from swapcheck.providers import provider_names

    assert providers == [p for p in provider_names() if p != "logged"]

    fill_new_variant(at)
    at.form_submit_button[0].click().run()
    assert_no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert at.success[0].value == "Variant cand saved."
    (saved,) = stored(isolated_env)
    assert saved == VariantConfig(
        name="cand", provider="simulated", model="sim-1", api_key_env="CAND_KEY",
        params={"temperature": 0.3, "max_tokens": 256, "stop": ["###", "END"], "seed": 7},
        price_input_per_mtok=0.5, system_prompt="Be brief.\n{system}", requests_per_minute=60,
    )  # fmt: skip
    row = at.dataframe[0].value.iloc[0]
    assert (row["name"], row["model"], row["key variable"], row["key"]) == (
        "cand", "sim-1", "CAND_KEY", "not set",
    )  # fmt: skip
    assert row["RPM"] == 60 and row["system prompt"] == "Be brief. {system}"

    # after saving, the form edits the saved variant; changing the model updates it in place
    assert at.selectbox(key="variant_choice").value == "cand"
    at.text_input(key="vf_cand_model").input("sim-2")
    at.form_submit_button[0].click().run()
    assert_no_exception(at)
    (edited,) = stored(isolated_env)
    assert edited == VariantConfig(**{**saved.__dict__, "model": "sim-2"})
    assert at.dataframe[0].value.iloc[0]["model"] == "sim-2"

    # saving again untouched keeps every value exactly (0.3 stays 0.3, 256 stays an int)
    at.form_submit_button[0].click().run()
    assert stored(isolated_env) == [edited]

    # delete asks first
    at.button(key="variant_delete").click().run()
    assert "cannot be undone" in at.warning[0].value
    assert stored(isolated_env) == [edited]
    at.button(key="variant_delete_confirm").click().run()
    assert_no_exception(at)
    assert at.success[0].value == "Variant cand deleted."
    assert stored(isolated_env) == []


def test_form_problems_are_shown_with_their_fix(isolated_env: Path) -> None:
    at = open_page("variants")
    at.text_input(key=NEW + "name").input("bad one")
    at.text_input(key=NEW + "model").input("m")
    at.text_area(key=NEW + "extra_params").input('{"api_key": "abc", "temperature": 1}')
    at.form_submit_button[0].click().run()
    assert_no_exception(at)
    (error,) = at.error
    assert "extra params (JSON)" in error.value and "own input" in error.value
    at.text_area(key=NEW + "extra_params").input('{"api_key": "abc"}')
    at.form_submit_button[0].click().run()
    text = at.error[0].value
    assert "not allowed" in text and "params.api_key" in text and "api_key_env" in text
    assert text.count("**Fix:**") == 2
    assert stored(isolated_env) == []

    # a new variant never overwrites an existing one of the same name
    store = Store(isolated_env, linger=0)
    save_variant(store, VariantConfig(name="taken", provider="simulated", model="m"))
    store.close()
    at = open_page("variants")
    at.text_input(key=NEW + "name").input("taken")
    at.text_input(key=NEW + "model").input("other")
    at.form_submit_button[0].click().run()
    assert "already exists" in at.error[0].value and "Fix" in at.error[0].value
    assert stored(isolated_env)[0].model == "m"


def test_export_bytes_parse_back_to_the_same_variants(
    isolated_env: Path, downloads: list[tuple[bytes, str, str | None]]
) -> None:
    store = Store(isolated_env, linger=0)
    variants = [
        VariantConfig(name="a", provider="simulated", model="m", params={"temperature": 0}),
        VariantConfig(name="b", provider="openai", model="gpt", base_url="http://127.0.0.1:1/v1",
                      api_key_env="B_KEY", system_prompt="x", max_concurrency=2),
    ]  # fmt: skip
    for v in variants:
        save_variant(store, v)
    store.close()
    at = open_page("variants")
    (button,) = at.download_button
    assert button.label == "Download variants.toml"
    exported = [d for d in downloads if d[2] == "variants.toml"]
    assert exported, downloads
    data = exported[-1][0]
    assert parse_variants_toml(data) == variants
    assert data.decode() == export_variants_toml(variants)


def test_import_through_the_uploader_previews_then_applies(isolated_env: Path) -> None:
    store = Store(isolated_env, linger=0)
    save_variant(store, VariantConfig(name="a", provider="simulated", model="old"))
    store.close()
    text = (
        '[variants.a]\nprovider = "simulated"\nmodel = "new"\n\n'
        '[variants.b]\nprovider = "simulated"\nmodel = "m"\n[variants.b.params]\nseed = 3\n'
    )
    at = open_page("variants")
    at.file_uploader(key="variants_toml_upload").upload("team.toml", text.encode(), "text/plain")
    at.run()
    assert_no_exception(at)
    preview = at.dataframe[-1].value
    assert list(preview["variant"]) == ["a", "b"]
    assert list(preview["action"]) == ["update", "add"]
    assert "'old' → 'new'" in preview["changes"][0]
    assert [v.model for v in stored(isolated_env)] == ["old"]  # the preview saved nothing

    at.button(key="variants_apply_import").click().run()
    assert_no_exception(at)
    assert "Imported team.toml: 2 variants" in at.success[0].value
    store = Store(isolated_env, linger=0)
    assert get_variant(store, "a").model == "new"
    assert get_variant(store, "b").params == {"seed": 3}
    store.close()


def test_a_bad_upload_lists_every_problem_and_saves_nothing(isolated_env: Path) -> None:
    text = (
        '[variants.a]\nprovider = "nope"\nmodel = "m"\n'
        f'[variants.b]\nprovider = "simulated"\nmodel = "m"\napi_key = "{PLANTED_KEY}"\n'
    )
    at = open_page("variants")
    at.file_uploader(key="variants_toml_upload").upload("team.toml", text.encode(), "text/plain")
    at.run()
    assert_no_exception(at)
    error = at.error[0].value
    assert "team.toml" in error and "[a] provider" in error and "[b] api_key" in error
    assert error.count("**Fix:**") == 2
    assert not _has_key(at)  # no Apply button for a file with problems
    assert PLANTED_KEY not in browser_payload(at)
    assert stored(isolated_env) == []


def _has_key(at: AppTest) -> bool:
    return any(b.key == "variants_apply_import" for b in at.button)


def test_a_key_in_the_environment_never_reaches_the_page(
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    downloads: list[tuple[bytes, str, str | None]],
) -> None:
    monkeypatch.setenv("CAND_KEY", PLANTED_KEY)
    store = Store(isolated_env, linger=0)
    save_variant(store, VariantConfig(name="cand", provider="openai", model="m",
                                      api_key_env="CAND_KEY"))  # fmt: skip
    store.close()
    at = open_page("variants")
    assert at.dataframe[0].value.iloc[0]["key"] == "set"
    at.selectbox(key="variant_choice").select("cand").run()
    assert_no_exception(at)
    assert at.text_input(key="vf_cand_api_key_env").value == "CAND_KEY"
    payload = browser_payload(at)
    assert "CAND_KEY" in payload and "not set" not in payload
    assert PLANTED_KEY not in payload
    assert all(PLANTED_KEY.encode() not in data for data, _, _ in downloads)
    assert "secrets.toml" in at.caption[0].value
