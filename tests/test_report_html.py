"""The one-file HTML sign-off report, its data hash, and the CSV/Parquet exports (issue 6)."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from swapcheck.analysis import analyse_study, safe_variant_config
from swapcheck.cli import main
from swapcheck.ingest import ColumnMapping
from swapcheck.models import VariantConfig
from swapcheck.pipeline import generate_study, ingest_file
from swapcheck.report import to_safe_parquet
from swapcheck.report_html import render_report
from swapcheck.store import Store
from swapcheck.store.judgments import append_judgment, judgments_frame, pair_content
from swapcheck.store.studies import Study, create_study
from swapcheck.store.variants import save_variant
from tests.browser_utils import CHROMIUM, CHROMIUM_ARGS, PAGE_TIMEOUT_MS, require_browser
from tests.helpers import write_jsonl

HOSTILE_PROMPT = '<script>alert("prompt")</script> how do I reset <b>my</b> password?'
HOSTILE_ANSWER = '<img src=x onerror=alert("answer")> open settings'
HOSTILE_SLICE = "<img src=x onerror=alert(9)>"
FORMULA = "=cmd|' /C calc'!A0"
REVIEWERS = ("alice", "bob", "carol")
N_PROMPTS = 30
N_HOSTILE = 12  # every (i % 5 == 0 or i % 5 == 1) row: the hostile feature slice


def _rows() -> list[dict]:
    rows = []
    for i in range(N_PROMPTS):
        hostile = i % 5 in (0, 1)
        rows.append(
            {
                "id": f"r{i}",
                "prompt": HOSTILE_PROMPT if i == 0 else f"Question {i}: how do I reset it?",
                "feature": HOSTILE_SLICE if hostile else "chat",
                "locale": "en-US" if i % 2 else "de-DE",
                "response": HOSTILE_ANSWER if i == 0 else f"Logged answer {i}.",
            }
        )
    return rows


def _judge(store: Store, study: Study, reviewer: str, pair_id: str, choice: str) -> str:
    judgment_id = append_judgment(
        store,
        study,
        pair_id=pair_id,
        reviewer=reviewer,
        left_role="baseline" if sum(map(ord, pair_id + reviewer)) % 2 else "candidate",
        choice=choice,
        comment=FORMULA if reviewer == "carol" else None,
        time_on_item_ms=1000,
    )
    assert judgment_id is not None
    return judgment_id


@pytest.fixture
def study(tmp_store: Store, tmp_path: Path) -> Study:
    """30 prompts judged by 3 reviewers: the hostile-feature slice is lost every time; elsewhere
    alice and bob prefer the candidate and carol the baseline (so agreement is hand-computable).
    """
    log = write_jsonl(tmp_path / "log.jsonl", _rows())
    report = ingest_file(
        tmp_store,
        log,
        mapping=ColumnMapping(
            prompt_column="prompt",
            id_column="id",
            response_column="response",
            slice_columns=("feature", "locale"),
        ),
    )
    save_variant(
        tmp_store,
        VariantConfig(
            name="cand",
            provider="simulated",
            model="sim-b",
            params={"temperature": 0.3},
            api_key_env="CAND_API_KEY",
        ),
    )
    made = create_study(
        tmp_store,
        "password reset check",
        baseline="logged",
        candidate="cand",
        sources=[report.source_id],
        overlap=4,  # one slot left per pair: a later judgment can still be added
    )
    generate_study(tmp_store, made)
    frame = _pairs_with_feature(tmp_store, made)
    for pair_id, feature in frame:
        for reviewer in REVIEWERS:
            if feature == HOSTILE_SLICE:
                choice = "baseline"
            else:
                choice = "baseline" if reviewer == "carol" else "candidate"
            _judge(tmp_store, made, reviewer, pair_id, choice)
    return made


def _pairs_with_feature(store: Store, study: Study) -> list[tuple[str, str]]:
    with store.cursor() as cur:
        return cur.execute(
            "SELECT p.pair_id, json_extract_string(q.metadata, '$.feature') FROM pairs p "
            "JOIN prompts q USING (prompt_id) WHERE p.study_id = ? ORDER BY p.position",
            [study.study_id],
        ).fetchall()


class _Resources(HTMLParser):
    """Every URL the document itself would load: src/href/srcset attributes and CSS url()."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster", "data") and value:
                self.urls.append(value)
            if name == "style" and value and "url(" in value:
                self.urls.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and ("url(" in data or "@import" in data):
            self.urls.append(data)


def test_report_holds_every_section(tmp_store: Store, study: Study) -> None:
    analysis = analyse_study(tmp_store, study)
    page = render_report(analysis)
    n_pairs = N_PROMPTS
    hostile_pairs = N_HOSTILE
    assert analysis.n_judgments == 3 * n_pairs
    # snapshot: hash, version, study
    assert len(analysis.data_hash) == 64 and analysis.data_hash in page
    assert "swapcheck version" in page and "password reset check" in page
    # variants with their exact configuration (never keys: only the variable name)
    assert "&quot;model&quot;: &quot;sim-b&quot;" in page
    assert "&quot;temperature&quot;: 0.3" in page and "CAND_API_KEY" in page
    # verdict and table: the hostile slice loses every vote, so it is red and the study no-go
    assert analysis.verdict["verdict"] == "no-go"
    hostile_row = analysis.decisions[analysis.decisions["value"] == HOSTILE_SLICE].iloc[0]
    assert (hostile_row["n"], hostile_row["win_rate"], hostile_row["go"]) == (36, 0.0, "red")
    assert 'id="verdict-table"' in page and 'class="go-red"' in page
    # agreement, hand-computed: hostile pairs 3 of 3 vote pairs agree, the others 1 of 3
    expected = (3 * hostile_pairs + (n_pairs - hostile_pairs)) / (3 * n_pairs)
    assert analysis.agreement["with_ties"]["agreement"] == pytest.approx(expected, abs=1e-12)
    assert analysis.agreement["kappa_kind"] == "Fleiss"
    assert f"{expected:.1%}" in page and "Fleiss" in page
    # roster with counts, sample design, worst examples
    roster = analysis.roster.set_index("reviewer")["judgments"].to_dict()
    assert roster == {r: n_pairs for r in REVIEWERS}
    assert all(f"<td>{r}</td>" in page for r in REVIEWERS)
    assert 'id="sample-design"' in page and "every prompt of the sources" in page
    assert len(analysis.worst_pairs) == 10
    assert all(p.votes_against == 3 for p in analysis.worst_pairs)
    assert page.count('class="pair"') == 10
    assert 'id="reweighted"' not in page  # every prompt has the same weight
    assert 'id="length-controlled"' in page and "At equal answer length" in page


def test_untrusted_text_is_escaped(tmp_store: Store, study: Study) -> None:
    # 12 pairs tie at 3 votes against and only 10 are shown; a fourth vote against makes the
    # hostile pair the worst one whatever its (random) id.
    hostile = next(p for p, _ in _pairs_with_feature(tmp_store, study)
                   if "alert" in pair_content(tmp_store, study, p).baseline_text)  # fmt: skip
    _judge(tmp_store, study, "dave", hostile, "baseline")
    analysis = analyse_study(tmp_store, study)
    first = [p for p in analysis.worst_pairs if "alert" in p.candidate_text + p.baseline_text]
    assert first, "the hostile pair is among the worst examples"
    page = render_report(analysis)
    for raw in (HOSTILE_PROMPT, HOSTILE_ANSWER, HOSTILE_SLICE, "<script>alert(", "<img src=x"):
        assert raw not in page
    assert "&lt;script&gt;alert(&quot;prompt&quot;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(&quot;answer&quot;)&gt;" in page
    assert "&lt;img src=x onerror=alert(9)&gt;" in page  # the slice value in the table
    parser = _Resources()
    parser.feed(page)
    assert "img" not in parser.tags and "link" not in parser.tags and "iframe" not in parser.tags
    assert parser.urls == []  # nothing loaded from anywhere, not even a relative URL


def test_report_renders_its_charts_offline(tmp_store: Store, study: Study, tmp_path: Path) -> None:
    require_browser()
    from playwright.sync_api import sync_playwright

    out = tmp_path / "report.html"
    analysis = analyse_study(tmp_store, study)
    out.write_text(render_report(analysis), encoding="utf-8")
    url = out.as_uri()
    blocked: list[str] = []
    problems: list[str] = []

    def only_the_file(route: object) -> None:
        request = route.request  # type: ignore[attr-defined]
        if request.url == url:
            route.continue_()  # type: ignore[attr-defined]
        else:
            blocked.append(request.url)
            route.abort()  # type: ignore[attr-defined]

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.on(
                "console",
                lambda m: problems.append(f"{m.type}: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.add_init_script(
                "window.__alerts = []; window.alert = m => window.__alerts.push(String(m));"
            )
            page.route("**/*", only_the_file)
            page.goto(url)
            page.wait_for_function(
                "() => [...document.querySelectorAll('.plotly-graph-div')].every("
                "d => d.querySelector('svg.main-svg'))"
                " && document.querySelectorAll('.plotly-graph-div').length === 2"
            )
            charts = page.evaluate(
                "() => [...document.querySelectorAll('.plotly-graph-div')].map("
                "d => [d.id, d.querySelectorAll('svg.main-svg').length, "
                "d.querySelectorAll('.scatterlayer .point').length])"
            )
            alerts = page.evaluate("() => window.__alerts")
        finally:
            browser.close()
    ids = [c[0] for c in charts]
    assert ids == ["chart-slices", "chart-bias"]
    assert all(svgs >= 1 for _, svgs, _ in charts)
    slice_rows = len(analysis.decisions)  # overall + each value of each slice column
    assert slice_rows >= 5  # two features, two locales (and derived slices)
    assert charts[0][2] == slice_rows and charts[1][2] == len(REVIEWERS)
    assert blocked == [] and problems == []
    assert alerts == []  # no injected script ran


def test_same_data_same_hash_new_judgment_new_hash(tmp_store: Store, study: Study) -> None:
    first = analyse_study(tmp_store, study).data_hash
    assert analyse_study(tmp_store, study).data_hash == first
    pair_id = _pairs_with_feature(tmp_store, study)[0][0]
    _judge(tmp_store, study, "dave", pair_id, "tie")
    second = analyse_study(tmp_store, study)
    assert second.data_hash != first and second.n_judgments == 3 * N_PROMPTS + 1
    assert second.data_hash in render_report(second)


def test_variant_config_never_shows_secrets() -> None:
    variant = VariantConfig(
        name="v",
        provider="openai",
        model="gpt-x",
        base_url="https://user:hunter2@llm.example.com/v1?key=abc123",
        api_key_env="OPENAI_API_KEY",
        params={"temperature": 0, "extra": {"api_token": "t0ps3cret"}},
    )
    shown = json.dumps(safe_variant_config(variant))
    assert "hunter2" not in shown and "abc123" not in shown and "t0ps3cret" not in shown
    assert "llm.example.com/v1" in shown and "OPENAI_API_KEY" in shown
    assert safe_variant_config(variant)["params"]["extra"]["api_token"] == "[REDACTED]"


def test_cli_report_and_exports(study: Study, tmp_path: Path, capsys) -> None:
    out = tmp_path / "signoff.html"
    assert main(["report", "--study", study.name, "--out", str(out), "--by", "feature"]) == 0
    page = out.read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Sign-off report" in page
    assert "<td>feature</td>" in page and "<td>locale</td>" not in page  # only --by columns
    capsys.readouterr()

    judged = tmp_path / "judgments.csv"
    assert (
        main(
            [
                "export",
                "--study",
                study.name,
                "--what",
                "judgments",
                "--format",
                "csv",
                "--out",
                str(judged),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(judged.read_bytes().decode("utf-8-sig"))))
    assert len(rows) == 3 * N_PROMPTS
    comments = {r["comment"] for r in rows if r["reviewer"] == "carol"}
    assert comments == {"'" + FORMULA}
    back = pd.read_csv(judged, encoding="utf-8-sig")
    assert set(back["reviewer"]) == set(REVIEWERS)

    parquet = tmp_path / "judgments.parquet"
    assert (
        main(
            [
                "export",
                "--study",
                study.name,
                "--what",
                "judgments",
                "--format",
                "parquet",
                "--out",
                str(parquet),
            ]
        )
        == 0
    )
    table = pq.read_table(parquet).to_pandas()
    assert len(table) == 3 * N_PROMPTS
    assert set(table.loc[table["reviewer"] == "carol", "comment"]) == {"'" + FORMULA}
    assert table["time_on_item_ms"].dtype.kind in "iu" and table["time_on_item_ms"].eq(1000).all()

    slices = tmp_path / "slices.parquet"
    assert (
        main(
            [
                "export",
                "--study",
                study.name,
                "--what",
                "slices",
                "--format",
                "parquet",
                "--out",
                str(slices),
                "--by",
                "feature",
                "--by",
                "locale",
            ]
        )
        == 0
    )
    table = pq.read_table(slices).to_pandas()
    assert list(table["slice"]) == ["overall", "feature", "feature", "locale", "locale"]
    assert "'" + HOSTILE_SLICE not in set(table["value"])  # '<' is no formula prefix
    assert HOSTILE_SLICE in set(table["value"]) and {"go", "q_value"} <= set(table.columns)


def test_parquet_neutralises_and_round_trips() -> None:
    frame = pd.DataFrame(
        {
            "text": [FORMULA, "plain", " +1+1", None],
            "n": [1, 2, 3, 4],
            "rate": [0.5, float("nan"), 0.25, 1.0],
            "tags": [["a", "=b"], [], None, ["c"]],
            "criteria": [{"tone": "baseline"}, None, {"format": "same"}, None],
            "@sum": ["x", "y", "z", "w"],
        }
    )
    back = pq.read_table(io.BytesIO(to_safe_parquet(frame))).to_pandas()
    assert list(back.columns) == ["text", "n", "rate", "tags", "criteria", "'@sum"]
    assert back["text"].tolist()[:3] == ["'" + FORMULA, "plain", "' +1+1"]
    assert back["text"].isna().tolist() == [False, False, False, True]
    assert back["n"].tolist() == [1, 2, 3, 4]
    assert back["rate"].isna().tolist() == [False, True, False, False]
    assert json.loads(back["tags"][0]) == ["a", "=b"]
    assert json.loads(back["criteria"][2]) == {"format": "same"}
    assert frame["text"][0] == FORMULA  # the input is not modified


def test_report_of_an_unjudged_study(tmp_store: Store, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "tiny.jsonl", _rows()[:4])
    report = ingest_file(
        tmp_store,
        log,
        mapping=ColumnMapping(prompt_column="prompt", id_column="id", response_column="response"),
    )
    save_variant(tmp_store, VariantConfig(name="cand", provider="simulated", model="sim-b"))
    made = create_study(
        tmp_store, "tiny", baseline="logged", candidate="cand", sources=[report.source_id]
    )
    analysis = analyse_study(tmp_store, made)
    assert analysis.n_judgments == 0 and analysis.verdict["verdict"] == "inconclusive"
    assert judgments_frame(tmp_store, made).empty
    page = render_report(analysis)
    assert "no judgments yet" in page.lower() and analysis.data_hash in page
