"""Prompt filters in DuckDB, sampled studies, the ``study create`` options and the Studies page."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from swapcheck.cli import main
from swapcheck.errors import StudyError
from swapcheck.models import VariantConfig, canonical_json
from swapcheck.sampling import MISSING, PromptFilter, SamplePlan
from swapcheck.store import Store
from swapcheck.store.population import (
    escape_like,
    logged_time_range,
    population_frame,
    slice_values,
)
from swapcheck.store.studies import create_study, get_study, study_sample_frame
from swapcheck.store.variants import save_variant
from tests.apptest_utils import assert_no_exception, open_page

pytestmark = pytest.mark.both_backends  # tmp_store: DuckDB and PostgreSQL

ODD = 'we"ird col'
SLICES = ("locale", "tier", ODD)


def add_source(store: Store, source_id: str, slices: tuple[str, ...] = SLICES) -> None:
    mapping = canonical_json({"prompt_column": "prompt", "slice_columns": list(slices)})
    with store.cursor() as cur:
        cur.execute(
            "INSERT INTO sources (source_id, name, file_hash, format, mapping, rows_total, "
            "rows_ingested, rows_duplicate, rows_rejected, slice_columns) "
            "VALUES (?, ?, ?, 'jsonl', ?, 0, 0, 0, 0, ?)",
            [source_id, f"{source_id}.jsonl", "hash_" + source_id, mapping, json.dumps(slices)],
        )


def add_prompts(store: Store, rows: list[dict]) -> None:
    """Insert prompts directly: prompt_id, source_id, text, metadata, logged_at, weight."""
    frame = pd.DataFrame(
        {
            "prompt_id": [r["prompt_id"] for r in rows],
            "source_id": [r.get("source_id", "src_a") for r in rows],
            "row_number": range(1, len(rows) + 1),
            "messages": [json.dumps([{"role": "user", "content": r["text"]}]) for r in rows],
            "prompt_text": [r["text"] for r in rows],
            "metadata": [canonical_json(r.get("metadata", {})) for r in rows],
            "logged_at": pd.Series([r.get("logged_at") for r in rows], dtype="datetime64[us]"),
            "weight": pd.Series([r.get("weight", 1) for r in rows], dtype="Int64"),
        }
    )
    with store.cursor() as cur:
        cur.register("incoming", frame)
        cur.execute(
            "INSERT INTO prompts (prompt_id, source_id, row_number, messages, prompt_text, "
            "metadata, logged_at, weight) SELECT prompt_id, source_id, row_number, messages, "
            "prompt_text, metadata, logged_at, weight FROM incoming"
        )
        cur.execute(
            "INSERT INTO prompt_sources SELECT prompt_id, source_id, coalesce(weight, 1) "
            "FROM incoming"
        )
        cur.unregister("incoming")


def add_variants(store: Store) -> None:
    save_variant(store, VariantConfig(name="base", provider="simulated", model="sim-a"))
    save_variant(store, VariantConfig(name="cand", provider="simulated", model="sim-b"))


FEW = [
    {
        "prompt_id": "p1",
        "text": "How do I get a REFUND?",
        "metadata": {"locale": "de", "tier": "pro", ODD: "x'; DROP TABLE prompts; --"},
        "logged_at": datetime(2024, 1, 1, 10),
        "weight": 3,
    },
    {
        "prompt_id": "p2",
        "text": "Is the 50% off coupon still valid?",
        "metadata": {"locale": "fr", "tier": "free"},
        "logged_at": datetime(2024, 1, 2),
    },
    {
        "prompt_id": "p3",
        "text": "I bought 500 coupons",
        "metadata": {"locale": "de", "tier": "free"},
        "logged_at": datetime(2024, 1, 2, 23, 59),
    },
    {
        "prompt_id": "p4",
        "text": "run the a_b test",
        "metadata": {"locale": None, "tier": "pro"},
        "logged_at": datetime(2024, 1, 3),
    },
    {"prompt_id": "p5", "text": "run the axb test", "metadata": {"tier": "free"}},
    {
        "prompt_id": "p6",
        "text": r"path C:\temp\file",
        "metadata": {"locale": "en", "tier": "pro"},
        "logged_at": datetime(2024, 1, 5),
    },
    {
        "prompt_id": "q1",
        "source_id": "src_b",
        "text": "another source, refund please",
        "metadata": {"locale": "de", "tier": "pro"},
    },
]


@pytest.fixture
def few(tmp_store: Store) -> Store:
    add_source(tmp_store, "src_a")
    add_source(tmp_store, "src_b")
    add_prompts(tmp_store, FEW)
    return tmp_store


def ids(store: Store, flt: PromptFilter, sources: tuple[str, ...] = ("src_a",)) -> list[str]:
    return population_frame(store, list(sources), flt, ())["prompt_id"].tolist()


# -- filter semantics ------------------------------------------------------------------------


def test_no_filter_takes_every_prompt_of_the_sources(few: Store) -> None:
    assert ids(few, PromptFilter()) == ["p1", "p2", "p3", "p4", "p5", "p6"]
    assert ids(few, PromptFilter(), ("src_a", "src_b"))[-1] == "q1"
    narrowed = PromptFilter(source_ids=("src_b",))
    assert ids(few, narrowed, ("src_a", "src_b")) == ["q1"]


def test_slice_values_are_ored_within_and_anded_across_columns(few: Store) -> None:
    assert ids(few, PromptFilter(slice_values={"locale": ("de", "fr")})) == ["p1", "p2", "p3"]
    both = PromptFilter(slice_values={"locale": ("de",), "tier": ("free",)})
    assert ids(few, both) == ["p3"]
    assert ids(few, PromptFilter(slice_values={"locale": ("nl",)})) == []


def test_missing_matches_null_and_absent_values(few: Store) -> None:
    assert ids(few, PromptFilter(slice_values={"locale": (MISSING,)})) == ["p4", "p5"]
    mixed = PromptFilter(slice_values={"locale": ("de", MISSING)})
    assert ids(few, mixed) == ["p1", "p3", "p4", "p5"]


def test_odd_column_names_and_values_are_data_not_sql(few: Store) -> None:
    flt = PromptFilter(slice_values={ODD: ("x'; DROP TABLE prompts; --",)})
    assert ids(few, flt) == ["p1"]
    assert ids(few, PromptFilter(slice_values={"locale') OR (1=1": ("de",)})) == []
    assert len(ids(few, PromptFilter())) == 6  # the table is still there


def test_time_range_is_from_inclusive_to_exclusive_and_drops_unlogged(few: Store) -> None:
    day2 = PromptFilter(logged_from=datetime(2024, 1, 2), logged_to=datetime(2024, 1, 3))
    assert ids(few, day2) == ["p2", "p3"]  # p4 is logged exactly at the end bound
    assert ids(few, PromptFilter(logged_from=datetime(2024, 1, 3))) == ["p4", "p6"]
    assert ids(few, PromptFilter(logged_to=datetime(2024, 1, 2))) == ["p1"]


def test_text_search_is_a_case_insensitive_literal_substring(few: Store) -> None:
    assert ids(few, PromptFilter(text_search="refund")) == ["p1"]
    assert ids(few, PromptFilter(text_search="50%")) == ["p2"]  # % is not a wildcard
    assert ids(few, PromptFilter(text_search="a_b")) == ["p4"]  # _ is not a wildcard
    assert ids(few, PromptFilter(text_search="C:\\TEMP\\")) == ["p6"]
    assert ids(few, PromptFilter(text_search="' OR ''='")) == []
    assert escape_like("50%_a\\b") == "50\\%\\_a\\\\b"


def test_population_frame_has_weights_and_strata(few: Store) -> None:
    frame = population_frame(few, ["src_a"], PromptFilter(), ("tier", "locale"))
    assert frame.columns.tolist() == ["prompt_id", "weight", "tier", "locale"]
    assert frame["weight"].tolist() == [3, 1, 1, 1, 1, 1]
    assert frame["locale"].tolist()[3:5] == [None, None]


def test_slice_values_and_time_range_for_the_ui(few: Store) -> None:
    assert slice_values(few, ["src_a"], "locale") == [
        ("(missing)", 2),
        ("de", 2),
        ("en", 1),
        ("fr", 1),
    ]
    assert slice_values(few, ["src_a"], "locale", limit=1) == [("(missing)", 2)]
    assert slice_values(few, ["src_a"], "nope") == [(MISSING, 6)]
    assert logged_time_range(few, ["src_a"]) == (datetime(2024, 1, 1, 10), datetime(2024, 1, 5))
    assert logged_time_range(few, ["src_b"]) == (None, None)


# -- sampled studies -------------------------------------------------------------------------

TIERS = {"enterprise": 10, "pro": 390, "free": 1600}  # enterprise is 0.5 % of 2000 prompts


def skewed_rows() -> list[dict]:
    tiers = [t for t, n in TIERS.items() for _ in range(n)]
    rng = np.random.default_rng(3)
    rng.shuffle(tiers)
    return [
        {
            "prompt_id": f"p{i:05d}",
            "text": f"question {i} about {'billing' if i % 4 == 0 else 'login'}",
            "metadata": {"tier": tier, "locale": ["de", "en", None][i % 3]},
            "logged_at": datetime(2024, 1, 1 + i % 28),
            "weight": 1 + i % 3,
        }
        for i, tier in enumerate(tiers)
    ]


@pytest.fixture
def skewed(tmp_store: Store) -> Store:
    add_source(tmp_store, "src_a", ("tier", "locale"))
    add_prompts(tmp_store, skewed_rows())
    add_variants(tmp_store)
    return tmp_store


def pairs_of(store: Store, study_id: str) -> pd.DataFrame:
    with store.cursor() as cur:
        return cur.execute(
            "SELECT prompt_id, position, stratum, inclusion_probability FROM pairs "
            "WHERE study_id = ? ORDER BY position",
            [study_id],
        ).df()


def test_create_study_with_a_stratified_sample(skewed: Store) -> None:
    plan = SamplePlan(size=200, strata=("tier",), min_per_stratum=30, seed=1)
    study = create_study(
        skewed, "tier check", baseline="base", candidate="cand", sources=["src_a"], sample=plan
    )
    pairs = pairs_of(skewed, study.study_id)
    assert len(pairs) == 200
    counts = pairs["stratum"].value_counts().to_dict()
    assert counts["tier=enterprise"] == 10  # all it has (< 30)
    assert counts["tier=pro"] >= 30
    assert abs((1.0 / pairs["inclusion_probability"]).sum() - 2000) < 1e-9
    # blinded order, not prompt order
    assert pairs["prompt_id"].tolist() != sorted(pairs["prompt_id"])
    stored = get_study(skewed, "tier check").population
    assert stored is not None and stored == study.population
    assert stored["population_size"] == 2000 and stored["sample_size"] == 200
    assert stored["population_log_rows"] == sum(r["weight"] for r in skewed_rows())
    assert stored["plan"] == plan.to_dict()
    assert stored["filter"]["source_ids"] == ["src_a"]
    assert {s["stratum"]: s["population"] for s in stored["strata"]} == {
        f"tier={t}": n for t, n in TIERS.items()
    }
    frame = study_sample_frame(skewed, study)
    assert frame.columns.tolist() == [
        "pair_id",
        "prompt_id",
        "stratum",
        "inclusion_probability",
        "weight",
    ]
    assert frame["prompt_id"].tolist() == pairs["prompt_id"].tolist()


def test_filter_and_sample_together_and_the_same_seed_gives_the_same_prompts(
    skewed: Store,
) -> None:
    flt = PromptFilter(
        slice_values={"locale": ("de", MISSING)},
        logged_from=datetime(2024, 1, 5),
        text_search="LOGIN",
    )
    plan = SamplePlan(size=100, strata=("tier", "locale"), min_per_stratum=5, seed=7)
    expected = population_frame(skewed, ["src_a"], flt, ())
    first = create_study(
        skewed,
        "a",
        baseline="base",
        candidate="cand",
        sources=["src_a"],
        prompt_filter=flt,
        sample=plan,
    )
    again = create_study(
        skewed,
        "b",
        baseline="base",
        candidate="cand",
        sources=["src_a"],
        prompt_filter=flt,
        sample=plan,
    )
    one, two = pairs_of(skewed, first.study_id), pairs_of(skewed, again.study_id)
    assert sorted(one["prompt_id"]) == sorted(two["prompt_id"])
    assert set(one["prompt_id"]) <= set(expected["prompt_id"])
    assert abs((1.0 / one["inclusion_probability"]).sum() - len(expected)) < 1e-9
    assert first.population and first.population["population_size"] == len(expected)
    assert set(one["stratum"]) == {s["stratum"] for s in first.population["strata"]}
    assert all(" | locale=" in s for s in one["stratum"])


def test_a_filter_alone_takes_every_matching_prompt(skewed: Store) -> None:
    flt = PromptFilter(slice_values={"tier": ("enterprise",)})
    study = create_study(
        skewed, "vip", baseline="base", candidate="cand", sources=["src_a"], prompt_filter=flt
    )
    pairs = pairs_of(skewed, study.study_id)
    assert len(pairs) == 10 and set(pairs["inclusion_probability"]) == {1.0}
    assert set(pairs["stratum"]) == {"all"}


def test_without_filter_or_sample_the_study_is_unchanged(skewed: Store) -> None:
    study = create_study(skewed, "everything", baseline="base", candidate="cand", sources=["src_a"])
    pairs = pairs_of(skewed, study.study_id)
    assert len(pairs) == 2000
    assert set(pairs["inclusion_probability"]) == {1.0} and pairs["stratum"].isna().all()
    assert study.population is None and get_study(skewed, "everything").population is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompt_filter": PromptFilter(text_search="no such words")}, "matches the filter"),
        ({"sample": SamplePlan(size=50, strata=("tier",))}, "cannot give each"),
        ({"sample": SamplePlan(size=50, strata=("colour",))}, "Stratify column"),
        ({"prompt_filter": PromptFilter(slice_values={"colour": ("red",)})}, "Filter column"),
        ({"prompt_filter": PromptFilter(source_ids=("src_zz",))}, "outside"),
    ],
)
def test_sampling_errors_carry_a_fix(skewed: Store, kwargs: dict, message: str) -> None:
    with pytest.raises(StudyError) as info:
        create_study(skewed, "bad", baseline="base", candidate="cand", sources=["src_a"], **kwargs)
    assert message in info.value.message and info.value.fix
    with skewed.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM studies").fetchall()[0][0] == 0


# -- CLI -------------------------------------------------------------------------------------


def test_cli_study_create_with_filter_and_sample(
    skewed: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    skewed.close()
    code = main(
        [
            "study",
            "create",
            "cli sample",
            "--baseline",
            "base",
            "--candidate",
            "cand",
            "--source",
            "src_a",
            "--where",
            "locale=de",
            "--where",
            "locale=(missing)",
            "--from",
            "2024-01-02",
            "--to",
            "2024-01-20",
            "--search",
            "login",
            "--sample",
            "120",
            "--stratify",
            "tier",
            "--min-per-stratum",
            "5",
            "--seed",
            "3",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    flt = PromptFilter(
        slice_values={"locale": ("de", MISSING)},
        logged_from=datetime(2024, 1, 2),
        logged_to=datetime(2024, 1, 21),  # a bare --to date includes that day
        text_search="login",
    )
    expected = population_frame(skewed, ["src_a"], flt, ("tier",))
    assert f"population: {len(expected)} prompts" in out and "sample: 120 (seed 3)" in out
    assert "tier=enterprise" in out and "inclusion p" in out
    study = get_study(skewed, "cli sample")
    assert study.population and study.population["filter"] == {
        **flt.to_dict(),
        "source_ids": ["src_a"],
    }
    pairs = pairs_of(skewed, study.study_id)
    assert len(pairs) == 120
    assert abs((1.0 / pairs["inclusion_probability"]).sum() - len(expected)) < 1e-9


def test_cli_sampling_mistakes_print_a_fix(
    skewed: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    skewed.close()
    base = [
        "study",
        "create",
        "x",
        "--baseline",
        "base",
        "--candidate",
        "cand",
        "--source",
        "src_a",
    ]
    for extra, fix in [
        (["--where", "tier"], "locale=de-DE"),
        (["--from", "last week"], "2024-05-01"),
        (["--sample", "40", "--stratify", "tier"], "Sample at least 70 prompts"),
    ]:
        code = main([*base, *extra])
        _, err = capsys.readouterr()
        assert code == 1 and "fix:" in err and fix in err, err


# -- Studies page ----------------------------------------------------------------------------


def test_studies_page_previews_the_allocation_and_creates_a_sampled_study(
    skewed: Store,
) -> None:
    skewed.close()
    at = open_page("studies")
    at.text_input[0].input("tier sample")
    at.selectbox[0].select("base")
    at.selectbox[1].select("cand")
    size = next(n for n in at.number_input if n.label.startswith("Sample size"))
    size.set_value(200)
    at.multiselect(key="prompt_strata").select("tier")
    at.multiselect(key="prompt_values::locale").select("de").select(MISSING)
    preview = next(b for b in at.form_submit_button if b.label == "Preview sample")
    preview.click().run()
    assert_no_exception(at)
    table = at.dataframe[-1].value
    assert table["stratum"].tolist() == ["tier=enterprise", "tier=free", "tier=pro"]
    matching = sum(1 for r in skewed_rows() if r["metadata"]["locale"] in ("de", None))
    assert table["population"].sum() == matching and table["sample"].sum() == 200
    assert any(f"**{matching}** prompts match" in m.value for m in at.markdown)
    assert not list_studies_of(skewed)  # a preview creates nothing

    create = next(b for b in at.form_submit_button if b.label == "Create study")
    create.click().run()
    assert_no_exception(at)
    assert "tier sample" in at.success[0].value
    study = get_study(skewed, "tier sample")
    pairs = pairs_of(skewed, study.study_id)
    assert len(pairs) == 200
    assert abs((1.0 / pairs["inclusion_probability"]).sum() - matching) < 1e-9
    assert at.dataframe[-1].value["sample"].sum() == 200  # the stored allocation is shown
    skewed.close()


def list_studies_of(store: Store) -> list[str]:
    with store.cursor() as cur:
        return [r[0] for r in cur.execute("SELECT name FROM studies").fetchall()]


def test_studies_page_explains_an_impossible_plan(skewed: Store) -> None:
    skewed.close()
    at = open_page("studies")
    next(n for n in at.number_input if n.label.startswith("Sample size")).set_value(20)
    at.multiselect(key="prompt_strata").select("tier")
    next(b for b in at.form_submit_button if b.label == "Preview sample").click().run()
    assert_no_exception(at)
    assert "Sample at least 70 prompts" in at.error[0].value
