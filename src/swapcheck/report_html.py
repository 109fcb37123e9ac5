"""The one-file HTML sign-off report: a frozen, offline snapshot of a study's analysis."""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from swapcheck import __version__
from swapcheck.analysis import StudyAnalysis
from swapcheck.report import plain_text, ratings_figure, win_rate_figure
from swapcheck.report_drift import drift_section_html

CHART_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:"
)
"""Nothing may be loaded from anywhere: scripts and styles are inline, images data: URLs."""

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;
background:#fff;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:1.6rem;margin:0 0 8px}h2{font-size:1.2rem;margin:32px 0 8px;
border-bottom:1px solid #d0d7de;padding-bottom:4px}
dl.snapshot{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
dl.snapshot dt{font-weight:600}dl.snapshot dd{margin:0;word-break:break-all}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem}
pre{background:#f6f8fa;padding:8px;white-space:pre-wrap;word-break:break-word;margin:4px 0}
table{border-collapse:collapse;font-size:.85rem;margin:8px 0}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.banner{padding:12px 16px;border-radius:6px;font-size:1.05rem;margin:8px 0}
.verdict-go{background:#dafbe1;border:1px solid #2da44e}
.verdict-no-go{background:#ffebe9;border:1px solid #cf222e}
.verdict-inconclusive{background:#fff8c5;border:1px solid #bf8700}
.go-green{background:#dafbe1}.go-red{background:#ffebe9}.go-amber{background:#fff8c5}
.metrics{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0}
.metric{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;min-width:140px}
.metric b{display:block;font-size:1.3rem}.note{color:#57606a;font-size:.85rem}
.pair{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:12px 0}
.answers{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.drift-worse{background:#ffebe9}.drift-better{background:#dafbe1}.drift-changed{background:#fff8c5}
"""

_SLICE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("slice", "slice"),
    ("value", "value"),
    ("n", "n"),
    ("win_rate", "win rate"),
    ("ci_low", "CI low"),
    ("ci_high", "CI high"),
    ("go", "go"),
    ("q_value", "BH q"),
    ("sign_test_p", "sign test p"),
    ("tie_rate", "ties"),
    ("both_bad_rate", "both bad"),
    ("low_n", "low n"),
)
_PERCENT = {
    "agreement",
    "agreement_no_ties",
    "judge_win_rate",
    "human_win_rate",
    "inconsistent_share",
    "win_rate",
    "ci_low",
    "ci_high",
    "tie_rate",
    "both_bad_rate",
    "left_pick_rate",
    "left_pick_low",
    "left_pick_high",
    "gold_accuracy",
}


def _e(value: Any) -> str:
    """Untrusted text, escaped for HTML text and attribute values."""
    return html.escape(str(value), quote=True)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _pct(value: Any, digits: int = 1) -> str:
    return "n/a" if _is_missing(value) else f"{float(value):.{digits}%}"


def _num(value: Any, digits: int = 3) -> str:
    return "n/a" if _is_missing(value) else f"{float(value):.{digits}f}"


_RATING_COLUMNS = frozenset({"rating", "rating_low", "rating_high", "wins"})


def _cell(column: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"<td>{'yes' if value else ''}</td>"
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    if isinstance(value, float):
        digits = 4 if column in ("q_value", "sign_test_p") else 3
        digits = 1 if column in _RATING_COLUMNS else digits
        text = _pct(value) if column in _PERCENT else _num(value, digits)
        return f'<td class="num">{text}</td>'
    if _is_missing(value):
        return "<td>n/a</td>"
    return f"<td>{_e(value)}</td>"


def _plain_cell(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return value


def _table(
    frame: pd.DataFrame,
    columns: Sequence[tuple[str, str]],
    row_class: Callable[[pd.Series], str] | None = None,
) -> str:
    present = [(c, label) for c, label in columns if c in frame.columns]
    head = "".join(f"<th>{_e(label)}</th>" for _, label in present)
    rows = []
    for _, row in frame.iterrows():
        cls = f' class="{_e(row_class(row))}"' if row_class else ""
        cells = "".join(_cell(c, _plain_cell(row[c])) for c, _ in present)
        rows.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _definition_list(items: Sequence[tuple[str, Any]], css: str = "snapshot") -> str:
    body = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    return f'<dl class="{css}">{body}</dl>'


def _chart(fig: go.Figure, div_id: str, include_plotlyjs: bool) -> str:
    """A plotly chart as a div; the first chart carries plotly.js inline, the rest reuse it."""
    return fig.to_html(
        full_html=False,
        include_plotlyjs=include_plotlyjs,
        include_mathjax=False,
        div_id=div_id,
        config=CHART_CONFIG,
    )


def position_bias_figure(by_reviewer: pd.DataFrame) -> go.Figure:
    """Left-pick rate per reviewer with its 95% interval; 50% means no position bias."""
    frame = by_reviewer.reset_index(drop=True)
    fig = go.Figure()
    if len(frame):
        rates = frame["left_pick_rate"].astype(float)
        fig.add_trace(
            go.Scatter(
                x=rates.tolist(),
                y=list(range(len(frame))),
                mode="markers",
                marker={"size": 10, "color": "#0969da"},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (frame["ci_high"].astype(float) - rates).tolist(),
                    "arrayminus": (rates - frame["ci_low"].astype(float)).tolist(),
                },
                hovertext=[
                    f"{plain_text(r.reviewer)}: {_pct(r.left_pick_rate)} of {int(r.n)} decisive"
                    for r in frame.itertuples()
                ],
                hoverinfo="text",
                name="left-pick rate",
            )
        )
    fig.add_vline(x=0.5, line_dash="dash", line_color="#444444")
    fig.update_layout(
        title={"text": "Position check: left-pick rate per reviewer"},
        xaxis={"range": [0, 1], "tickformat": ".0%", "title": {"text": "left-pick rate"}},
        yaxis={
            "tickmode": "array",
            "tickvals": list(range(len(frame))),
            "ticktext": [plain_text(r)[:60] for r in frame.get("reviewer", [])],
            "autorange": "reversed",
        },
        height=max(220, 120 + 28 * len(frame)),
        margin={"l": 10, "r": 10, "t": 60, "b": 50},
        showlegend=False,
    )
    return fig


def _header(analysis: StudyAnalysis, generated_at: str) -> str:
    study = analysis.study
    items = [
        ("Study", study.name),
        ("Baseline", study.baseline_variant),
        ("Candidate", study.candidate_variant),
        ("Generated at", generated_at),
        ("Data hash (sha256)", analysis.data_hash),
        ("swapcheck version", __version__),
        ("Slices", ", ".join(analysis.by) or "none"),
        ("Non-inferiority margin", f"{study.margin:.2f} (bound {0.5 - study.margin:.2f})"),
        ("Low-n warning below", analysis.min_n),
    ]
    return (
        f"<header><h1>Sign-off report: {_e(study.name)}</h1>"
        '<p class="note">A frozen snapshot of stored data: regenerate it with '
        f"<code>swapcheck report --study {_e(study.name)}</code>; the data hash changes when any "
        "judgment, answer or variant configuration changes.</p>"
        f'<section id="snapshot">{_definition_list(items)}</section></header>'
    )


def _verdict(analysis: StudyAnalysis, chart: str) -> str:
    verdict = analysis.verdict
    label, _, rest = str(verdict["reason"]).partition(": ")
    reason = (
        rest if rest and label.lower() == str(verdict["verdict"]).lower() else verdict["reason"]
    )
    overall = analysis.overall
    metrics = []
    if overall is not None:
        metrics = [
            ("Candidate win rate", _pct(overall["win_rate"])),
            ("95% interval", f"{_pct(overall['ci_low'])} – {_pct(overall['ci_high'])}"),
            ("Judgments", analysis.n_judgments),
            ("Reviewers", analysis.n_reviewers),
            ("Both bad", _pct(overall["both_bad_rate"])),
        ]
    reweighted = ""
    if analysis.reweighted:
        r = analysis.reweighted
        reweighted = (
            '<p id="reweighted">Re-weighted to the traffic mix (inverse inclusion probability '
            f"× log rows): <b>{_pct(r['win_rate'])}</b> (95% CI {_pct(r['ci_low'])} – "
            f"{_pct(r['ci_high'])}, effective n {r['n_eff']:.0f}; unweighted "
            f"{_pct(r['unweighted_win_rate'])}).</p>"
        )
    lc = analysis.length_controlled
    if lc and not _is_missing(lc.get("win_rate")):
        reweighted += (
            '<p id="length-controlled">At equal answer length (logistic model of the preference '
            f"on the log length difference): <b>{_pct(lc['win_rate'])}</b> (95% CI "
            f"{_pct(lc['ci_low'])} – {_pct(lc['ci_high'])}; raw {_pct(lc['raw_win_rate'])}, "
            f"n {lc['n']}). A large gap means length, not content, drives the preference.</p>"
        )
    if analysis.judge_verdicts:
        reweighted += (
            f'<p id="judge-in-verdict">{analysis.judge_verdicts} of the judgments are an LLM '
            "judge's verdicts on pairs no person judged, admitted by an admin for slices where "
            "the judge's agreement with people is proven (see LLM judges below).</p>"
        )
    boxes = "".join(
        f'<div class="metric">{_e(label)}<b>{_e(value)}</b></div>' for label, value in metrics
    )
    return (
        '<section id="verdict"><h2>Verdict</h2>'
        f'<div class="banner verdict-{_e(verdict["verdict"])}"><b>{_e(verdict["verdict"]).upper()}'
        f"</b>: {_e(reason)}</div>"
        f'<div class="metrics">{boxes}</div>{reweighted}'
        '<p class="note">Win rate = share of judgments preferring the candidate, ties and '
        "both-bad counted as half, with 95% Wilson intervals. A slice is green when its interval's "
        "lower bound clears 0.5 − margin, red when the whole interval lies below it, amber "
        "otherwise; BH q = Benjamini-Hochberg adjusted sign-test p across all slices.</p>"
        f'<div class="chart">{chart}</div></section>'
    )


def _slices(analysis: StudyAnalysis) -> str:
    def colour(row: pd.Series) -> str:
        return f"go-{row['go']}" if isinstance(row.get("go"), str) else ""

    return (
        '<section id="verdict-table"><h2>Verdict table</h2>'
        f"{_table(analysis.decisions, _SLICE_COLUMNS, colour)}</section>"
    )


def _agreement(analysis: StudyAnalysis) -> str:
    a = analysis.agreement
    items = [
        ("Reviewers", a["n_reviewers"]),
        (
            "Pairwise agreement (ties included)",
            f"{_pct(a['with_ties']['agreement'])} over {a['with_ties']['n_comparisons']} "
            f"vote pairs on {a['with_ties']['n_items']} items",
        ),
        (
            "Pairwise agreement (decisive votes only)",
            f"{_pct(a['without_ties']['agreement'])} over "
            f"{a['without_ties']['n_comparisons']} vote pairs",
        ),
    ]
    if a["kappa_kind"]:
        items.append((f"{a['kappa_kind']}'s κ", _num(a["kappa"])))
    if "fleiss" in a:
        f = a["fleiss"]
        items.append(
            ("Fleiss' κ basis", f"{f['n_items']} items × {f['n_raters']} votes; {f['n_dropped']}")
        )
        items[-1] = (items[-1][0], items[-1][1] + " items dropped (other vote counts)")
    bias = analysis.position_bias
    if bias.get("n_decisive"):
        items.append(
            (
                "Left-pick rate (all reviewers)",
                f"{_pct(bias['left_pick_rate'])} (95% CI {_pct(bias['ci_low'])} – "
                f"{_pct(bias['ci_high'])}) of {bias['n_decisive']} decisive judgments",
            )
        )
    return (
        '<section id="agreement"><h2>Agreement and position bias</h2>'
        f"{_definition_list(items)}"
        '<p class="note">Agreement compares every two votes on the same pair after aligning '
        "sides; no figure (n/a) means no pair was judged twice.</p></section>"
    )


def _roster(analysis: StudyAnalysis, chart: str) -> str:
    columns = (
        ("reviewer", "reviewer"),
        ("kind", "kind"),
        ("judgments", "judgments"),
        ("gold_judged", "gold judged"),
        ("gold_accuracy", "gold accuracy"),
        ("left_pick_rate", "left picks"),
        ("left_pick_low", "CI low"),
        ("left_pick_high", "CI high"),
        ("tie_rate", "ties"),
        ("both_bad_rate", "both bad"),
        ("median_time_s", "median s"),
    )
    return (
        '<section id="roster"><h2>Reviewer roster</h2>'
        f'{_table(analysis.roster, columns)}<div class="chart">{chart}</div></section>'
    )


_JUDGE_AGREEMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("slice", "slice"),
    ("value", "value"),
    ("n_pairs", "pairs"),
    ("agreement", "agreement"),
    ("agreement_no_ties", "agreement (decisive)"),
    ("kappa", "κ vs majority"),
    ("judge_win_rate", "judge win rate"),
    ("human_win_rate", "people's win rate"),
    ("gap", "gap"),
    ("gap_ci_low", "gap CI low"),
    ("gap_ci_high", "gap CI high"),
    ("inconsistent_share", "inconsistent"),
)


def _judges(analysis: StudyAnalysis) -> str:
    """LLM judges' verdicts, shown apart, and how well the study's judge agrees with people."""
    if analysis.judges.empty:
        return ""
    agreement = ""
    if not analysis.judge_agreement.empty:
        agreement = (
            "<h3>Judge against people</h3>"
            f"{_table(analysis.judge_agreement, _JUDGE_AGREEMENT_COLUMNS)}"
            '<p class="note">On pairs both judged: agreement of the judge\'s verdict with each '
            "human vote (with ties, and decisive votes only), Cohen's κ against the people's "
            "majority per pair, and the gap judge − people in win rate with a paired 95% "
            "interval. Inconsistent: the judge gave different verdicts in the two presentation "
            "orders (counted as a tie).</p>"
        )
    columns = (
        ("reviewer", "judge"),
        ("judgments", "verdicts"),
        ("win_rate", "candidate win rate"),
        ("ci_low", "CI low"),
        ("ci_high", "CI high"),
    )
    return (
        '<section id="judges"><h2>LLM judges</h2>'
        f"{_table(analysis.judges, columns)}{agreement}"
        + (
            '<p class="note">Automatic judges are listed for comparison only; every figure '
            "above comes from people.</p>"
            if not analysis.judge_verdicts
            else f'<p class="note">{analysis.judge_verdicts} judge verdicts stand in for '
            "missing human judgments in the slices an admin enabled; every other figure comes "
            "from people.</p>"
        )
        + "</section>"
    )


def _ratings(analysis: StudyAnalysis, chart: str) -> str:
    """Bradley-Terry ratings of every variant the linked studies compare."""
    ratings = analysis.ratings
    if ratings is None:
        return ""
    per_study = pd.DataFrame(ratings.per_study)
    studies = _table(
        per_study,
        (("study", "study"), ("baseline", "baseline"), ("candidate", "candidate"),
         ("judgments", "judgments")),
    )  # fmt: skip
    if ratings.table is None:
        body = f"<p>No ratings: {_e(ratings.problem)}.</p>"
    else:
        body = _table(
            ratings.table.rename(columns={"ci_low": "rating_low", "ci_high": "rating_high"}),
            (("variant", "variant"), ("rating", "rating"), ("rating_low", "CI low"),
             ("rating_high", "CI high"), ("wins", "win credit"), ("n", "comparisons")),
        ) + f'<div class="chart">{chart}</div>'  # fmt: skip
    return (
        '<section id="ratings"><h2>All variants: Bradley-Terry ratings</h2>'
        f"{body}{studies}"
        '<p class="note">Pooled from the human judgments of every study linked to this one '
        "through a shared variant; 1000 is the average, +100 means winning about 64% of "
        f"comparisons against a variant rated 100 lower; 95% intervals from {ratings.n_boot} "
        "bootstrap resamples. Pooling assumes the studies review the same kind of "
        "traffic.</p></section>"
    )


def _variants(analysis: StudyAnalysis) -> str:
    study = analysis.study
    parts = []
    for variant in analysis.variants:
        role = "baseline" if variant["name"] == study.baseline_variant else "candidate"
        config = json.dumps(variant, indent=2, sort_keys=True, ensure_ascii=False)
        parts.append(
            f'<h3>{_e(role)}: {_e(variant["name"])}</h3><pre class="config">{_e(config)}</pre>'
        )
    return (
        '<section id="variants"><h2>Variants and their exact configuration</h2>'
        '<p class="note">Keys are never stored: only the name of the environment variable '
        "that holds one.</p>" + "".join(parts) + "</section>"
    )


def _sample_design(analysis: StudyAnalysis) -> str:
    design = dict(analysis.sample_design)
    strata = design.pop("strata", None)
    items = [
        (k, json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v)
        for k, v in design.items()
    ]
    table = ""
    if strata:
        frame = pd.DataFrame(strata)
        table = _table(frame, [(c, c) for c in frame.columns])
    return (
        '<section id="sample-design"><h2>Sample design</h2>'
        f"{_definition_list(items)}{table}</section>"
    )


def _worst(analysis: StudyAnalysis) -> str:
    if not analysis.worst_pairs:
        body = "<p>No pair in a red or amber slice was judged against the candidate.</p>"
    else:
        body = ""
        for pair in analysis.worst_pairs:
            slices = ", ".join(f"{k}={v}" for k, v in pair.slices.items())
            turns = "".join(
                f"<p><b>{_e(m['role'])}</b></p><pre>{_e(m['content'])}</pre>" for m in pair.messages
            )
            comments = "".join(f"<li>{_e(c)}</li>" for c in pair.comments)
            body += (
                f'<article class="pair" id="pair-{_e(pair.pair_id)}">'
                f"<h3>{_e(pair.pair_id)}</h3><p>{_e(slices)}: {pair.votes_against} vote(s) "
                f"for the baseline, {pair.votes_for} for the candidate, {pair.votes_other} "
                f"tie/both bad.</p>{turns}"
                f'<div class="answers"><div><b>baseline ({_e(analysis.study.baseline_variant)})'
                f"</b><pre>{_e(pair.baseline_text)}</pre></div>"
                f"<div><b>candidate ({_e(analysis.study.candidate_variant)})</b>"
                f"<pre>{_e(pair.candidate_text)}</pre></div></div>"
                + (f"<p>Comments:</p><ul>{comments}</ul>" if comments else "")
                + "</article>"
            )
    return (
        '<section id="worst-examples"><h2>Worst examples</h2>'
        '<p class="note">Pairs of red and amber slices with the most votes against the '
        "candidate; prompts, answers and comments pass through the project's redactor.</p>"
        f"{body}</section>"
    )


def render_report(analysis: StudyAnalysis, generated_at: dt.datetime | None = None) -> str:
    """The complete report as one HTML document that loads nothing from anywhere."""
    when = (generated_at or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    forest = win_rate_figure(
        analysis.decisions, title="Candidate win rate by slice", margin=analysis.study.margin
    )
    charts = [
        _chart(forest, "chart-slices", include_plotlyjs=True),
        _chart(position_bias_figure(analysis.position_bias_by_reviewer), "chart-bias", False),
    ]
    ratings = analysis.ratings
    ratings_chart = (
        _chart(ratings_figure(ratings.table), "chart-ratings", False)
        if ratings is not None and ratings.table is not None
        else ""
    )
    body = (
        _header(analysis, when)
        + _verdict(analysis, charts[0])
        + _slices(analysis)
        + drift_section_html(analysis.drift)
        + _agreement(analysis)
        + _roster(analysis, charts[1])
        + _judges(analysis)
        + _ratings(analysis, ratings_chart)
        + _variants(analysis)
        + _sample_design(analysis)
        + _worst(analysis)
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>swapcheck sign-off: {_e(analysis.study.name)}</title>"
        f'<meta name="swapcheck-data-hash" content="{_e(analysis.data_hash)}">'
        f"<style>{_CSS}</style></head><body><main>{body}</main></body></html>\n"
    )


def write_report(analysis: StudyAnalysis, out: str | Path) -> Path:
    """Write the report to ``out`` (UTF-8) and return its path."""
    path = Path(out)
    path.write_text(render_report(analysis), encoding="utf-8")
    return path
