"""Holding slices out of the judgments before computing win rates."""

from __future__ import annotations

import pandas as pd

from swapcheck.stats import without_slices


def test_without_slices_drops_rows_of_every_held_out_slice() -> None:
    frame = pd.DataFrame(
        {
            "choice": ["candidate", "baseline", "tie", "baseline", "candidate"],
            "left_role": ["baseline"] * 5,
            "feature": ["json", "chat", "json", None, "chat"],
            "locale": ["ja", "en", "en", "ja", "de"],
        }
    )
    assert without_slices(frame, []).equals(frame)
    kept = without_slices(frame, [("feature", "json"), ("locale", "ja")])
    assert kept.index.tolist() == [1, 4]
    assert without_slices(frame, [("feature", "(missing)")]).index.tolist() == [0, 1, 2, 4]
