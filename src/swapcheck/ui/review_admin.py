"""Review admin sections: review settings, identity flags, gold items and reviewer quality."""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
import streamlit as st

from swapcheck.evaluators.identity_leak import identity_flags
from swapcheck.review import content_text, reviewer_redactor
from swapcheck.sampling import PromptFilter
from swapcheck.stats_reviewers import QUALITY_COLUMNS, reviewer_quality
from swapcheck.store import Store
from swapcheck.store.gold import GOLD_VERDICTS, gold_frame, mark_gold, unmark_gold
from swapcheck.store.judgments import judgments_frame, pair_content, ready_pair_ids
from swapcheck.store.population import population_frame
from swapcheck.store.studies import (
    IDENTITY_POLICIES,
    Study,
    set_review_settings,
    study_sample_frame,
)
from swapcheck.ui.auth import User
from swapcheck.ui.render import neutralise_markdown, show_untrusted, user_errors

POLICY_EXPLANATIONS = {
    "mask": "Reviewers see the answer with each self-identifying phrase replaced by "
    "“[model identity removed]”.",
    "exclude": "Pairs where either answer names its model, vendor or training are left out of "
    "every reviewer's queue.",
    "warn": "Reviewers see the text unchanged; the flags below are the warning, for admins only.",
}
GOLD_CHOICES_SHOWN = 20
SNIPPET = 90
FLAGS_SHOWN = 500
# Thresholds behind the "check" column of the reviewer-quality table.
MIN_GOLD_FOR_ACCURACY = 3
LOW_GOLD_ACCURACY = 0.7
FAST_MEDIAN_SECONDS = 5.0
QUALITY_HELP = """
**What a worrying value looks like**

* **Left-pick interval excluding 0.5**: sides are random, so a careful reviewer picks the left
  answer about half the time; an interval entirely above (or below) 0.5 suggests a side habit.
* **Gold accuracy** clearly below the others (e.g. under 70% over several gold items): the
  reviewer disagrees with the verdicts admins are sure of.
* **Tie or both-bad rate** far above the rest of the team: avoiding decisions.
* **Median time** of a few seconds on long answers: clicking through without reading.
"""


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def settings_section(store: Store, study: Study) -> Study:
    """The review settings form; returns the study with the settings now in force."""
    st.caption("What reviewers are asked and offered in this study.")
    with st.form("review_settings"):
        rubric = st.text_area(
            "Rubric criteria (one per line)",
            "\n".join(study.rubric),
            help="Reviewers may judge each criterion separately: Left / Right / Same.",
            key="settings_rubric",
        )
        tags = st.text_area(
            "Reason tags (one per line)",
            "\n".join(study.reason_tags),
            help="Tags a reviewer may attach to a verdict.",
            key="settings_reason_tags",
        )
        policy = st.radio(
            "Answers that name their own model",
            IDENTITY_POLICIES,
            index=IDENTITY_POLICIES.index(study.identity_policy),
            captions=[POLICY_EXPLANATIONS[p] for p in IDENTITY_POLICIES],
            key="settings_identity_policy",
        )
        minimum = st.number_input(
            "Slice minimum (judgments per slice served first)",
            min_value=0,
            max_value=10_000,
            value=int(study.slice_minimum),
            step=1,
            key="settings_slice_minimum",
        )
        saved = st.form_submit_button("Save review settings", type="primary")
    if saved:
        with user_errors("The review settings were not saved"):
            study = set_review_settings(
                store,
                study,
                rubric=_lines(rubric),
                reason_tags=_lines(tags),
                identity_policy=str(policy),
                slice_minimum=int(minimum),
            )
            st.success(
                f"Saved: {len(study.rubric)} criteria, {len(study.reason_tags)} reason tags, "
                f"identity policy '{study.identity_policy}', slice minimum {study.slice_minimum}."
            )
    return study


def flags_table(flags: pd.DataFrame) -> pd.DataFrame:
    """The identity flags as shown to admins: variant names included, phrases joined."""
    return pd.DataFrame(
        {
            "pair_id": flags["pair_id"],
            "answer of": [
                f"{role} ({variant})"
                for role, variant in zip(flags["role"], flags["variant"], strict=True)
            ],
            "leaks": flags["leaks"].astype(int),
            "phrases": [" · ".join(p) for p in flags["phrases"]],
        }
    )


def identity_flags_section(store: Store, study: Study) -> None:
    """Pairs where either answer names its own model, vendor or training, and the policy."""
    st.markdown(
        f"**Policy in force: {study.identity_policy}.** "
        f"{POLICY_EXPLANATIONS[study.identity_policy]}"
    )
    flags = identity_flags(store, study)
    if flags.empty:
        st.success("No answer in this study names its own model, vendor or training.")
        return
    pairs = flags["pair_id"].nunique()
    message = (
        f"{pairs} pair{'' if pairs == 1 else 's'} with an answer that names its model, "
        "vendor or training."
    )
    if study.identity_policy == "warn":
        st.warning(message + " Reviewers see these answers unchanged.")
    else:
        st.info(message)
    shown = flags_table(flags)
    if len(shown) > FLAGS_SHOWN:
        st.caption(f"Showing the first {FLAGS_SHOWN} of {len(shown)} flagged answers.")
    st.dataframe(shown.head(FLAGS_SHOWN), hide_index=True, width="stretch")


def _prompt_snippet(messages: list[dict[str, object]], redact: Callable[[str], str]) -> str:
    """The last user turn, redacted, on one line and cut to ``SNIPPET`` characters."""
    users = [m for m in messages if m.get("role") == "user"] or messages
    text = " ".join(redact(content_text(users[-1].get("content"))).split()) if users else ""
    return text if len(text) <= SNIPPET else text[: SNIPPET - 1] + "…"


def _matching_pair_ids(store: Store, study: Study, search: str) -> list[str]:
    """Ready pairs of the study (pair order) whose prompt contains ``search`` (all if empty)."""
    ready = ready_pair_ids(store, study)
    if not search.strip():
        return ready
    flt = PromptFilter(text_search=search)
    matching = set(population_frame(store, list(study.source_ids), flt, ())["prompt_id"])
    sample = study_sample_frame(store, study)
    wanted = set(sample.loc[sample["prompt_id"].isin(matching), "pair_id"])
    return [pair_id for pair_id in ready if pair_id in wanted]


def _verdict_label(study: Study, expected: str) -> str:
    return {
        "baseline": f"Baseline (`{study.baseline_variant}`) is better",
        "candidate": f"Candidate (`{study.candidate_variant}`) is better",
        "tie": "Tie",
        "both_bad": "Both bad",
    }[expected]


def _show_pair_unblinded(store: Store, study: Study, pair_id: str) -> None:
    content = pair_content(store, study, pair_id)
    redactor = reviewer_redactor(store)
    st.caption("Unblinded, with personal data masked as reviewers see it.")
    turns = [
        {"role": str(m.get("role", "user")), "content": m.get("content")} for m in content.messages
    ]
    for message in redactor.redact_messages(turns):
        st.markdown(f"**{neutralise_markdown(str(message['role']).capitalize())}**")
        show_untrusted(content_text(message.get("content")))
    baseline, candidate = st.columns(2, gap="medium")
    for column, title, text in (
        (baseline, f"Baseline · `{study.baseline_variant}`", content.baseline_text),
        (candidate, f"Candidate · `{study.candidate_variant}`", content.candidate_text),
    ):
        with column:
            st.markdown(f"#### {title}")  # variant names: letters, digits, . _ -
            with st.container(height=360, border=True):
                show_untrusted(redactor.redact(text or ""))


def gold_section(store: Store, study: Study, admin: User) -> None:
    """Choose a pair, see it unblinded, set its expected verdict; list and remove gold items."""
    gold = gold_frame(store, study)
    search = st.text_input("Find a pair by prompt text", key="gold_search")
    pair_ids = _matching_pair_ids(store, study, search)
    if not pair_ids:
        st.info("No pair with both answers matches." if search.strip() else "No pair is ready.")
    else:
        if len(pair_ids) > GOLD_CHOICES_SHOWN:
            st.caption(
                f"{len(pair_ids)} pairs match; showing the first {GOLD_CHOICES_SHOWN}. "
                "Narrow the search to find others."
            )
        shown = pair_ids[:GOLD_CHOICES_SHOWN]
        redact = reviewer_redactor(store).redact
        snippets = {
            pid: _prompt_snippet(pair_content(store, study, pid).messages, redact) for pid in shown
        }
        pair_id = st.selectbox(
            "Pair",
            shown,
            format_func=lambda pid: f"{pid} · {snippets[pid]}",
            key="gold_pair",
        )
        _show_pair_unblinded(store, study, pair_id)
        current = gold[gold["pair_id"] == pair_id]
        if not current.empty:
            st.info(f"Already gold: expected '{current['expected'].iloc[0]}'.")
        with st.form("gold_mark"):
            expected = st.radio(
                "Expected verdict",
                GOLD_VERDICTS,
                index=GOLD_VERDICTS.index(current["expected"].iloc[0]) if len(current) else 0,
                format_func=lambda v: _verdict_label(study, v),
                horizontal=True,
                key="gold_expected",
            )
            note = st.text_input("Note (optional)", max_chars=1000, key="gold_note")
            if st.form_submit_button("Mark as gold", type="primary"):
                with user_errors("The pair was not marked"):
                    mark_gold(store, study, pair_id, str(expected), note=note, marked_by=admin.name)
                    st.success(f"{pair_id} is gold: {_verdict_label(study, str(expected))}.")
                    gold = gold_frame(store, study)
    st.markdown("##### Gold items")
    if gold.empty:
        st.caption("No gold items yet. They are mixed into reviewers' queues unmarked.")
        return
    st.dataframe(gold, hide_index=True, width="stretch")
    remove = st.selectbox("Gold item to remove", list(gold["pair_id"]), key="gold_remove_choice")
    if st.button("Remove from gold", key="gold_remove"):
        with user_errors("The gold item was not removed"):
            unmark_gold(store, study, remove)
            st.rerun()


def quality_checks(row: pd.Series) -> str:
    """Why a reviewer's numbers deserve a look ('' when nothing stands out)."""
    checks: list[str] = []
    low, high = row.get("left_pick_low"), row.get("left_pick_high")
    if _number(low) and _number(high) and (low > 0.5 or high < 0.5):
        checks.append("side bias")
    accuracy = row.get("gold_accuracy")
    judged = row.get("gold_judged") or 0
    if judged >= MIN_GOLD_FOR_ACCURACY and _number(accuracy) and accuracy < LOW_GOLD_ACCURACY:
        checks.append("low gold accuracy")
    median = row.get("median_time_s")
    if _number(median) and median < FAST_MEDIAN_SECONDS:
        checks.append("very fast")
    return ", ".join(checks)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not math.isnan(float(value))


def quality_section(store: Store, study: Study) -> None:
    """Per reviewer: gold accuracy, left-pick rate with interval, tie and both-bad rates, time."""
    quality = reviewer_quality(judgments_frame(store, study), gold_frame(store, study))
    if quality.empty:
        st.info("No judgments yet.")
        return
    quality = quality.assign(check=quality.apply(quality_checks, axis=1))
    st.dataframe(
        quality,
        hide_index=True,
        width="stretch",
        column_config={
            name: st.column_config.NumberColumn(format="%.2f")
            for name in QUALITY_COLUMNS
            if name not in ("reviewer", "judgments", "gold_judged")
        },
    )
    st.markdown(QUALITY_HELP)


def progress_section(store: Store, study: Study) -> None:
    """Where the study's review stands (admins only; reviewers see only their own count)."""
    from swapcheck.review import study_progress

    progress = study_progress(store, study)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Pairs", f"{progress['pairs']:,}")
    c2.metric(
        "Judgments",
        f"{progress['judgments_given']:,} of {progress['judgments_target']:,}",
        help=f"{study.overlap} reviewer(s) per pair",
    )
    c3.metric("Reviewers", progress["reviewers"])
    c4.metric(
        "Slices below minimum",
        progress["slices_below_minimum"],
        help=f"Slices with fewer than {study.slice_minimum} judgments (served first).",
    )
