"""The pairs behind a slice, worst first (votes against the candidate), counted by hand."""

from __future__ import annotations

import pandas as pd

from swapcheck.ui.results_drilldown import go_colour, worst_pairs


def test_worst_pairs_orders_by_votes_against_then_fewest_for() -> None:
    judgments = pd.DataFrame(
        {
            "pair_id": ["a", "a", "b", "b", "b", "c", "d", "d"],
            "choice": [
                "baseline",
                "candidate",
                "baseline",
                "both_bad",
                "tie",
                "candidate",
                "baseline",
                "baseline",
            ],  # fmt: skip
            "comment": [None, "ok", "wrong", None, None, None, "bad", "worse"],
            "locale": ["de", "de", "de", "de", "de", "en", "de", None],
        }
    )
    overall = worst_pairs(judgments, "overall", "")
    # against = baseline + both_bad: a 1, b 2, c 0, d 2; ties broken by fewer "for" votes
    assert list(overall["pair_id"]) == ["b", "d", "a", "c"]
    assert list(overall["against"]) == [2, 2, 1, 0]
    assert list(overall["comments"]) == [1, 2, 1, 0]
    german = worst_pairs(judgments, "locale", "de")
    # in "de": b against 2; a against 1, for 1; d has one vote there (against 1, for 0)
    assert list(german["pair_id"]) == ["b", "d", "a"]
    missing = worst_pairs(judgments, "locale", "(missing)")
    assert list(missing["pair_id"]) == ["d"] and list(missing["baseline"]) == [1]
    assert worst_pairs(judgments, "locale", "fr").empty


def test_go_colours() -> None:
    assert go_colour("red").startswith("background-color")
    assert go_colour("green") != go_colour("amber")
    assert go_colour("verdict?") == ""
