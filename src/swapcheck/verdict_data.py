"""The judgments a sign-off reads: people's, admitted judge verdicts, and selection weights."""

from __future__ import annotations

import pandas as pd

from swapcheck.judge import verdict_judgments
from swapcheck.review_priority import selection_weights
from swapcheck.stats import WEIGHT_COLUMN
from swapcheck.store.connection import Store
from swapcheck.store.judgments import queue_slices
from swapcheck.store.priority import contested_for_study, get_priority_settings
from swapcheck.store.studies import Study


def priority_strata(store: Store, study: Study) -> pd.DataFrame:
    """``pair_id, slice, contested`` of every ready pair: the strata of the prioritised queue."""
    strata = queue_slices(store, study)
    contested = contested_for_study(store, study)
    return strata.assign(contested=strata["pair_id"].isin(contested))


def sign_off_judgments(store: Store, study: Study) -> pd.DataFrame:
    """Every judgment the verdict reads (``judge.verdict_judgments``: people's, plus judge
    verdicts an admin admitted), with ``selection_weight`` when the study's review queue is
    prioritised.

    A prioritised queue over-samples contested pairs within each queue slice, so unweighted
    rates would be biased towards them. In every (slice, stratum) the judged pairs are a
    random prefix of a random order, so weighting each judgment by the inverse of its pair's
    selection probability (``review_priority.selection_weights``) gives the post-stratified,
    unbiased rate; every table in ``swapcheck.stats`` then weighs by it.
    """
    frame = verdict_judgments(store, study)
    if frame.empty or not get_priority_settings(store, study).enabled:
        return frame
    strata = priority_strata(store, study)
    known = frame["pair_id"].isin(set(strata["pair_id"]))
    # A judged pair that is no longer ready (an answer was removed) is kept, weighing as one
    # pair, like an unprioritised judgment.
    votes = frame.groupby("pair_id")["pair_id"].transform("size").to_numpy(float)
    weights = pd.Series(1.0 / votes, index=frame.index)
    if known.any():
        weights[known] = selection_weights(frame[known], strata).to_numpy()
    return frame.assign(**{WEIGHT_COLUMN: weights.to_numpy()})
