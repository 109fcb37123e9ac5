"""Fault soak: thousands of requests under seeded random faults; nothing lost, nothing doubled."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from swapcheck.generate import GenerationSettings, generate
from swapcheck.models import GenerationJob, ResponseRecord, VariantConfig
from tests.fault_server import FaultRates, FaultServer

ANSWER_ID = re.compile(r"^\[(ans-\d+)\] answer to: (.*)$")

SOAK_RATES = FaultRates(
    rate_limited=0.20,
    server_error=0.05,
    hang=0.02,
    malformed=0.01,
    truncated=0.01,
    reset=0.01,
)

SOAK_SETTINGS = GenerationSettings(
    concurrency=64,
    max_retries=8,
    timeout_s=5.0,  # the server hangs 6 s: beyond it; an answer (ms) is far within it
    backoff_base_s=0.01,
    backoff_cap_s=0.3,  # >= the largest Retry-After (0.1 s): that is a floor
    flush_every=100,
    flush_interval_s=0.2,
    aimd_increase_after=3,
    aimd_cooldown_s=1.0,
)


class Sink:
    def __init__(self) -> None:
        self.records: list[ResponseRecord] = []

    def __call__(self, batch: list[ResponseRecord]) -> None:
        self.records.extend(batch)


def make_jobs(n: int) -> list[GenerationJob]:
    return [GenerationJob(f"p{i}", [{"role": "user", "content": f"soak #{i}."}]) for i in range(n)]


def make_variant(server: FaultServer, **overrides: Any) -> VariantConfig:
    fields: dict[str, Any] = {
        "name": "soak",
        "provider": "openai",
        "model": "m-soak",
        "base_url": server.base_url,
        "price_input_per_mtok": 1.0,
        "price_output_per_mtok": 2.0,
    }
    fields.update(overrides)
    return VariantConfig(**fields)


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer(SOAK_RATES, seed=20261125, retry_after_max_s=0.1, hang_s=6.0) as fake:
        yield fake


def test_seeded_fault_mix_is_what_was_asked_for() -> None:
    import random

    rng = random.Random(7)
    picks = [SOAK_RATES.pick(rng) for _ in range(20_000)]
    share = {o: picks.count(o) / len(picks) for o in set(picks)}
    assert share["429"] == pytest.approx(0.20, abs=0.01)
    assert share["500"] + share["503"] == pytest.approx(0.05, abs=0.006)
    assert share["hang"] == pytest.approx(0.02, abs=0.004)
    assert share["ok"] == pytest.approx(0.70, abs=0.012)
    assert [SOAK_RATES.pick(random.Random(3)) for _ in range(3)] == [
        SOAK_RATES.pick(random.Random(3)) for _ in range(3)
    ]


@pytest.mark.timeout(180)
def test_soak_2000_jobs_every_job_accounted_for_and_no_duplicate_answers(
    server: FaultServer,
) -> None:
    jobs = make_jobs(2000)
    sink, seen = Sink(), []
    report = generate(
        make_variant(server), jobs, sink, settings=SOAK_SETTINGS, on_record=seen.append
    )

    # Every job ends answered or failed with a recorded reason, exactly once.
    assert report.total == 2000 and report.succeeded + report.failed == 2000
    assert not report.cancelled and not report.budget_exhausted
    by_id = {r.prompt_id: r for r in sink.records}
    assert len(sink.records) == len(by_id) == 2000
    assert [r.prompt_id for r in seen] == [r.prompt_id for r in sink.records]
    failed = [r for r in sink.records if not r.ok]
    assert len(failed) == report.failed
    assert all(r.error and r.error.strip() for r in failed)

    # Each stored success is an answer the server sent, for that very prompt, used once.
    delivered = server.delivered_answers()
    stored_ids: list[str] = []
    for job in jobs:
        record = by_id[job.prompt_id]
        if not record.ok:
            continue
        match = ANSWER_ID.match(record.text or "")
        assert match, record.text
        answer_id, prompt = match.groups()
        assert prompt == job.messages[0]["content"]
        assert answer_id in delivered and delivered[answer_id].prompt == prompt
        assert (record.input_tokens, record.output_tokens) == delivered[answer_id].usage
        stored_ids.append(answer_id)
    assert len(set(stored_ids)) == len(stored_ids) == report.succeeded
    # Zero duplicates: the server sent exactly as many good answers as were stored.
    assert len(delivered) == report.succeeded

    # The faults really happened, and the engine retried its way through them.
    served = server.snapshot()
    outcomes = {o: sum(1 for r in served if r.outcome == o) for o in ("429", "500", "503")}
    assert outcomes["429"] >= 300 and outcomes["500"] + outcomes["503"] >= 50
    assert {"hang", "malformed", "truncated", "reset"} <= {r.outcome for r in served}
    assert report.retries >= outcomes["429"]
    assert report.succeeded >= 1900  # malformed JSON may fail a job (permanent today)
    assert report.pauses >= 1  # 429s with Retry-After paused the variant
    assert server.max_in_flight <= SOAK_SETTINGS.concurrency
