"""Advisory lock keys: one scheme, distinct per store, purpose and parts, stable across runs."""

from hypothesis import given
from hypothesis import strategies as st

from swapcheck.store.advisory import DATABASE_WIDE, advisory_key
from swapcheck.store.postgres import _SCHEMA_NAME

words = st.text(max_size=8)


def test_keys_are_stable_signed_64_bit_integers() -> None:
    key = advisory_key("team_a", "ingest")
    assert key == advisory_key("team_a", "ingest")  # other processes compute the same key
    assert -(2**63) <= key < 2**63
    # no schema in the store URL means PostgreSQL's default one
    assert advisory_key(None, "migrate") == advisory_key("public", "migrate")


def test_stores_in_other_schemas_never_share_a_key() -> None:
    assert advisory_key("team_a", "ingest") != advisory_key("team_b", "ingest")
    assert advisory_key("team_a", "ingest") != advisory_key(DATABASE_WIDE, "ingest")
    assert not _SCHEMA_NAME.match(DATABASE_WIDE), "the database-wide scope is no schema name"


@given(words, words, words, words)
def test_parts_are_not_run_together(a: str, b: str, c: str, d: str) -> None:
    """("ab", "c") and ("a", "bc") are different prompts of different variants."""
    if (a, b) != (c, d) and "\x1f" not in a + b + c + d:
        assert advisory_key("s", "generation", a, b) != advisory_key("s", "generation", c, d)


def test_purposes_do_not_collide() -> None:
    purposes = ["generation", "batch-submit", "ingest", "judge", "migrate"]
    assert len({advisory_key("s", p, "v") for p in purposes}) == len(purposes)
