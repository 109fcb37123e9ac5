"""The demo seeding: reproducible numbers whatever the study's secret side assignment."""

from __future__ import annotations

from pathlib import Path

from swapcheck.demo import DEMO_REVIEWERS, seed_demo
from swapcheck.store import Store
from swapcheck.store.judgments import judgments_frame


def _seeded_choices(path: Path) -> dict[str, str]:
    store = Store(path, linger=0)
    study = seed_demo(store, n_prompts=80)
    frame = judgments_frame(store, study)
    store.close()
    assert set(frame.reviewer) <= set(DEMO_REVIEWERS)
    assert frame.pair_id.is_unique  # one simulated vote per pair, leaving room for real ones
    return dict(zip(frame.prompt_id, frame.choice, strict=True))


def test_demo_votes_do_not_depend_on_the_random_sides(tmp_path: Path) -> None:
    first = _seeded_choices(tmp_path / "one.duckdb")
    second = _seeded_choices(tmp_path / "two.duckdb")  # a new study secret, other sides
    assert first == second and len(first) >= 75
