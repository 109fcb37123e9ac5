"""Plain-text tables shared by the bench scripts."""

from __future__ import annotations

from collections.abc import Sequence


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    """Print ``rows`` under ``headers``: first column left-aligned, the others right-aligned."""
    print(f"\n{title}")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(fmt(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(fmt(row))
