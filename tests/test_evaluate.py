"""The evaluation runner: stored once per (answer, instance), reruns, versions, failures, frames."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from swapcheck import evaluators
from swapcheck.cli import main as cli_main
from swapcheck.errors import ConfigError
from swapcheck.evaluate import evaluate_study
from swapcheck.evaluation_config import set_study_instances
from swapcheck.evaluators import EvalValue, PairInput, ResponseInput, evaluator, load_builtin
from swapcheck.store import Store
from swapcheck.store.evaluations import (
    evaluation_frame,
    flagged_answers,
    run_evaluators,
    write_scores,
)
from swapcheck.store.studies import Study, study_prompt_ids

pytestmark = pytest.mark.both_backends  # tmp_store: DuckDB and PostgreSQL

N = 9


def register_test_evaluators(length_version: int = 1) -> None:
    """Test evaluators: length (mean), JSON-feature-only rate, needle (options), pair equality,
    and one that raises on the answers to prompt number 3."""

    @evaluator("t_len", version=length_version, kind="mean", higher_is="neutral")
    def t_len(options: Mapping[str, Any]):  # type: ignore[no-untyped-def]
        """Answer length in characters."""
        return lambda r: EvalValue(float(len(r.text)))

    @evaluator("t_json_only", kind="rate")
    def t_json_only(options: Mapping[str, Any]):  # type: ignore[no-untyped-def]
        """Applies only to the json feature; 1 when the answer has a brace."""
        return lambda r: (
            EvalValue(float("{" in r.text), "brace")
            if r.metadata.get("feature") == "json"
            else None
        )

    @evaluator("t_needle", kind="rate", needs_options=True, options_doc="needle = 'text'")
    def t_needle(options: Mapping[str, Any]):  # type: ignore[no-untyped-def]
        """Answer contains the configured needle."""
        needle = options.get("needle")
        if not isinstance(needle, str) or not needle:
            raise ConfigError("option 'needle' must be a non-empty string.", "needle = 'reset'")
        return lambda r: EvalValue(float(needle in r.text))

    @evaluator("t_same", scope="pair", kind="rate", higher_is="neutral")
    def t_same(options: Mapping[str, Any]):  # type: ignore[no-untyped-def]
        """Both answers have the same length."""
        return lambda p: EvalValue(float(len(p.baseline_text) == len(p.candidate_text)))

    @evaluator("t_boom", kind="mean")
    def t_boom(options: Mapping[str, Any]):  # type: ignore[no-untyped-def]
        """Word count; raises on prompt number 3."""

        def score(r: ResponseInput) -> EvalValue:
            if "number 3:" in r.messages[-1]["content"]:
                raise ValueError("boom on three")
            return EvalValue(float(len(r.text.split())))

        return score


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """Only the test evaluators are registered (the real registry is restored afterwards)."""
    load_builtin()  # import the built-in modules first so they do not register into ours
    fresh: dict = {}
    monkeypatch.setattr(evaluators, "REGISTRY", fresh)
    register_test_evaluators()
    yield fresh


@pytest.fixture
def study(tmp_store: Store, tmp_path: Path, registry: dict) -> Study:
    """Nine prompts (features chat/json/summary), answered by two simulated variants; the
    candidate's answer to prompt r8 failed. No scores stored yet."""
    from tests.helpers import simulated_study

    study = simulated_study(tmp_store, tmp_path, n=N)
    with tmp_store.cursor() as cur:
        cur.execute("DELETE FROM evaluation_scores")
        cur.execute(
            "UPDATE responses SET error = 'upstream 500', text = NULL WHERE variant = 'cand' "
            "AND prompt_id = (SELECT prompt_id FROM prompts WHERE external_id = 'r8')"
        )
    return study


def scores(store: Store, evaluator_name: str | None = None) -> pd.DataFrame:
    where = "WHERE evaluator = ?" if evaluator_name else ""
    with store.cursor() as cur:
        return cur.execute(
            "SELECT s.*, p.external_id FROM evaluation_scores s JOIN prompts p USING (prompt_id) "
            f"{where} ORDER BY evaluator, external_id, variant",
            [evaluator_name] if evaluator_name else [],
        ).df()


def answers(store: Store) -> pd.DataFrame:
    with store.cursor() as cur:
        return cur.execute(
            "SELECT r.prompt_id, p.external_id, r.variant, r.text, p.metadata "
            "FROM responses r JOIN prompts p USING (prompt_id) WHERE r.error IS NULL "
            "AND r.variant IN ('base', 'cand')"
        ).df()


def test_scores_every_successful_answer_once_and_skips_them_on_a_second_run(
    tmp_store: Store, study: Study
) -> None:
    report = evaluate_study(tmp_store, study)
    # 9 baseline + 8 candidate answers (r8 failed); 8 complete pairs
    t_len = report.outcomes["t_len"]
    assert (t_len.scored, t_len.not_applicable, t_len.failed) == (17, 0, 0)
    json_only = report.outcomes["t_json_only"]  # features cycle chat, json, summary: r1 r4 r7
    assert (json_only.scored, json_only.not_applicable) == (6, 11)
    assert report.outcomes["t_same"].scored == 8
    assert "t_needle" not in report.outcomes  # needs options: not a default instance
    assert report.stored == 17 + 17 + 8 + 15  # t_len, t_json_only, t_same, t_boom (2 failed)
    lengths = scores(tmp_store, "t_len")
    truth = answers(tmp_store)
    expected = {(r.prompt_id, r.variant): float(len(r.text)) for r in truth.itertuples()}
    got = {(r.prompt_id, r.variant): r.value for r in lengths.itertuples()}
    assert got == expected
    assert set(lengths.against) == {""} and set(lengths.config_hash) == {""}
    not_applicable = scores(tmp_store, "t_json_only")
    assert not_applicable.value.isna().sum() == 11  # stored as NULL: not recomputed next time
    again = evaluate_study(tmp_store, study)
    assert again.stored == 0
    assert again.outcomes["t_len"].up_to_date == 17
    assert again.outcomes["t_boom"].failed == 2  # failures are retried, never stored
    assert len(scores(tmp_store)) == report.stored


def test_rerun_replaces_scores_in_place(tmp_store: Store, study: Study) -> None:
    evaluate_study(tmp_store, study)
    with tmp_store.cursor() as cur:
        cur.execute("UPDATE evaluation_scores SET value = -1 WHERE evaluator = 't_len'")
    assert evaluate_study(tmp_store, study).stored == 0  # same version and options: kept
    assert set(scores(tmp_store, "t_len").value) == {-1.0}
    report = evaluate_study(tmp_store, study, only=["t_len"], rerun=True)
    assert list(report.outcomes) == ["t_len"] and report.stored == 17
    assert -1.0 not in set(scores(tmp_store, "t_len").value)
    assert len(scores(tmp_store, "t_len")) == 17
    with pytest.raises(ConfigError, match="no evaluator instance 'nope'"):
        evaluate_study(tmp_store, study, only=["nope"])


def test_version_bump_replaces_only_that_evaluators_rows(tmp_store: Store, study: Study) -> None:
    evaluate_study(tmp_store, study)
    before = scores(tmp_store).set_index(["evaluator", "prompt_id", "variant"])
    register_test_evaluators(length_version=2)  # the fixture's registry is dropped afterwards
    report = evaluate_study(tmp_store, study)
    assert report.outcomes["t_len"].scored == 17
    assert report.stored == 17
    after = scores(tmp_store).set_index(["evaluator", "prompt_id", "variant"])
    assert set(after.loc["t_len"].version) == {2}
    others = before.drop(index="t_len")
    assert (after.drop(index="t_len").created_at == others.created_at).all()
    assert len(after) == len(before)


def test_study_instances_with_options_get_their_own_hash_and_rows(
    tmp_store: Store, study: Study
) -> None:
    effective = set_study_instances(
        tmp_store,
        study,
        [
            {"name": "says_number", "evaluator": "t_needle", "options": {"needle": "number"}},
            {"name": "says_zzz", "evaluator": "t_needle", "options": {"needle": "zzz"}},
        ],
        disabled=["t_boom"],
    )
    names = [i.name for i in effective]
    assert names == ["t_json_only", "t_len", "t_same", "says_number", "says_zzz"]
    hashes = {i.name: i.config_hash for i in effective}
    assert hashes["says_number"] and hashes["says_zzz"] != hashes["says_number"]
    report = evaluate_study(tmp_store, study)
    assert "t_boom" not in report.outcomes
    number = scores(tmp_store, "says_number")
    truth = answers(tmp_store).set_index(["prompt_id", "variant"]).text
    assert len(number) == 17 and set(number.config_hash) == {hashes["says_number"]}
    for row in number.itertuples():
        assert row.value == float("number" in truth[(row.prompt_id, row.variant)])
    assert set(scores(tmp_store, "says_zzz").value) == {0.0}
    # new options, same name: a new hash, and the old rows are replaced (not kept beside)
    set_study_instances(
        tmp_store,
        study,
        [{"name": "says_number", "evaluator": "t_needle", "options": {"needle": "zzz"}}],
    )
    assert evaluate_study(tmp_store, study).outcomes["says_number"].scored == 17
    number = scores(tmp_store, "says_number")
    assert len(number) == 17 and set(number.value) == {0.0}
    assert set(number.config_hash) == {hashes["says_zzz"]}  # same evaluator, version, options


def test_an_evaluator_raising_on_one_answer_keeps_the_other_scores(
    tmp_store: Store, study: Study
) -> None:
    report = evaluate_study(tmp_store, study)
    boom = report.outcomes["t_boom"]
    assert (boom.scored, boom.failed) == (15, 2)  # r3's two answers fail
    assert "ValueError: boom on three" in (boom.first_error or "")
    stored = scores(tmp_store, "t_boom")
    assert len(stored) == 15 and "r3" not in set(stored.external_id)
    assert "t_boom x2" in report.summary()
    as_dict = report.to_dict()
    assert as_dict["failed"] == 2
    by_name = {o["name"]: o for o in json.loads(json.dumps(as_dict))["instances"]}
    assert by_name["t_boom"]["failed"] == 2 and by_name["t_len"]["failed"] == 0


def test_bad_results_and_unbuildable_factories_are_failures_not_crashes(
    tmp_store: Store, study: Study, registry: dict
) -> None:
    @evaluator("t_not_a_rate", kind="rate")
    def t_not_a_rate(options: Mapping[str, Any]):  # type: ignore[no-untyped-def]
        """Returns 0.5 although it is a rate."""
        return lambda r: EvalValue(0.5)

    @evaluator("t_broken_factory")
    def t_broken_factory(options: Mapping[str, Any]):  # type: ignore[no-untyped-def]
        """Cannot be built."""
        raise RuntimeError("model file missing")

    report = evaluate_study(tmp_store, study, only=["t_not_a_rate", "t_broken_factory"])
    assert report.outcomes["t_not_a_rate"].failed == 17
    assert "must be 0 or 1" in (report.outcomes["t_not_a_rate"].first_error or "")
    broken = report.outcomes["t_broken_factory"]
    assert broken.failed == 17 and "model file missing" in (broken.first_error or "")
    assert report.stored == 0


def test_pair_evaluators_are_stored_as_candidate_against_baseline(
    tmp_store: Store, study: Study
) -> None:
    evaluate_study(tmp_store, study)
    pairs = scores(tmp_store, "t_same")
    assert set(pairs.variant) == {"cand"} and set(pairs.against) == {"base"}
    assert len(pairs) == 8 and "r8" not in set(pairs.external_id)
    texts = answers(tmp_store).pivot(index="prompt_id", columns="variant", values="text")
    for row in pairs.itertuples():
        same = len(texts.loc[row.prompt_id, "base"]) == len(texts.loc[row.prompt_id, "cand"])
        assert row.value == float(same)


def test_evaluation_frame_matches_hand_inserted_scores(tmp_store: Store, study: Study) -> None:
    with tmp_store.cursor() as cur:
        ids = dict(cur.execute("SELECT external_id, prompt_id FROM prompts").fetchall())
    rows = [
        (ids["r0"], "base", "", "t_len", "", 1, 10.0, None),
        (ids["r0"], "cand", "", "t_len", "", 1, 14.0, None),
        (ids["r1"], "base", "", "t_len", "", 1, 7.0, None),
        (ids["r1"], "cand", "", "t_len", "", 0, 99.0, None),  # old version: not current
        (ids["r1"], "base", "", "t_json_only", "", 1, 1.0, "brace"),
        (ids["r1"], "cand", "", "t_json_only", "", 1, None, None),  # not applicable
        (ids["r0"], "cand", "base", "t_same", "", 1, 1.0, None),
        (ids["r8"], "base", "", "t_len", "", 1, 3.0, None),  # r8's pair is incomplete
    ]
    columns = ["prompt_id", "variant", "against", "evaluator", "config_hash", "version"]
    write_scores(tmp_store, pd.DataFrame(rows, columns=[*columns, "value", "label"]))
    frame = evaluation_frame(tmp_store, study)
    assert list(frame.columns) == [
        "pair_id", "prompt_id", "evaluator", "scope", "kind", "higher_is",
        "baseline", "candidate", "value", *study.slice_columns,
    ]  # fmt: skip
    assert {"feature", "locale"} <= set(study.slice_columns)
    assert len(frame) == 8 * 4  # 8 complete pairs x 4 default instances
    assert ids["r8"] not in set(frame.prompt_id)
    by_key = frame.set_index(["prompt_id", "evaluator"])
    r0 = by_key.loc[(ids["r0"], "t_len")]
    assert (r0.baseline, r0.candidate, r0.scope, r0.kind) == (10.0, 14.0, "response", "mean")
    assert math.isnan(r0.value) and r0.feature == "chat" and r0.locale == "en-US"
    r1 = by_key.loc[(ids["r1"], "t_len")]
    assert r1.baseline == 7.0 and math.isnan(r1.candidate)
    r1_json = by_key.loc[(ids["r1"], "t_json_only")]
    assert r1_json.baseline == 1.0 and math.isnan(r1_json.candidate)
    assert r1_json.feature == "json" and r1_json.higher_is == "worse"
    pair = by_key.loc[(ids["r0"], "t_same")]
    assert pair.value == 1.0 and math.isnan(pair.baseline) and math.isnan(pair.candidate)
    assert pair.scope == "pair"
    assert frame.baseline.notna().sum() == 3 and frame.value.notna().sum() == 1


def scored_for_both(frame: pd.DataFrame, evaluator: str) -> pd.DataFrame:
    """Rows of ``evaluation_frame`` where the instance scored both answers of the pair."""
    rows = frame[frame.evaluator == evaluator]
    return rows[rows.baseline.notna() & rows.candidate.notna()]


def test_frame_and_flagged_answers_read_the_new_table(tmp_store: Store, study: Study) -> None:
    evaluate_study(tmp_store, study)
    frame = evaluation_frame(tmp_store, study)
    length = scored_for_both(frame, "t_len")
    truth = answers(tmp_store).pivot(index="prompt_id", columns="variant", values="text").dropna()
    assert len(length) == 8
    assert length.baseline.mean() == pytest.approx(truth["base"].str.len().mean())
    assert length.candidate.mean() == pytest.approx(truth["cand"].str.len().mean())
    assert scored_for_both(frame, "t_same").empty  # a pair evaluator has one value, no sides
    assert len(scored_for_both(frame, "t_json_only")) == 3  # r1, r4, r7 ask for json
    assert set(length.feature) == {"chat", "json", "summary"}
    flagged = flagged_answers(tmp_store, study, "t_len")  # every length is above 0
    assert len(flagged) == 17 and set(flagged.role) == {"baseline", "candidate"}


def test_run_evaluators_scores_given_answers_with_default_response_instances(
    tmp_store: Store, study: Study
) -> None:
    ids = study_prompt_ids(tmp_store, study)
    stored = run_evaluators(tmp_store, "cand", ids)
    assert stored == 8 * 3 - 1  # t_len, t_json_only, t_boom on 8 answers; t_boom fails on r3
    assert set(scores(tmp_store).evaluator) == {"t_len", "t_json_only", "t_boom"}
    assert run_evaluators(tmp_store, "cand", ids) == 0
    # the study run then only adds the baseline, the pairs and nothing twice
    report = evaluate_study(tmp_store, study)
    assert report.outcomes["t_len"].up_to_date == 8 and report.outcomes["t_len"].scored == 9


def test_cli_evaluate_list_and_config(
    tmp_store: Store, study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp_store.close()
    config = tmp_path / "evaluators.toml"
    config.write_text(
        'disabled = ["t_boom"]\n\n[[instances]]\nname = "says_number"\nevaluator = "t_needle"\n'
        'options = { needle = "number" }\n',
        encoding="utf-8",
    )
    assert cli_main(["evaluators", "config", "--study", study.name, "--file", str(config)]) == 0
    assert "says_number" in capsys.readouterr().out
    assert cli_main(["evaluators", "config", "--study", study.name, "--show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["disabled"] == ["t_boom"]
    assert shown["instances"][0]["options"] == {"needle": "number"}
    assert cli_main(["evaluate", "--study", study.name, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    outcomes = {o["name"]: o for o in report["instances"]}
    assert outcomes["says_number"]["scored"] == 17 and "t_boom" not in outcomes
    assert cli_main(["evaluate", "--study", study.name, "--only", "t_len", "--rerun"]) == 0
    out = capsys.readouterr().out
    assert "17 scores" in out and "t_len" in out
    assert cli_main(["evaluators", "list", "--study", study.name, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    needle = next(r for r in listed["evaluators"] if r["name"] == "t_needle")
    assert needle["needs_options"] and needle["options_doc"] == "needle = 'text'"
    assert [i["name"] for i in listed["instances"]][-1] == "says_number"
    assert cli_main(["evaluators", "list"]) == 0
    assert "t_same: Both answers have the same length. [pair, rate" in capsys.readouterr().out


def test_pair_and_response_inputs_carry_the_prompt_and_metadata(
    tmp_store: Store, study: Study, registry: dict
) -> None:
    seen: list[object] = []

    @evaluator("t_spy", scope="pair", kind="mean")
    def t_spy(options: Mapping[str, Any]):  # type: ignore[no-untyped-def]
        """Records its inputs."""

        def score(p: PairInput) -> None:
            seen.append(p)

        return score

    report = evaluate_study(tmp_store, study, only=["t_spy"])
    assert report.outcomes["t_spy"].not_applicable == 8 and len(seen) == 8
    first = seen[0]
    assert isinstance(first, PairInput)
    assert (
        first.messages[-1]["role"] == "user" and "Question number" in first.messages[-1]["content"]
    )
    assert first.metadata["feature"] in {"chat", "json", "summary"}
    assert first.baseline_text and first.candidate_text


def test_built_in_evaluators_run_after_generation_and_on_the_study(
    tmp_store: Store, tmp_path: Path
) -> None:
    from swapcheck.evaluation_config import default_instances
    from tests.helpers import simulated_study

    study = simulated_study(tmp_store, tmp_path, n=9)  # generation ran the default instances
    per_answer = [i.name for i in default_instances() if i.spec.scope == "response"]
    per_pair = [i.name for i in default_instances() if i.spec.scope == "pair"]
    assert {"refusal", "identity_leak", "json_valid"} <= set(per_answer)
    assert "length_ratio" in per_pair
    ids = study_prompt_ids(tmp_store, study)
    assert run_evaluators(tmp_store, "cand", ids) == 0  # nothing new: idempotent
    with tmp_store.cursor() as cur:
        cur.execute("DELETE FROM evaluation_scores WHERE variant = 'cand'")
    # every default response instance stores a row per answer (NULL when not applicable)
    assert run_evaluators(tmp_store, "cand", ids) == 9 * len(per_answer)
    report = evaluate_study(tmp_store, study)
    assert report.failed == 0, report.summary()
    assert report.stored == 9 * len(per_pair)  # only the pairs were missing
    frame = evaluation_frame(tmp_store, study)
    refusal = scored_for_both(frame, "refusal")
    assert len(refusal) == 9 and set(refusal.feature) == {"chat", "json", "summary"}
    assert len(frame) == 9 * (len(per_answer) + len(per_pair))
    lengths = frame[frame.evaluator == "length_chars"]
    texts = answers(tmp_store).pivot(index="prompt_id", columns="variant", values="text")
    expected = texts.loc[lengths.prompt_id, "cand"].str.strip().str.len().to_numpy()
    assert (lengths.candidate.to_numpy() == expected).all()
