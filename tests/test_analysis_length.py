"""The length-controlled win rate joins each judgment to its own pair's answer lengths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from swapcheck.analysis import length_controlled
from swapcheck.review import submit_judgment
from swapcheck.stats_models import length_controlled_win_rate
from swapcheck.store import Store
from swapcheck.store.judgments import judgments_frame, ready_pair_ids
from tests.helpers import simulated_study


def test_lengths_come_from_each_pairs_own_answers(tmp_store: Store, tmp_path: Path) -> None:
    study = simulated_study(tmp_store, tmp_path, n=12, overlap=2)
    picks = ["left", "right", "tie", "left", "both_bad", "right"]
    for i, pair_id in enumerate(ready_pair_ids(tmp_store, study)):
        for reviewer in ("ann", "bob"):
            pick = picks[(i + len(reviewer)) % len(picks)]
            submit_judgment(tmp_store, study, reviewer=reviewer, pair_id=pair_id, pick=pick)
    judgments = judgments_frame(tmp_store, study)
    with tmp_store.cursor() as cur:
        texts = dict(
            ((prompt_id, variant), text)
            for prompt_id, variant, text in cur.execute(
                "SELECT prompt_id, variant, text FROM responses"
            ).fetchall()
        )
    base = np.array([len(texts[(p, "base")]) for p in judgments["prompt_id"]], dtype=float)
    cand = np.array([len(texts[(p, "cand")]) for p in judgments["prompt_id"]], dtype=float)
    expected = length_controlled_win_rate(judgments, base, cand)
    got = length_controlled(tmp_store, study, judgments)
    assert got is not None and got["n"] == 24
    for key in ("win_rate", "ci_low", "ci_high", "raw_win_rate", "length_coef"):
        assert got[key] == pytest.approx(expected[key], nan_ok=True)
    assert length_controlled(tmp_store, study, judgments.iloc[0:0]) is None
