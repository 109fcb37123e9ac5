"""Per-study evaluator instances: defaults, validation that names the instance, files, storage."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from swapcheck import evaluators
from swapcheck.errors import ConfigError
from swapcheck.evaluation_config import (
    default_instances,
    read_config_file,
    set_study_instances,
    settings_key,
    stored_config,
    study_instances,
)
from swapcheck.evaluators import EvalValue, config_hash, evaluator, load_builtin
from swapcheck.store import Store
from swapcheck.store.settings import get_setting, set_setting
from swapcheck.store.studies import Study, create_study
from swapcheck.store.variants import save_variant


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """A registry holding only: plain (no options), needle (needs options), embed (an extra
    that is not installed)."""
    load_builtin()
    fresh: dict = {}
    monkeypatch.setattr(evaluators, "REGISTRY", fresh)

    @evaluator("plain", kind="mean")
    def plain(options: Mapping[str, Any]):  # type: ignore[no-untyped-def]
        """Answer length."""
        if options:
            raise ConfigError(f"unknown option(s) {sorted(options)}.", "plain takes no options.")
        return lambda r: EvalValue(float(len(r.text)))

    @evaluator("needle", needs_options=True, options_doc="needle = 'text'")
    def needle(options: Mapping[str, Any]):  # type: ignore[no-untyped-def]
        """Answer contains the needle."""
        value = options.get("needle")
        if not isinstance(value, str) or not value:
            raise ConfigError("option 'needle' must be a non-empty string.", "needle = 'reset'")
        return lambda r: EvalValue(float(value in r.text))

    @evaluator("embed", scope="pair", kind="mean", extra="no-such-extra-xyz")
    def embed(options: Mapping[str, Any]):  # type: ignore[no-untyped-def]
        """Needs an extra."""
        raise ImportError("No module named 'nothing_here'")

    yield fresh


@pytest.fixture
def study(tmp_store: Store, tmp_path: Path, registry: dict) -> Study:
    from swapcheck.ingest import ColumnMapping
    from swapcheck.models import VariantConfig
    from swapcheck.pipeline import ingest_file
    from tests.helpers import small_log_rows, write_jsonl

    log = write_jsonl(tmp_path / "log.jsonl", small_log_rows(3))
    report = ingest_file(tmp_store, log, mapping=ColumnMapping(prompt_column="prompt"))
    save_variant(tmp_store, VariantConfig(name="base", provider="simulated", model="sim-a"))
    save_variant(tmp_store, VariantConfig(name="cand", provider="simulated", model="sim-b"))
    return create_study(
        tmp_store, "Config Check", baseline="base", candidate="cand", sources=[report.source_id]
    )


def test_defaults_are_evaluators_without_options_whose_extra_is_installed(
    tmp_store: Store, study: Study
) -> None:
    assert [i.name for i in default_instances()] == ["plain"]
    (only,) = study_instances(tmp_store, study)
    assert (only.name, only.evaluator, dict(only.options), only.config_hash) == (
        "plain",
        "plain",
        {},
        "",
    )


def test_configured_instances_are_saved_and_hashed(tmp_store: Store, study: Study) -> None:
    effective = set_study_instances(
        tmp_store,
        study,
        [
            {"name": "says_reset", "evaluator": "needle", "options": {"needle": "reset"}},
            {"name": "says_open", "evaluator": "needle", "options": {"needle": "open"}},
        ],
        disabled=["plain"],
    )
    assert [i.name for i in effective] == ["says_reset", "says_open"]
    reset = effective[0]
    assert reset.config_hash == config_hash("needle", 1, {"needle": "reset"})
    assert len(reset.config_hash) == 16 and reset.config_hash != effective[1].config_hash
    assert settings_key(study) == f"evaluators.{study.study_id.lower()}"
    assert get_setting(tmp_store, settings_key(study)) == {
        "instances": [
            {"name": "says_reset", "evaluator": "needle", "options": {"needle": "reset"}},
            {"name": "says_open", "evaluator": "needle", "options": {"needle": "open"}},
        ],
        "disabled": ["plain"],
    }
    assert study_instances(tmp_store, study) == effective
    # saving again replaces the whole configuration
    set_study_instances(tmp_store, study, [], [])
    assert [i.name for i in study_instances(tmp_store, study)] == ["plain"]
    assert stored_config(tmp_store, study) == {"instances": [], "disabled": []}


@pytest.mark.parametrize(
    ("instances", "disabled", "message"),
    [
        ([{"name": "x", "evaluator": "nope"}], [], r"Instance 'x': Unknown evaluator 'nope'"),
        ([{"name": "Bad Name", "evaluator": "needle"}], [], r"name 'Bad Name' is not allowed"),
        ([{"name": "n" * 65, "evaluator": "plain"}], [], r"is not allowed"),
        ([{"evaluator": "plain"}], [], r"Instance #1: name None is not allowed"),
        (
            [{"name": "x", "evaluator": "needle", "options": {"needle": ""}}],
            [],
            r"Instance 'x': needle: option 'needle' must be a non-empty string",
        ),
        (
            [{"name": "x", "evaluator": "needle"}],
            [],
            r"Instance 'x': evaluator 'needle' does nothing without options",
        ),
        (
            [{"name": "x", "evaluator": "plain", "options": {"colour": "red"}}],
            [],
            r"Instance 'x': plain: unknown option\(s\) \['colour'\]",
        ),
        (
            [
                {"name": "x", "evaluator": "needle", "options": {"needle": "a"}},
                {"name": "x", "evaluator": "needle", "options": {"needle": "b"}},
            ],
            [],
            r"Instance 'x': the name is used twice",
        ),
        ([{"name": "plain", "evaluator": "needle", "options": {"needle": "a"}}], [], r"built-in"),
        ([{"name": "x", "evaluator": "plain", "colour": "red"}], [], r"unknown key\(s\) 'colour'"),
        ([{"name": "x", "evaluator": "plain", "options": ["a"]}], [], r"'options' is not a"),
        ([{"name": "e", "evaluator": "embed"}], [], r"Instance 'e': embed needs a package"),
        ([], ["plian"], r"Disabled name 'plian' is neither"),
    ],
)
def test_bad_configs_name_the_instance_and_the_fix(
    tmp_store: Store, study: Study, instances: list, disabled: list, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        set_study_instances(tmp_store, study, instances, disabled)
    assert caught.value.fix
    assert get_setting(tmp_store, settings_key(study)) is None  # nothing saved


def test_disabling_an_extra_evaluator_that_is_not_installed_is_allowed(
    tmp_store: Store, study: Study
) -> None:
    assert [i.name for i in set_study_instances(tmp_store, study, [], ["embed"])] == ["plain"]


def test_a_saved_instance_whose_evaluator_disappeared_is_a_clear_error(
    tmp_store: Store, study: Study
) -> None:
    set_setting(
        tmp_store,
        settings_key(study),
        {"instances": [{"name": "gone", "evaluator": "removed_plugin", "options": {}}]},
    )
    with pytest.raises(ConfigError, match="instance 'gone': Unknown evaluator") as caught:
        study_instances(tmp_store, study)
    assert "swapcheck evaluators config" in caught.value.fix


def test_toml_and_json_files(tmp_path: Path, tmp_store: Store, study: Study) -> None:
    toml = tmp_path / "e.toml"
    toml.write_text(
        'disabled = ["plain"]\n[[instances]]\nname = "says_reset"\nevaluator = "needle"\n'
        'options = { needle = "reset" }\n',
        encoding="utf-8",
    )
    keyed = tmp_path / "e.json"
    keyed.write_text(
        json.dumps(
            {
                "instances": {
                    "says_reset": {"evaluator": "needle", "options": {"needle": "reset"}}
                },
                "disabled": ["plain"],
            }
        ),
        encoding="utf-8",
    )
    expected = {
        "instances": [
            {"name": "says_reset", "evaluator": "needle", "options": {"needle": "reset"}}
        ],
        "disabled": ["plain"],
    }
    assert read_config_file(toml) == expected
    assert read_config_file(keyed) == expected
    broken = tmp_path / "broken.toml"
    broken.write_text("instances = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.toml is not valid"):
        read_config_file(broken)
    yaml = tmp_path / "e.yaml"
    yaml.write_text("instances: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown configuration format"):
        read_config_file(yaml)
    typo = tmp_path / "typo.json"
    typo.write_text('{"instance": []}', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key\\(s\\) 'instance'"):
        read_config_file(typo)
    with pytest.raises(ConfigError, match="Cannot read"):
        read_config_file(tmp_path / "missing.toml")
