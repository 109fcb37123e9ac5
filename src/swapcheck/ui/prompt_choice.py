"""The "Choose prompts" part of the New study form: filter and sample widgets, a preview."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd
import streamlit as st

from swapcheck.sampling import PromptFilter, SamplePlan, allocation_table
from swapcheck.store import Store
from swapcheck.store.population import logged_time_range, population_frame, slice_values
from swapcheck.ui.render import neutralise_markdown


@dataclass
class PromptChoice:
    """What the form's widgets say; ``build`` turns it into a filter and a plan (may raise)."""

    slice_values: dict[str, list[str]] = field(default_factory=dict)
    days: tuple[date, ...] = ()
    """Chosen day range; empty when the whole logged range (or no range) is kept."""
    text_search: str = ""
    size: int = 0
    """0 = every prompt that passes the filter."""
    strata: list[str] = field(default_factory=list)
    min_per_stratum: int = 30
    seed: int = 0

    def build(self) -> tuple[PromptFilter | None, SamplePlan | None]:
        """(filter, plan); each None when left at "everything", as ``create_study`` expects."""
        values = {col: tuple(vals) for col, vals in self.slice_values.items() if vals}
        start = datetime.combine(self.days[0], datetime.min.time()) if self.days else None
        end = (
            datetime.combine(self.days[1] + timedelta(days=1), datetime.min.time())
            if len(self.days) > 1
            else None
        )
        flt = PromptFilter(
            slice_values=values, logged_from=start, logged_to=end, text_search=self.text_search
        )
        plan = None
        if self.size or self.strata:
            plan = SamplePlan(
                size=self.size or None,
                strata=tuple(self.strata),
                min_per_stratum=self.min_per_stratum,
                seed=self.seed,
            )
        return (None if flt.is_empty else flt), plan


def _value_picker(store: Store, source_ids: list[str], column: str) -> list[str]:
    counts = dict(slice_values(store, source_ids, column))
    return st.multiselect(
        f"Only prompts where {neutralise_markdown(column)} is",
        list(counts),
        format_func=lambda v: f"{v} ({counts.get(v, 0)})",
        key=f"prompt_values::{column}",
        placeholder="any value",
    )


def _day_range(store: Store, source_ids: list[str]) -> tuple[date, ...]:
    low, high = logged_time_range(store, source_ids)
    if low is None or high is None:
        return ()
    full = (low.date(), high.date())
    picked = st.date_input(
        "Logged between", value=full, min_value=full[0], max_value=full[1], key="prompt_days"
    )
    days = tuple(picked) if isinstance(picked, tuple | list) else (picked,)
    return () if days == full else days


def prompt_choice_inputs(store: Store, source_ids: list[str], available: list[str]) -> PromptChoice:
    """Render the filter and sampling widgets (call inside the form); return what they hold."""
    st.caption(
        "Leave everything empty to use every prompt of the sources. Stratifying keeps small "
        "slices represented; each pair stores its inclusion probability so results can be "
        "re-weighted to the traffic mix."
    )
    chosen = {col: _value_picker(store, source_ids, col) for col in available}
    days = _day_range(store, source_ids)
    search = st.text_input("Prompt text contains", key="prompt_search")
    c1, c2, c3 = st.columns(3)
    size = c1.number_input("Sample size (0 = all)", min_value=0, value=0, step=50)
    minimum = c2.number_input("Minimum per stratum", min_value=1, value=30)
    seed = c3.number_input("Seed", min_value=0, value=0)
    strata = st.multiselect("Stratify by", available, key="prompt_strata")
    return PromptChoice(
        slice_values=chosen,
        days=days,
        text_search=search,
        size=int(size),
        strata=strata,
        min_per_stratum=int(minimum),
        seed=int(seed),
    )


def allocation_preview(
    store: Store, source_ids: list[str], flt: PromptFilter | None, plan: SamplePlan | None
) -> pd.DataFrame:
    """Per-stratum population and planned sample, computed as ``create_study`` will."""
    plan = plan or SamplePlan()
    population = population_frame(store, source_ids, flt or PromptFilter(), plan.strata)
    return allocation_table(population, plan)


def show_allocation(table: pd.DataFrame) -> None:
    """Population size, sample size and the per-stratum allocation table."""
    if table.empty:
        st.warning("No prompt of the chosen sources matches these conditions.")
        return
    st.markdown(
        f"**{int(table['population'].sum())}** prompts match; the study will hold "
        f"**{int(table['sample'].sum())}** of them."
    )
    st.dataframe(
        table.rename(columns={"inclusion_probability": "inclusion probability"}),
        hide_index=True,
    )


def recorded_allocation(population: dict) -> pd.DataFrame:
    """The allocation table stored with a sampled study (``Study.population``)."""
    table = pd.DataFrame(population["strata"], columns=["stratum", "population", "sample"])
    table["inclusion_probability"] = table["sample"] / table["population"]
    return table
