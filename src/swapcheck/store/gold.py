"""Gold items: pairs an admin marked with the expected (unblinded) verdict."""

from __future__ import annotations

import pandas as pd

from swapcheck.errors import NotFoundError, ReviewError
from swapcheck.store.connection import Store, first_row
from swapcheck.store.studies import Study

GOLD_VERDICTS: tuple[str, ...] = ("baseline", "candidate", "tie", "both_bad")
MAX_NOTE = 1000


def mark_gold(
    store: Store,
    study: Study,
    pair_id: str,
    expected: str,
    *,
    note: str | None = None,
    marked_by: str,
) -> None:
    """Mark (or re-mark) a pair of the study as gold with the verdict a careful reviewer gives."""
    if expected not in GOLD_VERDICTS:
        raise ReviewError(
            f"Unknown expected verdict {expected!r}.", f"Use one of {', '.join(GOLD_VERDICTS)}."
        )
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE:
        raise ReviewError(
            f"The note is {len(note)} characters long.", f"Shorten it to {MAX_NOTE} characters."
        )
    marked_by = " ".join((marked_by or "").split())
    if not marked_by:
        raise ReviewError("Gold items need the admin's name.", "Sign in before marking gold.")
    with store.cursor() as cur:
        if (
            first_row(
                cur.execute(
                    "SELECT 1 FROM pairs WHERE study_id = ? AND pair_id = ?",
                    [study.study_id, pair_id],
                )
            )
            is None
        ):
            raise NotFoundError(
                f"Pair {pair_id} is not part of study {study.name!r}.",
                "Pick a pair from this study's pair list.",
            )
        cur.execute(
            "INSERT INTO gold_items (study_id, pair_id, expected, note, marked_by) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (study_id, pair_id) DO UPDATE SET "
            "expected = excluded.expected, note = excluded.note, marked_by = excluded.marked_by, "
            "created_at = now()",
            [study.study_id, pair_id, expected, note, marked_by],
        )


def unmark_gold(store: Store, study: Study, pair_id: str) -> None:
    """Remove a pair from the study's gold items (nothing happens if it was not gold)."""
    with store.cursor() as cur:
        cur.execute(
            "DELETE FROM gold_items WHERE study_id = ? AND pair_id = ?", [study.study_id, pair_id]
        )


def gold_frame(store: Store, study: Study) -> pd.DataFrame:
    """The study's gold items: pair_id, expected, note, marked_by, created_at (admins only)."""
    with store.cursor() as cur:
        return cur.execute(
            "SELECT pair_id, expected, note, marked_by, created_at FROM gold_items "
            "WHERE study_id = ? ORDER BY created_at, pair_id",
            [study.study_id],
        ).df()
