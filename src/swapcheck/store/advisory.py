"""Advisory lock keys: the one naming scheme for every PostgreSQL advisory lock swapcheck takes."""

from __future__ import annotations

import hashlib

DATABASE_WIDE = "*"
"""``schema`` of a lock that spans every store in the database (no schema name can be ``*``)."""


def advisory_key(schema: str | None, purpose: str, *parts: str) -> int:
    """A signed 64-bit key for ``purpose`` (and its ``parts``) in one store's ``schema``
    (None: the default schema, ``public``).

    Stores in different schemas of one database never wait for each other; ``DATABASE_WIDE``
    keys are for what those stores share.
    """
    name = "\x1f".join((f"swapcheck-{purpose}", schema or "public", *parts))
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
