"""No original personal data reaches the Review page; the Privacy page configures redaction."""

from __future__ import annotations

import json
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from swapcheck.models import VariantConfig
from swapcheck.pipeline import generate_study, ingest_file
from swapcheck.redaction_config import RedactionConfig, add_pattern, load_redaction_config
from swapcheck.store import Store
from swapcheck.store.judgments import judgments_frame, ready_pair_ids
from swapcheck.store.studies import create_study, get_study
from swapcheck.store.variants import save_variant
from tests.apptest_utils import assert_no_exception, browser_payload, open_page
from tests.fake_openai_server import FakeOpenAIServer
from tests.helpers import write_jsonl

# Each value, and a distinctive fragment of it, must never reach the browser.
PII = {
    "EMAIL": ("jane.doe@example.com", "jane.doe"),
    "PHONE": ("+49 30 1234 5678", "1234 5678"),
    "CARD": ("4111 1111 1111 1111", "1111 1111"),
    "IBAN": ("DE89 3704 0044 0532 0130 00", "0532 0130"),
    "IP": ("192.168.10.77", "192.168.10"),
    "SECRET": ("sk-proj-Zx9Qw3Er7Ty1Ui5Op2As8Df4", "Zx9Qw3Er7Ty1"),
    "TICKET": ("TCK-482913", "482913"),
}
HISTORY_PII = {  # only in the earlier turns and the system prompt
    "EMAIL": ("m.rossi@example.it", "m.rossi"),
    "SECRET": ("ghp_abcdefghijklmnopqrstuvwxyz0123456789AB", "ghp_abcdefghij"),
}
V = {kind: value for kind, (value, _) in PII.items()}


def prompt_row(i: int) -> dict:
    return {
        "prompt": (
            f"Case {i}: I'm Jane ({V['EMAIL']}, {V['PHONE']}). Card {V['CARD']} was charged "
            f"twice, refund to {V['IBAN']}. Login from {V['IP']} failed, my key "
            f"{V['SECRET']} leaked, see {V['TICKET']}."
        ),
        "response": (
            f"We wrote to {V['EMAIL']}, refunded {V['CARD']} to {V['IBAN']} and revoked "
            f"{V['SECRET']} ({V['TICKET']})."
        ),
    }


def seed_pii_study(db: Path, tmp_path: Path, server: FakeOpenAIServer, n: int = 3) -> None:
    """A plain prompt/response log full of personal data, a multi-turn history, echoed answers."""
    store = Store(db, linger=0)
    add_pattern(store, "TICKET", r"TCK-\d{6}")
    report = ingest_file(
        store, write_jsonl(tmp_path / "pii.jsonl", [prompt_row(i) for i in range(n)])
    )
    with store.cursor() as cur:  # give every prompt an earlier turn and a system prompt
        for prompt_id, messages in cur.execute(
            "SELECT prompt_id, messages FROM prompts"
        ).fetchall():
            last = json.loads(messages)[-1]
            history = [
                {
                    "role": "system",
                    "content": f"Support agent. Escalate to {HISTORY_PII['EMAIL'][0]}.",
                },
                {"role": "user", "content": f"Earlier: my token {HISTORY_PII['SECRET'][0]}"},
                {"role": "assistant", "content": f"Noted, {V['EMAIL']}, call {V['PHONE']}."},
                last,
            ]
            cur.execute(
                "UPDATE prompts SET messages = ?::JSON WHERE prompt_id = ?",
                [json.dumps(history), prompt_id],
            )
    # the candidate echoes the last user turn: its answers repeat the personal data
    save_variant(
        store, VariantConfig(name="cand", provider="openai", model="m", base_url=server.base_url)
    )
    study = create_study(
        store, "refund handling", baseline="logged", candidate="cand", sources=[report.source_id]
    )
    generate_study(store, study)
    assert len(ready_pair_ids(store, study)) == n
    with store.cursor() as cur:  # the store keeps the originals (the policy sends them)
        answers = " ".join(t for (t,) in cur.execute("SELECT text FROM responses").fetchall())
    assert all(value in answers for value in (V["EMAIL"], V["CARD"], V["TICKET"]))
    store.close()


def rendered_text(at: AppTest) -> str:
    """Values and labels of every element in the tree (what the page shows)."""
    texts: list[str] = []

    def walk(node) -> None:  # type: ignore[no-untyped-def]
        for attr in ("value", "label", "body", "placeholder", "help", "caption"):
            try:
                value = getattr(node, attr, None)
            except Exception:  # some elements compute values lazily from state
                value = None
            if isinstance(value, str):
                texts.append(value)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(texts)


def assert_nothing_personal(at: AppTest) -> None:
    payload, shown = browser_payload(at), rendered_text(at)
    for value, fragment in (*PII.values(), *HISTORY_PII.values()):
        for leak in (value, fragment):
            assert leak not in payload, leak
            assert leak not in shown, leak
    for kind in PII:
        assert f"[{kind}]" in payload and f"[{kind}]" in shown, kind


def test_no_original_personal_data_reaches_the_review_page(
    isolated_env: Path, tmp_path: Path
) -> None:
    with FakeOpenAIServer() as server:
        seed_pii_study(isolated_env, tmp_path, server)
    at = open_page("review")
    at.text_input[0].input("Dana")
    at.form_submit_button[0].click().run()
    assert_no_exception(at)
    assert re.search(r"Case \d", browser_payload(at))
    store = Store(isolated_env, linger=0)  # a policy change applies to the pair on screen
    add_pattern(store, "CASE", r"Case \d+")
    store.close()
    at.run()
    assert not re.search(r"Case \d", browser_payload(at)) and "[CASE]" in browser_payload(at)
    for n in range(3):
        assert_nothing_personal(at)
        system = " ".join(e.value for ex in at.expander for e in ex.markdown)
        assert "Escalate to [EMAIL]." in system
        turns = [m.markdown[0].value for m in at.chat_message]
        assert len(turns) == 3 and "my token [SECRET]" in turns[0]
        at.text_input[0].input(f"the left one mailed {V['EMAIL']}")
        at.button(key="pick_left").click().run()
        assert_no_exception(at)
        assert f"you judged {n + 1} pair" in at.caption[0].value
    assert "Nothing left" in at.success[0].value
    store = Store(isolated_env, linger=0)
    comments = judgments_frame(store, get_study(store, "refund handling")).comment.tolist()
    store.close()
    assert comments == ["the left one mailed [EMAIL]"] * 3


def test_privacy_page_adds_patterns_validates_and_previews(isolated_env: Path) -> None:
    at = open_page("privacy")
    table = at.dataframe[0].value
    assert list(table["kind"]) == ["EMAIL", "PHONE", "CARD", "IBAN", "IP", "SECRET"]
    rows = table.set_index("kind")
    assert all(f"[{kind}]" in rows.loc[kind, "reviewers see"] for kind in rows.index)
    assert rows.loc["CARD", "state"] == "always on" and rows.loc["IP", "state"] == "on"

    at.text_input(key="privacy_new_kind").input("ticket")
    at.text_input(key="privacy_new_regex").input(r"TCK-(\d{6}")
    at.button(key="FormSubmitter:privacy_add_pattern-Add pattern").click().run()
    assert_no_exception(at)
    assert "TICKET" in at.error[0].value and "Fix" in at.error[0].value
    assert "Traceback" not in browser_payload(at)

    at.text_input(key="privacy_new_regex").input(r"TCK-\d{6}")
    at.button(key="FormSubmitter:privacy_add_pattern-Add pattern").click().run()
    assert_no_exception(at)
    assert not at.error
    assert "Added pattern TICKET" in at.success[0].value
    assert at.dataframe[1].value.values.tolist() == [["TICKET", r"TCK-\d{6}"]]

    at.text_area(key="privacy_try").input("See TCK-123456 from ana@example.com <b>hi</b>").run()
    assert_no_exception(at)
    assert "[TICKET]" in at.markdown[-1].value and "[EMAIL]" in at.markdown[-1].value
    assert "&lt;b&gt;" in at.markdown[-1].value  # rendered as untrusted text

    at.radio(key="privacy_provider_choice").set_value("redacted")
    at.button(key="FormSubmitter:privacy_provider_text-Save").click().run()
    assert_no_exception(at)
    at.multiselect(key="privacy_disabled_kinds").set_value(["IP"])
    at.button(key="FormSubmitter:privacy_disabled-Save detectors").click().run()
    assert_no_exception(at)

    at.button(key="privacy_remove_button").click().run()
    assert_no_exception(at)
    assert "Removed pattern TICKET" in at.success[0].value
    store = Store(isolated_env, linger=0)
    assert load_redaction_config(store) == RedactionConfig((), ("IP",), "redacted")
    store.close()
