"""Redaction settings: storage, validation, use in review, what providers receive, the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from swapcheck.cli import main
from swapcheck.errors import ConfigError, NotFoundError, ReviewError
from swapcheck.models import VariantConfig
from swapcheck.pipeline import generate_study, ingest_file
from swapcheck.redact import BUILTIN_KINDS, DEFAULT_REDACTOR, DISABLEABLE_KINDS
from swapcheck.redaction_config import (
    BUILTIN_DETECTORS,
    SETTINGS_KEY,
    RedactionConfig,
    add_pattern,
    load_redaction_config,
    redactor_for,
    remove_pattern,
    reset_redaction_config,
    save_redaction_config,
    set_disabled_kinds,
    set_provider_text,
)
from swapcheck.review import item_for, submit_judgment
from swapcheck.store import Store
from swapcheck.store.judgments import judgments_frame, ready_pair_ids
from swapcheck.store.responses import response_status
from swapcheck.store.settings import (
    delete_setting,
    get_setting,
    list_settings,
    set_setting,
)
from swapcheck.store.studies import Study, create_study, study_prompt_ids
from swapcheck.store.variants import save_variant
from tests.fake_openai_server import FakeOpenAIServer
from tests.helpers import write_jsonl

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
TICKET = "TCK-482913"
TICKET_PATTERN = ("TICKET", r"TCK-\d{6}")
PII_PROMPT = f"Refund {CARD} for {EMAIL}, see ticket {TICKET}."
PLAIN_PROMPT = "How do I reset my password?"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def study_with(store: Store, tmp_path: Path, candidate: VariantConfig, rows: list[dict]) -> Study:
    """Ingest ``rows`` (plain ``prompt`` + ``response`` columns): logged vs ``candidate``."""
    report = ingest_file(store, write_jsonl(tmp_path / "log.jsonl", rows))
    save_variant(store, candidate)
    return create_study(
        store,
        "privacy check",
        baseline="logged",
        candidate=candidate.name,
        sources=[report.source_id],
    )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------------------ settings


def test_settings_round_trip(tmp_store: Store) -> None:
    assert get_setting(tmp_store, "ui.theme") is None
    assert get_setting(tmp_store, "ui.theme", {"dark": False}) == {"dark": False}
    value = {"names": ["Zoë", "日本"], "n": 3, "ratio": 0.25, "on": True, "none": None}
    set_setting(tmp_store, "ui.theme", value)
    assert get_setting(tmp_store, "ui.theme") == value
    set_setting(tmp_store, "ui.theme", "plain")  # replace, any JSON type
    set_setting(tmp_store, "answer", 42)
    assert list_settings(tmp_store) == {"answer": 42, "ui.theme": "plain"}
    assert delete_setting(tmp_store, "answer") is True
    assert delete_setting(tmp_store, "answer") is False
    assert list_settings(tmp_store) == {"ui.theme": "plain"}


@pytest.mark.parametrize("key", ["", "Upper", "1st", "with space", "a" * 65, "x'; DROP TABLE"])
def test_settings_refuse_bad_keys(tmp_store: Store, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        set_setting(tmp_store, key, 1)
    assert info.value.fix
    with pytest.raises(ConfigError):
        get_setting(tmp_store, key)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1, 2}, object()])
def test_settings_refuse_values_that_are_not_json(tmp_store: Store, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        set_setting(tmp_store, "bad", value)  # type: ignore[arg-type]
    assert "bad" in info.value.message and info.value.fix
    assert get_setting(tmp_store, "bad") is None


def test_settings_survive_reopening(isolated_env: Path) -> None:
    store = Store(isolated_env, linger=0)
    save_redaction_config(
        store,
        RedactionConfig(
            custom_patterns=(TICKET_PATTERN,), disabled_kinds=("ip",), provider_text="redacted"
        ),
    )
    store.close()
    store = Store(isolated_env, linger=0)
    config = load_redaction_config(store)
    store.close()
    assert config == RedactionConfig((TICKET_PATTERN,), ("IP",), "redacted")


# ------------------------------------------------------------------------------ configuration


def test_default_configuration_is_the_built_in_redactor(tmp_store: Store) -> None:
    config = load_redaction_config(tmp_store)
    assert config == RedactionConfig()
    assert config.provider_text == "original" and config.provider_messages() is None
    assert redactor_for(tmp_store) == DEFAULT_REDACTOR
    assert tuple(BUILTIN_DETECTORS) == BUILTIN_KINDS
    for kind, (_, example) in BUILTIN_DETECTORS.items():  # every example shows its kind masked
        assert f"[{kind}]" in DEFAULT_REDACTOR.redact(example), kind


def test_configuration_round_trip_and_cached_redactor(tmp_store: Store) -> None:
    config = add_pattern(tmp_store, "ticket", TICKET_PATTERN[1])
    assert config.custom_patterns == (TICKET_PATTERN,)
    assert load_redaction_config(tmp_store) == config
    assert get_setting(tmp_store, SETTINGS_KEY) == {
        "custom_patterns": [list(TICKET_PATTERN)],
        "disabled_kinds": [],
        "provider_text": "original",
    }
    first = redactor_for(tmp_store)
    assert redactor_for(tmp_store) is first  # cached by configuration value
    assert first.redact(PII_PROMPT) == "Refund [CARD] for [EMAIL], see ticket [TICKET]."
    set_provider_text(tmp_store, "redacted")
    assert redactor_for(tmp_store) is first  # provider policy does not change what is masked
    remove_pattern(tmp_store, "TICKET")
    assert redactor_for(tmp_store).redact(TICKET) == TICKET
    assert load_redaction_config(tmp_store).provider_text == "redacted"
    assert (
        reset_redaction_config(tmp_store) == load_redaction_config(tmp_store) == RedactionConfig()
    )


@pytest.mark.parametrize(
    ("change", "in_message", "in_fix"),
    [
        (lambda c: c.with_pattern("TICKET", r"TCK-(\d{6}"), "TCK-(\\\\d{6}", "TICKET"),
        (lambda c: c.with_pattern("TICKET", r"\d*"), "empty string", "TICKET"),
        (lambda c: c.with_pattern("bad kind!", r"x+"), "bad kind!", "letters"),
        (lambda c: c.with_pattern("LONG", "x" * 501), "LONG", "LONG"),
        (lambda c: c.with_pattern("A", "a+").with_pattern("a", "b+"), "A", "Remove"),
        (lambda c: RedactionConfig((("A", "a+"), ("A", "b+"))), "A", "A"),
        (lambda c: c.with_disabled_kinds(["CARD"]), "CARD", "PHONE and IP"),
        (lambda c: c.with_disabled_kinds(["SECRET", "IP"]), "SECRET", "PHONE and IP"),
        (lambda c: c.with_provider_text("partly"), "partly", "original"),
    ],
)
def test_invalid_configuration_names_what_to_fix(change, in_message: str, in_fix: str) -> None:
    with pytest.raises(ConfigError) as info:
        change(RedactionConfig())
    assert in_message in info.value.message, info.value.message
    assert in_fix in info.value.fix, info.value.fix


def test_invalid_pattern_is_not_stored(tmp_store: Store) -> None:
    add_pattern(tmp_store, *TICKET_PATTERN)
    with pytest.raises(ConfigError) as info:
        add_pattern(tmp_store, "ORDER", r"ORD-[0-9")
    assert "ORDER" in info.value.message and "ORDER" in info.value.fix
    assert load_redaction_config(tmp_store).custom_patterns == (TICKET_PATTERN,)
    with pytest.raises(NotFoundError) as missing:
        remove_pattern(tmp_store, "ORDER")
    assert "TICKET" in missing.value.fix


def test_only_phone_and_ip_can_be_turned_off(tmp_store: Store) -> None:
    assert DISABLEABLE_KINDS == ("PHONE", "IP")
    text = "Server 192.168.1.20, call +49 30 1234 5678, mail a@example.com"
    set_disabled_kinds(tmp_store, ["ip"])
    assert redactor_for(tmp_store).redact(text) == "Server 192.168.1.20, call [PHONE], mail [EMAIL]"
    set_disabled_kinds(tmp_store, ["IP", "PHONE"])
    assert redactor_for(tmp_store).redact(text) == (
        "Server 192.168.1.20, call +49 30 1234 5678, mail [EMAIL]"
    )
    for kind in ("EMAIL", "IBAN", "CARD", "SECRET"):
        with pytest.raises(ConfigError):
            set_disabled_kinds(tmp_store, [kind])
    assert load_redaction_config(tmp_store).disabled_kinds == ("IP", "PHONE")


@pytest.mark.parametrize(
    "stored",
    [
        "everything",
        {"custom_patterns": "TCK"},
        {"custom_patterns": [["TICKET", "TCK-(\\d"]]},
        {"disabled_kinds": ["CARD"]},
        {"provider_text": "some"},
    ],
)
def test_a_broken_stored_configuration_fails_closed(tmp_store: Store, stored: object) -> None:
    set_setting(tmp_store, SETTINGS_KEY, stored)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as info:
        redactor_for(tmp_store)
    assert info.value.fix


def test_a_broken_stored_pattern_can_be_removed(tmp_store: Store) -> None:
    set_setting(
        tmp_store,
        SETTINGS_KEY,
        {"custom_patterns": [["TICKET", r"TCK-\d{6}"], ["ORDER", "ORD-(\\d"]]},
    )
    with pytest.raises(ConfigError) as info:
        load_redaction_config(tmp_store)
    assert "ORDER" in info.value.fix
    assert remove_pattern(tmp_store, "order").custom_patterns == (TICKET_PATTERN,)
    assert load_redaction_config(tmp_store).custom_patterns == (TICKET_PATTERN,)


# ------------------------------------------------------------------------------------- review


def test_custom_pattern_is_applied_in_review(tmp_store: Store, tmp_path: Path) -> None:
    rows = [{"prompt": f"{PII_PROMPT} #{i}", "response": f"Done for {TICKET}."} for i in range(3)]
    study = study_with(
        tmp_store, tmp_path, VariantConfig(name="cand", provider="simulated", model="sim"), rows
    )
    generate_study(tmp_store, study)
    pair_id = ready_pair_ids(tmp_store, study)[0]
    before = item_for(tmp_store, study, pair_id, "ana")
    assert TICKET in before.messages[-1]["content"] and "[EMAIL]" in before.messages[-1]["content"]

    add_pattern(tmp_store, *TICKET_PATTERN)
    item = item_for(tmp_store, study, pair_id, "ana")
    shown = json.dumps([item.messages, item.left_text, item.right_text])
    for value in (TICKET, EMAIL, CARD):
        assert value not in shown
    assert "see ticket [TICKET]" in item.messages[-1]["content"]
    assert "Done for [TICKET]." in (item.left_text, item.right_text)
    assert all(set(m) == {"role", "content"} for m in item.messages)

    # a comment a reviewer types is stored redacted as well
    submit_judgment(
        tmp_store, study, reviewer="ana", pair_id=pair_id, pick="tie", comment=f"{TICKET} ok?"
    )
    assert judgments_frame(tmp_store, study).comment.tolist() == ["[TICKET] ok?"]


def test_review_stops_without_showing_a_broken_configuration(
    tmp_store: Store, tmp_path: Path
) -> None:
    rows = [{"prompt": PII_PROMPT, "response": "ok"}]
    study = study_with(
        tmp_store, tmp_path, VariantConfig(name="cand", provider="simulated", model="sim"), rows
    )
    generate_study(tmp_store, study)
    set_setting(tmp_store, SETTINGS_KEY, {"custom_patterns": [["VIP", "jane\\.doe@(example"]]})
    with pytest.raises(ReviewError) as info:
        item_for(tmp_store, study, ready_pair_ids(tmp_store, study)[0], "ana")
    assert "jane" not in str(info.value) and "Privacy" in info.value.fix


# ------------------------------------------------------------------------ provider text (HTTP)


def sent_bodies(server: FakeOpenAIServer, since: int = 0) -> list[str]:
    return [json.dumps(r.body, ensure_ascii=False) for r in server.requests[since:]]


def test_providers_get_original_or_redacted_text_as_configured(
    tmp_store: Store, tmp_path: Path, server: FakeOpenAIServer
) -> None:
    add_pattern(tmp_store, *TICKET_PATTERN)
    rows = [
        {"prompt": PII_PROMPT, "response": "ok"},
        {"prompt": PLAIN_PROMPT, "response": "ok"},
    ]
    variant = VariantConfig(
        name="cand", provider="openai", model="m-cand", base_url=server.base_url
    )
    study = study_with(tmp_store, tmp_path, variant, rows)
    ids = study_prompt_ids(tmp_store, study)

    # original (the default): the provider gets the prompt as logged
    generate_study(tmp_store, study)
    original = sent_bodies(server)
    assert len(original) == 2
    assert any(EMAIL in b and CARD in b and TICKET in b for b in original)
    assert response_status(tmp_store, "cand", ids) == {"answered": 2, "failed": 0, "missing": 0}

    # redacted: the prompt with personal data is answered again, and only placeholders go out
    set_provider_text(tmp_store, "redacted")
    generate_study(tmp_store, study)
    redacted = sent_bodies(server, since=2)
    assert len(redacted) == 1, "the plain prompt is unchanged by redaction: not sent again"
    for value in (EMAIL, CARD, TICKET, "4111", "jane"):
        assert value not in redacted[0]
    assert "Refund [CARD] for [EMAIL], see ticket [TICKET]." in redacted[0]
    with tmp_store.cursor() as cur:
        stored = dict(
            cur.execute("SELECT prompt_id, text FROM responses WHERE variant = 'cand'").fetchall()
        )
    assert any("[EMAIL]" in text for text in stored.values())  # the echo of what was sent

    generate_study(tmp_store, study)
    assert len(server.requests) == 3, "answers of the redacted text count as done"

    # and back: the original text goes out again
    set_provider_text(tmp_store, "original")
    generate_study(tmp_store, study)
    back = sent_bodies(server, since=3)
    assert len(back) == 1 and EMAIL in back[0] and TICKET in back[0]


def test_redacted_provider_text_covers_every_turn(
    tmp_store: Store, tmp_path: Path, server: FakeOpenAIServer
) -> None:
    variant = VariantConfig(
        name="cand", provider="openai", model="m-cand", base_url=server.base_url
    )
    study = study_with(tmp_store, tmp_path, variant, [{"prompt": PLAIN_PROMPT, "response": "ok"}])
    history = [
        {"role": "system", "content": f"Agent for {EMAIL}."},
        {"role": "user", "content": f"My card is {CARD}."},
        {"role": "assistant", "content": f"Thanks, {EMAIL}."},
        {"role": "user", "content": PLAIN_PROMPT},
    ]
    with tmp_store.cursor() as cur:
        cur.execute("UPDATE prompts SET messages = ?::JSON", [json.dumps(history)])
    set_provider_text(tmp_store, "redacted")
    generate_study(tmp_store, study)
    (body,) = sent_bodies(server)
    assert EMAIL not in body and CARD not in body
    assert [m["content"] for m in json.loads(body)["messages"]] == [
        "Agent for [EMAIL].",
        "My card is [CARD].",
        "Thanks, [EMAIL].",
        PLAIN_PROMPT,
    ]


# ---------------------------------------------------------------------------------------- CLI


def assert_user_error(err: str, *fragments: str) -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert any(line.startswith("error: ") for line in lines), err
    assert any(line.startswith("fix: ") for line in lines), err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def test_cli_redaction_commands(capsys: pytest.CaptureFixture[str], isolated_env: Path) -> None:
    code, out, _ = run(capsys, "redaction", "show")
    assert code == 0
    assert "CARD" in out and "always on" in out and "providers receive: original" in out

    code, out, err = run(capsys, "redaction", "add-pattern", "ticket", r"TCK-\d{6}")
    assert code == 0, err
    assert "TICKET" in out and r"TCK-\d{6}" in out

    code, _, err = run(capsys, "redaction", "add-pattern", "ORDER", "ORD-(")
    assert code == 1
    assert_user_error(err, "ORDER", "ORD-(")
    code, _, err = run(capsys, "redaction", "add-pattern", "TICKET", "T+")
    assert code == 1
    assert_user_error(err, "already exists")

    code, out, _ = run(capsys, "redaction", "test", f"{PII_PROMPT} from 10.1.2.3")
    assert code == 0
    assert out.strip() == "Refund [CARD] for [EMAIL], see ticket [TICKET]. from [IP]"
    code, out, _ = run(capsys, "redaction", "test", "--json", f"ticket {TICKET}")
    assert json.loads(out) == {
        "redacted": "ticket [TICKET]",
        "findings": [{"kind": "TICKET", "start": 7, "end": 17}],
    }

    code, out, err = run(capsys, "redaction", "set-provider-text", "redacted")
    assert code == 0 and "providers receive: redacted" in out
    with pytest.raises(SystemExit):
        main(["redaction", "set-provider-text", "half"])  # argparse refuses other choices
    capsys.readouterr()

    code, out, err = run(capsys, "redaction", "disable", "ip")
    assert code == 0 and "IP       OFF" in out
    code, _, err = run(capsys, "redaction", "disable", "card")
    assert code == 1
    assert_user_error(err, "CARD", "PHONE and IP")
    code, out, _ = run(capsys, "redaction", "show", "--json")
    info = json.loads(out)
    assert info["custom_patterns"] == [{"kind": "TICKET", "regex": r"TCK-\d{6}"}]
    assert info["provider_text"] == "redacted"
    assert {d["kind"]: d["enabled"] for d in info["detectors"]}["IP"] is False
    code, out, _ = run(capsys, "redaction", "enable", "IP")
    assert code == 0 and "IP       on" in out

    code, out, err = run(capsys, "redaction", "remove-pattern", "TICKET")
    assert code == 0 and "custom patterns: none" in out
    code, _, err = run(capsys, "redaction", "remove-pattern", "TICKET")
    assert code == 1
    assert_user_error(err, "TICKET")

    code, out, _ = run(capsys, "redaction", "reset")
    assert code == 0 and "providers receive: original" in out
    store = Store(isolated_env, linger=0)
    assert load_redaction_config(store) == RedactionConfig()
    store.close()
