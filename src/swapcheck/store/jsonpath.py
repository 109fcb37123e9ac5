"""Safe JSON paths for metadata columns whose names come from user files."""

from __future__ import annotations


def metadata_path(column: str) -> str:
    """JSON path selecting ``column`` from a metadata object, quoted so any name is literal."""
    escaped = column.replace("\\", "\\\\").replace('"', '\\"')
    return f'$."{escaped}"'
