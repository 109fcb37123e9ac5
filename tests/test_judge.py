"""LLM judge end to end against a local OpenAI-compatible server with scripted verdicts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from swapcheck.cli import main as cli_main
from swapcheck.errors import ConfigError
from swapcheck.generate import GenerationSettings
from swapcheck.identity_leaks import mask_identity_leaks
from swapcheck.ingest import ColumnMapping
from swapcheck.judge import (
    configure_judge,
    judge_agreement,
    judge_study,
    set_judge_in_verdict,
    verdict_judgments,
)
from swapcheck.models import VariantConfig
from swapcheck.pipeline import generate_study, ingest_file
from swapcheck.redact import Redactor
from swapcheck.review import next_item
from swapcheck.store import Store
from swapcheck.store.judge import judge_calls_frame, load_judge_config
from swapcheck.store.judgments import (
    append_judgment,
    judgments_frame,
    pair_content,
    pair_judgments,
    ready_pair_ids,
    review_progress,
)
from swapcheck.store.studies import Study, create_study, set_review_settings
from swapcheck.store.variants import save_variant
from tests.fake_openai_server import FakeOpenAIServer, RecordedRequest
from tests.helpers import write_jsonl

pytestmark = pytest.mark.both_backends  # tmp_store: DuckDB and PostgreSQL

FAST = GenerationSettings(
    concurrency=4,
    max_retries=3,
    timeout_s=10.0,
    backoff_base_s=0.01,
    backoff_cap_s=0.05,
    flush_every=4,
    flush_interval_s=0.05,
)
JUDGE = "judge-v"
KEY_ENV = "JUDGE_TEST_KEY"
STUDY_WORDS = ("oldmodel-base", "newmodel-cand", "sim-old-xyz", "sim-new-xyz")
"""Names and models of the study's variants: none may reach the judge."""
ANSWER_RE = re.compile(r"<answer_([12])>\n(.*?)\n</answer_\1>", re.DOTALL)
QUESTION_RE = re.compile(r"Question (\d+) about")


def question_number(text: str) -> int:
    match = QUESTION_RE.search(text)
    assert match is not None, "no question number in the text"
    return int(match.group(1))


class ScriptedJudge:
    """Answers by looking at which answer (baseline or candidate) it was shown first.

    ``script[i]`` for prompt "Question i": ``candidate``/``baseline`` (prefers that side in
    both orders), ``first`` (always Answer 1: inconsistent), ``tie``, ``both_bad``,
    ``garbage`` (unreadable) or ``garbage_baseline_first`` (unreadable only in that order).
    """

    def __init__(self) -> None:
        self.roles: dict[tuple[int, str], str] = {}
        self.script: dict[int, str] = {}

    def learn(self, store: Store, study: Study) -> None:
        """Map each answer as reviewers see it (redacted, identity masked) to its role."""
        redactor = Redactor()
        for pair_id in ready_pair_ids(store, study):
            content = pair_content(store, study, pair_id)
            number = question_number(content.messages[-1]["content"])
            for role, text in (
                ("baseline", content.baseline_text),
                ("candidate", content.candidate_text),
            ):
                self.roles[(number, mask_identity_leaks(redactor.redact(text)))] = role

    def __call__(self, messages: list[dict[str, Any]], model: str, body: dict[str, Any]) -> str:
        user = str(messages[-1]["content"])
        answers = dict(ANSWER_RE.findall(user))
        number = question_number(user)
        first = self.roles[(number, answers["1"])]
        behaviour = self.script.get(number, "candidate")
        if behaviour in ("baseline", "candidate"):
            verdict = "1" if first == behaviour else "2"
        elif behaviour == "first":
            verdict = "1"
        elif behaviour == "garbage" or (
            behaviour == "garbage_baseline_first" and first == "baseline"
        ):
            return "Both answers have merits; I cannot decide."
        elif behaviour == "garbage_baseline_first":
            verdict = "1" if first == "candidate" else "2"
        else:
            verdict = behaviour
        reply = json.dumps({"verdict": verdict, "rationale": f"q{number} {behaviour}"})
        if number % 2:  # odd questions: fenced, with prose around it
            return f"Here is my judgment.\n```json\n{reply}\n```\nThanks."
        return reply


def prompt_text(i: int, feature: str) -> str:
    return f"Question {i} about {feature}: how do I reset my password? Mail alice{i}@example.com"


def build_study(store: Store, tmp_path: Path, n: int = 8, chat: int = 4) -> Study:
    """Prompts "Question i" (feature chat for i < ``chat``, else json), answered by two
    simulated variants."""
    rows = []
    for i in range(n):
        feature = "chat" if i < chat else "json"
        rows.append({"id": f"r{i}", "prompt": prompt_text(i, feature), "feature": feature})
    report = ingest_file(
        store,
        write_jsonl(tmp_path / "log.jsonl", rows),
        mapping=ColumnMapping(prompt_column="prompt", id_column="id", slice_columns=("feature",)),
        derived_slices=False,
    )
    save_variant(
        store, VariantConfig(name="oldmodel-base", provider="simulated", model="sim-old-xyz")
    )
    save_variant(
        store, VariantConfig(name="newmodel-cand", provider="simulated", model="sim-new-xyz")
    )
    study = create_study(
        store,
        "judge check",
        baseline="oldmodel-base",
        candidate="newmodel-cand",
        sources=[report.source_id],
    )
    generate_study(store, study)
    assert len(ready_pair_ids(store, study)) == n
    with store.cursor() as cur:  # canned answers of the two variants sometimes coincide
        cur.execute(
            "UPDATE responses c SET text = c.text || ' Anything else?' FROM responses b "
            "WHERE c.variant = 'newmodel-cand' AND b.variant = 'oldmodel-base' "
            "AND b.prompt_id = c.prompt_id AND b.text = c.text"
        )
    return study


@pytest.fixture
def scripted() -> ScriptedJudge:
    return ScriptedJudge()


@pytest.fixture
def server(scripted: ScriptedJudge) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(scripted, require_key="judge-secret") as fake:
        yield fake


@pytest.fixture
def study(
    tmp_store: Store,
    tmp_path: Path,
    server: FakeOpenAIServer,
    scripted: ScriptedJudge,
    monkeypatch: pytest.MonkeyPatch,
) -> Study:
    monkeypatch.setenv(KEY_ENV, "judge-secret")
    built = build_study(tmp_store, tmp_path)
    scripted.learn(tmp_store, built)
    assert len(scripted.roles) == 16, "the two answers of a pair must differ"
    save_variant(
        tmp_store,
        VariantConfig(
            name=JUDGE,
            provider="openai",
            model="judge-model",
            base_url=server.base_url,
            api_key_env=KEY_ENV,
            price_input_per_mtok=1.0,
            price_output_per_mtok=2.0,
        ),
    )
    configure_judge(tmp_store, built, variant=JUDGE)
    return built


def question_of(request: RecordedRequest) -> int:
    return question_number(request.last_user_text)


def numbers_of(store: Store, study: Study) -> dict[str, int]:
    """Question number of each ready pair."""
    return {
        pair_id: question_number(pair_content(store, study, pair_id).messages[-1]["content"])
        for pair_id in ready_pair_ids(store, study)
    }


def calls_by_question(store: Store, study: Study) -> dict[tuple[int, str], dict[str, Any]]:
    """Stored judge calls keyed by (question number, left_role)."""
    frame = judge_calls_frame(store, study, JUDGE)
    numbers = numbers_of(store, study)
    return {(numbers[r["pair_id"]], r["left_role"]): r for r in frame.to_dict("records")}


def judge_choices(store: Store, study: Study) -> dict[int, tuple[str, list[str]]]:
    """The judge's live choice and reason tags by question number."""
    frame = judgments_frame(store, study, reviewer_type="judge")
    numbers = numbers_of(store, study)
    return {
        numbers[row["pair_id"]]: (row["choice"], row["reason_tags"])
        for row in frame.to_dict("records")
    }


def test_both_orders_are_sent_swapped_redacted_and_blind(
    tmp_store: Store, study: Study, server: FakeOpenAIServer
) -> None:
    report = judge_study(tmp_store, study, settings=FAST)
    assert (report.calls_sent, report.calls_failed, report.judgments_written) == (16, 0, 8)
    assert len(server.requests) == 16
    by_question: dict[int, list[RecordedRequest]] = {}
    for request in server.requests:
        by_question.setdefault(question_of(request), []).append(request)
        raw = json.dumps(request.body)
        for word in STUDY_WORDS:
            assert word not in raw, f"{word!r} reached the judge"
        assert request.model == "judge-model"
        assert request.auth_present
        assert not re.search(r"alice\d+@example\.com", raw), "unredacted e-mail sent to the judge"
        assert "[EMAIL]" in request.last_user_text
    assert sorted(by_question) == list(range(8))
    for requests in by_question.values():
        first, second = (dict(ANSWER_RE.findall(r.last_user_text)) for r in requests)
        assert first["1"] == second["2"] and first["2"] == second["1"]
        assert first["1"] != first["2"]
    assert report.cost > 0
    assert judge_calls_frame(tmp_store, study)["cost_usd"].sum() == pytest.approx(report.cost)


def test_verdicts_are_unblinded_and_inconsistent_pairs_become_flagged_ties(
    tmp_store: Store, study: Study, scripted: ScriptedJudge
) -> None:
    scripted.script = {0: "candidate", 1: "baseline", 2: "first", 3: "tie", 4: "both_bad"}
    judge_study(tmp_store, study, settings=FAST)
    calls = calls_by_question(tmp_store, study)
    assert len(calls) == 16
    for order in ("baseline", "candidate"):
        assert calls[(0, order)]["verdict"] == "candidate"
        assert calls[(1, order)]["verdict"] == "baseline"
        assert calls[(3, order)]["verdict"] == "tie"
        assert calls[(4, order)]["verdict"] == "both_bad"
        assert calls[(1, order)]["rationale"] == "q1 baseline"  # read from a fenced reply
        assert pd.isna(calls[(0, order)]["error"])
    # "first" always picks Answer 1: whichever side was shown first.
    assert calls[(2, "baseline")]["verdict"] == "baseline"
    assert calls[(2, "candidate")]["verdict"] == "candidate"
    assert calls[(0, "baseline")]["input_tokens"] > 0

    choices = judge_choices(tmp_store, study)
    assert choices[0] == ("candidate", [])
    assert choices[1] == ("baseline", [])
    assert choices[2] == ("tie", ["judge_inconsistent"])
    assert choices[3] == ("tie", [])
    assert choices[4] == ("both_bad", [])
    assert choices[5] == ("candidate", [])
    frame = judgments_frame(tmp_store, study, reviewer_type="judge")
    assert set(frame["reviewer"]) == {f"judge:{JUDGE}"}
    assert set(frame["left_role"]) == {"baseline"}
    assert all(c.startswith("rubric v1 ") and "q" in c for c in frame["comment"])


def test_judge_verdicts_stay_out_of_human_statistics_and_the_queue(
    tmp_store: Store, study: Study
) -> None:
    before = review_progress(tmp_store, study)
    judge_study(tmp_store, study, settings=FAST)
    assert judgments_frame(tmp_store, study).empty
    assert len(judgments_frame(tmp_store, study, reviewer_type=None)) == 8
    with tmp_store.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM reservations").fetchone()[0] == 0
    assert review_progress(tmp_store, study) == before
    item = next_item(tmp_store, study, "alice")
    assert item is not None
    assert verdict_judgments(tmp_store, study).empty  # not enabled: humans only


def test_server_error_is_retried_and_unreadable_reply_is_recorded_and_retried_alone(
    tmp_store: Store, study: Study, server: FakeOpenAIServer, scripted: ScriptedJudge
) -> None:
    scripted.script = {5: "garbage_baseline_first", 6: "garbage"}
    server.fail_first(1, ("500",), prompt_contains="Question 3 about")
    report = judge_study(tmp_store, study, settings=FAST)
    assert report.calls_failed == 3
    calls = calls_by_question(tmp_store, study)
    assert [calls[(3, o)]["verdict"] for o in ("baseline", "candidate")] == ["candidate"] * 2
    assert len([r for r in server.requests if question_of(r) == 3]) == 4  # 500, then success
    failed = calls[(5, "baseline")]
    assert pd.isna(failed["verdict"])
    assert failed["error"].startswith("Unreadable verdict")
    assert failed["raw_text"] == "Both answers have merits; I cannot decide."
    assert calls[(5, "candidate")]["verdict"] == "candidate"
    assert pd.isna(calls[(6, "baseline")]["verdict"]) and pd.isna(
        calls[(6, "candidate")]["verdict"]
    )
    choices = judge_choices(tmp_store, study)
    assert sorted(choices) == [0, 1, 2, 3, 4, 7]  # 5 and 6 not judged

    scripted.script = {}
    sent = len(server.requests)
    again = judge_study(tmp_store, study, settings=FAST)
    retried = server.requests[sent:]
    assert sorted(question_of(r) for r in retried) == [5, 6, 6]
    assert (again.calls_sent, again.calls_failed, again.judgments_written) == (3, 0, 2)
    assert sorted(judge_choices(tmp_store, study)) == list(range(8))
    assert pd.isna(calls_by_question(tmp_store, study)[(5, "baseline")]["error"])

    sent = len(server.requests)
    idle = judge_study(tmp_store, study, settings=FAST)
    assert len(server.requests) == sent
    assert (idle.calls_sent, idle.judgments_written, idle.pairs_judged) == (0, 0, 8)


def test_rubric_change_judges_again_and_replaces_the_verdicts(
    tmp_store: Store, study: Study, server: FakeOpenAIServer, scripted: ScriptedJudge
) -> None:
    first = judge_study(tmp_store, study, settings=FAST)
    config = configure_judge(tmp_store, study, rubric="Prefer the shorter answer.")
    assert config.version == 1  # the first rubric of the study replaces the default
    scripted.script = {0: "baseline"}
    sent = len(server.requests)
    second = judge_study(tmp_store, study, settings=FAST)
    assert second.rubric_hash != first.rubric_hash
    assert len(server.requests) - sent == 16
    assert "Prefer the shorter answer." in server.requests[-1].body["messages"][0]["content"]
    assert second.judgments_replaced == 8
    frame = judgments_frame(tmp_store, study, reviewer_type="judge")
    assert len(frame) == 8
    assert all(second.rubric_hash in c for c in frame["comment"])
    assert judge_choices(tmp_store, study)[0] == ("baseline", [])
    history = pair_judgments(tmp_store, study, frame["pair_id"].iloc[0])
    assert history["undone"].tolist() == [True, False]
    assert set(judge_calls_frame(tmp_store, study)["rubric_hash"]) == {
        first.rubric_hash,
        second.rubric_hash,
    }
    assert configure_judge(tmp_store, study, rubric="Prefer the shorter answer.").version == 1
    assert configure_judge(tmp_store, study, rubric="Prefer the longer answer.").version == 2


def test_new_rubric_withdraws_old_verdicts_not_yet_rejudged(
    tmp_store: Store, study: Study, server: FakeOpenAIServer
) -> None:
    judge_study(tmp_store, study, settings=FAST)
    configure_judge(tmp_store, study, rubric="Another rubric.")
    report = judge_study(tmp_store, study, settings=FAST, limit=3)
    assert report.pairs_pending == 3
    assert (report.judgments_written, report.stale_undone) == (3, 5)
    assert len(judgments_frame(tmp_store, study, reviewer_type="judge")) == 3


def test_budget_stops_the_run_and_the_next_run_finishes(
    tmp_store: Store, study: Study, server: FakeOpenAIServer
) -> None:
    report = judge_study(tmp_store, study, settings=FAST, budget=0.0)
    assert report.budget_exhausted and report.calls_sent == 0
    assert server.requests == []
    done = judge_study(tmp_store, study, settings=FAST)
    assert done.pairs_judged == 8


def test_missing_or_logged_judge_variant_is_refused(tmp_store: Store, tmp_path: Path) -> None:
    built = build_study(tmp_store, tmp_path)
    with pytest.raises(ConfigError, match="no judge variant"):
        judge_study(tmp_store, built)
    save_variant(tmp_store, VariantConfig(name="logged", provider="logged"))
    with pytest.raises(ConfigError, match="cannot judge"):
        configure_judge(tmp_store, built, variant="logged")


def test_cli_judges_and_prints_agreement(
    tmp_store: Store,
    study: Study,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmp_store.close()
    rubric = tmp_path / "rubric.txt"
    rubric.write_text("Prefer correct answers.", encoding="utf-8")
    assert (
        cli_main(["judge", "--study", "judge check", "--rubric-file", str(rubric), "--json"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert (report["calls_sent"], report["pairs_judged"], report["variant"]) == (16, 8, JUDGE)
    assert (
        cli_main(["judge", "agreement", "--study", "judge check", "--by", "feature", "--json"]) == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [(r["slice"], r["value"], r["n_pairs"]) for r in rows] == [
        ("overall", "all", 0),
        ("feature", "chat", 0),
        ("feature", "json", 0),
    ]
    assert rows[0]["n_judge_pairs"] == 8 and rows[0]["kappa"] is None


def test_in_verdict_only_for_proven_slices_and_only_where_humans_are_missing(
    tmp_store: Store,
    tmp_path: Path,
    server: FakeOpenAIServer,
    scripted: ScriptedJudge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, "judge-secret")
    study = build_study(tmp_store, tmp_path, n=44, chat=40)
    scripted.learn(tmp_store, study)
    save_variant(
        tmp_store,
        VariantConfig(
            name=JUDGE,
            provider="openai",
            model="judge-model",
            base_url=server.base_url,
            api_key_env=KEY_ENV,
        ),
    )
    configure_judge(tmp_store, study, variant=JUDGE)
    scripted.script = {i: ("baseline" if i % 3 == 0 else "candidate") for i in range(44)}
    judge_study(tmp_store, study, settings=FAST)
    judged = judge_choices(tmp_store, study)
    number_of = numbers_of(tmp_store, study)
    # Humans agree with the judge on 32 chat pairs and 2 json pairs.
    human_pairs = [p for p, i in number_of.items() if i < 32 or i in (40, 41)]
    for pair_id in human_pairs:
        append_judgment(
            tmp_store,
            study,
            pair_id=pair_id,
            reviewer="alice",
            left_role="baseline",
            choice=judged[number_of[pair_id]][0],
            comment=None,
            time_on_item_ms=None,
        )
    table = judge_agreement(tmp_store, study, by="feature")
    chat = table[table["value"] == "chat"].iloc[0]
    assert (chat["n_pairs"], chat["kappa"], chat["gap"]) == (32, 1.0, 0.0)

    with pytest.raises(ConfigError, match="not proven") as refused:
        set_judge_in_verdict(tmp_store, study, "feature", ["chat", "json"])
    assert "chat" in (refused.value.fix or "")
    assert load_judge_config(tmp_store, study).in_verdict is None
    assert len(verdict_judgments(tmp_store, study)) == 34

    set_judge_in_verdict(tmp_store, study, "feature", ["chat"])
    frame = verdict_judgments(tmp_store, study)
    added = frame[frame["reviewer_type"] == "judge"]
    assert sorted(number_of[p] for p in added["pair_id"]) == list(range(32, 40))
    assert len(frame) == 34 + 8

    set_judge_in_verdict(tmp_store, study, None)
    assert len(verdict_judgments(tmp_store, study)) == 34


def test_identity_leaks_are_masked_or_the_pair_excluded_as_for_reviewers(
    tmp_store: Store, study: Study, server: FakeOpenAIServer, scripted: ScriptedJudge
) -> None:
    pair_id = next(p for p, i in numbers_of(tmp_store, study).items() if i == 2)
    leak = "I'm ChatGPT, an AI assistant made by OpenAI."
    with tmp_store.cursor() as cur:
        cur.execute(
            "UPDATE responses SET text = ? || ' ' || text WHERE variant = 'newmodel-cand' "
            "AND prompt_id = ?",
            [leak, pair_content(tmp_store, study, pair_id).prompt_id],
        )
    scripted.learn(tmp_store, study)
    judge_study(tmp_store, study, settings=FAST)  # identity policy 'mask' (the default)
    masked = [r for r in server.requests if question_of(r) == 2]
    assert len(masked) == 2
    assert all("[model identity removed]" in r.last_user_text for r in masked)
    for request in server.requests:
        assert "ChatGPT" not in json.dumps(request.body)

    excluded = set_review_settings(
        tmp_store,
        study,
        rubric=study.rubric,
        reason_tags=study.reason_tags,
        identity_policy="exclude",
        slice_minimum=study.slice_minimum,
    )
    configure_judge(tmp_store, excluded, rubric="A rubric for the exclude policy.")
    sent = len(server.requests)
    report = judge_study(tmp_store, excluded, settings=FAST)
    assert report.pairs_excluded == 1
    assert all(question_of(r) != 2 for r in server.requests[sent:])
    assert len(server.requests) - sent == 14
    assert 2 not in judge_choices(tmp_store, excluded)


def test_overlapping_judge_runs_leave_one_live_verdict_per_pair(
    tmp_store: Store, tmp_path: Path
) -> None:
    """Two runs of one judge write at once (two workers, or two app sessions); each pair ends
    with exactly one live verdict of that judge, whichever run wrote it."""
    import threading

    from swapcheck.store.judge import NewJudgeJudgment, judge_reviewer, write_judge_judgments
    from swapcheck.store.judgments import ready_pair_ids

    study = build_study(tmp_store, tmp_path)
    pairs = ready_pair_ids(tmp_store, study)
    reviewer = judge_reviewer("judge-model")
    barrier = threading.Barrier(4)
    written: list[dict[str, str]] = []

    def run(choice: str) -> None:
        verdicts = [NewJudgeJudgment(p, choice, (), f"run {choice}") for p in pairs]
        barrier.wait()
        written.append(write_judge_judgments(tmp_store, study, reviewer, verdicts))

    threads = [
        threading.Thread(target=run, args=(c,)) for c in ("baseline", "candidate", "tie", "tie")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(p for w in written for p in w) == sorted(pairs)  # each pair written once
    with tmp_store.cursor() as cur:
        live = cur.execute(
            "SELECT pair_id, count(*) FROM judgments WHERE reviewer = ? AND undone_at IS NULL "
            "GROUP BY pair_id",
            [reviewer],
        ).fetchall()
    assert sorted(live) == sorted((p, 1) for p in pairs)
