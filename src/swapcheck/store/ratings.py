"""Human judgments of several studies as variant-vs-variant comparisons (for Bradley-Terry)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from swapcheck.store.connection import Store


def study_comparisons(store: Store, study_ids: Sequence[str]) -> pd.DataFrame:
    """One row per live human judgment of the studies: ``study_id, variant_a`` (the study's
    baseline), ``variant_b`` (its candidate) and ``winner`` in {a, b, tie}; both-bad is a tie."""
    with store.cursor() as cur:
        return cur.execute(
            """
            SELECT j.study_id, s.baseline_variant AS variant_a, s.candidate_variant AS variant_b,
                   CASE j.choice WHEN 'baseline' THEN 'a' WHEN 'candidate' THEN 'b'
                        ELSE 'tie' END AS winner
            FROM judgments j JOIN studies s USING (study_id)
            WHERE list_contains($ids, j.study_id) AND j.undone_at IS NULL
              AND j.reviewer_type = 'human'
            ORDER BY j.study_id, j.created_at, j.judgment_id
            """,
            {"ids": list(study_ids)},
        ).df()
