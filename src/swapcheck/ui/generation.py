"""Generate page widgets: answer status, cost estimate and budget, background runs with live
progress and a stop button."""

from __future__ import annotations

import json

import streamlit as st

from swapcheck.errors import SwapcheckError
from swapcheck.generate import GenerationSettings
from swapcheck.pipeline import generate_study, generate_study_batch, plan_study_generation
from swapcheck.runs import background_running, start_in_background
from swapcheck.store import Store
from swapcheck.store.responses import failures, request_bodies, response_status
from swapcheck.store.runs import RunRow, list_runs, request_stop, runs_frame
from swapcheck.store.studies import Study, study_prompt_ids
from swapcheck.ui.render import user_errors

POLL_S = 1.0


def answer_status(store: Store, study: Study) -> None:
    """Answered / failed / missing per variant, with the estimated cost of the missing ones."""
    prompt_ids = study_prompt_ids(store, study)
    plans = plan_study_generation(store, study)
    rows = []
    for name in study.variants:
        row: dict[str, object] = {"variant": name, **response_status(store, name, prompt_ids)}
        plan = plans.get(name)
        estimate = plan.estimate if plan else None
        # one type per column (numbers; None where nothing is sent), so Arrow never has to
        # guess; the note says why a variant sends nothing (or less than is missing)
        row["to send"] = None if estimate is None else estimate.jobs
        row["note"] = "answers come from the log" if estimate is None else ""
        if plan and plan.in_open_batches:
            row["note"] = f"{plan.in_open_batches} in open Batch API batches: not sent again"
        if estimate is not None:
            row["est. input tokens"] = estimate.input_tokens
            row["est. output tokens"] = estimate.output_tokens_typical
            row["est. cost $"] = round(estimate.cost_typical, 4)
            row["max cost $"] = None if estimate.cost_max is None else round(estimate.cost_max, 4)
        rows.append(row)
    st.dataframe(rows, hide_index=True)
    st.caption(
        "Input tokens are estimated (tiktoken when installed, else about 4 characters per "
        "token), output from a typical answer length; the maximum assumes every answer uses "
        "max_tokens. Prices are the variant's per 1M tokens. A budget below caps a run for real."
    )


def start_form(store: Store, study: Study) -> None:
    """Concurrency, budget and the start button; the run goes on in the background."""
    key = f"study-{study.study_id}"
    running = background_running(key) or bool(
        list_runs(store, study_id=study.study_id, active_only=True)
    )
    with st.form("start-generation"):
        c1, c2 = st.columns(2)
        concurrency = c1.slider("Concurrent requests per variant", 1, 256, 8)
        budget = c2.number_input(
            "Budget in $ for this run (0 = no cap)", min_value=0.0, value=0.0, step=1.0
        )
        use_batch = st.checkbox(
            "Use the provider's Batch API (OpenAI, Anthropic: half price, answers within "
            "24 h; the app polls every 30 s and collects what is ready on the next run)",
        )
        started = st.form_submit_button(
            "Generate missing answers", type="primary", disabled=running
        )
    if running:
        st.info("A run for this study is in progress; its progress is shown below.")
    if not started:
        return
    settings = GenerationSettings(concurrency=concurrency, budget=budget or None)

    def target() -> object:
        if use_batch:
            return generate_study_batch(store, study, origin="app")
        return generate_study(store, study, settings=settings, origin="app")

    def remember(exc: BaseException) -> None:
        message = str(exc) if isinstance(exc, SwapcheckError) else type(exc).__name__
        st.session_state["generation_error"] = message

    with user_errors("Could not start the run"):
        if start_in_background(key, target, on_error=remember):
            st.toast("Generation started. You can leave this page; it keeps going.")
        else:
            st.info("This study is already generating.")
    st.rerun()


def _progress(run: RunRow) -> None:
    share = run.done / run.total if run.total else 1.0
    spend = f"${run.cost:.4f}" + (f" of ${run.budget:.2f}" if run.budget else "")
    st.progress(
        min(share, 1.0),
        text=f"{run.variant}: {run.done}/{run.total} · {run.failed} failed · "
        f"{run.input_tokens + run.output_tokens:,} tokens · {spend} · {run.status}",
    )


def live_runs(store: Store, study: Study) -> None:
    """Active runs refresh every second (from any process); finished ones as a table."""
    active = list_runs(store, study_id=study.study_id, active_only=True)

    @st.fragment(run_every=POLL_S if active else None)
    def panel() -> None:
        now_active = list_runs(store, study_id=study.study_id, active_only=True)
        if active and not now_active:
            st.rerun()  # a run ended: refresh the whole page once, then stop polling
        for run in now_active:
            c1, c2 = st.columns([5, 1])
            with c1:
                _progress(run)
            with c2:
                stopping = run.status == "stopping"
                if st.button("Stop", key=f"stop-{run.run_id}", disabled=stopping):
                    request_stop(store, run.run_id)
                    st.toast("Stopping: requests in flight finish and are saved.")

    panel()
    error = st.session_state.pop("generation_error", None)
    if error:
        st.error(f"The last run stopped with an error: {error}")
    history = [r for r in list_runs(store, study_id=study.study_id, limit=20) if not r.active]
    if history:
        st.markdown("**Recent runs**")
        st.dataframe(runs_frame(history), hide_index=True)


def sent_requests(store: Store, study: Study) -> None:
    """The exact request bodies sent per variant, for audit (keys are never part of them)."""
    prompt_ids = study_prompt_ids(store, study)
    with st.expander("Requests as sent (audit)"):
        st.caption(
            "The body each provider received, as stored with the answer: system prompt "
            "placement, parameters and messages after redaction and the variant's system "
            "prompt. Headers (and so API keys) are never stored."
        )
        name = st.selectbox("Variant", list(study.variants), key="audit-variant")
        bodies = request_bodies(store, name, prompt_ids, limit=20)
        if bodies.empty:
            st.info("No stored request for this variant yet (logged answers have none).")
            return
        choice = st.selectbox("Prompt", list(bodies["prompt_id"]), key="audit-prompt")
        row = bodies[bodies["prompt_id"] == choice].iloc[0]
        st.caption(f"run {row['run_id'] or '—'} · {row['created_at']}")
        st.json(json.loads(row["request_body"]), expanded=True)


def failed_answers(store: Store, study: Study) -> None:
    prompt_ids = study_prompt_ids(store, study)
    for name in study.variants:
        failed = failures(store, name, prompt_ids)
        if len(failed):
            st.warning(f"{name}: {len(failed)} failed answers (generate again to retry them)")
            st.dataframe(failed, hide_index=True)
