"""Variants as TOML: round trip, every validation problem, the secret guard, and the CLI."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swapcheck.cli import main
from swapcheck.models import VariantConfig
from swapcheck.store import Store
from swapcheck.store.responses import write_responses
from swapcheck.store.variants import (
    ensure_logged_variant,
    get_variant,
    list_variants,
    save_variant,
    save_variants,
)
from swapcheck.variants_toml import (
    CANONICAL_PARAMS,
    MAX_LIMIT,
    VariantFileError,
    check_variant,
    export_variants_toml,
    import_variants,
    looks_like_secret_name,
    looks_like_secret_value,
    parse_variants_toml,
    plan_changes,
)

PROVIDERS = ["openai", "simulated"]
FAKE_OPENAI_KEY = "sk-proj-Zq81hV0pLwX3mN5bR7tY9uK2"
FAKE_ANTHROPIC_KEY = "sk-ant-api03-Zq81hV0pLwX3mN5bR7tY9uK2aa"
FAKE_GOOGLE_KEY = "AIzaSyD4x9Qm2Lr7Tn1Vb8Kc3Wp6Yh0Jf5Gd2Sa"

FULL = VariantConfig(
    name="gpt-4.1_cand",
    provider="openai",
    model="gpt-4.1-mini",
    base_url="http://127.0.0.1:8080/v1",
    api_key_env="CAND_KEY",
    params={"temperature": 0, "top_p": 0.9, "max_tokens": 512, "stop": ["###", "END"],
            "seed": 7, "api_version": "2024-06-01", "response_format": {"type": "json_object"}},
    price_input_per_mtok=0.4,
    price_output_per_mtok=1.6,
    system_prompt='Answer in "French".\n\tTab, backslash \\ and """triple""".\n{system}',
    max_concurrency=4,
    requests_per_minute=500,
    tokens_per_minute=200_000,
)  # fmt: skip
MINIMAL = VariantConfig(name="base", provider="simulated", model="sim-1")
HAND_CASES = [
    [MINIMAL],
    [FULL],
    [FULL, MINIMAL],
    [VariantConfig(name="empty-prompt", provider="simulated", model="m", system_prompt="")],
    [VariantConfig(name="crlf", provider="simulated", model="m", system_prompt="a\r\nb\rc\n")],
    [VariantConfig(name="unicode", provider="simulated", model="модель 日本", params={"ñ": "ü"})],
    [VariantConfig(name="0", provider="simulated", model="m", params={"stop": "###"},
                   price_input_per_mtok=1e-9, price_output_per_mtok=123456.789)],
]  # fmt: skip


def problems_of(text: str, source: str = "team.toml") -> list[str]:
    with pytest.raises(VariantFileError) as info:
        parse_variants_toml(text, source=source, providers=PROVIDERS)
    assert all(p.source == source for p in info.value.problems)
    assert str(info.value.message).startswith(source)
    return [str(p) for p in info.value.problems]


# -- round trip --------------------------------------------------------------------------------


@pytest.mark.parametrize("variants", HAND_CASES)
def test_hand_cases_round_trip_exactly(variants: list[VariantConfig]) -> None:
    text = export_variants_toml(variants)
    parsed = parse_variants_toml(text, providers=PROVIDERS)
    assert parsed == sorted(variants, key=lambda v: v.name)
    assert export_variants_toml(parsed) == text


def test_round_trip_through_a_real_database(tmp_store: Store) -> None:
    save_variants(tmp_store, [FULL, MINIMAL])
    ensure_logged_variant(tmp_store)
    text = export_variants_toml(list_variants(tmp_store))
    assert "logged" not in tomllib.loads(text)["variants"]
    assert list(tomllib.loads(text)["variants"]) == ["base", "gpt-4.1_cand"]  # sorted
    other = Store(tmp_store.path.with_name("other.duckdb"), linger=0)
    try:
        changes = import_variants(other, text, source="x.toml")
        assert [(c.name, c.action) for c in changes] == [("base", "add"), ("gpt-4.1_cand", "add")]
        assert get_variant(other, FULL.name) == FULL
        assert export_variants_toml(list_variants(other)) == text
    finally:
        other.close()


def test_export_is_deterministic_and_selects_names() -> None:
    assert export_variants_toml([MINIMAL, FULL]) == export_variants_toml([FULL, MINIMAL])
    only = tomllib.loads(export_variants_toml([FULL, MINIMAL], ["base"]))
    assert list(only["variants"]) == ["base"]
    with pytest.raises(Exception, match="nope") as info:
        export_variants_toml([FULL], ["nope"])
    assert FULL.name in info.value.fix  # type: ignore[attr-defined]


_safe_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40).filter(
    lambda s: not looks_like_secret_value(s)
)
_json_leaf = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    _safe_text,
)
_param_key = _safe_text.filter(
    lambda k: k not in CANONICAL_PARAMS and not looks_like_secret_name(k)
)
_json_value = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_param_key, inner, max_size=3),
    max_leaves=6,
)
_canonical = st.fixed_dictionaries(
    {},
    optional={
        "temperature": st.floats(0, 2) | st.integers(0, 2),
        "top_p": st.floats(0, 1),
        "max_tokens": st.integers(1, 100_000),
        "stop": _safe_text | st.lists(_safe_text, max_size=3),
        "seed": st.integers(-(2**31), 2**31),
    },
)
_limit = st.none() | st.integers(1, MAX_LIMIT)
_variant = st.builds(
    VariantConfig,
    name=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,12}", fullmatch=True).filter(
        lambda n: n != "logged"
    ),
    provider=st.sampled_from(PROVIDERS),
    model=_safe_text.filter(lambda s: s.strip() != ""),
    base_url=st.none() | st.from_regex(r"https?://[a-z0-9.]{1,12}(:[0-9]{2,5})?(/[a-z0-9]{0,8})?",
                                       fullmatch=True),
    api_key_env=st.none() | st.from_regex(r"[A-Z_][A-Z0-9_]{0,15}", fullmatch=True),
    params=st.tuples(_canonical, st.dictionaries(_param_key, _json_value, max_size=3)).map(
        lambda pair: {**pair[1], **pair[0]}
    ),
    price_input_per_mtok=st.floats(0, 1e6),
    price_output_per_mtok=st.floats(0, 1e6),
    system_prompt=st.none() | _safe_text,
    max_concurrency=_limit,
    requests_per_minute=_limit,
    tokens_per_minute=_limit,
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_variant, max_size=4, unique_by=lambda v: v.name).filter(bool))
def test_any_valid_variants_round_trip_exactly(variants: list[VariantConfig]) -> None:
    text = export_variants_toml(variants)
    parsed = parse_variants_toml(text, providers=PROVIDERS)
    assert [json.dumps(v.params, sort_keys=True) for v in parsed] == [
        json.dumps(v.params, sort_keys=True) for v in sorted(variants, key=lambda v: v.name)
    ]
    assert parsed == sorted(variants, key=lambda v: v.name)
    assert export_variants_toml(parsed) == text


# -- validation --------------------------------------------------------------------------------


def test_every_problem_is_reported_with_file_variant_field_and_fix() -> None:
    found = problems_of(
        """
[variants.a]
provider = "nope"
modle = "x"
price_input_per_mtok = -1
price_output_per_mtok = "cheap"
max_concurrency = 2.5
requests_per_minute = 0
tokens_per_minute = true
base_url = "ftp://host"
api_key_env = "my key"
system_prompt = 3

[variants.a.params]
temperature = "hot"
top_p = 1.5
max_tokens = 0
stop = [1, 2]
seed = 1.5
when = 1979-05-27

[variants.logged]
provider = "simulated"
model = "m"

[variants."bad name!"]
provider = "simulated"
model = "m"

[variants.c]
provider = "simulated"
model = ""
params = 3
"""
    )
    expected = [
        ("[variants.a] provider", "'nope' is not a known provider", "openai, simulated"),
        ("[variants.a] modle", "not a variant setting", "Did you mean 'model'?"),
        ("[variants.a] model", "is missing", 'model = "..."'),
        ("[variants.a] price_input_per_mtok", "negative", "0 or more"),
        ("[variants.a] price_output_per_mtok", "must be a number, got a string", "e.g."),
        ("[variants.a] max_concurrency", "whole number, got a number", "leave it out"),
        ("[variants.a] requests_per_minute", "between 1 and", "leave it out"),
        ("[variants.a] tokens_per_minute", "whole number, got true/false", "e.g."),
        ("[variants.a] base_url", "not an http(s) URL", "https://"),
        ("[variants.a] api_key_env", "not an environment variable name", "OPENAI_API_KEY"),
        ("[variants.a] system_prompt", "must be a string, got a whole number", "Quote it"),
        ("[variants.a] params.temperature", "number >= 0", "temperature = 0.2"),
        ("[variants.a] params.top_p", "from 0 to 1", "top_p = 0.9"),
        ("[variants.a] params.max_tokens", "whole number >= 1", "max_tokens = 512"),
        ("[variants.a] params.stop", "list of strings", "stop = ["),
        ("[variants.a] params.seed", "whole number", "seed = 7"),
        ("[variants.a] params.when", "cannot be sent", "string, number"),
        ("[variants.logged]", "built-in", "another name"),
        ("[variants.bad name!]", "not allowed", "letters, digits"),
        ("[variants.c] model", "is empty", "Write the model"),
        ("[variants.c] params", "must be a table, got a whole number", "[variants.c.params]"),
    ]
    for where, message, fix in expected:
        hits = [p for p in found if p.startswith(f"team.toml {where}:") and message in p]
        assert hits, f"no problem for {where!r} / {message!r} in {found}"
        assert " Fix: " in hits[0] and fix in hits[0].split(" Fix: ", 1)[1], hits[0]
    assert len(found) == len(expected), found


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("[variants.a\nprovider = 1", "team.toml:", "not valid TOML"),
        ('title = "x"\n[variants.a]\nprovider="simulated"\nmodel="m"', "team.toml title:",
         "not allowed at the top"),
        ("", "team.toml variants:", "holds no variant"),
        ('variants = 3', "team.toml variants:", "holds no variant"),
        ('[variants]\na = 3', "team.toml [variants.a]:", "must be a table"),
    ],
)  # fmt: skip
def test_file_level_problems(text: str, where: str, message: str) -> None:
    found = problems_of(text)
    assert any(p.startswith(where) and message in p for p in found), found


def test_non_utf8_file_is_refused() -> None:
    with pytest.raises(VariantFileError, match="not UTF-8"):
        parse_variants_toml(b"\xff\xfe[variants.a]", source="team.toml")


def test_registered_providers_come_from_the_registry() -> None:
    from swapcheck.providers import provider_names

    text = '[variants.a]\nprovider = "nope"\nmodel = "m"\n'
    with pytest.raises(VariantFileError) as info:
        parse_variants_toml(text)
    assert all(name in info.value.problems[0].fix for name in provider_names())


# -- secret guard ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "field"),
    [
        (f'api_key = "{FAKE_OPENAI_KEY}"', "api_key"),
        ('key = "whatever"', "key"),
        ('token = "abc"', "token"),
        ('client_secret = "abc"', "client_secret"),
        ('apiKey = "abc"', "apiKey"),
        (f'api_key_env = "{FAKE_OPENAI_KEY}"', "api_key_env"),
        (f'model = "{FAKE_ANTHROPIC_KEY}"', "model"),
        (f'system_prompt = "use {FAKE_GOOGLE_KEY} please"', "system_prompt"),
        (f'base_url = "https://host/v1?key={FAKE_GOOGLE_KEY}"', "base_url"),
        ('base_url = "https://user:pw@host/v1"', "base_url"),
        ('params = { access_token = "abc" }', "params.access_token"),
        ('params = { extra_headers = { Authorization = "Bearer abc" } }',
         "params.extra_headers.Authorization"),
        (f'params = {{ headers = ["{FAKE_OPENAI_KEY}"] }}', "params"),
    ],
)  # fmt: skip
def test_anything_that_looks_like_a_secret_is_refused(snippet: str, field: str) -> None:
    text = f'[variants.a]\nprovider = "openai"\nmodel = "m"\n{snippet}\n'
    if snippet.startswith("model"):
        text = text.replace('model = "m"\n', "")
    found = problems_of(text)
    hits = [p for p in found if p.startswith(f"team.toml [variants.a] {field}:")]
    assert hits, found
    assert "environment variable" in hits[0] and "api_key_env" in hits[0]
    for secret in (FAKE_OPENAI_KEY, FAKE_ANTHROPIC_KEY, FAKE_GOOGLE_KEY):
        assert all(secret not in p for p in found)


def test_names_of_limits_and_key_variables_are_not_secrets() -> None:
    for name in ("max_tokens", "tokens_per_minute", "api_key_env", "top_k", "max_output_tokens"):
        assert not looks_like_secret_name(name), name
    assert not looks_like_secret_value("gpt-4o-mini-2024-07-18")
    assert not looks_like_secret_value("https://llm.example.invalid/v1")


def test_form_and_cli_use_the_same_checks() -> None:
    bad = VariantConfig(name="x", provider="openai", model="m", params={"api_key": "abc"})
    with pytest.raises(VariantFileError, match=r"form \[variants.x\] params.api_key"):
        check_variant(bad, providers=PROVIDERS)
    assert check_variant(MINIMAL, providers=PROVIDERS) == MINIMAL


# -- import semantics --------------------------------------------------------------------------


def test_import_is_all_or_nothing_and_updates_existing_names(tmp_store: Store) -> None:
    save_variant(tmp_store, MINIMAL)
    bad = (
        '[variants.base]\nprovider = "simulated"\nmodel = "sim-2"\n'
        '[variants.new]\nprovider = "simulated"\nmodel = "m"\nmax_concurrency = -3\n'
    )
    with pytest.raises(VariantFileError, match=r"bad.toml \[variants.new\] max_concurrency"):
        import_variants(tmp_store, bad, source="bad.toml")
    assert [v.name for v in list_variants(tmp_store)] == ["base"]
    assert get_variant(tmp_store, "base").model == "sim-1"

    good = bad.replace("max_concurrency = -3", "max_concurrency = 3")
    preview = import_variants(tmp_store, good, source="good.toml", dry_run=True)
    assert [c.describe() for c in preview] == ["update base: model: 'sim-1' → 'sim-2'", "add new"]
    assert get_variant(tmp_store, "base").model == "sim-1"  # dry run wrote nothing
    import_variants(tmp_store, good, source="good.toml")
    assert get_variant(tmp_store, "base").model == "sim-2"
    assert get_variant(tmp_store, "new").max_concurrency == 3
    again = import_variants(tmp_store, good, source="good.toml", dry_run=True)
    assert [c.action for c in again] == ["unchanged", "unchanged"]


def test_plan_changes_lists_each_changed_field() -> None:
    changed = VariantConfig(name="base", provider="simulated", model="sim-1",
                            params={"temperature": 0.5}, requests_per_minute=10)  # fmt: skip
    (change,) = plan_changes([MINIMAL], [changed])
    assert change.action == "update"
    assert [f for f, _, _ in change.fields] == ["requests_per_minute", "params"]


# -- CLI on a real DuckDB file -----------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_add_list_export_import_delete(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAND_KEY", FAKE_OPENAI_KEY)
    code, out, err = run(
        capsys, "variants", "add", "cand", "--provider", "openai", "--model", "gpt-x",
        "--base-url", "http://127.0.0.1:9/v1", "--api-key-env", "CAND_KEY",
        "--param", "temperature=0", "--param", 'stop=["###"]', "--price-in", "0.5",
        "--price-out", "2", "--system-prompt", "Be brief. {system}", "--max-concurrency", "3",
        "--rpm", "60", "--tpm", "1000",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run(
        capsys, "variant", "add", "base", "--provider", "simulated", "--model", "s"
    )
    assert code == 0, err  # the old command name still works

    code, out, _ = run(capsys, "variants", "list", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["cand"]["requests_per_minute"] == 60 and rows["cand"]["api_key_set"] is True
    assert rows["cand"]["system_prompt"] == "Be brief. {system}"
    assert rows["base"]["api_key_set"] is False
    code, out, _ = run(capsys, "variants", "list")
    assert "CAND_KEY (set)" in out and FAKE_OPENAI_KEY not in out

    code, exported, _ = run(capsys, "variants", "export")
    assert code == 0 and FAKE_OPENAI_KEY not in exported
    table = tomllib.loads(exported)["variants"]
    assert table["cand"]["params"] == {"stop": ["###"], "temperature": 0}
    assert table["cand"]["api_key_env"] == "CAND_KEY"
    target = tmp_path / "out.toml"
    code, out, _ = run(capsys, "variants", "export", str(target), "--name", "cand")
    assert code == 0 and "exported 1 variants" in out
    assert list(tomllib.loads(target.read_text())["variants"]) == ["cand"]

    edited = tmp_path / "edited.toml"
    edited.write_text(exported.replace('model = "gpt-x"', 'model = "gpt-y"'))
    code, out, _ = run(capsys, "variants", "import", str(edited), "--dry-run")
    assert code == 0
    assert "dry run" in out and "update cand: model: 'gpt-x' → 'gpt-y'" in out
    assert "unchanged base" in out
    _, again, _ = run(capsys, "variants", "export")
    assert again == exported  # the dry run saved nothing
    code, out, _ = run(capsys, "variants", "import", str(edited))
    assert code == 0 and "update cand" in out
    _, after, _ = run(capsys, "variants", "export")
    assert after == edited.read_text()

    code, out, err = run(capsys, "variants", "delete", "base")
    assert code == 0 and "deleted" in out
    _, listed, _ = run(capsys, "variants", "list", "--json")
    assert [r["name"] for r in json.loads(listed)] == ["cand"]


def test_cli_reports_problems_as_error_and_fix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        f'[variants.a]\nprovider = "openai"\nmodel = "m"\napi_key = "{FAKE_OPENAI_KEY}"\n'
    )
    code, out, err = run(capsys, "variants", "import", str(bad))
    assert code == 1
    assert err.startswith("error: ") and "\nfix: " in err
    assert f"{bad} [variants.a] api_key" in err and "api_key_env" in err
    assert FAKE_OPENAI_KEY not in out + err
    code, _, err = run(capsys, "variants", "import", str(tmp_path / "missing.toml"))
    assert code == 1 and "Cannot read" in err and "fix: " in err
    code, _, err = run(capsys, "variants", "add", "x", "--provider", "openai", "--model", "m",
                       "--param", f"api_key={FAKE_OPENAI_KEY}")  # fmt: skip
    assert code == 1 and "params.api_key" in err and FAKE_OPENAI_KEY not in err
    code, _, err = run(capsys, "variants", "add", "x", "--provider", "nope", "--model", "m")
    assert code == 1 and "nope" in err and "fix: " in err
    code, _, err = run(capsys, "variants", "export", "--name", "ghost")
    assert code == 1 and "ghost" in err
    code, _, err = run(capsys, "variants", "delete", "ghost")
    assert code == 1 and "ghost" in err and "fix: " in err
    code, _, err = run(capsys, "variants", "delete", "logged")
    assert code == 1 and "built in" in err


def test_delete_refuses_variants_with_answers_or_studies(
    capsys: pytest.CaptureFixture[str], tmp_store: Store, tmp_path: Path
) -> None:
    from swapcheck.models import ResponseRecord
    from tests.helpers import simulated_study

    study = simulated_study(tmp_store, tmp_path, n=4)
    save_variant(tmp_store, VariantConfig(name="answered", provider="simulated", model="m"))
    write_responses(
        tmp_store, [ResponseRecord(prompt_id="p", variant="answered", request_hash="h", text="t")]
    )
    tmp_store.close()
    code, _, err = run(capsys, "variants", "delete", study.candidate_variant)
    assert code == 1 and repr(study.name) in err and "fix: " in err
    code, _, err = run(capsys, "variants", "delete", "answered")
    assert code == 1 and "1 stored answers" in err and "fix: " in err
    _, listed, _ = run(capsys, "variants", "list", "--json")
    assert {"answered", study.candidate_variant} <= {r["name"] for r in json.loads(listed)}
